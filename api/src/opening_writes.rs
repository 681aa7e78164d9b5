//! Writing the openings of blocked health data (DESIGN §2.4, §2.7, §2.8). A professional-access
//! decision that permits a read past a block or an objection records it before the answer leaves,
//! in one transaction: for each opening a usage-log entry and a row in the citizen's openings,
//! then its change-feed event, with the email message to the citizen that the event gives
//! (`notify`; several openings in one second are one message).
//!
//! It is the one write on a decision's path. Through the pool (diesel, on a blocking thread) it
//! is about ten statements, each a round trip that wakes the blocking thread and a PostgreSQL
//! backend; on these 2-core machines that cost professional-access a quarter to a half of its
//! throughput at the benchmark's 2 % of requests on the consent or emergency basis (about 0.3 %
//! of requests writing; docs/BENCHMARK.md, "Openings written pipelined"). So on PostgreSQL the
//! same rows are written by [`pipelined`]: the statements sent without waiting for each answer,
//! on a connection of the server worker's own (`worker_pg`), in two round trips and no other
//! thread. The pool's way ([`write_in`]) is SQLite's, and PostgreSQL's whenever the pipelined way
//! cannot be taken: no such connection (`worker_pg` keeps libpq's way), all of this worker's
//! writers busy, or a write the database refused and rolled back, which then runs again the
//! pool's way (with its retries of write conflicts, and its error if it fails again).

use chrono::{DateTime, Utc};
use domain::usage_log::NewEntry;
use persistence::sharing::{self as store, StoredOpening};
use persistence::{usage_log, AnyConnection};

use crate::audit;
use crate::error::ApiError;
use crate::state::AppState;

pub mod pipelined;

pub use pipelined::Writers;

/// One opening to record: its usage-log entry, and its row in the citizen's openings, whose
/// `log_seq` is set to the entry's place in the chain when it is written.
#[derive(Debug, Clone)]
pub struct Record {
    pub entry: NewEntry,
    pub opening: StoredOpening,
}

/// Writes `records`, at `now`, in one transaction: pipelined on this worker's own connection
/// where it can, else through the pool.
pub async fn write(
    state: &AppState,
    records: Vec<Record>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    if let Some(writer) = state.openings.take().await {
        match state.openings.write(writer, &records, now).await {
            Ok(()) => {
                state.metrics.opening_write("pipelined");
                return Ok(());
            }
            Err(pipelined::Failure::NotWritten(reason)) => {
                tracing::warn!(%reason, "pipelined opening write rolled back; writing through the pool");
            }
            Err(pipelined::Failure::Unknown(reason)) => {
                tracing::error!(%reason, "pipelined opening write: outcome unknown");
                return Err(ApiError::Unavailable(
                    "the database did not confirm the write".into(),
                ));
            }
        }
    }
    state.tx(move |conn| write_in(conn, &records, now)).await?;
    state.metrics.opening_write("pool");
    Ok(())
}

/// The pool's way: each entry and opening, then each event (the feed last, see
/// `audit::publish`), statement by statement in the caller's transaction.
pub fn write_in(
    conn: &mut AnyConnection,
    records: &[Record],
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let mut events = Vec::with_capacity(records.len());
    for r in records {
        let entry = usage_log::append(conn, r.entry.clone())?;
        store::insert_opening(
            conn,
            &StoredOpening {
                log_seq: entry.seq,
                ..r.opening.clone()
            },
        )?;
        events.push((r, entry.seq));
    }
    for (r, seq) in events {
        audit::publish(conn, &r.entry.subject_id, &r.entry.action, seq, now)?;
    }
    Ok(())
}

//! The decision cache's mark read by a server worker on a connection of its own
//! (`crate::worker_pg`), on the worker's own event loop. When the mark moved, the events since the
//! last check are read on the same connection, so that needs no other thread either; only the
//! rare cases (more events than one read holds, a restored outbox, a failed read) go to the
//! shared check on a blocking thread (`DecisionCache::shared_round`), as does every read where
//! `worker_pg` would make a connection unlike libpq's.

use crate::worker_pg::WorkerPg;
use persistence::outbox::EventRef;
use persistence::watermark::Watermark;
use std::time::Duration;
use tokio_postgres::{Client, Statement};

/// A read that takes longer than this gives up its connection (the shared check then decides).
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The mark, as `persistence::watermark::read` has it (one row on PostgreSQL).
const MARKS: &str = "SELECT outbox_position, register_import FROM decision_watermark";

/// The events after `$1` up to the mark `$2`, at most `$3`, as `persistence::outbox::refs_after`
/// reads them. Outbox writers commit in position order, so once the mark shows a position every
/// event up to it has committed.
const EVENTS: &str = "SELECT id, subject_id, event_type FROM outbox \
    WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3";

/// What moved since a mark: the mark now and the events up to it.
pub struct Moved {
    pub mark: Watermark,
    pub events: Vec<EventRef>,
}

/// A worker's connection and its prepared statements.
pub struct MarkReader {
    client: Client,
    marks: Statement,
    events: Statement,
}

impl MarkReader {
    /// Connects and prepares the statements. The connection's task runs on the calling worker's
    /// event loop, so this must be called on the worker that will read.
    pub async fn connect(how: &WorkerPg) -> Result<MarkReader, tokio_postgres::Error> {
        let client = how.open("decision marks").await?;
        let marks = client.prepare(MARKS).await?;
        let events = client.prepare(EVENTS).await?;
        tracing::info!(
            tls = how.tls(),
            "decision cache: this worker reads the mark on a connection of its own"
        );
        Ok(MarkReader {
            client,
            marks,
            events,
        })
    }

    /// What moved since the mark `base`: one round trip when the outbox did not move, two when it
    /// did (its events up to the new mark). `Ok(None)` where that cannot be read here: the outbox
    /// went back (a restore: everything must go) or moved by more than `limit` events.
    pub async fn moved_since(&self, base: Watermark, limit: i64) -> Result<Option<Moved>, String> {
        let row = timed(self.client.query_one(&self.marks, &[])).await?;
        let mark = Watermark {
            outbox: row.try_get(0).map_err(|e| e.to_string())?,
            register: row.try_get(1).map_err(|e| e.to_string())?,
        };
        if mark.outbox < base.outbox {
            return Ok(None);
        }
        let mut events = Vec::new();
        if mark.outbox > base.outbox {
            let rows = timed(
                self.client
                    .query(&self.events, &[&base.outbox, &mark.outbox, &limit]),
            )
            .await?;
            for row in rows {
                events.push(EventRef {
                    position: row.try_get(0).map_err(|e| e.to_string())?,
                    subject_id: row.try_get(1).map_err(|e| e.to_string())?,
                    event_type: row.try_get(2).map_err(|e| e.to_string())?,
                });
            }
            let last = events.last().map_or(base.outbox, |e| e.position);
            if last < mark.outbox && i64::try_from(events.len()).unwrap_or(i64::MAX) >= limit {
                return Ok(None);
            }
        }
        Ok(Some(Moved { mark, events }))
    }
}

/// A statement's answer within [`READ_TIMEOUT`].
async fn timed<T>(
    query: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, String> {
    tokio::time::timeout(READ_TIMEOUT, query)
        .await
        .map_err(|_| format!("no answer within {READ_TIMEOUT:?}"))?
        .map_err(|e| e.to_string())
}

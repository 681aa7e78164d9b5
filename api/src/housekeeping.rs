//! Forgetting rows that have done their work, by the rules of `domain::retention`: sessions over
//! for a day, idempotency keys older than seven days. The purge timer runs it with the summary
//! care record purges (`server::spawn_purge_timer`); in dev mode `POST /dev/jobs/housekeeping`
//! runs it at the dev clock. Safe on several instances at once: each run deletes what is due
//! and a second finds nothing left.

use chrono::{DateTime, Utc};
use domain::retention;
use domain::session::SessionPolicy;
use persistence::{idempotency, sessions, Db, StoreError};

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Forgotten {
    pub sessions: usize,
    pub idempotency_keys: usize,
}

/// Deletes what may be forgotten at `now`, one statement per table (each its own transaction:
/// nothing ties the two together).
pub fn forget_expired(
    db: &Db,
    now: DateTime<Utc>,
    policy: SessionPolicy,
) -> Result<Forgotten, StoreError> {
    let c = retention::cutoffs(now, policy);
    let mut conn = db.conn()?;
    Ok(Forgotten {
        sessions: sessions::forget_over(
            &mut conn,
            c.session_ended,
            c.session_last_seen,
            c.session_created,
        )?,
        idempotency_keys: idempotency::forget_created_before(&mut conn, c.idempotency_key_created)?,
    })
}

/// [`forget_expired`] at the server's clock now, on a blocking thread: what the timer and the
/// dev route run.
pub async fn run(state: &AppState) -> Result<Forgotten, ApiError> {
    let now = state.now();
    let db = state.db.clone();
    let policy = state.config.session_policy();
    actix_web::web::block(move || forget_expired(&db, now, policy))
        .await
        .map_err(|_| ApiError::Internal("the blocking pool is gone".into()))?
        .map_err(ApiError::from)
}

//! Writing what happened: every state change gets its usage-log entry, and every consent-relevant
//! one also its change-feed event, in the transaction that makes the change.

use chrono::{DateTime, Utc};
use domain::usage_log::{ActorKind, ChainedEntry, NewEntry};
use persistence::{outbox, usage_log, AnyConnection, StoreError};

/// Who performed an action.
#[derive(Debug, Clone)]
pub struct Actor {
    pub kind: ActorKind,
    /// An opaque citizen id or a service's client id. Never an identity number.
    pub id: String,
}

impl Actor {
    pub fn citizen(id: &str) -> Actor {
        Actor {
            kind: ActorKind::Citizen,
            id: id.to_owned(),
        }
    }
}

/// Whether an action goes to the change feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// A consent-relevant change that downstream services must learn about.
    Publish,
    /// Only the citizen's log (log-ins, downloads).
    LogOnly,
}

/// Appends the usage-log entry for `action` to `subject_id`'s log and, with [`Feed::Publish`],
/// the change-feed event (see [`publish`]).
pub fn record(
    conn: &mut AnyConnection,
    subject_id: &str,
    actor: &Actor,
    action: &str,
    details: serde_json::Value,
    now: DateTime<Utc>,
    feed: Feed,
) -> Result<ChainedEntry, StoreError> {
    let entry = usage_log::append(
        conn,
        NewEntry {
            subject_id: subject_id.to_owned(),
            at: now,
            actor_kind: actor.kind,
            actor_id: actor.id.clone(),
            action: action.to_owned(),
            details,
        },
    )?;
    if feed == Feed::Publish {
        publish(conn, subject_id, action, entry.seq, now)?;
    }
    Ok(entry)
}

/// Appends the change-feed event of `action` on `subject_id`, whose log entry is `log_seq`. The
/// event is thin: type, time, subject id, the log position. It must be the transaction's last
/// write: the outbox orders its writers (`persistence::outbox::append`), so a transaction that
/// still has rows to lock after it would hold up every other change.
pub fn publish(
    conn: &mut AnyConnection,
    subject_id: &str,
    action: &str,
    log_seq: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let e = event(
        uuid::Uuid::new_v4().to_string(),
        subject_id,
        action,
        log_seq,
        now,
    );
    // The event's email messages are planned in the same transaction (before the append, which
    // orders the outbox writers and should be the last write).
    crate::notify::on_event(conn, subject_id, action, log_seq, &e.event_id, now)?;
    outbox::append(conn, &e)
}

/// The change-feed event `event_id` (fresh) of `action` on `subject_id`, whose log entry is
/// `log_seq`: thin (type, time, subject id, the log position).
pub fn event(
    event_id: String,
    subject_id: &str,
    action: &str,
    log_seq: i64,
    now: DateTime<Utc>,
) -> outbox::NewEvent {
    outbox::NewEvent {
        event_id,
        event_type: action.to_owned(),
        subject_id: subject_id.to_owned(),
        occurred_at: now,
        payload: serde_json::json!({ "log_seq": log_seq }),
    }
}

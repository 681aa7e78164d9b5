//! The transactional outbox: change-feed events written in the same transaction as the change.
//! Events are thin: type, time, the opaque subject id and a small JSON payload; no identity
//! number, no health data.

use crate::db::{from_db, to_db, AnyConnection, StoreError};
use crate::schema::outbox;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub event_id: String,
    pub event_type: String,
    pub subject_id: String,
    pub occurred_at: DateTime<Utc>,
    pub payload: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Position in the outbox (ascending in insertion order).
    pub position: i64,
    pub event_id: String,
    pub event_type: String,
    pub subject_id: String,
    pub occurred_at: DateTime<Utc>,
    pub payload: String,
}

#[derive(Insertable)]
#[diesel(table_name = outbox, treat_none_as_default_value = false)]
struct NewRow<'a> {
    event_id: &'a str,
    event_type: &'a str,
    subject_id: &'a str,
    occurred_at: NaiveDateTime,
    payload: &'a str,
}

/// Appends an event. Call it as the last write of its transaction.
///
/// Readers must never skip an event that commits late. Positions come from a sequence, and two
/// transactions can commit in the opposite order of the positions they drew; a reader that had
/// already passed the higher one would miss the lower for good. So on PostgreSQL the table's
/// trigger (migration `2026-12-03-000015_outbox_positions`) takes a transaction-scoped advisory
/// lock before it draws the position: outbox writers queue up, and each one's position is drawn
/// and committed before the next one draws, so the decision mark (set by the insert's `AFTER`
/// trigger) is always the newest committed position. The insert is the only round trip. SQLite
/// has one writer at a time anyway.
pub fn append(conn: &mut AnyConnection, e: &NewEvent) -> Result<(), StoreError> {
    let payload = e.payload.to_string();
    diesel::insert_into(outbox::table)
        .values(NewRow {
            event_id: &e.event_id,
            event_type: &e.event_type,
            subject_id: &e.subject_id,
            occurred_at: to_db(e.occurred_at),
            payload: &payload,
        })
        .execute(conn)?;
    Ok(())
}

/// Events after `after_position`, oldest first.
pub fn after(
    conn: &mut AnyConnection,
    after_position: i64,
    limit: i64,
) -> Result<Vec<Event>, StoreError> {
    let rows: Vec<(i64, String, String, String, NaiveDateTime, String)> = outbox::table
        .filter(outbox::id.gt(after_position))
        .order(outbox::id.asc())
        .limit(limit)
        .select((
            outbox::id,
            outbox::event_id,
            outbox::event_type,
            outbox::subject_id,
            outbox::occurred_at,
            outbox::payload,
        ))
        .load(conn)?;
    Ok(rows.into_iter().map(event).collect())
}

/// Where an event is and what it is about: what a decision cache needs to drop changed citizens
/// (`api::decision_cache`).
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct EventRef {
    pub position: i64,
    pub subject_id: String,
    pub event_type: String,
}

/// The [`EventRef`]s after `after_position`, oldest first.
pub fn refs_after(
    conn: &mut AnyConnection,
    after_position: i64,
    limit: i64,
) -> Result<Vec<EventRef>, StoreError> {
    Ok(outbox::table
        .filter(outbox::id.gt(after_position))
        .order(outbox::id.asc())
        .limit(limit)
        .select((outbox::id, outbox::subject_id, outbox::event_type))
        .load(conn)?)
}

/// The newest position (0 when the outbox is empty).
pub fn head(conn: &mut AnyConnection) -> Result<i64, StoreError> {
    use diesel::dsl::max;
    Ok(outbox::table
        .select(max(outbox::id))
        .get_result::<Option<i64>>(conn)?
        .unwrap_or(0))
}

/// The latest `limit` events about `subject_id`, newest first.
pub fn of_subject(
    conn: &mut AnyConnection,
    subject_id: &str,
    limit: i64,
) -> Result<Vec<Event>, StoreError> {
    let rows: Vec<(i64, String, String, String, NaiveDateTime, String)> = outbox::table
        .filter(outbox::subject_id.eq(subject_id))
        .order(outbox::id.desc())
        .limit(limit)
        .select((
            outbox::id,
            outbox::event_id,
            outbox::event_type,
            outbox::subject_id,
            outbox::occurred_at,
            outbox::payload,
        ))
        .load(conn)?;
    Ok(rows.into_iter().map(event).collect())
}

fn event(
    (position, event_id, event_type, subject_id, occurred_at, payload): (
        i64,
        String,
        String,
        String,
        NaiveDateTime,
        String,
    ),
) -> Event {
    Event {
        position,
        event_id,
        event_type,
        subject_id,
        occurred_at: from_db(occurred_at),
        payload,
    }
}

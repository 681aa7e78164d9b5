//! How far the data behind the decisions has come: the newest change-feed position and the
//! newest register import. A server that keeps decision inputs in memory reads both before it
//! answers from memory (`api::decision_cache`).
//!
//! The outbox position is a safe mark because outbox writers commit in position order
//! (`crate::outbox::append`): once a position is visible, every lower one has committed or never
//! will. Every consent-relevant change writes an outbox event in its own transaction, so a
//! position that has not moved means no such change committed.

use crate::db::{AnyConnection, StoreError};
use crate::schema::decision_watermark as mark;
use diesel::prelude::*;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Watermark {
    /// The newest outbox position (0 when empty).
    pub outbox: i64,
    /// The newest register import that changed anything (0 when none).
    pub register: i64,
}

/// Reads both marks in one statement (one round trip, one snapshot), outside any transaction,
/// from the `decision_watermark` view: on SQLite two index lookups (`MAX(id)` of `outbox` and
/// `register_imports`); on PostgreSQL, where it is a network round trip shared by many requests,
/// the one row of `decision_marks`, which triggers on those two tables keep current in the
/// writers' own transactions (migration `2026-12-02-000014_decision_marks`: it costs PostgreSQL
/// 30-45 µs less per read than the two lookups). Written with the query builder so that
/// each connection prepares it once (a raw SQL string would be planned on every check, which on
/// PostgreSQL costs more than running it), and run on the backend's own connection type: through
/// `AnyConnection` every execution serialises the query again to find its prepared statement,
/// which was a third of the time of this read on SQLite, where it runs once per decision.
pub fn read(conn: &mut AnyConnection) -> Result<Watermark, StoreError> {
    let (outbox, register) = match conn {
        AnyConnection::Postgresql(c) => marks().get_result::<(i64, i64)>(c)?,
        AnyConnection::Sqlite(c) => marks().get_result::<(i64, i64)>(c)?,
    };
    Ok(Watermark { outbox, register })
}

fn marks() -> diesel::dsl::Select<mark::table, (mark::outbox_position, mark::register_import)> {
    mark::table.select((mark::outbox_position, mark::register_import))
}

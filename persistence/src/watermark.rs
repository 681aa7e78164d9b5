//! How far the data behind the decisions has come: the newest change-feed position and the
//! newest register import. A server that keeps decision inputs in memory reads both before it
//! answers from memory (`api::decision_cache`).
//!
//! The outbox position is a safe mark because outbox writers commit in position order
//! (`crate::outbox::append`): once a position is visible, every lower one has committed or never
//! will. Every consent-relevant change writes an outbox event in its own transaction, so a
//! position that has not moved means no such change committed.

use crate::db::{AnyConnection, StoreError};
use crate::outbox;
use crate::schema::register_imports;
use diesel::dsl::max;
use diesel::prelude::*;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Watermark {
    /// The newest outbox position (0 when empty).
    pub outbox: i64,
    /// The newest register import that changed anything (0 when none).
    pub register: i64,
}

/// Reads both marks, outside any transaction: two index lookups, as query-builder statements so
/// that each connection prepares them once (a raw SQL string would be planned on every check,
/// which on PostgreSQL costs more than running it).
pub fn read(conn: &mut AnyConnection) -> Result<Watermark, StoreError> {
    Ok(Watermark {
        outbox: outbox::head(conn)?,
        register: register_imports::table
            .select(max(register_imports::id))
            .first::<Option<i64>>(conn)?
            .unwrap_or(0),
    })
}

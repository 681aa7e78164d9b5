//! How far the data behind the decisions has come: the newest change-feed position and the
//! newest register import. A server that keeps decision inputs in memory reads both, in one
//! statement, before it answers from memory (`api::decision_cache`).
//!
//! The outbox position is a safe mark because outbox writers commit in position order
//! (`crate::outbox::append`): once a position is visible, every lower one has committed or never
//! will. Every consent-relevant change writes an outbox event in its own transaction, so a
//! position that has not moved means no such change committed.

use crate::db::{AnyConnection, StoreError};
use diesel::prelude::*;
use diesel::sql_types::BigInt;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, QueryableByName)]
pub struct Watermark {
    /// The newest outbox position (0 when empty).
    #[diesel(sql_type = BigInt)]
    pub outbox: i64,
    /// The newest register import that changed anything (0 when none).
    #[diesel(sql_type = BigInt)]
    pub register: i64,
}

/// Reads both marks in one statement (one round trip, one snapshot), outside any transaction.
pub fn read(conn: &mut AnyConnection) -> Result<Watermark, StoreError> {
    // Both are maxima of primary keys: an index lookup on either backend.
    Ok(diesel::sql_query(
        "SELECT COALESCE((SELECT MAX(id) FROM outbox), 0) AS outbox, \
         COALESCE((SELECT MAX(id) FROM register_imports), 0) AS register",
    )
    .get_result(conn)?)
}

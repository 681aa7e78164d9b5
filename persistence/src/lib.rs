//! Storage for the consent portal on SQLite (embedded default) and PostgreSQL (production), from
//! one codebase with diesel's `MultiConnection`.
//!
//! Repositories are plain functions over `&mut AnyConnection` so that a handler can compose them in
//! one transaction ([`Db::transaction`]): the state change, its usage-log entry and its outbox
//! event commit together or not at all.
//!
//! A look-up of at most one row (by key, or an aggregate) uses `get_result`, not `first`: `first`
//! adds a bound `LIMIT ?`, and SQLite re-prepares a statement on every execution after a value is
//! bound to its `LIMIT` (measured: the decision cache's check spent 70 % of its time re-parsing).
//! Keep `first` (or `limit`) where PostgreSQL needs the limit to plan a top-N scan of many rows.
//!
//! Every `Insertable` row says `treat_none_as_default_value = false`. No column has a default, so
//! a `None` means NULL either way; but diesel's default (a `None` may become `DEFAULT`) makes the
//! statement's text depend on the values, so it cannot keep the insert prepared, and PostgreSQL
//! parses and plans every insert again.

pub mod access_switches;
pub mod children;
pub mod citizens;
pub mod data_requests;
pub mod db;
pub mod idempotency;
pub mod login_requests;
pub mod notifications;
pub mod outbox;
pub mod powers_of_attorney;
pub mod queues;
pub mod register;
pub mod schema;
pub mod sessions;
pub mod sharing;
pub mod summary_care_records;
pub mod terms;
pub mod usage_log;
pub mod watermark;
pub mod webhooks;

pub use db::{AnyConnection, Backend, Db, StoreError, TxError};
/// The database error type, for callers that implement [`TxError`].
pub use diesel::result::Error as DieselError;

#[cfg(test)]
mod scratch;
#[cfg(test)]
mod tests;

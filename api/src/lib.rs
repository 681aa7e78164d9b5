//! The consent portal's HTTP server. See ARCHITECTURE.md for the path of a request.

pub mod audit;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod decision_cache;
pub mod erasure;
pub mod error;
pub mod extract;
pub mod fhir;
pub mod guardians;
pub mod housekeeping;
pub mod metrics;
pub mod notify;
pub mod notify_worker;
pub mod openapi_doc;
pub mod opening_writes;
pub mod routes;
#[cfg(test)]
pub mod scratch_db;
pub mod server;
pub mod state;
pub mod telemetry;
pub mod views;
pub mod webhook_secrets;
pub mod webhook_worker;
pub mod worker_pg;

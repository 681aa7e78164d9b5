//! The one black-box test binary: each module drives the real server binary over HTTP, logging in
//! through the real dev OIDC provider, on SQLite and (when available) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access_reports;
mod acting_for;
mod children;
mod citizen_flow;
mod contract;
mod data_requests;
mod decision_batches;
mod erasure;
mod errors;
mod export;
mod feed;
mod fhir;
mod freshness;
mod housekeeping;
mod login_security;
mod notifications;
mod operations;
mod powers_of_attorney;
mod service_tokens;
mod sharing;
mod summary_care_record;
mod terms;
mod usage_log;
mod webhooks;

//! The public HTTP contract of the consent portal: request and response bodies with their utoipa
//! schemas, and the catalogue of problem types. These types are the API's own: the database rows
//! (in `persistence`) and the domain values (in `domain`) are converted to and from them in `api`.
//!
//! The assembled document is served at `/openapi.json` and checked in beside this crate as
//! `openapi.json`; a test in `api` fails when the two differ.

pub mod access;
pub mod access_switches;
pub mod children;
pub mod citizen;
pub mod contacts;
pub mod data_requests;
pub mod dev;
pub mod feed;
pub mod powers_of_attorney;
pub mod problem;
pub mod representation;
pub mod service;
pub mod sharing;
pub mod summary_care_record;
pub mod webhooks;

/// Security scheme names used in the document.
pub mod security {
    /// The session cookie set at login (`__Host-portal-session`).
    pub const SESSION_COOKIE: &str = "session_cookie";
    /// The same session presented as `Authorization: Bearer <session id>` (mobile apps).
    pub const SESSION_BEARER: &str = "session_bearer";
    /// An OAuth2 client-credentials JWT access token of a downstream health service.
    pub const SERVICE_TOKEN: &str = "service_token";
}

//! Who is calling: citizens through OIDC login and server-side sessions, downstream services
//! through JWT access tokens.

pub mod acting;
pub mod citizen;
pub mod cookies;
pub mod oidc;
pub mod proof;
pub mod service;
pub mod tokens;

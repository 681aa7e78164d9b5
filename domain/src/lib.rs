//! The consent portal's rules, as pure functions of (data, now).
//!
//! Nothing here does I/O or reads the clock (`clippy.toml` in this crate forbids it): the API layer
//! loads the data, passes "now" from its injected [`clock::Clock`], and persists what a rule
//! returns. A reader who wants to know what the product decides reads this crate.

pub mod access_switches;
pub mod assurance;
pub mod clock;
pub mod consent;
pub mod data_requests;
pub mod guardianship;
pub mod identity;
pub mod notifications;
pub mod powers_of_attorney;
pub mod register;
pub mod retention;
pub mod retry;
pub mod session;
pub mod sharing;
pub mod summary_care_record;
pub mod usage_log;
pub mod webhooks;

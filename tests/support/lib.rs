//! The black-box test harness: a shared dev OIDC provider (`dev/idp`), and per test a server
//! binary on its own port with its own database (a fresh SQLite file, or a fresh PostgreSQL
//! database that is dropped afterwards), driven over HTTP like a browser or a downstream service.
//!
//! Every server's log is scanned when its test ends: an 11-digit number in it fails the test.

// Test code: a failed expectation is a failed test, so panicking is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod app;
pub mod idp;
pub mod logscan;
pub mod mail;

pub use app::{Backend, Session, TestApp};
pub use idp::Idp;

/// An RFC 3339 time in a JSON answer.
pub fn instant(v: &serde_json::Value) -> chrono::DateTime<chrono::Utc> {
    v.as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|| panic!("an RFC 3339 time: {v}"))
}

/// An RFC 3339 time written in a test.
pub fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    instant(&serde_json::Value::String(s.to_owned()))
}

/// Synthetic persons of `dev/idp/persons.json` used by the tests.
pub mod persons {
    /// Astrid Lunde, 34: the default happy-path adult.
    pub const ASTRID: &str = "10829241876";
    /// Bjørn Haugen, 47: a second, independent adult.
    pub const BJORN: &str = "02867933185";
    /// Ingrid Solberg, 63.
    pub const INGRID: &str = "27896320896";
    /// Sander Moe, exactly 18.
    pub const SANDER: &str = "19850856365";
    /// Emma Strand, 17 (turns 18 on 2027-03-08).
    pub const EMMA: &str = "08830970208";
    /// Ella Nordmann, 15 (turns 16 on 2026-12-09).
    pub const ELLA: &str = "09921091831";
    /// Marit Dahl, confidential address (code 7).
    pub const MARIT: &str = "11887517462";
    /// Erik Berg, strictly confidential address (code 6).
    pub const ERIK: &str = "05908845767";
    /// Arne Lie, deceased.
    pub const ARNE: &str = "02824109128";
    /// A valid synthetic number the register does not know.
    pub const UNKNOWN: &str = "01819010001";
    /// Hanne Strand, 45: sole parent of Emma (17), at Emma's address.
    pub const HANNE: &str = "26868138636";
    /// Kari Nordmann, 44: parental responsibility for the six Nordmann children, who live with
    /// her (adr-007).
    pub const KARI: &str = "21878226426";
    /// Ola Nordmann, 46: parental responsibility for the six Nordmann children; lives elsewhere
    /// (adr-008).
    pub const OLA: &str = "30818049397";
    /// Nora Nordmann, 5 (born 2021-04-09).
    pub const NORA: &str = "09842162022";
    /// Jakob Nordmann, 11 (turns 12 on 2026-12-16).
    pub const JAKOB: &str = "16921485151";
    /// Sofie Nordmann, 12 (born 2014-01-20).
    pub const SOFIE: &str = "20811453413";
    /// Lukas Nordmann, 14 (born 2012-06-03).
    pub const LUKAS: &str = "03861277959";
    /// Filip Nordmann, 16 (born 2010-01-12).
    pub const FILIP: &str = "12811064708";
}

/// The workspace root.
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default()
}

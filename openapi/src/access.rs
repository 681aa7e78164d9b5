//! Access reports: downstream systems report their accesses to a citizen's data into the
//! citizen's usage log, with the fields a summary-care-record access log carries.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The legal basis of an access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessBasis {
    /// The patient's declared consent.
    Consent,
    /// An emergency ("nødrett"): danger to life or health.
    Emergency,
    /// Ordinary care of the patient ("helsehjelp").
    OrdinaryCare,
}

/// The health professional who accessed the data.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Professional {
    /// The HPR number (Helsepersonellregisteret), up to 9 digits.
    #[schema(example = "123456789")]
    pub hpr_number: String,
    pub name: String,
    /// E.g. "lege", "sykepleier".
    pub role: String,
}

/// The organisation the professional acted for.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    /// The organisation number (9 digits).
    #[schema(example = "974589095")]
    pub number: String,
    pub name: String,
}

/// One access to a citizen's data.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "pid": "21878226426", "accessed_at": "2026-11-28T13:02:17Z",
    "accessed_until": "2026-11-28T13:20:00Z", "information_object": "Kjernejournal: legemidler",
    "area": "summary_care_record",
    "professional": {"hpr_number": "1234567", "name": "Eva Eksempel", "role": "lege"},
    "organisation": {"number": "983984339", "name": "Eksempel sykehus HF"},
    "basis": "ordinary_care", "changed": false, "calling_system": "Eksempel EPJ"
}))]
pub struct AccessReport {
    /// The citizen's identity number (11 digits), in the body, never in a URL.
    pub pid: String,
    /// When the access happened, or began when `accessed_until` is given.
    pub accessed_at: DateTime<Utc>,
    /// The end of a period of access.
    pub accessed_until: Option<DateTime<Utc>>,
    /// What was accessed, e.g. "Kjernejournal: legemidler".
    pub information_object: String,
    /// The service area the information belongs to, when the system knows it. Guardians of a
    /// child see an access in the child's log only when its area is visible to them; an access
    /// with no area is shown to guardians only while the child is under 12.
    #[serde(default)]
    pub area: Option<crate::powers_of_attorney::ServiceAreaBody>,
    pub professional: Professional,
    pub organisation: Organisation,
    pub basis: AccessBasis,
    /// Whether anything was registered or changed.
    pub changed: bool,
    /// The system that made the access.
    pub calling_system: String,
}

/// Where the access was recorded.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"subject_id": "3cbb8514-aee1-4d7b-ad6f-8eaf3c4feb89", "seq": 11}))]
pub struct AccessRecorded {
    /// The citizen's opaque portal id.
    pub subject_id: String,
    /// The entry's position in the citizen's usage log.
    pub seq: i64,
}

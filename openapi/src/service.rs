//! Bodies of the machine-client endpoints (downstream health services, JWT access tokens).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::citizen::ConsentLevelBody;

/// Ask whether a citizen is an active user of the portal ("HelsenorgeAktivSjekken").
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"pid": "21878226426"}))]
pub struct ActiveUserQuery {
    /// The citizen's national identity number (fødselsnummer or D-number), 11 digits. Sent in
    /// the body, never in a URL.
    #[schema(example = "21878226426")]
    pub pid: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActiveDecision {
    Active,
    Inactive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActiveReason {
    /// The citizen has accepted the terms in force.
    ConsentActive,
    /// The citizen has never accepted, or has withdrawn.
    NotAccepted,
    /// The citizen accepted an earlier version and has not accepted the one in force.
    RenewalRequired,
    /// The citizen has never used the portal.
    NotRegistered,
}

/// The answer: a decision, its reason and the facts it rests on.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "decision": "active", "reason": "consent_active", "consent_level": "full",
    "accepted_terms_version": "2026-01", "terms_in_force": "2026-01",
    "removed_access": ["patient_record"]
}))]
pub struct ActiveUserAnswer {
    pub decision: ActiveDecision,
    pub reason: ActiveReason,
    /// The consent level when active.
    pub consent_level: Option<ConsentLevelBody>,
    /// The terms version the citizen accepted last, if any.
    pub accepted_terms_version: Option<String>,
    /// The terms version in force.
    pub terms_in_force: String,
    /// The digital access switches the citizen has removed (empty when every access is open).
    /// They hide data on the portal only: `summary_care_record` here is not an opt-out of the
    /// summary care record.
    pub removed_access: Vec<crate::access_switches::SwitchName>,
}

/// Up to 100 citizens at once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"items": [{"pid": "21878226426"}, {"pid": "30818049397"}]}))]
pub struct ActiveUserBatch {
    pub items: Vec<ActiveUserQuery>,
}

/// One answer per citizen, in the order asked.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "items": [
        {
            "decision": "active", "reason": "consent_active", "consent_level": "full",
            "accepted_terms_version": "2026-01", "terms_in_force": "2026-01",
            "removed_access": ["patient_record"]
        },
        {
            "decision": "inactive", "reason": "not_registered", "consent_level": null,
            "accepted_terms_version": null, "terms_in_force": "2026-01", "removed_access": []
        }
    ]
}))]
pub struct ActiveUserBatchAnswer {
    pub items: Vec<ActiveUserAnswer>,
}

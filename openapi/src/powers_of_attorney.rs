//! Bodies of the power-of-attorney endpoints.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A service area a power of attorney can cover. New services inside an area are covered by
/// every grant of that area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceAreaBody {
    Appointments,
    Prescriptions,
    Vaccinations,
    HealthRegistries,
    CoPayments,
    PatientRecord,
    SummaryCareRecord,
    Communication,
}

/// One entry of the fixed list of service areas.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServiceAreaInfo {
    pub area: ServiceAreaBody,
    /// What the area holds.
    pub description: String,
    /// The grantor's own consent level that opens the area: a grantee never reaches more.
    pub requires_consent_level: crate::citizen::ConsentLevelBody,
}

/// Grant a power of attorney.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "grantee_pid": "02867933185", "all_areas": false, "areas": ["appointments", "prescriptions"],
    "valid_until": "2026-12-31T23:00:00Z"
}))]
pub struct GrantRequestBody {
    /// The grantee's national identity number (11 digits). In the body, never in a URL.
    #[schema(example = "02867933185")]
    pub grantee_pid: String,
    /// Every area, including areas added later. When true, `areas` must be empty or absent.
    #[serde(default)]
    pub all_areas: bool,
    /// The named areas, when `all_areas` is false.
    #[serde(default)]
    pub areas: Vec<ServiceAreaBody>,
    /// The first instant at which it no longer holds; absent for open-ended.
    pub valid_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatusBody {
    Pending,
    Active,
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndReasonBody {
    Declined,
    RevokedByGrantor,
    RevokedByGrantee,
    Expired,
    GrantorWithdrewConsent,
    GrantorDied,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartyRole {
    /// The caller gave it.
    Grantor,
    /// The caller received it.
    Grantee,
}

/// The other person of a power of attorney, by name only.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OtherParty {
    pub citizen_id: String,
    pub name: Option<String>,
}

/// A power of attorney as one of its two parties sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "4a01c955-6f33-41cb-84fa-0a6ba3514713", "role": "grantor",
    "other_party": {"citizen_id": "e380c9b0-5e09-4ccd-a25f-61667e1f3b7f", "name": "Bjørn Haugen"},
    "all_areas": false, "areas": ["appointments", "prescriptions"], "status": "pending",
    "end_reason": null, "created_at": "2026-11-30T09:20:00Z", "valid_until": "2026-12-31T23:00:00Z",
    "accepted_at": null, "ended_at": null
}))]
pub struct PowerOfAttorneyBody {
    /// Opaque id.
    pub id: String,
    /// The caller's role in it.
    pub role: PartyRole,
    pub other_party: OtherParty,
    pub all_areas: bool,
    pub areas: Vec<ServiceAreaBody>,
    pub status: GrantStatusBody,
    pub end_reason: Option<EndReasonBody>,
    pub created_at: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
    pub accepted_at: Option<DateTime<Utc>>,
    /// When it ended (the end time itself for an expired one).
    pub ended_at: Option<DateTime<Utc>>,
}

/// The caller's powers of attorney, given and received, live and ended (the history).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "given": [
        {
            "id": "4a01c955-6f33-41cb-84fa-0a6ba3514713", "role": "grantor",
            "other_party": {
                "citizen_id": "e380c9b0-5e09-4ccd-a25f-61667e1f3b7f", "name": "Bjørn Haugen"
            },
            "all_areas": false, "areas": ["appointments", "prescriptions"], "status": "pending",
            "end_reason": null, "created_at": "2026-11-30T09:20:00Z",
            "valid_until": "2026-12-31T23:00:00Z", "accepted_at": null, "ended_at": null
        }
    ],
    "received": [
        {
            "id": "9263113e-bee8-40c9-b0c1-83caa8fceeb7", "role": "grantee",
            "other_party": {
                "citizen_id": "90127eec-b92f-4928-afd2-56c65f37090f", "name": "Kjell Bakken"
            },
            "all_areas": false, "areas": ["appointments", "prescriptions", "co_payments"],
            "status": "active", "end_reason": null, "created_at": "2026-10-20T11:00:00Z",
            "valid_until": "2026-12-31T23:00:00Z", "accepted_at": "2026-10-20T18:45:12Z",
            "ended_at": null
        },
        {
            "id": "71560e4b-b227-4da9-930d-40522153ac4b", "role": "grantee",
            "other_party": {
                "citizen_id": "8ccbb4c6-65bf-457c-8469-63bed12b9727", "name": "Ola Nordmann"
            },
            "all_areas": true, "areas": [], "status": "ended", "end_reason": "revoked_by_grantor",
            "created_at": "2026-09-02T16:30:00Z", "valid_until": null,
            "accepted_at": "2026-09-02T20:01:44Z", "ended_at": "2026-11-15T10:12:09Z"
        }
    ]
}))]
pub struct PowersOfAttorneyList {
    pub given: Vec<PowerOfAttorneyBody>,
    pub received: Vec<PowerOfAttorneyBody>,
}

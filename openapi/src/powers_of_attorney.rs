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
pub struct PowersOfAttorneyList {
    pub given: Vec<PowerOfAttorneyBody>,
    pub received: Vec<PowerOfAttorneyBody>,
}

//! Acting for someone: the person selector, recording service use, and the downstream decision
//! with its signed proof.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::children::UpcomingChange;
use crate::powers_of_attorney::{OtherParty, ServiceAreaBody};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RepresentationKind {
    /// The person gave the caller a power of attorney.
    PowerOfAttorney,
    /// The caller has parental responsibility for the child (under 16).
    Guardian,
}

/// Someone the caller can act for now. Select it by sending its `representation_id` in the
/// `X-Acting-For` header.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RepresentationBody {
    /// Opaque; never an identity number.
    pub representation_id: String,
    pub kind: RepresentationKind,
    pub person: OtherParty,
    /// The service areas the caller reaches for this person now. Under a power of attorney:
    /// what was granted, limited to what the person's own consent level opens. For a child:
    /// every area under 12, from the 12th birthday only appointments, vaccinations and
    /// co-payments, less what the child has refused, less the child's removed digital access,
    /// limited to what the guardian's own consent level opens.
    pub areas: Vec<ServiceAreaBody>,
    pub valid_until: Option<DateTime<Utc>>,
    /// For a child: `under_12` or `12_to_16`.
    pub age_band: Option<String>,
    /// For a child: the next birthday change (restricted at 12, ended at 16).
    pub upcoming_change: Option<UpcomingChange>,
}

/// A child the caller has parental responsibility for, whose digital access is not available to
/// the caller now. Why is not said.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UnavailableRepresentation {
    pub kind: RepresentationKind,
    pub person: OtherParty,
    /// Always "Digital access to this child is not available."
    pub message: String,
}

/// The person selector ("Hvem vil du bruke Helsenorge på vegne av?").
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "items": [
        {
            "representation_id": "9263113e-bee8-40c9-b0c1-83caa8fceeb7",
            "kind": "power_of_attorney",
            "person": {"citizen_id": "90127eec-b92f-4928-afd2-56c65f37090f", "name": "Kjell Bakken"},
            "areas": ["appointments", "prescriptions", "co_payments"],
            "valid_until": "2026-12-31T23:00:00Z", "age_band": null, "upcoming_change": null
        },
        {
            "representation_id": "022b145a-48f3-4856-a0f8-fc389a8fdfa6", "kind": "guardian",
            "person": {
                "citizen_id": "022b145a-48f3-4856-a0f8-fc389a8fdfa6", "name": "Jakob Nordmann"
            },
            "areas": [
                "appointments", "prescriptions", "vaccinations", "health_registries", "co_payments",
                "patient_record", "summary_care_record", "communication"
            ],
            "valid_until": null, "age_band": "under_12",
            "upcoming_change": {
                "milestone": "restricted_at_12", "on": "2026-12-16", "at": "2026-12-15T23:00:00Z"
            }
        },
        {
            "representation_id": "a2321494-63c3-43f4-945b-8ddca5232646", "kind": "guardian",
            "person": {
                "citizen_id": "a2321494-63c3-43f4-945b-8ddca5232646", "name": "Sofie Nordmann"
            },
            "areas": ["appointments", "vaccinations", "co_payments"], "valid_until": null,
            "age_band": "12_to_16",
            "upcoming_change": {
                "milestone": "ends_at_16", "on": "2030-01-20", "at": "2030-01-19T23:00:00Z"
            }
        }
    ],
    "unavailable": [
        {
            "kind": "guardian",
            "person": {
                "citizen_id": "0ccec350-9b01-4deb-9e10-4a2e8f66ecda", "name": "Lukas Nordmann"
            },
            "message": "Digital access to this child is not available."
        }
    ]
}))]
pub struct RepresentationList {
    /// Everyone the caller can act for now; each can be selected with `X-Acting-For`.
    pub items: Vec<RepresentationBody>,
    /// Children under 16 the caller has parental responsibility for but cannot act for now.
    pub unavailable: Vec<UnavailableRepresentation>,
}

/// Record that a service was used, for oneself or (with `X-Acting-For`) on someone's behalf.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"area": "prescriptions", "service": "Resepter"}))]
pub struct ServiceUse {
    pub area: ServiceAreaBody,
    /// The service's short name as the front end shows it (1-100 characters).
    pub service: String,
}

/// Where the use was recorded.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"subject_id": "90127eec-b92f-4928-afd2-56c65f37090f", "seq": 57}))]
pub struct ServiceUseRecorded {
    /// The citizen in whose log the use was recorded (the represented person when acting).
    pub subject_id: String,
    /// The entry's position in that log.
    pub seq: i64,
}

/// May this actor act for this person in this service area now?
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"actor_pid": "21878226426", "subject_pid": "20811453413", "area": "vaccinations", "proof": true}))]
pub struct RepresentationQuery {
    /// The acting person's identity number (11 digits).
    pub actor_pid: String,
    /// The represented person's identity number (11 digits).
    pub subject_pid: String,
    pub area: ServiceAreaBody,
    /// Ask for a signed proof (a JWT, see `/.well-known/jwks.json`) when the answer is allow.
    #[serde(default)]
    pub proof: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RepresentationDecision {
    Allow,
    Deny,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RepresentationReason {
    /// An active power of attorney covers the area.
    PowerOfAttorney,
    /// The actor has parental responsibility for the child (under 16) and reaches the area.
    Guardian,
    /// No active power of attorney from the person to the actor, and no parental
    /// responsibility for them.
    NoRepresentation,
    /// A power of attorney or guardianship holds but does not reach the area now.
    AreaNotCovered,
    /// The actor has parental responsibility, but digital access to the child is not available
    /// now. Why is not said.
    GuardianAccessUnavailable,
    /// The child is 16 or over: guardians' access has ended.
    GuardianAccessEnded,
}

/// The power of attorney or guardianship a decision rests on.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RepresentationFacts {
    pub kind: RepresentationKind,
    /// The power of attorney's id (kind `power_of_attorney`).
    pub power_of_attorney_id: Option<String>,
    /// For a child: `under_12` or `12_to_16`.
    pub age_band: Option<String>,
    pub areas: Vec<ServiceAreaBody>,
    pub valid_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "decision": "allow", "reason": "guardian",
    "representation": {
        "kind": "guardian", "power_of_attorney_id": null, "age_band": "12_to_16",
        "areas": ["appointments", "vaccinations", "co_payments"], "valid_until": null
    },
    "proof": "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiIsImtpZCI6IjJKMkp3MTU0cVBjdy1JVXdUam9rOWxKc3BLR3VGblYtZVYyTlJTeUFKWFUifQ.eyJpc3MiOiJodHRwczovL2NvbnNlbnQtcG9ydGFsLmV4YW1wbGUiLCJzdWIiOiJhMjMyMTQ5NC02M2MzLTQzZjQtOTQ1Yi04ZGRjYTUyMzI2NDYiLCJhY3QiOnsic3ViIjoiM2NiYjg1MTQtYWVlMS00ZDdiLWFkNmYtOGVhZjNjNGZlYjg5In0sInN1YmplY3RfcGlkIjoiMjA4MTE0NTM0MTMiLCJhY3Rvcl9waWQiOiIyMTg3ODIyNjQyNiIsImFyZWFzIjpbImFwcG9pbnRtZW50cyIsInZhY2NpbmF0aW9ucyIsImNvX3BheW1lbnRzIl0sImJhc2lzIjoiZ3VhcmRpYW4iLCJpYXQiOjE3OTYwMzMxMDAsIm5iZiI6MTc5NjAzMzEwMCwiZXhwIjoxNzk2MDMzNDAwLCJqdGkiOiJkNTI4MjlmOC1jZWUyLTRhZTMtYTU0OC05MWM5OTVhMTIwNjEifQ.nSNZc-ao9Km02nbkuV1ldhzTgKBoij5VRYpngTZ9sYCiS8sEBJglrEDkLaDbRpgRJ9t1_UTH6hx6gSHcHvJPBw"
}))]
pub struct RepresentationAnswer {
    pub decision: RepresentationDecision,
    pub reason: RepresentationReason,
    pub representation: Option<RepresentationFacts>,
    /// A signed JWT stating the decision, when asked for and allowed. Claims: `iss` (this
    /// service), `sub` (the person's portal id), `act.sub` (the actor's portal id),
    /// `subject_pid`, `actor_pid`, `areas`, `basis` (`power_of_attorney` or `guardian`), `poa`
    /// (the power of attorney's id, for that basis), `iat`, `nbf`, `exp` (at most 5 minutes,
    /// never beyond the power of attorney's end or the child's next birthday change), `jti`.
    pub proof: Option<String>,
}

/// Up to 100 questions at once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "items": [
        {"actor_pid": "21878226426", "subject_pid": "20811453413", "area": "vaccinations"},
        {"actor_pid": "21878226426", "subject_pid": "12811064708", "area": "appointments"}
    ]
}))]
pub struct RepresentationBatch {
    pub items: Vec<RepresentationQuery>,
}

/// One answer per question, in the order asked.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "items": [
        {
            "decision": "allow", "reason": "guardian",
            "representation": {
                "kind": "guardian", "power_of_attorney_id": null, "age_band": "12_to_16",
                "areas": ["appointments", "vaccinations", "co_payments"], "valid_until": null
            },
            "proof": null
        },
        {
            "decision": "deny", "reason": "guardian_access_ended", "representation": null,
            "proof": null
        }
    ]
}))]
pub struct RepresentationBatchAnswer {
    pub items: Vec<RepresentationAnswer>,
}

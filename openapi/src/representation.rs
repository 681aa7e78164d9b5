//! Acting for someone: the person selector, recording service use, and the downstream decision
//! with its signed proof.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::powers_of_attorney::{OtherParty, ServiceAreaBody};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RepresentationKind {
    PowerOfAttorney,
}

/// Someone the caller can act for now. Select it by sending its `representation_id` in the
/// `X-Acting-For` header.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RepresentationBody {
    /// Opaque; never an identity number.
    pub representation_id: String,
    pub kind: RepresentationKind,
    pub person: OtherParty,
    /// The service areas the caller reaches for this person now: what was granted, limited to
    /// what the person's own consent level opens.
    pub areas: Vec<ServiceAreaBody>,
    pub valid_until: Option<DateTime<Utc>>,
}

/// The person selector ("Hvem vil du bruke Helsenorge på vegne av?").
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RepresentationList {
    pub items: Vec<RepresentationBody>,
}

/// Record that a service was used, for oneself or (with `X-Acting-For`) on someone's behalf.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceUse {
    pub area: ServiceAreaBody,
    /// The service's short name as the front end shows it (1-100 characters).
    pub service: String,
}

/// Where the use was recorded.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServiceUseRecorded {
    /// The citizen in whose log the use was recorded (the represented person when acting).
    pub subject_id: String,
    /// The entry's position in that log.
    pub seq: i64,
}

/// May this actor act for this person in this service area now?
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
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
    /// No active power of attorney from the person to the actor.
    NoPowerOfAttorney,
    /// A power of attorney is active but does not reach the area now.
    AreaNotCovered,
}

/// The power of attorney a decision rests on.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RepresentationFacts {
    pub kind: RepresentationKind,
    pub power_of_attorney_id: String,
    pub areas: Vec<ServiceAreaBody>,
    pub valid_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RepresentationAnswer {
    pub decision: RepresentationDecision,
    pub reason: RepresentationReason,
    pub representation: Option<RepresentationFacts>,
    /// A signed JWT stating the decision, when asked for and allowed. Claims: `iss` (this
    /// service), `sub` (the person's portal id), `act.sub` (the actor's portal id),
    /// `subject_pid`, `actor_pid`, `areas`, `poa`, `iat`, `nbf`, `exp` (at most 5 minutes, never
    /// beyond the power of attorney), `jti`.
    pub proof: Option<String>,
}

/// Up to 100 questions at once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepresentationBatch {
    pub items: Vec<RepresentationQuery>,
}

/// One answer per question, in the order asked.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RepresentationBatchAnswer {
    pub items: Vec<RepresentationAnswer>,
}

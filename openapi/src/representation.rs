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
pub struct RepresentationList {
    /// Everyone the caller can act for now; each can be selected with `X-Acting-For`.
    pub items: Vec<RepresentationBody>,
    /// Children under 16 the caller has parental responsibility for but cannot act for now.
    pub unavailable: Vec<UnavailableRepresentation>,
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
pub struct RepresentationBatch {
    pub items: Vec<RepresentationQuery>,
}

/// One answer per question, in the order asked.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RepresentationBatchAnswer {
    pub items: Vec<RepresentationAnswer>,
}

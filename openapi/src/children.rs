//! Children and guardians: restrictions registered by health personnel systems (a child's
//! refusal, a denial on weighty reasons), and the notices of the 12th and 16th birthdays.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::powers_of_attorney::{OtherParty, ServiceAreaBody};

/// The health professional who registers or lifts a restriction, and their organisation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestrictionAuthor {
    /// The HPR number (Helsepersonellregisteret), 1 to 9 digits.
    #[schema(example = "123456789")]
    pub hpr_number: String,
    /// The organisation number, 9 digits.
    #[schema(example = "974589095")]
    pub organisation_number: String,
    /// The organisation's name (1-200 characters).
    pub organisation_name: String,
}

/// Register a child's refusal (the child is 12 to 16): the covered data and usage-log entries
/// are hidden from every guardian at once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "child_pid": "09921091831", "areas": ["appointments"],
    "basis": "Ella (15) asks that her guardians do not see her appointments at the youth health clinic; she is mature enough to decide this herself.",
    "author": {
        "hpr_number": "3456789", "organisation_number": "974749025",
        "organisation_name": "Eksempel helsestasjon for ungdom"
    }
}))]
pub struct RefusalRequest {
    /// The child's identity number (11 digits). In the body, never in a URL.
    pub child_pid: String,
    /// The areas refused; omit (or `null`) to refuse the whole. When present, not empty.
    pub areas: Option<Vec<ServiceAreaBody>>,
    /// Why, as the professional records it (1-1000 characters). Never shown to guardians.
    pub basis: String,
    pub author: RestrictionAuthor,
}

/// Register a denial of guardians' access on weighty reasons (the child is under 16).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "child_pid": "03861277959", "guardian_pid": "30818049397",
    "basis": "Weighty reasons: access by this guardian would put the child at risk of harm.",
    "author": {
        "hpr_number": "3456789", "organisation_number": "974749025",
        "organisation_name": "Eksempel helsestasjon for ungdom"
    }
}))]
pub struct DenialRequest {
    /// The child's identity number (11 digits).
    pub child_pid: String,
    /// The guardian denied access (someone with parental responsibility for the child); omit
    /// (or `null`) to deny every guardian.
    pub guardian_pid: Option<String>,
    /// Why (1-1000 characters). Never shown to guardians; the guardian only sees that access is
    /// not available.
    pub basis: String,
    pub author: RestrictionAuthor,
}

/// Lift a restriction.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "basis": "The child has withdrawn the refusal after talking with the nurse.",
    "author": {
        "hpr_number": "3456789", "organisation_number": "974749025",
        "organisation_name": "Eksempel helsestasjon for ungdom"
    }
}))]
pub struct LiftRequest {
    /// Why (1-1000 characters).
    pub basis: String,
    pub author: RestrictionAuthor,
}

/// Ask for a child's restrictions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"child_pid": "09921091831"}))]
pub struct RestrictionQuery {
    /// The child's identity number (11 digits).
    pub child_pid: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RestrictionKind {
    /// The child's refusal (12 to 16).
    Refusal,
    /// A denial on weighty reasons.
    Denial,
}

/// A registered restriction.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "restriction_id": "abd3c6b5-54e0-4fc0-9975-e520e53a066d", "kind": "refusal",
    "child_id": "69e222da-dcfa-4496-a4c5-fb7e5ceafc01", "areas": ["appointments"],
    "guardian_id": null,
    "basis": "Ella (15) asks that her guardians do not see her appointments at the youth health clinic; she is mature enough to decide this herself.",
    "registered_by": {
        "hpr_number": "3456789", "organisation_number": "974749025",
        "organisation_name": "Eksempel helsestasjon for ungdom"
    },
    "registered_at": "2026-11-30T10:02:00Z", "lifted_at": null, "lifted_by": null,
    "lift_basis": null
}))]
pub struct RestrictionBody {
    /// Opaque; use it to lift the restriction.
    pub restriction_id: String,
    pub kind: RestrictionKind,
    /// The child's opaque portal id.
    pub child_id: String,
    /// For a refusal: the areas refused, or `null` for the whole.
    pub areas: Option<Vec<ServiceAreaBody>>,
    /// For a denial: the portal id of the guardian denied, or `null` for every guardian.
    pub guardian_id: Option<String>,
    pub basis: String,
    pub registered_by: RestrictionAuthor,
    pub registered_at: DateTime<Utc>,
    pub lifted_at: Option<DateTime<Utc>>,
    pub lifted_by: Option<RestrictionAuthor>,
    pub lift_basis: Option<String>,
}

/// A child's restrictions, newest first, lifted ones included.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "items": [
        {
            "restriction_id": "abd3c6b5-54e0-4fc0-9975-e520e53a066d", "kind": "refusal",
            "child_id": "69e222da-dcfa-4496-a4c5-fb7e5ceafc01", "areas": ["appointments"],
            "guardian_id": null,
            "basis": "Ella (15) asks that her guardians do not see her appointments at the youth health clinic; she is mature enough to decide this herself.",
            "registered_by": {
                "hpr_number": "3456789", "organisation_number": "974749025",
                "organisation_name": "Eksempel helsestasjon for ungdom"
            },
            "registered_at": "2026-11-30T10:02:00Z", "lifted_at": null, "lifted_by": null,
            "lift_basis": null
        },
        {
            "restriction_id": "1ad1f366-008b-4ab2-847a-fb18e3dfdd41", "kind": "refusal",
            "child_id": "69e222da-dcfa-4496-a4c5-fb7e5ceafc01", "areas": null, "guardian_id": null,
            "basis": "Ella asks that her guardians see nothing of her health information here.",
            "registered_by": {
                "hpr_number": "3456789", "organisation_number": "974749025",
                "organisation_name": "Eksempel helsestasjon for ungdom"
            },
            "registered_at": "2026-09-01T11:30:00Z", "lifted_at": "2026-11-30T10:01:30Z",
            "lifted_by": {
                "hpr_number": "3456789", "organisation_number": "974749025",
                "organisation_name": "Eksempel helsestasjon for ungdom"
            },
            "lift_basis": "Replaced by a refusal of appointments only, at the child's request."
        }
    ]
}))]
pub struct RestrictionList {
    pub items: Vec<RestrictionBody>,
}

/// A change that a birthday brings to guardians' access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MilestoneBody {
    /// On the 12th birthday guardians' access is restricted to what they need to exercise
    /// parental responsibility (appointments, vaccinations, co-payments).
    #[serde(rename = "restricted_at_12")]
    RestrictedAt12,
    /// On the 16th birthday guardians' access ends.
    #[serde(rename = "ends_at_16")]
    EndsAt16,
}

/// The next birthday change.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UpcomingChange {
    pub milestone: MilestoneBody,
    /// The birthday.
    pub on: NaiveDate,
    /// The instant it takes effect: 00:00 Europe/Oslo on `on`.
    pub at: DateTime<Utc>,
}

/// An in-portal notice.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Notice {
    pub change: UpcomingChange,
    /// The child the notice is about (for a guardian), or the caller themself (for a child).
    pub about: OtherParty,
    /// `guardian` when the caller is the child's guardian; `self` when the notice is the
    /// caller's own.
    pub audience: String,
    /// What will change, in plain words.
    pub message: String,
}

/// The notices for the caller now: changes coming within 30 days.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "items": [
        {
            "change": {"milestone": "ends_at_16", "on": "2026-12-09", "at": "2026-12-08T23:00:00Z"},
            "about": {"citizen_id": "69e222da-dcfa-4496-a4c5-fb7e5ceafc01", "name": "Ella Nordmann"},
            "audience": "guardian",
            "message": "Ella turns 16 on 2026-12-09. From then on you can no longer see Ella's information or act for Ella here. Ella can give you a power of attorney if they want your help."
        },
        {
            "change": {
                "milestone": "restricted_at_12", "on": "2026-12-16", "at": "2026-12-15T23:00:00Z"
            },
            "about": {
                "citizen_id": "022b145a-48f3-4856-a0f8-fc389a8fdfa6", "name": "Jakob Nordmann"
            },
            "audience": "guardian",
            "message": "Jakob turns 12 on 2026-12-16. From then on you will see only appointments, vaccinations and co-payments for Jakob; other health information and the summary care record will no longer be shown to you here."
        }
    ]
}))]
pub struct NoticeList {
    pub items: Vec<Notice>,
}

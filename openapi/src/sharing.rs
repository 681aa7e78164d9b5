//! Blocks of the summary care record, objections to sharing, the openings of them, and the
//! professional-access decision downstream systems ask (DESIGN §2.4, §2.7).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::AccessBasis;

/// A part of the summary care record that can be blocked by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordPartBody {
    /// Allergies, serious conditions, implants ("kritisk informasjon").
    CriticalInformation,
    /// Medicines ("legemidler").
    Medicines,
    /// Vaccinations ("vaksiner").
    Vaccinations,
    /// Contacts with hospitals and specialists.
    HospitalContacts,
    /// What the citizen entered themself ("egne opplysninger").
    OwnEntries,
}

/// What a block covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    /// The whole summary care record: opens on the patient's consent or in an emergency.
    WholeRecord,
    /// One part (`part`): opens on consent or in an emergency.
    Part,
    /// A named health professional (`hpr_number`): holds even in an emergency.
    Professional,
}

/// A new block of the summary care record.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "part", "part": "medicines"}))]
pub struct NewBlock {
    pub kind: BlockKind,
    /// With `part` only.
    #[serde(default)]
    pub part: Option<RecordPartBody>,
    /// With `professional` only: the HPR number, 1 to 9 digits.
    #[serde(default)]
    #[schema(example = "1234567")]
    pub hpr_number: Option<String>,
}

/// A block of the summary care record. Nothing is deleted by a block.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "06248d55-a4a4-4139-9bde-8b643eeccbeb", "kind": "part", "part": "medicines",
    "hpr_number": null, "created_at": "2026-11-20T19:04:11Z", "lifted_at": null,
    "holds_in_emergency": false
}))]
pub struct Block {
    pub id: String,
    pub kind: BlockKind,
    pub part: Option<RecordPartBody>,
    pub hpr_number: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Set once the block is lifted.
    pub lifted_at: Option<DateTime<Utc>>,
    /// Whether it holds in an emergency too (only a professional's block does).
    pub holds_in_emergency: bool,
}

/// The blocks in force, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "subject_id": "3cbb8514-aee1-4d7b-ad6f-8eaf3c4feb89",
    "items": [
        {
            "id": "06248d55-a4a4-4139-9bde-8b643eeccbeb", "kind": "part", "part": "medicines",
            "hpr_number": null, "created_at": "2026-11-20T19:04:11Z", "lifted_at": null,
            "holds_in_emergency": false
        },
        {
            "id": "5dad9f95-a394-4d19-bc08-c336a5804985", "kind": "professional", "part": null,
            "hpr_number": "7654321", "created_at": "2026-10-12T08:30:00Z", "lifted_at": null,
            "holds_in_emergency": true
        }
    ]
}))]
pub struct BlockList {
    /// Whose record (opaque portal id).
    pub subject_id: String,
    pub items: Vec<Block>,
}

/// Whom an objection names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ObjectionKind {
    /// A health professional (`hpr_number`).
    Professional,
    /// An organisation (`organisation_number`).
    Organisation,
}

/// A new objection to sharing.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "organisation", "organisation_number": "974749025"}))]
pub struct NewObjection {
    pub kind: ObjectionKind,
    /// With `professional` only: 1 to 9 digits.
    #[serde(default)]
    pub hpr_number: Option<String>,
    /// With `organisation` only: 9 digits with a valid check digit.
    #[serde(default)]
    pub organisation_number: Option<String>,
}

/// An objection to sharing one's records with a professional or an organisation. Only an
/// emergency with a stated basis overrides it, and the citizen is told.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "6d9c3da6-996f-4a9d-b303-863fc3a273df", "kind": "organisation", "hpr_number": null,
    "organisation_number": "974749025", "created_at": "2026-11-24T20:11:45Z", "lifted_at": null
}))]
pub struct Objection {
    pub id: String,
    pub kind: ObjectionKind,
    pub hpr_number: Option<String>,
    pub organisation_number: Option<String>,
    pub created_at: DateTime<Utc>,
    pub lifted_at: Option<DateTime<Utc>>,
}

/// The objections in force, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "subject_id": "3cbb8514-aee1-4d7b-ad6f-8eaf3c4feb89",
    "items": [
        {
            "id": "6d9c3da6-996f-4a9d-b303-863fc3a273df", "kind": "organisation",
            "hpr_number": null, "organisation_number": "974749025",
            "created_at": "2026-11-24T20:11:45Z", "lifted_at": null
        },
        {
            "id": "f33c2066-720d-4ac9-a691-361779ea8131", "kind": "professional",
            "hpr_number": "2345678", "organisation_number": null,
            "created_at": "2026-10-12T08:31:10Z", "lifted_at": null
        }
    ]
}))]
pub struct ObjectionList {
    pub subject_id: String,
    pub items: Vec<Objection>,
}

/// Which restriction a permitted read passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OpeningKind {
    BlockOpenedOnConsent,
    BlockOpenedInEmergency,
    ObjectionOverridden,
}

/// What a professional reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResourceBody {
    SummaryCareRecord,
    PatientRecord,
}

/// A time blocked data was opened, or an objection overridden.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Opening {
    pub at: DateTime<Utc>,
    pub kind: OpeningKind,
    pub resource: ResourceBody,
    /// The parts asked for (summary care record).
    pub parts: Vec<RecordPartBody>,
    pub hpr_number: String,
    pub organisation_number: String,
    pub basis: AccessBasis,
    /// What the professional gave as the emergency.
    pub stated_basis: Option<String>,
    /// The system that asked.
    pub client_id: String,
}

/// The latest openings (at most 100), newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "subject_id": "3cbb8514-aee1-4d7b-ad6f-8eaf3c4feb89",
    "items": [
        {
            "at": "2026-11-29T02:47:31Z", "kind": "block_opened_in_emergency",
            "resource": "summary_care_record",
            "parts": [
                "critical_information", "medicines", "vaccinations", "hospital_contacts",
                "own_entries"
            ],
            "hpr_number": "1234567", "organisation_number": "983984339", "basis": "emergency",
            "stated_basis": "Unconscious on admission; allergies needed before surgery",
            "client_id": "dev-service-clinic"
        }
    ]
}))]
pub struct OpeningList {
    pub subject_id: String,
    pub items: Vec<Opening>,
}

/// May this professional read this citizen's record now?
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "pid": "21878226426", "resource": "summary_care_record", "hpr_number": "1234567",
    "organisation_number": "983984339", "basis": "emergency",
    "stated_basis": "Unconscious on admission; allergies needed before surgery"
}))]
pub struct ProfessionalAccessQuery {
    /// The citizen's identity number (11 digits), in the body.
    pub pid: String,
    pub resource: ResourceBody,
    /// Summary care record only: the parts to read; omitted means the whole record.
    #[serde(default)]
    pub parts: Option<Vec<RecordPartBody>>,
    /// The professional's HPR number, 1 to 9 digits.
    pub hpr_number: String,
    /// The organisation they act for, 9 digits.
    pub organisation_number: String,
    pub basis: AccessBasis,
    /// Required with `emergency` (1 to 200 characters): shown to the citizen.
    #[serde(default)]
    pub stated_basis: Option<String>,
}

/// Why the read is permitted or refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProfessionalAccessReason {
    /// Nothing restricts it.
    NoRestriction,
    /// Permitted without the parts in `withheld_parts`.
    BlockedPartsWithheld,
    /// A block opened on the patient's declared consent.
    OpenedOnConsent,
    /// A block opened in an emergency.
    OpenedInEmergency,
    /// An objection overridden in an emergency.
    ObjectionOverridden,
    /// Refused: the citizen opted out of the summary care record.
    RecordOptedOut,
    /// Refused: the summary care record's data was deleted.
    RecordPurged,
    /// Refused: the citizen blocked this professional, for every basis.
    ProfessionalBlocked,
    /// Refused: the citizen objects to sharing with this professional or organisation.
    Objection,
    /// Refused: what was asked for is blocked; the patient's consent or an emergency opens it.
    RecordBlocked,
}

/// What the decision rests on.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProfessionalAccessFacts {
    /// The summary care record's state (`active`, `opted_out`, `purge_ordered`).
    pub record_state: crate::summary_care_record::RecordStateBody,
    pub record_blocked: bool,
    /// Parts blocked one by one.
    pub blocked_parts: Vec<RecordPartBody>,
    pub professional_blocked: bool,
    /// Whom a matching objection names, if one does.
    pub objection: Option<ObjectionKind>,
}

/// The answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "subject_id": "3cbb8514-aee1-4d7b-ad6f-8eaf3c4feb89", "allowed": true,
    "reason": "opened_in_emergency", "withheld_parts": [],
    "openings": ["block_opened_in_emergency"],
    "facts": {
        "record_state": "active", "record_blocked": false, "blocked_parts": ["medicines"],
        "professional_blocked": false, "objection": null
    }
}))]
pub struct ProfessionalAccessDecision {
    pub subject_id: String,
    pub allowed: bool,
    pub reason: ProfessionalAccessReason,
    /// Parts left out of a permitted read.
    pub withheld_parts: Vec<RecordPartBody>,
    /// Restrictions this read passes. Each was logged in the citizen's usage log and the change
    /// feed when this answer was given, and is shown to the citizen.
    pub openings: Vec<OpeningKind>,
    pub facts: ProfessionalAccessFacts,
}

/// Up to 100 questions, answered in order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "items": [
        {
            "pid": "21878226426", "resource": "summary_care_record", "hpr_number": "1234567",
            "organisation_number": "983984339", "basis": "emergency",
            "stated_basis": "Unconscious on admission; allergies needed before surgery"
        },
        {
            "pid": "30818049397", "resource": "patient_record", "hpr_number": "1234567",
            "organisation_number": "983984339", "basis": "ordinary_care"
        }
    ]
}))]
pub struct ProfessionalAccessBatch {
    pub items: Vec<ProfessionalAccessQuery>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "items": [
        {
            "subject_id": "3cbb8514-aee1-4d7b-ad6f-8eaf3c4feb89", "allowed": true,
            "reason": "opened_in_emergency", "withheld_parts": [],
            "openings": ["block_opened_in_emergency"],
            "facts": {
                "record_state": "active", "record_blocked": false, "blocked_parts": ["medicines"],
                "professional_blocked": false, "objection": null
            }
        },
        {
            "subject_id": "8ccbb4c6-65bf-457c-8469-63bed12b9727", "allowed": true,
            "reason": "no_restriction", "withheld_parts": [], "openings": [],
            "facts": {
                "record_state": "active", "record_blocked": false, "blocked_parts": [],
                "professional_blocked": false, "objection": null
            }
        }
    ]
}))]
pub struct ProfessionalAccessBatchAnswer {
    pub items: Vec<ProfessionalAccessDecision>,
}

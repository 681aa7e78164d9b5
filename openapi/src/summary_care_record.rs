//! The summary care record ("kjernejournal") opt-out with its 30-day restore window
//! (DESIGN §2.4).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordStateBody {
    /// The record exists and health personnel can use it.
    Active,
    /// Opted out: unavailable to health personnel, nothing may be registered; the data is kept
    /// until the restore deadline.
    OptedOut,
    /// The deletion of the data was ordered; nothing can be restored.
    PurgeOrdered,
}

/// What the citizen can do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PossibleStep {
    /// Opt out (`POST .../opt-out`).
    OptOut,
    /// Restore the opted-out record (`POST .../restoration`) until `possible_until`.
    Restore,
    /// Ask for a new, empty record (`POST .../new-record`).
    NewRecord,
}

/// Where the citizen's summary care record stands, and what is possible until when.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "subject_id": "3cbb8514-aee1-4d7b-ad6f-8eaf3c4feb89", "state": "opted_out",
    "record_blocked": false, "blocked_parts": ["medicines"], "available_to_health_personnel": false,
    "opted_out_at": "2026-11-30T09:15:00Z", "restore_deadline": "2026-12-30T23:00:00Z",
    "possible": "restore", "possible_until": "2026-12-30T23:00:00Z", "purge_ordered_at": null,
    "record_started_at": null,
    "message": "You have opted out. Health personnel cannot see your summary care record and nothing can be added to it. You can change your mind and have it restored until the end of 30 December 2026 (Norwegian time)."
}))]
pub struct SummaryCareRecordStatus {
    /// Whose record (opaque portal id).
    pub subject_id: String,
    pub state: RecordStateBody,
    /// Whether the whole record is blocked: health personnel reach it only on the patient's
    /// consent or in an emergency (nothing is deleted).
    pub record_blocked: bool,
    /// Parts blocked one by one.
    pub blocked_parts: Vec<crate::sharing::RecordPartBody>,
    /// Whether health personnel may read or register in it now.
    pub available_to_health_personnel: bool,
    pub opted_out_at: Option<DateTime<Utc>>,
    /// While opted out: the first instant at which the record can no longer be restored
    /// (00:00 Europe/Oslo on the 31st calendar day after the day of the opt-out).
    pub restore_deadline: Option<DateTime<Utc>>,
    pub possible: PossibleStep,
    /// For `restore`: until when (exclusive).
    pub possible_until: Option<DateTime<Utc>>,
    pub purge_ordered_at: Option<DateTime<Utc>>,
    /// A new record made after a purge holds data from this moment only.
    pub record_started_at: Option<DateTime<Utc>>,
    /// What the state means, in plain words.
    pub message: String,
}

/// Ask for a citizen's summary care record status (downstream services).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"pid": "21878226426"}))]
pub struct SummaryCareRecordQuery {
    /// The citizen's identity number (11 digits), in the body.
    pub pid: String,
}

/// Up to 100 citizens' statuses, answered in order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"items": [{"pid": "21878226426"}, {"pid": "30818049397"}]}))]
pub struct SummaryCareRecordBatch {
    pub items: Vec<SummaryCareRecordQuery>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "items": [
        {
            "subject_id": "3cbb8514-aee1-4d7b-ad6f-8eaf3c4feb89", "state": "opted_out",
            "record_blocked": false, "blocked_parts": ["medicines"],
            "available_to_health_personnel": false, "opted_out_at": "2026-11-30T09:15:00Z",
            "restore_deadline": "2026-12-30T23:00:00Z", "possible": "restore",
            "possible_until": "2026-12-30T23:00:00Z", "purge_ordered_at": null,
            "record_started_at": null,
            "message": "You have opted out. Health personnel cannot see your summary care record and nothing can be added to it. You can change your mind and have it restored until the end of 30 December 2026 (Norwegian time)."
        },
        {
            "subject_id": "8ccbb4c6-65bf-457c-8469-63bed12b9727", "state": "active",
            "record_blocked": false, "blocked_parts": [], "available_to_health_personnel": true,
            "opted_out_at": null, "restore_deadline": null, "possible": "opt_out",
            "possible_until": null, "purge_ordered_at": null, "record_started_at": null,
            "message": "You have a summary care record. Health personnel can see it when they treat you."
        }
    ]
}))]
pub struct SummaryCareRecordBatchAnswer {
    pub items: Vec<SummaryCareRecordStatus>,
}

/// What an operator's or the scheduler's purge run did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"ordered": 2}))]
pub struct PurgeRun {
    /// Purges ordered by this run.
    pub ordered: usize,
}

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
pub struct SummaryCareRecordQuery {
    /// The citizen's identity number (11 digits), in the body.
    pub pid: String,
}

/// Up to 100 citizens' statuses, answered in order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SummaryCareRecordBatch {
    pub items: Vec<SummaryCareRecordQuery>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SummaryCareRecordBatchAnswer {
    pub items: Vec<SummaryCareRecordStatus>,
}

/// What an operator's or the scheduler's purge run did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PurgeRun {
    /// Purges ordered by this run.
    pub ordered: usize,
}

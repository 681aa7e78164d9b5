//! Data-subject requests (DESIGN §2.9): filed by citizens, handled by the responsible
//! organisation through its own machine API.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// What the citizen asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestKindBody {
    Insight,
    Rectification,
    Erasure,
    Restriction,
    Objection,
    Portability,
}

/// What a request concerns, optionally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestCategory {
    UsageLog,
    Consents,
    PowersOfAttorney,
    SummaryCareRecord,
    Children,
    ContactDetails,
    Other,
}

/// File a request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "kind": "insight", "text": "I want to see who has read my summary care record this year.",
    "categories": ["usage_log", "summary_care_record"]
}))]
pub struct NewDataRequest {
    pub kind: RequestKindBody,
    /// What it concerns, in the citizen's words: 1 to 2000 characters, no identity number.
    pub text: String,
    #[serde(default)]
    pub categories: Vec<RequestCategory>,
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Received,
    Acknowledged,
    Extended,
    Answered,
    Refused,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExtensionBody {
    pub announced_at: DateTime<Utc>,
    pub reason: String,
    /// The extended deadline (exclusive).
    pub until: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AnswerBody {
    pub at: DateTime<Utc>,
    pub text: String,
    /// A machine-readable answer.
    pub document: Option<serde_json::Value>,
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefusalGround {
    /// On the merits, under the provision named.
    Ordinary,
    /// Manifestly unfounded (GDPR art. 12(5)).
    ManifestlyUnfounded,
    /// Excessive, in particular repeated (GDPR art. 12(5)).
    Excessive,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RefusalBody {
    pub at: DateTime<Utc>,
    pub reason: String,
    /// The legal provision the refusal rests on.
    pub provision: String,
    pub ground: RefusalGround,
    /// How to complain: Datatilsynet, and the county governor for patient records.
    pub complaint: String,
}

/// A data-subject request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "6a1f0c2e-8d5b-4a3c-9f2e-1b7d4e5f6a70", "subject_id": "2b0c7f9e-5a41-4d1e-8f3a-9c6b2d1e4f50",
    "kind": "insight", "text": "I want to see who has read my summary care record this year.",
    "categories": ["summary_care_record", "usage_log"], "status": "acknowledged",
    "received_at": "2026-11-23T12:00:00Z", "acknowledged_at": "2026-11-24T08:00:00Z",
    "deadline": "2026-12-23T23:00:00Z", "extended": null, "overdue": false, "answer": null,
    "refusal": null
}))]
pub struct DataRequest {
    pub id: String,
    /// Whom it concerns (opaque portal id).
    pub subject_id: String,
    pub kind: RequestKindBody,
    pub text: String,
    pub categories: Vec<RequestCategory>,
    pub status: RequestStatus,
    pub received_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When it is late (exclusive): the end of the 30th Oslo day after receipt, or of the 90th
    /// once extended.
    pub deadline: DateTime<Utc>,
    pub extended: Option<ExtensionBody>,
    /// Still open at or after its deadline.
    pub overdue: bool,
    pub answer: Option<AnswerBody>,
    pub refusal: Option<RefusalBody>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"subject_id": "2b0c7f9e-5a41-4d1e-8f3a-9c6b2d1e4f50", "items": [{
    "id": "6a1f0c2e-8d5b-4a3c-9f2e-1b7d4e5f6a70", "subject_id": "2b0c7f9e-5a41-4d1e-8f3a-9c6b2d1e4f50",
    "kind": "insight", "text": "I want to see who has read my summary care record this year.",
    "categories": ["summary_care_record", "usage_log"], "status": "received",
    "received_at": "2026-11-23T12:00:00Z", "acknowledged_at": null,
    "deadline": "2026-12-23T23:00:00Z", "extended": null, "overdue": false, "answer": null,
    "refusal": null
}]}))]
pub struct DataRequestList {
    /// Whose requests (opaque portal id).
    pub subject_id: String,
    /// Newest first.
    pub items: Vec<DataRequest>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"items": [{
    "id": "6a1f0c2e-8d5b-4a3c-9f2e-1b7d4e5f6a70", "subject_id": "2b0c7f9e-5a41-4d1e-8f3a-9c6b2d1e4f50",
    "kind": "insight", "text": "I want to see who has read my summary care record this year.",
    "categories": ["summary_care_record", "usage_log"], "status": "received",
    "received_at": "2026-11-23T12:00:00Z", "acknowledged_at": null,
    "deadline": "2026-12-23T23:00:00Z", "extended": null, "overdue": false, "answer": null,
    "refusal": null
}]}))]
pub struct DataRequestQueue {
    /// Open requests, the earliest deadline first.
    pub items: Vec<DataRequest>,
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// 1-200 (default 100).
    pub limit: Option<u32>,
}

/// An empty body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({}))]
pub struct Acknowledgement {}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "The request covers records in several systems that must be searched by hand."}))]
pub struct NewExtension {
    /// Why more time is needed: 1 to 2000 characters.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"text": "Enclosed is the list of accesses to your summary care record.", "document": {"accesses": 3}}))]
pub struct NewAnswer {
    /// 1 to 10000 characters.
    pub text: String,
    #[serde(default)]
    pub document: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "The same request was answered in full on 2 November.", "provision": "GDPR art. 12(5)(b)", "ground": "excessive"}))]
pub struct NewRefusal {
    /// 1 to 2000 characters.
    pub reason: String,
    /// The legal provision: 1 to 200 characters.
    pub provision: String,
    pub ground: RefusalGround,
}

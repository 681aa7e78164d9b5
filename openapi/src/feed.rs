//! The change feed: every consent-relevant change, in order, for downstream services.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// The `next_cursor` of the previous page; absent to read from the oldest retained event.
    pub cursor: Option<String>,
    /// Page size, 1-500 (default 100).
    pub limit: Option<u32>,
}

/// One change. Thin on purpose: fetch what it means from the decision endpoints.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FeedEvent {
    /// Unique per event: deliveries are at least once, so de-duplicate by it.
    pub id: String,
    /// E.g. `terms.accepted`, `terms.withdrawn`, `power_of_attorney.granted`.
    #[serde(rename = "type")]
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    /// The opaque portal id of the citizen the change concerns.
    pub subject_id: String,
}

/// A page of the feed, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "events": [
        {
            "id": "8020b1a1-522c-4a5e-872a-d9aaf97be597",
            "type": "summary_care_record.block_opened", "occurred_at": "2026-11-29T02:47:31Z",
            "subject_id": "3cbb8514-aee1-4d7b-ad6f-8eaf3c4feb89"
        },
        {
            "id": "792ff34e-a6c1-4312-b53c-fe3087e4f9a4", "type": "summary_care_record.opted_out",
            "occurred_at": "2026-11-30T09:15:00Z",
            "subject_id": "3cbb8514-aee1-4d7b-ad6f-8eaf3c4feb89"
        }
    ],
    "next_cursor": "eyJ2IjoxLCJjbGllbnQiOiJkZXYtc2VydmljZS1mZWVkIiwiYWZ0ZXIiOjEwNDJ9"
}))]
pub struct FeedPage {
    pub events: Vec<FeedEvent>,
    /// Where to continue: always present; on an empty page it is the cursor that was sent, so a
    /// reader polls with it until new events arrive.
    pub next_cursor: String,
}

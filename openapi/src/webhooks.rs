//! Webhooks: the change feed pushed to machine clients' endpoints, signed per the Standard
//! Webhooks specification, retried, and recorded per delivery.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::feed::FeedEvent;

/// Register an endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "url": "https://records.example/hooks/consent",
    "event_types": ["summary_care_record.*", "objection.*"]
}))]
pub struct NewWebhook {
    /// Where to POST the events: `https`, or `http` to a loopback address (development). At most
    /// 2000 characters, no user name or password in it. Redirects are not followed.
    pub url: String,
    /// Event types (`terms.accepted`), prefixes (`summary_care_record.*`) or `*`; absent or empty
    /// for every event. At most 50.
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
}

/// A registered endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "c0e1d90e-7e1d-4c27-9194-07ba726cf213", "url": "https://records.example/hooks/consent",
    "event_types": ["objection.*", "summary_care_record.*"], "created_at": "2026-11-16T12:00:00Z",
    "disabled_at": null, "disabled_reason": null,
    "secret": "whsec_4ZbSMEKHGOC/rDqE3sw7OnUiDoaSebDreLz+/ut9wjU="
}))]
pub struct Webhook {
    pub id: String,
    pub url: String,
    /// Empty: every event.
    pub event_types: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// Set when the endpoint answered 410 Gone (`gone`) or its client removed it (`removed`):
    /// nothing more is sent to it.
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    /// The signing secret (`whsec_` and base64). Only in the answer to the registration: store it
    /// then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "items": [
        {
            "id": "c0e1d90e-7e1d-4c27-9194-07ba726cf213",
            "url": "https://records.example/hooks/consent",
            "event_types": ["objection.*", "summary_care_record.*"],
            "created_at": "2026-11-16T12:00:00Z", "disabled_at": null, "disabled_reason": null
        },
        {
            "id": "80b07806-5dd2-402e-8bc5-47246b9b74d1",
            "url": "https://old.records.example/hooks", "event_types": [],
            "created_at": "2026-10-01T08:00:00Z", "disabled_at": "2026-11-10T14:31:07Z",
            "disabled_reason": "gone"
        }
    ]
}))]
pub struct WebhookList {
    /// The caller's endpoints, newest first, disabled ones included.
    pub items: Vec<Webhook>,
}

/// The state of one message to one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not yet answered with 2xx; retried at `next_attempt_at`.
    Pending,
    /// Answered 2xx.
    Delivered,
    /// Every attempt failed.
    GivenUp,
    /// The endpoint was disabled before it was delivered.
    EndpointDisabled,
}

/// One attempt.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryAttempt {
    pub attempt: i32,
    pub at: DateTime<Utc>,
    /// The HTTP status the endpoint answered; absent when it did not answer.
    pub status_code: Option<i32>,
    /// Why there was no answer (`timeout`, `connect`, `request`).
    pub error: Option<String>,
}

/// One message to one endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    /// The `webhook-id` header: the same on every retry.
    pub id: String,
    pub event: FeedEvent,
    pub status: DeliveryStatus,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub attempts: Vec<DeliveryAttempt>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "items": [
        {
            "id": "msg_f2ce099783b445c4a80e77f3612ec452",
            "event": {
                "id": "792ff34e-a6c1-4312-b53c-fe3087e4f9a4",
                "type": "summary_care_record.opted_out", "occurred_at": "2026-11-30T09:15:00Z",
                "subject_id": "3cbb8514-aee1-4d7b-ad6f-8eaf3c4feb89"
            },
            "status": "delivered", "next_attempt_at": null, "delivered_at": "2026-11-30T09:15:06Z",
            "attempts": [
                {"attempt": 1, "at": "2026-11-30T09:15:01Z", "status_code": 503, "error": null},
                {"attempt": 2, "at": "2026-11-30T09:15:06Z", "status_code": 204, "error": null}
            ]
        },
        {
            "id": "msg_021295049b2f47af92c2b1c9126fbb0e",
            "event": {
                "id": "8020b1a1-522c-4a5e-872a-d9aaf97be597",
                "type": "summary_care_record.block_opened", "occurred_at": "2026-11-29T02:47:31Z",
                "subject_id": "3cbb8514-aee1-4d7b-ad6f-8eaf3c4feb89"
            },
            "status": "delivered", "next_attempt_at": null, "delivered_at": "2026-11-29T02:47:33Z",
            "attempts": [
                {"attempt": 1, "at": "2026-11-29T02:47:33Z", "status_code": 200, "error": null}
            ]
        }
    ]
}))]
pub struct DeliveryList {
    /// Newest event first.
    pub items: Vec<Delivery>,
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// How many, 1-200 (default 50).
    pub limit: Option<u32>,
}

/// The body POSTed to an endpoint (Standard Webhooks). Verify `webhook-signature` before
/// trusting it: `v1,` and the base64 HMAC-SHA256, keyed with the base64-decoded part of the
/// secret after `whsec_`, of `{webhook-id}.{webhook-timestamp}.{body}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "summary_care_record.opted_out", "timestamp": "2026-11-30T09:15:00Z",
    "data": {
        "id": "792ff34e-a6c1-4312-b53c-fe3087e4f9a4", "type": "summary_care_record.opted_out",
        "occurred_at": "2026-11-30T09:15:00Z", "subject_id": "3cbb8514-aee1-4d7b-ad6f-8eaf3c4feb89"
    }
}))]
pub struct WebhookPayload {
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the event happened.
    pub timestamp: DateTime<Utc>,
    /// The event, as the change feed gives it.
    pub data: FeedEvent,
}

/// Who received one change.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Receiver {
    /// The downstream system (its client id).
    pub client_id: String,
    pub status: DeliveryStatus,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One of the citizen's changes and the downstream systems it was sent to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChangeReceivers {
    pub event: FeedEvent,
    /// Systems with a webhook for it. Systems that read the feed themselves are not listed.
    pub receivers: Vec<Receiver>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "items": [
        {
            "event": {
                "id": "792ff34e-a6c1-4312-b53c-fe3087e4f9a4",
                "type": "summary_care_record.opted_out", "occurred_at": "2026-11-30T09:15:00Z",
                "subject_id": "3cbb8514-aee1-4d7b-ad6f-8eaf3c4feb89"
            },
            "receivers": [
                {
                    "client_id": "dev-service-records", "status": "delivered",
                    "delivered_at": "2026-11-30T09:15:06Z"
                },
                {"client_id": "dev-service-feed", "status": "pending", "delivered_at": null}
            ]
        },
        {
            "event": {
                "id": "8020b1a1-522c-4a5e-872a-d9aaf97be597",
                "type": "summary_care_record.block_opened", "occurred_at": "2026-11-29T02:47:31Z",
                "subject_id": "3cbb8514-aee1-4d7b-ad6f-8eaf3c4feb89"
            },
            "receivers": [
                {
                    "client_id": "dev-service-records", "status": "delivered",
                    "delivered_at": "2026-11-29T02:47:33Z"
                }
            ]
        }
    ]
}))]
pub struct ChangeReceiversList {
    /// The latest 50 changes, newest first.
    pub items: Vec<ChangeReceivers>,
}

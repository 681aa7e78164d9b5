//! Contact details and the email notifications sent to them (DESIGN §2.10).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The language messages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LanguageBody {
    /// Norwegian bokmål.
    Nb,
    /// English.
    En,
}

/// The citizen's contact details.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "email": "kari.nordmann@example.org", "email_confirmed_at": "2026-11-30T09:00:00Z",
    "phone": "+4791234567", "language": "nb"
}))]
pub struct ContactDetails {
    pub email: Option<String>,
    /// When the address was confirmed by its one-time link; messages other than the confirmation
    /// go only to a confirmed address.
    pub email_confirmed_at: Option<DateTime<Utc>>,
    /// Stored for later channels; nothing is sent to it yet.
    pub phone: Option<String>,
    pub language: LanguageBody,
}

/// New contact details: all three fields; `null` removes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "kari.nordmann@example.org", "phone": "+4791234567", "language": "en"}))]
pub struct NewContactDetails {
    /// An email address (at most 254 characters), or `null` to remove it. A new or changed one is
    /// unconfirmed until the link sent to it is opened.
    #[serde(deserialize_with = "present")]
    #[schema(required = true)]
    pub email: Option<String>,
    /// `+` and 8 to 15 digits, or `null` to remove it.
    #[serde(deserialize_with = "present")]
    #[schema(required = true)]
    pub phone: Option<String>,
    pub language: LanguageBody,
}

/// A nullable field that must be there: `null` says "remove", absence says nothing, and a
/// replacing PUT that says nothing about a field is refused rather than read as "remove".
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConfirmationQuery {
    /// The token from the link in the confirmation message.
    pub token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"confirmed": true}))]
pub struct EmailConfirmed {
    pub confirmed: bool,
}

/// The state of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationStatus {
    /// Waiting to be sent.
    Queued,
    /// Accepted by the mail server.
    Sent,
    /// An attempt failed; it is tried again.
    Failed,
    /// Every attempt failed.
    GivenUp,
    /// There was no confirmed address to send it to.
    NoAddress,
}

/// One message the portal planned for the caller.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NotificationBody {
    pub id: String,
    /// E.g. `scr_opted_out`, `poa_granted`, `health_data_opened`.
    pub kind: String,
    pub status: NotificationStatus,
    pub language: LanguageBody,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"items": [{
    "id": "0b8c1c8e-6f0e-4a57-9d55-2b1f5b6b9a11", "kind": "scr_opted_out", "status": "sent",
    "language": "nb", "created_at": "2026-11-30T09:00:00Z", "sent_at": "2026-11-30T09:00:01Z",
    "attempts": 1, "last_error": null
}]}))]
pub struct NotificationList {
    /// The latest 50, newest first.
    pub items: Vec<NotificationBody>,
}

/// What a reminder run planned.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"queued": 2}))]
pub struct ReminderRun {
    pub queued: usize,
}

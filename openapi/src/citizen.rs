//! Bodies of the citizen-facing endpoints (session-authenticated).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A consent level to use the services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentLevelBody {
    /// Basic services: log-in, settings, messages.
    Basis,
    /// Basis plus the patient-record services.
    BasisPlus,
    /// Every service.
    Full,
}

/// Where the citizen stands against the terms in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentStatusBody {
    NotAccepted,
    RenewalRequired,
    Active,
}

/// The logged-in citizen.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Me {
    /// The citizen's opaque id in this portal (never the identity number).
    pub citizen_id: String,
    /// The assurance level of this login (`idporten-loa-high`, `idporten-loa-substantial`).
    pub acr: Option<String>,
    /// Whether this login may make changes; if not, log in again with `required_acr`.
    pub may_change: bool,
    pub required_acr: String,
    pub consent: ConsentSummary,
    pub session: SessionInfo,
    /// When the citizen logged in before this session.
    pub previous_login_at: Option<DateTime<Utc>>,
    /// Whom this request acts for (the `X-Acting-For` header), if anyone.
    pub acting_for: Option<crate::representation::RepresentationBody>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConsentSummary {
    pub status: ConsentStatusBody,
    pub level: Option<ConsentLevelBody>,
    /// The version the citizen accepted last, if any.
    pub accepted_version: Option<String>,
    /// The version in force, which an acceptance must name.
    pub terms_in_force: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionInfo {
    /// Send this in the `X-CSRF-Token` header on every state-changing request made with the
    /// session cookie.
    pub csrf_token: String,
    /// The session ends if unused until this time.
    pub idle_expires_at: DateTime<Utc>,
    /// The session ends at this time however it is used.
    pub absolute_expires_at: DateTime<Utc>,
}

/// The terms consent and its history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TermsState {
    pub consent: ConsentSummary,
    /// Every acceptance, level change and withdrawal, oldest first.
    pub history: Vec<TermsHistoryItem>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TermsHistoryItem {
    /// `terms.accepted`, `terms.level_changed` or `terms.withdrawn`.
    pub action: String,
    pub terms_version: String,
    pub level: Option<ConsentLevelBody>,
    pub at: DateTime<Utc>,
}

/// Accept the terms in force at a level.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptTerms {
    /// The version being accepted; must be the one in force (see `GET /api/v1/terms`).
    pub terms_version: String,
    pub level: ConsentLevelBody,
}

/// Change the consent level.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeLevel {
    pub level: ConsentLevelBody,
}

/// One usage-log entry as the citizen sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LogEntryBody {
    /// Position in the citizen's log (1 is the first entry).
    pub seq: i64,
    pub at: DateTime<Utc>,
    /// `citizen`, `guardian`, `grantee`, `service` or `system`.
    pub actor_kind: String,
    /// The opaque id of who acted (a citizen id or a service's client id).
    pub actor_id: String,
    /// A stable action name, e.g. `login`, `terms.accepted`.
    pub action: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// A page of the usage log, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LogPage {
    pub items: Vec<LogEntryBody>,
    /// Pass as `cursor` to get the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1-100 (default 20).
    pub limit: Option<u32>,
}

/// What others did since the citizen's previous login.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SinceLastLogin {
    /// The previous login, or none when this is the first.
    pub previous_login_at: Option<DateTime<Utc>>,
    /// Entries made by anyone but the citizen themself since then, oldest first (at most 100).
    pub items: Vec<LogEntryBody>,
    /// True when there were more than `items` holds; page the full log for the rest.
    pub truncated: bool,
}

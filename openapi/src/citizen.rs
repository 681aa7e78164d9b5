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
#[schema(example = json!({
    "citizen_id": "3cbb8514-aee1-4d7b-ad6f-8eaf3c4feb89", "acr": "idporten-loa-high",
    "may_change": true, "required_acr": "idporten-loa-high",
    "consent": {
        "status": "active", "level": "full", "accepted_version": "2026-01",
        "terms_in_force": "2026-01"
    },
    "session": {
        "csrf_token": "Q3k5aR0BlqLvxFkNDHGrcncgkWImvctj76gYHjufkfM",
        "idle_expires_at": "2026-11-30T09:55:12Z", "absolute_expires_at": "2026-11-30T17:10:00Z"
    },
    "previous_login_at": "2026-11-27T18:42:10Z", "acting_for": null
}))]
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
#[schema(example = json!({
    "consent": {
        "status": "active", "level": "full", "accepted_version": "2026-01",
        "terms_in_force": "2026-01"
    },
    "history": [
        {
            "action": "terms.accepted", "terms_version": "2026-01", "level": "basis_plus",
            "at": "2026-09-14T17:22:05Z"
        },
        {
            "action": "terms.level_changed", "terms_version": "2026-01", "level": "full",
            "at": "2026-11-02T10:05:31Z"
        }
    ]
}))]
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
#[schema(example = json!({"terms_version": "2026-01", "level": "full"}))]
pub struct AcceptTerms {
    /// The version being accepted; must be the one in force (see `GET /api/v1/terms`).
    pub terms_version: String,
    pub level: ConsentLevelBody,
}

/// Change the consent level.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"level": "basis_plus"}))]
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
#[schema(example = json!({
    "items": [
        {
            "seq": 14, "at": "2026-11-30T09:15:00Z", "actor_kind": "citizen",
            "actor_id": "3cbb8514-aee1-4d7b-ad6f-8eaf3c4feb89",
            "action": "summary_care_record.opted_out",
            "details": {
                "opted_out_at": "2026-11-30T09:15:00Z", "restore_deadline": "2026-12-30T23:00:00Z"
            }
        },
        {
            "seq": 13, "at": "2026-11-30T09:10:00Z", "actor_kind": "citizen",
            "actor_id": "3cbb8514-aee1-4d7b-ad6f-8eaf3c4feb89", "action": "login",
            "details": {"acr": "idporten-loa-high"}
        },
        {
            "seq": 12, "at": "2026-11-29T02:47:31Z", "actor_kind": "service",
            "actor_id": "dev-service-clinic", "action": "summary_care_record.block_opened",
            "details": {
                "opening": "block_opened_in_emergency", "area": "summary_care_record",
                "parts": [
                    "critical_information", "medicines", "vaccinations", "hospital_contacts",
                    "own_entries"
                ],
                "hpr_number": "1234567", "organisation_number": "983984339", "basis": "emergency",
                "stated_basis": "Unconscious on admission; allergies needed before surgery"
            }
        }
    ],
    "next_cursor": "bG9nOjEy"
}))]
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
#[schema(example = json!({
    "previous_login_at": "2026-11-27T18:42:10Z",
    "items": [
        {
            "seq": 11, "at": "2026-11-28T13:20:05Z", "actor_kind": "service",
            "actor_id": "dev-service-writer", "action": "access.reported",
            "details": {
                "accessed_at": "2026-11-28T13:02:17Z", "accessed_until": "2026-11-28T13:20:00Z",
                "information_object": "Kjernejournal: legemidler",
                "professional": {"hpr_number": "1234567", "name": "Eva Eksempel", "role": "lege"},
                "organisation": {"number": "983984339", "name": "Eksempel sykehus HF"},
                "basis": "ordinary_care", "changed": false, "calling_system": "Eksempel EPJ",
                "area": "summary_care_record"
            }
        },
        {
            "seq": 12, "at": "2026-11-29T02:47:31Z", "actor_kind": "service",
            "actor_id": "dev-service-clinic", "action": "summary_care_record.block_opened",
            "details": {
                "opening": "block_opened_in_emergency", "area": "summary_care_record",
                "parts": [
                    "critical_information", "medicines", "vaccinations", "hospital_contacts",
                    "own_entries"
                ],
                "hpr_number": "1234567", "organisation_number": "983984339", "basis": "emergency",
                "stated_basis": "Unconscious on admission; allergies needed before surgery"
            }
        }
    ],
    "truncated": false
}))]
pub struct SinceLastLogin {
    /// The previous login, or none when this is the first.
    pub previous_login_at: Option<DateTime<Utc>>,
    /// Entries made by anyone but the citizen themself since then, oldest first (at most 100).
    pub items: Vec<LogEntryBody>,
    /// True when there were more than `items` holds; page the full log for the rest.
    pub truncated: bool,
}

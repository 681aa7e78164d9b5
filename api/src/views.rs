//! Conversions from domain and storage values to the API's bodies (the `openapi` crate).

use domain::consent::{self, ConsentLevel, ConsentStatus, TermsConsent};
use domain::usage_log::ChainedEntry;
use openapi::citizen::{ConsentLevelBody, ConsentStatusBody, ConsentSummary, LogEntryBody};

pub fn level_body(l: ConsentLevel) -> ConsentLevelBody {
    match l {
        ConsentLevel::Basis => ConsentLevelBody::Basis,
        ConsentLevel::BasisPlus => ConsentLevelBody::BasisPlus,
        ConsentLevel::Full => ConsentLevelBody::Full,
    }
}

pub fn level_domain(l: ConsentLevelBody) -> ConsentLevel {
    match l {
        ConsentLevelBody::Basis => ConsentLevel::Basis,
        ConsentLevelBody::BasisPlus => ConsentLevel::BasisPlus,
        ConsentLevelBody::Full => ConsentLevel::Full,
    }
}

pub fn consent_summary(current: Option<&TermsConsent>, terms_in_force: &str) -> ConsentSummary {
    let (status, level) = match consent::status(current, terms_in_force) {
        ConsentStatus::NotAccepted => (ConsentStatusBody::NotAccepted, None),
        ConsentStatus::RenewalRequired { .. } => (ConsentStatusBody::RenewalRequired, None),
        ConsentStatus::Active { level } => (ConsentStatusBody::Active, Some(level_body(level))),
    };
    ConsentSummary {
        status,
        level,
        accepted_version: current.map(|c| c.terms_version.clone()),
        terms_in_force: terms_in_force.to_owned(),
    }
}

pub fn log_entry(e: ChainedEntry) -> LogEntryBody {
    LogEntryBody {
        seq: e.seq,
        at: e.at,
        actor_kind: e.actor_kind.as_str().to_owned(),
        actor_id: e.actor_id,
        action: e.action,
        details: serde_json::from_str(&e.details).unwrap_or(serde_json::Value::Null),
    }
}

//! Conversions from domain and storage values to the API's bodies (the `openapi` crate).

use domain::access_switches::Switch;
use domain::consent::{self, ConsentLevel, ConsentStatus, TermsConsent};
use domain::guardianship::{Milestone, Transition};
use domain::powers_of_attorney::{EndReason, ServiceArea};
use domain::usage_log::ChainedEntry;
use openapi::access_switches::SwitchName;
use openapi::children::{MilestoneBody, UpcomingChange};
use openapi::citizen::{ConsentLevelBody, ConsentStatusBody, ConsentSummary, LogEntryBody};
use openapi::powers_of_attorney::{EndReasonBody, ServiceAreaBody};

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

pub fn area_body(a: ServiceArea) -> ServiceAreaBody {
    match a {
        ServiceArea::Appointments => ServiceAreaBody::Appointments,
        ServiceArea::Prescriptions => ServiceAreaBody::Prescriptions,
        ServiceArea::Vaccinations => ServiceAreaBody::Vaccinations,
        ServiceArea::HealthRegistries => ServiceAreaBody::HealthRegistries,
        ServiceArea::CoPayments => ServiceAreaBody::CoPayments,
        ServiceArea::PatientRecord => ServiceAreaBody::PatientRecord,
        ServiceArea::SummaryCareRecord => ServiceAreaBody::SummaryCareRecord,
        ServiceArea::Communication => ServiceAreaBody::Communication,
    }
}

pub fn area_domain(a: ServiceAreaBody) -> ServiceArea {
    match a {
        ServiceAreaBody::Appointments => ServiceArea::Appointments,
        ServiceAreaBody::Prescriptions => ServiceArea::Prescriptions,
        ServiceAreaBody::Vaccinations => ServiceArea::Vaccinations,
        ServiceAreaBody::HealthRegistries => ServiceArea::HealthRegistries,
        ServiceAreaBody::CoPayments => ServiceArea::CoPayments,
        ServiceAreaBody::PatientRecord => ServiceArea::PatientRecord,
        ServiceAreaBody::SummaryCareRecord => ServiceArea::SummaryCareRecord,
        ServiceAreaBody::Communication => ServiceArea::Communication,
    }
}

pub fn reason_body(r: EndReason) -> EndReasonBody {
    match r {
        EndReason::Declined => EndReasonBody::Declined,
        EndReason::RevokedByGrantor => EndReasonBody::RevokedByGrantor,
        EndReason::RevokedByGrantee => EndReasonBody::RevokedByGrantee,
        EndReason::Expired => EndReasonBody::Expired,
        EndReason::GrantorWithdrewConsent => EndReasonBody::GrantorWithdrewConsent,
        EndReason::GrantorDied => EndReasonBody::GrantorDied,
    }
}

pub fn upcoming_change(t: Transition) -> UpcomingChange {
    UpcomingChange {
        milestone: match t.milestone {
            Milestone::RestrictedAtTwelve => MilestoneBody::RestrictedAt12,
            Milestone::EndsAtSixteen => MilestoneBody::EndsAt16,
        },
        on: t.on,
        at: t.at,
    }
}

pub fn switch_body(s: Switch) -> SwitchName {
    match s {
        Switch::Services => SwitchName::Services,
        Switch::PatientRecord => SwitchName::PatientRecord,
        Switch::SummaryCareRecord => SwitchName::SummaryCareRecord,
    }
}

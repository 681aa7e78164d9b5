//! Consent to use the services (the terms of use), DESIGN §2.2, source 003.
//!
//! Before any logged-in service can be used the citizen accepts the current terms at one of
//! Helsenorge's three levels. The level can be changed; the acceptance can be withdrawn, but only
//! when no power of attorney given or held is still active or pending. A new terms version needs
//! fresh acceptance. Every acceptance, level change and withdrawal is kept as history.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Helsenorge's consent levels, each including the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentLevel {
    /// Basic services: log-in, settings, messages.
    Basis,
    /// Basis plus the patient-record services.
    BasisPlus,
    /// Every service.
    Full,
}

impl ConsentLevel {
    pub const ALL: [ConsentLevel; 3] = [
        ConsentLevel::Basis,
        ConsentLevel::BasisPlus,
        ConsentLevel::Full,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConsentLevel::Basis => "basis",
            ConsentLevel::BasisPlus => "basis_plus",
            ConsentLevel::Full => "full",
        }
    }

    pub fn parse(s: &str) -> Option<ConsentLevel> {
        ConsentLevel::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// The citizen's current acceptance, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermsConsent {
    pub terms_version: String,
    pub level: ConsentLevel,
    pub accepted_at: DateTime<Utc>,
}

/// Where the citizen stands against the terms now in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentStatus {
    /// Never accepted, or withdrawn.
    NotAccepted,
    /// Accepted an older version; must accept the current one before using services.
    RenewalRequired { accepted_version: String },
    /// Accepted the current version.
    Active { level: ConsentLevel },
}

impl ConsentStatus {
    pub fn is_active(&self) -> bool {
        matches!(self, ConsentStatus::Active { .. })
    }
}

pub fn status(current: Option<&TermsConsent>, terms_in_force: &str) -> ConsentStatus {
    match current {
        None => ConsentStatus::NotAccepted,
        Some(c) if c.terms_version == terms_in_force => ConsentStatus::Active { level: c.level },
        Some(c) => ConsentStatus::RenewalRequired {
            accepted_version: c.terms_version.clone(),
        },
    }
}

/// Something that stops a withdrawal: a power of attorney given or held that is not yet ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WithdrawalBlocker {
    /// `"power_of_attorney_given"` or `"power_of_attorney_held"`.
    pub kind: BlockerKind,
    /// The opaque id of the power of attorney.
    pub id: String,
    /// `"active"` or `"pending"`.
    pub state: BlockerState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockerKind {
    PowerOfAttorneyGiven,
    PowerOfAttorneyHeld,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockerState {
    Active,
    Pending,
}

/// A change to the terms consent, to be persisted with its log entry and change-feed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermsChange {
    Accepted {
        terms_version: String,
        level: ConsentLevel,
        at: DateTime<Utc>,
    },
    LevelChanged {
        terms_version: String,
        from: ConsentLevel,
        to: ConsentLevel,
        at: DateTime<Utc>,
    },
    Withdrawn {
        terms_version: String,
        at: DateTime<Utc>,
    },
}

impl TermsChange {
    /// The stable name used in the usage log, the history and the change feed.
    pub fn action(&self) -> &'static str {
        match self {
            TermsChange::Accepted { .. } => "terms.accepted",
            TermsChange::LevelChanged { .. } => "terms.level_changed",
            TermsChange::Withdrawn { .. } => "terms.withdrawn",
        }
    }

    /// The consent in force after the change.
    pub fn resulting_consent(&self) -> Option<TermsConsent> {
        match self {
            TermsChange::Accepted {
                terms_version,
                level,
                at,
            } => Some(TermsConsent {
                terms_version: terms_version.clone(),
                level: *level,
                accepted_at: *at,
            }),
            TermsChange::LevelChanged {
                terms_version,
                to,
                at,
                ..
            } => Some(TermsConsent {
                terms_version: terms_version.clone(),
                level: *to,
                accepted_at: *at,
            }),
            TermsChange::Withdrawn { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConsentError {
    #[error("the terms version accepted is not the one in force")]
    NotCurrentVersion { in_force: String },
    #[error("the terms in force are already accepted at this level")]
    AlreadyAccepted,
    #[error("the terms have not been accepted")]
    NotAccepted,
    #[error("the consent is already at this level")]
    SameLevel,
    #[error("the consent cannot be withdrawn while powers of attorney are in place")]
    WithdrawalBlocked { blockers: Vec<WithdrawalBlocker> },
}

/// Accept the terms in force at `level`. Accepting the version in force at another level than
/// the current one is a level change; accepting again at the same level is refused so that a
/// repeated click does not make a second history entry.
pub fn accept(
    current: Option<&TermsConsent>,
    terms_in_force: &str,
    accepted_version: &str,
    level: ConsentLevel,
    now: DateTime<Utc>,
) -> Result<TermsChange, ConsentError> {
    if accepted_version != terms_in_force {
        return Err(ConsentError::NotCurrentVersion {
            in_force: terms_in_force.to_owned(),
        });
    }
    match current {
        Some(c) if c.terms_version == terms_in_force && c.level == level => {
            Err(ConsentError::AlreadyAccepted)
        }
        Some(c) if c.terms_version == terms_in_force => Ok(TermsChange::LevelChanged {
            terms_version: terms_in_force.to_owned(),
            from: c.level,
            to: level,
            at: now,
        }),
        _ => Ok(TermsChange::Accepted {
            terms_version: terms_in_force.to_owned(),
            level,
            at: now,
        }),
    }
}

/// Change the level of a consent to the terms in force.
pub fn change_level(
    current: Option<&TermsConsent>,
    terms_in_force: &str,
    level: ConsentLevel,
    now: DateTime<Utc>,
) -> Result<TermsChange, ConsentError> {
    match current {
        Some(c) if c.terms_version == terms_in_force => {
            if c.level == level {
                Err(ConsentError::SameLevel)
            } else {
                Ok(TermsChange::LevelChanged {
                    terms_version: terms_in_force.to_owned(),
                    from: c.level,
                    to: level,
                    at: now,
                })
            }
        }
        _ => Err(ConsentError::NotAccepted),
    }
}

/// Withdraw the acceptance. Refused, listing every blocker, while any power of attorney given or
/// held is active or pending (source 003: "you must first delete all powers of attorney and then
/// withdraw your acceptance").
pub fn withdraw(
    current: Option<&TermsConsent>,
    blockers: Vec<WithdrawalBlocker>,
    now: DateTime<Utc>,
) -> Result<TermsChange, ConsentError> {
    let Some(current) = current else {
        return Err(ConsentError::NotAccepted);
    };
    if !blockers.is_empty() {
        return Err(ConsentError::WithdrawalBlocked { blockers });
    }
    Ok(TermsChange::Withdrawn {
        terms_version: current.terms_version.clone(),
        at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
    }

    fn consent(version: &str, level: ConsentLevel) -> TermsConsent {
        TermsConsent {
            terms_version: version.into(),
            level,
            accepted_at: now(),
        }
    }

    #[test]
    fn status_follows_the_version_in_force() {
        assert_eq!(status(None, "2026-1"), ConsentStatus::NotAccepted);
        let c = consent("2026-1", ConsentLevel::Full);
        assert_eq!(
            status(Some(&c), "2026-1"),
            ConsentStatus::Active {
                level: ConsentLevel::Full
            }
        );
        assert_eq!(
            status(Some(&c), "2027-1"),
            ConsentStatus::RenewalRequired {
                accepted_version: "2026-1".into()
            }
        );
    }

    #[test]
    fn first_acceptance_and_renewal_are_acceptances() {
        let change = accept(None, "v2", "v2", ConsentLevel::Basis, now()).unwrap();
        assert_eq!(change.action(), "terms.accepted");
        let old = consent("v1", ConsentLevel::Full);
        let change = accept(Some(&old), "v2", "v2", ConsentLevel::Full, now()).unwrap();
        assert!(matches!(change, TermsChange::Accepted { .. }));
        assert_eq!(change.resulting_consent().unwrap().terms_version, "v2");
    }

    #[test]
    fn accepting_an_old_version_is_refused() {
        assert_eq!(
            accept(None, "v2", "v1", ConsentLevel::Basis, now()),
            Err(ConsentError::NotCurrentVersion {
                in_force: "v2".into()
            })
        );
    }

    #[test]
    fn accepting_twice_at_the_same_level_is_refused_and_another_level_is_a_change() {
        let c = consent("v1", ConsentLevel::Basis);
        assert_eq!(
            accept(Some(&c), "v1", "v1", ConsentLevel::Basis, now()),
            Err(ConsentError::AlreadyAccepted)
        );
        let change = accept(Some(&c), "v1", "v1", ConsentLevel::Full, now()).unwrap();
        assert_eq!(change.action(), "terms.level_changed");
    }

    #[test]
    fn level_change_needs_a_current_acceptance_and_a_different_level() {
        assert_eq!(
            change_level(None, "v1", ConsentLevel::Full, now()),
            Err(ConsentError::NotAccepted)
        );
        let old = consent("v0", ConsentLevel::Basis);
        assert_eq!(
            change_level(Some(&old), "v1", ConsentLevel::Full, now()),
            Err(ConsentError::NotAccepted)
        );
        let c = consent("v1", ConsentLevel::BasisPlus);
        assert_eq!(
            change_level(Some(&c), "v1", ConsentLevel::BasisPlus, now()),
            Err(ConsentError::SameLevel)
        );
        let change = change_level(Some(&c), "v1", ConsentLevel::Basis, now()).unwrap();
        assert_eq!(
            change,
            TermsChange::LevelChanged {
                terms_version: "v1".into(),
                from: ConsentLevel::BasisPlus,
                to: ConsentLevel::Basis,
                at: now()
            }
        );
    }

    #[test]
    fn withdrawal_is_refused_while_powers_of_attorney_remain_and_lists_them() {
        let c = consent("v1", ConsentLevel::Full);
        let blockers = vec![
            WithdrawalBlocker {
                kind: BlockerKind::PowerOfAttorneyGiven,
                id: "poa-1".into(),
                state: BlockerState::Active,
            },
            WithdrawalBlocker {
                kind: BlockerKind::PowerOfAttorneyHeld,
                id: "poa-2".into(),
                state: BlockerState::Pending,
            },
        ];
        assert_eq!(
            withdraw(Some(&c), blockers.clone(), now()),
            Err(ConsentError::WithdrawalBlocked { blockers })
        );
        let change = withdraw(Some(&c), vec![], now()).unwrap();
        assert_eq!(change.action(), "terms.withdrawn");
        assert_eq!(change.resulting_consent(), None);
        assert_eq!(
            withdraw(None, vec![], now()),
            Err(ConsentError::NotAccepted)
        );
    }

    #[test]
    fn levels_round_trip_and_unknown_levels_are_none() {
        for level in ConsentLevel::ALL {
            assert_eq!(ConsentLevel::parse(level.as_str()), Some(level));
        }
        assert_eq!(ConsentLevel::parse("Full"), None);
        assert!(ConsentLevel::Basis < ConsentLevel::BasisPlus);
        assert!(ConsentLevel::BasisPlus < ConsentLevel::Full);
    }
}

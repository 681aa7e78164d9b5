//! Powers of attorney ("fullmakt"), DESIGN §2.5, source 003.
//!
//! A citizen aged 16 or over who has accepted the terms (Basis or higher) grants a person aged 18
//! or over a power of attorney to use services on their behalf: for every service area or for
//! named ones, open-ended or until an end time. The grantee accepts or declines; grantor or
//! grantee ends it at any time; it ends by itself at its end time (valid up to the second before,
//! ended from that instant) and when the grantor dies, computed from (data, now) with no job
//! having to run. A change is an end plus a new grant. Nobody with a protected address (codes 6
//! and 7) can give or receive one, and the refusal never says which side or why.
//!
//! What a grantee reaches is the granted areas that the grantor's own consent level opens
//! ([`effective_areas`]): never more than the grantor has.

use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use thiserror::Error;

use crate::consent::{ConsentLevel, ConsentStatus};
use crate::register::RegisteredPerson;

/// The fixed list of service areas a power of attorney can name. A new service belongs to one of
/// them and is covered by every grant of its area without anyone granting it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceArea {
    /// Appointments and referrals ("timeavtaler og henvisninger").
    Appointments,
    /// Prescriptions and medicines ("resepter og legemidler").
    Prescriptions,
    /// Vaccinations ("vaksiner").
    Vaccinations,
    /// Information in national health registries ("helseregistre").
    HealthRegistries,
    /// Co-payments and the exemption card ("egenandeler og frikort").
    CoPayments,
    /// The patient record from hospitals and GPs ("pasientjournal").
    PatientRecord,
    /// The summary care record ("kjernejournal").
    SummaryCareRecord,
    /// Messages and other contact with the GP and other health services ("kontakt med
    /// helsetjenesten").
    Communication,
}

impl ServiceArea {
    pub const ALL: [ServiceArea; 8] = [
        ServiceArea::Appointments,
        ServiceArea::Prescriptions,
        ServiceArea::Vaccinations,
        ServiceArea::HealthRegistries,
        ServiceArea::CoPayments,
        ServiceArea::PatientRecord,
        ServiceArea::SummaryCareRecord,
        ServiceArea::Communication,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceArea::Appointments => "appointments",
            ServiceArea::Prescriptions => "prescriptions",
            ServiceArea::Vaccinations => "vaccinations",
            ServiceArea::HealthRegistries => "health_registries",
            ServiceArea::CoPayments => "co_payments",
            ServiceArea::PatientRecord => "patient_record",
            ServiceArea::SummaryCareRecord => "summary_care_record",
            ServiceArea::Communication => "communication",
        }
    }

    pub fn parse(s: &str) -> Option<ServiceArea> {
        ServiceArea::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The lowest consent level at which the citizen has the area themself: Basis gives the
    /// registries and self-service areas, Basis+ adds the record services, Full adds
    /// communication with the health services.
    pub fn required_level(self) -> ConsentLevel {
        match self {
            ServiceArea::Appointments
            | ServiceArea::Prescriptions
            | ServiceArea::Vaccinations
            | ServiceArea::HealthRegistries
            | ServiceArea::CoPayments => ConsentLevel::Basis,
            ServiceArea::PatientRecord | ServiceArea::SummaryCareRecord => ConsentLevel::BasisPlus,
            ServiceArea::Communication => ConsentLevel::Full,
        }
    }
}

/// What a power of attorney covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coverage {
    /// Every service area, including areas added later.
    AllAreas,
    /// The named areas (never empty).
    Areas(BTreeSet<ServiceArea>),
}

impl Coverage {
    pub fn covers(&self, area: ServiceArea) -> bool {
        match self {
            Coverage::AllAreas => true,
            Coverage::Areas(areas) => areas.contains(&area),
        }
    }
}

/// The areas a grantee reaches now: those covered that the grantor's consent opens. Nothing when
/// the grantor's consent is not active.
pub fn effective_areas(
    coverage: &Coverage,
    grantor_consent: &ConsentStatus,
) -> BTreeSet<ServiceArea> {
    let ConsentStatus::Active { level } = grantor_consent else {
        return BTreeSet::new();
    };
    ServiceArea::ALL
        .into_iter()
        .filter(|a| coverage.covers(*a) && a.required_level() <= *level)
        .collect()
}

/// Why a power of attorney ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Declined,
    RevokedByGrantor,
    RevokedByGrantee,
    Expired,
    GrantorWithdrewConsent,
    GrantorDied,
}

impl EndReason {
    pub const ALL: [EndReason; 6] = [
        EndReason::Declined,
        EndReason::RevokedByGrantor,
        EndReason::RevokedByGrantee,
        EndReason::Expired,
        EndReason::GrantorWithdrewConsent,
        EndReason::GrantorDied,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Declined => "declined",
            EndReason::RevokedByGrantor => "revoked_by_grantor",
            EndReason::RevokedByGrantee => "revoked_by_grantee",
            EndReason::Expired => "expired",
            EndReason::GrantorWithdrewConsent => "grantor_withdrew_consent",
            EndReason::GrantorDied => "grantor_died",
        }
    }

    pub fn parse(s: &str) -> Option<EndReason> {
        EndReason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A power of attorney as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: String,
    /// Opaque citizen ids.
    pub grantor_id: String,
    pub grantee_id: String,
    pub coverage: Coverage,
    pub created_at: DateTime<Utc>,
    /// The first instant at which it no longer holds; `None` for open-ended.
    pub valid_until: Option<DateTime<Utc>>,
    pub accepted_at: Option<DateTime<Utc>>,
    /// Set when someone ended it (declined, revoked); expiry and death are computed.
    pub ended: Option<(EndReason, DateTime<Utc>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantStatus {
    /// Waiting for the grantee to accept or decline.
    Pending,
    Active,
    Ended(EndReason),
}

impl GrantStatus {
    pub fn is_live(self) -> bool {
        matches!(self, GrantStatus::Pending | GrantStatus::Active)
    }
}

/// The status of `g` at `now`. An explicit end wins; then the grantor's death; then the end time
/// (valid at `valid_until - 1 s`, ended at `valid_until`).
pub fn status(g: &Grant, grantor_alive: bool, now: DateTime<Utc>) -> GrantStatus {
    if let Some((reason, _)) = g.ended {
        return GrantStatus::Ended(reason);
    }
    if !grantor_alive {
        return GrantStatus::Ended(EndReason::GrantorDied);
    }
    if g.valid_until.is_some_and(|end| now >= end) {
        return GrantStatus::Ended(EndReason::Expired);
    }
    if g.accepted_at.is_some() {
        GrantStatus::Active
    } else {
        GrantStatus::Pending
    }
}

/// Why a grant is refused. `CannotBeGranted` deliberately covers several causes (a protected
/// address on either side, a grantee unknown to the register or dead) so that the answer reveals
/// nothing about the other person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum GrantRefusal {
    #[error("a power of attorney cannot be given to oneself")]
    SelfGrant,
    #[error("a power of attorney can be given from the age of 16")]
    GrantorUnder16,
    #[error("accept the terms of use (Basis or higher) before giving a power of attorney")]
    GrantorWithoutConsent,
    #[error("this power of attorney cannot be granted")]
    CannotBeGranted,
    #[error("a power of attorney can be given only to a person aged 18 or over")]
    GranteeUnder18,
    #[error("name at least one service area, or all")]
    NoAreas,
    #[error("the end time must be in the future")]
    EndNotInFuture,
    #[error("the same power of attorney is already in place")]
    Duplicate,
}

/// The parties of a proposed grant, as the register and the portal know them.
pub struct GrantRequest<'a> {
    pub grantor: &'a RegisteredPerson,
    pub grantor_consent: &'a ConsentStatus,
    /// `None` when the register does not know the grantee.
    pub grantee: Option<&'a RegisteredPerson>,
    pub same_person: bool,
    pub coverage: &'a Coverage,
    pub valid_until: Option<DateTime<Utc>>,
    /// The grantor's grants to the same grantee that are still pending or active.
    pub live_to_same_grantee: &'a [Grant],
}

/// Decides whether a grant may be made now. The checks run in an order that never lets a later,
/// more specific answer reveal something an earlier opaque one hides.
pub fn check_grant(r: &GrantRequest<'_>, now: DateTime<Utc>) -> Result<(), GrantRefusal> {
    if r.same_person {
        return Err(GrantRefusal::SelfGrant);
    }
    if r.grantor.age_at(now) < 16 {
        return Err(GrantRefusal::GrantorUnder16);
    }
    if !r.grantor_consent.is_active() {
        return Err(GrantRefusal::GrantorWithoutConsent);
    }
    if r.grantor.has_protected_address() {
        return Err(GrantRefusal::CannotBeGranted);
    }
    let Some(grantee) = r.grantee else {
        return Err(GrantRefusal::CannotBeGranted);
    };
    if !grantee.is_alive_at(now) || grantee.has_protected_address() {
        return Err(GrantRefusal::CannotBeGranted);
    }
    if grantee.age_at(now) < 18 {
        return Err(GrantRefusal::GranteeUnder18);
    }
    if matches!(r.coverage, Coverage::Areas(a) if a.is_empty()) {
        return Err(GrantRefusal::NoAreas);
    }
    if r.valid_until.is_some_and(|end| end <= now) {
        return Err(GrantRefusal::EndNotInFuture);
    }
    let identical = r
        .live_to_same_grantee
        .iter()
        .any(|g| &g.coverage == r.coverage && g.valid_until == r.valid_until);
    if identical {
        return Err(GrantRefusal::Duplicate);
    }
    Ok(())
}

/// Who is acting on a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Grantor,
    Grantee,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum LifecycleError {
    #[error("only the grantee can accept or decline")]
    NotTheGrantee,
    #[error("the power of attorney is not waiting for an answer")]
    NotPending,
    #[error("the power of attorney has already ended")]
    AlreadyEnded,
}

/// What a lifecycle step changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Accepted {
        at: DateTime<Utc>,
    },
    Ended {
        reason: EndReason,
        at: DateTime<Utc>,
    },
}

impl Transition {
    /// The stable action name for the usage log and the change feed.
    pub fn action(&self) -> &'static str {
        match self {
            Transition::Accepted { .. } => "power_of_attorney.accepted",
            Transition::Ended {
                reason: EndReason::Declined,
                ..
            } => "power_of_attorney.declined",
            Transition::Ended { .. } => "power_of_attorney.ended",
        }
    }
}

/// The grantee accepts a pending grant.
pub fn accept(
    g: &Grant,
    by: Party,
    grantor_alive: bool,
    now: DateTime<Utc>,
) -> Result<Transition, LifecycleError> {
    if by != Party::Grantee {
        return Err(LifecycleError::NotTheGrantee);
    }
    match status(g, grantor_alive, now) {
        GrantStatus::Pending => Ok(Transition::Accepted { at: now }),
        GrantStatus::Active => Err(LifecycleError::NotPending),
        GrantStatus::Ended(_) => Err(LifecycleError::AlreadyEnded),
    }
}

/// The grantee declines a pending grant.
pub fn decline(
    g: &Grant,
    by: Party,
    grantor_alive: bool,
    now: DateTime<Utc>,
) -> Result<Transition, LifecycleError> {
    if by != Party::Grantee {
        return Err(LifecycleError::NotTheGrantee);
    }
    match status(g, grantor_alive, now) {
        GrantStatus::Pending => Ok(Transition::Ended {
            reason: EndReason::Declined,
            at: now,
        }),
        GrantStatus::Active => Err(LifecycleError::NotPending),
        GrantStatus::Ended(_) => Err(LifecycleError::AlreadyEnded),
    }
}

/// Grantor or grantee ends a pending or active grant.
pub fn revoke(
    g: &Grant,
    by: Party,
    grantor_alive: bool,
    now: DateTime<Utc>,
) -> Result<Transition, LifecycleError> {
    if !status(g, grantor_alive, now).is_live() {
        return Err(LifecycleError::AlreadyEnded);
    }
    let reason = match by {
        Party::Grantor => EndReason::RevokedByGrantor,
        Party::Grantee => EndReason::RevokedByGrantee,
    };
    Ok(Transition::Ended { reason, at: now })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, NaiveDate, TimeZone};

    fn person(birth: (i32, u32, u32)) -> RegisteredPerson {
        RegisteredPerson {
            given_name: "A".into(),
            family_name: "B".into(),
            birth_date: NaiveDate::from_ymd_opt(birth.0, birth.1, birth.2).unwrap(),
            address_id: Some("adr".into()),
            protection: None,
            deceased_on: None,
        }
    }

    /// 00:00 on `date` in Oslo (winter time, UTC+1).
    fn oslo_midnight(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap() - Duration::hours(1)
    }

    const ACTIVE: ConsentStatus = ConsentStatus::Active {
        level: ConsentLevel::Basis,
    };

    fn request<'a>(
        grantor: &'a RegisteredPerson,
        grantee: Option<&'a RegisteredPerson>,
        coverage: &'a Coverage,
    ) -> GrantRequest<'a> {
        GrantRequest {
            grantor,
            grantor_consent: &ACTIVE,
            grantee,
            same_person: false,
            coverage,
            valid_until: None,
            live_to_same_grantee: &[],
        }
    }

    #[test]
    fn the_grantor_may_grant_from_the_16th_birthday_in_oslo() {
        let grantor = person((2010, 12, 1));
        let grantee = person((1980, 1, 1));
        let all = Coverage::AllAreas;
        let r = request(&grantor, Some(&grantee), &all);
        let birthday = oslo_midnight(2026, 12, 1);
        assert_eq!(
            check_grant(&r, birthday - Duration::seconds(1)),
            Err(GrantRefusal::GrantorUnder16),
            "the last second of the day before"
        );
        assert_eq!(
            check_grant(&r, birthday),
            Ok(()),
            "the first second of the birthday"
        );
    }

    #[test]
    fn the_grantee_must_be_18_on_the_day() {
        let grantor = person((1980, 1, 1));
        let grantee = person((2008, 12, 1));
        let all = Coverage::AllAreas;
        let r = request(&grantor, Some(&grantee), &all);
        let birthday = oslo_midnight(2026, 12, 1);
        assert_eq!(
            check_grant(&r, birthday - Duration::seconds(1)),
            Err(GrantRefusal::GranteeUnder18)
        );
        assert_eq!(check_grant(&r, birthday), Ok(()));
    }

    #[test]
    fn protected_addresses_unknown_and_dead_grantees_all_get_the_same_opaque_answer() {
        let now = oslo_midnight(2026, 11, 23);
        let adult = person((1980, 1, 1));
        let mut protected = person((1980, 1, 1));
        protected.protection = Some(crate::register::AddressProtection::StrictlyConfidential);
        let mut dead = person((1940, 1, 1));
        dead.deceased_on = NaiveDate::from_ymd_opt(2025, 6, 17);
        let all = Coverage::AllAreas;
        for (grantor, grantee) in [
            (&protected, Some(&adult)),
            (&adult, Some(&protected)),
            (&adult, None),
            (&adult, Some(&dead)),
        ] {
            assert_eq!(
                check_grant(&request(grantor, grantee, &all), now),
                Err(GrantRefusal::CannotBeGranted)
            );
        }
        // A protected grantee under 18 still gets the opaque answer, never the age.
        let mut young_protected = person((2012, 1, 1));
        young_protected.protection = Some(crate::register::AddressProtection::Confidential);
        assert_eq!(
            check_grant(&request(&adult, Some(&young_protected), &all), now),
            Err(GrantRefusal::CannotBeGranted)
        );
    }

    #[test]
    fn self_grants_missing_consent_empty_areas_past_ends_and_duplicates_are_refused() {
        let now = oslo_midnight(2026, 11, 23);
        let a = person((1980, 1, 1));
        let b = person((1985, 1, 1));
        let all = Coverage::AllAreas;
        let mut r = request(&a, Some(&b), &all);
        r.same_person = true;
        assert_eq!(check_grant(&r, now), Err(GrantRefusal::SelfGrant));

        let not_accepted = ConsentStatus::NotAccepted;
        let mut r = request(&a, Some(&b), &all);
        r.grantor_consent = &not_accepted;
        assert_eq!(
            check_grant(&r, now),
            Err(GrantRefusal::GrantorWithoutConsent)
        );

        let none = Coverage::Areas(BTreeSet::new());
        assert_eq!(
            check_grant(&request(&a, Some(&b), &none), now),
            Err(GrantRefusal::NoAreas)
        );

        let mut r = request(&a, Some(&b), &all);
        r.valid_until = Some(now);
        assert_eq!(check_grant(&r, now), Err(GrantRefusal::EndNotInFuture));
        r.valid_until = Some(now + Duration::seconds(1));
        assert_eq!(check_grant(&r, now), Ok(()));

        let existing = grant(None);
        let live = [existing.clone()];
        let mut r = request(&a, Some(&b), &all);
        r.live_to_same_grantee = &live;
        assert_eq!(check_grant(&r, now), Err(GrantRefusal::Duplicate));
        // Another end time is another power of attorney.
        r.valid_until = Some(now + Duration::days(30));
        assert_eq!(check_grant(&r, now), Ok(()));
    }

    fn grant(valid_until: Option<DateTime<Utc>>) -> Grant {
        Grant {
            id: "poa-1".into(),
            grantor_id: "a".into(),
            grantee_id: "b".into(),
            coverage: Coverage::AllAreas,
            created_at: oslo_midnight(2026, 11, 1),
            valid_until,
            accepted_at: None,
            ended: None,
        }
    }

    #[test]
    fn it_holds_until_the_second_before_its_end_and_not_at_the_end() {
        let end = Utc.with_ymd_and_hms(2026, 12, 31, 12, 0, 0).unwrap();
        let mut g = grant(Some(end));
        g.accepted_at = Some(oslo_midnight(2026, 11, 2));
        assert_eq!(
            status(&g, true, end - Duration::seconds(1)),
            GrantStatus::Active
        );
        assert_eq!(
            status(&g, true, end),
            GrantStatus::Ended(EndReason::Expired)
        );
        // A pending grant expires too.
        let p = grant(Some(end));
        assert_eq!(
            status(&p, true, end),
            GrantStatus::Ended(EndReason::Expired)
        );
    }

    #[test]
    fn it_ends_when_the_grantor_dies_and_an_explicit_end_wins() {
        let now = oslo_midnight(2026, 11, 23);
        let mut g = grant(None);
        g.accepted_at = Some(now);
        assert_eq!(
            status(&g, false, now),
            GrantStatus::Ended(EndReason::GrantorDied)
        );
        g.ended = Some((EndReason::RevokedByGrantee, now));
        assert_eq!(
            status(&g, false, now),
            GrantStatus::Ended(EndReason::RevokedByGrantee)
        );
    }

    #[test]
    fn the_grantee_accepts_or_declines_a_pending_grant_only() {
        let now = oslo_midnight(2026, 11, 23);
        let g = grant(None);
        assert_eq!(
            accept(&g, Party::Grantor, true, now),
            Err(LifecycleError::NotTheGrantee)
        );
        assert_eq!(
            decline(&g, Party::Grantor, true, now),
            Err(LifecycleError::NotTheGrantee)
        );
        assert_eq!(
            accept(&g, Party::Grantee, true, now),
            Ok(Transition::Accepted { at: now })
        );
        assert_eq!(
            decline(&g, Party::Grantee, true, now).map(|t| t.action()),
            Ok("power_of_attorney.declined")
        );
        let mut active = g.clone();
        active.accepted_at = Some(now);
        assert_eq!(
            accept(&active, Party::Grantee, true, now),
            Err(LifecycleError::NotPending)
        );
        assert_eq!(
            decline(&active, Party::Grantee, true, now),
            Err(LifecycleError::NotPending)
        );
        let ended = grant(Some(now));
        assert_eq!(
            accept(&ended, Party::Grantee, true, now),
            Err(LifecycleError::AlreadyEnded)
        );
    }

    #[test]
    fn either_side_revokes_until_it_has_ended() {
        let now = oslo_midnight(2026, 11, 23);
        let g = grant(None);
        assert_eq!(
            revoke(&g, Party::Grantor, true, now),
            Ok(Transition::Ended {
                reason: EndReason::RevokedByGrantor,
                at: now
            })
        );
        assert_eq!(
            revoke(&g, Party::Grantee, true, now),
            Ok(Transition::Ended {
                reason: EndReason::RevokedByGrantee,
                at: now
            })
        );
        let mut ended = g.clone();
        ended.ended = Some((EndReason::Declined, now));
        assert_eq!(
            revoke(&ended, Party::Grantor, true, now),
            Err(LifecycleError::AlreadyEnded)
        );
        assert_eq!(
            revoke(&g, Party::Grantor, false, now),
            Err(LifecycleError::AlreadyEnded)
        );
    }

    #[test]
    fn a_grantee_never_reaches_more_than_the_grantor_has() {
        let all = Coverage::AllAreas;
        let basis = ConsentStatus::Active {
            level: ConsentLevel::Basis,
        };
        let areas = effective_areas(&all, &basis);
        assert!(areas.contains(&ServiceArea::Prescriptions));
        assert!(!areas.contains(&ServiceArea::PatientRecord));
        assert!(!areas.contains(&ServiceArea::Communication));
        let full = ConsentStatus::Active {
            level: ConsentLevel::Full,
        };
        assert_eq!(effective_areas(&all, &full).len(), ServiceArea::ALL.len());
        let named = Coverage::Areas([ServiceArea::PatientRecord].into_iter().collect());
        assert!(effective_areas(&named, &basis).is_empty());
        assert!(effective_areas(&all, &ConsentStatus::NotAccepted).is_empty());
    }

    #[test]
    fn names_round_trip() {
        for a in ServiceArea::ALL {
            assert_eq!(ServiceArea::parse(a.as_str()), Some(a));
        }
        for r in EndReason::ALL {
            assert_eq!(EndReason::parse(r.as_str()), Some(r));
        }
        assert_eq!(ServiceArea::parse("everything"), None);
    }
}

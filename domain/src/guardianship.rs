//! Children and guardians, DESIGN §2.6; sources 000 ("Parents can consent for children under
//! 16"), 002 §5 and 004 §4.2.2 ("Pårørende og foreldres rett til innsyn").
//!
//! Everything is computed from (register data, registered restrictions, switches, now), so the
//! 12th and 16th birthdays take effect at 00:00 Europe/Oslo with no job having to run, and a
//! register import or a new restriction takes effect on the next request.
//!
//! - Under 12: everyone with parental responsibility may act for the child, provided at least one
//!   of them is registered at the child's address.
//! - From the 12th birthday: restricted to [`RESTRICTED_AREAS`], what guardians need to exercise
//!   parental responsibility. The summary care record is never shown to guardians digitally.
//! - 12 to 16: health personnel may register the child's refusal, for the whole or for named
//!   areas; it hides the covered data and usage-log entries from every guardian at once.
//! - At any age under 16: health personnel may register a denial on weighty reasons, for one
//!   guardian or for all. The guardian sees only that access is not available, never why
//!   ([`GuardianAccess::Unavailable`] carries the reason for the portal's own use; the API shows
//!   every unavailable case alike).
//! - On the 16th birthday guardian access ends ([`GuardianAccess::Ended`]). The 16-year-old may
//!   then grant a parent a power of attorney (`powers_of_attorney::check_grant`).
//!
//! A child with a protected address (codes 6 and 7) is not represented digitally: the portal
//! would otherwise show a guardian data that can reveal where the child lives. This mirrors the
//! rule for powers of attorney (DESIGN §2.5).

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use std::collections::BTreeSet;
use thiserror::Error;

use crate::access_switches::AccessSwitches;
use crate::clock::{oslo_date, oslo_midnight};
use crate::consent::ConsentStatus;
use crate::powers_of_attorney::ServiceArea;
use crate::register::{age_on, RegisteredPerson};

/// From this birthday guardians' access is restricted and a child's refusal can be registered.
pub const RESTRICTION_AGE: u32 = 12;
/// On this birthday guardian access ends.
pub const END_AGE: u32 = 16;
/// How many Oslo calendar days before the 12th and 16th birthdays the change is announced.
pub const NOTICE_DAYS: i64 = 30;

/// What guardians reach for a child aged 12 to 16: what they need to exercise parental
/// responsibility, and nothing that tells them about the child's health.
/// - appointments and referrals: parents bring the child, and are called in;
/// - vaccinations: the childhood programme needs the parents' consent under 16 (source 000);
/// - co-payments and the exemption card: parents pay.
///
/// Not: prescriptions (contraception is the textbook case of what a 12-year-old may keep from
/// their parents, 004 §4.2.2), the patient record, health registries, communication with the
/// health services, and never the summary care record.
pub const RESTRICTED_AREAS: [ServiceArea; 3] = [
    ServiceArea::Appointments,
    ServiceArea::Vaccinations,
    ServiceArea::CoPayments,
];

/// Which of the two regimes applies to a child under 16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgeBand {
    /// Under 12: guardians reach every area.
    UnderTwelve,
    /// 12 to 16: guardians reach [`RESTRICTED_AREAS`], less what the child has refused.
    TwelveToSixteen,
}

impl AgeBand {
    pub fn as_str(self) -> &'static str {
        match self {
            AgeBand::UnderTwelve => "under_12",
            AgeBand::TwelveToSixteen => "12_to_16",
        }
    }

    /// The areas of this band before refusals, switches and consent.
    pub fn areas(self) -> BTreeSet<ServiceArea> {
        match self {
            AgeBand::UnderTwelve => ServiceArea::ALL.into_iter().collect(),
            AgeBand::TwelveToSixteen => RESTRICTED_AREAS.into_iter().collect(),
        }
    }
}

/// The band of a child born on `birth` at `now`; `None` from the 16th birthday.
pub fn age_band(birth: NaiveDate, now: DateTime<Utc>) -> Option<AgeBand> {
    match age_on(birth, oslo_date(now)) {
        a if a < RESTRICTION_AGE => Some(AgeBand::UnderTwelve),
        a if a < END_AGE => Some(AgeBand::TwelveToSixteen),
        _ => None,
    }
}

/// The date of the `years`th birthday: the same day and month, or 1 March for someone born on
/// 29 February in a year without one (as [`age_on`] counts it).
pub fn birthday(birth: NaiveDate, years: u32) -> NaiveDate {
    let year = birth
        .year()
        .saturating_add(i32::try_from(years).unwrap_or(i32::MAX));
    NaiveDate::from_ymd_opt(year, birth.month(), birth.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, 3, 1))
        .unwrap_or(NaiveDate::MAX)
}

/// A change to guardians' access that comes with a birthday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Milestone {
    /// The 12th birthday: access is restricted.
    RestrictedAtTwelve,
    /// The 16th birthday: access ends.
    EndsAtSixteen,
}

impl Milestone {
    pub fn as_str(self) -> &'static str {
        match self {
            Milestone::RestrictedAtTwelve => "restricted_at_12",
            Milestone::EndsAtSixteen => "ends_at_16",
        }
    }
}

/// The next change, and when: `on` the birthday, from `at` (its 00:00 Europe/Oslo).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub milestone: Milestone,
    pub on: NaiveDate,
    pub at: DateTime<Utc>,
}

/// The next transition of a child born on `birth`, after `now`; `None` from the 16th birthday.
pub fn next_transition(birth: NaiveDate, now: DateTime<Utc>) -> Option<Transition> {
    let (milestone, years) = match age_band(birth, now)? {
        AgeBand::UnderTwelve => (Milestone::RestrictedAtTwelve, RESTRICTION_AGE),
        AgeBand::TwelveToSixteen => (Milestone::EndsAtSixteen, END_AGE),
    };
    let on = birthday(birth, years);
    Some(Transition {
        milestone,
        on,
        at: oslo_midnight(on),
    })
}

/// The transition to announce now: the next one, when it is at most [`NOTICE_DAYS`] Oslo
/// calendar days away (from `on - NOTICE_DAYS` up to the day before `on`).
pub fn notice_due(birth: NaiveDate, now: DateTime<Utc>) -> Option<Transition> {
    let next = next_transition(birth, now)?;
    (oslo_date(now) >= next.on - Duration::days(NOTICE_DAYS)).then_some(next)
}

/// What a refusal covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusalScope {
    /// Everything about the child.
    Whole,
    /// The named areas (never empty).
    Areas(BTreeSet<ServiceArea>),
}

/// A restriction registered by health personnel and not lifted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restriction {
    /// The child's refusal (12 to 16): hides `scope` from every guardian.
    Refusal(RefusalScope),
    /// Weighty reasons: removes the access of the guardian with this portal id, or (`None`) of
    /// every guardian.
    Denial { guardian_id: Option<String> },
}

/// Someone with parental responsibility for the child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parent {
    /// Their portal id, when they have one (restrictions name guardians by it).
    pub citizen_id: Option<String>,
    /// What the register says of them; `None` when it holds the relation but not the person.
    pub person: Option<RegisteredPerson>,
}

/// Everything the rules read about one child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildFacts {
    pub child: RegisteredPerson,
    /// Everyone with parental responsibility, as the register has them.
    pub parents: Vec<Parent>,
    /// Registered restrictions not lifted.
    pub restrictions: Vec<Restriction>,
    /// The child's digital access switches.
    pub switches: AccessSwitches,
}

/// Why access is not available now. Never shown to the guardian (DESIGN §2.6: "the guardian is
/// never told why"); kept for the portal's tests and security log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// No one with parental responsibility is registered at the child's address.
    NoGuardianAtChildsAddress,
    /// The child has a protected address (codes 6 and 7).
    ProtectedAddress,
    /// Denied on weighty reasons.
    WeightyReasons,
}

/// What a guardian reaches for a child now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub band: AgeBand,
    /// The areas the guardian may use now: the band's, less refusals, the child's switches and
    /// what the guardian's own consent does not open.
    pub areas: BTreeSet<ServiceArea>,
    /// The areas whose usage-log entries the guardian may see: the band's, less refusals.
    pub log_areas: BTreeSet<ServiceArea>,
    /// A refusal of the whole is registered.
    pub whole_refused: bool,
    /// The next birthday change.
    pub next: Option<Transition>,
}

impl Access {
    /// Whether the guardian may see a usage-log entry of the child: never a restriction entry
    /// ([`is_hidden_from_guardians`]); an entry about an area when the area's log is visible; an
    /// entry about no area (log-ins, settings) under 12 unless the whole is refused, and from 12
    /// only when a guardian made it.
    pub fn sees_log_entry(
        &self,
        action: &str,
        area: Option<ServiceArea>,
        by_guardian: bool,
    ) -> bool {
        if is_hidden_from_guardians(action) {
            return false;
        }
        match area {
            Some(a) => self.log_areas.contains(&a),
            None => by_guardian || (self.band == AgeBand::UnderTwelve && !self.whole_refused),
        }
    }
}

/// Whether guardians are ever shown a log entry of this action: restrictions registered by health
/// personnel are the child's alone.
pub fn is_hidden_from_guardians(action: &str) -> bool {
    action.starts_with("child_restriction.")
}

/// The answer for one guardian and one child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardianAccess {
    /// The asker has no parental responsibility for the child (or the child is unknown).
    NotGuardian,
    /// The child is 16 or over, or dead: guardian access has ended.
    Ended,
    /// Not available now, for a reason the guardian is not told.
    Unavailable(Unavailable),
    Available(Access),
}

/// What guardian `guardian_id`, whose own consent is `guardian_consent`, reaches for the child at
/// `now`.
pub fn guardian_access(
    facts: &ChildFacts,
    guardian_id: &str,
    guardian_consent: &ConsentStatus,
    now: DateTime<Utc>,
) -> GuardianAccess {
    let is_parent = facts
        .parents
        .iter()
        .any(|p| p.citizen_id.as_deref() == Some(guardian_id));
    if !is_parent {
        return GuardianAccess::NotGuardian;
    }
    if !facts.child.is_alive_at(now) {
        return GuardianAccess::Ended;
    }
    let Some(band) = age_band(facts.child.birth_date, now) else {
        return GuardianAccess::Ended;
    };
    if facts.child.has_protected_address() {
        return GuardianAccess::Unavailable(Unavailable::ProtectedAddress);
    }
    let denied = facts.restrictions.iter().any(|r| match r {
        Restriction::Denial { guardian_id: None } => true,
        Restriction::Denial {
            guardian_id: Some(g),
        } => g == guardian_id,
        Restriction::Refusal(_) => false,
    });
    if denied {
        return GuardianAccess::Unavailable(Unavailable::WeightyReasons);
    }
    if !someone_lives_with(&facts.child, &facts.parents) {
        return GuardianAccess::Unavailable(Unavailable::NoGuardianAtChildsAddress);
    }
    let mut whole_refused = false;
    let mut refused: BTreeSet<ServiceArea> = BTreeSet::new();
    for r in &facts.restrictions {
        match r {
            Restriction::Refusal(RefusalScope::Whole) => whole_refused = true,
            Restriction::Refusal(RefusalScope::Areas(areas)) => refused.extend(areas),
            Restriction::Denial { .. } => {}
        }
    }
    let log_areas: BTreeSet<ServiceArea> = if whole_refused {
        BTreeSet::new()
    } else {
        band.areas()
            .into_iter()
            .filter(|a| !refused.contains(a))
            .collect()
    };
    // Parents consent for a child under 16 (source 000): the guardian's own consent level stands
    // where the child's would, as the grantor's does for a power of attorney.
    let areas = match guardian_consent {
        ConsentStatus::Active { level } => facts
            .switches
            .limit(log_areas.clone())
            .into_iter()
            .filter(|a| a.required_level() <= *level)
            .collect(),
        _ => BTreeSet::new(),
    };
    GuardianAccess::Available(Access {
        band,
        areas,
        log_areas,
        whole_refused,
        next: next_transition(facts.child.birth_date, now),
    })
}

fn someone_lives_with(child: &RegisteredPerson, parents: &[Parent]) -> bool {
    let Some(home) = &child.address_id else {
        return false;
    };
    parents
        .iter()
        .filter_map(|p| p.person.as_ref())
        .any(|p| p.address_id.as_ref() == Some(home))
}

/// Why health personnel cannot register a restriction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RestrictionRefused {
    #[error("a child's refusal can be registered from the 12th birthday")]
    UnderTwelve,
    #[error("guardian access ends on the 16th birthday; there is nothing to restrict")]
    SixteenOrOver,
    #[error("the register does not show the named guardian with parental responsibility")]
    NotAGuardian,
    #[error("the child is dead")]
    ChildDead,
}

/// Whether a child's refusal can be registered at `now`: only from 12 to 16.
pub fn check_refusal(
    child: &RegisteredPerson,
    now: DateTime<Utc>,
) -> Result<(), RestrictionRefused> {
    if !child.is_alive_at(now) {
        return Err(RestrictionRefused::ChildDead);
    }
    match age_band(child.birth_date, now) {
        Some(AgeBand::TwelveToSixteen) => Ok(()),
        Some(AgeBand::UnderTwelve) => Err(RestrictionRefused::UnderTwelve),
        None => Err(RestrictionRefused::SixteenOrOver),
    }
}

/// Whether a denial on weighty reasons can be registered at `now`: at any age under 16, naming
/// (when it names one) someone with parental responsibility.
pub fn check_denial(
    child: &RegisteredPerson,
    names_a_parent: Option<bool>,
    now: DateTime<Utc>,
) -> Result<(), RestrictionRefused> {
    if !child.is_alive_at(now) {
        return Err(RestrictionRefused::ChildDead);
    }
    if age_band(child.birth_date, now).is_none() {
        return Err(RestrictionRefused::SixteenOrOver);
    }
    if names_a_parent == Some(false) {
        return Err(RestrictionRefused::NotAGuardian);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::ConsentLevel;
    use chrono::TimeZone;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn person(birth: NaiveDate, address: &str) -> RegisteredPerson {
        RegisteredPerson {
            given_name: "A".into(),
            family_name: "B".into(),
            birth_date: birth,
            address_id: Some(address.into()),
            protection: None,
            deceased_on: None,
        }
    }

    /// A child born on `birth` at adr-1; parent "kari" lives there, "ola" elsewhere.
    fn family(birth: NaiveDate) -> ChildFacts {
        ChildFacts {
            child: person(birth, "adr-1"),
            parents: vec![
                Parent {
                    citizen_id: Some("kari".into()),
                    person: Some(person(d(1980, 1, 1), "adr-1")),
                },
                Parent {
                    citizen_id: Some("ola".into()),
                    person: Some(person(d(1980, 1, 1), "adr-2")),
                },
            ],
            restrictions: vec![],
            switches: AccessSwitches::default(),
        }
    }

    const FULL: ConsentStatus = ConsentStatus::Active {
        level: ConsentLevel::Full,
    };

    /// 00:00 Europe/Oslo on the date (UTC+1 in winter).
    fn oslo(y: i32, m: u32, day: u32) -> DateTime<Utc> {
        oslo_midnight(d(y, m, day))
    }

    fn available(a: GuardianAccess) -> Access {
        match a {
            GuardianAccess::Available(a) => a,
            other => panic!("expected access, got {other:?}"),
        }
    }

    // Jakob: born 2014-12-16, turns 12 on 2026-12-16.
    const JAKOB: (i32, u32, u32) = (2014, 12, 16);

    #[test]
    fn under_twelve_every_area_until_the_last_second_before_the_birthday() {
        let f = family(d(JAKOB.0, JAKOB.1, JAKOB.2));
        let last_second = oslo(2026, 12, 16) - Duration::seconds(1);
        let a = available(guardian_access(&f, "kari", &FULL, last_second));
        assert_eq!(a.band, AgeBand::UnderTwelve);
        assert_eq!(a.areas.len(), ServiceArea::ALL.len());
        assert!(a.areas.contains(&ServiceArea::SummaryCareRecord));
        // The day before, at midnight.
        let a = available(guardian_access(&f, "kari", &FULL, oslo(2026, 12, 15)));
        assert_eq!(a.band, AgeBand::UnderTwelve);
    }

    #[test]
    fn restricted_from_midnight_in_oslo_on_the_twelfth_birthday() {
        let f = family(d(JAKOB.0, JAKOB.1, JAKOB.2));
        let a = available(guardian_access(&f, "kari", &FULL, oslo(2026, 12, 16)));
        assert_eq!(a.band, AgeBand::TwelveToSixteen);
        assert_eq!(a.areas, RESTRICTED_AREAS.into_iter().collect());
        assert!(!a.areas.contains(&ServiceArea::SummaryCareRecord));
        assert!(!a.areas.contains(&ServiceArea::PatientRecord));
        // 23:00 UTC on the 15th is already the 16th in Oslo.
        let utc_evening = Utc.with_ymd_and_hms(2026, 12, 15, 23, 0, 0).unwrap();
        assert_eq!(utc_evening, oslo(2026, 12, 16));
    }

    #[test]
    fn access_ends_on_the_sixteenth_birthday_with_no_job() {
        // Ella: born 2010-12-09, turns 16 on 2026-12-09.
        let f = family(d(2010, 12, 9));
        let last_second = oslo(2026, 12, 9) - Duration::seconds(1);
        let a = available(guardian_access(&f, "kari", &FULL, last_second));
        assert_eq!(a.band, AgeBand::TwelveToSixteen);
        assert_eq!(
            guardian_access(&f, "kari", &FULL, oslo(2026, 12, 9)),
            GuardianAccess::Ended
        );
        assert_eq!(
            guardian_access(&f, "ola", &FULL, oslo(2026, 12, 9)),
            GuardianAccess::Ended
        );
    }

    #[test]
    fn a_summer_birthday_starts_at_22_utc() {
        // Lukas-like: born 2012-06-03; turns 16 on 2028-06-03, 00:00 CEST = 22:00 UTC on the 2nd.
        let f = family(d(2012, 6, 3));
        let before = Utc.with_ymd_and_hms(2028, 6, 2, 21, 59, 59).unwrap();
        let at = Utc.with_ymd_and_hms(2028, 6, 2, 22, 0, 0).unwrap();
        assert!(matches!(
            guardian_access(&f, "kari", &FULL, before),
            GuardianAccess::Available(_)
        ));
        assert_eq!(
            guardian_access(&f, "kari", &FULL, at),
            GuardianAccess::Ended
        );
    }

    #[test]
    fn every_parent_may_act_when_one_lives_with_the_child() {
        let f = family(d(2021, 4, 9));
        let now = oslo(2026, 11, 23);
        assert!(matches!(
            guardian_access(&f, "ola", &FULL, now),
            GuardianAccess::Available(_)
        ));
    }

    #[test]
    fn nobody_may_act_when_no_parent_lives_with_the_child() {
        let mut f = family(d(2021, 4, 9));
        f.child.address_id = Some("adr-9".into());
        let now = oslo(2026, 11, 23);
        for g in ["kari", "ola"] {
            assert_eq!(
                guardian_access(&f, g, &FULL, now),
                GuardianAccess::Unavailable(Unavailable::NoGuardianAtChildsAddress)
            );
        }
        f.child.address_id = None;
        assert_eq!(
            guardian_access(&f, "kari", &FULL, now),
            GuardianAccess::Unavailable(Unavailable::NoGuardianAtChildsAddress)
        );
    }

    #[test]
    fn a_parent_unknown_to_the_register_does_not_count_as_living_there() {
        let mut f = family(d(2021, 4, 9));
        f.parents[0].person = None;
        assert_eq!(
            guardian_access(&f, "ola", &FULL, oslo(2026, 11, 23)),
            GuardianAccess::Unavailable(Unavailable::NoGuardianAtChildsAddress)
        );
    }

    #[test]
    fn someone_without_parental_responsibility_is_not_a_guardian() {
        let f = family(d(2021, 4, 9));
        assert_eq!(
            guardian_access(&f, "astrid", &FULL, oslo(2026, 11, 23)),
            GuardianAccess::NotGuardian
        );
    }

    #[test]
    fn a_protected_address_makes_access_unavailable() {
        let mut f = family(d(2021, 4, 9));
        f.child.protection = Some(crate::register::AddressProtection::Confidential);
        assert_eq!(
            guardian_access(&f, "kari", &FULL, oslo(2026, 11, 23)),
            GuardianAccess::Unavailable(Unavailable::ProtectedAddress)
        );
    }

    #[test]
    fn a_dead_child_ends_access() {
        let mut f = family(d(2021, 4, 9));
        f.child.deceased_on = Some(d(2026, 1, 1));
        assert_eq!(
            guardian_access(&f, "kari", &FULL, oslo(2026, 11, 23)),
            GuardianAccess::Ended
        );
    }

    #[test]
    fn a_denial_for_one_guardian_leaves_the_other() {
        let mut f = family(d(2013, 1, 1));
        f.restrictions.push(Restriction::Denial {
            guardian_id: Some("ola".into()),
        });
        let now = oslo(2026, 11, 23);
        assert_eq!(
            guardian_access(&f, "ola", &FULL, now),
            GuardianAccess::Unavailable(Unavailable::WeightyReasons)
        );
        assert!(matches!(
            guardian_access(&f, "kari", &FULL, now),
            GuardianAccess::Available(_)
        ));
        f.restrictions
            .push(Restriction::Denial { guardian_id: None });
        assert_eq!(
            guardian_access(&f, "kari", &FULL, now),
            GuardianAccess::Unavailable(Unavailable::WeightyReasons)
        );
    }

    #[test]
    fn a_denial_holds_under_twelve_too() {
        let mut f = family(d(2021, 4, 9));
        f.restrictions
            .push(Restriction::Denial { guardian_id: None });
        assert_eq!(
            guardian_access(&f, "kari", &FULL, oslo(2026, 11, 23)),
            GuardianAccess::Unavailable(Unavailable::WeightyReasons)
        );
    }

    #[test]
    fn a_refusal_of_named_areas_hides_them_and_their_log() {
        let mut f = family(d(2012, 6, 3));
        f.restrictions
            .push(Restriction::Refusal(RefusalScope::Areas(
                [ServiceArea::Vaccinations].into_iter().collect(),
            )));
        let a = available(guardian_access(&f, "kari", &FULL, oslo(2026, 11, 23)));
        assert!(!a.areas.contains(&ServiceArea::Vaccinations));
        assert!(a.areas.contains(&ServiceArea::Appointments));
        assert!(!a.sees_log_entry("access.reported", Some(ServiceArea::Vaccinations), false));
        assert!(a.sees_log_entry("access.reported", Some(ServiceArea::Appointments), false));
    }

    #[test]
    fn a_refusal_of_the_whole_hides_everything_but_guardians_own_steps() {
        let mut f = family(d(2012, 6, 3));
        f.restrictions
            .push(Restriction::Refusal(RefusalScope::Whole));
        let a = available(guardian_access(&f, "kari", &FULL, oslo(2026, 11, 23)));
        assert!(a.areas.is_empty());
        assert!(a.whole_refused);
        assert!(!a.sees_log_entry("access.reported", Some(ServiceArea::Appointments), false));
        assert!(!a.sees_log_entry("access.reported", None, false));
        assert!(a.sees_log_entry("access_switch.changed", None, true));
    }

    #[test]
    fn restriction_entries_are_never_shown_to_guardians() {
        let f = family(d(2021, 4, 9));
        let a = available(guardian_access(&f, "kari", &FULL, oslo(2026, 11, 23)));
        assert!(!a.sees_log_entry("child_restriction.registered", None, false));
        assert!(!a.sees_log_entry("child_restriction.lifted", None, true));
        assert!(a.sees_log_entry("access.reported", None, false));
    }

    #[test]
    fn from_twelve_entries_about_no_area_are_shown_only_when_a_guardian_made_them() {
        let f = family(d(2012, 6, 3));
        let a = available(guardian_access(&f, "kari", &FULL, oslo(2026, 11, 23)));
        assert!(!a.sees_log_entry("login", None, false));
        assert!(a.sees_log_entry("access_switch.changed", None, true));
        assert!(!a.sees_log_entry("service.used", Some(ServiceArea::PatientRecord), true));
    }

    #[test]
    fn the_childs_switches_and_the_guardians_consent_limit_the_areas_not_the_log() {
        let mut f = family(d(2021, 4, 9));
        f.switches =
            AccessSwitches::default().with(crate::access_switches::Switch::PatientRecord, true);
        let basis = ConsentStatus::Active {
            level: ConsentLevel::Basis,
        };
        let a = available(guardian_access(&f, "kari", &basis, oslo(2026, 11, 23)));
        assert!(!a.areas.contains(&ServiceArea::PatientRecord));
        assert!(!a.areas.contains(&ServiceArea::Communication));
        assert!(a.areas.contains(&ServiceArea::Appointments));
        assert!(a.log_areas.contains(&ServiceArea::PatientRecord));
        let none = available(guardian_access(
            &f,
            "kari",
            &ConsentStatus::NotAccepted,
            oslo(2026, 11, 23),
        ));
        assert!(none.areas.is_empty());
    }

    #[test]
    fn refusals_only_from_twelve_to_sixteen() {
        let jakob = person(d(JAKOB.0, JAKOB.1, JAKOB.2), "adr-1");
        let eve = oslo(2026, 12, 16) - Duration::seconds(1);
        assert_eq!(
            check_refusal(&jakob, eve),
            Err(RestrictionRefused::UnderTwelve)
        );
        assert_eq!(check_refusal(&jakob, oslo(2026, 12, 16)), Ok(()));
        let ella = person(d(2010, 12, 9), "adr-1");
        let eve = oslo(2026, 12, 9) - Duration::seconds(1);
        assert_eq!(check_refusal(&ella, eve), Ok(()));
        assert_eq!(
            check_refusal(&ella, oslo(2026, 12, 9)),
            Err(RestrictionRefused::SixteenOrOver)
        );
    }

    #[test]
    fn denials_at_any_age_under_sixteen_naming_a_parent() {
        let nora = person(d(2021, 4, 9), "adr-1");
        let now = oslo(2026, 11, 23);
        assert_eq!(check_denial(&nora, None, now), Ok(()));
        assert_eq!(check_denial(&nora, Some(true), now), Ok(()));
        assert_eq!(
            check_denial(&nora, Some(false), now),
            Err(RestrictionRefused::NotAGuardian)
        );
        let filip = person(d(2010, 1, 12), "adr-1");
        assert_eq!(
            check_denial(&filip, None, now),
            Err(RestrictionRefused::SixteenOrOver)
        );
    }

    #[test]
    fn notices_thirty_oslo_days_ahead() {
        let birth = d(JAKOB.0, JAKOB.1, JAKOB.2);
        // 16 December minus 30 days is 16 November.
        let last_quiet = oslo(2026, 11, 16) - Duration::seconds(1);
        assert_eq!(notice_due(birth, last_quiet), None);
        let first = notice_due(birth, oslo(2026, 11, 16)).unwrap();
        assert_eq!(first.milestone, Milestone::RestrictedAtTwelve);
        assert_eq!(first.on, d(2026, 12, 16));
        assert_eq!(first.at, oslo(2026, 12, 16));
        // From the birthday the next notice is four years away.
        assert_eq!(notice_due(birth, oslo(2026, 12, 16)), None);
        let next = next_transition(birth, oslo(2026, 12, 16)).unwrap();
        assert_eq!(next.milestone, Milestone::EndsAtSixteen);
        assert_eq!(next.on, d(2030, 12, 16));
    }

    #[test]
    fn leap_day_children_change_on_the_first_of_march() {
        let birth = d(2016, 2, 29);
        assert_eq!(birthday(birth, 12), d(2028, 2, 29));
        assert_eq!(birthday(birth, 16), d(2032, 2, 29));
        let birth = d(2012, 2, 29);
        assert_eq!(birthday(birth, 15), d(2027, 3, 1));
        let f = family(d(2011, 2, 28));
        assert!(matches!(
            guardian_access(&f, "kari", &FULL, oslo(2027, 2, 27)),
            GuardianAccess::Available(_)
        ));
        let leap = family(d(2012, 2, 29));
        // 16 on 29 Feb 2028 (a leap year).
        assert!(matches!(
            guardian_access(&leap, "kari", &FULL, oslo(2028, 2, 28)),
            GuardianAccess::Available(_)
        ));
        assert_eq!(
            guardian_access(&leap, "kari", &FULL, oslo(2028, 2, 29)),
            GuardianAccess::Ended
        );
    }
}

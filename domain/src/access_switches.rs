//! Digital access switches, DESIGN §2.3, source 003 ("Remove or re-open digital access").
//!
//! A citizen (or a guardian, for a child under 16) may remove and re-open digital access on the
//! portal to:
//! - the logged-in services as a whole: while removed, nobody reaches the citizen's own health
//!   data on the portal (not the citizen, not a guardian, not a grantee), but the citizen can still
//!   act for children and for people who gave them a power of attorney;
//! - the patient record ("Pasientjournal") on the portal; health personnel keep their access
//!   through their own systems;
//! - the summary care record ("kjernejournal") on the portal.
//!
//! A switch only hides data on the portal. Removing access never opts out of the summary care
//! record (that is DESIGN §2.4, a separate decision with its own consequences).

use std::collections::BTreeSet;

use crate::powers_of_attorney::ServiceArea;

/// One switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Switch {
    /// Access to the logged-in services as a whole.
    Services,
    /// Digital access to the patient record.
    PatientRecord,
    /// Digital access to the summary care record on the portal.
    SummaryCareRecord,
}

impl Switch {
    pub const ALL: [Switch; 3] = [
        Switch::Services,
        Switch::PatientRecord,
        Switch::SummaryCareRecord,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Switch::Services => "services",
            Switch::PatientRecord => "patient_record",
            Switch::SummaryCareRecord => "summary_care_record",
        }
    }

    pub fn parse(s: &str) -> Option<Switch> {
        Switch::ALL.into_iter().find(|w| w.as_str() == s)
    }

    /// Whether a guardian may set this switch for a child under 16. Source 003 names the
    /// services and the patient record "for children under 16"; the summary care record is not
    /// shown to guardians from the child's 12th birthday at all, and the portal's switch for it
    /// is the citizen's own.
    pub fn guardian_may_set(self) -> bool {
        matches!(self, Switch::Services | Switch::PatientRecord)
    }
}

/// The state of a citizen's switches: `true` where access is removed. The default is every
/// access open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccessSwitches {
    pub services_removed: bool,
    pub patient_record_removed: bool,
    pub summary_care_record_removed: bool,
}

impl AccessSwitches {
    pub fn is_removed(&self, switch: Switch) -> bool {
        match switch {
            Switch::Services => self.services_removed,
            Switch::PatientRecord => self.patient_record_removed,
            Switch::SummaryCareRecord => self.summary_care_record_removed,
        }
    }

    /// The switches with `switch` set to `removed`.
    pub fn with(mut self, switch: Switch, removed: bool) -> AccessSwitches {
        match switch {
            Switch::Services => self.services_removed = removed,
            Switch::PatientRecord => self.patient_record_removed = removed,
            Switch::SummaryCareRecord => self.summary_care_record_removed = removed,
        }
        self
    }

    /// Whether anyone (the citizen, a guardian, a grantee) may reach `area` of this citizen's own
    /// health data on the portal.
    pub fn opens(&self, area: ServiceArea) -> bool {
        if self.services_removed {
            return false;
        }
        match area {
            ServiceArea::PatientRecord => !self.patient_record_removed,
            ServiceArea::SummaryCareRecord => !self.summary_care_record_removed,
            _ => true,
        }
    }

    /// `areas` without those these switches close.
    pub fn limit(&self, areas: BTreeSet<ServiceArea>) -> BTreeSet<ServiceArea> {
        areas.into_iter().filter(|a| self.opens(*a)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_is_open_by_default() {
        let s = AccessSwitches::default();
        assert!(ServiceArea::ALL.into_iter().all(|a| s.opens(a)));
    }

    #[test]
    fn removing_services_closes_every_area() {
        let s = AccessSwitches::default().with(Switch::Services, true);
        assert!(ServiceArea::ALL.into_iter().all(|a| !s.opens(a)));
        assert!(s
            .with(Switch::Services, false)
            .opens(ServiceArea::Vaccinations));
    }

    #[test]
    fn the_record_switches_close_only_their_record() {
        let s = AccessSwitches::default().with(Switch::PatientRecord, true);
        assert!(!s.opens(ServiceArea::PatientRecord));
        assert!(s.opens(ServiceArea::SummaryCareRecord));
        assert!(s.opens(ServiceArea::Appointments));
        let s = AccessSwitches::default().with(Switch::SummaryCareRecord, true);
        assert!(!s.opens(ServiceArea::SummaryCareRecord));
        assert!(s.opens(ServiceArea::PatientRecord));
        let all: BTreeSet<_> = ServiceArea::ALL.into_iter().collect();
        assert_eq!(s.limit(all).len(), ServiceArea::ALL.len() - 1);
    }

    #[test]
    fn guardians_set_the_services_and_patient_record_switches_only() {
        assert!(Switch::Services.guardian_may_set());
        assert!(Switch::PatientRecord.guardian_may_set());
        assert!(!Switch::SummaryCareRecord.guardian_may_set());
    }

    #[test]
    fn names_round_trip() {
        for s in Switch::ALL {
            assert_eq!(Switch::parse(s.as_str()), Some(s));
        }
        assert_eq!(Switch::parse("everything"), None);
    }
}

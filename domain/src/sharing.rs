//! Blocks of the summary care record ("sperre", DESIGN §2.4) and objections to sharing
//! ("sperring", DESIGN §2.7), and the decision a downstream system asks before a health
//! professional reads a citizen's record.
//!
//! Three kinds of choice, from mildest to strongest, each kept until the citizen lifts it:
//!
//! - **A block of the summary care record**, whole or named parts. Nothing is deleted. Health
//!   personnel in ordinary care do not see what is blocked; it opens on the patient's declared
//!   consent or in an emergency, and every such opening is logged and shown to the citizen
//!   (source 004 §10.2: "sperre hele eller deler av journalen"; DESIGN §2.4).
//! - **An objection to sharing** with a named professional (HPR number) or organisation
//!   (organisation number), for the patient record and the summary care record alike. Only an
//!   emergency with a stated basis overrides it ("tungtveiende grunner ... fare for liv eller
//!   alvorlig helseskade", source 004 §10.2.1). The patient's consent does not: a citizen who wants
//!   to share again withdraws the objection, which is recorded as theirs; a consent claimed by the
//!   downstream system is not.
//! - **A block of a named professional** from the summary care record. It holds for every basis,
//!   an emergency included (DESIGN §2.4, last bullet).
//!
//! [`decide`] applies them in the order of [`Denial`]'s variants: the record's existence first
//! (an opted-out record is unavailable, DESIGN §2.4), then the professional block, the objection,
//! and the blocked parts.

use std::collections::BTreeSet;

use thiserror::Error;

use crate::summary_care_record::RecordState;

/// The parts of the summary care record that can be blocked one by one. The personal details
/// (name, address, next of kin's contact details) are not among them: health personnel need
/// them to reach the right patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordPart {
    /// Critical information: allergies, serious conditions, implants ("kritisk informasjon").
    CriticalInformation,
    /// Medicines dispensed and prescribed ("legemidler").
    Medicines,
    /// Vaccinations from the national register ("vaksiner").
    Vaccinations,
    /// Contacts with hospitals and specialists ("kontakter med spesialisthelsetjenesten").
    HospitalContacts,
    /// What the citizen entered themself ("egne opplysninger").
    OwnEntries,
}

impl RecordPart {
    pub const ALL: [RecordPart; 5] = [
        RecordPart::CriticalInformation,
        RecordPart::Medicines,
        RecordPart::Vaccinations,
        RecordPart::HospitalContacts,
        RecordPart::OwnEntries,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordPart::CriticalInformation => "critical_information",
            RecordPart::Medicines => "medicines",
            RecordPart::Vaccinations => "vaccinations",
            RecordPart::HospitalContacts => "hospital_contacts",
            RecordPart::OwnEntries => "own_entries",
        }
    }

    pub fn parse(s: &str) -> Option<RecordPart> {
        RecordPart::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Why a value is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdentifierError {
    #[error("1 to 9 digits")]
    HprNumber,
    #[error("9 digits with a valid check digit")]
    OrganisationNumber,
}

/// A health professional's number in the Health Personnel Register (HPR): 1 to 9 digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HprNumber(String);

impl HprNumber {
    pub fn parse(s: &str) -> Result<HprNumber, IdentifierError> {
        if (1..=9).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(HprNumber(s.to_owned()))
        } else {
            Err(IdentifierError::HprNumber)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A Norwegian organisation number: 9 digits, the last a modulus-11 check digit over the first
/// eight with weights 3, 2, 7, 6, 5, 4, 3, 2. Checked where a citizen types one, so that a typo
/// cannot leave an objection silently matching nobody.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrganisationNumber(String);

impl OrganisationNumber {
    pub fn parse(s: &str) -> Result<OrganisationNumber, IdentifierError> {
        const WEIGHTS: [u32; 8] = [3, 2, 7, 6, 5, 4, 3, 2];
        let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
        if s.len() != 9 || digits.len() != 9 {
            return Err(IdentifierError::OrganisationNumber);
        }
        let sum: u32 = digits.iter().zip(WEIGHTS).map(|(d, w)| d * w).sum();
        let check = match 11 - sum % 11 {
            11 => 0,
            10 => return Err(IdentifierError::OrganisationNumber),
            c => c,
        };
        if digits[8] == check {
            Ok(OrganisationNumber(s.to_owned()))
        } else {
            Err(IdentifierError::OrganisationNumber)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a block of the summary care record covers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BlockTarget {
    WholeRecord,
    Part(RecordPart),
    Professional(HprNumber),
}

impl BlockTarget {
    /// Whether the block holds in an emergency too: only a named professional's does.
    pub fn holds_in_emergency(&self) -> bool {
        matches!(self, BlockTarget::Professional(_))
    }
}

/// Whom an objection to sharing names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectionTarget {
    Professional(HprNumber),
    Organisation(OrganisationNumber),
}

/// Why a new block or objection is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SharingError {
    #[error("a block of this kind is already in force")]
    AlreadyBlocked,
    #[error("an objection against them is already in force")]
    AlreadyObjected,
}

/// A citizen's blocks and objections in force (lifted ones are history, not rules).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InForce {
    pub blocks: Vec<BlockTarget>,
    pub objections: Vec<ObjectionTarget>,
}

impl InForce {
    /// Whether the whole summary care record is blocked.
    pub fn record_blocked(&self) -> bool {
        self.blocks.contains(&BlockTarget::WholeRecord)
    }

    /// The parts blocked one by one (not counting a block of the whole record).
    pub fn parts_blocked(&self) -> BTreeSet<RecordPart> {
        self.blocks
            .iter()
            .filter_map(|b| match b {
                BlockTarget::Part(p) => Some(*p),
                _ => None,
            })
            .collect()
    }

    /// Every part ordinary care does not see: all of them when the whole record is blocked.
    fn hidden_parts(&self) -> BTreeSet<RecordPart> {
        if self.record_blocked() {
            RecordPart::ALL.into_iter().collect()
        } else {
            self.parts_blocked()
        }
    }

    fn professional_blocked(&self, hpr: &HprNumber) -> bool {
        self.blocks
            .iter()
            .any(|b| matches!(b, BlockTarget::Professional(h) if h == hpr))
    }

    fn objection_against(&self, hpr: &HprNumber, organisation: &str) -> Option<ObjectionKind> {
        let names_professional = self
            .objections
            .iter()
            .any(|o| matches!(o, ObjectionTarget::Professional(h) if h == hpr));
        let names_organisation = self
            .objections
            .iter()
            .any(|o| matches!(o, ObjectionTarget::Organisation(n) if n.as_str() == organisation));
        if names_professional {
            Some(ObjectionKind::Professional)
        } else if names_organisation {
            Some(ObjectionKind::Organisation)
        } else {
            None
        }
    }

    /// Checks that `target` is not blocked already.
    pub fn check_new_block(&self, target: &BlockTarget) -> Result<(), SharingError> {
        if self.blocks.contains(target) {
            Err(SharingError::AlreadyBlocked)
        } else {
            Ok(())
        }
    }

    /// Checks that no objection against `target` is in force already.
    pub fn check_new_objection(&self, target: &ObjectionTarget) -> Result<(), SharingError> {
        if self.objections.contains(target) {
            Err(SharingError::AlreadyObjected)
        } else {
            Ok(())
        }
    }
}

/// What a professional asks to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    PatientRecord,
    /// The summary care record: the named parts, or all of it (`None`).
    SummaryCareRecord(Option<BTreeSet<RecordPart>>),
}

/// The basis on which a professional asks (DESIGN §2.8's "basis").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Basis {
    /// Ordinary care: sharing between health personnel treating the patient.
    OrdinaryCare,
    /// The patient's declared consent, reported by the downstream system.
    Consent,
    /// Danger to life or health. The stated basis is what the professional wrote; it is shown to
    /// the citizen with the opening.
    Emergency { stated_basis: String },
}

/// Why an emergency was refused as stated.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("an emergency needs a stated basis")]
pub struct StatedBasisRequired;

impl Basis {
    /// An emergency is accepted only with a stated basis: every emergency opening is shown to the
    /// citizen with the reason the professional gave (source 004 §10.2.1).
    pub fn emergency(stated_basis: Option<&str>) -> Result<Basis, StatedBasisRequired> {
        match stated_basis.map(str::trim) {
            Some(s) if !s.is_empty() => Ok(Basis::Emergency {
                stated_basis: s.to_owned(),
            }),
            _ => Err(StatedBasisRequired),
        }
    }
}

/// One professional's request to read one citizen's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub resource: Resource,
    pub hpr_number: HprNumber,
    /// As given by the calling system (9 digits); compared with objections' numbers.
    pub organisation_number: String,
    pub basis: Basis,
}

/// A restriction that a permitted read passes, which the citizen is always told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Opening {
    BlockOpenedOnConsent,
    BlockOpenedInEmergency,
    ObjectionOverridden,
}

impl Opening {
    pub fn as_str(self) -> &'static str {
        match self {
            Opening::BlockOpenedOnConsent => "block_opened_on_consent",
            Opening::BlockOpenedInEmergency => "block_opened_in_emergency",
            Opening::ObjectionOverridden => "objection_overridden",
        }
    }
}

/// Why a read is refused, in the order the rules are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// The citizen opted out of the summary care record: it is unavailable to everyone.
    RecordOptedOut,
    /// The summary care record's data was deleted.
    RecordPurged,
    /// The citizen blocked this professional from the summary care record, for every basis.
    ProfessionalBlocked,
    /// The citizen objects to sharing with this professional or organisation; only an
    /// emergency overrides it.
    Objection,
    /// Everything asked for is blocked, and ordinary care does not open a block.
    RecordBlocked,
}

/// Why a read is permitted, the strongest reason first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    ObjectionOverridden,
    OpenedInEmergency,
    OpenedOnConsent,
    /// Permitted without the blocked parts.
    BlockedPartsWithheld,
    NoRestriction,
}

/// Whose objection matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectionKind {
    Professional,
    Organisation,
}

/// What the decision rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub record_blocked: bool,
    pub parts_blocked: BTreeSet<RecordPart>,
    pub professional_blocked: bool,
    pub objection: Option<ObjectionKind>,
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Result<Permit, Denial>,
    /// Parts of the summary care record left out of a permitted read.
    pub withheld: BTreeSet<RecordPart>,
    /// Restrictions the permitted read passes: each is logged and shown to the citizen.
    pub openings: BTreeSet<Opening>,
    pub facts: Facts,
}

/// Decides `request` against the summary care record's `record` state and the citizen's blocks
/// and objections `in_force`.
pub fn decide(request: &Request, record: &RecordState, in_force: &InForce) -> Decision {
    let objection = in_force.objection_against(&request.hpr_number, &request.organisation_number);
    let facts = Facts {
        record_blocked: in_force.record_blocked(),
        parts_blocked: in_force.parts_blocked(),
        professional_blocked: in_force.professional_blocked(&request.hpr_number),
        objection,
    };
    let denied = |denial| Decision {
        outcome: Err(denial),
        withheld: BTreeSet::new(),
        openings: BTreeSet::new(),
        facts: facts.clone(),
    };
    let emergency = matches!(request.basis, Basis::Emergency { .. });
    let asked = match &request.resource {
        Resource::PatientRecord => None,
        Resource::SummaryCareRecord(parts) => {
            match record {
                RecordState::Active { .. } => {}
                RecordState::OptedOut { .. } => return denied(Denial::RecordOptedOut),
                RecordState::Purged { .. } => return denied(Denial::RecordPurged),
            }
            if facts.professional_blocked {
                return denied(Denial::ProfessionalBlocked);
            }
            Some(
                parts
                    .clone()
                    .unwrap_or_else(|| RecordPart::ALL.into_iter().collect()),
            )
        }
    };
    let mut openings = BTreeSet::new();
    if objection.is_some() {
        if !emergency {
            return denied(Denial::Objection);
        }
        openings.insert(Opening::ObjectionOverridden);
    }
    let mut withheld = BTreeSet::new();
    if let Some(asked) = asked {
        let hit: BTreeSet<RecordPart> = asked
            .intersection(&in_force.hidden_parts())
            .copied()
            .collect();
        if !hit.is_empty() {
            match request.basis {
                Basis::Consent => {
                    openings.insert(Opening::BlockOpenedOnConsent);
                }
                Basis::Emergency { .. } => {
                    openings.insert(Opening::BlockOpenedInEmergency);
                }
                Basis::OrdinaryCare if hit == asked => return denied(Denial::RecordBlocked),
                Basis::OrdinaryCare => withheld = hit,
            }
        }
    }
    let permit = if openings.contains(&Opening::ObjectionOverridden) {
        Permit::ObjectionOverridden
    } else if openings.contains(&Opening::BlockOpenedInEmergency) {
        Permit::OpenedInEmergency
    } else if openings.contains(&Opening::BlockOpenedOnConsent) {
        Permit::OpenedOnConsent
    } else if !withheld.is_empty() {
        Permit::BlockedPartsWithheld
    } else {
        Permit::NoRestriction
    };
    Decision {
        outcome: Ok(permit),
        withheld,
        openings,
        facts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    const ORG: &str = "974749025";
    const OTHER_ORG: &str = "983984339";

    fn hpr(s: &str) -> HprNumber {
        HprNumber::parse(s).unwrap()
    }

    fn active() -> RecordState {
        RecordState::default()
    }

    fn emergency() -> Basis {
        Basis::emergency(Some("unconscious, no next of kin reachable")).unwrap()
    }

    fn scr(parts: Option<&[RecordPart]>) -> Resource {
        Resource::SummaryCareRecord(parts.map(|p| p.iter().copied().collect()))
    }

    fn ask(resource: Resource, who: &str, org: &str, basis: Basis) -> Request {
        Request {
            resource,
            hpr_number: hpr(who),
            organisation_number: org.to_owned(),
            basis,
        }
    }

    fn blocks(b: &[BlockTarget]) -> InForce {
        InForce {
            blocks: b.to_vec(),
            objections: vec![],
        }
    }

    #[test]
    fn nothing_in_force_permits_every_basis() {
        for basis in [Basis::OrdinaryCare, Basis::Consent, emergency()] {
            for resource in [Resource::PatientRecord, scr(None)] {
                let d = decide(
                    &ask(resource, "1234567", ORG, basis.clone()),
                    &active(),
                    &InForce::default(),
                );
                assert_eq!(d.outcome, Ok(Permit::NoRestriction));
                assert!(d.openings.is_empty() && d.withheld.is_empty());
            }
        }
    }

    #[test]
    fn an_opted_out_or_purged_record_is_refused_even_in_an_emergency() {
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        let opted_out = crate::summary_care_record::opt_out(&active(), at).unwrap();
        let purged = RecordState::Purged {
            opted_out_at: at,
            purge_ordered_at: at,
        };
        let r = ask(scr(None), "1234567", ORG, emergency());
        assert_eq!(
            decide(&r, &opted_out, &InForce::default()).outcome,
            Err(Denial::RecordOptedOut)
        );
        assert_eq!(
            decide(&r, &purged, &InForce::default()).outcome,
            Err(Denial::RecordPurged)
        );
        // The patient record is not the summary care record.
        let p = ask(Resource::PatientRecord, "1234567", ORG, emergency());
        assert_eq!(
            decide(&p, &opted_out, &InForce::default()).outcome,
            Ok(Permit::NoRestriction)
        );
    }

    #[test]
    fn a_blocked_professional_is_refused_on_every_basis_and_only_from_the_summary_care_record() {
        let f = blocks(&[BlockTarget::Professional(hpr("1234567"))]);
        for basis in [Basis::OrdinaryCare, Basis::Consent, emergency()] {
            let d = decide(
                &ask(scr(None), "1234567", ORG, basis.clone()),
                &active(),
                &f,
            );
            assert_eq!(d.outcome, Err(Denial::ProfessionalBlocked));
            assert!(d.facts.professional_blocked);
            // A colleague in the same organisation is not blocked.
            let other = decide(
                &ask(scr(None), "7654321", ORG, basis.clone()),
                &active(),
                &f,
            );
            assert_eq!(other.outcome, Ok(Permit::NoRestriction));
            let record = decide(
                &ask(Resource::PatientRecord, "1234567", ORG, basis),
                &active(),
                &f,
            );
            assert_eq!(record.outcome, Ok(Permit::NoRestriction));
        }
    }

    #[test]
    fn an_objection_gives_way_to_an_emergency_only() {
        let by_hpr = InForce {
            blocks: vec![],
            objections: vec![ObjectionTarget::Professional(hpr("1234567"))],
        };
        let by_org = InForce {
            blocks: vec![],
            objections: vec![ObjectionTarget::Organisation(
                OrganisationNumber::parse(ORG).unwrap(),
            )],
        };
        for (f, kind) in [
            (&by_hpr, ObjectionKind::Professional),
            (&by_org, ObjectionKind::Organisation),
        ] {
            for resource in [Resource::PatientRecord, scr(None)] {
                for basis in [Basis::OrdinaryCare, Basis::Consent] {
                    let d = decide(&ask(resource.clone(), "1234567", ORG, basis), &active(), f);
                    assert_eq!(d.outcome, Err(Denial::Objection));
                    assert_eq!(d.facts.objection, Some(kind));
                }
                let d = decide(
                    &ask(resource.clone(), "1234567", ORG, emergency()),
                    &active(),
                    f,
                );
                assert_eq!(d.outcome, Ok(Permit::ObjectionOverridden));
                assert_eq!(d.openings, BTreeSet::from([Opening::ObjectionOverridden]));
            }
        }
        // Another professional in another organisation is not named.
        let d = decide(
            &ask(scr(None), "7654321", OTHER_ORG, Basis::OrdinaryCare),
            &active(),
            &by_org,
        );
        assert_eq!(d.outcome, Ok(Permit::NoRestriction));
        assert_eq!(d.facts.objection, None);
    }

    #[test]
    fn a_whole_block_opens_on_consent_or_in_an_emergency_not_in_ordinary_care() {
        let f = blocks(&[BlockTarget::WholeRecord]);
        let d = decide(
            &ask(scr(None), "1", ORG, Basis::OrdinaryCare),
            &active(),
            &f,
        );
        assert_eq!(d.outcome, Err(Denial::RecordBlocked));
        let d = decide(&ask(scr(None), "1", ORG, Basis::Consent), &active(), &f);
        assert_eq!(d.outcome, Ok(Permit::OpenedOnConsent));
        assert_eq!(d.openings, BTreeSet::from([Opening::BlockOpenedOnConsent]));
        let d = decide(&ask(scr(None), "1", ORG, emergency()), &active(), &f);
        assert_eq!(d.outcome, Ok(Permit::OpenedInEmergency));
        assert_eq!(
            d.openings,
            BTreeSet::from([Opening::BlockOpenedInEmergency])
        );
        assert!(d.facts.record_blocked);
        // A part asked for alone is inside the whole.
        let one = scr(Some(&[RecordPart::Vaccinations]));
        let d = decide(&ask(one, "1", ORG, Basis::OrdinaryCare), &active(), &f);
        assert_eq!(d.outcome, Err(Denial::RecordBlocked));
    }

    #[test]
    fn a_blocked_part_is_withheld_in_ordinary_care_and_refused_when_asked_alone() {
        let f = blocks(&[BlockTarget::Part(RecordPart::Medicines)]);
        let d = decide(
            &ask(scr(None), "1", ORG, Basis::OrdinaryCare),
            &active(),
            &f,
        );
        assert_eq!(d.outcome, Ok(Permit::BlockedPartsWithheld));
        assert_eq!(d.withheld, BTreeSet::from([RecordPart::Medicines]));
        assert!(d.openings.is_empty());
        let only = scr(Some(&[RecordPart::Medicines]));
        let d = decide(
            &ask(only.clone(), "1", ORG, Basis::OrdinaryCare),
            &active(),
            &f,
        );
        assert_eq!(d.outcome, Err(Denial::RecordBlocked));
        let d = decide(&ask(only, "1", ORG, Basis::Consent), &active(), &f);
        assert_eq!(d.outcome, Ok(Permit::OpenedOnConsent));
        assert!(d.withheld.is_empty());
        let other = scr(Some(&[RecordPart::Vaccinations]));
        let d = decide(&ask(other, "1", ORG, Basis::OrdinaryCare), &active(), &f);
        assert_eq!(d.outcome, Ok(Permit::NoRestriction));
        assert_eq!(
            d.facts.parts_blocked,
            BTreeSet::from([RecordPart::Medicines])
        );
    }

    #[test]
    fn an_emergency_past_an_objection_and_a_block_reports_both_openings() {
        let f = InForce {
            blocks: vec![BlockTarget::WholeRecord],
            objections: vec![ObjectionTarget::Professional(hpr("42"))],
        };
        let d = decide(&ask(scr(None), "42", ORG, emergency()), &active(), &f);
        assert_eq!(d.outcome, Ok(Permit::ObjectionOverridden));
        assert_eq!(
            d.openings,
            BTreeSet::from([
                Opening::BlockOpenedInEmergency,
                Opening::ObjectionOverridden
            ])
        );
    }

    #[test]
    fn an_emergency_needs_a_stated_basis() {
        assert_eq!(Basis::emergency(None), Err(StatedBasisRequired));
        assert_eq!(Basis::emergency(Some("  ")), Err(StatedBasisRequired));
        assert!(Basis::emergency(Some("cardiac arrest")).is_ok());
    }

    #[test]
    fn identifiers_are_checked_at_their_edges() {
        assert!(HprNumber::parse("1").is_ok());
        assert!(HprNumber::parse("123456789").is_ok());
        assert!(HprNumber::parse("").is_err());
        assert!(HprNumber::parse("1234567890").is_err());
        assert!(HprNumber::parse("12a4567").is_err());
        for ok in ["974749025", "983984339", "876543214", "999999999"] {
            assert!(OrganisationNumber::parse(ok).is_ok(), "{ok}");
        }
        // A wrong check digit, a remainder of 1 (check 10: no valid number), the wrong length.
        for bad in [
            "974749026",
            "912345670",
            "97474902",
            "9747490250",
            "97474902x",
        ] {
            assert!(OrganisationNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_second_block_or_objection_on_the_same_target_is_refused() {
        let f = InForce {
            blocks: vec![BlockTarget::Part(RecordPart::Medicines)],
            objections: vec![ObjectionTarget::Professional(hpr("42"))],
        };
        assert_eq!(
            f.check_new_block(&BlockTarget::Part(RecordPart::Medicines)),
            Err(SharingError::AlreadyBlocked)
        );
        assert!(f.check_new_block(&BlockTarget::WholeRecord).is_ok());
        assert_eq!(
            f.check_new_objection(&ObjectionTarget::Professional(hpr("42"))),
            Err(SharingError::AlreadyObjected)
        );
        assert!(f
            .check_new_objection(&ObjectionTarget::Professional(hpr("43")))
            .is_ok());
        assert!(BlockTarget::Professional(hpr("1")).holds_in_emergency());
        assert!(!BlockTarget::WholeRecord.holds_in_emergency());
    }
}

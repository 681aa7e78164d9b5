//! The population register (Folkeregisteret) as the portal's rules see it: birth dates,
//! registered addresses, address protection, deaths and parental responsibility.
//!
//! The rules read the register through the [`PopulationRegister`] port at the moment they decide,
//! so a change in the register takes effect on the next request: nothing here caches a "yes".
//! The implementation (persistence) holds an extract imported from a JSON file.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::clock::oslo_date;
use crate::identity::NationalId;

/// Address protection ("adressebeskyttelse"): codes 7 (fortrolig) and 6 (strengt fortrolig).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressProtection {
    /// Code 7, "fortrolig adresse".
    Confidential,
    /// Code 6, "strengt fortrolig adresse".
    StrictlyConfidential,
}

impl AddressProtection {
    pub fn from_code(code: &str) -> Option<AddressProtection> {
        match code {
            "7" => Some(AddressProtection::Confidential),
            "6" => Some(AddressProtection::StrictlyConfidential),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            AddressProtection::Confidential => "7",
            AddressProtection::StrictlyConfidential => "6",
        }
    }
}

/// What the register says about one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredPerson {
    pub given_name: String,
    pub family_name: String,
    pub birth_date: NaiveDate,
    /// An opaque id of the registered address; equal ids are the same address.
    pub address_id: Option<String>,
    pub protection: Option<AddressProtection>,
    pub deceased_on: Option<NaiveDate>,
}

impl RegisteredPerson {
    /// Completed years of age at `now`, counted in Europe/Oslo.
    pub fn age_at(&self, now: DateTime<Utc>) -> u32 {
        age_on(self.birth_date, oslo_date(now))
    }

    /// Dead from the registered date of death on.
    pub fn is_alive_at(&self, now: DateTime<Utc>) -> bool {
        self.deceased_on.is_none_or(|d| oslo_date(now) < d)
    }

    pub fn has_protected_address(&self) -> bool {
        self.protection.is_some()
    }
}

/// Completed years of age on `date`. A birthday counts from its first moment (00:00 Europe/Oslo,
/// given an Oslo date). Someone born on 29 February completes a year on 1 March in years without
/// one (the day after 28 February), which is what comparing (month, day) gives.
pub fn age_on(birth: NaiveDate, date: NaiveDate) -> u32 {
    if date < birth {
        return 0;
    }
    let mut years = date.year() - birth.year();
    if (date.month(), date.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

/// The register, as the rules read it.
pub trait PopulationRegister {
    type Error;

    /// The person with this number, or `None` when the register does not know them.
    fn person(&mut self, id: &NationalId) -> Result<Option<RegisteredPerson>, Self::Error>;

    /// The numbers of the persons with parental responsibility for `child`. Numbers, not
    /// parsed ids: a parent need not be a person of the register, and the caller decides which
    /// numbers its policy accepts.
    fn parents_of(&mut self, child: &NationalId) -> Result<Vec<String>, Self::Error>;

    /// The numbers of the children `parent` has parental responsibility for.
    fn children_of(&mut self, parent: &NationalId) -> Result<Vec<String>, Self::Error>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn age_turns_on_the_birthday_not_the_day_before() {
        let birth = d(2010, 11, 24);
        assert_eq!(age_on(birth, d(2026, 11, 23)), 15);
        assert_eq!(age_on(birth, d(2026, 11, 24)), 16);
        assert_eq!(age_on(birth, d(2008, 1, 1)), 0);
    }

    #[test]
    fn leap_day_birthdays_count_from_first_of_march() {
        let birth = d(2008, 2, 29);
        assert_eq!(age_on(birth, d(2026, 2, 28)), 17);
        assert_eq!(age_on(birth, d(2026, 3, 1)), 18);
        assert_eq!(age_on(birth, d(2028, 2, 29)), 20);
    }

    #[test]
    fn the_birthday_starts_at_midnight_in_oslo() {
        let p = RegisteredPerson {
            given_name: "A".into(),
            family_name: "B".into(),
            birth_date: d(2008, 6, 15),
            address_id: None,
            protection: None,
            deceased_on: None,
        };
        // 15 June 00:00 in Oslo (summer time, UTC+2) is 14 June 22:00 UTC.
        let before = Utc.with_ymd_and_hms(2026, 6, 14, 21, 59, 59).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 6, 14, 22, 0, 0).unwrap();
        assert_eq!(p.age_at(before), 17);
        assert_eq!(p.age_at(at), 18);
    }

    #[test]
    fn dead_from_the_date_of_death() {
        let p = RegisteredPerson {
            given_name: "A".into(),
            family_name: "B".into(),
            birth_date: d(1940, 1, 1),
            address_id: None,
            protection: None,
            deceased_on: Some(d(2025, 6, 17)),
        };
        assert!(p.is_alive_at(Utc.with_ymd_and_hms(2025, 6, 15, 12, 0, 0).unwrap()));
        assert!(!p.is_alive_at(Utc.with_ymd_and_hms(2025, 6, 17, 12, 0, 0).unwrap()));
    }

    #[test]
    fn protection_codes() {
        assert_eq!(
            AddressProtection::from_code("7"),
            Some(AddressProtection::Confidential)
        );
        assert_eq!(
            AddressProtection::from_code("6"),
            Some(AddressProtection::StrictlyConfidential)
        );
        assert_eq!(AddressProtection::from_code("19"), None);
    }
}

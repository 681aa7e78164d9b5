//! Norwegian national identity numbers: fødselsnummer and D-number.
//!
//! The number is personal data of the highest sensitivity. [`NationalId`] therefore has no
//! `Display`, its `Debug` prints no digit, and the raw value is reachable only through
//! [`NationalId::expose`], so that logging it takes a deliberate, greppable call.
//!
//! Layout `DDMMYYIIIKK`: birth date, individual number `III`, two check digits `KK`.
//! - D-number: the first digit plus 4 (day + 40).
//! - Synthetic test numbers (Tenor): month + 80. Accepted only when the deployment enables them.
//! - From 2032 the first check digit may take any of four values: the weighted sum over the first
//!   ten digits (K1 weighted 1) may leave remainder 0, 1, 2 or 3 modulo 11. The second check digit
//!   is unchanged. Numbers issued before 2032 always leave remainder 0, so the wider rule accepts
//!   every number that was ever valid.

use chrono::NaiveDate;
use std::fmt;
use thiserror::Error;

const K1_WEIGHTS: [u32; 10] = [3, 7, 6, 1, 8, 9, 4, 5, 2, 1];
const K2_WEIGHTS: [u32; 11] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2, 1];

/// Which numbers a deployment accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IdPolicy {
    /// Accept synthetic test numbers (month + 80). Never in production.
    pub allow_synthetic: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    /// Fødselsnummer.
    BirthNumber,
    /// D-number (day + 40), for people not resident in Norway.
    DNumber,
}

/// Why a string is not an accepted identity number. Carries no digit of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum IdError {
    #[error("an identity number has exactly 11 digits")]
    Length,
    #[error("an identity number has only the digits 0-9")]
    NotDigits,
    #[error("the identity number's date part is not a date")]
    Date,
    #[error("the identity number's check digits do not match")]
    CheckDigits,
    #[error("synthetic test numbers are not accepted by this deployment")]
    SyntheticNotAllowed,
}

/// A validated national identity number. See the module docs for why it prints nothing.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NationalId {
    digits: String,
    kind: IdKind,
    synthetic: bool,
}

impl fmt::Debug for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NationalId(***********)")
    }
}

impl NationalId {
    /// Validates `input` under `policy`. No trimming: the caller sends exactly 11 ASCII digits.
    pub fn parse(input: &str, policy: IdPolicy) -> Result<NationalId, IdError> {
        if !input.chars().all(|c| c.is_ascii_digit()) {
            return Err(IdError::NotDigits);
        }
        if input.len() != 11 {
            return Err(IdError::Length);
        }
        let d: Vec<u32> = input.bytes().map(|b| u32::from(b - b'0')).collect();
        let weighted =
            |weights: &[u32]| -> u32 { weights.iter().zip(&d).map(|(w, x)| w * x).sum() };
        if weighted(&K1_WEIGHTS) % 11 > 3 || weighted(&K2_WEIGHTS) % 11 != 0 {
            return Err(IdError::CheckDigits);
        }

        let day = d[0] * 10 + d[1];
        let month = d[2] * 10 + d[3];
        let (kind, day) = if day > 40 {
            (IdKind::DNumber, day - 40)
        } else {
            (IdKind::BirthNumber, day)
        };
        let (synthetic, month) = if month > 80 {
            (true, month - 80)
        } else {
            (false, month)
        };
        if !(1..=31).contains(&day) || !(1..=12).contains(&month) {
            return Err(IdError::Date);
        }
        if synthetic && !policy.allow_synthetic {
            return Err(IdError::SyntheticNotAllowed);
        }
        let id = NationalId {
            digits: input.to_owned(),
            kind,
            synthetic,
        };
        // Where the century is known the date must exist (no 30 February).
        if id.century().is_some() && id.birth_date_from_number().is_none() {
            return Err(IdError::Date);
        }
        Ok(id)
    }

    /// The raw digits, for storage and for the population register. Never log this.
    pub fn expose(&self) -> &str {
        &self.digits
    }

    pub fn kind(&self) -> IdKind {
        self.kind
    }

    pub fn is_synthetic(&self) -> bool {
        self.synthetic
    }

    /// The birth date the number encodes: the fallback when the population register has none.
    /// `None` where the individual number gives no century (as for numbers issued from 2032).
    pub fn birth_date_from_number(&self) -> Option<NaiveDate> {
        let two = |i: usize| {
            self.digits
                .get(i..i + 2)
                .and_then(|s| s.parse::<u32>().ok())
        };
        let mut day = two(0)?;
        let mut month = two(2)?;
        if day > 40 {
            day -= 40;
        }
        if month > 80 {
            month -= 80;
        }
        let year = self.century()? + i32::try_from(two(4)?).ok()?;
        NaiveDate::from_ymd_opt(year, month, day)
    }

    /// The century from the individual number ranges (Skatteetaten's table).
    fn century(&self) -> Option<i32> {
        let yy: u32 = self.digits.get(4..6)?.parse().ok()?;
        let individual: u32 = self.digits.get(6..9)?.parse().ok()?;
        match individual {
            0..=499 => Some(1900),
            500..=749 if yy >= 54 => Some(1800),
            500..=999 if yy <= 39 => Some(2000),
            900..=999 if yy >= 40 => Some(1900),
            _ => None,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const SYNTH: IdPolicy = IdPolicy {
        allow_synthetic: true,
    };
    const REAL: IdPolicy = IdPolicy {
        allow_synthetic: false,
    };

    /// Builds a valid number from date and individual number by computing both check digits
    /// the classic way (remainder 0). Returns `None` when the individual number cannot be used.
    pub(crate) fn with_check_digits(first9: &str) -> Option<String> {
        let d: Vec<u32> = first9.bytes().map(|b| u32::from(b - b'0')).collect();
        let s1: u32 = K1_WEIGHTS[..9].iter().zip(&d).map(|(w, x)| w * x).sum();
        let k1 = (11 - s1 % 11) % 11;
        if k1 == 10 {
            return None;
        }
        let s2: u32 = K2_WEIGHTS[..9]
            .iter()
            .zip(&d)
            .map(|(w, x)| w * x)
            .sum::<u32>()
            + 2 * k1;
        let k2 = (11 - s2 % 11) % 11;
        if k2 == 10 {
            return None;
        }
        Some(format!("{first9}{k1}{k2}"))
    }

    fn first_valid(date: &str, from_individual: u32) -> String {
        (from_individual..1000)
            .find_map(|i| with_check_digits(&format!("{date}{i:03}")))
            .expect("some individual number works")
    }

    #[test]
    fn accepts_a_classic_birth_number() {
        let number = first_valid("010107", 501);
        let parsed = NationalId::parse(&number, REAL).unwrap();
        assert_eq!(parsed.kind(), IdKind::BirthNumber);
        assert!(!parsed.is_synthetic());
        assert_eq!(parsed.expose(), number);
        assert_eq!(
            parsed.birth_date_from_number(),
            NaiveDate::from_ymd_opt(2007, 1, 1)
        );
    }

    #[test]
    fn wrong_check_digits_are_refused() {
        let good = first_valid("150380", 100);
        let mut bytes = good.into_bytes();
        bytes[10] = if bytes[10] == b'9' {
            b'0'
        } else {
            bytes[10] + 1
        };
        let bad = String::from_utf8(bytes).unwrap();
        assert_eq!(NationalId::parse(&bad, REAL), Err(IdError::CheckDigits));
    }

    #[test]
    fn either_check_digit_off_by_one_is_refused() {
        let good = first_valid("150380", 100);
        for pos in [9, 10] {
            let mut bytes = good.clone().into_bytes();
            bytes[pos] = if bytes[pos] == b'0' {
                b'1'
            } else {
                bytes[pos] - 1
            };
            let bad = String::from_utf8(bytes).unwrap();
            assert!(NationalId::parse(&bad, REAL).is_err(), "position {pos}");
        }
    }

    #[test]
    fn a_2032_number_may_use_any_of_four_first_check_digits() {
        // Remainders 1, 2 and 3 of the K1 sum are valid from 2032; 4 is not.
        let first9 = "010132900";
        let d: Vec<u32> = first9.bytes().map(|b| u32::from(b - b'0')).collect();
        let s1: u32 = K1_WEIGHTS[..9].iter().zip(&d).map(|(w, x)| w * x).sum();
        let mut accepted = 0;
        for k1 in 0..10u32 {
            let remainder = (s1 + k1) % 11;
            let s2: u32 = K2_WEIGHTS[..9]
                .iter()
                .zip(&d)
                .map(|(w, x)| w * x)
                .sum::<u32>()
                + 2 * k1;
            let k2 = (11 - s2 % 11) % 11;
            if k2 == 10 {
                continue;
            }
            let number = format!("{first9}{k1}{k2}");
            let result = NationalId::parse(&number, REAL);
            if remainder <= 3 {
                assert!(result.is_ok(), "remainder {remainder} must be accepted");
                accepted += 1;
            } else {
                assert_eq!(result, Err(IdError::CheckDigits), "remainder {remainder}");
            }
        }
        assert!(accepted >= 2);
    }

    #[test]
    fn d_numbers_are_day_plus_forty() {
        let dnr = first_valid("550380", 100); // day 15 + 40
        let id = NationalId::parse(&dnr, REAL).unwrap();
        assert_eq!(id.kind(), IdKind::DNumber);
        assert_eq!(
            id.birth_date_from_number(),
            NaiveDate::from_ymd_opt(1980, 3, 15)
        );
        // Day 40 + 32 does not exist.
        let too_far = first_valid("720380", 100);
        assert_eq!(NationalId::parse(&too_far, REAL), Err(IdError::Date));
    }

    #[test]
    fn synthetic_numbers_only_when_enabled() {
        let synthetic = first_valid("158380", 100); // month 3 + 80
        assert_eq!(
            NationalId::parse(&synthetic, REAL),
            Err(IdError::SyntheticNotAllowed)
        );
        let id = NationalId::parse(&synthetic, SYNTH).unwrap();
        assert!(id.is_synthetic());
        assert_eq!(
            id.birth_date_from_number(),
            NaiveDate::from_ymd_opt(1980, 3, 15)
        );
        let synthetic_dnr = first_valid("558380", 100);
        let id = NationalId::parse(&synthetic_dnr, SYNTH).unwrap();
        assert_eq!(id.kind(), IdKind::DNumber);
        assert!(id.is_synthetic());
    }

    #[test]
    fn ten_and_twelve_digits_are_refused() {
        let good = first_valid("150380", 100);
        assert_eq!(NationalId::parse(&good[..10], REAL), Err(IdError::Length));
        assert_eq!(
            NationalId::parse(&format!("{good}0"), REAL),
            Err(IdError::Length)
        );
        assert_eq!(NationalId::parse("", REAL), Err(IdError::Length));
    }

    #[test]
    fn whitespace_and_non_ascii_digits_are_refused() {
        let good = first_valid("150380", 100);
        assert_eq!(
            NationalId::parse(&format!(" {good}"), REAL),
            Err(IdError::NotDigits)
        );
        assert_eq!(
            NationalId::parse(&format!("{good}\n"), REAL),
            Err(IdError::NotDigits)
        );
        let spaced = format!("{} {}", &good[..6], &good[6..]);
        assert_eq!(NationalId::parse(&spaced, REAL), Err(IdError::NotDigits));
        // Arabic-Indic and fullwidth digits are digits to Unicode, not to us.
        let arabic: String = good
            .chars()
            .map(|c| char::from_u32(0x0660 + c.to_digit(10).unwrap()).unwrap())
            .collect();
        assert_eq!(NationalId::parse(&arabic, REAL), Err(IdError::NotDigits));
        let fullwidth: String = good
            .chars()
            .map(|c| char::from_u32(0xFF10 + c.to_digit(10).unwrap()).unwrap())
            .collect();
        assert_eq!(NationalId::parse(&fullwidth, REAL), Err(IdError::NotDigits));
        assert_eq!(
            NationalId::parse("1503801001x", REAL),
            Err(IdError::NotDigits)
        );
    }

    #[test]
    fn impossible_dates_are_refused() {
        for date in ["000380", "320380", "150080", "151380", "300280"] {
            let number = first_valid(date, 100);
            assert_eq!(
                NationalId::parse(&number, REAL),
                Err(IdError::Date),
                "{date}"
            );
        }
        // 29 February exists in 2024 (individual 500-999, year 00-39 → 2000s), not in 2023.
        assert!(NationalId::parse(&first_valid("290224", 500), REAL).is_ok());
        assert_eq!(
            NationalId::parse(&first_valid("290223", 500), REAL),
            Err(IdError::Date)
        );
    }

    #[test]
    fn century_comes_from_the_individual_number() {
        let cases = [
            ("010199", 0, 1999),
            ("010199", 400, 1999),
            ("010160", 500, 1860),
            ("010110", 500, 2010),
            ("010139", 999, 2039),
            ("010150", 900, 1950),
        ];
        for (date, from, year) in cases {
            let number = first_valid(date, from);
            let id = NationalId::parse(&number, REAL).unwrap();
            assert_eq!(
                id.birth_date_from_number()
                    .map(|d| chrono::Datelike::year(&d)),
                Some(year),
                "{date} from {from}"
            );
        }
        // 750-899 with a year of 40-99 names no century: valid number, no date from it.
        let number = first_valid("010150", 750);
        let id = NationalId::parse(&number, REAL).unwrap();
        assert_eq!(id.birth_date_from_number(), None);
    }

    #[test]
    fn debug_prints_no_digit() {
        let id = NationalId::parse(&first_valid("150380", 100), REAL).unwrap();
        let shown = format!("{id:?}");
        assert!(!shown.chars().any(|c| c.is_ascii_digit()), "{shown}");
    }
}

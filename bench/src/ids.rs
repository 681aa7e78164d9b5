//! Synthetic identity numbers (Tenor style: month + 80) with correct check digits, and valid
//! organisation numbers. Every number made here is checked with `domain::identity`, the parser
//! the server uses, so a population the server would refuse cannot be loaded.

use chrono::{Datelike, Duration, NaiveDate};
use domain::identity::{IdPolicy, NationalId};
use std::collections::HashMap;

use crate::error::{bail, Result};

const K1_WEIGHTS: [u32; 9] = [3, 7, 6, 1, 8, 9, 4, 5, 2];
const K2_WEIGHTS: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

/// The classic check digits (remainder 0) of a number's first nine digits; `None` when either
/// would be 10 (that individual number is not used).
pub fn check_digits(first9: &[u32; 9]) -> Option<(u32, u32)> {
    let s1: u32 = K1_WEIGHTS.iter().zip(first9).map(|(w, d)| w * d).sum();
    let k1 = (11 - s1 % 11) % 11;
    if k1 == 10 {
        return None;
    }
    let s2: u32 = K2_WEIGHTS[..9]
        .iter()
        .zip(first9)
        .map(|(w, d)| w * d)
        .sum::<u32>()
        + K2_WEIGHTS[9] * k1;
    let k2 = (11 - s2 % 11) % 11;
    if k2 == 10 {
        return None;
    }
    Some((k1, k2))
}

/// The individual numbers that give the right century (Skatteetaten's table) for birth years
/// 1900-2039: 000-499 for the 1900s, 500-999 for 2000-2039.
fn individual_range(year: i32) -> Option<std::ops::Range<u32>> {
    match year {
        1900..=1999 => Some(0..500),
        2000..=2039 => Some(500..1000),
        _ => None,
    }
}

/// Hands out distinct synthetic numbers by birth date.
#[derive(Default)]
pub struct IdAllocator {
    next_individual: HashMap<NaiveDate, u32>,
}

impl IdAllocator {
    /// A fresh synthetic number for someone born on `date` (or the next day with numbers left),
    /// with the birth date it encodes.
    pub fn allocate(&mut self, date: NaiveDate) -> Result<(String, NaiveDate)> {
        let mut date = date;
        for _ in 0..366 {
            if let Some(number) = self.try_date(date) {
                return Ok((number, date));
            }
            date += Duration::days(1);
        }
        bail!("no synthetic identity numbers left near {date}")
    }

    fn try_date(&mut self, date: NaiveDate) -> Option<String> {
        let range = individual_range(date.year())?;
        let next = self.next_individual.entry(date).or_insert(range.start);
        let (dd, mm, yy) = (date.day(), date.month() + 80, date.year().rem_euclid(100));
        let yy = u32::try_from(yy).ok()?;
        while *next < range.end {
            let i = *next;
            *next += 1;
            let first9 = [
                dd / 10,
                dd % 10,
                mm / 10,
                mm % 10,
                yy / 10,
                yy % 10,
                i / 100,
                (i / 10) % 10,
                i % 10,
            ];
            if let Some((k1, k2)) = check_digits(&first9) {
                let mut s = String::with_capacity(11);
                for d in first9.iter().chain([&k1, &k2]) {
                    s.push(char::from(b'0' + u8::try_from(*d).ok()?));
                }
                return Some(s);
            }
        }
        None
    }
}

/// Checks `number` the way the server does (synthetic numbers allowed) and that it encodes
/// `birth_date`.
pub fn verify(number: &str, birth_date: NaiveDate) -> Result<()> {
    let policy = IdPolicy {
        allow_synthetic: true,
    };
    match NationalId::parse(number, policy) {
        Ok(id) if id.birth_date_from_number() == Some(birth_date) => Ok(()),
        Ok(_) => bail!("generated identity number encodes another birth date than {birth_date}"),
        Err(e) => bail!("generated identity number refused: {e}"),
    }
}

/// A valid Norwegian organisation number (modulus 11 over weights 3,2,7,6,5,4,3,2) from an
/// eight-digit stem, or `None` when the stem has no check digit.
pub fn organisation_number(stem: u32) -> Option<String> {
    const WEIGHTS: [u32; 8] = [3, 2, 7, 6, 5, 4, 3, 2];
    let s = format!("{stem:08}");
    if s.len() != 8 {
        return None;
    }
    let sum: u32 = s
        .chars()
        .filter_map(|c| c.to_digit(10))
        .zip(WEIGHTS)
        .map(|(d, w)| d * w)
        .sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return None,
        c => c,
    };
    Some(format!("{s}{check}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::sharing::OrganisationNumber;

    #[test]
    fn allocated_numbers_are_valid_distinct_and_encode_the_date() {
        let mut a = IdAllocator::default();
        let mut seen = std::collections::HashSet::new();
        for (y, m, d) in [(1931, 2, 28), (1999, 12, 31), (2000, 1, 1), (2024, 2, 29)] {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            for _ in 0..300 {
                let (n, born) = a.allocate(date).unwrap();
                verify(&n, born).unwrap();
                assert!(seen.insert(n));
            }
        }
    }

    #[test]
    fn organisation_numbers_pass_the_domain_check() {
        let made: Vec<String> = (10_000_000..10_000_200)
            .filter_map(organisation_number)
            .collect();
        assert!(made.len() > 150);
        for n in made {
            assert!(OrganisationNumber::parse(&n).is_ok(), "{n}");
        }
    }
}

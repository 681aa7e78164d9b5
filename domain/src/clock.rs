//! Time as an injected value.
//!
//! Rules take `now: DateTime<Utc>` as a parameter; the server passes it from a [`Clock`]. Dates and
//! day counts are computed in Europe/Oslo, which is where birthdays and deadlines are felt.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Oslo;

/// Where "now" comes from. The server uses the system clock in production and a settable clock in
/// dev mode, so black-box tests can cross a birthday or a 30-day window.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The calendar date in Norway at instant `t`.
pub fn oslo_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&Oslo).date_naive()
}

/// The first instant of `date` in Norway (00:00 Europe/Oslo), as UTC. Norway changes clocks at
/// 02:00 and 03:00, so midnight always exists and is never doubled; the fallback to UTC midnight
/// is unreachable with the shipped time-zone data.
pub fn oslo_midnight(date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_time(chrono::NaiveTime::MIN);
    Oslo.from_local_datetime(&midnight)
        .earliest()
        .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn oslo_date_changes_at_local_midnight_not_utc_midnight() {
        // 22:59:59 UTC on 31 Dec is 23:59:59 in Oslo (CET, +1): still 31 Dec.
        let before = Utc.with_ymd_and_hms(2026, 12, 31, 22, 59, 59).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 12, 31, 23, 0, 0).unwrap();
        assert_eq!(
            oslo_date(before),
            NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()
        );
        assert_eq!(
            oslo_date(after),
            NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()
        );
    }

    #[test]
    fn oslo_date_in_summer_time_is_utc_plus_two() {
        let before = Utc.with_ymd_and_hms(2026, 6, 30, 21, 59, 59).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 6, 30, 22, 0, 0).unwrap();
        assert_eq!(
            oslo_date(before),
            NaiveDate::from_ymd_opt(2026, 6, 30).unwrap()
        );
        assert_eq!(
            oslo_date(after),
            NaiveDate::from_ymd_opt(2026, 7, 1).unwrap()
        );
    }

    #[test]
    fn oslo_midnight_is_the_first_instant_of_the_oslo_date() {
        let winter = NaiveDate::from_ymd_opt(2026, 12, 16).unwrap();
        assert_eq!(
            oslo_midnight(winter),
            Utc.with_ymd_and_hms(2026, 12, 15, 23, 0, 0).unwrap()
        );
        let summer = NaiveDate::from_ymd_opt(2026, 6, 3).unwrap();
        assert_eq!(
            oslo_midnight(summer),
            Utc.with_ymd_and_hms(2026, 6, 2, 22, 0, 0).unwrap()
        );
        // The day summer time begins (29 March 2026, clocks jump at 02:00).
        let dst = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        assert_eq!(oslo_date(oslo_midnight(dst)), dst);
        assert_eq!(
            oslo_date(oslo_midnight(dst) - chrono::Duration::seconds(1)),
            dst.pred_opt().unwrap()
        );
    }
}

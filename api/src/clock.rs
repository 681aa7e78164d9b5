//! The clocks the server can run on: the system clock, or in dev mode a clock that black-box
//! tests can set and advance through `/dev/clock`.

use chrono::{DateTime, Duration, Utc};
use domain::clock::Clock;
use std::sync::atomic::{AtomicI64, Ordering};

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The system clock plus an offset that can be changed at run time (dev mode only). The offset
/// stays within a hundred years either way, so no date arithmetic anywhere can overflow.
#[derive(Default)]
pub struct DevClock {
    /// Nanoseconds, so that setting the clock to an instant lands on it exactly.
    offset_nanos: AtomicI64,
}

#[derive(Debug, thiserror::Error)]
#[error("the dev clock stays within a hundred years of the system clock")]
pub struct OutOfRange;

const MAX_OFFSET_DAYS: i64 = 100 * 366;

impl DevClock {
    pub fn offset(&self) -> Duration {
        Duration::nanoseconds(self.offset_nanos.load(Ordering::SeqCst))
    }

    fn store(&self, offset: Duration) -> Result<(), OutOfRange> {
        if offset.num_days().abs() > MAX_OFFSET_DAYS {
            return Err(OutOfRange);
        }
        let nanos = offset.num_nanoseconds().ok_or(OutOfRange)?;
        self.offset_nanos.store(nanos, Ordering::SeqCst);
        Ok(())
    }

    pub fn set(&self, now: DateTime<Utc>) -> Result<(), OutOfRange> {
        let offset = now.signed_duration_since(Utc::now());
        self.store(offset)
    }

    pub fn advance(&self, by: Duration) -> Result<(), OutOfRange> {
        let offset = self.offset().checked_add(&by).ok_or(OutOfRange)?;
        self.store(offset)
    }
}

impl Clock for DevClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_clock_moves_by_what_it_is_told() {
        let c = DevClock::default();
        let target = Utc::now() + Duration::days(400);
        c.set(target).unwrap();
        assert!((c.now() - target).num_seconds().abs() <= 1);
        c.advance(Duration::days(30)).unwrap();
        let expected = target + Duration::days(30);
        assert!((c.now() - expected).num_seconds().abs() <= 1);
    }

    #[test]
    fn dev_clock_refuses_to_leave_the_century() {
        let c = DevClock::default();
        assert!(c.set(Utc::now() + Duration::days(101 * 366)).is_err());
        c.advance(Duration::days(60 * 366)).unwrap();
        assert!(
            c.advance(Duration::days(60 * 366)).is_err(),
            "cumulative offsets are bounded"
        );
        c.advance(Duration::days(-120 * 366)).unwrap();
        assert!((c.offset().num_days() + 60 * 366).abs() <= 1);
    }
}

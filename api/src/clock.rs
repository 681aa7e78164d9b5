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

/// The system clock plus an offset that can be changed at run time (dev mode only).
#[derive(Default)]
pub struct DevClock {
    offset_millis: AtomicI64,
}

impl DevClock {
    pub fn offset(&self) -> Duration {
        Duration::milliseconds(self.offset_millis.load(Ordering::SeqCst))
    }

    pub fn set(&self, now: DateTime<Utc>) {
        let offset = now - Utc::now();
        self.offset_millis
            .store(offset.num_milliseconds(), Ordering::SeqCst);
    }

    pub fn advance(&self, by: Duration) {
        self.offset_millis
            .fetch_add(by.num_milliseconds(), Ordering::SeqCst);
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
        c.set(target);
        assert!((c.now() - target).num_seconds().abs() <= 1);
        c.advance(Duration::days(30));
        assert!(
            (c.now() - (target + Duration::days(30)))
                .num_seconds()
                .abs()
                <= 1
        );
    }
}

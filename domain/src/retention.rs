//! How long the portal keeps rows that have done their work: login sessions once they are over,
//! and the answers stored for idempotency keys. Forgetting them keeps the tables small and keeps
//! no more about citizens' log-ins than the usage log itself records.
//!
//! The usage log, the outbox and the health-related choices are not covered here: they have
//! their own rules (the usage log is kept in full, a summary care record's data is deleted by its
//! purge).

use chrono::{DateTime, Duration, Utc};

use crate::session::SessionPolicy;

/// A session's row is kept this long after the session is over (ended by logout, idle, or at its
/// absolute limit), so that a client that comes back the same day is still told its session
/// expired rather than that it never had one.
pub fn session_kept_after_over() -> Duration {
    Duration::days(1)
}

/// An idempotency key and its stored answer are kept this long after the first request: a retry
/// within it gets the same answer; a request with the key after it is new. Documented in the API
/// (`Idempotency-Key` of the access reports).
pub fn idempotency_key_kept() -> Duration {
    Duration::days(7)
}

/// The instants at or before which a row may be forgotten at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    /// A session ended (logout, or found expired) at or before this.
    pub session_ended: DateTime<Utc>,
    /// A session last used at or before this (idle for its timeout plus the keeping time).
    pub session_last_seen: DateTime<Utc>,
    /// A session created at or before this (its absolute limit plus the keeping time).
    pub session_created: DateTime<Utc>,
    /// An idempotency key first used at or before this.
    pub idempotency_key_created: DateTime<Utc>,
}

pub fn cutoffs(now: DateTime<Utc>, policy: SessionPolicy) -> Cutoffs {
    let keep = session_kept_after_over();
    Cutoffs {
        session_ended: now - keep,
        session_last_seen: now - policy.idle - keep,
        session_created: now - policy.absolute - keep,
        idempotency_key_created: now - idempotency_key_kept(),
    }
}

/// Whether a session row may be forgotten at `now`: it has been over for at least
/// [`session_kept_after_over`]. The same rule as [`cutoffs`], one row at a time.
pub fn session_forgettable(
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    ended_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    policy: SessionPolicy,
) -> bool {
    let c = cutoffs(now, policy);
    ended_at.is_some_and(|e| e <= c.session_ended)
        || last_seen_at <= c.session_last_seen
        || created_at <= c.session_created
}

/// Whether an idempotency key first used at `created_at` may be forgotten at `now`.
pub fn idempotency_key_forgettable(created_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    created_at <= now - idempotency_key_kept()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn policy() -> SessionPolicy {
        SessionPolicy {
            idle: Duration::minutes(30),
            absolute: Duration::hours(8),
        }
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap()
    }

    const SECOND: Duration = Duration::seconds(1);

    #[test]
    fn an_ended_session_is_kept_for_a_day_to_the_second() {
        let created = t0();
        let ended = t0() + Duration::minutes(5);
        // Used just before logging out; neither timeout has come a day before the checks.
        let last = ended;
        let day_after = ended + Duration::days(1);
        let keep = |now| session_forgettable(created, last, Some(ended), now, policy());
        assert!(
            !keep(day_after - SECOND),
            "the last second of the day after"
        );
        assert!(keep(day_after), "a day after it ended");
    }

    #[test]
    fn an_idle_session_is_forgotten_a_day_after_its_idle_timeout() {
        let created = t0();
        let last = t0() + Duration::minutes(10);
        let over = last + Duration::minutes(30);
        let f = |now| session_forgettable(created, last, None, now, policy());
        assert!(!f(over), "over, and still told so");
        assert!(!f(over + Duration::days(1) - SECOND));
        assert!(f(over + Duration::days(1)));
    }

    #[test]
    fn a_busy_session_is_forgotten_a_day_after_its_absolute_limit() {
        let created = t0();
        let limit = t0() + Duration::hours(8);
        // Used every minute up to its limit: the idle rule never applies first.
        let last = limit - SECOND;
        let f = |now| session_forgettable(created, last, None, now, policy());
        assert!(!f(limit + Duration::days(1) - SECOND));
        assert!(f(limit + Duration::days(1)));
    }

    #[test]
    fn a_live_session_is_never_forgotten() {
        let now = t0() + Duration::minutes(20);
        assert!(!session_forgettable(
            t0(),
            now - SECOND,
            None,
            now,
            policy()
        ));
    }

    #[test]
    fn an_idempotency_key_is_kept_for_seven_days_to_the_second() {
        let week = t0() + Duration::days(7);
        assert!(!idempotency_key_forgettable(t0(), week - SECOND));
        assert!(idempotency_key_forgettable(t0(), week));
    }

    #[test]
    fn the_cutoffs_are_the_rules_for_many_rows() {
        let now = t0();
        let c = cutoffs(now, policy());
        assert_eq!(c.session_ended, now - Duration::days(1));
        assert_eq!(
            c.session_last_seen,
            now - Duration::minutes(30) - Duration::days(1)
        );
        assert_eq!(
            c.session_created,
            now - Duration::hours(8) - Duration::days(1)
        );
        assert_eq!(c.idempotency_key_created, now - Duration::days(7));
    }
}

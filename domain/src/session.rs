//! When a login session is still good: an idle timeout and an absolute one.

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused for this long is over.
    pub idle: Duration,
    /// A session this old is over however busy it is.
    pub absolute: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    Valid,
    IdleExpired,
    AbsoluteExpired,
}

/// The state of a session created at `created_at` and last used at `last_seen_at`.
/// Valid up to the last second before `last_seen_at + idle` and before `created_at + absolute`;
/// over from that instant on.
pub fn session_state(
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    now: DateTime<Utc>,
    policy: SessionPolicy,
) -> SessionState {
    if now >= created_at + policy.absolute {
        SessionState::AbsoluteExpired
    } else if now >= last_seen_at + policy.idle {
        SessionState::IdleExpired
    } else {
        SessionState::Valid
    }
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

    #[test]
    fn idle_timeout_boundary() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        let last = t0 + Duration::minutes(10);
        let limit = last + Duration::minutes(30);
        assert_eq!(
            session_state(t0, last, limit - Duration::seconds(1), policy()),
            SessionState::Valid
        );
        assert_eq!(
            session_state(t0, last, limit, policy()),
            SessionState::IdleExpired
        );
    }

    #[test]
    fn absolute_timeout_boundary_wins_over_activity() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        let limit = t0 + Duration::hours(8);
        let last = limit - Duration::seconds(2);
        assert_eq!(
            session_state(t0, last, limit - Duration::seconds(1), policy()),
            SessionState::Valid
        );
        assert_eq!(
            session_state(t0, last, limit, policy()),
            SessionState::AbsoluteExpired
        );
    }
}

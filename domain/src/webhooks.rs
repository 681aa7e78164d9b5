//! Webhook deliveries of change-feed events (DESIGN §3 "API conventions"; the Standard Webhooks
//! specification): which events an endpoint asked for, and what follows an attempt.
//!
//! A delivery is retried with exponential backoff and jitter until it succeeds or
//! `max_attempts` have failed; an endpoint that answers 410 Gone has said it no longer exists,
//! so it is disabled and nothing more is sent to it. Deliveries are at least once: a consumer
//! deduplicates by the `webhook-id` header, which is the same on every retry of a message.

use chrono::{DateTime, Utc};

pub use crate::retry::retry_delay;

/// Whether `filter` (an event type, a prefix ending in `.*`, or `*`) takes events of `event_type`.
pub fn filter_matches(filter: &str, event_type: &str) -> bool {
    match filter.strip_suffix('*') {
        Some("") => true,
        Some(prefix) if prefix.ends_with('.') => event_type.starts_with(prefix),
        _ => filter == event_type,
    }
}

/// Whether an endpoint with `filters` (empty: every event) takes `event_type`.
pub fn wants(filters: &[String], event_type: &str) -> bool {
    filters.is_empty() || filters.iter().any(|f| filter_matches(f, event_type))
}

/// Whether `filter` is well-formed: `*`, or dot-separated lowercase words (letters and `_`),
/// the last of which may be `*`.
pub fn filter_is_valid(filter: &str) -> bool {
    if filter == "*" {
        return true;
    }
    let words: Vec<&str> = filter.split('.').collect();
    let Some((last, first)) = words.split_last() else {
        return false;
    };
    let word = |w: &&str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    !first.is_empty() && first.iter().all(word) && (*last == "*" || word(last))
}

/// What an attempt's answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterAttempt {
    /// A 2xx answer: the message is delivered.
    Delivered,
    /// Try again at this time.
    Retry { at: DateTime<Utc> },
    /// `max_attempts` failed: stop.
    GiveUp,
    /// 410 Gone: the endpoint is disabled and its pending messages are not sent.
    DisableEndpoint,
}

/// Decides what follows the `attempts`-th attempt (1-based), answered with HTTP `status` (none on
/// a network error or timeout), at `now`.
pub fn after_attempt(
    status: Option<u16>,
    attempts: u32,
    max_attempts: u32,
    base_seconds: u64,
    jitter: f64,
    now: DateTime<Utc>,
) -> AfterAttempt {
    match status {
        Some(s) if (200..300).contains(&s) => AfterAttempt::Delivered,
        Some(410) => AfterAttempt::DisableEndpoint,
        _ if attempts >= max_attempts => AfterAttempt::GiveUp,
        _ => AfterAttempt::Retry {
            at: now + retry_delay(attempts, base_seconds, jitter),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    #[test]
    fn filters_take_exact_types_prefixes_and_everything() {
        assert!(filter_matches("*", "terms.accepted"));
        assert!(filter_matches(
            "summary_care_record.*",
            "summary_care_record.opted_out"
        ));
        assert!(!filter_matches(
            "summary_care_record.*",
            "summary_care_records.x"
        ));
        assert!(filter_matches(
            "objection.registered",
            "objection.registered"
        ));
        assert!(!filter_matches(
            "objection.registered",
            "objection.withdrawn"
        ));
        assert!(wants(&[], "anything.at_all"));
        assert!(wants(
            &["terms.*".into(), "objection.registered".into()],
            "objection.registered"
        ));
        assert!(!wants(&["terms.*".into()], "objection.registered"));
    }

    #[test]
    fn only_well_formed_filters_are_valid() {
        for ok in ["*", "terms.*", "summary_care_record.opted_out", "a.b.c"] {
            assert!(filter_is_valid(ok), "{ok}");
        }
        for bad in [
            "", "terms", ".x", "x.", "Terms.x", "a.*.b", "a b.c", "a.b*", "**",
        ] {
            assert!(!filter_is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn an_answer_decides_the_next_step() {
        let now = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap();
        let next = |status, attempts| after_attempt(status, attempts, 3, 10, 0.0, now);
        assert_eq!(next(Some(200), 1), AfterAttempt::Delivered);
        assert_eq!(next(Some(204), 3), AfterAttempt::Delivered);
        assert_eq!(next(Some(410), 1), AfterAttempt::DisableEndpoint);
        assert_eq!(
            next(Some(500), 1),
            AfterAttempt::Retry {
                at: now + Duration::seconds(10)
            }
        );
        assert_eq!(
            next(None, 2),
            AfterAttempt::Retry {
                at: now + Duration::seconds(20)
            }
        );
        // A redirect is not a delivery: the worker does not follow redirects.
        assert!(matches!(next(Some(301), 1), AfterAttempt::Retry { .. }));
        assert_eq!(next(Some(500), 3), AfterAttempt::GiveUp);
        assert_eq!(next(None, 3), AfterAttempt::GiveUp);
    }
}

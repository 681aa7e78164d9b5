//! Retrying a delivery that failed (webhooks, email): exponential backoff with jitter.

use chrono::Duration;

/// The longest wait between two attempts.
pub const MAX_RETRY_DELAY_SECONDS: i64 = 3600;

/// The wait after the `attempts`-th failed attempt (1-based): `base` doubled for each earlier
/// failure, capped at an hour, then scaled by `jitter` (a number in [-1, 1] from the caller's
/// random source) by up to ±20 %, so that deliveries failed together do not retry together.
/// Never less than a second.
pub fn retry_delay(attempts: u32, base_seconds: u64, jitter: f64) -> Duration {
    let doublings = attempts.saturating_sub(1).min(20);
    let base = i64::try_from(base_seconds).unwrap_or(MAX_RETRY_DELAY_SECONDS);
    let plain = base
        .saturating_mul(1_i64 << doublings)
        .min(MAX_RETRY_DELAY_SECONDS);
    let factor = 1.0 + 0.2 * jitter.clamp(-1.0, 1.0);
    // Whole milliseconds: `plain` is at most an hour, so the product fits easily.
    let millis = (plain as f64 * 1000.0 * factor).round() as i64;
    Duration::milliseconds(millis.max(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_from_the_base_up_to_an_hour_with_bounded_jitter() {
        assert_eq!(retry_delay(1, 10, 0.0), Duration::seconds(10));
        assert_eq!(retry_delay(2, 10, 0.0), Duration::seconds(20));
        assert_eq!(retry_delay(3, 10, 0.0), Duration::seconds(40));
        assert_eq!(retry_delay(30, 10, 0.0), Duration::seconds(3600));
        assert_eq!(retry_delay(1, 10, 1.0), Duration::seconds(12));
        assert_eq!(retry_delay(1, 10, -1.0), Duration::seconds(8));
        assert_eq!(retry_delay(1, 10, 7.0), Duration::seconds(12), "clamped");
        // Never less than a second.
        assert_eq!(retry_delay(1, 1, -1.0), Duration::seconds(1));
    }
}

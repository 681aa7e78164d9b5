//! The dev clock (dev mode only): lets black-box tests cross a birthday or a 30-day window.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"now": "2026-12-16T08:00:00Z", "offset_seconds": 1382400}))]
pub struct ClockState {
    /// The server's "now".
    pub now: DateTime<Utc>,
    /// How far the dev clock is ahead of (positive) or behind the system clock, in seconds.
    pub offset_seconds: i64,
}

/// Set the clock to an instant.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"now": "2026-12-16T08:00:00Z"}))]
pub struct SetClock {
    pub now: DateTime<Utc>,
}

/// Move the clock forward (or back, with a negative number).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"seconds": 86400}))]
pub struct AdvanceClock {
    pub seconds: i64,
}

/// What a housekeeping run forgot (`domain::retention`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"sessions": 3, "idempotency_keys": 120}))]
pub struct HousekeepingRun {
    /// Session rows over for at least a day.
    pub sessions: usize,
    /// Idempotency keys first used at least seven days ago.
    pub idempotency_keys: usize,
}

//! The dev clock (dev mode only): lets black-box tests cross a birthday or a 30-day window.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ClockState {
    /// The server's "now".
    pub now: DateTime<Utc>,
    /// How far the dev clock is ahead of (positive) or behind the system clock, in seconds.
    pub offset_seconds: i64,
}

/// Set the clock to an instant.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetClock {
    pub now: DateTime<Utc>,
}

/// Move the clock forward (or back, with a negative number).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvanceClock {
    pub seconds: i64,
}

//! Opting out of the summary care record ("reservasjon mot kjernejournal"), DESIGN §2.4; source
//! 003 ("If you have opted out of having a Summary care record, you can change your mind within
//! 30 days and ask to have the data in your Summary care record restored. If you subsequently
//! decide that you would like a Summary care record after all, you must ask to have a new one
//! created. The Summary care record will then not contain historical data").
//!
//! A state machine of (state, now), with no job needed for a decision:
//!
//! ```text
//!   Active ──opt_out──▶ OptedOut ──restore (before the deadline)──▶ Active (data back)
//!                          │
//!                          └─ at the deadline: order_purge (exactly once) ──▶ Purged
//!   Purged ──new_record──▶ Active (empty, started that day)
//!   OptedOut past the deadline ──new_record──▶ purge ordered, then Active (empty)
//! ```
//!
//! **"Within 30 days", exactly:** an opt-out made at any moment of the Oslo calendar day D may be
//! restored until the end of day D + 30 in Europe/Oslo, that is strictly before 00:00
//! Europe/Oslo on day D + 31 ([`restore_deadline`]). Counting calendar days in Oslo (not 30 × 24
//! hours) keeps the deadline at local midnight across daylight-saving changes, when one of the
//! days has 23 or 25 hours. From the deadline on, restoring is refused and the purge is due.

use chrono::{DateTime, Duration, Utc};
use thiserror::Error;

use crate::clock::{oslo_date, oslo_midnight};

/// Oslo calendar days within which an opt-out can be undone (DESIGN §2.4, source 003).
pub const RESTORE_DAYS: i64 = 30;

/// The state of a citizen's summary care record as the portal knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordState {
    /// The record exists. `started_at` is set when it is a new record made after a purge: it
    /// holds data from that moment only.
    Active { started_at: Option<DateTime<Utc>> },
    /// Opted out at `at`: unavailable to health personnel, nothing may be registered; the data
    /// is kept until the restore deadline.
    OptedOut {
        at: DateTime<Utc>,
        /// `started_at` of the record that was opted out of (kept so a restore brings it back
        /// as it was).
        record_started_at: Option<DateTime<Utc>>,
    },
    /// The deletion was ordered at `purge_ordered_at`; nothing can be restored.
    Purged {
        opted_out_at: DateTime<Utc>,
        purge_ordered_at: DateTime<Utc>,
    },
}

impl Default for RecordState {
    /// Everyone has a summary care record until they opt out.
    fn default() -> RecordState {
        RecordState::Active { started_at: None }
    }
}

/// The first instant at which an opt-out made at `opted_out_at` can no longer be restored.
pub fn restore_deadline(opted_out_at: DateTime<Utc>) -> DateTime<Utc> {
    oslo_midnight(oslo_date(opted_out_at) + Duration::days(RESTORE_DAYS + 1))
}

/// What the citizen can do now, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Possible {
    /// The record is active: the citizen may opt out.
    OptOut,
    /// The citizen may restore the opted-out record until (not including) `until`.
    Restore { until: DateTime<Utc> },
    /// The data is deleted or due for deletion: the citizen may ask for a new, empty record.
    NewRecord,
}

/// What is possible in `state` at `now`.
pub fn possible(state: &RecordState, now: DateTime<Utc>) -> Possible {
    match state {
        RecordState::Active { .. } => Possible::OptOut,
        RecordState::OptedOut { at, .. } if now < restore_deadline(*at) => Possible::Restore {
            until: restore_deadline(*at),
        },
        RecordState::OptedOut { .. } | RecordState::Purged { .. } => Possible::NewRecord,
    }
}

/// Whether health personnel may read or register in the record now.
pub fn is_available(state: &RecordState) -> bool {
    matches!(state, RecordState::Active { .. })
}

/// A transition that happened: each is one usage-log entry and one change-feed event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    OptedOut,
    Restored,
    /// The deletion of the opted-out data was ordered (once per opt-out).
    PurgeOrdered,
    NewRecord,
}

impl Transition {
    /// The action name in the usage log and the change feed.
    pub fn action(self) -> &'static str {
        match self {
            Transition::OptedOut => "summary_care_record.opted_out",
            Transition::Restored => "summary_care_record.restored",
            Transition::PurgeOrdered => "summary_care_record.purge_ordered",
            Transition::NewRecord => "summary_care_record.new_record",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RecordError {
    #[error("the summary care record is already opted out of")]
    AlreadyOptedOut,
    #[error("the summary care record is not opted out of")]
    NotOptedOut,
    /// The 30 days have passed: the data is deleted or due for deletion. A new record is
    /// possible.
    #[error("the 30 days to restore have passed; a new, empty record can be made")]
    RestoreWindowClosed,
    /// Within the 30 days the opted-out record can be restored; a new record would lose it.
    #[error("the opted-out record can still be restored")]
    RestoreStillPossible { until: DateTime<Utc> },
    #[error("the summary care record is active")]
    AlreadyActive,
}

/// The state after opting out at `now`.
pub fn opt_out(state: &RecordState, now: DateTime<Utc>) -> Result<RecordState, RecordError> {
    match state {
        RecordState::Active { started_at } => Ok(RecordState::OptedOut {
            at: now,
            record_started_at: *started_at,
        }),
        RecordState::OptedOut { .. } | RecordState::Purged { .. } => {
            Err(RecordError::AlreadyOptedOut)
        }
    }
}

/// The state after restoring at `now`: the record comes back as it was.
pub fn restore(state: &RecordState, now: DateTime<Utc>) -> Result<RecordState, RecordError> {
    match (state, possible(state, now)) {
        (
            RecordState::OptedOut {
                record_started_at, ..
            },
            Possible::Restore { .. },
        ) => Ok(RecordState::Active {
            started_at: *record_started_at,
        }),
        (RecordState::OptedOut { .. } | RecordState::Purged { .. }, _) => {
            Err(RecordError::RestoreWindowClosed)
        }
        (RecordState::Active { .. }, _) => Err(RecordError::NotOptedOut),
    }
}

/// The purge to order at `now`, if one is due: an opt-out whose deadline has come. `None` in
/// every other state, so ordering twice is impossible from the state alone.
pub fn purge_due(state: &RecordState, now: DateTime<Utc>) -> Option<RecordState> {
    match state {
        RecordState::OptedOut { at, .. } if now >= restore_deadline(*at) => {
            Some(RecordState::Purged {
                opted_out_at: *at,
                purge_ordered_at: now,
            })
        }
        _ => None,
    }
}

/// The transitions and final state of asking for a new record at `now`: from `Purged`, a new
/// empty record; from an opt-out past its deadline, the due purge first, then the new record.
pub fn new_record(
    state: &RecordState,
    now: DateTime<Utc>,
) -> Result<(Vec<(Transition, RecordState)>, RecordState), RecordError> {
    let fresh = RecordState::Active {
        started_at: Some(now),
    };
    match state {
        RecordState::Active { .. } => Err(RecordError::AlreadyActive),
        RecordState::Purged { .. } => Ok((vec![(Transition::NewRecord, fresh)], fresh)),
        RecordState::OptedOut { at, .. } => match purge_due(state, now) {
            Some(purged) => Ok((
                vec![
                    (Transition::PurgeOrdered, purged),
                    (Transition::NewRecord, fresh),
                ],
                fresh,
            )),
            None => Err(RecordError::RestoreStillPossible {
                until: restore_deadline(*at),
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};

    fn oslo(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        oslo_midnight(NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    fn opted_out(at: DateTime<Utc>) -> RecordState {
        RecordState::OptedOut {
            at,
            record_started_at: None,
        }
    }

    #[test]
    fn the_deadline_is_the_end_of_the_thirtieth_oslo_day() {
        // Opted out on 23 November at 13:00 Oslo: restorable through 23 December.
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        assert_eq!(restore_deadline(at), oslo(2026, 12, 24));
        // The first and last second of the same Oslo day give the same deadline.
        assert_eq!(restore_deadline(oslo(2026, 11, 23)), oslo(2026, 12, 24));
        assert_eq!(
            restore_deadline(oslo(2026, 11, 24) - Duration::seconds(1)),
            oslo(2026, 12, 24)
        );
    }

    #[test]
    fn restore_until_the_last_second_and_not_the_first_after() {
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        let state = opted_out(at);
        let last = oslo(2026, 12, 24) - Duration::seconds(1);
        assert_eq!(
            restore(&state, last),
            Ok(RecordState::Active { started_at: None })
        );
        assert_eq!(
            possible(&state, last),
            Possible::Restore {
                until: oslo(2026, 12, 24)
            }
        );
        assert_eq!(purge_due(&state, last), None);
        let first_after = oslo(2026, 12, 24);
        assert_eq!(
            restore(&state, first_after),
            Err(RecordError::RestoreWindowClosed)
        );
        assert_eq!(possible(&state, first_after), Possible::NewRecord);
        assert!(purge_due(&state, first_after).is_some());
    }

    #[test]
    fn a_window_across_the_end_of_summer_time_ends_at_local_midnight() {
        // Opted out 10 October 2026 (CEST, UTC+2); summer time ends 25 October; the deadline
        // is 00:00 CET (UTC+1) on 10 November, i.e. 23:00 UTC on 9 November: 30 × 24 h + 1 h.
        let at = Utc.with_ymd_and_hms(2026, 10, 10, 8, 0, 0).unwrap();
        let deadline = restore_deadline(at);
        assert_eq!(
            deadline,
            Utc.with_ymd_and_hms(2026, 11, 9, 23, 0, 0).unwrap()
        );
        assert_eq!(deadline, oslo(2026, 11, 10));
        let state = opted_out(at);
        assert!(restore(&state, deadline - Duration::seconds(1)).is_ok());
        assert!(restore(&state, deadline).is_err());
    }

    #[test]
    fn a_window_across_the_start_of_summer_time_ends_at_local_midnight() {
        // Opted out 10 March 2027 (CET); summer time begins 28 March; the deadline is 00:00
        // CEST on 10 April = 22:00 UTC on 9 April.
        let at = Utc.with_ymd_and_hms(2027, 3, 10, 22, 30, 0).unwrap();
        // 23:30 Oslo on 10 March: still 10 March.
        assert_eq!(
            restore_deadline(at),
            Utc.with_ymd_and_hms(2027, 4, 9, 22, 0, 0).unwrap()
        );
    }

    #[test]
    fn opt_out_only_from_active() {
        let now = oslo(2026, 11, 23);
        let s = opt_out(&RecordState::default(), now).unwrap();
        assert_eq!(s, opted_out(now));
        assert!(!is_available(&s));
        assert_eq!(opt_out(&s, now), Err(RecordError::AlreadyOptedOut));
        let purged = purge_due(&s, restore_deadline(now)).unwrap();
        assert_eq!(opt_out(&purged, now), Err(RecordError::AlreadyOptedOut));
    }

    #[test]
    fn restore_brings_back_the_record_that_was_opted_out_of() {
        let started = oslo(2025, 1, 1);
        let active = RecordState::Active {
            started_at: Some(started),
        };
        let out = opt_out(&active, oslo(2026, 11, 23)).unwrap();
        assert_eq!(restore(&out, oslo(2026, 11, 24)), Ok(active));
        assert_eq!(
            restore(&active, oslo(2026, 11, 24)),
            Err(RecordError::NotOptedOut)
        );
    }

    #[test]
    fn the_purge_is_due_once() {
        let at = oslo(2026, 11, 23);
        let due = restore_deadline(at);
        let purged = purge_due(&opted_out(at), due).unwrap();
        assert_eq!(
            purged,
            RecordState::Purged {
                opted_out_at: at,
                purge_ordered_at: due
            }
        );
        assert_eq!(purge_due(&purged, due + Duration::days(5)), None);
        assert_eq!(purge_due(&RecordState::default(), due), None);
        assert_eq!(
            restore(&purged, due + Duration::days(400)),
            Err(RecordError::RestoreWindowClosed)
        );
    }

    #[test]
    fn a_new_record_after_the_purge_starts_empty_that_day() {
        let at = oslo(2026, 11, 23);
        let purged = purge_due(&opted_out(at), restore_deadline(at)).unwrap();
        let later = restore_deadline(at) + Duration::days(3);
        let (steps, state) = new_record(&purged, later).unwrap();
        assert_eq!(
            state,
            RecordState::Active {
                started_at: Some(later)
            }
        );
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].0, Transition::NewRecord);
        assert_eq!(new_record(&state, later), Err(RecordError::AlreadyActive));
    }

    #[test]
    fn a_new_record_within_the_window_is_refused_and_after_it_orders_the_purge_first() {
        let at = oslo(2026, 11, 23);
        let deadline = restore_deadline(at);
        assert_eq!(
            new_record(&opted_out(at), deadline - Duration::seconds(1)),
            Err(RecordError::RestoreStillPossible { until: deadline })
        );
        let (steps, state) = new_record(&opted_out(at), deadline).unwrap();
        let kinds: Vec<_> = steps.iter().map(|(t, _)| *t).collect();
        assert_eq!(kinds, vec![Transition::PurgeOrdered, Transition::NewRecord]);
        assert!(is_available(&state));
    }
}

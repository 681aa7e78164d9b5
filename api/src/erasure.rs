//! What withdrawing the terms consent erases in this backend (DESIGN §2.2; issue 8), in the
//! transaction of the withdrawal.
//!
//! | deleted | kept, and why |
//! |---|---|
//! | contact details, confirmation links, planned messages | the terms consent's history: the record of what was agreed and when |
//! | the digital access switches | the summary care record opt-out, its purge record, blocks, objections and their openings: choices the law requires to keep (source 004 §10; DESIGN §2.4) |
//! | usage-log entries older than `USAGE_LOG_RETENTION_DAYS` | newer entries, and the anchor of the cut, so the chain still verifies (`consent-portal verify-log`) |
//! | | data-subject requests: the organisation's record of how it answered |
//! | | powers of attorney that ended (live ones block the withdrawal): the other party's history too |
//!
//! Nothing is sent to the citizen afterwards: their address is gone.

use chrono::{DateTime, Utc};
use domain::usage_log::retention_cutoff;
use persistence::{access_switches, notifications, usage_log, AnyConnection};

/// What was erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Erased {
    pub contact_rows: usize,
    pub switch_rows: usize,
    pub log_entries: usize,
}

pub fn on_withdrawal(
    conn: &mut AnyConnection,
    citizen_id: &str,
    retention_days: i64,
    now: DateTime<Utc>,
) -> Result<Erased, persistence::StoreError> {
    Ok(Erased {
        contact_rows: notifications::erase(conn, citizen_id)?,
        switch_rows: access_switches::delete(conn, citizen_id)?,
        log_entries: usage_log::cut_before(
            conn,
            citizen_id,
            retention_cutoff(now, retention_days),
            now,
        )?,
    })
}

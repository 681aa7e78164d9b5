//! The summary care record's opt-out state as stored, and the record of every purge ordered.

use crate::db::{from_db, to_db, AnyConnection, StoreError};
use crate::schema::{summary_care_record_purges as purges, summary_care_records as scr};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::summary_care_record::RecordState;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = scr, treat_none_as_null = true, treat_none_as_default_value = false)]
struct Row {
    citizen_id: String,
    state: String,
    record_started_at: Option<NaiveDateTime>,
    opted_out_at: Option<NaiveDateTime>,
    purge_ordered_at: Option<NaiveDateTime>,
    updated_at: NaiveDateTime,
}

fn state_of(r: &Row) -> Result<RecordState, StoreError> {
    let missing = |what: &str| StoreError::Corrupt(format!("summary care record {what} missing"));
    Ok(match r.state.as_str() {
        "active" => RecordState::Active {
            started_at: r.record_started_at.map(from_db),
        },
        "opted_out" => RecordState::OptedOut {
            at: from_db(r.opted_out_at.ok_or_else(|| missing("opted_out_at"))?),
            record_started_at: r.record_started_at.map(from_db),
        },
        "purged" => RecordState::Purged {
            opted_out_at: from_db(r.opted_out_at.ok_or_else(|| missing("opted_out_at"))?),
            purge_ordered_at: from_db(
                r.purge_ordered_at
                    .ok_or_else(|| missing("purge_ordered_at"))?,
            ),
        },
        other => {
            return Err(StoreError::Corrupt(format!(
                "summary care record state {other:?}"
            )))
        }
    })
}

fn row_of(citizen_id: &str, s: &RecordState, now: DateTime<Utc>) -> Row {
    let (state, started, out, purged) = match s {
        RecordState::Active { started_at } => ("active", *started_at, None, None),
        RecordState::OptedOut {
            at,
            record_started_at,
        } => ("opted_out", *record_started_at, Some(*at), None),
        RecordState::Purged {
            opted_out_at,
            purge_ordered_at,
        } => ("purged", None, Some(*opted_out_at), Some(*purge_ordered_at)),
    };
    Row {
        citizen_id: citizen_id.to_owned(),
        state: state.to_owned(),
        record_started_at: started.map(to_db),
        opted_out_at: out.map(to_db),
        purge_ordered_at: purged.map(to_db),
        updated_at: to_db(now),
    }
}

/// The citizen's state (active when never opted out).
pub fn get(conn: &mut AnyConnection, citizen_id: &str) -> Result<RecordState, StoreError> {
    scr::table
        .find(citizen_id)
        .select(Row::as_select())
        .get_result(conn)
        .optional()?
        .map_or(Ok(RecordState::default()), |r| state_of(&r))
}

/// Stores the citizen's new state. Call in the transaction that decided it, after locking the
/// citizen (`db::lock_citizen`).
pub fn put(
    conn: &mut AnyConnection,
    citizen_id: &str,
    state: &RecordState,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = row_of(citizen_id, state, now);
    let n = diesel::update(scr::table.find(citizen_id))
        .set(&row)
        .execute(conn)?;
    if n == 0 {
        diesel::insert_into(scr::table).values(&row).execute(conn)?;
    }
    Ok(())
}

/// Records that the purge of the opt-out made at `opted_out_at` was ordered. The key
/// (citizen, opt-out) makes a second order for the same opt-out a unique violation: a retryable
/// conflict for a concurrent orderer, who then finds the state already purged.
pub fn record_purge(
    conn: &mut AnyConnection,
    citizen_id: &str,
    opted_out_at: DateTime<Utc>,
    now: DateTime<Utc>,
    ordered_by: &str,
) -> Result<(), StoreError> {
    diesel::insert_into(purges::table)
        .values((
            purges::citizen_id.eq(citizen_id),
            purges::opted_out_at.eq(to_db(opted_out_at)),
            purges::ordered_at.eq(to_db(now)),
            purges::ordered_by.eq(ordered_by),
        ))
        .execute(conn)?;
    Ok(())
}

/// How many purges were ordered for the citizen (an operator's and a test's check).
pub fn purges_ordered(conn: &mut AnyConnection, citizen_id: &str) -> Result<i64, StoreError> {
    Ok(purges::table
        .filter(purges::citizen_id.eq(citizen_id))
        .count()
        .get_result(conn)?)
}

/// Citizens opted out before `cutoff`, oldest first, at most `limit`: the candidates whose purge
/// may be due (the rule decides, per citizen, in its own transaction).
pub fn opted_out_before(
    conn: &mut AnyConnection,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    Ok(scr::table
        .filter(scr::state.eq("opted_out"))
        .filter(scr::opted_out_at.lt(to_db(cutoff)))
        .order(scr::opted_out_at)
        .limit(limit)
        .select(scr::citizen_id)
        .load(conn)?)
}

//! The usage log: appending to a citizen's hash chain, paging it, and verifying it.

use crate::db::{from_db, lock_citizen, to_db, AnyConnection, StoreError};
use crate::schema::{usage_log, usage_log_anchors};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::usage_log::{chain, ActorKind, ChainError, ChainVerifier, ChainedEntry, NewEntry};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = usage_log)]
struct Row {
    seq: i64,
    subject_id: String,
    at: NaiveDateTime,
    actor_kind: String,
    actor_id: String,
    action: String,
    details: String,
    prev_hash: String,
    hash: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = usage_log, treat_none_as_default_value = false)]
struct NewRow<'a> {
    subject_id: &'a str,
    seq: i64,
    at: NaiveDateTime,
    actor_kind: &'a str,
    actor_id: &'a str,
    action: &'a str,
    details: &'a str,
    prev_hash: &'a str,
    hash: &'a str,
}

impl TryFrom<Row> for ChainedEntry {
    type Error = StoreError;

    fn try_from(r: Row) -> Result<ChainedEntry, StoreError> {
        Ok(ChainedEntry {
            seq: r.seq,
            subject_id: r.subject_id,
            at: from_db(r.at),
            actor_kind: ActorKind::parse(&r.actor_kind)
                .ok_or_else(|| StoreError::Corrupt(format!("actor kind {:?}", r.actor_kind)))?,
            actor_id: r.actor_id,
            action: r.action,
            details: r.details,
            prev_hash: r.prev_hash,
            hash: r.hash,
        })
    }
}

/// Appends `entry` to its subject's chain. Call inside the transaction that makes the change the
/// entry records. On PostgreSQL the subject's row is locked so concurrent appends queue up; the
/// unique `(subject_id, seq)` makes any race a retryable conflict rather than a fork.
pub fn append(conn: &mut AnyConnection, entry: NewEntry) -> Result<ChainedEntry, StoreError> {
    lock_citizen(conn, &entry.subject_id)?;
    let last: Option<(i64, String)> = match usage_log::table
        .filter(usage_log::subject_id.eq(&entry.subject_id))
        .order(usage_log::seq.desc())
        .select((usage_log::seq, usage_log::hash))
        .first(conn)
        .optional()?
    {
        Some(last) => Some(last),
        // Every entry was cut under the retention rule: the chain goes on from its anchor.
        None => anchor(conn, &entry.subject_id)?,
    };
    let e = chain(entry, last.as_ref().map(|(s, h)| (*s, h.as_str())));
    diesel::insert_into(usage_log::table)
        .values(NewRow {
            subject_id: &e.subject_id,
            seq: e.seq,
            at: to_db(e.at),
            actor_kind: e.actor_kind.as_str(),
            actor_id: &e.actor_id,
            action: &e.action,
            details: &e.details,
            prev_hash: &e.prev_hash,
            hash: &e.hash,
        })
        .execute(conn)?;
    Ok(e)
}

/// A page of a subject's log, newest first, strictly before `before_seq` when given.
pub fn page(
    conn: &mut AnyConnection,
    subject_id: &str,
    before_seq: Option<i64>,
    limit: i64,
) -> Result<Vec<ChainedEntry>, StoreError> {
    let mut q = usage_log::table
        .filter(usage_log::subject_id.eq(subject_id))
        .into_boxed();
    if let Some(before) = before_seq {
        q = q.filter(usage_log::seq.lt(before));
    }
    q.order(usage_log::seq.desc())
        .limit(limit)
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(ChainedEntry::try_from)
        .collect()
}

/// Entries after `after_seq`, oldest first, at most `limit`: the export reads the log in pages of
/// this, never all of it at once.
pub fn after(
    conn: &mut AnyConnection,
    subject_id: &str,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<ChainedEntry>, StoreError> {
    usage_log::table
        .filter(usage_log::subject_id.eq(subject_id))
        .filter(usage_log::seq.gt(after_seq))
        .order(usage_log::seq.asc())
        .limit(limit)
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(ChainedEntry::try_from)
        .collect()
}

/// Where `subject_id`'s log begins after a cut: the last deleted entry's (seq, hash).
pub fn anchor(
    conn: &mut AnyConnection,
    subject_id: &str,
) -> Result<Option<(i64, String)>, StoreError> {
    Ok(usage_log_anchors::table
        .find(subject_id)
        .select((usage_log_anchors::seq, usage_log_anchors::hash))
        .get_result(conn)
        .optional()?)
}

/// Deletes the entries of `subject_id`'s log up to the newest one older than `cutoff` (a prefix
/// by position, so the rest stays one chain) and records the last deleted entry as the log's
/// anchor. Returns how many entries went.
pub fn cut_before(
    conn: &mut AnyConnection,
    subject_id: &str,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    lock_citizen(conn, subject_id)?;
    let last_old: Option<(i64, String)> = usage_log::table
        .filter(usage_log::subject_id.eq(subject_id))
        .filter(usage_log::at.lt(to_db(cutoff)))
        .order(usage_log::seq.desc())
        .select((usage_log::seq, usage_log::hash))
        .first(conn)
        .optional()?;
    let Some((seq, hash)) = last_old else {
        return Ok(0);
    };
    let gone = diesel::delete(
        usage_log::table
            .filter(usage_log::subject_id.eq(subject_id))
            .filter(usage_log::seq.le(seq)),
    )
    .execute(conn)?;
    let moved = diesel::update(usage_log_anchors::table.find(subject_id))
        .set((
            usage_log_anchors::seq.eq(seq),
            usage_log_anchors::hash.eq(&hash),
            usage_log_anchors::cut_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    if moved == 0 {
        diesel::insert_into(usage_log_anchors::table)
            .values((
                usage_log_anchors::subject_id.eq(subject_id),
                usage_log_anchors::seq.eq(seq),
                usage_log_anchors::hash.eq(&hash),
                usage_log_anchors::cut_at.eq(to_db(now)),
            ))
            .execute(conn)?;
    }
    Ok(gone)
}

/// Entry `seq` of `subject_id`'s log.
pub fn entry(
    conn: &mut AnyConnection,
    subject_id: &str,
    seq: i64,
) -> Result<Option<ChainedEntry>, StoreError> {
    usage_log::table
        .filter(usage_log::subject_id.eq(subject_id))
        .filter(usage_log::seq.eq(seq))
        .select(Row::as_select())
        .get_result(conn)
        .optional()?
        .map(ChainedEntry::try_from)
        .transpose()
}

/// Entries after `after_seq` (all when `None`) that someone other than the subject themself made,
/// oldest first, at most `limit`.
pub fn by_others_since(
    conn: &mut AnyConnection,
    subject_id: &str,
    after_seq: Option<i64>,
    limit: i64,
) -> Result<Vec<ChainedEntry>, StoreError> {
    let own = ActorKind::Citizen.as_str();
    usage_log::table
        .filter(usage_log::subject_id.eq(subject_id))
        .filter(usage_log::seq.gt(after_seq.unwrap_or(0)))
        .filter(
            usage_log::actor_kind
                .ne(own)
                .or(usage_log::actor_id.ne(subject_id)),
        )
        .order(usage_log::seq.asc())
        .limit(limit)
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(ChainedEntry::try_from)
        .collect()
}

/// Verifies a subject's whole chain, reading it in batches so a long log is never all in memory.
/// The outer error is a database failure; the inner one says where the chain is broken.
pub fn verify(
    conn: &mut AnyConnection,
    subject_id: &str,
) -> Result<Result<u64, ChainError>, StoreError> {
    const BATCH: i64 = 1000;
    let (mut verifier, mut after) = match anchor(conn, subject_id)? {
        Some((seq, hash)) => (ChainVerifier::after_anchor(subject_id, seq, &hash), seq),
        None => (ChainVerifier::new(subject_id), 0),
    };
    loop {
        let rows: Vec<Row> = usage_log::table
            .filter(usage_log::subject_id.eq(subject_id))
            .filter(usage_log::seq.gt(after))
            .order(usage_log::seq.asc())
            .limit(BATCH)
            .select(Row::as_select())
            .load(conn)?;
        if rows.is_empty() {
            return Ok(Ok(verifier.verified()));
        }
        for row in rows {
            let e = ChainedEntry::try_from(row)?;
            if let Err(broken) = verifier.push(&e) {
                return Ok(Err(broken));
            }
            after = e.seq;
        }
    }
}

/// One citizen's chain, verified: how many entries, or where it breaks.
pub type ChainReport = (String, Result<u64, ChainError>);

/// Verifies every citizen's chain.
pub fn verify_all(conn: &mut AnyConnection) -> Result<Vec<ChainReport>, StoreError> {
    let subjects: Vec<String> = crate::schema::citizens::table
        .select(crate::schema::citizens::id)
        .order(crate::schema::citizens::id.asc())
        .load(conn)?;
    subjects
        .into_iter()
        .map(|s| {
            let r = verify(conn, &s)?;
            Ok((s, r))
        })
        .collect()
}

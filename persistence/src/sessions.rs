//! Server-side sessions. Only a hash of the session id is stored, so a database reader cannot
//! take over a session.

use crate::db::{from_db, to_db, AnyConnection, StoreError};
use crate::schema::sessions;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions, treat_none_as_default_value = false)]
struct Row {
    id_hash: String,
    citizen_id: String,
    csrf_token: String,
    acr: Option<String>,
    created_at: NaiveDateTime,
    last_seen_at: NaiveDateTime,
    ended_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id_hash: String,
    pub citizen_id: String,
    pub csrf_token: String,
    pub acr: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

pub fn insert(conn: &mut AnyConnection, s: &Session) -> Result<(), StoreError> {
    diesel::insert_into(sessions::table)
        .values(Row {
            id_hash: s.id_hash.clone(),
            citizen_id: s.citizen_id.clone(),
            csrf_token: s.csrf_token.clone(),
            acr: s.acr.clone(),
            created_at: to_db(s.created_at),
            last_seen_at: to_db(s.last_seen_at),
            ended_at: None,
        })
        .execute(conn)?;
    Ok(())
}

/// The live (not ended) session with this id hash.
pub fn find_live(conn: &mut AnyConnection, id_hash: &str) -> Result<Option<Session>, StoreError> {
    let row: Option<Row> = sessions::table
        .find(id_hash)
        .filter(sessions::ended_at.is_null())
        .select(Row::as_select())
        .get_result(conn)
        .optional()?;
    Ok(row.map(|r| Session {
        id_hash: r.id_hash,
        citizen_id: r.citizen_id,
        csrf_token: r.csrf_token,
        acr: r.acr,
        created_at: from_db(r.created_at),
        last_seen_at: from_db(r.last_seen_at),
    }))
}

pub fn touch(
    conn: &mut AnyConnection,
    id_hash: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(sessions::table.find(id_hash))
        .set(sessions::last_seen_at.eq(to_db(now)))
        .execute(conn)?;
    Ok(())
}

/// Ends a session for good (logout or expiry). Returns whether a live session was ended.
pub fn end(
    conn: &mut AnyConnection,
    id_hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        sessions::table
            .find(id_hash)
            .filter(sessions::ended_at.is_null()),
    )
    .set(sessions::ended_at.eq(Some(to_db(now))))
    .execute(conn)?;
    Ok(n == 1)
}

/// Deletes every session over long enough ago to be forgotten (`domain::retention::cutoffs`):
/// ended at or before `ended`, last used at or before `last_seen`, or created at or before
/// `created`. Returns how many.
pub fn forget_over(
    conn: &mut AnyConnection,
    ended: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    created: DateTime<Utc>,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        sessions::table.filter(
            sessions::ended_at
                .le(to_db(ended))
                .or(sessions::last_seen_at.le(to_db(last_seen)))
                .or(sessions::created_at.le(to_db(created))),
        ),
    )
    .execute(conn)?)
}

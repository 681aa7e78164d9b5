//! Pending OIDC logins: what the callback needs to finish one (nonce, PKCE verifier), keyed by a
//! hash of `state` and bound to the browser that started it. Each is used at most once.

use crate::db::{from_db, to_db, AnyConnection, StoreError};
use crate::schema::login_requests;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = login_requests, treat_none_as_default_value = false)]
struct Row {
    state_hash: String,
    browser_hash: String,
    nonce: String,
    pkce_verifier: String,
    acr_values: String,
    created_at: NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct LoginRequest {
    pub state_hash: String,
    pub browser_hash: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub acr_values: String,
    pub created_at: DateTime<Utc>,
}

pub fn insert(conn: &mut AnyConnection, r: &LoginRequest) -> Result<(), StoreError> {
    diesel::insert_into(login_requests::table)
        .values(Row {
            state_hash: r.state_hash.clone(),
            browser_hash: r.browser_hash.clone(),
            nonce: r.nonce.clone(),
            pkce_verifier: r.pkce_verifier.clone(),
            acr_values: r.acr_values.clone(),
            created_at: to_db(r.created_at),
        })
        .execute(conn)?;
    Ok(())
}

/// Removes and returns the request for `state_hash`. A second call for the same state finds
/// nothing, so a callback can never be replayed.
pub fn take(
    conn: &mut AnyConnection,
    state_hash: &str,
) -> Result<Option<LoginRequest>, StoreError> {
    let row: Option<Row> = login_requests::table
        .find(state_hash)
        .select(Row::as_select())
        .get_result(conn)
        .optional()?;
    let Some(row) = row else {
        return Ok(None);
    };
    let deleted = diesel::delete(login_requests::table.find(state_hash)).execute(conn)?;
    if deleted != 1 {
        // Someone else took it between our read and our delete.
        return Ok(None);
    }
    Ok(Some(LoginRequest {
        state_hash: row.state_hash,
        browser_hash: row.browser_hash,
        nonce: row.nonce,
        pkce_verifier: row.pkce_verifier,
        acr_values: row.acr_values,
        created_at: from_db(row.created_at),
    }))
}

/// Forgets requests older than `before` (abandoned logins).
pub fn purge_older_than(
    conn: &mut AnyConnection,
    before: DateTime<Utc>,
) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(login_requests::table.filter(login_requests::created_at.lt(to_db(before))))
            .execute(conn)?,
    )
}

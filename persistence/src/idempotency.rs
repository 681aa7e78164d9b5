//! Idempotency keys: the first request with a key claims it; its answer is stored with the
//! change it made, so a repeat gets the same answer and the change happens once.

use crate::db::{to_db, AnyConnection, StoreError};
use crate::schema::idempotency_keys as keys;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// What a request finds when it presents its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new and now belongs to this request.
    Claimed,
    /// An earlier request with the same body finished with this answer.
    Done { status: u16, body: String },
    /// An earlier request with the same key is still being processed.
    InProgress,
    /// The key was used with another body.
    OtherRequest,
}

/// Claims `key` for `client_id` and a request whose body hashes to `request_hash`. Run it in its
/// own transaction, so that a concurrent request sees the claim.
pub fn claim(
    conn: &mut AnyConnection,
    client_id: &str,
    key: &str,
    request_hash: &str,
    now: DateTime<Utc>,
) -> Result<Claim, StoreError> {
    // In a savepoint: on PostgreSQL a failed insert would otherwise abort the whole transaction.
    let inserted = conn.transaction::<_, DieselError, _>(|c| {
        diesel::insert_into(keys::table)
            .values((
                keys::client_id.eq(client_id),
                keys::idempotency_key.eq(key),
                keys::request_hash.eq(request_hash),
                keys::created_at.eq(to_db(now)),
            ))
            .execute(c)
    });
    match inserted {
        Ok(_) => return Ok(Claim::Claimed),
        Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {}
        Err(e) => return Err(e.into()),
    }
    let found: Option<(String, Option<i32>, Option<String>)> = keys::table
        .find((client_id, key))
        .select((keys::request_hash, keys::status_code, keys::response_body))
        .get_result(conn)
        .optional()?;
    let Some((hash, status, body)) = found else {
        // Forgotten (`forget_created_before`) between the insert and this read: the key is
        // free again, so this request claims it.
        return claim(conn, client_id, key, request_hash, now);
    };
    Ok(if hash != request_hash {
        Claim::OtherRequest
    } else {
        match (status, body) {
            (Some(status), Some(body)) => Claim::Done {
                status: u16::try_from(status).unwrap_or(500),
                body,
            },
            _ => Claim::InProgress,
        }
    })
}

/// Stores the answer of the request that claimed the key (in the transaction of its change).
pub fn complete(
    conn: &mut AnyConnection,
    client_id: &str,
    key: &str,
    status: u16,
    body: &str,
) -> Result<(), StoreError> {
    diesel::update(keys::table.find((client_id, key)))
        .set((
            keys::status_code.eq(Some(i32::from(status))),
            keys::response_body.eq(Some(body)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Gives a claimed key back after its request failed, so the client can try again.
pub fn release(conn: &mut AnyConnection, client_id: &str, key: &str) -> Result<(), StoreError> {
    diesel::delete(
        keys::table
            .find((client_id, key))
            .filter(keys::status_code.is_null()),
    )
    .execute(conn)?;
    Ok(())
}

/// Forgets the keys first used at or before `created` (`domain::retention`): a request with one
/// of them afterwards is a new request. Returns how many.
pub fn forget_created_before(
    conn: &mut AnyConnection,
    created: DateTime<Utc>,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(keys::table.filter(keys::created_at.le(to_db(created)))).execute(conn)?)
}

//! The citizen's usage log ("Logg over bruk") and "what has happened since last time".

use actix_web::web;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openapi::citizen::{LogPage, LogQuery, SinceLastLogin};
use openapi::problem::Problem;
use persistence::usage_log;

use crate::auth::citizen::ConsentedCitizen;
use crate::error::ApiError;
use crate::extract::Query;
use crate::state::AppState;
use crate::views;

const DEFAULT_PAGE: u32 = 20;
const MAX_PAGE: u32 = 100;
const SINCE_LIMIT: i64 = 100;

/// Cursors are opaque to clients: the position to continue before, encoded.
fn encode_cursor(before_seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("log:{before_seq}"))
}

fn decode_cursor(cursor: &str) -> Result<i64, ApiError> {
    let bad = || ApiError::validation("cursor", "not a cursor this endpoint gave out");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let seq: i64 = text
        .strip_prefix("log:")
        .and_then(|n| n.parse().ok())
        .ok_or_else(bad)?;
    if seq < 1 {
        return Err(bad());
    }
    Ok(seq)
}

/// The citizen's own log, newest first, by cursor.
#[utoipa::path(
    get, path = "/api/v1/usage-log", tag = "usage-log",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(LogQuery),
    responses(
        (status = 200, body = LogPage),
        (status = 400, description = "A bad cursor or limit (`validation-failed`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No live session (`unauthenticated`, `session-expired`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Terms not accepted (`consent-required`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn page(
    state: web::Data<AppState>,
    ConsentedCitizen(who): ConsentedCitizen,
    query: Query<LogQuery>,
) -> Result<web::Json<LogPage>, ApiError> {
    let query = query.into_inner()?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::validation("limit", format!("1 to {MAX_PAGE}")));
    }
    let before = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let subject = who.citizen.id.clone();
    // One more than asked tells whether there is a next page.
    let mut rows = state
        .tx(move |conn| {
            Ok(usage_log::page(
                conn,
                &subject,
                before,
                i64::from(limit) + 1,
            )?)
        })
        .await?;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = if has_more {
        rows.last().map(|e| encode_cursor(e.seq))
    } else {
        None
    };
    Ok(web::Json(LogPage {
        items: rows.into_iter().map(views::log_entry).collect(),
        next_cursor,
    }))
}

/// What others (services, guardians, grantees, the portal) did in the citizen's log since the
/// citizen's previous login.
#[utoipa::path(
    get, path = "/api/v1/usage-log/since-last-login", tag = "usage-log",
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses(
        (status = 200, body = SinceLastLogin),
        (status = 401, description = "No live session (`unauthenticated`, `session-expired`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Terms not accepted (`consent-required`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn since_last_login(
    state: web::Data<AppState>,
    ConsentedCitizen(who): ConsentedCitizen,
) -> Result<web::Json<SinceLastLogin>, ApiError> {
    let subject = who.citizen.id.clone();
    let after = who.citizen.previous_login_seq;
    let mut rows = state
        .tx(move |conn| {
            Ok(usage_log::by_others_since(
                conn,
                &subject,
                after,
                SINCE_LIMIT + 1,
            )?)
        })
        .await?;
    let truncated = rows.len() > SINCE_LIMIT as usize;
    rows.truncate(SINCE_LIMIT as usize);
    Ok(web::Json(SinceLastLogin {
        previous_login_at: who.citizen.previous_login_at,
        items: rows.into_iter().map(views::log_entry).collect(),
        truncated,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        assert_eq!(decode_cursor(&encode_cursor(42)).unwrap(), 42);
        for junk in [
            "",
            "!!",
            "bG9nOi0x",
            "bG9nOmFiYw",
            &URL_SAFE_NO_PAD.encode("log:0"),
        ] {
            assert!(decode_cursor(junk).is_err(), "{junk}");
        }
    }
}

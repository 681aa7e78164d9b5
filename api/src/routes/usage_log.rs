//! The citizen's usage log ("Logg over bruk") and "what has happened since last time".

use actix_web::web;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use domain::guardianship::Access;
use domain::powers_of_attorney::ServiceArea;
use domain::usage_log::{ActorKind, ChainedEntry};
use openapi::citizen::{LogPage, LogQuery, SinceLastLogin};
use openapi::problem::Problem;
use persistence::usage_log;

use crate::auth::acting::{resolve, ActingCitizen, Basis};
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

/// The citizen's own log, newest first, by cursor. With `X-Acting-For` naming a child, the
/// child's log as far as the child rules let the guardian see it (DESIGN §2.6): entries about
/// areas the guardian may not see, restrictions registered by health personnel, and (from 12)
/// entries about no area that no guardian made are left out. Such a page may hold fewer entries
/// than `limit` while `next_cursor` still leads on.
#[utoipa::path(
    get, path = "/api/v1/usage-log", tag = "usage-log",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(
        LogQuery,
        ("X-Acting-For" = Option<String>, Header, description = "A child's representation id: the child's log as the guardian may see it"),
    ),
    responses(
        (status = 200, body = LogPage),
        (status = 400, description = "A bad cursor or limit (`validation-failed`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No live session (`unauthenticated`, `session-expired`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Terms not accepted (`consent-required`), or acting under a power of attorney (`not-allowed-on-behalf`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The `X-Acting-For` id is not one of the caller's live representations", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn page(
    state: web::Data<AppState>,
    actor: ActingCitizen,
    query: Query<LogQuery>,
) -> Result<web::Json<LogPage>, ApiError> {
    let query = query.into_inner()?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::validation("limit", format!("1 to {MAX_PAGE}")));
    }
    let before = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let limit = limit as usize;
    let me = actor.who.citizen.id.clone();
    let now = actor.who.now;
    let config = state.config.clone();
    let rep_id = match &actor.acting {
        None => None,
        Some(rep) => match rep.basis {
            Basis::Guardian(_) => Some(rep.id.clone()),
            // A grantee never reads the grantor's log (DESIGN §2.5: nothing received from others
            // is visible through a power of attorney).
            Basis::PowerOfAttorney { .. } => return Err(ApiError::NotAllowedOnBehalf),
        },
    };
    let (rows, next) = state
        .tx(move |conn| {
            let Some(rep_id) = &rep_id else {
                // One more than asked tells whether there is a next page.
                let mut rows = usage_log::page(conn, &me, before, limit as i64 + 1)?;
                let has_more = rows.len() > limit;
                rows.truncate(limit);
                let next = if has_more {
                    rows.last().map(|e| e.seq)
                } else {
                    None
                };
                return Ok((rows, next));
            };
            // Decided again in this transaction: a refusal registered a moment ago holds.
            let rep = resolve(conn, &me, rep_id, &config, now)?.ok_or(ApiError::NotFound)?;
            let access = rep.guardian_access().ok_or(ApiError::NotAllowedOnBehalf)?;
            guardian_page(conn, &rep.subject_id, access, before, limit)
        })
        .await?;
    Ok(web::Json(LogPage {
        items: rows.into_iter().map(views::log_entry).collect(),
        next_cursor: next.map(encode_cursor),
    }))
}

/// Rows read per step while filtering a child's log for a guardian, and the most read for one
/// page: a page is answered in bounded time however much of the log is hidden.
const SCAN_STEP: i64 = 200;
const SCAN_MAX: usize = 2000;

/// The next page of the child's log that `access` lets the guardian see, and where the next
/// page starts.
fn guardian_page(
    conn: &mut persistence::AnyConnection,
    child_id: &str,
    access: &Access,
    mut before: Option<i64>,
    limit: usize,
) -> Result<(Vec<ChainedEntry>, Option<i64>), ApiError> {
    let mut shown = Vec::new();
    let mut scanned = 0;
    loop {
        let batch = usage_log::page(conn, child_id, before, SCAN_STEP)?;
        let exhausted = batch.len() < SCAN_STEP as usize;
        for e in batch {
            scanned += 1;
            before = Some(e.seq);
            if guardian_sees(access, &e) {
                if shown.len() == limit {
                    // One more visible entry exists: the page ends at the last one shown.
                    let next = shown.last().map(|e: &ChainedEntry| e.seq);
                    return Ok((shown, next));
                }
                shown.push(e);
            }
        }
        if exhausted {
            return Ok((shown, None));
        }
        if scanned >= SCAN_MAX {
            // A short page; the cursor continues after the last entry read.
            return Ok((shown, before));
        }
    }
}

fn guardian_sees(access: &Access, e: &ChainedEntry) -> bool {
    let details: serde_json::Value = serde_json::from_str(&e.details).unwrap_or_default();
    let area = details["area"].as_str().and_then(ServiceArea::parse);
    access.sees_log_entry(&e.action, area, e.actor_kind == ActorKind::Guardian)
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

//! The change feed for downstream services: every consent-relevant change, read from the
//! outbox in commit order, cursor-paged, at least once, replayable from any retained cursor.
//!
//! A cursor is opaque to clients: the position it continues after and the client it was given
//! to. A cursor of another client, a malformed one, or one past the head is refused with 400.
//! Nothing secret is in it: a client that forged one could only read what it may read anyway.

use actix_web::web;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openapi::feed::{FeedEvent, FeedPage, FeedQuery};
use openapi::problem::Problem;
use persistence::outbox;
use serde::{Deserialize, Serialize};

use crate::auth::service::{FeedRead, ServiceClient};
use crate::error::ApiError;
use crate::extract::Query;
use crate::state::AppState;

const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 500;

#[derive(Serialize, Deserialize)]
struct Cursor {
    v: u8,
    client: String,
    after: i64,
}

fn encode(client: &str, after: i64) -> String {
    let c = Cursor {
        v: 1,
        client: client.to_owned(),
        after,
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap_or_default())
}

fn decode(cursor: &str, client: &str) -> Result<i64, ApiError> {
    let bad = |why: &str| ApiError::validation("cursor", why.to_owned());
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad("not a cursor this feed gave out"))?;
    let c: Cursor =
        serde_json::from_slice(&bytes).map_err(|_| bad("not a cursor this feed gave out"))?;
    if c.v != 1 || c.after < 0 {
        return Err(bad("not a cursor this feed gave out"));
    }
    if c.client != client {
        return Err(bad("this cursor was given to another client"));
    }
    Ok(c.after)
}

/// The changes after the cursor, oldest first.
#[utoipa::path(
    get, path = "/api/v1/feed", tag = "decisions",
    security(("service_token" = ["feed:read"])),
    params(FeedQuery),
    responses(
        (status = 200, body = FeedPage),
        (status = 400, description = "A malformed cursor, another client's, or one past the head; a bad limit (`validation-failed`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid access token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `feed:read` (`insufficient-scope`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn feed(
    state: web::Data<AppState>,
    client: ServiceClient<FeedRead>,
    query: Query<FeedQuery>,
) -> Result<web::Json<FeedPage>, ApiError> {
    let query = query.into_inner()?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::validation("limit", format!("1 to {MAX_PAGE}")));
    }
    let after = match query.cursor.as_deref() {
        None => 0,
        Some(c) => decode(c, &client.client_id)?,
    };
    let (head, events) = state
        .tx(move |conn| {
            let head = outbox::head(conn)?;
            let events = if after > head {
                Vec::new()
            } else {
                outbox::after(conn, after, i64::from(limit))?
            };
            Ok((head, events))
        })
        .await?;
    if after > head {
        return Err(ApiError::validation(
            "cursor",
            "this cursor is past the newest event",
        ));
    }
    let next = events.last().map_or(after, |e| e.position);
    Ok(web::Json(FeedPage {
        next_cursor: encode(&client.client_id, next),
        events: events
            .into_iter()
            .map(|e| FeedEvent {
                id: e.event_id,
                event_type: e.event_type,
                occurred_at: e.occurred_at,
                subject_id: e.subject_id,
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_belong_to_their_client() {
        let c = encode("dev-service-feed", 42);
        assert_eq!(decode(&c, "dev-service-feed").unwrap(), 42);
        assert!(decode(&c, "dev-service-reader").is_err());
        for junk in [
            "",
            "!!",
            "e30",
            &URL_SAFE_NO_PAD.encode(r#"{"v":1,"client":"x","after":-1}"#),
        ] {
            assert!(decode(junk, "x").is_err(), "{junk}");
        }
    }
}

//! Webhooks for machine clients (scope `feed:read`: a webhook is the change feed pushed), and the
//! citizen's view of which downstream systems received each of their changes. Sending is the
//! worker's (`webhook_worker`).

use actix_web::{web, HttpResponse};
use domain::webhooks::filter_is_valid;
use openapi::feed::FeedEvent;
use openapi::problem::Problem;
use openapi::webhooks::{
    ChangeReceivers, ChangeReceiversList, Delivery, DeliveryAttempt, DeliveryList, DeliveryQuery,
    DeliveryStatus, NewWebhook, Receiver, Webhook, WebhookList,
};
use persistence::outbox;
use persistence::webhooks::{self as store, AttemptRow, DeliveryRow, Endpoint};
use url::Url;

use crate::auth::citizen::ConsentedCitizen;
use crate::auth::service::{FeedRead, ServiceClient};
use crate::error::ApiError;
use crate::extract::{JsonBody, Query};
use crate::state::AppState;
use crate::webhook_worker::new_secret;

const MAX_URL: usize = 2000;
const MAX_FILTERS: usize = 50;
const DEFAULT_DELIVERIES: u32 = 50;
const MAX_DELIVERIES: u32 = 200;
/// How many of a citizen's latest changes their view shows.
const CHANGES_SHOWN: i64 = 50;

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// An endpoint URL: https, or http to loopback (development and tests); no credentials in it.
fn endpoint_url(raw: &str) -> Result<Url, ApiError> {
    let bad = |why: &str| ApiError::validation("url", why.to_owned());
    if raw.len() > MAX_URL {
        return Err(bad("at most 2000 characters"));
    }
    let url = Url::parse(raw).map_err(|_| bad("not an absolute URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("no user name or password in the URL"));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(bad("https, or http to a loopback address")),
        _ => Err(bad("https, or http to a loopback address")),
    }
}

fn filters(given: Option<Vec<String>>) -> Result<Vec<String>, ApiError> {
    let mut list = given.unwrap_or_default();
    if list.len() > MAX_FILTERS {
        return Err(ApiError::validation("event_types", "at most 50"));
    }
    for (i, f) in list.iter().enumerate() {
        if !filter_is_valid(f) {
            return Err(ApiError::validation(
                &format!("event_types[{i}]"),
                "an event type, a prefix ending in .*, or *",
            ));
        }
    }
    list.sort();
    list.dedup();
    // `*` takes everything: store it as no filter at all.
    if list.iter().any(|f| f == "*") {
        list.clear();
    }
    Ok(list)
}

fn webhook_body(e: Endpoint, secret: bool) -> Webhook {
    Webhook {
        id: e.id,
        url: e.url,
        event_types: e.event_types,
        created_at: e.created_at,
        disabled_at: e.disabled_at,
        disabled_reason: e.disabled_reason,
        secret: secret.then_some(e.secret),
    }
}

fn status_body(s: &str) -> DeliveryStatus {
    match s {
        store::DELIVERED => DeliveryStatus::Delivered,
        store::GIVEN_UP => DeliveryStatus::GivenUp,
        store::ENDPOINT_DISABLED => DeliveryStatus::EndpointDisabled,
        _ => DeliveryStatus::Pending,
    }
}

fn event_body(d: &DeliveryRow, occurred_at: chrono::DateTime<chrono::Utc>) -> FeedEvent {
    FeedEvent {
        id: d.event_id.clone(),
        event_type: d.event_type.clone(),
        occurred_at,
        subject_id: d.subject_id.clone(),
    }
}

fn delivery_body(d: DeliveryRow, attempts: Vec<AttemptRow>) -> Delivery {
    Delivery {
        event: event_body(&d, store::time(d.event_occurred_at)),
        status: status_body(&d.status),
        next_attempt_at: d
            .next_attempt_at
            .filter(|_| d.status == store::PENDING)
            .map(store::time),
        delivered_at: d.delivered_at.map(store::time),
        attempts: attempts
            .into_iter()
            .map(|a| DeliveryAttempt {
                attempt: a.attempt,
                at: store::time(a.at),
                status_code: a.status_code,
                error: a.error,
            })
            .collect(),
        id: d.id,
    }
}

/// Register an endpoint for the change feed's events. It receives the events that happen from
/// now on, each POSTed as a [`openapi::webhooks::WebhookPayload`] with the Standard Webhooks
/// headers `webhook-id`, `webhook-timestamp` and `webhook-signature`. A 2xx answer delivers it;
/// anything else is retried with exponential backoff and jitter; 410 Gone disables the endpoint.
#[utoipa::path(
    post, path = "/api/v1/webhooks", tag = "decisions",
    security(("service_token" = ["feed:read"])),
    request_body = NewWebhook,
    responses(
        (status = 201, body = Webhook, description = "Registered; the answer carries the signing secret, once"),
        (status = 400, description = "A bad URL or event type (`validation-failed` naming it)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid access token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `feed:read` (`insufficient-scope`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn register(
    state: web::Data<AppState>,
    client: ServiceClient<FeedRead>,
    body: JsonBody<NewWebhook>,
) -> Result<HttpResponse, ApiError> {
    let new = body.into_inner()?;
    let url = endpoint_url(&new.url)?;
    let event_types = filters(new.event_types)?;
    let now = state.now();
    let id = uuid::Uuid::new_v4().to_string();
    let secret = new_secret();
    // Stored sealed; the answer carries it as issued, this once.
    let stored = state.webhook_secrets.seal(&id, &secret)?;
    let mut endpoint = state
        .tx(move |conn| {
            let e = Endpoint {
                id: id.clone(),
                client_id: client.client_id.clone(),
                url: url.to_string(),
                event_types: event_types.clone(),
                secret: stored.clone(),
                created_at: now,
                fanned_out_to: outbox::head(conn)?,
                disabled_at: None,
                disabled_reason: None,
            };
            store::insert_endpoint(conn, &e)?;
            Ok(e)
        })
        .await?;
    endpoint.secret = secret;
    Ok(HttpResponse::Created().json(webhook_body(endpoint, true)))
}

/// The caller's endpoints (without their secrets), disabled ones included, removed ones not.
#[utoipa::path(
    get, path = "/api/v1/webhooks", tag = "decisions",
    security(("service_token" = ["feed:read"])),
    responses(
        (status = 200, body = WebhookList),
        (status = 401, description = "Missing or invalid access token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `feed:read` (`insufficient-scope`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    client: ServiceClient<FeedRead>,
) -> Result<web::Json<WebhookList>, ApiError> {
    let items = state
        .tx(move |conn| Ok(store::endpoints_of(conn, &client.client_id)?))
        .await?;
    Ok(web::Json(WebhookList {
        items: items
            .into_iter()
            .filter(visible)
            .map(|e| webhook_body(e, false))
            .collect(),
    }))
}

/// The reason a removed endpoint is disabled with.
const REMOVED: &str = "removed";

/// Whether the client still sees `e`: a removed endpoint is gone for its client (its deliveries
/// stay on record for the citizens' view).
fn visible(e: &Endpoint) -> bool {
    e.disabled_reason.as_deref() != Some(REMOVED)
}

/// The caller's endpoint `id`, or not found (another client's, or a removed one, is not found
/// either).
fn own(
    conn: &mut persistence::AnyConnection,
    client_id: &str,
    id: &str,
) -> Result<Endpoint, ApiError> {
    store::find_endpoint(conn, id)?
        .filter(|e| e.client_id == client_id && visible(e))
        .ok_or(ApiError::NotFound)
}

/// Remove an endpoint: nothing more is sent to it, and it is gone for its client (listing,
/// deliveries, a second removal: not found); its deliveries stay on record for the citizens'
/// view of who received their changes.
#[utoipa::path(
    delete, path = "/api/v1/webhooks/{webhook_id}", tag = "decisions",
    security(("service_token" = ["feed:read"])),
    params(("webhook_id" = String, Path, description = "The endpoint's id")),
    responses(
        (status = 200, body = Webhook, description = "Removed: its last state"),
        (status = 401, description = "Missing or invalid access token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `feed:read` (`insufficient-scope`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not one of the caller's endpoints (`not-found`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove(
    state: web::Data<AppState>,
    client: ServiceClient<FeedRead>,
    path: web::Path<String>,
) -> Result<web::Json<Webhook>, ApiError> {
    let id = path.into_inner();
    let now = state.now();
    let e = state
        .tx(move |conn| {
            own(conn, &client.client_id, &id)?;
            store::disable(conn, &id, now, REMOVED)?;
            // Read again for the answer: a 410 may have disabled it first, as `gone`.
            store::find_endpoint(conn, &id)?.ok_or(ApiError::NotFound)
        })
        .await?;
    Ok(web::Json(webhook_body(e, false)))
}

/// The endpoint's latest deliveries, newest event first, with every attempt.
#[utoipa::path(
    get, path = "/api/v1/webhooks/{webhook_id}/deliveries", tag = "decisions",
    security(("service_token" = ["feed:read"])),
    params(("webhook_id" = String, Path, description = "The endpoint's id"), DeliveryQuery),
    responses(
        (status = 200, body = DeliveryList),
        (status = 400, description = "A bad limit (`validation-failed`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid access token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `feed:read` (`insufficient-scope`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not one of the caller's endpoints (`not-found`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn deliveries(
    state: web::Data<AppState>,
    client: ServiceClient<FeedRead>,
    path: web::Path<String>,
    query: Query<DeliveryQuery>,
) -> Result<web::Json<DeliveryList>, ApiError> {
    let query = query.into_inner()?;
    let limit = query.limit.unwrap_or(DEFAULT_DELIVERIES);
    if !(1..=MAX_DELIVERIES).contains(&limit) {
        return Err(ApiError::validation(
            "limit",
            format!("1 to {MAX_DELIVERIES}"),
        ));
    }
    let id = path.into_inner();
    let rows = state
        .tx(move |conn| {
            own(conn, &client.client_id, &id)?;
            Ok(store::deliveries_of(conn, &id, i64::from(limit))?)
        })
        .await?;
    Ok(web::Json(DeliveryList {
        items: rows.into_iter().map(|(d, a)| delivery_body(d, a)).collect(),
    }))
}

/// The caller's latest changes and, for each, the downstream systems it was sent to by webhook
/// and whether they received it.
#[utoipa::path(
    get, path = "/api/v1/change-deliveries", tag = "citizen",
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses(
        (status = 200, body = ChangeReceiversList),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`consent-required`, or sent with `X-Acting-For` (`not-allowed-on-behalf`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn change_deliveries(
    state: web::Data<AppState>,
    ConsentedCitizen(who): ConsentedCitizen,
) -> Result<web::Json<ChangeReceiversList>, ApiError> {
    let me = who.citizen.id.clone();
    let (events, receivers) = state
        .tx(move |conn| {
            let events = outbox::of_subject(conn, &me, CHANGES_SHOWN)?;
            let ids: Vec<String> = events.iter().map(|e| e.event_id.clone()).collect();
            let receivers = store::receivers_of(conn, &ids)?;
            Ok((events, receivers))
        })
        .await?;
    Ok(web::Json(ChangeReceiversList {
        items: events
            .into_iter()
            .map(|e| ChangeReceivers {
                receivers: receivers
                    .iter()
                    .filter(|(d, _)| d.event_id == e.event_id)
                    .map(|(d, client_id)| Receiver {
                        client_id: client_id.clone(),
                        status: status_body(&d.status),
                        delivered_at: d.delivered_at.map(store::time),
                    })
                    .collect(),
                event: FeedEvent {
                    id: e.event_id,
                    event_type: e.event_type,
                    occurred_at: e.occurred_at,
                    subject_id: e.subject_id,
                },
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls_are_https_or_loopback_http_without_credentials() {
        for ok in [
            "https://records.example/hooks",
            "http://127.0.0.1:9000/hook",
            "http://[::1]:9000/hook",
            "http://localhost/hook",
        ] {
            assert!(endpoint_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://records.example/hooks",
            "ftp://127.0.0.1/x",
            "https://user:pw@records.example/",
            "/relative",
            "not a url",
            "http://10.0.0.1/hook",
        ] {
            assert!(endpoint_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_star_means_every_event_and_duplicates_go() {
        assert_eq!(filters(None).unwrap(), Vec::<String>::new());
        assert_eq!(
            filters(Some(vec!["terms.*".into(), "*".into()])).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            filters(Some(vec!["b.x".into(), "a.*".into(), "b.x".into()])).unwrap(),
            vec!["a.*".to_owned(), "b.x".to_owned()]
        );
        assert!(filters(Some(vec!["Bad".into()])).is_err());
    }
}

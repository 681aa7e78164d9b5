//! Logging and request ids. What is never logged is written down in docs/LOGGING.md: identity
//! numbers, tokens, cookies, query strings (they can carry a login hint or an authorization
//! code), request and response bodies, health data.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::Error;
use std::time::Instant;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

tokio::task_local! {
    static REQUEST_ID: String;
}

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Installs the global subscriber: human-readable text, or one JSON object per line.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init();
    } else {
        builder.with_ansi(false).init();
    }
}

/// The id of the request being served, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Gives every request a server-generated id (never one the client sent), a span carrying it,
/// an `x-request-id` response header and one completion line with status and duration.
/// Only the path is logged: no query string, no headers, no body.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = uuid::Uuid::new_v4().to_string();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.path(),
    );
    let started = Instant::now();
    let result = REQUEST_ID
        .scope(id.clone(), next.call(req).instrument(span.clone()))
        .await;
    let _entered = span.enter();
    match result {
        Ok(mut res) => {
            if let Ok(value) = HeaderValue::from_str(&id) {
                res.headers_mut()
                    .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
            }
            tracing::info!(
                status = res.status().as_u16(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "request completed"
            );
            Ok(res)
        }
        Err(e) => {
            tracing::error!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "request failed"
            );
            Err(e)
        }
    }
}

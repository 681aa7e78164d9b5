//! Logging and request ids. What is never logged is written down in docs/LOGGING.md: identity
//! numbers, tokens, cookies, query strings (they can carry a login hint or an authorization
//! code), request and response bodies, health data.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::Error;
use std::borrow::Cow;
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

/// The path as logged: every run of 11 or more digits masked. No route of the API takes an
/// identity number in its path, but a client may still send one (`/api/v1/citizens/<number>`),
/// and the log must not keep it. A path without such a run is borrowed as it is.
pub fn loggable_path(path: &str) -> Cow<'_, str> {
    const RUN: usize = 11;
    let bytes = path.as_bytes();
    let mut masked: Option<Vec<u8>> = None;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i - start >= RUN {
            masked.get_or_insert_with(|| bytes.to_vec())[start..i].fill(b'*');
        }
    }
    match masked {
        // Only ASCII digits were replaced by an ASCII character: still UTF-8.
        Some(m) => Cow::Owned(String::from_utf8_lossy(&m).into_owned()),
        None => Cow::Borrowed(path),
    }
}

/// The id of the request being served, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Gives every request a server-generated id (never one the client sent), a span carrying it,
/// an `x-request-id` response header and one completion line with status and duration, and
/// counts it in the `/metrics` of its route pattern (`crate::metrics`).
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
        path = %loggable_path(req.path()),
    );
    let started = Instant::now();
    let metrics = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .map(|s| s.metrics.clone());
    let method = req.method().clone();
    let result = REQUEST_ID
        .scope(id.clone(), next.call(req).instrument(span.clone()))
        .await;
    let _entered = span.enter();
    match result {
        Ok(mut res) => {
            if let Some(m) = &metrics {
                m.request(
                    method.as_str(),
                    res.request().match_pattern(),
                    res.status().as_u16(),
                    started.elapsed(),
                );
            }
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
            if let Some(m) = &metrics {
                let status = e.as_response_error().status_code().as_u16();
                m.request(method.as_str(), None, status, started.elapsed());
            }
            tracing::error!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "request failed"
            );
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn runs_of_eleven_digits_or_more_are_masked_and_shorter_ones_kept() {
        assert_eq!(loggable_path("/api/v1/me"), "/api/v1/me");
        assert_eq!(
            loggable_path("/x/1234567890/y"),
            "/x/1234567890/y",
            "ten digits"
        );
        assert_eq!(loggable_path("/x/12345678901"), "/x/***********");
        assert_eq!(
            loggable_path("/a/123456789012/b/02867933185x"),
            "/a/************/b/***********x"
        );
        assert_eq!(
            loggable_path("/powers-of-attorney/9b2c-2026"),
            "/powers-of-attorney/9b2c-2026"
        );
        assert_eq!(loggable_path("/ø/12345678901"), "/ø/***********");
    }
}

//! The webhook worker: hands each new change-feed event to the endpoints that asked for it, and
//! sends due deliveries, signed per the Standard Webhooks specification (rules:
//! `domain::webhooks`; storage: `persistence::webhooks`).
//!
//! It runs inside the server every `WEBHOOK_INTERVAL_MS`, on every instance: an instance creates
//! an endpoint's deliveries only after moving the endpoint's fan-out position from the value it
//! read, and sends a delivery only after moving its due time forward from the value it read, so
//! two instances never create or send the same message in the same round. A message can still
//! arrive twice (the endpoint answered but the answer was lost): consumers de-duplicate by
//! `webhook-id`, which stays the same on every retry.
//!
//! A failed send never touches the change that caused the event: the event was committed with
//! the change, and its deliveries are separate rows.

use std::time::Duration as StdDuration;

use actix_web::web;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use domain::webhooks::{after_attempt, wants, AfterAttempt};
use hmac::{Hmac, Mac};
use openapi::feed::FeedEvent;
use openapi::webhooks::WebhookPayload;
use persistence::webhooks::{self as store, DeliveryRow, Endpoint};
use persistence::{outbox, Db};
use rand::Rng;
use sha2::Sha256;

use crate::error::ApiError;
use crate::state::AppState;

/// Events handed to one endpoint per transaction.
const FAN_OUT_BATCH: i64 = 500;
/// Deliveries sent at once per round.
const SEND_BATCH: i64 = 16;

/// The `webhook-signature` header's value: `v1,` and the base64 HMAC-SHA256 of
/// `{msg_id}.{timestamp}.{body}`, keyed with the secret's bytes (the base64 after `whsec_`).
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &str) -> Result<String, ApiError> {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .map_err(|_| ApiError::Internal("a webhook secret is not base64".into()))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key)
        .map_err(|_| ApiError::Internal("a webhook secret is unusable".into()))?;
    mac.update(format!("{msg_id}.{timestamp}.{body}").as_bytes());
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// A new signing secret: 32 random bytes.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::rngs::OsRng.gen();
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// Starts the worker unless `WEBHOOK_INTERVAL_MS` is 0.
pub fn spawn(state: web::Data<AppState>) {
    let interval = state.config.webhook_interval_ms;
    if interval == 0 {
        return;
    }
    let http = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(StdDuration::from_secs(state.config.webhook_timeout_seconds))
        .user_agent("consent-portal-webhooks")
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "no HTTP client: webhooks are not sent");
            return;
        }
    };
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(StdDuration::from_millis(interval));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = run_once(&state, &http).await {
                tracing::error!(error = %e, "webhook round failed; retried next round");
            }
        }
    });
}

/// One round: fan out, then send what is due.
pub async fn run_once(state: &AppState, http: &reqwest::Client) -> Result<(), ApiError> {
    let now = state.now();
    let db = state.db.clone();
    let created = web::block(move || fan_out(&db, now))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    if created > 0 {
        tracing::debug!(created, "webhook deliveries created");
    }
    send_due(state, http, now).await
}

/// Creates the deliveries of every event after each enabled endpoint's position.
fn fan_out(db: &Db, now: DateTime<Utc>) -> Result<usize, ApiError> {
    let (endpoints, head) = db.transaction(|conn| {
        Ok::<_, ApiError>((store::enabled_endpoints(conn)?, outbox::head(conn)?))
    })?;
    let mut created = 0;
    // Most rounds nothing is new: one read of the head, not one per endpoint.
    for e in endpoints.into_iter().filter(|e| e.fanned_out_to < head) {
        let mut from = e.fanned_out_to;
        loop {
            let step = db.transaction(|conn| {
                let events = outbox::after(conn, from, FAN_OUT_BATCH)?;
                let Some(last) = events.last().map(|ev| ev.position) else {
                    return Ok::<_, ApiError>(None);
                };
                if !store::advance_fan_out(conn, &e.id, from, last)? {
                    // Another instance handed these out.
                    return Ok(None);
                }
                let mut n = 0;
                for ev in events
                    .iter()
                    .filter(|ev| wants(&e.event_types, &ev.event_type))
                {
                    let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
                    store::insert_delivery(conn, &id, &e.id, ev, now)?;
                    n += 1;
                }
                Ok(Some((last, n, events.len())))
            })?;
            let Some((last, n, read)) = step else { break };
            created += n;
            from = last;
            if i64::try_from(read).unwrap_or(0) < FAN_OUT_BATCH {
                break;
            }
        }
    }
    Ok(created)
}

/// Claims up to [`SEND_BATCH`] due deliveries and sends them concurrently.
async fn send_due(
    state: &AppState,
    http: &reqwest::Client,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let timeout = i64::try_from(state.config.webhook_timeout_seconds).unwrap_or(60);
    // Held while an attempt runs; if this instance dies, another takes it after the lease.
    let lease_until = now + Duration::seconds(timeout + 30);
    let claimed = state
        .tx(move |conn| {
            let mut mine = Vec::new();
            for d in store::due(conn, now, SEND_BATCH)? {
                if store::claim(conn, &d, lease_until)? {
                    if let Some(e) = store::find_endpoint(conn, &d.endpoint_id)? {
                        mine.push((d, e));
                    }
                }
            }
            Ok(mine)
        })
        .await?;
    let sends = claimed
        .into_iter()
        .map(|(d, e)| send_one(state, http, d, e));
    for r in futures_util::future::join_all(sends).await {
        r?;
    }
    Ok(())
}

/// The body of delivery `d`.
fn payload(d: &DeliveryRow, occurred_at: DateTime<Utc>) -> WebhookPayload {
    WebhookPayload {
        event_type: d.event_type.clone(),
        timestamp: occurred_at,
        data: FeedEvent {
            id: d.event_id.clone(),
            event_type: d.event_type.clone(),
            occurred_at,
            subject_id: d.subject_id.clone(),
        },
    }
}

/// One attempt of `d` to `e`, and its record.
async fn send_one(
    state: &AppState,
    http: &reqwest::Client,
    d: DeliveryRow,
    e: Endpoint,
) -> Result<(), ApiError> {
    let occurred = store::time(d.event_occurred_at);
    let body = serde_json::to_string(&payload(&d, occurred))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    // The signature's time is the wall clock's: receivers compare it with theirs to refuse
    // replays, whatever the dev clock says.
    let timestamp = Utc::now().timestamp();
    let secret = state.webhook_secrets.open(&e.id, &e.secret)?;
    let signature = sign(&secret, &d.id, timestamp, &body)?;
    let answer = http
        .post(&e.url)
        .header("content-type", "application/json")
        .header("webhook-id", &d.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    let (status, error) = match &answer {
        Ok(res) => (Some(res.status().as_u16()), None),
        Err(err) if err.is_timeout() => (None, Some("timeout")),
        Err(err) if err.is_connect() => (None, Some("connect")),
        Err(_) => (None, Some("request")),
    };
    let now = state.now();
    let attempt = d.attempts + 1;
    let jitter: f64 = rand::thread_rng().gen_range(-1.0..=1.0);
    let config = state.config.clone();
    let next = after_attempt(
        status,
        u32::try_from(attempt).unwrap_or(u32::MAX),
        config.webhook_max_attempts,
        config.webhook_retry_base_seconds,
        jitter,
        now,
    );
    if let Some(s) = status.filter(|s| !(200..300).contains(s)) {
        tracing::info!(endpoint = %e.id, status = s, attempt, "webhook delivery refused");
    } else if let Some(err) = error {
        tracing::info!(endpoint = %e.id, error = err, attempt, "webhook delivery failed");
    }
    state
        .tx(move |conn| {
            let (new_status, next_at) = match next {
                AfterAttempt::Delivered => (store::DELIVERED, None),
                AfterAttempt::Retry { at } => (store::PENDING, Some(at)),
                AfterAttempt::GiveUp => (store::GIVEN_UP, None),
                AfterAttempt::DisableEndpoint => (store::ENDPOINT_DISABLED, None),
            };
            store::record_attempt(
                conn,
                &d.id,
                attempt,
                now,
                status.map(i32::from),
                error,
                new_status,
                next_at,
            )?;
            if next == AfterAttempt::DisableEndpoint && store::disable(conn, &e.id, now, "gone")? {
                tracing::warn!(endpoint = %e.id, "webhook endpoint answered 410: disabled");
            }
            Ok(())
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn signatures_match_the_standard_webhooks_reference() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        let sig = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_are_32_random_bytes() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a, b);
        let bytes = STANDARD.decode(a.strip_prefix("whsec_").unwrap()).unwrap();
        assert_eq!(bytes.len(), 32);
    }
}

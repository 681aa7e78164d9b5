//! What the operator's Prometheus scrapes at `/metrics` (DESIGN §3 "Operations"): request rates
//! and latencies per route, decisions by outcome, and the queues the workers drain.
//!
//! Built on `prometheus-client`, the Prometheus project's own Rust client: counters and gauges
//! are atomics, each histogram a small mutex, so recording costs well under a microsecond on the
//! request path. Labels are bounded sets: a route is its pattern (`/api/v1/powers-of-attorney/{id}`),
//! never the path, so no id or number reaches a label; requests no route matched share one label.
//! The queue gauges are read from the database when scraped (`persistence::queues`), so every
//! instance sharing a PostgreSQL reports the same queues.

use chrono::{DateTime, Utc};
use persistence::queues::QueueDepths;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use serde::Serialize;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// The `Content-Type` of the answer: Prometheus's text format 0.0.4.
pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The label of a request no route matched (a 404, or a method no resource serves).
pub const UNMATCHED: &str = "unmatched";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    /// `active_user`, `representation`, `summary_care_record`, `professional_access`.
    decision_type: &'static str,
    /// The answer's decision as the API spells it (`allow`, `deny`, `active`, ...).
    decision: String,
    /// The answer's machine-readable reason.
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WriteLabels {
    /// `pipelined` (a worker's own connection) or `pool` (`crate::opening_writes`).
    way: &'static str,
}

type Latencies = Family<RouteLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.1 ms to about 3.3 s: a kept decision takes well under a millisecond, a login some
    // hundred milliseconds.
    Histogram::new(exponential_buckets(0.000_1, 2.0, 16))
}

/// Gauges set from the database at each scrape.
#[derive(Default)]
struct Queues {
    outbox_head: Gauge,
    fan_out_lag: Gauge,
    webhook_pending: Gauge,
    webhook_oldest_seconds: Gauge<f64, AtomicU64>,
    notifications_waiting: Gauge,
    notifications_oldest_seconds: Gauge<f64, AtomicU64>,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latencies: Latencies,
    decisions: Family<DecisionLabels, Counter>,
    opening_writes: Family<WriteLabels, Counter>,
    queues: Queues,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("consent_portal");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route pattern and status",
            requests.clone(),
        );
        let latencies: Latencies = Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival until its answer was ready, by method and route pattern",
            latencies.clone(),
        );
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "decisions",
            "Decisions answered to machine clients (each item of a batch counts), by outcome",
            decisions.clone(),
        );
        let opening_writes = Family::<WriteLabels, Counter>::default();
        registry.register(
            "opening_writes",
            "Writes of openings of blocked health data, by way: pipelined on a worker's own \
             PostgreSQL connection, or through the pool (SQLite; PostgreSQL when the pipelined \
             way could not be taken or was rolled back)",
            opening_writes.clone(),
        );
        let queues = Queues::default();
        registry.register(
            "outbox_head_position",
            "The newest position in the outbox (the change feed's head)",
            queues.outbox_head.clone(),
        );
        registry.register(
            "webhook_fan_out_lag_events",
            "Events not yet handed to the enabled webhook endpoint furthest behind",
            queues.fan_out_lag.clone(),
        );
        registry.register(
            "webhook_deliveries_pending",
            "Webhook deliveries waiting for a first or a further attempt",
            queues.webhook_pending.clone(),
        );
        registry.register(
            "webhook_oldest_pending_age_seconds",
            "Age of the longest-waiting pending webhook delivery (0 when none waits)",
            queues.webhook_oldest_seconds.clone(),
        );
        registry.register(
            "notifications_waiting",
            "Citizen notifications queued or waiting to be retried",
            queues.notifications_waiting.clone(),
        );
        registry.register(
            "notifications_oldest_waiting_age_seconds",
            "Age of the longest-waiting citizen notification (0 when none waits)",
            queues.notifications_oldest_seconds.clone(),
        );
        Metrics {
            registry,
            requests,
            latencies,
            decisions,
            opening_writes,
            queues,
        }
    }

    /// Counts one answered request. `route` is the matched pattern, or `None`.
    pub fn request(&self, method: &str, route: Option<String>, status: u16, took: Duration) {
        let route = route.unwrap_or_else(|| UNMATCHED.to_owned());
        let labels = RouteLabels {
            method: method.to_owned(),
            route,
        };
        self.latencies
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels {
                method: labels.method,
                route: labels.route,
                status,
            })
            .inc();
    }

    /// Counts one decision. `decision` and `reason` are the answer's enums, labelled as the API
    /// serialises them.
    pub fn decision(
        &self,
        decision_type: &'static str,
        decision: &impl Serialize,
        reason: &impl Serialize,
    ) {
        self.decisions
            .get_or_create(&DecisionLabels {
                decision_type,
                decision: label(decision),
                reason: label(reason),
            })
            .inc();
    }

    /// Counts one write of openings that took `way` (`pipelined` or `pool`).
    pub fn opening_write(&self, way: &'static str) {
        self.opening_writes
            .get_or_create(&WriteLabels { way })
            .inc();
    }

    /// The text a scrape gets, with the queue gauges set from `queues` as read at `now`.
    pub fn render(
        &self,
        queues: &QueueDepths,
        now: DateTime<Utc>,
    ) -> Result<String, std::fmt::Error> {
        let age = |since: Option<DateTime<Utc>>| {
            since.map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64 / 1000.0)
        };
        let q = &self.queues;
        q.outbox_head.set(queues.outbox_head);
        q.fan_out_lag.set(queues.fan_out_lag);
        q.webhook_pending.set(queues.webhook_pending);
        q.webhook_oldest_seconds
            .set(age(queues.webhook_oldest_pending));
        q.notifications_waiting.set(queues.notifications_waiting);
        q.notifications_oldest_seconds
            .set(age(queues.notifications_oldest_waiting));
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// A unit enum as serde spells it (`"area_not_covered"`), or `"other"` for anything else.
fn label(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "other".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use openapi::representation::{RepresentationDecision, RepresentationReason};

    fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(prefix))
    }

    #[test]
    fn requests_decisions_and_queues_are_rendered_with_bounded_labels() {
        let m = Metrics::new();
        let route = "/api/v1/powers-of-attorney/{id}";
        m.request("GET", Some(route.into()), 200, Duration::from_micros(300));
        m.request("GET", Some(route.into()), 200, Duration::from_micros(700));
        m.request("GET", None, 404, Duration::from_micros(50));
        m.decision(
            "representation",
            &RepresentationDecision::Deny,
            &RepresentationReason::AreaNotCovered,
        );
        m.decision("professional_access", &"allow", &"no_restriction");
        let now = Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap();
        let text = m
            .render(
                &QueueDepths {
                    outbox_head: 42,
                    fan_out_lag: 3,
                    webhook_pending: 2,
                    webhook_oldest_pending: Some(now - chrono::Duration::seconds(90)),
                    notifications_waiting: 1,
                    notifications_oldest_waiting: None,
                },
                now,
            )
            .unwrap();
        let requests = format!(
            "consent_portal_http_requests_total{{method=\"GET\",route=\"{route}\",status=\"200\"}}"
        );
        assert_eq!(
            line(&text, &requests),
            Some(format!("{requests} 2").as_str())
        );
        assert!(line(
            &text,
            "consent_portal_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1"
        )
        .is_some());
        // Both observations fall in the buckets at or above 0.8 ms, only the first below.
        let bucket = |le: &str| {
            format!(
                "consent_portal_http_request_duration_seconds_bucket{{method=\"GET\",route=\"{route}\",le=\"{le}\"}}"
            )
        };
        assert_eq!(
            line(&text, &bucket("0.0004")),
            Some(format!("{} 1", bucket("0.0004")).as_str())
        );
        assert_eq!(
            line(&text, &bucket("0.0008")),
            Some(format!("{} 2", bucket("0.0008")).as_str())
        );
        assert!(line(
            &text,
            "consent_portal_decisions_total{decision_type=\"representation\",decision=\"deny\",reason=\"area_not_covered\"} 1"
        )
        .is_some());
        assert!(line(
            &text,
            "consent_portal_decisions_total{decision_type=\"professional_access\",decision=\"allow\",reason=\"no_restriction\"} 1"
        )
        .is_some());
        for expected in [
            "consent_portal_outbox_head_position 42",
            "consent_portal_webhook_fan_out_lag_events 3",
            "consent_portal_webhook_deliveries_pending 2",
            "consent_portal_webhook_oldest_pending_age_seconds 90",
            "consent_portal_notifications_waiting 1",
            "consent_portal_notifications_oldest_waiting_age_seconds 0",
        ] {
            assert!(line(&text, expected).is_some(), "{expected} in\n{text}");
        }
    }
}

//! What operators and tooling see: health endpoints, the OpenAPI document and its UI, request
//! ids on every answer, and the dev clock (only in dev mode).

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashSet;
use tests::{both_backends, persons, Backend, TestApp};

use crate::errors::expect_problem;

/// The `x-request-id` of an answer: present, a UUID, and never the one the client sent.
fn request_id(res: &reqwest::Response) -> String {
    let id = res
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("{} has no x-request-id", res.url()))
        .to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "a UUID: {id}");
    id
}

/// `GET /health/ready` says which database the server is on; `/health/live` is a plain ok.
async fn health_endpoints_answer(backend: Backend) {
    let expected = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres(_) => "postgresql",
    };
    let app = TestApp::spawn(backend).await;
    let res = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    request_id(&res);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({ "status": "ok" })
    );

    let res = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    request_id(&res);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({ "status": "ready", "database": expected })
    );
}

both_backends!(health_endpoints_answer);

/// `GET /openapi.json` serves exactly the checked-in `openapi/openapi.json` (so the file is not
/// stale), `GET /docs/` serves the Swagger UI page, and `GET /docs` redirects there.
#[tokio::test]
async fn the_openapi_document_and_its_ui_are_served() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let res = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    request_id(&res);
    let served: Value = res.json().await.expect("JSON");
    let path = tests::workspace_root().join("openapi/openapi.json");
    let checked_in: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("openapi/openapi.json"))
            .expect("the checked-in document is JSON");
    assert!(
        served == checked_in,
        "GET /openapi.json differs from {}: regenerate it with `consent-portal openapi`",
        path.display()
    );
    assert!(served["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.")));
    assert!(served["paths"]["/api/v1/decisions/active-user"]["post"].is_object());

    let res = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    request_id(&res);
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = res.text().await.unwrap();
    assert!(html.to_lowercase().contains("swagger"), "{html}");

    let res = app.client.get(app.url("/docs")).send().await.unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    request_id(&res);
    assert_eq!(
        res.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/docs/")
    );
}

/// Every answer, success or failure, page or problem, carries its own server-made
/// `x-request-id`; one the client sends is not taken over.
#[tokio::test]
async fn every_answer_has_its_own_request_id() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let mut seen = HashSet::new();
    for (method, path) in [
        (Method::GET, "/health/live"),
        (Method::GET, "/health/ready"),
        (Method::GET, "/openapi.json"),
        (Method::GET, "/docs/"),
        (Method::GET, "/docs"),
        (Method::GET, "/dev/clock"),
        (Method::GET, "/api/v1/me"),
        (Method::GET, "/api/v1/usage-log"),
        (Method::POST, "/api/v1/decisions/active-user"),
        (Method::GET, "/auth/login"),
        (Method::GET, "/auth/callback"),
        (Method::DELETE, "/health/live"),
        (Method::GET, "/no/such/path"),
    ] {
        let res = app
            .client
            .request(method.clone(), app.url(path))
            .header("x-request-id", "client-chosen-id")
            .send()
            .await
            .unwrap();
        assert!(
            res.status().as_u16() < 500,
            "{method} {path}: {}",
            res.status()
        );
        let id = request_id(&res);
        assert_ne!(id, "client-chosen-id");
        assert!(seen.insert(id), "request ids are unique");
    }
}

fn clock_now(clock: &Value) -> DateTime<Utc> {
    clock["now"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("a clock state: {clock}"))
}

async fn clock(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Value {
    let mut req = app.client.request(method, app.url(path));
    if let Some(body) = body {
        req = req.json(&body);
    }
    let (status, state) = tests::app::send_json(req).await;
    assert_eq!(status, StatusCode::OK, "{path}: {state}");
    state
}

/// In dev mode `/dev/clock` reads, sets and advances the server's "now" (the clock the sessions
/// and the usage log use), and refuses an advance beyond a hundred years or a bad body.
#[tokio::test]
async fn the_dev_clock_reads_sets_and_advances() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let state = clock(&app, Method::GET, "/dev/clock", None).await;
    assert_eq!(state["offset_seconds"], 0);
    assert!((clock_now(&state) - Utc::now()).num_seconds().abs() <= 2);

    let state = clock(
        &app,
        Method::POST,
        "/dev/clock/advance",
        Some(json!({ "seconds": 3600 })),
    )
    .await;
    assert_eq!(state["offset_seconds"], 3600);
    assert!(((clock_now(&state) - Utc::now()).num_seconds() - 3600).abs() <= 2);

    let target: DateTime<Utc> = "2030-05-17T12:00:00Z".parse().unwrap();
    let state = clock(
        &app,
        Method::PUT,
        "/dev/clock",
        Some(json!({ "now": target })),
    )
    .await;
    assert!((clock_now(&state) - target).num_seconds().abs() <= 2);
    let state = clock(&app, Method::GET, "/dev/clock", None).await;
    assert!((clock_now(&state) - target).num_seconds().abs() <= 2);

    // The clock is the server's: a login now is logged at the set time.
    let s = app.login(tests::persons::ASTRID).await;
    app.accept_terms(&s, "basis").await;
    let log = app.usage_log(&s).await;
    let at: DateTime<Utc> = log[0]["at"].as_str().unwrap().parse().unwrap();
    assert!((at - target).num_seconds().abs() <= 5, "{at}");

    let (problem, _) = expect_problem(
        app.client
            .post(app.url("/dev/clock/advance"))
            .json(&json!({ "seconds": 101_i64 * 366 * 24 * 3600 })),
        StatusCode::BAD_REQUEST,
        "validation-failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "seconds");
    expect_problem(
        app.client
            .put(app.url("/dev/clock"))
            .json(&json!({ "now": "next tuesday" })),
        StatusCode::BAD_REQUEST,
        "validation-failed",
    )
    .await;
    expect_problem(
        app.client.post(app.url("/dev/clock/advance")).body("{}"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
    )
    .await;
    // Refusals left the clock where it was.
    let state = clock(&app, Method::GET, "/dev/clock", None).await;
    assert!((clock_now(&state) - target).num_seconds().abs() <= 10);
}

/// Without dev mode the dev clock does not exist: 404 `not-found` for every method.
#[tokio::test]
async fn without_dev_mode_there_is_no_dev_clock() {
    let app = TestApp::builder(Backend::Sqlite)
        .env("DEV_MODE", "false")
        .spawn()
        .await;
    for (method, path, body) in [
        (Method::GET, "/dev/clock", None),
        (
            Method::PUT,
            "/dev/clock",
            Some(json!({ "now": "2030-01-01T00:00:00Z" })),
        ),
        (
            Method::POST,
            "/dev/clock/advance",
            Some(json!({ "seconds": 60 })),
        ),
    ] {
        let mut req = app.client.request(method, app.url(path));
        if let Some(body) = body {
            req = req.json(&body);
        }
        expect_problem(req, StatusCode::NOT_FOUND, "not-found").await;
    }
    // The server itself is fine.
    let res = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

/// An instant far outside any test's needs is either refused (400) or set exactly, and the
/// server keeps answering every request that reads its clock; the same goes for an advance from
/// there. (Every request reads the clock, so an overflow in `Utc::now() + offset` would take the
/// whole API down.)
#[tokio::test]
async fn an_extreme_dev_clock_is_refused_or_exact() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for instant in [
        "+262142-12-31T23:59:59Z",
        "2500-01-01T00:00:00Z",
        "1000-01-01T00:00:00Z",
    ] {
        let target: DateTime<Utc> = instant.parse().expect("an instant chrono can hold");
        let res = app
            .client
            .put(app.url("/dev/clock"))
            .json(&json!({ "now": instant }))
            .send()
            .await
            .expect("the server answers");
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        match status {
            StatusCode::BAD_REQUEST => {
                assert_eq!(body["type"], "/problems/validation-failed", "{body}");
            }
            StatusCode::OK => {
                let now = clock_now(&body);
                assert!(
                    (now - target).num_seconds().abs() <= 2,
                    "{instant}: set to {now}"
                );
                // A full hundred-year advance from there: refused or exact.
                let res = app
                    .client
                    .post(app.url("/dev/clock/advance"))
                    .json(&json!({ "seconds": 100_i64 * 365 * 24 * 3600 }))
                    .send()
                    .await
                    .expect("the server answers");
                assert!(
                    matches!(res.status(), StatusCode::OK | StatusCode::BAD_REQUEST),
                    "{instant} + 100 years: {}",
                    res.status()
                );
            }
            other => panic!("{instant}: {other} {body}"),
        }
        // Every clock-reading request still works.
        let res = app
            .client
            .get(app.url("/dev/clock"))
            .send()
            .await
            .expect("the server still answers after the clock moved");
        assert_eq!(res.status(), StatusCode::OK, "{instant}");
        let res = app
            .client
            .get(app.url("/api/v1/me"))
            .send()
            .await
            .expect("the server still answers after the clock moved");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{instant}");
        clock(
            &app,
            Method::PUT,
            "/dev/clock",
            Some(json!({ "now": Utc::now() })),
        )
        .await;
    }
    // Hundred-year advances, one after another: each is refused or moves the clock by exactly
    // that much (no wrap-around into the past).
    let century = 100_i64 * 365 * 24 * 3600;
    let mut offset = clock(&app, Method::GET, "/dev/clock", None).await["offset_seconds"]
        .as_i64()
        .expect("offset");
    for step in 1..=4 {
        let res = app
            .client
            .post(app.url("/dev/clock/advance"))
            .json(&json!({ "seconds": century }))
            .send()
            .await
            .expect("the server answers");
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        match status {
            StatusCode::BAD_REQUEST => break,
            StatusCode::OK => {
                let now = body["offset_seconds"].as_i64().expect("offset");
                assert!(
                    (now - offset - century).abs() <= 2,
                    "advance {step}: offset {offset} s became {now} s"
                );
                offset = now;
            }
            other => panic!("advance {step}: {other} {body}"),
        }
    }
}

/// The value of the one sample in a Prometheus text answer whose name and labels are `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// `GET /metrics` counts requests by route pattern (never the path, so no id reaches a label),
/// decisions by outcome, and reads the queues from the database; nothing in it names a citizen.
async fn metrics_count_requests_decisions_and_queues(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app
        .idp
        .service_token("dev-service-reader", "consent:read")
        .await;
    let astrid = app.login(persons::ASTRID).await;
    app.accept_terms(&astrid, "full").await;
    for pid in [persons::ASTRID, persons::INGRID] {
        let (status, body) = tests::app::send_json(
            app.as_service(&token, Method::POST, "/api/v1/decisions/active-user")
                .json(&json!({ "pid": pid })),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // A path with an id in it, matched and unmatched: counted by pattern only.
    let res = app
        .client
        .get(app.url(&format!("/no/such/{}", persons::BJORN)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let (status, _) = app
        .send_json(
            &astrid,
            Method::POST,
            "/api/v1/powers-of-attorney/no-such-grant/revocation",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = res.text().await.unwrap();
    let decisions = |reason: &str| {
        sample(
            &text,
            &format!(
                "consent_portal_decisions_total{{decision_type=\"active_user\",decision=\"{}\",reason=\"{reason}\"}}",
                if reason == "consent_active" { "active" } else { "inactive" }
            ),
        )
    };
    assert_eq!(decisions("consent_active"), Some(1.0), "{text}");
    assert_eq!(decisions("not_registered"), Some(1.0), "{text}");
    assert_eq!(
        sample(
            &text,
            "consent_portal_http_requests_total{method=\"POST\",route=\"/api/v1/decisions/active-user\",status=\"200\"}"
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "consent_portal_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        text.contains("route=\"/api/v1/powers-of-attorney/{id}/revocation\",status=\"404\""),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "consent_portal_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/decisions/active-user\"}"
        ) == Some(2.0),
        "{text}"
    );
    // Accepting the terms wrote to the outbox; no webhook endpoint, so nothing lags.
    assert!(
        sample(&text, "consent_portal_outbox_head_position").is_some_and(|h| h >= 1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "consent_portal_webhook_fan_out_lag_events"),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "consent_portal_webhook_deliveries_pending"),
        Some(0.0)
    );
    assert!(sample(&text, "consent_portal_notifications_waiting").is_some());
    for pid in [persons::ASTRID, persons::INGRID, persons::BJORN] {
        assert!(!text.contains(pid), "no identity number in /metrics");
    }
    assert!(!text.contains("no-such-grant"), "no path in /metrics");
}

both_backends!(metrics_count_requests_decisions_and_queues);

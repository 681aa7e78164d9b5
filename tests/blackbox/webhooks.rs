//! Webhooks through HTTP: a machine client with `feed:read` registers an endpoint, and the
//! server's worker POSTs each later change-feed event it asked for, signed per the Standard
//! Webhooks specification, retrying failures with backoff until a 2xx, a 410 Gone (which disables
//! the endpoint) or the last attempt; the client reads each delivery's attempts, and the citizen
//! sees which systems received each of their changes.
//!
//! The endpoint is a small HTTP/1.1 receiver in this file (a [`Receiver`]) that records every
//! request and answers with scripted statuses. Every server runs its worker every 200 ms with a
//! 1 s retry base. Tests wait for arrivals by polling with a deadline, and check that nothing more
//! arrives by watching for a short, bounded quiet period.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;
use tests::app::send_json;
use tests::{both_backends, instant, persons, Backend, Session, TestApp};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::errors::expect_problem;

const WEBHOOKS: &str = "/api/v1/webhooks";
const CHANGE_DELIVERIES: &str = "/api/v1/change-deliveries";
const OPT_OUT: &str = "/api/v1/summary-care-record/opt-out";
const RESTORATION: &str = "/api/v1/summary-care-record/restoration";
const FEED_CLIENT: &str = "dev-service-feed";
const RECORDS_CLIENT: &str = "dev-service-records";
/// The longest wait for something the worker should do.
const WAIT: Duration = Duration::from_secs(20);
/// How long nothing more must arrive.
const QUIET: Duration = Duration::from_secs(3);
const POLL: Duration = Duration::from_millis(200);

// ---------------------------------------------------------------------------------- receiver

/// One request as the receiver got it.
#[derive(Debug, Clone)]
struct Received {
    /// Lowercase names.
    headers: HashMap<String, String>,
    body: String,
    at: Instant,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header: {:?}", self.headers))
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

type Script = Arc<Mutex<VecDeque<u16>>>;

/// A webhook endpoint on 127.0.0.1: records every request and answers with the next scripted
/// status, then `default`. Stops (with its connections) when dropped.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(script: &[u16], default: u16) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Script = Arc::new(Mutex::new(script.iter().copied().collect()));
        let task = tokio::spawn({
            let seen = seen.clone();
            async move {
                // Dropped with this task when it is aborted: that aborts the connections too.
                let mut connections = tokio::task::JoinSet::new();
                while let Ok((stream, _)) = listener.accept().await {
                    let (seen, script) = (seen.clone(), script.clone());
                    connections.spawn(async move {
                        let _ = serve(stream, seen, script, default).await;
                    });
                }
            }
        });
        Receiver { url, seen, task }
    }

    fn received(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived; returns them all.
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        eventually(&format!("{n} requests at the receiver"), || async {
            let got = self.received();
            (got.len() >= n).then_some(got)
        })
        .await
    }

    /// Checks that exactly `n` requests arrived and no more do for [`QUIET`].
    async fn stays_at(&self, n: usize) -> Vec<Received> {
        let until = Instant::now() + QUIET;
        while Instant::now() < until {
            assert_eq!(self.received().len(), n, "requests at the receiver");
            tokio::time::sleep(POLL).await;
        }
        let got = self.received();
        assert_eq!(got.len(), n, "requests at the receiver");
        got
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves one connection: HTTP/1.1 requests with Content-Length bodies, kept alive.
async fn serve(
    stream: TcpStream,
    seen: Arc<Mutex<Vec<Received>>>,
    script: Script,
    default: u16,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    loop {
        let mut line = String::new();
        if read.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if read.read_line(&mut h).await? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        read.read_exact(&mut body).await?;
        let close = headers
            .get("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let status = script.lock().unwrap().pop_front().unwrap_or(default);
        seen.lock().unwrap().push(Received {
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            at: Instant::now(),
        });
        let answer = format!("HTTP/1.1 {status} Scripted\r\nContent-Length: 0\r\n\r\n");
        write.write_all(answer.as_bytes()).await?;
        if close {
            return Ok(());
        }
    }
}

// ---------------------------------------------------------------------------------- helpers

/// Polls `probe` until it gives a value, for at most [`WAIT`].
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "waited {WAIT:?} for {what}");
        tokio::time::sleep(POLL).await;
    }
}

/// Whether `signature` (the `webhook-signature` header: `v1,<base64>`, possibly several
/// space-separated) is a valid signature of `id`, `timestamp` and `body` under `secret`.
fn verifies(secret: &str, id: &str, timestamp: &str, body: &str, signature: &str) -> bool {
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|k| STANDARD.decode(k).ok())
    else {
        return false;
    };
    signature.split_whitespace().any(|sig| {
        let Some(given) = sig
            .strip_prefix("v1,")
            .and_then(|s| STANDARD.decode(s).ok())
        else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
        mac.verify_slice(&given).is_ok()
    })
}

/// A server whose worker runs every 200 ms and retries after 1 s, 2 s, ...; `extra` adds
/// configuration.
async fn portal(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    let mut builder = TestApp::builder(backend)
        .env("WEBHOOK_INTERVAL_MS", "200")
        .env("WEBHOOK_RETRY_BASE_SECONDS", "1");
    for (k, v) in extra {
        builder = builder.env(k, v);
    }
    builder.spawn().await
}

async fn feed_token(app: &TestApp) -> String {
    app.idp.service_token(FEED_CLIENT, "feed:read").await
}

/// Registers `body` and checks the answer's shape; returns it (with the secret).
async fn register(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, hook) = send_json(app.as_service(token, Method::POST, WEBHOOKS).json(&body)).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "POST {WEBHOOKS} {body}: {hook}"
    );
    let mut keys: Vec<&str> = hook
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "created_at",
            "disabled_at",
            "disabled_reason",
            "event_types",
            "id",
            "secret",
            "url"
        ],
        "{hook}"
    );
    assert!(
        hook["id"].as_str().is_some_and(|id| !id.is_empty()),
        "{hook}"
    );
    assert_eq!(hook["url"], body["url"], "{hook}");
    assert_eq!(hook["disabled_at"], Value::Null, "{hook}");
    assert_eq!(hook["disabled_reason"], Value::Null, "{hook}");
    let created = instant(&hook["created_at"]);
    assert!(
        (chrono::Utc::now() - created).num_seconds().abs() < 60,
        "{hook}"
    );
    let secret = hook["secret"].as_str().unwrap();
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("base64 after whsec_");
    assert_eq!(key.len(), 32, "32 bytes of key: {secret}");
    hook
}

/// The caller's endpoints.
async fn list(app: &TestApp, token: &str) -> Vec<Value> {
    let (status, body) = send_json(app.as_service(token, Method::GET, WEBHOOKS)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let items = body["items"].as_array().cloned().unwrap_or_default();
    for item in &items {
        assert!(item.get("secret").is_none(), "a listed secret: {item}");
    }
    items
}

/// The endpoint's deliveries, newest first.
async fn deliveries(app: &TestApp, token: &str, hook: &str) -> Vec<Value> {
    let path = format!("{WEBHOOKS}/{hook}/deliveries");
    let (status, body) = send_json(app.as_service(token, Method::GET, &path)).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body["items"].as_array().cloned().unwrap_or_default()
}

/// Waits until the endpoint has `n` deliveries, none of them pending; returns them.
async fn settled(app: &TestApp, token: &str, hook: &str, n: usize) -> Vec<Value> {
    eventually(&format!("{n} settled deliveries of {hook}"), || async {
        let items = deliveries(app, token, hook).await;
        (items.len() == n && items.iter().all(|d| d["status"] != "pending")).then_some(items)
    })
    .await
}

/// The status codes of a delivery's attempts, checking that they are numbered 1, 2, ...
fn attempt_codes(delivery: &Value) -> Vec<i64> {
    let attempts = delivery["attempts"].as_array().unwrap();
    for (i, a) in attempts.iter().enumerate() {
        assert_eq!(a["attempt"], json!(i + 1), "{delivery}");
        instant(&a["at"]);
    }
    attempts
        .iter()
        .map(|a| a["status_code"].as_i64().unwrap_or(-1))
        .collect()
}

/// The citizen's changes with their receivers.
async fn change_deliveries(app: &TestApp, s: &Session) -> Vec<Value> {
    let (status, body) = app.get_json(s, CHANGE_DELIVERIES).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().cloned().unwrap_or_default()
}

/// A change of the citizen's terms level (`terms.level_changed`).
async fn change_level(app: &TestApp, s: &Session, level: &str) {
    let (status, body) = app
        .send_json(
            s,
            Method::PUT,
            "/api/v1/terms/level",
            json!({ "level": level }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "PUT level {level}: {body}");
}

async fn post_citizen(app: &TestApp, s: &Session, path: &str) {
    let (status, body) = app.send_json(s, Method::POST, path, json!({})).await;
    assert_eq!(status, StatusCode::OK, "POST {path}: {body}");
}

// ---------------------------------------------------------------------------------- tests

/// 500, 500, then 204: three signed requests of one message with the same `webhook-id`, spaced by
/// the backoff; the delivery is `delivered` with its three attempts, and the citizen sees the
/// feed client received the change.
async fn a_receiver_sees_signed_retries_after_two_failures(backend: Backend) {
    let app = portal(backend, &[]).await;
    let rx = Receiver::start(&[500, 500], 204).await;
    let token = feed_token(&app).await;
    let hook = register(
        &app,
        &token,
        json!({ "url": rx.url, "event_types": ["terms.*"] }),
    )
    .await;
    assert_eq!(hook["event_types"], json!(["terms.*"]), "{hook}");
    let id = hook["id"].as_str().unwrap();
    let secret = hook["secret"].as_str().unwrap();
    let listed = list(&app, &token).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], hook["id"]);
    assert_eq!(listed[0]["url"], hook["url"]);

    // The server's clock runs an hour ahead of the wall clock: events carry its time, the
    // signature's timestamp the wall clock's.
    app.advance_clock(3600).await;
    let astrid = app.login(persons::ASTRID).await;
    let (status, me) = app.get_json(&astrid, "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let me = me["citizen_id"].as_str().unwrap().to_owned();
    let before = app.server_now().await;
    app.accept_terms(&astrid, "basis").await;
    // Most likely before the worker hands the event out: the delivery is created two minutes
    // after the event, which must not change the event's time.
    app.advance_clock(120).await;
    let after = app.server_now().await;

    rx.wait_for(3).await;
    let got = rx.stays_at(3).await;
    let msg_id = got[0].header("webhook-id").to_owned();
    assert!(msg_id.starts_with("msg_"), "{msg_id}");
    let now = chrono::Utc::now().timestamp();
    for (i, r) in got.iter().enumerate() {
        assert_eq!(r.header("webhook-id"), msg_id, "request {i}: one message");
        let ts = r.header("webhook-timestamp");
        let secs: i64 = ts.parse().unwrap_or_else(|_| panic!("unix seconds: {ts}"));
        assert!(
            (now - secs).abs() <= 300,
            "request {i}: {secs} vs now {now}"
        );
        assert!(
            verifies(secret, &msg_id, ts, &r.body, r.header("webhook-signature")),
            "request {i}: the signature {} does not verify",
            r.header("webhook-signature")
        );
        assert!(
            r.header("content-type").starts_with("application/json"),
            "{:?}",
            r.headers
        );
        let body = r.json();
        assert_eq!(body["type"], "terms.accepted", "{body}");
        assert_eq!(body["data"]["type"], "terms.accepted", "{body}");
        assert_eq!(body["data"]["subject_id"], me.as_str(), "{body}");
        assert!(body["data"]["id"].as_str().is_some(), "{body}");
        let occurred = instant(&body["data"]["occurred_at"]);
        assert_eq!(instant(&body["timestamp"]), occurred, "{body}");
        assert!(
            occurred >= before - chrono::Duration::seconds(1) && occurred <= after,
            "the event's time on the server's clock ({before} to {after}): {body}"
        );
        assert_eq!(r.body, got[0].body, "a retry sends the same message");
    }
    // The verification means something: a changed body, id, timestamp or secret fails it.
    let (r, sig) = (&got[0], got[0].header("webhook-signature"));
    let ts = r.header("webhook-timestamp");
    let tampered = r.body.replace(&me, "someone-else");
    assert_ne!(tampered, r.body);
    assert!(!verifies(secret, &msg_id, ts, &tampered, sig));
    assert!(!verifies(secret, &msg_id, ts, &format!("{} ", r.body), sig));
    assert!(!verifies(secret, "msg_other", ts, &r.body, sig));
    let later = (ts.parse::<i64>().unwrap() + 1).to_string();
    assert!(!verifies(secret, &msg_id, &later, &r.body, sig));
    let other = format!("whsec_{}", STANDARD.encode([7u8; 32]));
    assert!(!verifies(&other, &msg_id, ts, &r.body, sig));
    let items = settled(&app, &token, id, 1).await;
    let d = &items[0];
    let event = &got[0].json()["data"];
    assert_eq!(d["id"], msg_id.as_str(), "{d}");
    assert_eq!(d["status"], "delivered", "{d}");
    assert_eq!(d["next_attempt_at"], Value::Null, "{d}");
    instant(&d["delivered_at"]);
    assert_eq!(attempt_codes(d), [500, 500, 204], "{d}");
    assert!(
        d["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["error"].is_null()),
        "{d}"
    );
    assert_eq!(d["event"]["id"], event["id"], "{d}");
    assert_eq!(d["event"]["type"], "terms.accepted", "{d}");
    assert_eq!(d["event"]["subject_id"], me.as_str(), "{d}");
    assert_eq!(
        instant(&d["event"]["occurred_at"]),
        instant(&event["occurred_at"]),
        "the delivery's event is the event sent: {d} vs {event}"
    );

    let changes = change_deliveries(&app, &astrid).await;
    let change = changes
        .iter()
        .find(|c| c["event"]["id"] == event["id"])
        .unwrap_or_else(|| panic!("the change is listed: {changes:?}"));
    assert_eq!(change["event"]["type"], "terms.accepted", "{change}");
    assert_eq!(change["event"]["subject_id"], me.as_str(), "{change}");
    assert_eq!(
        instant(&change["event"]["occurred_at"]),
        instant(&event["occurred_at"]),
        "{change}"
    );
    let receivers = change["receivers"].as_array().unwrap();
    assert_eq!(receivers.len(), 1, "{change}");
    assert_eq!(receivers[0]["client_id"], FEED_CLIENT, "{change}");
    assert_eq!(receivers[0]["status"], "delivered", "{change}");
    assert_eq!(
        instant(&receivers[0]["delivered_at"]),
        instant(&d["delivered_at"]),
        "{change}"
    );

    // Backoff (last: the checks above do not depend on it): about 1 s, then about 2 s (±20 %).
    let gaps: Vec<Duration> = got.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(
        gaps[0] >= Duration::from_millis(750),
        "the first retry came {:?} after the first attempt, sooner than 1 s - 20 %",
        gaps[0]
    );
    assert!(
        gaps[1] >= Duration::from_millis(1550),
        "the second retry came {:?} after the first retry, sooner than 2 s - 20 %",
        gaps[1]
    );
}

/// An endpoint that answers 410 Gone is disabled at once: its delivery is `endpoint_disabled`
/// after one attempt, and later events are not sent to it.
async fn a_gone_endpoint_is_disabled(backend: Backend) {
    let app = portal(backend, &[]).await;
    let rx = Receiver::start(&[], 410).await;
    let token = feed_token(&app).await;
    // No event types: every event.
    let hook = register(&app, &token, json!({ "url": rx.url })).await;
    assert_eq!(hook["event_types"], json!([]), "{hook}");
    let id = hook["id"].as_str().unwrap();

    let astrid = app.login(persons::ASTRID).await;
    app.accept_terms(&astrid, "basis").await;
    let first = rx.wait_for(1).await;
    assert_eq!(first[0].json()["type"], "terms.accepted");

    let listed = eventually("the endpoint disabled", || async {
        let items = list(&app, &token).await;
        (items.len() == 1 && !items[0]["disabled_at"].is_null()).then_some(items)
    })
    .await;
    assert_eq!(listed[0]["id"], id, "{listed:?}");
    assert_eq!(listed[0]["disabled_reason"], "gone", "{listed:?}");
    instant(&listed[0]["disabled_at"]);

    let items = settled(&app, &token, id, 1).await;
    let d = &items[0];
    assert_eq!(d["status"], "endpoint_disabled", "{d}");
    assert_eq!(d["id"], first[0].header("webhook-id"), "{d}");
    assert_eq!(attempt_codes(d), [410], "{d}");
    assert_eq!(d["delivered_at"], Value::Null, "{d}");
    assert_eq!(d["next_attempt_at"], Value::Null, "{d}");

    change_level(&app, &astrid, "full").await;
    rx.stays_at(1).await;
    let items = deliveries(&app, &token, id).await;
    assert!(
        items.iter().all(|d| d["status"] == "endpoint_disabled"),
        "nothing pending for a disabled endpoint: {items:?}"
    );

    let changes = change_deliveries(&app, &astrid).await;
    let accepted = changes
        .iter()
        .find(|c| c["event"]["id"] == d["event"]["id"])
        .unwrap_or_else(|| panic!("the change is listed: {changes:?}"));
    assert_eq!(
        accepted["receivers"],
        json!([{ "client_id": FEED_CLIENT, "status": "endpoint_disabled", "delivered_at": null }]),
        "{accepted}"
    );
}

/// With `WEBHOOK_MAX_ATTEMPTS=2` and an endpoint that always fails, a message is tried twice and
/// then given up; the endpoint stays enabled.
async fn deliveries_give_up_after_the_last_attempt(backend: Backend) {
    let app = portal(backend, &[("WEBHOOK_MAX_ATTEMPTS", "2")]).await;
    let rx = Receiver::start(&[], 500).await;
    let token = feed_token(&app).await;
    let hook = register(&app, &token, json!({ "url": rx.url, "event_types": ["*"] })).await;
    assert_eq!(hook["event_types"], json!([]), "`*` is every event: {hook}");
    let id = hook["id"].as_str().unwrap();

    let astrid = app.login(persons::ASTRID).await;
    app.accept_terms(&astrid, "basis").await;
    rx.wait_for(2).await;
    let got = rx.stays_at(2).await;
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));

    let items = settled(&app, &token, id, 1).await;
    let d = &items[0];
    assert_eq!(d["status"], "given_up", "{d}");
    assert_eq!(d["id"], got[0].header("webhook-id"), "{d}");
    assert_eq!(attempt_codes(d), [500, 500], "{d}");
    assert_eq!(d["delivered_at"], Value::Null, "{d}");
    assert_eq!(d["next_attempt_at"], Value::Null, "{d}");
    let listed = list(&app, &token).await;
    assert_eq!(listed[0]["disabled_at"], Value::Null, "{listed:?}");

    let changes = change_deliveries(&app, &astrid).await;
    assert_eq!(changes[0]["event"]["id"], d["event"]["id"], "{changes:?}");
    assert_eq!(
        changes[0]["receivers"][0]["status"], "given_up",
        "{changes:?}"
    );
}

/// Event-type filters choose what is sent; bad URLs and event types are refused; the scope is
/// needed; one client cannot see or touch another's endpoints; a removed endpoint gets nothing.
async fn filters_scopes_and_ownership(backend: Backend) {
    let app = portal(backend, &[]).await;
    let rx = Receiver::start(&[], 204).await;
    let token = feed_token(&app).await;
    let records = app.idp.service_token(RECORDS_CLIENT, "feed:read").await;

    // Refusals.
    let long = format!("https://records.example/{}", "a".repeat(2000 - 24));
    assert_eq!(long.len(), 2000);
    for url in [
        "http://records.example/x",
        "ftp://127.0.0.1/",
        "https://u:p@records.example/",
        "not a url",
        "/relative",
        "http://10.0.0.1/hook",
        &format!("{long}a"),
    ] {
        let (p, _) = expect_problem(
            app.as_service(&token, Method::POST, WEBHOOKS)
                .json(&json!({ "url": url })),
            StatusCode::BAD_REQUEST,
            "validation-failed",
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "url", "{url}: {p}");
    }
    for (types, field) in [
        (json!(["Bad"]), "event_types[0]"),
        (json!(["terms"]), "event_types[0]"),
        (json!(["terms.*", "a.*.b"]), "event_types[1]"),
    ] {
        let (p, _) = expect_problem(
            app.as_service(&token, Method::POST, WEBHOOKS)
                .json(&json!({ "url": rx.url, "event_types": types })),
            StatusCode::BAD_REQUEST,
            "validation-failed",
        )
        .await;
        assert_eq!(p["errors"][0]["field"], field, "{types}: {p}");
    }
    let reader = app
        .idp
        .service_token("dev-service-reader", "consent:read")
        .await;
    expect_problem(
        app.as_service(&reader, Method::POST, WEBHOOKS)
            .json(&json!({ "url": rx.url })),
        StatusCode::FORBIDDEN,
        "insufficient-scope",
    )
    .await;
    expect_problem(
        app.as_service(&reader, Method::GET, WEBHOOKS),
        StatusCode::FORBIDDEN,
        "insufficient-scope",
    )
    .await;
    expect_problem(
        app.client
            .post(app.url(WEBHOOKS))
            .json(&json!({ "url": rx.url })),
        StatusCode::UNAUTHORIZED,
        "invalid-token",
    )
    .await;
    assert!(
        list(&app, &token).await.is_empty(),
        "refusals register nothing"
    );

    // 2000 characters are allowed; this one never fires (no objection happens here).
    let quiet = register(
        &app,
        &token,
        json!({ "url": long, "event_types": ["objection.registered"] }),
    )
    .await;
    // Times are whole seconds: register the next one in a later second, so it is newer.
    let next_second = instant(&quiet["created_at"]) + chrono::Duration::seconds(1);
    if let Ok(wait) = (next_second - chrono::Utc::now()).to_std() {
        tokio::time::sleep(wait + Duration::from_millis(20)).await;
    }
    let hook = register(
        &app,
        &token,
        json!({ "url": rx.url, "event_types": ["summary_care_record.*"] }),
    )
    .await;
    let id = hook["id"].as_str().unwrap();
    let listed = list(&app, &token).await;
    let ids: Vec<&Value> = listed.iter().map(|h| &h["id"]).collect();
    assert_eq!(ids, [&hook["id"], &quiet["id"]], "newest first");

    // Another client's endpoints are none of this one's business, and the other way round.
    let theirs = register(
        &app,
        &records,
        json!({ "url": "https://records.example/hooks", "event_types": ["objection.registered"] }),
    )
    .await;
    let their_list = list(&app, &records).await;
    assert_eq!(their_list.len(), 1, "{their_list:?}");
    assert_eq!(their_list[0]["id"], theirs["id"]);
    assert!(
        list(&app, &token)
            .await
            .iter()
            .all(|h| h["id"] != theirs["id"]),
        "another client's endpoint is not listed"
    );
    let deliveries_path = format!("{WEBHOOKS}/{id}/deliveries");
    let hook_path = format!("{WEBHOOKS}/{id}");
    expect_problem(
        app.as_service(&records, Method::GET, &deliveries_path),
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    expect_problem(
        app.as_service(&records, Method::DELETE, &hook_path),
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    expect_problem(
        app.as_service(&token, Method::DELETE, &format!("{WEBHOOKS}/no-such-hook")),
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    expect_problem(
        app.as_service(
            &token,
            Method::GET,
            &format!("{WEBHOOKS}/no-such-hook/deliveries"),
        ),
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    expect_problem(
        app.as_service(&reader, Method::GET, &deliveries_path),
        StatusCode::FORBIDDEN,
        "insufficient-scope",
    )
    .await;
    for limit in ["0", "201"] {
        let (p, _) = expect_problem(
            app.as_service(
                &token,
                Method::GET,
                &format!("{deliveries_path}?limit={limit}"),
            ),
            StatusCode::BAD_REQUEST,
            "validation-failed",
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "limit", "{limit}: {p}");
    }
    let (status, body) =
        send_json(app.as_service(&token, Method::GET, &format!("{deliveries_path}?limit=200")))
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed = list(&app, &token).await;
    assert!(
        listed.iter().all(|h| h["disabled_at"].is_null()),
        "the refused removal removed nothing: {listed:?}"
    );

    // Terms are not summary-care-record events: nothing is sent.
    let astrid = app.login(persons::ASTRID).await;
    app.accept_terms(&astrid, "full").await;
    rx.stays_at(0).await;
    assert!(deliveries(&app, &token, id).await.is_empty());

    post_citizen(&app, &astrid, OPT_OUT).await;
    let got = rx.wait_for(1).await;
    let body = got[0].json();
    assert_eq!(body["type"], "summary_care_record.opted_out", "{body}");
    assert_eq!(
        body["data"]["subject_id"],
        astrid.citizen_id.as_str(),
        "{body}"
    );
    let items = settled(&app, &token, id, 1).await;
    assert_eq!(items[0]["status"], "delivered", "{items:?}");
    assert_eq!(
        items[0]["event"]["type"], "summary_care_record.opted_out",
        "{items:?}"
    );
    assert_eq!(attempt_codes(&items[0]), [204]);

    // Removed by its owner: nothing more is sent.
    let (status, removed) = send_json(app.as_service(&token, Method::DELETE, &hook_path)).await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert_eq!(removed["id"], hook["id"], "{removed}");
    assert_eq!(removed["disabled_reason"], "removed", "{removed}");
    instant(&removed["disabled_at"]);
    assert!(removed.get("secret").is_none(), "{removed}");
    // It is gone for its client: not listed, its deliveries and a second removal not found.
    let listed = list(&app, &token).await;
    assert!(
        listed.iter().all(|h| h["id"] != hook["id"]),
        "a removed endpoint is not listed: {listed:?}"
    );
    expect_problem(
        app.as_service(&token, Method::GET, &format!("{hook_path}/deliveries")),
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    expect_problem(
        app.as_service(&token, Method::DELETE, &hook_path),
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    assert_eq!(
        list(&app, &records).await.len(),
        1,
        "the other client's endpoint stays"
    );
    post_citizen(&app, &astrid, RESTORATION).await;
    rx.stays_at(1).await;
    // The citizen still sees who received the opt-out.
    let (status, changes) = app.get_json(&astrid, "/api/v1/change-deliveries").await;
    assert_eq!(status, StatusCode::OK, "{changes}");
    let opt_out = changes["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|c| c["event"]["type"] == "summary_care_record.opted_out")
        .expect("the opt-out");
    assert_eq!(opt_out["receivers"][0]["status"], "delivered", "{opt_out}");
}

/// Two instances on one database, both running the worker: every message is sent once.
async fn two_instances_send_each_message_once(backend: Backend) {
    let app = portal(backend.clone(), &[]).await;
    let second = TestApp::builder(backend)
        .env("WEBHOOK_INTERVAL_MS", "200")
        .env("WEBHOOK_RETRY_BASE_SECONDS", "1")
        .sharing_database_of(&app)
        .spawn()
        .await;
    let rx = Receiver::start(&[], 204).await;
    let token = feed_token(&app).await;
    let hook = register(&app, &token, json!({ "url": rx.url })).await;
    let id = hook["id"].as_str().unwrap();

    let astrid = app.login(persons::ASTRID).await;
    app.accept_terms(&astrid, "basis").await;
    for (i, level) in ["full", "basis", "full", "basis"].into_iter().enumerate() {
        // Alternate the instance that takes the change.
        let on = if i % 2 == 0 { &second } else { &app };
        change_level(on, &astrid, level).await;
    }

    rx.wait_for(5).await;
    let got = rx.stays_at(5).await;
    let msg_ids: HashSet<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(msg_ids.len(), 5, "five messages: {msg_ids:?}");
    let bodies: Vec<Value> = got.iter().map(Received::json).collect();
    let event_ids: HashSet<&str> = bodies
        .iter()
        .map(|b| b["data"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(event_ids.len(), 5, "five events: {bodies:?}");
    let mut types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    types.sort_unstable();
    assert_eq!(
        types,
        [
            "terms.accepted",
            "terms.level_changed",
            "terms.level_changed",
            "terms.level_changed",
            "terms.level_changed"
        ]
    );
    for (r, b) in got.iter().zip(&bodies) {
        assert_eq!(b["data"]["subject_id"], astrid.citizen_id.as_str(), "{b}");
        assert!(verifies(
            hook["secret"].as_str().unwrap(),
            r.header("webhook-id"),
            r.header("webhook-timestamp"),
            &r.body,
            r.header("webhook-signature"),
        ));
    }

    for on in [&app, &second] {
        let items = settled(on, &token, id, 5).await;
        for d in &items {
            assert_eq!(d["status"], "delivered", "{d}");
            assert_eq!(attempt_codes(d), [204], "{d}");
        }
        let ids: HashSet<&str> = items.iter().map(|d| d["id"].as_str().unwrap()).collect();
        assert_eq!(ids, msg_ids, "the deliveries are the messages sent");
    }
}

/// Counts the endpoints whose stored secret matches `pattern` (SQL `LIKE`), by an update that
/// changes nothing (the harness runs statements, not queries).
fn stored_like(app: &TestApp, pattern: &str) -> usize {
    app.execute_sql(&format!(
        "UPDATE webhook_endpoints SET url = url WHERE secret LIKE '{pattern}'"
    ))
}

/// Signing secrets are stored sealed, not as issued: an endpoint registered by a server without
/// `WEBHOOK_SECRET_KEY_FILE` is sealed when a server with the key starts, one registered with
/// the key is sealed at once, and both still sign with the secret their registration returned.
async fn secrets_are_stored_sealed(backend: Backend) {
    let unsealed = portal(
        backend.clone(),
        &[
            ("WEBHOOK_SECRET_KEY_FILE", ""),
            ("WEBHOOK_INTERVAL_MS", "0"),
        ],
    )
    .await;
    let (rx_old, rx_new) = (
        Receiver::start(&[], 204).await,
        Receiver::start(&[], 204).await,
    );
    let token = feed_token(&unsealed).await;
    let old = register(&unsealed, &token, json!({ "url": rx_old.url })).await;
    let old_secret = old["secret"].as_str().unwrap();
    assert_eq!(stored_like(&unsealed, old_secret), 1, "stored as issued");

    let sealed = TestApp::builder(backend)
        .env("WEBHOOK_INTERVAL_MS", "200")
        .sharing_database_of(&unsealed)
        .spawn()
        .await;
    assert_eq!(stored_like(&sealed, old_secret), 0, "sealed at start-up");
    let new = register(&sealed, &token, json!({ "url": rx_new.url })).await;
    let new_secret = new["secret"].as_str().unwrap();
    assert!(new_secret.starts_with("whsec_"), "{new}");
    assert_eq!(
        stored_like(&sealed, new_secret),
        0,
        "sealed when registered"
    );
    assert_eq!(stored_like(&sealed, "sealed:v1:%"), 2);
    assert_eq!(stored_like(&sealed, "%whsec_%"), 0);
    // Listing never shows a secret, sealed or not (`list` checks).
    assert_eq!(list(&sealed, &token).await.len(), 2);

    let astrid = sealed.login(persons::ASTRID).await;
    sealed.accept_terms(&astrid, "basis").await;
    for (rx, secret) in [(&rx_old, old_secret), (&rx_new, new_secret)] {
        let got = rx.wait_for(1).await;
        let r = &got[0];
        assert!(
            verifies(
                secret,
                r.header("webhook-id"),
                r.header("webhook-timestamp"),
                &r.body,
                r.header("webhook-signature"),
            ),
            "signed with the secret the registration returned"
        );
    }
}

both_backends!(
    secrets_are_stored_sealed,
    a_receiver_sees_signed_retries_after_two_failures,
    a_gone_endpoint_is_disabled,
    deliveries_give_up_after_the_last_attempt,
    filters_scopes_and_ownership,
    two_instances_send_each_message_once,
);

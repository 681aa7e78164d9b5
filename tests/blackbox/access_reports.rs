//! Access reports through HTTP: a downstream system's access lands in the citizen's usage log
//! once per Idempotency-Key, with the fields of a summary-care-record access log.

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tests::{both_backends, persons, Backend, TestApp};

const PATH: &str = "/api/v1/access-reports";

pub(crate) fn report(pid: &str) -> Value {
    json!({
        "pid": pid,
        "accessed_at": "2026-11-20T10:15:00Z",
        "information_object": "Kjernejournal: legemidler",
        "professional": { "hpr_number": "123456789", "name": "Kari Lege", "role": "lege" },
        "organisation": { "number": "974589095", "name": "Oslo universitetssykehus" },
        "basis": "ordinary_care",
        "changed": false,
        "calling_system": "DIPS Arena"
    })
}

async fn send(app: &TestApp, token: &str, key: Option<&str>, body: &Value) -> (StatusCode, Value) {
    let mut req = app.as_service(token, Method::POST, PATH).json(body);
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    tests::app::send_json(req).await
}

fn reported(log: &[Value]) -> Vec<&Value> {
    log.iter()
        .filter(|e| e["action"] == "access.reported")
        .collect()
}

async fn an_access_is_logged_once_per_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app
        .idp
        .service_token("dev-service-writer", "access-log:write")
        .await;
    let body = report(persons::ASTRID);

    let (status, first) = send(&app, &token, Some("k-1"), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, again) = send(&app, &token, Some("k-1"), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again, first, "the same key and body give the same answer");

    let mut other = body.clone();
    other["changed"] = json!(true);
    let (status, p) = send(&app, &token, Some("k-1"), &other).await;
    assert_eq!(status.as_u16(), 422, "{p}");
    assert_eq!(p["type"], "/problems/idempotency-key-reused");

    // The citizen sees one entry with every field, naming the calling service, and no number.
    let s = app.login(persons::ASTRID).await;
    app.accept_terms(&s, "basis").await;
    assert_eq!(first["subject_id"], s.citizen_id.as_str());
    let log = app.usage_log(&s).await;
    let entries = reported(&log);
    assert_eq!(entries.len(), 1);
    let e = entries[0];
    assert_eq!(e["actor_kind"], "service");
    assert_eq!(e["actor_id"], "dev-service-writer");
    assert_eq!(e["seq"], first["seq"]);
    assert_eq!(e["details"]["professional"]["hpr_number"], "123456789");
    assert_eq!(
        e["details"]["organisation"]["name"],
        "Oslo universitetssykehus"
    );
    assert_eq!(e["details"]["basis"], "ordinary_care");
    assert_eq!(e["details"]["calling_system"], "DIPS Arena");
    assert!(!e.to_string().contains(persons::ASTRID));

    // It is among what happened since the citizen's last login.
    let s2 = app.login(persons::ASTRID).await;
    let (_, since) = app
        .get_json(&s2, "/api/v1/usage-log/since-last-login")
        .await;
    assert!(
        since["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["action"] != "access.reported"),
        "reported before the previous login, so not new: {since}"
    );
    let (status, _) = send(&app, &token, Some("k-2"), &report(persons::ASTRID)).await;
    assert_eq!(status, StatusCode::CREATED);
    let s3 = app.login(persons::ASTRID).await;
    let (_, since) = app
        .get_json(&s3, "/api/v1/usage-log/since-last-login")
        .await;
    assert_eq!(
        reported(since["items"].as_array().unwrap()).len(),
        1,
        "{since}"
    );
}

/// Concurrent requests with one key: one access, each answer is either that access or 409.
async fn concurrent_requests_with_one_key_make_one_entry(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app
        .idp
        .service_token("dev-service-writer", "access-log:write")
        .await;
    let body = report(persons::BJORN);
    let answers = join_all((0..6).map(|_| send(&app, &token, Some("same"), &body))).await;
    let created: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .map(|(_, b)| b)
        .collect();
    assert!(!created.is_empty());
    assert!(created.iter().all(|b| *b == created[0]), "{answers:?}");
    for (status, body) in &answers {
        assert!(
            *status == StatusCode::CREATED
                || (*status == StatusCode::CONFLICT
                    && body["type"] == "/problems/idempotency-key-in-progress"),
            "{status} {body}"
        );
    }
    // Bjørn never logged in: the access is in his log all the same.
    let s = app.login(persons::BJORN).await;
    app.accept_terms(&s, "basis").await;
    assert_eq!(reported(&app.usage_log(&s).await).len(), 1);
}

/// Without a key, with bad fields, or without the scope: refused, nothing logged.
async fn bad_reports_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app
        .idp
        .service_token("dev-service-writer", "access-log:write")
        .await;
    let (status, p) = send(&app, &token, None, &report(persons::INGRID)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{p}");
    assert_eq!(p["errors"][0]["field"], "Idempotency-Key");
    let cases = [
        (
            "/professional/hpr_number",
            json!("12x"),
            "professional.hpr_number",
        ),
        ("/organisation/number", json!("1234"), "organisation.number"),
        ("/pid", json!("123"), "pid"),
        ("/information_object", json!(""), "information_object"),
        (
            "/calling_system",
            json!("system 10829241876"),
            "calling_system",
        ),
        ("/basis", json!("curiosity"), "basis"),
    ];
    for (pointer, value, field) in cases {
        let mut body = report(persons::INGRID);
        *body.pointer_mut(pointer).unwrap() = value;
        let (status, p) = send(&app, &token, Some(&format!("k{pointer}")), &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{pointer}: {p}");
        assert_eq!(p["errors"][0]["field"], field, "{p}");
        assert!(!p.to_string().contains(persons::INGRID));
    }
    let reader = app
        .idp
        .service_token("dev-service-reader", "consent:read")
        .await;
    let (status, p) = send(&app, &reader, Some("k"), &report(persons::INGRID)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{p}");
    assert_eq!(p["type"], "/problems/insufficient-scope");

    let s = app.login(persons::INGRID).await;
    app.accept_terms(&s, "basis").await;
    assert!(
        reported(&app.usage_log(&s).await).is_empty(),
        "nothing was logged"
    );
}

both_backends!(
    an_access_is_logged_once_per_key,
    concurrent_requests_with_one_key_make_one_entry,
    bad_reports_are_refused,
    an_emergency_access_is_announced_once,
);

/// An access on the emergency basis is announced in the change feed (the notification path reads
/// it, DESIGN §2.8); an ordinary one is not, and a repeat with the same key announces nothing new.
async fn an_emergency_access_is_announced_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app
        .idp
        .service_token("dev-service-writer", "access-log:write")
        .await;
    let (status, ordinary) = send(&app, &token, Some("o-1"), &report(persons::ASTRID)).await;
    assert_eq!(status, StatusCode::CREATED, "{ordinary}");
    let mut body = report(persons::ASTRID);
    body["basis"] = json!("emergency");
    for _ in 0..2 {
        let (status, answer) = send(&app, &token, Some("e-1"), &body).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    let subject = ordinary["subject_id"].as_str().expect("subject").to_owned();
    let announced: Vec<_> = app
        .feed_events()
        .await
        .into_iter()
        .filter(|(_, s)| *s == subject)
        .map(|(t, _)| t)
        .collect();
    assert_eq!(announced, vec!["access.emergency_reported".to_owned()]);
}

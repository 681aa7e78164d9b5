//! The change feed through HTTP: a reader that pages with a small limit and resumes from its
//! cursor sees every consent-relevant change once, in order; cursors are replayable, bound to
//! their client, and checked.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tests::{both_backends, persons, Backend, TestApp};

async fn page(app: &TestApp, token: &str, cursor: Option<&str>, limit: u32) -> (StatusCode, Value) {
    let mut path = format!("/api/v1/feed?limit={limit}");
    if let Some(c) = cursor {
        path.push_str(&format!("&cursor={c}"));
    }
    tests::app::send_json(app.as_service(token, Method::GET, &path)).await
}

/// Reads everything after `cursor`, `limit` at a time; returns the events and the last cursor.
async fn read_all(
    app: &TestApp,
    token: &str,
    mut cursor: Option<String>,
    limit: u32,
) -> (Vec<Value>, String) {
    let mut events = Vec::new();
    loop {
        let (status, body) = page(app, token, cursor.as_deref(), limit).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let batch = body["events"].as_array().cloned().unwrap_or_default();
        let next = body["next_cursor"].as_str().unwrap().to_owned();
        if batch.is_empty() {
            assert!(
                cursor.as_deref().is_none_or(|c| c == next),
                "an empty page keeps the cursor"
            );
            return (events, next);
        }
        assert!(batch.len() <= limit as usize);
        events.extend(batch);
        cursor = Some(next);
    }
}

async fn a_resuming_reader_sees_every_change_in_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.idp.service_token("dev-service-feed", "feed:read").await;

    let astrid = app.login(persons::ASTRID).await;
    let bjorn = app.login(persons::BJORN).await;
    app.accept_terms(&astrid, "basis").await;
    // A reader that starts now and stops half-way.
    let (first, cursor) = read_all(&app, &token, None, 2).await;
    assert_eq!(first.len(), 1);

    let (status, _) = app
        .send_json(
            &astrid,
            Method::PUT,
            "/api/v1/terms/level",
            json!({ "level": "full" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.accept_terms(&bjorn, "full").await;
    let (status, g) = app
        .send_json(
            &astrid,
            Method::POST,
            "/api/v1/powers-of-attorney",
            json!({ "grantee_pid": persons::BJORN, "all_areas": true }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    let id = g["id"].as_str().unwrap();
    for what in ["acceptance", "revocation"] {
        let (status, body) = app
            .send_json(
                &bjorn,
                Method::POST,
                &format!("/api/v1/powers-of-attorney/{id}/{what}"),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, _) = app
        .send_json(&astrid, Method::POST, "/api/v1/terms/withdrawal", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);

    // The reader resumes from its cursor.
    let (rest, _) = read_all(&app, &token, Some(cursor.clone()), 2).await;
    let all: Vec<Value> = first.iter().chain(rest.iter()).cloned().collect();
    let seen: Vec<(String, String)> = all
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["subject_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let a = astrid.citizen_id.clone();
    let b = bjorn.citizen_id.clone();
    let expected: Vec<(String, String)> = [
        ("terms.accepted", &a),
        ("terms.level_changed", &a),
        ("terms.accepted", &b),
        ("power_of_attorney.granted", &a),
        ("power_of_attorney.accepted", &a),
        ("power_of_attorney.revoked_by_grantee", &a),
        ("terms.withdrawn", &a),
    ]
    .into_iter()
    .map(|(t, s)| (t.to_owned(), s.clone()))
    .collect();
    assert_eq!(seen, expected);

    // Events are thin and unique.
    let mut ids: Vec<&str> = all.iter().map(|e| e["id"].as_str().unwrap()).collect();
    for e in &all {
        let mut keys: Vec<&String> = e.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["id", "occurred_at", "subject_id", "type"]);
        assert!(!e.to_string().contains(persons::ASTRID));
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all.len());

    // Replay from the retained cursor gives the same events again.
    let (again, _) = read_all(&app, &token, Some(cursor), 5).await;
    assert_eq!(again, rest);
}

/// Malformed cursors, cursors past the head and other clients' cursors are 400; a token
/// without `feed:read` is 403.
async fn cursors_are_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.idp.service_token("dev-service-feed", "feed:read").await;
    let forged = |client: &str, after: i64| {
        URL_SAFE_NO_PAD.encode(json!({ "v": 1, "client": client, "after": after }).to_string())
    };
    for bad in [
        "!!!".to_owned(),
        "bm90LWpzb24".to_owned(),
        forged("dev-service-feed", 1_000_000),
        forged("dev-service-reader", 0),
    ] {
        let (status, p) = page(&app, &token, Some(&bad), 10).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {p}");
        assert_eq!(p["type"], "/problems/validation-failed");
        assert_eq!(p["errors"][0]["field"], "cursor");
    }
    for limit in [0, 501] {
        let (status, p) = page(&app, &token, None, limit).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{p}");
    }
    let reader = app
        .idp
        .service_token("dev-service-reader", "consent:read")
        .await;
    let (status, p) = page(&app, &reader, None, 10).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{p}");
    assert_eq!(p["type"], "/problems/insufficient-scope");
}

both_backends!(
    a_resuming_reader_sees_every_change_in_order,
    cursors_are_checked
);

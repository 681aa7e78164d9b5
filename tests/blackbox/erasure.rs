//! Withdrawing the terms consent erases what the portal may forget and keeps what the law says
//! to keep (api/src/erasure.rs): contact details, messages and access switches go; the consent
//! history, the summary care record opt-out and blocks stay; usage-log entries older than the
//! retention go, and what remains still verifies (`consent-portal verify-log`).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tests::persons::ASTRID;
use tests::{both_backends, Backend, Session, TestApp};

const TODAY: &str = "2026-11-23T12:00:00Z";

async fn ok(app: &TestApp, s: &Session, method: Method, path: &str, body: Value) -> Value {
    let (status, answer) = app.send_json(s, method, path, body).await;
    assert!(status.is_success(), "{path}: {status} {answer}");
    answer
}

async fn withdrawal_erases_exactly_what_it_should(backend: Backend) {
    let app = TestApp::builder(backend)
        .env("USAGE_LOG_RETENTION_DAYS", "1")
        .env("PURGE_INTERVAL_SECONDS", "0")
        .env("REMINDER_INTERVAL_SECONDS", "0")
        .spawn()
        .await;
    app.set_clock(TODAY).await;
    let astrid = app.login(ASTRID).await;
    app.accept_terms(&astrid, "full").await;
    ok(
        &app,
        &astrid,
        Method::PUT,
        "/api/v1/contact-details",
        json!({ "email": "astrid@example.org", "phone": "+4791234567", "language": "en" }),
    )
    .await;
    ok(
        &app,
        &astrid,
        Method::POST,
        "/api/v1/summary-care-record/opt-out",
        json!({}),
    )
    .await;
    ok(
        &app,
        &astrid,
        Method::POST,
        "/api/v1/summary-care-record/blocks",
        json!({ "kind": "professional", "hpr_number": "1234567" }),
    )
    .await;
    ok(
        &app,
        &astrid,
        Method::PUT,
        "/api/v1/access-switches/patient_record",
        json!({ "access": "removed" }),
    )
    .await;
    let before = app.usage_log(&astrid).await;
    assert!(before.len() >= 6, "{before:?}");

    // Two days on, past the one-day retention: withdraw.
    app.advance_clock(2 * 24 * 3600).await;
    let astrid = app.login(ASTRID).await;
    ok(
        &app,
        &astrid,
        Method::POST,
        "/api/v1/terms/withdrawal",
        json!({}),
    )
    .await;

    // Accept again to look (everything else needs an accepted consent).
    app.accept_terms(&astrid, "basis").await;
    let (_, contact) = app.get_json(&astrid, "/api/v1/contact-details").await;
    assert_eq!(contact["email"], Value::Null, "{contact}");
    assert_eq!(contact["phone"], Value::Null, "{contact}");
    let (_, messages) = app.get_json(&astrid, "/api/v1/notifications").await;
    assert!(
        messages["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["created_at"].as_str().unwrap_or_default() > "2026-11-24"),
        "the messages planned before the withdrawal are gone: {messages}"
    );
    let (_, switches) = app.get_json(&astrid, "/api/v1/access-switches").await;
    assert!(
        switches["switches"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["access"] == "open"),
        "{switches}"
    );
    // Kept: the opt-out, the block, the consent's history.
    let (_, record) = app.get_json(&astrid, "/api/v1/summary-care-record").await;
    assert_eq!(record["state"], "opted_out", "{record}");
    let (_, blocks) = app
        .get_json(&astrid, "/api/v1/summary-care-record/blocks")
        .await;
    assert_eq!(blocks["items"][0]["hpr_number"], "1234567", "{blocks}");
    let (_, terms) = app.get_json(&astrid, "/api/v1/terms").await;
    let actions: Vec<&str> = terms["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["action"].as_str())
        .collect();
    assert!(actions.contains(&"terms.withdrawn"), "{terms}");
    assert!(actions.len() >= 3, "{terms}");

    // The log: the old entries are gone, the withdrawal and after remain, and the chain verifies.
    let after = app.usage_log(&astrid).await;
    assert!(
        after
            .iter()
            .all(|e| e["at"].as_str().unwrap_or_default() >= "2026-11-25"),
        "{after:?}"
    );
    assert!(after.iter().any(|e| e["action"] == "terms.withdrawn"));
    let first_left = after
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .min()
        .unwrap();
    let last_before = before
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .max()
        .unwrap();
    assert!(first_left > last_before, "numbering goes on after the cut");
    let out = app.run_command("verify-log");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the cut log verifies: {text}");
    assert!(!text.contains("broken usage-log chain"), "{text}");
    assert!(text.contains("broken=0"), "{text}");
    assert_eq!(
        StatusCode::OK,
        app.as_citizen(&astrid, Method::GET, "/api/v1/usage-log")
            .send()
            .await
            .unwrap()
            .status()
    );
}

both_backends!(withdrawal_erases_exactly_what_it_should);

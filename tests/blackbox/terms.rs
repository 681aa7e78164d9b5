//! The terms of use consent over its life: accept, change level, refusals that change nothing,
//! withdraw, accept again, and a new version of the terms. Every change writes exactly one
//! usage-log entry named after it; a refusal writes none.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tests::{both_backends, persons, Backend, Session, TestApp};

use crate::errors::expect_problem;

/// The actions of the citizen's terms history, oldest first.
fn history_actions(terms: &Value) -> Vec<String> {
    terms["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["action"].as_str().expect("action").to_owned())
        .collect()
}

/// The actions of the citizen's usage log, newest first. Needs an active consent.
async fn log_actions(app: &TestApp, s: &Session) -> Vec<String> {
    app.usage_log(s)
        .await
        .iter()
        .map(|e| e["action"].as_str().expect("action").to_owned())
        .collect()
}

async fn terms(app: &TestApp, s: &Session) -> Value {
    let (status, body) = app.get_json(s, "/api/v1/terms").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// A state-changing request expected to succeed; returns the new terms state.
async fn change(app: &TestApp, s: &Session, method: Method, path: &str, body: Value) -> Value {
    let (status, state) = app.send_json(s, method, path, body).await;
    assert_eq!(status, StatusCode::OK, "{path}: {state}");
    state
}

/// The whole life of one consent: accept at `basis`, change to `full` (history: accepted,
/// level_changed), the same level again (409 `same-level`), accepting again at the same level
/// (409 `already-accepted`), a wrong version (422 `terms-not-in-force`), withdraw (200,
/// `not_accepted`, history keeps all three), the log and level change now need consent (403),
/// withdraw again (409 `not-accepted`), accept again. After each step the log has grown by exactly
/// the one entry the change writes, and refusals leave state, history and log as they were.
async fn accept_change_withdraw_and_accept_again(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = app.login(persons::ASTRID).await;
    let before = terms(&app, &s).await;
    let version = before["consent"]["terms_in_force"]
        .as_str()
        .expect("version")
        .to_owned();
    assert_eq!(before["consent"]["status"], "not_accepted");
    assert_eq!(before["history"], json!([]));

    // A version other than the one in force, before any acceptance: refused, nothing stored.
    let (problem, _) = expect_problem(
        app.as_citizen(&s, Method::POST, "/api/v1/terms/acceptance")
            .json(&json!({ "terms_version": "1999-01", "level": "basis" })),
        StatusCode::UNPROCESSABLE_ENTITY,
        "terms-not-in-force",
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap_or("").contains(&version),
        "the problem names the version in force: {problem}"
    );
    assert_eq!(terms(&app, &s).await, before);

    // Accept at basis.
    let state = change(
        &app,
        &s,
        Method::POST,
        "/api/v1/terms/acceptance",
        json!({ "terms_version": version, "level": "basis" }),
    )
    .await;
    assert_eq!(state["consent"]["status"], "active");
    assert_eq!(state["consent"]["level"], "basis");
    assert_eq!(state["consent"]["accepted_version"], version.as_str());
    assert_eq!(history_actions(&state), ["terms.accepted"]);
    assert_eq!(log_actions(&app, &s).await, ["terms.accepted", "login"]);

    // Change to full.
    let state = change(
        &app,
        &s,
        Method::PUT,
        "/api/v1/terms/level",
        json!({ "level": "full" }),
    )
    .await;
    assert_eq!(state["consent"]["status"], "active");
    assert_eq!(state["consent"]["level"], "full");
    assert_eq!(
        history_actions(&state),
        ["terms.accepted", "terms.level_changed"]
    );
    assert_eq!(state["history"][0]["level"], "basis");
    assert_eq!(state["history"][1]["level"], "full");
    assert!(state["history"]
        .as_array()
        .expect("history")
        .iter()
        .all(|h| h["terms_version"] == version.as_str()));
    let log = app.usage_log(&s).await;
    assert_eq!(log.len(), 3);
    assert_eq!(log[0]["action"], "terms.level_changed");
    assert_eq!(
        log[0]["details"],
        json!({ "terms_version": version, "from": "basis", "to": "full" })
    );
    assert_eq!(
        log[1]["details"],
        json!({ "terms_version": version, "level": "basis" })
    );

    // Refusals while active at full: none changes anything.
    let active = terms(&app, &s).await;
    expect_problem(
        app.as_citizen(&s, Method::PUT, "/api/v1/terms/level")
            .json(&json!({ "level": "full" })),
        StatusCode::CONFLICT,
        "same-level",
    )
    .await;
    expect_problem(
        app.as_citizen(&s, Method::POST, "/api/v1/terms/acceptance")
            .json(&json!({ "terms_version": version, "level": "full" })),
        StatusCode::CONFLICT,
        "already-accepted",
    )
    .await;
    expect_problem(
        app.as_citizen(&s, Method::POST, "/api/v1/terms/acceptance")
            .json(&json!({ "terms_version": format!("{version}-draft"), "level": "basis" })),
        StatusCode::UNPROCESSABLE_ENTITY,
        "terms-not-in-force",
    )
    .await;
    assert_eq!(terms(&app, &s).await, active);
    assert_eq!(app.usage_log(&s).await, log, "refusals write no log entry");

    // Withdraw: not accepted any more, the history keeps every entry.
    let state = change(
        &app,
        &s,
        Method::POST,
        "/api/v1/terms/withdrawal",
        json!({}),
    )
    .await;
    assert_eq!(state["consent"]["status"], "not_accepted");
    assert_eq!(state["consent"]["level"], Value::Null);
    assert_eq!(
        history_actions(&state),
        ["terms.accepted", "terms.level_changed", "terms.withdrawn"]
    );

    // Without consent the log and the level are out of reach, and there is nothing to withdraw.
    expect_problem(
        app.as_citizen(&s, Method::GET, "/api/v1/usage-log"),
        StatusCode::FORBIDDEN,
        "consent-required",
    )
    .await;
    expect_problem(
        app.as_citizen(&s, Method::PUT, "/api/v1/terms/level")
            .json(&json!({ "level": "basis" })),
        StatusCode::FORBIDDEN,
        "consent-required",
    )
    .await;
    expect_problem(
        app.as_citizen(&s, Method::POST, "/api/v1/terms/withdrawal"),
        StatusCode::CONFLICT,
        "not-accepted",
    )
    .await;
    let (status, me) = app.get_json(&s, "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["consent"]["status"], "not_accepted");
    assert_eq!(terms(&app, &s).await, state, "the refusals changed nothing");

    // Accept again, at another level.
    let state = change(
        &app,
        &s,
        Method::POST,
        "/api/v1/terms/acceptance",
        json!({ "terms_version": version, "level": "basis_plus" }),
    )
    .await;
    assert_eq!(state["consent"]["status"], "active");
    assert_eq!(state["consent"]["level"], "basis_plus");
    assert_eq!(
        history_actions(&state),
        [
            "terms.accepted",
            "terms.level_changed",
            "terms.withdrawn",
            "terms.accepted"
        ]
    );
    assert_eq!(
        log_actions(&app, &s).await,
        [
            "terms.accepted",
            "terms.withdrawn",
            "terms.level_changed",
            "terms.accepted",
            "login"
        ],
        "one entry per change, none per refusal"
    );
    let log = app.usage_log(&s).await;
    assert_eq!(log[1]["details"], json!({ "terms_version": version }));
    assert!(log
        .iter()
        .all(|e| e["actor_kind"] == "citizen" && e["actor_id"] == s.citizen_id.as_str()));
}

/// Accepting at another level than the current one is a level change (one history entry
/// `terms.level_changed`), not a second acceptance.
async fn accepting_at_another_level_is_a_level_change(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = app.login(persons::BJORN).await;
    app.accept_terms(&s, "basis").await;
    let state = app.accept_terms(&s, "full").await;
    assert_eq!(state["consent"]["level"], "full");
    assert_eq!(
        history_actions(&state),
        ["terms.accepted", "terms.level_changed"]
    );
    assert_eq!(
        log_actions(&app, &s).await,
        ["terms.level_changed", "terms.accepted", "login"]
    );
}

/// A new version of the terms: a consent to `2026-01` is active while that version is in force.
/// When a server with `TERMS_VERSION=2026-06` takes over the same database, the citizen is
/// `renewal_required` (for themself and for a downstream service), consent-only endpoints answer
/// `consent-required`, the old version cannot be accepted again, and accepting the new one makes
/// the consent active again with one `terms.accepted` entry.
async fn a_new_terms_version_needs_a_new_acceptance(backend: Backend) {
    let old = TestApp::builder(backend.clone())
        .env("TERMS_VERSION", "2026-01")
        .spawn()
        .await;
    let s = old.login(persons::ASTRID).await;
    let state = old.accept_terms(&s, "basis_plus").await;
    assert_eq!(state["consent"]["accepted_version"], "2026-01");

    // The same database (and so the same session) behind a server with the new version in force.
    let new = TestApp::builder(backend)
        .env("DATABASE_URL", &old.database_url)
        .env("TERMS_VERSION", "2026-06")
        .spawn()
        .await;
    let (status, me) = new.get_json(&s, "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["consent"]["status"], "renewal_required");
    assert_eq!(me["consent"]["accepted_version"], "2026-01");
    assert_eq!(me["consent"]["terms_in_force"], "2026-06");
    assert_eq!(me["consent"]["level"], Value::Null);

    let token = new
        .idp
        .service_token("dev-service-reader", "consent:read")
        .await;
    let (status, answer) = tests::app::send_json(
        new.as_service(&token, Method::POST, "/api/v1/decisions/active-user")
            .json(&json!({ "pid": persons::ASTRID })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["decision"], "inactive");
    assert_eq!(answer["reason"], "renewal_required");
    assert_eq!(answer["accepted_terms_version"], "2026-01");

    expect_problem(
        new.as_citizen(&s, Method::GET, "/api/v1/usage-log"),
        StatusCode::FORBIDDEN,
        "consent-required",
    )
    .await;
    expect_problem(
        new.as_citizen(&s, Method::PUT, "/api/v1/terms/level")
            .json(&json!({ "level": "full" })),
        StatusCode::FORBIDDEN,
        "consent-required",
    )
    .await;
    expect_problem(
        new.as_citizen(&s, Method::POST, "/api/v1/terms/acceptance")
            .json(&json!({ "terms_version": "2026-01", "level": "basis_plus" })),
        StatusCode::UNPROCESSABLE_ENTITY,
        "terms-not-in-force",
    )
    .await;

    let state = new.accept_terms(&s, "basis_plus").await;
    assert_eq!(state["consent"]["status"], "active");
    assert_eq!(state["consent"]["accepted_version"], "2026-06");
    let versions: Vec<&str> = state["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["terms_version"].as_str())
        .collect();
    assert_eq!(versions, ["2026-01", "2026-06"]);
    assert_eq!(
        history_actions(&state),
        ["terms.accepted", "terms.accepted"]
    );
    assert_eq!(
        log_actions(&new, &s).await,
        ["terms.accepted", "terms.accepted", "login"]
    );
}

both_backends!(
    accept_change_withdraw_and_accept_again,
    accepting_at_another_level_is_a_level_change,
    a_new_terms_version_needs_a_new_acceptance,
);

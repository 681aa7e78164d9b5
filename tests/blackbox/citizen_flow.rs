//! The happy path: log in, accept the terms, read `me` and the usage log, log out.

use reqwest::{Method, StatusCode};
use tests::{both_backends, persons, Backend, TestApp};

async fn login_accept_terms_read_me_and_log_then_logout(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = app.login(persons::ASTRID).await;

    let (status, me) = app.get_json(&s, "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["acr"], "idporten-loa-high");
    assert_eq!(me["may_change"], true);
    assert_eq!(me["consent"]["status"], "not_accepted");
    assert!(
        !me.to_string().contains(persons::ASTRID),
        "me must not carry the identity number"
    );

    // Before acceptance every other citizen endpoint says consent-required.
    let (status, problem) = app.get_json(&s, "/api/v1/usage-log").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(problem["type"], "/problems/consent-required");

    let terms = app.accept_terms(&s, "basis_plus").await;
    assert_eq!(terms["consent"]["status"], "active");
    assert_eq!(terms["consent"]["level"], "basis_plus");
    assert_eq!(terms["history"].as_array().map(Vec::len), Some(1));

    let log = app.usage_log(&s).await;
    let actions: Vec<&str> = log.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["terms.accepted", "login"], "newest first");
    assert!(log.iter().all(|e| e["actor_id"] == s.citizen_id.as_str()));

    let res = app
        .as_citizen(&s, Method::POST, "/auth/logout")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let (status, problem) = app.get_json(&s, "/api/v1/me").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the session is dead after logout"
    );
    assert_eq!(problem["type"], "/problems/unauthenticated");
}

both_backends!(login_accept_terms_read_me_and_log_then_logout);

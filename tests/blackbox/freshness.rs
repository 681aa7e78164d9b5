//! Read-your-writes across instances: two servers share one database (as several API nodes share
//! one PostgreSQL); a decision asked at one right after a change made at the other gives the new
//! answer. Nothing is cached, so there is nothing to invalidate.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tests::{both_backends, persons, Backend, TestApp};

async fn decide(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (status, answer) =
        tests::app::send_json(app.as_service(token, Method::POST, path).json(&body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

async fn a_change_at_one_instance_is_seen_at_the_other_at_once(backend: Backend) {
    let writer = TestApp::spawn(backend.clone()).await;
    let reader = TestApp::builder(backend)
        .sharing_database_of(&writer)
        .spawn()
        .await;
    let token = reader
        .idp
        .service_token("dev-service-reader", "consent:read")
        .await;
    let active = |pid: &str| json!({ "pid": pid });
    let may_act = json!({
        "actor_pid": persons::BJORN, "subject_pid": persons::ASTRID, "area": "prescriptions"
    });

    let astrid = writer.login(persons::ASTRID).await;
    let bjorn = writer.login(persons::BJORN).await;
    let path = "/api/v1/decisions/active-user";
    assert_eq!(
        decide(&reader, &token, path, active(persons::ASTRID)).await["reason"],
        "not_accepted"
    );
    writer.accept_terms(&astrid, "basis").await;
    assert_eq!(
        decide(&reader, &token, path, active(persons::ASTRID)).await["decision"],
        "active"
    );
    writer.accept_terms(&bjorn, "basis").await;

    let rep = "/api/v1/decisions/representation";
    assert_eq!(
        decide(&reader, &token, rep, may_act.clone()).await["decision"],
        "deny"
    );
    let (status, g) = writer
        .send_json(
            &astrid,
            Method::POST,
            "/api/v1/powers-of-attorney",
            json!({ "grantee_pid": persons::BJORN, "all_areas": true }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    let id = g["id"].as_str().unwrap().to_owned();
    assert_eq!(
        decide(&reader, &token, rep, may_act.clone()).await["decision"],
        "deny",
        "pending"
    );
    let accept = format!("/api/v1/powers-of-attorney/{id}/acceptance");
    let revoke = format!("/api/v1/powers-of-attorney/{id}/revocation");
    let (status, body) = writer
        .send_json(&bjorn, Method::POST, &accept, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        decide(&reader, &token, rep, may_act.clone()).await["decision"],
        "allow"
    );
    assert_eq!(
        writer
            .send_json(&astrid, Method::POST, &revoke, json!({}))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        decide(&reader, &token, rep, may_act.clone()).await["decision"],
        "deny"
    );

    let (status, _) = writer
        .send_json(&astrid, Method::POST, "/api/v1/terms/withdrawal", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        decide(&reader, &token, path, active(persons::ASTRID)).await["reason"],
        "not_accepted"
    );
}

both_backends!(a_change_at_one_instance_is_seen_at_the_other_at_once);

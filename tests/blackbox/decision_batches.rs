//! Batch decisions: up to 100 questions in one request, answered in order from one reading.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tests::{both_backends, persons, Backend, TestApp};

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    tests::app::send_json(app.as_service(token, Method::POST, path).json(&body)).await
}

async fn batches_answer_in_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app
        .idp
        .service_token("dev-service-reader", "consent:read")
        .await;
    let astrid = app.login(persons::ASTRID).await;
    let bjorn = app.login(persons::BJORN).await;
    app.accept_terms(&astrid, "full").await;
    app.accept_terms(&bjorn, "basis").await;
    let (_, g) = app
        .send_json(
            &astrid,
            Method::POST,
            "/api/v1/powers-of-attorney",
            json!({ "grantee_pid": persons::BJORN, "areas": ["vaccinations"] }),
        )
        .await;
    let id = g["id"].as_str().unwrap();
    let (status, _) = app
        .send_json(
            &bjorn,
            Method::POST,
            &format!("/api/v1/powers-of-attorney/{id}/acceptance"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let path = "/api/v1/decisions/active-user/batch";
    let pids = [persons::ASTRID, persons::INGRID, persons::BJORN];
    let items: Vec<Value> = pids.iter().map(|p| json!({ "pid": p })).collect();
    let (status, body) = post(&app, &token, path, json!({ "items": items })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let reasons: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        ["consent_active", "not_registered", "consent_active"]
    );
    assert_eq!(body["items"][2]["consent_level"], "basis");

    let path = "/api/v1/decisions/representation/batch";
    let q = |area: &str, proof: bool| json!({ "actor_pid": persons::BJORN, "subject_pid": persons::ASTRID, "area": area, "proof": proof });
    let (status, body) = post(
        &app,
        &token,
        path,
        json!({ "items": [q("vaccinations", true), q("patient_record", false), {
            "actor_pid": persons::ASTRID, "subject_pid": persons::BJORN, "area": "vaccinations"
        }] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items[0]["decision"], "allow");
    assert!(items[0]["proof"].is_string());
    assert_eq!(items[1]["reason"], "area_not_covered");
    assert_eq!(items[2]["reason"], "no_representation");
    assert!(
        !body.to_string().contains(persons::ASTRID),
        "no identity number outside the proofs"
    );
}

/// An empty batch, one of 101, and a bad item (named by its index) are refused.
async fn bad_batches_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app
        .idp
        .service_token("dev-service-reader", "consent:read")
        .await;
    let path = "/api/v1/decisions/active-user/batch";
    let too_many: Vec<Value> = (0..101)
        .map(|_| json!({ "pid": persons::ASTRID }))
        .collect();
    let hundred: Vec<Value> = (0..100)
        .map(|_| json!({ "pid": persons::ASTRID }))
        .collect();
    for (items, status, field) in [
        (json!([]), 400, Some("items")),
        (json!(too_many), 400, Some("items")),
        (
            json!([{ "pid": persons::ASTRID }, { "pid": "123" }]),
            400,
            Some("items[1].pid"),
        ),
        (json!(hundred), 200, None),
    ] {
        let (got, body) = post(&app, &token, path, json!({ "items": items })).await;
        assert_eq!(got.as_u16(), status, "{body}");
        if let Some(field) = field {
            assert_eq!(body["errors"][0]["field"], field, "{body}");
        }
    }
    let (got, body) = post(
        &app,
        &token,
        "/api/v1/decisions/representation/batch",
        json!({ "items": [{ "actor_pid": persons::BJORN, "subject_pid": "x", "area": "vaccinations" }] }),
    )
    .await;
    assert_eq!(got, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["errors"][0]["field"], "items[0].subject_pid");
}

both_backends!(batches_answer_in_order, bad_batches_are_refused);

//! Housekeeping through HTTP (`POST /dev/jobs/housekeeping`, as the purge timer runs it): a
//! session's row is forgotten a day after the session is over, to the second, and an
//! idempotency key seven days after its first use, after which the key is free again.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tests::{both_backends, persons, Backend, TestApp};

use crate::login_security::{server_now, set_clock};

async fn housekeeping(app: &TestApp) -> Value {
    let res = app
        .client
        .post(app.url("/dev/jobs/housekeeping"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

/// A whole second a little ahead of the server's clock: stored times are whole seconds.
async fn start(app: &TestApp) -> DateTime<Utc> {
    let t0 = server_now(app).await.trunc_subsecs(0) + Duration::seconds(2);
    set_clock(app, t0).await;
    t0
}

async fn a_session_is_forgotten_a_day_after_it_is_over(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = app.login(persons::ASTRID).await;
    let t0 = start(&app).await;
    let (status, _) = app.get_json(&s, "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK);
    // Idle from t0: over at t0 + 30 min, forgettable a day later.
    let forgettable = t0 + Duration::minutes(30) + Duration::days(1);

    set_clock(&app, forgettable - Duration::seconds(1)).await;
    assert_eq!(housekeeping(&app).await["sessions"], 0, "the last second");
    let (status, body) = app.get_json(&s, "/api/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["type"], "/problems/session-expired", "still known");

    set_clock(&app, forgettable).await;
    assert_eq!(housekeeping(&app).await["sessions"], 1);
    let (status, body) = app.get_json(&s, "/api/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["type"], "/problems/unauthenticated", "forgotten");
    assert_eq!(housekeeping(&app).await["sessions"], 0, "once");

    // A live session is never touched.
    let live = app.login(persons::ASTRID).await;
    assert_eq!(housekeeping(&app).await["sessions"], 0);
    let (status, _) = app.get_json(&live, "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK);
}

both_backends!(a_session_is_forgotten_a_day_after_it_is_over);

async fn an_idempotency_key_is_kept_seven_days(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app
        .idp
        .service_token("dev-service-writer", "access-log:write")
        .await;
    let body = crate::access_reports::report(persons::ASTRID);
    let report = || async {
        tests::app::send_json(
            app.as_service(&token, Method::POST, "/api/v1/access-reports")
                .header("idempotency-key", "k-week")
                .json(&body),
        )
        .await
    };
    let t0 = start(&app).await;
    let (status, first) = report().await;
    assert_eq!(status, StatusCode::CREATED, "{first}");

    set_clock(&app, t0 + Duration::days(7) - Duration::seconds(1)).await;
    assert_eq!(housekeeping(&app).await["idempotency_keys"], 0);
    let (status, again) = report().await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        again, first,
        "the last second: the same answer, no second report"
    );

    set_clock(&app, t0 + Duration::days(7)).await;
    assert_eq!(housekeeping(&app).await["idempotency_keys"], 1);
    let (status, later) = report().await;
    assert_eq!(status, StatusCode::CREATED, "{later}");
    assert_ne!(later["seq"], first["seq"], "a new report after seven days");
}

both_backends!(an_idempotency_key_is_kept_seven_days);

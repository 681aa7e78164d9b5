//! Powers of attorney through HTTP: the life cycle between two synthetic persons, declining and
//! revoking, the refusals (with nothing stored), the end time, other people's grants, and the
//! terms-withdrawal interplay.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tests::{both_backends, persons, Backend, Session, TestApp};

use tests::persons::{ARNE, ELLA, EMMA, ERIK, MARIT, SANDER, UNKNOWN};

const BASE: &str = "/api/v1/powers-of-attorney";

async fn citizen(app: &TestApp, pid: &str) -> Session {
    let s = app.login(pid).await;
    app.accept_terms(&s, "full").await;
    s
}

async fn grant(app: &TestApp, s: &Session, body: Value) -> (StatusCode, Value) {
    app.send_json(s, Method::POST, BASE, body).await
}

async fn step(app: &TestApp, s: &Session, id: &str, what: &str) -> (StatusCode, Value) {
    app.send_json(s, Method::POST, &format!("{BASE}/{id}/{what}"), json!({}))
        .await
}

async fn list(app: &TestApp, s: &Session) -> Value {
    let (status, body) = app.get_json(s, BASE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn actions(log: &[Value]) -> Vec<String> {
    log.iter()
        .filter_map(|e| e["action"].as_str().map(str::to_owned))
        .collect()
}

/// Grant, see it pending on both sides, accept, see it active, revoke, keep the history; the
/// grantor cannot withdraw the terms while it lives, and can after it ended.
async fn the_whole_life_cycle(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let astrid = citizen(&app, persons::ASTRID).await;
    let bjorn = citizen(&app, persons::BJORN).await;

    let (status, g) = grant(
        &app,
        &astrid,
        json!({ "grantee_pid": persons::BJORN, "all_areas": true }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    assert_eq!(g["status"], "pending");
    assert_eq!(g["role"], "grantor");
    assert_eq!(g["other_party"]["citizen_id"], bjorn.citizen_id.as_str());
    assert_eq!(g["other_party"]["name"], "Bjørn Haugen");
    assert!(
        !g.to_string().contains(persons::BJORN),
        "no identity number in the answer"
    );
    let id = g["id"].as_str().unwrap().to_owned();

    let received = list(&app, &bjorn).await;
    assert_eq!(received["received"][0]["id"], id.as_str());
    assert_eq!(received["received"][0]["status"], "pending");
    assert_eq!(received["received"][0]["role"], "grantee");

    // The grantor cannot accept on the grantee's behalf.
    let (status, p) = step(&app, &astrid, &id, "acceptance").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{p}");
    assert_eq!(p["type"], "/problems/not-the-grantee");

    let (status, g) = step(&app, &bjorn, &id, "acceptance").await;
    assert_eq!(status, StatusCode::OK, "{g}");
    assert_eq!(g["status"], "active");
    let (status, p) = step(&app, &bjorn, &id, "acceptance").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(p["type"], "/problems/not-pending");

    // Withdrawal of the terms is blocked on both sides and lists the power of attorney.
    for (s, kind) in [
        (&astrid, "power_of_attorney_given"),
        (&bjorn, "power_of_attorney_held"),
    ] {
        let (status, p) = app
            .send_json(s, Method::POST, "/api/v1/terms/withdrawal", json!({}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{p}");
        assert_eq!(p["type"], "/problems/withdrawal-blocked");
        assert_eq!(p["blockers"][0]["id"], id.as_str());
        assert_eq!(p["blockers"][0]["kind"], kind);
        assert_eq!(p["blockers"][0]["state"], "active");
    }

    let (status, g) = step(&app, &bjorn, &id, "revocation").await;
    assert_eq!(status, StatusCode::OK, "{g}");
    assert_eq!(g["status"], "ended");
    assert_eq!(g["end_reason"], "revoked_by_grantee");
    let (status, p) = step(&app, &astrid, &id, "revocation").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(p["type"], "/problems/already-ended");

    // The history stays readable on both sides.
    assert_eq!(
        list(&app, &astrid).await["given"][0]["end_reason"],
        "revoked_by_grantee"
    );
    assert_eq!(list(&app, &bjorn).await["received"][0]["status"], "ended");

    // Both logs hold every step, naming the actor.
    for s in [&astrid, &bjorn] {
        let log = app.usage_log(s).await;
        let a = actions(&log);
        for expected in [
            "power_of_attorney.granted",
            "power_of_attorney.accepted",
            "power_of_attorney.revoked_by_grantee",
        ] {
            assert!(a.iter().any(|x| x == expected), "{expected} in {a:?}");
        }
        let revoked = log
            .iter()
            .find(|e| e["action"] == "power_of_attorney.revoked_by_grantee")
            .unwrap();
        assert_eq!(revoked["actor_id"], bjorn.citizen_id.as_str());
        assert_eq!(revoked["details"]["grantor_id"], astrid.citizen_id.as_str());
    }

    let (status, body) = app
        .send_json(&astrid, Method::POST, "/api/v1/terms/withdrawal", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A declined grant ends as declined and cannot be accepted afterwards.
async fn declining(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let astrid = citizen(&app, persons::ASTRID).await;
    let bjorn = citizen(&app, persons::BJORN).await;
    let areas =
        json!({ "grantee_pid": persons::BJORN, "areas": ["prescriptions", "vaccinations"] });
    let (status, g) = grant(&app, &astrid, areas).await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    assert_eq!(g["all_areas"], false);
    assert_eq!(g["areas"], json!(["prescriptions", "vaccinations"]));
    let id = g["id"].as_str().unwrap().to_owned();
    let (status, g) = step(&app, &bjorn, &id, "decline").await;
    assert_eq!(status, StatusCode::OK, "{g}");
    assert_eq!(g["end_reason"], "declined");
    let (status, p) = step(&app, &bjorn, &id, "acceptance").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(p["type"], "/problems/already-ended");
    assert!(actions(&app.usage_log(&astrid).await)
        .iter()
        .any(|a| a == "power_of_attorney.declined"));
}

/// Refusals answer a clear problem and store nothing: self, under 18 (the day before an 18th
/// birthday is covered by the domain tests), protected addresses on either side, dead or unknown
/// grantees (all opaquely), duplicates, bad areas and end times.
async fn refusals_store_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let astrid = citizen(&app, persons::ASTRID).await;
    let before = app.usage_log(&astrid).await.len();

    let cases = [
        (
            json!({ "grantee_pid": persons::ASTRID, "all_areas": true }),
            422,
            "self-grant",
        ),
        (
            json!({ "grantee_pid": EMMA, "all_areas": true }),
            422,
            "grantee-under-18",
        ),
        (
            json!({ "grantee_pid": MARIT, "all_areas": true }),
            422,
            "cannot-be-granted",
        ),
        (
            json!({ "grantee_pid": ERIK, "all_areas": true }),
            422,
            "cannot-be-granted",
        ),
        (
            json!({ "grantee_pid": ARNE, "all_areas": true }),
            422,
            "cannot-be-granted",
        ),
        (
            json!({ "grantee_pid": UNKNOWN, "all_areas": true }),
            422,
            "cannot-be-granted",
        ),
        (
            json!({ "grantee_pid": persons::BJORN }),
            400,
            "validation-failed",
        ),
        (
            json!({ "grantee_pid": persons::BJORN, "all_areas": true, "areas": ["vaccinations"] }),
            400,
            "validation-failed",
        ),
        (
            json!({ "grantee_pid": persons::BJORN, "areas": ["everything"] }),
            400,
            "validation-failed",
        ),
        (
            json!({ "grantee_pid": persons::BJORN, "all_areas": true, "valid_until": "2001-01-01T00:00:00Z" }),
            400,
            "validation-failed",
        ),
        (
            json!({ "grantee_pid": "1234", "all_areas": true }),
            400,
            "validation-failed",
        ),
    ];
    for (body, status, problem) in cases {
        let (got, p) = grant(&app, &astrid, body.clone()).await;
        assert_eq!(got.as_u16(), status, "{body}: {p}");
        assert_eq!(p["type"], format!("/problems/{problem}"), "{body}");
        let text = p.to_string();
        assert!(
            !text.contains("address") && !text.contains("deceased"),
            "{text}"
        );
        for pid in [MARIT, ERIK, ARNE, UNKNOWN, EMMA] {
            assert!(!text.contains(pid));
        }
    }
    let l = list(&app, &astrid).await;
    assert_eq!(
        l["given"].as_array().map(Vec::len),
        Some(0),
        "nothing stored"
    );
    assert_eq!(app.usage_log(&astrid).await.len(), before, "nothing logged");

    // Exactly 18 may receive one; the same grant twice is a duplicate.
    let body = json!({ "grantee_pid": SANDER, "all_areas": true });
    assert_eq!(
        grant(&app, &astrid, body.clone()).await.0,
        StatusCode::CREATED
    );
    let (status, p) = grant(&app, &astrid, body).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(p["type"], "/problems/duplicate-grant");

    // A person with a protected address cannot give one either.
    let marit = citizen(&app, MARIT).await;
    let (status, p) = grant(
        &app,
        &marit,
        json!({ "grantee_pid": persons::BJORN, "all_areas": true }),
    )
    .await;
    assert_eq!(status.as_u16(), 422);
    assert_eq!(p["type"], "/problems/cannot-be-granted");
}

/// Someone else's power of attorney is not found, whatever the step.
async fn other_peoples_grants_are_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let astrid = citizen(&app, persons::ASTRID).await;
    let ingrid = citizen(&app, persons::INGRID).await;
    let (_, g) = grant(
        &app,
        &astrid,
        json!({ "grantee_pid": persons::BJORN, "all_areas": true }),
    )
    .await;
    let id = g["id"].as_str().unwrap().to_owned();
    for what in ["acceptance", "decline", "revocation"] {
        let (status, p) = step(&app, &ingrid, &id, what).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{what}: {p}");
        assert_eq!(p["type"], "/problems/not-found");
    }
    assert_eq!(
        list(&app, &ingrid).await["given"].as_array().map(Vec::len),
        Some(0)
    );
    assert!(app
        .log()
        .contains("power of attorney not found for this citizen"));
}

/// It holds until the second before its end time and has ended at the end time, with no job.
async fn it_ends_at_its_end_time(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let astrid = citizen(&app, persons::ASTRID).await;
    let bjorn = citizen(&app, persons::BJORN).await;
    let end = "2030-01-01T12:00:00Z";
    let (status, g) = grant(
        &app,
        &astrid,
        json!({ "grantee_pid": persons::BJORN, "all_areas": true, "valid_until": end }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    let id = g["id"].as_str().unwrap().to_owned();
    assert_eq!(
        step(&app, &bjorn, &id, "acceptance").await.0,
        StatusCode::OK
    );

    app.set_clock("2030-01-01T11:59:59Z").await;
    // Sessions would have idled out over years of clock: log in again at the new time.
    let astrid = app.login(persons::ASTRID).await;
    assert_eq!(list(&app, &astrid).await["given"][0]["status"], "active");
    app.set_clock(end).await;
    let given = list(&app, &astrid).await;
    assert_eq!(given["given"][0]["status"], "ended");
    assert_eq!(given["given"][0]["end_reason"], "expired");
    assert_eq!(given["given"][0]["ended_at"], end);
    // An expired one no longer blocks the withdrawal.
    let (status, body) = app
        .send_json(&astrid, Method::POST, "/api/v1/terms/withdrawal", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The 16th birthday (grantor) and the 18th (grantee) count from 00:00 in Oslo: refused at the
/// last second of the day before, allowed at the first second of the birthday.
async fn birthdays_count_from_midnight_in_oslo(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Ella turns 16 on 9 December 2026: 00:00 in Oslo (UTC+1) is 23:00 UTC the day before.
    app.set_clock("2026-12-08T22:59:59Z").await;
    let ella = citizen(&app, ELLA).await;
    let body = json!({ "grantee_pid": persons::BJORN, "all_areas": true });
    let (status, p) = grant(&app, &ella, body.clone()).await;
    assert_eq!(status.as_u16(), 422, "{p}");
    assert_eq!(p["type"], "/problems/grantor-under-16");
    app.set_clock("2026-12-08T23:00:00Z").await;
    let (status, p) = grant(&app, &ella, body).await;
    assert_eq!(status, StatusCode::CREATED, "{p}");

    // Emma turns 18 on 8 March 2027.
    app.set_clock("2027-03-07T22:59:59Z").await;
    let astrid = citizen(&app, persons::ASTRID).await;
    let body = json!({ "grantee_pid": EMMA, "all_areas": true });
    let (status, p) = grant(&app, &astrid, body.clone()).await;
    assert_eq!(status.as_u16(), 422, "{p}");
    assert_eq!(p["type"], "/problems/grantee-under-18");
    app.set_clock("2027-03-07T23:00:00Z").await;
    let (status, p) = grant(&app, &astrid, body).await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
}

/// On her 16th birthday a guardian's access to Ella ends by itself, and from that same instant
/// Ella may give the parent a power of attorney, which reaches what Ella chooses (not the
/// restricted set guardians had from her 12th birthday).
async fn at_sixteen_guardianship_gives_way_to_a_power_of_attorney(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.set_clock("2026-12-08T22:59:59Z").await;
    let kari = citizen(&app, persons::KARI).await;
    let ella = citizen(&app, ELLA).await;
    let kinds = |list: &Value| -> Vec<(String, String)> {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["person"]["name"] == "Ella Nordmann")
            .map(|r| {
                (
                    r["kind"].as_str().unwrap().to_owned(),
                    r["areas"].to_string(),
                )
            })
            .collect()
    };
    let (_, reps) = app.get_json(&kari, "/api/v1/representations").await;
    assert_eq!(
        kinds(&reps),
        vec![(
            "guardian".to_owned(),
            json!(["appointments", "vaccinations", "co_payments"]).to_string()
        )],
        "{reps}"
    );
    let body = json!({ "grantee_pid": persons::KARI, "all_areas": true });
    let (status, p) = grant(&app, &ella, body.clone()).await;
    assert_eq!(status.as_u16(), 422, "{p}");
    assert_eq!(p["type"], "/problems/grantor-under-16");

    app.set_clock("2026-12-08T23:00:00Z").await;
    let (_, reps) = app.get_json(&kari, "/api/v1/representations").await;
    assert!(kinds(&reps).is_empty(), "guardian access ended: {reps}");
    let (status, g) = grant(&app, &ella, body).await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    let id = g["id"].as_str().unwrap();
    let (status, a) = step(&app, &kari, id, "acceptance").await;
    assert_eq!(status, StatusCode::OK, "{a}");
    let (_, reps) = app.get_json(&kari, "/api/v1/representations").await;
    let found = kinds(&reps);
    assert_eq!(found.len(), 1, "{reps}");
    assert_eq!(found[0].0, "power_of_attorney");
    assert!(found[0].1.contains("patient_record"), "{reps}");
}

/// An acceptance and a revocation sent at the same time are decided one after the other: the
/// revocation always wins in the end, and each step is logged once.
async fn concurrent_steps_are_decided_in_turn(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let astrid = citizen(&app, persons::ASTRID).await;
    let bjorn = citizen(&app, persons::BJORN).await;
    for round in 0..3 {
        let (_, g) = grant(&app, &astrid, json!({ "grantee_pid": persons::BJORN, "areas": ["vaccinations"], "valid_until": format!("2040-01-0{}T00:00:00Z", round + 1) })).await;
        let id = g["id"].as_str().unwrap().to_owned();
        let (accepted, revoked) = futures_util::join!(
            step(&app, &bjorn, &id, "acceptance"),
            step(&app, &astrid, &id, "revocation")
        );
        assert_eq!(revoked.0, StatusCode::OK, "{}", revoked.1);
        assert!(
            accepted.0 == StatusCode::OK || accepted.1["type"] == "/problems/already-ended",
            "{accepted:?}"
        );
        let given = list(&app, &astrid).await;
        let this = given["given"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id.as_str())
            .unwrap()
            .clone();
        assert_eq!(this["end_reason"], "revoked_by_grantor", "{this}");
    }
    let log = app.usage_log(&astrid).await;
    let a = actions(&log);
    assert_eq!(
        a.iter()
            .filter(|x| *x == "power_of_attorney.revoked_by_grantor")
            .count(),
        3
    );
    assert!(
        a.iter()
            .filter(|x| *x == "power_of_attorney.accepted")
            .count()
            <= 3
    );
}

/// The list of service areas is public reference data.
async fn service_areas_are_listed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let res = app
        .client
        .get(app.url("/api/v1/service-areas"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let areas: Value = res.json().await.unwrap();
    assert_eq!(areas.as_array().map(Vec::len), Some(8));
    assert!(areas
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["area"] == "patient_record" && a["requires_consent_level"] == "basis_plus"));
}

both_backends!(
    the_whole_life_cycle,
    declining,
    refusals_store_nothing,
    other_peoples_grants_are_not_found,
    it_ends_at_its_end_time,
    birthdays_count_from_midnight_in_oslo,
    at_sixteen_guardianship_gives_way_to_a_power_of_attorney,
    concurrent_steps_are_decided_in_turn,
);

#[tokio::test]
async fn service_areas() {
    service_areas_are_listed(Backend::Sqlite).await;
}

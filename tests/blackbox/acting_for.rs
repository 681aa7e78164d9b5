//! Acting for someone: the person selector (`GET /api/v1/representations`), the `X-Acting-For`
//! header, service use on someone's behalf, and the downstream representation decision with its
//! signed proof.
//!
//! Astrid (grantor) gives Bjørn (grantee) a power of attorney; Ingrid is the outsider (and, where
//! a second grantor is needed, gives Bjørn one too). A representation is an active power of
//! attorney held by the caller, limited to the areas the grantor's own consent level opens. Every
//! refusal is checked to have changed nothing: the terms, the powers of attorney and the usage
//! logs of everyone involved read the same afterwards.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use tests::{both_backends, persons, Backend, Session, TestApp};

use crate::errors::expect_problem;

const REPRESENTATIONS: &str = "/api/v1/representations";
const POA: &str = "/api/v1/powers-of-attorney";
const SERVICE_USE: &str = "/api/v1/service-use";
const DECISION: &str = "/api/v1/decisions/representation";
const JWKS: &str = "/.well-known/jwks.json";
const ACTING_FOR: &str = "X-Acting-For";

use tests::persons::UNKNOWN;

/// The areas the `basis` level opens.
const BASIS_AREAS: [&str; 5] = [
    "appointments",
    "prescriptions",
    "vaccinations",
    "health_registries",
    "co_payments",
];
/// `basis_plus` adds the record services.
const BASIS_PLUS_AREAS: [&str; 7] = [
    "appointments",
    "prescriptions",
    "vaccinations",
    "health_registries",
    "co_payments",
    "patient_record",
    "summary_care_record",
];
/// `full` adds communication: every area.
const ALL_AREAS: [&str; 8] = [
    "appointments",
    "prescriptions",
    "vaccinations",
    "health_registries",
    "co_payments",
    "patient_record",
    "summary_care_record",
    "communication",
];

// ---------------------------------------------------------------------------------- helpers

/// Logs `pid` in and accepts the terms in force at `level`.
async fn citizen(app: &TestApp, pid: &str, level: &str) -> Session {
    let s = app.login(pid).await;
    app.accept_terms(&s, level).await;
    s
}

/// `grantor` grants `grantee_pid` a power of attorney (`terms` adds `all_areas`/`areas`/
/// `valid_until`); returns its id.
async fn grant(app: &TestApp, grantor: &Session, grantee_pid: &str, terms: Value) -> String {
    let mut body = terms;
    body["grantee_pid"] = json!(grantee_pid);
    let (status, g) = app.send_json(grantor, Method::POST, POA, body).await;
    assert_eq!(status, StatusCode::CREATED, "grant: {g}");
    g["id"].as_str().expect("id").to_owned()
}

/// The grantee accepts, or ends (`revocation`), power of attorney `id`.
async fn poa_step(app: &TestApp, s: &Session, id: &str, what: &str) {
    let (status, g) = app
        .send_json(s, Method::POST, &format!("{POA}/{id}/{what}"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{what}: {g}");
}

/// Grants and accepts; returns the power of attorney's id.
async fn active_poa(
    app: &TestApp,
    grantor: &Session,
    grantee: &Session,
    grantee_pid: &str,
    terms: Value,
) -> String {
    let id = grant(app, grantor, grantee_pid, terms).await;
    poa_step(app, grantee, &id, "acceptance").await;
    id
}

/// The whole text contains none of the three persons' identity numbers.
fn assert_no_pids(what: &str, text: &str) {
    for pid in [persons::ASTRID, persons::BJORN, persons::INGRID, UNKNOWN] {
        assert!(
            !text.contains(pid),
            "{what} carries an identity number: {text}"
        );
    }
}

/// The caller's representations (the person selector), checked to carry no identity number.
async fn representations(app: &TestApp, s: &Session) -> Vec<Value> {
    let (status, body) = app.get_json(s, REPRESENTATIONS).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_no_pids("the representations", &body.to_string());
    body["items"].as_array().expect("items").clone()
}

/// The caller's one representation for the person with `citizen_id`, if listed.
async fn representation_for(app: &TestApp, s: &Session, citizen_id: &str) -> Option<Value> {
    representations(app, s)
        .await
        .into_iter()
        .find(|r| r["person"]["citizen_id"] == citizen_id)
}

fn rep_id(rep: &Value) -> String {
    rep["representation_id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| panic!("a representation id: {rep}"))
        .to_owned()
}

/// A JSON array of strings as a set.
fn area_set(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("an array of areas: {v}"))
        .iter()
        .map(|a| a.as_str().expect("an area name").to_owned())
        .collect()
}

fn set_of(areas: &[&str]) -> BTreeSet<String> {
    areas.iter().map(|a| (*a).to_owned()).collect()
}

/// A citizen request acting for `representation_id`.
fn acting(
    app: &TestApp,
    s: &Session,
    method: Method,
    path: &str,
    representation_id: &str,
) -> RequestBuilder {
    app.as_citizen(s, method, path)
        .header(ACTING_FOR, representation_id)
}

/// `GET /api/v1/me` acting for `representation_id`.
async fn me_acting(app: &TestApp, s: &Session, representation_id: &str) -> (StatusCode, Value) {
    tests::app::send_json(acting(app, s, Method::GET, "/api/v1/me", representation_id)).await
}

/// Everything about a citizen that a refusal must leave alone: terms (with history), powers of
/// attorney, usage log.
async fn snapshot(app: &TestApp, s: &Session) -> (Value, Value, Vec<Value>) {
    let (status, terms) = app.get_json(s, "/api/v1/terms").await;
    assert_eq!(status, StatusCode::OK, "{terms}");
    let (status, poas) = app.get_json(s, POA).await;
    assert_eq!(status, StatusCode::OK, "{poas}");
    (terms, poas, app.usage_log(s).await)
}

async fn reader_token(app: &TestApp) -> String {
    app.idp
        .service_token("dev-service-reader", "consent:read")
        .await
}

/// A representation decision that answers 200; the answer (the proof aside, which carries the
/// numbers by design) names no identity number.
async fn decide(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, answer) =
        tests::app::send_json(app.as_service(token, Method::POST, DECISION).json(&body)).await;
    assert_eq!(status, StatusCode::OK, "{body}: {answer}");
    let mut without_proof = answer.clone();
    without_proof["proof"] = Value::Null;
    assert_no_pids("the decision", &without_proof.to_string());
    answer
}

fn question(actor: &str, subject: &str, area: &str, proof: bool) -> Value {
    json!({ "actor_pid": actor, "subject_pid": subject, "area": area, "proof": proof })
}

async fn set_clock(app: &TestApp, now: &str) {
    let res = app
        .client
        .put(app.url("/dev/clock"))
        .json(&json!({ "now": now }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

fn instant(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("an RFC 3339 time: {v}"))
}

// ---------------------------------------------------------------------- the person selector

/// A representation is listed only once the grantee accepted, never on the grantor's side, with
/// the granted areas that the grantor's own level opens: all areas from a grantor at `basis` are
/// the five basis areas, from a grantor at `full` all eight (the grantee's own level, `basis`
/// here, does not limit them). The item names the person by citizen id and name only.
async fn a_representation_appears_on_acceptance_with_the_effective_areas(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let astrid = citizen(&app, persons::ASTRID, "basis").await;
    let ingrid = citizen(&app, persons::INGRID, "full").await;
    let bjorn = citizen(&app, persons::BJORN, "basis").await;

    let from_astrid = grant(&app, &astrid, persons::BJORN, json!({ "all_areas": true })).await;
    let from_ingrid = grant(&app, &ingrid, persons::BJORN, json!({ "all_areas": true })).await;
    assert_eq!(
        representations(&app, &bjorn).await,
        Vec::<Value>::new(),
        "pending powers of attorney are not listed"
    );

    poa_step(&app, &bjorn, &from_astrid, "acceptance").await;
    let items = representations(&app, &bjorn).await;
    assert_eq!(items.len(), 1, "{items:?}");
    let rep = &items[0];
    rep_id(rep);
    assert_eq!(rep["kind"], "power_of_attorney", "{rep}");
    assert_eq!(
        rep["person"],
        json!({ "citizen_id": astrid.citizen_id, "name": "Astrid Lunde" })
    );
    assert_eq!(area_set(&rep["areas"]), set_of(&BASIS_AREAS), "{rep}");
    assert_eq!(rep["valid_until"], Value::Null, "{rep}");

    poa_step(&app, &bjorn, &from_ingrid, "acceptance").await;
    let items = representations(&app, &bjorn).await;
    assert_eq!(items.len(), 2, "{items:?}");
    let rep = representation_for(&app, &bjorn, &ingrid.citizen_id)
        .await
        .expect("Ingrid is listed");
    assert_eq!(rep["person"]["name"], "Ingrid Solberg");
    assert_eq!(area_set(&rep["areas"]), set_of(&ALL_AREAS), "{rep}");
    assert_ne!(rep_id(&items[0]), rep_id(&items[1]));

    // The grantors act for nobody.
    assert_eq!(representations(&app, &astrid).await, Vec::<Value>::new());
    assert_eq!(representations(&app, &ingrid).await, Vec::<Value>::new());
}

/// Revoked by the grantor or by the grantee, a representation leaves the list, its id is not found
/// in `X-Acting-For`, and a downstream service is told `deny`/`no_representation` with no proof.
async fn a_revoked_representation_is_gone_everywhere(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let astrid = citizen(&app, persons::ASTRID, "full").await;
    let ingrid = citizen(&app, persons::INGRID, "full").await;
    let bjorn = citizen(&app, persons::BJORN, "full").await;
    let token = reader_token(&app).await;
    let all = json!({ "all_areas": true });
    let from_astrid = active_poa(&app, &astrid, &bjorn, persons::BJORN, all.clone()).await;
    let from_ingrid = active_poa(&app, &ingrid, &bjorn, persons::BJORN, all).await;

    for (grantor, grantor_pid, poa, revoker) in [
        (&astrid, persons::ASTRID, &from_astrid, &astrid),
        (&ingrid, persons::INGRID, &from_ingrid, &bjorn),
    ] {
        let rep = representation_for(&app, &bjorn, &grantor.citizen_id)
            .await
            .expect("listed while active");
        let id = rep_id(&rep);
        assert_eq!(me_acting(&app, &bjorn, &id).await.0, StatusCode::OK);
        let q = question(persons::BJORN, grantor_pid, "prescriptions", true);
        assert_eq!(decide(&app, &token, q.clone()).await["decision"], "allow");

        poa_step(&app, revoker, poa, "revocation").await;

        assert!(
            representation_for(&app, &bjorn, &grantor.citizen_id)
                .await
                .is_none(),
            "an ended power of attorney is not listed"
        );
        expect_problem(
            acting(&app, &bjorn, Method::GET, "/api/v1/me", &id),
            StatusCode::NOT_FOUND,
            "not-found",
        )
        .await;
        let answer = decide(&app, &token, q).await;
        assert_eq!(answer["decision"], "deny", "{answer}");
        assert_eq!(answer["reason"], "no_representation", "{answer}");
        assert_eq!(answer["representation"], Value::Null, "{answer}");
        assert_eq!(answer["proof"], Value::Null, "{answer}");
    }
    assert_eq!(representations(&app, &bjorn).await, Vec::<Value>::new());
}

/// A representation with an end time is listed with it until the second before, and from the end
/// time on it is not listed, not found, and denied downstream.
async fn a_representation_ends_at_its_end_time(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let astrid = citizen(&app, persons::ASTRID, "full").await;
    let bjorn = citizen(&app, persons::BJORN, "basis").await;
    let end = "2030-01-01T12:00:00Z";
    active_poa(
        &app,
        &astrid,
        &bjorn,
        persons::BJORN,
        json!({ "all_areas": true, "valid_until": end }),
    )
    .await;
    let token = reader_token(&app).await;
    let q = question(persons::BJORN, persons::ASTRID, "vaccinations", false);

    set_clock(&app, "2030-01-01T11:59:59Z").await;
    // Sessions idle out over years of clock: log in again at the new time.
    let bjorn = app.login(persons::BJORN).await;
    let rep = representation_for(&app, &bjorn, &astrid.citizen_id)
        .await
        .expect("still listed the second before the end time");
    assert_eq!(instant(&rep["valid_until"]), instant(&json!(end)), "{rep}");
    let id = rep_id(&rep);
    assert_eq!(me_acting(&app, &bjorn, &id).await.0, StatusCode::OK);
    let answer = decide(&app, &token, q.clone()).await;
    assert_eq!(answer["decision"], "allow", "{answer}");
    assert_eq!(
        instant(&answer["representation"]["valid_until"]),
        instant(&json!(end)),
        "{answer}"
    );

    set_clock(&app, end).await;
    assert_eq!(representations(&app, &bjorn).await, Vec::<Value>::new());
    expect_problem(
        acting(&app, &bjorn, Method::GET, "/api/v1/me", &id),
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    let answer = decide(&app, &token, q).await;
    assert_eq!(answer["decision"], "deny", "{answer}");
    assert_eq!(answer["reason"], "no_representation", "{answer}");
}

/// A grantor whose consent is not active (a new terms version they have not accepted yet) gives
/// no representation even though the power of attorney is active; once they accept again it is
/// back, with the areas of their new level, and it follows a later level change.
async fn a_grantor_without_active_consent_gives_no_representation(backend: Backend) {
    let old = TestApp::builder(backend.clone())
        .env("TERMS_VERSION", "2026-01")
        .spawn()
        .await;
    let astrid = citizen(&old, persons::ASTRID, "full").await;
    let bjorn = citizen(&old, persons::BJORN, "basis").await;
    active_poa(
        &old,
        &astrid,
        &bjorn,
        persons::BJORN,
        json!({ "all_areas": true }),
    )
    .await;
    let rep = representation_for(&old, &bjorn, &astrid.citizen_id)
        .await
        .expect("listed");
    assert_eq!(area_set(&rep["areas"]), set_of(&ALL_AREAS));
    let old_id = rep_id(&rep);

    // The same database behind a server with a new version in force: Bjørn renews, Astrid not.
    let new = TestApp::builder(backend)
        .env("DATABASE_URL", &old.database_url)
        .env("TERMS_VERSION", "2026-06")
        .spawn()
        .await;
    new.accept_terms(&bjorn, "basis").await;
    assert_eq!(representations(&new, &bjorn).await, Vec::<Value>::new());
    expect_problem(
        acting(&new, &bjorn, Method::GET, "/api/v1/me", &old_id),
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    let token = reader_token(&new).await;
    let answer = decide(
        &new,
        &token,
        question(persons::BJORN, persons::ASTRID, "prescriptions", true),
    )
    .await;
    assert_eq!(answer["decision"], "deny", "{answer}");
    assert_eq!(answer["proof"], Value::Null, "{answer}");

    // Astrid accepts the new version at basis: five areas; then she raises her level to full.
    new.accept_terms(&astrid, "basis").await;
    let rep = representation_for(&new, &bjorn, &astrid.citizen_id)
        .await
        .expect("listed again");
    assert_eq!(area_set(&rep["areas"]), set_of(&BASIS_AREAS), "{rep}");
    let (status, body) = new
        .send_json(
            &astrid,
            Method::PUT,
            "/api/v1/terms/level",
            json!({ "level": "full" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rep = representation_for(&new, &bjorn, &astrid.citizen_id)
        .await
        .expect("listed");
    assert_eq!(area_set(&rep["areas"]), set_of(&ALL_AREAS), "{rep}");
}

// ------------------------------------------------------------------------------- X-Acting-For

/// `GET /api/v1/me` names whom the caller acts for with the header and `null` without it; the
/// caller stays who they are.
async fn me_names_whom_the_caller_acts_for(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let astrid = citizen(&app, persons::ASTRID, "basis_plus").await;
    let bjorn = citizen(&app, persons::BJORN, "basis").await;
    active_poa(
        &app,
        &astrid,
        &bjorn,
        persons::BJORN,
        json!({ "all_areas": true }),
    )
    .await;
    let rep = representation_for(&app, &bjorn, &astrid.citizen_id)
        .await
        .expect("listed");
    let id = rep_id(&rep);

    let (status, me) = app.get_json(&bjorn, "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me.get("acting_for"), Some(&Value::Null), "{me}");

    let (status, me) = me_acting(&app, &bjorn, &id).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_no_pids("me", &me.to_string());
    assert_eq!(me["citizen_id"], bjorn.citizen_id.as_str(), "still Bjørn");
    let acting_for = &me["acting_for"];
    assert_eq!(acting_for["representation_id"], id.as_str(), "{me}");
    assert_eq!(acting_for["kind"], "power_of_attorney", "{me}");
    assert_eq!(
        acting_for["person"],
        json!({ "citizen_id": astrid.citizen_id, "name": "Astrid Lunde" })
    );
    assert_eq!(
        area_set(&acting_for["areas"]),
        set_of(&BASIS_PLUS_AREAS),
        "{me}"
    );
}

/// An id the caller does not hold is not found, as if it did not exist, on `me` and on service
/// use: an unknown one, someone else's representation (Ingrid's, from Astrid), Bjørn's own
/// representation id used by its grantor or by an outsider, and a pending power of attorney's id.
/// Nothing is logged for anyone.
async fn ids_the_caller_does_not_hold_are_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let astrid = citizen(&app, persons::ASTRID, "full").await;
    let bjorn = citizen(&app, persons::BJORN, "full").await;
    let ingrid = citizen(&app, persons::INGRID, "full").await;
    let all = json!({ "all_areas": true });
    active_poa(&app, &astrid, &bjorn, persons::BJORN, all.clone()).await;
    active_poa(&app, &astrid, &ingrid, persons::INGRID, all.clone()).await;
    let pending = grant(&app, &ingrid, persons::BJORN, all).await;
    let bjorns = rep_id(
        &representation_for(&app, &bjorn, &astrid.citizen_id)
            .await
            .expect("Bjørn's"),
    );
    let ingrids = rep_id(
        &representation_for(&app, &ingrid, &astrid.citizen_id)
            .await
            .expect("Ingrid's"),
    );
    assert_ne!(bjorns, ingrids);

    let logs_before = [
        app.usage_log(&astrid).await,
        app.usage_log(&bjorn).await,
        app.usage_log(&ingrid).await,
    ];
    let cases = [
        (&bjorn, "an unknown id", uuid::Uuid::new_v4().to_string()),
        (&bjorn, "garbage", "not-a-representation".to_owned()),
        (&bjorn, "someone else's", ingrids.clone()),
        (&bjorn, "a pending power of attorney", pending),
        (&astrid, "the grantor's", bjorns.clone()),
        (&ingrid, "an outsider's", bjorns),
    ];
    for (who, what, id) in &cases {
        let (problem, _) = expect_problem(
            acting(&app, who, Method::GET, "/api/v1/me", id),
            StatusCode::NOT_FOUND,
            "not-found",
        )
        .await;
        let text = problem.to_string();
        assert_no_pids(what, &text);
        for name in ["Astrid", "Lunde", "Bjørn", "Ingrid"] {
            assert!(!text.contains(name), "{what}: {text}");
        }
        expect_problem(
            acting(&app, who, Method::POST, SERVICE_USE, id)
                .json(&json!({ "area": "prescriptions", "service": "Reseptoversikt" })),
            StatusCode::NOT_FOUND,
            "not-found",
        )
        .await;
    }
    let logs_after = [
        app.usage_log(&astrid).await,
        app.usage_log(&bjorn).await,
        app.usage_log(&ingrid).await,
    ];
    assert_eq!(logs_after, logs_before, "nothing logged");
    // Ingrid's own representation still works for her.
    assert_eq!(me_acting(&app, &ingrid, &ingrids).await.0, StatusCode::OK);
}

/// Acting for Astrid, Bjørn can change none of her consents, see or grant or end powers of
/// attorney, or read the usage log: each is a 403 `not-allowed-on-behalf` (before any other
/// check: the withdrawal would otherwise be blocked by the power of attorney), and afterwards
/// Astrid's and Bjørn's terms, powers of attorney and logs read exactly as before, and the
/// representation still holds.
async fn changes_on_behalf_are_refused_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let astrid = citizen(&app, persons::ASTRID, "full").await;
    let bjorn = citizen(&app, persons::BJORN, "basis").await;
    let ingrid = citizen(&app, persons::INGRID, "full").await;
    // A power of attorney from Ingrid waiting for Astrid's answer.
    let to_astrid = grant(&app, &ingrid, persons::ASTRID, json!({ "all_areas": true })).await;
    let poa = active_poa(
        &app,
        &astrid,
        &bjorn,
        persons::BJORN,
        json!({ "all_areas": true }),
    )
    .await;
    let id = rep_id(
        &representation_for(&app, &bjorn, &astrid.citizen_id)
            .await
            .expect("listed"),
    );
    let version = snapshot(&app, &astrid).await.0["consent"]["terms_in_force"]
        .as_str()
        .expect("version")
        .to_owned();

    let astrid_before = snapshot(&app, &astrid).await;
    let bjorn_before = snapshot(&app, &bjorn).await;
    let cases: [(Method, String, Option<Value>); 10] = [
        (
            Method::POST,
            "/api/v1/terms/acceptance".into(),
            Some(json!({ "terms_version": version, "level": "basis_plus" })),
        ),
        (
            Method::PUT,
            "/api/v1/terms/level".into(),
            Some(json!({ "level": "basis_plus" })),
        ),
        (
            Method::POST,
            "/api/v1/terms/withdrawal".into(),
            Some(json!({})),
        ),
        (Method::GET, POA.into(), None),
        (
            Method::POST,
            POA.into(),
            Some(json!({ "grantee_pid": persons::INGRID, "all_areas": true })),
        ),
        (
            Method::POST,
            format!("{POA}/{poa}/revocation"),
            Some(json!({})),
        ),
        // Answering a power of attorney given to the represented person is not hers to delegate
        // either (beyond the contract's list; the server refuses it too).
        (
            Method::POST,
            format!("{POA}/{to_astrid}/acceptance"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("{POA}/{to_astrid}/decline"),
            Some(json!({})),
        ),
        (Method::GET, "/api/v1/usage-log".into(), None),
        (Method::GET, "/api/v1/usage-log?limit=10".into(), None),
    ];
    for (method, path, body) in cases {
        let mut req = acting(&app, &bjorn, method, &path, &id);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let (problem, _) =
            expect_problem(req, StatusCode::FORBIDDEN, "not-allowed-on-behalf").await;
        assert_no_pids(&path, &problem.to_string());
    }

    assert_eq!(
        snapshot(&app, &astrid).await,
        astrid_before,
        "the grantor's terms, powers of attorney and log are unchanged"
    );
    assert_eq!(
        snapshot(&app, &bjorn).await,
        bjorn_before,
        "the grantee's own terms, powers of attorney and log are unchanged"
    );
    let (status, me) = me_acting(&app, &bjorn, &id).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the representation still holds: {me}"
    );
}

/// `GET /api/v1/terms` does not silently ignore `X-Acting-For`: with an id the caller does not
/// hold it is not found (as on any endpoint), and with a valid one it does not pass the grantee's
/// own consent off as the answer for the person acted for (it is refused like the other consent
/// endpoints).
#[tokio::test]
async fn the_terms_are_not_read_on_behalf() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let astrid = citizen(&app, persons::ASTRID, "full").await;
    let bjorn = citizen(&app, persons::BJORN, "basis").await;
    active_poa(
        &app,
        &astrid,
        &bjorn,
        persons::BJORN,
        json!({ "all_areas": true }),
    )
    .await;
    let id = rep_id(
        &representation_for(&app, &bjorn, &astrid.citizen_id)
            .await
            .expect("listed"),
    );
    let (status, body) = tests::app::send_json(acting(
        &app,
        &bjorn,
        Method::GET,
        "/api/v1/terms",
        "not-a-representation",
    ))
    .await;
    assert!(
        status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
        "an unknown id is not ignored: {status} {body}"
    );
    expect_problem(
        acting(&app, &bjorn, Method::GET, "/api/v1/terms", &id),
        StatusCode::FORBIDDEN,
        "not-allowed-on-behalf",
    )
    .await;
}

// ------------------------------------------------------------------------------- service use

/// Without the header, service use writes one `service.used` entry in the caller's own log and
/// nothing in anyone else's.
async fn service_use_for_oneself_is_logged_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let astrid = citizen(&app, persons::ASTRID, "full").await;
    let bjorn = citizen(&app, persons::BJORN, "full").await;
    active_poa(
        &app,
        &astrid,
        &bjorn,
        persons::BJORN,
        json!({ "all_areas": true }),
    )
    .await;
    let astrid_before = app.usage_log(&astrid).await;
    let bjorn_before = app.usage_log(&bjorn).await;

    let (status, body) = app
        .send_json(
            &bjorn,
            Method::POST,
            SERVICE_USE,
            json!({ "area": "prescriptions", "service": "Reseptoversikt" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let log = app.usage_log(&bjorn).await;
    assert_eq!(log.len(), bjorn_before.len() + 1, "{log:?}");
    assert_eq!(&log[1..], &bjorn_before[..]);
    let entry = &log[0];
    assert_eq!(entry["action"], "service.used", "{entry}");
    assert_eq!(entry["actor_kind"], "citizen", "{entry}");
    assert_eq!(entry["actor_id"], bjorn.citizen_id.as_str(), "{entry}");
    assert_eq!(entry["details"]["area"], "prescriptions", "{entry}");
    assert_eq!(entry["details"]["service"], "Reseptoversikt", "{entry}");
    assert_eq!(
        entry["details"].get("on_behalf_of").unwrap_or(&Value::Null),
        &Value::Null,
        "{entry}"
    );
    assert_eq!(app.usage_log(&astrid).await, astrid_before);
}

/// Acting for Astrid in a covered area writes one `service.used` entry in her log and one in
/// Bjørn's, both naming Bjørn as the acting grantee and Astrid as the one acted for.
async fn service_use_on_behalf_is_logged_for_both(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let astrid = citizen(&app, persons::ASTRID, "full").await;
    let bjorn = citizen(&app, persons::BJORN, "basis").await;
    active_poa(
        &app,
        &astrid,
        &bjorn,
        persons::BJORN,
        json!({ "areas": ["prescriptions", "communication"] }),
    )
    .await;
    let id = rep_id(
        &representation_for(&app, &bjorn, &astrid.citizen_id)
            .await
            .expect("listed"),
    );
    let astrid_before = app.usage_log(&astrid).await;
    let bjorn_before = app.usage_log(&bjorn).await;

    let (status, body) = tests::app::send_json(
        acting(&app, &bjorn, Method::POST, SERVICE_USE, &id)
            .json(&json!({ "area": "communication", "service": "Meldinger til fastlegen" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_no_pids("the answer", &body.to_string());

    for (whose, s, before) in [
        ("Astrid's", &astrid, &astrid_before),
        ("Bjørn's", &bjorn, &bjorn_before),
    ] {
        let log = app.usage_log(s).await;
        assert_eq!(log.len(), before.len() + 1, "{whose}: {log:?}");
        assert_eq!(&log[1..], &before[..], "{whose}");
        let entry = &log[0];
        assert_no_pids(whose, &entry.to_string());
        assert_eq!(entry["action"], "service.used", "{whose}: {entry}");
        assert_eq!(entry["actor_kind"], "grantee", "{whose}: {entry}");
        assert_eq!(
            entry["actor_id"],
            bjorn.citizen_id.as_str(),
            "{whose}: {entry}"
        );
        assert_eq!(
            entry["details"]["on_behalf_of"],
            astrid.citizen_id.as_str(),
            "{whose}: {entry}"
        );
        assert_eq!(
            entry["details"]["area"], "communication",
            "{whose}: {entry}"
        );
        assert_eq!(
            entry["details"]["service"], "Meldinger til fastlegen",
            "{whose}: {entry}"
        );
    }
}

/// Acting for Astrid (at `basis`, who granted prescriptions and the patient record), an area she
/// did not grant (vaccinations) and one her own level does not open (the patient record) are 403
/// `area-not-covered`, logged nowhere; the one covered area works.
async fn an_area_not_covered_is_refused_and_logged_nowhere(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let astrid = citizen(&app, persons::ASTRID, "basis").await;
    let bjorn = citizen(&app, persons::BJORN, "full").await;
    active_poa(
        &app,
        &astrid,
        &bjorn,
        persons::BJORN,
        json!({ "areas": ["prescriptions", "patient_record"] }),
    )
    .await;
    let rep = representation_for(&app, &bjorn, &astrid.citizen_id)
        .await
        .expect("listed");
    assert_eq!(area_set(&rep["areas"]), set_of(&["prescriptions"]), "{rep}");
    let id = rep_id(&rep);
    let astrid_before = app.usage_log(&astrid).await;
    let bjorn_before = app.usage_log(&bjorn).await;

    for area in ["vaccinations", "patient_record"] {
        let (problem, _) = expect_problem(
            acting(&app, &bjorn, Method::POST, SERVICE_USE, &id)
                .json(&json!({ "area": area, "service": "Noe" })),
            StatusCode::FORBIDDEN,
            "area-not-covered",
        )
        .await;
        assert_no_pids(area, &problem.to_string());
    }
    assert_eq!(
        app.usage_log(&astrid).await,
        astrid_before,
        "nothing logged"
    );
    assert_eq!(app.usage_log(&bjorn).await, bjorn_before, "nothing logged");

    let (status, body) = tests::app::send_json(
        acting(&app, &bjorn, Method::POST, SERVICE_USE, &id)
            .json(&json!({ "area": "prescriptions", "service": "Noe" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// A bad area (unknown, empty, not a string, missing) is a 400 `validation-failed` naming `area`;
/// a service name outside 1 to 100 characters names `service`. Nothing is logged; 100 characters
/// are fine.
#[tokio::test]
async fn a_bad_service_use_is_a_validation_problem() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let bjorn = citizen(&app, persons::BJORN, "full").await;
    let before = app.usage_log(&bjorn).await;
    let cases = [
        (json!({ "area": "everything", "service": "x" }), "area"),
        (json!({ "area": "", "service": "x" }), "area"),
        (json!({ "area": 3, "service": "x" }), "area"),
        (json!({ "service": "x" }), "area"),
        (json!({ "area": "vaccinations", "service": "" }), "service"),
        (
            json!({ "area": "vaccinations", "service": "x".repeat(101) }),
            "service",
        ),
        (json!({ "area": "vaccinations" }), "service"),
    ];
    for (body, field) in cases {
        let (problem, _) = expect_problem(
            app.as_citizen(&bjorn, Method::POST, SERVICE_USE)
                .json(&body),
            StatusCode::BAD_REQUEST,
            "validation-failed",
        )
        .await;
        assert_names_field(&problem, field, &body);
    }
    assert_eq!(app.usage_log(&bjorn).await, before, "nothing logged");
    let (status, body) = app
        .send_json(
            &bjorn,
            Method::POST,
            SERVICE_USE,
            json!({ "area": "vaccinations", "service": "x".repeat(100) }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// The validation problem names `field`: as the error's field, or (for a missing field, which the
/// server reports as a problem of the whole `body`) in the error's detail.
fn assert_names_field(problem: &Value, field: &str, body: &Value) {
    let error = &problem["errors"][0];
    let missing = error["field"] == "body"
        && error["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("`{field}`")));
    assert!(
        error["field"] == field || missing,
        "{body}: the problem names {field}: {problem}"
    );
}

// ------------------------------------------------------------------ the downstream decision

/// The proof JWT's header and verified claims. Verifies against the server's public JWKS with
/// ES256, the server as issuer, and `exp`, `iss`, `sub` required.
async fn verified_proof(app: &TestApp, proof: &str) -> Value {
    let header = decode_header(proof).expect("a JWT header");
    assert_eq!(header.alg, Algorithm::ES256);
    let kid = header.kid.expect("the proof names its key");

    let res = app.client.get(app.url(JWKS)).send().await.expect("JWKS");
    assert_eq!(res.status(), StatusCode::OK, "the JWKS is public");
    let jwks: Value = res.json().await.expect("JWKS JSON");
    let keys = jwks["keys"].as_array().expect("keys");
    for k in keys {
        assert_eq!(k["kty"], "EC", "{k}");
        assert_eq!(k["crv"], "P-256", "{k}");
        assert_eq!(k["alg"], "ES256", "{k}");
        assert_eq!(k["use"], "sig", "{k}");
        assert!(k["x"].is_string() && k["y"].is_string(), "{k}");
        assert!(
            k.get("d").is_none(),
            "the JWKS publishes a private key: {k}"
        );
    }
    let key = keys
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("the proof's key is published");
    let jwk: Jwk = serde_json::from_value(key.clone()).expect("a JWK");
    let key = DecodingKey::from_jwk(&jwk).expect("a decoding key");

    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[app.base.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    validation.validate_aud = false;
    let claims = decode::<Value>(proof, &key, &validation)
        .expect("the proof verifies")
        .claims;

    // An edited payload under the same signature does not verify.
    let parts: Vec<&str> = proof.split('.').collect();
    assert_eq!(parts.len(), 3);
    let mut edited = claims.clone();
    edited["areas"] = json!(ALL_AREAS);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(edited.to_string()),
        parts[2]
    );
    assert!(decode::<Value>(&forged, &key, &validation).is_err());
    claims
}

fn number(claims: &Value, name: &str) -> i64 {
    claims[name]
        .as_i64()
        .unwrap_or_else(|| panic!("a numeric {name}: {claims}"))
}

/// Astrid (at `basis_plus`) has given Bjørn all areas: asked about the patient record with a
/// proof, the answer is `allow`/`power_of_attorney` with the representation (the power of
/// attorney's id, the seven areas her level opens) and a JWT that verifies against
/// `/.well-known/jwks.json` and carries every claim of the contract, living at most 5 minutes.
/// Ingrid's power of attorney to Bjørn ends in two minutes: its proof expires no later. Without
/// `proof` asked, none is given; two proofs have different `jti`.
async fn an_allowed_decision_carries_a_verifiable_proof(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let astrid = citizen(&app, persons::ASTRID, "basis_plus").await;
    let ingrid = citizen(&app, persons::INGRID, "full").await;
    let bjorn = citizen(&app, persons::BJORN, "basis").await;
    let poa = active_poa(
        &app,
        &astrid,
        &bjorn,
        persons::BJORN,
        json!({ "all_areas": true }),
    )
    .await;
    // The server's clock is the real one here (tokens and proofs are checked against it).
    let soon =
        (Utc::now() + chrono::Duration::seconds(120)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let short = active_poa(
        &app,
        &ingrid,
        &bjorn,
        persons::BJORN,
        json!({ "areas": ["communication"], "valid_until": soon }),
    )
    .await;
    let token = reader_token(&app).await;

    let answer = decide(
        &app,
        &token,
        question(persons::BJORN, persons::ASTRID, "patient_record", true),
    )
    .await;
    assert_eq!(answer["decision"], "allow", "{answer}");
    assert_eq!(answer["reason"], "power_of_attorney", "{answer}");
    let rep = &answer["representation"];
    assert_eq!(rep["kind"], "power_of_attorney", "{answer}");
    assert_eq!(rep["power_of_attorney_id"], poa.as_str(), "{answer}");
    assert_eq!(
        area_set(&rep["areas"]),
        set_of(&BASIS_PLUS_AREAS),
        "{answer}"
    );
    assert_eq!(rep["valid_until"], Value::Null, "{answer}");

    let proof = answer["proof"].as_str().expect("a proof was asked for");
    let claims = verified_proof(&app, proof).await;
    assert_eq!(claims["iss"], app.base.as_str(), "{claims}");
    assert_eq!(claims["sub"], astrid.citizen_id.as_str(), "{claims}");
    assert_eq!(claims["act"]["sub"], bjorn.citizen_id.as_str(), "{claims}");
    assert_eq!(claims["subject_pid"], persons::ASTRID, "{claims}");
    assert_eq!(claims["actor_pid"], persons::BJORN, "{claims}");
    assert_eq!(
        area_set(&claims["areas"]),
        set_of(&BASIS_PLUS_AREAS),
        "{claims}"
    );
    assert_eq!(claims["poa"], poa.as_str(), "{claims}");
    let (iat, nbf, exp) = (
        number(&claims, "iat"),
        number(&claims, "nbf"),
        number(&claims, "exp"),
    );
    let now = Utc::now().timestamp();
    assert!((iat - now).abs() <= 30, "iat is now: {claims}");
    assert!(nbf <= iat + 1, "{claims}");
    assert!(exp > iat && exp - iat <= 300, "at most 5 minutes: {claims}");
    let jti = claims["jti"].as_str().expect("jti").to_owned();
    assert!(!jti.is_empty());

    // Another proof for the same question is another token.
    let again = decide(
        &app,
        &token,
        question(persons::BJORN, persons::ASTRID, "prescriptions", true),
    )
    .await;
    let claims = verified_proof(&app, again["proof"].as_str().expect("proof")).await;
    assert_ne!(claims["jti"], jti.as_str(), "{claims}");

    // Not asked: no proof.
    let answer = decide(
        &app,
        &token,
        question(persons::BJORN, persons::ASTRID, "prescriptions", false),
    )
    .await;
    assert_eq!(answer["decision"], "allow", "{answer}");
    assert_eq!(answer["proof"], Value::Null, "{answer}");

    // Never beyond the power of attorney's end time.
    let answer = decide(
        &app,
        &token,
        question(persons::BJORN, persons::INGRID, "communication", true),
    )
    .await;
    assert_eq!(answer["decision"], "allow", "{answer}");
    assert_eq!(
        answer["representation"]["power_of_attorney_id"],
        short.as_str()
    );
    assert_eq!(
        instant(&answer["representation"]["valid_until"]),
        instant(&json!(soon)),
        "{answer}"
    );
    let claims = verified_proof(&app, answer["proof"].as_str().expect("proof")).await;
    assert_eq!(claims["sub"], ingrid.citizen_id.as_str(), "{claims}");
    assert_eq!(claims["poa"], short.as_str(), "{claims}");
    assert_eq!(area_set(&claims["areas"]), set_of(&["communication"]));
    let exp = number(&claims, "exp");
    assert!(
        exp <= instant(&json!(soon)).timestamp(),
        "the proof outlives the power of attorney: {claims}"
    );
}

/// Denials carry no proof even when one is asked for: an area not granted, an area granted but
/// not opened by the grantor's level (`area_not_covered`); a pending power of attorney, the
/// reverse direction, an outsider, and a person the register does not know
/// (`no_representation`, no representation).
async fn denials_carry_no_proof(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let astrid = citizen(&app, persons::ASTRID, "basis").await;
    let bjorn = citizen(&app, persons::BJORN, "full").await;
    let ingrid = citizen(&app, persons::INGRID, "full").await;
    active_poa(
        &app,
        &astrid,
        &bjorn,
        persons::BJORN,
        json!({ "areas": ["prescriptions", "patient_record"] }),
    )
    .await;
    grant(&app, &ingrid, persons::BJORN, json!({ "all_areas": true })).await;
    let token = reader_token(&app).await;

    for area in ["vaccinations", "patient_record"] {
        let answer = decide(
            &app,
            &token,
            question(persons::BJORN, persons::ASTRID, area, true),
        )
        .await;
        assert_eq!(answer["decision"], "deny", "{area}: {answer}");
        assert_eq!(answer["reason"], "area_not_covered", "{area}: {answer}");
        assert_eq!(answer["proof"], Value::Null, "{area}: {answer}");
    }
    for (actor, subject, what) in [
        (persons::BJORN, persons::INGRID, "pending"),
        (persons::ASTRID, persons::BJORN, "the reverse direction"),
        (persons::INGRID, persons::ASTRID, "an outsider"),
        (persons::BJORN, UNKNOWN, "an unknown subject"),
        (UNKNOWN, persons::ASTRID, "an unknown actor"),
    ] {
        let answer = decide(
            &app,
            &token,
            question(actor, subject, "prescriptions", true),
        )
        .await;
        assert_eq!(answer["decision"], "deny", "{what}: {answer}");
        assert_eq!(answer["reason"], "no_representation", "{what}: {answer}");
        assert_eq!(answer["representation"], Value::Null, "{what}: {answer}");
        assert_eq!(answer["proof"], Value::Null, "{what}: {answer}");
    }
}

/// The decision needs a `consent:read` token (none: 401 `invalid-token`; without the scope: 403
/// `insufficient-scope`), and a bad identity number or area is a 400 `validation-failed` naming
/// the field, echoing no number.
#[tokio::test]
async fn decision_requests_are_checked() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let good = question(persons::BJORN, persons::ASTRID, "prescriptions", true);
    expect_problem(
        app.client.post(app.url(DECISION)).json(&good),
        StatusCode::UNAUTHORIZED,
        "invalid-token",
    )
    .await;
    let unscoped = app.idp.service_token("dev-service-reader", "").await;
    expect_problem(
        app.as_service(&unscoped, Method::POST, DECISION)
            .json(&good),
        StatusCode::FORBIDDEN,
        "insufficient-scope",
    )
    .await;

    let token = reader_token(&app).await;
    let wrong_check_digits = format!("{}7", &persons::ASTRID[..10]);
    let cases = [
        ("actor_pid", json!("1234")),
        ("actor_pid", json!(wrong_check_digits)),
        ("actor_pid", json!(2_867_933_185_u64)),
        ("subject_pid", json!(format!("{}0", persons::ASTRID))),
        ("subject_pid", json!("abcdefghijk")),
        ("subject_pid", json!("")),
        ("area", json!("everything")),
    ];
    for (field, value) in cases {
        let mut body = good.clone();
        body[field] = value.clone();
        let (mut problem, _) = expect_problem(
            app.as_service(&token, Method::POST, DECISION).json(&body),
            StatusCode::BAD_REQUEST,
            "validation-failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
        problem["request_id"] = Value::Null;
        let text = problem.to_string();
        assert_no_pids(field, &text);
        let submitted = match &value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let digits: String = submitted.chars().filter(char::is_ascii_digit).collect();
        for i in 0..digits.len().saturating_sub(3) {
            let run = &digits[i..i + 4];
            assert!(!text.contains(run), "{submitted:?} echoed ({run}): {text}");
        }
    }
    // Each pid missing.
    for field in ["actor_pid", "subject_pid"] {
        let mut body = good.clone();
        body.as_object_mut().expect("object").remove(field);
        let (problem, _) = expect_problem(
            app.as_service(&token, Method::POST, DECISION).json(&body),
            StatusCode::BAD_REQUEST,
            "validation-failed",
        )
        .await;
        assert_names_field(&problem, field, &body);
        assert_no_pids(field, &problem.to_string());
    }
}

both_backends!(
    a_representation_appears_on_acceptance_with_the_effective_areas,
    a_revoked_representation_is_gone_everywhere,
    a_representation_ends_at_its_end_time,
    a_grantor_without_active_consent_gives_no_representation,
    me_names_whom_the_caller_acts_for,
    ids_the_caller_does_not_hold_are_not_found,
    changes_on_behalf_are_refused_and_change_nothing,
    service_use_for_oneself_is_logged_once,
    service_use_on_behalf_is_logged_for_both,
    an_area_not_covered_is_refused_and_logged_nowhere,
    an_allowed_decision_carries_a_verifiable_proof,
    denials_carry_no_proof,
);

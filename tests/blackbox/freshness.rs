//! Read-your-writes across instances: two servers share one database (as several API nodes share
//! one PostgreSQL); a decision asked at one right after a change made at the other gives the new
//! answer.
//!
//! A reader keeps decision inputs in memory between requests, but each decision first checks the
//! shared database's watermark (the newest outbox position and register import) and drops what
//! changed since (api/src/decision_cache.rs). So every test here warms the reader first: it asks
//! once before the change (the inputs are then kept), the change is made at the writer, and the
//! same question at the reader must give the new answer, for each kind of change a decision
//! reads: terms and powers of attorney, the summary care record, blocks and objections, the
//! access switches, a child's restrictions, and a register import.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tests::{both_backends, persons, Backend, Session, TestApp};

async fn decide(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (status, answer) =
        tests::app::send_json(app.as_service(token, Method::POST, path).json(&body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

/// "Today" for the tests below, at both instances: the persons file's ages hold on it (Nora is
/// 5, Lukas 14).
const TODAY: &str = "2026-11-23T12:00:00Z";

const ACTIVE_USER: &str = "/api/v1/decisions/active-user";
const REPRESENTATION: &str = "/api/v1/decisions/representation";
const RECORD: &str = "/api/v1/decisions/summary-care-record";
const ACCESS: &str = "/api/v1/decisions/professional-access";
const BLOCKS: &str = "/api/v1/summary-care-record/blocks";
const OBJECTIONS: &str = "/api/v1/objections";
const RESTRICTIONS: &str = "/api/v1/child-restrictions";

/// The health professional (HPR number) and organisation that ask for professional access.
const DOCTOR: &str = "1234567";
const HOSPITAL: &str = "974749025";

/// Two instances of one deployment. Fields drop in declaration order: the reader goes before the
/// writer, whose database it uses.
struct Instances {
    reader: TestApp,
    writer: TestApp,
}

/// A writer and a reader on one database, both clocks pinned to [`TODAY`] and their purge timers
/// off. The reader keeps decision inputs (the default, stated here because it is the point).
async fn instances(backend: Backend) -> Instances {
    let writer = TestApp::builder(backend.clone())
        .env("PURGE_INTERVAL_SECONDS", "0")
        .spawn()
        .await;
    let reader = TestApp::builder(backend)
        .env("PURGE_INTERVAL_SECONDS", "0")
        .env("DECISION_CACHE_ENTRIES", "100000")
        .sharing_database_of(&writer)
        .spawn()
        .await;
    writer.set_clock(TODAY).await;
    reader.set_clock(TODAY).await;
    Instances { reader, writer }
}

/// Logs `pid` in at `app` (at `idporten-loa-high`) and accepts the terms at `level`.
async fn citizen(app: &TestApp, pid: &str, level: &str) -> Session {
    let s = app.login(pid).await;
    app.accept_terms(&s, level).await;
    s
}

/// A token of `dev-service-reader` (`consent:read`), for the decisions.
async fn reader_token(app: &TestApp) -> String {
    app.idp
        .service_token("dev-service-reader", "consent:read")
        .await
}

/// A citizen's change at `app` that must answer `expected`; the answer.
async fn change(
    app: &TestApp,
    s: &Session,
    method: Method,
    path: &str,
    body: Value,
    expected: StatusCode,
) -> Value {
    let (status, answer) = app.send_json(s, method.clone(), path, body).await;
    assert_eq!(status, expected, "{method} {path}: {answer}");
    answer
}

/// A citizen's `POST path` with `{}` at `app` that must answer 200.
async fn post_ok(app: &TestApp, s: &Session, path: &str) {
    change(app, s, Method::POST, path, json!({}), StatusCode::OK).await;
}

/// The representation decision: may `actor` act for `subject` in `area`?
async fn may_act(app: &TestApp, token: &str, actor: &str, subject: &str, area: &str) -> Value {
    let q = json!({ "actor_pid": actor, "subject_pid": subject, "area": area });
    decide(app, token, REPRESENTATION, q).await
}

/// A representation answer is `decision` (`allow`/`deny`) for `reason`.
fn assert_represents(what: &str, answer: &Value, decision: &str, reason: &str) {
    assert_eq!(answer["decision"], decision, "{what}: {answer}");
    assert_eq!(answer["reason"], reason, "{what}: {answer}");
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

/// Astrid opts out of her summary care record at the writer: the reader, which has just answered
/// `active`, answers `opted_out` (not available to health personnel); she restores it at the
/// writer and the reader answers `active` again.
async fn a_summary_care_record_opt_out_and_restore_are_seen_at_the_other(backend: Backend) {
    let Instances { reader, writer } = &instances(backend).await;
    let token = reader_token(reader).await;
    let astrid = citizen(writer, persons::ASTRID, "full").await;
    let record = || decide(reader, &token, RECORD, json!({ "pid": persons::ASTRID }));

    let before = record().await;
    assert_eq!(before["subject_id"], astrid.citizen_id.as_str(), "{before}");
    assert_eq!(before["state"], "active", "{before}");
    assert_eq!(before["available_to_health_personnel"], true, "{before}");

    for (path, state, available) in [
        ("/api/v1/summary-care-record/opt-out", "opted_out", false),
        ("/api/v1/summary-care-record/restoration", "active", true),
    ] {
        post_ok(writer, &astrid, path).await;
        let after = record().await;
        assert_eq!(after["state"], state, "after {path}: {after}");
        assert_eq!(
            after["available_to_health_personnel"], available,
            "after {path}: {after}"
        );
    }
}

both_backends!(a_summary_care_record_opt_out_and_restore_are_seen_at_the_other);

/// A doctor's ordinary-care read of Astrid's summary care record, allowed at the reader, is
/// refused there as soon as she blocks him by HPR number at the writer (`professional_blocked`),
/// blocks the whole record (`record_blocked`) or objects to his organisation (`objection`); each
/// time it is allowed again (`no_restriction`) as soon as she lifts the block or withdraws the
/// objection at the writer.
async fn blocks_and_objections_are_seen_at_the_other(backend: Backend) {
    let Instances { reader, writer } = &instances(backend).await;
    let token = reader_token(reader).await;
    let astrid = citizen(writer, persons::ASTRID, "full").await;
    let read = json!({
        "pid": persons::ASTRID,
        "resource": "summary_care_record",
        "hpr_number": DOCTOR,
        "organisation_number": HOSPITAL,
        "basis": "ordinary_care",
    });
    let access = || decide(reader, &token, ACCESS, read.clone());

    for (path, restriction, refused_for) in [
        (
            BLOCKS,
            json!({ "kind": "professional", "hpr_number": DOCTOR }),
            "professional_blocked",
        ),
        (BLOCKS, json!({ "kind": "whole_record" }), "record_blocked"),
        (
            OBJECTIONS,
            json!({ "kind": "organisation", "organisation_number": HOSPITAL }),
            "objection",
        ),
    ] {
        let before = access().await;
        assert_eq!(before["allowed"], true, "before {restriction}: {before}");
        assert_eq!(before["reason"], "no_restriction", "{before}");

        let made = change(
            writer,
            &astrid,
            Method::POST,
            path,
            restriction.clone(),
            StatusCode::CREATED,
        )
        .await;
        let id = made["id"].as_str().expect("an id").to_owned();
        let during = access().await;
        assert_eq!(during["allowed"], false, "with {restriction}: {during}");
        assert_eq!(
            during["reason"], refused_for,
            "with {restriction}: {during}"
        );

        let lift = format!("{path}/{id}");
        change(
            writer,
            &astrid,
            Method::DELETE,
            &lift,
            json!({}),
            StatusCode::OK,
        )
        .await;
        let after = access().await;
        assert_eq!(
            after["allowed"], true,
            "after lifting {restriction}: {after}"
        );
        assert_eq!(after["reason"], "no_restriction", "{after}");
    }
}

both_backends!(blocks_and_objections_are_seen_at_the_other);

/// Astrid removes her digital access to the patient record at the writer: the reader's
/// active-user answer, which has just listed no removed access, lists `patient_record` (she
/// stays active); opening it again at the writer empties the list again.
async fn an_access_switch_is_seen_at_the_other(backend: Backend) {
    let Instances { reader, writer } = &instances(backend).await;
    let token = reader_token(reader).await;
    let astrid = citizen(writer, persons::ASTRID, "full").await;
    let active = || {
        decide(
            reader,
            &token,
            ACTIVE_USER,
            json!({ "pid": persons::ASTRID }),
        )
    };
    let switch = "/api/v1/access-switches/patient_record";

    let before = active().await;
    assert_eq!(before["decision"], "active", "{before}");
    assert_eq!(before["removed_access"], json!([]), "{before}");

    let off = json!({ "access": "removed" });
    change(writer, &astrid, Method::PUT, switch, off, StatusCode::OK).await;
    let after = active().await;
    assert_eq!(after["decision"], "active", "{after}");
    assert_eq!(
        after["removed_access"],
        json!(["patient_record"]),
        "{after}"
    );

    let open = json!({ "access": "open" });
    change(writer, &astrid, Method::PUT, switch, open, StatusCode::OK).await;
    let reopened = active().await;
    assert_eq!(reopened["removed_access"], json!([]), "{reopened}");
}

both_backends!(an_access_switch_is_seen_at_the_other);

/// A child-restrictions request from the clinic's system (`child-restrictions:write`) at `app`:
/// `what` is `refusals`, `denials` or `{id}/lifting`. It must answer `expected`; the answer.
async fn clinic(app: &TestApp, what: &str, body: Value, expected: StatusCode) -> Value {
    let token = app
        .idp
        .service_token("dev-service-clinic", "child-restrictions:write")
        .await;
    let path = format!("{RESTRICTIONS}/{what}");
    let (status, answer) =
        tests::app::send_json(app.as_service(&token, Method::POST, &path).json(&body)).await;
    assert_eq!(status, expected, "POST {path}: {answer}");
    answer
}

/// Who registers or lifts a child's restriction.
fn author() -> Value {
    json!({
        "hpr_number": "123456789",
        "organisation_number": "974589095",
        "organisation_name": "Helsestasjon for ungdom"
    })
}

/// Kari may act for Lukas (14) in appointments at the reader (`guardian`). A refusal of
/// appointments registered at the writer makes the reader deny it (`area_not_covered`) while
/// vaccinations stay allowed; lifting it at the writer allows it again. A denial on weighty
/// reasons for Ola alone (Nora, 5) registered at the writer makes the reader deny Ola
/// (`guardian_access_unavailable`) and still allow Kari.
async fn a_childs_restrictions_are_seen_at_the_other(backend: Backend) {
    let Instances { reader, writer } = &instances(backend).await;
    let token = reader_token(reader).await;
    citizen(writer, persons::KARI, "full").await;
    citizen(writer, persons::OLA, "full").await;
    let (kari, ola, lukas, nora) = (persons::KARI, persons::OLA, persons::LUKAS, persons::NORA);

    let before = may_act(reader, &token, kari, lukas, "appointments").await;
    assert_represents("before the refusal", &before, "allow", "guardian");
    assert_eq!(before["representation"]["age_band"], "12_to_16", "{before}");

    let refusal = json!({
        "child_pid": lukas,
        "areas": ["appointments"],
        "basis": "The child does not want the guardians to see this.",
        "author": author(),
    });
    let r = clinic(writer, "refusals", refusal, StatusCode::CREATED).await;
    let id = r["restriction_id"].as_str().expect("an id").to_owned();
    let refused = may_act(reader, &token, kari, lukas, "appointments").await;
    assert_represents("refused", &refused, "deny", "area_not_covered");
    let other = may_act(reader, &token, kari, lukas, "vaccinations").await;
    assert_represents("another area", &other, "allow", "guardian");

    let lifting = json!({ "basis": "The child agrees again.", "author": author() });
    clinic(writer, &format!("{id}/lifting"), lifting, StatusCode::OK).await;
    let lifted = may_act(reader, &token, kari, lukas, "appointments").await;
    assert_represents("lifted", &lifted, "allow", "guardian");

    for guardian in [kari, ola] {
        let before = may_act(reader, &token, guardian, nora, "appointments").await;
        assert_represents("before the denial", &before, "allow", "guardian");
    }
    let denial = json!({
        "child_pid": nora,
        "guardian_pid": ola,
        "basis": "Weighty reasons recorded in the child's journal.",
        "author": author(),
    });
    clinic(writer, "denials", denial, StatusCode::CREATED).await;
    let denied = may_act(reader, &token, ola, nora, "appointments").await;
    assert_represents("denied", &denied, "deny", "guardian_access_unavailable");
    let kept = may_act(reader, &token, kari, nora, "appointments").await;
    assert_represents("the other guardian", &kept, "allow", "guardian");
}

both_backends!(a_childs_restrictions_are_seen_at_the_other);

/// Bjørn holds Astrid's power of attorney, and Ola is Nora's guardian: the reader allows both.
/// `consent-portal import-register`, run against the shared database, imports an extract in
/// which Astrid died on 1 November and Ola is no longer Nora's parent (no event names either:
/// only the register mark moves). The reader then denies both (`no_representation`).
async fn a_register_import_is_seen_at_the_other(backend: Backend) {
    let Instances { reader, writer } = &instances(backend).await;
    let token = reader_token(reader).await;
    let grantor = citizen(writer, persons::ASTRID, "basis").await;
    let grantee = citizen(writer, persons::BJORN, "basis").await;
    citizen(writer, persons::OLA, "full").await;
    let grant = change(
        writer,
        &grantor,
        Method::POST,
        "/api/v1/powers-of-attorney",
        json!({ "grantee_pid": persons::BJORN, "all_areas": true }),
        StatusCode::CREATED,
    )
    .await;
    let accept = format!(
        "/api/v1/powers-of-attorney/{}/acceptance",
        grant["id"].as_str().expect("an id")
    );
    post_ok(writer, &grantee, &accept).await;
    let (bjorn, astrid, ola, nora) = (persons::BJORN, persons::ASTRID, persons::OLA, persons::NORA);

    let before = may_act(reader, &token, bjorn, astrid, "prescriptions").await;
    assert_represents("the grant", &before, "allow", "power_of_attorney");
    let before = may_act(reader, &token, ola, nora, "appointments").await;
    assert_represents("the guardian", &before, "allow", "guardian");

    let path = tests::workspace_root().join("dev/idp/persons.json");
    let mut extract: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("persons.json")).expect("JSON");
    for p in extract["persons"].as_array_mut().expect("persons") {
        if p["pid"] == astrid {
            p["deceased"] = json!("2026-11-01");
        }
        if p["pid"] == nora {
            p["parents"] = json!([persons::KARI]);
        }
    }
    let out = import_register(writer, &extract);
    assert!(out.contains("changed 2,"), "{out}");

    let after = may_act(reader, &token, bjorn, astrid, "prescriptions").await;
    assert_represents("the grantor died", &after, "deny", "no_representation");
    let after = may_act(reader, &token, ola, nora, "appointments").await;
    assert_represents("no longer a parent", &after, "deny", "no_representation");
}

both_backends!(a_register_import_is_seen_at_the_other);

/// Runs `consent-portal import-register` with `extract` against `app`'s database, as an operator
/// does; it must succeed. Its output.
fn import_register(app: &TestApp, extract: &Value) -> String {
    let path = std::env::temp_dir().join(format!(
        "freshness-extract-{}.json",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&path, serde_json::to_vec(extract).expect("JSON")).expect("write");
    let out = app.run_command_with(&["import-register", &path.display().to_string()]);
    let _ = std::fs::remove_file(&path);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "import-register: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

//! Children and their guardians: the person selector's guardian representations by age band,
//! acting for a child (`X-Acting-For`), what a guardian sees of a child's usage log, the digital
//! access switches, the birthday notices, and the machine API through which health personnel
//! systems register a child's refusal or a denial on weighty reasons.
//!
//! The Nordmann family of `dev/idp/persons.json`: Kari lives with all six children (adr-007), Ola
//! elsewhere; both have parental responsibility. Nora (5) and Jakob (11, 12 on 2026-12-16) are
//! under 12; Sofie (12), Lukas (14) and Ella (15, 16 on 2026-12-09) are 12 to 16; Filip is 16.
//! Hanne is the sole parent of Emma (17). Every test pins the server's clock to [`TODAY`] so the
//! ages do not depend on the day the tests run. Refused requests are checked to change nothing.

use chrono::Duration;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use tests::persons::{
    ASTRID, BJORN, ELLA, EMMA, FILIP, HANNE, JAKOB, KARI, LUKAS, NORA, OLA, SOFIE, UNKNOWN,
};
use tests::{at, both_backends, instant, Backend, Session, TestApp};

use crate::errors::expect_problem;

const REPRESENTATIONS: &str = "/api/v1/representations";
const SERVICE_USE: &str = "/api/v1/service-use";
const USAGE_LOG: &str = "/api/v1/usage-log";
const SWITCHES: &str = "/api/v1/access-switches";
const NOTICES: &str = "/api/v1/notices";
const RESTRICTIONS: &str = "/api/v1/child-restrictions";
const DECISION: &str = "/api/v1/decisions/representation";
const ACTING_FOR: &str = "X-Acting-For";

/// "Today" for every test in this module (the persons file's ages are stated for this day).
const TODAY: &str = "2026-11-23T12:00:00Z";
/// Ella's 16th birthday, 2026-12-09, begins at 00:00 Europe/Oslo (CET, UTC+1).
const ELLA_16: &str = "2026-12-08T23:00:00Z";
/// Jakob's 12th birthday, 2026-12-16, begins at 00:00 Europe/Oslo.
const JAKOB_12: &str = "2026-12-15T23:00:00Z";

const NORA_NAME: &str = "Nora Nordmann";
const JAKOB_NAME: &str = "Jakob Nordmann";
const SOFIE_NAME: &str = "Sofie Nordmann";
const LUKAS_NAME: &str = "Lukas Nordmann";
const ELLA_NAME: &str = "Ella Nordmann";
const FILIP_NAME: &str = "Filip Nordmann";

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
const BASIS_AREAS: [&str; 5] = [
    "appointments",
    "prescriptions",
    "vaccinations",
    "health_registries",
    "co_payments",
];
const BASIS_PLUS_AREAS: [&str; 7] = [
    "appointments",
    "prescriptions",
    "vaccinations",
    "health_registries",
    "co_payments",
    "patient_record",
    "summary_care_record",
];
/// What guardians reach from the 12th birthday.
const FROM_12_AREAS: [&str; 3] = ["appointments", "vaccinations", "co_payments"];

/// Words an unavailable child's entry must not contain: it never says why.
const WHY_WORDS: [&str; 7] = [
    "denial",
    "denied",
    "weighty",
    "reason",
    "address",
    "confidential",
    "protected",
];

// ---------------------------------------------------------------------------------- helpers

/// A server with the default register, its clock pinned to [`TODAY`].
async fn family(backend: Backend) -> TestApp {
    let app = TestApp::spawn(backend).await;
    app.set_clock(TODAY).await;
    app
}

/// The default extract, `dev/idp/persons.json`, as JSON (to be edited for a test).
fn default_extract() -> Value {
    let path = tests::workspace_root().join("dev/idp/persons.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("persons.json")).expect("JSON")
}

/// The person `pid` of an extract, to edit.
fn person_mut<'a>(extract: &'a mut Value, pid: &str) -> &'a mut Value {
    extract["persons"]
        .as_array_mut()
        .expect("persons")
        .iter_mut()
        .find(|p| p["pid"] == pid)
        .unwrap_or_else(|| panic!("a person of the extract"))
}

/// Writes `extract` to a file of its own under the temp dir; returns its path.
fn write_extract(extract: &Value) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "children-extract-{}.json",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&path, serde_json::to_vec_pretty(extract).expect("JSON")).expect("write");
    path
}

/// A server that imports `extract` at start, its clock pinned to [`TODAY`].
async fn family_with_extract(backend: Backend, extract: &Value) -> TestApp {
    let path = write_extract(extract);
    let app = TestApp::builder(backend)
        .env("REGISTER_EXTRACT", &path.display().to_string())
        .spawn()
        .await;
    let _ = std::fs::remove_file(&path);
    app.set_clock(TODAY).await;
    app
}

/// Logs `pid` in and accepts the terms in force at `level`.
async fn citizen(app: &TestApp, pid: &str, level: &str) -> Session {
    let s = app.login(pid).await;
    app.accept_terms(&s, level).await;
    s
}

/// The text contains no identity number of the persons these tests use.
fn assert_no_pids(what: &str, text: &str) {
    for pid in [
        KARI, OLA, NORA, JAKOB, SOFIE, LUKAS, ELLA, FILIP, HANNE, EMMA, ASTRID, BJORN, UNKNOWN,
    ] {
        assert!(
            !text.contains(pid),
            "{what} carries an identity number: {text}"
        );
    }
}

/// The caller's person selector: `items` and `unavailable`, with no identity number.
async fn selector(app: &TestApp, s: &Session) -> Value {
    let (status, body) = app.get_json(s, REPRESENTATIONS).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_no_pids("the representations", &body.to_string());
    assert!(body["items"].is_array(), "{body}");
    assert!(body["unavailable"].is_array(), "{body}");
    body
}

/// The representation in the selector `list` for the person named `name`, if listed.
fn listed(list: &Value, name: &str) -> Option<Value> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["person"]["name"] == name)
        .cloned()
}

/// The selector's `unavailable` entry for `name`, if there.
fn unavailable(list: &Value, name: &str) -> Option<Value> {
    list["unavailable"]
        .as_array()
        .expect("unavailable")
        .iter()
        .find(|r| r["person"]["name"] == name)
        .cloned()
}

/// The names in the selector's `items`, or in its `unavailable` list.
fn names(list: &Value, which: &str) -> BTreeSet<String> {
    list[which]
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["person"]["name"].as_str().expect("a name").to_owned())
        .collect()
}

/// The child `name` is in `unavailable` only, as a guardian relation with a plain message that
/// never says why; returns the entry.
fn assert_unavailable(list: &Value, name: &str) -> Value {
    assert!(
        listed(list, name).is_none(),
        "{name} is not selectable: {list}"
    );
    let entry = unavailable(list, name).unwrap_or_else(|| panic!("{name} is unavailable: {list}"));
    assert_eq!(entry["kind"], "guardian", "{entry}");
    assert!(
        entry["person"]["citizen_id"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "{entry}"
    );
    assert!(
        entry["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{entry}"
    );
    let text = list.to_string().to_lowercase();
    for word in WHY_WORDS {
        assert!(
            !text.contains(word),
            "the selector says why ({word}): {list}"
        );
    }
    entry
}

/// The representation of the child `name`, which must be selectable.
async fn child_rep(app: &TestApp, s: &Session, name: &str) -> Value {
    let list = selector(app, s).await;
    listed(&list, name).unwrap_or_else(|| panic!("{name} is listed: {list}"))
}

fn rep_id(rep: &Value) -> String {
    rep["representation_id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| panic!("a representation id: {rep}"))
        .to_owned()
}

fn child_id(rep: &Value) -> String {
    rep["person"]["citizen_id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| panic!("a citizen id: {rep}"))
        .to_owned()
}

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

/// A service use in `area`, for `representation_id` or (with `None`) for oneself.
fn use_service(app: &TestApp, s: &Session, rep: Option<&str>, area: &str) -> RequestBuilder {
    let req = match rep {
        Some(id) => acting(app, s, Method::POST, SERVICE_USE, id),
        None => app.as_citizen(s, Method::POST, SERVICE_USE),
    };
    req.json(&json!({ "area": area, "service": "Timebestilling" }))
}

/// A service use that must succeed: 201 naming `subject_id`.
async fn use_service_ok(app: &TestApp, s: &Session, rep: Option<&str>, area: &str, subject: &str) {
    let (status, body) = tests::app::send_json(use_service(app, s, rep, area)).await;
    assert_eq!(status, StatusCode::CREATED, "service use in {area}: {body}");
    assert_eq!(body["subject_id"], subject, "{body}");
    assert!(body["seq"].is_i64(), "{body}");
    assert_no_pids("the service use", &body.to_string());
}

/// The child's usage log as the guardian sees it with `X-Acting-For`, newest first.
async fn guardian_log(app: &TestApp, s: &Session, rep: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut path = format!("{USAGE_LOG}?limit=100");
    loop {
        let (status, page) = tests::app::send_json(acting(app, s, Method::GET, &path, rep)).await;
        assert_eq!(status, StatusCode::OK, "the child's log: {page}");
        assert_no_pids("the child's log", &page.to_string());
        out.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("{USAGE_LOG}?limit=100&cursor={c}"),
            None => return out,
        }
        assert!(out.len() < 10_000, "paging does not end");
    }
}

/// The `information_object`s of the access reports in a log, as a set.
fn reported(log: &[Value]) -> BTreeSet<String> {
    log.iter()
        .filter(|e| e["action"] == "access.reported")
        .map(|e| {
            e["details"]["information_object"]
                .as_str()
                .expect("information_object")
                .to_owned()
        })
        .collect()
}

/// No `child_restriction.*` entry is in a guardian's view of a log.
fn assert_no_restriction_entries(log: &[Value]) {
    for e in log {
        let action = e["action"].as_str().unwrap_or_default();
        assert!(
            !action.starts_with("child_restriction"),
            "a guardian sees a restriction entry: {e}"
        );
    }
}

/// Reports an access to `pid`'s data in `area` (or none), described as `object`.
async fn report_access(app: &TestApp, pid: &str, area: Option<&str>, object: &str) {
    let token = app
        .idp
        .service_token("dev-service-writer", "access-log:write")
        .await;
    let mut body = json!({
        "pid": pid,
        "accessed_at": "2026-11-20T10:15:00Z",
        "information_object": object,
        "professional": { "hpr_number": "123456789", "name": "Kari Lege", "role": "lege" },
        "organisation": { "number": "974589095", "name": "Oslo universitetssykehus" },
        "basis": "ordinary_care",
        "changed": false,
        "calling_system": "DIPS Arena"
    });
    if let Some(area) = area {
        body["area"] = json!(area);
    }
    let (status, answer) = tests::app::send_json(
        app.as_service(&token, Method::POST, "/api/v1/access-reports")
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .json(&body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "access report: {answer}");
}

async fn clinic_token(app: &TestApp) -> String {
    app.idp
        .service_token("dev-service-clinic", "child-restrictions:write")
        .await
}

fn author() -> Value {
    json!({
        "hpr_number": "123456789",
        "organisation_number": "974589095",
        "organisation_name": "Helsestasjon for ungdom"
    })
}

fn refusal(child_pid: &str, areas: Value) -> Value {
    json!({
        "child_pid": child_pid,
        "areas": areas,
        "basis": "The child does not want the guardians to see this.",
        "author": author()
    })
}

fn denial(child_pid: &str, guardian_pid: Option<&str>) -> Value {
    json!({
        "child_pid": child_pid,
        "guardian_pid": guardian_pid,
        "basis": "Weighty reasons recorded in the child's journal.",
        "author": author()
    })
}

/// `POST /api/v1/child-restrictions/{what}` with `token`.
fn machine(app: &TestApp, token: &str, what: &str, body: &Value) -> RequestBuilder {
    app.as_service(token, Method::POST, &format!("{RESTRICTIONS}/{what}"))
        .json(body)
}

/// Registers a refusal or denial (`what` = `refusals`/`denials`) that must be created.
async fn register(app: &TestApp, token: &str, what: &str, body: &Value) -> Value {
    let (status, r) = tests::app::send_json(machine(app, token, what, body)).await;
    assert_eq!(status, StatusCode::CREATED, "{what}: {r}");
    assert_no_pids("a restriction", &r.to_string());
    assert!(
        r["restriction_id"].as_str().is_some_and(|s| !s.is_empty()),
        "{r}"
    );
    assert_eq!(r["basis"], body["basis"], "{r}");
    assert_eq!(r["registered_by"], author(), "{r}");
    instant(&r["registered_at"]);
    assert_eq!(r["lifted_at"], Value::Null, "{r}");
    assert_eq!(r["lifted_by"], Value::Null, "{r}");
    assert_eq!(r["lift_basis"], Value::Null, "{r}");
    r
}

/// Two answers describe the same restriction in the same state (times compared to the
/// microsecond, as a database may store them).
fn assert_same_restriction(got: &Value, want: &Value) {
    let strip = |v: &Value| {
        let mut v = v.clone();
        for t in ["registered_at", "lifted_at"] {
            v[t] = Value::Null;
        }
        v
    };
    assert_eq!(strip(got), strip(want), "{got} vs {want}");
    for t in ["registered_at", "lifted_at"] {
        let micros = |v: &Value| (!v.is_null()).then(|| instant(v).timestamp_micros());
        assert_eq!(micros(&got[t]), micros(&want[t]), "{t}: {got} vs {want}");
    }
}

/// Lifts restriction `id`; the answer and its status.
async fn lift(app: &TestApp, token: &str, id: &str) -> (StatusCode, Value) {
    tests::app::send_json(machine(
        app,
        token,
        &format!("{id}/lifting"),
        &json!({ "basis": "The child agrees again.", "author": author() }),
    ))
    .await
}

/// The child's restrictions, newest first.
async fn restrictions_of(app: &TestApp, token: &str, child_pid: &str) -> Vec<Value> {
    let (status, body) = tests::app::send_json(machine(
        app,
        token,
        "query",
        &json!({ "child_pid": child_pid }),
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "query: {body}");
    assert_no_pids("the restrictions", &body.to_string());
    body["items"].as_array().expect("items").clone()
}

/// A representation decision (200); nothing but the proof names an identity number.
async fn decide(app: &TestApp, actor: &str, subject: &str, area: &str, proof: bool) -> Value {
    let token = app
        .idp
        .service_token("dev-service-reader", "consent:read")
        .await;
    let q = json!({ "actor_pid": actor, "subject_pid": subject, "area": area, "proof": proof });
    let (status, answer) =
        tests::app::send_json(app.as_service(&token, Method::POST, DECISION).json(&q)).await;
    assert_eq!(status, StatusCode::OK, "{q}: {answer}");
    let mut without_proof = answer.clone();
    without_proof["proof"] = Value::Null;
    assert_no_pids("the decision", &without_proof.to_string());
    answer
}

/// A decision that must be `deny` for `reason`, with no proof even when asked for.
async fn assert_denied(app: &TestApp, actor: &str, subject: &str, area: &str, reason: &str) {
    let answer = decide(app, actor, subject, area, true).await;
    assert_eq!(answer["decision"], "deny", "{area}: {answer}");
    assert_eq!(answer["reason"], reason, "{area}: {answer}");
    assert_eq!(answer["proof"], Value::Null, "{answer}");
}

/// The change feed from its start: (type, subject_id) of every event.
async fn feed(app: &TestApp) -> Vec<(String, String)> {
    let token = app.idp.service_token("dev-service-feed", "feed:read").await;
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/api/v1/feed?limit=500".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, body) =
            tests::app::send_json(app.as_service(&token, Method::GET, &path)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let events = body["events"].as_array().cloned().unwrap_or_default();
        if events.is_empty() {
            return out;
        }
        out.extend(events.iter().map(|e| {
            (
                e["type"].as_str().expect("type").to_owned(),
                e["subject_id"].as_str().expect("subject_id").to_owned(),
            )
        }));
        cursor = Some(body["next_cursor"].as_str().expect("cursor").to_owned());
    }
}

/// How many feed events of `kind` are about `subject`.
fn count(feed: &[(String, String)], kind: &str, subject: &str) -> usize {
    feed.iter()
        .filter(|(t, s)| t == kind && s == subject)
        .count()
}

/// The switches of the caller (`rep` `None`) or of the child acted for.
async fn switches(app: &TestApp, s: &Session, rep: Option<&str>) -> Value {
    let req = match rep {
        Some(id) => acting(app, s, Method::GET, SWITCHES, id),
        None => app.as_citizen(s, Method::GET, SWITCHES),
    };
    let (status, body) = tests::app::send_json(req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_no_pids("the switches", &body.to_string());
    body
}

fn set_switch(
    app: &TestApp,
    s: &Session,
    rep: Option<&str>,
    switch: &str,
    access: &str,
) -> RequestBuilder {
    let path = format!("{SWITCHES}/{switch}");
    let req = match rep {
        Some(id) => acting(app, s, Method::PUT, &path, id),
        None => app.as_citizen(s, Method::PUT, &path),
    };
    req.json(&json!({ "access": access }))
}

/// Sets a switch that must be set; the answer (the switches).
async fn set_switch_ok(
    app: &TestApp,
    s: &Session,
    rep: Option<&str>,
    switch: &str,
    access: &str,
) -> Value {
    let (status, body) = tests::app::send_json(set_switch(app, s, rep, switch, access)).await;
    assert_eq!(status, StatusCode::OK, "{switch} {access}: {body}");
    assert_eq!(switch_state(&body, switch)["access"], access, "{body}");
    body
}

/// One switch's state in a switches body.
fn switch_state(body: &Value, switch: &str) -> Value {
    body["switches"]
        .as_array()
        .expect("switches")
        .iter()
        .find(|s| s["switch"] == switch)
        .cloned()
        .unwrap_or_else(|| panic!("switch {switch}: {body}"))
}

/// The upcoming change of a representation or notice: milestone, date, instant.
fn assert_change(change: &Value, milestone: &str, on: &str, at_utc: &str) {
    assert_eq!(change["milestone"], milestone, "{change}");
    assert_eq!(change["on"], on, "{change}");
    assert_eq!(instant(&change["at"]), at(at_utc), "{change}");
}

// ---------------------------------------------------------------------- the person selector

/// Kari (at `full`) and Ola (at `basis`) each see the five children under 16 as guardian
/// representations: Nora and Jakob under 12 with every area their own level opens, Sofie, Lukas
/// and Ella from 12 with appointments, vaccinations and co-payments only; each with its next
/// birthday change. Filip (16) is in neither list, nothing is unavailable, and Hanne (Emma is 17)
/// and Astrid see no child. Each representation reaches its child, and the two guardians'
/// service uses land in the same child's log.
async fn each_child_is_listed_by_age_band(backend: Backend) {
    let app = family(backend).await;
    let kari = citizen(&app, KARI, "full").await;
    let ola = citizen(&app, OLA, "basis").await;
    let hanne = citizen(&app, HANNE, "full").await;
    let astrid = citizen(&app, ASTRID, "full").await;

    let expected = [
        (
            NORA_NAME,
            "under_12",
            ("restricted_at_12", "2033-04-09", "2033-04-08T22:00:00Z"),
        ),
        (
            JAKOB_NAME,
            "under_12",
            ("restricted_at_12", "2026-12-16", "2026-12-15T23:00:00Z"),
        ),
        (
            SOFIE_NAME,
            "12_to_16",
            ("ends_at_16", "2030-01-20", "2030-01-19T23:00:00Z"),
        ),
        (
            LUKAS_NAME,
            "12_to_16",
            ("ends_at_16", "2028-06-03", "2028-06-02T22:00:00Z"),
        ),
        (
            ELLA_NAME,
            "12_to_16",
            ("ends_at_16", "2026-12-09", "2026-12-08T23:00:00Z"),
        ),
    ];
    let mut ids_by_guardian = Vec::new();
    for (guardian, level_areas) in [(&kari, &ALL_AREAS[..]), (&ola, &BASIS_AREAS[..])] {
        let list = selector(&app, guardian).await;
        assert_eq!(
            names(&list, "items"),
            expected
                .iter()
                .map(|(n, _, _)| (*n).to_owned())
                .collect::<BTreeSet<_>>(),
            "{list}"
        );
        assert!(!names(&list, "items").contains(FILIP_NAME));
        assert_eq!(list["unavailable"], json!([]), "{list}");
        let mut ids = Vec::new();
        for (name, band, (milestone, on, at_utc)) in expected {
            let rep = listed(&list, name).expect("listed");
            assert_eq!(rep["kind"], "guardian", "{rep}");
            assert_eq!(rep["age_band"], band, "{rep}");
            assert_eq!(rep["valid_until"], Value::Null, "{rep}");
            assert_change(&rep["upcoming_change"], milestone, on, at_utc);
            let want = if band == "under_12" {
                set_of(level_areas)
            } else {
                set_of(&FROM_12_AREAS)
            };
            assert_eq!(area_set(&rep["areas"]), want, "{name}: {rep}");
            ids.push((rep_id(&rep), child_id(&rep)));
        }
        ids_by_guardian.push(ids);
    }
    // The same children (one citizen id each), one representation per guardian and child.
    for (k, o) in ids_by_guardian[0].iter().zip(&ids_by_guardian[1]) {
        assert_eq!(k.1, o.1, "the same child");
    }
    let all_ids: BTreeSet<&String> = ids_by_guardian[0].iter().map(|(r, _)| r).collect();
    assert_eq!(all_ids.len(), 5, "distinct representation ids");

    for s in [&hanne, &astrid] {
        let list = selector(&app, s).await;
        assert_eq!(list["items"], json!([]), "{list}");
        assert_eq!(list["unavailable"], json!([]), "{list}");
    }

    // Acting for each child reaches that child; Kari and Ola both for Nora.
    for (rep, child) in &ids_by_guardian[0] {
        use_service_ok(&app, &kari, Some(rep), "appointments", child).await;
    }
    let (ola_nora, nora_id) = &ids_by_guardian[1][0];
    use_service_ok(&app, &ola, Some(ola_nora), "vaccinations", nora_id).await;
    let log = guardian_log(&app, &kari, &ids_by_guardian[0][0].0).await;
    let uses: Vec<&Value> = log
        .iter()
        .filter(|e| e["action"] == "service.used")
        .collect();
    assert_eq!(uses.len(), 2, "{log:?}");
    assert_eq!(uses[0]["actor_kind"], "guardian", "{}", uses[0]);
    assert_eq!(uses[0]["actor_id"], ola.citizen_id.as_str(), "{}", uses[0]);
    assert_eq!(uses[1]["actor_id"], kari.citizen_id.as_str(), "{}", uses[1]);
}

/// Downstream decisions follow the same rules: Kari reaches Nora's patient record (with a proof),
/// Lukas's appointments but not his patient record; Filip (16) and Emma (17) are ended; Astrid
/// is nobody's guardian; Ola at `basis` does not reach Nora's patient record.
async fn decisions_follow_guardianship(backend: Backend) {
    let app = family(backend).await;
    citizen(&app, KARI, "full").await;
    citizen(&app, OLA, "basis").await;
    citizen(&app, HANNE, "full").await;

    let answer = decide(&app, KARI, NORA, "patient_record", true).await;
    assert_eq!(answer["decision"], "allow", "{answer}");
    assert_eq!(answer["reason"], "guardian", "{answer}");
    let facts = &answer["representation"];
    assert_eq!(facts["kind"], "guardian", "{answer}");
    assert_eq!(facts["power_of_attorney_id"], Value::Null, "{answer}");
    assert_eq!(facts["age_band"], "under_12", "{answer}");
    assert_eq!(area_set(&facts["areas"]), set_of(&ALL_AREAS), "{answer}");
    assert_eq!(facts["valid_until"], Value::Null, "{answer}");
    assert_eq!(
        answer["proof"].as_str().map(|p| p.split('.').count()),
        Some(3),
        "a JWT proof: {answer}"
    );

    let answer = decide(&app, KARI, LUKAS, "appointments", false).await;
    assert_eq!(answer["decision"], "allow", "{answer}");
    assert_eq!(answer["reason"], "guardian", "{answer}");
    assert_eq!(answer["representation"]["age_band"], "12_to_16", "{answer}");
    assert_eq!(
        area_set(&answer["representation"]["areas"]),
        set_of(&FROM_12_AREAS),
        "{answer}"
    );
    assert_eq!(answer["proof"], Value::Null, "not asked for");

    assert_denied(&app, KARI, LUKAS, "patient_record", "area_not_covered").await;
    assert_denied(&app, OLA, NORA, "patient_record", "area_not_covered").await;
    assert_denied(&app, KARI, FILIP, "appointments", "guardian_access_ended").await;
    assert_denied(&app, HANNE, EMMA, "appointments", "guardian_access_ended").await;
    assert_denied(&app, ASTRID, NORA, "appointments", "no_representation").await;
    assert_denied(&app, NORA, KARI, "appointments", "no_representation").await;
}

// ------------------------------------------------------------------------- the machine API

/// A refusal of appointments registered for Lukas takes effect at once for both guardians:
/// the area leaves the selector, a service use in it is 403 `area-not-covered` (logged
/// nowhere), the decision is `area_not_covered`, and the child's log as Kari sees it loses every
/// entry about appointments. The restriction's own entries are never shown to a guardian (they
/// are in the feed). Lifting it restores all of it; lifting again is 409. An entry with no area
/// that a guardian made (a switch change) is shown to the other guardian.
async fn a_refusal_takes_effect_at_once_and_lifting_restores(backend: Backend) {
    let app = family(backend).await;
    let kari = citizen(&app, KARI, "full").await;
    let ola = citizen(&app, OLA, "full").await;
    let token = clinic_token(&app).await;
    let rep = child_rep(&app, &kari, LUKAS_NAME).await;
    let lukas = child_id(&rep);
    let kari_lukas = rep_id(&rep);
    assert_eq!(area_set(&rep["areas"]), set_of(&FROM_12_AREAS));

    report_access(&app, LUKAS, Some("appointments"), "Timebok").await;
    report_access(&app, LUKAS, Some("vaccinations"), "Vaksiner").await;
    report_access(&app, LUKAS, Some("patient_record"), "Journal").await;
    report_access(&app, LUKAS, None, "Uten område").await;
    use_service_ok(&app, &kari, Some(&kari_lukas), "appointments", &lukas).await;
    let before = guardian_log(&app, &kari, &kari_lukas).await;
    assert_eq!(
        reported(&before),
        set_of(&["Timebok", "Vaksiner"]),
        "from 12 a guardian sees accesses in the restricted areas only: {before:?}"
    );
    assert!(
        before
            .iter()
            .any(|e| e["action"] == "service.used" && e["details"]["area"] == "appointments"),
        "{before:?}"
    );

    let r = register(
        &app,
        &token,
        "refusals",
        &refusal(LUKAS, json!(["appointments"])),
    )
    .await;
    assert_eq!(r["kind"], "refusal", "{r}");
    assert_eq!(r["child_id"], lukas.as_str(), "{r}");
    assert_eq!(r["areas"], json!(["appointments"]), "{r}");
    assert_eq!(r["guardian_id"], Value::Null, "{r}");
    let id = r["restriction_id"].as_str().expect("id").to_owned();

    // At once, for both guardians.
    for s in [&kari, &ola] {
        let rep = child_rep(&app, s, LUKAS_NAME).await;
        assert_eq!(
            area_set(&rep["areas"]),
            set_of(&["vaccinations", "co_payments"]),
            "{rep}"
        );
    }
    let log_now = guardian_log(&app, &kari, &kari_lukas).await;
    expect_problem(
        use_service(&app, &kari, Some(&kari_lukas), "appointments"),
        StatusCode::FORBIDDEN,
        "area-not-covered",
    )
    .await;
    assert_eq!(
        guardian_log(&app, &kari, &kari_lukas).await,
        log_now,
        "a refused use is logged nowhere"
    );
    use_service_ok(&app, &kari, Some(&kari_lukas), "vaccinations", &lukas).await;
    assert_denied(&app, KARI, LUKAS, "appointments", "area_not_covered").await;
    assert_denied(&app, OLA, LUKAS, "appointments", "area_not_covered").await;
    assert_eq!(
        decide(&app, KARI, LUKAS, "vaccinations", false).await["decision"],
        "allow"
    );

    let during = guardian_log(&app, &kari, &kari_lukas).await;
    assert_eq!(reported(&during), set_of(&["Vaksiner"]), "{during:?}");
    for e in &during {
        assert_ne!(
            e["details"]["area"], "appointments",
            "an entry about the refused area is shown: {e}"
        );
    }
    assert_no_restriction_entries(&during);

    let listed_restrictions = restrictions_of(&app, &token, LUKAS).await;
    assert_eq!(listed_restrictions.len(), 1, "{listed_restrictions:?}");
    assert_same_restriction(&listed_restrictions[0], &r);

    // Lifting restores.
    let (status, lifted) = lift(&app, &token, &id).await;
    assert_eq!(status, StatusCode::OK, "{lifted}");
    assert_eq!(lifted["restriction_id"], id.as_str(), "{lifted}");
    instant(&lifted["lifted_at"]);
    assert_eq!(lifted["lifted_by"], author(), "{lifted}");
    assert_eq!(lifted["lift_basis"], "The child agrees again.", "{lifted}");
    let mut unlifted = lifted.clone();
    for f in ["lifted_at", "lifted_by", "lift_basis"] {
        unlifted[f] = Value::Null;
    }
    assert_same_restriction(&unlifted, &r);
    let (problem, _) = expect_problem(
        machine(
            &app,
            &token,
            &format!("{id}/lifting"),
            &json!({ "basis": "again", "author": author() }),
        ),
        StatusCode::CONFLICT,
        "already-lifted",
    )
    .await;
    assert_no_pids("already lifted", &problem.to_string());
    let listed_restrictions = restrictions_of(&app, &token, LUKAS).await;
    assert_eq!(listed_restrictions.len(), 1, "{listed_restrictions:?}");
    assert_same_restriction(&listed_restrictions[0], &lifted);

    for s in [&kari, &ola] {
        let rep = child_rep(&app, s, LUKAS_NAME).await;
        assert_eq!(area_set(&rep["areas"]), set_of(&FROM_12_AREAS), "{rep}");
    }
    use_service_ok(&app, &kari, Some(&kari_lukas), "appointments", &lukas).await;
    let after = guardian_log(&app, &kari, &kari_lukas).await;
    assert_eq!(
        reported(&after),
        set_of(&["Timebok", "Vaksiner"]),
        "{after:?}"
    );
    assert_no_restriction_entries(&after);
    assert_eq!(
        decide(&app, KARI, LUKAS, "appointments", false).await["decision"],
        "allow"
    );

    // From 12 an entry with no area is shown when a guardian made it: Kari's switch change is
    // in what Ola sees (the no-area access report never is).
    set_switch_ok(&app, &kari, Some(&kari_lukas), "patient_record", "removed").await;
    let ola_lukas = rep_id(&child_rep(&app, &ola, LUKAS_NAME).await);
    let ola_view = guardian_log(&app, &ola, &ola_lukas).await;
    let change = ola_view
        .iter()
        .find(|e| e["action"] == "access_switch.changed")
        .unwrap_or_else(|| panic!("the guardian's switch change is shown: {ola_view:?}"));
    assert_eq!(change["actor_kind"], "guardian", "{change}");
    assert_eq!(change["actor_id"], kari.citizen_id.as_str(), "{change}");
    assert_eq!(reported(&ola_view), set_of(&["Timebok", "Vaksiner"]));
    assert_no_restriction_entries(&ola_view);

    let events = feed(&app).await;
    assert_eq!(count(&events, "child_restriction.registered", &lukas), 1);
    assert_eq!(count(&events, "child_restriction.lifted", &lukas), 1);
}

/// A refusal of the whole (areas `null`) for Sofie leaves her guardians no area: she stays in
/// the selector with `areas: []`, every service use for her is `area-not-covered`, her log shows
/// Kari no access any more, and every decision about her is `deny`. Lukas is unaffected.
async fn a_whole_refusal_leaves_no_area(backend: Backend) {
    let app = family(backend).await;
    let kari = citizen(&app, KARI, "full").await;
    let token = clinic_token(&app).await;
    let sofie = child_rep(&app, &kari, SOFIE_NAME).await;
    let sofie_rep = rep_id(&sofie);
    report_access(&app, SOFIE, Some("vaccinations"), "Vaksiner").await;
    assert_eq!(
        reported(&guardian_log(&app, &kari, &sofie_rep).await),
        set_of(&["Vaksiner"])
    );

    let r = register(&app, &token, "refusals", &refusal(SOFIE, Value::Null)).await;
    assert_eq!(r["kind"], "refusal", "{r}");
    assert_eq!(r["areas"], Value::Null, "{r}");
    assert_eq!(r["child_id"], child_id(&sofie), "{r}");

    // Still listed (a refusal is not one of the reasons a child is unavailable), with no area.
    let list = selector(&app, &kari).await;
    let rep = listed(&list, SOFIE_NAME).expect("Sofie stays listed");
    assert_eq!(rep["areas"], json!([]), "nothing left: {rep}");
    assert_eq!(unavailable(&list, SOFIE_NAME), None, "{list}");
    for area in FROM_12_AREAS {
        expect_problem(
            use_service(&app, &kari, Some(&sofie_rep), area),
            StatusCode::FORBIDDEN,
            "area-not-covered",
        )
        .await;
    }
    let log = guardian_log(&app, &kari, &sofie_rep).await;
    assert_eq!(reported(&log), BTreeSet::new(), "{log:?}");
    assert_no_restriction_entries(&log);
    for area in FROM_12_AREAS {
        let answer = decide(&app, KARI, SOFIE, area, true).await;
        assert_eq!(answer["decision"], "deny", "{answer}");
        assert_eq!(answer["proof"], Value::Null, "{answer}");
    }
    let lukas = listed(&list, LUKAS_NAME).expect("Lukas");
    assert_eq!(area_set(&lukas["areas"]), set_of(&FROM_12_AREAS));
}

/// A denial on weighty reasons for Ola alone (Nora, 5): Ola sees Nora only as unavailable, with
/// a message that never says why; his old representation id is not found (and nothing is
/// logged); the decision is `guardian_access_unavailable`, and he gets no notice about her.
/// Kari keeps everything and never sees the denial in Nora's log. A denial of every guardian
/// (Jakob) makes him unavailable to both. Lifting gives Ola Nora back.
async fn a_denial_for_one_guardian_leaves_the_other(backend: Backend) {
    let app = family(backend).await;
    let kari = citizen(&app, KARI, "full").await;
    let ola = citizen(&app, OLA, "full").await;
    let token = clinic_token(&app).await;
    let ola_nora = rep_id(&child_rep(&app, &ola, NORA_NAME).await);
    let kari_rep = child_rep(&app, &kari, NORA_NAME).await;
    let kari_nora = rep_id(&kari_rep);
    let nora = child_id(&kari_rep);
    use_service_ok(&app, &ola, Some(&ola_nora), "appointments", &nora).await;

    let r = register(&app, &token, "denials", &denial(NORA, Some(OLA))).await;
    assert_eq!(r["kind"], "denial", "{r}");
    assert_eq!(r["child_id"], nora.as_str(), "{r}");
    assert_eq!(r["guardian_id"], ola.citizen_id.as_str(), "{r}");
    assert_eq!(r["areas"], Value::Null, "{r}");

    let list = selector(&app, &ola).await;
    let entry = assert_unavailable(&list, NORA_NAME);
    assert_eq!(entry["person"]["citizen_id"], nora.as_str(), "{entry}");
    assert!(listed(&list, JAKOB_NAME).is_some(), "other children stay");
    let kari_log = guardian_log(&app, &kari, &kari_nora).await;
    expect_problem(
        use_service(&app, &ola, Some(&ola_nora), "appointments"),
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    for (method, path) in [
        (Method::GET, USAGE_LOG),
        (Method::GET, SWITCHES),
        (Method::GET, "/api/v1/me"),
    ] {
        expect_problem(
            acting(&app, &ola, method, path, &ola_nora),
            StatusCode::NOT_FOUND,
            "not-found",
        )
        .await;
    }
    assert_denied(
        &app,
        OLA,
        NORA,
        "appointments",
        "guardian_access_unavailable",
    )
    .await;

    // Kari is unaffected; the denial is not in what she sees of Nora's log.
    let rep = child_rep(&app, &kari, NORA_NAME).await;
    assert_eq!(area_set(&rep["areas"]), set_of(&ALL_AREAS), "{rep}");
    assert_eq!(unavailable(&selector(&app, &kari).await, NORA_NAME), None);
    let log = guardian_log(&app, &kari, &kari_nora).await;
    assert_eq!(log, kari_log, "Ola's refused use was logged nowhere");
    assert_no_restriction_entries(&log);
    use_service_ok(&app, &kari, Some(&kari_nora), "patient_record", &nora).await;
    assert_eq!(
        decide(&app, KARI, NORA, "patient_record", false).await["reason"],
        "guardian"
    );

    // Every guardian denied: Jakob is unavailable to both.
    let all = register(&app, &token, "denials", &denial(JAKOB, None)).await;
    assert_eq!(all["guardian_id"], Value::Null, "{all}");
    for (s, pid) in [(&kari, KARI), (&ola, OLA)] {
        assert_unavailable(&selector(&app, s).await, JAKOB_NAME);
        assert_denied(
            &app,
            pid,
            JAKOB,
            "vaccinations",
            "guardian_access_unavailable",
        )
        .await;
        // Notices only about available children: Ella's, not Jakob's.
        let (status, notices) = app.get_json(s, NOTICES).await;
        assert_eq!(status, StatusCode::OK, "{notices}");
        let about: Vec<&Value> = notices["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|n| &n["about"]["name"])
            .collect();
        assert_eq!(about, [&json!(ELLA_NAME)], "{notices}");
    }

    // Lifted: Ola has Nora again.
    let (status, lifted) = lift(&app, &token, r["restriction_id"].as_str().expect("id")).await;
    assert_eq!(status, StatusCode::OK, "{lifted}");
    let list = selector(&app, &ola).await;
    assert!(listed(&list, NORA_NAME).is_some(), "{list}");
    assert_eq!(unavailable(&list, NORA_NAME), None, "{list}");
    assert_eq!(
        decide(&app, OLA, NORA, "appointments", false).await["decision"],
        "allow"
    );

    let events = feed(&app).await;
    assert_eq!(count(&events, "child_restriction.registered", &nora), 1);
    assert_eq!(count(&events, "child_restriction.lifted", &nora), 1);
}

/// The machine API refuses what it must, changing nothing: a token without
/// `child-restrictions:write` (403), a refusal for a child under 12, 16 or over, or not in the
/// register, a denial for a child of 16 or over or naming someone without parental
/// responsibility (422), bad fields (400 naming the field), an unknown restriction (404). No
/// answer repeats an identity number; afterwards no child has a restriction, the selectors read
/// the same and the feed has no restriction event.
async fn the_machine_api_refuses_and_changes_nothing(backend: Backend) {
    let app = family(backend).await;
    let kari = citizen(&app, KARI, "full").await;
    let token = clinic_token(&app).await;
    let reader = app
        .idp
        .service_token("dev-service-reader", "consent:read")
        .await;
    let selector_before = selector(&app, &kari).await;
    let feed_before = feed(&app).await;

    let lifting = format!("{}/lifting", uuid::Uuid::new_v4());
    let scope_cases = [
        ("refusals", refusal(LUKAS, json!(["appointments"]))),
        ("denials", denial(NORA, None)),
        ("query", json!({ "child_pid": LUKAS })),
        (
            lifting.as_str(),
            json!({ "basis": "x", "author": author() }),
        ),
    ];
    for (what, body) in &scope_cases {
        let (p, _) = expect_problem(
            machine(&app, &reader, what, body),
            StatusCode::FORBIDDEN,
            "insufficient-scope",
        )
        .await;
        assert_no_pids(what, &p.to_string());
    }

    let unprocessable = [
        (
            "refusals",
            refusal(NORA, json!(["appointments"])),
            "child-age-not-eligible",
        ),
        (
            "refusals",
            refusal(JAKOB, Value::Null),
            "child-age-not-eligible",
        ),
        (
            "refusals",
            refusal(FILIP, json!(["vaccinations"])),
            "child-age-not-eligible",
        ),
        (
            "refusals",
            refusal(EMMA, Value::Null),
            "child-age-not-eligible",
        ),
        ("refusals", refusal(UNKNOWN, Value::Null), "not-in-register"),
        ("denials", denial(FILIP, None), "child-age-not-eligible"),
        (
            "denials",
            denial(FILIP, Some(KARI)),
            "child-age-not-eligible",
        ),
        ("denials", denial(NORA, Some(ASTRID)), "not-a-guardian"),
        ("denials", denial(NORA, Some(HANNE)), "not-a-guardian"),
        ("denials", denial(UNKNOWN, None), "not-in-register"),
    ];
    for (what, body, slug) in &unprocessable {
        let (p, _) = expect_problem(
            machine(&app, &token, what, body),
            StatusCode::UNPROCESSABLE_ENTITY,
            slug,
        )
        .await;
        assert_no_pids(slug, &p.to_string());
    }

    let bad_fields = [
        (
            "refusals",
            "/author/hpr_number",
            json!("12x"),
            "author.hpr_number",
        ),
        (
            "refusals",
            "/author/hpr_number",
            json!(""),
            "author.hpr_number",
        ),
        (
            "refusals",
            "/author/organisation_number",
            json!("1234"),
            "author.organisation_number",
        ),
        (
            "refusals",
            "/author/organisation_name",
            json!(""),
            "author.organisation_name",
        ),
        ("refusals", "/basis", json!(""), "basis"),
        ("refusals", "/basis", json!("x".repeat(1001)), "basis"),
        ("refusals", "/child_pid", json!("123"), "child_pid"),
        ("refusals", "/areas", json!([]), "areas"),
        ("denials", "/child_pid", json!("0984216202x"), "child_pid"),
        ("denials", "/guardian_pid", json!("12345"), "guardian_pid"),
        ("denials", "/basis", json!(""), "basis"),
    ];
    for (what, pointer, value, field) in bad_fields {
        let mut body = if what == "refusals" {
            refusal(LUKAS, json!(["appointments"]))
        } else {
            denial(NORA, Some(OLA))
        };
        *body.pointer_mut(pointer).expect("a field") = value;
        let (p, _) = expect_problem(
            machine(&app, &token, what, &body),
            StatusCode::BAD_REQUEST,
            "validation-failed",
        )
        .await;
        let fields: Vec<&str> = p["errors"]
            .as_array()
            .map(|es| es.iter().filter_map(|e| e["field"].as_str()).collect())
            .unwrap_or_default();
        assert!(fields.contains(&field), "{what} {pointer}: {p}");
        assert_no_pids(pointer, &p.to_string());
    }
    let (p, _) = expect_problem(
        machine(
            &app,
            &token,
            "query",
            &json!({ "child_pid": "not-a-number" }),
        ),
        StatusCode::BAD_REQUEST,
        "validation-failed",
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "child_pid", "{p}");

    for id in [uuid::Uuid::new_v4().to_string(), "nonsense".to_owned()] {
        let (status, p) = lift(&app, &token, &id).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}: {p}");
        assert_eq!(p["type"], "/problems/not-found", "{p}");
    }

    for child in [NORA, JAKOB, SOFIE, LUKAS, ELLA] {
        assert_eq!(
            restrictions_of(&app, &token, child).await,
            Vec::<Value>::new()
        );
    }
    assert_eq!(selector(&app, &kari).await, selector_before);
    assert_eq!(feed(&app).await, feed_before, "no event");
}

// ------------------------------------------------------------------------------- birthdays

/// Ella turns 16 on 2026-12-09 (00:00 Oslo = 2026-12-08T23:00:00Z). Until the second before,
/// both guardians have her as `12_to_16` with the coming end; from that instant she is in
/// neither list, her old representation ids are not found and the decision is
/// `guardian_access_ended`.
async fn the_16th_birthday_ends_guardian_access(backend: Backend) {
    let app = family(backend).await;
    let kari = citizen(&app, KARI, "full").await;
    let ola = citizen(&app, OLA, "basis").await;
    let rep = child_rep(&app, &kari, ELLA_NAME).await;
    assert_eq!(rep["age_band"], "12_to_16", "{rep}");
    assert_change(&rep["upcoming_change"], "ends_at_16", "2026-12-09", ELLA_16);
    let ella = child_id(&rep);
    let ola_ella = rep_id(&child_rep(&app, &ola, ELLA_NAME).await);

    // A minute before (sessions idle out over days of clock: log in again).
    let birthday = at(ELLA_16);
    app.set_clock(&(birthday - Duration::seconds(60)).to_rfc3339())
        .await;
    let kari = app.login(KARI).await;
    let ola = app.login(OLA).await;
    let kari_ella = rep_id(&child_rep(&app, &kari, ELLA_NAME).await);
    use_service_ok(&app, &kari, Some(&kari_ella), "appointments", &ella).await;
    assert_eq!(
        decide(&app, OLA, ELLA, "appointments", false).await["decision"],
        "allow"
    );

    // The last second before.
    app.set_clock(&(birthday - Duration::seconds(1)).to_rfc3339())
        .await;
    let list = selector(&app, &kari).await;
    assert!(
        app.server_now().await < birthday,
        "the check ran within the last second (a slow machine makes this test inconclusive)"
    );
    let rep = listed(&list, ELLA_NAME).expect("still listed the second before");
    assert_eq!(rep["age_band"], "12_to_16", "{rep}");

    // The first second of the birthday.
    app.set_clock(ELLA_16).await;
    for (s, pid, id) in [(&kari, KARI, &kari_ella), (&ola, OLA, &ola_ella)] {
        let list = selector(&app, s).await;
        assert!(listed(&list, ELLA_NAME).is_none(), "{list}");
        assert!(unavailable(&list, ELLA_NAME).is_none(), "{list}");
        assert!(listed(&list, FILIP_NAME).is_none(), "{list}");
        assert_eq!(names(&list, "items").len(), 4, "{list}");
        expect_problem(
            use_service(&app, s, Some(id), "appointments"),
            StatusCode::NOT_FOUND,
            "not-found",
        )
        .await;
        expect_problem(
            acting(&app, s, Method::GET, USAGE_LOG, id),
            StatusCode::NOT_FOUND,
            "not-found",
        )
        .await;
        assert_denied(&app, pid, ELLA, "appointments", "guardian_access_ended").await;
    }
}

/// Jakob turns 12 on 2026-12-16 (00:00 Oslo = 2026-12-15T23:00:00Z): until the second before,
/// Kari reaches every area and sees accesses to his patient record and accesses with no area;
/// from that instant only appointments, vaccinations and co-payments, the rest is
/// `area_not_covered`, those log entries are hidden, and the next change is the end at 16.
async fn the_12th_birthday_restricts_guardian_access(backend: Backend) {
    let app = family(backend).await;
    let kari = citizen(&app, KARI, "full").await;
    let rep = child_rep(&app, &kari, JAKOB_NAME).await;
    let jakob = child_id(&rep);
    assert_eq!(rep["age_band"], "under_12", "{rep}");
    assert_eq!(area_set(&rep["areas"]), set_of(&ALL_AREAS), "{rep}");
    assert_change(
        &rep["upcoming_change"],
        "restricted_at_12",
        "2026-12-16",
        JAKOB_12,
    );
    report_access(&app, JAKOB, Some("patient_record"), "Journal").await;
    report_access(&app, JAKOB, Some("vaccinations"), "Vaksiner").await;
    report_access(&app, JAKOB, None, "Uten område").await;

    let birthday = at(JAKOB_12);
    app.set_clock(&(birthday - Duration::seconds(60)).to_rfc3339())
        .await;
    let kari = app.login(KARI).await;
    let id = rep_id(&child_rep(&app, &kari, JAKOB_NAME).await);
    use_service_ok(&app, &kari, Some(&id), "patient_record", &jakob).await;
    assert_eq!(
        reported(&guardian_log(&app, &kari, &id).await),
        set_of(&["Journal", "Vaksiner", "Uten område"]),
        "under 12 a guardian sees every access"
    );

    app.set_clock(&(birthday - Duration::seconds(1)).to_rfc3339())
        .await;
    let list = selector(&app, &kari).await;
    assert!(
        app.server_now().await < birthday,
        "the check ran within the last second (a slow machine makes this test inconclusive)"
    );
    let rep = listed(&list, JAKOB_NAME).expect("listed");
    assert_eq!(rep["age_band"], "under_12", "{rep}");
    assert_eq!(area_set(&rep["areas"]), set_of(&ALL_AREAS), "{rep}");

    app.set_clock(JAKOB_12).await;
    let rep = child_rep(&app, &kari, JAKOB_NAME).await;
    assert_eq!(rep["age_band"], "12_to_16", "{rep}");
    assert_eq!(area_set(&rep["areas"]), set_of(&FROM_12_AREAS), "{rep}");
    assert_change(
        &rep["upcoming_change"],
        "ends_at_16",
        "2030-12-16",
        "2030-12-15T23:00:00Z",
    );
    let id = rep_id(&rep);
    expect_problem(
        use_service(&app, &kari, Some(&id), "patient_record"),
        StatusCode::FORBIDDEN,
        "area-not-covered",
    )
    .await;
    use_service_ok(&app, &kari, Some(&id), "vaccinations", &jakob).await;
    assert_denied(&app, KARI, JAKOB, "patient_record", "area_not_covered").await;
    let answer = decide(&app, KARI, JAKOB, "appointments", false).await;
    assert_eq!(answer["decision"], "allow", "{answer}");
    assert_eq!(answer["representation"]["age_band"], "12_to_16", "{answer}");

    let log = guardian_log(&app, &kari, &id).await;
    assert_eq!(
        reported(&log),
        set_of(&["Vaksiner"]),
        "from 12 only accesses in visible areas: {log:?}"
    );
    for e in &log {
        assert_ne!(e["details"]["area"], "patient_record", "{e}");
    }
    assert!(
        log.iter()
            .any(|e| e["action"] == "service.used" && e["details"]["area"] == "vaccinations"),
        "{log:?}"
    );
}

// ------------------------------------------------------------------------ the register

/// An import (`consent-portal import-register`, against the running server's database) that no
/// longer gives Ola parental responsibility takes effect on the next request: his selector is
/// empty, his old ids are not found, and decisions say `no_representation`. Kari keeps all five.
async fn losing_parental_responsibility_takes_effect_at_once(backend: Backend) {
    let app = family(backend).await;
    let kari = citizen(&app, KARI, "full").await;
    let ola = citizen(&app, OLA, "basis").await;
    let ola_nora = rep_id(&child_rep(&app, &ola, NORA_NAME).await);
    let ola_lukas = rep_id(&child_rep(&app, &ola, LUKAS_NAME).await);

    let mut extract = default_extract();
    for p in extract["persons"].as_array_mut().expect("persons") {
        if let Some(parents) = p["parents"].as_array_mut() {
            parents.retain(|parent| parent != OLA);
        }
    }
    let path = write_extract(&extract);
    let out = app.run_command_with(&["import-register", &path.display().to_string()]);
    let _ = std::fs::remove_file(&path);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "import-register: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("changed 6"), "{stdout}");

    let list = selector(&app, &ola).await;
    assert_eq!(list["items"], json!([]), "{list}");
    assert_eq!(list["unavailable"], json!([]), "{list}");
    for id in [&ola_nora, &ola_lukas] {
        expect_problem(
            use_service(&app, &ola, Some(id), "appointments"),
            StatusCode::NOT_FOUND,
            "not-found",
        )
        .await;
    }
    assert_denied(&app, OLA, NORA, "appointments", "no_representation").await;
    assert_denied(&app, OLA, LUKAS, "appointments", "no_representation").await;

    let list = selector(&app, &kari).await;
    assert_eq!(names(&list, "items").len(), 5, "{list}");
    assert_eq!(
        decide(&app, KARI, NORA, "appointments", false).await["decision"],
        "allow"
    );
}

/// With a register where no parent lives at Nora's address, and Jakob has a confidential
/// address (code 7), both are unavailable to both guardians (saying nothing of why), and
/// decisions about them are `guardian_access_unavailable`. The other children are unaffected.
async fn no_parent_at_the_address_or_a_protected_address_is_unavailable(backend: Backend) {
    let mut extract = default_extract();
    person_mut(&mut extract, NORA)["address_id"] = json!("adr-050");
    person_mut(&mut extract, JAKOB)["confidential_address"] = json!("7");
    let app = family_with_extract(backend, &extract).await;
    let kari = citizen(&app, KARI, "full").await;
    let ola = citizen(&app, OLA, "full").await;

    for (s, pid) in [(&kari, KARI), (&ola, OLA)] {
        let list = selector(&app, s).await;
        assert_unavailable(&list, NORA_NAME);
        assert_unavailable(&list, JAKOB_NAME);
        assert_eq!(
            names(&list, "unavailable"),
            set_of(&[NORA_NAME, JAKOB_NAME]),
            "{list}"
        );
        assert_eq!(
            names(&list, "items"),
            set_of(&[SOFIE_NAME, LUKAS_NAME, ELLA_NAME]),
            "{list}"
        );
        assert_denied(
            &app,
            pid,
            NORA,
            "appointments",
            "guardian_access_unavailable",
        )
        .await;
        assert_denied(
            &app,
            pid,
            JAKOB,
            "appointments",
            "guardian_access_unavailable",
        )
        .await;
        assert_eq!(
            decide(&app, pid, LUKAS, "appointments", false).await["decision"],
            "allow"
        );
    }
}

/// A guardian cannot reach another family's child: Hanne with Kari's representation id for Nora,
/// and Kari with a made-up id, get 404 on service use, the log and the switches; nothing is
/// logged in Nora's log or Hanne's, and Nora's switches stay open.
async fn another_familys_child_is_not_found(backend: Backend) {
    let app = family(backend).await;
    let kari = citizen(&app, KARI, "full").await;
    let hanne = citizen(&app, HANNE, "full").await;
    let rep = child_rep(&app, &kari, NORA_NAME).await;
    let kari_nora = rep_id(&rep);
    let nora_log = guardian_log(&app, &kari, &kari_nora).await;
    let nora_switches = switches(&app, &kari, Some(&kari_nora)).await;
    let hanne_log = app.usage_log(&hanne).await;

    let random = uuid::Uuid::new_v4().to_string();
    for (s, id) in [(&hanne, &kari_nora), (&hanne, &random), (&kari, &random)] {
        let cases = [
            use_service(&app, s, Some(id), "appointments"),
            acting(&app, s, Method::GET, USAGE_LOG, id),
            acting(&app, s, Method::GET, SWITCHES, id),
            set_switch(&app, s, Some(id), "services", "removed"),
            set_switch(&app, s, Some(id), "patient_record", "removed"),
        ];
        for req in cases {
            let (p, _) = expect_problem(req, StatusCode::NOT_FOUND, "not-found").await;
            assert_no_pids("not found", &p.to_string());
            assert!(!p.to_string().contains("Nora"), "{p}");
        }
    }
    assert_eq!(guardian_log(&app, &kari, &kari_nora).await, nora_log);
    assert_eq!(switches(&app, &kari, Some(&kari_nora)).await, nora_switches);
    assert_eq!(app.usage_log(&hanne).await, hanne_log);
    assert_denied(&app, HANNE, NORA, "appointments", "no_representation").await;
}

// ------------------------------------------------------------------- access switches

/// Kari removes Nora's patient record: it leaves Nora's areas for Kari and Ola, the decision is
/// `area_not_covered`, Nora's log and the feed record `access_switch.changed`; re-opened, it is
/// back. Removing `services` empties her areas. The summary care record switch is not for a
/// guardian to set (403 `not-allowed-on-behalf`, nothing changes), nor is any switch for a
/// grantee acting under a power of attorney.
async fn a_guardian_sets_a_childs_switches(backend: Backend) {
    let app = family(backend).await;
    let kari = citizen(&app, KARI, "full").await;
    let ola = citizen(&app, OLA, "basis_plus").await;
    let rep = child_rep(&app, &kari, NORA_NAME).await;
    let kari_nora = rep_id(&rep);
    let nora = child_id(&rep);

    let before = switches(&app, &kari, Some(&kari_nora)).await;
    assert_eq!(before["subject_id"], nora.as_str(), "{before}");
    assert_eq!(
        before["summary_care_record_opt_out_changed"], false,
        "{before}"
    );
    assert!(
        before["note"].as_str().is_some_and(|n| !n.is_empty()),
        "{before}"
    );
    for switch in ["services", "patient_record", "summary_care_record"] {
        assert_eq!(switch_state(&before, switch)["access"], "open", "{before}");
    }

    let body = set_switch_ok(&app, &kari, Some(&kari_nora), "patient_record", "removed").await;
    assert_eq!(body["subject_id"], nora.as_str(), "{body}");
    instant(&switch_state(&body, "patient_record")["changed_at"]);
    assert_eq!(switch_state(&body, "services")["access"], "open");
    assert_eq!(switches(&app, &kari, Some(&kari_nora)).await, body);
    let without_record = |level: &[&'static str]| -> Vec<&'static str> {
        level
            .iter()
            .filter(|a| **a != "patient_record")
            .copied()
            .collect::<Vec<_>>()
    };
    let rep = child_rep(&app, &kari, NORA_NAME).await;
    assert_eq!(
        area_set(&rep["areas"]),
        set_of(&without_record(&ALL_AREAS)),
        "{rep}"
    );
    let ola_rep = child_rep(&app, &ola, NORA_NAME).await;
    let ola_nora = rep_id(&ola_rep);
    assert_eq!(
        area_set(&ola_rep["areas"]),
        set_of(&without_record(&BASIS_PLUS_AREAS)),
        "{ola_rep}"
    );
    assert_denied(&app, KARI, NORA, "patient_record", "area_not_covered").await;
    expect_problem(
        use_service(&app, &ola, Some(&ola_nora), "patient_record"),
        StatusCode::FORBIDDEN,
        "area-not-covered",
    )
    .await;

    let log = guardian_log(&app, &ola, &ola_nora).await;
    let changed: Vec<&Value> = log
        .iter()
        .filter(|e| e["action"] == "access_switch.changed")
        .collect();
    assert_eq!(changed.len(), 1, "{log:?}");
    assert_eq!(
        changed[0]["details"]["switch"], "patient_record",
        "{}",
        changed[0]
    );
    assert_eq!(changed[0]["details"]["access"], "removed", "{}", changed[0]);
    assert_eq!(
        changed[0]["actor_id"],
        kari.citizen_id.as_str(),
        "{}",
        changed[0]
    );

    // Not the summary care record, and not for a grantee: nothing changes.
    let now = switches(&app, &kari, Some(&kari_nora)).await;
    for access in ["removed", "open"] {
        expect_problem(
            set_switch(&app, &kari, Some(&kari_nora), "summary_care_record", access),
            StatusCode::FORBIDDEN,
            "not-allowed-on-behalf",
        )
        .await;
    }
    let astrid = citizen(&app, ASTRID, "full").await;
    let bjorn = citizen(&app, BJORN, "full").await;
    let (status, g) = app
        .send_json(
            &astrid,
            Method::POST,
            "/api/v1/powers-of-attorney",
            json!({ "grantee_pid": BJORN, "all_areas": true }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    let poa = g["id"].as_str().expect("id");
    let (status, body) = app
        .send_json(
            &bjorn,
            Method::POST,
            &format!("/api/v1/powers-of-attorney/{poa}/acceptance"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let bjorn_list = selector(&app, &bjorn).await;
    let for_astrid = rep_id(&bjorn_list["items"][0]);
    let astrid_switches = switches(&app, &astrid, None).await;
    for switch in ["services", "patient_record", "summary_care_record"] {
        expect_problem(
            set_switch(&app, &bjorn, Some(&for_astrid), switch, "removed"),
            StatusCode::FORBIDDEN,
            "not-allowed-on-behalf",
        )
        .await;
    }
    assert_eq!(switches(&app, &astrid, None).await, astrid_switches);
    assert_eq!(switches(&app, &kari, Some(&kari_nora)).await, now);
    assert_eq!(guardian_log(&app, &ola, &ola_nora).await, log);

    // Re-opened, the record is back; services removed empties the areas.
    set_switch_ok(&app, &kari, Some(&kari_nora), "patient_record", "open").await;
    let rep = child_rep(&app, &ola, NORA_NAME).await;
    assert_eq!(area_set(&rep["areas"]), set_of(&BASIS_PLUS_AREAS), "{rep}");
    set_switch_ok(&app, &ola, Some(&ola_nora), "services", "removed").await;
    for s in [&kari, &ola] {
        let rep = child_rep(&app, s, NORA_NAME).await;
        assert_eq!(rep["areas"], json!([]), "{rep}");
    }
    expect_problem(
        use_service(&app, &kari, Some(&kari_nora), "appointments"),
        StatusCode::FORBIDDEN,
        "area-not-covered",
    )
    .await;
    set_switch_ok(&app, &kari, Some(&kari_nora), "services", "open").await;
    assert_eq!(
        area_set(&child_rep(&app, &kari, NORA_NAME).await["areas"]),
        set_of(&ALL_AREAS)
    );

    let events = feed(&app).await;
    assert_eq!(
        count(&events, "access_switch.changed", &nora),
        4,
        "{events:?}"
    );
    assert_eq!(count(&events, "access_switch.changed", &kari.citizen_id), 0);
}

/// Without `X-Acting-For` a citizen sets their own three switches, which leave a child's alone.
/// With `services` removed, Kari's own service use is 403 `digital-access-removed` (logged
/// nowhere), while acting for Nora still works; re-opened, her own use works again. Each change
/// is in her own log and the feed.
async fn own_switches_and_removed_services(backend: Backend) {
    let app = family(backend).await;
    let kari = citizen(&app, KARI, "full").await;
    let rep = child_rep(&app, &kari, NORA_NAME).await;
    let kari_nora = rep_id(&rep);
    let nora = child_id(&rep);

    let own = switches(&app, &kari, None).await;
    assert_eq!(own["subject_id"], kari.citizen_id.as_str(), "{own}");
    for switch in ["services", "patient_record", "summary_care_record"] {
        assert_eq!(switch_state(&own, switch)["access"], "open", "{own}");
    }
    set_switch_ok(&app, &kari, None, "summary_care_record", "removed").await;
    set_switch_ok(&app, &kari, None, "patient_record", "removed").await;
    let log_before = app.usage_log(&kari).await;
    let body = set_switch_ok(&app, &kari, None, "services", "removed").await;
    assert_eq!(body["subject_id"], kari.citizen_id.as_str(), "{body}");
    assert_eq!(body["summary_care_record_opt_out_changed"], false, "{body}");

    expect_problem(
        use_service(&app, &kari, None, "appointments"),
        StatusCode::FORBIDDEN,
        "digital-access-removed",
    )
    .await;
    use_service_ok(&app, &kari, Some(&kari_nora), "patient_record", &nora).await;
    set_switch_ok(&app, &kari, None, "services", "open").await;

    // A child's switches are the child's own: Nora's stay open.
    let nora_switches = switches(&app, &kari, Some(&kari_nora)).await;
    assert_eq!(nora_switches["subject_id"], nora.as_str());
    for switch in ["services", "patient_record", "summary_care_record"] {
        assert_eq!(
            switch_state(&nora_switches, switch)["access"],
            "open",
            "{nora_switches}"
        );
    }

    let log = app.usage_log(&kari).await;
    let changes: Vec<(String, String)> = log
        .iter()
        .filter(|e| e["action"] == "access_switch.changed")
        .map(|e| {
            (
                e["details"]["switch"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                e["details"]["access"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("services", "open"),
            ("services", "removed"),
            ("patient_record", "removed"),
            ("summary_care_record", "removed")
        ]
        .map(|(s, a)| (s.to_owned(), a.to_owned())),
        "newest first: {log:?}"
    );
    let new_entries = &log[..log.len() - log_before.len()];
    assert_eq!(&log[new_entries.len()..], &log_before[..]);
    assert!(
        !new_entries
            .iter()
            .any(|e| e["action"] == "service.used" && e["details"]["area"] == "appointments"),
        "the refused own use is logged nowhere: {new_entries:?}"
    );

    use_service_ok(&app, &kari, None, "appointments", &kari.citizen_id).await;
    let events = feed(&app).await;
    assert_eq!(
        count(&events, "access_switch.changed", &kari.citizen_id),
        4,
        "{events:?}"
    );
    assert_eq!(count(&events, "access_switch.changed", &nora), 0);

    // Downstream services read the removed switches in the active-user decision, and that they
    // are not an opt-out: the citizen stays active.
    let token = app
        .idp
        .service_token("dev-service-reader", "consent:read")
        .await;
    let (status, answer) = tests::app::send_json(
        app.as_service(&token, Method::POST, "/api/v1/decisions/active-user")
            .json(&json!({ "pid": KARI })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["decision"], "active", "{answer}");
    assert_eq!(
        answer["removed_access"],
        json!(["patient_record", "summary_care_record"]),
        "{answer}"
    );
}

// ------------------------------------------------------------------------------- notices

/// Today Kari and Ola each get one guardian notice per child whose next change is within 30
/// days: Jakob restricted at 12 on 2026-12-16, Ella's access ending on 2026-12-09; nothing about
/// Nora, Sofie or Lukas. Ella (15) logged in herself gets her own notice ahead of her 16th
/// birthday; Hanne and Astrid get none.
async fn notices_ahead_of_birthdays(backend: Backend) {
    let app = family(backend).await;
    let kari = citizen(&app, KARI, "full").await;
    let ola = citizen(&app, OLA, "basis").await;
    let list = selector(&app, &kari).await;
    let jakob = child_id(&listed(&list, JAKOB_NAME).expect("Jakob"));
    let ella = child_id(&listed(&list, ELLA_NAME).expect("Ella"));

    for s in [&kari, &ola] {
        let (status, body) = app.get_json(s, NOTICES).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_no_pids("the notices", &body.to_string());
        let items = body["items"].as_array().expect("items");
        assert_eq!(items.len(), 2, "{body}");
        for n in items {
            assert_eq!(n["audience"], "guardian", "{n}");
            assert!(n["message"].as_str().is_some_and(|m| !m.is_empty()), "{n}");
        }
        let about = |id: &str| {
            items
                .iter()
                .find(|n| n["about"]["citizen_id"] == id)
                .cloned()
                .unwrap_or_else(|| panic!("a notice about {id}: {body}"))
        };
        let j = about(&jakob);
        assert_eq!(j["about"]["name"], JAKOB_NAME, "{j}");
        assert_change(&j["change"], "restricted_at_12", "2026-12-16", JAKOB_12);
        let e = about(&ella);
        assert_eq!(e["about"]["name"], ELLA_NAME, "{e}");
        assert_change(&e["change"], "ends_at_16", "2026-12-09", ELLA_16);
    }

    for pid in [HANNE, ASTRID] {
        let s = citizen(&app, pid, "basis").await;
        let (status, body) = app.get_json(&s, NOTICES).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["items"], json!([]), "{body}");
    }

    let me = citizen(&app, ELLA, "basis").await;
    assert_eq!(me.citizen_id, ella, "the same citizen");
    let (status, body) = app.get_json(&me, NOTICES).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_no_pids("Ella's notices", &body.to_string());
    let items = body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{body}");
    let n = &items[0];
    assert_eq!(n["audience"], "self", "{n}");
    assert_eq!(n["about"]["citizen_id"], ella.as_str(), "{n}");
    assert_change(&n["change"], "ends_at_16", "2026-12-09", ELLA_16);
    assert!(n["message"].as_str().is_some_and(|m| !m.is_empty()), "{n}");
}

both_backends!(
    each_child_is_listed_by_age_band,
    decisions_follow_guardianship,
    a_refusal_takes_effect_at_once_and_lifting_restores,
    a_whole_refusal_leaves_no_area,
    a_denial_for_one_guardian_leaves_the_other,
    the_machine_api_refuses_and_changes_nothing,
    the_16th_birthday_ends_guardian_access,
    the_12th_birthday_restricts_guardian_access,
    losing_parental_responsibility_takes_effect_at_once,
    no_parent_at_the_address_or_a_protected_address_is_unavailable,
    another_familys_child_is_not_found,
    a_guardian_sets_a_childs_switches,
    own_switches_and_removed_services,
    notices_ahead_of_birthdays,
);

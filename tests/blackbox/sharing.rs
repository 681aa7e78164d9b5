//! Blocks of the summary care record ("sperre"), objections to sharing ("sperring"), the openings
//! shown to the citizen, and the professional-access decision that downstream health services ask
//! (DESIGN §2.4, §2.7): who may block and object, what a block or an objection does to a
//! professional's access for each basis, and what every opening leaves behind (an opening in
//! `GET /api/v1/openings`, an entry in the citizen's usage log, an event in the feed).
//!
//! Every test pins the server's clock to [`TODAY`] (the persons file's ages hold on that day) and
//! runs with the purge timer off. Decisions are asked right after each change (read your writes).
//! Refused requests are checked to change nothing: the blocks, the objections, the subject's usage
//! log and the feed read the same afterwards.

use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use tests::persons::{ASTRID, BJORN, INGRID, KARI, LUKAS, NORA};
use tests::{both_backends, instant, Backend, Session, TestApp};

use crate::errors::expect_problem;

const STATUS: &str = "/api/v1/summary-care-record";
const OPT_OUT: &str = "/api/v1/summary-care-record/opt-out";
const BLOCKS: &str = "/api/v1/summary-care-record/blocks";
const OBJECTIONS: &str = "/api/v1/objections";
const OPENINGS: &str = "/api/v1/openings";
const RECORD_DECISION: &str = "/api/v1/decisions/summary-care-record";
const ACCESS: &str = "/api/v1/decisions/professional-access";
const ACCESS_BATCH: &str = "/api/v1/decisions/professional-access/batch";
const REPRESENTATIONS: &str = "/api/v1/representations";
const POWERS_OF_ATTORNEY: &str = "/api/v1/powers-of-attorney";
const ORDER_PURGES: &str = "/dev/jobs/order-purges";
const ACTING_FOR: &str = "X-Acting-For";

/// "Today": 13:00 in Oslo on Monday 23 November 2026.
const TODAY: &str = "2026-11-23T12:00:00Z";
/// Past the restore deadline of an opt-out made [`TODAY`] (00:00 Oslo on 24 December).
const PAST_DEADLINE: &str = "2026-12-24T09:00:00Z";

/// The parts of the summary care record, in the vocabulary's order.
const PARTS: [&str; 5] = [
    "critical_information",
    "medicines",
    "vaccinations",
    "hospital_contacts",
    "own_entries",
];

/// The health professional who asks (HPR number), and another one.
const DOCTOR: &str = "1234567";
const OTHER_DOCTOR: &str = "7654321";
/// The organisation that asks, and another one (both with valid check digits).
const HOSPITAL: &str = "974749025";
const OTHER_HOSPITAL: &str = "983984339";
/// The basis an emergency states.
const STATED: &str = "Unconscious on arrival, danger to life";

/// The machine client that asks (it has `consent:read`).
const CLINIC: &str = "dev-service-clinic";

const SUMMARY: &str = "summary_care_record";
const PATIENT: &str = "patient_record";
const ORDINARY: &str = "ordinary_care";
const CONSENT: &str = "consent";
const EMERGENCY: &str = "emergency";

const BLOCKED: &str = "summary_care_record.blocked";
const BLOCK_LIFTED: &str = "summary_care_record.block_lifted";
const BLOCK_OPENED: &str = "summary_care_record.block_opened";
const OBJECTED: &str = "objection.registered";
const WITHDRAWN: &str = "objection.withdrawn";
const OVERRIDDEN: &str = "objection.overridden";
/// The usage-log actions and feed types of this module.
const SHARING: [&str; 6] = [
    BLOCKED,
    BLOCK_LIFTED,
    BLOCK_OPENED,
    OBJECTED,
    WITHDRAWN,
    OVERRIDDEN,
];

// ---------------------------------------------------------------------------------- helpers

/// A server with its purge timer off and its clock pinned to [`TODAY`].
async fn portal(backend: Backend) -> TestApp {
    let app = TestApp::builder(backend)
        .env("PURGE_INTERVAL_SECONDS", "0")
        .spawn()
        .await;
    app.set_clock(TODAY).await;
    app
}

/// Logs `pid` in (at `idporten-loa-high`) and accepts the terms at level Full.
async fn citizen(app: &TestApp, pid: &str) -> Session {
    let s = app.login(pid).await;
    app.accept_terms(&s, "full").await;
    s
}

/// A citizen request, acting for the representation `rep` when given.
fn request(
    app: &TestApp,
    s: &Session,
    rep: Option<&str>,
    method: Method,
    path: &str,
) -> RequestBuilder {
    let req = app.as_citizen(s, method, path);
    match rep {
        Some(id) => req.header(ACTING_FOR, id),
        None => req,
    }
}

/// `POST path` with `body`.
fn post(app: &TestApp, s: &Session, rep: Option<&str>, path: &str, body: &Value) -> RequestBuilder {
    request(app, s, rep, Method::POST, path).json(body)
}

/// `DELETE path/id`.
fn delete(app: &TestApp, s: &Session, rep: Option<&str>, path: &str, id: &str) -> RequestBuilder {
    request(app, s, rep, Method::DELETE, &format!("{path}/{id}"))
}

/// A POST that must create: 201, the created body.
async fn created(app: &TestApp, s: &Session, rep: Option<&str>, path: &str, body: Value) -> Value {
    let (status, answer) = tests::app::send_json(post(app, s, rep, path, &body)).await;
    assert_eq!(status, StatusCode::CREATED, "POST {path} {body}: {answer}");
    answer
}

/// A DELETE that must lift: 200 with `lifted_at` set.
async fn lifted(app: &TestApp, s: &Session, rep: Option<&str>, path: &str, id: &str) -> Value {
    let (status, answer) = tests::app::send_json(delete(app, s, rep, path, id)).await;
    assert_eq!(status, StatusCode::OK, "DELETE {path}/{id}: {answer}");
    assert_eq!(answer["id"], id, "{answer}");
    instant(&answer["lifted_at"]);
    answer
}

/// The `items` of a list (`BLOCKS`, `OBJECTIONS`, `OPENINGS`), newest first.
async fn items(app: &TestApp, s: &Session, rep: Option<&str>, path: &str) -> Vec<Value> {
    let (status, body) = tests::app::send_json(request(app, s, rep, Method::GET, path)).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    assert!(
        body["subject_id"].as_str().is_some_and(|s| !s.is_empty()),
        "{body}"
    );
    body["items"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("items: {body}"))
}

fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| panic!("an id: {v}"))
        .to_owned()
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(id_of).collect()
}

/// A block in force of `kind`, on `part` or `hpr`.
fn assert_block(b: &Value, kind: &str, part: Option<&str>, hpr: Option<&str>) {
    id_of(b);
    assert_eq!(b["kind"], kind, "{b}");
    assert_eq!(b["part"], json!(part), "{b}");
    assert_eq!(b["hpr_number"], json!(hpr), "{b}");
    assert_eq!(b["holds_in_emergency"], kind == "professional", "{b}");
    instant(&b["created_at"]);
    assert_eq!(b["lifted_at"], Value::Null, "{b}");
}

/// An objection in force of `kind`, against `hpr` or `org`.
fn assert_objection(o: &Value, kind: &str, hpr: Option<&str>, org: Option<&str>) {
    id_of(o);
    assert_eq!(o["kind"], kind, "{o}");
    assert_eq!(o["hpr_number"], json!(hpr), "{o}");
    assert_eq!(o["organisation_number"], json!(org), "{o}");
    instant(&o["created_at"]);
    assert_eq!(o["lifted_at"], Value::Null, "{o}");
}

/// `v` is a time within `[from - 1 s, from + slack]`.
fn assert_near(what: &str, v: &Value, from: DateTime<Utc>, slack_seconds: i64) {
    let t = instant(v);
    assert!(
        t >= from - Duration::seconds(1) && t <= from + Duration::seconds(slack_seconds),
        "{what}: {t} is not within {slack_seconds} s after {from}"
    );
}

/// The summary care record status of the caller (or of the person acted for).
async fn record_status(app: &TestApp, s: &Session, rep: Option<&str>) -> Value {
    let (status, body) = tests::app::send_json(request(app, s, rep, Method::GET, STATUS)).await;
    assert_eq!(status, StatusCode::OK, "GET {STATUS}: {body}");
    body
}

/// The record is active and available, with `blocked` (whole record) and `parts` blocked.
fn assert_record(status: &Value, blocked: bool, parts: &[&str]) {
    assert_eq!(status["state"], "active", "{status}");
    assert_eq!(status["available_to_health_personnel"], true, "{status}");
    assert_eq!(status["record_blocked"], blocked, "{status}");
    assert_eq!(status["blocked_parts"], json!(parts), "{status}");
}

/// The usage log of the caller (or of the person acted for), newest first.
async fn log_of(app: &TestApp, s: &Session, rep: Option<&str>) -> Vec<Value> {
    let mut out = Vec::new();
    let mut path = "/api/v1/usage-log?limit=100".to_owned();
    loop {
        let (status, page) = tests::app::send_json(request(app, s, rep, Method::GET, &path)).await;
        assert_eq!(status, StatusCode::OK, "the usage log: {page}");
        out.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/usage-log?limit=100&cursor={c}"),
            None => return out,
        }
    }
}

/// The entries of a log with one of this module's actions (newest first).
fn sharing_entries(log: &[Value]) -> Vec<Value> {
    log.iter()
        .filter(|e| SHARING.iter().any(|a| e["action"] == *a))
        .cloned()
        .collect()
}

fn actions(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// This module's event types about `subject`, in feed order.
fn sharing_events(feed: &[(String, String)], subject: &str) -> Vec<String> {
    feed.iter()
        .filter(|(t, s)| s == subject && SHARING.contains(&t.as_str()))
        .map(|(t, _)| t.clone())
        .collect()
}

/// What a refused change must leave alone: blocks, objections, the subject's log, the feed.
type Snapshot = (Vec<Value>, Vec<Value>, Vec<Value>, Vec<(String, String)>);

async fn snapshot(app: &TestApp, s: &Session, rep: Option<&str>) -> Snapshot {
    (
        items(app, s, rep, BLOCKS).await,
        items(app, s, rep, OBJECTIONS).await,
        log_of(app, s, rep).await,
        app.feed_events().await,
    )
}

/// The validation problem names `field`: as one of its errors' field (or an element of it,
/// `field[i]`), or (for a missing field, which serde reports as a problem of the whole `body`) in
/// that error's detail.
fn assert_names_field(problem: &Value, field: &str, sent: &Value) {
    let errors = problem["errors"].as_array().cloned().unwrap_or_default();
    let named = errors.iter().any(|e| {
        e["field"] == field
            || e["field"]
                .as_str()
                .is_some_and(|f| f.starts_with(&format!("{field}[")))
            || (e["field"] == "body"
                && e["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains(&format!("`{field}`"))))
    });
    assert!(named, "{sent}: the problem names {field}: {problem}");
}

/// The representation id and citizen id of the person named `name` in the caller's selector.
async fn representation(app: &TestApp, s: &Session, name: &str) -> (String, String) {
    let (status, list) = app.get_json(s, REPRESENTATIONS).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let rep = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["person"]["name"] == name || r["person"]["citizen_id"] == name)
        .unwrap_or_else(|| panic!("{name} is selectable: {list}"));
    (
        rep["representation_id"].as_str().expect("id").to_owned(),
        rep["person"]["citizen_id"].as_str().expect("id").to_owned(),
    )
}

// ------------------------------------------------------------------- the machine decision

async fn clinic_token(app: &TestApp) -> String {
    app.idp.service_token(CLINIC, "consent:read").await
}

/// A question about `pid` from [`DOCTOR`] at [`HOSPITAL`]; an emergency states its basis.
fn query(pid: &str, resource: &str, basis: &str) -> Value {
    let mut q = json!({
        "pid": pid,
        "resource": resource,
        "hpr_number": DOCTOR,
        "organisation_number": HOSPITAL,
        "basis": basis,
    });
    if basis == EMERGENCY {
        q["stated_basis"] = json!(STATED);
    }
    q
}

/// `q` with `key` set to `value` (`null` removes it).
fn with(mut q: Value, key: &str, value: Value) -> Value {
    if value.is_null() {
        q.as_object_mut().expect("an object").remove(key);
    } else {
        q[key] = value;
    }
    q
}

fn ask(app: &TestApp, token: &str, q: &Value) -> RequestBuilder {
    app.as_service(token, Method::POST, ACCESS).json(q)
}

/// A decision that must answer 200 with every member of the contract's answer.
async fn decide(app: &TestApp, token: &str, q: &Value) -> Value {
    let (status, a) = tests::app::send_json(ask(app, token, q)).await;
    assert_eq!(status, StatusCode::OK, "{ACCESS} {q}: {a}");
    assert_answer_shape(&a);
    a
}

fn assert_answer_shape(a: &Value) {
    assert!(
        a["subject_id"].as_str().is_some_and(|s| !s.is_empty()),
        "{a}"
    );
    assert!(a["allowed"].is_boolean(), "{a}");
    assert!(a["reason"].is_string(), "{a}");
    assert!(a["withheld_parts"].is_array(), "{a}");
    assert!(a["openings"].is_array(), "{a}");
    let facts = &a["facts"];
    assert!(facts["record_state"].is_string(), "{a}");
    assert!(facts["record_blocked"].is_boolean(), "{a}");
    assert!(facts["blocked_parts"].is_array(), "{a}");
    assert!(facts["professional_blocked"].is_boolean(), "{a}");
    assert!(
        facts["objection"].is_null() || facts["objection"].is_string(),
        "{a}"
    );
    for pid in [ASTRID, BJORN, NORA] {
        assert!(!a.to_string().contains(pid), "an identity number: {a}");
    }
}

/// The answer `a` (to `what`) is `allowed` for `reason`, with these `openings` (in any order)
/// and these `withheld` parts.
fn assert_decision(
    what: &str,
    a: &Value,
    allowed: bool,
    reason: &str,
    openings: &[&str],
    withheld: &[&str],
) {
    assert_eq!(a["allowed"], allowed, "{what}: {a}");
    assert_eq!(a["reason"], reason, "{what}: {a}");
    let mut got: Vec<String> = a["openings"]
        .as_array()
        .map(|o| {
            o.iter()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    got.sort_unstable();
    let mut want: Vec<String> = openings.iter().map(|k| (*k).to_owned()).collect();
    want.sort_unstable();
    assert_eq!(got, want, "{what}: openings: {a}");
    assert_eq!(a["withheld_parts"], json!(withheld), "{what}: {a}");
}

// ------------------------------------------------------------------------------- blocks

/// Astrid blocks her whole record, one part and one professional: each answer is the block in
/// force, and the list shows them newest first, `holds_in_emergency` only for the professional.
/// Her record stays active and available, now saying what is blocked (also to the machine
/// status decision). The same target again is 409 `already-blocked` and changes nothing; her
/// DELETE of Bjørn's block or of an unknown id is 404. Lifting answers the block with
/// `lifted_at`; lifting again is 409 `already-lifted`; a lifted target may be blocked anew.
/// Each change is one entry in her log (by her) and one event in the feed.
async fn blocks_are_added_listed_and_lifted(backend: Backend) {
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID).await;
    let me = astrid.citizen_id.clone();
    let token = clinic_token(&app).await;
    let machine_status = || async {
        let (status, body) = tests::app::send_json(
            app.as_service(&token, Method::POST, RECORD_DECISION)
                .json(&json!({ "pid": ASTRID })),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    };

    assert!(items(&app, &astrid, None, BLOCKS).await.is_empty());
    assert_record(&record_status(&app, &astrid, None).await, false, &[]);
    assert_record(&machine_status().await, false, &[]);

    let from = app.server_now().await;
    let whole = created(
        &app,
        &astrid,
        None,
        BLOCKS,
        json!({ "kind": "whole_record" }),
    )
    .await;
    assert_block(&whole, "whole_record", None, None);
    assert_near("created_at", &whole["created_at"], from, 30);
    app.advance_clock(60).await;
    let part = created(
        &app,
        &astrid,
        None,
        BLOCKS,
        json!({ "kind": "part", "part": "medicines" }),
    )
    .await;
    assert_block(&part, "part", Some("medicines"), None);
    app.advance_clock(60).await;
    let professional = created(
        &app,
        &astrid,
        None,
        BLOCKS,
        json!({ "kind": "professional", "hpr_number": DOCTOR }),
    )
    .await;
    assert_block(&professional, "professional", None, Some(DOCTOR));

    let listed = items(&app, &astrid, None, BLOCKS).await;
    assert_eq!(
        listed,
        [professional.clone(), part.clone(), whole.clone()],
        "newest first, as answered"
    );
    let status = record_status(&app, &astrid, None).await;
    assert_record(&status, true, &["medicines"]);
    assert_eq!(status["opted_out_at"], Value::Null, "{status}");
    assert_record(&machine_status().await, true, &["medicines"]);

    // Bjørn's block, and the refusals.
    let bjorn = citizen(&app, BJORN).await;
    let his = created(
        &app,
        &bjorn,
        None,
        BLOCKS,
        json!({ "kind": "whole_record" }),
    )
    .await;
    let snap = snapshot(&app, &astrid, None).await;
    for body in [
        json!({ "kind": "whole_record" }),
        json!({ "kind": "part", "part": "medicines" }),
        json!({ "kind": "professional", "hpr_number": DOCTOR }),
    ] {
        expect_problem(
            post(&app, &astrid, None, BLOCKS, &body),
            StatusCode::CONFLICT,
            "already-blocked",
        )
        .await;
    }
    for id in [
        id_of(&his),
        uuid::Uuid::new_v4().to_string(),
        "nope".to_owned(),
    ] {
        expect_problem(
            delete(&app, &astrid, None, BLOCKS, &id),
            StatusCode::NOT_FOUND,
            "not-found",
        )
        .await;
    }
    assert_eq!(
        snapshot(&app, &astrid, None).await,
        snap,
        "refusals change nothing"
    );
    assert_eq!(
        items(&app, &bjorn, None, BLOCKS).await,
        std::slice::from_ref(&his)
    );

    // Lifting.
    let before_lift = app.server_now().await;
    let gone = lifted(&app, &astrid, None, BLOCKS, &id_of(&part)).await;
    assert_eq!(gone["kind"], "part", "{gone}");
    assert_eq!(gone["part"], "medicines", "{gone}");
    assert_eq!(instant(&gone["created_at"]), instant(&part["created_at"]));
    assert_near("lifted_at", &gone["lifted_at"], before_lift, 30);
    assert_eq!(
        items(&app, &astrid, None, BLOCKS).await,
        [professional.clone(), whole.clone()]
    );
    assert_record(&record_status(&app, &astrid, None).await, true, &[]);

    let snap = snapshot(&app, &astrid, None).await;
    expect_problem(
        delete(&app, &astrid, None, BLOCKS, &id_of(&part)),
        StatusCode::CONFLICT,
        "already-lifted",
    )
    .await;
    assert_eq!(snapshot(&app, &astrid, None).await, snap);

    lifted(&app, &astrid, None, BLOCKS, &id_of(&whole)).await;
    assert_record(&record_status(&app, &astrid, None).await, false, &[]);
    assert_record(&machine_status().await, false, &[]);

    // A lifted target may be blocked anew: a new block.
    app.advance_clock(60).await;
    let again = created(
        &app,
        &astrid,
        None,
        BLOCKS,
        json!({ "kind": "part", "part": "medicines" }),
    )
    .await;
    assert_ne!(id_of(&again), id_of(&part));
    assert_eq!(
        ids(&items(&app, &astrid, None, BLOCKS).await),
        [id_of(&again), id_of(&professional)]
    );

    let entries = sharing_entries(&log_of(&app, &astrid, None).await);
    assert_eq!(
        actions(&entries),
        [
            BLOCKED,
            BLOCK_LIFTED,
            BLOCK_LIFTED,
            BLOCKED,
            BLOCKED,
            BLOCKED
        ],
        "newest first: {entries:?}"
    );
    for e in &entries {
        assert_eq!(e["actor_kind"], "citizen", "{e}");
        assert_eq!(e["actor_id"], me.as_str(), "{e}");
    }
    let events = app.feed_events().await;
    assert_eq!(
        sharing_events(&events, &me),
        [
            BLOCKED,
            BLOCKED,
            BLOCKED,
            BLOCK_LIFTED,
            BLOCK_LIFTED,
            BLOCKED
        ],
        "{events:?}"
    );
    assert_eq!(sharing_events(&events, &bjorn.citizen_id), [BLOCKED]);
}

/// Bad blocks and objections are 400 `validation-failed` naming the field (an unknown kind is
/// 400 either way) and change nothing; the HPR number's edges (1 and 9 digits) and every valid
/// example organisation number are accepted.
async fn bad_blocks_and_objections_are_refused(backend: Backend) {
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID).await;
    let snap = snapshot(&app, &astrid, None).await;

    let bad_blocks = [
        (json!({ "kind": "part" }), "part"),
        (json!({ "kind": "part", "part": "x_rays" }), "part"),
        (json!({ "kind": "part", "part": "" }), "part"),
        (json!({ "kind": "professional" }), "hpr_number"),
        (
            json!({ "kind": "whole_record", "hpr_number": DOCTOR }),
            "hpr_number",
        ),
        (
            json!({ "kind": "part", "part": "medicines", "hpr_number": DOCTOR }),
            "hpr_number",
        ),
        (
            json!({ "kind": "professional", "hpr_number": DOCTOR, "part": "medicines" }),
            "part",
        ),
        (
            json!({ "kind": "whole_record", "part": "medicines" }),
            "part",
        ),
        (
            json!({ "kind": "professional", "hpr_number": "12a4567" }),
            "hpr_number",
        ),
        (
            json!({ "kind": "professional", "hpr_number": "1234567890" }),
            "hpr_number",
        ),
        (
            json!({ "kind": "professional", "hpr_number": "" }),
            "hpr_number",
        ),
    ];
    for (body, field) in bad_blocks {
        let (problem, _) = expect_problem(
            post(&app, &astrid, None, BLOCKS, &body),
            StatusCode::BAD_REQUEST,
            "validation-failed",
        )
        .await;
        assert_names_field(&problem, field, &body);
    }
    for body in [json!({ "kind": "everything" }), json!({})] {
        let (status, answer) =
            tests::app::send_json(post(&app, &astrid, None, BLOCKS, &body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
    }

    let bad_objections = [
        (
            json!({ "kind": "organisation", "organisation_number": "974749026" }),
            "organisation_number",
        ),
        (
            json!({ "kind": "organisation", "organisation_number": "97474902" }),
            "organisation_number",
        ),
        (
            json!({ "kind": "organisation", "organisation_number": "97474902x" }),
            "organisation_number",
        ),
        (json!({ "kind": "organisation" }), "organisation_number"),
        (json!({ "kind": "professional" }), "hpr_number"),
        (
            json!({ "kind": "professional", "hpr_number": "1234567890" }),
            "hpr_number",
        ),
        (
            json!({ "kind": "professional", "hpr_number": "12-4567" }),
            "hpr_number",
        ),
    ];
    for (body, field) in bad_objections {
        let (problem, _) = expect_problem(
            post(&app, &astrid, None, OBJECTIONS, &body),
            StatusCode::BAD_REQUEST,
            "validation-failed",
        )
        .await;
        assert_names_field(&problem, field, &body);
    }
    assert_eq!(
        snapshot(&app, &astrid, None).await,
        snap,
        "refusals change nothing"
    );

    for hpr in ["1", "123456789"] {
        let b = created(
            &app,
            &astrid,
            None,
            BLOCKS,
            json!({ "kind": "professional", "hpr_number": hpr }),
        )
        .await;
        assert_block(&b, "professional", None, Some(hpr));
    }
    for org in ["974749025", "983984339", "876543214", "999999999"] {
        let o = created(
            &app,
            &astrid,
            None,
            OBJECTIONS,
            json!({ "kind": "organisation", "organisation_number": org }),
        )
        .await;
        assert_objection(&o, "organisation", None, Some(org));
    }
    assert_eq!(items(&app, &astrid, None, OBJECTIONS).await.len(), 4);
}

/// "Newest first" holds for blocks and objections made within one second of each other (the
/// stored times are whole seconds): the list is the reverse of the order they were made in.
async fn lists_made_within_one_second_are_newest_first(backend: Backend) {
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID).await;
    app.set_clock(TODAY).await;
    let mut blocks = Vec::new();
    for part in PARTS {
        let b = created(
            &app,
            &astrid,
            None,
            BLOCKS,
            json!({ "kind": "part", "part": part }),
        )
        .await;
        blocks.push(id_of(&b));
    }
    let mut objections = Vec::new();
    for hpr in ["11", "22", "33", "44", "55"] {
        let o = created(
            &app,
            &astrid,
            None,
            OBJECTIONS,
            json!({ "kind": "professional", "hpr_number": hpr }),
        )
        .await;
        objections.push(id_of(&o));
    }
    blocks.reverse();
    objections.reverse();
    assert_eq!(ids(&items(&app, &astrid, None, BLOCKS).await), blocks);
    assert_eq!(
        ids(&items(&app, &astrid, None, OBJECTIONS).await),
        objections
    );
}

// --------------------------------------------------------------------------- objections

/// Astrid objects to a professional and to an organisation; the list shows both, newest first.
/// The same target again is 409 `already-objected`, changing nothing. Withdrawing answers the
/// objection with `lifted_at`; again is 409 `already-lifted`; an unknown or Bjørn's id is 404.
/// The log and the feed carry `objection.registered` and `objection.withdrawn`.
async fn objections_are_registered_and_withdrawn(backend: Backend) {
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID).await;
    let bjorn = citizen(&app, BJORN).await;
    let me = astrid.citizen_id.clone();
    assert!(items(&app, &astrid, None, OBJECTIONS).await.is_empty());

    let from = app.server_now().await;
    let professional = created(
        &app,
        &astrid,
        None,
        OBJECTIONS,
        json!({ "kind": "professional", "hpr_number": DOCTOR }),
    )
    .await;
    assert_objection(&professional, "professional", Some(DOCTOR), None);
    assert_near("created_at", &professional["created_at"], from, 30);
    app.advance_clock(60).await;
    let organisation = created(
        &app,
        &astrid,
        None,
        OBJECTIONS,
        json!({ "kind": "organisation", "organisation_number": HOSPITAL }),
    )
    .await;
    assert_objection(&organisation, "organisation", None, Some(HOSPITAL));
    assert_eq!(
        items(&app, &astrid, None, OBJECTIONS).await,
        [organisation.clone(), professional.clone()],
        "newest first, as answered"
    );

    let his = created(
        &app,
        &bjorn,
        None,
        OBJECTIONS,
        json!({ "kind": "professional", "hpr_number": DOCTOR }),
    )
    .await;
    let snap = snapshot(&app, &astrid, None).await;
    for body in [
        json!({ "kind": "professional", "hpr_number": DOCTOR }),
        json!({ "kind": "organisation", "organisation_number": HOSPITAL }),
    ] {
        expect_problem(
            post(&app, &astrid, None, OBJECTIONS, &body),
            StatusCode::CONFLICT,
            "already-objected",
        )
        .await;
    }
    for id in [
        id_of(&his),
        uuid::Uuid::new_v4().to_string(),
        "nope".to_owned(),
    ] {
        expect_problem(
            delete(&app, &astrid, None, OBJECTIONS, &id),
            StatusCode::NOT_FOUND,
            "not-found",
        )
        .await;
    }
    assert_eq!(
        snapshot(&app, &astrid, None).await,
        snap,
        "refusals change nothing"
    );
    assert_eq!(items(&app, &bjorn, None, OBJECTIONS).await, [his]);

    let before = app.server_now().await;
    let gone = lifted(&app, &astrid, None, OBJECTIONS, &id_of(&professional)).await;
    assert_eq!(gone["kind"], "professional", "{gone}");
    assert_eq!(gone["hpr_number"], DOCTOR, "{gone}");
    assert_near("lifted_at", &gone["lifted_at"], before, 30);
    assert_eq!(
        items(&app, &astrid, None, OBJECTIONS).await,
        std::slice::from_ref(&organisation)
    );
    let snap = snapshot(&app, &astrid, None).await;
    expect_problem(
        delete(&app, &astrid, None, OBJECTIONS, &id_of(&professional)),
        StatusCode::CONFLICT,
        "already-lifted",
    )
    .await;
    assert_eq!(snapshot(&app, &astrid, None).await, snap);

    // A withdrawn target may be objected to anew.
    let again = created(
        &app,
        &astrid,
        None,
        OBJECTIONS,
        json!({ "kind": "professional", "hpr_number": DOCTOR }),
    )
    .await;
    assert_ne!(id_of(&again), id_of(&professional));

    let entries = sharing_entries(&log_of(&app, &astrid, None).await);
    assert_eq!(
        actions(&entries),
        [OBJECTED, WITHDRAWN, OBJECTED, OBJECTED],
        "newest first: {entries:?}"
    );
    for e in &entries {
        assert_eq!(e["actor_kind"], "citizen", "{e}");
        assert_eq!(e["actor_id"], me.as_str(), "{e}");
    }
    let events = app.feed_events().await;
    assert_eq!(
        sharing_events(&events, &me),
        [OBJECTED, OBJECTED, WITHDRAWN, OBJECTED],
        "{events:?}"
    );
    assert_eq!(sharing_events(&events, &bjorn.citizen_id), [OBJECTED]);
}

// -------------------------------------------------------------------------- the decision

/// With nothing restricted, both resources are allowed with `no_restriction`. Opted out (rule 1),
/// the summary care record is refused `record_opted_out` for every basis, before a professional
/// block or an objection counts; the patient record is not concerned. Once the purge is ordered
/// the refusal is `record_purged`.
async fn the_record_state_comes_first(backend: Backend) {
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID).await;
    let token = clinic_token(&app).await;

    for resource in [SUMMARY, PATIENT] {
        for basis in [ORDINARY, CONSENT, EMERGENCY] {
            let a = decide(&app, &token, &query(ASTRID, resource, basis)).await;
            let what = format!("{resource} {basis}");
            assert_decision(&what, &a, true, "no_restriction", &[], &[]);
            assert_eq!(a["subject_id"], astrid.citizen_id.as_str(), "{a}");
            assert_eq!(
                a["facts"],
                json!({
                    "record_state": "active",
                    "record_blocked": false,
                    "blocked_parts": [],
                    "professional_blocked": false,
                    "objection": null,
                }),
                "{what}"
            );
        }
    }

    created(
        &app,
        &astrid,
        None,
        BLOCKS,
        json!({ "kind": "professional", "hpr_number": DOCTOR }),
    )
    .await;
    created(
        &app,
        &astrid,
        None,
        OBJECTIONS,
        json!({ "kind": "organisation", "organisation_number": HOSPITAL }),
    )
    .await;
    let (status, body) =
        tests::app::send_json(post(&app, &astrid, None, OPT_OUT, &json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    for basis in [ORDINARY, CONSENT, EMERGENCY] {
        let a = decide(&app, &token, &query(ASTRID, SUMMARY, basis)).await;
        assert_decision(basis, &a, false, "record_opted_out", &[], &[]);
        assert_eq!(a["facts"]["record_state"], "opted_out", "{a}");
        assert_eq!(a["facts"]["professional_blocked"], true, "{a}");
        assert_eq!(a["facts"]["objection"], "organisation", "{a}");
    }
    // The patient record is not concerned by the opt-out (nor by the professional block).
    let a = decide(
        &app,
        &token,
        &with(
            query(ASTRID, PATIENT, ORDINARY),
            "organisation_number",
            json!(OTHER_HOSPITAL),
        ),
    )
    .await;
    assert_decision("patient record", &a, true, "no_restriction", &[], &[]);
    assert!(
        items(&app, &astrid, None, OPENINGS).await.is_empty(),
        "a refusal opens nothing"
    );

    // Past the restore window, with the purge ordered.
    app.set_clock(PAST_DEADLINE).await;
    let (status, body) =
        tests::app::send_json(app.client.post(app.url(ORDER_PURGES)).json(&json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ordered"], 1, "{body}");
    for basis in [ORDINARY, CONSENT, EMERGENCY] {
        let q = with(
            query(ASTRID, SUMMARY, basis),
            "hpr_number",
            json!(OTHER_DOCTOR),
        );
        let a = decide(&app, &token, &q).await;
        assert_decision(basis, &a, false, "record_purged", &[], &[]);
        assert_eq!(a["facts"]["record_state"], "purge_ordered", "{a}");
    }
}

/// A professional block holds in an emergency (rule 2): the blocked professional is refused
/// `professional_blocked` for every basis (also where an objection would be overridden), while
/// another professional in the same emergency is allowed. The block does not concern the patient
/// record. Right after the block is lifted the same professional is allowed again.
async fn a_blocked_professional_is_refused_in_an_emergency(backend: Backend) {
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID).await;
    let token = clinic_token(&app).await;

    let block = created(
        &app,
        &astrid,
        None,
        BLOCKS,
        json!({ "kind": "professional", "hpr_number": DOCTOR }),
    )
    .await;
    let a = decide(&app, &token, &query(ASTRID, SUMMARY, EMERGENCY)).await;
    assert_decision("emergency", &a, false, "professional_blocked", &[], &[]);
    assert_eq!(a["facts"]["professional_blocked"], true, "{a}");
    for basis in [ORDINARY, CONSENT] {
        let a = decide(&app, &token, &query(ASTRID, SUMMARY, basis)).await;
        assert_decision(basis, &a, false, "professional_blocked", &[], &[]);
    }
    // Only this one part asked: still refused.
    let q = with(
        query(ASTRID, SUMMARY, EMERGENCY),
        "parts",
        json!(["critical_information"]),
    );
    let a = decide(&app, &token, &q).await;
    assert_decision("one part", &a, false, "professional_blocked", &[], &[]);

    // Another professional in the same emergency, at the same organisation.
    let q = with(
        query(ASTRID, SUMMARY, EMERGENCY),
        "hpr_number",
        json!(OTHER_DOCTOR),
    );
    let a = decide(&app, &token, &q).await;
    assert_decision("another professional", &a, true, "no_restriction", &[], &[]);
    assert_eq!(a["facts"]["professional_blocked"], false, "{a}");

    // Not the patient record.
    for basis in [ORDINARY, EMERGENCY] {
        let a = decide(&app, &token, &query(ASTRID, PATIENT, basis)).await;
        assert_decision(basis, &a, true, "no_restriction", &[], &[]);
    }

    // Rule 2 before rule 3: an objection to the organisation is not overridden for him.
    created(
        &app,
        &astrid,
        None,
        OBJECTIONS,
        json!({ "kind": "organisation", "organisation_number": HOSPITAL }),
    )
    .await;
    let a = decide(&app, &token, &query(ASTRID, SUMMARY, EMERGENCY)).await;
    assert_decision(
        "with objection",
        &a,
        false,
        "professional_blocked",
        &[],
        &[],
    );
    assert_eq!(a["facts"]["objection"], "organisation", "{a}");
    assert!(
        items(&app, &astrid, None, OPENINGS).await.is_empty(),
        "a refusal opens nothing"
    );
    let q = with(
        query(ASTRID, SUMMARY, EMERGENCY),
        "organisation_number",
        json!(OTHER_HOSPITAL),
    );

    lifted(&app, &astrid, None, BLOCKS, &id_of(&block)).await;
    let a = decide(&app, &token, &q).await;
    assert_decision("after lifting", &a, true, "no_restriction", &[], &[]);
    assert_eq!(a["facts"]["professional_blocked"], false, "{a}");
}

/// An objection (rule 3), against the HPR number or against the organisation number, for both
/// resources: refused `objection` with ordinary care and with consent; allowed in an emergency
/// with `objection_overridden`. It concerns only its own target, and right after it is withdrawn
/// the same question is allowed with `no_restriction`.
async fn an_objection_is_overridden_only_in_an_emergency(backend: Backend) {
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID).await;
    let token = clinic_token(&app).await;

    let targets = [
        (
            json!({ "kind": "professional", "hpr_number": DOCTOR }),
            "professional",
            ("hpr_number", OTHER_DOCTOR),
        ),
        (
            json!({ "kind": "organisation", "organisation_number": HOSPITAL }),
            "organisation",
            ("organisation_number", OTHER_HOSPITAL),
        ),
    ];
    for (body, kind, (key, other)) in targets {
        let objection = created(&app, &astrid, None, OBJECTIONS, body).await;
        for resource in [SUMMARY, PATIENT] {
            for basis in [ORDINARY, CONSENT] {
                let what = format!("{kind} objection, {resource}, {basis}");
                let a = decide(&app, &token, &query(ASTRID, resource, basis)).await;
                assert_decision(&what, &a, false, "objection", &[], &[]);
                assert_eq!(a["facts"]["objection"], kind, "{what}: {a}");
            }
            let what = format!("{kind} objection, {resource}, emergency");
            let a = decide(&app, &token, &query(ASTRID, resource, EMERGENCY)).await;
            assert_decision(
                &what,
                &a,
                true,
                "objection_overridden",
                &["objection_overridden"],
                &[],
            );
            assert_eq!(a["facts"]["objection"], kind, "{what}: {a}");

            // Another professional or organisation is not concerned.
            let q = with(query(ASTRID, resource, ORDINARY), key, json!(other));
            let a = decide(&app, &token, &q).await;
            assert_decision(
                &format!("{what}, other"),
                &a,
                true,
                "no_restriction",
                &[],
                &[],
            );
            assert_eq!(a["facts"]["objection"], Value::Null, "{a}");
        }
        lifted(&app, &astrid, None, OBJECTIONS, &id_of(&objection)).await;
        for resource in [SUMMARY, PATIENT] {
            let a = decide(&app, &token, &query(ASTRID, resource, ORDINARY)).await;
            assert_decision(
                &format!("{kind} withdrawn, {resource}"),
                &a,
                true,
                "no_restriction",
                &[],
                &[],
            );
        }
    }
}

/// A whole-record block (rule 4): ordinary care is refused `record_blocked` (also for a single
/// part); consent opens it (`opened_on_consent`, opening `block_opened_on_consent`); an
/// emergency opens it (`opened_in_emergency`). The patient record is not concerned. With an
/// objection as well, consent is refused `objection` and an emergency carries both openings,
/// reason `objection_overridden` (rule 5). Lifted, ordinary care is allowed at once.
async fn a_blocked_record_opens_on_consent_or_in_an_emergency(backend: Backend) {
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID).await;
    let token = clinic_token(&app).await;

    let block = created(
        &app,
        &astrid,
        None,
        BLOCKS,
        json!({ "kind": "whole_record" }),
    )
    .await;
    let a = decide(&app, &token, &query(ASTRID, SUMMARY, ORDINARY)).await;
    assert_decision("ordinary care", &a, false, "record_blocked", &[], &[]);
    assert_eq!(a["facts"]["record_blocked"], true, "{a}");
    assert_eq!(a["facts"]["blocked_parts"], json!([]), "{a}");
    let q = with(
        query(ASTRID, SUMMARY, ORDINARY),
        "parts",
        json!(["vaccinations"]),
    );
    let a = decide(&app, &token, &q).await;
    assert_decision("one part", &a, false, "record_blocked", &[], &[]);

    let a = decide(&app, &token, &query(ASTRID, SUMMARY, CONSENT)).await;
    assert_decision(
        "consent",
        &a,
        true,
        "opened_on_consent",
        &["block_opened_on_consent"],
        &[],
    );
    let a = decide(&app, &token, &query(ASTRID, SUMMARY, EMERGENCY)).await;
    assert_decision(
        "emergency",
        &a,
        true,
        "opened_in_emergency",
        &["block_opened_in_emergency"],
        &[],
    );
    for basis in [ORDINARY, CONSENT, EMERGENCY] {
        let a = decide(&app, &token, &query(ASTRID, PATIENT, basis)).await;
        assert_decision(basis, &a, true, "no_restriction", &[], &[]);
    }

    // With an objection to the organisation too.
    let objection = created(
        &app,
        &astrid,
        None,
        OBJECTIONS,
        json!({ "kind": "organisation", "organisation_number": HOSPITAL }),
    )
    .await;
    let a = decide(&app, &token, &query(ASTRID, SUMMARY, CONSENT)).await;
    assert_decision("consent, objection", &a, false, "objection", &[], &[]);
    let a = decide(&app, &token, &query(ASTRID, SUMMARY, EMERGENCY)).await;
    assert_decision(
        "emergency, objection",
        &a,
        true,
        "objection_overridden",
        &["objection_overridden", "block_opened_in_emergency"],
        &[],
    );
    lifted(&app, &astrid, None, OBJECTIONS, &id_of(&objection)).await;

    lifted(&app, &astrid, None, BLOCKS, &id_of(&block)).await;
    let a = decide(&app, &token, &query(ASTRID, SUMMARY, ORDINARY)).await;
    assert_decision("lifted", &a, true, "no_restriction", &[], &[]);
    assert_eq!(a["facts"]["record_blocked"], false, "{a}");
}

/// A blocked part (rule 4): the whole record with ordinary care is allowed with that part
/// withheld (`blocked_parts_withheld`); asking only that part is refused `record_blocked`; asking
/// another part is `no_restriction`; consent opens just that part. Every part blocked one by one
/// is as good as the whole record blocked (listed in the vocabulary's order). Lifted, ordinary
/// care is allowed at once.
async fn blocked_parts_are_withheld_in_ordinary_care(backend: Backend) {
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID).await;
    let token = clinic_token(&app).await;
    let ordinary = |parts: Option<Value>| match parts {
        Some(p) => with(query(ASTRID, SUMMARY, ORDINARY), "parts", p),
        None => query(ASTRID, SUMMARY, ORDINARY),
    };

    let medicines = created(
        &app,
        &astrid,
        None,
        BLOCKS,
        json!({ "kind": "part", "part": "medicines" }),
    )
    .await;
    let a = decide(&app, &token, &ordinary(None)).await;
    assert_decision(
        "whole record",
        &a,
        true,
        "blocked_parts_withheld",
        &[],
        &["medicines"],
    );
    assert_eq!(a["facts"]["blocked_parts"], json!(["medicines"]), "{a}");
    assert_eq!(a["facts"]["record_blocked"], false, "{a}");
    let a = decide(&app, &token, &ordinary(Some(json!(["medicines"])))).await;
    assert_decision("medicines only", &a, false, "record_blocked", &[], &[]);
    let a = decide(&app, &token, &ordinary(Some(json!(["vaccinations"])))).await;
    assert_decision("vaccinations", &a, true, "no_restriction", &[], &[]);
    let a = decide(
        &app,
        &token,
        &ordinary(Some(json!(["vaccinations", "medicines"]))),
    )
    .await;
    assert_decision(
        "two parts",
        &a,
        true,
        "blocked_parts_withheld",
        &[],
        &["medicines"],
    );

    let consent = |parts: Value| with(query(ASTRID, SUMMARY, CONSENT), "parts", parts);
    let a = decide(&app, &token, &consent(json!(["medicines"]))).await;
    assert_decision(
        "consent, medicines",
        &a,
        true,
        "opened_on_consent",
        &["block_opened_on_consent"],
        &[],
    );
    let opened = items(&app, &astrid, None, OPENINGS).await;
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert_eq!(opened[0]["kind"], "block_opened_on_consent", "{opened:?}");
    assert_eq!(
        opened[0]["parts"],
        json!(["medicines"]),
        "only what was blocked"
    );
    let a = decide(&app, &token, &consent(json!(["vaccinations"]))).await;
    assert_decision(
        "consent, vaccinations",
        &a,
        true,
        "no_restriction",
        &[],
        &[],
    );

    // Every part, one by one (out of order): nothing is left to give in ordinary care.
    let mut others = Vec::new();
    for part in [
        "own_entries",
        "critical_information",
        "hospital_contacts",
        "vaccinations",
    ] {
        others.push(
            created(
                &app,
                &astrid,
                None,
                BLOCKS,
                json!({ "kind": "part", "part": part }),
            )
            .await,
        );
    }
    assert_record(&record_status(&app, &astrid, None).await, false, &PARTS);
    let a = decide(&app, &token, &ordinary(None)).await;
    assert_decision("every part", &a, false, "record_blocked", &[], &[]);
    assert_eq!(a["facts"]["blocked_parts"], json!(PARTS), "{a}");

    for block in others.iter().chain([&medicines]) {
        lifted(&app, &astrid, None, BLOCKS, &id_of(block)).await;
    }
    let a = decide(&app, &token, &ordinary(None)).await;
    assert_decision("lifted", &a, true, "no_restriction", &[], &[]);
    assert_eq!(a["facts"]["blocked_parts"], json!([]), "{a}");
}

/// Bad questions are 400 `validation-failed` naming the field, and open nothing even where an
/// objection would be overridden; the stated basis may be 200 characters, an organisation number
/// need not have a valid check digit here. No token is 401; a token without `consent:read` is
/// 403 `insufficient-scope`.
async fn bad_decision_queries_are_refused(backend: Backend) {
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID).await;
    let token = clinic_token(&app).await;
    created(
        &app,
        &astrid,
        None,
        OBJECTIONS,
        json!({ "kind": "organisation", "organisation_number": HOSPITAL }),
    )
    .await;
    created(
        &app,
        &astrid,
        None,
        BLOCKS,
        json!({ "kind": "whole_record" }),
    )
    .await;
    let snap = snapshot(&app, &astrid, None).await;
    let emergency = query(ASTRID, SUMMARY, EMERGENCY);

    let cases = [
        (
            with(emergency.clone(), "stated_basis", Value::Null),
            "stated_basis",
        ),
        (
            with(emergency.clone(), "stated_basis", json!("")),
            "stated_basis",
        ),
        (
            with(emergency.clone(), "stated_basis", json!("x".repeat(201))),
            "stated_basis",
        ),
        (
            with(
                query(ASTRID, PATIENT, EMERGENCY),
                "parts",
                json!(["medicines"]),
            ),
            "parts",
        ),
        (with(emergency.clone(), "parts", json!([])), "parts"),
        (with(emergency.clone(), "parts", json!(["x_rays"])), "parts"),
        (with(emergency.clone(), "pid", json!("123")), "pid"),
        (with(emergency.clone(), "pid", Value::Null), "pid"),
        (
            with(emergency.clone(), "hpr_number", json!("12a4567")),
            "hpr_number",
        ),
        (
            with(emergency.clone(), "hpr_number", json!("1234567890")),
            "hpr_number",
        ),
        (
            with(emergency.clone(), "organisation_number", json!("97474902")),
            "organisation_number",
        ),
        (
            with(
                emergency.clone(),
                "organisation_number",
                json!("9747490255"),
            ),
            "organisation_number",
        ),
    ];
    for (q, field) in cases {
        let (problem, _) = expect_problem(
            ask(&app, &token, &q),
            StatusCode::BAD_REQUEST,
            "validation-failed",
        )
        .await;
        assert_names_field(&problem, field, &q);
    }
    assert_eq!(
        snapshot(&app, &astrid, None).await,
        snap,
        "refusals change nothing"
    );
    assert!(items(&app, &astrid, None, OPENINGS).await.is_empty());

    // The edges that are fine: 200 characters; no check digit asked for here.
    let q = with(emergency.clone(), "stated_basis", json!("x".repeat(200)));
    let a = decide(&app, &token, &q).await;
    assert_eq!(a["allowed"], true, "{a}");
    let q = with(
        query(ASTRID, PATIENT, ORDINARY),
        "organisation_number",
        json!("974749026"),
    );
    let a = decide(&app, &token, &q).await;
    assert_decision("bad check digit", &a, true, "no_restriction", &[], &[]);

    // Who may ask.
    let before = app.feed_events().await;
    let (status, body) =
        tests::app::send_json(app.client.post(app.url(ACCESS)).json(&emergency)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no token: {body}");
    let no_scope = app
        .idp
        .service_token(CLINIC, "child-restrictions:write")
        .await;
    expect_problem(
        ask(&app, &no_scope, &emergency),
        StatusCode::FORBIDDEN,
        "insufficient-scope",
    )
    .await;
    expect_problem(
        app.as_service(&no_scope, Method::POST, ACCESS_BATCH)
            .json(&json!({ "items": [emergency] })),
        StatusCode::FORBIDDEN,
        "insufficient-scope",
    )
    .await;
    assert_eq!(app.feed_events().await, before, "refusals open nothing");
}

// ------------------------------------------------------------------------------ openings

/// Each allowed answer with openings adds an opening per kind (newest first, with the question's
/// professional, organisation, basis, stated basis and the calling client), a usage-log entry
/// (`summary_care_record.block_opened`, `objection.overridden`) and a feed event of that type.
/// A refusal, and an allowed answer without openings, add none.
async fn openings_are_shown_logged_and_announced(backend: Backend) {
    // On PostgreSQL openings are written pipelined on a worker's own connection, on SQLite
    // through the pool (api::opening_writes); this test checks the rows either way writes.
    let way = match backend {
        Backend::Postgres(_) => "pipelined",
        Backend::Sqlite => "pool",
    };
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID).await;
    let me = astrid.citizen_id.clone();
    let token = clinic_token(&app).await;
    created(
        &app,
        &astrid,
        None,
        BLOCKS,
        json!({ "kind": "whole_record" }),
    )
    .await;
    created(
        &app,
        &astrid,
        None,
        OBJECTIONS,
        json!({ "kind": "organisation", "organisation_number": HOSPITAL }),
    )
    .await;
    let log_before = sharing_entries(&log_of(&app, &astrid, None).await);
    let feed_before = sharing_events(&app.feed_events().await, &me);
    assert!(items(&app, &astrid, None, OPENINGS).await.is_empty());

    // 1. Consent opens the blocked record for another organisation.
    let from = app.server_now().await;
    let q = with(
        query(ASTRID, SUMMARY, CONSENT),
        "organisation_number",
        json!(OTHER_HOSPITAL),
    );
    let a = decide(&app, &token, &q).await;
    assert_eq!(a["openings"], json!(["block_opened_on_consent"]), "{a}");
    let openings = items(&app, &astrid, None, OPENINGS).await;
    assert_eq!(openings.len(), 1, "{openings:?}");
    let on_consent = &openings[0];
    assert_near("at", &on_consent["at"], from, 30);
    assert_eq!(
        on_consent["kind"], "block_opened_on_consent",
        "{on_consent}"
    );
    assert_eq!(on_consent["resource"], SUMMARY, "{on_consent}");
    let mut parts: Vec<String> = on_consent["parts"]
        .as_array()
        .map(|p| {
            p.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    parts.sort_unstable();
    let mut all: Vec<String> = PARTS.iter().map(|p| (*p).to_owned()).collect();
    all.sort_unstable();
    assert_eq!(parts, all, "the whole record was opened: {on_consent}");
    assert_eq!(on_consent["hpr_number"], DOCTOR, "{on_consent}");
    assert_eq!(
        on_consent["organisation_number"], OTHER_HOSPITAL,
        "{on_consent}"
    );
    assert_eq!(on_consent["basis"], CONSENT, "{on_consent}");
    assert_eq!(on_consent["stated_basis"], Value::Null, "{on_consent}");
    assert_eq!(on_consent["client_id"], CLINIC, "{on_consent}");

    // 2. An emergency overrides the objection to the patient record.
    let a = decide(&app, &token, &query(ASTRID, PATIENT, EMERGENCY)).await;
    assert_eq!(a["openings"], json!(["objection_overridden"]), "{a}");
    let openings = items(&app, &astrid, None, OPENINGS).await;
    assert_eq!(openings.len(), 2, "{openings:?}");
    assert_eq!(&openings[1], on_consent, "newest first");
    let overridden = &openings[0];
    assert_eq!(overridden["kind"], "objection_overridden", "{overridden}");
    assert_eq!(overridden["resource"], PATIENT, "{overridden}");
    assert_eq!(overridden["hpr_number"], DOCTOR, "{overridden}");
    assert_eq!(overridden["organisation_number"], HOSPITAL, "{overridden}");
    assert_eq!(overridden["basis"], EMERGENCY, "{overridden}");
    assert_eq!(overridden["stated_basis"], STATED, "{overridden}");
    assert_eq!(overridden["client_id"], CLINIC, "{overridden}");
    assert!(instant(&overridden["at"]) >= instant(&on_consent["at"]));

    let entries = sharing_entries(&log_of(&app, &astrid, None).await);
    assert_eq!(
        actions(&entries[..entries.len() - log_before.len()]),
        [OVERRIDDEN, BLOCK_OPENED],
        "{entries:?}"
    );
    let events = sharing_events(&app.feed_events().await, &me);
    assert_eq!(
        &events[feed_before.len()..],
        [BLOCK_OPENED, OVERRIDDEN],
        "{events:?}"
    );

    // A refusal, and an allowed answer without openings: nothing.
    let snap = (
        items(&app, &astrid, None, OPENINGS).await,
        log_of(&app, &astrid, None).await,
        app.feed_events().await,
    );
    let refused = decide(&app, &token, &query(ASTRID, SUMMARY, ORDINARY)).await;
    assert_eq!(refused["allowed"], false, "{refused}");
    let refused = decide(&app, &token, &query(ASTRID, PATIENT, CONSENT)).await;
    assert_eq!(refused["reason"], "objection", "{refused}");
    let q = with(
        query(ASTRID, PATIENT, ORDINARY),
        "organisation_number",
        json!(OTHER_HOSPITAL),
    );
    let plain = decide(&app, &token, &q).await;
    assert_decision("plain", &plain, true, "no_restriction", &[], &[]);
    assert_eq!(
        (
            items(&app, &astrid, None, OPENINGS).await,
            log_of(&app, &astrid, None).await,
            app.feed_events().await,
        ),
        snap,
        "no opening, entry or event"
    );

    // 3. An emergency that overrides the objection and opens the block: two openings.
    let a = decide(&app, &token, &query(ASTRID, SUMMARY, EMERGENCY)).await;
    assert_eq!(a["reason"], "objection_overridden", "{a}");
    let openings = items(&app, &astrid, None, OPENINGS).await;
    assert_eq!(openings.len(), 4, "{openings:?}");
    let mut kinds: Vec<&str> = openings[..2]
        .iter()
        .map(|o| o["kind"].as_str().unwrap_or_default())
        .collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        ["block_opened_in_emergency", "objection_overridden"],
        "{openings:?}"
    );
    for o in &openings[..2] {
        assert_eq!(o["resource"], SUMMARY, "{o}");
        assert_eq!(o["basis"], EMERGENCY, "{o}");
        assert_eq!(o["stated_basis"], STATED, "{o}");
    }
    let mut new_entries = actions(&sharing_entries(&log_of(&app, &astrid, None).await)[..2]);
    new_entries.sort_unstable();
    assert_eq!(new_entries, [OVERRIDDEN, BLOCK_OPENED]);
    let events = sharing_events(&app.feed_events().await, &me);
    let mut new_events = events[events.len() - 2..].to_vec();
    new_events.sort_unstable();
    assert_eq!(new_events, [OVERRIDDEN, BLOCK_OPENED], "{events:?}");

    // Three answers wrote openings, each in one transaction, all the backend's way.
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let writes: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("consent_portal_opening_writes_total{"))
        .collect();
    assert_eq!(
        writes,
        [format!(
            "consent_portal_opening_writes_total{{way=\"{way}\"}} 3"
        )],
        "{metrics}"
    );
}

// ------------------------------------------------------------------------------ who may

/// Kari blocks Nora's (5) record and lifts the block with `X-Acting-For`, and objects for her:
/// the entries are in Nora's log by Kari as a guardian, the events about Nora, and Kari's own
/// record is untouched. For Lukas (14) she may do nothing (403 `not-allowed-on-behalf`), not even
/// read his blocks, and nothing changes.
async fn a_guardian_blocks_for_a_young_child_only(backend: Backend) {
    let app = portal(backend).await;
    let kari = citizen(&app, KARI).await;
    let token = clinic_token(&app).await;
    let (for_nora, nora) = representation(&app, &kari, "Nora Nordmann").await;
    let (for_lukas, lukas) = representation(&app, &kari, "Lukas Nordmann").await;
    let nora_log_before = log_of(&app, &kari, Some(&for_nora)).await;

    let block = created(
        &app,
        &kari,
        Some(&for_nora),
        BLOCKS,
        json!({ "kind": "whole_record" }),
    )
    .await;
    assert_block(&block, "whole_record", None, None);
    assert_eq!(
        items(&app, &kari, Some(&for_nora), BLOCKS).await,
        std::slice::from_ref(&block)
    );
    assert!(
        items(&app, &kari, None, BLOCKS).await.is_empty(),
        "not Kari's"
    );
    assert_record(
        &record_status(&app, &kari, Some(&for_nora)).await,
        true,
        &[],
    );
    let a = decide(&app, &token, &query(NORA, SUMMARY, ORDINARY)).await;
    assert_eq!(a["subject_id"], nora.as_str(), "{a}");
    assert_decision("Nora", &a, false, "record_blocked", &[], &[]);
    let a = decide(&app, &token, &query(KARI, SUMMARY, ORDINARY)).await;
    assert_decision("Kari", &a, true, "no_restriction", &[], &[]);

    let objection = created(
        &app,
        &kari,
        Some(&for_nora),
        OBJECTIONS,
        json!({ "kind": "professional", "hpr_number": DOCTOR }),
    )
    .await;
    lifted(&app, &kari, Some(&for_nora), OBJECTIONS, &id_of(&objection)).await;
    lifted(&app, &kari, Some(&for_nora), BLOCKS, &id_of(&block)).await;
    assert!(items(&app, &kari, Some(&for_nora), BLOCKS).await.is_empty());
    let a = decide(&app, &token, &query(NORA, SUMMARY, ORDINARY)).await;
    assert_decision("Nora, lifted", &a, true, "no_restriction", &[], &[]);

    let nora_log = log_of(&app, &kari, Some(&for_nora)).await;
    let entries = sharing_entries(&nora_log[..nora_log.len() - nora_log_before.len()]);
    assert_eq!(
        actions(&entries),
        [BLOCK_LIFTED, WITHDRAWN, OBJECTED, BLOCKED],
        "{nora_log:?}"
    );
    for e in &entries {
        assert_eq!(e["actor_kind"], "guardian", "{e}");
        assert_eq!(e["actor_id"], kari.citizen_id.as_str(), "{e}");
    }
    // Kari's own log may note what she did for Nora (as elsewhere), but nothing of her own.
    for e in sharing_entries(&log_of(&app, &kari, None).await) {
        assert_eq!(e["details"]["on_behalf_of"], nora.as_str(), "{e}");
    }
    let events = app.feed_events().await;
    assert_eq!(
        sharing_events(&events, &nora),
        [BLOCKED, OBJECTED, WITHDRAWN, BLOCK_LIFTED],
        "{events:?}"
    );
    assert!(sharing_events(&events, &kari.citizen_id).is_empty());

    // Lukas (14): nothing.
    let before = (snapshot(&app, &kari, None).await, app.feed_events().await);
    for path in [BLOCKS, OBJECTIONS] {
        expect_problem(
            request(&app, &kari, Some(&for_lukas), Method::GET, path),
            StatusCode::FORBIDDEN,
            "not-allowed-on-behalf",
        )
        .await;
    }
    for (path, body) in [
        (BLOCKS, json!({ "kind": "whole_record" })),
        (
            OBJECTIONS,
            json!({ "kind": "professional", "hpr_number": DOCTOR }),
        ),
    ] {
        expect_problem(
            post(&app, &kari, Some(&for_lukas), path, &body),
            StatusCode::FORBIDDEN,
            "not-allowed-on-behalf",
        )
        .await;
    }
    assert_eq!(
        (snapshot(&app, &kari, None).await, app.feed_events().await),
        before,
        "refusals change nothing"
    );
    assert!(sharing_events(&before.1, &lukas).is_empty());
    let a = decide(&app, &token, &query(LUKAS, SUMMARY, ORDINARY)).await;
    assert_decision("Lukas", &a, true, "no_restriction", &[], &[]);
}

/// Bjørn, holding Astrid's power of attorney for every area, may not block, object or lift for
/// her (403 `not-allowed-on-behalf`). Astrid logged in at `substantial` may read but not change
/// (403 `step-up-required`); with the cookie and no CSRF token a change is 403 `csrf-failed`; the
/// same session as a bearer token needs none. Ingrid, who has not accepted the terms, gets 403
/// `consent-required`. None of the refusals changes anything.
async fn others_and_weak_sessions_change_nothing(backend: Backend) {
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID).await;
    let bjorn = citizen(&app, BJORN).await;
    let block = created(
        &app,
        &astrid,
        None,
        BLOCKS,
        json!({ "kind": "whole_record" }),
    )
    .await;
    let objection = created(
        &app,
        &astrid,
        None,
        OBJECTIONS,
        json!({ "kind": "professional", "hpr_number": DOCTOR }),
    )
    .await;

    // The power of attorney.
    let (status, grant) = app
        .send_json(
            &astrid,
            Method::POST,
            POWERS_OF_ATTORNEY,
            json!({ "grantee_pid": BJORN, "all_areas": true }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    let (status, body) = app
        .send_json(
            &bjorn,
            Method::POST,
            &format!("{POWERS_OF_ATTORNEY}/{}/acceptance", id_of(&grant)),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (for_astrid, _) = representation(&app, &bjorn, &astrid.citizen_id).await;
    let substantial = app.login_at(ASTRID, Some("idporten-loa-substantial")).await;
    let ingrid = app.login(INGRID).await;

    let snap = snapshot(&app, &astrid, None).await;
    let bjorn_own = snapshot(&app, &bjorn, None).await;
    let changes = |s: &Session, rep: Option<&str>| {
        vec![
            post(
                &app,
                s,
                rep,
                BLOCKS,
                &json!({ "kind": "part", "part": "medicines" }),
            ),
            post(
                &app,
                s,
                rep,
                OBJECTIONS,
                &json!({ "kind": "organisation", "organisation_number": HOSPITAL }),
            ),
            delete(&app, s, rep, BLOCKS, &id_of(&block)),
            delete(&app, s, rep, OBJECTIONS, &id_of(&objection)),
        ]
    };
    for req in changes(&bjorn, Some(&for_astrid)) {
        expect_problem(req, StatusCode::FORBIDDEN, "not-allowed-on-behalf").await;
    }
    for req in changes(&substantial, None) {
        expect_problem(req, StatusCode::FORBIDDEN, "step-up-required").await;
    }
    for req in changes(&ingrid, None) {
        expect_problem(req, StatusCode::FORBIDDEN, "consent-required").await;
    }
    let cookie_only = |method: Method, path: &str| {
        app.client
            .request(method, app.url(path))
            .header("cookie", &astrid.cookie)
    };
    for req in [
        cookie_only(Method::POST, BLOCKS).json(&json!({ "kind": "part", "part": "medicines" })),
        cookie_only(Method::POST, OBJECTIONS)
            .json(&json!({ "kind": "organisation", "organisation_number": HOSPITAL })),
        cookie_only(Method::DELETE, &format!("{BLOCKS}/{}", id_of(&block))),
        cookie_only(
            Method::DELETE,
            &format!("{OBJECTIONS}/{}", id_of(&objection)),
        ),
    ] {
        expect_problem(req, StatusCode::FORBIDDEN, "csrf-failed").await;
    }
    assert_eq!(
        snapshot(&app, &astrid, None).await,
        snap,
        "refusals change nothing"
    );
    assert_eq!(snapshot(&app, &bjorn, None).await, bjorn_own);
    // Reading needs no step-up.
    assert_eq!(items(&app, &substantial, None, BLOCKS).await, snap.0);

    // The bearer form of Astrid's session needs no CSRF token.
    let (status, body) = tests::app::send_json(
        app.client
            .post(app.url(BLOCKS))
            .header("authorization", format!("Bearer {}", astrid.token))
            .json(&json!({ "kind": "part", "part": "medicines" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_block(&body, "part", Some("medicines"), None);
}

// -------------------------------------------------------------------------------- batches

/// Three questions in one batch are answered in order, each as the same question alone.
async fn batches_answer_in_order_like_single_questions(backend: Backend) {
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID).await;
    let token = clinic_token(&app).await;
    created(
        &app,
        &astrid,
        None,
        BLOCKS,
        json!({ "kind": "part", "part": "medicines" }),
    )
    .await;
    created(
        &app,
        &astrid,
        None,
        OBJECTIONS,
        json!({ "kind": "professional", "hpr_number": OTHER_DOCTOR }),
    )
    .await;

    let questions = [
        query(ASTRID, SUMMARY, ORDINARY),
        with(
            query(ASTRID, PATIENT, CONSENT),
            "hpr_number",
            json!(OTHER_DOCTOR),
        ),
        query(BJORN, PATIENT, ORDINARY),
    ];
    let mut singles = Vec::new();
    for q in &questions {
        singles.push(decide(&app, &token, q).await);
    }
    let reasons: Vec<&Value> = singles.iter().map(|a| &a["reason"]).collect();
    assert_eq!(
        reasons,
        ["blocked_parts_withheld", "objection", "no_restriction"]
    );

    let (status, body) = tests::app::send_json(
        app.as_service(&token, Method::POST, ACCESS_BATCH)
            .json(&json!({ "items": questions })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answers = body["items"].as_array().cloned().unwrap_or_default();
    for a in &answers {
        assert_answer_shape(a);
    }
    assert_eq!(answers, singles, "in order, as alone");
}

/// A batch of 0 or 101 questions is 400 naming `items`; 100 are answered; a bad question is
/// named by its index (`items[1].…`) and the batch opens nothing.
async fn bad_batches_are_refused(backend: Backend) {
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID).await;
    let token = clinic_token(&app).await;
    created(
        &app,
        &astrid,
        None,
        BLOCKS,
        json!({ "kind": "whole_record" }),
    )
    .await;
    let snap = snapshot(&app, &astrid, None).await;
    let q = query(ASTRID, SUMMARY, ORDINARY);
    let batch = |items: Vec<Value>| {
        app.as_service(&token, Method::POST, ACCESS_BATCH)
            .json(&json!({ "items": items }))
    };

    for n in [0, 101] {
        let items = vec![q.clone(); n];
        let (problem, _) = expect_problem(
            batch(items.clone()),
            StatusCode::BAD_REQUEST,
            "validation-failed",
        )
        .await;
        assert_names_field(&problem, "items", &json!({ "items": n }));
    }
    let emergency = query(ASTRID, SUMMARY, EMERGENCY);
    for (second, field) in [
        (
            with(emergency.clone(), "stated_basis", Value::Null),
            "items[1].stated_basis",
        ),
        (
            with(
                query(ASTRID, PATIENT, ORDINARY),
                "parts",
                json!(["medicines"]),
            ),
            "items[1].parts",
        ),
        (
            with(q.clone(), "hpr_number", json!("12a4567")),
            "items[1].hpr_number",
        ),
    ] {
        let body = vec![emergency.clone(), second];
        let (problem, _) = expect_problem(
            batch(body.clone()),
            StatusCode::BAD_REQUEST,
            "validation-failed",
        )
        .await;
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .map(|es| es.iter().filter_map(|e| e["field"].as_str()).collect())
            .unwrap_or_default();
        assert!(fields.contains(&field), "{field}: {problem}");
    }
    assert_eq!(
        snapshot(&app, &astrid, None).await,
        snap,
        "refusals change nothing"
    );
    assert!(
        items(&app, &astrid, None, OPENINGS).await.is_empty(),
        "a refused batch opens nothing"
    );

    let (status, body) = tests::app::send_json(batch(vec![q.clone(); 100])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answers = body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(answers.len(), 100);
    assert!(answers.iter().all(|a| a["reason"] == "record_blocked"));
}

both_backends!(
    blocks_are_added_listed_and_lifted,
    lists_made_within_one_second_are_newest_first,
    bad_blocks_and_objections_are_refused,
    objections_are_registered_and_withdrawn,
    the_record_state_comes_first,
    a_blocked_professional_is_refused_in_an_emergency,
    an_objection_is_overridden_only_in_an_emergency,
    a_blocked_record_opens_on_consent_or_in_an_emergency,
    blocked_parts_are_withheld_in_ordinary_care,
    bad_decision_queries_are_refused,
    openings_are_shown_logged_and_announced,
    a_guardian_blocks_for_a_young_child_only,
    others_and_weak_sessions_change_nothing,
    batches_answer_in_order_like_single_questions,
    bad_batches_are_refused,
);

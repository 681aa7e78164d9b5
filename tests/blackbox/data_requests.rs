//! Data-subject requests (issue 8, part 1; DESIGN.md §2.9): a citizen files a request for
//! insight, rectification, erasure, restriction, objection or portability; the responsible
//! organisation works through its machine queue (`data-requests:handle`), acknowledging,
//! extending (once, with a reason, before the first deadline), answering or refusing (with its
//! reason, provision and where to complain) each request against its deadline.
//!
//! Deadlines follow the Europe/Oslo calendar: a request received on Oslo day D must be answered
//! before 00:00 Oslo on D + 31, or, extended, on D + 91. Every test pins the server's clock to
//! [`TODAY`]; sessions time out across the clock's jumps, so the tests log in again after each
//! (service tokens are checked against the system clock and stay valid). Refused requests are
//! checked to change nothing: the citizen's list, the subject's usage log, the feed and the queue
//! read the same afterwards.

use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use tests::persons::{ASTRID, BJORN, INGRID, KARI, LUKAS, NORA};
use tests::{at, both_backends, instant, Backend, Session, TestApp};

use crate::errors::expect_problem;

const REQUESTS: &str = "/api/v1/data-requests";
const QUEUE: &str = "/api/v1/data-request-queue";
const ACTING_FOR: &str = "X-Acting-For";
const SCOPE: &str = "data-requests:handle";
const PRIVACY_CLIENT: &str = "dev-service-privacy";

const RECEIVED: &str = "data_request.received";
const ACKNOWLEDGED: &str = "data_request.acknowledged";
const EXTENDED: &str = "data_request.extended";
const ANSWERED: &str = "data_request.answered";
const REFUSED: &str = "data_request.refused";
const ACTIONS: [&str; 5] = [RECEIVED, ACKNOWLEDGED, EXTENDED, ANSWERED, REFUSED];

/// "Today": 13:00 in Oslo on Monday 23 November 2026.
const TODAY: &str = "2026-11-23T12:00:00Z";
/// A request received [`TODAY`] is due by the end of 23 December Oslo time: 00:00 Europe/Oslo
/// (CET, UTC+1) on 24 December.
const FIRST_DEADLINE: &str = "2026-12-23T23:00:00Z";
/// Extended, by the end of 21 February 2027 Oslo time.
const EXTENDED_DEADLINE: &str = "2027-02-21T23:00:00Z";

/// The keys of a DataRequest, sorted.
const REQUEST_KEYS: [&str; 13] = [
    "acknowledged_at",
    "answer",
    "categories",
    "deadline",
    "extended",
    "id",
    "kind",
    "overdue",
    "received_at",
    "refusal",
    "status",
    "subject_id",
    "text",
];

/// The machine steps, by the last segment of their path.
const STEPS: [&str; 4] = ["acknowledgement", "extension", "answer", "refusal"];

// ---------------------------------------------------------------------------------- helpers

/// A server with its clock pinned to [`TODAY`].
async fn portal(backend: Backend) -> TestApp {
    let app = TestApp::builder(backend)
        .env("PURGE_INTERVAL_SECONDS", "0")
        .spawn()
        .await;
    app.set_clock(TODAY).await;
    app
}

/// Logs `pid` in and accepts the terms in force in full.
async fn citizen(app: &TestApp, pid: &str) -> Session {
    let s = app.login(pid).await;
    app.accept_terms(&s, "full").await;
    s
}

/// Sets the clock to `t` a minute early, logs `pid` in again (the old session timed out across
/// the jump), then sets the clock to `t` exactly.
async fn jump_to(app: &TestApp, t: DateTime<Utc>, pid: &str) -> Session {
    app.set_clock(&(t - Duration::seconds(60)).to_rfc3339())
        .await;
    let s = app.login(pid).await;
    app.set_clock(&t.to_rfc3339()).await;
    s
}

/// `v` is a time within `[from - 1 s, from + slack]`.
fn assert_near(what: &str, v: &Value, from: DateTime<Utc>, slack_seconds: i64) {
    let t = instant(v);
    assert!(
        t >= from - Duration::seconds(1) && t <= from + Duration::seconds(slack_seconds),
        "{what}: {t} is not within {slack_seconds} s after {from}"
    );
}

/// The text contains no identity number of the persons these tests use.
fn assert_no_pids(what: &str, text: &str) {
    for pid in [ASTRID, BJORN, INGRID, KARI, LUKAS, NORA] {
        assert!(
            !text.contains(pid),
            "{what} carries an identity number: {text}"
        );
    }
}

/// A citizen request, acting for `rep` when given.
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

/// `POST /api/v1/data-requests` with `body`.
fn file(app: &TestApp, s: &Session, rep: Option<&str>, body: &Value) -> RequestBuilder {
    request(app, s, rep, Method::POST, REQUESTS).json(body)
}

/// A filing that must succeed: 201 with a fresh, well-formed request as the contract describes
/// it, received about `now` and due at the first deadline for that day.
async fn file_ok(
    app: &TestApp,
    s: &Session,
    rep: Option<&str>,
    kind: &str,
    text: &str,
    categories: &[&str],
) -> Value {
    let now = app.server_now().await;
    let (status, body) = tests::app::send_json(file(
        app,
        s,
        rep,
        &json!({ "kind": kind, "text": text, "categories": categories }),
    ))
    .await;
    assert_eq!(status, StatusCode::CREATED, "POST {REQUESTS}: {body}");
    assert_request_shape(&body);
    assert_eq!(body["kind"], kind, "{body}");
    assert_eq!(body["text"], text, "{body}");
    assert_eq!(body["categories"], json!(categories), "{body}");
    assert_eq!(body["status"], "received", "{body}");
    assert_near("received_at", &body["received_at"], now, 30);
    for key in ["acknowledged_at", "extended", "answer", "refusal"] {
        assert_eq!(body[key], Value::Null, "{key}: {body}");
    }
    assert_eq!(body["overdue"], false, "{body}");
    body
}

/// Every key of the contract's DataRequest, well-typed, and no identity number.
fn assert_request_shape(body: &Value) {
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap_or_else(|| panic!("a DataRequest object: {body}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, REQUEST_KEYS, "{body}");
    for key in ["id", "subject_id", "kind", "text", "status"] {
        assert!(
            body[key].as_str().is_some_and(|v| !v.is_empty()),
            "{key}: {body}"
        );
    }
    assert!(body["categories"].is_array(), "{body}");
    assert!(body["overdue"].is_boolean(), "{body}");
    instant(&body["received_at"]);
    instant(&body["deadline"]);
    if !body["acknowledged_at"].is_null() {
        instant(&body["acknowledged_at"]);
    }
    assert_no_pids("the request", &body.to_string());
}

fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("an id: {v}"))
        .to_owned()
}

/// A request with its times cut to whole seconds, so that an answer compares with what a later
/// read returns whatever precision the database keeps.
fn to_seconds(v: &Value) -> Value {
    let mut out = v.clone();
    let cut = |t: &Value| -> Value {
        if t.is_null() {
            Value::Null
        } else {
            json!(instant(t).timestamp())
        }
    };
    for key in ["received_at", "acknowledged_at", "deadline"] {
        out[key] = cut(&v[key]);
    }
    if v["extended"].is_object() {
        out["extended"]["announced_at"] = cut(&v["extended"]["announced_at"]);
        out["extended"]["until"] = cut(&v["extended"]["until"]);
    }
    for key in ["answer", "refusal"] {
        if v[key].is_object() {
            out[key]["at"] = cut(&v[key]["at"]);
        }
    }
    out
}

/// The caller's (or, with `rep`, the represented person's) requests: `(subject_id, items)`.
async fn list_of(app: &TestApp, s: &Session, rep: Option<&str>) -> (String, Vec<Value>) {
    let (status, body) = tests::app::send_json(request(app, s, rep, Method::GET, REQUESTS)).await;
    assert_eq!(status, StatusCode::OK, "GET {REQUESTS}: {body}");
    let items = body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("items: {body}"))
        .clone();
    for item in &items {
        assert_request_shape(item);
    }
    let subject = body["subject_id"]
        .as_str()
        .unwrap_or_else(|| panic!("subject_id: {body}"))
        .to_owned();
    (subject, items)
}

/// One of the caller's (or the represented person's) requests.
async fn one_of(app: &TestApp, s: &Session, rep: Option<&str>, id: &str) -> Value {
    let path = format!("{REQUESTS}/{id}");
    let (status, body) = tests::app::send_json(request(app, s, rep, Method::GET, &path)).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    assert_request_shape(&body);
    body
}

/// The citizen reads `expected` the same (to the second) in their list and by its id.
async fn citizen_sees(app: &TestApp, s: &Session, rep: Option<&str>, expected: &Value) {
    let id = id_of(expected);
    let one = one_of(app, s, rep, &id).await;
    assert_eq!(to_seconds(&one), to_seconds(expected), "GET by id");
    let (_, items) = list_of(app, s, rep).await;
    let listed = items
        .iter()
        .find(|r| r["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} is in the list: {items:?}"));
    assert_eq!(to_seconds(listed), to_seconds(expected), "in the list");
}

async fn privacy_token(app: &TestApp) -> String {
    app.idp.service_token(PRIVACY_CLIENT, SCOPE).await
}

async fn reader_token(app: &TestApp) -> String {
    app.idp
        .service_token("dev-service-reader", "consent:read")
        .await
}

/// The open requests in the machine queue, in its order.
async fn queue(app: &TestApp, token: &str) -> Vec<Value> {
    queue_at(app, token, &format!("{QUEUE}?limit=200")).await
}

async fn queue_at(app: &TestApp, token: &str, path: &str) -> Vec<Value> {
    let (status, body) = tests::app::send_json(app.as_service(token, Method::GET, path)).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    let items = body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("items: {body}"))
        .clone();
    for item in &items {
        assert_request_shape(item);
        assert!(
            ["received", "acknowledged", "extended"]
                .contains(&item["status"].as_str().unwrap_or("")),
            "only open requests are queued: {item}"
        );
    }
    items
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(id_of).collect()
}

/// The queue's entry for `id`.
fn queued<'a>(items: &'a [Value], id: &str) -> &'a Value {
    items
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{id} is queued: {items:?}"))
}

/// A machine step (`acknowledgement`, `extension`, `answer`, `refusal`) on request `id`.
fn step(app: &TestApp, token: &str, id: &str, what: &str, body: &Value) -> RequestBuilder {
    app.as_service(token, Method::POST, &format!("{QUEUE}/{id}/{what}"))
        .json(body)
}

/// A machine step that must succeed: 200 with a well-formed request.
async fn step_ok(app: &TestApp, token: &str, id: &str, what: &str, body: &Value) -> Value {
    let (status, answer) = tests::app::send_json(step(app, token, id, what, body)).await;
    assert_eq!(status, StatusCode::OK, "POST {QUEUE}/{id}/{what}: {answer}");
    assert_request_shape(&answer);
    assert_eq!(answer["id"], id, "{answer}");
    answer
}

/// A body each step would accept, had the request been open.
fn good_body(what: &str) -> Value {
    match what {
        "acknowledgement" => json!({}),
        "extension" => json!({ "reason": "Forespørselen gjelder mange systemer." }),
        "answer" => json!({ "text": "Her er opplysningene." }),
        "refusal" => json!({
            "reason": "Vi har ingen slike opplysninger.",
            "provision": "personvernforordningen art. 12 nr. 5",
            "ground": "ordinary",
        }),
        other => panic!("no step {other}"),
    }
}

/// A 400 `validation-failed` whose errors name `field`.
async fn expect_field_error(req: RequestBuilder, field: &str) -> Value {
    let (p, _) = expect_problem(req, StatusCode::BAD_REQUEST, "validation-failed").await;
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    assert!(fields.contains(&field), "the problem names {field}: {p}");
    assert_no_pids("the problem", &p.to_string());
    p
}

/// The usage log of the caller (or, with `rep`, of the person acted for), newest first.
async fn log_of(app: &TestApp, s: &Session, rep: Option<&str>) -> Vec<Value> {
    let Some(rep) = rep else {
        return app.usage_log(s).await;
    };
    let mut out = Vec::new();
    let mut path = "/api/v1/usage-log?limit=100".to_owned();
    loop {
        let (status, page) =
            tests::app::send_json(request(app, s, Some(rep), Method::GET, &path)).await;
        assert_eq!(status, StatusCode::OK, "the log acted for: {page}");
        out.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/usage-log?limit=100&cursor={c}"),
            None => return out,
        }
    }
}

/// The data-request entries of a log (newest first).
fn request_entries(log: &[Value]) -> Vec<Value> {
    log.iter()
        .filter(|e| ACTIONS.contains(&e["action"].as_str().unwrap_or_default()))
        .cloned()
        .collect()
}

fn actions(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The data-request events about `subject`, in feed order.
fn request_events(feed: &[(String, String)], subject: &str) -> Vec<String> {
    feed.iter()
        .filter(|(t, s)| s == subject && t.starts_with("data_request."))
        .map(|(t, _)| t.clone())
        .collect()
}

/// Every data-request event in the feed, whoever it is about.
fn all_request_events(feed: &[(String, String)]) -> Vec<(String, String)> {
    feed.iter()
        .filter(|(t, _)| t.starts_with("data_request."))
        .cloned()
        .collect()
}

type Snapshot = (Vec<Value>, Vec<Value>, Vec<(String, String)>, Vec<Value>);

/// What a refused request must leave alone: the citizen's requests, their log, the feed and the
/// queue.
async fn snapshot(app: &TestApp, s: &Session, rep: Option<&str>, token: &str) -> Snapshot {
    (
        list_of(app, s, rep).await.1,
        log_of(app, s, rep).await,
        app.feed_events().await,
        queue(app, token).await,
    )
}

/// The person `name` among the caller's representations: (representation id, citizen id).
async fn representation(app: &TestApp, s: &Session, name: &str) -> (String, String) {
    let (status, list) = app.get_json(s, "/api/v1/representations").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let rep = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["person"]["name"] == name)
        .unwrap_or_else(|| panic!("{name} is listed: {list}"));
    (
        rep["representation_id"].as_str().expect("id").to_owned(),
        rep["person"]["citizen_id"].as_str().expect("id").to_owned(),
    )
}

// ---------------------------------------------------------------------------------- the life

/// Astrid asks for insight at 13:00 Oslo on 23 November: 201, received, due at 00:00 Oslo on
/// 24 December, in her list and in the queue. The organisation acknowledges it (a second
/// acknowledgement is 409 `already-acknowledged`), extends it with its reason before the first
/// deadline (the deadline moves to 00:00 Oslo on 22 February; a second extension is 409
/// `already-extended`; an empty reason 400 naming `reason`) and answers it with a text and a
/// JSON document. Astrid reads it answered, with the answer; the queue no longer lists it; every
/// step is once in her log (newest first) and once in the feed (in order). On the answered
/// request each step is 409 `request-closed` and changes nothing.
async fn a_request_through_its_whole_life(backend: Backend) {
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID).await;
    let me = astrid.citizen_id.clone();
    let token = privacy_token(&app).await;
    let log_before = app.usage_log(&astrid).await;
    assert!(request_entries(&log_before).is_empty(), "{log_before:?}");
    let (subject, items) = list_of(&app, &astrid, None).await;
    assert_eq!(subject, me);
    assert!(items.is_empty(), "{items:?}");
    assert!(queue(&app, &token).await.is_empty());

    let text = "Jeg ber om innsyn i hvem som har sett journalen min det siste året.";
    let filed = file_ok(
        &app,
        &astrid,
        None,
        "insight",
        text,
        &["usage_log", "summary_care_record"],
    )
    .await;
    assert_eq!(filed["subject_id"], me.as_str(), "{filed}");
    assert_eq!(instant(&filed["deadline"]), at(FIRST_DEADLINE), "{filed}");
    let id = id_of(&filed);
    citizen_sees(&app, &astrid, None, &filed).await;
    let (subject, items) = list_of(&app, &astrid, None).await;
    assert_eq!(subject, me);
    assert_eq!(ids(&items), [id.as_str()]);
    let q = queue(&app, &token).await;
    assert_eq!(ids(&q), [id.as_str()]);
    assert_eq!(to_seconds(&q[0]), to_seconds(&filed), "the queue's view");

    // Acknowledged.
    let asked = app.server_now().await;
    let acked = step_ok(&app, &token, &id, "acknowledgement", &json!({})).await;
    assert_eq!(acked["status"], "acknowledged", "{acked}");
    assert_near("acknowledged_at", &acked["acknowledged_at"], asked, 30);
    assert_eq!(instant(&acked["deadline"]), at(FIRST_DEADLINE), "{acked}");
    assert_eq!(acked["extended"], Value::Null, "{acked}");
    assert_eq!(acked["overdue"], false, "{acked}");
    assert_eq!(
        to_seconds(&acked)["received_at"],
        to_seconds(&filed)["received_at"]
    );
    citizen_sees(&app, &astrid, None, &acked).await;

    let snap = snapshot(&app, &astrid, None, &token).await;
    expect_problem(
        step(&app, &token, &id, "acknowledgement", &json!({})),
        StatusCode::CONFLICT,
        "already-acknowledged",
    )
    .await;
    expect_field_error(
        step(&app, &token, &id, "extension", &json!({ "reason": "" })),
        "reason",
    )
    .await;
    expect_field_error(step(&app, &token, &id, "extension", &json!({})), "reason").await;
    assert_eq!(
        snapshot(&app, &astrid, None, &token).await,
        snap,
        "refusals change nothing"
    );

    // Extended, a week later and well before the first deadline.
    let astrid = jump_to(&app, at("2026-11-30T09:00:00Z"), ASTRID).await;
    let reason = "Innsynet omfatter logger fra flere virksomheter som må hentes inn.";
    let asked = app.server_now().await;
    let ext = step_ok(&app, &token, &id, "extension", &json!({ "reason": reason })).await;
    assert_eq!(ext["status"], "extended", "{ext}");
    assert_eq!(instant(&ext["deadline"]), at(EXTENDED_DEADLINE), "{ext}");
    assert_near(
        "extended.announced_at",
        &ext["extended"]["announced_at"],
        asked,
        30,
    );
    assert_eq!(ext["extended"]["reason"], reason, "{ext}");
    assert_eq!(
        instant(&ext["extended"]["until"]),
        at(EXTENDED_DEADLINE),
        "{ext}"
    );
    assert_eq!(
        to_seconds(&ext)["acknowledged_at"],
        to_seconds(&acked)["acknowledged_at"],
        "{ext}"
    );
    assert_eq!(ext["overdue"], false, "{ext}");
    citizen_sees(&app, &astrid, None, &ext).await;
    assert_eq!(
        to_seconds(queued(&queue(&app, &token).await, &id)),
        to_seconds(&ext)
    );

    let snap = snapshot(&app, &astrid, None, &token).await;
    expect_problem(
        step(
            &app,
            &token,
            &id,
            "extension",
            &json!({ "reason": "Enda mer tid." }),
        ),
        StatusCode::CONFLICT,
        "already-extended",
    )
    .await;
    expect_problem(
        step(&app, &token, &id, "acknowledgement", &json!({})),
        StatusCode::CONFLICT,
        "already-acknowledged",
    )
    .await;
    assert_eq!(
        snapshot(&app, &astrid, None, &token).await,
        snap,
        "refusals change nothing"
    );

    // Answered, with a machine-readable document.
    let document = json!({
        "openings": [
            { "at": "2026-03-02T10:15:00Z", "by": "Fastlegekontoret", "purpose": "treatment" },
            { "at": "2026-08-19T07:40:00Z", "by": "Legevakten", "purpose": "emergency" }
        ],
        "complete": true,
        "count": 2
    });
    let answer_text = "Vedlagt er oversikten over hvem som har åpnet journalen din.";
    let asked = app.server_now().await;
    let answered = step_ok(
        &app,
        &token,
        &id,
        "answer",
        &json!({ "text": answer_text, "document": document }),
    )
    .await;
    assert_eq!(answered["status"], "answered", "{answered}");
    assert_near("answer.at", &answered["answer"]["at"], asked, 30);
    assert_eq!(answered["answer"]["text"], answer_text, "{answered}");
    assert_eq!(answered["answer"]["document"], document, "{answered}");
    assert_eq!(answered["refusal"], Value::Null, "{answered}");
    assert_eq!(answered["overdue"], false, "{answered}");
    assert_eq!(answered["extended"]["reason"], reason, "{answered}");
    citizen_sees(&app, &astrid, None, &answered).await;
    let mine = one_of(&app, &astrid, None, &id).await;
    assert_eq!(mine["status"], "answered", "{mine}");
    assert_eq!(mine["answer"]["text"], answer_text, "{mine}");
    assert_eq!(mine["answer"]["document"], document, "{mine}");
    assert!(
        !ids(&queue(&app, &token).await).contains(&id),
        "an answered request is not queued"
    );

    // Closed: every step is refused and changes nothing.
    let snap = snapshot(&app, &astrid, None, &token).await;
    for what in STEPS {
        expect_problem(
            step(&app, &token, &id, what, &good_body(what)),
            StatusCode::CONFLICT,
            "request-closed",
        )
        .await;
    }
    assert_eq!(
        snapshot(&app, &astrid, None, &token).await,
        snap,
        "refusals change nothing"
    );

    // Once each, in order, in her log and in the feed.
    let log = app.usage_log(&astrid).await;
    assert_eq!(
        &log[log.len() - log_before.len()..],
        &log_before[..],
        "the log only grew"
    );
    let entries = request_entries(&log);
    assert_eq!(
        actions(&entries),
        [ANSWERED, EXTENDED, ACKNOWLEDGED, RECEIVED],
        "newest first: {log:?}"
    );
    let received = &entries[3];
    assert_eq!(received["actor_kind"], "citizen", "{received}");
    assert_eq!(received["actor_id"], me.as_str(), "{received}");
    assert_near("the filing's entry", &received["at"], at(TODAY), 30);
    for e in &entries {
        assert_no_pids("the log entry", &e.to_string());
    }
    let events = app.feed_events().await;
    assert_eq!(
        request_events(&events, &me),
        [RECEIVED, ACKNOWLEDGED, EXTENDED, ANSWERED],
        "{events:?}"
    );
    assert_eq!(
        all_request_events(&events).len(),
        4,
        "no event about anyone else: {events:?}"
    );
}

// ----------------------------------------------------------------------------- deadlines

/// Two requests received [`TODAY`]. At the first deadline's last second (deadline − 1 s) neither
/// is overdue, and extending one of them succeeds. At the deadline instant the other is overdue,
/// in the queue and in Astrid's view, and can no longer be extended (409 `extension-too-late`,
/// changing nothing, also a day later); it can still be answered, and is then no longer overdue.
/// The extended one becomes overdue exactly at its extended deadline.
async fn an_overdue_request_is_shown_as_such(backend: Backend) {
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID).await;
    let token = privacy_token(&app).await;
    let late = id_of(
        &file_ok(
            &app,
            &astrid,
            None,
            "rectification",
            "Adressen min er feil i kontaktopplysningene.",
            &["contact_details"],
        )
        .await,
    );
    let timely = id_of(
        &file_ok(
            &app,
            &astrid,
            None,
            "portability",
            "Jeg vil ha alle mine samtykker i et maskinlesbart format.",
            &["consents", "powers_of_attorney"],
        )
        .await,
    );
    step_ok(&app, &token, &late, "acknowledgement", &json!({})).await;

    // The last second before the first deadline (the clock is set again before each look, as it
    // runs on from where it is set).
    let deadline = at(FIRST_DEADLINE);
    let last_second = (deadline - Duration::seconds(1)).to_rfc3339();
    let astrid = jump_to(&app, deadline - Duration::seconds(1), ASTRID).await;
    let q = queue(&app, &token).await;
    for id in [&late, &timely] {
        assert_eq!(queued(&q, id)["overdue"], false, "{id}: {q:?}");
        app.set_clock(&last_second).await;
        let mine = one_of(&app, &astrid, None, id).await;
        assert_eq!(mine["overdue"], false, "{mine}");
    }
    app.set_clock(&last_second).await;
    let ext = step_ok(
        &app,
        &token,
        &timely,
        "extension",
        &json!({ "reason": "Vi venter på et underleverandørsystem." }),
    )
    .await;
    assert_eq!(ext["status"], "extended", "{ext}");
    assert_eq!(instant(&ext["deadline"]), at(EXTENDED_DEADLINE), "{ext}");
    assert_eq!(ext["overdue"], false, "{ext}");

    // The deadline instant.
    app.set_clock(FIRST_DEADLINE).await;
    let q = queue(&app, &token).await;
    assert_eq!(
        ids(&q),
        [late.as_str(), timely.as_str()],
        "earliest deadline first"
    );
    let overdue = queued(&q, &late);
    assert_eq!(overdue["overdue"], true, "{overdue}");
    assert_eq!(overdue["status"], "acknowledged", "{overdue}");
    assert_eq!(instant(&overdue["deadline"]), deadline, "{overdue}");
    assert_eq!(queued(&q, &timely)["overdue"], false, "{q:?}");
    let mine = one_of(&app, &astrid, None, &late).await;
    assert_eq!(mine["overdue"], true, "{mine}");
    let (_, items) = list_of(&app, &astrid, None).await;
    let listed = items
        .iter()
        .find(|r| r["id"] == late.as_str())
        .expect("listed");
    assert_eq!(listed["overdue"], true, "{listed}");

    let snap = snapshot(&app, &astrid, None, &token).await;
    expect_problem(
        step(
            &app,
            &token,
            &late,
            "extension",
            &json!({ "reason": "For sent." }),
        ),
        StatusCode::CONFLICT,
        "extension-too-late",
    )
    .await;
    assert_eq!(
        snapshot(&app, &astrid, None, &token).await,
        snap,
        "the refusal changes nothing"
    );
    let astrid = jump_to(&app, deadline + Duration::days(1), ASTRID).await;
    let snap = snapshot(&app, &astrid, None, &token).await;
    expect_problem(
        step(
            &app,
            &token,
            &late,
            "extension",
            &json!({ "reason": "Fortsatt for sent." }),
        ),
        StatusCode::CONFLICT,
        "extension-too-late",
    )
    .await;
    assert_eq!(
        snapshot(&app, &astrid, None, &token).await,
        snap,
        "the refusal changes nothing"
    );

    // Answered late: closed, no longer overdue, out of the queue.
    let answered = step_ok(
        &app,
        &token,
        &late,
        "answer",
        &json!({ "text": "Adressen er rettet." }),
    )
    .await;
    assert_eq!(answered["status"], "answered", "{answered}");
    assert_eq!(answered["overdue"], false, "{answered}");
    assert_eq!(answered["answer"]["document"], Value::Null, "{answered}");
    assert_eq!(
        one_of(&app, &astrid, None, &late).await["overdue"],
        false,
        "a closed request is not overdue"
    );
    assert_eq!(ids(&queue(&app, &token).await), [timely.as_str()]);

    // The extended one, at its own deadline's edge.
    let extended = at(EXTENDED_DEADLINE);
    let astrid = jump_to(&app, extended - Duration::seconds(1), ASTRID).await;
    assert_eq!(
        queued(&queue(&app, &token).await, &timely)["overdue"],
        false
    );
    app.set_clock(&(extended - Duration::seconds(1)).to_rfc3339())
        .await;
    assert_eq!(one_of(&app, &astrid, None, &timely).await["overdue"], false);
    app.set_clock(EXTENDED_DEADLINE).await;
    assert_eq!(queued(&queue(&app, &token).await, &timely)["overdue"], true);
    let mine = one_of(&app, &astrid, None, &timely).await;
    assert_eq!(mine["overdue"], true, "{mine}");
    assert_eq!(mine["status"], "extended", "{mine}");

    let events = app.feed_events().await;
    assert_eq!(
        request_events(&events, &astrid.citizen_id),
        [RECEIVED, RECEIVED, ACKNOWLEDGED, EXTENDED, ANSWERED],
        "{events:?}"
    );
}

/// The first and extended deadlines follow the Oslo calendar: a request at 23:30 UTC on
/// 30 November (00:30 Oslo on 1 December) is due at 00:00 Oslo on 1 January (and, extended, on
/// 2 March); one at 23:30 UTC on 10 March 2027 (00:30 Oslo on 11 March) at 00:00 CEST on
/// 11 April (and, extended, on 10 June), across the start of summer time.
async fn deadlines_follow_the_oslo_calendar(backend: Backend) {
    let app = portal(backend).await;
    citizen(&app, ASTRID).await;
    let token = privacy_token(&app).await;
    for (received, first, extended) in [
        (
            "2026-11-30T23:30:00Z",
            "2026-12-31T23:00:00Z",
            "2027-03-01T23:00:00Z",
        ),
        (
            "2027-03-10T23:30:00Z",
            "2027-04-10T22:00:00Z",
            "2027-06-09T22:00:00Z",
        ),
    ] {
        let astrid = jump_to(&app, at(received), ASTRID).await;
        let filed = file_ok(
            &app,
            &astrid,
            None,
            "objection",
            "Jeg protesterer mot bruk av opplysningene mine til statistikk.",
            &["other"],
        )
        .await;
        assert_near("received_at", &filed["received_at"], at(received), 30);
        assert_eq!(
            instant(&filed["deadline"]),
            at(first),
            "{received}: {filed}"
        );
        let ext = step_ok(
            &app,
            &token,
            &id_of(&filed),
            "extension",
            &json!({ "reason": "Saken er omfattende." }),
        )
        .await;
        assert_eq!(instant(&ext["deadline"]), at(extended), "{received}: {ext}");
        assert_eq!(
            instant(&ext["extended"]["until"]),
            at(extended),
            "{received}: {ext}"
        );
    }
}

// ------------------------------------------------------------------------------- refusals

/// A refusal needs its reason and provision: without a reason, with an empty one, without a
/// provision or with an empty one it is 400 naming that field (a bad ground names `ground`), and
/// nothing changes. With both it is 200: refused, with the reason, provision and ground, and a
/// complaint that names Datatilsynet; the request leaves the queue, and is closed. A request
/// that was acknowledged and extended can be refused as manifestly unfounded.
async fn a_refusal_needs_its_reason_and_provision(backend: Backend) {
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID).await;
    let me = astrid.citizen_id.clone();
    let token = privacy_token(&app).await;
    let id = id_of(
        &file_ok(
            &app,
            &astrid,
            None,
            "erasure",
            "Slett alle opplysninger om meg.",
            &["usage_log", "consents"],
        )
        .await,
    );

    let reason = "Opplysningene må oppbevares etter pasientjournalloven.";
    let provision = "personvernforordningen art. 17 nr. 3 bokstav c";
    let snap = snapshot(&app, &astrid, None, &token).await;
    for (body, field) in [
        (
            json!({ "provision": provision, "ground": "ordinary" }),
            "reason",
        ),
        (
            json!({ "reason": "", "provision": provision, "ground": "ordinary" }),
            "reason",
        ),
        (
            json!({ "reason": reason, "ground": "ordinary" }),
            "provision",
        ),
        (
            json!({ "reason": reason, "provision": "", "ground": "ordinary" }),
            "provision",
        ),
        (
            json!({ "reason": reason, "provision": provision, "ground": "because" }),
            "ground",
        ),
    ] {
        expect_field_error(step(&app, &token, &id, "refusal", &body), field).await;
    }
    assert_eq!(
        snapshot(&app, &astrid, None, &token).await,
        snap,
        "refusals change nothing"
    );

    let asked = app.server_now().await;
    let refused = step_ok(
        &app,
        &token,
        &id,
        "refusal",
        &json!({ "reason": reason, "provision": provision, "ground": "ordinary" }),
    )
    .await;
    assert_eq!(refused["status"], "refused", "{refused}");
    assert_eq!(refused["answer"], Value::Null, "{refused}");
    assert_eq!(refused["overdue"], false, "{refused}");
    let refusal = &refused["refusal"];
    assert_near("refusal.at", &refusal["at"], asked, 30);
    assert_eq!(refusal["reason"], reason, "{refused}");
    assert_eq!(refusal["provision"], provision, "{refused}");
    assert_eq!(refusal["ground"], "ordinary", "{refused}");
    assert!(
        refusal["complaint"]
            .as_str()
            .is_some_and(|c| c.contains("Datatilsynet")),
        "the complaint names Datatilsynet: {refused}"
    );
    citizen_sees(&app, &astrid, None, &refused).await;
    assert!(
        queue(&app, &token).await.is_empty(),
        "a refused request is not queued"
    );

    let snap = snapshot(&app, &astrid, None, &token).await;
    for what in STEPS {
        expect_problem(
            step(&app, &token, &id, what, &good_body(what)),
            StatusCode::CONFLICT,
            "request-closed",
        )
        .await;
    }
    assert_eq!(
        snapshot(&app, &astrid, None, &token).await,
        snap,
        "refusals change nothing"
    );

    // Manifestly unfounded, after acknowledgement and extension.
    let other = id_of(
        &file_ok(
            &app,
            &astrid,
            None,
            "restriction",
            "Begrens all behandling av alle opplysninger om alle.",
            &[],
        )
        .await,
    );
    step_ok(&app, &token, &other, "acknowledgement", &json!({})).await;
    step_ok(
        &app,
        &token,
        &other,
        "extension",
        &json!({ "reason": "Vi må vurdere saken nærmere." }),
    )
    .await;
    let unfounded = step_ok(
        &app,
        &token,
        &other,
        "refusal",
        &json!({
            "reason": "Kravet er åpenbart grunnløst.",
            "provision": "personvernforordningen art. 12 nr. 5",
            "ground": "manifestly_unfounded",
        }),
    )
    .await;
    assert_eq!(unfounded["status"], "refused", "{unfounded}");
    assert_eq!(
        unfounded["refusal"]["ground"], "manifestly_unfounded",
        "{unfounded}"
    );
    assert!(
        unfounded["refusal"]["complaint"]
            .as_str()
            .is_some_and(|c| c.contains("Datatilsynet")),
        "{unfounded}"
    );
    assert_eq!(
        unfounded["extended"]["reason"],
        "Vi må vurdere saken nærmere."
    );
    citizen_sees(&app, &astrid, None, &unfounded).await;

    // An excessive one, straight from received.
    let third = id_of(
        &file_ok(
            &app,
            &astrid,
            None,
            "insight",
            "Send meg alt, hver time.",
            &["other"],
        )
        .await,
    );
    let excessive = step_ok(
        &app,
        &token,
        &third,
        "refusal",
        &json!({
            "reason": "Kravet gjentas uforholdsmessig ofte.",
            "provision": "personvernforordningen art. 12 nr. 5",
            "ground": "excessive",
        }),
    )
    .await;
    assert_eq!(excessive["refusal"]["ground"], "excessive", "{excessive}");
    assert!(queue(&app, &token).await.is_empty());

    let entries = request_entries(&app.usage_log(&astrid).await);
    assert_eq!(
        actions(&entries),
        [
            REFUSED,
            RECEIVED,
            REFUSED,
            EXTENDED,
            ACKNOWLEDGED,
            RECEIVED,
            REFUSED,
            RECEIVED
        ],
        "newest first: {entries:?}"
    );
    let events = app.feed_events().await;
    assert_eq!(
        request_events(&events, &me),
        [
            RECEIVED,
            REFUSED,
            RECEIVED,
            ACKNOWLEDGED,
            EXTENDED,
            REFUSED,
            RECEIVED,
            REFUSED
        ],
        "{events:?}"
    );
}

// ------------------------------------------------------------------------------ filing

/// Filing is validated (a bad or missing kind names `kind`; an empty text, one of 2001
/// characters or one with an 11-digit run names `text`; an unknown category names
/// `categories[i]`), needs accepted terms, a login at high assurance and the CSRF token, and
/// none of these refusals changes anything. 2000 characters, even non-ASCII ones, are fine, and
/// categories default to none. A guardian files for a child under 12 (the child's request, in
/// the child's list and log), but not for a 14-year-old, and a grantee not at all
/// (403 `not-allowed-on-behalf`). Another's request, or an unknown id, is 404 `not-found`. The
/// machine API refuses a token without `data-requests:handle` (403 `insufficient-scope`) and
/// answers 404 for an unknown id.
async fn filing_is_checked_and_guarded(backend: Backend) {
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID).await;
    let me = astrid.citizen_id.clone();
    let token = privacy_token(&app).await;
    // Logged in before the snapshots (a login is an entry in the log).
    let ingrid = app.login(INGRID).await;
    let substantial = app.login_at(ASTRID, Some("idporten-loa-substantial")).await;

    let snap = snapshot(&app, &astrid, None, &token).await;
    let ok_text = "Jeg vil se loggen.";
    for (body, field) in [
        (
            json!({ "kind": "deletion", "text": ok_text, "categories": [] }),
            "kind",
        ),
        (json!({ "text": ok_text }), "kind"),
        (json!({ "kind": "insight", "text": "" }), "text"),
        (json!({ "kind": "insight" }), "text"),
        (
            json!({ "kind": "insight", "text": "x".repeat(2001) }),
            "text",
        ),
        (
            json!({ "kind": "insight", "text": ok_text, "categories": ["medical_history"] }),
            "categories[0]",
        ),
        (
            json!({ "kind": "insight", "text": ok_text, "categories": ["consents", "everything"] }),
            "categories[1]",
        ),
        (
            json!({ "kind": "insight", "text": "Gjelder fødselsnummer 12345678901, takk." }),
            "text",
        ),
    ] {
        let p = expect_field_error(file(&app, &astrid, None, &body), field).await;
        assert!(
            !p.to_string().contains("12345678901"),
            "the problem echoes no number: {p}"
        );
    }
    assert_eq!(
        snapshot(&app, &astrid, None, &token).await,
        snap,
        "refusals change nothing"
    );

    // Terms, assurance and CSRF.
    let good = json!({ "kind": "insight", "text": ok_text });
    expect_problem(
        file(&app, &ingrid, None, &good),
        StatusCode::FORBIDDEN,
        "consent-required",
    )
    .await;
    expect_problem(
        file(&app, &substantial, None, &good),
        StatusCode::FORBIDDEN,
        "step-up-required",
    )
    .await;
    expect_problem(
        app.client
            .post(app.url(REQUESTS))
            .header("cookie", &astrid.cookie)
            .json(&good),
        StatusCode::FORBIDDEN,
        "csrf-failed",
    )
    .await;
    assert_eq!(
        snapshot(&app, &astrid, None, &token).await,
        snap,
        "refusals change nothing"
    );
    assert!(all_request_events(&app.feed_events().await).is_empty());

    // The edges that pass: 2000 characters (4000 bytes), categories left out.
    let long = "ø".repeat(2000);
    let (status, filed) = tests::app::send_json(file(
        &app,
        &astrid,
        None,
        &json!({ "kind": "insight", "text": long }),
    ))
    .await;
    assert_eq!(status, StatusCode::CREATED, "2000 characters: {filed}");
    assert_request_shape(&filed);
    assert_eq!(filed["subject_id"], me.as_str(), "{filed}");
    assert_eq!(filed["text"], long.as_str(), "{filed}");
    assert_eq!(filed["categories"], json!([]), "categories default to none");
    assert_eq!(filed["status"], "received", "{filed}");
    let id = id_of(&filed);

    // Another citizen's request, and an unknown one.
    let bjorn = citizen(&app, BJORN).await;
    let unknown = uuid::Uuid::new_v4().to_string();
    for path in [format!("{REQUESTS}/{id}"), format!("{REQUESTS}/{unknown}")] {
        expect_problem(
            app.as_citizen(&bjorn, Method::GET, &path),
            StatusCode::NOT_FOUND,
            "not-found",
        )
        .await;
    }
    expect_problem(
        app.as_citizen(&astrid, Method::GET, &format!("{REQUESTS}/{unknown}")),
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    let (subject, items) = list_of(&app, &bjorn, None).await;
    assert_eq!(subject, bjorn.citizen_id);
    assert!(items.is_empty(), "Bjørn sees none of Astrid's: {items:?}");

    // A grantee may not file or read for the grantor.
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
    let (status, list) = app.get_json(&bjorn, "/api/v1/representations").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let for_astrid = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["person"]["citizen_id"] == me.as_str())
        .and_then(|r| r["representation_id"].as_str())
        .unwrap_or_else(|| panic!("Bjørn represents Astrid: {list}"))
        .to_owned();
    let snap = snapshot(&app, &astrid, None, &token).await;
    let bjorn_log = app.usage_log(&bjorn).await;
    expect_problem(
        file(&app, &bjorn, Some(&for_astrid), &good),
        StatusCode::FORBIDDEN,
        "not-allowed-on-behalf",
    )
    .await;
    expect_problem(
        request(&app, &bjorn, Some(&for_astrid), Method::GET, REQUESTS),
        StatusCode::FORBIDDEN,
        "not-allowed-on-behalf",
    )
    .await;
    assert_eq!(snapshot(&app, &astrid, None, &token).await, snap);
    assert_eq!(app.usage_log(&bjorn).await, bjorn_log);
    assert!(list_of(&app, &bjorn, None).await.1.is_empty());

    // Kari: for Nora (5) yes, for Lukas (14) no.
    let kari = citizen(&app, KARI).await;
    let (kari_nora, nora) = representation(&app, &kari, "Nora Nordmann").await;
    let (kari_lukas, _) = representation(&app, &kari, "Lukas Nordmann").await;

    let kari_before = snapshot(&app, &kari, None, &token).await;
    expect_problem(
        file(&app, &kari, Some(&kari_lukas), &good),
        StatusCode::FORBIDDEN,
        "not-allowed-on-behalf",
    )
    .await;
    expect_problem(
        request(&app, &kari, Some(&kari_lukas), Method::GET, REQUESTS),
        StatusCode::FORBIDDEN,
        "not-allowed-on-behalf",
    )
    .await;
    assert_eq!(snapshot(&app, &kari, None, &token).await, kari_before);

    let nora_log_before = log_of(&app, &kari, Some(&kari_nora)).await;
    let for_nora = file_ok(
        &app,
        &kari,
        Some(&kari_nora),
        "insight",
        "Jeg ber om innsyn i datterens samtykker.",
        &["consents", "children"],
    )
    .await;
    assert_eq!(for_nora["subject_id"], nora.as_str(), "{for_nora}");
    assert_eq!(instant(&for_nora["deadline"]), at(FIRST_DEADLINE));
    let nora_id = id_of(&for_nora);
    citizen_sees(&app, &kari, Some(&kari_nora), &for_nora).await;
    let (subject, items) = list_of(&app, &kari, Some(&kari_nora)).await;
    assert_eq!(subject, nora);
    assert_eq!(ids(&items), [nora_id.as_str()]);
    let (subject, own) = list_of(&app, &kari, None).await;
    assert_eq!(subject, kari.citizen_id);
    assert!(own.is_empty(), "not in Kari's own list: {own:?}");
    expect_problem(
        app.as_citizen(&kari, Method::GET, &format!("{REQUESTS}/{nora_id}")),
        StatusCode::NOT_FOUND,
        "not-found",
    )
    .await;
    let nora_log = log_of(&app, &kari, Some(&kari_nora)).await;
    let entries = request_entries(&nora_log[..nora_log.len() - nora_log_before.len()]);
    assert_eq!(actions(&entries), [RECEIVED], "{nora_log:?}");
    assert_eq!(entries[0]["actor_kind"], "guardian", "{}", entries[0]);
    assert_eq!(
        entries[0]["actor_id"],
        kari.citizen_id.as_str(),
        "{}",
        entries[0]
    );
    let kari_log = app.usage_log(&kari).await;
    // Kari's own log may note what she did for Nora (as elsewhere), but nothing of her own.
    assert!(
        request_entries(&kari_log)
            .iter()
            .all(|e| e["details"]["on_behalf_of"] == nora.as_str()),
        "{kari_log:?}"
    );
    let q = queue(&app, &token).await;
    assert_eq!(queued(&q, &nora_id)["subject_id"], nora.as_str());

    let events = app.feed_events().await;
    assert_eq!(request_events(&events, &nora), [RECEIVED], "{events:?}");
    assert_eq!(request_events(&events, &me), [RECEIVED], "{events:?}");
    assert!(request_events(&events, &kari.citizen_id).is_empty());
    assert!(request_events(&events, &bjorn.citizen_id).is_empty());

    // The machine API: the scope, and unknown ids.
    let reader = reader_token(&app).await;
    let snap = snapshot(&app, &astrid, None, &token).await;
    let (p, _) = expect_problem(
        app.as_service(&reader, Method::GET, QUEUE),
        StatusCode::FORBIDDEN,
        "insufficient-scope",
    )
    .await;
    assert_no_pids("the problem", &p.to_string());
    for what in STEPS {
        expect_problem(
            step(&app, &reader, &id, what, &good_body(what)),
            StatusCode::FORBIDDEN,
            "insufficient-scope",
        )
        .await;
    }
    for what in STEPS {
        let (status, body) =
            tests::app::send_json(step(&app, &token, &unknown, what, &good_body(what))).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{what} of an unknown id: {body}"
        );
    }
    assert_eq!(
        snapshot(&app, &astrid, None, &token).await,
        snap,
        "refusals change nothing"
    );
}

// --------------------------------------------------------------------------------- the queue

/// Requests filed at different times (and one extended) are queued earliest deadline first,
/// whatever order they were filed in; the citizen's list is newest first; `limit` takes the
/// first N (1–200; 0 and 201 are 400); closed requests leave the queue.
async fn the_queue_lists_the_earliest_deadline_first(backend: Backend) {
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID).await;
    citizen(&app, BJORN).await;
    let token = privacy_token(&app).await;

    // A: 23 November, then extended to 21 February.
    let a = file_ok(&app, &astrid, None, "insight", "Første.", &["usage_log"]).await;
    let a_id = id_of(&a);
    step_ok(
        &app,
        &token,
        &a_id,
        "extension",
        &json!({ "reason": "Omfattende." }),
    )
    .await;
    // B: Bjørn, 27 November, due 27 December.
    let bjorn = jump_to(&app, at("2026-11-27T10:00:00Z"), BJORN).await;
    let b = file_ok(&app, &bjorn, None, "erasure", "Andre.", &[]).await;
    assert_eq!(instant(&b["deadline"]), at("2026-12-27T23:00:00Z"), "{b}");
    let b_id = id_of(&b);
    // C: Astrid, 30 November, due 30 December.
    let astrid = jump_to(&app, at("2026-11-30T10:00:00Z"), ASTRID).await;
    let c = file_ok(&app, &astrid, None, "objection", "Tredje.", &["other"]).await;
    assert_eq!(instant(&c["deadline"]), at("2026-12-30T23:00:00Z"), "{c}");
    let c_id = id_of(&c);
    // D: Bjørn, the same day two hours later, due at the same instant as C.
    let bjorn = jump_to(&app, at("2026-11-30T12:00:00Z"), BJORN).await;
    let d = file_ok(&app, &bjorn, None, "portability", "Fjerde.", &["consents"]).await;
    assert_eq!(instant(&d["deadline"]), at("2026-12-30T23:00:00Z"), "{d}");
    let d_id = id_of(&d);

    let q = queue(&app, &token).await;
    let order = ids(&q);
    assert_eq!(order.len(), 4, "{q:?}");
    assert_eq!(order[0], b_id, "the earliest deadline first: {q:?}");
    let mut same_day = order[1..3].to_vec();
    same_day.sort();
    let mut expected = vec![c_id.clone(), d_id.clone()];
    expected.sort();
    assert_eq!(same_day, expected, "then C and D (same deadline): {q:?}");
    assert_eq!(order[3], a_id, "the extended one last: {q:?}");
    let deadlines: Vec<DateTime<Utc>> = q.iter().map(|r| instant(&r["deadline"])).collect();
    assert!(deadlines.windows(2).all(|w| w[0] <= w[1]), "{deadlines:?}");
    assert!(q.iter().all(|r| r["overdue"] == false), "{q:?}");

    // The citizen's list: newest first (her session timed out across the last jump).
    let astrid = app.login(ASTRID).await;
    let (_, mine) = list_of(&app, &astrid, None).await;
    assert_eq!(ids(&mine), [c_id.as_str(), a_id.as_str()], "newest first");

    // limit.
    let first = queue_at(&app, &token, &format!("{QUEUE}?limit=1")).await;
    assert_eq!(ids(&first), [b_id.as_str()]);
    assert_eq!(
        ids(&queue_at(&app, &token, QUEUE).await),
        order,
        "default 100"
    );
    for bad in ["0", "201", "many"] {
        expect_field_error(
            app.as_service(&token, Method::GET, &format!("{QUEUE}?limit={bad}")),
            "limit",
        )
        .await;
    }

    // Answering B and refusing C leaves D and A.
    step_ok(
        &app,
        &token,
        &b_id,
        "answer",
        &json!({ "text": "Slettet." }),
    )
    .await;
    step_ok(&app, &token, &c_id, "refusal", &good_body("refusal")).await;
    assert_eq!(ids(&queue(&app, &token).await), [d_id, a_id]);
}

both_backends!(
    a_request_through_its_whole_life,
    an_overdue_request_is_shown_as_such,
    deadlines_follow_the_oslo_calendar,
    a_refusal_needs_its_reason_and_provision,
    filing_is_checked_and_guarded,
    the_queue_lists_the_earliest_deadline_first,
);

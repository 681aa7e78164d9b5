//! Opting out of the summary care record ("reservasjon mot kjernejournal") with its 30-day
//! restore window: the citizen's status, opt-out, restoration and a new record; the purge that is
//! ordered exactly once when the window closes (by the job, or by a request for a new record);
//! who may change it on someone's behalf; and the machine decision downstream services read.
//!
//! Every test pins the server's clock (`PUT /dev/clock`) and runs the server with its purge timer
//! off (`PURGE_INTERVAL_SECONDS=0`) unless the timer is the point, so purges happen exactly when
//! a test orders them. Sessions time out across the clock's jumps: the tests log in again after
//! each. Refused requests are checked to change nothing: the status, the usage log and the feed
//! read the same afterwards.

use chrono::{DateTime, Duration, Utc};
use futures_util::future::join_all;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use tests::persons::{ASTRID, BJORN, INGRID, KARI, LUKAS, NORA, OLA, UNKNOWN};
use tests::{at, both_backends, instant, Backend, Session, TestApp};

use crate::errors::expect_problem;

const STATUS: &str = "/api/v1/summary-care-record";
const OPT_OUT: &str = "/api/v1/summary-care-record/opt-out";
const RESTORATION: &str = "/api/v1/summary-care-record/restoration";
const NEW_RECORD: &str = "/api/v1/summary-care-record/new-record";
const DECISION: &str = "/api/v1/decisions/summary-care-record";
const BATCH: &str = "/api/v1/decisions/summary-care-record/batch";
const ORDER_PURGES: &str = "/dev/jobs/order-purges";
const ACTING_FOR: &str = "X-Acting-For";

const OPTED_OUT: &str = "summary_care_record.opted_out";
const RESTORED: &str = "summary_care_record.restored";
const PURGE_ORDERED: &str = "summary_care_record.purge_ordered";
const NEW: &str = "summary_care_record.new_record";

/// "Today": 13:00 in Oslo on Monday 23 November 2026.
const TODAY: &str = "2026-11-23T12:00:00Z";
/// An opt-out at [`TODAY`] is restorable through 23 December Oslo time: the deadline is 00:00
/// Europe/Oslo (CET, UTC+1) on 24 December.
const DEADLINE: &str = "2026-12-23T23:00:00Z";

/// The keys of a status body, sorted.
const STATUS_KEYS: [&str; 12] = [
    "available_to_health_personnel",
    "blocked_parts",
    "message",
    "opted_out_at",
    "possible",
    "possible_until",
    "purge_ordered_at",
    "record_blocked",
    "record_started_at",
    "restore_deadline",
    "state",
    "subject_id",
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

/// `v` is a time within `[from, from + slack]`.
fn assert_near(what: &str, v: &Value, from: DateTime<Utc>, slack_seconds: i64) {
    let t = instant(v);
    assert!(
        t >= from - Duration::seconds(1) && t <= from + Duration::seconds(slack_seconds),
        "{what}: {t} is not within {slack_seconds} s after {from}"
    );
}

/// Logs `pid` in and accepts the terms in force at `level`.
async fn citizen(app: &TestApp, pid: &str, level: &str) -> Session {
    let s = app.login(pid).await;
    app.accept_terms(&s, level).await;
    s
}

/// The text contains no identity number of the persons these tests use.
fn assert_no_pids(what: &str, text: &str) {
    for pid in [ASTRID, BJORN, INGRID, KARI, OLA, NORA, LUKAS, UNKNOWN] {
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

/// `POST` of one of the three changes (`OPT_OUT`, `RESTORATION`, `NEW_RECORD`) with `{}`.
fn change(app: &TestApp, s: &Session, rep: Option<&str>, path: &str) -> RequestBuilder {
    request(app, s, rep, Method::POST, path).json(&json!({}))
}

/// A change that must succeed: 200 with a well-formed status, which `GET` then reads the same.
async fn change_ok(app: &TestApp, s: &Session, rep: Option<&str>, path: &str) -> Value {
    let (status, body) = tests::app::send_json(change(app, s, rep, path)).await;
    assert_eq!(status, StatusCode::OK, "POST {path}: {body}");
    assert_status_shape(&body);
    assert_eq!(
        to_seconds(&record_status(app, s, rep).await),
        to_seconds(&body),
        "GET after POST {path}"
    );
    body
}

/// A status with its times cut to whole seconds (what [`change_ok`] compares; the exact
/// equality of an answer with what is stored is checked once, in
/// [`each_answer_is_the_status_as_stored`]).
fn to_seconds(body: &Value) -> Value {
    let mut out = body.clone();
    for key in [
        "opted_out_at",
        "restore_deadline",
        "possible_until",
        "purge_ordered_at",
        "record_started_at",
    ] {
        if !body[key].is_null() {
            let t = instant(&body[key]);
            out[key] = json!(t.timestamp());
        }
    }
    out
}

/// The status of the caller's record (or, with `rep`, of the person acted for).
async fn record_status(app: &TestApp, s: &Session, rep: Option<&str>) -> Value {
    let (status, body) = tests::app::send_json(request(app, s, rep, Method::GET, STATUS)).await;
    assert_eq!(status, StatusCode::OK, "GET {STATUS}: {body}");
    assert_status_shape(&body);
    body
}

/// Every key of the contract's status body, a plain message, and no identity number.
fn assert_status_shape(body: &Value) {
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap_or_else(|| panic!("a status object: {body}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, STATUS_KEYS, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| !m.trim().is_empty()),
        "{body}"
    );
    assert!(
        body["subject_id"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_no_pids("the status", &body.to_string());
}

/// An active record that was never opted out of (or restored): `started` is `record_started_at`.
fn assert_active(body: &Value, subject: &str, started: Option<&Value>) {
    assert_eq!(body["subject_id"], subject, "{body}");
    assert_eq!(body["state"], "active", "{body}");
    assert_eq!(body["available_to_health_personnel"], true, "{body}");
    assert_eq!(body["possible"], "opt_out", "{body}");
    for key in [
        "opted_out_at",
        "restore_deadline",
        "possible_until",
        "purge_ordered_at",
    ] {
        assert_eq!(body[key], Value::Null, "{key}: {body}");
    }
    match started {
        None => assert_eq!(body["record_started_at"], Value::Null, "{body}"),
        Some(t) => assert_eq!(
            instant(&body["record_started_at"]),
            instant(t),
            "record_started_at: {body}"
        ),
    }
}

/// An opt-out made at about `from`, restorable until `deadline` (not reached yet).
fn assert_opted_out(body: &Value, subject: &str, from: DateTime<Utc>, deadline: &str) {
    assert_eq!(body["subject_id"], subject, "{body}");
    assert_eq!(body["state"], "opted_out", "{body}");
    assert_eq!(body["available_to_health_personnel"], false, "{body}");
    assert_near("opted_out_at", &body["opted_out_at"], from, 30);
    assert_eq!(instant(&body["restore_deadline"]), at(deadline), "{body}");
    assert_eq!(body["possible"], "restore", "{body}");
    assert_eq!(instant(&body["possible_until"]), at(deadline), "{body}");
    assert_eq!(body["purge_ordered_at"], Value::Null, "{body}");
}

/// The summary care record events about `subject`, in feed order.
fn record_events(feed: &[(String, String)], subject: &str) -> Vec<String> {
    feed.iter()
        .filter(|(t, s)| s == subject && t.starts_with("summary_care_record."))
        .map(|(t, _)| t.clone())
        .collect()
}

/// The summary care record entries of a log (newest first).
fn record_entries(log: &[Value]) -> Vec<Value> {
    log.iter()
        .filter(|e| {
            e["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("summary_care_record."))
        })
        .cloned()
        .collect()
}

fn actions(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default().to_owned())
        .collect()
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

/// What a refused request must leave alone: the record's status, the subject's log, the feed.
async fn snapshot(
    app: &TestApp,
    s: &Session,
    rep: Option<&str>,
) -> (Value, Vec<Value>, Vec<(String, String)>) {
    (
        record_status(app, s, rep).await,
        log_of(app, s, rep).await,
        app.feed_events().await,
    )
}

/// `POST /dev/jobs/order-purges`: how many purges it ordered.
async fn order_purges(app: &TestApp) -> u64 {
    let (status, body) =
        tests::app::send_json(app.client.post(app.url(ORDER_PURGES)).json(&json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{ORDER_PURGES}: {body}");
    let keys: Vec<&String> = body.as_object().expect("an object").keys().collect();
    assert_eq!(keys, ["ordered"], "{body}");
    body["ordered"]
        .as_u64()
        .unwrap_or_else(|| panic!("a count: {body}"))
}

async fn reader_token(app: &TestApp) -> String {
    app.idp
        .service_token("dev-service-reader", "consent:read")
        .await
}

/// The machine decision about `pid` with `token`.
fn decision(app: &TestApp, token: &str, pid: &str) -> RequestBuilder {
    app.as_service(token, Method::POST, DECISION)
        .json(&json!({ "pid": pid }))
}

/// A machine decision that must answer 200 with a well-formed status.
async fn decide(app: &TestApp, token: &str, pid: &str) -> Value {
    let (status, body) = tests::app::send_json(decision(app, token, pid)).await;
    assert_eq!(status, StatusCode::OK, "{DECISION}: {body}");
    assert_status_shape(&body);
    body
}

fn problem_type(body: &Value) -> String {
    body["type"].as_str().unwrap_or_default().to_owned()
}

// ---------------------------------------------------------------------------------- the path

/// Never opted out, Astrid's record is active (a restore is 409 `not-opted-out`, a new record
/// 409 `record-active`). Opting out at 13:00 Oslo on 23 November makes it
/// unavailable, restorable until 00:00 Oslo on 24 December exactly; a second opt-out is 409
/// `already-opted-out` and a new record 409 `restore-still-possible`, changing nothing.
/// Restoring makes it active again; a second restore is 409 `not-opted-out`. Each transition is
/// one entry in her log (by her, as a citizen) and one event in the feed.
async fn opt_out_then_restore(backend: Backend) {
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID, "full").await;
    let me = astrid.citizen_id.as_str();

    let before = record_status(&app, &astrid, None).await;
    assert_active(&before, me, None);
    // Never opted out: nothing to restore, and the record is there.
    let snap = snapshot(&app, &astrid, None).await;
    expect_problem(
        change(&app, &astrid, None, RESTORATION),
        StatusCode::CONFLICT,
        "not-opted-out",
    )
    .await;
    expect_problem(
        change(&app, &astrid, None, NEW_RECORD),
        StatusCode::CONFLICT,
        "record-active",
    )
    .await;
    assert_eq!(
        snapshot(&app, &astrid, None).await,
        snap,
        "refusals change nothing"
    );
    let log_before = app.usage_log(&astrid).await;
    assert!(record_entries(&log_before).is_empty(), "{log_before:?}");

    let out = change_ok(&app, &astrid, None, OPT_OUT).await;
    assert_opted_out(&out, me, at(TODAY), DEADLINE);
    assert_eq!(out["record_started_at"], Value::Null, "{out}");

    let snap = snapshot(&app, &astrid, None).await;
    expect_problem(
        change(&app, &astrid, None, OPT_OUT),
        StatusCode::CONFLICT,
        "already-opted-out",
    )
    .await;
    expect_problem(
        change(&app, &astrid, None, NEW_RECORD),
        StatusCode::CONFLICT,
        "restore-still-possible",
    )
    .await;
    assert_eq!(
        snapshot(&app, &astrid, None).await,
        snap,
        "refusals change nothing"
    );

    let back = change_ok(&app, &astrid, None, RESTORATION).await;
    assert_active(&back, me, None);

    let snap = snapshot(&app, &astrid, None).await;
    expect_problem(
        change(&app, &astrid, None, RESTORATION),
        StatusCode::CONFLICT,
        "not-opted-out",
    )
    .await;
    expect_problem(
        change(&app, &astrid, None, NEW_RECORD),
        StatusCode::CONFLICT,
        "record-active",
    )
    .await;
    assert_eq!(
        snapshot(&app, &astrid, None).await,
        snap,
        "refusals change nothing"
    );

    let log = app.usage_log(&astrid).await;
    assert_eq!(
        &log[log.len() - log_before.len()..],
        &log_before[..],
        "the log only grew"
    );
    let entries = record_entries(&log);
    assert_eq!(
        actions(&entries),
        [RESTORED, OPTED_OUT],
        "newest first: {log:?}"
    );
    for e in &entries {
        assert_eq!(e["actor_kind"], "citizen", "{e}");
        assert_eq!(e["actor_id"], me, "{e}");
        assert_no_pids("the log entry", &e.to_string());
    }
    assert_near("the opt-out entry", &entries[1]["at"], at(TODAY), 30);

    let events = app.feed_events().await;
    assert_eq!(
        record_events(&events, me),
        [OPTED_OUT, RESTORED],
        "{events:?}"
    );
}

/// The window's edges: at the deadline's last second (deadline − 1 s) the status still offers
/// the restore and the restore succeeds. A second opt-out at 00:30 Oslo on 11 March 2027 (still
/// 10 March in UTC) is restorable through 10 April Oslo time, across the start of summer time:
/// until 00:00 CEST on 11 April, 22:00 UTC on 10 April. At that instant the status offers a new
/// record only, and a restore is 410 `restore-window-closed` and changes nothing.
async fn restore_until_the_last_second_of_the_window(backend: Backend) {
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID, "full").await;
    let me = astrid.citizen_id.clone();
    change_ok(&app, &astrid, None, OPT_OUT).await;

    let deadline = at(DEADLINE);
    app.set_clock(&(deadline - Duration::seconds(60)).to_rfc3339())
        .await;
    let astrid = app.login(ASTRID).await;
    app.set_clock(&(deadline - Duration::seconds(1)).to_rfc3339())
        .await;
    let (status, back) = tests::app::send_json(change(&app, &astrid, None, RESTORATION)).await;
    assert_eq!(status, StatusCode::OK, "restore at the last second: {back}");
    assert_active(&back, &me, None);

    // A second opt-out, just after midnight in Oslo, across the start of summer time.
    let second = "2027-03-10T23:30:00Z";
    let second_deadline = "2027-04-10T22:00:00Z";
    app.set_clock(second).await;
    let astrid = app.login(ASTRID).await;
    let out = change_ok(&app, &astrid, None, OPT_OUT).await;
    assert_opted_out(&out, &me, at(second), second_deadline);

    let deadline = at(second_deadline);
    app.set_clock(&(deadline - Duration::seconds(60)).to_rfc3339())
        .await;
    let astrid = app.login(ASTRID).await;
    app.set_clock(&(deadline - Duration::seconds(1)).to_rfc3339())
        .await;
    let last = record_status(&app, &astrid, None).await;
    assert_eq!(last["possible"], "restore", "{last}");
    app.set_clock(second_deadline).await;
    let closed = record_status(&app, &astrid, None).await;
    assert_eq!(
        closed["state"], "opted_out",
        "no purge was ordered yet: {closed}"
    );
    assert_eq!(closed["available_to_health_personnel"], false, "{closed}");
    assert_eq!(closed["possible"], "new_record", "{closed}");
    assert_eq!(closed["possible_until"], Value::Null, "{closed}");

    let snap = snapshot(&app, &astrid, None).await;
    expect_problem(
        change(&app, &astrid, None, RESTORATION),
        StatusCode::GONE,
        "restore-window-closed",
    )
    .await;
    assert_eq!(
        snapshot(&app, &astrid, None).await,
        snap,
        "the refusal changes nothing"
    );

    let events = app.feed_events().await;
    assert_eq!(
        record_events(&events, &me),
        [OPTED_OUT, RESTORED, OPTED_OUT],
        "{events:?}"
    );
}

// -------------------------------------------------------------------------------- the purge

/// The job orders the purge once the window has closed: `{"ordered": 1}`, one `purge_ordered`
/// event and one log entry by the system; run again, alone or four at once, it orders nothing.
/// Then the record is `purge_ordered` (only a new record is possible): a restore is 410
/// `restore-window-closed`, a new opt-out 409; a new record is active from that moment, and a
/// second one is 409 `record-active`. Bjørn, who opted out later, is purged at his own deadline
/// by exactly one of four concurrent runs.
async fn the_job_orders_each_purge_once(backend: Backend) {
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID, "full").await;
    let bjorn = citizen(&app, BJORN, "full").await;
    let me = astrid.citizen_id.clone();
    let him = bjorn.citizen_id.clone();
    change_ok(&app, &astrid, None, OPT_OUT).await;
    assert_eq!(order_purges(&app).await, 0, "nothing is due yet");

    // Bjørn opts out on 1 December: restorable through 31 December.
    app.set_clock("2026-12-01T12:00:00Z").await;
    let bjorn = app.login(BJORN).await;
    let his = change_ok(&app, &bjorn, None, OPT_OUT).await;
    assert_opted_out(
        &his,
        &him,
        at("2026-12-01T12:00:00Z"),
        "2026-12-31T23:00:00Z",
    );

    // At Astrid's deadline exactly her purge is due, and Bjørn's is not.
    app.set_clock(DEADLINE).await;
    let ordered_from = app.server_now().await;
    assert_eq!(order_purges(&app).await, 1);
    let events = app.feed_events().await;
    assert_eq!(
        record_events(&events, &me),
        [OPTED_OUT, PURGE_ORDERED],
        "{events:?}"
    );
    assert_eq!(record_events(&events, &him), [OPTED_OUT], "{events:?}");

    assert_eq!(order_purges(&app).await, 0, "a second run orders nothing");
    let runs = join_all((0..4).map(|_| order_purges(&app))).await;
    assert_eq!(runs, [0, 0, 0, 0], "nor do four at once");
    assert_eq!(app.feed_events().await, events, "no more events");

    let astrid = app.login(ASTRID).await;
    let purged = record_status(&app, &astrid, None).await;
    assert_eq!(purged["subject_id"], me.as_str(), "{purged}");
    assert_eq!(purged["state"], "purge_ordered", "{purged}");
    assert_eq!(purged["available_to_health_personnel"], false, "{purged}");
    assert_eq!(purged["possible"], "new_record", "{purged}");
    assert_eq!(purged["possible_until"], Value::Null, "{purged}");
    assert_near(
        "purge_ordered_at",
        &purged["purge_ordered_at"],
        ordered_from,
        30,
    );
    assert_near("opted_out_at", &purged["opted_out_at"], at(TODAY), 30);
    assert_eq!(purged["record_started_at"], Value::Null, "{purged}");

    let log = app.usage_log(&astrid).await;
    let entries = record_entries(&log);
    assert_eq!(actions(&entries), [PURGE_ORDERED, OPTED_OUT], "{log:?}");
    assert_eq!(entries[0]["actor_kind"], "system", "{}", entries[0]);

    let snap = snapshot(&app, &astrid, None).await;
    expect_problem(
        change(&app, &astrid, None, RESTORATION),
        StatusCode::GONE,
        "restore-window-closed",
    )
    .await;
    expect_problem(
        change(&app, &astrid, None, OPT_OUT),
        StatusCode::CONFLICT,
        "already-opted-out",
    )
    .await;
    assert_eq!(
        snapshot(&app, &astrid, None).await,
        snap,
        "refusals change nothing"
    );

    let asked = app.server_now().await;
    let fresh = change_ok(&app, &astrid, None, NEW_RECORD).await;
    assert_near("record_started_at", &fresh["record_started_at"], asked, 30);
    let started = fresh["record_started_at"].clone();
    assert_active(&fresh, &me, Some(&started));

    let snap = snapshot(&app, &astrid, None).await;
    expect_problem(
        change(&app, &astrid, None, NEW_RECORD),
        StatusCode::CONFLICT,
        "record-active",
    )
    .await;
    expect_problem(
        change(&app, &astrid, None, RESTORATION),
        StatusCode::CONFLICT,
        "not-opted-out",
    )
    .await;
    assert_eq!(
        snapshot(&app, &astrid, None).await,
        snap,
        "refusals change nothing"
    );
    assert_eq!(
        order_purges(&app).await,
        0,
        "an active record has nothing to purge"
    );

    let events = app.feed_events().await;
    assert_eq!(
        record_events(&events, &me),
        [OPTED_OUT, PURGE_ORDERED, NEW],
        "{events:?}"
    );
    let entries = record_entries(&app.usage_log(&astrid).await);
    assert_eq!(actions(&entries), [NEW, PURGE_ORDERED, OPTED_OUT]);
    assert_eq!(entries[0]["actor_kind"], "citizen", "{}", entries[0]);

    // Bjørn's deadline: one of four concurrent runs orders his purge.
    app.set_clock("2027-01-01T08:00:00Z").await;
    let runs = join_all((0..4).map(|_| order_purges(&app))).await;
    assert_eq!(runs.iter().sum::<u64>(), 1, "exactly one purge: {runs:?}");
    assert_eq!(order_purges(&app).await, 0);
    let events = app.feed_events().await;
    assert_eq!(
        record_events(&events, &him),
        [OPTED_OUT, PURGE_ORDERED],
        "{events:?}"
    );
    assert_eq!(
        record_events(&events, &me),
        [OPTED_OUT, PURGE_ORDERED, NEW],
        "{events:?}"
    );
    let bjorn = app.login(BJORN).await;
    assert_eq!(
        record_status(&app, &bjorn, None).await["state"],
        "purge_ordered"
    );
}

/// Past the deadline, before any job ran, asking for a new record orders the due purge first
/// and then makes the new record: one `purge_ordered` and then one `new_record`, in the feed and
/// the log. The job afterwards finds nothing to do.
async fn a_new_record_past_the_deadline_orders_the_purge_first(backend: Backend) {
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID, "full").await;
    let me = astrid.citizen_id.clone();
    change_ok(&app, &astrid, None, OPT_OUT).await;

    app.set_clock("2026-12-24T09:00:00Z").await;
    let astrid = app.login(ASTRID).await;
    let due = record_status(&app, &astrid, None).await;
    assert_eq!(due["state"], "opted_out", "no job ran: {due}");
    assert_eq!(due["possible"], "new_record", "{due}");

    let asked = app.server_now().await;
    let fresh = change_ok(&app, &astrid, None, NEW_RECORD).await;
    assert_near("record_started_at", &fresh["record_started_at"], asked, 30);
    let started = fresh["record_started_at"].clone();
    assert_active(&fresh, &me, Some(&started));

    let events = app.feed_events().await;
    assert_eq!(
        record_events(&events, &me),
        [OPTED_OUT, PURGE_ORDERED, NEW],
        "{events:?}"
    );
    let entries = record_entries(&app.usage_log(&astrid).await);
    assert_eq!(actions(&entries), [NEW, PURGE_ORDERED, OPTED_OUT]);

    assert_eq!(order_purges(&app).await, 0, "the purge was ordered already");
    assert_eq!(app.feed_events().await, events);
    expect_problem(
        change(&app, &astrid, None, NEW_RECORD),
        StatusCode::CONFLICT,
        "record-active",
    )
    .await;
    assert_eq!(app.feed_events().await, events);
}

// ---------------------------------------------------------------------------- concurrency

/// Two restores of one opt-out at once: one 200, one 409 `not-opted-out`, one `restored` event
/// and entry. Then, several times, an opt-out and a restore at once: the answers match one of
/// the two serial orders (opt-out first: both succeed and the record ends active; restore first:
/// the restore is 409 `not-opted-out` and the record ends opted out), and the feed has exactly
/// one event per success, in that order.
async fn concurrent_changes_are_serialised(backend: Backend) {
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID, "full").await;
    let me = astrid.citizen_id.clone();
    change_ok(&app, &astrid, None, OPT_OUT).await;

    let answers =
        join_all((0..2).map(|_| tests::app::send_json(change(&app, &astrid, None, RESTORATION))))
            .await;
    let mut statuses: Vec<StatusCode> = answers.iter().map(|(s, _)| *s).collect();
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{answers:?}"
    );
    let (_, refused) = answers
        .iter()
        .find(|(s, _)| *s == StatusCode::CONFLICT)
        .expect("a 409");
    assert_eq!(
        problem_type(refused),
        "/problems/not-opted-out",
        "{refused}"
    );
    assert_active(&record_status(&app, &astrid, None).await, &me, None);
    let events = app.feed_events().await;
    assert_eq!(
        record_events(&events, &me),
        [OPTED_OUT, RESTORED],
        "{events:?}"
    );
    let entries = record_entries(&app.usage_log(&astrid).await);
    assert_eq!(actions(&entries), [RESTORED, OPTED_OUT]);

    let mut expected = vec![OPTED_OUT.to_owned(), RESTORED.to_owned()];
    for round in 0..5 {
        // Start each round from an active record.
        let now = record_status(&app, &astrid, None).await;
        if now["state"] == "opted_out" {
            change_ok(&app, &astrid, None, RESTORATION).await;
            expected.push(RESTORED.to_owned());
        }
        let (opt, restore) = futures_util::join!(
            tests::app::send_json(change(&app, &astrid, None, OPT_OUT)),
            tests::app::send_json(change(&app, &astrid, None, RESTORATION)),
        );
        assert_eq!(
            opt.0,
            StatusCode::OK,
            "round {round}: the opt-out always succeeds: {opt:?}"
        );
        let end = record_status(&app, &astrid, None).await;
        match restore.0 {
            StatusCode::OK => {
                assert_active(&restore.1, &me, None);
                assert_active(&end, &me, None);
                expected.extend([OPTED_OUT.to_owned(), RESTORED.to_owned()]);
            }
            StatusCode::CONFLICT => {
                assert_eq!(
                    problem_type(&restore.1),
                    "/problems/not-opted-out",
                    "{restore:?}"
                );
                assert_eq!(end["state"], "opted_out", "round {round}: {end}");
                expected.push(OPTED_OUT.to_owned());
            }
            other => panic!("round {round}: the restore answered {other}: {restore:?}"),
        }
        let events = app.feed_events().await;
        assert_eq!(
            record_events(&events, &me),
            expected,
            "round {round}: {events:?}"
        );
        let mut newest_first = expected.clone();
        newest_first.reverse();
        assert_eq!(
            actions(&record_entries(&app.usage_log(&astrid).await)),
            newest_first,
            "round {round}"
        );
    }
}

/// Each change answers the status as stored: a `GET` right after reads the same body, to the
/// digit of every time (an opt-out, a restore, the job's purge, a new record).
async fn each_answer_is_the_status_as_stored(backend: Backend) {
    let app = portal(backend).await;
    let astrid = citizen(&app, ASTRID, "full").await;
    let mut answers = Vec::new();
    for path in [OPT_OUT, RESTORATION, OPT_OUT] {
        let (status, body) = tests::app::send_json(change(&app, &astrid, None, path)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        answers.push((path, body, record_status(&app, &astrid, None).await));
    }
    app.set_clock("2026-12-24T09:00:00Z").await;
    let astrid = app.login(ASTRID).await;
    let (status, body) = tests::app::send_json(change(&app, &astrid, None, NEW_RECORD)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    answers.push((NEW_RECORD, body, record_status(&app, &astrid, None).await));
    let differing: Vec<String> = answers
        .iter()
        .filter(|(_, answer, stored)| answer != stored)
        .map(|(path, answer, stored)| format!("POST {path} answered {answer}, GET read {stored}"))
        .collect();
    assert!(
        differing.is_empty(),
        "each POST answers what a GET then reads:\n{}",
        differing.join("\n")
    );
}

// ----------------------------------------------------------------------------- on behalf

/// Bjørn holds Astrid's power of attorney for every area, yet may not opt her out, restore or
/// ask for a new record (403 `not-allowed-on-behalf`, nothing changes). Kari may not act on
/// Lukas's (14) record at all, not even read it. For Nora (5) she may: Nora's record is opted out
/// (and restored), Kari's own stays active, and the entries are in Nora's log by Kari as a
/// guardian, the events about Nora.
async fn only_a_guardian_of_a_young_child_acts_on_behalf(backend: Backend) {
    let app = portal(backend).await;
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
    let (status, list) = app.get_json(&bjorn, "/api/v1/representations").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let for_astrid = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["person"]["citizen_id"] == astrid.citizen_id.as_str())
        .and_then(|r| r["representation_id"].as_str())
        .unwrap_or_else(|| panic!("Bjørn represents Astrid: {list}"))
        .to_owned();

    let astrid_before = snapshot(&app, &astrid, None).await;
    let bjorn_log = app.usage_log(&bjorn).await;
    for path in [OPT_OUT, RESTORATION, NEW_RECORD] {
        let (p, _) = expect_problem(
            change(&app, &bjorn, Some(&for_astrid), path),
            StatusCode::FORBIDDEN,
            "not-allowed-on-behalf",
        )
        .await;
        assert_no_pids(path, &p.to_string());
    }
    assert_eq!(snapshot(&app, &astrid, None).await, astrid_before);
    assert_eq!(app.usage_log(&bjorn).await, bjorn_log);
    assert_active(
        &record_status(&app, &bjorn, None).await,
        &bjorn.citizen_id,
        None,
    );

    // Kari: Lukas (14) not at all.
    let kari = citizen(&app, KARI, "full").await;
    let (status, list) = app.get_json(&kari, "/api/v1/representations").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let rep_of = |name: &str| -> (String, String) {
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
    };
    let (kari_lukas, _) = rep_of("Lukas Nordmann");
    let (kari_nora, nora) = rep_of("Nora Nordmann");

    let kari_before = snapshot(&app, &kari, None).await;
    let lukas_log = log_of(&app, &kari, Some(&kari_lukas)).await;
    expect_problem(
        request(&app, &kari, Some(&kari_lukas), Method::GET, STATUS),
        StatusCode::FORBIDDEN,
        "not-allowed-on-behalf",
    )
    .await;
    for path in [OPT_OUT, RESTORATION, NEW_RECORD] {
        expect_problem(
            change(&app, &kari, Some(&kari_lukas), path),
            StatusCode::FORBIDDEN,
            "not-allowed-on-behalf",
        )
        .await;
    }
    assert_eq!(snapshot(&app, &kari, None).await, kari_before);
    assert_eq!(log_of(&app, &kari, Some(&kari_lukas)).await, lukas_log);

    // Nora (5): yes.
    let nora_before = record_status(&app, &kari, Some(&kari_nora)).await;
    assert_active(&nora_before, &nora, None);
    let nora_log_before = log_of(&app, &kari, Some(&kari_nora)).await;
    let out = change_ok(&app, &kari, Some(&kari_nora), OPT_OUT).await;
    assert_opted_out(&out, &nora, at(TODAY), DEADLINE);
    assert_active(
        &record_status(&app, &kari, None).await,
        &kari.citizen_id,
        None,
    );

    let nora_log = log_of(&app, &kari, Some(&kari_nora)).await;
    let new_entries = &nora_log[..nora_log.len() - nora_log_before.len()];
    let entries = record_entries(new_entries);
    assert_eq!(actions(&entries), [OPTED_OUT], "{nora_log:?}");
    assert_eq!(entries[0]["actor_kind"], "guardian", "{}", entries[0]);
    assert_eq!(
        entries[0]["actor_id"],
        kari.citizen_id.as_str(),
        "{}",
        entries[0]
    );

    let back = change_ok(&app, &kari, Some(&kari_nora), RESTORATION).await;
    assert_active(&back, &nora, None);

    let events = app.feed_events().await;
    assert_eq!(
        record_events(&events, &nora),
        [OPTED_OUT, RESTORED],
        "{events:?}"
    );
    assert!(
        record_events(&events, &kari.citizen_id).is_empty(),
        "{events:?}"
    );
    assert!(
        record_events(&events, &astrid.citizen_id).is_empty(),
        "{events:?}"
    );
    assert!(
        record_events(&events, &bjorn.citizen_id).is_empty(),
        "{events:?}"
    );

    // Downstream, Nora's record followed; Kari's did not.
    let token = reader_token(&app).await;
    assert_eq!(
        decide(&app, &token, NORA).await["subject_id"],
        nora.as_str()
    );
    assert_eq!(decide(&app, &token, KARI).await["state"], "active");
}

/// A change needs a login at `idporten-loa-high` (403 `step-up-required` at `substantial`) and
/// accepted terms (403 `consent-required`); neither refusal changes anything.
async fn changes_need_high_assurance_and_consent(backend: Backend) {
    let app = portal(backend).await;
    let high = citizen(&app, ASTRID, "full").await;
    let me = high.citizen_id.clone();
    let substantial = app.login_at(ASTRID, Some("idporten-loa-substantial")).await;
    let before = snapshot(&app, &high, None).await;
    for path in [OPT_OUT, RESTORATION, NEW_RECORD] {
        expect_problem(
            change(&app, &substantial, None, path),
            StatusCode::FORBIDDEN,
            "step-up-required",
        )
        .await;
    }
    assert_eq!(
        snapshot(&app, &high, None).await,
        before,
        "the refusals change nothing"
    );

    let unconsented = app.login(INGRID).await;
    for path in [OPT_OUT, RESTORATION, NEW_RECORD] {
        expect_problem(
            change(&app, &unconsented, None, path),
            StatusCode::FORBIDDEN,
            "consent-required",
        )
        .await;
    }
    let events = app.feed_events().await;
    assert_eq!(events, before.2, "no event");
    assert!(record_events(&events, &me).is_empty());
    let token = reader_token(&app).await;
    assert_eq!(decide(&app, &token, INGRID).await["state"], "active");
    assert_active(&record_status(&app, &high, None).await, &me, None);
}

// ------------------------------------------------------------------------------ machines

/// The machine decision answers the citizen's own status body in every state: active (also for
/// a person never seen and one the register does not know), opted out, purge ordered, and a new
/// record. A token without `consent:read` is 403 `insufficient-scope`.
async fn the_machine_decision_follows_each_state(backend: Backend) {
    let app = portal(backend).await;
    let token = reader_token(&app).await;

    for pid in [INGRID, UNKNOWN] {
        let (status, body) = tests::app::send_json(decision(&app, &token, pid)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_no_pids("the decision", &body.to_string());
        assert_eq!(body["state"], "active", "{body}");
        assert_eq!(body["available_to_health_personnel"], true, "{body}");
        assert_eq!(body["possible"], "opt_out", "{body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
    }

    let astrid = citizen(&app, ASTRID, "full").await;
    let me = astrid.citizen_id.clone();
    let same = |label: &str, machine: &Value, own: &Value| {
        assert_eq!(
            machine, own,
            "{label}: the machine sees the citizen's status"
        );
    };
    let own = record_status(&app, &astrid, None).await;
    assert_active(&own, &me, None);
    same("active", &decide(&app, &token, ASTRID).await, &own);

    change_ok(&app, &astrid, None, OPT_OUT).await;
    let own = record_status(&app, &astrid, None).await;
    same("opted out", &decide(&app, &token, ASTRID).await, &own);
    assert_eq!(
        decide(&app, &token, ASTRID).await["available_to_health_personnel"],
        false
    );

    change_ok(&app, &astrid, None, RESTORATION).await;
    let own = record_status(&app, &astrid, None).await;
    same("restored", &decide(&app, &token, ASTRID).await, &own);

    change_ok(&app, &astrid, None, OPT_OUT).await;
    app.set_clock("2026-12-24T09:00:00Z").await;
    let machine = decide(&app, &token, ASTRID).await;
    assert_eq!(machine["state"], "opted_out", "{machine}");
    assert_eq!(machine["possible"], "new_record", "{machine}");
    assert_eq!(order_purges(&app).await, 1);
    let astrid = app.login(ASTRID).await;
    let own = record_status(&app, &astrid, None).await;
    assert_eq!(own["state"], "purge_ordered", "{own}");
    same("purge ordered", &decide(&app, &token, ASTRID).await, &own);

    change_ok(&app, &astrid, None, NEW_RECORD).await;
    let own = record_status(&app, &astrid, None).await;
    same("new record", &decide(&app, &token, ASTRID).await, &own);
    assert_eq!(own["state"], "active");
    assert!(own["record_started_at"].is_string(), "{own}");

    // The batch form answers each in order, as the single form does.
    let (status, batch) = tests::app::send_json(
        app.as_service(&token, Method::POST, BATCH)
            .json(&json!({ "items": [{ "pid": ASTRID }, { "pid": INGRID }] })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{batch}");
    assert_eq!(
        batch["items"],
        json!([
            decide(&app, &token, ASTRID).await,
            decide(&app, &token, INGRID).await
        ])
    );
    let too_many: Vec<Value> = (0..101).map(|_| json!({ "pid": INGRID })).collect();
    expect_problem(
        app.as_service(&token, Method::POST, BATCH)
            .json(&json!({ "items": too_many })),
        StatusCode::BAD_REQUEST,
        "validation-failed",
    )
    .await;
    let (p, _) = expect_problem(
        app.as_service(&token, Method::POST, BATCH)
            .json(&json!({ "items": [{ "pid": INGRID }, { "pid": "123" }] })),
        StatusCode::BAD_REQUEST,
        "validation-failed",
    )
    .await;
    assert!(p.to_string().contains("items[1].pid"), "{p}");

    // Reading changes nothing and is refused without the scope.
    let snap = snapshot(&app, &astrid, None).await;
    let clinic = app
        .idp
        .service_token("dev-service-clinic", "child-restrictions:write")
        .await;
    let (p, _) = expect_problem(
        decision(&app, &clinic, ASTRID),
        StatusCode::FORBIDDEN,
        "insufficient-scope",
    )
    .await;
    assert_no_pids("the problem", &p.to_string());
    decide(&app, &token, ASTRID).await;
    assert_eq!(snapshot(&app, &astrid, None).await, snap);
}

// ----------------------------------------------------------------------- timer and operator

/// With the timer on (every second), the server orders a due purge itself, once, as the system.
async fn the_timer_orders_due_purges(backend: Backend) {
    let app = TestApp::builder(backend)
        .env("PURGE_INTERVAL_SECONDS", "1")
        .spawn()
        .await;
    app.set_clock(TODAY).await;
    let astrid = citizen(&app, ASTRID, "full").await;
    let me = astrid.citizen_id.clone();
    change_ok(&app, &astrid, None, OPT_OUT).await;

    app.set_clock("2026-12-24T09:00:00Z").await;
    let astrid = app.login(ASTRID).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let now = record_status(&app, &astrid, None).await;
        if now["state"] == "purge_ordered" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the timer ordered no purge in 20 s: {now}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    // A few more ticks order nothing more.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let events = app.feed_events().await;
    assert_eq!(
        record_events(&events, &me),
        [OPTED_OUT, PURGE_ORDERED],
        "{events:?}"
    );
    let entries = record_entries(&app.usage_log(&astrid).await);
    assert_eq!(actions(&entries), [PURGE_ORDERED, OPTED_OUT]);
    assert_eq!(entries[0]["actor_kind"], "system", "{}", entries[0]);
    assert_eq!(order_purges(&app).await, 0);
}

/// `consent-portal order-purges` orders what is due by the system clock: an opt-out made (by the
/// dev clock) 40 days ago is purged, "purges ordered: 1"; run again, "purges ordered: 0".
async fn the_operator_command_orders_due_purges(backend: Backend) {
    let app = portal(backend).await;
    let long_ago = Utc::now() - Duration::days(40);
    app.set_clock(&long_ago.to_rfc3339()).await;
    let astrid = citizen(&app, ASTRID, "full").await;
    let me = astrid.citizen_id.clone();
    change_ok(&app, &astrid, None, OPT_OUT).await;
    // The dev clock back at the system clock's now.
    app.set_clock(&Utc::now().to_rfc3339()).await;

    for expected in ["purges ordered: 1", "purges ordered: 0"] {
        let out = app.run_command_with(&["order-purges"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "order-purges exits 0: {text}");
        assert!(text.contains(expected), "{expected}: {text}");
        assert_no_pids("the command's output", &text);
    }
    let events = app.feed_events().await;
    assert_eq!(
        record_events(&events, &me),
        [OPTED_OUT, PURGE_ORDERED],
        "{events:?}"
    );
    let astrid = app.login(ASTRID).await;
    let purged = record_status(&app, &astrid, None).await;
    assert_eq!(purged["state"], "purge_ordered", "{purged}");
    let entries = record_entries(&app.usage_log(&astrid).await);
    assert_eq!(entries[0]["action"], PURGE_ORDERED, "{entries:?}");
    assert_eq!(entries[0]["actor_kind"], "system", "{}", entries[0]);
}

both_backends!(
    opt_out_then_restore,
    each_answer_is_the_status_as_stored,
    restore_until_the_last_second_of_the_window,
    the_job_orders_each_purge_once,
    a_new_record_past_the_deadline_orders_the_purge_first,
    concurrent_changes_are_serialised,
    only_a_guardian_of_a_young_child_acts_on_behalf,
    changes_need_high_assurance_and_consent,
    the_machine_decision_follows_each_state,
    the_timer_orders_due_purges,
    the_operator_command_orders_due_purges,
);

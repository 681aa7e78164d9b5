//! The citizen's usage log ("Logg over bruk"): paging by cursor, "since your last login", and
//! tamper evidence (`consent-portal verify-log` finds a hand-edited or deleted row).

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashSet;
use tests::{both_backends, persons, Backend, Session, TestApp};

/// Writes `changes` level changes, alternating full and basis (after an acceptance at basis).
async fn change_level_back_and_forth(app: &TestApp, s: &Session, changes: usize) {
    for i in 0..changes {
        let level = if i % 2 == 0 { "full" } else { "basis" };
        let (status, body) = app
            .send_json(
                s,
                reqwest::Method::PUT,
                "/api/v1/terms/level",
                json!({ "level": level }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

/// Every page of the log at `limit`, following `next_cursor`.
async fn pages(app: &TestApp, s: &Session, limit: u32) -> Vec<Value> {
    let mut out = Vec::new();
    let mut path = format!("/api/v1/usage-log?limit={limit}");
    loop {
        let (status, page) = app.get_json(s, &path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let next = page["next_cursor"].as_str().map(str::to_owned);
        out.push(page);
        match next {
            Some(c) => path = format!("/api/v1/usage-log?limit={limit}&cursor={c}"),
            None => return out,
        }
        assert!(out.len() < 100, "paging does not end");
    }
}

fn seqs(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect()
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("an RFC 3339 time: {v}"))
}

/// 30 entries (a login, an acceptance, 28 level changes) paged 10 at a time come back as three
/// full pages, newest first, seq strictly descending from 30 to 1 with no duplicates or gaps; the
/// last page has no `next_cursor`. A page size that does not divide the total (7) ends with the
/// remainder, the default page is 20, and a cursor used by another citizen shows only that
/// citizen's own entries.
async fn pages_by_cursor_cover_the_log_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = app.login(persons::ASTRID).await;
    app.accept_terms(&s, "basis").await;
    change_level_back_and_forth(&app, &s, 28).await;
    let total = 30;

    let by_ten = pages(&app, &s, 10).await;
    let sizes: Vec<usize> = by_ten.iter().map(|p| seqs(p).len()).collect();
    assert_eq!(sizes, [10, 10, 10]);
    assert_eq!(by_ten[2]["next_cursor"], Value::Null, "the last page");
    let all: Vec<i64> = by_ten.iter().flat_map(seqs).collect();
    assert_eq!(all, (1..=total).rev().collect::<Vec<_>>());
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), all.len());

    let by_seven = pages(&app, &s, 7).await;
    let sizes: Vec<usize> = by_seven.iter().map(|p| seqs(p).len()).collect();
    assert_eq!(sizes, [7, 7, 7, 7, 2]);
    assert_eq!(by_seven.iter().flat_map(seqs).collect::<Vec<_>>(), all);

    // The same entries, item for item, whatever the page size.
    let whole = app.usage_log(&s).await;
    let paged: Vec<Value> = by_ten
        .iter()
        .flat_map(|p| p["items"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(paged, whole);
    assert_eq!(
        whole.last().map(|e| e["action"].clone()),
        Some(json!("login"))
    );
    assert_eq!(whole[total as usize - 2]["action"], "terms.accepted");
    assert!(whole[..28]
        .iter()
        .all(|e| e["action"] == "terms.level_changed"));

    let (_, first) = app.get_json(&s, "/api/v1/usage-log").await;
    assert_eq!(seqs(&first), (11..=total).rev().collect::<Vec<_>>());
    assert!(first["next_cursor"].is_string());

    // A cursor is only a position: in another citizen's hands it shows that citizen's own log.
    let cursor = by_ten[0]["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let b = app.login(persons::BJORN).await;
    app.accept_terms(&b, "full").await;
    let (status, theirs) = app
        .get_json(&b, &format!("/api/v1/usage-log?limit=100&cursor={cursor}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let items = theirs["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{theirs}");
    assert!(items.iter().all(|e| e["actor_id"] == b.citizen_id.as_str()));
}

/// "Since your last login": on the first login there is no previous login and nothing to show;
/// after a second login (a new session, two minutes later) `previous_login_at` is the first
/// login's time, as `me` also says, and the items list only what others did: nothing yet, since
/// all entries are the citizen's own.
async fn since_last_login_shows_what_others_did(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app.login(persons::ASTRID).await;
    app.accept_terms(&first, "basis").await;
    let (status, since) = app
        .get_json(&first, "/api/v1/usage-log/since-last-login")
        .await;
    assert_eq!(status, StatusCode::OK, "{since}");
    assert_eq!(
        since,
        json!({ "previous_login_at": null, "items": [], "truncated": false })
    );
    let log = app.usage_log(&first).await;
    let first_login_at = time(&log.last().expect("the login entry")["at"]);

    app.advance_clock(120).await;
    let second = app.login(persons::ASTRID).await;
    assert_ne!(second.token, first.token, "a new session");
    let (status, since) = app
        .get_json(&second, "/api/v1/usage-log/since-last-login")
        .await;
    assert_eq!(status, StatusCode::OK, "{since}");
    let mut keys: Vec<&str> = since
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["items", "previous_login_at", "truncated"]);
    let previous = time(&since["previous_login_at"]);
    assert!(
        (previous - first_login_at).num_seconds().abs() < 1,
        "{previous} is the first login at {first_login_at}"
    );
    assert_eq!(
        since["items"],
        json!([]),
        "only the citizen's own entries so far"
    );
    assert_eq!(since["truncated"], false);

    let (_, me) = app.get_json(&second, "/api/v1/me").await;
    assert_eq!(time(&me["previous_login_at"]), previous);
    // The second login is in the log, about two minutes after the first.
    let log = app.usage_log(&second).await;
    assert_eq!(log[0]["action"], "login");
    let gap = time(&log[0]["at"]) - first_login_at;
    assert!((119..=125).contains(&gap.num_seconds()), "{gap}");
}

/// Tamper evidence: `verify-log` passes on untouched logs; after a row of one citizen's log is
/// hand-edited in the database it exits non-zero naming that citizen's chain and the altered
/// entry (and not the other citizen's); a deleted row is found as a gap.
async fn verify_log_finds_edited_and_deleted_rows(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let astrid = app.login(persons::ASTRID).await;
    app.accept_terms(&astrid, "basis").await;
    change_level_back_and_forth(&app, &astrid, 2).await;
    let bjorn = app.login(persons::BJORN).await;
    app.accept_terms(&bjorn, "full").await;

    let out = app.run_command("verify-log");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "untouched logs verify: {text}");
    assert!(text.contains("usage-log chains verified"), "{text}");
    assert!(!text.contains("broken usage-log chain"), "{text}");

    let edited = app.execute_sql(&format!(
        "UPDATE usage_log SET action = 'terms.withdrawn' WHERE seq = 2 AND subject_id = '{}'",
        astrid.citizen_id
    ));
    assert_eq!(edited, 1);
    let out = app.run_command("verify-log");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "an edited row is found: {text}");
    assert_eq!(out.status.code(), Some(1), "{text}");
    let broken: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("broken usage-log chain"))
        .collect();
    assert_eq!(broken.len(), 1, "{text}");
    assert!(broken[0].contains(&astrid.citizen_id), "{text}");
    assert!(broken[0].contains("entry 2 has been altered"), "{text}");
    assert!(!text.contains(&bjorn.citizen_id), "{text}");

    let deleted = app.execute_sql(&format!(
        "DELETE FROM usage_log WHERE seq = 1 AND subject_id = '{}'",
        bjorn.citizen_id
    ));
    assert_eq!(deleted, 1);
    let out = app.run_command("verify-log");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let broken: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("broken usage-log chain"))
        .collect();
    assert_eq!(broken.len(), 2, "{text}");
    assert!(
        broken
            .iter()
            .any(|l| l.contains(&bjorn.citizen_id) && l.contains("does not follow")),
        "{text}"
    );
}

both_backends!(
    pages_by_cursor_cover_the_log_once,
    since_last_login_shows_what_others_did,
    verify_log_finds_edited_and_deleted_rows,
);

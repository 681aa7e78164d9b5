//! Downloading one's data: the JSON document with every section and the whole usage log, and the
//! log as CSV, both streamed; a long log (tens of thousands of rows, written straight into the
//! database) comes out complete and in order, and the download itself is logged.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tests::persons::{ASTRID, BJORN, KARI};
use tests::{both_backends, Backend, TestApp};

use crate::errors::expect_problem;

const EXPORT: &str = "/api/v1/export";
const CSV: &str = "/api/v1/export/usage-log.csv";
/// Rows written straight into the log: many pages of the export's reads.
const BULK: usize = 25_000;

/// Appends `BULK` rows to `subject`'s log after its own (seq 100 001 on), in one statement that
/// both backends read the same way.
fn fill_log(app: &TestApp, subject: &str) {
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {BULK}) \
         INSERT INTO usage_log (subject_id, seq, at, actor_kind, actor_id, action, details, prev_hash, hash) \
         SELECT '{subject}', 100000 + i, '2026-11-20 10:00:00', 'service', 'dev-service-writer', \
         'access.reported', '{{\"n\":' || i || ',\"note\":\"a, \\\"quoted\\\" one\"}}', 'p', 'h' || i FROM n"
    );
    assert_eq!(app.execute_sql(&sql), BULK);
}

async fn a_long_log_is_exported_whole_and_streamed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let astrid = app.login(ASTRID).await;
    app.accept_terms(&astrid, "full").await;
    for (path, body) in [
        ("/api/v1/summary-care-record/opt-out", json!({})),
        (
            "/api/v1/summary-care-record/blocks",
            json!({ "kind": "part", "part": "medicines" }),
        ),
        (
            "/api/v1/data-requests",
            json!({ "kind": "portability", "text": "All my data, please." }),
        ),
    ] {
        let (status, answer) = app.send_json(&astrid, Method::POST, path, body).await;
        assert!(status.is_success(), "{path}: {answer}");
    }
    let own_entries = app.usage_log(&astrid).await.len();
    fill_log(&app, &astrid.citizen_id);

    let res = app
        .as_citizen(&astrid, Method::GET, EXPORT)
        .send()
        .await
        .expect("export");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers().get("content-length").is_none(),
        "streamed, not sized in advance"
    );
    let text = res.text().await.expect("body");
    assert!(
        tests::logscan::lines_with_identity_numbers(&text).is_empty(),
        "no identity number in the export"
    );
    let doc: Value = serde_json::from_str(&text).expect("one JSON document");
    assert_eq!(doc["schema"], "consent-portal-export/1");
    assert_eq!(doc["subject_id"], astrid.citizen_id.as_str());
    assert_eq!(doc["terms_consent"]["current"]["level"], "full");
    assert_eq!(doc["summary_care_record"]["state"], "opted_out");
    assert_eq!(
        doc["summary_care_record"]["blocks_and_objections"][0]["target"]["part"],
        "medicines"
    );
    assert_eq!(doc["data_requests"][0]["kind"], "portability");
    let log = doc["usage_log"].as_array().expect("the log");
    // Her own entries, the bulk, and this download.
    assert_eq!(log.len(), own_entries + BULK + 1);
    let seqs: Vec<i64> = log.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "oldest first, each once"
    );
    assert_eq!(log[own_entries]["details"]["n"], 1);
    assert_eq!(log[own_entries]["details"]["note"], r#"a, "quoted" one"#);
    assert_eq!(log[own_entries + BULK - 1]["details"]["n"], BULK);
    assert_eq!(log.last().unwrap()["action"], "export.downloaded");

    // The CSV: a header, one record per entry (this download's entry included), quoted fields.
    let res = app
        .as_citizen(&astrid, Method::GET, CSV)
        .send()
        .await
        .expect("csv");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv")));
    let csv = res.text().await.expect("csv body");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "seq,at,actor_kind,actor_id,action,details,hash");
    assert_eq!(
        lines.len(),
        1 + own_entries + BULK + 2,
        "both downloads logged"
    );
    let bulk_line = lines[1 + own_entries];
    assert!(
        bulk_line.contains(r#""{""n"":1,""note"":""a, \""quoted\"" one""}""#),
        "RFC 4180 quoting: {bulk_line}"
    );
    assert!(lines.last().unwrap().contains("export.downloaded"));
}

async fn only_the_citizen_or_a_young_childs_guardian_downloads(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let astrid = app.login(ASTRID).await;
    app.accept_terms(&astrid, "full").await;
    let bjorn = app.login(BJORN).await;
    app.accept_terms(&bjorn, "full").await;
    let (status, g) = app
        .send_json(
            &astrid,
            Method::POST,
            "/api/v1/powers-of-attorney",
            json!({ "grantee_pid": BJORN, "all_areas": true }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    let id = g["id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .send_json(
            &bjorn,
            Method::POST,
            &format!("/api/v1/powers-of-attorney/{id}/acceptance"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for path in [EXPORT, CSV] {
        expect_problem(
            app.as_citizen(&bjorn, Method::GET, path)
                .header("x-acting-for", id.as_str()),
            StatusCode::FORBIDDEN,
            "not-allowed-on-behalf",
        )
        .await;
    }
    // Without a session: 401.
    let res = reqwest::get(app.url(EXPORT)).await.expect("answers");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

/// A guardian's export holds the settings of the children whose access is available to them:
/// the switches of each, and the summary care record only for a child under 12.
async fn a_guardians_export_holds_the_childrens_settings(backend: Backend) {
    let app = TestApp::builder(backend)
        .env("PURGE_INTERVAL_SECONDS", "0")
        .spawn()
        .await;
    app.set_clock("2026-11-23T12:00:00Z").await;
    let kari = app.login(KARI).await;
    app.accept_terms(&kari, "full").await;
    let res = app
        .as_citizen(&kari, Method::GET, EXPORT)
        .send()
        .await
        .expect("export");
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.expect("JSON");
    let children = doc["children"].as_array().expect("children");
    assert!(!children.is_empty(), "{doc}");
    assert!(children.iter().all(|c| c["access_switches"].is_array()));
    assert!(
        children
            .iter()
            .any(|c| c["summary_care_record"]["state"] == "active"),
        "a child under 12: {children:?}"
    );
    assert!(
        children
            .iter()
            .any(|c| c.get("summary_care_record").is_none()),
        "a child of 12 to 16: no summary care record for the guardian: {children:?}"
    );
}

both_backends!(
    a_guardians_export_holds_the_childrens_settings,
    a_long_log_is_exported_whole_and_streamed,
    only_the_citizen_or_a_young_childs_guardian_downloads,
);

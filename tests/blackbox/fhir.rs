//! The FHIR R4 Consent view: a citizen with a power of attorney, a summary care record opt-out, a
//! block and an objection, searched by a machine client, rendered as a `searchset` Bundle that
//! the official FHIR 4.0.1 JSON schema accepts (tests/fhir/validate.js, installed by
//! scripts/test), with each setting as the Consent it should be.

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tests::persons::{ASTRID, BJORN, INGRID};
use tests::{both_backends, workspace_root, Backend, TestApp};

use crate::errors::expect_problem;

const SEARCH: &str = "/api/v1/fhir/Consent/_search";
const FNR_SYSTEM: &str = "urn:oid:2.16.578.1.12.4.1.4.1";

/// Runs the FHIR schema validator on `doc`: (valid, errors).
fn validate(doc: &Value) -> (bool, Value) {
    let dir = workspace_root().join("tests/fhir");
    let mut child = Command::new("node")
        .arg(dir.join("validate.js"))
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs tests/fhir/validate.js (scripts/test installs its packages)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(doc.to_string().as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("validator");
    assert!(out.status.success(), "the validator crashed");
    let answer: Value = serde_json::from_slice(&out.stdout).expect("validator JSON");
    (answer["valid"] == true, answer["errors"].clone())
}

/// A form-encoded FHIR search for `pid` with `token`.
async fn search(app: &TestApp, token: &str, pid: &str) -> Value {
    let res = app
        .as_service(token, Method::POST, SEARCH)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("patient:identifier={FNR_SYSTEM}|{pid}"))
        .send()
        .await
        .expect("search");
    assert_eq!(res.status(), StatusCode::OK);
    let content_type = tests::app::header(&res, "content-type").unwrap_or_default();
    assert_eq!(content_type, "application/fhir+json");
    let text = res.text().await.expect("body");
    assert!(
        tests::logscan::lines_with_identity_numbers(&text).is_empty(),
        "no identity number in the Bundle: {text}"
    );
    serde_json::from_str(&text).expect("JSON")
}

/// The Consent of kind `kind` (our category coding) in `bundle`.
fn of_kind<'a>(bundle: &'a Value, kind: &str) -> Vec<&'a Value> {
    bundle["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["category"][1]["coding"][0]["code"] == kind)
        .collect()
}

fn rule(c: &Value) -> &str {
    c["policyRule"]["coding"][0]["code"]
        .as_str()
        .unwrap_or_default()
}

async fn a_citizens_settings_are_valid_fhir_consents(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let astrid = app.login(ASTRID).await;
    app.accept_terms(&astrid, "full").await;
    let bjorn = app.login(BJORN).await;
    app.accept_terms(&bjorn, "full").await;

    // A power of attorney to Bjørn, accepted.
    let (status, g) = app
        .send_json(
            &astrid,
            Method::POST,
            "/api/v1/powers-of-attorney",
            json!({ "grantee_pid": BJORN, "all_areas": true }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{g}");
    let grant_id = g["id"].as_str().expect("id").to_owned();
    let (status, body) = app
        .send_json(
            &bjorn,
            Method::POST,
            &format!("/api/v1/powers-of-attorney/{grant_id}/acceptance"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // An opt-out, a block of one part, a professional's block and an objection.
    for (path, body) in [
        ("/api/v1/summary-care-record/opt-out", json!({})),
        (
            "/api/v1/summary-care-record/blocks",
            json!({ "kind": "part", "part": "medicines" }),
        ),
        (
            "/api/v1/summary-care-record/blocks",
            json!({ "kind": "professional", "hpr_number": "1234567" }),
        ),
        (
            "/api/v1/objections",
            json!({ "kind": "organisation", "organisation_number": "974749025" }),
        ),
    ] {
        let (status, answer) = app.send_json(&astrid, Method::POST, path, body).await;
        assert!(status.is_success(), "{path}: {status} {answer}");
    }
    let (_, me) = app.get_json(&astrid, "/api/v1/me").await;
    let astrid_id = me["citizen_id"].as_str().expect("citizen_id").to_owned();
    let (_, me) = app.get_json(&bjorn, "/api/v1/me").await;
    let bjorn_id = me["citizen_id"].as_str().expect("citizen_id").to_owned();

    let token = app
        .idp
        .service_token("dev-service-reader", "consent:read")
        .await;
    let bundle = search(&app, &token, ASTRID).await;
    let (valid, errors) = validate(&bundle);
    assert!(valid, "not valid FHIR R4: {errors}\n{bundle:#}");
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "searchset");
    assert_eq!(bundle["total"], 6, "{bundle:#}");

    for entry in bundle["entry"].as_array().expect("entries") {
        let c = &entry["resource"];
        assert_eq!(c["resourceType"], "Consent");
        assert_eq!(c["patient"]["identifier"]["value"], astrid_id.as_str());
        assert!(c["policyRule"].is_object(), "ppc-1: a policy rule: {c}");
    }
    let terms = of_kind(&bundle, "terms");
    assert_eq!(terms.len(), 1);
    assert_eq!(terms[0]["status"], "active");
    assert_eq!(rule(terms[0]), "OPTIN");
    assert_eq!(
        terms[0]["provision"]["code"][0]["coding"][0]["code"],
        "full"
    );

    let opt_out = of_kind(&bundle, "summary_care_record_opt_out");
    assert_eq!(opt_out.len(), 1);
    assert_eq!(rule(opt_out[0]), "OPTOUT");
    assert_eq!(opt_out[0]["provision"]["type"], "deny");

    let blocks = of_kind(&bundle, "summary_care_record_block");
    assert_eq!(blocks.len(), 2);
    let part = blocks
        .iter()
        .find(|b| rule(b) == "OPTOUTE")
        .expect("the part's block");
    assert_eq!(part["provision"]["type"], "deny");
    assert_eq!(
        part["provision"]["code"][1]["coding"][0]["code"],
        "medicines"
    );
    assert_eq!(
        part["provision"]["provision"][0]["purpose"][0]["code"], "ETREAT",
        "an emergency opens it"
    );
    let professional = blocks
        .iter()
        .find(|b| rule(b) == "OPTOUT")
        .expect("the professional's block");
    assert_eq!(
        professional["provision"]["actor"][0]["reference"]["identifier"]["value"],
        "1234567"
    );
    assert!(
        professional["provision"].get("provision").is_none(),
        "holds even in an emergency"
    );

    let objection = of_kind(&bundle, "objection_to_sharing");
    assert_eq!(objection.len(), 1);
    assert_eq!(
        objection[0]["provision"]["actor"][0]["reference"]["identifier"]["value"],
        "974749025"
    );

    let poa = of_kind(&bundle, "power_of_attorney");
    assert_eq!(poa.len(), 1);
    assert_eq!(poa[0]["id"], grant_id.as_str());
    assert_eq!(poa[0]["status"], "active");
    assert_eq!(poa[0]["provision"]["type"], "permit");
    let actor = &poa[0]["provision"]["actor"][0];
    assert_eq!(actor["role"]["coding"][0]["code"], "POWATT");
    assert_eq!(actor["reference"]["identifier"]["value"], bjorn_id.as_str());

    // The validator is not a rubber stamp: a status FHIR does not know is refused.
    let mut broken = bundle.clone();
    broken["entry"][0]["resource"]["status"] = json!("sort-of");
    assert!(
        !validate(&broken).0,
        "the validator must refuse a bad status"
    );

    // The house-style JSON body gives the same Bundle; Bjørn's view has his terms only (the
    // grant is Astrid's to give).
    let (status, same) = tests::app::send_json(
        app.as_service(&token, Method::POST, SEARCH)
            .json(&json!({ "pid": ASTRID })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{same}");
    assert_eq!(same, bundle);
    let his = search(&app, &token, BJORN).await;
    assert_eq!(his["total"], 1, "{his:#}");
    assert!(validate(&his).0);

    // Someone the portal has never seen: an empty searchset, still valid.
    let nobody = search(&app, &token, INGRID).await;
    assert_eq!(nobody["total"], 0);
    assert!(validate(&nobody).0);
}

async fn bad_searches_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app
        .idp
        .service_token("dev-service-reader", "consent:read")
        .await;
    let form = |body: &str| {
        app.as_service(&token, Method::POST, SEARCH)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
    };
    for body in [
        "patient:identifier=123",
        "patient:identifier=urn:oid:1.2.3|21878226426",
        "something=else",
    ] {
        let (p, _) = expect_problem(form(body), StatusCode::BAD_REQUEST, "validation-failed").await;
        assert!(p.to_string().contains("patient:identifier"), "{p}");
    }
    expect_problem(
        app.as_service(&token, Method::POST, SEARCH)
            .header("content-type", "text/plain")
            .body("hello"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
    )
    .await;
    let clinic = app
        .idp
        .service_token("dev-service-clinic", "child-restrictions:write")
        .await;
    expect_problem(
        app.as_service(&clinic, Method::POST, SEARCH)
            .json(&json!({ "pid": ASTRID })),
        StatusCode::FORBIDDEN,
        "insufficient-scope",
    )
    .await;
}

both_backends!(
    a_citizens_settings_are_valid_fhir_consents,
    bad_searches_are_refused,
);

//! Downstream health services: `POST /api/v1/decisions/active-user` behind an OAuth2
//! client-credentials access token from the dev provider. A genuine token with `consent:read`
//! gets the decision; every other token (none, garbage, expired, another audience, unsigned,
//! HS256-signed with the public key, naming its own key source, altered) is a bare 401
//! `invalid-token`; a genuine token without the scope is a 403 `insufficient-scope`.
//!
//! The decision itself reads the database, so those tests run on both backends; the token checks
//! happen before any storage, so they run on SQLite only.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tests::{both_backends, persons, Backend, TestApp};

use crate::errors::expect_problem;

const ACTIVE_USER: &str = "/api/v1/decisions/active-user";

/// The active-user question for `pid`, with `token` as the bearer token.
fn ask(app: &TestApp, token: &str, pid: &str) -> RequestBuilder {
    app.as_service(token, Method::POST, ACTIVE_USER)
        .json(&json!({ "pid": pid }))
}

/// A 200 answer for `pid`, checked not to carry the identity number.
async fn decision(app: &TestApp, token: &str, pid: &str) -> Value {
    let res = ask(app, token, pid).send().await.expect("answers");
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    if status != StatusCode::OK {
        // The reason of a refusal is only in the server's log.
        let log = app.log();
        let why: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            .collect();
        panic!("{status} {text}\nserver warnings:\n{}", why.join("\n"));
    }
    let body: Value = serde_json::from_str(&text).expect("JSON");
    assert!(
        !body.to_string().contains(pid),
        "the answer echoes the identity number: {body}"
    );
    body
}

async fn reader_token(app: &TestApp) -> String {
    app.idp
        .service_token("dev-service-reader", "consent:read")
        .await
}

/// The token is refused as a bare 401 `invalid-token` with a Bearer challenge, and the answer
/// says nothing about why.
async fn assert_invalid_token(req: RequestBuilder) {
    let (problem, headers) = expect_problem(req, StatusCode::UNAUTHORIZED, "invalid-token").await;
    let challenge = headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .expect("a WWW-Authenticate header");
    assert!(
        challenge.starts_with("Bearer") && challenge.contains("invalid_token"),
        "{challenge}"
    );
    assert!(
        problem.get("detail").is_none(),
        "a refusal gives no reason: {problem}"
    );
}

/// The same server still answers a genuine token, so a refusal above was the token's fault.
async fn assert_genuine_token_still_works(app: &TestApp) {
    let token = reader_token(app).await;
    let answer = decision(app, &token, persons::BJORN).await;
    assert_eq!(answer["reason"], "not_registered");
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The three dot-separated parts of a compact JWS.
fn parts(token: &str) -> (String, String, String) {
    let mut it = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
        panic!("a compact JWS has three parts");
    };
    (h.to_owned(), p.to_owned(), s.to_owned())
}

/// A base64url JSON part, decoded.
fn decode(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

fn encode(value: &Value) -> String {
    b64(value.to_string().as_bytes())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// HMAC-SHA256 of `input` under `key`, base64url: what an HS256 signature is.
fn hs256(key: &[u8], input: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(input.as_bytes());
    b64(&mac.finalize().into_bytes())
}

/// The provider's JWKS document as published (found through discovery), raw and parsed.
async fn provider_jwks(app: &TestApp) -> (String, Value) {
    let discovery: Value = app
        .client
        .get(format!(
            "{}/.well-known/openid-configuration",
            app.idp.issuer
        ))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("discovery JSON");
    let uri = discovery["jwks_uri"].as_str().expect("jwks_uri");
    let raw = app
        .client
        .get(uri)
        .send()
        .await
        .expect("JWKS")
        .text()
        .await
        .expect("JWKS text");
    let parsed = serde_json::from_str(&raw).expect("JWKS JSON");
    (raw, parsed)
}

// ------------------------------------------------------------------------------ decisions

/// With a genuine `consent:read` token the answer follows the citizen's consent: a citizen who
/// accepted the terms in force is active at their level; one who never logged in is
/// `not_registered`; one who logged in but never accepted is `not_accepted`. No answer carries
/// the identity number. Every service client allowed `consent:read` may ask.
async fn decisions_follow_the_citizens_consent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let astrid = app.login(persons::ASTRID).await;
    let terms = app.accept_terms(&astrid, "basis_plus").await;
    let in_force = terms["consent"]["terms_in_force"].clone();
    app.login(persons::INGRID).await;
    let token = reader_token(&app).await;

    let answer = decision(&app, &token, persons::ASTRID).await;
    assert_eq!(
        answer,
        json!({
            "decision": "active",
            "reason": "consent_active",
            "consent_level": "basis_plus",
            "accepted_terms_version": in_force,
            "terms_in_force": in_force,
            "removed_access": [],
        })
    );

    let answer = decision(&app, &token, persons::BJORN).await;
    assert_eq!(
        answer,
        json!({
            "decision": "inactive",
            "reason": "not_registered",
            "consent_level": null,
            "accepted_terms_version": null,
            "terms_in_force": in_force,
            "removed_access": [],
        })
    );

    let answer = decision(&app, &token, persons::INGRID).await;
    assert_eq!(
        answer,
        json!({
            "decision": "inactive",
            "reason": "not_accepted",
            "consent_level": null,
            "accepted_terms_version": null,
            "terms_in_force": in_force,
            "removed_access": [],
        })
    );

    for (client, scope) in [
        ("dev-service-writer", "consent:read access-log:write"),
        ("dev-service-feed", "consent:read feed:read"),
        ("dev-service-shortlived", "consent:read"),
    ] {
        let token = app.idp.service_token(client, scope).await;
        let answer = decision(&app, &token, persons::ASTRID).await;
        assert_eq!(answer["decision"], "active", "{client}");
    }
}

/// An identity number that is not one (10 or 12 digits, letters, wrong check digits, spaces, a
/// JSON number) is a 400 `validation-failed` naming `pid`, and the answer repeats none of it.
async fn a_bad_pid_is_a_validation_problem(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = reader_token(&app).await;
    decision(&app, &token, persons::BJORN).await;
    let wrong_check_digits = format!("{}7", &persons::ASTRID[..10]);
    assert_ne!(wrong_check_digits, persons::ASTRID);
    let cases = [
        json!(&persons::ASTRID[..10]),
        json!(format!("{}0", persons::ASTRID)),
        json!("1082924187a"),
        json!("abcdefghijk"),
        json!(wrong_check_digits),
        json!(" 10829241876"),
        json!("108292 41876"),
        json!(""),
        json!(10_829_241_876_u64),
    ];
    for pid in cases {
        let submitted = match &pid {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let (mut problem, _) = expect_problem(
            app.as_service(&token, Method::POST, ACTIVE_USER)
                .json(&json!({ "pid": pid })),
            StatusCode::BAD_REQUEST,
            "validation-failed",
        )
        .await;
        assert_eq!(
            problem["errors"][0]["field"], "pid",
            "{submitted:?}: {problem}"
        );
        // No run of four digits of the submitted value comes back (the random request id aside).
        problem["request_id"] = Value::Null;
        let text = problem.to_string();
        let digits: String = submitted.chars().filter(char::is_ascii_digit).collect();
        for i in 0..digits.len().saturating_sub(3) {
            let run = &digits[i..i + 4];
            assert!(!text.contains(run), "{submitted:?} echoed ({run}): {text}");
        }
    }
    // No pid at all, and another field beside it.
    for body in [json!({}), json!({ "pid": persons::ASTRID, "name": "x" })] {
        let (problem, _) = expect_problem(
            app.as_service(&token, Method::POST, ACTIVE_USER)
                .json(&body),
            StatusCode::BAD_REQUEST,
            "validation-failed",
        )
        .await;
        assert!(!problem.to_string().contains(persons::ASTRID), "{problem}");
    }
}

both_backends!(
    decisions_follow_the_citizens_consent,
    a_bad_pid_is_a_validation_problem
);

// --------------------------------------------------------------------------- refused tokens

/// No `Authorization`, another scheme, an empty or garbage bearer token, and a citizen's session
/// id used as a bearer token are all a bare 401 `invalid-token` with a `WWW-Authenticate`
/// challenge.
#[tokio::test]
async fn a_missing_or_garbage_token_is_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let session = app.login(persons::ASTRID).await;
    let body = json!({ "pid": persons::BJORN });

    assert_invalid_token(app.client.post(app.url(ACTIVE_USER)).json(&body)).await;
    for authorization in [
        "Basic ZGV2LXNlcnZpY2UtcmVhZGVyOmRldi1zZXJ2aWNlLXJlYWRlci1zZWNyZXQ=".to_owned(),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        "Bearer garbage".to_owned(),
        "Bearer a.b.c".to_owned(),
        "Bearer eyJhbGciOiJFUzI1NiJ9.e30.AAAA".to_owned(),
        format!("Bearer {}", session.token),
    ] {
        assert_invalid_token(
            app.client
                .post(app.url(ACTIVE_USER))
                .header("authorization", authorization)
                .json(&body),
        )
        .await;
    }
    assert_genuine_token_still_works(&app).await;
}

/// A genuine token whose lifetime is over is refused. The lifetime is set by the provider
/// (`dev-service-shortlived` tokens live 1 s) and checked against the real system clock (the
/// server's dev clock does not apply to tokens), so the test really waits, about two seconds, with
/// the server's leeway set to zero.
#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = TestApp::builder(Backend::Sqlite)
        .env("SERVICE_TOKEN_LEEWAY_SECONDS", "0")
        .spawn()
        .await;
    let token = app
        .idp
        .service_token("dev-service-shortlived", "consent:read")
        .await;
    let claims = decode(&parts(&token).1);
    let exp = claims["exp"].as_u64().expect("exp");
    assert_eq!(
        claims["iat"].as_u64().map(|iat| exp - iat),
        Some(1),
        "a 1-second token: {claims}"
    );
    // Used once while it is fresh (when this machine is quick enough), the server remembers it
    // verified; that must not outlive `exp`.
    let _fresh = ask(&app, &token, persons::BJORN).send().await;
    // Expired once a whole second has passed `exp` (the server compares whole seconds).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while unix_now() <= exp {
        assert!(
            std::time::Instant::now() < deadline,
            "the clock stands still"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_invalid_token(ask(&app, &token, persons::BJORN)).await;
    assert_genuine_token_still_works(&app).await;
}

/// A genuine token of the same provider, made for another API (`aud`), is refused.
#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let token = app
        .idp
        .service_token("dev-service-other-audience", "consent:read")
        .await;
    let claims = decode(&parts(&token).1);
    assert_eq!(claims["aud"], "urn:example:some-other-api", "{claims}");
    assert_eq!(claims["scope"], "consent:read", "{claims}");
    assert_invalid_token(ask(&app, &token, persons::BJORN)).await;
    assert_genuine_token_still_works(&app).await;
}

/// A real token re-headed as `alg: none` with an empty signature is refused, as is one that
/// keeps its real signature under the `none` header.
#[tokio::test]
async fn an_unsigned_token_is_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (header, payload, signature) = parts(&reader_token(&app).await);
    let kid = decode(&header)["kid"].clone();
    for alg in ["none", "None", "NONE"] {
        let none = encode(&json!({ "alg": alg, "typ": "at+jwt", "kid": kid }));
        assert_invalid_token(ask(&app, &format!("{none}.{payload}."), persons::BJORN)).await;
        assert_invalid_token(ask(
            &app,
            &format!("{none}.{payload}.{signature}"),
            persons::BJORN,
        ))
        .await;
    }
    assert_genuine_token_still_works(&app).await;
}

/// The classic algorithm confusion: the real token's payload signed with HS256, using as the
/// HMAC secret the provider's public key as published (the key's JSON, and the whole JWKS
/// document) is refused. So is HS256 with an empty secret.
#[tokio::test]
async fn an_hs256_token_keyed_with_the_public_key_is_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (header, payload, _) = parts(&reader_token(&app).await);
    let kid = decode(&header)["kid"].clone();
    let (raw_jwks, jwks) = provider_jwks(&app).await;
    let key = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid))
        .expect("the token's key is in the JWKS");
    let mut secrets: Vec<Vec<u8>> = vec![
        key.to_string().into_bytes(),
        serde_json::to_vec_pretty(key).expect("JSON"),
        raw_jwks.into_bytes(),
        Vec::new(),
    ];
    if let Some(x) = key["x"].as_str() {
        secrets.push(x.as_bytes().to_vec());
    }
    for alg in ["HS256", "HS384", "HS512"] {
        let forged_header = encode(&json!({ "alg": alg, "typ": "at+jwt", "kid": kid }));
        let input = format!("{forged_header}.{payload}");
        for secret in &secrets {
            // HS256 signatures for every alg label: the server must refuse on the label alone.
            let forged = format!("{input}.{}", hs256(secret, &input));
            assert_invalid_token(ask(&app, &forged, persons::BJORN)).await;
        }
    }
    assert_genuine_token_still_works(&app).await;
}

/// A token whose header names its own key source (`jku`, `x5u`, an embedded `jwk`) is refused
/// without the server fetching or trusting that key.
#[tokio::test]
async fn a_token_naming_its_own_key_source_is_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (header, payload, signature) = parts(&reader_token(&app).await);
    let real = decode(&header);
    let (_, jwks) = provider_jwks(&app).await;
    let embedded = jwks["keys"][0].clone();
    for (name, value) in [
        ("jku", json!("http://127.0.0.1:1/jwks")),
        ("x5u", json!("http://127.0.0.1:1/cert.pem")),
        ("jwk", embedded),
    ] {
        let mut forged = real.clone();
        forged[name] = value;
        let forged = encode(&forged);
        // With a junk signature, and with the real one (which no longer covers the header).
        for sig in ["c2lnbmF0dXJl", signature.as_str()] {
            assert_invalid_token(ask(
                &app,
                &format!("{forged}.{payload}.{sig}"),
                persons::BJORN,
            ))
            .await;
        }
    }
    assert_genuine_token_still_works(&app).await;
}

/// A genuine token with an edited payload (a later `exp`, another `aud`, a wider scope) under its
/// original signature is refused; so is a token whose signature is cut or changed.
#[tokio::test]
async fn an_altered_token_is_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let token = app
        .idp
        .service_token("dev-service-reader", "consent:read")
        .await;
    let (header, payload, signature) = parts(&token);
    let claims = decode(&payload);
    let edits = [
        ("exp", json!(claims["exp"].as_u64().unwrap_or(0) + 86_400)),
        ("aud", json!("urn:consent-portal:api ")),
        ("scope", json!("consent:read feed:read")),
        ("client_id", json!("dev-service-feed")),
    ];
    for (name, value) in edits {
        let mut edited = claims.clone();
        edited[name] = value;
        let forged = format!("{header}.{}.{signature}", encode(&edited));
        assert_invalid_token(ask(&app, &forged, persons::BJORN)).await;
    }
    let mut flipped = signature.clone().into_bytes();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).expect("ASCII");
    for bad in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}"),
        format!("{header}.{payload}.{flipped}"),
        format!("{token}.{signature}"),
    ] {
        assert_invalid_token(ask(&app, &bad, persons::BJORN)).await;
    }
    // The untouched token works.
    let answer = decision(&app, &token, persons::BJORN).await;
    assert_eq!(answer["reason"], "not_registered");
}

/// A genuine token of a client that asked for no scope carries no `consent:read`: 403
/// `insufficient-scope`, with a challenge naming the scope needed.
#[tokio::test]
async fn a_token_without_the_scope_is_forbidden() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let token = app.idp.service_token("dev-service-reader", "").await;
    let claims = decode(&parts(&token).1);
    assert!(
        !claims["scope"]
            .as_str()
            .unwrap_or("")
            .split(' ')
            .any(|s| s == "consent:read"),
        "the provider granted the scope unasked: {claims}"
    );
    let (problem, headers) = expect_problem(
        ask(&app, &token, persons::BJORN),
        StatusCode::FORBIDDEN,
        "insufficient-scope",
    )
    .await;
    let challenge = headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .expect("a WWW-Authenticate header");
    assert!(
        challenge.contains("insufficient_scope") && challenge.contains("consent:read"),
        "{challenge}"
    );
    assert!(!problem.to_string().contains(persons::BJORN), "{problem}");
    assert_genuine_token_still_works(&app).await;
}

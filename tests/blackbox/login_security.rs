//! Attacks on the login and the session: replayed callbacks and codes, forged, missing, foreign
//! or expired `state`, a wrong `nonce`, too low an assurance level for a change, missing CSRF
//! tokens, idle and absolute timeouts, logout, bad login parameters, and the session cookie's
//! attributes.
//!
//! Each test checks the safe answer and that nothing changed (no session was started, the usage
//! log has no new entry, the terms are as they were). Every problem body is checked for 11-digit
//! numbers (`Answer::assert_problem`).

use chrono::{DateTime, Duration, SubsecRound, Utc};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use tests::app::set_cookie;
use tests::{both_backends, logscan, persons, Backend, Session, TestApp};

const HIGH: &str = "idporten-loa-high";
const SUBSTANTIAL: &str = "idporten-loa-substantial";

// ---------------------------------------------------------------------------- helpers

/// An answer as the client saw it.
struct Answer {
    status: StatusCode,
    content_type: String,
    set_cookies: Vec<String>,
    body: Value,
}

async fn answer(res: Response) -> Answer {
    let status = res.status();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let set_cookies = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect();
    let text = res.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        content_type,
        set_cookies,
        body,
    }
}

async fn send(req: RequestBuilder) -> Answer {
    answer(req.send().await.expect("the server answers")).await
}

impl Answer {
    /// Asserts that this is the problem `slug` with `status`, that its body holds no 11-digit
    /// number, and that it starts no session.
    fn assert_problem(&self, status: StatusCode, slug: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert!(
            self.content_type.starts_with("application/problem+json"),
            "content type {:?}: {}",
            self.content_type,
            self.body
        );
        assert_eq!(
            self.body["type"],
            format!("/problems/{slug}"),
            "{}",
            self.body
        );
        assert_eq!(self.body["status"], status.as_u16(), "{}", self.body);
        let text = self.body.to_string();
        assert!(
            logscan::lines_with_identity_numbers(&text).is_empty(),
            "a problem body holds an identity number: {text}"
        );
        assert!(
            self.cookie_value("portal-session").is_none(),
            "a refused request set a session cookie: {:?}",
            self.set_cookies
        );
    }

    /// The non-empty value this answer sets for the cookie whose name ends with `suffix`.
    fn cookie_value(&self, suffix: &str) -> Option<String> {
        self.set_cookies
            .iter()
            .filter_map(|c| c.split(';').next())
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, v)| k.trim().ends_with(suffix) && !v.is_empty())
            .map(|(_, v)| v.to_owned())
    }

    /// Asserts a validation problem that names `field`.
    fn assert_validation_of(&self, field: &str) {
        self.assert_problem(StatusCode::BAD_REQUEST, "validation-failed");
        let errors = self.body["errors"].as_array().cloned().unwrap_or_default();
        assert!(
            errors.iter().any(|e| e["field"] == field),
            "the problem names {field}: {}",
            self.body
        );
    }
}

/// A request with the session cookie and no CSRF header, whatever the method.
fn cookie_only(app: &TestApp, s: &Session, method: Method, path: &str) -> RequestBuilder {
    app.client
        .request(method, app.url(path))
        .header("cookie", &s.cookie)
}

/// A request with the session as `Authorization: Bearer` (no cookie, no CSRF header).
fn bearer(app: &TestApp, s: &Session, method: Method, path: &str) -> RequestBuilder {
    app.client
        .request(method, app.url(path))
        .bearer_auth(&s.token)
}

/// `GET /api/v1/me` with the session cookie.
async fn me(app: &TestApp, s: &Session) -> Answer {
    send(cookie_only(app, s, Method::GET, "/api/v1/me")).await
}

/// Asserts that neither the cookie nor the bearer form of `s` works any more.
async fn assert_dead(app: &TestApp, s: &Session) {
    for a in [
        me(app, s).await,
        send(bearer(app, s, Method::GET, "/api/v1/me")).await,
    ] {
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.body);
        let slug = a.body["type"].as_str().unwrap_or_default().to_owned();
        assert!(
            slug == "/problems/unauthenticated" || slug == "/problems/session-expired",
            "{}",
            a.body
        );
        a.assert_problem(
            StatusCode::UNAUTHORIZED,
            slug.trim_start_matches("/problems/"),
        );
    }
}

/// Logs `pid` in at high and accepts the terms, so that the person's usage log can be read:
/// the observer that shows whether an attack left a trace.
async fn observer(app: &TestApp, pid: &str) -> Session {
    let s = app.login(pid).await;
    app.accept_terms(&s, "basis").await;
    s
}

/// The terms state (`GET /api/v1/terms`).
async fn terms(app: &TestApp, s: &Session) -> Value {
    let (status, body) = app.get_json(s, "/api/v1/terms").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The body that accepts the terms in force at `level`.
async fn acceptance(app: &TestApp, s: &Session, level: &str) -> Value {
    let t = terms(app, s).await;
    json!({ "terms_version": t["consent"]["terms_in_force"], "level": level })
}

/// The value of query parameter `name` in `url`.
fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .expect("a URL")
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `url` with query parameter `name` set to `value`, or removed when `None`.
fn with_param(url: &str, name: &str, value: Option<&str>) -> String {
    let mut u = url::Url::parse(url).expect("a URL");
    let kept: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut q = u.query_pairs_mut();
        q.clear();
        for (k, v) in &kept {
            q.append_pair(k, v);
        }
        if let Some(v) = value {
            q.append_pair(name, v);
        }
    }
    u.to_string()
}

/// `GET /auth/login` with these query parameters.
async fn login_start(app: &TestApp, query: &[(&str, &str)]) -> Answer {
    send(app.client.get(app.url("/auth/login")).query(query)).await
}

/// The server's "now" (dev clock).
pub(crate) async fn server_now(app: &TestApp) -> DateTime<Utc> {
    let body: Value = app
        .client
        .get(app.url("/dev/clock"))
        .send()
        .await
        .expect("dev clock")
        .json()
        .await
        .expect("clock JSON");
    time(&body["now"])
}

/// Sets the server's clock to `at` (it runs on from there). The server stores times to the whole
/// second, so the timeout tests set the clock to exact instants rather than advancing it by a
/// number of seconds from an unknown fraction of a second.
///
/// The dev clock keeps its offset in whole milliseconds, rounded toward zero, so a clock set to
/// `at` may read up to 1 ms before `at`; asking for `at + 1 ms` makes it read `at` or later
/// (a few milliseconds later at most, by the time the next request reads it).
pub(crate) async fn set_clock(app: &TestApp, at: DateTime<Utc>) {
    let at = at + Duration::milliseconds(1);
    let res = app
        .client
        .put(app.url("/dev/clock"))
        .json(&json!({ "now": at.to_rfc3339() }))
        .send()
        .await
        .expect("dev clock");
    assert_eq!(res.status(), StatusCode::OK);
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().expect("a time"))
        .expect("an RFC 3339 time")
        .with_timezone(&Utc)
}

// -------------------------------------------------------------------------- the login

/// A callback works once: the same callback URL delivered again with the same login-binding
/// cookie is refused (`login-state-invalid`) and starts no session.
async fn replayed_callback_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let watch = observer(&app, persons::ASTRID).await;

    let (authorize_url, login_cookie) = app.start_login(persons::ASTRID, None).await;
    let callback = app.authorize(&authorize_url).await;
    let first = app.callback(&callback, Some(&login_cookie)).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(&first, "portal-session").is_some());
    let before = app.usage_log(&watch).await;

    let replay = answer(app.callback(&callback, Some(&login_cookie)).await).await;
    replay.assert_problem(StatusCode::BAD_REQUEST, "login-state-invalid");
    assert_eq!(app.usage_log(&watch).await, before, "no new login");
}

/// An authorization code that was already redeemed, delivered with a fresh `state` and that
/// browser's own cookie, is refused (`login-failed`: the provider refuses a used code).
async fn replayed_code_with_a_fresh_state_fails(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let watch = observer(&app, persons::ASTRID).await;

    let (url_a, cookie_a) = app.start_login(persons::ASTRID, None).await;
    let callback_a = app.authorize(&url_a).await;
    let res = app.callback(&callback_a, Some(&cookie_a)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let before = app.usage_log(&watch).await;

    let (url_b, cookie_b) = app.start_login(persons::ASTRID, None).await;
    let state_b = param(&url_b, "state").expect("state in the authorize URL");
    let forged = with_param(&callback_a, "state", Some(&state_b));
    let a = answer(app.callback(&forged, Some(&cookie_b)).await).await;
    a.assert_problem(StatusCode::BAD_REQUEST, "login-failed");
    assert_eq!(app.usage_log(&watch).await, before, "no new login");
}

/// Code injection: a victim's code that was never redeemed, put into the attacker's own login
/// (the attacker's `state` and cookie), fails the PKCE check (`login-failed`): the attacker's
/// browser does not become the victim.
async fn injected_code_of_another_login_fails(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let watch = observer(&app, persons::ASTRID).await;
    let before = app.usage_log(&watch).await;

    let (victim_url, _victim_cookie) = app.start_login(persons::ASTRID, None).await;
    let victim_callback = app.authorize(&victim_url).await;
    let (attacker_url, attacker_cookie) = app.start_login(persons::BJORN, None).await;
    let attacker_state = param(&attacker_url, "state").expect("state");
    let forged = with_param(&victim_callback, "state", Some(&attacker_state));
    let a = answer(app.callback(&forged, Some(&attacker_cookie)).await).await;
    a.assert_problem(StatusCode::BAD_REQUEST, "login-failed");
    assert_eq!(app.usage_log(&watch).await, before, "no new login");
}

/// A made-up, missing, empty or oversized `state` is refused (`login-state-invalid`), and such
/// attempts spend nothing: the genuine callback still works afterwards.
async fn unknown_or_missing_state_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let watch = observer(&app, persons::ASTRID).await;
    let before = app.usage_log(&watch).await;

    let (authorize_url, login_cookie) = app.start_login(persons::ASTRID, None).await;
    let callback = app.authorize(&authorize_url).await;
    let long = "s".repeat(513);
    for forged in [
        with_param(&callback, "state", Some("made-up-state-Jx9Q2")),
        with_param(&callback, "state", None),
        with_param(&callback, "state", Some("")),
        with_param(&callback, "state", Some(&long)),
    ] {
        let a = answer(app.callback(&forged, Some(&login_cookie)).await).await;
        a.assert_problem(StatusCode::BAD_REQUEST, "login-state-invalid");
    }
    let bare = answer(app.callback(&app.url("/auth/callback"), None).await).await;
    bare.assert_problem(StatusCode::BAD_REQUEST, "login-state-invalid");
    assert_eq!(app.usage_log(&watch).await, before, "no new login");

    let genuine = app.callback(&callback, Some(&login_cookie)).await;
    assert_eq!(genuine.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(&genuine, "portal-session").is_some());
}

/// A `state` is bound to the browser that started the login: the callback without the
/// login-binding cookie, with another browser's cookie (from a login of its own), or with a
/// made-up cookie value is refused (`login-state-invalid`).
async fn state_from_another_browser_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let watch = observer(&app, persons::ASTRID).await;
    let before = app.usage_log(&watch).await;

    // No login-binding cookie at all.
    let (url, _cookie) = app.start_login(persons::ASTRID, None).await;
    let callback = app.authorize(&url).await;
    let a = answer(app.callback(&callback, None).await).await;
    a.assert_problem(StatusCode::BAD_REQUEST, "login-state-invalid");

    // The cookie of a login the other browser started itself.
    let (url, _victim_cookie) = app.start_login(persons::ASTRID, None).await;
    let callback = app.authorize(&url).await;
    let (_, other_cookie) = app.start_login(persons::BJORN, None).await;
    let a = answer(app.callback(&callback, Some(&other_cookie)).await).await;
    a.assert_problem(StatusCode::BAD_REQUEST, "login-state-invalid");

    // The right cookie name with a made-up value.
    let (url, cookie) = app.start_login(persons::ASTRID, None).await;
    let callback = app.authorize(&url).await;
    let name = cookie.split_once('=').map(|(k, _)| k).expect("name=value");
    let a = answer(
        app.callback(&callback, Some(&format!("{name}=made-up")))
            .await,
    )
    .await;
    a.assert_problem(StatusCode::BAD_REQUEST, "login-state-invalid");

    assert_eq!(app.usage_log(&watch).await, before, "no new login");
}

/// A started login is good for ten minutes of the server's clock: a callback after that is
/// refused (`login-state-invalid`); one within them works.
async fn expired_login_state_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let watch = observer(&app, persons::ASTRID).await;
    let before = app.usage_log(&watch).await;

    let (url, cookie) = app.start_login(persons::ASTRID, None).await;
    let callback = app.authorize(&url).await;
    app.advance_clock(10 * 60).await;
    let a = answer(app.callback(&callback, Some(&cookie)).await).await;
    a.assert_problem(StatusCode::BAD_REQUEST, "login-state-invalid");
    assert_eq!(app.usage_log(&watch).await, before, "no new login");

    let (url, cookie) = app.start_login(persons::ASTRID, None).await;
    let callback = app.authorize(&url).await;
    app.advance_clock(9 * 60).await;
    let res = app.callback(&callback, Some(&cookie)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

/// The ID token must carry the `nonce` the server sent: an authorize URL whose `nonce` was
/// swapped (the provider echoes whatever it gets) ends in `login-failed`, with no session.
/// The server still logs people in afterwards.
async fn wrong_nonce_fails(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let watch = observer(&app, persons::ASTRID).await;
    let before = app.usage_log(&watch).await;

    let (url, cookie) = app.start_login(persons::ASTRID, None).await;
    assert!(param(&url, "nonce").is_some(), "the server sends a nonce");
    let swapped = with_param(&url, "nonce", Some("a-nonce-of-the-attackers-choosing"));
    let callback = app.authorize(&swapped).await;
    let a = answer(app.callback(&callback, Some(&cookie)).await).await;
    a.assert_problem(StatusCode::BAD_REQUEST, "login-failed");
    assert_eq!(app.usage_log(&watch).await, before, "no new login");

    let s = app.login(persons::ASTRID).await;
    assert_eq!(me(&app, &s).await.status, StatusCode::OK);
}

// ----------------------------------------------------------------- assurance and CSRF

/// A login at `idporten-loa-substantial` may read but not change: accepting the terms is
/// `step-up-required` naming `idporten-loa-high`, and the terms stay unaccepted. After a login at
/// high the acceptance works, while the substantial session still cannot change the level or
/// withdraw. An unknown `acr_values` at `/auth/login` is `validation-failed`.
async fn substantial_login_cannot_change(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let low = app.login_at(persons::ASTRID, Some(SUBSTANTIAL)).await;

    let (status, body) = app.get_json(&low, "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["acr"], SUBSTANTIAL);
    assert_eq!(body["may_change"], false);
    assert_eq!(body["required_acr"], HIGH);

    let accept = acceptance(&app, &low, "full").await;
    for a in [
        send(
            app.as_citizen(&low, Method::POST, "/api/v1/terms/acceptance")
                .json(&accept),
        )
        .await,
        send(app.as_citizen(&low, Method::POST, "/api/v1/terms/withdrawal")).await,
    ] {
        a.assert_problem(StatusCode::FORBIDDEN, "step-up-required");
        assert_eq!(a.body["required_acr"], HIGH);
    }
    let t = terms(&app, &low).await;
    assert_eq!(t["consent"]["status"], "not_accepted");
    assert_eq!(t["history"].as_array().map(Vec::len), Some(0));

    // Step up: a login at high may accept.
    let high = app.login_at(persons::ASTRID, Some(HIGH)).await;
    let (_, body) = app.get_json(&high, "/api/v1/me").await;
    assert_eq!(body["acr"], HIGH);
    assert_eq!(body["may_change"], true);
    app.accept_terms(&high, "basis").await;

    // The substantial session may now read the log, but still not change anything.
    let before = app.usage_log(&low).await;
    for a in [
        send(
            app.as_citizen(&low, Method::PUT, "/api/v1/terms/level")
                .json(&json!({ "level": "full" })),
        )
        .await,
        send(app.as_citizen(&low, Method::POST, "/api/v1/terms/withdrawal")).await,
    ] {
        a.assert_problem(StatusCode::FORBIDDEN, "step-up-required");
        assert_eq!(a.body["required_acr"], HIGH);
    }
    let t = terms(&app, &low).await;
    assert_eq!(t["consent"]["status"], "active");
    assert_eq!(t["consent"]["level"], "basis");
    assert_eq!(t["history"].as_array().map(Vec::len), Some(1));
    assert_eq!(app.usage_log(&low).await, before, "nothing logged");

    // Only the two ID-porten levels can be asked for.
    for bogus in [
        "bogus",
        "IDPORTEN-LOA-HIGH",
        "idporten-loa-high idporten-loa-low",
    ] {
        let a = login_start(
            &app,
            &[("login_hint", persons::ASTRID), ("acr_values", bogus)],
        )
        .await;
        a.assert_validation_of("acr_values");
        assert!(a.cookie_value("portal-login").is_none(), "no login started");
    }
}

/// With the session cookie, every change needs the session's CSRF token: none, a wrong one, an
/// empty one or another session's is `csrf-failed` and changes nothing. The same session as
/// `Authorization: Bearer` needs no CSRF token.
async fn cookie_changes_need_the_csrf_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = app.login(persons::ASTRID).await;
    let other = app.login(persons::BJORN).await;
    let accept = acceptance(&app, &s, "basis").await;

    let post = || cookie_only(&app, &s, Method::POST, "/api/v1/terms/acceptance").json(&accept);
    for req in [
        post(),
        post().header("x-csrf-token", "wrong"),
        post().header("x-csrf-token", ""),
        post().header("x-csrf-token", &other.csrf),
    ] {
        send(req)
            .await
            .assert_problem(StatusCode::FORBIDDEN, "csrf-failed");
    }
    let t = terms(&app, &s).await;
    assert_eq!(t["consent"]["status"], "not_accepted");
    assert_eq!(t["history"].as_array().map(Vec::len), Some(0));

    // The bearer form of the same session: no CSRF token needed.
    let a = send(bearer(&app, &s, Method::POST, "/api/v1/terms/acceptance").json(&accept)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.body["consent"]["status"], "active");
    assert_eq!(a.body["consent"]["level"], "basis");

    // Other changes by cookie without the token: refused, nothing changed, nothing logged.
    let before = app.usage_log(&s).await;
    for a in [
        send(
            cookie_only(&app, &s, Method::PUT, "/api/v1/terms/level")
                .json(&json!({ "level": "full" })),
        )
        .await,
        send(cookie_only(
            &app,
            &s,
            Method::POST,
            "/api/v1/terms/withdrawal",
        ))
        .await,
    ] {
        a.assert_problem(StatusCode::FORBIDDEN, "csrf-failed");
    }
    assert_eq!(terms(&app, &s).await["consent"]["level"], "basis");
    assert_eq!(app.usage_log(&s).await, before, "nothing logged");

    // With the token the same change goes through.
    let (status, body) = app
        .send_json(
            &s,
            Method::PUT,
            "/api/v1/terms/level",
            json!({ "level": "full" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["consent"]["level"], "full");
}

// ---------------------------------------------------------------- session lifetime

/// Idle timeout (30 minutes): a request one second before it works and starts the idle time
/// again; a request exactly 30 minutes after the last one is `session-expired`; afterwards the
/// session stays dead, by cookie and bearer, even if the clock goes back.
async fn idle_session_expires(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = app.login(persons::ASTRID).await;

    // Whole seconds, a little ahead of the server's clock: the last use is stored as t0.
    let t0 = server_now(&app).await.trunc_subsecs(0) + Duration::seconds(2);
    let idle = Duration::minutes(30);
    set_clock(&app, t0).await;
    assert_eq!(me(&app, &s).await.status, StatusCode::OK);

    let second = Duration::seconds(1);
    set_clock(&app, t0 + idle - second).await;
    assert_eq!(me(&app, &s).await.status, StatusCode::OK, "1 s before");
    // Without the restart above this would be long past the idle timeout.
    let t1 = t0 + idle - second + idle - second;
    set_clock(&app, t1).await;
    assert_eq!(
        send(bearer(&app, &s, Method::GET, "/api/v1/me"))
            .await
            .status,
        StatusCode::OK,
        "each use restarts the idle time"
    );

    set_clock(&app, t1 + idle).await;
    me(&app, &s)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "session-expired");
    assert_dead(&app, &s).await;

    set_clock(&app, t1 + Duration::minutes(1)).await;
    assert_dead(&app, &s).await;
}

/// Absolute timeout (`SESSION_ABSOLUTE_MINUTES=60`): a session kept busy with a request every
/// 20 minutes still ends 60 minutes after the login, to the second.
async fn busy_session_ends_at_the_absolute_timeout(backend: Backend) {
    let app = TestApp::builder(backend)
        .env("SESSION_ABSOLUTE_MINUTES", "60")
        .spawn()
        .await;
    let started = server_now(&app).await;
    let s = app.login(persons::ASTRID).await;
    let finished = server_now(&app).await;

    // The login time as the server stored it (whole seconds), from the end it announces.
    let (_, body) = app.get_json(&s, "/api/v1/me").await;
    let end = time(&body["session"]["absolute_expires_at"]);
    let login_at = end - Duration::minutes(60);
    assert!(
        started.trunc_subsecs(0) <= login_at && login_at <= finished,
        "{login_at} is the login time ({started} .. {finished})"
    );

    for minutes in [20, 40] {
        set_clock(&app, login_at + Duration::minutes(minutes)).await;
        assert_eq!(me(&app, &s).await.status, StatusCode::OK, "{minutes} min");
    }
    // Set to exact instants: the stored login time is a whole second, so 59:59 is inside and
    // 60:00 outside however long the requests take (well under a second).
    set_clock(&app, end - Duration::seconds(1)).await;
    assert_eq!(me(&app, &s).await.status, StatusCode::OK, "at 59:59");
    set_clock(&app, end).await;
    me(&app, &s)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "session-expired");
    assert_dead(&app, &s).await;
}

/// `me.session.idle_expires_at` says when an unused session ends, so a request just before it
/// must still work. (The server stores the last use to the whole second and announces the end
/// counted from that stored time, so the announcement is never later than the real end.)
async fn session_lives_until_its_announced_idle_expiry(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = app.login(persons::ASTRID).await;

    // Half a second past a whole second: the server stores the last use as the whole second.
    let t0 = server_now(&app).await.trunc_subsecs(0)
        + Duration::seconds(2)
        + Duration::milliseconds(500);
    set_clock(&app, t0).await;
    let a = me(&app, &s).await;
    assert_eq!(a.status, StatusCode::OK);
    let announced = time(&a.body["session"]["idle_expires_at"]);
    assert!(
        (announced - (t0 + Duration::minutes(30)))
            .num_milliseconds()
            .abs()
            <= 1000,
        "{announced} is 30 minutes after {t0}, to the second"
    );

    set_clock(&app, announced - Duration::milliseconds(250)).await;
    let a = me(&app, &s).await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "a request 250 ms before the announced idle expiry {announced}: {}",
        a.body
    );
}

/// Logout ends the session for its bearer form too; a cookie logout without (or with a wrong)
/// CSRF token is `csrf-failed` and the session lives on, with nothing logged. A bearer logout
/// needs no CSRF token and ends the cookie form as well.
async fn logout_ends_the_session_everywhere(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let watch = observer(&app, persons::ASTRID).await;
    let s = app.login(persons::ASTRID).await;
    let before = app.usage_log(&watch).await;

    for req in [
        cookie_only(&app, &s, Method::POST, "/auth/logout"),
        cookie_only(&app, &s, Method::POST, "/auth/logout").header("x-csrf-token", "wrong"),
        cookie_only(&app, &s, Method::POST, "/auth/logout").header("x-csrf-token", &watch.csrf),
    ] {
        send(req)
            .await
            .assert_problem(StatusCode::FORBIDDEN, "csrf-failed");
    }
    assert_eq!(me(&app, &s).await.status, StatusCode::OK);
    assert_eq!(
        send(bearer(&app, &s, Method::GET, "/api/v1/me"))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(app.usage_log(&watch).await, before, "no logout logged");

    let a = send(app.as_citizen(&s, Method::POST, "/auth/logout")).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert!(
        a.set_cookies
            .iter()
            .any(|c| c.starts_with("__Host-portal-session=;")),
        "the cookie is cleared: {:?}",
        a.set_cookies
    );
    assert_dead(&app, &s).await;
    send(bearer(&app, &s, Method::POST, "/auth/logout"))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    let log = app.usage_log(&watch).await;
    assert_eq!(log.len(), before.len() + 1);
    assert_eq!(log[0]["action"], "logout");

    let s2 = app.login(persons::ASTRID).await;
    let a = send(bearer(&app, &s2, Method::POST, "/auth/logout")).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.body);
    assert_dead(&app, &s2).await;
    assert_eq!(
        me(&app, &watch).await.status,
        StatusCode::OK,
        "other sessions live on"
    );
}

// ---------------------------------------------------------------- login parameters

/// `login_hint` is at most 64 characters of `A-Z a-z 0-9 . _ : @ -`: longer or other hints are
/// `validation-failed` naming `login_hint` (and do not echo an identity number back), and no
/// login is started.
async fn bad_login_hint_is_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let long = "a".repeat(65);
    let with_pid = format!("{}<script>", persons::ASTRID);
    for hint in [long.as_str(), "a b", "<script>", with_pid.as_str()] {
        let a = login_start(&app, &[("login_hint", hint)]).await;
        a.assert_validation_of("login_hint");
        assert!(a.cookie_value("portal-login").is_none(), "no login started");
    }
    // The limit is exactly 64.
    let a = login_start(&app, &[("login_hint", &"a".repeat(64))]).await;
    assert_eq!(a.status, StatusCode::FOUND, "{}", a.body);
    assert!(a.cookie_value("portal-login").is_some());
}

/// The session cookie set at the callback is `__Host-` prefixed, `HttpOnly`, `Secure`,
/// `SameSite=Lax`, `Path=/`, and has no `Domain`; so is the login-binding cookie, which the
/// callback clears.
async fn cookies_have_safe_attributes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let start = app
        .client
        .get(app.url("/auth/login"))
        .query(&[("login_hint", persons::ASTRID)])
        .send()
        .await
        .expect("login starts");
    assert_eq!(start.status(), StatusCode::FOUND);
    let location = tests::app::header(&start, "location").expect("to the provider");
    let start = answer(start).await;
    let login_cookie = raw_cookie(&start.set_cookies, "__Host-portal-login=");
    assert_safe_attributes(&login_cookie);

    let callback = app.authorize(&location).await;
    let name_value = login_cookie
        .split(';')
        .next()
        .expect("name=value")
        .to_owned();
    let res = app.callback(&callback, Some(&name_value)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        tests::app::header(&res, "cache-control").as_deref(),
        Some("no-store")
    );
    let done = answer(res).await;
    let session_cookie = raw_cookie(&done.set_cookies, "__Host-portal-session=");
    assert_safe_attributes(&session_cookie);
    assert!(done.cookie_value("portal-session").is_some());
    let cleared = raw_cookie(&done.set_cookies, "__Host-portal-login=");
    assert!(cleared.starts_with("__Host-portal-login=;"), "{cleared}");
    assert_safe_attributes(&cleared);
}

/// The Set-Cookie header that starts with `prefix`.
fn raw_cookie(set_cookies: &[String], prefix: &str) -> String {
    set_cookies
        .iter()
        .find(|c| c.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} cookie in {set_cookies:?}"))
        .clone()
}

fn assert_safe_attributes(set_cookie: &str) {
    let attrs: Vec<String> = set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    for wanted in ["httponly", "secure", "samesite=lax", "path=/"] {
        assert!(
            attrs.iter().any(|a| a == wanted),
            "{wanted} in {set_cookie}"
        );
    }
    assert!(
        !attrs.iter().any(|a| a.starts_with("domain")),
        "no Domain in {set_cookie}"
    );
}

both_backends!(
    replayed_callback_is_refused,
    replayed_code_with_a_fresh_state_fails,
    injected_code_of_another_login_fails,
    unknown_or_missing_state_is_refused,
    state_from_another_browser_is_refused,
    expired_login_state_is_refused,
    wrong_nonce_fails,
    substantial_login_cannot_change,
    cookie_changes_need_the_csrf_token,
    idle_session_expires,
    busy_session_ends_at_the_absolute_timeout,
    logout_ends_the_session_everywhere,
    bad_login_hint_is_refused,
    cookies_have_safe_attributes,
    session_lives_until_its_announced_idle_expiry,
);

//! Contact details and email notifications (DESIGN §2.10) through HTTP, with a real SMTP server
//! in the test process ([`MailServer`]): the citizen's contact details and their validation, the
//! one-time link that confirms an address, each kind of message (once, in the citizen's
//! language, with no identity number or health data, with a link to the portal), the scheduled
//! reminders run through `POST /dev/jobs/reminders` at a pinned dev clock, delivery retried after
//! refusals and lost connections, queued messages sent by the next server after a restart, two
//! servers on one database sending each message once, and a guardian who hears nothing of a
//! child's refusal.
//!
//! Every server runs its notification worker every 200 ms with a 1 s first retry delay, its
//! reminder and purge timers off (the tests run the jobs), and sends to the test's SMTP server.
//! Messages are identified by their subject line (the contract's table). Tests wait for arrivals
//! by polling with a deadline, and check that nothing more arrives with a short, bounded quiet
//! period. Sessions time out across the clock's jumps: the tests log in again after each.

use std::collections::BTreeSet;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use tests::app::send_json;
use tests::mail::{Mail, MailServer};
use tests::persons::{
    ARNE, ASTRID, BJORN, ELLA, EMMA, ERIK, FILIP, HANNE, INGRID, JAKOB, KARI, LUKAS, MARIT, NORA,
    OLA, SANDER, SOFIE, UNKNOWN,
};
use tests::{both_backends, instant, Backend, Session, TestApp};

use crate::errors::expect_problem;

const CONTACT: &str = "/api/v1/contact-details";
const CONFIRMATION: &str = "/api/v1/contact-details/email-confirmation";
const NOTIFICATIONS: &str = "/api/v1/notifications";
const REMINDERS: &str = "/dev/jobs/reminders";
const ORDER_PURGES: &str = "/dev/jobs/order-purges";
const TERMS_LEVEL: &str = "/api/v1/terms/level";
const POA: &str = "/api/v1/powers-of-attorney";
const OPT_OUT: &str = "/api/v1/summary-care-record/opt-out";
const RESTORATION: &str = "/api/v1/summary-care-record/restoration";
const NEW_RECORD: &str = "/api/v1/summary-care-record/new-record";
const BLOCKS: &str = "/api/v1/summary-care-record/blocks";
const ACCESS_DECISION: &str = "/api/v1/decisions/professional-access";
const ACCESS_REPORTS: &str = "/api/v1/access-reports";
const RESTRICTIONS: &str = "/api/v1/child-restrictions";
const REPRESENTATIONS: &str = "/api/v1/representations";
const ACTING_FOR: &str = "X-Acting-For";

/// "Today": 13:00 in Oslo on Monday 23 November 2026 (the persons file's ages hold on it).
const TODAY: &str = "2026-11-23T12:00:00Z";
/// Past the restore deadline of an opt-out made [`TODAY`] (00:00 Oslo on 24 December).
const PAST_DEADLINE: &str = "2026-12-24T09:00:00Z";
/// The last day an opt-out made [`TODAY`] can be restored (23 December 2026), as a body may
/// write it.
const LAST_DAY_TODAY: [&str; 6] = [
    "23 December 2026",
    "December 23, 2026",
    "23. desember 2026",
    "23.12.2026",
    "2026-12-23",
    "23/12/2026",
];

/// The sender of every message (the default `MAIL_FROM`).
const FROM: &str = "no-reply@consent-portal.invalid";

/// Each kind of message with its subject in English and in Norwegian bokmål.
const KINDS: [(&str, &str, &str); 14] = [
    (
        "email_confirmation",
        "Confirm your email address",
        "Bekreft e-postadressen din",
    ),
    (
        "terms_changed",
        "Your consent to use the services has changed",
        "Samtykket ditt til bruk av tjenestene er endret",
    ),
    (
        "poa_granted",
        "You have been given a power of attorney",
        "Du har fått en fullmakt",
    ),
    (
        "poa_accepted",
        "A power of attorney was accepted",
        "En fullmakt er akseptert",
    ),
    (
        "poa_declined",
        "A power of attorney was declined",
        "En fullmakt er avslått",
    ),
    (
        "poa_ended",
        "A power of attorney has ended",
        "En fullmakt er avsluttet",
    ),
    (
        "poa_expiring",
        "A power of attorney expires in 14 days",
        "En fullmakt utløper om 14 dager",
    ),
    (
        "scr_opted_out",
        "You have opted out of the summary care record",
        "Du har reservert deg mot kjernejournal",
    ),
    (
        "scr_reminder",
        "Your summary care record will be deleted soon",
        "Kjernejournalen din slettes snart",
    ),
    (
        "scr_restored",
        "Your summary care record is restored",
        "Kjernejournalen din er gjenopprettet",
    ),
    (
        "scr_purge_ordered",
        "Your summary care record is being deleted",
        "Kjernejournalen din slettes",
    ),
    (
        "scr_new_record",
        "You have a new summary care record",
        "Du har fått en ny kjernejournal",
    ),
    (
        "health_data_opened",
        "Your health information was opened",
        "Helseopplysningene dine ble åpnet",
    ),
    (
        "guardian_birthday",
        "A change ahead for your child",
        "En endring for barnet ditt",
    ),
];

/// Every identity number of the persons file these tests know.
const PIDS: [&str; 18] = [
    ASTRID, BJORN, INGRID, SANDER, EMMA, ELLA, MARIT, ERIK, ARNE, UNKNOWN, HANNE, KARI, OLA, NORA,
    JAKOB, SOFIE, LUKAS, FILIP,
];

/// The keys every item of `GET /api/v1/notifications` carries.
const ITEM_KEYS: [&str; 8] = [
    "id",
    "kind",
    "status",
    "language",
    "created_at",
    "sent_at",
    "attempts",
    "last_error",
];

// ---------------------------------------------------------------------------------- servers

/// A server configured for these tests; `smtp` is the SMTP server it sends to (none: it only
/// queues).
fn builder(backend: Backend, smtp: Option<&MailServer>) -> tests::app::Builder {
    let b = TestApp::builder(backend)
        .env("NOTIFY_INTERVAL_MS", "200")
        .env("NOTIFY_RETRY_BASE_SECONDS", "1")
        .env("REMINDER_INTERVAL_SECONDS", "0")
        .env("PURGE_INTERVAL_SECONDS", "0");
    match smtp {
        Some(m) => b.env("SMTP_URL", &m.url()),
        None => b,
    }
}

/// A server sending to `smtp`.
async fn portal(backend: Backend, smtp: &MailServer) -> TestApp {
    builder(backend, Some(smtp)).spawn().await
}

/// A server sending to `smtp`, its clock pinned to [`TODAY`].
async fn portal_today(backend: Backend, smtp: &MailServer) -> TestApp {
    let app = portal(backend, smtp).await;
    app.set_clock(TODAY).await;
    app
}

// ---------------------------------------------------------------------------------- messages

/// Someone who reads mail: an address and the language their messages must be in.
#[derive(Debug, Clone)]
struct Reader {
    address: String,
    lang: &'static str,
}

fn reader(address: &str, lang: &'static str) -> Reader {
    Reader {
        address: address.to_owned(),
        lang,
    }
}

/// The subject of `kind` in `lang`.
fn subject(kind: &str, lang: &str) -> &'static str {
    let (_, en, nb) = KINDS
        .iter()
        .find(|(k, _, _)| *k == kind)
        .unwrap_or_else(|| panic!("a kind of the contract: {kind}"));
    if lang == "en" {
        en
    } else {
        nb
    }
}

/// The kind and language of a message, from its subject.
fn kind_of(m: &Mail) -> (&'static str, &'static str) {
    let s = m.subject().trim();
    KINDS
        .iter()
        .find_map(|(k, en, nb)| {
            if s == *en {
                Some((*k, "en"))
            } else if s == *nb {
                Some((*k, "nb"))
            } else {
                None
            }
        })
        .unwrap_or_else(|| panic!("a subject of the contract's table: {s:?} (to {:?})", m.to))
}

/// The contract's rules for every message: to one recipient, from the portal, in `lang`
/// (subject and `Content-Language`), plain text, a `Message-ID` of the portal, no identity
/// number in subject or body, and a link into the portal (`portal` is its `PUBLIC_URL`, or a
/// prefix of it).
fn assert_message(m: &Mail, portal: &str, lang: &str) {
    let (kind, got_lang) = kind_of(m);
    assert_eq!(
        m.subject().trim(),
        subject(kind, lang),
        "the subject of {kind} in {lang}"
    );
    assert_eq!(m.to.len(), 1, "one recipient: {:?} {kind}", m.to);
    assert_eq!(
        got_lang,
        lang,
        "{kind} to {:?} in {lang}: {:?}",
        m.to,
        m.subject()
    );
    assert_eq!(
        m.content_language().map(str::trim),
        Some(lang),
        "Content-Language of {kind} to {:?}",
        m.to
    );
    assert!(
        m.from.eq_ignore_ascii_case(FROM),
        "the envelope sender of {kind}: {}",
        m.from
    );
    let content_type = m.header("content-type").unwrap_or("text/plain");
    assert!(
        content_type.to_ascii_lowercase().starts_with("text/plain"),
        "{kind} is plain text: {content_type}"
    );
    let id = m.message_id().unwrap_or_default();
    assert!(
        id.starts_with('<') && id.ends_with("@consent-portal>") && id.len() > 18,
        "Message-ID of {kind}: {id:?}"
    );
    let text = m.text();
    assert!(!m.body.trim().is_empty(), "{kind} has a body: {}", m.raw);
    assert!(
        tests::logscan::lines_with_identity_numbers(&text).is_empty(),
        "an 11-digit number in {kind}: {text}"
    );
    for pid in PIDS {
        assert!(!m.raw.contains(pid), "{pid} in {kind}: {}", m.raw);
        for (name, value) in &m.headers {
            assert!(!value.contains(pid), "{pid} in the {name} of {kind}");
        }
    }
    assert!(
        m.links().iter().any(|l| l.starts_with(portal)),
        "{kind} links to the portal ({portal}): {}",
        m.body
    );
}

/// The messages received so far, counted in order: each step's new messages are checked against
/// what the step should have sent.
struct Postbox<'a> {
    mail: &'a MailServer,
    /// The portal link every message carries (a `PUBLIC_URL`, or a prefix of the ones in use).
    portal: String,
    seen: usize,
}

impl<'a> Postbox<'a> {
    fn new(mail: &'a MailServer, portal: &str) -> Postbox<'a> {
        Postbox {
            mail,
            portal: portal.to_owned(),
            seen: 0,
        }
    }

    /// Waits for the next messages: exactly one of each `(reader, kind)` of `expected` (in any
    /// order), each well-formed in its reader's language. Returns them in `expected`'s order.
    async fn expect(&mut self, expected: &[(&Reader, &str)]) -> Vec<Mail> {
        let n = self.seen + expected.len();
        let all = self.mail.wait_for(n).await;
        let new = all[self.seen..].to_vec();
        let describe = |mails: &[Mail]| -> Vec<(String, String)> {
            mails
                .iter()
                .map(|m| (m.to.join(","), m.subject().to_owned()))
                .collect()
        };
        assert_eq!(
            new.len(),
            expected.len(),
            "expected {expected:?}, got {:?}",
            describe(&new)
        );
        let mut want: Vec<(String, String)> = expected
            .iter()
            .map(|(r, k)| (r.address.to_ascii_lowercase(), (*k).to_owned()))
            .collect();
        let mut got: Vec<(String, String)> = new
            .iter()
            .map(|m| (m.to.join(",").to_ascii_lowercase(), kind_of(m).0.to_owned()))
            .collect();
        want.sort();
        got.sort();
        assert_eq!(got, want, "the messages of this step");
        let mut out = Vec::new();
        for (r, k) in expected {
            let m = new
                .iter()
                .find(|m| m.is_to(&r.address) && kind_of(m).0 == *k)
                .cloned()
                .unwrap_or_else(|| panic!("{k} to {}", r.address));
            assert_message(&m, &self.portal, r.lang);
            out.push(m);
        }
        self.seen = n;
        out
    }

    /// Nothing more arrives (for the mail server's quiet period).
    async fn quiet(&self) {
        self.mail.stays_at(self.seen).await;
    }

    /// Every message received, in order of arrival.
    fn all(&self) -> Vec<Mail> {
        self.mail.messages()
    }
}

/// The confirmation link in a message: its path and query (`/api/v1/...?token=...`).
fn confirmation_path(m: &Mail) -> String {
    let link = m
        .links()
        .into_iter()
        .find(|l| l.contains(&format!("{CONFIRMATION}?token=")))
        .unwrap_or_else(|| panic!("a confirmation link in: {}", m.body));
    let url = url::Url::parse(&link).unwrap_or_else(|e| panic!("{e}: {link}"));
    assert!(
        url.query_pairs()
            .any(|(k, v)| k == "token" && !v.is_empty()),
        "{link}"
    );
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

/// Opens a confirmation link on `app`, without a session.
fn open_link(app: &TestApp, path: &str) -> RequestBuilder {
    app.client.get(app.url(path))
}

// ---------------------------------------------------------------------------------- citizens

/// `PUT /api/v1/contact-details`.
async fn put_contact(
    app: &TestApp,
    s: &Session,
    email: Option<&str>,
    phone: Option<&str>,
    language: &str,
) -> (StatusCode, Value) {
    app.send_json(
        s,
        Method::PUT,
        CONTACT,
        json!({ "email": email, "phone": phone, "language": language }),
    )
    .await
}

/// `GET /api/v1/contact-details`, which must answer 200 with the contract's shape.
async fn contact(app: &TestApp, s: &Session) -> Value {
    let (status, body) = app.get_json(s, CONTACT).await;
    assert_eq!(status, StatusCode::OK, "GET {CONTACT}: {body}");
    assert_contact_shape(&body);
    body
}

fn assert_contact_shape(body: &Value) {
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap_or_else(|| panic!("an object: {body}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["email", "email_confirmed_at", "language", "phone"],
        "{body}"
    );
    if !body["email_confirmed_at"].is_null() {
        instant(&body["email_confirmed_at"]);
    }
}

/// The caller's notifications, newest first, each with the contract's keys.
async fn notifications(app: &TestApp, s: &Session) -> Vec<Value> {
    let (status, body) = app.get_json(s, NOTIFICATIONS).await;
    assert_eq!(status, StatusCode::OK, "GET {NOTIFICATIONS}: {body}");
    let items = body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("items: {body}"))
        .clone();
    for item in &items {
        for key in ITEM_KEYS {
            assert!(item.get(key).is_some(), "{key} in {item}");
        }
        instant(&item["created_at"]);
        assert!(item["attempts"].is_u64(), "{item}");
    }
    for pair in items.windows(2) {
        assert!(
            instant(&pair[0]["created_at"]) >= instant(&pair[1]["created_at"]),
            "newest first: {items:?}"
        );
    }
    assert!(
        tests::logscan::lines_with_identity_numbers(&body.to_string()).is_empty(),
        "{body}"
    );
    items
}

/// The caller's notifications of `kind`, newest first.
async fn notifications_of(app: &TestApp, s: &Session, kind: &str) -> Vec<Value> {
    notifications(app, s)
        .await
        .into_iter()
        .filter(|n| n["kind"] == kind)
        .collect()
}

/// Waits until the caller's newest notification of `kind` has `status`; returns it.
async fn wait_status(app: &TestApp, s: &Session, kind: &str, status: &str) -> Value {
    let found = tests::mail::eventually(kind, || async {
        notifications_of(app, s, kind)
            .await
            .into_iter()
            .next()
            .filter(|n| n["status"] == status)
    })
    .await;
    match found {
        Some(n) => n,
        None => panic!(
            "{kind} did not become {status}: {:?}",
            notifications_of(app, s, kind).await
        ),
    }
}

/// A delivered notification as the list shows it: `sent`, in `lang`, after `attempts` attempts.
fn assert_sent(n: &Value, lang: &str, attempts: u64) {
    assert_eq!(n["status"], "sent", "{n}");
    assert_eq!(n["language"], lang, "{n}");
    assert_eq!(n["attempts"], attempts, "{n}");
    instant(&n["sent_at"]);
    assert!(
        instant(&n["sent_at"]) >= instant(&n["created_at"]),
        "sent after it was planned: {n}"
    );
}

/// Logs `pid` in and accepts the terms at `level`.
async fn citizen(app: &TestApp, pid: &str, level: &str) -> Session {
    let s = app.login(pid).await;
    app.accept_terms(&s, level).await;
    s
}

/// Logs `pid` in, accepts the terms, gives `r`'s address and language, and opens the link of the
/// confirmation message (the one message `pb` should get for it).
async fn confirmed(app: &TestApp, pb: &mut Postbox<'_>, pid: &str, r: &Reader) -> Session {
    let s = citizen(app, pid, "basis").await;
    confirm_address(app, pb, &s, r).await;
    s
}

/// Sets `r`'s address and language for `s` and confirms it by the link that arrives.
async fn confirm_address(app: &TestApp, pb: &mut Postbox<'_>, s: &Session, r: &Reader) {
    let (status, body) = put_contact(app, s, Some(&r.address), None, r.lang).await;
    assert_eq!(status, StatusCode::OK, "PUT {CONTACT}: {body}");
    let got = pb.expect(&[(r, "email_confirmation")]).await;
    let (status, answer) = send_json(open_link(app, &confirmation_path(&got[0]))).await;
    assert_eq!(status, StatusCode::OK, "the confirmation link: {answer}");
    assert_eq!(answer, json!({ "confirmed": true }));
}

/// Changes the caller's consent level (a `terms_changed` occasion).
async fn change_level(app: &TestApp, s: &Session, level: &str) {
    let (status, body) = app
        .send_json(s, Method::PUT, TERMS_LEVEL, json!({ "level": level }))
        .await;
    assert_eq!(status, StatusCode::OK, "PUT {TERMS_LEVEL} {level}: {body}");
}

/// Grants `grantee` a power of attorney for all areas (until `valid_until`, if given); its id.
async fn grant(app: &TestApp, s: &Session, grantee: &str, valid_until: Option<&str>) -> String {
    let mut body = json!({ "grantee_pid": grantee, "all_areas": true });
    if let Some(until) = valid_until {
        body["valid_until"] = json!(until);
    }
    let (status, g) = app.send_json(s, Method::POST, POA, body).await;
    assert_eq!(status, StatusCode::CREATED, "grant: {g}");
    g["id"].as_str().expect("an id").to_owned()
}

/// `POST /api/v1/powers-of-attorney/{id}/{step}` (acceptance, decline, revocation).
async fn poa_step(app: &TestApp, s: &Session, id: &str, step: &str) {
    let (status, body) = app
        .send_json(s, Method::POST, &format!("{POA}/{id}/{step}"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{step}: {body}");
}

/// One of the summary care record's changes (`OPT_OUT`, `RESTORATION`, `NEW_RECORD`).
async fn record_change(app: &TestApp, s: &Session, path: &str) -> Value {
    let (status, body) = app.send_json(s, Method::POST, path, json!({})).await;
    assert_eq!(status, StatusCode::OK, "POST {path}: {body}");
    body
}

/// `POST /dev/jobs/reminders`: how many reminders it queued.
async fn run_reminders(app: &TestApp) -> u64 {
    let (status, body) = send_json(app.client.post(app.url(REMINDERS))).await;
    assert_eq!(status, StatusCode::OK, "POST {REMINDERS}: {body}");
    body["queued"]
        .as_u64()
        .unwrap_or_else(|| panic!("a count of queued reminders: {body}"))
}

/// `POST /dev/jobs/order-purges`.
async fn order_purges(app: &TestApp) -> Value {
    let (status, body) = send_json(app.client.post(app.url(ORDER_PURGES))).await;
    assert_eq!(status, StatusCode::OK, "POST {ORDER_PURGES}: {body}");
    body
}

/// The body names one of `days` (a date written in one of several ways).
fn assert_names_day(m: &Mail, days: &[&str]) {
    assert!(
        days.iter().any(|d| m.body.contains(d)),
        "{} names the last day ({}): {}",
        kind_of(m).0,
        days[0],
        m.body
    );
}

/// The validation problem names `field` (as an error's `field`, or for a missing field in the
/// detail of the whole body's error).
fn assert_names_field(problem: &Value, field: &str, sent: &Value) {
    let errors = problem["errors"].as_array().cloned().unwrap_or_default();
    let named = errors.iter().any(|e| {
        e["field"] == field
            || e["field"]
                .as_str()
                .is_some_and(|f| f.starts_with(&format!("{field}.")))
            || e["detail"]
                .as_str()
                .is_some_and(|d| d.contains(&format!("`{field}`")))
    });
    assert!(named, "{sent}: the problem names {field}: {problem}");
}

// ------------------------------------------------------------------------- contact details

/// The details start empty in `nb`; bad ones are refused naming the field and change nothing;
/// good ones are stored unconfirmed and bring one confirmation message to the new address whose
/// link confirms once (then `410`); the same details again send nothing; a changed address is
/// unconfirmed again and gets its own message; a link expires after 24 hours; nothing but the
/// confirmation goes to an unconfirmed address (a terms change then is `no_address`); the
/// endpoints are for the citizen's own details only.
async fn contact_details_are_validated_and_confirmed(backend: Backend) {
    let mail = MailServer::start();
    let app = portal(backend, &mail).await;
    let mut pb = Postbox::new(&mail, &app.base);
    let astrid = citizen(&app, ASTRID, "basis").await;

    let empty =
        json!({ "email": null, "email_confirmed_at": null, "phone": null, "language": "nb" });
    assert_eq!(contact(&app, &astrid).await, empty);
    // The acceptance was a terms change with nowhere to send it.
    let items = notifications(&app, &astrid).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["kind"], "terms_changed", "{items:?}");
    assert_eq!(items[0]["status"], "no_address", "{items:?}");
    assert_eq!(items[0]["attempts"], 0, "{items:?}");
    assert_eq!(items[0]["sent_at"], Value::Null, "{items:?}");

    // Refused, naming the field; nothing stored or sent.
    let label = format!("{}.", "x".repeat(49));
    let long_email = format!("kari@{}{}.org", label.repeat(4), "y".repeat(46));
    assert_eq!(long_email.len(), 255, "{long_email}");
    let good = json!({ "email": "astrid@example.org", "phone": "+4791234567", "language": "en" });
    let with = |key: &str, value: Value| {
        let mut b = good.clone();
        b[key] = value;
        b
    };
    let cases = [
        (with("email", json!("not-an-address")), "email"),
        (with("email", json!("astrid@")), "email"),
        (with("email", json!("@example.org")), "email"),
        (with("email", json!("astrid example@example.org")), "email"),
        (with("email", json!(long_email)), "email"),
        (with("email", json!(42)), "email"),
        (with("phone", json!("4791234567")), "phone"),
        (with("phone", json!("+1234567")), "phone"),
        (with("phone", json!("+1234567890123456")), "phone"),
        (with("phone", json!("+47 912 34 567")), "phone"),
        (with("phone", json!("+47912345ab")), "phone"),
        (with("language", json!("de")), "language"),
        (with("language", Value::Null), "language"),
    ];
    for (body, field) in &cases {
        let (problem, _) = expect_problem(
            app.as_citizen(&astrid, Method::PUT, CONTACT).json(body),
            StatusCode::BAD_REQUEST,
            "validation-failed",
        )
        .await;
        assert_names_field(&problem, field, body);
        assert!(
            tests::logscan::lines_with_identity_numbers(&problem.to_string()).is_empty(),
            "{problem}"
        );
    }
    // Not without the CSRF token, not at a substantial level, not on someone's behalf.
    expect_problem(
        app.client
            .put(app.url(CONTACT))
            .header("cookie", &astrid.cookie)
            .json(&good),
        StatusCode::FORBIDDEN,
        "csrf-failed",
    )
    .await;
    let substantial = app.login_at(ASTRID, Some("idporten-loa-substantial")).await;
    expect_problem(
        app.as_citizen(&substantial, Method::PUT, CONTACT)
            .json(&good),
        StatusCode::FORBIDDEN,
        "step-up-required",
    )
    .await;
    let kari = citizen(&app, KARI, "full").await;
    let (status, reps) = app.get_json(&kari, REPRESENTATIONS).await;
    assert_eq!(status, StatusCode::OK, "{reps}");
    let nora = reps["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|r| r["person"]["name"] == "Nora Nordmann")
        .and_then(|r| r["representation_id"].as_str())
        .unwrap_or_else(|| panic!("Kari acts for Nora: {reps}"))
        .to_owned();
    for (method, path) in [
        (Method::GET, CONTACT),
        (Method::PUT, CONTACT),
        (Method::GET, NOTIFICATIONS),
    ] {
        let mut req = app
            .as_citizen(&kari, method.clone(), path)
            .header(ACTING_FOR, &nora);
        if method == Method::PUT {
            req = req.json(&good);
        }
        expect_problem(req, StatusCode::FORBIDDEN, "not-allowed-on-behalf").await;
    }
    assert_eq!(contact(&app, &astrid).await, empty, "nothing changed");
    assert_eq!(contact(&app, &kari).await["email"], Value::Null);
    pb.quiet().await;

    // The boundaries of a phone number are accepted; a phone alone sends nothing.
    for phone in ["+12345678", "+123456789012345"] {
        let (status, body) = put_contact(&app, &astrid, None, Some(phone), "nb").await;
        assert_eq!(status, StatusCode::OK, "{phone}: {body}");
        assert_eq!(body["phone"], phone, "{body}");
    }

    // Good details: stored unconfirmed, one confirmation message to the address.
    let (status, body) = app
        .send_json(&astrid, Method::PUT, CONTACT, good.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_contact_shape(&body);
    let unconfirmed = json!({
        "email": "astrid@example.org", "email_confirmed_at": null, "phone": "+4791234567",
        "language": "en"
    });
    assert_eq!(body, unconfirmed);
    assert_eq!(contact(&app, &astrid).await, unconfirmed);
    let astrid_mail = reader("astrid@example.org", "en");
    let first = pb.expect(&[(&astrid_mail, "email_confirmation")]).await;
    let link = confirmation_path(&first[0]);
    let sent = wait_status(&app, &astrid, "email_confirmation", "sent").await;
    assert_sent(&sent, "en", 1);
    assert_eq!(
        first[0].message_id(),
        Some(format!("<{}@consent-portal>", sent["id"].as_str().expect("id")).as_str()),
        "the Message-ID names the notification"
    );

    // The same details again: nothing changes, nothing is sent. A terms change before the
    // address is confirmed has nowhere to go.
    let (status, body) = app
        .send_json(&astrid, Method::PUT, CONTACT, good.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, unconfirmed);
    change_level(&app, &astrid, "full").await;
    pb.quiet().await;
    let items = notifications(&app, &astrid).await;
    assert_eq!(
        kinds_and_statuses(&items),
        [
            ("email_confirmation".to_owned(), "sent".to_owned()),
            ("terms_changed".to_owned(), "no_address".to_owned()),
            ("terms_changed".to_owned(), "no_address".to_owned()),
        ],
        "{items:?}"
    );

    // The link confirms, once, without a session; an unknown token is refused the same way.
    let before = app.server_now().await;
    let (status, answer) = send_json(open_link(&app, &link)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, json!({ "confirmed": true }));
    let now_confirmed = contact(&app, &astrid).await;
    assert_eq!(now_confirmed["email"], "astrid@example.org");
    let confirmed_at = instant(&now_confirmed["email_confirmed_at"]);
    assert!(
        confirmed_at >= before - chrono::Duration::seconds(1)
            && confirmed_at <= before + chrono::Duration::seconds(30),
        "{now_confirmed}"
    );
    expect_problem(
        open_link(&app, &link),
        StatusCode::GONE,
        "confirmation-link-invalid",
    )
    .await;
    expect_problem(
        open_link(&app, &format!("{CONFIRMATION}?token=not-a-token-we-sent")),
        StatusCode::GONE,
        "confirmation-link-invalid",
    )
    .await;
    assert_eq!(contact(&app, &astrid).await, now_confirmed);

    // Confirmed: a terms change is sent.
    change_level(&app, &astrid, "basis").await;
    pb.expect(&[(&astrid_mail, "terms_changed")]).await;

    // A changed address is unconfirmed again and gets its own confirmation; the old address
    // gets nothing more, and nothing else goes to the new one until it is confirmed.
    let (status, body) = put_contact(
        &app,
        &astrid,
        Some("astrid.lunde@example.org"),
        Some("+4791234567"),
        "en",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "astrid.lunde@example.org", "{body}");
    assert_eq!(body["email_confirmed_at"], Value::Null, "{body}");
    let new_mail = reader("astrid.lunde@example.org", "en");
    let second = pb.expect(&[(&new_mail, "email_confirmation")]).await;
    let unsent = no_address_count(&app, &astrid).await;
    change_level(&app, &astrid, "full").await;
    pb.quiet().await;
    assert_eq!(
        no_address_count(&app, &astrid).await,
        unsent + 1,
        "a terms change while the new address is unconfirmed"
    );

    // A link older than 24 hours is refused; a new address then gets a link that works.
    app.advance_clock(25 * 3600).await;
    expect_problem(
        open_link(&app, &confirmation_path(&second[0])),
        StatusCode::GONE,
        "confirmation-link-invalid",
    )
    .await;
    let astrid = app.login(ASTRID).await;
    assert_eq!(
        contact(&app, &astrid).await["email_confirmed_at"],
        Value::Null
    );
    let third_mail = reader("a.lunde@example.org", "nb");
    confirm_address(&app, &mut pb, &astrid, &third_mail).await;
    let details = contact(&app, &astrid).await;
    assert_eq!(details["email"], "a.lunde@example.org", "{details}");
    assert_eq!(details["language"], "nb", "{details}");
    instant(&details["email_confirmed_at"]);

    // Removed: nothing to send to.
    let (status, removed) = put_contact(&app, &astrid, None, None, "nb").await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert_eq!(removed["email"], Value::Null, "{removed}");
    assert_eq!(removed["phone"], Value::Null, "{removed}");
    assert_eq!(removed["language"], "nb", "{removed}");
    let unsent = no_address_count(&app, &astrid).await;
    change_level(&app, &astrid, "basis").await;
    pb.quiet().await;
    assert_eq!(no_address_count(&app, &astrid).await, unsent + 1);

    // An address given again after the removal, even one confirmed before, is unconfirmed
    // until its new link is opened.
    let (status, body) = put_contact(&app, &astrid, Some(&third_mail.address), None, "nb").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email_confirmed_at"], Value::Null, "{body}");
    let again = pb.expect(&[(&third_mail, "email_confirmation")]).await;
    let unsent = no_address_count(&app, &astrid).await;
    change_level(&app, &astrid, "full").await;
    pb.quiet().await;
    assert_eq!(no_address_count(&app, &astrid).await, unsent + 1);
    let (status, answer) = send_json(open_link(&app, &confirmation_path(&again[0]))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    // Removed again: no confirmation is left behind without an address.
    let (status, removed) = put_contact(&app, &astrid, None, None, "nb").await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert_eq!(removed, empty, "no address, so nothing confirmed");
    assert_eq!(contact(&app, &astrid).await, empty);
}

/// (kind, status) of each notification, sorted (items made within one second may list in either
/// order).
fn kinds_and_statuses(items: &[Value]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = items
        .iter()
        .map(|n| {
            (
                n["kind"].as_str().unwrap_or_default().to_owned(),
                n["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// How many of the caller's notifications had no address to go to.
async fn no_address_count(app: &TestApp, s: &Session) -> usize {
    notifications(app, s)
        .await
        .iter()
        .filter(|n| n["status"] == "no_address")
        .count()
}

/// All three fields are required (`null` removes one): a body without one of them is refused
/// naming it, and changes nothing.
async fn contact_details_need_all_three_fields(backend: Backend) {
    let mail = MailServer::start();
    let app = portal(backend, &mail).await;
    let astrid = citizen(&app, ASTRID, "basis").await;
    let good = json!({ "email": "astrid@example.org", "phone": "+4791234567", "language": "en" });
    let (status, stored) = app
        .send_json(&astrid, Method::PUT, CONTACT, good.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    for field in ["email", "phone", "language"] {
        let mut body = good.clone();
        body.as_object_mut().expect("an object").remove(field);
        let (problem, _) = expect_problem(
            app.as_citizen(&astrid, Method::PUT, CONTACT).json(&body),
            StatusCode::BAD_REQUEST,
            "validation-failed",
        )
        .await;
        assert_names_field(&problem, field, &body);
        assert_eq!(
            contact(&app, &astrid).await,
            stored,
            "unchanged after {body}"
        );
    }
}

// ------------------------------------------------------------------------ each kind, once

/// Terms changes and the life of powers of attorney, for a citizen who reads English and one
/// who reads Norwegian: each message once, to the right party, in their language.
async fn terms_and_powers_of_attorney_are_announced(backend: Backend) {
    let mail = MailServer::start();
    let app = portal(backend, &mail).await;
    let mut pb = Postbox::new(&mail, &app.base);
    let a = reader("astrid@example.org", "en");
    let b = reader("bjorn@example.org", "nb");
    let astrid = confirmed(&app, &mut pb, ASTRID, &a).await;
    let bjorn = confirmed(&app, &mut pb, BJORN, &b).await;

    change_level(&app, &astrid, "full").await;
    pb.expect(&[(&a, "terms_changed")]).await;
    change_level(&app, &bjorn, "full").await;
    pb.expect(&[(&b, "terms_changed")]).await;

    // Granted and declined.
    let id = grant(&app, &astrid, BJORN, None).await;
    pb.expect(&[(&b, "poa_granted")]).await;
    poa_step(&app, &bjorn, &id, "decline").await;
    pb.expect(&[(&a, "poa_declined"), (&b, "poa_declined")])
        .await;

    // Granted, accepted, revoked by the grantor.
    let id = grant(&app, &astrid, BJORN, None).await;
    pb.expect(&[(&b, "poa_granted")]).await;
    poa_step(&app, &bjorn, &id, "acceptance").await;
    pb.expect(&[(&a, "poa_accepted"), (&b, "poa_accepted")])
        .await;
    poa_step(&app, &astrid, &id, "revocation").await;
    pb.expect(&[(&a, "poa_ended"), (&b, "poa_ended")]).await;

    // Granted, accepted, ended by the grantee.
    let id = grant(&app, &astrid, BJORN, None).await;
    pb.expect(&[(&b, "poa_granted")]).await;
    poa_step(&app, &bjorn, &id, "acceptance").await;
    pb.expect(&[(&a, "poa_accepted"), (&b, "poa_accepted")])
        .await;
    poa_step(&app, &bjorn, &id, "revocation").await;
    pb.expect(&[(&a, "poa_ended"), (&b, "poa_ended")]).await;
    pb.quiet().await;

    // The lists agree: each sent once, in the reader's language.
    for (s, lang, kinds) in [
        (
            &astrid,
            "en",
            vec![
                "poa_ended",
                "poa_accepted",
                "poa_declined",
                "poa_ended",
                "poa_accepted",
                "terms_changed",
                "email_confirmation",
            ],
        ),
        (
            &bjorn,
            "nb",
            vec![
                "poa_ended",
                "poa_accepted",
                "poa_granted",
                "poa_declined",
                "poa_granted",
                "poa_ended",
                "poa_accepted",
                "poa_granted",
                "terms_changed",
                "email_confirmation",
            ],
        ),
    ] {
        let items: Vec<Value> = notifications(&app, s)
            .await
            .into_iter()
            .filter(|n| n["status"] != "no_address")
            .collect();
        let got: Vec<&str> = items
            .iter()
            .map(|n| n["kind"].as_str().unwrap_or_default())
            .collect();
        let mut got_sorted = got.clone();
        got_sorted.sort_unstable();
        let mut want = kinds.clone();
        want.sort_unstable();
        assert_eq!(got_sorted, want, "{items:?}");
        for n in &items {
            assert_sent(n, lang, 1);
        }
        let ids: BTreeSet<&str> = items.iter().filter_map(|n| n["id"].as_str()).collect();
        assert_eq!(ids.len(), items.len(), "{items:?}");
    }
    let message_ids: BTreeSet<String> = pb
        .all()
        .iter()
        .filter_map(|m| m.message_id().map(str::to_owned))
        .collect();
    assert_eq!(message_ids.len(), pb.all().len(), "one Message-ID each");
}

/// Opting out (the body names the last day to restore), restoring, the purge ordered when the
/// window closes, and a new record, for an English and a Norwegian reader.
async fn summary_care_record_changes_are_announced(backend: Backend) {
    let mail = MailServer::start();
    let app = portal_today(backend, &mail).await;
    let mut pb = Postbox::new(&mail, &app.base);
    let a = reader("astrid@example.org", "en");
    let b = reader("bjorn@example.org", "nb");
    let astrid = confirmed(&app, &mut pb, ASTRID, &a).await;
    let bjorn = confirmed(&app, &mut pb, BJORN, &b).await;

    record_change(&app, &astrid, OPT_OUT).await;
    record_change(&app, &bjorn, OPT_OUT).await;
    let got = pb
        .expect(&[(&a, "scr_opted_out"), (&b, "scr_opted_out")])
        .await;
    for m in &got {
        assert_names_day(m, &LAST_DAY_TODAY);
    }

    record_change(&app, &astrid, RESTORATION).await;
    pb.expect(&[(&a, "scr_restored")]).await;
    // A second opt-out is an occasion of its own.
    record_change(&app, &astrid, OPT_OUT).await;
    let got = pb.expect(&[(&a, "scr_opted_out")]).await;
    assert_names_day(&got[0], &LAST_DAY_TODAY);

    // Past the window: the purges are ordered once, announced once.
    app.set_clock(PAST_DEADLINE).await;
    let run = order_purges(&app).await;
    assert_eq!(run["ordered"], 2, "{run}");
    pb.expect(&[(&a, "scr_purge_ordered"), (&b, "scr_purge_ordered")])
        .await;
    let run = order_purges(&app).await;
    assert_eq!(run["ordered"], 0, "{run}");

    let astrid = app.login(ASTRID).await;
    let bjorn = app.login(BJORN).await;
    record_change(&app, &astrid, NEW_RECORD).await;
    record_change(&app, &bjorn, NEW_RECORD).await;
    pb.expect(&[(&a, "scr_new_record"), (&b, "scr_new_record")])
        .await;
    pb.quiet().await;

    for (s, lang, kinds) in [
        (
            &astrid,
            "en",
            vec![
                "scr_new_record",
                "scr_purge_ordered",
                "scr_opted_out",
                "scr_restored",
                "scr_opted_out",
            ],
        ),
        (
            &bjorn,
            "nb",
            vec!["scr_new_record", "scr_purge_ordered", "scr_opted_out"],
        ),
    ] {
        let items: Vec<Value> = notifications(&app, s)
            .await
            .into_iter()
            .filter(|n| n["kind"].as_str().is_some_and(|k| k.starts_with("scr_")))
            .collect();
        // Many were made within the same second of the pinned clock: compare them as a set.
        let mut got: Vec<&str> = items
            .iter()
            .map(|n| n["kind"].as_str().unwrap_or_default())
            .collect();
        got.sort_unstable();
        let mut kinds = kinds;
        kinds.sort_unstable();
        assert_eq!(got, kinds, "{items:?}");
        for n in &items {
            assert_sent(n, lang, 1);
        }
    }
}

/// An opening of a blocked record on consent (a professional-access decision) and an emergency
/// access report each bring one message, with no health data in it; a refused decision, an
/// ordinary access and a repeated report bring none.
async fn openings_of_health_data_are_announced(backend: Backend) {
    let mail = MailServer::start();
    let app = portal_today(backend, &mail).await;
    let mut pb = Postbox::new(&mail, &app.base);
    let a = reader("astrid@example.org", "en");
    let b = reader("bjorn@example.org", "nb");
    let astrid = confirmed(&app, &mut pb, ASTRID, &a).await;
    let _bjorn = confirmed(&app, &mut pb, BJORN, &b).await;

    let (status, block) = app
        .send_json(
            &astrid,
            Method::POST,
            BLOCKS,
            json!({ "kind": "whole_record" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{block}");
    let clinic = app
        .idp
        .service_token("dev-service-clinic", "consent:read")
        .await;
    let question = |basis: &str| {
        json!({
            "pid": ASTRID,
            "resource": "summary_care_record",
            "hpr_number": "1234567",
            "organisation_number": "974749025",
            "basis": basis,
        })
    };
    // Refused in ordinary care: nothing opened, nothing sent.
    let (status, answer) = send_json(
        app.as_service(&clinic, Method::POST, ACCESS_DECISION)
            .json(&question("ordinary_care")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["openings"], json!([]), "{answer}");
    // Opened on consent.
    let (status, answer) = send_json(
        app.as_service(&clinic, Method::POST, ACCESS_DECISION)
            .json(&question("consent")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer["openings"],
        json!(["block_opened_on_consent"]),
        "{answer}"
    );
    pb.expect(&[(&a, "health_data_opened")]).await;

    // Bjørn's record: an ordinary access says nothing, an emergency access is announced once.
    let writer = app
        .idp
        .service_token("dev-service-writer", "access-log:write")
        .await;
    let report = |basis: &str| {
        json!({
            "pid": BJORN,
            "accessed_at": "2026-11-23T10:15:00Z",
            "information_object": "Kritisk informasjon: alvorlig allergi mot penicillin",
            "professional": { "hpr_number": "123456789", "name": "Kari Lege", "role": "lege" },
            "organisation": { "number": "974589095", "name": "Oslo universitetssykehus" },
            "basis": basis,
            "changed": false,
            "calling_system": "DIPS Arena"
        })
    };
    for (key, basis) in [
        ("o-1", "ordinary_care"),
        ("e-1", "emergency"),
        ("e-1", "emergency"),
    ] {
        let (status, answer) = send_json(
            app.as_service(&writer, Method::POST, ACCESS_REPORTS)
                .header("idempotency-key", key)
                .json(&report(basis)),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    let got = pb.expect(&[(&b, "health_data_opened")]).await;
    let text = got[0].text().to_lowercase();
    for word in ["penicillin", "allergi", "kritisk informasjon"] {
        assert!(!text.contains(word), "health data ({word}) in {text}");
    }
    pb.quiet().await;
    assert_sent(
        &notifications_of(&app, &astrid, "health_data_opened").await[0],
        "en",
        1,
    );
}

/// A guardian gets one message per child whose 12th or 16th birthday is within 30 days (Jakob
/// turns 12 on 2026-12-16, Ella 16 on 2026-12-09), in their language, once however often the
/// reminders run.
async fn guardians_hear_of_birthdays_ahead(backend: Backend) {
    let mail = MailServer::start();
    let app = portal_today(backend, &mail).await;
    let mut pb = Postbox::new(&mail, &app.base);
    let k = reader("kari@example.org", "nb");
    let o = reader("ola@example.org", "en");
    confirmed(&app, &mut pb, KARI, &k).await;
    confirmed(&app, &mut pb, OLA, &o).await;

    let queued = run_reminders(&app).await;
    assert!(
        queued >= 4,
        "two children for each of two guardians: {queued}"
    );
    let got = pb
        .expect(&[
            (&k, "guardian_birthday"),
            (&k, "guardian_birthday"),
            (&o, "guardian_birthday"),
            (&o, "guardian_birthday"),
        ])
        .await;
    for m in &got {
        let text = m.text();
        for other in ["Nora", "Sofie", "Lukas", "Filip"] {
            assert!(!text.contains(other), "{other} in {text}");
        }
    }
    assert_eq!(run_reminders(&app).await, 0, "nothing new is due");
    app.advance_clock(3600).await;
    assert_eq!(run_reminders(&app).await, 0, "nothing new an hour later");
    pb.quiet().await;
    for (pid, lang) in [(KARI, "nb"), (OLA, "en")] {
        let s = app.login(pid).await;
        let items = notifications_of(&app, &s, "guardian_birthday").await;
        assert_eq!(items.len(), 2, "{items:?}");
        for n in &items {
            assert_sent(n, lang, 1);
        }
    }
}

/// A power of attorney that ends in 20 days: nothing at first; a week later (13 days left) both
/// parties get one message, however often the reminders run.
async fn an_expiring_power_of_attorney_is_announced(backend: Backend) {
    let mail = MailServer::start();
    let app = portal_today(backend, &mail).await;
    let mut pb = Postbox::new(&mail, &app.base);
    let a = reader("astrid@example.org", "en");
    let b = reader("bjorn@example.org", "nb");
    let astrid = confirmed(&app, &mut pb, ASTRID, &a).await;
    let bjorn = confirmed(&app, &mut pb, BJORN, &b).await;

    let id = grant(&app, &astrid, BJORN, Some("2026-12-13T12:00:00Z")).await;
    pb.expect(&[(&b, "poa_granted")]).await;
    poa_step(&app, &bjorn, &id, "acceptance").await;
    pb.expect(&[(&a, "poa_accepted"), (&b, "poa_accepted")])
        .await;
    // Twenty days ahead: not yet.
    run_reminders(&app).await;
    pb.quiet().await;

    app.advance_clock(7 * 24 * 3600).await;
    assert!(run_reminders(&app).await >= 2);
    pb.expect(&[(&a, "poa_expiring"), (&b, "poa_expiring")])
        .await;
    assert_eq!(run_reminders(&app).await, 0);
    app.advance_clock(24 * 3600).await;
    assert_eq!(run_reminders(&app).await, 0);
    pb.quiet().await;
    let astrid = app.login(ASTRID).await;
    let items = notifications_of(&app, &astrid, "poa_expiring").await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_sent(&items[0], "en", 1);
}

// ---------------------------------------------------------------------------------- reminders

/// The summary care record reminders: 7 days and 1 day before the restore deadline, each once;
/// when the clock has passed both due times before the job runs, only one is sent. Astrid opts
/// out today (last day 23 December), Bjørn a week later (last day 30 December).
async fn summary_care_record_reminders_follow_the_clock(backend: Backend) {
    let mail = MailServer::start();
    let app = portal_today(backend, &mail).await;
    let mut pb = Postbox::new(&mail, &app.base);
    let a = reader("astrid@example.org", "en");
    let b = reader("bjorn@example.org", "nb");
    let astrid = confirmed(&app, &mut pb, ASTRID, &a).await;
    confirmed(&app, &mut pb, BJORN, &b).await;

    record_change(&app, &astrid, OPT_OUT).await;
    pb.expect(&[(&a, "scr_opted_out")]).await;
    assert_eq!(run_reminders(&app).await, 0, "a month ahead");

    app.set_clock("2026-11-30T12:00:00Z").await;
    let bjorn = app.login(BJORN).await;
    record_change(&app, &bjorn, OPT_OUT).await;
    let got = pb.expect(&[(&b, "scr_opted_out")]).await;
    assert_names_day(
        &got[0],
        &[
            "30. desember 2026",
            "30.12.2026",
            "2026-12-30",
            "30/12/2026",
        ],
    );
    assert_eq!(run_reminders(&app).await, 0);
    pb.quiet().await;

    // The day before the 7-day reminder is due (00:00 Oslo on 17 December): nothing.
    app.set_clock("2026-12-16T22:30:00Z").await;
    assert_eq!(run_reminders(&app).await, 0, "not due yet");
    // Due: Astrid's 7-day reminder, once.
    app.set_clock("2026-12-17T09:00:00Z").await;
    assert_eq!(run_reminders(&app).await, 1);
    let got = pb.expect(&[(&a, "scr_reminder")]).await;
    assert_names_day(&got[0], &LAST_DAY_TODAY);
    assert_eq!(run_reminders(&app).await, 0, "sent once");
    app.advance_clock(6 * 3600).await;
    assert_eq!(run_reminders(&app).await, 0, "sent once");
    pb.quiet().await;

    // The last day: Astrid's 1-day reminder.
    app.set_clock("2026-12-23T09:00:00Z").await;
    assert_eq!(run_reminders(&app).await, 1);
    pb.expect(&[(&a, "scr_reminder")]).await;
    assert_eq!(run_reminders(&app).await, 0);
    pb.quiet().await;

    // Bjørn's job never ran while his 7-day reminder was due: on his last day only one is sent.
    // Astrid's window has closed: nothing more for her.
    app.set_clock("2026-12-30T09:00:00Z").await;
    assert_eq!(run_reminders(&app).await, 1, "only the latest due reminder");
    pb.expect(&[(&b, "scr_reminder")]).await;
    assert_eq!(run_reminders(&app).await, 0);
    pb.quiet().await;

    let astrid = app.login(ASTRID).await;
    let bjorn = app.login(BJORN).await;
    assert_eq!(
        notifications_of(&app, &astrid, "scr_reminder").await.len(),
        2
    );
    let theirs = notifications_of(&app, &bjorn, "scr_reminder").await;
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    assert_sent(&theirs[0], "nb", 1);
}

// ---------------------------------------------------------------------------------- delivery

/// The SMTP server refuses twice (451) and then accepts: exactly one message arrives, the list
/// shows it `sent` after 3 attempts, and the change it announces was answered at once.
async fn a_refused_message_is_retried_until_accepted(backend: Backend) {
    let mail = MailServer::start();
    let app = portal(backend, &mail).await;
    let mut pb = Postbox::new(&mail, &app.base);
    let a = reader("astrid@example.org", "en");
    let astrid = citizen(&app, ASTRID, "basis").await;

    mail.refuse_next(2, 451);
    let (status, body) = put_contact(&app, &astrid, Some(&a.address), None, "en").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the change does not wait for the mail: {body}"
    );
    let got = pb.expect(&[(&a, "email_confirmation")]).await;
    pb.quiet().await;
    let refused = mail.refusals();
    assert_eq!(refused.len(), 2, "{refused:?}");
    for r in &refused {
        assert_eq!(r.to, vec![a.address.clone()], "{r:?}");
        assert_eq!(r.code, 451);
    }
    let n = wait_status(&app, &astrid, "email_confirmation", "sent").await;
    assert_sent(&n, "en", 3);
    assert_eq!(
        got[0].message_id(),
        Some(format!("<{}@consent-portal>", n["id"].as_str().expect("id")).as_str())
    );
    // The link of the message that finally arrived works.
    let (status, answer) = send_json(open_link(&app, &confirmation_path(&got[0]))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// A server that keeps refusing (550): after `NOTIFY_MAX_ATTEMPTS` attempts the message is
/// `given_up` with its last error; the details were stored all the same, and nothing more is
/// tried.
async fn a_message_is_given_up_after_the_last_attempt(backend: Backend) {
    let mail = MailServer::start();
    let app = builder(backend, Some(&mail))
        .env("NOTIFY_MAX_ATTEMPTS", "3")
        .spawn()
        .await;
    let astrid = citizen(&app, ASTRID, "basis").await;
    mail.refuse_next(10, 550);
    let (status, body) = put_contact(&app, &astrid, Some("astrid@example.org"), None, "en").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let failed = wait_status(&app, &astrid, "email_confirmation", "failed").await;
    assert!(
        failed["attempts"].as_u64().is_some_and(|n| n >= 1),
        "{failed}"
    );
    assert!(
        failed["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{failed}"
    );
    let n = wait_status(&app, &astrid, "email_confirmation", "given_up").await;
    assert_eq!(n["attempts"], 3, "{n}");
    assert_eq!(n["sent_at"], Value::Null, "{n}");
    assert!(
        n["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{n}"
    );
    assert!(
        tests::logscan::lines_with_identity_numbers(&n.to_string()).is_empty(),
        "{n}"
    );
    mail.stays_at(0).await;
    assert_eq!(mail.refusals().len(), 3, "no attempt after the last");
    assert_eq!(
        contact(&app, &astrid).await["email"],
        "astrid@example.org",
        "the change stands"
    );
}

/// No SMTP server listening: the attempt fails and is retried until one is there.
async fn a_message_waits_for_the_mail_server(backend: Backend) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let app = TestApp::builder(backend)
        .env("NOTIFY_INTERVAL_MS", "200")
        .env("NOTIFY_RETRY_BASE_SECONDS", "1")
        .env("REMINDER_INTERVAL_SECONDS", "0")
        .env("SMTP_URL", &format!("smtp://127.0.0.1:{port}"))
        .spawn()
        .await;
    let astrid = citizen(&app, ASTRID, "basis").await;
    let (status, body) = put_contact(&app, &astrid, Some("astrid@example.org"), None, "en").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let failed = wait_status(&app, &astrid, "email_confirmation", "failed").await;
    assert!(
        failed["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{failed}"
    );

    let mail = MailServer::start_on(port);
    let mut pb = Postbox::new(&mail, &app.base);
    let a = reader("astrid@example.org", "en");
    pb.expect(&[(&a, "email_confirmation")]).await;
    pb.quiet().await;
    let n = wait_status(&app, &astrid, "email_confirmation", "sent").await;
    assert!(n["attempts"].as_u64().is_some_and(|n| n >= 2), "{n}");
}

/// Messages queued by a server without SMTP are sent by the next server on the database, each
/// once: `first` keeps the database; `queuing` plans messages and is stopped; `sending` starts
/// with SMTP and delivers them. Twice: the confirmations, then a grant and a terms change.
async fn queued_messages_are_sent_after_a_restart(backend: Backend) {
    let mail = MailServer::start();
    // Links name the PUBLIC_URL of one of the servers: all are on 127.0.0.1.
    let mut pb = Postbox::new(&mail, "http://127.0.0.1:");
    let a = reader("astrid@example.org", "en");
    let b = reader("bjorn@example.org", "nb");
    let first = builder(backend.clone(), None).spawn().await;

    {
        let queuing = builder(backend.clone(), None)
            .sharing_database_of(&first)
            .spawn()
            .await;
        for (pid, r) in [(ASTRID, &a), (BJORN, &b)] {
            let s = citizen(&queuing, pid, "basis").await;
            let (status, body) = put_contact(&queuing, &s, Some(&r.address), None, r.lang).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            // Queued, and stays queued: nothing sends it.
            tokio::time::sleep(std::time::Duration::from_millis(600)).await;
            let n = &notifications_of(&queuing, &s, "email_confirmation").await[0];
            assert_eq!(n["status"], "queued", "{n}");
            assert_eq!(n["attempts"], 0, "{n}");
            assert_eq!(n["sent_at"], Value::Null, "{n}");
        }
        pb.quiet().await;
    }

    {
        let sending = builder(backend.clone(), Some(&mail))
            .sharing_database_of(&first)
            .spawn()
            .await;
        let got = pb
            .expect(&[(&a, "email_confirmation"), (&b, "email_confirmation")])
            .await;
        for m in &got {
            let (status, answer) = send_json(open_link(&sending, &confirmation_path(m))).await;
            assert_eq!(status, StatusCode::OK, "{answer}");
        }
        pb.quiet().await;
        let astrid = sending.login(ASTRID).await;
        let n = wait_status(&sending, &astrid, "email_confirmation", "sent").await;
        assert_sent(&n, "en", 1);
    }

    {
        let queuing = builder(backend.clone(), None)
            .sharing_database_of(&first)
            .spawn()
            .await;
        let astrid = queuing.login(ASTRID).await;
        grant(&queuing, &astrid, BJORN, None).await;
        change_level(&queuing, &astrid, "full").await;
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        let newest = &notifications(&queuing, &astrid).await[0];
        assert_eq!(newest["kind"], "terms_changed", "{newest}");
        assert_eq!(newest["status"], "queued", "{newest}");
        pb.quiet().await;
    }

    let sending = builder(backend, Some(&mail))
        .sharing_database_of(&first)
        .spawn()
        .await;
    pb.expect(&[(&b, "poa_granted"), (&a, "terms_changed")])
        .await;
    pb.quiet().await;
    let bjorn = sending.login(BJORN).await;
    let n = wait_status(&sending, &bjorn, "poa_granted", "sent").await;
    assert_sent(&n, "nb", 1);
}

/// Two servers on one database, both sending: every message is delivered once, also when both
/// run the reminders at the same moment.
async fn two_servers_send_each_message_once(backend: Backend) {
    let mail = MailServer::start();
    let one = portal(backend.clone(), &mail).await;
    let two = builder(backend, Some(&mail))
        .sharing_database_of(&one)
        .spawn()
        .await;
    let mut pb = Postbox::new(&mail, "http://127.0.0.1:");
    let a = reader("astrid@example.org", "en");
    let b = reader("bjorn@example.org", "nb");
    let astrid = confirmed(&one, &mut pb, ASTRID, &a).await;
    let bjorn = confirmed(&two, &mut pb, BJORN, &b).await;

    // Changes on both servers, quickly, each announced once.
    let levels = ["full", "basis", "full"];
    for level in levels {
        futures_util::join!(
            change_level(&one, &astrid, level),
            change_level(&two, &bjorn, level)
        );
    }
    let mut expected = Vec::new();
    for _ in levels {
        expected.push((&a, "terms_changed"));
        expected.push((&b, "terms_changed"));
    }
    pb.expect(&expected).await;

    let until = (one.server_now().await + chrono::Duration::days(10)).to_rfc3339();
    let id = grant(&one, &astrid, BJORN, Some(&until)).await;
    poa_step(&two, &bjorn, &id, "acceptance").await;
    pb.expect(&[
        (&b, "poa_granted"),
        (&a, "poa_accepted"),
        (&b, "poa_accepted"),
    ])
    .await;

    // Both servers run the reminders at once: one poa_expiring each.
    futures_util::join!(run_reminders(&one), run_reminders(&two));
    pb.expect(&[(&a, "poa_expiring"), (&b, "poa_expiring")])
        .await;
    let (x, y) = futures_util::join!(run_reminders(&one), run_reminders(&two));
    assert_eq!((x, y), (0, 0));
    pb.quiet().await;

    let all = pb.all();
    let message_ids: BTreeSet<String> = all
        .iter()
        .filter_map(|m| m.message_id().map(str::to_owned))
        .collect();
    assert_eq!(message_ids.len(), all.len(), "one Message-ID per message");
    for n in notifications(&one, &astrid).await {
        if n["status"] != "no_address" {
            assert_sent(&n, "en", 1);
        }
    }
}

// ---------------------------------------------------------------------------------- children

/// A child's refusal and a denial on weighty reasons are registered by health personnel: the
/// guardians get no message, nothing new in their lists, and the birthday messages that follow
/// say nothing of the child the refusal is about; a denied guardian is not told of that child's
/// birthday either.
async fn a_guardian_hears_nothing_of_a_childs_refusal(backend: Backend) {
    let mail = MailServer::start();
    let app = portal_today(backend, &mail).await;
    let mut pb = Postbox::new(&mail, &app.base);
    let k = reader("kari@example.org", "nb");
    let o = reader("ola@example.org", "en");
    let kari = confirmed(&app, &mut pb, KARI, &k).await;
    let ola = confirmed(&app, &mut pb, OLA, &o).await;
    let kari_before = notifications(&app, &kari).await;
    let ola_before = notifications(&app, &ola).await;

    let clinic = app
        .idp
        .service_token("dev-service-clinic", "child-restrictions:write")
        .await;
    let author = json!({
        "hpr_number": "123456789",
        "organisation_number": "974589095",
        "organisation_name": "Helsestasjon for ungdom"
    });
    let register = |what: &'static str, body: Value| {
        let req = app
            .as_service(&clinic, Method::POST, &format!("{RESTRICTIONS}/{what}"))
            .json(&body);
        async move {
            let (status, r) = send_json(req).await;
            assert_eq!(status, StatusCode::CREATED, "{what}: {r}");
            r
        }
    };
    let refusal = register(
        "refusals",
        json!({
            "child_pid": LUKAS,
            "areas": null,
            "basis": "The child does not want the guardians to see this.",
            "author": author
        }),
    )
    .await;
    register(
        "denials",
        json!({
            "child_pid": JAKOB,
            "guardian_pid": OLA,
            "basis": "Weighty reasons recorded in the child's journal.",
            "author": author
        }),
    )
    .await;
    let (status, lifted) = send_json(
        app.as_service(
            &clinic,
            Method::POST,
            &format!(
                "{RESTRICTIONS}/{}/lifting",
                refusal["restriction_id"].as_str().expect("id")
            ),
        )
        .json(&json!({ "basis": "The child agrees again.", "author": author })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{lifted}");
    register(
        "refusals",
        json!({
            "child_pid": LUKAS,
            "areas": ["appointments"],
            "basis": "The child does not want the guardians to see this.",
            "author": author
        }),
    )
    .await;

    // Nothing but the two confirmations has arrived.
    pb.quiet().await;
    assert_eq!(
        notifications(&app, &kari).await,
        kari_before,
        "nothing planned"
    );
    assert_eq!(
        notifications(&app, &ola).await,
        ola_before,
        "nothing planned"
    );

    // The birthdays ahead: Kari hears of Jakob and Ella; Ola, denied for Jakob, of Ella only.
    run_reminders(&app).await;
    let got = pb
        .expect(&[
            (&k, "guardian_birthday"),
            (&k, "guardian_birthday"),
            (&o, "guardian_birthday"),
        ])
        .await;
    for m in &got {
        let text = m.text().to_lowercase();
        for word in [
            "lukas",
            "refus",
            "nekt",
            "weighty",
            "tungtveiende",
            "denied",
        ] {
            assert!(!text.contains(word), "{word} in {text}");
        }
    }
    assert!(
        !got[2].text().contains("Jakob"),
        "Ola is not told of Jakob: {}",
        got[2].text()
    );
    assert_eq!(run_reminders(&app).await, 0);
    pb.quiet().await;
    let ola_after = notifications(&app, &ola).await;
    assert_eq!(ola_after.len(), ola_before.len() + 1, "{ola_after:?}");
    assert_eq!(ola_after[0]["kind"], "guardian_birthday");
}

both_backends!(
    contact_details_are_validated_and_confirmed,
    contact_details_need_all_three_fields,
    terms_and_powers_of_attorney_are_announced,
    summary_care_record_changes_are_announced,
    openings_of_health_data_are_announced,
    guardians_hear_of_birthdays_ahead,
    an_expiring_power_of_attorney_is_announced,
    summary_care_record_reminders_follow_the_clock,
    a_refused_message_is_retried_until_accepted,
    a_message_is_given_up_after_the_last_attempt,
    a_message_waits_for_the_mail_server,
    queued_messages_are_sent_after_a_restart,
    two_servers_send_each_message_once,
    a_guardian_hears_nothing_of_a_childs_refusal,
);

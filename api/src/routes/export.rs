//! Downloading everything this backend holds about oneself (DESIGN §2.9, portability and
//! insight): one JSON document (schema in docs/EXPORT.md) and the usage log also as CSV.
//!
//! The usage log can have a million rows, so both are streamed: the other sections are read
//! first, then the log page by page ([`LOG_PAGE`] rows per query, oldest first) while the
//! answer is being sent; the server never holds more than a page. Each download is itself an
//! entry in the log (written before the stream starts, so it is the export's last row).

use actix_web::{web, HttpResponse};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use domain::guardianship::{AgeBand, GuardianAccess};
use domain::usage_log::{ActorKind, ChainedEntry};
use futures_util::stream::{self, Stream};
use openapi::problem::Problem;
use persistence::sharing::Choice;
use persistence::{
    access_switches, citizens, data_requests, notifications, powers_of_attorney, sharing,
    summary_care_records, terms, usage_log,
};
use serde_json::{json, Value};

use crate::audit::{self, Actor, Feed};
use crate::auth::acting::ActingCitizen;
use crate::error::ApiError;
use crate::routes::summary_care_record::{state_body, subject_of};
use crate::state::AppState;

/// Rows of the usage log read per query while streaming.
pub const LOG_PAGE: i64 = 1000;
/// The export format's name and version (docs/EXPORT.md).
pub const SCHEMA: &str = "consent-portal-export/1";

fn entry_json(e: &ChainedEntry) -> Value {
    json!({
        "seq": e.seq,
        "at": e.at,
        "actor_kind": e.actor_kind.as_str(),
        "actor_id": e.actor_id,
        "action": e.action,
        "details": serde_json::from_str::<Value>(&e.details).unwrap_or(Value::Null),
        "hash": e.hash,
    })
}

/// One CSV record per entry (RFC 4180 quoting, by the `csv` crate).
fn entry_csv(entries: &[ChainedEntry]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    for e in entries {
        w.write_record([
            e.seq.to_string().as_str(),
            &e.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            e.actor_kind.as_str(),
            &e.actor_id,
            &e.action,
            &e.details,
            &e.hash,
        ])?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// Everything but the usage log, as the document's first sections.
fn sections(
    conn: &mut persistence::AnyConnection,
    subject: &str,
    config: &crate::config::Config,
    now: DateTime<Utc>,
) -> Result<Value, ApiError> {
    let citizen = citizens::find(conn, subject)?.ok_or(ApiError::NotFound)?;
    let contact = notifications::contact(conn, subject)?;
    let switches = access_switches::get(conn, subject)?;
    let record = summary_care_records::get(conn, subject)?;
    let grants = powers_of_attorney::of_party(conn, subject)?;
    let choices = sharing::history(conn, subject)?;
    let openings = sharing::openings(conn, subject, i64::MAX)?;
    let requests = data_requests::of_subject(conn, subject)?;
    let messages = notifications::of_citizen(conn, subject, i64::MAX)?;
    let history = terms::history(conn, subject)?;
    let children = children_settings(conn, &citizen, config, now)?;
    Ok(json!({
        "schema": SCHEMA,
        "generated_at": now,
        "subject_id": subject,
        "profile": {
            "created_at": citizen.created_at,
            "last_login_at": citizen.last_login_at,
            "contact_details": contact.map(|c| json!({
                "email": c.email,
                "email_confirmed_at": c.email_confirmed_at,
                "phone": c.phone,
                "language": c.language,
            })),
        },
        "terms_consent": {
            "current": citizen.consent.map(|c| json!({
                "terms_version": c.terms_version,
                "level": c.level.as_str(),
                "accepted_at": c.accepted_at,
            })),
            "history": history.into_iter().map(|h| json!({
                "action": h.action,
                "terms_version": h.terms_version,
                "level": h.level.map(|l| l.as_str()),
                "at": h.at,
            })).collect::<Vec<_>>(),
        },
        "access_switches": domain::access_switches::Switch::ALL.iter().map(|s| json!({
            "switch": s.as_str(),
            "removed": switches.switches.is_removed(*s),
            "changed_at": switches.changed_at(*s),
        })).collect::<Vec<_>>(),
        "powers_of_attorney": grants.into_iter().map(|g| json!({
            "id": g.id,
            "role": if g.grantor_id == subject { "grantor" } else { "grantee" },
            "other_party_id": if g.grantor_id == subject { g.grantee_id.clone() } else { g.grantor_id.clone() },
            "areas": match &g.coverage {
                domain::powers_of_attorney::Coverage::AllAreas => vec!["all".to_owned()],
                domain::powers_of_attorney::Coverage::Areas(a) => a.iter().map(|a| a.as_str().to_owned()).collect(),
            },
            "created_at": g.created_at,
            "valid_until": g.valid_until,
            "accepted_at": g.accepted_at,
            "ended": g.ended.map(|(reason, at)| json!({ "reason": reason.as_str(), "at": at })),
        })).collect::<Vec<_>>(),
        "summary_care_record": {
            "state": state_body(&record),
            "blocks_and_objections": choices.into_iter().map(|c| {
                let (kind, target) = match &c.choice {
                    Choice::Block(domain::sharing::BlockTarget::WholeRecord) => ("block", json!({"whole_record": true})),
                    Choice::Block(domain::sharing::BlockTarget::Part(p)) => ("block", json!({"part": p.as_str()})),
                    Choice::Block(domain::sharing::BlockTarget::Professional(h)) => ("block", json!({"hpr_number": h.as_str()})),
                    Choice::Objection(domain::sharing::ObjectionTarget::Professional(h)) => ("objection", json!({"hpr_number": h.as_str()})),
                    Choice::Objection(domain::sharing::ObjectionTarget::Organisation(n)) => ("objection", json!({"organisation_number": n.as_str()})),
                };
                json!({ "id": c.id, "kind": kind, "target": target, "created_at": c.created_at, "lifted_at": c.lifted_at })
            }).collect::<Vec<_>>(),
            "openings": openings.into_iter().map(|o| json!({
                "at": o.at, "kind": o.kind, "resource": o.resource,
                "parts": o.parts.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
                "hpr_number": o.hpr_number, "organisation_number": o.organisation_number,
                "basis": o.basis, "stated_basis": o.stated_basis, "client_id": o.client_id,
            })).collect::<Vec<_>>(),
        },
        "children": children,
        "data_requests": requests.into_iter().map(|r| json!({
            "id": r.id, "kind": r.kind.as_str(), "text": r.text, "categories": r.categories,
            "received_at": r.state.received_at, "deadline": r.state.deadline(),
            "closed": !r.state.is_open(),
        })).collect::<Vec<_>>(),
        "notifications": messages.into_iter().map(|n| json!({
            "kind": n.kind, "status": n.status, "created_at": n.created_at, "sent_at": n.sent_at,
        })).collect::<Vec<_>>(),
    }))
}

/// The settings of the children the person is guardian of, as far as the child rules let the
/// guardian see them: each child's access switches, and for a child under 12 the summary care
/// record's state and blocks.
fn children_settings(
    conn: &mut persistence::AnyConnection,
    guardian: &citizens::Citizen,
    config: &crate::config::Config,
    now: DateTime<Utc>,
) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::new();
    for (child, access) in crate::guardians::children_of(conn, guardian, config, now)? {
        let (GuardianAccess::Available(access), Some(id)) = (access, child.citizen_id) else {
            continue;
        };
        let switches = access_switches::get(conn, &id)?;
        let mut settings = json!({
            "subject_id": id,
            "access_switches": domain::access_switches::Switch::ALL.iter().map(|s| json!({
                "switch": s.as_str(),
                "removed": switches.switches.is_removed(*s),
            })).collect::<Vec<_>>(),
        });
        if access.band == AgeBand::UnderTwelve {
            settings["summary_care_record"] = json!({
                "state": state_body(&summary_care_records::get(conn, &id)?),
                "blocks_and_objections_in_force": sharing::listed(conn, &id)?.len(),
            });
        }
        out.push(settings);
    }
    Ok(out)
}

/// Logs the download in the subject's log (and the actor's, acting for a child).
async fn log_download(
    state: &AppState,
    actor: &ActingCitizen,
    subject: &str,
    format: &'static str,
) -> Result<(), ApiError> {
    let me = actor.who.citizen.id.clone();
    let kind = actor
        .acting
        .as_ref()
        .map_or(ActorKind::Citizen, |r| r.actor_kind());
    let now = actor.who.now;
    let subject = subject.to_owned();
    state
        .tx(move |conn| {
            let who = Actor {
                kind,
                id: me.clone(),
            };
            if subject != me {
                let mine = json!({ "on_behalf_of": subject, "format": format });
                audit::record(
                    conn,
                    &me,
                    &who,
                    "export.downloaded",
                    mine,
                    now,
                    Feed::LogOnly,
                )?;
            }
            let details = json!({ "format": format });
            audit::record(
                conn,
                &subject,
                &who,
                "export.downloaded",
                details,
                now,
                Feed::LogOnly,
            )?;
            Ok(())
        })
        .await
}

/// The subject's log, page by page, each page rendered by `render`, between `head` and `tail`.
fn log_stream(
    state: web::Data<AppState>,
    subject: String,
    head: Bytes,
    tail: &'static str,
    render: fn(&[ChainedEntry], bool) -> Result<Vec<u8>, String>,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
    // (what to send first, the last seq sent, whether any entry was sent, done)
    let start = (Some(head), 0_i64, false, false);
    stream::unfold(start, move |(head, after, any, done)| {
        let state = state.clone();
        let subject = subject.clone();
        async move {
            if done {
                return None;
            }
            if let Some(h) = head {
                return Some((Ok(h), (None, after, any, false)));
            }
            let page = state
                .tx(move |conn| Ok(usage_log::after(conn, &subject, after, LOG_PAGE)?))
                .await;
            match page {
                Err(e) => {
                    // The status is sent already: end the body early; the client sees it cut.
                    tracing::error!(error = %e, "export stopped while streaming the usage log");
                    Some((
                        Err(actix_web::error::ErrorInternalServerError("export")),
                        (None, after, any, true),
                    ))
                }
                Ok(entries) if entries.is_empty() => Some((
                    Ok(Bytes::from_static(tail.as_bytes())),
                    (None, after, any, true),
                )),
                Ok(entries) => {
                    let last = entries.last().map_or(after, |e| e.seq);
                    match render(&entries, any) {
                        Ok(chunk) => Some((Ok(Bytes::from(chunk)), (None, last, true, false))),
                        Err(e) => {
                            tracing::error!(error = %e, "export could not render the usage log");
                            Some((
                                Err(actix_web::error::ErrorInternalServerError("export")),
                                (None, after, any, true),
                            ))
                        }
                    }
                }
            }
        }
    })
}

fn json_page(entries: &[ChainedEntry], any_before: bool) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if any_before || i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, &entry_json(e)).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

fn csv_page(entries: &[ChainedEntry], _: bool) -> Result<Vec<u8>, String> {
    entry_csv(entries).map_err(|e| e.to_string())
}

/// Everything this backend holds about the caller (or a child under 12) as one JSON document:
/// profile and contact details, the terms consent and its history, access switches, powers of
/// attorney given and received, the summary care record's state, blocks, objections and their
/// openings, data-subject requests, the messages sent, and the whole usage log (oldest first).
/// Streamed; the schema is docs/EXPORT.md.
#[utoipa::path(
    get, path = "/api/v1/export", tag = "data-requests",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(("X-Acting-For" = Option<String>, Header, description = "A child under 12's representation id")),
    responses(
        (status = 200, description = "The export document (`consent-portal-export/1`, docs/EXPORT.md), streamed", content_type = "application/json", body = Object,
         example = json!({"schema": "consent-portal-export/1", "generated_at": "2026-11-30T09:00:00Z", "subject_id": "2b0c7f9e-5a41-4d1e-8f3a-9c6b2d1e4f50", "profile": {}, "usage_log": []})),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`consent-required`, or `not-allowed-on-behalf`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The `X-Acting-For` id is not one of the caller's live representations", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn document(
    state: web::Data<AppState>,
    actor: ActingCitizen,
) -> Result<HttpResponse, ApiError> {
    let subject = subject_of(&actor)?;
    log_download(&state, &actor, &subject, "json").await?;
    let now = actor.who.now;
    let s = subject.clone();
    let config = state.config.clone();
    let mut doc = state
        .tx(move |conn| sections(conn, &s, &config, now))
        .await?;
    // The sections, then `"usage_log":[` and the entries as they are read, then `]}`.
    doc["usage_log"] = json!([]);
    let text = doc.to_string();
    let head = text
        .strip_suffix("[]}")
        .filter(|t| t.ends_with("\"usage_log\":"))
        .map(|t| format!("{t}["))
        .ok_or_else(|| ApiError::Internal("the export's sections end unexpectedly".into()))?;
    let body = log_stream(state, subject, Bytes::from(head), "]}", json_page);
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            "content-disposition",
            "attachment; filename=\"export.json\"",
        ))
        .streaming(body))
}

/// The caller's (or a child under 12's) usage log as CSV, oldest first: `seq, at, actor_kind,
/// actor_id, action, details (JSON), hash`. Streamed.
#[utoipa::path(
    get, path = "/api/v1/export/usage-log.csv", tag = "data-requests",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(("X-Acting-For" = Option<String>, Header, description = "A child under 12's representation id")),
    responses(
        (status = 200, description = "The usage log as CSV with a header row, streamed", content_type = "text/csv", body = String,
         example = "seq,at,actor_kind,actor_id,action,details,hash\n1,2026-11-23T12:00:00Z,citizen,2b0c7f9e-5a41-4d1e-8f3a-9c6b2d1e4f50,login,\"{\"\"acr\"\":\"\"idporten-loa-high\"\"}\",9f86d081884c7d65\n"),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`consent-required`, or `not-allowed-on-behalf`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The `X-Acting-For` id is not one of the caller's live representations", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn usage_log_csv(
    state: web::Data<AppState>,
    actor: ActingCitizen,
) -> Result<HttpResponse, ApiError> {
    let subject = subject_of(&actor)?;
    log_download(&state, &actor, &subject, "csv").await?;
    let head = Bytes::from_static(b"seq,at,actor_kind,actor_id,action,details,hash\n");
    let body = log_stream(state, subject, head, "", csv_page);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "content-disposition",
            "attachment; filename=\"usage-log.csv\"",
        ))
        .streaming(body))
}

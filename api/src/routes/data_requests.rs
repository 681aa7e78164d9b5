//! Data-subject requests (DESIGN §2.9; rules: `domain::data_requests`): citizens file them
//! (`/api/v1/data-requests`), the responsible organisation handles them through its own machine
//! API (`/api/v1/data-request-queue`, scope `data-requests:handle`). Every step writes the
//! subject's usage-log entry and a change-feed event (which plans the email to the citizen) in the
//! transaction that makes it.
//!
//! Who may file: the citizen; a guardian for a child under 12; never a grantee
//! ([`summary_care_record::subject_of`], the same rule as the summary care record).

use actix_web::{web, HttpResponse};
use chrono::{DateTime, SubsecRound, Utc};
use domain::data_requests::{
    extended_deadline, Ground, Kind, Outcome, Request, RequestError, COMPLAINT,
};
use domain::usage_log::ActorKind;
use openapi::data_requests::{
    Acknowledgement, AnswerBody, DataRequest, DataRequestList, DataRequestQueue, ExtensionBody,
    NewAnswer, NewDataRequest, NewExtension, NewRefusal, QueueQuery, RefusalBody, RefusalGround,
    RequestCategory, RequestKindBody, RequestStatus,
};
use openapi::problem::Problem;
use persistence::data_requests::{self as store, StoredRequest};
use persistence::db::lock_citizen;

use crate::audit::{self, Actor, Feed};
use crate::auth::acting::{recheck, ActingCitizen};
use crate::auth::service::{DataRequestsHandle, ServiceClient};
use crate::error::ApiError;
use crate::extract::{JsonBody, Query};
use crate::routes::summary_care_record::subject_of;
use crate::state::AppState;

const MAX_TEXT: usize = 2000;
const MAX_ANSWER: usize = 10_000;
const MAX_PROVISION: usize = 200;
const DEFAULT_QUEUE: u32 = 100;
const MAX_QUEUE: u32 = 200;

/// 1 to `max` characters, line breaks allowed, no identity number.
fn free_text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    crate::extract::free_text(field, value, max, true)
}

fn kind_domain(k: RequestKindBody) -> Kind {
    match k {
        RequestKindBody::Insight => Kind::Insight,
        RequestKindBody::Rectification => Kind::Rectification,
        RequestKindBody::Erasure => Kind::Erasure,
        RequestKindBody::Restriction => Kind::Restriction,
        RequestKindBody::Objection => Kind::Objection,
        RequestKindBody::Portability => Kind::Portability,
    }
}

fn kind_body(k: Kind) -> RequestKindBody {
    match k {
        Kind::Insight => RequestKindBody::Insight,
        Kind::Rectification => RequestKindBody::Rectification,
        Kind::Erasure => RequestKindBody::Erasure,
        Kind::Restriction => RequestKindBody::Restriction,
        Kind::Objection => RequestKindBody::Objection,
        Kind::Portability => RequestKindBody::Portability,
    }
}

fn category_name(c: RequestCategory) -> &'static str {
    match c {
        RequestCategory::UsageLog => "usage_log",
        RequestCategory::Consents => "consents",
        RequestCategory::PowersOfAttorney => "powers_of_attorney",
        RequestCategory::SummaryCareRecord => "summary_care_record",
        RequestCategory::Children => "children",
        RequestCategory::ContactDetails => "contact_details",
        RequestCategory::Other => "other",
    }
}

fn category_body(name: &str) -> Option<RequestCategory> {
    use RequestCategory::*;
    [
        UsageLog,
        Consents,
        PowersOfAttorney,
        SummaryCareRecord,
        Children,
        ContactDetails,
        Other,
    ]
    .into_iter()
    .find(|c| category_name(*c) == name)
}

fn ground_body(g: Ground) -> RefusalGround {
    match g {
        Ground::Ordinary => RefusalGround::Ordinary,
        Ground::ManifestlyUnfounded => RefusalGround::ManifestlyUnfounded,
        Ground::Excessive => RefusalGround::Excessive,
    }
}

fn ground_domain(g: RefusalGround) -> Ground {
    match g {
        RefusalGround::Ordinary => Ground::Ordinary,
        RefusalGround::ManifestlyUnfounded => Ground::ManifestlyUnfounded,
        RefusalGround::Excessive => Ground::Excessive,
    }
}

/// The answer body of `s` at `now`.
fn body(s: StoredRequest, now: DateTime<Utc>) -> DataRequest {
    let r = &s.state;
    let status = match (&r.outcome, &r.extension, r.acknowledged_at) {
        (Some(Outcome::Answered { .. }), _, _) => RequestStatus::Answered,
        (Some(Outcome::Refused { .. }), _, _) => RequestStatus::Refused,
        (None, Some(_), _) => RequestStatus::Extended,
        (None, None, Some(_)) => RequestStatus::Acknowledged,
        (None, None, None) => RequestStatus::Received,
    };
    let (answer, refusal) = match &r.outcome {
        Some(Outcome::Answered { at, text, document }) => (
            Some(AnswerBody {
                at: *at,
                text: text.clone(),
                document: document
                    .as_deref()
                    .and_then(|d| serde_json::from_str(d).ok()),
            }),
            None,
        ),
        Some(Outcome::Refused {
            at,
            reason,
            provision,
            ground,
        }) => (
            None,
            Some(RefusalBody {
                at: *at,
                reason: reason.clone(),
                provision: provision.clone(),
                ground: ground_body(*ground),
                complaint: COMPLAINT.to_owned(),
            }),
        ),
        None => (None, None),
    };
    DataRequest {
        status,
        received_at: r.received_at,
        acknowledged_at: r.acknowledged_at,
        deadline: r.deadline(),
        extended: r.extension.as_ref().map(|e| ExtensionBody {
            announced_at: e.announced_at,
            reason: e.reason.clone(),
            until: extended_deadline(r.received_at),
        }),
        overdue: r.is_overdue(now),
        answer,
        refusal,
        kind: kind_body(s.kind),
        categories: s
            .categories
            .iter()
            .filter_map(|c| category_body(c))
            .collect(),
        id: s.id,
        subject_id: s.subject_id,
        text: s.text,
    }
}

/// Records `action` on `s` in the subject's log and the change feed (and, when someone acted for
/// the subject, in the actor's own log).
fn record(
    conn: &mut persistence::AnyConnection,
    actor: &Actor,
    s: &StoredRequest,
    action: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let details = serde_json::json!({ "data_request_id": s.id, "kind": s.kind.as_str() });
    if actor.kind != ActorKind::Service && actor.id != s.subject_id {
        let mine = serde_json::json!({ "data_request_id": s.id, "on_behalf_of": s.subject_id });
        audit::record(conn, &actor.id, actor, action, mine, now, Feed::LogOnly)?;
    }
    audit::record(
        conn,
        &s.subject_id,
        actor,
        action,
        details,
        now,
        Feed::Publish,
    )?;
    Ok(())
}

const ACTING_PARAM: &str = "A child under 12's representation id";

/// File a request about one's personal data (or a child under 12's).
#[utoipa::path(
    post, path = "/api/v1/data-requests", tag = "data-requests",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(
        ("X-Acting-For" = Option<String>, Header, description = ACTING_PARAM),
        ("X-CSRF-Token" = Option<String>, Header, description = "Required with the session cookie"),
    ),
    request_body = NewDataRequest,
    responses(
        (status = 201, body = DataRequest),
        (status = 400, description = "An invalid field (`validation-failed` naming it)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf-failed`, `step-up-required`, `consent-required`, or `not-allowed-on-behalf`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The `X-Acting-For` id is not one of the caller's live representations", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn file(
    state: web::Data<AppState>,
    actor: ActingCitizen,
    body_in: JsonBody<NewDataRequest>,
) -> Result<HttpResponse, ApiError> {
    let subject = subject_of(&actor)?;
    let new = body_in.into_inner()?;
    free_text("text", &new.text, MAX_TEXT)?;
    let me = actor.who.citizen.id.clone();
    let now = actor.who.now.trunc_subsecs(0);
    let config = state.config.clone();
    let rep_id = actor.acting.map(|r| r.id);
    // In the citizen's order, each once.
    let mut categories: Vec<String> = Vec::new();
    for c in &new.categories {
        let name = category_name(*c).to_owned();
        if !categories.contains(&name) {
            categories.push(name);
        }
    }
    let stored = StoredRequest {
        id: uuid::Uuid::new_v4().to_string(),
        subject_id: subject,
        filed_by: me.clone(),
        kind: kind_domain(new.kind),
        text: new.text.trim().to_owned(),
        categories,
        state: Request::received(now),
        handled_by: None,
    };
    let saved = state
        .tx(move |conn| {
            let kind = recheck(conn, &me, rep_id.as_deref(), &config, now)?
                .map_or(ActorKind::Citizen, |r| r.actor_kind());
            store::insert(conn, &stored)?;
            let actor = Actor {
                kind,
                id: me.clone(),
            };
            record(conn, &actor, &stored, "data_request.received", now)?;
            Ok(stored.clone())
        })
        .await?;
    Ok(HttpResponse::Created().json(body(saved, now)))
}

/// The caller's (or a child under 12's) requests, newest first.
#[utoipa::path(
    get, path = "/api/v1/data-requests", tag = "data-requests",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(("X-Acting-For" = Option<String>, Header, description = ACTING_PARAM)),
    responses(
        (status = 200, body = DataRequestList),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`consent-required`, or `not-allowed-on-behalf`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The `X-Acting-For` id is not one of the caller's live representations", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    actor: ActingCitizen,
) -> Result<web::Json<DataRequestList>, ApiError> {
    let subject_id = subject_of(&actor)?;
    let now = actor.who.now;
    let s = subject_id.clone();
    let items = state
        .tx(move |conn| Ok(store::of_subject(conn, &s)?))
        .await?;
    Ok(web::Json(DataRequestList {
        subject_id,
        items: items.into_iter().map(|r| body(r, now)).collect(),
    }))
}

/// One of the caller's (or a child under 12's) requests.
#[utoipa::path(
    get, path = "/api/v1/data-requests/{request_id}", tag = "data-requests",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(
        ("request_id" = String, Path, description = "The request's id"),
        ("X-Acting-For" = Option<String>, Header, description = ACTING_PARAM),
    ),
    responses(
        (status = 200, body = DataRequest),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`consent-required`, or `not-allowed-on-behalf`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request of this person (`not-found`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn one(
    state: web::Data<AppState>,
    actor: ActingCitizen,
    path: web::Path<String>,
) -> Result<web::Json<DataRequest>, ApiError> {
    let subject_id = subject_of(&actor)?;
    let now = actor.who.now;
    let id = path.into_inner();
    let found = state
        .tx(move |conn| Ok(store::find(conn, &id)?))
        .await?
        .filter(|r| r.subject_id == subject_id)
        .ok_or(ApiError::NotFound)?;
    Ok(web::Json(body(found, now)))
}

/// The open requests, the earliest deadline first, with the overdue ones marked.
#[utoipa::path(
    get, path = "/api/v1/data-request-queue", tag = "data-request-handling",
    security(("service_token" = ["data-requests:handle"])),
    params(QueueQuery),
    responses(
        (status = 200, body = DataRequestQueue),
        (status = 400, description = "A bad limit (`validation-failed`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid access token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `data-requests:handle` (`insufficient-scope`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn queue(
    state: web::Data<AppState>,
    _client: ServiceClient<DataRequestsHandle>,
    query: Query<QueueQuery>,
) -> Result<web::Json<DataRequestQueue>, ApiError> {
    let limit = query.into_inner()?.limit.unwrap_or(DEFAULT_QUEUE);
    if !(1..=MAX_QUEUE).contains(&limit) {
        return Err(ApiError::validation("limit", format!("1 to {MAX_QUEUE}")));
    }
    let now = state.now();
    let items = state
        .tx(move |conn| Ok(store::open(conn, i64::from(limit))?))
        .await?;
    Ok(web::Json(DataRequestQueue {
        items: items.into_iter().map(|r| body(r, now)).collect(),
    }))
}

/// Applies one handling step to request `id`, after locking it.
async fn step(
    state: &AppState,
    client_id: String,
    id: String,
    action: &'static str,
    apply: impl Fn(&Request, DateTime<Utc>) -> Result<Request, RequestError> + Send + 'static,
) -> Result<web::Json<DataRequest>, ApiError> {
    let now = state.now().trunc_subsecs(0);
    let saved = state
        .tx(move |conn| {
            store::lock(conn, &id)?;
            let mut found = store::find(conn, &id)?.ok_or(ApiError::NotFound)?;
            lock_citizen(conn, &found.subject_id)?;
            found.state = apply(&found.state, now)?;
            found.handled_by = Some(client_id.clone());
            store::update(conn, &found)?;
            let actor = Actor {
                kind: ActorKind::Service,
                id: client_id.clone(),
            };
            record(conn, &actor, &found, action, now)?;
            Ok(found)
        })
        .await?;
    Ok(web::Json(body(saved, now)))
}

const STEP_ERRORS: &str = "The request is closed (`request-closed`), already acknowledged (`already-acknowledged`), already extended (`already-extended`), or the first deadline has passed (`extension-too-late`)";

/// Acknowledge a request.
#[utoipa::path(
    post, path = "/api/v1/data-request-queue/{request_id}/acknowledgement", tag = "data-request-handling",
    security(("service_token" = ["data-requests:handle"])),
    params(("request_id" = String, Path, description = "The request's id")),
    request_body = Acknowledgement,
    responses(
        (status = 200, body = DataRequest),
        (status = 400, description = "An invalid body (`validation-failed`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid access token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `data-requests:handle` (`insufficient-scope`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request (`not-found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = STEP_ERRORS, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn acknowledge(
    state: web::Data<AppState>,
    client: ServiceClient<DataRequestsHandle>,
    path: web::Path<String>,
    body_in: JsonBody<Acknowledgement>,
) -> Result<web::Json<DataRequest>, ApiError> {
    body_in.into_inner()?;
    step(
        &state,
        client.client_id,
        path.into_inner(),
        "data_request.acknowledged",
        |r, now| r.acknowledge(now),
    )
    .await
}

/// Extend the deadline to three months in all, with the reason; only before the first deadline.
#[utoipa::path(
    post, path = "/api/v1/data-request-queue/{request_id}/extension", tag = "data-request-handling",
    security(("service_token" = ["data-requests:handle"])),
    params(("request_id" = String, Path, description = "The request's id")),
    request_body = NewExtension,
    responses(
        (status = 200, body = DataRequest),
        (status = 400, description = "No reason (`validation-failed` naming `reason`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid access token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `data-requests:handle` (`insufficient-scope`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request (`not-found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = STEP_ERRORS, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn extend(
    state: web::Data<AppState>,
    client: ServiceClient<DataRequestsHandle>,
    path: web::Path<String>,
    body_in: JsonBody<NewExtension>,
) -> Result<web::Json<DataRequest>, ApiError> {
    let reason = body_in.into_inner()?.reason;
    free_text("reason", &reason, MAX_TEXT)?;
    step(
        &state,
        client.client_id,
        path.into_inner(),
        "data_request.extended",
        move |r, now| r.extend(&reason, now),
    )
    .await
}

/// Answer a request, with text and optionally a machine-readable document.
#[utoipa::path(
    post, path = "/api/v1/data-request-queue/{request_id}/answer", tag = "data-request-handling",
    security(("service_token" = ["data-requests:handle"])),
    params(("request_id" = String, Path, description = "The request's id")),
    request_body = NewAnswer,
    responses(
        (status = 200, body = DataRequest),
        (status = 400, description = "No text (`validation-failed` naming `text`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid access token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `data-requests:handle` (`insufficient-scope`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request (`not-found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = STEP_ERRORS, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn answer(
    state: web::Data<AppState>,
    client: ServiceClient<DataRequestsHandle>,
    path: web::Path<String>,
    body_in: JsonBody<NewAnswer>,
) -> Result<web::Json<DataRequest>, ApiError> {
    let a = body_in.into_inner()?;
    free_text("text", &a.text, MAX_ANSWER)?;
    let document = a.document.map(|d| d.to_string());
    step(
        &state,
        client.client_id,
        path.into_inner(),
        "data_request.answered",
        move |r, now| r.answer(&a.text, document.clone(), now),
    )
    .await
}

/// Refuse a request, with the reason and the legal provision; the answer says how to complain.
#[utoipa::path(
    post, path = "/api/v1/data-request-queue/{request_id}/refusal", tag = "data-request-handling",
    security(("service_token" = ["data-requests:handle"])),
    params(("request_id" = String, Path, description = "The request's id")),
    request_body = NewRefusal,
    responses(
        (status = 200, body = DataRequest),
        (status = 400, description = "No reason or provision (`validation-failed` naming it)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid access token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `data-requests:handle` (`insufficient-scope`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request (`not-found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = STEP_ERRORS, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn refuse(
    state: web::Data<AppState>,
    client: ServiceClient<DataRequestsHandle>,
    path: web::Path<String>,
    body_in: JsonBody<NewRefusal>,
) -> Result<web::Json<DataRequest>, ApiError> {
    let r = body_in.into_inner()?;
    free_text("reason", &r.reason, MAX_TEXT)?;
    free_text("provision", &r.provision, MAX_PROVISION)?;
    let ground = ground_domain(r.ground);
    step(
        &state,
        client.client_id,
        path.into_inner(),
        "data_request.refused",
        move |req, now| req.refuse(&r.reason, &r.provision, ground, now),
    )
    .await
}

//! Blocks of the summary care record, objections to sharing, the openings shown to the citizen,
//! and the professional-access decision downstream systems ask (DESIGN §2.4, §2.7; the rules are
//! `domain::sharing`).
//!
//! Who may change them is who may change the summary care record: the citizen, or a guardian for
//! a child under 12; never a grantee ([`summary_care_record::subject_of`]). Each change is stored
//! with its usage-log entry and change-feed event in one transaction, after the subject's row is
//! locked, so two requests for the same target are decided one after the other.
//!
//! A decision that permits a read past a block or an objection is an opening: it is written, in
//! the transaction that answers, into the citizen's openings, usage log and change feed (which the
//! notification path reads). A refusal, or a permit that passes nothing, writes nothing.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, SubsecRound, Utc};
use domain::identity::NationalId;
use domain::sharing::{
    self as rules, BlockTarget, HprNumber, ObjectionTarget, OrganisationNumber, RecordPart,
};
use domain::usage_log::{ActorKind, NewEntry};
use openapi::access::AccessBasis;
use openapi::problem::Problem;
use openapi::sharing::{
    Block, BlockKind, BlockList, NewBlock, NewObjection, Objection, ObjectionKind, ObjectionList,
    Opening, OpeningKind, OpeningList, ProfessionalAccessBatch, ProfessionalAccessBatchAnswer,
    ProfessionalAccessDecision, ProfessionalAccessFacts, ProfessionalAccessQuery,
    ProfessionalAccessReason, RecordPartBody, ResourceBody,
};
use persistence::db::lock_citizen;
use persistence::sharing::{self as store, Choice, StoredChoice, StoredOpening};
use persistence::AnyConnection;
use std::collections::BTreeSet;

use crate::audit::{self, Actor, Feed};
use crate::auth::acting::{recheck, ActingCitizen};
use crate::auth::service::{ConsentRead, ServiceClient};
use crate::decision_cache::{self, PersonFacts, Unknown};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::opening_writes;
use crate::routes::access::{digits, text};
use crate::routes::representations::check_batch_size;
use crate::routes::summary_care_record::{state_body, subject_of};
use crate::state::AppState;

const BLOCKED: &str = "summary_care_record.blocked";
const BLOCK_LIFTED: &str = "summary_care_record.block_lifted";
const OBJECTION_REGISTERED: &str = "objection.registered";
const OBJECTION_WITHDRAWN: &str = "objection.withdrawn";
pub(crate) const BLOCK_OPENED: &str = "summary_care_record.block_opened";
pub(crate) const OBJECTION_OVERRIDDEN: &str = "objection.overridden";

/// How many openings the citizen's list shows.
const OPENINGS_SHOWN: i64 = 100;

// ------------------------------------------------------------------ conversions

pub fn part_body(p: RecordPart) -> RecordPartBody {
    match p {
        RecordPart::CriticalInformation => RecordPartBody::CriticalInformation,
        RecordPart::Medicines => RecordPartBody::Medicines,
        RecordPart::Vaccinations => RecordPartBody::Vaccinations,
        RecordPart::HospitalContacts => RecordPartBody::HospitalContacts,
        RecordPart::OwnEntries => RecordPartBody::OwnEntries,
    }
}

fn part_domain(p: RecordPartBody) -> RecordPart {
    match p {
        RecordPartBody::CriticalInformation => RecordPart::CriticalInformation,
        RecordPartBody::Medicines => RecordPart::Medicines,
        RecordPartBody::Vaccinations => RecordPart::Vaccinations,
        RecordPartBody::HospitalContacts => RecordPart::HospitalContacts,
        RecordPartBody::OwnEntries => RecordPart::OwnEntries,
    }
}

fn block_body(s: StoredChoice) -> Option<Block> {
    let Choice::Block(target) = s.choice else {
        return None;
    };
    let holds_in_emergency = target.holds_in_emergency();
    let (kind, part, hpr_number) = match target {
        BlockTarget::WholeRecord => (BlockKind::WholeRecord, None, None),
        BlockTarget::Part(p) => (BlockKind::Part, Some(part_body(p)), None),
        BlockTarget::Professional(h) => (BlockKind::Professional, None, Some(h.as_str().into())),
    };
    Some(Block {
        id: s.id,
        kind,
        part,
        hpr_number,
        created_at: s.created_at,
        lifted_at: s.lifted_at,
        holds_in_emergency,
    })
}

fn objection_body(s: StoredChoice) -> Option<Objection> {
    let Choice::Objection(target) = s.choice else {
        return None;
    };
    let (kind, hpr_number, organisation_number) = match target {
        ObjectionTarget::Professional(h) => {
            (ObjectionKind::Professional, Some(h.as_str().into()), None)
        }
        ObjectionTarget::Organisation(n) => {
            (ObjectionKind::Organisation, None, Some(n.as_str().into()))
        }
    };
    Some(Objection {
        id: s.id,
        kind,
        hpr_number,
        organisation_number,
        created_at: s.created_at,
        lifted_at: s.lifted_at,
    })
}

fn hpr(field: &str, value: Option<String>) -> Result<HprNumber, ApiError> {
    let value = value.ok_or_else(|| ApiError::validation(field, "required with this kind"))?;
    HprNumber::parse(&value).map_err(|e| ApiError::validation(field, e.to_string()))
}

/// A field that does not belong to the kind is refused rather than ignored: the citizen meant
/// something by it.
fn absent<T>(field: &str, value: &Option<T>) -> Result<(), ApiError> {
    match value {
        Some(_) => Err(ApiError::validation(field, "not allowed with this kind")),
        None => Ok(()),
    }
}

fn block_target(b: NewBlock) -> Result<BlockTarget, ApiError> {
    match b.kind {
        BlockKind::WholeRecord => {
            absent("part", &b.part)?;
            absent("hpr_number", &b.hpr_number)?;
            Ok(BlockTarget::WholeRecord)
        }
        BlockKind::Part => {
            absent("hpr_number", &b.hpr_number)?;
            let part = b
                .part
                .ok_or_else(|| ApiError::validation("part", "required with this kind"))?;
            Ok(BlockTarget::Part(part_domain(part)))
        }
        BlockKind::Professional => {
            absent("part", &b.part)?;
            Ok(BlockTarget::Professional(hpr("hpr_number", b.hpr_number)?))
        }
    }
}

fn objection_target(o: NewObjection) -> Result<ObjectionTarget, ApiError> {
    match o.kind {
        ObjectionKind::Professional => {
            absent("organisation_number", &o.organisation_number)?;
            Ok(ObjectionTarget::Professional(hpr(
                "hpr_number",
                o.hpr_number,
            )?))
        }
        ObjectionKind::Organisation => {
            absent("hpr_number", &o.hpr_number)?;
            let n = o.organisation_number.ok_or_else(|| {
                ApiError::validation("organisation_number", "required with this kind")
            })?;
            Ok(ObjectionTarget::Organisation(
                OrganisationNumber::parse(&n)
                    .map_err(|e| ApiError::validation("organisation_number", e.to_string()))?,
            ))
        }
    }
}

// ------------------------------------------------------------------ the citizen's choices

/// The subject's choices in force, newest first.
async fn listed(
    state: &AppState,
    actor: &ActingCitizen,
) -> Result<(String, Vec<StoredChoice>), ApiError> {
    let subject = subject_of(actor)?;
    let s = subject.clone();
    let items = state.tx(move |conn| Ok(store::listed(conn, &s)?)).await?;
    Ok((subject, items))
}

/// Writes `action` into the subject's log and the change feed, and into the actor's own log when
/// they act for someone else.
fn record_change(
    conn: &mut AnyConnection,
    acting: &Actor,
    subject: &str,
    action: &str,
    mut details: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    if subject != acting.id {
        let mine = serde_json::json!({ "on_behalf_of": subject });
        audit::record(conn, &acting.id, acting, action, mine, now, Feed::LogOnly)?;
    }
    details["area"] = "summary_care_record".into();
    audit::record(conn, subject, acting, action, details, now, Feed::Publish)?;
    Ok(())
}

/// What a change's log entry records.
fn details_of(c: &StoredChoice) -> serde_json::Value {
    let mut d = serde_json::json!({ "id": c.id });
    match &c.choice {
        Choice::Block(BlockTarget::WholeRecord) => d["target"] = "whole_record".into(),
        Choice::Block(BlockTarget::Part(p)) => d["part"] = p.as_str().into(),
        Choice::Block(BlockTarget::Professional(h))
        | Choice::Objection(ObjectionTarget::Professional(h)) => {
            d["hpr_number"] = h.as_str().into();
        }
        Choice::Objection(ObjectionTarget::Organisation(n)) => {
            d["organisation_number"] = n.as_str().into();
        }
    }
    d
}

/// Adds `choice` to the subject's choices unless the same is in force.
async fn add(
    state: &AppState,
    actor: ActingCitizen,
    choice: Choice,
) -> Result<StoredChoice, ApiError> {
    let subject = subject_of(&actor)?;
    let me = actor.who.citizen.id.clone();
    let now = actor.who.now.trunc_subsecs(0);
    let config = state.config.clone();
    let rep_id = actor.acting.map(|r| r.id);
    state
        .tx(move |conn| {
            let kind = recheck(conn, &me, rep_id.as_deref(), &config, now)?
                .map_or(ActorKind::Citizen, |r| r.actor_kind());
            lock_citizen(conn, &subject)?;
            let in_force = store::in_force(conn, &subject)?;
            let action = match &choice {
                Choice::Block(b) => {
                    in_force.check_new_block(b)?;
                    BLOCKED
                }
                Choice::Objection(o) => {
                    in_force.check_new_objection(o)?;
                    OBJECTION_REGISTERED
                }
            };
            let stored = StoredChoice {
                id: uuid::Uuid::new_v4().to_string(),
                citizen_id: subject.clone(),
                choice: choice.clone(),
                created_at: now,
                created_by: me.clone(),
                lifted_at: None,
            };
            store::insert(conn, &stored)?;
            let acting = Actor {
                kind,
                id: me.clone(),
            };
            record_change(conn, &acting, &subject, action, details_of(&stored), now)?;
            Ok(stored)
        })
        .await
}

/// Lifts the subject's choice `id` of the kind `is_block` says; someone else's, or one of the
/// other kind, is not found.
async fn lift(
    state: &AppState,
    actor: ActingCitizen,
    id: String,
    is_block: bool,
) -> Result<StoredChoice, ApiError> {
    let subject = subject_of(&actor)?;
    let me = actor.who.citizen.id.clone();
    let now = actor.who.now.trunc_subsecs(0);
    let config = state.config.clone();
    let rep_id = actor.acting.map(|r| r.id);
    state
        .tx(move |conn| {
            let kind = recheck(conn, &me, rep_id.as_deref(), &config, now)?
                .map_or(ActorKind::Citizen, |r| r.actor_kind());
            lock_citizen(conn, &subject)?;
            let found = store::find(conn, &id)?
                .filter(|c| c.citizen_id == subject)
                .filter(|c| matches!(c.choice, Choice::Block(_)) == is_block)
                .ok_or(ApiError::NotFound)?;
            if found.lifted_at.is_some() || !store::lift(conn, &id, now, &me)? {
                return Err(ApiError::AlreadyLifted);
            }
            let action = if is_block {
                BLOCK_LIFTED
            } else {
                OBJECTION_WITHDRAWN
            };
            let acting = Actor {
                kind,
                id: me.clone(),
            };
            record_change(conn, &acting, &subject, action, details_of(&found), now)?;
            Ok(StoredChoice {
                lifted_at: Some(now),
                ..found
            })
        })
        .await
}

const ACTING_PARAM: &str = "A child under 12's representation id";

/// The blocks of the caller's (or a child under 12's) summary care record in force, newest
/// first.
#[utoipa::path(
    get, path = "/api/v1/summary-care-record/blocks", tag = "summary-care-record",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(("X-Acting-For" = Option<String>, Header, description = ACTING_PARAM)),
    responses(
        (status = 200, body = BlockList),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`consent-required`, or `not-allowed-on-behalf`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The `X-Acting-For` id is not one of the caller's live representations", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_blocks(
    state: web::Data<AppState>,
    actor: ActingCitizen,
) -> Result<web::Json<BlockList>, ApiError> {
    let (subject_id, items) = listed(&state, &actor).await?;
    Ok(web::Json(BlockList {
        subject_id,
        items: items.into_iter().filter_map(block_body).collect(),
    }))
}

/// Block the whole summary care record, one part of it, or a named health professional. Nothing
/// is deleted. Health personnel reach blocked data only on the patient's declared consent or in
/// an emergency, and the citizen is shown every such opening; a professional's block holds even
/// in an emergency.
#[utoipa::path(
    post, path = "/api/v1/summary-care-record/blocks", tag = "summary-care-record",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(
        ("X-Acting-For" = Option<String>, Header, description = ACTING_PARAM),
        ("X-CSRF-Token" = Option<String>, Header, description = "Required with the session cookie"),
    ),
    request_body = NewBlock,
    responses(
        (status = 201, body = Block),
        (status = 400, description = "A field missing, not allowed with the kind, or invalid (`validation-failed` naming it)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf-failed`, `step-up-required`, `consent-required`, or `not-allowed-on-behalf`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The `X-Acting-For` id is not one of the caller's live representations", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The same block is already in force (`already-blocked`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_block(
    state: web::Data<AppState>,
    actor: ActingCitizen,
    body: JsonBody<NewBlock>,
) -> Result<HttpResponse, ApiError> {
    subject_of(&actor)?;
    let target = block_target(body.into_inner()?)?;
    let stored = add(&state, actor, Choice::Block(target)).await?;
    Ok(HttpResponse::Created().json(block_body(stored)))
}

/// Lift a block.
#[utoipa::path(
    delete, path = "/api/v1/summary-care-record/blocks/{block_id}", tag = "summary-care-record",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(
        ("block_id" = String, Path, description = "The block's id"),
        ("X-Acting-For" = Option<String>, Header, description = ACTING_PARAM),
        ("X-CSRF-Token" = Option<String>, Header, description = "Required with the session cookie"),
    ),
    responses(
        (status = 200, body = Block),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf-failed`, `step-up-required`, `consent-required`, or `not-allowed-on-behalf`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such block of this record (`not-found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already lifted (`already-lifted`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn lift_block(
    state: web::Data<AppState>,
    actor: ActingCitizen,
    path: web::Path<String>,
) -> Result<web::Json<Block>, ApiError> {
    let lifted = lift(&state, actor, path.into_inner(), true).await?;
    block_body(lifted)
        .map(web::Json)
        .ok_or_else(|| ApiError::Internal("not a block".into()))
}

/// The caller's (or a child under 12's) objections to sharing in force, newest first.
#[utoipa::path(
    get, path = "/api/v1/objections", tag = "summary-care-record",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(("X-Acting-For" = Option<String>, Header, description = ACTING_PARAM)),
    responses(
        (status = 200, body = ObjectionList),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`consent-required`, or `not-allowed-on-behalf`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The `X-Acting-For` id is not one of the caller's live representations", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_objections(
    state: web::Data<AppState>,
    actor: ActingCitizen,
) -> Result<web::Json<ObjectionList>, ApiError> {
    let (subject_id, items) = listed(&state, &actor).await?;
    Ok(web::Json(ObjectionList {
        subject_id,
        items: items.into_iter().filter_map(objection_body).collect(),
    }))
}

/// Object to one's records (the patient record and the summary care record) being shared with a
/// named health professional or organisation. Only an emergency with a stated basis overrides
/// it, and the citizen is shown each override.
#[utoipa::path(
    post, path = "/api/v1/objections", tag = "summary-care-record",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(
        ("X-Acting-For" = Option<String>, Header, description = ACTING_PARAM),
        ("X-CSRF-Token" = Option<String>, Header, description = "Required with the session cookie"),
    ),
    request_body = NewObjection,
    responses(
        (status = 201, body = Objection),
        (status = 400, description = "A field missing, not allowed with the kind, or invalid (`validation-failed` naming it)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf-failed`, `step-up-required`, `consent-required`, or `not-allowed-on-behalf`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The `X-Acting-For` id is not one of the caller's live representations", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An objection against them is already in force (`already-objected`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_objection(
    state: web::Data<AppState>,
    actor: ActingCitizen,
    body: JsonBody<NewObjection>,
) -> Result<HttpResponse, ApiError> {
    subject_of(&actor)?;
    let target = objection_target(body.into_inner()?)?;
    let stored = add(&state, actor, Choice::Objection(target)).await?;
    Ok(HttpResponse::Created().json(objection_body(stored)))
}

/// Withdraw an objection.
#[utoipa::path(
    delete, path = "/api/v1/objections/{objection_id}", tag = "summary-care-record",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(
        ("objection_id" = String, Path, description = "The objection's id"),
        ("X-Acting-For" = Option<String>, Header, description = ACTING_PARAM),
        ("X-CSRF-Token" = Option<String>, Header, description = "Required with the session cookie"),
    ),
    responses(
        (status = 200, body = Objection),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf-failed`, `step-up-required`, `consent-required`, or `not-allowed-on-behalf`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such objection (`not-found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already withdrawn (`already-lifted`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn withdraw_objection(
    state: web::Data<AppState>,
    actor: ActingCitizen,
    path: web::Path<String>,
) -> Result<web::Json<Objection>, ApiError> {
    let lifted = lift(&state, actor, path.into_inner(), false).await?;
    objection_body(lifted)
        .map(web::Json)
        .ok_or_else(|| ApiError::Internal("not an objection".into()))
}

fn opening_kind_body(kind: &str) -> Option<OpeningKind> {
    Some(match kind {
        "block_opened_on_consent" => OpeningKind::BlockOpenedOnConsent,
        "block_opened_in_emergency" => OpeningKind::BlockOpenedInEmergency,
        "objection_overridden" => OpeningKind::ObjectionOverridden,
        _ => return None,
    })
}

fn opening_body(o: StoredOpening) -> Option<Opening> {
    Some(Opening {
        at: o.at,
        kind: opening_kind_body(&o.kind)?,
        resource: if o.resource == "patient_record" {
            ResourceBody::PatientRecord
        } else {
            ResourceBody::SummaryCareRecord
        },
        parts: o.parts.into_iter().map(part_body).collect(),
        hpr_number: o.hpr_number,
        organisation_number: o.organisation_number,
        basis: if o.basis == "consent" {
            AccessBasis::Consent
        } else {
            AccessBasis::Emergency
        },
        stated_basis: o.stated_basis,
        client_id: o.client_id,
    })
}

/// Every time health personnel opened blocked data or overrode an objection (the latest 100,
/// newest first).
#[utoipa::path(
    get, path = "/api/v1/openings", tag = "summary-care-record",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(("X-Acting-For" = Option<String>, Header, description = ACTING_PARAM)),
    responses(
        (status = 200, body = OpeningList),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`consent-required`, or `not-allowed-on-behalf`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The `X-Acting-For` id is not one of the caller's live representations", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn openings(
    state: web::Data<AppState>,
    actor: ActingCitizen,
) -> Result<web::Json<OpeningList>, ApiError> {
    let subject_id = subject_of(&actor)?;
    let s = subject_id.clone();
    let items = state
        .tx(move |conn| Ok(store::openings(conn, &s, OPENINGS_SHOWN)?))
        .await?;
    Ok(web::Json(OpeningList {
        subject_id,
        items: items.into_iter().filter_map(opening_body).collect(),
    }))
}

// ------------------------------------------------------------------ the downstream decision

/// A checked question.
struct Asked {
    pid: NationalId,
    request: rules::Request,
    /// The parts named, for the record of an opening.
    parts: Vec<RecordPart>,
}

fn parse_query(
    q: ProfessionalAccessQuery,
    state: &AppState,
    prefix: &str,
) -> Result<Asked, ApiError> {
    let field = |name: &str| format!("{prefix}{name}");
    let pid = NationalId::parse(&q.pid, state.config.id_policy())
        .map_err(|e| ApiError::validation(&field("pid"), e.to_string()))?;
    let hpr_number = HprNumber::parse(&q.hpr_number)
        .map_err(|e| ApiError::validation(&field("hpr_number"), e.to_string()))?;
    // The calling system's number is compared, not checked: a wrong one matches no objection,
    // and refusing it would stop care.
    digits(&field("organisation_number"), &q.organisation_number, 9, 9)?;
    if let Some(s) = &q.stated_basis {
        text(&field("stated_basis"), s)?;
    }
    let basis = match q.basis {
        AccessBasis::OrdinaryCare => rules::Basis::OrdinaryCare,
        AccessBasis::Consent => rules::Basis::Consent,
        AccessBasis::Emergency => rules::Basis::emergency(q.stated_basis.as_deref())
            .map_err(|e| ApiError::validation(&field("stated_basis"), e.to_string()))?,
    };
    let (resource, parts) = match (q.resource, q.parts) {
        (ResourceBody::PatientRecord, None) => (rules::Resource::PatientRecord, vec![]),
        (ResourceBody::PatientRecord, Some(_)) => {
            return Err(ApiError::validation(
                &field("parts"),
                "only for the summary care record",
            ))
        }
        (ResourceBody::SummaryCareRecord, None) => (
            rules::Resource::SummaryCareRecord(None),
            RecordPart::ALL.to_vec(),
        ),
        (ResourceBody::SummaryCareRecord, Some(p)) if p.is_empty() => {
            return Err(ApiError::validation(
                &field("parts"),
                "at least one part, or leave it out for the whole record",
            ))
        }
        (ResourceBody::SummaryCareRecord, Some(p)) => {
            let set: std::collections::BTreeSet<RecordPart> =
                p.into_iter().map(part_domain).collect();
            let parts = set.iter().copied().collect();
            (rules::Resource::SummaryCareRecord(Some(set)), parts)
        }
    };
    Ok(Asked {
        pid,
        request: rules::Request {
            resource,
            hpr_number,
            organisation_number: q.organisation_number,
            basis,
        },
        parts,
    })
}

fn reason_body(outcome: Result<rules::Permit, rules::Denial>) -> ProfessionalAccessReason {
    use rules::{Denial as D, Permit as P};
    match outcome {
        Ok(P::NoRestriction) => ProfessionalAccessReason::NoRestriction,
        Ok(P::BlockedPartsWithheld) => ProfessionalAccessReason::BlockedPartsWithheld,
        Ok(P::OpenedOnConsent) => ProfessionalAccessReason::OpenedOnConsent,
        Ok(P::OpenedInEmergency) => ProfessionalAccessReason::OpenedInEmergency,
        Ok(P::ObjectionOverridden) => ProfessionalAccessReason::ObjectionOverridden,
        Err(D::RecordOptedOut) => ProfessionalAccessReason::RecordOptedOut,
        Err(D::RecordPurged) => ProfessionalAccessReason::RecordPurged,
        Err(D::ProfessionalBlocked) => ProfessionalAccessReason::ProfessionalBlocked,
        Err(D::Objection) => ProfessionalAccessReason::Objection,
        Err(D::RecordBlocked) => ProfessionalAccessReason::RecordBlocked,
    }
}

fn opening_domain_body(o: rules::Opening) -> OpeningKind {
    match o {
        rules::Opening::BlockOpenedOnConsent => OpeningKind::BlockOpenedOnConsent,
        rules::Opening::BlockOpenedInEmergency => OpeningKind::BlockOpenedInEmergency,
        rules::Opening::ObjectionOverridden => OpeningKind::ObjectionOverridden,
    }
}

/// Decides one question on the citizen's inputs.
fn decide_one(
    facts: &PersonFacts,
    asked: &Asked,
) -> (ProfessionalAccessDecision, BTreeSet<rules::Opening>) {
    let d = rules::decide(&asked.request, &facts.record, &facts.in_force);
    let objection = d.facts.objection.map(|k| match k {
        rules::ObjectionKind::Professional => ObjectionKind::Professional,
        rules::ObjectionKind::Organisation => ObjectionKind::Organisation,
    });
    let openings = if d.outcome.is_ok() {
        d.openings.clone()
    } else {
        BTreeSet::new()
    };
    let answer = ProfessionalAccessDecision {
        subject_id: facts.id.clone(),
        allowed: d.outcome.is_ok(),
        reason: reason_body(d.outcome),
        withheld_parts: d.withheld.into_iter().map(part_body).collect(),
        openings: d.openings.into_iter().map(opening_domain_body).collect(),
        facts: ProfessionalAccessFacts {
            record_state: state_body(&facts.record),
            record_blocked: d.facts.record_blocked,
            blocked_parts: d.facts.parts_blocked.into_iter().map(part_body).collect(),
            professional_blocked: d.facts.professional_blocked,
            objection,
        },
    };
    (answer, openings)
}

/// The records of `openings` (`opening_writes`): for each, the usage-log entry of the citizen's
/// log and the row of the citizen's openings.
fn opening_records(
    client_id: &str,
    citizen_id: &str,
    asked: &Asked,
    openings: &BTreeSet<rules::Opening>,
    now: DateTime<Utc>,
) -> Vec<opening_writes::Record> {
    let now = now.trunc_subsecs(0);
    let (resource, area) = match asked.request.resource {
        rules::Resource::PatientRecord => ("patient_record", "patient_record"),
        rules::Resource::SummaryCareRecord(_) => ("summary_care_record", "summary_care_record"),
    };
    let (basis, stated_basis) = match &asked.request.basis {
        rules::Basis::Emergency { stated_basis } => ("emergency", Some(stated_basis.clone())),
        rules::Basis::Consent => ("consent", None),
        // Ordinary care opens nothing.
        rules::Basis::OrdinaryCare => ("ordinary_care", None),
    };
    let parts: Vec<&str> = asked.parts.iter().map(|p| p.as_str()).collect();
    openings
        .iter()
        .map(|o| {
            let action = match o {
                rules::Opening::ObjectionOverridden => OBJECTION_OVERRIDDEN,
                _ => BLOCK_OPENED,
            };
            let details = serde_json::json!({
                "opening": o.as_str(),
                "area": area,
                "parts": parts,
                "hpr_number": asked.request.hpr_number.as_str(),
                "organisation_number": asked.request.organisation_number,
                "basis": basis,
                "stated_basis": stated_basis,
            });
            opening_writes::Record {
                entry: NewEntry {
                    subject_id: citizen_id.to_owned(),
                    at: now,
                    actor_kind: ActorKind::Service,
                    actor_id: client_id.to_owned(),
                    action: action.to_owned(),
                    details,
                },
                opening: StoredOpening {
                    id: uuid::Uuid::new_v4().to_string(),
                    citizen_id: citizen_id.to_owned(),
                    at: now,
                    kind: o.as_str().to_owned(),
                    resource: resource.to_owned(),
                    parts: asked.parts.clone(),
                    hpr_number: asked.request.hpr_number.as_str().to_owned(),
                    organisation_number: asked.request.organisation_number.clone(),
                    basis: basis.to_owned(),
                    stated_basis: stated_basis.clone(),
                    client_id: client_id.to_owned(),
                    // The entry's, once it is chained.
                    log_seq: 0,
                },
            }
        })
        .collect()
}

async fn decide_all(
    state: &AppState,
    client_id: String,
    asked: Vec<Asked>,
) -> Result<Vec<ProfessionalAccessDecision>, ApiError> {
    let pids = asked.iter().map(|a| a.pid.clone()).collect();
    let facts = decision_cache::persons(state, pids, Unknown::Create).await?;
    let mut answers = Vec::with_capacity(asked.len());
    let mut opened = Vec::new();
    for (a, f) in asked.into_iter().zip(facts.into_iter().flatten()) {
        let (answer, openings) = decide_one(&f, &a);
        let allowed = if answer.allowed { "allow" } else { "deny" };
        state
            .metrics
            .decision("professional_access", &allowed, &answer.reason);
        if !openings.is_empty() {
            opened.push((f.id.clone(), a, openings));
        }
        answers.push(answer);
    }
    if !opened.is_empty() {
        // Rare (consent or emergency passing a restriction): written before the answer leaves.
        let now = state.now();
        let mut records = Vec::new();
        for (citizen_id, a, openings) in &opened {
            tracing::warn!(target: "security", client_id, openings = openings.len(), "blocked data opened");
            records.extend(opening_records(&client_id, citizen_id, a, openings, now));
        }
        opening_writes::write(state, records, now).await?;
    }
    Ok(answers)
}

/// May this health professional read this citizen's patient record or summary care record now,
/// on this basis? Honours the opt-out, blocks of the record, its parts and named professionals,
/// and objections to sharing. A permitted read that passes a block or an objection is logged,
/// shown to the citizen and notified, when this answer is given.
#[utoipa::path(
    post, path = "/api/v1/decisions/professional-access", tag = "decisions",
    security(("service_token" = ["consent:read"])),
    request_body = ProfessionalAccessQuery,
    responses(
        (status = 200, body = ProfessionalAccessDecision),
        (status = 400, description = "Invalid body (`validation-failed` naming the field, e.g. `stated_basis` missing with an emergency; `malformed-json`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid access token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `consent:read` (`insufficient-scope`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn decide(
    state: web::Data<AppState>,
    client: ServiceClient<ConsentRead>,
    body: JsonBody<ProfessionalAccessQuery>,
) -> Result<web::Json<ProfessionalAccessDecision>, ApiError> {
    let asked = parse_query(body.into_inner()?, &state, "")?;
    decide_all(&state, client.client_id, vec![asked])
        .await?
        .pop()
        .map(web::Json)
        .ok_or_else(|| ApiError::Internal("no answer".into()))
}

/// The same question for up to 100 reads, answered in order from one transaction.
#[utoipa::path(
    post, path = "/api/v1/decisions/professional-access/batch", tag = "decisions",
    security(("service_token" = ["consent:read"])),
    request_body = ProfessionalAccessBatch,
    responses(
        (status = 200, body = ProfessionalAccessBatchAnswer, description = "One answer per item, in order"),
        (status = 400, description = "Invalid body, an empty list or more than 100 items (`validation-failed`, naming `items[i].field`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid access token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `consent:read` (`insufficient-scope`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large (`payload-too-large`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn decide_batch(
    state: web::Data<AppState>,
    client: ServiceClient<ConsentRead>,
    body: JsonBody<ProfessionalAccessBatch>,
) -> Result<web::Json<ProfessionalAccessBatchAnswer>, ApiError> {
    let batch = body.into_inner()?;
    check_batch_size(batch.items.len())?;
    let asked = batch
        .items
        .into_iter()
        .enumerate()
        .map(|(i, q)| parse_query(q, &state, &format!("items[{i}].")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(web::Json(ProfessionalAccessBatchAnswer {
        items: decide_all(&state, client.client_id, asked).await?,
    }))
}

/// The whole-record block and the parts blocked one by one, for the status bodies.
pub fn blocks_of(
    conn: &mut AnyConnection,
    citizen_id: &str,
) -> Result<(bool, Vec<RecordPartBody>), ApiError> {
    let f = store::in_force(conn, citizen_id)?;
    Ok((
        f.record_blocked(),
        f.parts_blocked().into_iter().map(part_body).collect(),
    ))
}

//! The machine API for health personnel systems: register and lift a child's refusal (12 to 16)
//! and a denial of guardians' access on weighty reasons (under 16), DESIGN §2.6.
//!
//! Each registration and lifting is an entry in the child's usage log (never shown to guardians:
//! `domain::guardianship::is_hidden_from_guardians`) and a change-feed event, written in the
//! transaction that stores it. It takes effect on the next request of any guardian.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, SubsecRound, Utc};
use domain::guardianship::{check_denial, check_refusal, RefusalScope, Restriction};
use domain::identity::NationalId;
use domain::register::PopulationRegister;
use domain::usage_log::ActorKind;
use openapi::children::{
    DenialRequest, LiftRequest, RefusalRequest, RestrictionAuthor, RestrictionBody,
    RestrictionKind, RestrictionList, RestrictionQuery,
};
use openapi::problem::Problem;
use persistence::children::{self as store, Author, Lifting, StoredRestriction};
use persistence::register::DbRegister;
use persistence::{citizens, AnyConnection};
use std::collections::BTreeSet;

use crate::audit::{self, Actor, Feed};
use crate::auth::service::{ChildRestrictionsWrite, ServiceClient};
use crate::config::Config;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::guardians;
use crate::routes::access::{digits, text};
use crate::state::AppState;
use crate::views::{area_body, area_domain};

const REGISTERED: &str = "child_restriction.registered";
const LIFTED: &str = "child_restriction.lifted";

fn pid(field: &str, value: &str, config: &Config) -> Result<NationalId, ApiError> {
    NationalId::parse(value, config.id_policy())
        .map_err(|e| ApiError::validation(field, e.to_string()))
}

/// A free-text basis: 1-1000 characters; line breaks allowed, other control characters and
/// identity numbers not.
fn basis(value: &str) -> Result<String, ApiError> {
    let v = value.trim();
    let len = v.chars().count();
    if len == 0 || len > 1000 || v.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::validation(
            "basis",
            "1 to 1000 characters, no control characters but line breaks",
        ));
    }
    if v.split(|c: char| !c.is_ascii_digit())
        .any(|run| run.len() >= 11)
    {
        return Err(ApiError::validation(
            "basis",
            "must not carry an identity number",
        ));
    }
    Ok(v.to_owned())
}

fn author(a: &RestrictionAuthor) -> Result<Author, ApiError> {
    digits("author.hpr_number", &a.hpr_number, 1, 9)?;
    digits("author.organisation_number", &a.organisation_number, 9, 9)?;
    text("author.organisation_name", &a.organisation_name)?;
    Ok(Author {
        hpr_number: a.hpr_number.clone(),
        organisation_number: a.organisation_number.clone(),
        organisation_name: a.organisation_name.trim().to_owned(),
    })
}

fn author_body(a: &Author) -> RestrictionAuthor {
    RestrictionAuthor {
        hpr_number: a.hpr_number.clone(),
        organisation_number: a.organisation_number.clone(),
        organisation_name: a.organisation_name.clone(),
    }
}

fn body_of(s: &StoredRestriction) -> RestrictionBody {
    let (kind, areas, guardian_id) = match &s.restriction {
        Restriction::Refusal(RefusalScope::Whole) => (RestrictionKind::Refusal, None, None),
        Restriction::Refusal(RefusalScope::Areas(a)) => (
            RestrictionKind::Refusal,
            Some(a.iter().copied().map(area_body).collect()),
            None,
        ),
        Restriction::Denial { guardian_id } => (RestrictionKind::Denial, None, guardian_id.clone()),
    };
    RestrictionBody {
        restriction_id: s.id.clone(),
        kind,
        child_id: s.child_id.clone(),
        areas,
        guardian_id,
        basis: s.basis.clone(),
        registered_by: author_body(&s.registered_by),
        registered_at: s.registered_at,
        lifted_at: s.lifted.as_ref().map(|l| l.at),
        lifted_by: s.lifted.as_ref().map(|l| author_body(&l.by)),
        lift_basis: s.lifted.as_ref().map(|l| l.basis.clone()),
    }
}

/// The child's log entry: what the restriction is, who registered it and why. The child may read
/// it; guardians never see it.
fn log_details(s: &StoredRestriction) -> serde_json::Value {
    serde_json::to_value(body_of(s)).unwrap_or_default()
}

/// What every registration carries besides the restriction itself.
#[derive(Clone)]
struct Registration {
    basis: String,
    author: Author,
    client_id: String,
    /// Stored to the whole second: the answer says what a later read will say.
    at: DateTime<Utc>,
}

/// Stores `restriction` for the child with this number (giving the child a portal id on first
/// sight) and writes its log entry and feed event.
fn register_restriction(
    conn: &mut AnyConnection,
    child_pid: &NationalId,
    restriction: Restriction,
    r: &Registration,
) -> Result<StoredRestriction, ApiError> {
    let child_id =
        citizens::find_or_create(conn, child_pid, || uuid::Uuid::new_v4().to_string(), r.at)?.id;
    let s = StoredRestriction {
        id: uuid::Uuid::new_v4().to_string(),
        child_id,
        restriction,
        basis: r.basis.clone(),
        registered_by: r.author.clone(),
        client_id: r.client_id.clone(),
        registered_at: r.at,
        lifted: None,
    };
    store::insert(conn, &s)?;
    let actor = Actor {
        kind: ActorKind::Service,
        id: s.client_id.clone(),
    };
    audit::record(
        conn,
        &s.child_id,
        &actor,
        REGISTERED,
        log_details(&s),
        r.at,
        Feed::Publish,
    )?;
    Ok(s)
}

fn registration(
    state: &AppState,
    client: ServiceClient<ChildRestrictionsWrite>,
    basis_text: &str,
    by: &RestrictionAuthor,
) -> Result<Registration, ApiError> {
    Ok(Registration {
        basis: basis(basis_text)?,
        author: author(by)?,
        client_id: client.client_id,
        at: state.now().trunc_subsecs(0),
    })
}

/// Register a child's refusal (the child is 12 to 16): the covered data and usage-log entries are
/// hidden from every guardian at once.
#[utoipa::path(
    post, path = "/api/v1/child-restrictions/refusals", tag = "children",
    security(("service_token" = ["child-restrictions:write"])),
    request_body = RefusalRequest,
    responses(
        (status = 201, body = RestrictionBody),
        (status = 400, description = "Invalid body (`validation-failed`, `malformed-json`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid access token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `child-restrictions:write` (`insufficient-scope`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The child is under 12 or 16 or over (`child-age-not-eligible`), dead (`person-deceased`) or unknown to the register (`not-in-register`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn register_refusal(
    state: web::Data<AppState>,
    client: ServiceClient<ChildRestrictionsWrite>,
    body: JsonBody<RefusalRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner()?;
    let config = state.config.clone();
    let child_pid = pid("child_pid", &req.child_pid, &config)?;
    let scope = match &req.areas {
        None => RefusalScope::Whole,
        Some(list) if list.is_empty() => {
            return Err(ApiError::validation(
                "areas",
                "name at least one area, or omit it to refuse the whole",
            ))
        }
        Some(list) => RefusalScope::Areas(
            list.iter()
                .copied()
                .map(area_domain)
                .collect::<BTreeSet<_>>(),
        ),
    };
    let reg = registration(&state, client, &req.basis, &req.author)?;
    let stored = state
        .tx(move |conn| {
            let child =
                guardians::child(conn, &child_pid, &config)?.ok_or(ApiError::NotInRegister)?;
            check_refusal(&child.facts.child, reg.at)?;
            register_restriction(conn, &child_pid, Restriction::Refusal(scope.clone()), &reg)
        })
        .await?;
    Ok(HttpResponse::Created().json(body_of(&stored)))
}

/// Register a denial of guardians' access on weighty reasons (the child is under 16), for one
/// guardian or for all. The guardian only sees that access is not available, never why.
#[utoipa::path(
    post, path = "/api/v1/child-restrictions/denials", tag = "children",
    security(("service_token" = ["child-restrictions:write"])),
    request_body = DenialRequest,
    responses(
        (status = 201, body = RestrictionBody),
        (status = 400, description = "Invalid body (`validation-failed`, `malformed-json`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid access token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `child-restrictions:write` (`insufficient-scope`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The child is 16 or over (`child-age-not-eligible`), dead (`person-deceased`) or unknown to the register (`not-in-register`); the guardian named has no parental responsibility for the child (`not-a-guardian`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn register_denial(
    state: web::Data<AppState>,
    client: ServiceClient<ChildRestrictionsWrite>,
    body: JsonBody<DenialRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner()?;
    let config = state.config.clone();
    let child_pid = pid("child_pid", &req.child_pid, &config)?;
    let guardian_pid = req
        .guardian_pid
        .as_deref()
        .map(|g| pid("guardian_pid", g, &config))
        .transpose()?;
    let reg = registration(&state, client, &req.basis, &req.author)?;
    let now = reg.at;
    let stored = state
        .tx(move |conn| {
            let child =
                guardians::child(conn, &child_pid, &config)?.ok_or(ApiError::NotInRegister)?;
            let names_a_parent = match &guardian_pid {
                Some(g) => Some(
                    DbRegister(conn)
                        .parents_of(&child_pid)?
                        .iter()
                        .any(|p| p == g.expose()),
                ),
                None => None,
            };
            check_denial(&child.facts.child, names_a_parent, now)?;
            let guardian_id = match &guardian_pid {
                Some(g) => Some(
                    citizens::find_or_create(conn, g, || uuid::Uuid::new_v4().to_string(), now)?.id,
                ),
                None => None,
            };
            register_restriction(conn, &child_pid, Restriction::Denial { guardian_id }, &reg)
        })
        .await?;
    Ok(HttpResponse::Created().json(body_of(&stored)))
}

/// Lift a refusal or a denial. It takes effect on the guardians' next request.
#[utoipa::path(
    post, path = "/api/v1/child-restrictions/{restriction_id}/lifting", tag = "children",
    security(("service_token" = ["child-restrictions:write"])),
    params(("restriction_id" = String, Path, description = "The restriction's opaque id")),
    request_body = LiftRequest,
    responses(
        (status = 200, body = RestrictionBody),
        (status = 400, description = "Invalid body (`validation-failed`, `malformed-json`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid access token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `child-restrictions:write` (`insufficient-scope`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such restriction (`not-found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already lifted (`already-lifted`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn lift(
    state: web::Data<AppState>,
    client: ServiceClient<ChildRestrictionsWrite>,
    path: web::Path<String>,
    body: JsonBody<LiftRequest>,
) -> Result<web::Json<RestrictionBody>, ApiError> {
    let req = body.into_inner()?;
    let id = path.into_inner();
    let lifting = Lifting {
        at: state.now().trunc_subsecs(0),
        basis: basis(&req.basis)?,
        by: author(&req.author)?,
    };
    let client_id = client.client_id;
    let lifted = state
        .tx(move |conn| {
            let mut s = store::find(conn, &id)?.ok_or(ApiError::NotFound)?;
            if s.lifted.is_some() || !store::lift(conn, &id, &lifting)? {
                return Err(ApiError::AlreadyLifted);
            }
            s.lifted = Some(lifting.clone());
            let actor = Actor {
                kind: ActorKind::Service,
                id: client_id.clone(),
            };
            audit::record(
                conn,
                &s.child_id,
                &actor,
                LIFTED,
                log_details(&s),
                lifting.at,
                Feed::Publish,
            )?;
            Ok(s)
        })
        .await?;
    Ok(web::Json(body_of(&lifted)))
}

/// A child's restrictions, newest first, lifted ones included.
#[utoipa::path(
    post, path = "/api/v1/child-restrictions/query", tag = "children",
    security(("service_token" = ["child-restrictions:write"])),
    request_body = RestrictionQuery,
    responses(
        (status = 200, body = RestrictionList),
        (status = 400, description = "Invalid body (`validation-failed`, `malformed-json`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid access token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `child-restrictions:write` (`insufficient-scope`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn query(
    state: web::Data<AppState>,
    _client: ServiceClient<ChildRestrictionsWrite>,
    body: JsonBody<RestrictionQuery>,
) -> Result<web::Json<RestrictionList>, ApiError> {
    let req = body.into_inner()?;
    let child_pid = pid("child_pid", &req.child_pid, &state.config)?;
    let items = state
        .tx(move |conn| {
            Ok(match citizens::find_by_national_id(conn, &child_pid)? {
                Some(child) => store::of_child(conn, &child.id)?,
                None => Vec::new(),
            })
        })
        .await?;
    Ok(web::Json(RestrictionList {
        items: items.iter().map(body_of).collect(),
    }))
}

//! Powers of attorney: grant, list (with the history), accept, decline, revoke.
//! The rules are `domain::powers_of_attorney`; the register is read at the moment of deciding.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use domain::consent;
use domain::identity::NationalId;
use domain::powers_of_attorney::{
    self as rules, Coverage, EndReason, Grant, GrantRefusal, GrantRequest, GrantStatus,
    LifecycleError, Party, ServiceArea, Transition,
};
use domain::register::{PopulationRegister, RegisteredPerson};
use openapi::powers_of_attorney::{
    GrantRequestBody, GrantStatusBody, OtherParty, PartyRole, PowerOfAttorneyBody,
    PowersOfAttorneyList, ServiceAreaInfo,
};
use openapi::problem::Problem;
use persistence::db::lock_citizen;
use persistence::powers_of_attorney as store;
use persistence::register::DbRegister;
use persistence::{citizens, AnyConnection};

use crate::audit::{self, Actor, Feed};
use crate::auth::citizen::ConsentedCitizen;
use crate::config::Config;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;
use crate::views::{self, area_body, area_domain, reason_body};

fn area_description(a: ServiceArea) -> &'static str {
    match a {
        ServiceArea::Appointments => "Appointments and referrals",
        ServiceArea::Prescriptions => "Prescriptions and medicines",
        ServiceArea::Vaccinations => "Vaccinations",
        ServiceArea::HealthRegistries => "Information in national health registries",
        ServiceArea::CoPayments => "Co-payments and the exemption card",
        ServiceArea::PatientRecord => "The patient record from hospitals and GPs",
        ServiceArea::SummaryCareRecord => "The summary care record",
        ServiceArea::Communication => "Messages and other contact with the GP and health services",
    }
}

/// The register entry of a portal citizen (by opaque id), or `None`.
pub fn registered(
    conn: &mut AnyConnection,
    citizen_id: &str,
    config: &Config,
) -> Result<Option<RegisteredPerson>, ApiError> {
    let Some(pid) = citizens::national_id_of(conn, citizen_id)? else {
        return Ok(None);
    };
    let Ok(pid) = NationalId::parse(&pid, config.id_policy()) else {
        return Ok(None);
    };
    Ok(DbRegister(conn).person(&pid)?)
}

/// A grantor is alive unless the register says they died (unknown to the register: alive, so
/// that a register gap never ends anyone's grants by itself).
pub fn grantor_alive(
    conn: &mut AnyConnection,
    g: &Grant,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    Ok(registered(conn, &g.grantor_id, config)?.is_none_or(|p| p.is_alive_at(now)))
}

fn body_of(
    conn: &mut AnyConnection,
    g: &Grant,
    me: &str,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<PowerOfAttorneyBody, ApiError> {
    let status = rules::status(g, grantor_alive(conn, g, config, now)?, now);
    let (role, other) = if g.grantor_id == me {
        (PartyRole::Grantor, &g.grantee_id)
    } else {
        (PartyRole::Grantee, &g.grantor_id)
    };
    let name =
        registered(conn, other, config)?.map(|p| format!("{} {}", p.given_name, p.family_name));
    let (all_areas, areas) = match &g.coverage {
        Coverage::AllAreas => (true, Vec::new()),
        Coverage::Areas(a) => (false, a.iter().copied().map(area_body).collect()),
    };
    let (status_body, end_reason, ended_at) = match status {
        GrantStatus::Pending => (GrantStatusBody::Pending, None, None),
        GrantStatus::Active => (GrantStatusBody::Active, None, None),
        GrantStatus::Ended(reason) => {
            let at = match reason {
                EndReason::Expired => g.valid_until,
                _ => g.ended.map(|(_, at)| at),
            };
            (GrantStatusBody::Ended, Some(reason_body(reason)), at)
        }
    };
    Ok(PowerOfAttorneyBody {
        id: g.id.clone(),
        role,
        other_party: OtherParty {
            citizen_id: other.clone(),
            name,
        },
        all_areas,
        areas,
        status: status_body,
        end_reason,
        created_at: g.created_at,
        valid_until: g.valid_until,
        accepted_at: g.accepted_at,
        ended_at,
    })
}

/// The citizen's powers of attorney, given and received, that have not ended: what blocks a
/// withdrawal of the terms consent.
pub fn live_grants(
    conn: &mut AnyConnection,
    citizen_id: &str,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Vec<(Grant, GrantStatus)>, ApiError> {
    let mut out = Vec::new();
    for g in store::of_party(conn, citizen_id)? {
        let status = rules::status(&g, grantor_alive(conn, &g, config, now)?, now);
        if status.is_live() {
            out.push((g, status));
        }
    }
    Ok(out)
}

fn refusal(r: GrantRefusal) -> ApiError {
    match r {
        GrantRefusal::NoAreas => ApiError::validation("areas", r.to_string()),
        GrantRefusal::EndNotInFuture => ApiError::validation("valid_until", r.to_string()),
        GrantRefusal::GrantorWithoutConsent => ApiError::ConsentRequired,
        other => ApiError::Grant(other),
    }
}

/// The fixed list of service areas.
#[utoipa::path(get, path = "/api/v1/service-areas", tag = "powers-of-attorney",
    responses((status = 200, body = Vec<ServiceAreaInfo>, example = json!([
        {"area": "appointments", "description": "Appointments and referrals", "requires_consent_level": "basis"},
        {"area": "prescriptions", "description": "Prescriptions and medicines", "requires_consent_level": "basis"},
        {"area": "vaccinations", "description": "Vaccinations", "requires_consent_level": "basis"},
        {"area": "health_registries", "description": "Information in national health registries", "requires_consent_level": "basis"},
        {"area": "co_payments", "description": "Co-payments and the exemption card", "requires_consent_level": "basis"},
        {"area": "patient_record", "description": "The patient record from hospitals and GPs", "requires_consent_level": "basis_plus"},
        {"area": "summary_care_record", "description": "The summary care record", "requires_consent_level": "basis_plus"},
        {"area": "communication", "description": "Messages and other contact with the GP and health services", "requires_consent_level": "full"}
    ]))))]
pub async fn service_areas() -> web::Json<Vec<ServiceAreaInfo>> {
    web::Json(
        ServiceArea::ALL
            .into_iter()
            .map(|a| ServiceAreaInfo {
                area: area_body(a),
                description: area_description(a).to_owned(),
                requires_consent_level: views::level_body(a.required_level()),
            })
            .collect(),
    )
}

/// The caller's powers of attorney, given and received, with the ended ones (the history).
#[utoipa::path(
    get, path = "/api/v1/powers-of-attorney", tag = "powers-of-attorney",
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses(
        (status = 200, body = PowersOfAttorneyList),
        (status = 401, description = "No live session (`unauthenticated`, `session-expired`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Terms not accepted (`consent-required`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    ConsentedCitizen(who): ConsentedCitizen,
) -> Result<web::Json<PowersOfAttorneyList>, ApiError> {
    let me = who.citizen.id.clone();
    let now = who.now;
    let config = state.config.clone();
    let body = state
        .tx(move |conn| {
            let mut given = Vec::new();
            let mut received = Vec::new();
            for g in store::of_party(conn, &me)? {
                let b = body_of(conn, &g, &me, &config, now)?;
                if g.grantor_id == me {
                    given.push(b);
                } else {
                    received.push(b);
                }
            }
            Ok(PowersOfAttorneyList { given, received })
        })
        .await?;
    Ok(web::Json(body))
}

/// Grant a power of attorney. The grantee is named by identity number in the body.
#[utoipa::path(
    post, path = "/api/v1/powers-of-attorney", tag = "powers-of-attorney",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(("X-CSRF-Token" = Option<String>, Header, description = "Required with the session cookie")),
    request_body = GrantRequestBody,
    responses(
        (status = 201, body = PowerOfAttorneyBody),
        (status = 400, description = "Invalid body (`validation-failed`, `malformed-json`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No live session (`unauthenticated`, `session-expired`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf-failed`, `step-up-required` or `consent-required`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The same power of attorney is in place (`duplicate-grant`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large (`payload-too-large`)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON (`unsupported-media-type`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`cannot-be-granted` (says nothing about why), `grantor-under-16`, `grantee-under-18`, `self-grant`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn grant(
    state: web::Data<AppState>,
    ConsentedCitizen(who): ConsentedCitizen,
    body: JsonBody<GrantRequestBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let grantee_pid = NationalId::parse(&body.grantee_pid, state.config.id_policy())
        .map_err(|e| ApiError::validation("grantee_pid", e.to_string()))?;
    let coverage = match (body.all_areas, body.areas.is_empty()) {
        (true, true) => Coverage::AllAreas,
        (true, false) => {
            return Err(ApiError::validation(
                "areas",
                "leave empty when all_areas is true",
            ))
        }
        (false, _) => Coverage::Areas(body.areas.iter().copied().map(area_domain).collect()),
    };
    let valid_until = body.valid_until;
    let me = who.citizen.id.clone();
    let my_consent = consent::status(who.citizen.consent.as_ref(), &state.config.terms_version);
    let now = who.now;
    let config = state.config.clone();
    let created = state
        .tx(move |conn| {
            lock_citizen(conn, &me)?;
            let grantor = registered(conn, &me, &config)?
                .ok_or(ApiError::Grant(GrantRefusal::CannotBeGranted))?;
            let my_pid = citizens::national_id_of(conn, &me)?.unwrap_or_default();
            let grantee = DbRegister(conn).person(&grantee_pid)?;
            let grantee_citizen = citizens::find_by_national_id(conn, &grantee_pid)?;
            let mut live = Vec::new();
            if let Some(c) = &grantee_citizen {
                for g in store::not_ended_between(conn, &me, &c.id)? {
                    if rules::status(&g, true, now).is_live() {
                        live.push(g);
                    }
                }
            }
            rules::check_grant(
                &GrantRequest {
                    grantor: &grantor,
                    grantor_consent: &my_consent,
                    grantee: grantee.as_ref(),
                    same_person: my_pid == grantee_pid.expose(),
                    coverage: &coverage,
                    valid_until,
                    live_to_same_grantee: &live,
                },
                now,
            )
            .map_err(refusal)?;
            let grantee_citizen = citizens::find_or_create(
                conn,
                &grantee_pid,
                || uuid::Uuid::new_v4().to_string(),
                now,
            )?;
            let g = Grant {
                id: uuid::Uuid::new_v4().to_string(),
                grantor_id: me.clone(),
                grantee_id: grantee_citizen.id.clone(),
                coverage: coverage.clone(),
                created_at: now,
                valid_until,
                accepted_at: None,
                ended: None,
            };
            store::insert(conn, &g)?;
            record_both(conn, &g, &me, "power_of_attorney.granted", now)?;
            body_of(conn, &g, &me, &config, now)
        })
        .await?;
    Ok(HttpResponse::Created().json(created))
}

/// Writes a lifecycle step into both parties' logs (actor: `actor_id`) and one change-feed event.
fn record_both(
    conn: &mut AnyConnection,
    g: &Grant,
    actor_id: &str,
    action: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let details = serde_json::json!({
        "power_of_attorney_id": g.id,
        "grantor_id": g.grantor_id,
        "grantee_id": g.grantee_id,
    });
    let actor = Actor::citizen(actor_id);
    let entry = audit::record(
        conn,
        &g.grantor_id,
        &actor,
        action,
        details.clone(),
        now,
        Feed::LogOnly,
    )?;
    audit::record(
        conn,
        &g.grantee_id,
        &actor,
        action,
        details,
        now,
        Feed::LogOnly,
    )?;
    // Last: publishing orders the outbox writers.
    audit::publish(conn, &g.grantor_id, action, entry.seq, now)?;
    Ok(())
}

/// Runs one lifecycle step on a power of attorney the caller is a party to.
async fn step(
    state: &AppState,
    who: &ConsentedCitizen,
    id: String,
    decide: fn(&Grant, Party, bool, DateTime<Utc>) -> Result<Transition, LifecycleError>,
) -> Result<PowerOfAttorneyBody, ApiError> {
    let me = who.0.citizen.id.clone();
    let now = who.0.now;
    let config = state.config.clone();
    state
        .tx(move |conn| {
            // The power of attorney first: two steps on it then queue up without each holding
            // a party's row the other one needs.
            store::lock(conn, &id)?;
            lock_citizen(conn, &me)?;
            let Some((g, party)) = store::find_for_party(conn, &id, &me)? else {
                tracing::warn!(target: "security", citizen_id = %me, "power of attorney not found for this citizen");
                return Err(ApiError::NotFound);
            };
            let alive = grantor_alive(conn, &g, &config, now)?;
            let transition = decide(&g, party, alive, now)?;
            match transition {
                Transition::Accepted { at } => store::set_accepted(conn, &g.id, at)?,
                Transition::Ended { reason, at } => store::set_ended(conn, &g.id, reason, at, &me)?,
            }
            let mut action = transition.action().to_owned();
            if let Transition::Ended { reason, .. } = transition {
                if reason != EndReason::Declined {
                    action = format!("power_of_attorney.{}", reason.as_str());
                }
            }
            record_both(conn, &g, &me, &action, now)?;
            let g = store::find_for_party(conn, &id, &me)?
                .map(|(g, _)| g)
                .ok_or(ApiError::NotFound)?;
            body_of(conn, &g, &me, &config, now)
        })
        .await
}

/// The grantee accepts a pending power of attorney.
#[utoipa::path(
    post, path = "/api/v1/powers-of-attorney/{id}/acceptance", tag = "powers-of-attorney",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(("id" = String, Path, description = "The power of attorney's opaque id"),
        ("X-CSRF-Token" = Option<String>, Header, description = "Required with the session cookie")),
    responses(
        (status = 200, body = PowerOfAttorneyBody),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf-failed`, `step-up-required`, `consent-required`, or `not-the-grantee`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such power of attorney of the caller's (`not-found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not-pending` or `already-ended`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn accept(
    state: web::Data<AppState>,
    who: ConsentedCitizen,
    id: web::Path<String>,
) -> Result<web::Json<PowerOfAttorneyBody>, ApiError> {
    Ok(web::Json(
        step(&state, &who, id.into_inner(), rules::accept).await?,
    ))
}

/// The grantee declines a pending power of attorney.
#[utoipa::path(
    post, path = "/api/v1/powers-of-attorney/{id}/decline", tag = "powers-of-attorney",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(("id" = String, Path, description = "The power of attorney's opaque id"),
        ("X-CSRF-Token" = Option<String>, Header, description = "Required with the session cookie")),
    responses(
        (status = 200, body = PowerOfAttorneyBody),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf-failed`, `step-up-required`, `consent-required`, or `not-the-grantee`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such power of attorney of the caller's (`not-found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not-pending` or `already-ended`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn decline(
    state: web::Data<AppState>,
    who: ConsentedCitizen,
    id: web::Path<String>,
) -> Result<web::Json<PowerOfAttorneyBody>, ApiError> {
    Ok(web::Json(
        step(&state, &who, id.into_inner(), rules::decline).await?,
    ))
}

/// Grantor or grantee ends a pending or active power of attorney. It stays in the history.
#[utoipa::path(
    post, path = "/api/v1/powers-of-attorney/{id}/revocation", tag = "powers-of-attorney",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(("id" = String, Path, description = "The power of attorney's opaque id"),
        ("X-CSRF-Token" = Option<String>, Header, description = "Required with the session cookie")),
    responses(
        (status = 200, body = PowerOfAttorneyBody),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf-failed`, `step-up-required` or `consent-required`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such power of attorney of the caller's (`not-found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already-ended`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke(
    state: web::Data<AppState>,
    who: ConsentedCitizen,
    id: web::Path<String>,
) -> Result<web::Json<PowerOfAttorneyBody>, ApiError> {
    Ok(web::Json(
        step(&state, &who, id.into_inner(), rules::revoke).await?,
    ))
}

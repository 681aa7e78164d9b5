//! The person selector, recording service use (for oneself or on someone's behalf), the
//! downstream decision "may this actor act for this person in this area now?" with its signed
//! proof, and the proof keys.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use domain::guardianship::GuardianAccess;
use domain::identity::NationalId;
use domain::powers_of_attorney::ServiceArea;
use openapi::powers_of_attorney::OtherParty;
use openapi::problem::Problem;
use openapi::representation::{
    RepresentationAnswer, RepresentationBatch, RepresentationBatchAnswer, RepresentationBody,
    RepresentationDecision, RepresentationFacts, RepresentationKind, RepresentationList,
    RepresentationQuery, RepresentationReason, ServiceUse, ServiceUseRecorded,
    UnavailableRepresentation,
};
use persistence::access_switches;
use serde::Serialize;

use crate::audit::{self, Actor, Feed};
use crate::auth::acting::{
    grant_representation, resolve, selector, ActingCitizen, Basis, Representation,
};
use crate::auth::citizen::ConsentedCitizen;
use crate::auth::service::{ConsentRead, ServiceClient};
use crate::decision_cache::{self, PairFacts};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::guardians;
use crate::state::AppState;
use crate::views::{self, area_body, area_domain};

/// The most subjects one batch request may ask about.
pub const MAX_BATCH: usize = 100;

/// A proof lives at most this long, and never beyond the power of attorney.
const PROOF_LIFETIME_SECONDS: i64 = 300;

pub fn representation_body(r: &Representation) -> RepresentationBody {
    let guardian = r.guardian_access();
    RepresentationBody {
        representation_id: r.id.clone(),
        kind: kind_of(r),
        person: OtherParty {
            citizen_id: r.subject_id.clone(),
            name: r.subject_name.clone(),
        },
        areas: r.areas.iter().copied().map(area_body).collect(),
        valid_until: r.power_of_attorney_id().and(r.valid_until()),
        age_band: guardian.map(|a| a.band.as_str().to_owned()),
        upcoming_change: guardian.and_then(|a| a.next).map(views::upcoming_change),
    }
}

fn kind_of(r: &Representation) -> RepresentationKind {
    match r.basis {
        Basis::PowerOfAttorney { .. } => RepresentationKind::PowerOfAttorney,
        Basis::Guardian(_) => RepresentationKind::Guardian,
    }
}

/// What the selector says of a child whose access is not available: the same for every reason.
pub const UNAVAILABLE_MESSAGE: &str = "Digital access to this child is not available.";

/// Everyone the caller can act for now, with what it reaches.
#[utoipa::path(
    get, path = "/api/v1/representations", tag = "representations",
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses(
        (status = 200, body = RepresentationList),
        (status = 401, description = "No live session (`unauthenticated`, `session-expired`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`consent-required`, or sent with `X-Acting-For` (`not-allowed-on-behalf`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    ConsentedCitizen(who): ConsentedCitizen,
) -> Result<web::Json<RepresentationList>, ApiError> {
    let me = who.citizen.id.clone();
    let now = who.now;
    let config = state.config.clone();
    let (reps, unavailable) = state
        .tx(move |conn| selector(conn, &me, &config, now))
        .await?;
    Ok(web::Json(RepresentationList {
        items: reps.iter().map(representation_body).collect(),
        unavailable: unavailable
            .into_iter()
            .map(|c| UnavailableRepresentation {
                kind: RepresentationKind::Guardian,
                person: OtherParty {
                    citizen_id: c.subject_id,
                    name: Some(c.name),
                },
                message: UNAVAILABLE_MESSAGE.to_owned(),
            })
            .collect(),
    }))
}

/// Record that a service was used. With `X-Acting-For`, the use is recorded in the represented
/// person's log and in the caller's own, naming both; the area must be one the representation
/// reaches.
#[utoipa::path(
    post, path = "/api/v1/service-use", tag = "representations",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(
        ("X-Acting-For" = Option<String>, Header, description = "A representation id from GET /api/v1/representations"),
        ("X-CSRF-Token" = Option<String>, Header, description = "Required with the session cookie"),
    ),
    request_body = ServiceUse,
    responses(
        (status = 201, body = ServiceUseRecorded),
        (status = 400, description = "Invalid body (`validation-failed`, `malformed-json`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf-failed`, `step-up-required`, `consent-required`, or `area-not-covered`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The `X-Acting-For` id is not one of the caller's live representations (`not-found`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn service_use(
    state: web::Data<AppState>,
    actor: ActingCitizen,
    body: JsonBody<ServiceUse>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let service = body.service.trim().to_owned();
    let digit_run = service
        .split(|c: char| !c.is_ascii_digit())
        .any(|run| run.len() >= 11);
    if service.is_empty()
        || service.chars().count() > 100
        || service.chars().any(char::is_control)
        || digit_run
    {
        return Err(ApiError::validation(
            "service",
            "1 to 100 characters, no control characters, no identity number",
        ));
    }
    let area = area_domain(body.area);
    let me = actor.who.citizen.id.clone();
    let now = actor.who.now;
    let config = state.config.clone();
    let acting = actor.acting.map(|r| r.id);
    let recorded = state
        .tx(move |conn| {
            let Some(rep_id) = &acting else {
                // Removed digital access closes one's own data, not acting for others.
                if !access_switches::get(conn, &me)?.switches.opens(area) {
                    return Err(ApiError::DigitalAccessRemoved);
                }
                let entry = audit::record(
                    conn,
                    &me,
                    &Actor::citizen(&me),
                    "service.used",
                    serde_json::json!({ "area": area.as_str(), "service": service }),
                    now,
                    Feed::LogOnly,
                )?;
                return Ok(ServiceUseRecorded {
                    subject_id: me.clone(),
                    seq: entry.seq,
                });
            };
            // Decided again inside the transaction that records it: never a stale yes.
            let rep = resolve(conn, &me, rep_id, &config, now)?.ok_or(ApiError::NotFound)?;
            if !rep.areas.contains(&area) {
                return Err(ApiError::AreaNotCovered);
            }
            let mut details = serde_json::json!({
                "area": area.as_str(),
                "service": service,
                "on_behalf_of": rep.subject_id,
            });
            if let Some(poa) = rep.power_of_attorney_id() {
                details["power_of_attorney_id"] = poa.into();
            }
            let acting = Actor {
                kind: rep.actor_kind(),
                id: me.clone(),
            };
            let entry = audit::record(
                conn,
                &rep.subject_id,
                &acting,
                "service.used",
                details.clone(),
                now,
                Feed::LogOnly,
            )?;
            audit::record(
                conn,
                &me,
                &acting,
                "service.used",
                details,
                now,
                Feed::LogOnly,
            )?;
            Ok(ServiceUseRecorded {
                subject_id: rep.subject_id,
                seq: entry.seq,
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(recorded))
}

#[derive(Serialize)]
struct Act {
    sub: String,
}

#[derive(Serialize)]
struct ProofClaims {
    iss: String,
    sub: String,
    act: Act,
    subject_pid: String,
    actor_pid: String,
    areas: Vec<&'static str>,
    /// `power_of_attorney` or `guardian`.
    basis: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    poa: Option<String>,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
}

fn proof_expiry(now: DateTime<Utc>, valid_until: Option<DateTime<Utc>>) -> DateTime<Utc> {
    let cap = now + Duration::seconds(PROOF_LIFETIME_SECONDS);
    valid_until.map_or(cap, |end| end.min(cap))
}

/// May this actor act for this person in this service area now? With `proof: true` an allow
/// comes with a signed JWT stating it.
#[utoipa::path(
    post, path = "/api/v1/decisions/representation", tag = "decisions",
    security(("service_token" = ["consent:read"])),
    request_body = RepresentationQuery,
    responses(
        (status = 200, body = RepresentationAnswer),
        (status = 400, description = "Invalid body or identity number (`validation-failed`, `malformed-json`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid access token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `consent:read` (`insufficient-scope`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large (`payload-too-large`)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON (`unsupported-media-type`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn decide(
    state: web::Data<AppState>,
    _client: ServiceClient<ConsentRead>,
    body: JsonBody<RepresentationQuery>,
) -> Result<web::Json<RepresentationAnswer>, ApiError> {
    let q = parse_query(&body.into_inner()?, &state, "")?;
    let mut answers = decide_all(&state, vec![q]).await?;
    answers
        .pop()
        .map(web::Json)
        .ok_or_else(|| ApiError::Internal("no answer".into()))
}

/// The same question for up to [`MAX_BATCH`] pairs, answered from one consistent reading.
#[utoipa::path(
    post, path = "/api/v1/decisions/representation/batch", tag = "decisions",
    security(("service_token" = ["consent:read"])),
    request_body = RepresentationBatch,
    responses(
        (status = 200, body = RepresentationBatchAnswer, description = "One answer per item, in order"),
        (status = 400, description = "Invalid body, an empty list or more than 100 items (`validation-failed`, naming `items[i].field`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid access token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `consent:read` (`insufficient-scope`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large (`payload-too-large`)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON (`unsupported-media-type`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn decide_batch(
    state: web::Data<AppState>,
    _client: ServiceClient<ConsentRead>,
    body: JsonBody<RepresentationBatch>,
) -> Result<web::Json<RepresentationBatchAnswer>, ApiError> {
    let batch = body.into_inner()?;
    check_batch_size(batch.items.len())?;
    let queries = batch
        .items
        .iter()
        .enumerate()
        .map(|(i, q)| parse_query(q, &state, &format!("items[{i}].")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(web::Json(RepresentationBatchAnswer {
        items: decide_all(&state, queries).await?,
    }))
}

/// Refuses an empty batch or one above [`MAX_BATCH`].
pub fn check_batch_size(n: usize) -> Result<(), ApiError> {
    if n == 0 || n > MAX_BATCH {
        return Err(ApiError::validation(
            "items",
            format!("1 to {MAX_BATCH} items"),
        ));
    }
    Ok(())
}

/// The identity numbers of a batch of 1 to [`MAX_BATCH`] items, each named `items[i].pid` when
/// it is not one.
pub fn batch_pids<'a>(
    pids: impl ExactSizeIterator<Item = &'a str>,
    state: &AppState,
) -> Result<Vec<NationalId>, ApiError> {
    check_batch_size(pids.len())?;
    pids.enumerate()
        .map(|(i, pid)| {
            NationalId::parse(pid, state.config.id_policy())
                .map_err(|e| ApiError::validation(&format!("items[{i}].pid"), e.to_string()))
        })
        .collect()
}

struct ParsedQuery {
    actor_pid: NationalId,
    subject_pid: NationalId,
    area: ServiceArea,
    proof: bool,
}

fn parse_query(
    q: &RepresentationQuery,
    state: &AppState,
    prefix: &str,
) -> Result<ParsedQuery, ApiError> {
    let policy = state.config.id_policy();
    Ok(ParsedQuery {
        actor_pid: NationalId::parse(&q.actor_pid, policy)
            .map_err(|e| ApiError::validation(&format!("{prefix}actor_pid"), e.to_string()))?,
        subject_pid: NationalId::parse(&q.subject_pid, policy)
            .map_err(|e| ApiError::validation(&format!("{prefix}subject_pid"), e.to_string()))?,
        area: area_domain(q.area),
        proof: q.proof,
    })
}

/// Reads every pair's inputs (kept or from one transaction), then answers each at one `now`.
async fn decide_all(
    state: &AppState,
    queries: Vec<ParsedQuery>,
) -> Result<Vec<RepresentationAnswer>, ApiError> {
    let now = state.now();
    let pairs = queries
        .iter()
        .map(|q| (q.actor_pid.clone(), q.subject_pid.clone()))
        .collect();
    let facts = decision_cache::pairs(state, pairs, now).await?;
    let answers = queries
        .iter()
        .zip(facts)
        .map(|(q, f)| answer(state, q, &f, now))
        .collect::<Result<Vec<_>, _>>()?;
    for a in &answers {
        state
            .metrics
            .decision("representation", &a.decision, &a.reason);
    }
    Ok(answers)
}

fn answer(
    state: &AppState,
    q: &ParsedQuery,
    found: &PairFacts,
    now: DateTime<Utc>,
) -> Result<RepresentationAnswer, ApiError> {
    let deny = |reason, rep: Option<&Representation>| RepresentationAnswer {
        decision: RepresentationDecision::Deny,
        reason,
        representation: rep.map(facts),
        proof: None,
    };
    let PairFacts::Known {
        actor,
        grants,
        child,
        ..
    } = found
    else {
        return Ok(deny(RepresentationReason::NoRepresentation, None));
    };
    let actor_id = actor.id.clone();
    let mut powers: Vec<Representation> = grants
        .iter()
        .filter_map(|g| grant_representation(g, &state.config, now))
        .collect();
    let (guardian, child_id) = match child {
        Some(c) => (
            guardians::access_of(c, actor, &state.config, now),
            c.citizen_id.clone(),
        ),
        None => (GuardianAccess::NotGuardian, None),
    };
    match (guardian, child_id) {
        (GuardianAccess::Available(access), Some(child_id)) => powers.push(Representation {
            id: child_id.clone(),
            subject_id: child_id,
            subject_name: None,
            areas: access.areas.clone(),
            basis: Basis::Guardian(access),
        }),
        (GuardianAccess::Unavailable(_), _) if powers.is_empty() => {
            return Ok(deny(RepresentationReason::GuardianAccessUnavailable, None));
        }
        (GuardianAccess::Ended, _) if powers.is_empty() => {
            return Ok(deny(RepresentationReason::GuardianAccessEnded, None));
        }
        _ => {}
    }
    let Some(first) = powers.first() else {
        return Ok(deny(RepresentationReason::NoRepresentation, None));
    };
    let Some(rep) = powers.iter().find(|r| r.areas.contains(&q.area)) else {
        return Ok(deny(RepresentationReason::AreaNotCovered, Some(first)));
    };
    let (reason, basis) = match rep.basis {
        Basis::PowerOfAttorney { .. } => {
            (RepresentationReason::PowerOfAttorney, "power_of_attorney")
        }
        Basis::Guardian(_) => (RepresentationReason::Guardian, "guardian"),
    };
    let proof = if q.proof {
        let claims = ProofClaims {
            iss: state
                .config
                .public_url
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
            sub: rep.subject_id.clone(),
            act: Act { sub: actor_id },
            subject_pid: q.subject_pid.expose().to_owned(),
            actor_pid: q.actor_pid.expose().to_owned(),
            areas: rep.areas.iter().map(|a| a.as_str()).collect(),
            basis,
            poa: rep.power_of_attorney_id().map(str::to_owned),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: proof_expiry(now, rep.valid_until()).timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        Some(state.proofs.sign(&claims)?)
    } else {
        None
    };
    Ok(RepresentationAnswer {
        decision: RepresentationDecision::Allow,
        reason,
        representation: Some(facts(rep)),
        proof,
    })
}

fn facts(r: &Representation) -> RepresentationFacts {
    RepresentationFacts {
        kind: kind_of(r),
        power_of_attorney_id: r.power_of_attorney_id().map(str::to_owned),
        age_band: r.guardian_access().map(|a| a.band.as_str().to_owned()),
        areas: r.areas.iter().copied().map(area_body).collect(),
        valid_until: r.power_of_attorney_id().and(r.valid_until()),
    }
}

/// The public keys that verify proofs of representation.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "decisions",
    responses((status = 200, description = "A JWK set (RFC 7517)", body = Object, example = json!({"keys": [{
        "kty": "EC", "crv": "P-256", "x": "2WMh128QzoZ7bXEznbvq-jv0G4W6v28U6hFDrGSnC1Y",
        "y": "8lkkYfFkXYqbdFIgmxnvZi8jw2f27khS826fpt4NgAQ",
        "kid": "2J2Jw154qPcw-IUwTjok9lJspKGuFnV-eV2NRSyAJXU", "alg": "ES256", "use": "sig"
    }]}))))]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "public, max-age=300"))
        .json(state.proofs.jwks())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_proof_never_outlives_its_power_of_attorney() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        assert_eq!(proof_expiry(now, None), now + Duration::seconds(300));
        let soon = now + Duration::seconds(60);
        assert_eq!(proof_expiry(now, Some(soon)), soon);
        let later = now + Duration::days(1);
        assert_eq!(proof_expiry(now, Some(later)), now + Duration::seconds(300));
    }
}

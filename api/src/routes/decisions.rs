//! Decisions for downstream health services. The identity number travels in the JSON body.

use actix_web::web;
use domain::access_switches::Switch;
use domain::consent::{self, ConsentStatus};
use domain::identity::NationalId;
use openapi::problem::Problem;
use openapi::service::{
    ActiveDecision, ActiveReason, ActiveUserAnswer, ActiveUserBatch, ActiveUserBatchAnswer,
    ActiveUserQuery,
};

use crate::auth::service::{ConsentRead, ServiceClient};
use crate::decision_cache::{self, PersonFacts, Unknown};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::routes::representations::batch_pids;
use crate::state::AppState;
use crate::views;

/// Is this citizen an active user of the portal, and at what consent level
/// ("HelsenorgeAktivSjekken")?
#[utoipa::path(
    post, path = "/api/v1/decisions/active-user", tag = "decisions",
    security(("service_token" = ["consent:read"])),
    request_body = ActiveUserQuery,
    responses(
        (status = 200, body = ActiveUserAnswer),
        (status = 400, description = "Invalid body or identity number (`validation-failed`, `malformed-json`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid access token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `consent:read` (`insufficient-scope`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large (`payload-too-large`)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON (`unsupported-media-type`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn active_user(
    state: web::Data<AppState>,
    _client: ServiceClient<ConsentRead>,
    body: JsonBody<ActiveUserQuery>,
) -> Result<web::Json<ActiveUserAnswer>, ApiError> {
    let query = body.into_inner()?;
    let pid = NationalId::parse(&query.pid, state.config.id_policy())
        .map_err(|e| ApiError::validation("pid", e.to_string()))?;
    let mut answers = answer_all(&state, vec![pid]).await?;
    answers
        .pop()
        .map(web::Json)
        .ok_or_else(|| ApiError::Internal("no answer".into()))
}

/// The same question for up to 100 citizens, answered from one consistent reading.
#[utoipa::path(
    post, path = "/api/v1/decisions/active-user/batch", tag = "decisions",
    security(("service_token" = ["consent:read"])),
    request_body = ActiveUserBatch,
    responses(
        (status = 200, body = ActiveUserBatchAnswer, description = "One answer per item, in order"),
        (status = 400, description = "Invalid body, an empty list or more than 100 items (`validation-failed`, naming `items[i].pid`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid access token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `consent:read` (`insufficient-scope`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large (`payload-too-large`)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON (`unsupported-media-type`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn active_user_batch(
    state: web::Data<AppState>,
    _client: ServiceClient<ConsentRead>,
    body: JsonBody<ActiveUserBatch>,
) -> Result<web::Json<ActiveUserBatchAnswer>, ApiError> {
    let batch = body.into_inner()?;
    let pids = batch_pids(batch.items.iter().map(|q| q.pid.as_str()), &state)?;
    Ok(web::Json(ActiveUserBatchAnswer {
        items: answer_all(&state, pids).await?,
    }))
}

async fn answer_all(
    state: &AppState,
    pids: Vec<NationalId>,
) -> Result<Vec<ActiveUserAnswer>, ApiError> {
    let facts = decision_cache::persons(state, pids, Unknown::Skip).await?;
    let answers: Vec<ActiveUserAnswer> = facts
        .iter()
        .map(|f| answer(f.as_deref(), &state.config.terms_version))
        .collect();
    for a in &answers {
        state
            .metrics
            .decision("active_user", &a.decision, &a.reason);
    }
    Ok(answers)
}

fn answer(citizen: Option<&PersonFacts>, terms_in_force: &str) -> ActiveUserAnswer {
    let switches = citizen.map(|c| c.switches).unwrap_or_default();
    let (decision, reason, level, accepted) = match citizen {
        None => (
            ActiveDecision::Inactive,
            ActiveReason::NotRegistered,
            None,
            None,
        ),
        Some(c) => {
            let accepted = c.consent.as_ref().map(|x| x.terms_version.clone());
            match consent::status(c.consent.as_ref(), terms_in_force) {
                ConsentStatus::Active { level } => (
                    ActiveDecision::Active,
                    ActiveReason::ConsentActive,
                    Some(views::level_body(level)),
                    accepted,
                ),
                ConsentStatus::NotAccepted => (
                    ActiveDecision::Inactive,
                    ActiveReason::NotAccepted,
                    None,
                    accepted,
                ),
                ConsentStatus::RenewalRequired { .. } => (
                    ActiveDecision::Inactive,
                    ActiveReason::RenewalRequired,
                    None,
                    accepted,
                ),
            }
        }
    };
    ActiveUserAnswer {
        decision,
        reason,
        consent_level: level,
        accepted_terms_version: accepted,
        terms_in_force: terms_in_force.to_owned(),
        removed_access: Switch::ALL
            .into_iter()
            .filter(|w| switches.is_removed(*w))
            .map(views::switch_body)
            .collect(),
    }
}

//! Consent to use the services (the terms of use): read, accept, change level, withdraw.
//! The rules are `domain::consent`; this module loads, decides, persists and answers.

use actix_web::{web, HttpRequest};
use chrono::{DateTime, Utc};
use domain::consent::{self, ConsentLevel, TermsChange};
use openapi::citizen::{AcceptTerms, ChangeLevel, TermsHistoryItem, TermsState};
use openapi::problem::Problem;
use persistence::{citizens, db::lock_citizen, terms, AnyConnection};

use crate::audit::{self, Actor, Feed};
use crate::auth::acting::acting_for_header;
use crate::auth::citizen::{CitizenSession, ConsentedCitizen, HighAssuranceCitizen};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;
use crate::views;

fn load_state(
    conn: &mut AnyConnection,
    citizen_id: &str,
    terms_in_force: &str,
) -> Result<TermsState, ApiError> {
    let citizen = citizens::find(conn, citizen_id)?.ok_or(ApiError::Unauthenticated)?;
    let history = terms::history(conn, citizen_id)?
        .into_iter()
        .map(|h| TermsHistoryItem {
            action: h.action,
            terms_version: h.terms_version,
            level: h.level.map(views::level_body),
            at: h.at,
        })
        .collect();
    Ok(TermsState {
        consent: views::consent_summary(citizen.consent.as_ref(), terms_in_force),
        history,
    })
}

/// Decides a change with `decide` against the citizen's current consent (read under a lock),
/// then stores it with its log entry and change-feed event, all in one transaction.
async fn change<F>(
    state: &AppState,
    citizen_id: String,
    now: DateTime<Utc>,
    decide: F,
) -> Result<TermsState, ApiError>
where
    F: Fn(Option<&consent::TermsConsent>, &mut AnyConnection) -> Result<TermsChange, ApiError>
        + Send
        + 'static,
{
    let terms_in_force = state.config.terms_version.clone();
    state
        .tx(move |conn| {
            lock_citizen(conn, &citizen_id)?;
            let citizen = citizens::find(conn, &citizen_id)?.ok_or(ApiError::Unauthenticated)?;
            let change = decide(citizen.consent.as_ref(), conn)?;
            terms::apply(conn, &citizen_id, &change)?;
            audit::record(
                conn,
                &citizen_id,
                &Actor::citizen(&citizen_id),
                change.action(),
                change_details(&change),
                now,
                Feed::Publish,
            )?;
            load_state(conn, &citizen_id, &terms_in_force)
        })
        .await
}

fn change_details(change: &TermsChange) -> serde_json::Value {
    match change {
        TermsChange::Accepted {
            terms_version,
            level,
            ..
        } => serde_json::json!({ "terms_version": terms_version, "level": level.as_str() }),
        TermsChange::LevelChanged {
            terms_version,
            from,
            to,
            ..
        } => serde_json::json!({
            "terms_version": terms_version, "from": from.as_str(), "to": to.as_str()
        }),
        TermsChange::Withdrawn { terms_version, .. } => {
            serde_json::json!({ "terms_version": terms_version })
        }
    }
}

/// The terms in force, the citizen's consent and its history. Works before acceptance.
#[utoipa::path(
    get, path = "/api/v1/terms", tag = "terms",
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses(
        (status = 200, body = TermsState),
        (status = 401, description = "No live session (`unauthenticated`, `session-expired`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Sent with `X-Acting-For` (`not-allowed-on-behalf`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_terms(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: CitizenSession,
) -> Result<web::Json<TermsState>, ApiError> {
    // These are the caller's own terms: never shown as if they were someone else's.
    if acting_for_header(&req).is_some() {
        return Err(ApiError::NotAllowedOnBehalf);
    }
    let id = who.citizen.id.clone();
    let terms_in_force = state.config.terms_version.clone();
    let body = state
        .tx(move |conn| load_state(conn, &id, &terms_in_force))
        .await?;
    Ok(web::Json(body))
}

/// Accept the terms in force at a level (also how a new version is accepted, and how a level is
/// chosen again after a withdrawal).
#[utoipa::path(
    post, path = "/api/v1/terms/acceptance", tag = "terms",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(("X-CSRF-Token" = Option<String>, Header, description = "Required with the session cookie")),
    request_body = AcceptTerms,
    responses(
        (status = 200, body = TermsState),
        (status = 400, description = "Invalid body (`validation-failed`, `malformed-json`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No live session (`unauthenticated`, `session-expired`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf-failed`, or `step-up-required` with the `required_acr`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already accepted at this level (`already-accepted`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large (`payload-too-large`)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON (`unsupported-media-type`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not the version in force (`terms-not-in-force`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn accept(
    state: web::Data<AppState>,
    HighAssuranceCitizen(who): HighAssuranceCitizen,
    body: JsonBody<AcceptTerms>,
) -> Result<web::Json<TermsState>, ApiError> {
    let AcceptTerms {
        terms_version,
        level,
    } = body.into_inner()?;
    let level: ConsentLevel = views::level_domain(level);
    let terms_in_force = state.config.terms_version.clone();
    let now = who.now;
    let result = change(&state, who.citizen.id, now, move |current, _| {
        Ok(consent::accept(
            current,
            &terms_in_force,
            &terms_version,
            level,
            now,
        )?)
    })
    .await?;
    Ok(web::Json(result))
}

/// Change the level of the consent in force.
#[utoipa::path(
    put, path = "/api/v1/terms/level", tag = "terms",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(("X-CSRF-Token" = Option<String>, Header, description = "Required with the session cookie")),
    request_body = ChangeLevel,
    responses(
        (status = 200, body = TermsState),
        (status = 400, description = "Invalid body (`validation-failed`, `malformed-json`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No live session (`unauthenticated`, `session-expired`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf-failed`, `step-up-required`, or `consent-required`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already at this level (`same-level`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large (`payload-too-large`)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON (`unsupported-media-type`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn change_level(
    state: web::Data<AppState>,
    ConsentedCitizen(who): ConsentedCitizen,
    body: JsonBody<ChangeLevel>,
) -> Result<web::Json<TermsState>, ApiError> {
    let level = views::level_domain(body.into_inner()?.level);
    let terms_in_force = state.config.terms_version.clone();
    let now = who.now;
    let result = change(&state, who.citizen.id, now, move |current, _| {
        Ok(consent::change_level(current, &terms_in_force, level, now)?)
    })
    .await?;
    Ok(web::Json(result))
}

/// Withdraw the consent. Refused with the list of blockers while any power of attorney, given or
/// held, is active or pending. The consent history is kept.
#[utoipa::path(
    post, path = "/api/v1/terms/withdrawal", tag = "terms",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(("X-CSRF-Token" = Option<String>, Header, description = "Required with the session cookie")),
    responses(
        (status = 200, body = TermsState),
        (status = 401, description = "No live session (`unauthenticated`, `session-expired`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf-failed` or `step-up-required`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nothing to withdraw (`not-accepted`), or powers of attorney remain (`withdrawal-blocked`, with `blockers`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn withdraw(
    state: web::Data<AppState>,
    HighAssuranceCitizen(who): HighAssuranceCitizen,
) -> Result<web::Json<TermsState>, ApiError> {
    let now = who.now;
    let citizen_id = who.citizen.id.clone();
    let config = state.config.clone();
    let retention_days = state.config.usage_log_retention_days;
    let result = change(&state, who.citizen.id, now, move |current, conn| {
        let blockers =
            crate::routes::powers_of_attorney::live_grants(conn, &citizen_id, &config, now)?
                .into_iter()
                .map(|(g, status)| consent::WithdrawalBlocker {
                    kind: if g.grantor_id == citizen_id {
                        consent::BlockerKind::PowerOfAttorneyGiven
                    } else {
                        consent::BlockerKind::PowerOfAttorneyHeld
                    },
                    id: g.id,
                    state: if status == domain::powers_of_attorney::GrantStatus::Active {
                        consent::BlockerState::Active
                    } else {
                        consent::BlockerState::Pending
                    },
                })
                .collect();
        let change = consent::withdraw(current, blockers, now)?;
        // Erased in the same transaction; the withdrawal's own log entry comes after the cut.
        let erased = crate::erasure::on_withdrawal(conn, &citizen_id, retention_days, now)?;
        tracing::info!(
            log_entries = erased.log_entries,
            contact_rows = erased.contact_rows,
            "portal data erased on withdrawal"
        );
        Ok(change)
    })
    .await?;
    Ok(web::Json(result))
}

//! `GET /api/v1/me`: who is logged in, at what level, and where they stand with the terms.

use actix_web::{web, HttpRequest};
use chrono::SubsecRound;
use openapi::citizen::{Me, SessionInfo};
use openapi::problem::Problem;

use crate::auth::acting::{acting_for_header, resolve_for};
use crate::auth::citizen::CitizenSession;
use crate::error::ApiError;
use crate::routes::representations::representation_body;
use crate::state::AppState;
use crate::views;

/// The logged-in citizen. Works before the terms are accepted, so the front end can ask for it.
#[utoipa::path(
    get, path = "/api/v1/me", tag = "citizen",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(("X-Acting-For" = Option<String>, Header, description = "A representation id from GET /api/v1/representations")),
    responses(
        (status = 200, body = Me),
        (status = 404, description = "The `X-Acting-For` id is not one of the caller's live representations (`not-found`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No live session (`unauthenticated`, `session-expired`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn me(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: CitizenSession,
) -> Result<web::Json<Me>, ApiError> {
    let acting_for = match acting_for_header(&req) {
        None => None,
        Some(id) => Some(representation_body(&resolve_for(&state, &who, id).await?)),
    };
    let config = &state.config;
    let policy = config.session_policy();
    Ok(web::Json(Me {
        citizen_id: who.citizen.id.clone(),
        acr: who.session.acr.clone(),
        may_change: domain::assurance::may_change(who.assurance, config.required_acr),
        required_acr: config.required_acr.as_acr().to_owned(),
        consent: views::consent_summary(who.citizen.consent.as_ref(), &config.terms_version),
        session: SessionInfo {
            csrf_token: who.session.csrf_token.clone(),
            // The session's last use is stored to the whole second; its end is counted from that.
            idle_expires_at: who.now.trunc_subsecs(0) + policy.idle,
            absolute_expires_at: who.session.created_at + policy.absolute,
        },
        previous_login_at: who.citizen.previous_login_at,
        acting_for,
    }))
}

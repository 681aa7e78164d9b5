//! `/dev/clock`: only mounted with `DEV_MODE=true`, which start-up refuses with a production
//! issuer. Lets black-box tests cross birthdays, session timeouts and 30-day windows.

use actix_web::web;
use chrono::Duration;
use openapi::dev::{AdvanceClock, ClockState, SetClock};
use openapi::problem::Problem;

use crate::error::ApiError;
use crate::json::JsonBody;
use crate::state::AppState;

fn current(state: &AppState) -> Result<ClockState, ApiError> {
    let dev = state.dev_clock.as_ref().ok_or(ApiError::NotFound)?;
    Ok(ClockState {
        now: state.now(),
        offset_seconds: dev.offset().num_seconds(),
    })
}

/// The server's "now".
#[utoipa::path(get, path = "/dev/clock", tag = "dev",
    responses((status = 200, body = ClockState), (status = 404, description = "Not in dev mode", body = Problem, content_type = "application/problem+json")))]
pub async fn get(state: web::Data<AppState>) -> Result<web::Json<ClockState>, ApiError> {
    Ok(web::Json(current(&state)?))
}

/// Set the server's "now".
#[utoipa::path(put, path = "/dev/clock", tag = "dev", request_body = SetClock,
    responses((status = 200, body = ClockState), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not in dev mode", body = Problem, content_type = "application/problem+json")))]
pub async fn set(
    state: web::Data<AppState>,
    body: JsonBody<SetClock>,
) -> Result<web::Json<ClockState>, ApiError> {
    let dev = state.dev_clock.as_ref().ok_or(ApiError::NotFound)?;
    dev.set(body.0.now);
    tracing::warn!(target: "security", "dev clock set");
    Ok(web::Json(current(&state)?))
}

/// Move the server's "now" by a number of seconds.
#[utoipa::path(post, path = "/dev/clock/advance", tag = "dev", request_body = AdvanceClock,
    responses((status = 200, body = ClockState), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, description = "Not in dev mode", body = Problem, content_type = "application/problem+json")))]
pub async fn advance(
    state: web::Data<AppState>,
    body: JsonBody<AdvanceClock>,
) -> Result<web::Json<ClockState>, ApiError> {
    let dev = state.dev_clock.as_ref().ok_or(ApiError::NotFound)?;
    // Bounded so that the arithmetic can never overflow: a hundred years either way.
    let seconds = body.0.seconds;
    if seconds.abs() > 100 * 366 * 24 * 3600 {
        return Err(ApiError::validation(
            "seconds",
            "at most a hundred years either way",
        ));
    }
    dev.advance(Duration::seconds(seconds));
    tracing::warn!(target: "security", seconds, "dev clock advanced");
    Ok(web::Json(current(&state)?))
}

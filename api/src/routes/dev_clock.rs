//! `/dev/clock`: only mounted with `DEV_MODE=true`, which start-up refuses with a production
//! issuer. Lets black-box tests cross birthdays, session timeouts and 30-day windows.

use actix_web::web;
use chrono::Duration;
use openapi::contacts::ReminderRun;
use openapi::dev::{AdvanceClock, ClockState, HousekeepingRun, SetClock};
use openapi::problem::Problem;
use openapi::summary_care_record::PurgeRun;

use crate::error::ApiError;
use crate::extract::JsonBody;
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
    dev.set(body.into_inner()?.now)
        .map_err(|e| ApiError::validation("now", e.to_string()))?;
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
    let seconds = body.into_inner()?.seconds;
    let by = Duration::try_seconds(seconds)
        .ok_or_else(|| ApiError::validation("seconds", "too large"))?;
    dev.advance(by)
        .map_err(|e| ApiError::validation("seconds", e.to_string()))?;
    tracing::warn!(target: "security", seconds, "dev clock advanced");
    Ok(web::Json(current(&state)?))
}

/// Order every summary-care-record purge due at the server's (dev) clock now, as the timer would.
#[utoipa::path(post, path = "/dev/jobs/order-purges", tag = "dev",
    responses((status = 200, body = PurgeRun), (status = 404, description = "Not in dev mode", body = Problem, content_type = "application/problem+json")))]
pub async fn order_purges(state: web::Data<AppState>) -> Result<web::Json<PurgeRun>, ApiError> {
    if state.dev_clock.is_none() {
        return Err(ApiError::NotFound);
    }
    let now = state.now();
    let db = state.db.clone();
    let ordered = web::block(move || {
        crate::routes::summary_care_record::order_due_purges(&db, now, "operator")
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(web::Json(PurgeRun { ordered }))
}

/// Plan every reminder due at the server's (dev) clock now, as the reminder timer would.
#[utoipa::path(post, path = "/dev/jobs/reminders", tag = "dev",
    responses((status = 200, body = ReminderRun), (status = 404, description = "Not in dev mode", body = Problem, content_type = "application/problem+json")))]
pub async fn reminders(state: web::Data<AppState>) -> Result<web::Json<ReminderRun>, ApiError> {
    if state.dev_clock.is_none() {
        return Err(ApiError::NotFound);
    }
    let now = state.now();
    let db = state.db.clone();
    let config = state.config.clone();
    let queued = web::block(move || crate::notify_worker::schedule_reminders(&db, &config, now))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(web::Json(ReminderRun { queued }))
}

/// Forget the sessions and idempotency keys past their keeping time at the server's (dev) clock
/// now, as the purge timer does.
#[utoipa::path(post, path = "/dev/jobs/housekeeping", tag = "dev",
    responses((status = 200, body = HousekeepingRun), (status = 404, description = "Not in dev mode", body = Problem, content_type = "application/problem+json")))]
pub async fn housekeeping(
    state: web::Data<AppState>,
) -> Result<web::Json<HousekeepingRun>, ApiError> {
    if state.dev_clock.is_none() {
        return Err(ApiError::NotFound);
    }
    let f = crate::housekeeping::run(&state).await?;
    Ok(web::Json(HousekeepingRun {
        sessions: f.sessions,
        idempotency_keys: f.idempotency_keys,
    }))
}

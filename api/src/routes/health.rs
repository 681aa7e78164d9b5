//! Liveness and readiness for the orchestrator.

use actix_web::{web, HttpResponse};
use openapi::problem::Problem;

use crate::error::ApiError;
use crate::state::AppState;

/// The process is up.
#[utoipa::path(get, path = "/health/live", tag = "operations",
    responses((status = 200, description = "Alive", body = Object, example = json!({"status": "ok"}))))]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// The database answers and every migration has run.
#[utoipa::path(get, path = "/health/ready", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Object, example = json!({"status": "ready", "database": "sqlite"})),
        (status = 503, description = "Not ready (`unavailable`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let db = state.db.clone();
    let ready = web::block(move || db.is_ready())
        .await
        .map_err(|_| ApiError::Internal("the blocking pool is gone".into()))?;
    if !ready {
        return Err(ApiError::Unavailable(
            "database unreachable or migrations pending".into(),
        ));
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "status": "ready",
        "database": state.db.backend().name(),
    })))
}

//! Liveness and readiness for the orchestrator, and the metrics its Prometheus scrapes.

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

/// Prometheus metrics: requests and their latencies by route pattern, decisions by outcome, the
/// outbox, webhook and notification queues. Counts only: no identity number, no health data.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String,
            example = "# HELP consent_portal_webhook_deliveries_pending Webhook deliveries waiting for a first or a further attempt.\n# TYPE consent_portal_webhook_deliveries_pending gauge\nconsent_portal_webhook_deliveries_pending 0\n"),
        (status = 503, description = "The database does not answer (`unavailable`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let queues = state
        .tx(|conn| Ok(persistence::queues::depths(conn)?))
        .await?;
    let text = state
        .metrics
        .render(&queues, state.now())
        .map_err(|_| ApiError::Internal("metrics could not be encoded".into()))?;
    Ok(HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .body(text))
}

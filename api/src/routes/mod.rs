//! The HTTP routes. Each handler authenticates through its extractor types, calls the domain,
//! persists in one transaction, and answers.

pub mod auth;
pub mod decisions;
pub mod dev_clock;
pub mod health;
pub mod me;
pub mod terms;
pub mod usage_log;

use actix_web::{web, HttpRequest, HttpResponse, Resource};

use crate::error::ApiError;

/// A resource whose unsupported methods answer 405 problem+json.
fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(|| async {
        Err::<HttpResponse, _>(ApiError::MethodNotAllowed)
    }))
}

pub fn configure(cfg: &mut web::ServiceConfig, dev_mode: bool) {
    cfg.service(resource("/auth/login").route(web::get().to(auth::login)))
        .service(resource("/auth/callback").route(web::get().to(auth::callback)))
        .service(resource("/auth/logout").route(web::post().to(auth::logout)))
        .service(resource("/api/v1/me").route(web::get().to(me::me)))
        .service(resource("/api/v1/terms").route(web::get().to(terms::get_terms)))
        .service(resource("/api/v1/terms/acceptance").route(web::post().to(terms::accept)))
        .service(resource("/api/v1/terms/level").route(web::put().to(terms::change_level)))
        .service(resource("/api/v1/terms/withdrawal").route(web::post().to(terms::withdraw)))
        .service(resource("/api/v1/usage-log").route(web::get().to(usage_log::page)))
        .service(
            resource("/api/v1/usage-log/since-last-login")
                .route(web::get().to(usage_log::since_last_login)),
        )
        .service(
            resource("/api/v1/decisions/active-user").route(web::post().to(decisions::active_user)),
        )
        .service(resource("/health/live").route(web::get().to(health::live)))
        .service(resource("/health/ready").route(web::get().to(health::ready)));
    if dev_mode {
        cfg.service(
            resource("/dev/clock")
                .route(web::get().to(dev_clock::get))
                .route(web::put().to(dev_clock::set)),
        )
        .service(resource("/dev/clock/advance").route(web::post().to(dev_clock::advance)));
    }
}

/// Any path no route matches.
pub async fn not_found(_req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

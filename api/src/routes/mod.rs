//! The HTTP routes. Each handler authenticates through its extractor types, calls the domain,
//! persists in one transaction, and answers.

pub mod access;
pub mod access_switches;
pub mod auth;
pub mod child_restrictions;
pub mod contact_details;
pub mod data_requests;
pub mod decisions;
pub mod dev_clock;
pub mod export;
pub mod feed;
pub mod fhir;
pub mod health;
pub mod home;
pub mod me;
pub mod notices;
pub mod powers_of_attorney;
pub mod representations;
pub mod sharing;
pub mod summary_care_record;
pub mod terms;
pub mod usage_log;
pub mod webhooks;

use actix_web::{web, HttpRequest, HttpResponse, Resource};

use crate::error::ApiError;

/// A resource whose other methods answer 405 problem+json with an `Allow` header naming `allow`.
fn resource(path: &str, allow: &'static str) -> Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<HttpResponse, _>(ApiError::MethodNotAllowed { allow })
    }))
}

pub fn configure(cfg: &mut web::ServiceConfig, dev_mode: bool) {
    // Resources are matched in this order, and each path with a `{param}` is a regex tried in
    // turn: the machine decisions and the health probes, asked most often, come first.
    cfg.service(
        resource("/api/v1/decisions/active-user", "POST")
            .route(web::post().to(decisions::active_user)),
    )
    .service(
        resource("/api/v1/decisions/representation", "POST")
            .route(web::post().to(representations::decide)),
    )
    .service(
        resource("/api/v1/decisions/active-user/batch", "POST")
            .route(web::post().to(decisions::active_user_batch)),
    )
    .service(
        resource("/api/v1/decisions/representation/batch", "POST")
            .route(web::post().to(representations::decide_batch)),
    )
    .service(
        resource("/api/v1/decisions/summary-care-record", "POST")
            .route(web::post().to(summary_care_record::decide)),
    )
    .service(
        resource("/api/v1/decisions/summary-care-record/batch", "POST")
            .route(web::post().to(summary_care_record::decide_batch)),
    )
    .service(
        resource("/api/v1/decisions/professional-access", "POST")
            .route(web::post().to(sharing::decide)),
    )
    .service(
        resource("/api/v1/decisions/professional-access/batch", "POST")
            .route(web::post().to(sharing::decide_batch)),
    )
    .service(resource("/health/live", "GET").route(web::get().to(health::live)))
    .service(resource("/health/ready", "GET").route(web::get().to(health::ready)))
    .service(resource("/metrics", "GET").route(web::get().to(health::metrics)))
    .service(resource("/", "GET").route(web::get().to(home::home)))
    .service(resource("/auth/login", "GET").route(web::get().to(auth::login)))
    .service(resource("/auth/callback", "GET").route(web::get().to(auth::callback)))
    .service(resource("/auth/logout", "POST").route(web::post().to(auth::logout)))
    .service(resource("/api/v1/me", "GET").route(web::get().to(me::me)))
    .service(resource("/api/v1/terms", "GET").route(web::get().to(terms::get_terms)))
    .service(resource("/api/v1/terms/acceptance", "POST").route(web::post().to(terms::accept)))
    .service(resource("/api/v1/terms/level", "PUT").route(web::put().to(terms::change_level)))
    .service(resource("/api/v1/terms/withdrawal", "POST").route(web::post().to(terms::withdraw)))
    .service(resource("/api/v1/usage-log", "GET").route(web::get().to(usage_log::page)))
    .service(
        resource("/api/v1/usage-log/since-last-login", "GET")
            .route(web::get().to(usage_log::since_last_login)),
    )
    .service(
        resource("/api/v1/service-areas", "GET")
            .route(web::get().to(powers_of_attorney::service_areas)),
    )
    .service(
        resource("/api/v1/powers-of-attorney", "GET, POST")
            .route(web::get().to(powers_of_attorney::list))
            .route(web::post().to(powers_of_attorney::grant)),
    )
    .service(
        resource("/api/v1/powers-of-attorney/{id}/acceptance", "POST")
            .route(web::post().to(powers_of_attorney::accept)),
    )
    .service(
        resource("/api/v1/powers-of-attorney/{id}/decline", "POST")
            .route(web::post().to(powers_of_attorney::decline)),
    )
    .service(
        resource("/api/v1/powers-of-attorney/{id}/revocation", "POST")
            .route(web::post().to(powers_of_attorney::revoke)),
    )
    .service(resource("/api/v1/representations", "GET").route(web::get().to(representations::list)))
    .service(
        resource("/api/v1/service-use", "POST").route(web::post().to(representations::service_use)),
    )
    .service(resource("/api/v1/access-switches", "GET").route(web::get().to(access_switches::get)))
    .service(
        resource("/api/v1/access-switches/{switch}", "PUT")
            .route(web::put().to(access_switches::set)),
    )
    .service(
        resource("/api/v1/summary-care-record", "GET")
            .route(web::get().to(summary_care_record::get)),
    )
    .service(
        resource("/api/v1/summary-care-record/opt-out", "POST")
            .route(web::post().to(summary_care_record::opt_out)),
    )
    .service(
        resource("/api/v1/summary-care-record/restoration", "POST")
            .route(web::post().to(summary_care_record::restore)),
    )
    .service(
        resource("/api/v1/summary-care-record/new-record", "POST")
            .route(web::post().to(summary_care_record::new_record)),
    )
    .service(
        resource("/api/v1/summary-care-record/blocks", "GET, POST")
            .route(web::get().to(sharing::list_blocks))
            .route(web::post().to(sharing::add_block)),
    )
    .service(
        resource("/api/v1/summary-care-record/blocks/{block_id}", "DELETE")
            .route(web::delete().to(sharing::lift_block)),
    )
    .service(
        resource("/api/v1/objections", "GET, POST")
            .route(web::get().to(sharing::list_objections))
            .route(web::post().to(sharing::add_objection)),
    )
    .service(
        resource("/api/v1/objections/{objection_id}", "DELETE")
            .route(web::delete().to(sharing::withdraw_objection)),
    )
    .service(resource("/api/v1/openings", "GET").route(web::get().to(sharing::openings)))
    .service(
        resource("/api/v1/contact-details", "GET, PUT")
            .route(web::get().to(contact_details::get))
            .route(web::put().to(contact_details::put)),
    )
    .service(
        resource("/api/v1/contact-details/email-confirmation", "GET")
            .route(web::get().to(contact_details::confirm)),
    )
    .service(
        resource("/api/v1/notifications", "GET")
            .route(web::get().to(contact_details::notifications)),
    )
    .service(
        resource("/api/v1/data-requests", "GET, POST")
            .route(web::get().to(data_requests::list))
            .route(web::post().to(data_requests::file)),
    )
    .service(
        resource("/api/v1/data-requests/{request_id}", "GET")
            .route(web::get().to(data_requests::one)),
    )
    .service(
        resource("/api/v1/data-request-queue", "GET").route(web::get().to(data_requests::queue)),
    )
    .service(
        resource(
            "/api/v1/data-request-queue/{request_id}/acknowledgement",
            "POST",
        )
        .route(web::post().to(data_requests::acknowledge)),
    )
    .service(
        resource("/api/v1/data-request-queue/{request_id}/extension", "POST")
            .route(web::post().to(data_requests::extend)),
    )
    .service(
        resource("/api/v1/data-request-queue/{request_id}/answer", "POST")
            .route(web::post().to(data_requests::answer)),
    )
    .service(
        resource("/api/v1/data-request-queue/{request_id}/refusal", "POST")
            .route(web::post().to(data_requests::refuse)),
    )
    .service(resource("/api/v1/export", "GET").route(web::get().to(export::document)))
    .service(
        resource("/api/v1/export/usage-log.csv", "GET").route(web::get().to(export::usage_log_csv)),
    )
    .service(resource("/api/v1/notices", "GET").route(web::get().to(notices::notices)))
    .service(
        resource("/api/v1/child-restrictions/refusals", "POST")
            .route(web::post().to(child_restrictions::register_refusal)),
    )
    .service(
        resource("/api/v1/child-restrictions/denials", "POST")
            .route(web::post().to(child_restrictions::register_denial)),
    )
    .service(
        resource("/api/v1/child-restrictions/query", "POST")
            .route(web::post().to(child_restrictions::query)),
    )
    .service(
        resource(
            "/api/v1/child-restrictions/{restriction_id}/lifting",
            "POST",
        )
        .route(web::post().to(child_restrictions::lift)),
    )
    .service(resource("/api/v1/access-reports", "POST").route(web::post().to(access::report)))
    .service(resource("/api/v1/feed", "GET").route(web::get().to(feed::feed)))
    .service(resource("/api/v1/fhir/Consent/_search", "POST").route(web::post().to(fhir::search)))
    .service(
        resource("/api/v1/webhooks", "GET, POST")
            .route(web::get().to(webhooks::list))
            .route(web::post().to(webhooks::register)),
    )
    .service(
        resource("/api/v1/webhooks/{webhook_id}", "DELETE")
            .route(web::delete().to(webhooks::remove)),
    )
    .service(
        resource("/api/v1/webhooks/{webhook_id}/deliveries", "GET")
            .route(web::get().to(webhooks::deliveries)),
    )
    .service(
        resource("/api/v1/change-deliveries", "GET")
            .route(web::get().to(webhooks::change_deliveries)),
    )
    .service(resource("/.well-known/jwks.json", "GET").route(web::get().to(representations::jwks)));
    if dev_mode {
        cfg.service(
            resource("/dev/clock", "GET, PUT")
                .route(web::get().to(dev_clock::get))
                .route(web::put().to(dev_clock::set)),
        )
        .service(resource("/dev/clock/advance", "POST").route(web::post().to(dev_clock::advance)))
        .service(
            resource("/dev/jobs/order-purges", "POST")
                .route(web::post().to(dev_clock::order_purges)),
        )
        .service(
            resource("/dev/jobs/reminders", "POST").route(web::post().to(dev_clock::reminders)),
        )
        .service(
            resource("/dev/jobs/housekeeping", "POST")
                .route(web::post().to(dev_clock::housekeeping)),
        );
    }
}

/// Any path no route matches.
pub async fn not_found(_req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

//! The assembled OpenAPI document: the handlers' paths (here) with the bodies and problem types of
//! the `openapi` crate. Served at `/openapi.json`, checked in at `openapi/openapi.json`.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Consent portal API",
        description = "Citizens' consents and privacy settings for health data, and the decisions \
downstream health services read from them. Errors are RFC 9457 problem+json with a stable `type` \
(`/problems/<slug>`). Identity numbers are never in a URL: they travel in JSON bodies.",
        version = "0.1.0"
    ),
    paths(
        routes::auth::login,
        routes::auth::callback,
        routes::auth::logout,
        routes::me::me,
        routes::terms::get_terms,
        routes::terms::accept,
        routes::terms::change_level,
        routes::terms::withdraw,
        routes::usage_log::page,
        routes::usage_log::since_last_login,
        routes::powers_of_attorney::service_areas,
        routes::powers_of_attorney::list,
        routes::powers_of_attorney::grant,
        routes::powers_of_attorney::accept,
        routes::powers_of_attorney::decline,
        routes::powers_of_attorney::revoke,
        routes::representations::list,
        routes::representations::service_use,
        routes::access_switches::get,
        routes::access_switches::set,
        routes::notices::notices,
        routes::summary_care_record::get,
        routes::summary_care_record::opt_out,
        routes::summary_care_record::restore,
        routes::summary_care_record::new_record,
        routes::summary_care_record::decide,
        routes::summary_care_record::decide_batch,
        routes::sharing::list_blocks,
        routes::sharing::add_block,
        routes::sharing::lift_block,
        routes::sharing::list_objections,
        routes::sharing::add_objection,
        routes::sharing::withdraw_objection,
        routes::sharing::openings,
        routes::sharing::decide,
        routes::sharing::decide_batch,
        routes::child_restrictions::register_refusal,
        routes::child_restrictions::register_denial,
        routes::child_restrictions::lift,
        routes::child_restrictions::query,
        routes::decisions::active_user,
        routes::decisions::active_user_batch,
        routes::representations::decide,
        routes::representations::decide_batch,
        routes::feed::feed,
        routes::access::report,
        routes::representations::jwks,
        routes::home::home,
        routes::health::live,
        routes::health::ready,
        routes::dev_clock::get,
        routes::dev_clock::set,
        routes::dev_clock::advance,
        routes::dev_clock::order_purges,
    ),
    components(schemas(
        openapi::problem::Problem,
        openapi::problem::FieldError,
        openapi::problem::WithdrawalBlockerBody,
    )),
    modifiers(&SecuritySchemes),
    tags(
        (name = "login", description = "OIDC login (ID-porten) and sessions"),
        (name = "citizen", description = "The logged-in citizen"),
        (name = "terms", description = "Consent to use the services"),
        (name = "usage-log", description = "Logg over bruk"),
        (name = "powers-of-attorney", description = "Fullmakter: given and received, with their history"),
        (name = "representations", description = "The person selector and acting on someone's behalf (X-Acting-For)"),
        (name = "access-switches", description = "Remove or re-open digital access (oneself, or a child as guardian)"),
        (name = "summary-care-record", description = "Kjernejournal: opt out, restore within 30 days, a new record after the purge; blocks of the record, its parts or named professionals; objections to sharing; openings shown to the citizen"),
        (name = "children", description = "For health personnel systems (JWT access tokens): a child's refusal and denials of guardians' access on weighty reasons"),
        (name = "decisions", description = "For downstream health services (JWT access tokens)"),
        (name = "operations", description = "Health checks"),
        (name = "dev", description = "Dev mode only (DEV_MODE=true): the settable clock"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            openapi::security::SESSION_COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "__Host-portal-session",
                "The session cookie set by /auth/callback. State-changing requests also need the \
X-CSRF-Token header (its value is in GET /api/v1/me).",
            ))),
        );
        components.add_security_scheme(
            openapi::security::SESSION_BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The same server-side session presented as a bearer token (mobile apps); no CSRF token needed.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            openapi::security::SERVICE_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An OAuth2 client-credentials access token (RFC 9068 at+jwt) from a trusted issuer, with the audience of this API and the scopes named per operation.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document as the checked-in file holds it.
pub fn document_json() -> String {
    let mut text = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checked-in contract must be what the code serves. To accept a change:
    /// `UPDATE_OPENAPI=1 cargo test -p api openapi` and review the diff.
    #[test]
    fn checked_in_openapi_json_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");
        let generated = document_json();
        if std::env::var("UPDATE_OPENAPI").is_ok() {
            std::fs::write(path, &generated).unwrap();
        }
        let checked_in = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            checked_in == generated,
            "openapi/openapi.json is out of date: run UPDATE_OPENAPI=1 cargo test -p api openapi"
        );
    }

    #[test]
    fn every_operation_declares_its_error_answers() {
        let doc = ApiDoc::openapi();
        for (path, item) in doc.paths.paths {
            let ops = [&item.get, &item.put, &item.post, &item.delete, &item.patch];
            for op in ops.into_iter().flatten() {
                let codes: Vec<&String> = op.responses.responses.keys().collect();
                assert!(
                    codes
                        .iter()
                        .any(|c| c.starts_with('4') || c.starts_with('5'))
                        || path == "/health/live"
                        || path == "/"
                        || path == "/api/v1/service-areas"
                        || path == "/.well-known/jwks.json",
                    "{path} declares no error response"
                );
            }
        }
    }
}

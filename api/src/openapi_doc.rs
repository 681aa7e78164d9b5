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
        routes::export::document,
        routes::export::usage_log_csv,
        routes::data_requests::file,
        routes::data_requests::list,
        routes::data_requests::one,
        routes::data_requests::queue,
        routes::data_requests::acknowledge,
        routes::data_requests::extend,
        routes::data_requests::answer,
        routes::data_requests::refuse,
        routes::contact_details::get,
        routes::contact_details::put,
        routes::contact_details::confirm,
        routes::contact_details::notifications,
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
        routes::fhir::search,
        routes::webhooks::register,
        routes::webhooks::list,
        routes::webhooks::remove,
        routes::webhooks::deliveries,
        routes::webhooks::change_deliveries,
        routes::access::report,
        routes::representations::jwks,
        routes::home::home,
        routes::health::live,
        routes::health::ready,
        routes::health::metrics,
        routes::dev_clock::get,
        routes::dev_clock::set,
        routes::dev_clock::advance,
        routes::dev_clock::order_purges,
        routes::dev_clock::reminders,
        routes::dev_clock::housekeeping,
    ),
    components(schemas(
        openapi::problem::Problem,
        openapi::problem::FieldError,
        openapi::problem::WithdrawalBlockerBody,
        openapi::webhooks::WebhookPayload,
    )),
    modifiers(&SecuritySchemes, &CommonResponses),
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
        (name = "data-requests", description = "Requests about one's personal data (insight, rectification, erasure, restriction, objection, portability) and their deadlines"),
        (name = "data-request-handling", description = "For the responsible organisation (JWT access tokens, data-requests:handle): the queue of open requests and each step"),
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

/// Answers every operation of a kind can give, declared once here rather than on each handler:
/// an operation with a body can be refused for its size (413) or media type (415), before its
/// own validation runs.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                if op.request_body.is_none() {
                    continue;
                }
                let responses = &mut op.responses.responses;
                for (code, description) in [
                    ("413", "Body too large (`payload-too-large`)"),
                    ("415", "Not JSON (`unsupported-media-type`)"),
                ] {
                    responses
                        .entry(code.to_owned())
                        .or_insert_with(|| problem(description).into());
                }
            }
        }
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

    /// The bodies that may go without an example, and why. Besides these, a response without
    /// content (204 No Content after logging out, the 302/303 redirects of the login) has no body
    /// to show, and only 2xx responses are looked at: an error body is a `Problem`, which has
    /// its own example.
    const WITHOUT_EXAMPLE: [(&str, &str, &str, &str); 1] = [(
        "get",
        "/",
        "200 text/html",
        "an HTML page for people, not a JSON body",
    )];

    /// The members of a JSON object; none for anything else.
    fn members(v: &serde_json::Value) -> impl Iterator<Item = (&String, &serde_json::Value)> {
        v.as_object().into_iter().flatten()
    }

    /// Whether `schema`, or the component schema its `$ref` names, has an example.
    fn schema_has_example(doc: &serde_json::Value, schema: &serde_json::Value) -> bool {
        let mut schema = schema;
        // A bound on the hops: a `$ref` cycle must not hang the test.
        for _ in 0..8 {
            if schema.get("example").is_some() || schema.get("examples").is_some() {
                return true;
            }
            let Some(name) = schema
                .get("$ref")
                .and_then(|r| r.as_str())
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            else {
                return false;
            };
            schema = &doc["components"]["schemas"][name];
        }
        false
    }

    /// Every request body and every 2xx response body shows a reader what it looks like: an
    /// example on its media type, or on its schema (usually `#[schema(example = json!(...))]` on
    /// the body type in the `openapi` crate). The contract test sends the request examples to
    /// the server, so they are checked there too.
    #[test]
    fn every_body_has_an_example() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let mut missing = Vec::new();
        let mut exempted = Vec::new();
        for (path, item) in members(&doc["paths"]) {
            for method in ["get", "put", "post", "delete", "patch"] {
                let Some(op) = item.get(method) else {
                    continue;
                };
                let mut bodies = Vec::new();
                for (media_type, media) in members(&op["requestBody"]["content"]) {
                    bodies.push((format!("request {media_type}"), media));
                }
                for (code, response) in members(&op["responses"]) {
                    if !code.starts_with('2') {
                        continue;
                    }
                    for (media_type, media) in members(&response["content"]) {
                        bodies.push((format!("{code} {media_type}"), media));
                    }
                }
                for (body, media) in bodies {
                    if media.get("example").is_some()
                        || media.get("examples").is_some()
                        || schema_has_example(&doc, &media["schema"])
                    {
                        continue;
                    }
                    if WITHOUT_EXAMPLE
                        .iter()
                        .any(|(m, p, b, _)| *m == method && p == path && *b == body)
                    {
                        exempted.push((method, path.clone(), body));
                        continue;
                    }
                    let id = op["operationId"].as_str().unwrap_or("?");
                    missing.push(format!("{} {path} ({id}): {body}", method.to_uppercase()));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "bodies without an example (give the body type #[schema(example = json!(...))]):\n{}",
            missing.join("\n")
        );
        for (method, path, body, reason) in WITHOUT_EXAMPLE {
            assert!(
                exempted
                    .iter()
                    .any(|(m, p, b)| *m == method && p == path && b == body),
                "{method} {path} {body} is excused ({reason}) but needs no excuse: drop it"
            );
        }
    }
}

//! The FHIR R4 `Consent` view of a citizen's settings, for machine clients (rendering:
//! `crate::fhir`). The identity number travels in the body of a FHIR search by POST, never in a
//! URL: `POST /api/v1/fhir/Consent/_search` with the form parameter `patient:identifier`
//! (`urn:oid:2.16.578.1.12.4.1.4.1|<11 digits>`, or the digits alone), or the house style JSON
//! body `{"pid": "<11 digits>"}`.

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use domain::consent;
use domain::identity::NationalId;
use openapi::problem::Problem;
use openapi::summary_care_record::SummaryCareRecordQuery;
use persistence::{citizens, powers_of_attorney, sharing, summary_care_records};

use crate::auth::service::{ConsentRead, ServiceClient};
use crate::error::ApiError;
use crate::extract::parse;
use crate::fhir::{bundle, consents, Facts};
use crate::routes::powers_of_attorney::registered;
use crate::state::AppState;

pub const FHIR_JSON: &str = "application/fhir+json";
/// The OIDs of the Norwegian national identity number and D-number.
const ID_SYSTEMS: [&str; 2] = [
    "urn:oid:2.16.578.1.12.4.1.4.1",
    "urn:oid:2.16.578.1.12.4.1.4.2",
];
const MAX_BODY: usize = 4096;

/// The identity number of a search body, and the name of the field it came in.
fn searched_pid(req: &HttpRequest, body: &[u8]) -> Result<(String, &'static str), ApiError> {
    if body.len() > MAX_BODY {
        return Err(ApiError::PayloadTooLarge { limit: MAX_BODY });
    }
    let essence = req
        .mime_type()
        .ok()
        .flatten()
        .map(|m| m.essence_str().to_owned());
    match essence.as_deref() {
        Some("application/x-www-form-urlencoded") => {
            let field = "patient:identifier";
            let value = url::form_urlencoded::parse(body)
                .find(|(k, _)| k == field || k == "patient.identifier")
                .map(|(_, v)| v.into_owned())
                .ok_or_else(|| ApiError::validation(field, "required"))?;
            match value.split_once('|') {
                None => Ok((value, field)),
                Some((system, pid)) if ID_SYSTEMS.contains(&system) => Ok((pid.to_owned(), field)),
                Some(_) => Err(ApiError::validation(
                    field,
                    "the system must be the national identity number's or the D-number's OID",
                )),
            }
        }
        Some("application/json") | Some(FHIR_JSON) => {
            Ok((parse::<SummaryCareRecordQuery>(body)?.pid, "pid"))
        }
        _ => Err(ApiError::UnsupportedMediaType),
    }
}

/// Search a citizen's `Consent` resources: the terms consent, a summary care record opt-out,
/// blocks, objections to sharing and the powers of attorney they gave, as a FHIR R4 `searchset`
/// Bundle.
#[utoipa::path(
    post, path = "/api/v1/fhir/Consent/_search", tag = "decisions",
    security(("service_token" = ["consent:read"])),
    request_body(
        content = SummaryCareRecordQuery,
        description = "`application/x-www-form-urlencoded` with `patient:identifier=urn:oid:2.16.578.1.12.4.1.4.1|<11 digits>` (the FHIR way), or this JSON body",
    ),
    responses(
        (status = 200, description = "A FHIR R4 Bundle (searchset) of Consent resources", content_type = "application/fhir+json", body = Object,
         example = json!({"resourceType": "Bundle", "type": "searchset", "total": 1, "entry": [{"search": {"mode": "match"}, "resource": {
            "resourceType": "Consent", "id": "2b0c7f9e-terms", "status": "active",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"identifier": {"system": "urn:consent-portal:citizen", "value": "2b0c7f9e"}},
            "dateTime": "2026-11-30T08:00:00Z",
            "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
            "provision": {"type": "permit", "period": {"start": "2026-11-30T08:00:00Z"}}}}]})),
        (status = 400, description = "A bad identity number or body (`validation-failed`, `malformed-json`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid access token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `consent:read` (`insufficient-scope`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large (`payload-too-large`)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither a form nor JSON (`unsupported-media-type`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn search(
    req: HttpRequest,
    state: web::Data<AppState>,
    _client: ServiceClient<ConsentRead>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (raw, field) = searched_pid(&req, &body)?;
    let pid = NationalId::parse(&raw, state.config.id_policy())
        .map_err(|e| ApiError::validation(field, e.to_string()))?;
    let now = state.now();
    let config = state.config.clone();
    let facts = state
        .tx(move |conn| {
            let Some(c) = citizens::find_by_national_id(conn, &pid)? else {
                return Ok(None);
            };
            let alive = registered(conn, &c.id, &config)?.is_none_or(|p| p.is_alive_at(now));
            let terms = c.consent.as_ref().map(|t| {
                (
                    consent::status(Some(t), &config.terms_version),
                    t.accepted_at,
                )
            });
            Ok(Some(Facts {
                terms,
                record: summary_care_records::get(conn, &c.id)?,
                choices: sharing::listed(conn, &c.id)?,
                grants: powers_of_attorney::of_party(conn, &c.id)?,
                alive,
                subject_id: c.id,
            }))
        })
        .await?;
    // A citizen the portal has never seen has no settings: an empty searchset.
    let resources = facts.map_or_else(Vec::new, |f| consents(&f, now));
    Ok(HttpResponse::Ok()
        .content_type(FHIR_JSON)
        .body(bundle(resources).to_string()))
}

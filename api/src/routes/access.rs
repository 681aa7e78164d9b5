//! Access reporting: downstream systems write their accesses into the citizen's usage log, once
//! per `Idempotency-Key` (same key and body: the same answer again; same key, other body: 422;
//! while the first is still running: 409).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use domain::identity::NationalId;
use domain::usage_log::ActorKind;
use openapi::access::{AccessBasis, AccessRecorded, AccessReport};
use openapi::problem::Problem;
use persistence::{citizens, idempotency};
use sha2::{Digest, Sha256};

use crate::audit::{self, Actor, Feed};
use crate::auth::service::{AccessLogWrite, ServiceClient};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;
use crate::views::area_domain;

pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// The change-feed event of an access reported with the emergency basis.
pub(crate) const EMERGENCY_ACCESS: &str = "access.emergency_reported";

pub fn text(field: &str, value: &str) -> Result<(), ApiError> {
    crate::extract::free_text(field, value, 200, false)
}

pub fn digits(field: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    if !(min..=max).contains(&value.len()) || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::validation(
            field,
            format!("{min} to {max} digits"),
        ));
    }
    Ok(())
}

fn validate(r: &AccessReport) -> Result<(), ApiError> {
    if r.accessed_until.is_some_and(|until| until < r.accessed_at) {
        return Err(ApiError::validation(
            "accessed_until",
            "not before accessed_at",
        ));
    }
    text("information_object", &r.information_object)?;
    digits("professional.hpr_number", &r.professional.hpr_number, 1, 9)?;
    text("professional.name", &r.professional.name)?;
    text("professional.role", &r.professional.role)?;
    digits("organisation.number", &r.organisation.number, 9, 9)?;
    text("organisation.name", &r.organisation.name)?;
    text("calling_system", &r.calling_system)
}

fn basis_name(b: AccessBasis) -> &'static str {
    match b {
        AccessBasis::Consent => "consent",
        AccessBasis::Emergency => "emergency",
        AccessBasis::OrdinaryCare => "ordinary_care",
    }
}

/// Report an access to a citizen's data. Send an `Idempotency-Key`; retry with the same key.
#[utoipa::path(
    post, path = "/api/v1/access-reports", tag = "decisions",
    security(("service_token" = ["access-log:write"])),
    params(("Idempotency-Key" = String, Header, description = "1-255 visible ASCII characters, unique per access; a retry sends the same key and body. A key is remembered for 7 days from its first use; after that it is free again and a request with it is a new report")),
    request_body = AccessReport,
    responses(
        (status = 201, body = AccessRecorded),
        (status = 400, description = "Invalid body or key (`validation-failed`, `malformed-json`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid access token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `access-log:write` (`insufficient-scope`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A request with this key is still running (`idempotency-key-in-progress`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large (`payload-too-large`)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON (`unsupported-media-type`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The key was used with another body (`idempotency-key-reused`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn report(
    req: HttpRequest,
    state: web::Data<AppState>,
    client: ServiceClient<AccessLogWrite>,
    body: JsonBody<AccessReport>,
) -> Result<HttpResponse, ApiError> {
    let key = req
        .headers()
        .get(IDEMPOTENCY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::validation("Idempotency-Key", "1 to 255 visible ASCII characters")
        })?;
    let report = body.into_inner()?;
    let pid = NationalId::parse(&report.pid, state.config.id_policy())
        .map_err(|e| ApiError::validation("pid", e.to_string()))?;
    validate(&report)?;
    // The same request is the same body, field by field.
    let request_hash = hex::encode(Sha256::digest(
        serde_json::to_vec(&report).unwrap_or_default(),
    ));
    let now = state.now();
    let client_id = client.client_id.clone();

    let (c, k, h) = (client_id.clone(), key.clone(), request_hash.clone());
    let claim = state
        .tx(move |conn| Ok(idempotency::claim(conn, &c, &k, &h, now)?))
        .await?;
    match claim {
        idempotency::Claim::Claimed => {}
        idempotency::Claim::Done { status, body } => {
            return Ok(
                HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
                    .content_type("application/json")
                    .body(body),
            );
        }
        idempotency::Claim::InProgress => return Err(ApiError::IdempotencyKeyInProgress),
        idempotency::Claim::OtherRequest => return Err(ApiError::IdempotencyKeyReused),
    }

    let emergency = report.basis == AccessBasis::Emergency;
    if emergency {
        tracing::warn!(target: "security", client_id, "emergency access reported");
    }
    let mut details = serde_json::json!({
        "accessed_at": report.accessed_at,
        "accessed_until": report.accessed_until,
        "information_object": report.information_object,
        "professional": {
            "hpr_number": report.professional.hpr_number,
            "name": report.professional.name,
            "role": report.professional.role,
        },
        "organisation": {
            "number": report.organisation.number,
            "name": report.organisation.name,
        },
        "basis": basis_name(report.basis),
        "changed": report.changed,
        "calling_system": report.calling_system,
    });
    if let Some(area) = report.area {
        // Guardians see a child's entry only when its area is visible to them.
        details["area"] = area_domain(area).as_str().into();
    }
    let (c, k) = (client_id.clone(), key.clone());
    let recorded = state
        .tx(move |conn| {
            let citizen =
                citizens::find_or_create(conn, &pid, || uuid::Uuid::new_v4().to_string(), now)?;
            let actor = Actor {
                kind: ActorKind::Service,
                id: c.clone(),
            };
            let entry = audit::record(
                conn,
                &citizen.id,
                &actor,
                "access.reported",
                details.clone(),
                now,
                Feed::LogOnly,
            )?;
            let answer = AccessRecorded {
                subject_id: citizen.id,
                seq: entry.seq,
            };
            let text = serde_json::to_string(&answer).unwrap_or_default();
            idempotency::complete(conn, &c, &k, 201, &text)?;
            if emergency {
                // Emergency accesses are always shown and notified (DESIGN §2.8): the event is
                // what the notification path reads. Last write: see `audit::publish`.
                audit::publish(conn, &answer.subject_id, EMERGENCY_ACCESS, answer.seq, now)?;
            }
            Ok(text)
        })
        .await;
    match recorded {
        Ok(text) => Ok(HttpResponse::Created()
            .content_type("application/json")
            .body(text)),
        Err(e) => {
            // Give the key back so that the client's retry can succeed.
            let _ = state
                .tx(move |conn| Ok(idempotency::release(conn, &client_id, &key)?))
                .await;
            Err(e)
        }
    }
}

//! The API's errors and their one mapping to RFC 9457 problem+json answers.
//!
//! Each variant maps to exactly one [`ProblemType`]. Unexpected failures become an opaque 500
//! whose detail goes only to the log, with the request id that the answer also carries.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use domain::consent::ConsentError;
use domain::data_requests::RequestError;
use domain::guardianship::RestrictionRefused;
use domain::powers_of_attorney::{GrantRefusal, LifecycleError};
use domain::sharing::SharingError;
use domain::summary_care_record::RecordError;
use openapi::problem::{FieldError, Problem, ProblemType, WithdrawalBlockerBody};
use persistence::{StoreError, TxError};
use thiserror::Error;

use crate::telemetry::current_request_id;

#[derive(Debug, Error)]
pub enum ApiError {
    #[error("not authenticated")]
    Unauthenticated,
    #[error("session expired")]
    SessionExpired,
    #[error("CSRF token missing or wrong")]
    CsrfFailed,
    #[error("assurance level too low for a change")]
    StepUpRequired { required_acr: String },
    #[error("terms of use not accepted")]
    ConsentRequired,
    /// The reason is for the log only; the client learns only that the token is not valid.
    #[error("invalid service token: {0}")]
    InvalidToken(String),
    #[error("missing scope {0}")]
    InsufficientScope(&'static str),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("payload too large")]
    PayloadTooLarge { limit: usize },
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed { allow: &'static str },
    #[error("consent rule: {0}")]
    Consent(#[from] ConsentError),
    #[error("login state invalid: {0}")]
    LoginStateInvalid(&'static str),
    /// The reason is for the log only.
    #[error("login failed: {0}")]
    LoginFailed(String),
    #[error("identity not accepted: {0}")]
    IdentityNotAccepted(domain::identity::IdError),
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal: {0}")]
    Internal(String),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("grant refused: {0}")]
    Grant(GrantRefusal),
    #[error("power of attorney: {0}")]
    Lifecycle(#[from] LifecycleError),
    #[error("not allowed on someone's behalf")]
    NotAllowedOnBehalf,
    #[error("area not covered by the representation")]
    AreaNotCovered,
    #[error("idempotency key used with another body")]
    IdempotencyKeyReused,
    #[error("idempotency key in progress")]
    IdempotencyKeyInProgress,
    #[error("restriction refused: {0}")]
    Restriction(#[from] RestrictionRefused),
    #[error("not in the population register")]
    NotInRegister,
    #[error("restriction already lifted")]
    AlreadyLifted,
    #[error("digital access removed")]
    DigitalAccessRemoved,
    #[error("summary care record: {0}")]
    Record(#[from] RecordError),
    #[error("sharing: {0}")]
    Sharing(#[from] SharingError),
    #[error("confirmation link invalid")]
    ConfirmationLinkInvalid,
    #[error("data request: {0}")]
    DataRequest(#[from] RequestError),
}

impl ApiError {
    pub fn validation(field: &str, detail: impl Into<String>) -> ApiError {
        ApiError::Validation(vec![FieldError {
            field: field.to_owned(),
            detail: detail.into(),
        }])
    }

    fn problem_type(&self) -> ProblemType {
        match self {
            ApiError::Unauthenticated => ProblemType::Unauthenticated,
            ApiError::SessionExpired => ProblemType::SessionExpired,
            ApiError::CsrfFailed => ProblemType::CsrfFailed,
            ApiError::StepUpRequired { .. } => ProblemType::StepUpRequired,
            ApiError::ConsentRequired => ProblemType::ConsentRequired,
            ApiError::InvalidToken(_) => ProblemType::InvalidToken,
            ApiError::InsufficientScope(_) => ProblemType::InsufficientScope,
            ApiError::Validation(_) => ProblemType::ValidationFailed,
            ApiError::MalformedJson(_) => ProblemType::MalformedJson,
            ApiError::UnsupportedMediaType => ProblemType::UnsupportedMediaType,
            ApiError::PayloadTooLarge { .. } => ProblemType::PayloadTooLarge,
            ApiError::NotFound => ProblemType::NotFound,
            ApiError::MethodNotAllowed { .. } => ProblemType::MethodNotAllowed,
            ApiError::Consent(e) => match e {
                ConsentError::NotCurrentVersion { .. } => ProblemType::TermsNotInForce,
                ConsentError::AlreadyAccepted => ProblemType::AlreadyAccepted,
                ConsentError::NotAccepted => ProblemType::NotAccepted,
                ConsentError::SameLevel => ProblemType::SameLevel,
                ConsentError::WithdrawalBlocked { .. } => ProblemType::WithdrawalBlocked,
            },
            ApiError::LoginStateInvalid(_) => ProblemType::LoginStateInvalid,
            ApiError::LoginFailed(_) => ProblemType::LoginFailed,
            ApiError::IdentityNotAccepted(_) => ProblemType::IdentityNotAccepted,
            ApiError::Unavailable(_) => ProblemType::Unavailable,
            ApiError::Internal(_) => ProblemType::Internal,
            ApiError::Store(StoreError::Pool(_) | StoreError::Connect(_)) => {
                ProblemType::Unavailable
            }
            ApiError::Store(_) => ProblemType::Internal,
            ApiError::Grant(r) => match r {
                GrantRefusal::SelfGrant => ProblemType::SelfGrant,
                GrantRefusal::GrantorUnder16 => ProblemType::GrantorUnder16,
                GrantRefusal::GranteeUnder18 => ProblemType::GranteeUnder18,
                GrantRefusal::Duplicate => ProblemType::DuplicateGrant,
                GrantRefusal::GrantorWithoutConsent => ProblemType::ConsentRequired,
                GrantRefusal::NoAreas | GrantRefusal::EndNotInFuture => {
                    ProblemType::ValidationFailed
                }
                GrantRefusal::CannotBeGranted => ProblemType::CannotBeGranted,
            },
            ApiError::NotAllowedOnBehalf => ProblemType::NotAllowedOnBehalf,
            ApiError::AreaNotCovered => ProblemType::AreaNotCovered,
            ApiError::IdempotencyKeyReused => ProblemType::IdempotencyKeyReused,
            ApiError::IdempotencyKeyInProgress => ProblemType::IdempotencyKeyInProgress,
            ApiError::Restriction(e) => match e {
                RestrictionRefused::UnderTwelve | RestrictionRefused::SixteenOrOver => {
                    ProblemType::ChildAgeNotEligible
                }
                RestrictionRefused::NotAGuardian => ProblemType::NotAGuardian,
                RestrictionRefused::ChildDead => ProblemType::PersonDeceased,
            },
            ApiError::NotInRegister => ProblemType::NotInRegister,
            ApiError::AlreadyLifted => ProblemType::AlreadyLifted,
            ApiError::DigitalAccessRemoved => ProblemType::DigitalAccessRemoved,
            ApiError::ConfirmationLinkInvalid => ProblemType::ConfirmationLinkInvalid,
            ApiError::DataRequest(e) => match e {
                RequestError::Closed => ProblemType::RequestClosed,
                RequestError::AlreadyAcknowledged => ProblemType::AlreadyAcknowledged,
                RequestError::AlreadyExtended => ProblemType::AlreadyExtended,
                RequestError::ExtensionTooLate => ProblemType::ExtensionTooLate,
                // The handlers check these fields first; kept for completeness.
                RequestError::ReasonRequired
                | RequestError::ProvisionRequired
                | RequestError::AnswerRequired => ProblemType::ValidationFailed,
            },
            ApiError::Sharing(e) => match e {
                SharingError::AlreadyBlocked => ProblemType::AlreadyBlocked,
                SharingError::AlreadyObjected => ProblemType::AlreadyObjected,
            },
            ApiError::Record(e) => match e {
                RecordError::AlreadyOptedOut => ProblemType::AlreadyOptedOut,
                RecordError::NotOptedOut => ProblemType::NotOptedOut,
                RecordError::RestoreWindowClosed => ProblemType::RestoreWindowClosed,
                RecordError::RestoreStillPossible { .. } => ProblemType::RestoreStillPossible,
                RecordError::AlreadyActive => ProblemType::RecordActive,
            },
            ApiError::Lifecycle(e) => match e {
                LifecycleError::NotTheGrantee => ProblemType::NotTheGrantee,
                LifecycleError::NotPending => ProblemType::NotPending,
                LifecycleError::AlreadyEnded => ProblemType::AlreadyEnded,
            },
        }
    }

    /// The problem body. Only details that are safe to show are copied in.
    pub fn to_problem(&self) -> Problem {
        let mut p = Problem::new(self.problem_type());
        p.request_id = current_request_id();
        match self {
            ApiError::StepUpRequired { required_acr } => {
                p.required_acr = Some(required_acr.clone());
                p.detail = Some(format!(
                    "Log in again with acr_values={required_acr} (GET /auth/login?acr_values={required_acr})."
                ));
            }
            ApiError::InsufficientScope(scope) => {
                p.detail = Some(format!("This endpoint needs the scope {scope}."));
            }
            ApiError::Validation(errors) => p.errors.clone_from(errors),
            ApiError::MalformedJson(detail) => p.detail = Some(detail.clone()),
            ApiError::PayloadTooLarge { limit } => {
                p.detail = Some(format!("The limit is {limit} bytes."));
            }
            ApiError::Consent(ConsentError::NotCurrentVersion { in_force }) => {
                p.detail = Some(format!("The terms in force are version {in_force}."));
            }
            ApiError::Consent(ConsentError::WithdrawalBlocked { blockers }) => {
                p.blockers = blockers
                    .iter()
                    .map(|b| WithdrawalBlockerBody {
                        kind: serde_plain(&b.kind),
                        id: b.id.clone(),
                        state: serde_plain(&b.state),
                    })
                    .collect();
            }
            ApiError::IdentityNotAccepted(e) => p.detail = Some(e.to_string()),
            ApiError::Restriction(e) => p.detail = Some(e.to_string()),
            ApiError::Record(RecordError::RestoreStillPossible { until }) => {
                p.detail = Some(format!(
                    "It can be restored until {}.",
                    until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ));
            }
            _ => {}
        }
        p
    }
}

/// A unit enum serialised by serde as a plain string.
fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.problem_type().status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            ApiError::Internal(_) | ApiError::Unavailable(_) | ApiError::Store(_) => {
                tracing::error!(error = %self, "request failed");
            }
            ApiError::InvalidToken(_)
            | ApiError::CsrfFailed
            | ApiError::LoginFailed(_)
            | ApiError::LoginStateInvalid(_) => {
                tracing::warn!(target: "security", error = %self, "request refused");
            }
            _ => tracing::info!(problem = self.problem_type().slug(), "request refused"),
        }
        let mut res = HttpResponse::build(status);
        res.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        if let ApiError::InvalidToken(_) = self {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\""));
        }
        if let ApiError::MethodNotAllowed { allow } = self {
            res.insert_header((header::ALLOW, *allow));
        }
        if let ApiError::InsufficientScope(scope) = self {
            res.insert_header((
                header::WWW_AUTHENTICATE,
                format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\""),
            ));
        }
        res.body(serde_json::to_string(&self.to_problem()).unwrap_or_default())
    }
}

impl From<persistence::DieselError> for ApiError {
    fn from(e: persistence::DieselError) -> ApiError {
        ApiError::Store(StoreError::Database(e))
    }
}

impl TxError for ApiError {
    fn is_retryable(&self) -> bool {
        matches!(self, ApiError::Store(e) if e.is_retryable())
    }
}

//! RFC 9457 problem details. Every error the API answers has a stable `type` from [`ProblemType`].

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The stable catalogue of problem types. The `type` member is `/problems/<slug>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemType {
    Unauthenticated,
    SessionExpired,
    CsrfFailed,
    StepUpRequired,
    ConsentRequired,
    InvalidToken,
    InsufficientScope,
    ValidationFailed,
    MalformedJson,
    UnsupportedMediaType,
    PayloadTooLarge,
    NotFound,
    MethodNotAllowed,
    TermsNotInForce,
    AlreadyAccepted,
    SameLevel,
    NotAccepted,
    WithdrawalBlocked,
    LoginStateInvalid,
    LoginFailed,
    IdentityNotAccepted,
    CannotBeGranted,
    GrantorUnder16,
    GranteeUnder18,
    SelfGrant,
    DuplicateGrant,
    NotTheGrantee,
    NotPending,
    AlreadyEnded,
    NotAllowedOnBehalf,
    AreaNotCovered,
    IdempotencyKeyReused,
    IdempotencyKeyInProgress,
    ChildAgeNotEligible,
    NotAGuardian,
    NotInRegister,
    PersonDeceased,
    AlreadyLifted,
    DigitalAccessRemoved,
    AlreadyOptedOut,
    NotOptedOut,
    RestoreWindowClosed,
    RestoreStillPossible,
    RecordActive,
    AlreadyBlocked,
    AlreadyObjected,
    ConfirmationLinkInvalid,
    RequestClosed,
    AlreadyAcknowledged,
    AlreadyExtended,
    ExtensionTooLate,
    Internal,
    Unavailable,
}

impl ProblemType {
    pub fn slug(self) -> &'static str {
        match self {
            ProblemType::Unauthenticated => "unauthenticated",
            ProblemType::SessionExpired => "session-expired",
            ProblemType::CsrfFailed => "csrf-failed",
            ProblemType::StepUpRequired => "step-up-required",
            ProblemType::ConsentRequired => "consent-required",
            ProblemType::InvalidToken => "invalid-token",
            ProblemType::InsufficientScope => "insufficient-scope",
            ProblemType::ValidationFailed => "validation-failed",
            ProblemType::MalformedJson => "malformed-json",
            ProblemType::UnsupportedMediaType => "unsupported-media-type",
            ProblemType::PayloadTooLarge => "payload-too-large",
            ProblemType::NotFound => "not-found",
            ProblemType::MethodNotAllowed => "method-not-allowed",
            ProblemType::TermsNotInForce => "terms-not-in-force",
            ProblemType::AlreadyAccepted => "already-accepted",
            ProblemType::SameLevel => "same-level",
            ProblemType::NotAccepted => "not-accepted",
            ProblemType::WithdrawalBlocked => "withdrawal-blocked",
            ProblemType::LoginStateInvalid => "login-state-invalid",
            ProblemType::LoginFailed => "login-failed",
            ProblemType::IdentityNotAccepted => "identity-not-accepted",
            ProblemType::CannotBeGranted => "cannot-be-granted",
            ProblemType::GrantorUnder16 => "grantor-under-16",
            ProblemType::GranteeUnder18 => "grantee-under-18",
            ProblemType::SelfGrant => "self-grant",
            ProblemType::DuplicateGrant => "duplicate-grant",
            ProblemType::NotTheGrantee => "not-the-grantee",
            ProblemType::NotPending => "not-pending",
            ProblemType::AlreadyEnded => "already-ended",
            ProblemType::NotAllowedOnBehalf => "not-allowed-on-behalf",
            ProblemType::AreaNotCovered => "area-not-covered",
            ProblemType::IdempotencyKeyReused => "idempotency-key-reused",
            ProblemType::IdempotencyKeyInProgress => "idempotency-key-in-progress",
            ProblemType::ChildAgeNotEligible => "child-age-not-eligible",
            ProblemType::NotAGuardian => "not-a-guardian",
            ProblemType::NotInRegister => "not-in-register",
            ProblemType::PersonDeceased => "person-deceased",
            ProblemType::AlreadyLifted => "already-lifted",
            ProblemType::DigitalAccessRemoved => "digital-access-removed",
            ProblemType::AlreadyOptedOut => "already-opted-out",
            ProblemType::NotOptedOut => "not-opted-out",
            ProblemType::RestoreWindowClosed => "restore-window-closed",
            ProblemType::RestoreStillPossible => "restore-still-possible",
            ProblemType::RecordActive => "record-active",
            ProblemType::AlreadyBlocked => "already-blocked",
            ProblemType::AlreadyObjected => "already-objected",
            ProblemType::ConfirmationLinkInvalid => "confirmation-link-invalid",
            ProblemType::RequestClosed => "request-closed",
            ProblemType::AlreadyAcknowledged => "already-acknowledged",
            ProblemType::AlreadyExtended => "already-extended",
            ProblemType::ExtensionTooLate => "extension-too-late",
            ProblemType::Internal => "internal",
            ProblemType::Unavailable => "unavailable",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            ProblemType::Unauthenticated
            | ProblemType::SessionExpired
            | ProblemType::InvalidToken => 401,
            ProblemType::CsrfFailed
            | ProblemType::StepUpRequired
            | ProblemType::ConsentRequired
            | ProblemType::InsufficientScope
            | ProblemType::IdentityNotAccepted => 403,
            ProblemType::ValidationFailed
            | ProblemType::MalformedJson
            | ProblemType::LoginStateInvalid
            | ProblemType::LoginFailed => 400,
            ProblemType::UnsupportedMediaType => 415,
            ProblemType::PayloadTooLarge => 413,
            ProblemType::NotFound => 404,
            ProblemType::MethodNotAllowed => 405,
            ProblemType::TermsNotInForce
            | ProblemType::CannotBeGranted
            | ProblemType::GrantorUnder16
            | ProblemType::GranteeUnder18
            | ProblemType::SelfGrant
            | ProblemType::IdempotencyKeyReused
            | ProblemType::ChildAgeNotEligible
            | ProblemType::NotAGuardian
            | ProblemType::NotInRegister
            | ProblemType::PersonDeceased => 422,
            ProblemType::AlreadyLifted
            | ProblemType::AlreadyOptedOut
            | ProblemType::NotOptedOut
            | ProblemType::RestoreStillPossible
            | ProblemType::RecordActive
            | ProblemType::AlreadyBlocked
            | ProblemType::AlreadyObjected
            | ProblemType::RequestClosed
            | ProblemType::AlreadyAcknowledged
            | ProblemType::AlreadyExtended
            | ProblemType::ExtensionTooLate => 409,
            ProblemType::RestoreWindowClosed | ProblemType::ConfirmationLinkInvalid => 410,
            ProblemType::DigitalAccessRemoved => 403,
            ProblemType::IdempotencyKeyInProgress => 409,
            ProblemType::NotTheGrantee
            | ProblemType::NotAllowedOnBehalf
            | ProblemType::AreaNotCovered => 403,
            ProblemType::DuplicateGrant | ProblemType::NotPending | ProblemType::AlreadyEnded => {
                409
            }
            ProblemType::AlreadyAccepted
            | ProblemType::SameLevel
            | ProblemType::NotAccepted
            | ProblemType::WithdrawalBlocked => 409,
            ProblemType::Internal => 500,
            ProblemType::Unavailable => 503,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            ProblemType::Unauthenticated => "You are not logged in",
            ProblemType::SessionExpired => "Your session has ended; log in again",
            ProblemType::CsrfFailed => "The request's CSRF token is missing or wrong",
            ProblemType::StepUpRequired => "This change needs a login at a higher assurance level",
            ProblemType::ConsentRequired => "Accept the terms of use before using this service",
            ProblemType::InvalidToken => "The access token is missing or not valid",
            ProblemType::InsufficientScope => "The access token lacks a scope this endpoint needs",
            ProblemType::ValidationFailed => "The request has invalid fields",
            ProblemType::MalformedJson => "The request body is not valid JSON",
            ProblemType::UnsupportedMediaType => "The request body must be application/json",
            ProblemType::PayloadTooLarge => "The request body is too large",
            ProblemType::NotFound => "Not found",
            ProblemType::MethodNotAllowed => "Method not allowed",
            ProblemType::TermsNotInForce => "That is not the version of the terms in force",
            ProblemType::AlreadyAccepted => "The terms in force are already accepted at this level",
            ProblemType::SameLevel => "The consent is already at this level",
            ProblemType::NotAccepted => "The terms of use have not been accepted",
            ProblemType::WithdrawalBlocked => {
                "End every power of attorney before withdrawing the consent"
            }
            ProblemType::LoginStateInvalid => "This login link is not valid; start the login again",
            ProblemType::LoginFailed => "The login could not be completed; start it again",
            ProblemType::IdentityNotAccepted => "This identity cannot be used with the portal",
            ProblemType::CannotBeGranted => "This power of attorney cannot be granted",
            ProblemType::GrantorUnder16 => "A power of attorney can be given from the age of 16",
            ProblemType::GranteeUnder18 => {
                "A power of attorney can be given only to a person aged 18 or over"
            }
            ProblemType::SelfGrant => "A power of attorney cannot be given to oneself",
            ProblemType::DuplicateGrant => "The same power of attorney is already in place",
            ProblemType::NotTheGrantee => "Only the person who received it can accept or decline",
            ProblemType::NotPending => "The power of attorney is not waiting for an answer",
            ProblemType::AlreadyEnded => "The power of attorney has already ended",
            ProblemType::NotAllowedOnBehalf => {
                "This cannot be done on someone else's behalf; send the request without X-Acting-For"
            }
            ProblemType::IdempotencyKeyReused => {
                "This Idempotency-Key was used with another request body"
            }
            ProblemType::IdempotencyKeyInProgress => {
                "A request with this Idempotency-Key is still being processed; retry shortly"
            }
            ProblemType::AreaNotCovered => {
                "Acting for this person does not reach this service area"
            }
            ProblemType::ChildAgeNotEligible => {
                "The child's age does not allow this restriction (refusals from 12 to 16, denials under 16)"
            }
            ProblemType::NotAGuardian => {
                "The population register does not show this person with parental responsibility for the child"
            }
            ProblemType::NotInRegister => "The population register does not know this person",
            ProblemType::PersonDeceased => "The population register records this person as dead",
            ProblemType::AlreadyLifted => "It has already been lifted",
            ProblemType::AlreadyBlocked => "A block of this kind is already in force",
            ProblemType::AlreadyObjected => "An objection against them is already in force",
            ProblemType::RequestClosed => "The request is already answered or refused",
            ProblemType::AlreadyAcknowledged => "The request is already acknowledged",
            ProblemType::AlreadyExtended => "The deadline is already extended",
            ProblemType::ExtensionTooLate => {
                "An extension must be announced before the first deadline has passed"
            }
            ProblemType::ConfirmationLinkInvalid => {
                "This confirmation link is unknown, used or expired; set the address again for a new one"
            }
            ProblemType::DigitalAccessRemoved => {
                "Digital access to these services is removed; re-open it under access settings"
            }
            ProblemType::AlreadyOptedOut => "The summary care record is already opted out of",
            ProblemType::NotOptedOut => "The summary care record is not opted out of",
            ProblemType::RestoreWindowClosed => {
                "The 30 days to restore have passed and the data is deleted; you can ask for a new, empty summary care record"
            }
            ProblemType::RestoreStillPossible => {
                "The opted-out summary care record can still be restored; restore it, or wait until the deadline for a new one"
            }
            ProblemType::RecordActive => "The summary care record is active",
            ProblemType::Internal => "Something went wrong on our side",
            ProblemType::Unavailable => "The service is temporarily unavailable",
        }
    }

    pub fn type_uri(self) -> String {
        format!("/problems/{}", self.slug())
    }
}

/// An RFC 9457 problem details object (`application/problem+json`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "/problems/validation-failed", "title": "The request has invalid fields", "status": 400,
    "request_id": "0438bb40-5095-4c3e-9cce-0115d010325e",
    "errors": [{"field": "pid", "detail": "the identity number's check digits do not match"}]
}))]
pub struct Problem {
    /// A stable URI reference naming the kind of problem, e.g. `/problems/consent-required`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The server's id of this request, also in the `x-request-id` response header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Validation errors: one per field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For `step-up-required`: the `acr_values` to log in with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_acr: Option<String>,
    /// For `withdrawal-blocked`: what must end first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blockers: Vec<WithdrawalBlockerBody>,
}

/// One invalid field.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// The field's JSON path, e.g. `level` or `items[2].pid`.
    pub field: String,
    pub detail: String,
}

/// A power of attorney that stops a withdrawal of the terms consent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WithdrawalBlockerBody {
    /// `power_of_attorney_given` or `power_of_attorney_held`.
    pub kind: String,
    /// The power of attorney's opaque id.
    pub id: String,
    /// `active` or `pending`.
    pub state: String,
}

impl Problem {
    pub fn new(t: ProblemType) -> Problem {
        Problem {
            problem_type: t.type_uri(),
            title: t.title().to_owned(),
            status: t.status(),
            detail: None,
            request_id: None,
            errors: Vec::new(),
            required_acr: None,
            blockers: Vec::new(),
        }
    }
}

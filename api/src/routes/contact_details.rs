//! The citizen's own contact details, the one-time link that confirms an email address, and the
//! list of messages the portal planned for them (DESIGN §2.10). Guardians and grantees use their
//! own details for what concerns them: nothing here is done on someone's behalf.

use std::str::FromStr;

use actix_web::web;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, SubsecRound};
use domain::notifications::{phone_is_valid, Kind, Language};
use domain::usage_log::ActorKind;
use openapi::contacts::{
    ConfirmationQuery, ContactDetails, EmailConfirmed, LanguageBody, NewContactDetails,
    NotificationBody, NotificationList, NotificationStatus,
};
use openapi::problem::Problem;
use persistence::notifications::{self as store, Contact};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::audit::{self, Actor, Feed};
use crate::auth::citizen::ConsentedCitizen;
use crate::error::ApiError;
use crate::extract::{JsonBody, Query};
use crate::notify::{plan, StoredFacts};
use crate::state::AppState;

/// How long a confirmation link works.
const CONFIRMATION_HOURS: i64 = 24;
/// The longest address SMTP carries (RFC 5321's path limit less the brackets).
const MAX_EMAIL: usize = 254;
const NOTIFICATIONS_SHOWN: i64 = 50;

fn language_body(l: &str) -> LanguageBody {
    match Language::parse(l).unwrap_or_default() {
        Language::Nb => LanguageBody::Nb,
        Language::En => LanguageBody::En,
    }
}

fn language_domain(l: LanguageBody) -> Language {
    match l {
        LanguageBody::Nb => Language::Nb,
        LanguageBody::En => Language::En,
    }
}

fn body_of(c: Option<Contact>) -> ContactDetails {
    match c {
        Some(c) => ContactDetails {
            language: language_body(&c.language),
            email: c.email,
            email_confirmed_at: c.email_confirmed_at,
            phone: c.phone,
        },
        None => ContactDetails {
            email: None,
            email_confirmed_at: None,
            phone: None,
            language: LanguageBody::Nb,
        },
    }
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The caller's contact details.
#[utoipa::path(
    get, path = "/api/v1/contact-details", tag = "citizen",
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses(
        (status = 200, body = ContactDetails),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`consent-required`, or sent with `X-Acting-For` (`not-allowed-on-behalf`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    state: web::Data<AppState>,
    ConsentedCitizen(who): ConsentedCitizen,
) -> Result<web::Json<ContactDetails>, ApiError> {
    let me = who.citizen.id.clone();
    let c = state.tx(move |conn| Ok(store::contact(conn, &me)?)).await?;
    Ok(web::Json(body_of(c)))
}

/// Set the caller's contact details (all three; `null` removes). A new or changed email address
/// is unconfirmed and gets a one-time link, valid 24 hours; nothing else is sent to it before it
/// is confirmed.
#[utoipa::path(
    put, path = "/api/v1/contact-details", tag = "citizen",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(("X-CSRF-Token" = Option<String>, Header, description = "Required with the session cookie")),
    request_body = NewContactDetails,
    responses(
        (status = 200, body = ContactDetails),
        (status = 400, description = "An invalid `email`, `phone` or `language` (`validation-failed` naming it)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf-failed`, `step-up-required`, `consent-required`, or `not-allowed-on-behalf`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn put(
    state: web::Data<AppState>,
    ConsentedCitizen(who): ConsentedCitizen,
    body: JsonBody<NewContactDetails>,
) -> Result<web::Json<ContactDetails>, ApiError> {
    let new = body.into_inner()?;
    let email = new.email.map(|e| e.trim().to_owned());
    if let Some(e) = &email {
        if e.len() > MAX_EMAIL || lettre::Address::from_str(e).is_err() {
            return Err(ApiError::validation("email", "an email address"));
        }
    }
    if new.phone.as_deref().is_some_and(|p| !phone_is_valid(p)) {
        return Err(ApiError::validation("phone", "+ and 8 to 15 digits"));
    }
    let me = who.citizen.id.clone();
    let now = who.now.trunc_subsecs(0);
    let link_base = state
        .config
        .public_url
        .join("/api/v1/contact-details/email-confirmation")
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let language = language_domain(new.language).as_str().to_owned();
    let phone = new.phone;
    let saved = state
        .tx(move |conn| {
            let before = store::contact(conn, &me)?;
            let old_email = before.as_ref().and_then(|c| c.email.clone());
            let changed_email = email.is_some() && email != old_email;
            let c = Contact {
                citizen_id: me.clone(),
                email: email.clone(),
                // A new address is unconfirmed; no address has nothing confirmed.
                email_confirmed_at: if changed_email || email.is_none() {
                    None
                } else {
                    before.as_ref().and_then(|c| c.email_confirmed_at)
                },
                phone: phone.clone(),
                language: language.clone(),
                updated_at: now,
            };
            if let Some(b) = before
                .as_ref()
                .filter(|b| b.email == c.email && b.phone == c.phone && b.language == c.language)
            {
                // Nothing changed: nothing to store, log or send.
                return Ok(b.clone());
            }
            store::put_contact(conn, &c)?;
            audit::record(
                conn,
                &me,
                &Actor::citizen(&me),
                "contact_details.changed",
                serde_json::json!({ "email_changed": email != old_email }),
                now,
                Feed::LogOnly,
            )?;
            if let (true, Some(address)) = (changed_email, &email) {
                let mut raw = [0_u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut raw);
                let token = URL_SAFE_NO_PAD.encode(raw);
                let hash = token_hash(&token);
                store::insert_confirmation(
                    conn,
                    &hash,
                    &me,
                    address,
                    now + Duration::hours(CONFIRMATION_HOURS),
                )?;
                let mut link = link_base.clone();
                link.query_pairs_mut().append_pair("token", &token);
                let facts = StoredFacts {
                    confirmation_link: Some(link.to_string()),
                    ..StoredFacts::default()
                };
                plan(
                    conn,
                    &me,
                    Kind::EmailConfirmation,
                    &facts,
                    format!("email_confirmation:{hash}"),
                    now,
                )?;
            }
            Ok(c)
        })
        .await?;
    Ok(web::Json(body_of(Some(saved))))
}

/// Confirm an email address: the link in the confirmation message. Works once, for 24 hours,
/// without a session (the link proves the address).
#[utoipa::path(
    get, path = "/api/v1/contact-details/email-confirmation", tag = "citizen",
    params(ConfirmationQuery),
    responses(
        (status = 200, body = EmailConfirmed),
        (status = 400, description = "No token (`validation-failed`)", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "Unknown, used or expired (`confirmation-link-invalid`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn confirm(
    state: web::Data<AppState>,
    query: Query<ConfirmationQuery>,
) -> Result<web::Json<EmailConfirmed>, ApiError> {
    let token = query.into_inner()?.token;
    let hash = token_hash(&token);
    let now = state.now().trunc_subsecs(0);
    state
        .tx(move |conn| {
            let Some((citizen_id, email)) = store::use_confirmation(conn, &hash, now)? else {
                return Err(ApiError::ConfirmationLinkInvalid);
            };
            let Some(mut c) = store::contact(conn, &citizen_id)? else {
                return Err(ApiError::ConfirmationLinkInvalid);
            };
            // A link to an address since replaced confirms nothing.
            if c.email.as_deref() != Some(email.as_str()) {
                return Err(ApiError::ConfirmationLinkInvalid);
            }
            c.email_confirmed_at = Some(now);
            c.updated_at = now;
            store::put_contact(conn, &c)?;
            let me = Actor {
                kind: ActorKind::Citizen,
                id: citizen_id.clone(),
            };
            audit::record(
                conn,
                &citizen_id,
                &me,
                "contact_details.email_confirmed",
                serde_json::json!({}),
                now,
                Feed::LogOnly,
            )?;
            Ok(())
        })
        .await?;
    Ok(web::Json(EmailConfirmed { confirmed: true }))
}

fn status_body(s: &str) -> NotificationStatus {
    match s {
        store::SENT => NotificationStatus::Sent,
        store::FAILED => NotificationStatus::Failed,
        store::GIVEN_UP => NotificationStatus::GivenUp,
        store::NO_ADDRESS => NotificationStatus::NoAddress,
        _ => NotificationStatus::Queued,
    }
}

/// The messages the portal planned for the caller (the latest 50), with their state.
#[utoipa::path(
    get, path = "/api/v1/notifications", tag = "citizen",
    security(("session_cookie" = []), ("session_bearer" = [])),
    responses(
        (status = 200, body = NotificationList),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`consent-required`, or sent with `X-Acting-For` (`not-allowed-on-behalf`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn notifications(
    state: web::Data<AppState>,
    ConsentedCitizen(who): ConsentedCitizen,
) -> Result<web::Json<NotificationList>, ApiError> {
    let me = who.citizen.id.clone();
    let items = state
        .tx(move |conn| Ok(store::of_citizen(conn, &me, NOTIFICATIONS_SHOWN)?))
        .await?;
    Ok(web::Json(NotificationList {
        items: items
            .into_iter()
            .map(|n| NotificationBody {
                status: status_body(&n.status),
                language: language_body(&n.language),
                id: n.id,
                kind: n.kind,
                created_at: n.created_at,
                sent_at: n.sent_at,
                attempts: n.attempts,
                last_error: n.last_error,
            })
            .collect(),
    }))
}

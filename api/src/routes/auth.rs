//! `/auth/login`, `/auth/callback`, `/auth/logout`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Duration;
use domain::assurance::Assurance;
use domain::identity::NationalId;
use openapi::problem::Problem;
use persistence::{citizens, login_requests, sessions};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::audit::{self, Actor, Feed};
use crate::auth::citizen::CitizenSession;
use crate::auth::{cookies, tokens};
use crate::error::ApiError;
use crate::extract::Query;
use crate::state::AppState;

/// How long a started login may take.
const LOGIN_TTL_MINUTES: i64 = 10;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LoginQuery {
    /// Passed to the provider as `login_hint`. Up to 64 characters of `A-Z a-z 0-9 . _ : @ -`.
    pub login_hint: Option<String>,
    /// `idporten-loa-substantial` or `idporten-loa-high`; the configured default when absent.
    /// After a `step-up-required` problem, log in again with the `required_acr` it names.
    pub acr_values: Option<String>,
}

/// Start a login: redirects to the OIDC provider.
#[utoipa::path(
    get, path = "/auth/login", tag = "login",
    params(LoginQuery),
    responses(
        (status = 302, description = "Redirect to the provider's authorization endpoint; sets the login-binding cookie"),
        (status = 400, description = "A bad parameter (`validation-failed`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The provider cannot be reached (`unavailable`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn login(
    state: web::Data<AppState>,
    query: Query<LoginQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner()?;
    let hint = match query.login_hint.as_deref() {
        None | Some("") => None,
        Some(h)
            if h.len() <= 64
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._:@-".contains(c)) =>
        {
            Some(h)
        }
        Some(_) => {
            return Err(ApiError::validation(
                "login_hint",
                "up to 64 characters of A-Z a-z 0-9 . _ : @ -",
            ))
        }
    };
    let acr = match query.acr_values.as_deref() {
        None | Some("") => state.config.oidc_acr_values,
        Some(v) => Assurance::from_acr(v).ok_or_else(|| {
            ApiError::validation(
                "acr_values",
                "idporten-loa-substantial or idporten-loa-high",
            )
        })?,
    };
    let start = state.oidc.start(acr.as_acr(), hint).await?;
    let browser = tokens::random_token();
    let now = state.now();
    let request = login_requests::LoginRequest {
        state_hash: tokens::hash(&start.state),
        browser_hash: tokens::hash(&browser),
        nonce: start.nonce,
        pkce_verifier: start.pkce_verifier,
        acr_values: acr.as_acr().to_owned(),
        created_at: now,
    };
    state
        .tx(move |conn| {
            login_requests::purge_older_than(conn, now - Duration::hours(1))?;
            login_requests::insert(conn, &request)?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, start.url))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(cookies::login(&state.config, browser))
        .finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    /// RFC 9207: the issuer that sent the browser back.
    pub iss: Option<String>,
    pub error: Option<String>,
}

/// The provider's redirect back: finishes the login and starts a session.
#[utoipa::path(
    get, path = "/auth/callback", tag = "login",
    params(CallbackQuery),
    responses(
        (status = 303, description = "Logged in: redirect to the front end; sets the session cookie"),
        (status = 400, description = "An unknown, used, expired or foreign `state` (`login-state-invalid`), or a failed code exchange or ID-token check (`login-failed`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The identity number is not accepted here (`identity-not-accepted`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner()?;
    let now = state.now();
    let oidc_state = query
        .state
        .filter(|s| !s.is_empty() && s.len() <= 512)
        .ok_or(ApiError::LoginStateInvalid("no state"))?;
    let state_hash = tokens::hash(&oidc_state);
    // Taking the request deletes it: a state (and so a callback) works once.
    let pending = state
        .tx(move |conn| Ok(login_requests::take(conn, &state_hash)?))
        .await?
        .ok_or(ApiError::LoginStateInvalid("unknown or used state"))?;
    if now >= pending.created_at + Duration::minutes(LOGIN_TTL_MINUTES) {
        return Err(ApiError::LoginStateInvalid("expired state"));
    }
    let browser = cookies::read(&req, cookies::login_cookie_name(&state.config))
        .ok_or(ApiError::LoginStateInvalid("no login-binding cookie"))?;
    if !tokens::same(&tokens::hash(&browser), &pending.browser_hash) {
        return Err(ApiError::LoginStateInvalid(
            "state started in another browser",
        ));
    }
    if let Some(error) = query.error {
        let safe: String = error
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(40)
            .collect();
        return Err(ApiError::LoginFailed(format!(
            "the provider answered {safe}"
        )));
    }
    if let Some(iss) = query.iss {
        if iss.trim_end_matches('/') != state.config.oidc_issuer.as_str().trim_end_matches('/') {
            return Err(ApiError::LoginFailed("iss of another provider".into()));
        }
    }
    let code = query
        .code
        .ok_or_else(|| ApiError::LoginFailed("no code".into()))?;
    let login = state
        .oidc
        .finish(&code, &pending.pkce_verifier, &pending.nonce)
        .await?;
    let pid = login
        .pid
        .ok_or_else(|| ApiError::LoginFailed("the ID token has no pid".into()))?;
    let national_id = NationalId::parse(&pid, state.config.id_policy()).map_err(|e| {
        tracing::warn!(target: "security", reason = %e, "login with an identity number that is not accepted");
        ApiError::IdentityNotAccepted(e)
    })?;

    let token = tokens::random_token();
    let session = sessions::Session {
        id_hash: tokens::hash(&token),
        citizen_id: String::new(),
        csrf_token: tokens::random_token(),
        acr: login.acr.clone(),
        created_at: now,
        last_seen_at: now,
    };
    let acr = login.acr;
    let citizen_id = state
        .tx(move |conn| {
            let citizen = citizens::find_or_create(
                conn,
                &national_id,
                || uuid::Uuid::new_v4().to_string(),
                now,
            )?;
            sessions::insert(
                conn,
                &sessions::Session {
                    citizen_id: citizen.id.clone(),
                    ..session.clone()
                },
            )?;
            let entry = audit::record(
                conn,
                &citizen.id,
                &Actor::citizen(&citizen.id),
                "login",
                serde_json::json!({ "acr": acr }),
                now,
                Feed::LogOnly,
            )?;
            citizens::record_login(conn, &citizen, entry.seq, now)?;
            Ok(citizen.id)
        })
        .await?;
    tracing::info!(target: "security", citizen_id, "login");
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, state.config.post_login_redirect.clone()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(cookies::session(&state.config, token))
        .cookie(cookies::clear_login(&state.config))
        .finish())
}

/// End the session. With the session cookie, send the `X-CSRF-Token` header.
#[utoipa::path(
    post, path = "/auth/logout", tag = "login",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(("X-CSRF-Token" = Option<String>, Header, description = "Required with the session cookie")),
    responses(
        (status = 204, description = "Logged out; the session cannot be used again; the cookie is cleared"),
        (status = 401, description = "No live session (`unauthenticated`, `session-expired`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Missing or wrong CSRF token (`csrf-failed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn logout(
    state: web::Data<AppState>,
    who: CitizenSession,
) -> Result<HttpResponse, ApiError> {
    let now = who.now;
    let id_hash = who.session.id_hash.clone();
    let citizen_id = who.citizen.id.clone();
    state
        .tx(move |conn| {
            sessions::end(conn, &id_hash, now)?;
            audit::record(
                conn,
                &citizen_id,
                &Actor::citizen(&citizen_id),
                "logout",
                serde_json::json!({}),
                now,
                Feed::LogOnly,
            )?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent()
        .cookie(cookies::clear_session(&state.config))
        .finish())
}

//! The logged-in citizen, as typed extractors: a handler that takes [`CitizenSession`] cannot run
//! for an anonymous caller, and one that takes [`ConsentedCitizen`] cannot run before the terms
//! are accepted.
//!
//! A session is presented either as the session cookie (browsers; every state-changing request
//! then needs the `X-CSRF-Token` header) or as `Authorization: Bearer <session id>` (mobile apps;
//! no CSRF token, since a bearer header is never sent by a browser on its own). Every change to
//! the citizen's settings also needs a login at the required assurance level
//! ([`HighAssuranceCitizen`], and [`ConsentedCitizen`] on state-changing methods); logging out
//! does not.

use actix_web::http::header;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use chrono::{DateTime, Utc};
use domain::assurance::{self, Assurance};
use domain::consent::{self, ConsentStatus};
use domain::session::{session_state, SessionState};
use futures_util::future::LocalBoxFuture;
use persistence::citizens::{self, Citizen};
use persistence::sessions::{self, Session};

use super::{cookies, tokens};
use crate::error::ApiError;
use crate::state::AppState;

pub const CSRF_HEADER: &str = "x-csrf-token";

/// An authenticated citizen with a live session.
#[derive(Debug, Clone)]
pub struct CitizenSession {
    pub citizen: Citizen,
    pub session: Session,
    pub assurance: Option<Assurance>,
    /// `now` as seen when the session was checked; the request's single reading of the clock.
    pub now: DateTime<Utc>,
}

/// A citizen who has accepted the terms in force.
#[derive(Debug, Clone)]
pub struct ConsentedCitizen(pub CitizenSession);

enum Presented {
    Cookie(String),
    Bearer(String),
}

fn presented(req: &HttpRequest, state: &AppState) -> Option<Presented> {
    if let Some(auth) = req.headers().get(header::AUTHORIZATION) {
        let token = auth.to_str().ok()?.strip_prefix("Bearer ")?.trim();
        return (!token.is_empty()).then(|| Presented::Bearer(token.to_owned()));
    }
    cookies::read(req, cookies::session_cookie_name(&state.config)).map(Presented::Cookie)
}

fn is_state_changing(req: &HttpRequest) -> bool {
    !req.method().is_safe()
}

impl FromRequest for CitizenSession {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| ApiError::Internal("no app state".into()))?
                .clone();
            let presented = presented(&req, &state).ok_or(ApiError::Unauthenticated)?;
            let (token, via_cookie) = match presented {
                Presented::Cookie(t) => (t, true),
                Presented::Bearer(t) => (t, false),
            };
            let id_hash = tokens::hash(&token);
            let now = state.now();
            let policy = state.config.session_policy();
            // What a state-changing request must also show: the CSRF token (cookie sessions only).
            let changing = is_state_changing(&req);
            let csrf_sent = (changing && via_cookie).then(|| {
                req.headers()
                    .get(CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned()
            });
            let (citizen, session) = state
                .tx(move |conn| {
                    let session =
                        sessions::find_live(conn, &id_hash)?.ok_or(ApiError::Unauthenticated)?;
                    match session_state(session.created_at, session.last_seen_at, now, policy) {
                        SessionState::Valid => {}
                        SessionState::IdleExpired | SessionState::AbsoluteExpired => {
                            sessions::end(conn, &id_hash, now)?;
                            return Ok(Err(ApiError::SessionExpired));
                        }
                    }
                    if let Some(sent) = &csrf_sent {
                        if !tokens::same(sent, &session.csrf_token) {
                            return Ok(Err(ApiError::CsrfFailed));
                        }
                    }
                    let citizen = citizens::find(conn, &session.citizen_id)?
                        .ok_or(ApiError::Unauthenticated)?;
                    sessions::touch(conn, &id_hash, now)?;
                    Ok(Ok((citizen, session)))
                })
                .await??;
            let assurance = session.acr.as_deref().and_then(Assurance::from_acr);
            Ok(CitizenSession {
                citizen,
                session,
                assurance,
                now,
            })
        })
    }
}

impl CitizenSession {
    /// Refuses a change from a login below the required assurance level, with the level to
    /// step up to.
    fn require_assurance(&self, required: Assurance) -> Result<(), ApiError> {
        if assurance::may_change(self.assurance, required) {
            Ok(())
        } else {
            Err(ApiError::StepUpRequired {
                required_acr: required.as_acr().to_owned(),
            })
        }
    }
}

/// A citizen whose login has the assurance level required for changes. For the changes that do
/// not need the terms accepted first (accepting or withdrawing them).
#[derive(Debug, Clone)]
pub struct HighAssuranceCitizen(pub CitizenSession);

impl FromRequest for HighAssuranceCitizen {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let inner = CitizenSession::from_request(req, payload);
        let required = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.config.required_acr);
        let acting = req.headers().contains_key(super::acting::ACTING_FOR_HEADER);
        Box::pin(async move {
            let who = inner.await?;
            if acting {
                return Err(ApiError::NotAllowedOnBehalf);
            }
            who.require_assurance(
                required.ok_or_else(|| ApiError::Internal("no app state".into()))?,
            )?;
            Ok(HighAssuranceCitizen(who))
        })
    }
}

impl FromRequest for ConsentedCitizen {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let inner = consented(req, payload, false);
        Box::pin(async move { Ok(ConsentedCitizen(inner.await?)) })
    }
}

/// A consented citizen's session (and on state-changing methods, the required assurance). With
/// `allow_acting` false, a request that names someone to act for (`X-Acting-For`) is refused
/// `not-allowed-on-behalf`: only endpoints built for acting accept it. Every check runs after
/// authentication, in one future, so the answers never race.
pub(crate) fn consented(
    req: &HttpRequest,
    payload: &mut Payload,
    allow_acting: bool,
) -> LocalBoxFuture<'static, Result<CitizenSession, ApiError>> {
    let inner = CitizenSession::from_request(req, payload);
    let settings = req
        .app_data::<web::Data<AppState>>()
        .map(|s| (s.config.terms_version.clone(), s.config.required_acr));
    let changing = is_state_changing(req);
    let acting = req.headers().contains_key(super::acting::ACTING_FOR_HEADER);
    Box::pin(async move {
        let who = inner.await?;
        let (terms, required) =
            settings.ok_or_else(|| ApiError::Internal("no app state".into()))?;
        if acting && !allow_acting {
            return Err(ApiError::NotAllowedOnBehalf);
        }
        if changing {
            who.require_assurance(required)?;
        }
        match consent::status(who.citizen.consent.as_ref(), &terms) {
            ConsentStatus::Active { .. } => Ok(who),
            ConsentStatus::NotAccepted | ConsentStatus::RenewalRequired { .. } => {
                Err(ApiError::ConsentRequired)
            }
        }
    })
}

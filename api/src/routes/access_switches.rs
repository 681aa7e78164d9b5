//! The digital access switches (DESIGN §2.3): one's own, or (with `X-Acting-For`) a child's, for a
//! guardian. A grantee under a power of attorney never changes them. A switch hides data on the
//! portal only; it never opts out of the summary care record, and every answer says so.

use actix_web::web;
use domain::access_switches::Switch;
use openapi::access_switches::{AccessSwitchesBody, SetSwitch, SwitchAccess, SwitchState};
use openapi::problem::Problem;
use persistence::access_switches::{self as store, StoredSwitches};

use crate::audit::{self, Actor, Feed};
use crate::auth::acting::{recheck, ActingCitizen, Basis};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;
use crate::views::switch_body;

const NOTE: &str = "Removing digital access hides information on this portal only. It does not opt \
you out of the summary care record: health personnel still see it. Opting out is a separate choice.";

fn body(subject_id: String, s: &StoredSwitches) -> AccessSwitchesBody {
    AccessSwitchesBody {
        subject_id,
        switches: Switch::ALL
            .into_iter()
            .map(|w| SwitchState {
                switch: switch_body(w),
                access: if s.switches.is_removed(w) {
                    SwitchAccess::Removed
                } else {
                    SwitchAccess::Open
                },
                changed_at: s.changed_at(w),
            })
            .collect(),
        summary_care_record_opt_out_changed: false,
        note: NOTE.to_owned(),
    }
}

/// Whose switches the request is about: the caller's own, or a child's for a guardian.
fn subject_of(actor: &ActingCitizen) -> Result<String, ApiError> {
    match &actor.acting {
        None => Ok(actor.who.citizen.id.clone()),
        Some(rep) => match rep.basis {
            Basis::Guardian(_) => Ok(rep.subject_id.clone()),
            // A grantee cannot change the grantor's settings (DESIGN §2.5).
            Basis::PowerOfAttorney { .. } => Err(ApiError::NotAllowedOnBehalf),
        },
    }
}

/// The switches of the caller, or of a child (`X-Acting-For`).
#[utoipa::path(
    get, path = "/api/v1/access-switches", tag = "access-switches",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(("X-Acting-For" = Option<String>, Header, description = "A child's representation id")),
    responses(
        (status = 200, body = AccessSwitchesBody),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`consent-required`, or acting under a power of attorney (`not-allowed-on-behalf`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The `X-Acting-For` id is not one of the caller's live representations", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    state: web::Data<AppState>,
    actor: ActingCitizen,
) -> Result<web::Json<AccessSwitchesBody>, ApiError> {
    let subject = subject_of(&actor)?;
    let s = subject.clone();
    let stored = state.tx(move |conn| Ok(store::get(conn, &s)?)).await?;
    Ok(web::Json(body(subject, &stored)))
}

/// Remove or re-open one switch. A guardian may set `services` and `patient_record` for a child
/// under 16; `summary_care_record` is the citizen's own.
#[utoipa::path(
    put, path = "/api/v1/access-switches/{switch}", tag = "access-switches",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(
        ("switch" = String, Path, description = "`services`, `patient_record` or `summary_care_record`"),
        ("X-Acting-For" = Option<String>, Header, description = "A child's representation id"),
        ("X-CSRF-Token" = Option<String>, Header, description = "Required with the session cookie"),
    ),
    request_body = SetSwitch,
    responses(
        (status = 200, body = AccessSwitchesBody, description = "The switches after the change; a change to the value already set changes nothing"),
        (status = 400, description = "Invalid body (`validation-failed`, `malformed-json`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf-failed`, `step-up-required`, `consent-required`, or not allowed on this person's behalf (`not-allowed-on-behalf`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such switch, or the `X-Acting-For` id is not one of the caller's live representations", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set(
    state: web::Data<AppState>,
    actor: ActingCitizen,
    path: web::Path<String>,
    payload: JsonBody<SetSwitch>,
) -> Result<web::Json<AccessSwitchesBody>, ApiError> {
    let switch = Switch::parse(&path.into_inner()).ok_or(ApiError::NotFound)?;
    let subject = subject_of(&actor)?;
    if actor.acting.is_some() && !switch.guardian_may_set() {
        return Err(ApiError::NotAllowedOnBehalf);
    }
    let removed = payload.into_inner()?.access == SwitchAccess::Removed;
    let me = actor.who.citizen.id.clone();
    let now = actor.who.now;
    let config = state.config.clone();
    let rep_id = actor.acting.map(|r| r.id);
    let s = subject.clone();
    let stored = state
        .tx(move |conn| {
            // Decided again inside the transaction that writes: never a stale yes.
            let kind = recheck(conn, &me, rep_id.as_deref(), &config, now)?
                .map_or(domain::usage_log::ActorKind::Citizen, |r| r.actor_kind());
            let before = store::get(conn, &s)?;
            if before.switches.is_removed(switch) == removed {
                return Ok(before);
            }
            let after = store::set(conn, &s, switch, removed, now)?;
            let details = serde_json::json!({
                "switch": switch.as_str(),
                "access": if removed { "removed" } else { "open" },
                "on_behalf_of": (s != me).then_some(&s),
            });
            let acting = Actor {
                kind,
                id: me.clone(),
            };
            if s != me {
                audit::record(
                    conn,
                    &me,
                    &acting,
                    "access_switch.changed",
                    details.clone(),
                    now,
                    Feed::LogOnly,
                )?;
            }
            audit::record(
                conn,
                &s,
                &acting,
                "access_switch.changed",
                details,
                now,
                Feed::Publish,
            )?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(body(subject, &stored)))
}

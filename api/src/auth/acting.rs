//! Acting for someone: the representations a citizen holds now, and the `X-Acting-For` header
//! that selects one per request.
//!
//! A representation is either an active power of attorney where the caller is the grantee, whose
//! grantor is alive and reaches at least one service area (granted areas limited to what the
//! grantor's own consent opens and the grantor's switches leave open), or a child under 16 the
//! caller has parental responsibility for whose access is available now (`domain::guardianship`).
//! Its id is opaque; an id that is not one of the caller's live representations is answered
//! exactly like one that does not exist.

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use chrono::{DateTime, Utc};
use domain::access_switches::AccessSwitches;
use domain::consent;
use domain::guardianship::{Access, GuardianAccess};
use domain::identity::NationalId;
use domain::powers_of_attorney::{self as rules, Grant, GrantStatus, Party, ServiceArea};
use domain::register::RegisteredPerson;
use domain::usage_log::ActorKind;
use futures_util::future::LocalBoxFuture;
use persistence::citizens::Citizen;
use persistence::powers_of_attorney as store;
use persistence::{access_switches, citizens, AnyConnection};
use std::collections::BTreeSet;

use super::citizen::{consented, CitizenSession};
use crate::config::Config;
use crate::error::ApiError;
use crate::guardians;
use crate::routes::powers_of_attorney::registered;
use crate::state::AppState;

pub const ACTING_FOR_HEADER: &str = "x-acting-for";

/// What a representation rests on.
#[derive(Debug, Clone)]
pub enum Basis {
    PowerOfAttorney {
        id: String,
        valid_until: Option<DateTime<Utc>>,
    },
    Guardian(Access),
}

/// Someone the caller can act for now.
#[derive(Debug, Clone)]
pub struct Representation {
    pub id: String,
    /// The represented person's portal id.
    pub subject_id: String,
    pub subject_name: Option<String>,
    pub areas: BTreeSet<ServiceArea>,
    pub basis: Basis,
}

impl Representation {
    pub fn power_of_attorney_id(&self) -> Option<&str> {
        match &self.basis {
            Basis::PowerOfAttorney { id, .. } => Some(id),
            Basis::Guardian(_) => None,
        }
    }

    /// The instant after which the representation may change by itself: a power of attorney's
    /// end, a child's next birthday change.
    pub fn valid_until(&self) -> Option<DateTime<Utc>> {
        match &self.basis {
            Basis::PowerOfAttorney { valid_until, .. } => *valid_until,
            Basis::Guardian(a) => a.next.map(|t| t.at),
        }
    }

    /// How the acting person appears in the represented person's log.
    pub fn actor_kind(&self) -> ActorKind {
        match self.basis {
            Basis::PowerOfAttorney { .. } => ActorKind::Grantee,
            Basis::Guardian(_) => ActorKind::Guardian,
        }
    }

    pub fn guardian_access(&self) -> Option<&Access> {
        match &self.basis {
            Basis::Guardian(a) => Some(a),
            Basis::PowerOfAttorney { .. } => None,
        }
    }
}

/// A child the caller has parental responsibility for but cannot act for now.
#[derive(Debug, Clone)]
pub struct UnavailableChild {
    pub subject_id: String,
    pub name: String,
}

/// The person selector: the representations `me_id` holds at `now`, and the children whose
/// access is not available.
pub fn selector(
    conn: &mut AnyConnection,
    me_id: &str,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<(Vec<Representation>, Vec<UnavailableChild>), ApiError> {
    let mut out = powers_held(conn, me_id, config, now)?;
    let mut unavailable = Vec::new();
    let Some(me) = citizens::find(conn, me_id)? else {
        return Ok((out, unavailable));
    };
    for (child, access) in guardians::children_of(conn, &me, config, now)? {
        let name = child.name();
        let Some(subject_id) = child.citizen_id else {
            continue;
        };
        match access {
            GuardianAccess::Available(access) => {
                out.push(guardian_representation(subject_id, name, access));
            }
            GuardianAccess::Unavailable(_) => {
                unavailable.push(UnavailableChild { subject_id, name });
            }
            GuardianAccess::NotGuardian | GuardianAccess::Ended => {}
        }
    }
    Ok((out, unavailable))
}

fn guardian_representation(subject_id: String, name: String, access: Access) -> Representation {
    Representation {
        // The child's portal id: opaque, and stable across the birthday changes.
        id: subject_id.clone(),
        subject_id,
        subject_name: Some(name),
        areas: access.areas.clone(),
        basis: Basis::Guardian(access),
    }
}

/// The active powers of attorney `grantee_id` holds.
pub fn powers_held(
    conn: &mut AnyConnection,
    grantee_id: &str,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Vec<Representation>, ApiError> {
    let mut out = Vec::new();
    for g in store::of_party(conn, grantee_id)? {
        if g.grantee_id != grantee_id {
            continue;
        }
        if let Some(r) = power_representation(conn, &g, config, now)? {
            out.push(r);
        }
    }
    Ok(out)
}

/// What deciding grant `g` at any moment needs from storage: the grantor as a citizen (consent),
/// their switches and their register entry (alive, name). Read once; no `now` in it, so it can be
/// kept (`crate::decision_cache`).
#[derive(Debug, Clone)]
pub struct GrantFacts {
    pub grant: Grant,
    pub grantor: Option<Citizen>,
    pub grantor_switches: AccessSwitches,
    pub grantor_person: Option<RegisteredPerson>,
}

/// Reads the [`GrantFacts`] of `g`.
pub fn grant_facts(
    conn: &mut AnyConnection,
    g: Grant,
    config: &Config,
) -> Result<GrantFacts, ApiError> {
    Ok(GrantFacts {
        grantor: citizens::find(conn, &g.grantor_id)?,
        grantor_switches: access_switches::get(conn, &g.grantor_id)?.switches,
        grantor_person: registered(conn, &g.grantor_id, config)?,
        grant: g,
    })
}

/// The grant as a representation of its grantee at `now`: active, grantor alive (unknown to the
/// register: alive, so that a register gap never ends anyone's grants by itself), and reaching at
/// least one area (granted, opened by the grantor's consent, left open by the grantor's switches).
pub fn grant_representation(
    f: &GrantFacts,
    config: &Config,
    now: DateTime<Utc>,
) -> Option<Representation> {
    let g = &f.grant;
    let alive = f.grantor_person.as_ref().is_none_or(|p| p.is_alive_at(now));
    if rules::status(g, alive, now) != GrantStatus::Active {
        return None;
    }
    let grantor = f.grantor.as_ref()?;
    let grantor_consent = consent::status(grantor.consent.as_ref(), &config.terms_version);
    let areas = f
        .grantor_switches
        .limit(rules::effective_areas(&g.coverage, &grantor_consent));
    if areas.is_empty() {
        return None;
    }
    Some(Representation {
        // The power of attorney's id is already opaque and scoped to its two parties.
        id: g.id.clone(),
        subject_id: g.grantor_id.clone(),
        subject_name: f
            .grantor_person
            .as_ref()
            .map(|p| format!("{} {}", p.given_name, p.family_name)),
        areas,
        basis: Basis::PowerOfAttorney {
            id: g.id.clone(),
            valid_until: g.valid_until,
        },
    })
}

/// Grant `g` as a representation of its grantee at `now` (see [`grant_representation`]).
fn power_representation(
    conn: &mut AnyConnection,
    g: &Grant,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Option<Representation>, ApiError> {
    let facts = grant_facts(conn, g.clone(), config)?;
    Ok(grant_representation(&facts, config, now))
}

/// The caller's representation `id`, if it is live now. Decides only the one named: a power of
/// attorney the caller holds with that id, or the child with that portal id whom the caller is
/// an available guardian of. Every request with `X-Acting-For` comes here, so it does not build
/// the whole selector.
pub fn resolve(
    conn: &mut AnyConnection,
    me_id: &str,
    id: &str,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Option<Representation>, ApiError> {
    if let Some((g, party)) = store::find_for_party(conn, id, me_id)? {
        return match party {
            Party::Grantee => power_representation(conn, &g, config, now),
            Party::Grantor => Ok(None),
        };
    }
    let (Some(me), Some(pid)) = (
        citizens::find(conn, me_id)?,
        citizens::national_id_of(conn, id)?,
    ) else {
        return Ok(None);
    };
    let Ok(pid) = NationalId::parse(&pid, config.id_policy()) else {
        return Ok(None);
    };
    let Some(child) = guardians::child(conn, &pid, config)? else {
        return Ok(None);
    };
    Ok(match guardians::access_of(&child, &me, config, now) {
        GuardianAccess::Available(access) => {
            Some(guardian_representation(id.to_owned(), child.name(), access))
        }
        _ => None,
    })
}

/// Inside a handler's transaction: the representation the request was extracted with, decided
/// again (never a stale yes), or `not-found` when it no longer holds. `None` when the request is
/// for the caller themself.
pub fn recheck(
    conn: &mut AnyConnection,
    me_id: &str,
    rep_id: Option<&str>,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Option<Representation>, ApiError> {
    rep_id
        .map(|id| resolve(conn, me_id, id, config, now)?.ok_or(ApiError::NotFound))
        .transpose()
}

/// The `X-Acting-For` header's value, if sent.
pub fn acting_for_header(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(ACTING_FOR_HEADER)
        .map(|v| v.to_str().unwrap_or("").trim().to_owned())
}

/// A consented citizen, acting for themself or (with `X-Acting-For`) for someone they represent.
#[derive(Debug, Clone)]
pub struct ActingCitizen {
    pub who: CitizenSession,
    pub acting: Option<Representation>,
}

impl FromRequest for ActingCitizen {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let inner = consented(req, payload, true);
        let header = acting_for_header(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let who = inner.await?;
            let Some(id) = header else {
                return Ok(ActingCitizen { who, acting: None });
            };
            let state = state.ok_or_else(|| ApiError::Internal("no app state".into()))?;
            let acting = resolve_for(&state, &who, id).await?;
            Ok(ActingCitizen {
                who,
                acting: Some(acting),
            })
        })
    }
}

/// Resolves `id` for `who`, or answers not-found (logged as a security event).
pub async fn resolve_for(
    state: &AppState,
    who: &CitizenSession,
    id: String,
) -> Result<Representation, ApiError> {
    let me = who.citizen.id.clone();
    let now = who.now;
    let config = state.config.clone();
    let found = state
        .tx(move |conn| resolve(conn, &me, &id, &config, now))
        .await?;
    found.ok_or_else(|| {
        tracing::warn!(target: "security", citizen_id = %who.citizen.id, "acting for a representation the citizen does not hold");
        ApiError::NotFound
    })
}

//! Opting out of the summary care record, restoring within 30 days, and a new record after the
//! purge (DESIGN §2.4; the rules are `domain::summary_care_record`).
//!
//! The citizen acts for themself; a guardian for a child under 12 (from 12 the summary care
//! record is never shown to guardians, DESIGN §2.6); a grantee never (DESIGN §2.5). Each
//! transition is stored with its usage-log entry and change-feed event in one transaction,
//! after the subject's row is locked, so concurrent requests are decided one after the other.

use actix_web::web;
use chrono::{DateTime, SubsecRound, Utc};
use domain::guardianship::AgeBand;
use domain::identity::NationalId;
use domain::summary_care_record::{
    self as rules, possible, restore_deadline, Possible, RecordError, RecordState, Transition,
};
use domain::usage_log::ActorKind;
use openapi::problem::Problem;
use openapi::sharing::RecordPartBody;
use openapi::summary_care_record::{
    PossibleStep, RecordStateBody, SummaryCareRecordBatch, SummaryCareRecordBatchAnswer,
    SummaryCareRecordQuery, SummaryCareRecordStatus,
};
use persistence::db::lock_citizen;
use persistence::{summary_care_records as store, AnyConnection};

use crate::audit::{self, Actor, Feed};
use crate::auth::acting::{recheck, ActingCitizen, Basis};
use crate::auth::service::{ConsentRead, ServiceClient};
use crate::decision_cache::{self, Unknown};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::routes::representations::batch_pids;
use crate::routes::sharing;
use crate::state::AppState;

/// The name of `state` in answers.
pub fn state_body(state: &RecordState) -> RecordStateBody {
    match state {
        RecordState::Active { .. } => RecordStateBody::Active,
        RecordState::OptedOut { .. } => RecordStateBody::OptedOut,
        RecordState::Purged { .. } => RecordStateBody::PurgeOrdered,
    }
}

/// What a status answer is made of: the opt-out state, and the blocks in force (whole record,
/// parts blocked one by one).
pub struct Read {
    pub state: RecordState,
    pub record_blocked: bool,
    pub blocked_parts: Vec<RecordPartBody>,
}

/// Reads the record's state and blocks of `citizen_id`.
fn read(conn: &mut AnyConnection, citizen_id: &str) -> Result<Read, ApiError> {
    let (record_blocked, blocked_parts) = sharing::blocks_of(conn, citizen_id)?;
    Ok(Read {
        state: store::get(conn, citizen_id)?,
        record_blocked,
        blocked_parts,
    })
}

/// The status body of `read` at `now`.
pub fn status(subject_id: String, read: Read, now: DateTime<Utc>) -> SummaryCareRecordStatus {
    let state = &read.state;
    let can = possible(state, now);
    let (opted_out_at, purge_ordered_at, started) = match state {
        RecordState::Active { started_at } => (None, None, *started_at),
        RecordState::OptedOut { at, .. } => (Some(*at), None, None),
        RecordState::Purged {
            opted_out_at,
            purge_ordered_at,
        } => (Some(*opted_out_at), Some(*purge_ordered_at), None),
    };
    let (possible_body, until) = match can {
        Possible::OptOut => (PossibleStep::OptOut, None),
        Possible::Restore { until } => (PossibleStep::Restore, Some(until)),
        Possible::NewRecord => (PossibleStep::NewRecord, None),
    };
    let message = match (state, can) {
        (RecordState::Active { started_at: None }, _) => {
            "You have a summary care record. Health personnel can see it when they treat you."
                .to_owned()
        }
        (
            RecordState::Active {
                started_at: Some(_),
            },
            _,
        ) => "You have a new summary care record. It holds information from the day it was made; \
earlier medicines and critical information are not in it."
            .to_owned(),
        (_, Possible::Restore { until }) => format!(
            "You have opted out. Health personnel cannot see your summary care record and nothing \
can be added to it. You can change your mind and have it restored until the end of {} \
(Norwegian time).",
            last_day(until).format("%-d %B %Y")
        ),
        _ => "You have opted out and the 30 days to restore have passed, so your summary care \
record is deleted. You can ask for a new one; it will hold information from that day only."
            .to_owned(),
    };
    SummaryCareRecordStatus {
        subject_id,
        state: state_body(state),
        record_blocked: read.record_blocked,
        blocked_parts: read.blocked_parts,
        available_to_health_personnel: rules::is_available(state),
        opted_out_at,
        restore_deadline: opted_out_at
            .filter(|_| purge_ordered_at.is_none())
            .map(restore_deadline),
        possible: possible_body,
        possible_until: until,
        purge_ordered_at,
        record_started_at: started,
        message,
    }
}

/// The last Oslo calendar day before `deadline` (which is an Oslo midnight).
fn last_day(deadline: DateTime<Utc>) -> chrono::NaiveDate {
    domain::clock::oslo_date(deadline - chrono::Duration::seconds(1))
}

/// Whose record the request is about: the caller's, or a child under 12's for a guardian.
pub fn subject_of(actor: &ActingCitizen) -> Result<String, ApiError> {
    match &actor.acting {
        None => Ok(actor.who.citizen.id.clone()),
        Some(rep) => match &rep.basis {
            Basis::Guardian(access) if access.band == AgeBand::UnderTwelve => {
                Ok(rep.subject_id.clone())
            }
            // From 12 the summary care record is not the guardians' to see or change; a
            // grantee cannot change the grantor's opt-outs.
            _ => Err(ApiError::NotAllowedOnBehalf),
        },
    }
}

/// Where the caller's (or the child's) summary care record stands, and what is possible until
/// when.
#[utoipa::path(
    get, path = "/api/v1/summary-care-record", tag = "summary-care-record",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(("X-Acting-For" = Option<String>, Header, description = "A child under 12's representation id")),
    responses(
        (status = 200, body = SummaryCareRecordStatus),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`consent-required`, or acting for someone whose record is not the caller's to see (`not-allowed-on-behalf`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The `X-Acting-For` id is not one of the caller's live representations", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    state: web::Data<AppState>,
    actor: ActingCitizen,
) -> Result<web::Json<SummaryCareRecordStatus>, ApiError> {
    let subject = subject_of(&actor)?;
    let now = actor.who.now;
    let s = subject.clone();
    let read = state.tx(move |conn| read(conn, &s)).await?;
    Ok(web::Json(status(subject, read, now)))
}

/// The transitions one request makes, each with the state after it.
type Steps = Vec<(Transition, RecordState)>;

/// Applies one request's transitions to the subject's record: the rule decides on the state read
/// after locking the subject, the new state is stored, then each transition's log entry and feed
/// event are written (the feed last).
async fn change(
    state: &AppState,
    actor: ActingCitizen,
    decide: fn(&RecordState, DateTime<Utc>) -> Result<Steps, RecordError>,
) -> Result<web::Json<SummaryCareRecordStatus>, ApiError> {
    let subject = subject_of(&actor)?;
    let me = actor.who.citizen.id.clone();
    // Stored to the whole second: the answer says what a later read will say.
    let now = actor.who.now.trunc_subsecs(0);
    let config = state.config.clone();
    let rep_id = actor.acting.map(|r| r.id);
    let s = subject.clone();
    let after = state
        .tx(move |conn| {
            // Decided again inside the transaction that writes: never a stale yes.
            let kind = recheck(conn, &me, rep_id.as_deref(), &config, now)?
                .map_or(ActorKind::Citizen, |r| r.actor_kind());
            lock_citizen(conn, &s)?;
            let before = store::get(conn, &s)?;
            let steps = decide(&before, now)?;
            let Some((_, last)) = steps.last().copied() else {
                return read(conn, &s);
            };
            store::put(conn, &s, &last, now)?;
            for (t, st) in &steps {
                if let (Transition::PurgeOrdered, RecordState::Purged { opted_out_at, .. }) =
                    (t, st)
                {
                    store::record_purge(conn, &s, *opted_out_at, now, "new_record")?;
                }
            }
            let acting = Actor {
                kind,
                id: me.clone(),
            };
            if s != me {
                for (t, _) in &steps {
                    let details = serde_json::json!({ "on_behalf_of": s });
                    audit::record(conn, &me, &acting, t.action(), details, now, Feed::LogOnly)?;
                }
            }
            for (t, st) in &steps {
                let actor = if *t == Transition::PurgeOrdered {
                    Actor {
                        kind: ActorKind::System,
                        id: "portal".to_owned(),
                    }
                } else {
                    acting.clone()
                };
                audit::record(
                    conn,
                    &s,
                    &actor,
                    t.action(),
                    details_of(st),
                    now,
                    Feed::Publish,
                )?;
            }
            let (record_blocked, blocked_parts) = sharing::blocks_of(conn, &s)?;
            Ok(Read {
                state: last,
                record_blocked,
                blocked_parts,
            })
        })
        .await?;
    Ok(web::Json(status(subject, after, now)))
}

/// What a transition's log entry records: the times that matter to the citizen.
fn details_of(st: &RecordState) -> serde_json::Value {
    match st {
        RecordState::OptedOut { at, .. } => {
            serde_json::json!({ "opted_out_at": at, "restore_deadline": restore_deadline(*at) })
        }
        RecordState::Purged { opted_out_at, .. } => {
            serde_json::json!({ "opted_out_at": opted_out_at })
        }
        RecordState::Active { started_at } => {
            serde_json::json!({ "record_started_at": started_at })
        }
    }
}

fn opt_out_steps(s: &RecordState, now: DateTime<Utc>) -> Result<Steps, RecordError> {
    Ok(vec![(Transition::OptedOut, rules::opt_out(s, now)?)])
}

fn restore_steps(s: &RecordState, now: DateTime<Utc>) -> Result<Steps, RecordError> {
    Ok(vec![(Transition::Restored, rules::restore(s, now)?)])
}

fn new_record_steps(s: &RecordState, now: DateTime<Utc>) -> Result<Steps, RecordError> {
    Ok(rules::new_record(s, now)?.0)
}

/// Opt out: from now the record is unavailable to health personnel and nothing may be
/// registered. The answer states until when it can be restored.
#[utoipa::path(
    post, path = "/api/v1/summary-care-record/opt-out", tag = "summary-care-record",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(
        ("X-Acting-For" = Option<String>, Header, description = "A child under 12's representation id"),
        ("X-CSRF-Token" = Option<String>, Header, description = "Required with the session cookie"),
    ),
    responses(
        (status = 200, body = SummaryCareRecordStatus),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf-failed`, `step-up-required`, `consent-required`, or `not-allowed-on-behalf`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The `X-Acting-For` id is not one of the caller's live representations", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already opted out (`already-opted-out`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn opt_out(
    state: web::Data<AppState>,
    actor: ActingCitizen,
) -> Result<web::Json<SummaryCareRecordStatus>, ApiError> {
    change(&state, actor, opt_out_steps).await
}

/// Restore the opted-out record within the 30 days: the data comes back as it was.
#[utoipa::path(
    post, path = "/api/v1/summary-care-record/restoration", tag = "summary-care-record",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(
        ("X-Acting-For" = Option<String>, Header, description = "A child under 12's representation id"),
        ("X-CSRF-Token" = Option<String>, Header, description = "Required with the session cookie"),
    ),
    responses(
        (status = 200, body = SummaryCareRecordStatus),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf-failed`, `step-up-required`, `consent-required`, or `not-allowed-on-behalf`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The `X-Acting-For` id is not one of the caller's live representations", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not opted out (`not-opted-out`)", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The 30 days have passed; a new record is possible (`restore-window-closed`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn restore(
    state: web::Data<AppState>,
    actor: ActingCitizen,
) -> Result<web::Json<SummaryCareRecordStatus>, ApiError> {
    change(&state, actor, restore_steps).await
}

/// Ask for a new, empty record after the 30 days: it holds information from now on only. If the
/// purge of the old data was not yet ordered, it is ordered first.
#[utoipa::path(
    post, path = "/api/v1/summary-care-record/new-record", tag = "summary-care-record",
    security(("session_cookie" = []), ("session_bearer" = [])),
    params(
        ("X-Acting-For" = Option<String>, Header, description = "A child under 12's representation id"),
        ("X-CSRF-Token" = Option<String>, Header, description = "Required with the session cookie"),
    ),
    responses(
        (status = 200, body = SummaryCareRecordStatus),
        (status = 401, description = "No live session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf-failed`, `step-up-required`, `consent-required`, or `not-allowed-on-behalf`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The `X-Acting-For` id is not one of the caller's live representations", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The record is active (`record-active`), or the opted-out record can still be restored (`restore-still-possible`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn new_record(
    state: web::Data<AppState>,
    actor: ActingCitizen,
) -> Result<web::Json<SummaryCareRecordStatus>, ApiError> {
    change(&state, actor, new_record_steps).await
}

/// A citizen's summary care record status, for downstream services: whether it is available,
/// opted out (with the restore deadline) or purged.
#[utoipa::path(
    post, path = "/api/v1/decisions/summary-care-record", tag = "decisions",
    security(("service_token" = ["consent:read"])),
    request_body = SummaryCareRecordQuery,
    responses(
        (status = 200, body = SummaryCareRecordStatus),
        (status = 400, description = "Invalid body or identity number (`validation-failed`, `malformed-json`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid access token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `consent:read` (`insufficient-scope`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn decide(
    state: web::Data<AppState>,
    _client: ServiceClient<ConsentRead>,
    body: JsonBody<SummaryCareRecordQuery>,
) -> Result<web::Json<SummaryCareRecordStatus>, ApiError> {
    let q = body.into_inner()?;
    let pid = NationalId::parse(&q.pid, state.config.id_policy())
        .map_err(|e| ApiError::validation("pid", e.to_string()))?;
    statuses(&state, vec![pid])
        .await?
        .pop()
        .map(web::Json)
        .ok_or_else(|| ApiError::Internal("no answer".into()))
}

/// The same status for up to 100 citizens, answered in order from one transaction.
#[utoipa::path(
    post, path = "/api/v1/decisions/summary-care-record/batch", tag = "decisions",
    security(("service_token" = ["consent:read"])),
    request_body = SummaryCareRecordBatch,
    responses(
        (status = 200, body = SummaryCareRecordBatchAnswer, description = "One answer per item, in order"),
        (status = 400, description = "Invalid body, an empty list or more than 100 items (`validation-failed`, naming `items[i].pid`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid access token (`invalid-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks `consent:read` (`insufficient-scope`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large (`payload-too-large`)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn decide_batch(
    state: web::Data<AppState>,
    _client: ServiceClient<ConsentRead>,
    body: JsonBody<SummaryCareRecordBatch>,
) -> Result<web::Json<SummaryCareRecordBatchAnswer>, ApiError> {
    let batch = body.into_inner()?;
    let pids = batch_pids(batch.items.iter().map(|q| q.pid.as_str()), &state)?;
    Ok(web::Json(SummaryCareRecordBatchAnswer {
        items: statuses(&state, pids).await?,
    }))
}

async fn statuses(
    state: &AppState,
    pids: Vec<NationalId>,
) -> Result<Vec<SummaryCareRecordStatus>, ApiError> {
    let facts = decision_cache::persons(state, pids, Unknown::Create).await?;
    let now = state.now();
    Ok(facts
        .into_iter()
        .flatten()
        .map(|f| {
            let read = Read {
                state: f.record,
                record_blocked: f.in_force.record_blocked(),
                blocked_parts: f
                    .in_force
                    .parts_blocked()
                    .into_iter()
                    .map(sharing::part_body)
                    .collect(),
            };
            let answer = status(f.id.clone(), read, now);
            // No decision enum here: available or not, and the record's state as the reason.
            let available = if answer.available_to_health_personnel {
                "available"
            } else {
                "unavailable"
            };
            state
                .metrics
                .decision("summary_care_record", &available, &answer.state);
            answer
        })
        .collect())
}

/// Orders every purge that is due at `now`, each in its own transaction, and says how many it
/// ordered. Safe to run on several instances at once: each citizen is locked and re-read before
/// the rule decides, and the purge record's key admits one order per opt-out.
pub fn order_due_purges(
    db: &persistence::Db,
    now: DateTime<Utc>,
    ordered_by: &'static str,
) -> Result<usize, ApiError> {
    let now = now.trunc_subsecs(0);
    // The deadline is at least 30 days minus an hour after the opt-out: a wide net, the rule decides.
    let cutoff = now - chrono::Duration::days(rules::RESTORE_DAYS - 1);
    let mut ordered = 0;
    loop {
        let candidates =
            db.transaction(|conn| Ok::<_, ApiError>(store::opted_out_before(conn, cutoff, 100)?))?;
        let mut progressed = false;
        for id in &candidates {
            if db.transaction(|conn| order_one(conn, id, now, ordered_by))? {
                ordered += 1;
                progressed = true;
            }
        }
        // Candidates not yet due stay opted out; stop when a batch ordered nothing.
        if candidates.len() < 100 || !progressed {
            return Ok(ordered);
        }
    }
}

fn order_one(
    conn: &mut AnyConnection,
    citizen_id: &str,
    now: DateTime<Utc>,
    ordered_by: &str,
) -> Result<bool, ApiError> {
    lock_citizen(conn, citizen_id)?;
    let before = store::get(conn, citizen_id)?;
    let Some(purged) = rules::purge_due(&before, now) else {
        return Ok(false);
    };
    let RecordState::Purged { opted_out_at, .. } = purged else {
        return Ok(false);
    };
    store::put(conn, citizen_id, &purged, now)?;
    store::record_purge(conn, citizen_id, opted_out_at, now, ordered_by)?;
    let system = Actor {
        kind: ActorKind::System,
        id: "portal".to_owned(),
    };
    audit::record(
        conn,
        citizen_id,
        &system,
        Transition::PurgeOrdered.action(),
        details_of(&purged),
        now,
        Feed::Publish,
    )?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_message_names_the_last_oslo_day_not_the_utc_instant() {
        // The deadline 2026-12-23T23:00:00Z is 00:00 on 24 December in Oslo.
        let deadline = Utc.with_ymd_and_hms(2026, 12, 23, 23, 0, 0).unwrap();
        assert_eq!(last_day(deadline).to_string(), "2026-12-23");
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        let read = Read {
            state: rules::opt_out(&RecordState::default(), at).unwrap(),
            record_blocked: false,
            blocked_parts: vec![],
        };
        let body = status("c".into(), read, at);
        assert!(
            body.message.contains("23 December 2026"),
            "{}",
            body.message
        );
        assert_eq!(body.possible_until, Some(deadline));
    }
}

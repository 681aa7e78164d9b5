//! Planning email notifications: in the transaction of the change that causes them
//! ([`on_event`], called by `audit::publish`), or by the reminder scheduler ([`plan`]). A planned
//! message is a row in `notifications`; the worker (`notify_worker`) sends it. Which event gives
//! which message to whom is `domain::notifications`.
//!
//! The recipient's address and language are taken when the message is planned. A message other
//! than an address's confirmation goes only to a confirmed address; without one it is recorded as
//! `no_address`, so the citizen can still see that it was due.

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use domain::guardianship::Milestone;
use domain::notifications::{for_event, last_day_before, Kind, Language, Recipients};
use domain::summary_care_record::restore_deadline;
use persistence::notifications::{self as store, Contact, Notification};
use persistence::{usage_log, AnyConnection, StoreError};
use serde::{Deserialize, Serialize};

/// What a message says beyond its kind, as stored with it (the portal's address is added when it
/// is sent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFacts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_day: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<NaiveDate>,
    /// `restricted_at_12` or `ends_at_16`, and the day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthday: Option<(String, NaiveDate)>,
    /// The one-time link; cleared once the message is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation_link: Option<String>,
}

impl StoredFacts {
    /// The facts the domain's texts read.
    pub fn for_text(&self, portal_url: &str) -> domain::notifications::Facts {
        let milestone = |m: &str| match m {
            "restricted_at_12" => Milestone::RestrictedAtTwelve,
            _ => Milestone::EndsAtSixteen,
        };
        domain::notifications::Facts {
            portal_url: portal_url.to_owned(),
            last_day: self.last_day,
            until: self.until,
            birthday: self.birthday.as_ref().map(|(m, on)| (milestone(m), *on)),
            confirmation_link: self.confirmation_link.clone(),
        }
    }
}

/// Plans one message of `kind` to `recipient_id` for `occasion`, unless that occasion has one
/// already. True when this call planned it.
pub fn plan(
    conn: &mut AnyConnection,
    recipient_id: &str,
    kind: Kind,
    facts: &StoredFacts,
    occasion: String,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    if store::planned(conn, &occasion)? {
        return Ok(false);
    }
    plan_new(conn, recipient_id, kind, facts, occasion, now)?;
    Ok(true)
}

/// [`plan`] for an occasion known to be new (it names a change-feed event, whose id is fresh):
/// the check would cost a query on every change for nothing. The occasion's unique key still
/// guards it.
fn plan_new(
    conn: &mut AnyConnection,
    recipient_id: &str,
    kind: Kind,
    facts: &StoredFacts,
    occasion: String,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let contact = store::contact(conn, recipient_id)?;
    store::insert(
        conn,
        &message(recipient_id, kind, facts, occasion, contact.as_ref(), now),
    )
}

/// The message of `kind` to `recipient_id` for `occasion`, as planned at `now` with the
/// recipient's contact details: to a confirmed address (any address for an address's
/// confirmation), in their language; without one it is recorded as `no_address`.
pub(crate) fn message(
    recipient_id: &str,
    kind: Kind,
    facts: &StoredFacts,
    occasion: String,
    contact: Option<&Contact>,
    now: DateTime<Utc>,
) -> Notification {
    let now = now.trunc_subsecs(0);
    let language = contact
        .and_then(|c| Language::parse(&c.language))
        .unwrap_or_default();
    let address = contact.and_then(|c| {
        if kind.needs_confirmed_address() {
            c.confirmed_email().map(str::to_owned)
        } else {
            c.email.clone()
        }
    });
    let status = if address.is_some() {
        store::QUEUED
    } else {
        store::NO_ADDRESS
    };
    Notification {
        id: uuid::Uuid::new_v4().to_string(),
        citizen_id: recipient_id.to_owned(),
        kind: kind.as_str().to_owned(),
        language: language.as_str().to_owned(),
        recipient: address.clone(),
        facts: serde_json::to_string(facts).unwrap_or_else(|_| "{}".into()),
        status: status.to_owned(),
        attempts: 0,
        next_attempt_at: address.map(|_| now),
        last_error: None,
        sent_at: None,
        created_at: now,
        occasion,
    }
}

/// Under which occasion the message of `kind` to `recipient` for the change-feed event `event_id`
/// is planned, and whether another event may have planned it already: several openings of health
/// data reported in one second are one message; any other event's messages are its own.
pub(crate) fn occasion(
    kind: Kind,
    recipient: &str,
    event_id: &str,
    now: DateTime<Utc>,
) -> (String, bool) {
    if kind == Kind::HealthDataOpened {
        (
            format!("health_data_opened:{recipient}:{}", now.timestamp()),
            true,
        )
    } else {
        (format!("event:{event_id}:{recipient}"), false)
    }
}

/// What messages an event gives, as far as a writer that does not read its log entry can plan
/// them (`opening_writes::pipelined`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventMessages {
    None,
    /// One message of this kind to the event's subject, with no facts from the log entry (an
    /// opening of health data).
    ToSubject(Kind),
    /// Its messages need facts from the log entry (other recipients, or a deadline), which only
    /// [`on_event`] reads.
    NeedEntry,
}

pub(crate) fn messages_of(event_type: &str) -> EventMessages {
    match for_event(event_type) {
        None => EventMessages::None,
        Some((kind, who)) if !needs_entry(kind, who) => EventMessages::ToSubject(kind),
        Some(_) => EventMessages::NeedEntry,
    }
}

/// Whether the messages of `kind` to `who` need facts from the event's log entry.
fn needs_entry(kind: Kind, who: Recipients) -> bool {
    who != Recipients::Subject || kind == Kind::ScrOptedOut
}

/// Plans the messages of the change-feed event `event_id` (`event_type` about `subject_id`,
/// whose log entry is `log_seq`). Called in the change's own transaction.
pub fn on_event(
    conn: &mut AnyConnection,
    subject_id: &str,
    event_type: &str,
    log_seq: i64,
    event_id: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some((kind, who)) = for_event(event_type) else {
        return Ok(());
    };
    // The log entry holds what the event does not: the parties, the times.
    let d: serde_json::Value = if needs_entry(kind, who) {
        usage_log::entry(conn, subject_id, log_seq)?
            .and_then(|e| serde_json::from_str(&e.details).ok())
            .unwrap_or_default()
    } else {
        serde_json::Value::Null
    };
    let mut facts = StoredFacts::default();
    let recipients: Vec<String> = match who {
        Recipients::Subject => vec![subject_id.to_owned()],
        Recipients::Grantee | Recipients::BothParties => {
            let party = |k: &str| d[k].as_str().map(str::to_owned);
            let mut r: Vec<String> = Vec::new();
            if who == Recipients::BothParties {
                r.extend(party("grantor_id"));
            }
            r.extend(party("grantee_id"));
            r
        }
    };
    if kind == Kind::ScrOptedOut {
        if let Some(at) = d["opted_out_at"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        {
            facts.last_day = Some(last_day_before(restore_deadline(at.with_timezone(&Utc))));
        }
    }
    for r in recipients {
        match occasion(kind, &r, event_id, now) {
            (occasion, true) => {
                plan(conn, &r, kind, &facts, occasion, now)?;
            }
            (occasion, false) => plan_new(conn, &r, kind, &facts, occasion, now)?,
        }
    }
    Ok(())
}

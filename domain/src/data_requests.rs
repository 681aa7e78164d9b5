//! Data-subject requests (DESIGN §2.9; GDPR art. 12(3) via source 004 §2.2-2.3; sources 001 and
//! 002 §19-28): insight, rectification, erasure, restriction, objection and portability, each
//! tracked against its deadline.
//!
//! **The deadlines, exactly.** A request received at any moment of the Oslo calendar day D must be
//! answered by the end of Oslo day D + 30 (one month, counted as 30 days), that is strictly before
//! 00:00 Europe/Oslo on D + 31 ([`first_deadline`]). The organisation may extend it to three
//! months in all, the end of day D + 90 ([`extended_deadline`]), only by announcing the extension
//! with its reason strictly before the first deadline. Counting Oslo calendar days keeps every
//! deadline at local midnight across daylight-saving changes, like the summary care record's
//! restore window.
//!
//! A refusal carries its reason, the legal provision it rests on and how to complain; a
//! repeated, manifestly unfounded or excessive request may be refused as such (art. 12(5)).

use chrono::{DateTime, Duration, Utc};
use thiserror::Error;

use crate::clock::{oslo_date, oslo_midnight};

/// Days to answer (DESIGN §2.9: one month, 30 days).
pub const ANSWER_DAYS: i64 = 30;
/// Days in all with an announced extension (three months).
pub const EXTENDED_DAYS: i64 = 90;

/// What the citizen asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Insight,
    Rectification,
    Erasure,
    Restriction,
    Objection,
    Portability,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Insight,
        Kind::Rectification,
        Kind::Erasure,
        Kind::Restriction,
        Kind::Objection,
        Kind::Portability,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Insight => "insight",
            Kind::Rectification => "rectification",
            Kind::Erasure => "erasure",
            Kind::Restriction => "restriction",
            Kind::Objection => "objection",
            Kind::Portability => "portability",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ground {
    /// On the merits, under the provision named.
    Ordinary,
    /// Manifestly unfounded (art. 12(5)).
    ManifestlyUnfounded,
    /// Excessive, in particular because repeated (art. 12(5)).
    Excessive,
}

impl Ground {
    pub fn as_str(self) -> &'static str {
        match self {
            Ground::Ordinary => "ordinary",
            Ground::ManifestlyUnfounded => "manifestly_unfounded",
            Ground::Excessive => "excessive",
        }
    }

    pub fn parse(s: &str) -> Option<Ground> {
        [
            Ground::Ordinary,
            Ground::ManifestlyUnfounded,
            Ground::Excessive,
        ]
        .into_iter()
        .find(|g| g.as_str() == s)
    }
}

/// How to complain about a refusal (source 001 "Dine rettigheter"; 004 §2.3).
pub const COMPLAINT: &str = "You can complain to the Norwegian Data Protection Authority \
(Datatilsynet). If the request concerns your patient record, you can also complain to the county \
governor (Statsforvalteren).";

/// An announced extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub announced_at: DateTime<Utc>,
    pub reason: String,
}

/// How a request was closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Answered {
        at: DateTime<Utc>,
        text: String,
        /// A machine-readable answer, as JSON text.
        document: Option<String>,
    },
    Refused {
        at: DateTime<Utc>,
        reason: String,
        provision: String,
        ground: Ground,
    },
}

/// A request as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub received_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub extension: Option<Extension>,
    pub outcome: Option<Outcome>,
}

/// The first instant at which a request received at `received_at` is late.
pub fn first_deadline(received_at: DateTime<Utc>) -> DateTime<Utc> {
    oslo_midnight(oslo_date(received_at) + Duration::days(ANSWER_DAYS + 1))
}

/// The first instant at which an extended request received at `received_at` is late.
pub fn extended_deadline(received_at: DateTime<Utc>) -> DateTime<Utc> {
    oslo_midnight(oslo_date(received_at) + Duration::days(EXTENDED_DAYS + 1))
}

impl Request {
    pub fn received(at: DateTime<Utc>) -> Request {
        Request {
            received_at: at,
            acknowledged_at: None,
            extension: None,
            outcome: None,
        }
    }

    /// When it is late: the first deadline, or the extended one once announced.
    pub fn deadline(&self) -> DateTime<Utc> {
        match self.extension {
            Some(_) => extended_deadline(self.received_at),
            None => first_deadline(self.received_at),
        }
    }

    pub fn is_open(&self) -> bool {
        self.outcome.is_none()
    }

    /// Still open at or after its deadline.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.is_open() && now >= self.deadline()
    }

    fn open(&self) -> Result<(), RequestError> {
        if self.is_open() {
            Ok(())
        } else {
            Err(RequestError::Closed)
        }
    }

    /// The organisation confirms it has the request.
    pub fn acknowledge(&self, now: DateTime<Utc>) -> Result<Request, RequestError> {
        self.open()?;
        if self.acknowledged_at.is_some() || self.extension.is_some() {
            return Err(RequestError::AlreadyAcknowledged);
        }
        Ok(Request {
            acknowledged_at: Some(now),
            ..self.clone()
        })
    }

    /// The organisation extends the deadline to three months in all, with its reason; only
    /// before the first deadline, and once.
    pub fn extend(&self, reason: &str, now: DateTime<Utc>) -> Result<Request, RequestError> {
        self.open()?;
        if self.extension.is_some() {
            return Err(RequestError::AlreadyExtended);
        }
        if reason.trim().is_empty() {
            return Err(RequestError::ReasonRequired);
        }
        if now >= first_deadline(self.received_at) {
            return Err(RequestError::ExtensionTooLate);
        }
        Ok(Request {
            acknowledged_at: self.acknowledged_at.or(Some(now)),
            extension: Some(Extension {
                announced_at: now,
                reason: reason.trim().to_owned(),
            }),
            ..self.clone()
        })
    }

    /// The organisation answers (late answers are still answers: the lateness stays on record).
    pub fn answer(
        &self,
        text: &str,
        document: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Request, RequestError> {
        self.open()?;
        if text.trim().is_empty() {
            return Err(RequestError::AnswerRequired);
        }
        Ok(Request {
            outcome: Some(Outcome::Answered {
                at: now,
                text: text.trim().to_owned(),
                document,
            }),
            ..self.clone()
        })
    }

    /// The organisation refuses, with its reason and the provision it rests on.
    pub fn refuse(
        &self,
        reason: &str,
        provision: &str,
        ground: Ground,
        now: DateTime<Utc>,
    ) -> Result<Request, RequestError> {
        self.open()?;
        if reason.trim().is_empty() {
            return Err(RequestError::ReasonRequired);
        }
        if provision.trim().is_empty() {
            return Err(RequestError::ProvisionRequired);
        }
        Ok(Request {
            outcome: Some(Outcome::Refused {
                at: now,
                reason: reason.trim().to_owned(),
                provision: provision.trim().to_owned(),
                ground,
            }),
            ..self.clone()
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RequestError {
    #[error("the request is answered or refused")]
    Closed,
    #[error("the request is already acknowledged")]
    AlreadyAcknowledged,
    #[error("the deadline is already extended")]
    AlreadyExtended,
    #[error("an extension must be announced before the first deadline")]
    ExtensionTooLate,
    #[error("a reason is required")]
    ReasonRequired,
    #[error("the legal provision is required")]
    ProvisionRequired,
    #[error("the answer is required")]
    AnswerRequired,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, s).unwrap()
    }

    #[test]
    fn received_at_the_end_of_a_month_the_deadline_is_thirty_oslo_days_later() {
        // 23:30 Oslo on 31 January (22:30 UTC): Oslo day 31 Jan; deadline the end of 2 March.
        let r = utc(2027, 1, 31, 22, 30, 0);
        assert_eq!(first_deadline(r), utc(2027, 3, 2, 23, 0, 0));
        // 00:30 Oslo on 1 February is already the next Oslo day, though still 31 Jan in UTC.
        assert_eq!(
            first_deadline(utc(2027, 1, 31, 23, 30, 0)),
            utc(2027, 3, 3, 23, 0, 0)
        );
        // Across the change to summer time (28 March 2027): still Oslo midnight.
        assert_eq!(
            first_deadline(utc(2027, 3, 10, 12, 0, 0)),
            utc(2027, 4, 9, 22, 0, 0)
        );
        assert_eq!(
            extended_deadline(utc(2026, 11, 23, 12, 0, 0)),
            utc(2027, 2, 21, 23, 0, 0)
        );
    }

    #[test]
    fn an_extension_announced_on_the_last_day_holds_and_one_day_late_is_refused() {
        let received = utc(2027, 1, 31, 22, 30, 0);
        let req = Request::received(received);
        let last_second = utc(2027, 3, 2, 22, 59, 59);
        let extended = req.extend("many systems to search", last_second).unwrap();
        assert_eq!(extended.deadline(), extended_deadline(received));
        assert_eq!(
            req.extend("too late", utc(2027, 3, 2, 23, 0, 0)),
            Err(RequestError::ExtensionTooLate)
        );
        assert_eq!(
            req.extend("a day late", utc(2027, 3, 3, 12, 0, 0)),
            Err(RequestError::ExtensionTooLate)
        );
        assert_eq!(
            extended.extend("again", last_second),
            Err(RequestError::AlreadyExtended)
        );
        assert_eq!(
            req.extend("  ", last_second),
            Err(RequestError::ReasonRequired)
        );
    }

    #[test]
    fn overdue_from_the_deadline_instant_while_open() {
        let req = Request::received(utc(2026, 11, 23, 12, 0, 0));
        let deadline = utc(2026, 12, 23, 23, 0, 0);
        assert_eq!(req.deadline(), deadline);
        assert!(!req.is_overdue(deadline - Duration::seconds(1)));
        assert!(req.is_overdue(deadline));
        let answered = req.answer("here it is", None, deadline).unwrap();
        assert!(!answered.is_overdue(deadline + Duration::days(1)));
    }

    #[test]
    fn a_refusal_needs_its_reason_and_provision_and_a_closed_request_stays_closed() {
        let now = utc(2026, 11, 24, 9, 0, 0);
        let req = Request::received(utc(2026, 11, 23, 12, 0, 0));
        assert_eq!(
            req.refuse("", "GDPR art. 12(5)", Ground::Excessive, now),
            Err(RequestError::ReasonRequired)
        );
        assert_eq!(
            req.refuse(
                "the fifth identical request this month",
                " ",
                Ground::Excessive,
                now
            ),
            Err(RequestError::ProvisionRequired)
        );
        let refused = req
            .refuse(
                "the fifth identical request this month",
                "GDPR art. 12(5)",
                Ground::Excessive,
                now,
            )
            .unwrap();
        assert!(!refused.is_open());
        assert_eq!(refused.acknowledge(now), Err(RequestError::Closed));
        assert_eq!(refused.answer("x", None, now), Err(RequestError::Closed));
        assert_eq!(refused.extend("x", now), Err(RequestError::Closed));
        let ack = req.acknowledge(now).unwrap();
        assert_eq!(ack.acknowledge(now), Err(RequestError::AlreadyAcknowledged));
        assert!(COMPLAINT.contains("Datatilsynet") && COMPLAINT.contains("Statsforvalteren"));
    }
}

//! How much work waits in the queues the workers drain, for the operator's `/metrics`: the
//! outbox against the webhook fan-out, pending webhook deliveries, and notifications not yet sent.
//! Counts only: nothing here names a citizen.

use crate::db::{from_db, AnyConnection, StoreError};
use crate::notifications::{FAILED, QUEUED};
use crate::schema::{notifications as nt, webhook_deliveries as wd, webhook_endpoints as we};
use crate::webhooks::PENDING;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::{count_star, min};
use diesel::prelude::*;

/// What waits, read in one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueDepths {
    /// The newest outbox position (0 when empty).
    pub outbox_head: i64,
    /// Events not yet handed to the enabled webhook endpoint furthest behind (0 with no endpoint).
    pub fan_out_lag: i64,
    /// Webhook deliveries waiting for a first or a further attempt.
    pub webhook_pending: i64,
    /// When the longest-waiting pending delivery was created.
    pub webhook_oldest_pending: Option<DateTime<Utc>>,
    /// Notifications queued or to be retried after a failed attempt.
    pub notifications_waiting: i64,
    /// When the longest-waiting of them was created.
    pub notifications_oldest_waiting: Option<DateTime<Utc>>,
}

pub fn depths(conn: &mut AnyConnection) -> Result<QueueDepths, StoreError> {
    let outbox_head = crate::outbox::head(conn)?;
    let furthest_behind: Option<i64> = we::table
        .filter(we::disabled_at.is_null())
        .select(min(we::fanned_out_to))
        .get_result(conn)?;
    let (webhook_pending, webhook_oldest): (i64, Option<NaiveDateTime>) = wd::table
        .filter(wd::status.eq(PENDING))
        .select((count_star(), min(wd::created_at)))
        .get_result(conn)?;
    let (notifications_waiting, notifications_oldest): (i64, Option<NaiveDateTime>) = nt::table
        .filter(nt::status.eq_any([QUEUED, FAILED]))
        .select((count_star(), min(nt::created_at)))
        .get_result(conn)?;
    Ok(QueueDepths {
        outbox_head,
        fan_out_lag: furthest_behind.map_or(0, |f| (outbox_head - f).max(0)),
        webhook_pending,
        webhook_oldest_pending: webhook_oldest.map(from_db),
        notifications_waiting,
        notifications_oldest_waiting: notifications_oldest.map(from_db),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notifications::{Notification, SENT};
    use crate::outbox::NewEvent;
    use crate::scratch::both;
    use crate::webhooks::Endpoint;
    use chrono::TimeZone;
    use domain::identity::{IdPolicy, NationalId};

    fn at(m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, 10, m, 0).unwrap()
    }

    fn event(n: u32) -> NewEvent {
        NewEvent {
            event_id: format!("e-{n}"),
            event_type: "terms.accepted".into(),
            subject_id: "c-1".into(),
            occurred_at: at(n),
            payload: serde_json::json!({}),
        }
    }

    fn endpoint(id: &str, fanned_out_to: i64) -> Endpoint {
        Endpoint {
            id: id.into(),
            client_id: "dev-service-reader".into(),
            url: "http://127.0.0.1:9/hook".into(),
            event_types: vec![],
            secret: "whsec_x".into(),
            created_at: at(0),
            fanned_out_to,
            disabled_at: None,
            disabled_reason: None,
        }
    }

    fn notification(id: &str, status: &str, created: u32) -> Notification {
        Notification {
            id: id.into(),
            citizen_id: "c-1".into(),
            kind: "emergency_opening".into(),
            language: "nb".into(),
            recipient: None,
            facts: "{}".into(),
            status: status.into(),
            attempts: 0,
            next_attempt_at: Some(at(created)),
            last_error: None,
            sent_at: None,
            created_at: at(created),
            occasion: id.into(),
        }
    }

    #[test]
    fn depths_count_what_waits_and_nothing_else() {
        both(|db| {
            let mut conn = db.conn().unwrap();
            assert_eq!(depths(&mut conn).unwrap(), QueueDepths::default());

            let pid = NationalId::parse(
                "10829241876",
                IdPolicy {
                    allow_synthetic: true,
                },
            )
            .unwrap();
            crate::citizens::find_or_create(&mut conn, &pid, || "c-1".to_owned(), at(0)).unwrap();
            for n in 1..=3 {
                crate::outbox::append(&mut conn, &event(n)).unwrap();
            }
            let head = crate::outbox::head(&mut conn).unwrap();
            // The enabled endpoint furthest behind counts; a disabled one, further behind, and
            // its deliveries (no longer pending) do not.
            for (id, to) in [("w-1", head - 1), ("w-2", head - 2), ("w-3", 0)] {
                crate::webhooks::insert_endpoint(&mut conn, &endpoint(id, to)).unwrap();
            }
            let first = crate::outbox::after(&mut conn, 0, 1).unwrap().remove(0);
            for (id, to, created) in [("d-1", "w-1", 7), ("d-2", "w-2", 5), ("d-3", "w-3", 1)] {
                crate::webhooks::insert_delivery(&mut conn, id, to, &first, at(created)).unwrap();
            }
            assert!(crate::webhooks::disable(&mut conn, "w-3", at(2), "gone").unwrap());
            crate::notifications::insert(&mut conn, &notification("n-1", QUEUED, 9)).unwrap();
            crate::notifications::insert(&mut conn, &notification("n-2", FAILED, 8)).unwrap();
            crate::notifications::insert(&mut conn, &notification("n-3", SENT, 1)).unwrap();

            assert_eq!(
                depths(&mut conn).unwrap(),
                QueueDepths {
                    outbox_head: head,
                    fan_out_lag: 2,
                    webhook_pending: 2,
                    webhook_oldest_pending: Some(at(5)),
                    notifications_waiting: 2,
                    notifications_oldest_waiting: Some(at(8)),
                }
            );
        });
    }
}

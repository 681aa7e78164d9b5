//! Webhook endpoints, their deliveries and each attempt, as stored (rules: `domain::webhooks`).
//!
//! Several server instances may run the worker at once. Two conditional updates keep them from
//! doing the same work twice: an instance hands an endpoint the events after `fanned_out_to`
//! only if it moves `fanned_out_to` from the value it read ([`advance_fan_out`]), and it sends a
//! delivery only if it moves `next_attempt_at` from the value it read ([`claim`]).

use crate::db::{ceil_to_db, from_db, to_db, AnyConnection, StoreError};
use crate::schema::{webhook_attempts as wa, webhook_deliveries as wd, webhook_endpoints as we};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: String,
    pub client_id: String,
    pub url: String,
    /// Event types or prefixes (`terms.*`); empty: every event.
    pub event_types: Vec<String>,
    /// The signing secret as stored: sealed (`api`'s `webhook_secrets`) or as issued.
    pub secret: String,
    pub created_at: DateTime<Utc>,
    pub fanned_out_to: i64,
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = we, treat_none_as_default_value = false)]
struct EndpointRow {
    id: String,
    client_id: String,
    url: String,
    event_types: String,
    secret: String,
    created_at: NaiveDateTime,
    fanned_out_to: i64,
    disabled_at: Option<NaiveDateTime>,
    disabled_reason: Option<String>,
}

impl From<EndpointRow> for Endpoint {
    fn from(r: EndpointRow) -> Endpoint {
        Endpoint {
            id: r.id,
            client_id: r.client_id,
            url: r.url,
            event_types: r
                .event_types
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            secret: r.secret,
            created_at: from_db(r.created_at),
            fanned_out_to: r.fanned_out_to,
            disabled_at: r.disabled_at.map(from_db),
            disabled_reason: r.disabled_reason,
        }
    }
}

pub fn insert_endpoint(conn: &mut AnyConnection, e: &Endpoint) -> Result<(), StoreError> {
    diesel::insert_into(we::table)
        .values(EndpointRow {
            id: e.id.clone(),
            client_id: e.client_id.clone(),
            url: e.url.clone(),
            event_types: e.event_types.join(" "),
            secret: e.secret.clone(),
            created_at: to_db(e.created_at),
            fanned_out_to: e.fanned_out_to,
            disabled_at: None,
            disabled_reason: None,
        })
        .execute(conn)?;
    Ok(())
}

pub fn find_endpoint(conn: &mut AnyConnection, id: &str) -> Result<Option<Endpoint>, StoreError> {
    Ok(we::table
        .find(id)
        .select(EndpointRow::as_select())
        .get_result(conn)
        .optional()?
        .map(Endpoint::from))
}

/// A client's endpoints, newest first, disabled ones included.
pub fn endpoints_of(
    conn: &mut AnyConnection,
    client_id: &str,
) -> Result<Vec<Endpoint>, StoreError> {
    Ok(we::table
        .filter(we::client_id.eq(client_id))
        .order((we::created_at.desc(), we::id.desc()))
        .select(EndpointRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Endpoint::from)
        .collect())
}

/// Every endpoint still enabled.
pub fn enabled_endpoints(conn: &mut AnyConnection) -> Result<Vec<Endpoint>, StoreError> {
    Ok(we::table
        .filter(we::disabled_at.is_null())
        .order(we::id.asc())
        .select(EndpointRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Endpoint::from)
        .collect())
}

/// Disables endpoint `id` unless it is already; true when this call disabled it. Its pending
/// deliveries are not sent: they become `endpoint_disabled`.
pub fn disable(
    conn: &mut AnyConnection,
    id: &str,
    at: DateTime<Utc>,
    reason: &str,
) -> Result<bool, StoreError> {
    let n = diesel::update(we::table.find(id).filter(we::disabled_at.is_null()))
        .set((
            we::disabled_at.eq(Some(to_db(at))),
            we::disabled_reason.eq(Some(reason)),
        ))
        .execute(conn)?;
    diesel::update(
        wd::table
            .filter(wd::endpoint_id.eq(id))
            .filter(wd::status.eq(PENDING)),
    )
    .set((
        wd::status.eq(ENDPOINT_DISABLED),
        wd::next_attempt_at.eq(None::<NaiveDateTime>),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Moves endpoint `id`'s fan-out position from `from` to `to`; false when another worker moved it
/// first (then this one must not create the deliveries).
pub fn advance_fan_out(
    conn: &mut AnyConnection,
    id: &str,
    from: i64,
    to: i64,
) -> Result<bool, StoreError> {
    let n = diesel::update(
        we::table
            .find(id)
            .filter(we::fanned_out_to.eq(from))
            .filter(we::disabled_at.is_null()),
    )
    .set(we::fanned_out_to.eq(to))
    .execute(conn)?;
    Ok(n == 1)
}

/// Every endpoint's id and stored signing secret, disabled ones included (the start-up pass that
/// seals secrets stored as issued, and checks that sealed ones open).
pub fn stored_secrets(conn: &mut AnyConnection) -> Result<Vec<(String, String)>, StoreError> {
    Ok(we::table
        .select((we::id, we::secret))
        .order(we::id)
        .load(conn)?)
}

/// Replaces endpoint `id`'s stored secret with `new` if it is still `old`; false when another
/// instance replaced it first.
pub fn replace_secret(
    conn: &mut AnyConnection,
    id: &str,
    old: &str,
    new: &str,
) -> Result<bool, StoreError> {
    let n = diesel::update(we::table.find(id).filter(we::secret.eq(old)))
        .set(we::secret.eq(new))
        .execute(conn)?;
    Ok(n == 1)
}

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const GIVEN_UP: &str = "given_up";
pub const ENDPOINT_DISABLED: &str = "endpoint_disabled";

/// One message to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = wd)]
pub struct DeliveryRow {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_position: i64,
    pub event_type: String,
    pub subject_id: String,
    pub event_occurred_at: NaiveDateTime,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub delivered_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = wd, treat_none_as_default_value = false)]
struct NewDelivery<'a> {
    id: &'a str,
    endpoint_id: &'a str,
    event_id: &'a str,
    event_position: i64,
    event_type: &'a str,
    subject_id: &'a str,
    event_occurred_at: NaiveDateTime,
    status: &'a str,
    attempts: i32,
    next_attempt_at: Option<NaiveDateTime>,
    delivered_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
}

/// A new message of `event` for `endpoint_id`, due at once.
pub fn insert_delivery(
    conn: &mut AnyConnection,
    id: &str,
    endpoint_id: &str,
    event: &crate::outbox::Event,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::insert_into(wd::table)
        .values(NewDelivery {
            id,
            endpoint_id,
            event_id: &event.event_id,
            event_position: event.position,
            event_type: &event.event_type,
            subject_id: &event.subject_id,
            event_occurred_at: to_db(event.occurred_at),
            status: PENDING,
            attempts: 0,
            next_attempt_at: Some(to_db(now)),
            delivered_at: None,
            created_at: to_db(now),
        })
        .execute(conn)?;
    Ok(())
}

/// Pending deliveries due at `now`, the longest waiting first.
pub fn due(
    conn: &mut AnyConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, StoreError> {
    Ok(wd::table
        .filter(wd::status.eq(PENDING))
        .filter(wd::next_attempt_at.le(to_db(now)))
        .order((wd::next_attempt_at.asc(), wd::event_position.asc()))
        .limit(limit)
        .select(DeliveryRow::as_select())
        .load(conn)?)
}

/// Takes delivery `d` for one attempt: moves its due time to `lease_until` if no other worker
/// moved it since `d` was read. True when this worker has it.
pub fn claim(
    conn: &mut AnyConnection,
    d: &DeliveryRow,
    lease_until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let Some(was) = d.next_attempt_at else {
        return Ok(false);
    };
    let n = diesel::update(
        wd::table
            .find(&d.id)
            .filter(wd::status.eq(PENDING))
            .filter(wd::next_attempt_at.eq(was)),
    )
    .set(wd::next_attempt_at.eq(Some(to_db(lease_until))))
    .execute(conn)?;
    Ok(n == 1)
}

/// Records attempt number `attempt` of delivery `id` and the delivery's state after it.
#[allow(clippy::too_many_arguments)]
pub fn record_attempt(
    conn: &mut AnyConnection,
    id: &str,
    attempt: i32,
    at: DateTime<Utc>,
    status_code: Option<i32>,
    error: Option<&str>,
    new_status: &str,
    next_attempt_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    diesel::insert_into(wa::table)
        .values((
            wa::delivery_id.eq(id),
            wa::attempt.eq(attempt),
            wa::at.eq(to_db(at)),
            wa::status_code.eq(status_code),
            wa::error.eq(error),
        ))
        .execute(conn)?;
    let delivered_at = (new_status == DELIVERED).then(|| to_db(at));
    // Only a pending delivery changes: an endpoint disabled meanwhile keeps its deliveries
    // `endpoint_disabled`.
    diesel::update(wd::table.find(id).filter(wd::status.eq(PENDING)))
        .set((
            wd::status.eq(new_status),
            wd::attempts.eq(attempt),
            wd::next_attempt_at.eq(next_attempt_at.map(ceil_to_db)),
            wd::delivered_at.eq(delivered_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// One attempt, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = wa)]
pub struct AttemptRow {
    pub delivery_id: String,
    pub attempt: i32,
    pub at: NaiveDateTime,
    pub status_code: Option<i32>,
    pub error: Option<String>,
}

/// An endpoint's latest `limit` deliveries, newest first, with their attempts.
pub fn deliveries_of(
    conn: &mut AnyConnection,
    endpoint_id: &str,
    limit: i64,
) -> Result<Vec<(DeliveryRow, Vec<AttemptRow>)>, StoreError> {
    let deliveries: Vec<DeliveryRow> = wd::table
        .filter(wd::endpoint_id.eq(endpoint_id))
        .order((wd::event_position.desc(), wd::id.desc()))
        .limit(limit)
        .select(DeliveryRow::as_select())
        .load(conn)?;
    let ids: Vec<&str> = deliveries.iter().map(|d| d.id.as_str()).collect();
    let attempts: Vec<AttemptRow> = wa::table
        .filter(wa::delivery_id.eq_any(&ids))
        .order((wa::delivery_id.asc(), wa::attempt.asc()))
        .select(AttemptRow::as_select())
        .load(conn)?;
    Ok(deliveries
        .into_iter()
        .map(|d| {
            let mine = attempts
                .iter()
                .filter(|a| a.delivery_id == d.id)
                .cloned()
                .collect();
            (d, mine)
        })
        .collect())
}

/// Who received what: the deliveries of `event_ids`, with each endpoint's client.
pub fn receivers_of(
    conn: &mut AnyConnection,
    event_ids: &[String],
) -> Result<Vec<(DeliveryRow, String)>, StoreError> {
    Ok(wd::table
        .inner_join(we::table.on(we::id.eq(wd::endpoint_id)))
        .filter(wd::event_id.eq_any(event_ids))
        .order((wd::event_position.asc(), we::client_id.asc()))
        .select((DeliveryRow::as_select(), we::client_id))
        .load(conn)?)
}

pub fn time(t: NaiveDateTime) -> DateTime<Utc> {
    from_db(t)
}

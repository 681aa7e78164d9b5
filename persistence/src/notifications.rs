//! Contact details, email confirmations and notifications, as stored (rules:
//! `domain::notifications`).
//!
//! Several instances may run the notification worker at once: an instance sends a message only
//! after moving its `next_attempt_at` from the value it read ([`claim`]), and a message's
//! `occasion` is unique, so a change or a reminder never plans two.

use crate::db::{ceil_to_db, from_db, to_db, AnyConnection, StoreError};
use crate::schema::{contact_details as cd, email_confirmations as ec, notifications as nt};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

/// A citizen's contact details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub citizen_id: String,
    pub email: Option<String>,
    pub email_confirmed_at: Option<DateTime<Utc>>,
    pub phone: Option<String>,
    /// `nb` or `en`.
    pub language: String,
    pub updated_at: DateTime<Utc>,
}

impl Contact {
    /// The address messages may go to: the email once confirmed.
    pub fn confirmed_email(&self) -> Option<&str> {
        self.email
            .as_deref()
            .filter(|_| self.email_confirmed_at.is_some())
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = cd, treat_none_as_null = true, treat_none_as_default_value = false)]
struct ContactRow {
    citizen_id: String,
    email: Option<String>,
    email_confirmed_at: Option<NaiveDateTime>,
    phone: Option<String>,
    language: String,
    updated_at: NaiveDateTime,
}

impl From<ContactRow> for Contact {
    fn from(r: ContactRow) -> Contact {
        Contact {
            citizen_id: r.citizen_id,
            email: r.email,
            email_confirmed_at: r.email_confirmed_at.map(from_db),
            phone: r.phone,
            language: r.language,
            updated_at: from_db(r.updated_at),
        }
    }
}

impl From<&Contact> for ContactRow {
    fn from(c: &Contact) -> ContactRow {
        ContactRow {
            citizen_id: c.citizen_id.clone(),
            email: c.email.clone(),
            email_confirmed_at: c.email_confirmed_at.map(to_db),
            phone: c.phone.clone(),
            language: c.language.clone(),
            updated_at: to_db(c.updated_at),
        }
    }
}

pub fn contact(conn: &mut AnyConnection, citizen_id: &str) -> Result<Option<Contact>, StoreError> {
    Ok(cd::table
        .find(citizen_id)
        .select(ContactRow::as_select())
        .get_result(conn)
        .optional()?
        .map(Contact::from))
}

/// Stores `c`, replacing what the citizen had.
pub fn put_contact(conn: &mut AnyConnection, c: &Contact) -> Result<(), StoreError> {
    let row = ContactRow::from(c);
    let n = diesel::update(cd::table.find(&c.citizen_id))
        .set(&row)
        .execute(conn)?;
    if n == 0 {
        diesel::insert_into(cd::table).values(&row).execute(conn)?;
    }
    Ok(())
}

/// Everyone with a confirmed address: the only people a reminder can reach.
pub fn confirmed_contacts(conn: &mut AnyConnection) -> Result<Vec<Contact>, StoreError> {
    Ok(cd::table
        .filter(cd::email.is_not_null())
        .filter(cd::email_confirmed_at.is_not_null())
        .order(cd::citizen_id.asc())
        .select(ContactRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Contact::from)
        .collect())
}

pub fn insert_confirmation(
    conn: &mut AnyConnection,
    token_hash: &str,
    citizen_id: &str,
    email: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::insert_into(ec::table)
        .values((
            ec::token_hash.eq(token_hash),
            ec::citizen_id.eq(citizen_id),
            ec::email.eq(email),
            ec::expires_at.eq(to_db(expires_at)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Uses the confirmation `token_hash` at `now` if it is unused and unexpired: (citizen, email).
/// The condition on `used_at` makes two concurrent uses use it once.
pub fn use_confirmation(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<(String, String)>, StoreError> {
    let n = diesel::update(
        ec::table
            .find(token_hash)
            .filter(ec::used_at.is_null())
            .filter(ec::expires_at.gt(to_db(now))),
    )
    .set(ec::used_at.eq(Some(to_db(now))))
    .execute(conn)?;
    if n == 0 {
        return Ok(None);
    }
    Ok(ec::table
        .find(token_hash)
        .select((ec::citizen_id, ec::email))
        .get_result(conn)
        .optional()?)
}

pub const QUEUED: &str = "queued";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";
pub const GIVEN_UP: &str = "given_up";
pub const NO_ADDRESS: &str = "no_address";

/// One planned message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: String,
    pub citizen_id: String,
    pub kind: String,
    pub language: String,
    pub recipient: Option<String>,
    /// JSON.
    pub facts: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub occasion: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = nt, treat_none_as_default_value = false)]
struct NotificationRow {
    id: String,
    citizen_id: String,
    kind: String,
    language: String,
    recipient: Option<String>,
    facts: String,
    status: String,
    attempts: i32,
    next_attempt_at: Option<NaiveDateTime>,
    last_error: Option<String>,
    sent_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
    occasion: String,
}

impl From<NotificationRow> for Notification {
    fn from(r: NotificationRow) -> Notification {
        Notification {
            id: r.id,
            citizen_id: r.citizen_id,
            kind: r.kind,
            language: r.language,
            recipient: r.recipient,
            facts: r.facts,
            status: r.status,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at.map(from_db),
            last_error: r.last_error,
            sent_at: r.sent_at.map(from_db),
            created_at: from_db(r.created_at),
            occasion: r.occasion,
        }
    }
}

/// Whether a message for `occasion` was planned already.
pub fn planned(conn: &mut AnyConnection, occasion: &str) -> Result<bool, StoreError> {
    Ok(nt::table
        .filter(nt::occasion.eq(occasion))
        .select(nt::id)
        .get_result::<String>(conn)
        .optional()?
        .is_some())
}

pub fn insert(conn: &mut AnyConnection, n: &Notification) -> Result<(), StoreError> {
    diesel::insert_into(nt::table)
        .values(NotificationRow {
            id: n.id.clone(),
            citizen_id: n.citizen_id.clone(),
            kind: n.kind.clone(),
            language: n.language.clone(),
            recipient: n.recipient.clone(),
            facts: n.facts.clone(),
            status: n.status.clone(),
            attempts: n.attempts,
            next_attempt_at: n.next_attempt_at.map(to_db),
            last_error: n.last_error.clone(),
            sent_at: n.sent_at.map(to_db),
            created_at: to_db(n.created_at),
            occasion: n.occasion.clone(),
        })
        .execute(conn)?;
    Ok(())
}

/// Messages due at `now` (queued, or failed and due again), the longest waiting first.
pub fn due(
    conn: &mut AnyConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Notification>, StoreError> {
    Ok(nt::table
        .filter(nt::status.eq_any([QUEUED, FAILED]))
        .filter(nt::next_attempt_at.le(to_db(now)))
        .order((nt::next_attempt_at.asc(), nt::created_at.asc()))
        .limit(limit)
        .select(NotificationRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Notification::from)
        .collect())
}

/// Takes `n` for one attempt by moving its due time to `lease_until`, if no other worker moved
/// it since `n` was read.
pub fn claim(
    conn: &mut AnyConnection,
    n: &Notification,
    lease_until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let Some(was) = n.next_attempt_at else {
        return Ok(false);
    };
    let changed = diesel::update(
        nt::table
            .find(&n.id)
            .filter(nt::status.eq_any([QUEUED, FAILED]))
            .filter(nt::next_attempt_at.eq(to_db(was))),
    )
    .set(nt::next_attempt_at.eq(Some(to_db(lease_until))))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Records attempt `attempts` of `id`: its new status, when to try again, why it failed.
pub fn record_attempt(
    conn: &mut AnyConnection,
    id: &str,
    attempts: i32,
    status: &str,
    next_attempt_at: Option<DateTime<Utc>>,
    error: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let next = next_attempt_at.map(ceil_to_db);
    diesel::update(nt::table.find(id))
        .set((
            nt::status.eq(status),
            nt::attempts.eq(attempts),
            nt::next_attempt_at.eq(next),
            nt::last_error.eq(error),
            nt::sent_at.eq((status == SENT).then(|| to_db(at))),
        ))
        .execute(conn)?;
    Ok(())
}

/// The citizen's latest `limit` messages, newest first.
pub fn of_citizen(
    conn: &mut AnyConnection,
    citizen_id: &str,
    limit: i64,
) -> Result<Vec<Notification>, StoreError> {
    Ok(nt::table
        .filter(nt::citizen_id.eq(citizen_id))
        .order((nt::created_at.desc(), nt::id.desc()))
        .limit(limit)
        .select(NotificationRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Notification::from)
        .collect())
}

/// Forgets what message `id` said beyond its kind (a one-time link, once it is sent).
pub fn clear_facts(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    diesel::update(nt::table.find(id))
        .set(nt::facts.eq("{}"))
        .execute(conn)?;
    Ok(())
}

/// Deletes the citizen's contact details, confirmation links and messages (the terms consent was
/// withdrawn). Returns how many rows went.
pub fn erase(conn: &mut AnyConnection, citizen_id: &str) -> Result<usize, StoreError> {
    let mut gone = diesel::delete(nt::table.filter(nt::citizen_id.eq(citizen_id))).execute(conn)?;
    gone += diesel::delete(ec::table.filter(ec::citizen_id.eq(citizen_id))).execute(conn)?;
    gone += diesel::delete(cd::table.find(citizen_id)).execute(conn)?;
    Ok(gone)
}

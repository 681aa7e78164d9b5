//! The opening write on PostgreSQL, pipelined on a connection of the server worker's own
//! (`crate::worker_pg`), driven by the worker's event loop: the same rows as the pool's way
//! (`super::write_in`), in two round trips instead of about ten, and no blocking thread.
//!
//! - Round trip 1: `BEGIN`; for each citizen, in id order (so that two writers never wait for
//!   each other in a circle), its row lock, its last usage-log entry (or the anchor a cut left)
//!   and its contact details; whether a message shared by several openings was planned already.
//!   In `READ COMMITTED` each statement reads under a snapshot taken when it starts, after the
//!   one before it ended, so the last entry is read once the row lock is held, as the pool's way
//!   reads it (`persistence::usage_log::append`).
//! - Between them, in memory: the entries chained (`domain::usage_log::chain`), the openings, the
//!   messages (`notify::message`) and the events (`audit::event`).
//! - Round trip 2: the inserts (the outbox last: its trigger takes the outbox writers' lock,
//!   held until the commit, which now follows without a round trip between) and `COMMIT`.
//!
//! tokio-postgres sends a statement when its future is first polled, so polling them all in
//! order ([`pipeline`]) sends them in order without waiting for any answer. A statement that
//! fails aborts the transaction; the ones after it fail too, and the `COMMIT` then rolls back.
//!
//! Only events whose message goes to the subject alone, with no facts from the log entry, can be
//! planned here (`notify::messages_of`); the openings' events are such. The SQL names the same
//! columns as the pool's inserts; `tests::both_ways_write_the_same_rows` keeps them equal.

use chrono::{DateTime, NaiveDateTime, Utc};
use domain::notifications::Kind;
use domain::usage_log::{chain, ChainedEntry};
use futures_util::future::{maybe_done, MaybeDone};
use persistence::db::{from_db, to_db};
use persistence::notifications::{Contact, Notification};
use persistence::outbox::NewEvent;
use persistence::sharing::{stored_parts, StoredOpening};
use persistence::{Backend, Db};
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::Poll;
use std::thread::ThreadId;
use std::time::{Duration, Instant};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};

use super::Record;
use crate::audit;
use crate::notify::{self, EventMessages, StoredFacts};
use crate::worker_pg::{self, WorkerPg};

/// Writers a server worker keeps at most; an opening that finds them all busy goes the pool's
/// way. Openings are rare (a permit past a block or an objection), so two are seldom both busy.
const PER_WORKER: usize = 2;

/// How long one write may take in all. Each statement also has the pool's `statement_timeout`.
const WRITE_TIMEOUT: Duration = Duration::from_secs(20);

const LOCK: &str = "SELECT id FROM citizens WHERE id = $1 FOR UPDATE";
/// The last entry, or the anchor when a cut left none (its position is below every entry's).
const LAST: &str = "SELECT seq, hash FROM (\
    (SELECT seq, hash FROM usage_log WHERE subject_id = $1 ORDER BY seq DESC LIMIT 1) \
    UNION ALL (SELECT seq, hash FROM usage_log_anchors WHERE subject_id = $1)) AS last \
    ORDER BY seq DESC LIMIT 1";
const CONTACT: &str = "SELECT email, email_confirmed_at, phone, language, updated_at \
    FROM contact_details WHERE citizen_id = $1";
const PLANNED: &str = "SELECT id FROM notifications WHERE occasion = $1";
const ENTRY: &str = "INSERT INTO usage_log (subject_id, seq, at, actor_kind, actor_id, action, \
    details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
const OPENING: &str = "INSERT INTO sharing_openings (id, citizen_id, at, kind, resource, parts, \
    hpr_number, organisation_number, basis, stated_basis, client_id, log_seq) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
const MESSAGE: &str = "INSERT INTO notifications (id, citizen_id, kind, language, recipient, \
    facts, status, attempts, next_attempt_at, last_error, sent_at, created_at, occasion) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
const EVENT: &str = "INSERT INTO outbox (event_id, event_type, subject_id, occurred_at, payload) \
    VALUES ($1, $2, $3, $4, $5)";

/// Why a pipelined write did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// Nothing was written (refused before it began, or rolled back): the pool's way may write it.
    NotWritten(String),
    /// The connection failed once the `COMMIT` could have gone out: whether it was written is not
    /// known, so it must not be written again.
    Unknown(String),
}

/// The writers of each server worker.
pub struct Writers {
    /// `None`: on SQLite, or where a worker's own connection would not be libpq's.
    how: Option<WorkerPg>,
    workers: Mutex<HashMap<ThreadId, Kept>>,
}

#[derive(Default)]
struct Kept {
    idle: Vec<Writer>,
    /// Writers of this worker, idle or busy.
    open: usize,
    /// After a failed connection attempt, the pool's way until then.
    retry_at: Option<Instant>,
}

impl Writers {
    pub fn new(db: &Db) -> Writers {
        Writers {
            how: (db.backend() == Backend::Postgres)
                .then(|| worker_pg::for_url(db.url()))
                .flatten(),
            workers: Mutex::default(),
        }
    }

    fn this_worker(&self) -> MutexGuard<'_, HashMap<ThreadId, Kept>> {
        self.workers.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn with_kept<T>(&self, f: impl FnOnce(&mut Kept) -> T) -> T {
        f(self
            .this_worker()
            .entry(std::thread::current().id())
            .or_default())
    }

    /// An idle writer of this worker, or a new one while it has fewer than [`PER_WORKER`];
    /// `None` when the pool's way must serve. Call on the worker that will write: a writer's
    /// connection runs on the event loop that made it.
    pub async fn take(&self) -> Option<Writer> {
        let how = self.how.as_ref()?;
        let connect = self.with_kept(|k| {
            if let Some(w) = k.idle.pop() {
                return Some(Ok(w));
            }
            let may = k.open < PER_WORKER && k.retry_at.is_none_or(|t| Instant::now() >= t);
            may.then(|| {
                k.open += 1;
                Err(())
            })
        })?;
        match connect {
            Ok(w) => Some(w),
            Err(()) => match Writer::connect(how).await {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::warn!(error = %e, "a worker's own connection for openings failed; writing through the pool");
                    self.with_kept(|k| {
                        k.open = k.open.saturating_sub(1);
                        k.retry_at = Some(Instant::now() + worker_pg::RETRY_AFTER);
                    });
                    None
                }
            },
        }
    }

    /// Writes `records` with `w` (from [`Writers::take`] on this worker), and keeps `w` for the
    /// next write unless its connection can no longer be trusted.
    pub async fn write(
        &self,
        mut w: Writer,
        records: &[Record],
        now: DateTime<Utc>,
    ) -> Result<(), Failure> {
        let result = match tokio::time::timeout(WRITE_TIMEOUT, w.write(records, now)).await {
            Ok(result) => result,
            Err(_) => {
                w.broken = true;
                Err(Failure::Unknown(format!(
                    "no answer within {WRITE_TIMEOUT:?}"
                )))
            }
        };
        if w.broken || w.client.is_closed() {
            // Dropping the client ends the connection; an open transaction is rolled back.
            self.with_kept(|k| k.open = k.open.saturating_sub(1));
        } else {
            self.with_kept(|k| k.idle.push(w));
        }
        result
    }
}

/// A worker's connection for openings, with its statements prepared.
pub struct Writer {
    client: Client,
    lock: Statement,
    last: Statement,
    contact: Statement,
    planned: Statement,
    entry: Statement,
    opening: Statement,
    message: Statement,
    event: Statement,
    /// Its transaction state is not known (a failed rollback, a timeout): not to be used again.
    broken: bool,
}

type Answer = Result<Vec<Row>, tokio_postgres::Error>;
type Pending<'a> = Pin<Box<dyn Future<Output = Answer> + 'a>>;
type Param<'a> = &'a (dyn ToSql + Sync);

impl Writer {
    async fn connect(how: &WorkerPg) -> Result<Writer, tokio_postgres::Error> {
        let client = how.open("openings").await?;
        // As the pool's connections (`persistence::db`).
        client
            .batch_execute("SET statement_timeout = '15s'")
            .await?;
        let p = |sql| client.prepare(sql);
        let (lock, last, contact, planned, entry, opening, message, event) = futures_util::try_join!(
            p(LOCK),
            p(LAST),
            p(CONTACT),
            p(PLANNED),
            p(ENTRY),
            p(OPENING),
            p(MESSAGE),
            p(EVENT)
        )?;
        tracing::info!(
            tls = how.tls(),
            "openings: this worker writes them on a connection of its own"
        );
        Ok(Writer {
            client,
            lock,
            last,
            contact,
            planned,
            entry,
            opening,
            message,
            event,
            broken: false,
        })
    }

    /// A statement sent with the simple protocol (no parameters), answered like the others.
    fn simple<'a>(&'a self, sql: &'a str) -> Pending<'a> {
        Box::pin(async move { self.client.batch_execute(sql).await.map(|()| Vec::new()) })
    }

    fn query<'a>(&'a self, statement: &'a Statement, params: &'a [Param<'a>]) -> Pending<'a> {
        Box::pin(self.client.query(statement, params))
    }

    async fn write(&mut self, records: &[Record], now: DateTime<Utc>) -> Result<(), Failure> {
        let plan = Plan::of(records, now)?;
        let read = match self.read(&plan).await {
            Ok(read) => read,
            Err(e) => {
                if self.simple("ROLLBACK").await.is_err() {
                    self.broken = true;
                }
                return Err(Failure::NotWritten(e));
            }
        };
        self.insert_and_commit(&plan.rows(records, read, now)).await
    }

    /// Round trip 1.
    async fn read(&self, plan: &Plan<'_>) -> Result<Read, String> {
        let by_citizen: Vec<[Param<'_>; 1]> = plan.citizens.iter().map(|c| [c as Param]).collect();
        let by_occasion: Vec<[Param<'_>; 1]> = plan.shared.iter().map(|o| [o as Param]).collect();
        let mut sent = vec![self.simple("BEGIN")];
        for p in &by_citizen {
            sent.push(self.query(&self.lock, p));
            sent.push(self.query(&self.last, p));
            sent.push(self.query(&self.contact, p));
        }
        for p in &by_occasion {
            sent.push(self.query(&self.planned, p));
        }
        let mut answers = pipeline(sent, None).await.0.into_iter();
        let mut next = || -> Result<Vec<Row>, String> {
            answers
                .next()
                .ok_or("an answer missing")?
                .map_err(|e| e.to_string())
        };
        next()?;
        let mut read = Read::default();
        for c in &plan.citizens {
            next()?;
            let last = match next()?.first() {
                Some(row) => Some((get(row, 0)?, get(row, 1)?)),
                None => None,
            };
            let contact = match next()?.first() {
                Some(row) => Some(contact_of(c, row)?),
                None => None,
            };
            read.last.insert(c.to_string(), last);
            read.contacts.insert(c.to_string(), contact);
        }
        for o in &plan.shared {
            if !next()?.is_empty() {
                read.planned.insert(o.to_string());
            }
        }
        Ok(read)
    }

    /// Round trip 2.
    async fn insert_and_commit(&mut self, rows: &Rows) -> Result<(), Failure> {
        let entries: Vec<EntryValues<'_>> = rows.entries.iter().map(EntryValues::of).collect();
        let openings: Vec<OpeningValues<'_>> =
            rows.openings.iter().map(OpeningValues::of).collect();
        let messages: Vec<MessageValues<'_>> =
            rows.messages.iter().map(MessageValues::of).collect();
        let events: Vec<EventValues<'_>> = rows.events.iter().map(EventValues::of).collect();
        let (entry_params, opening_params, message_params, event_params) = (
            entries.iter().map(EntryValues::params).collect::<Vec<_>>(),
            openings
                .iter()
                .map(OpeningValues::params)
                .collect::<Vec<_>>(),
            messages
                .iter()
                .map(MessageValues::params)
                .collect::<Vec<_>>(),
            events.iter().map(EventValues::params).collect::<Vec<_>>(),
        );
        let mut sent = Vec::new();
        sent.extend(entry_params.iter().map(|p| self.query(&self.entry, p)));
        sent.extend(opening_params.iter().map(|p| self.query(&self.opening, p)));
        sent.extend(message_params.iter().map(|p| self.query(&self.message, p)));
        sent.extend(event_params.iter().map(|p| self.query(&self.event, p)));
        let (answers, commit) = pipeline(sent, Some(self.simple("COMMIT"))).await;
        let Some(commit) = commit else {
            // One of them never went out: the transaction is still open.
            let e = answers.into_iter().find_map(Result::err);
            if self.simple("ROLLBACK").await.is_err() {
                self.broken = true;
            }
            return Err(Failure::NotWritten(
                e.map_or_else(|| "not sent".to_owned(), |e| e.to_string()),
            ));
        };
        // A statement the database refused aborted the transaction: the COMMIT rolled it back.
        if let Some(refused) = answers
            .iter()
            .filter_map(|a| a.as_ref().err())
            .find(|e| e.code().is_some())
        {
            return Err(Failure::NotWritten(refused.to_string()));
        }
        match (answers.into_iter().find_map(Result::err), commit) {
            (None, Ok(_)) => Ok(()),
            // Refused at the commit itself (a conflict): rolled back.
            (None, Err(e)) if e.code().is_some() => Err(Failure::NotWritten(e.to_string())),
            (Some(e), _) | (None, Err(e)) => Err(Failure::Unknown(e.to_string())),
        }
    }
}

/// Polls `pending` together, each in the order given, so that their statements go out in that
/// order without waiting for any answer; then `last` after them, unless one of `pending` failed
/// at once, which means it was not sent (a value that could not be encoded, a closed connection):
/// a `COMMIT` must not follow a write that never went out. Their answers in the same order, and
/// `last`'s when it was sent.
async fn pipeline<'a>(
    pending: Vec<Pending<'a>>,
    last: Option<Pending<'a>>,
) -> (Vec<Answer>, Option<Answer>) {
    let mut slots: Vec<MaybeDone<Pending<'a>>> = pending.into_iter().map(maybe_done).collect();
    let mut last = last.map(maybe_done);
    let mut first = true;
    std::future::poll_fn(|cx| {
        let mut done = true;
        for slot in &mut slots {
            done &= Pin::new(slot).poll(cx).is_ready();
        }
        if first {
            first = false;
            let failed = slots
                .iter_mut()
                .any(|s| matches!(Pin::new(s).output_mut(), Some(Err(_))));
            if failed {
                last = None;
            }
        }
        if let Some(slot) = &mut last {
            done &= Pin::new(slot).poll(cx).is_ready();
        }
        if done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    let mut output = |slot: &mut MaybeDone<Pending<'a>>| {
        Pin::new(slot)
            .take_output()
            .unwrap_or_else(|| Ok(Vec::new()))
    };
    let answers = slots.iter_mut().map(&mut output).collect();
    (answers, last.as_mut().map(output))
}

fn get<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, i: usize) -> Result<T, String> {
    row.try_get(i).map_err(|e| e.to_string())
}

fn contact_of(citizen_id: &str, row: &Row) -> Result<Contact, String> {
    Ok(Contact {
        citizen_id: citizen_id.to_owned(),
        email: get(row, 0)?,
        email_confirmed_at: get::<Option<NaiveDateTime>>(row, 1)?.map(from_db),
        phone: get(row, 2)?,
        language: get(row, 3)?,
        updated_at: from_db(get(row, 4)?),
    })
}

/// The message an event gives: its kind, its occasion, and whether another opening may have
/// planned that occasion already (`notify::occasion`).
type Message = (Kind, String, bool);

/// What a write needs before it reads anything.
struct Plan<'a> {
    /// Each record's event id, and the message its event gives.
    events: Vec<(String, Option<Message>)>,
    /// The citizens written to, in id order.
    citizens: Vec<&'a str>,
    /// The occasions that other openings may have planned already.
    shared: Vec<String>,
}

impl<'a> Plan<'a> {
    fn of(records: &'a [Record], now: DateTime<Utc>) -> Result<Plan<'a>, Failure> {
        let mut events = Vec::with_capacity(records.len());
        for r in records {
            let id = uuid::Uuid::new_v4().to_string();
            let message = match notify::messages_of(&r.entry.action) {
                EventMessages::None => None,
                EventMessages::ToSubject(kind) => {
                    let (occasion, shared) = notify::occasion(kind, &r.entry.subject_id, &id, now);
                    Some((kind, occasion, shared))
                }
                EventMessages::NeedEntry => {
                    return Err(Failure::NotWritten(format!(
                        "the messages of {} need its log entry",
                        r.entry.action
                    )))
                }
            };
            events.push((id, message));
        }
        let citizens: BTreeSet<&str> = records
            .iter()
            .map(|r| r.entry.subject_id.as_str())
            .collect();
        let shared: BTreeSet<String> = events
            .iter()
            .filter_map(|(_, m)| m.as_ref())
            .filter(|(_, _, shared)| *shared)
            .map(|(_, occasion, _)| occasion.clone())
            .collect();
        Ok(Plan {
            events,
            citizens: citizens.into_iter().collect(),
            shared: shared.into_iter().collect(),
        })
    }

    /// The rows to insert, from what round trip 1 read.
    fn rows(&self, records: &[Record], mut read: Read, now: DateTime<Utc>) -> Rows {
        let mut rows = Rows::default();
        for (r, (event_id, message)) in records.iter().zip(&self.events) {
            let subject = &r.entry.subject_id;
            let last = read.last.entry(subject.clone()).or_default();
            let entry = chain(
                r.entry.clone(),
                last.as_ref().map(|(s, h)| (*s, h.as_str())),
            );
            *last = Some((entry.seq, entry.hash.clone()));
            rows.openings.push(StoredOpening {
                log_seq: entry.seq,
                ..r.opening.clone()
            });
            if let Some((kind, occasion, shared)) = message {
                // A shared occasion gives one message, however many openings share it.
                if !*shared || read.planned.insert(occasion.clone()) {
                    let contact = read.contacts.get(subject).and_then(Option::as_ref);
                    rows.messages.push(notify::message(
                        subject,
                        *kind,
                        &StoredFacts::default(),
                        occasion.clone(),
                        contact,
                        now,
                    ));
                }
            }
            rows.events.push(audit::event(
                event_id.clone(),
                subject,
                &r.entry.action,
                entry.seq,
                now,
            ));
            rows.entries.push(entry);
        }
        rows
    }
}

/// What round trip 1 read, by citizen id.
#[derive(Default)]
struct Read {
    last: HashMap<String, Option<(i64, String)>>,
    contacts: HashMap<String, Option<Contact>>,
    /// Shared occasions planned already (and, once the rows are made, those planned here).
    planned: BTreeSet<String>,
}

#[derive(Default)]
struct Rows {
    entries: Vec<ChainedEntry>,
    openings: Vec<StoredOpening>,
    messages: Vec<Notification>,
    events: Vec<NewEvent>,
}

/// A row's values as the database stores them, kept while the statement is out.
struct EntryValues<'a> {
    e: &'a ChainedEntry,
    at: NaiveDateTime,
    actor_kind: &'static str,
}

impl<'a> EntryValues<'a> {
    fn of(e: &'a ChainedEntry) -> Self {
        EntryValues {
            e,
            at: to_db(e.at),
            actor_kind: e.actor_kind.as_str(),
        }
    }

    fn params(&self) -> [Param<'_>; 9] {
        let e = self.e;
        [
            &e.subject_id,
            &e.seq,
            &self.at,
            &self.actor_kind,
            &e.actor_id,
            &e.action,
            &e.details,
            &e.prev_hash,
            &e.hash,
        ]
    }
}

struct OpeningValues<'a> {
    o: &'a StoredOpening,
    at: NaiveDateTime,
    parts: String,
}

impl<'a> OpeningValues<'a> {
    fn of(o: &'a StoredOpening) -> Self {
        OpeningValues {
            o,
            at: to_db(o.at),
            parts: stored_parts(&o.parts),
        }
    }

    fn params(&self) -> [Param<'_>; 12] {
        let o = self.o;
        [
            &o.id,
            &o.citizen_id,
            &self.at,
            &o.kind,
            &o.resource,
            &self.parts,
            &o.hpr_number,
            &o.organisation_number,
            &o.basis,
            &o.stated_basis,
            &o.client_id,
            &o.log_seq,
        ]
    }
}

struct MessageValues<'a> {
    n: &'a Notification,
    next_attempt_at: Option<NaiveDateTime>,
    sent_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
}

impl<'a> MessageValues<'a> {
    fn of(n: &'a Notification) -> Self {
        MessageValues {
            n,
            next_attempt_at: n.next_attempt_at.map(to_db),
            sent_at: n.sent_at.map(to_db),
            created_at: to_db(n.created_at),
        }
    }

    fn params(&self) -> [Param<'_>; 13] {
        let n = self.n;
        [
            &n.id,
            &n.citizen_id,
            &n.kind,
            &n.language,
            &n.recipient,
            &n.facts,
            &n.status,
            &n.attempts,
            &self.next_attempt_at,
            &n.last_error,
            &self.sent_at,
            &self.created_at,
            &n.occasion,
        ]
    }
}

struct EventValues<'a> {
    e: &'a NewEvent,
    occurred_at: NaiveDateTime,
    payload: String,
}

impl<'a> EventValues<'a> {
    fn of(e: &'a NewEvent) -> Self {
        EventValues {
            e,
            occurred_at: to_db(e.occurred_at),
            payload: e.payload.to_string(),
        }
    }

    fn params(&self) -> [Param<'_>; 5] {
        let e = self.e;
        [
            &e.event_id,
            &e.event_type,
            &e.subject_id,
            &self.occurred_at,
            &self.payload,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::sharing::{BLOCK_OPENED, OBJECTION_OVERRIDDEN};
    use crate::scratch_db::ScratchDb;
    use chrono::SubsecRound;
    use domain::identity::{IdPolicy, NationalId};
    use domain::sharing::RecordPart;
    use domain::usage_log::{ActorKind, NewEntry};
    use persistence::{citizens, notifications, outbox, sharing, usage_log, AnyConnection};

    /// Synthetic numbers of the dev population (dev/idp/persons.json).
    const PIDS: [&str; 4] = ["10829241876", "02867933185", "27896320896", "14844814764"];

    fn citizen(conn: &mut AnyConnection, pid: &str, now: DateTime<Utc>) -> String {
        let pid = NationalId::parse(
            pid,
            IdPolicy {
                allow_synthetic: true,
            },
        )
        .expect("a valid number");
        citizens::find_or_create(conn, &pid, || uuid::Uuid::new_v4().to_string(), now)
            .expect("citizen")
            .id
    }

    fn entry(citizen_id: &str, action: &str, now: DateTime<Utc>) -> NewEntry {
        NewEntry {
            subject_id: citizen_id.to_owned(),
            at: now,
            actor_kind: ActorKind::Service,
            actor_id: "clinic".into(),
            action: action.to_owned(),
            details: serde_json::json!({ "opening": action, "parts": ["medicines"] }),
        }
    }

    fn record(citizen_id: &str, action: &str, now: DateTime<Utc>) -> Record {
        Record {
            entry: entry(citizen_id, action, now),
            opening: StoredOpening {
                id: uuid::Uuid::new_v4().to_string(),
                citizen_id: citizen_id.to_owned(),
                at: now,
                kind: action.to_owned(),
                resource: "summary_care_record".into(),
                parts: vec![RecordPart::Medicines, RecordPart::Vaccinations],
                hpr_number: "1234567".into(),
                organisation_number: "974703300".into(),
                basis: "emergency".into(),
                stated_basis: Some("unconscious".into()),
                client_id: "clinic".into(),
                log_seq: 0,
            },
        }
    }

    /// Two citizens as the writes find them: one with entries in the log and a confirmed email
    /// address; one whose log was cut to its anchor, with no contact details.
    fn prepared(db: &Db, pids: [&str; 2], now: DateTime<Utc>) -> (String, String) {
        db.transaction(|conn| {
            let (one, two) = (citizen(conn, pids[0], now), citizen(conn, pids[1], now));
            for c in [&one, &two] {
                usage_log::append(conn, entry(c, "login", now - chrono::Duration::days(9)))?;
                usage_log::append(conn, entry(c, "login", now - chrono::Duration::days(2)))?;
            }
            usage_log::cut_before(conn, &two, now, now)?;
            notifications::put_contact(
                conn,
                &Contact {
                    citizen_id: one.clone(),
                    email: Some("kari@example.org".into()),
                    email_confirmed_at: Some(now),
                    phone: None,
                    language: "en".into(),
                    updated_at: now,
                },
            )?;
            Ok::<_, persistence::StoreError>((one, two))
        })
        .expect("prepared")
    }

    /// What both ways wrote for a citizen, without the ids that differ between them.
    fn written(db: &Db, citizen_id: &str) -> serde_json::Value {
        let mut conn = db.conn().expect("conn");
        let conn: &mut AnyConnection = &mut conn;
        let log: Vec<_> = usage_log::after(conn, citizen_id, 0, 100)
            .expect("log")
            .into_iter()
            .map(|e| {
                (
                    e.seq,
                    e.at,
                    e.actor_kind.as_str(),
                    e.actor_id,
                    e.action,
                    e.details,
                )
            })
            .collect();
        let chain = usage_log::verify(conn, citizen_id)
            .expect("verify")
            .expect("an unbroken chain");
        let openings: Vec<_> = sharing::openings(conn, citizen_id, 100)
            .expect("openings")
            .into_iter()
            .map(|o| StoredOpening {
                id: String::new(),
                citizen_id: String::new(),
                ..o
            })
            .collect();
        let messages: Vec<_> = notifications::of_citizen(conn, citizen_id, 100)
            .expect("messages")
            .into_iter()
            .map(|n| {
                (
                    n.kind,
                    n.language,
                    n.recipient,
                    n.facts,
                    n.status,
                    n.next_attempt_at,
                    n.occasion.replace(citizen_id, "C"),
                )
            })
            .collect();
        let mut events: Vec<_> = outbox::of_subject(conn, citizen_id, 100)
            .expect("events")
            .into_iter()
            .map(|e| (e.position, e.event_type, e.occurred_at, e.payload))
            .collect();
        // Positions differ between the ways; their order must not.
        events.sort();
        let events: Vec<_> = events.into_iter().map(|(_, t, at, p)| (t, at, p)).collect();
        serde_json::json!({
            "log": format!("{log:?}"),
            "chain": chain,
            "openings": format!("{openings:?}"),
            "messages": format!("{messages:?}"),
            "events": format!("{events:?}"),
        })
    }

    #[actix_web::test]
    async fn both_ways_write_the_same_rows() {
        let Some(scratch) = ScratchDb::postgres("opening_writes") else {
            return;
        };
        let db = &scratch.db;
        let now = Utc::now().trunc_subsecs(0);
        let (a1, a2) = prepared(db, [PIDS[0], PIDS[1]], now);
        let (b1, b2) = prepared(db, [PIDS[2], PIDS[3]], now);
        let records = |one: &str, two: &str| {
            vec![
                record(one, BLOCK_OPENED, now),
                record(two, BLOCK_OPENED, now),
                record(one, OBJECTION_OVERRIDDEN, now),
            ]
        };
        let writers = Writers::new(db);
        // Twice in one second: the second write's openings share the first one's message.
        for _ in 0..2 {
            let pool = records(&a1, &a2);
            db.transaction(|conn| super::super::write_in(conn, &pool, now))
                .expect("the pool's way");
            let w = writers.take().await.expect("a writer on PostgreSQL");
            writers
                .write(w, &records(&b1, &b2), now)
                .await
                .expect("the pipelined way");
        }
        for (a, b) in [(&a1, &b1), (&a2, &b2)] {
            assert_eq!(written(db, a), written(db, b));
        }
        let one = written(db, &b1);
        // Two log-ins, then four openings; one message, to the confirmed address.
        assert_eq!(one["chain"], 6);
        assert!(one["messages"]
            .as_str()
            .is_some_and(
                |m| m.matches("health_data_opened").count() == 2 && m.contains("kari@example.org")
            ));
        // The cut log goes on from its anchor (two log-ins cut, an opening in each write); no
        // address, so the message is recorded as such.
        let two = written(db, &b2);
        assert_eq!(two["chain"], 2);
        assert!(two["log"].as_str().is_some_and(|l| l.starts_with("[(3,")));
        assert!(two["messages"]
            .as_str()
            .is_some_and(|m| m.contains("no_address")));
    }

    #[actix_web::test]
    async fn a_refused_write_leaves_nothing_and_its_writer_serves_again() {
        let Some(scratch) = ScratchDb::postgres("opening_writes") else {
            return;
        };
        let db = &scratch.db;
        let now = Utc::now().trunc_subsecs(0);
        let (one, two) = prepared(db, [PIDS[0], PIDS[1]], now);
        let writers = Writers::new(db);
        let w = writers.take().await.expect("a writer");
        writers
            .write(w, &[record(&one, BLOCK_OPENED, now)], now)
            .await
            .expect("written");
        let before = (written(db, &one), written(db, &two));
        // The second record's opening reuses an id: its insert is refused after the first
        // record's rows went out, so the whole write must roll back.
        let first = record(&two, BLOCK_OPENED, now);
        let mut again = record(&one, OBJECTION_OVERRIDDEN, now);
        let taken = sharing::openings(&mut db.conn().expect("conn"), &one, 1).expect("openings");
        again.opening.id = taken[0].id.clone();
        let w = writers.take().await.expect("the writer, idle again");
        match writers.write(w, &[first, again], now).await {
            Err(Failure::NotWritten(_)) => {}
            other => panic!("expected a rolled back write, got {other:?}"),
        }
        assert_eq!((written(db, &one), written(db, &two)), before);
        let w = writers.take().await.expect("the same writer");
        writers
            .write(w, &[record(&two, BLOCK_OPENED, now)], now)
            .await
            .expect("written after the refusal");
        // The only entry after the anchor of its cut log.
        assert_eq!(written(db, &two)["chain"], 1);
        assert_eq!(writers.with_kept(|k| k.open), 1, "one connection all along");
    }

    #[actix_web::test]
    async fn no_commit_follows_a_statement_that_was_not_sent() {
        let Some(scratch) = ScratchDb::postgres("opening_writes") else {
            return;
        };
        let db = &scratch.db;
        let now = Utc::now().trunc_subsecs(0);
        let (one, _) = prepared(db, [PIDS[0], PIDS[1]], now);
        let writers = Writers::new(db);
        let w = writers.take().await.expect("a writer");
        let event = audit::event("e1".into(), &one, BLOCK_OPENED, 1, now);
        let values = EventValues::of(&event);
        let params = values.params();
        let (answers, commit) = pipeline(
            vec![
                w.simple("BEGIN"),
                w.query(&w.event, &params),
                // One parameter short: tokio-postgres refuses it before sending.
                w.query(&w.event, &params[..4]),
            ],
            Some(w.simple("COMMIT")),
        )
        .await;
        assert!(commit.is_none(), "the COMMIT must not go out");
        assert!(answers[1].is_ok() && answers[2].is_err());
        w.simple("ROLLBACK").await.expect("rollback");
        let events = outbox::of_subject(&mut db.conn().expect("conn"), &one, 10).expect("events");
        assert!(events.is_empty(), "the sent insert was rolled back");
    }
}

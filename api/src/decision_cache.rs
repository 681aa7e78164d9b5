//! Decision inputs kept in memory between requests, and the check that keeps them exact.
//!
//! Downstream services ask the decisions (`routes::decisions`, `routes::representations`,
//! `routes::summary_care_record`, `routes::sharing`) far more often than citizens change anything,
//! and each decision reads several rows. So the rows a decision reads are kept here, as *inputs*:
//! nothing in them depends on the time, and every answer is still computed by the domain rules
//! from (inputs, now) at the moment it is asked. Birthdays, end dates and the restore window need
//! no invalidation.
//!
//! What keeps them exact is the *check*, not a timer. Before a request uses anything kept, one
//! statement that began after the request arrived reads the watermark
//! (`persistence::watermark`: the newest outbox position and register import). Every
//! decision-relevant change writes an outbox event naming its citizen in its own transaction, and
//! outbox writers commit in position order, so when the position has moved the events since the
//! last check name exactly the citizens whose inputs may have changed: their entries are dropped
//! before the request goes on. A register import drops every pair (pairs read the register).
//! This holds across server instances: each instance checks the shared database.
//!
//! Checks are shared: while one runs, the requests that arrive wait for the next, which starts as
//! soon as it ends. Under load one round trip serves every request that arrived during the
//! previous one; no request is answered from inputs older than its own arrival.
//!
//! On PostgreSQL each server worker has rounds of its own, on a connection of its own that its
//! event loop drives (`mark_reads`, on a `crate::worker_pg` connection, with TLS where libpq would
//! use it): the mark and, when it moved, the events since are read there, and no other thread is
//! involved. More than a page of events, a restored outbox or a failed read goes to the shared
//! check; so does every round where that connection would differ from libpq's (e.g. a certificate
//! libpq would verify).
//!
//! Events that only report an opening of health data (`CHANGES_NO_INPUT`) drop nothing.
//!
//! On SQLite each request reads the mark itself, on the worker thread, and only goes to the shared
//! check when it moved. The read is a few microseconds of local file access and a WAL reader never
//! waits for a writer, while handing it to a blocking thread and waking the requests that waited
//! for it cost about 40 µs per request (measured with the benchmark: 76 µs of server CPU per
//! active-user decision with the shared check, 32 µs with no check at all).
//!
//! What is kept:
//! - per identity number, a citizen's [`PersonFacts`] (consent, switches, record state, blocks and
//!   objections), once the portal knows the citizen (an unknown number is asked again each time:
//!   a log-in may create the citizen at any moment, and that writes no event);
//! - per (actor, subject) pair, the [`PairFacts`] of a representation decision, once both are
//!   citizens.
//!
//! Entries are not evicted by age. When `DECISION_CACHE_ENTRIES` is reached, everything is
//! dropped and filling starts again; 0 turns keeping off (every decision reads the database).

use chrono::{DateTime, Utc};
use domain::access_switches::AccessSwitches;
use domain::consent::TermsConsent;
use domain::identity::NationalId;
use domain::sharing::InForce;
use domain::summary_care_record::RecordState;
use persistence::citizens::{self, Citizen};
use persistence::outbox::EventRef;
use persistence::watermark::{self, Watermark};
use persistence::{
    access_switches, outbox, powers_of_attorney, sharing, summary_care_records, AnyConnection, Db,
    StoreError,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

mod mark_reads;

use crate::auth::acting::{grant_facts, GrantFacts};
use crate::config::Config;
use crate::error::ApiError;
use crate::guardians::{self, Child};
use crate::state::AppState;
use crate::worker_pg::WorkerPg;
use domain::guardianship::GuardianAccess;

/// When the outbox moved further than this since the last check, everything is dropped rather
/// than the events read one by one.
const MAX_EVENTS_PER_CHECK: i64 = 10_000;
const EVENTS_PAGE: i64 = 1_000;

/// Event types that change nothing a decision reads ([`PersonFacts`], [`PairFacts`]): they
/// report that health data was opened, which the decisions never look at. Their events drop
/// nothing, so a professional-access decision that writes an opening does not cost its citizen's
/// entry a reload, nor loads in flight their keeping. Every other type drops its subject's
/// entries, including types added later.
const CHANGES_NO_INPUT: &[&str] = &[
    crate::routes::sharing::BLOCK_OPENED,
    crate::routes::sharing::OBJECTION_OVERRIDDEN,
    crate::routes::access::EMERGENCY_ACCESS,
];

fn changes_inputs(event_type: &str) -> bool {
    !CHANGES_NO_INPUT.contains(&event_type)
}

/// What the citizen-level decisions read about one citizen.
#[derive(Debug, Clone)]
pub struct PersonFacts {
    /// The opaque portal id.
    pub id: String,
    pub consent: Option<TermsConsent>,
    pub switches: AccessSwitches,
    pub record: RecordState,
    pub in_force: InForce,
}

/// What a representation decision reads about one (actor, subject) pair.
// Always behind an `Arc`, so the small variant's wasted bytes are one allocation's.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum PairFacts {
    /// The actor has never used the portal.
    UnknownActor,
    Known {
        actor: Citizen,
        /// The subject's portal id, when the portal knows them.
        subject_id: Option<String>,
        /// Powers of attorney from the subject to the actor that have not ended.
        grants: Vec<GrantFacts>,
        /// The subject as a child in the register.
        child: Option<Child>,
    },
}

impl PairFacts {
    /// The citizens whose rows these facts hold, or `None` when they cannot be kept: an unknown
    /// citizen may become known without any event, so only facts about known ones are kept.
    fn readers(&self) -> Option<Vec<String>> {
        let PairFacts::Known {
            actor,
            subject_id: Some(subject_id),
            child,
            ..
        } = self
        else {
            return None;
        };
        let mut ids = vec![actor.id.clone(), subject_id.clone()];
        if let Some(child) = child {
            // The child is the subject; their parents' register data is covered by the register
            // mark, their portal ids by their own events.
            ids.push(child.citizen_id.clone()?);
            ids.extend(
                child
                    .facts
                    .parents
                    .iter()
                    .filter_map(|p| p.citizen_id.clone()),
            );
        }
        Some(ids)
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Person(String),
    Pair(String, String),
}

/// Proof that a check began after the request arrived; entries loaded under it are kept only if
/// nothing was dropped in between.
#[derive(Debug, Clone, Copy)]
pub struct Checked {
    epoch: u64,
}

#[derive(Default)]
struct Kept {
    seen: Watermark,
    /// Bumped whenever entries are dropped. A load that began under an older epoch may have read
    /// rows from before the change that caused the drop, so it is not kept.
    epoch: u64,
    persons: HashMap<String, Arc<PersonFacts>>,
    pairs: HashMap<(String, String), Arc<PairFacts>>,
    /// Which entries read each citizen's rows.
    readers: HashMap<String, Vec<Key>>,
}

impl Kept {
    fn len(&self) -> usize {
        self.persons.len() + self.pairs.len()
    }

    fn clear(&mut self) {
        self.persons.clear();
        self.pairs.clear();
        self.readers.clear();
    }

    fn index(&mut self, key: &Key, citizens: Vec<String>) {
        for c in citizens {
            self.readers.entry(c).or_default().push(key.clone());
        }
    }

    /// Applies what moved from the mark `base` to `to`: drops the entries that read a changed
    /// citizen's rows, every pair when the register moved, everything with `everything`. `seen`
    /// becomes `to` unless another round moved it meanwhile (its drops stand for its own range;
    /// a later round reads again from there).
    fn apply(&mut self, base: Watermark, to: Watermark, everything: bool, events: &[EventRef]) {
        let mut changed = everything;
        if everything {
            self.clear();
        } else {
            if to.register != base.register {
                // Pairs read the register; persons do not. (Their index entries go stale, which
                // only costs a miss.)
                self.pairs.clear();
                changed = true;
            }
            for e in events.iter().filter(|e| changes_inputs(&e.event_type)) {
                self.drop_citizen(&e.subject_id);
                changed = true;
            }
        }
        if self.seen == base {
            self.seen = to;
        }
        if changed {
            // A load that began before these changes may have read rows from before them, even
            // of a citizen who had nothing kept.
            self.epoch += 1;
        }
    }

    fn drop_citizen(&mut self, citizen_id: &str) {
        for key in self.readers.remove(citizen_id).unwrap_or_default() {
            match key {
                Key::Person(pid) => {
                    self.persons.remove(&pid);
                }
                Key::Pair(a, s) => {
                    self.pairs.remove(&(a, s));
                }
            }
        }
    }
}

#[derive(Default)]
struct Rounds {
    /// Checks started so far; the running one is number `started`.
    started: u64,
    running: bool,
    /// A request arrived while a check was running: start another when it ends.
    wanted: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct Finished {
    round: u64,
    ok: bool,
}

pub struct DecisionCache {
    db: Db,
    /// The checks' own connection (one check runs at a time); opened on first use and again
    /// after an error.
    check_conn: Mutex<Option<AnyConnection>>,
    max_entries: usize,
    /// Read the mark on the calling thread first (SQLite); see the module documentation.
    in_place: bool,
    /// Idle connections for those reads, one per thread that reads at the same moment: not the
    /// shared check's (it may be busy reading events for a while) nor the pool's (its check-out
    /// runs a test query, and the pool's connections wait 5 s for a lock).
    in_place_conns: Mutex<Vec<AnyConnection>>,
    kept: Mutex<Kept>,
    /// The shared rounds, each on a blocking thread (SQLite, and PostgreSQL without `own_reads`).
    shared: RoundState,
    /// PostgreSQL: how each server worker reads the mark on a connection of its own, on its own
    /// event loop (`mark_reads`); `None` where that would differ from libpq's connection.
    own_reads: Option<WorkerPg>,
    /// Each worker's rounds and connection, by thread.
    workers: Mutex<HashMap<std::thread::ThreadId, Arc<WorkerRounds>>>,
}

/// Rounds of checks: while one runs, arriving requests ask for the next.
#[derive(Default)]
struct RoundState {
    rounds: Mutex<Rounds>,
    finished: watch::Sender<Finished>,
}

impl RoundState {
    fn rounds(&self) -> MutexGuard<'_, Rounds> {
        self.rounds.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks for a round that begins after this call: its number, and whether the caller must
    /// start the rounds (none is running).
    fn join(&self) -> (u64, bool) {
        let mut r = self.rounds();
        if r.running {
            r.wanted = true;
            (r.started + 1, false)
        } else {
            r.running = true;
            r.started += 1;
            (r.started, true)
        }
    }

    /// Runs round `round` with `one`, then the next one as long as requests asked for one
    /// during the last.
    async fn run<F, Fut>(&self, mut round: u64, mut one: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        loop {
            let ok = one().await;
            let next = {
                let mut r = self.rounds();
                if r.wanted {
                    r.wanted = false;
                    r.started += 1;
                    Some(r.started)
                } else {
                    r.running = false;
                    None
                }
            };
            self.finished.send_replace(Finished { round, ok });
            match next {
                Some(n) => round = n,
                None => return,
            }
        }
    }
}

/// One server worker's rounds on its own connection (`mark_reads`).
#[derive(Default)]
struct WorkerRounds {
    state: RoundState,
    /// Taken by the running round (one at a time) and put back after it; `None` until connected
    /// and after an error.
    conn: Mutex<Option<mark_reads::MarkReader>>,
    /// After a failed connection attempt, rounds go to the shared check until then.
    retry_at: Mutex<Option<std::time::Instant>>,
}

impl DecisionCache {
    pub fn new(db: Db, max_entries: usize) -> DecisionCache {
        let own_reads = (db.backend() == persistence::Backend::Postgres)
            .then(|| crate::worker_pg::for_url(db.url()))
            .flatten();
        DecisionCache {
            in_place: db.backend() == persistence::Backend::Sqlite,
            in_place_conns: Mutex::default(),
            db,
            check_conn: Mutex::default(),
            max_entries,
            kept: Mutex::default(),
            shared: RoundState::default(),
            own_reads,
            workers: Mutex::default(),
        }
    }

    fn kept(&self) -> MutexGuard<'_, Kept> {
        // A panic while holding the lock cannot leave a half-applied drop that matters more than
        // the whole cache: clear it rather than poison every later request.
        self.kept.lock().unwrap_or_else(|poisoned| {
            let mut k = poisoned.into_inner();
            k.clear();
            k.epoch += 1;
            k
        })
    }

    /// Waits for a check that began after this call, and says under which epoch it left the
    /// cache. Without keeping (`DECISION_CACHE_ENTRIES=0`) there is nothing to check.
    pub async fn check(self: &Arc<Self>) -> Result<Checked, ApiError> {
        if self.max_entries == 0 {
            return Ok(Checked { epoch: 0 });
        }
        if self.in_place {
            match self.unchanged() {
                Ok(Some(checked)) => return Ok(checked),
                // The mark moved: the shared check reads what changed.
                Ok(None) => {}
                // The shared check, on its blocking thread with the full lock wait, decides
                // whether the database answers.
                Err(e) => tracing::warn!(error = %e, "decision cache: in-place read failed"),
            }
        }
        let worker = self.own_reads.as_ref().map(|_| self.worker_rounds());
        let state = worker.as_ref().map_or(&self.shared, |w| &w.state);
        let mut finished = state.finished.subscribe();
        let (target, start) = state.join();
        if start {
            let me = self.clone();
            match worker.clone() {
                // On this worker's event loop: its connection is registered with it.
                Some(w) => actix_web::rt::spawn(async move {
                    w.state.run(target, || me.worker_round(&w)).await
                }),
                None => actix_web::rt::spawn(async move {
                    me.shared.run(target, || me.shared_round()).await
                }),
            };
        }
        loop {
            let f = *finished.borrow_and_update();
            if f.round >= target {
                if !f.ok {
                    return Err(unavailable());
                }
                return Ok(Checked {
                    epoch: self.kept().epoch,
                });
            }
            finished
                .changed()
                .await
                .map_err(|_| ApiError::Internal("the freshness check stopped".into()))?;
        }
    }

    /// A check on a blocking thread: reads the mark and, when it moved, the events since.
    async fn shared_round(self: &Arc<Self>) -> bool {
        let me = self.clone();
        match actix_web::web::block(move || me.run_check()).await {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "decision cache: freshness check failed");
                false
            }
            Err(_) => false,
        }
    }

    /// A check on this worker's own connection: the mark and, when it moved, the events since
    /// the last check; no other thread is involved. When those events are more than one page,
    /// the outbox went back (a restore), or this connection fails, the shared check's way (on a
    /// blocking thread, reading the mark again, later still) reads them and decides whether the
    /// database answers.
    async fn worker_round(self: &Arc<Self>, w: &WorkerRounds) -> bool {
        let base = self.kept().seen;
        match self.moved_on_own(w, base).await {
            Some(moved) => {
                if moved.mark != base {
                    self.kept().apply(base, moved.mark, false, &moved.events);
                }
                true
            }
            None => self.shared_round().await,
        }
    }

    /// What moved since `base`, read on this worker's connection, connecting first when needed;
    /// `None` when it cannot be read there (a failure is logged; after a failed connection
    /// attempt the worker waits `worker_pg::RETRY_AFTER` before trying again).
    async fn moved_on_own(&self, w: &WorkerRounds, base: Watermark) -> Option<mark_reads::Moved> {
        let config = self.own_reads.as_ref()?;
        let held = w.conn.lock().unwrap_or_else(|p| p.into_inner()).take();
        let reader = match held {
            Some(reader) => reader,
            None => {
                let retry_at = *w.retry_at.lock().unwrap_or_else(|p| p.into_inner());
                if retry_at.is_some_and(|t| std::time::Instant::now() < t) {
                    return None;
                }
                match mark_reads::MarkReader::connect(config).await {
                    Ok(reader) => reader,
                    Err(e) => {
                        tracing::warn!(error = %e, "decision cache: a worker's own connection failed; using the shared check");
                        *w.retry_at.lock().unwrap_or_else(|p| p.into_inner()) =
                            Some(std::time::Instant::now() + crate::worker_pg::RETRY_AFTER);
                        return None;
                    }
                }
            }
        };
        match reader.moved_since(base, EVENTS_PAGE).await {
            Ok(moved) => {
                *w.conn.lock().unwrap_or_else(|p| p.into_inner()) = Some(reader);
                moved
            }
            Err(e) => {
                tracing::warn!(error = %e, "decision cache: a worker's own mark read failed; using the shared check");
                None
            }
        }
    }

    /// This worker's rounds (made on its first check).
    fn worker_rounds(&self) -> Arc<WorkerRounds> {
        self.workers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(std::thread::current().id())
            .or_default()
            .clone()
    }

    /// One shared check. Blocking.
    fn run_check(&self) -> Result<(), StoreError> {
        self.with_check_conn(|conn| self.apply_changes(conn))
    }

    /// Runs `f` on the checks' connection; an error closes it (the next check opens another).
    fn with_check_conn<T>(
        &self,
        f: impl FnOnce(&mut AnyConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut slot = self.check_conn.lock().unwrap_or_else(|p| p.into_inner());
        let conn = match slot.as_mut() {
            Some(conn) => conn,
            None => slot.insert(self.db.dedicated()?),
        };
        let result = f(conn);
        if result.is_err() {
            *slot = None;
        }
        result
    }

    /// Reads the mark now, on this thread: `Some` when nothing changed since the last check, with
    /// the epoch under which what is kept is fresh as of this moment. A connection that failed is
    /// not given back.
    fn unchanged(&self) -> Result<Option<Checked>, StoreError> {
        let idle = self
            .in_place_conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop();
        let mut conn = match idle {
            Some(conn) => conn,
            None => self.db.dedicated_reader()?,
        };
        let mark = watermark::read(&mut conn)?;
        self.in_place_conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(conn);
        let k = self.kept();
        Ok((mark == k.seen).then_some(Checked { epoch: k.epoch }))
    }

    /// Reads the watermark and drops what changed since the last check.
    fn apply_changes(&self, conn: &mut AnyConnection) -> Result<(), StoreError> {
        let mark = watermark::read(conn)?;
        let seen = self.kept().seen;
        if mark == seen {
            return Ok(());
        }
        // The outbox was reset (a restore) or moved too far to read event by event: drop all.
        let everything =
            mark.outbox < seen.outbox || mark.outbox - seen.outbox > MAX_EVENTS_PER_CHECK;
        let mut events: Vec<EventRef> = Vec::new();
        let mut outbox_at = mark.outbox;
        if !everything && mark.outbox > seen.outbox {
            let mut after = seen.outbox;
            while after < mark.outbox {
                let page = outbox::refs_after(conn, after, EVENTS_PAGE)?;
                let Some(last) = page.last().map(|e| e.position) else {
                    break;
                };
                events.extend(page);
                after = last;
            }
            // Events read past the mark (committed meanwhile) were applied too.
            outbox_at = after.max(mark.outbox);
        }
        let to = Watermark {
            outbox: outbox_at,
            register: mark.register,
        };
        self.kept().apply(seen, to, everything, &events);
        Ok(())
    }

    /// Makes room for one more entry: everything goes when the bound is reached.
    fn room(&self, k: &mut Kept) {
        if k.len() >= self.max_entries {
            tracing::info!(entries = k.len(), "decision cache full; starting again");
            k.clear();
        }
    }

    fn person(&self, pid: &NationalId) -> Option<Arc<PersonFacts>> {
        self.kept().persons.get(pid.expose()).cloned()
    }

    fn keep_person(&self, checked: Checked, pid: &NationalId, facts: Arc<PersonFacts>) {
        let mut k = self.kept();
        if self.max_entries == 0 || k.epoch != checked.epoch {
            return;
        }
        self.room(&mut k);
        let key = Key::Person(pid.expose().to_owned());
        k.index(&key, vec![facts.id.clone()]);
        k.persons.insert(pid.expose().to_owned(), facts);
    }

    fn pair(&self, actor: &NationalId, subject: &NationalId) -> Option<Arc<PairFacts>> {
        self.kept()
            .pairs
            .get(&(actor.expose().to_owned(), subject.expose().to_owned()))
            .cloned()
    }

    fn keep_pair(
        &self,
        checked: Checked,
        actor: &NationalId,
        subject: &NationalId,
        facts: Arc<PairFacts>,
    ) {
        let Some(readers) = facts.readers() else {
            return;
        };
        let mut k = self.kept();
        if self.max_entries == 0 || k.epoch != checked.epoch {
            return;
        }
        self.room(&mut k);
        let (a, s) = (actor.expose().to_owned(), subject.expose().to_owned());
        k.index(&Key::Pair(a.clone(), s.clone()), readers);
        k.pairs.insert((a, s), facts);
    }
}

fn unavailable() -> ApiError {
    ApiError::Unavailable("the database did not answer the freshness check".into())
}

/// Whether a citizen-level decision may give a portal id to a number it has never seen (the
/// summary-care-record and professional-access answers name the subject by portal id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unknown {
    Skip,
    Create,
}

/// The [`PersonFacts`] of each number, in order, fresh as of this call: kept ones after the check,
/// the others read in one transaction (and kept). With [`Unknown::Skip`] an unknown number gives
/// `None`.
pub async fn persons(
    state: &AppState,
    pids: Vec<NationalId>,
    unknown: Unknown,
) -> Result<Vec<Option<Arc<PersonFacts>>>, ApiError> {
    let cache = &state.decisions;
    let checked = cache.check().await?;
    let mut out: Vec<Option<Arc<PersonFacts>>> = pids.iter().map(|p| cache.person(p)).collect();
    let missing: Vec<(usize, NationalId)> = out
        .iter()
        .enumerate()
        .filter(|(_, f)| f.is_none())
        .map(|(i, _)| (i, pids[i].clone()))
        .collect();
    if missing.is_empty() {
        return Ok(out);
    }
    let now = state.now();
    let wanted = missing.clone();
    let loaded = state
        .tx(move |conn| {
            wanted
                .iter()
                .map(|(_, pid)| load_person(conn, pid, unknown, now))
                .collect::<Result<Vec<_>, ApiError>>()
        })
        .await?;
    for ((i, pid), facts) in missing.into_iter().zip(loaded) {
        if let Some(facts) = facts {
            let facts = Arc::new(facts);
            cache.keep_person(checked, &pid, facts.clone());
            out[i] = Some(facts);
        }
    }
    Ok(out)
}

fn load_person(
    conn: &mut AnyConnection,
    pid: &NationalId,
    unknown: Unknown,
    now: DateTime<Utc>,
) -> Result<Option<PersonFacts>, ApiError> {
    let citizen = match unknown {
        Unknown::Skip => citizens::find_by_national_id(conn, pid)?,
        Unknown::Create => Some(citizens::find_or_create(
            conn,
            pid,
            || uuid::Uuid::new_v4().to_string(),
            now,
        )?),
    };
    let Some(c) = citizen else { return Ok(None) };
    Ok(Some(PersonFacts {
        switches: access_switches::get(conn, &c.id)?.switches,
        record: summary_care_records::get(conn, &c.id)?,
        in_force: sharing::in_force(conn, &c.id)?,
        id: c.id,
        consent: c.consent,
    }))
}

/// The [`PairFacts`] of each (actor, subject), in order, fresh as of this call.
pub async fn pairs(
    state: &AppState,
    pairs: Vec<(NationalId, NationalId)>,
    now: DateTime<Utc>,
) -> Result<Vec<Arc<PairFacts>>, ApiError> {
    let cache = &state.decisions;
    let checked = cache.check().await?;
    let mut out: Vec<Option<Arc<PairFacts>>> =
        pairs.iter().map(|(a, s)| cache.pair(a, s)).collect();
    let missing: Vec<(usize, NationalId, NationalId)> = out
        .iter()
        .enumerate()
        .filter(|(_, f)| f.is_none())
        .map(|(i, _)| (i, pairs[i].0.clone(), pairs[i].1.clone()))
        .collect();
    if !missing.is_empty() {
        let config = state.config.clone();
        let wanted = missing.clone();
        let loaded = state
            .tx(move |conn| {
                wanted
                    .iter()
                    .map(|(_, a, s)| load_pair(conn, a, s, &config, now))
                    .collect::<Result<Vec<_>, ApiError>>()
            })
            .await?;
        for ((i, a, s), facts) in missing.into_iter().zip(loaded) {
            let facts = Arc::new(facts);
            cache.keep_pair(checked, &a, &s, facts.clone());
            out[i] = Some(facts);
        }
    }
    Ok(out.into_iter().flatten().collect())
}

fn load_pair(
    conn: &mut AnyConnection,
    actor_pid: &NationalId,
    subject_pid: &NationalId,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<PairFacts, ApiError> {
    let Some(actor) = citizens::find_by_national_id(conn, actor_pid)? else {
        return Ok(PairFacts::UnknownActor);
    };
    let subject_id = citizens::find_by_national_id(conn, subject_pid)?.map(|c| c.id);
    let grants = match &subject_id {
        Some(subject_id) => powers_of_attorney::not_ended_between(conn, subject_id, &actor.id)?
            .into_iter()
            .map(|g| grant_facts(conn, g, config))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let known = [
        (actor_pid, Some(actor.id.as_str())),
        (subject_pid, subject_id.as_deref()),
    ];
    let mut child = guardians::child_knowing(conn, subject_pid, config, &known)?;
    let mut subject_id = subject_id;
    if let Some(child) = &mut child {
        // A proof names the child by portal id: give one on first sight to a guardian who has
        // access now.
        if child.citizen_id.is_none()
            && matches!(
                guardians::access_of(child, &actor, config, now),
                GuardianAccess::Available(_)
            )
        {
            let id = citizens::find_or_create(
                conn,
                subject_pid,
                || uuid::Uuid::new_v4().to_string(),
                now,
            )?
            .id;
            child.citizen_id = Some(id.clone());
            subject_id = Some(id);
        }
    }
    Ok(PairFacts::Known {
        actor,
        subject_id,
        grants,
        child,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::identity::IdPolicy;
    use persistence::outbox::NewEvent;

    use crate::scratch_db::ScratchDb as Scratch;

    fn scratch() -> Scratch {
        Scratch::migrated("decision-cache")
    }

    /// A SQLite database with no tables.
    fn empty_scratch() -> Scratch {
        Scratch::empty("decision-cache")
    }

    /// A cache of `max_entries` over a scratch database (keep the `Scratch` alive).
    fn cache_on_scratch(max_entries: usize) -> (Scratch, Arc<DecisionCache>) {
        let scratch = scratch();
        let cache = Arc::new(DecisionCache::new(scratch.db.clone(), max_entries));
        (scratch, cache)
    }

    fn pid(n: &str) -> NationalId {
        NationalId::parse(
            n,
            IdPolicy {
                allow_synthetic: true,
            },
        )
        .expect("a valid number")
    }

    fn person(id: &str) -> Arc<PersonFacts> {
        Arc::new(PersonFacts {
            id: id.to_owned(),
            consent: None,
            switches: AccessSwitches::default(),
            record: RecordState::Active { started_at: None },
            in_force: InForce::default(),
        })
    }

    fn pair(actor: &str, subject: &str) -> Arc<PairFacts> {
        Arc::new(PairFacts::Known {
            actor: Citizen {
                id: actor.to_owned(),
                created_at: Utc::now(),
                last_login_at: None,
                previous_login_at: None,
                previous_login_seq: None,
                consent: None,
            },
            subject_id: Some(subject.to_owned()),
            grants: Vec::new(),
            child: None,
        })
    }

    /// What a change does: an outbox event naming the citizen, in its own transaction.
    fn change(db: &Db, citizen_id: &str) {
        event(db, citizen_id, "terms.accepted");
    }

    fn event(db: &Db, citizen_id: &str, event_type: &str) {
        db.transaction(|conn| {
            outbox::append(
                conn,
                &NewEvent {
                    event_id: uuid::Uuid::new_v4().to_string(),
                    event_type: event_type.into(),
                    subject_id: citizen_id.to_owned(),
                    occurred_at: Utc::now(),
                    payload: serde_json::json!({}),
                },
            )
        })
        .expect("append");
    }

    // Two synthetic numbers of the dev population (tests/support persons).
    const A: &str = "10829241876";
    const B: &str = "02867933185";

    #[actix_web::test]
    async fn a_change_drops_that_citizens_inputs_and_no_one_elses() {
        let (scratch, cache) = cache_on_scratch(100);
        let db = scratch.db.clone();
        let (a, b) = (pid(A), pid(B));
        let checked = cache.check().await.expect("check");
        cache.keep_person(checked, &a, person("citizen-a"));
        cache.keep_person(checked, &b, person("citizen-b"));
        cache.check().await.expect("check");
        assert!(cache.person(&a).is_some() && cache.person(&b).is_some());

        change(&db, "citizen-a");
        cache.check().await.expect("check");
        assert!(cache.person(&a).is_none(), "a's inputs outlived a's change");
        assert!(
            cache.person(&b).is_some(),
            "b's inputs went with a's change"
        );
    }

    #[actix_web::test]
    async fn inputs_read_while_a_change_was_applied_are_not_kept() {
        let (scratch, cache) = cache_on_scratch(100);
        let db = scratch.db.clone();
        let a = pid(A);
        let before = cache.check().await.expect("check");
        change(&db, "someone");
        cache.check().await.expect("check");
        // Loaded under `before`, kept after the drop: it may predate the change.
        cache.keep_person(before, &a, person("citizen-a"));
        assert!(cache.person(&a).is_none());
        let now = cache.check().await.expect("check");
        cache.keep_person(now, &a, person("citizen-a"));
        assert!(cache.person(&a).is_some());
    }

    #[actix_web::test]
    async fn an_opening_of_health_data_drops_nothing_and_spoils_no_load_in_flight() {
        let (scratch, cache) = cache_on_scratch(100);
        let db = scratch.db.clone();
        let (a, b) = (pid(A), pid(B));
        let before = cache.check().await.expect("check");
        cache.keep_person(before, &a, person("citizen-a"));
        for event_type in CHANGES_NO_INPUT {
            event(&db, "citizen-a", event_type);
        }
        cache.check().await.expect("check");
        assert!(cache.person(&a).is_some(), "an opening dropped a's inputs");
        // Loaded under `before`: nothing it reads changed since.
        cache.keep_person(before, &b, person("citizen-b"));
        assert!(cache.person(&b).is_some());
        // Any other event still drops.
        change(&db, "citizen-a");
        cache.check().await.expect("check");
        assert!(cache.person(&a).is_none());
    }

    #[test]
    fn a_round_that_began_at_an_older_mark_drops_its_changes_but_leaves_the_newer_mark() {
        let mark = |outbox| Watermark {
            outbox,
            register: 0,
        };
        let mut k = Kept::default();
        let key = Key::Person(A.to_owned());
        k.index(&key, vec!["citizen-a".to_owned()]);
        k.persons.insert(A.to_owned(), person("citizen-a"));
        // Another worker's round already moved the mark to 5; this one read from 3 to 4.
        k.seen = mark(5);
        let event = EventRef {
            position: 4,
            subject_id: "citizen-a".to_owned(),
            event_type: "terms.accepted".to_owned(),
        };
        k.apply(mark(3), mark(4), false, &[event]);
        assert!(k.persons.is_empty(), "the change was not applied");
        assert_eq!(k.seen, mark(5), "the mark went back");
        assert_eq!(k.epoch, 1);
        // From the mark it began at, a round moves it.
        k.apply(mark(5), mark(6), false, &[]);
        assert_eq!(k.seen, mark(6));
        assert_eq!(
            k.epoch, 1,
            "nothing changed, yet loads in flight were spoilt"
        );
    }

    #[actix_web::test]
    async fn a_register_import_drops_the_pairs_and_keeps_the_persons() {
        let (scratch, cache) = cache_on_scratch(100);
        let db = scratch.db.clone();
        let (a, b) = (pid(A), pid(B));
        let checked = cache.check().await.expect("check");
        cache.keep_person(checked, &a, person("citizen-a"));
        cache.keep_pair(checked, &a, &b, pair("citizen-a", "citizen-b"));
        assert!(cache.pair(&a, &b).is_some());
        let mut conn = db.conn().expect("conn");
        persistence::register::import(&mut conn, &[], Utc::now()).expect("empty import");
        // An import that changes nothing leaves no mark...
        cache.check().await.expect("check");
        assert!(cache.pair(&a, &b).is_some());
        // ...one that does, does.
        let extract = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../dev/idp/persons.json"
        ))
        .expect("the dev register extract");
        let persons = persistence::register::parse_extract(
            &extract,
            IdPolicy {
                allow_synthetic: true,
            },
        )
        .expect("a valid extract");
        persistence::register::import(&mut conn, &persons, Utc::now()).expect("import");
        cache.check().await.expect("check");
        assert!(cache.pair(&a, &b).is_none());
        assert!(cache.person(&a).is_some());
    }

    #[actix_web::test]
    async fn requests_that_arrive_during_a_check_share_the_next_one() {
        let scratch = scratch();
        let mut cache = DecisionCache::new(scratch.db.clone(), 100);
        // The shared check as on PostgreSQL (SQLite reads the mark in place first).
        cache.in_place = false;
        let cache = Arc::new(cache);
        let waits = (0..64).map(|_| cache.check());
        let results = futures_util::future::join_all(waits).await;
        assert!(results.iter().all(Result::is_ok));
        // The first starts a check; the 63 that arrive while it runs share the one after it.
        assert_eq!(cache.shared.rounds().started, 2);
    }

    #[actix_web::test]
    async fn on_sqlite_an_unchanged_mark_needs_no_shared_check_and_a_moved_one_does() {
        let (scratch, cache) = cache_on_scratch(100);
        let a = pid(A);
        let checked = cache.check().await.expect("check");
        cache.keep_person(checked, &a, person("citizen-a"));
        let first = cache.shared.rounds().started;
        for _ in 0..10 {
            cache.check().await.expect("check");
        }
        assert_eq!(cache.shared.rounds().started, first, "nothing changed");
        assert!(cache.person(&a).is_some());

        change(&scratch.db, "citizen-a");
        cache.check().await.expect("check");
        assert_eq!(
            cache.shared.rounds().started,
            first + 1,
            "the events are read"
        );
        assert!(cache.person(&a).is_none(), "a's inputs outlived a's change");
    }

    #[actix_web::test]
    async fn a_failed_in_place_read_falls_back_to_the_shared_check() {
        let (_scratch, cache) = cache_on_scratch(100);
        // A connection whose read fails: its database has no watermark.
        let elsewhere = empty_scratch();
        cache
            .in_place_conns
            .lock()
            .unwrap()
            .push(elsewhere.db.dedicated().expect("connect"));
        cache.check().await.expect("the shared check answers");
        assert_eq!(cache.shared.rounds().started, 1);
        assert!(
            cache.in_place_conns.lock().unwrap().is_empty(),
            "the failed connection was given back"
        );
        // The next request opens a sound one and needs no shared check.
        cache.check().await.expect("check");
        assert_eq!(cache.shared.rounds().started, 1);
        assert_eq!(cache.in_place_conns.lock().unwrap().len(), 1);
    }

    #[actix_web::test]
    async fn with_no_room_nothing_is_kept() {
        let (_scratch, cache) = cache_on_scratch(0);
        let a = pid(A);
        let checked = cache.check().await.expect("check");
        cache.keep_person(checked, &a, person("citizen-a"));
        assert!(cache.person(&a).is_none());
        assert_eq!(
            cache.shared.rounds().started,
            0,
            "nothing kept, nothing to check"
        );
    }
}

//! The load: request bodies drawn from the loaded population, a fixed number of requests in
//! flight for a fixed time per endpoint, and every latency in an HDR histogram.

use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cpu::{CpuUse, Snapshot};
use crate::error::{Context, Result};
use crate::pgstats::{self, PerRequest};
use crate::population::{Population, AREAS, RECORD_PARTS};

/// Bodies made per decision endpoint; requests cycle through them at random.
const BODIES: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Endpoint {
    Trivial,
    /// A decision request with a valid token and an invalid identity number: the token is
    /// verified, then the body is refused (400) before any database work. Not a decision; it
    /// shows what token verification costs.
    AuthOnly,
    ActiveUser,
    Representation,
    SummaryCareRecord,
    ProfessionalAccess,
    /// The four decisions, a quarter each, in one stream.
    Mix,
}

impl Endpoint {
    pub const ALL: [Endpoint; 7] = [
        Endpoint::Trivial,
        Endpoint::AuthOnly,
        Endpoint::ActiveUser,
        Endpoint::Representation,
        Endpoint::SummaryCareRecord,
        Endpoint::ProfessionalAccess,
        Endpoint::Mix,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Trivial => "trivial",
            Endpoint::AuthOnly => "token only (400)",
            Endpoint::ActiveUser => "active-user",
            Endpoint::Representation => "representation",
            Endpoint::SummaryCareRecord => "summary-care-record",
            Endpoint::ProfessionalAccess => "professional-access",
            Endpoint::Mix => "decision mix",
        }
    }

    /// The name `--only` takes.
    pub fn key(self) -> &'static str {
        match self {
            Endpoint::Trivial => "trivial",
            Endpoint::AuthOnly => "token",
            Endpoint::ActiveUser => "active-user",
            Endpoint::Representation => "representation",
            Endpoint::SummaryCareRecord => "summary-care-record",
            Endpoint::ProfessionalAccess => "professional-access",
            Endpoint::Mix => "mix",
        }
    }

    pub fn keys() -> Vec<&'static str> {
        Endpoint::ALL.into_iter().map(Endpoint::key).collect()
    }

    pub fn request_line(self) -> &'static str {
        match self {
            Endpoint::Trivial => "GET /health/live",
            Endpoint::AuthOnly => "POST /api/v1/decisions/active-user with an invalid pid (400)",
            Endpoint::ActiveUser => "POST /api/v1/decisions/active-user",
            Endpoint::Representation => "POST /api/v1/decisions/representation",
            Endpoint::SummaryCareRecord => "POST /api/v1/decisions/summary-care-record",
            Endpoint::ProfessionalAccess => "POST /api/v1/decisions/professional-access",
            Endpoint::Mix => "POST the four above, 25 % each",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Endpoint::Trivial => "/health/live",
            Endpoint::AuthOnly | Endpoint::ActiveUser => "/api/v1/decisions/active-user",
            Endpoint::Representation => "/api/v1/decisions/representation",
            Endpoint::SummaryCareRecord => "/api/v1/decisions/summary-care-record",
            Endpoint::ProfessionalAccess => "/api/v1/decisions/professional-access",
            Endpoint::Mix => "",
        }
    }

    pub fn is_decision(self) -> bool {
        !matches!(self, Endpoint::Trivial | Endpoint::AuthOnly)
    }

    /// The status every answer should have: 200, or 400 for [`Endpoint::AuthOnly`].
    fn expected(self, status: reqwest::StatusCode) -> bool {
        match self {
            Endpoint::AuthOnly => status == reqwest::StatusCode::BAD_REQUEST,
            _ => status.is_success(),
        }
    }
}

/// One prepared request.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    endpoint: Endpoint,
    url: String,
    body: Option<Vec<u8>>,
}

/// The subjects the bodies are drawn from.
struct Subjects<'a> {
    pop: &'a Population,
    /// Persons with a summary care record state, a block or an objection.
    restricted: Vec<u32>,
    /// The professional or organisation each restricted person named, if any.
    named: HashMap<u32, (Option<String>, Option<String>)>,
}

impl<'a> Subjects<'a> {
    fn new(pop: &'a Population) -> Subjects<'a> {
        let mut restricted: Vec<u32> = pop
            .records
            .iter()
            .map(|r| r.person)
            .chain(pop.sharing.iter().map(|s| s.person))
            .collect();
        restricted.sort_unstable();
        restricted.dedup();
        let mut named: HashMap<u32, (Option<String>, Option<String>)> = HashMap::new();
        for s in &pop.sharing {
            let e = named.entry(s.person).or_default();
            match s.target_kind {
                "professional" => e.0 = Some(s.target.clone()),
                "organisation" => e.1 = Some(s.target.clone()),
                _ => {}
            }
        }
        Subjects {
            pop,
            restricted,
            named,
        }
    }

    fn any(&self, rng: &mut StdRng) -> u32 {
        rng.gen_range(0..u32::try_from(self.pop.persons.len()).unwrap_or(u32::MAX))
    }

    fn pid(&self, i: u32) -> &str {
        &self.pop.person(i).pid
    }

    fn restricted_or_any(&self, rng: &mut StdRng) -> u32 {
        if self.restricted.is_empty() {
            return self.any(rng);
        }
        self.restricted[rng.gen_range(0..self.restricted.len())]
    }

    fn active_user(&self, rng: &mut StdRng) -> Value {
        let r: f64 = rng.gen();
        let who = if r < 0.15 && !self.pop.poas.is_empty() {
            self.pop.poas[rng.gen_range(0..self.pop.poas.len())].grantor
        } else if r < 0.30 && !self.pop.parents.is_empty() {
            self.pop.parents[rng.gen_range(0..self.pop.parents.len())].0
        } else {
            self.any(rng)
        };
        json!({ "pid": self.pid(who) })
    }

    fn representation(&self, rng: &mut StdRng) -> Value {
        let r: f64 = rng.gen();
        let (actor, subject) = if r < 0.4 && !self.pop.poas.is_empty() {
            let g = &self.pop.poas[rng.gen_range(0..self.pop.poas.len())];
            (g.grantee, g.grantor)
        } else if r < 0.8 && !self.pop.parents.is_empty() {
            let (child, parent) = self.pop.parents[rng.gen_range(0..self.pop.parents.len())];
            (parent, child)
        } else {
            (self.any(rng), self.any(rng))
        };
        json!({
            "actor_pid": self.pid(actor),
            "subject_pid": self.pid(subject),
            "area": AREAS[rng.gen_range(0..AREAS.len())],
            "proof": rng.gen_bool(0.1),
        })
    }

    fn summary_care_record(&self, rng: &mut StdRng) -> Value {
        let who = if rng.gen_bool(0.3) {
            self.restricted_or_any(rng)
        } else {
            self.any(rng)
        };
        json!({ "pid": self.pid(who) })
    }

    fn professional_access(&self, rng: &mut StdRng, opening_percent: f64) -> Value {
        let who = if rng.gen_bool(0.4) {
            self.restricted_or_any(rng)
        } else {
            self.any(rng)
        };
        let named = self.named.get(&who);
        let hpr = match named.and_then(|n| n.0.clone()) {
            Some(h) if rng.gen_bool(0.5) => h,
            _ => self.pop.hprs[rng.gen_range(0..self.pop.hprs.len())].clone(),
        };
        let org = match named.and_then(|n| n.1.clone()) {
            Some(o) if rng.gen_bool(0.5) => o,
            _ => self.pop.orgs[rng.gen_range(0..self.pop.orgs.len())].clone(),
        };
        let mut body = json!({
            "pid": self.pid(who),
            "hpr_number": hpr,
            "organisation_number": org,
            "basis": "ordinary_care",
        });
        if rng.gen_bool(0.7) {
            body["resource"] = json!("summary_care_record");
            if rng.gen_bool(0.5) {
                let n = rng.gen_range(1..=3);
                let parts: Vec<&str> = rand::seq::index::sample(rng, RECORD_PARTS.len(), n)
                    .into_iter()
                    .map(|i| RECORD_PARTS[i])
                    .collect();
                body["parts"] = json!(parts);
            }
        } else {
            body["resource"] = json!("patient_record");
        }
        if rng.gen_bool((opening_percent / 100.0).clamp(0.0, 1.0)) {
            if rng.gen_bool(0.5) {
                body["basis"] = json!("consent");
            } else {
                body["basis"] = json!("emergency");
                body["stated_basis"] = json!("Benchmark: unconscious on admission");
            }
        }
        body
    }
}

/// The prepared requests of every endpoint.
pub struct Workload {
    by_endpoint: BTreeMap<Endpoint, Arc<Vec<Req>>>,
}

impl Workload {
    pub fn new(pop: &Population, base: &str, seed: u64, opening_percent: f64) -> Result<Workload> {
        let subjects = Subjects::new(pop);
        let mut rng = StdRng::seed_from_u64(seed ^ 0xbe_4c4);
        let mut by_endpoint = BTreeMap::new();
        let req = |endpoint: Endpoint, body: Option<Value>| -> Result<Req> {
            Ok(Req {
                endpoint,
                url: format!("{base}{}", endpoint.path()),
                body: body.map(|b| serde_json::to_vec(&b)).transpose()?,
            })
        };
        by_endpoint.insert(
            Endpoint::Trivial,
            Arc::new(vec![req(Endpoint::Trivial, None)?]),
        );
        by_endpoint.insert(
            Endpoint::AuthOnly,
            Arc::new(vec![req(
                Endpoint::AuthOnly,
                Some(json!({ "pid": "00000000000" })),
            )?]),
        );
        let mut all = Vec::new();
        for e in [
            Endpoint::ActiveUser,
            Endpoint::Representation,
            Endpoint::SummaryCareRecord,
            Endpoint::ProfessionalAccess,
        ] {
            let mut reqs = Vec::with_capacity(BODIES);
            for _ in 0..BODIES {
                let body = match e {
                    Endpoint::ActiveUser => subjects.active_user(&mut rng),
                    Endpoint::Representation => subjects.representation(&mut rng),
                    Endpoint::SummaryCareRecord => subjects.summary_care_record(&mut rng),
                    _ => subjects.professional_access(&mut rng, opening_percent),
                };
                reqs.push(req(e, Some(body))?);
            }
            all.extend(reqs.iter().take(BODIES / 4).cloned());
            by_endpoint.insert(e, Arc::new(reqs));
        }
        // The mix: a quarter of each, shuffled.
        for i in (1..all.len()).rev() {
            let j = rng.gen_range(0..=i);
            all.swap(i, j);
        }
        by_endpoint.insert(Endpoint::Mix, Arc::new(all));
        Ok(Workload { by_endpoint })
    }
}

/// How the load is applied.
#[derive(Debug, Clone, Copy)]
pub struct LoadShape {
    pub concurrency: usize,
    /// Before the warm-up, send every prepared request of a decision once (at most
    /// [`FILL_LIMIT`]): the server's decision cache then holds what the measured part asks, as
    /// it would for a service that keeps asking about the same patients.
    pub fill: bool,
    pub warmup: Duration,
    pub duration: Duration,
    /// Interleave: measure each endpoint in slices this long, each after a slice of the trivial
    /// endpoint, and give its ratio against those trivial slices ([`PhaseResult::paired`]).
    /// Zero: one stretch per endpoint, ratios against the trivial endpoint's own phase.
    pub slice: Duration,
}

impl LoadShape {
    /// Wall time of one endpoint's measured part (trivial slices included).
    pub fn measured_time(&self) -> Duration {
        if self.slice.is_zero() {
            self.duration
        } else {
            self.duration * 2
        }
    }
}

/// The longest a fill pass may take. It has a service token of its own (they live 300 s), so the
/// fill's length does not shorten the measured part.
pub const FILL_LIMIT: Duration = Duration::from_secs(90);

/// One pass of requests: until when, whether latencies are recorded, the seed and the order.
struct Pass {
    until: Instant,
    measure: bool,
    seed: u64,
    pick: Pick,
}

/// Which prepared request a task sends next.
#[derive(Clone)]
enum Pick {
    /// A random one (seeded per task).
    Random,
    /// The next not yet sent by any task; stop when all were.
    EachOnce(Arc<std::sync::atomic::AtomicUsize>),
}

/// What one endpoint's measured phase gave.
#[derive(Debug, Clone)]
pub struct PhaseResult {
    pub endpoint: Endpoint,
    pub requests: u64,
    pub errors: u64,
    /// Failed requests during the fill and the warm-up (not in `errors`).
    pub warmup_errors: u64,
    /// The fill, when there was one: whether it sent every prepared request before its limit.
    pub fill: Option<Fill>,
    pub seconds: f64,
    /// Latencies in microseconds.
    pub hist: Histogram<u64>,
    pub first_error: Option<String>,
    /// Answer kinds seen during the warm-up (decision/reason), to show what the mix hit.
    pub outcomes: BTreeMap<String, u64>,
    /// Cores in use during the measured part.
    pub cpu: CpuUse,
    /// PostgreSQL only: table scans and commits per request during the measured part.
    pub pg: Option<PerRequest>,
    /// The trivial endpoint as measured in the slices between this endpoint's (with
    /// [`LoadShape::slice`]): so the ratio compares two rates of the same moments, not of two
    /// stretches some seconds apart on a machine whose speed drifts.
    pub paired: Option<Paired>,
    /// The same endpoint at a fixed rate (open loop), when asked for (`crate::paced`).
    pub paced: Option<crate::paced::PacedResult>,
}

/// What the fill sent: `sent` of the `prepared` requests, in `seconds`. Fewer than all (the fill
/// stops at [`FILL_LIMIT`]) means the measured part also asks what the server has not kept yet.
#[derive(Debug, Clone, Copy)]
pub struct Fill {
    pub sent: u64,
    /// Of `sent`, those that failed (counted in [`PhaseResult::warmup_errors`]).
    pub errors: u64,
    pub prepared: u64,
    pub seconds: f64,
}

/// Requests of the trivial endpoint and the seconds they took, in the slices paired with an
/// endpoint's.
#[derive(Debug, Clone, Copy, Default)]
pub struct Paired {
    pub requests: u64,
    pub seconds: f64,
}

impl Paired {
    pub fn rps(&self) -> f64 {
        rate(self.requests, self.seconds)
    }
}

/// Requests per second (0 for no time).
fn rate(requests: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        requests as f64 / seconds
    } else {
        0.0
    }
}

impl PhaseResult {
    pub fn rps(&self) -> f64 {
        rate(self.requests, self.seconds)
    }

    /// CPU time per request, in microseconds, of `cores` in use during the measured part.
    pub fn micros_per_request(&self, cores: f64) -> f64 {
        let rps = self.rps();
        if rps > 0.0 {
            cores * 1e6 / rps
        } else {
            0.0
        }
    }

    pub fn p_ms(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }
}

#[derive(Default)]
pub(crate) struct TaskOut {
    pub(crate) requests: u64,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
    outcomes: BTreeMap<String, u64>,
}

fn outcome_of(endpoint: Endpoint, body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return "unparsable".to_owned();
    };
    let keys: &[&str] = match endpoint {
        Endpoint::ProfessionalAccess => &["allowed", "reason"],
        Endpoint::SummaryCareRecord => &["state", "record_blocked"],
        _ => &["decision", "reason"],
    };
    let mut parts: Vec<String> = keys
        .iter()
        .map(|k| match &v[*k] {
            Value::String(s) => s.clone(),
            Value::Null => "-".to_owned(),
            other => other.to_string(),
        })
        .collect();
    if endpoint == Endpoint::Representation && !v["proof"].is_null() {
        parts.push("proof".to_owned());
    }
    if endpoint == Endpoint::ProfessionalAccess
        && v["openings"].as_array().is_some_and(|a| !a.is_empty())
    {
        parts.push("opening written".to_owned());
    }
    format!("{}: {}", endpoint.name(), parts.join("/"))
}

/// What one request gave.
pub(crate) struct Answer {
    /// The status was the one expected.
    ok: bool,
    /// Endpoint, URL and status (or the client's error), for the first error's report.
    detail: String,
    body: Option<bytes::Bytes>,
}

/// Sends `r` and reads its whole answer.
pub(crate) async fn send(client: &reqwest::Client, r: &Req, bearer: &str) -> Answer {
    let sent = match &r.body {
        None => client.get(&r.url).send().await,
        Some(b) => {
            client
                .post(&r.url)
                .header("authorization", bearer)
                .header("content-type", "application/json")
                .body(b.clone())
                .send()
                .await
        }
    };
    let failed = |e: reqwest::Error| Answer {
        ok: false,
        detail: format!("{}: {e}", r.endpoint.name()),
        body: None,
    };
    match sent {
        Ok(res) => {
            let status = res.status();
            match res.bytes().await {
                Ok(b) => Answer {
                    ok: r.endpoint.expected(status),
                    detail: format!("{} {}: {status}", r.endpoint.name(), r.url),
                    body: Some(b),
                },
                Err(e) => failed(e),
            }
        }
        Err(e) => failed(e),
    }
}

impl TaskOut {
    /// Adds another task's counts; the first error seen stays.
    pub(crate) fn merge(&mut self, other: TaskOut) {
        self.requests += other.requests;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        for (k, v) in other.outcomes {
            *self.outcomes.entry(k).or_default() += v;
        }
    }

    /// Counts `answer`, keeping the first error with the start of its body.
    pub(crate) fn count(&mut self, answer: &Answer) {
        self.requests += 1;
        if !answer.ok {
            self.errors += 1;
            if self.first_error.is_none() {
                let snippet = answer
                    .body
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(&b[..b.len().min(300)]).into_owned())
                    .unwrap_or_default();
                self.first_error = Some(format!("{} {snippet}", answer.detail));
            }
        }
    }
}

/// Microseconds since `started`, for a histogram (at least 1).
pub(crate) fn micros_since(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

async fn one_task(
    client: reqwest::Client,
    reqs: Arc<Vec<Req>>,
    token: Arc<String>,
    until: Instant,
    seed: u64,
    pick: Pick,
    mut hist: Option<Histogram<u64>>,
) -> Result<(TaskOut, Option<Histogram<u64>>)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = TaskOut::default();
    let bearer = format!("Bearer {token}");
    while Instant::now() < until {
        let r = match &pick {
            Pick::Random => &reqs[rng.gen_range(0..reqs.len())],
            Pick::EachOnce(next) => {
                match reqs.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
                    Some(r) => r,
                    None => break,
                }
            }
        };
        let started = Instant::now();
        let answer = send(&client, r, &bearer).await;
        let micros = micros_since(started);
        out.count(&answer);
        match &mut hist {
            Some(h) => h.record(micros)?,
            None => {
                if let (true, Some(b)) = (answer.ok && r.endpoint.is_decision(), &answer.body) {
                    *out.outcomes.entry(outcome_of(r.endpoint, b)).or_default() += 1;
                }
            }
        }
    }
    Ok((out, hist))
}

/// `concurrency` tasks sending `endpoint`'s requests back to back until `until`; with `measure`
/// each records its latencies.
async fn run_tasks(
    client: &reqwest::Client,
    reqs: &Arc<Vec<Req>>,
    token: &Arc<String>,
    shape: LoadShape,
    pass: Pass,
) -> Result<(TaskOut, Option<Histogram<u64>>)> {
    let Pass {
        until,
        measure,
        seed,
        pick,
    } = pass;
    let mut set = tokio::task::JoinSet::new();
    for t in 0..shape.concurrency {
        let hist = if measure {
            Some(Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?)
        } else {
            None
        };
        set.spawn(one_task(
            client.clone(),
            reqs.clone(),
            token.clone(),
            until,
            seed.wrapping_mul(1_000_003).wrapping_add(t as u64),
            pick.clone(),
            hist,
        ));
    }
    let mut total = TaskOut::default();
    let mut merged: Option<Histogram<u64>> = None;
    while let Some(joined) = set.join_next().await {
        let (out, hist) = joined.map_err(|e| crate::error::Error::msg(e.to_string()))??;
        total.merge(out);
        if let Some(h) = hist {
            match &mut merged {
                Some(m) => m.add(&h)?,
                None => merged = Some(h),
            }
        }
    }
    Ok((total, merged))
}

/// What is watched besides the answers: the server process's CPU, and on PostgreSQL its
/// per-table scan counters.
#[derive(Debug, Clone, Copy)]
pub struct Observe<'a> {
    pub server_pid: u32,
    pub pg_url: Option<&'a str>,
}

pub(crate) fn prepared(workload: &Workload, endpoint: Endpoint) -> Result<Arc<Vec<Req>>> {
    workload
        .by_endpoint
        .get(&endpoint)
        .cloned()
        .context("no requests prepared for an endpoint")
}

/// One endpoint's turn: what its fill and its measured part share.
#[derive(Clone, Copy)]
pub struct Phase<'a> {
    pub client: &'a reqwest::Client,
    pub workload: &'a Workload,
    pub endpoint: Endpoint,
    pub shape: LoadShape,
    pub seed: u64,
}

/// Sends each of a decision's prepared requests once (with [`LoadShape::fill`]; none for the
/// trivial endpoint), for at most [`FILL_LIMIT`], so that the server keeps what the measured
/// part asks.
pub async fn fill(phase: Phase<'_>, token: &str) -> Result<Option<Fill>> {
    if !phase.shape.fill || !phase.endpoint.is_decision() {
        return Ok(None);
    }
    let reqs = prepared(phase.workload, phase.endpoint)?;
    let token = Arc::new(token.to_owned());
    let started = Instant::now();
    let pass = Pass {
        until: started + FILL_LIMIT,
        measure: false,
        seed: phase.seed,
        pick: Pick::EachOnce(Arc::default()),
    };
    let (filled, _) = run_tasks(phase.client, &reqs, &token, phase.shape, pass).await?;
    Ok(Some(Fill {
        sent: filled.requests,
        errors: filled.errors,
        prepared: reqs.len() as u64,
        seconds: started.elapsed().as_secs_f64(),
    }))
}

/// Warms up, then measures one endpoint (after its [`fill`], whose account is passed on).
pub async fn run_phase(
    phase: Phase<'_>,
    token: &str,
    observe: Observe<'_>,
    fill: Option<Fill>,
) -> Result<PhaseResult> {
    let Phase {
        client,
        workload,
        endpoint,
        shape,
        seed,
    } = phase;
    let Observe { server_pid, pg_url } = observe;
    let reqs = prepared(workload, endpoint)?;
    let token = Arc::new(token.to_owned());
    let (warm, _) = run_tasks(
        client,
        &reqs,
        &token,
        shape,
        Pass {
            until: Instant::now() + shape.warmup,
            measure: false,
            seed,
            pick: Pick::Random,
        },
    )
    .await?;
    let pg_before = pg_url.map(pgstats::read).transpose()?;
    let slices = if shape.slice.is_zero() || endpoint == Endpoint::Trivial {
        None
    } else {
        Some(
            workload
                .by_endpoint
                .get(&Endpoint::Trivial)
                .context("no trivial requests prepared")?
                .clone(),
        )
    };
    let mut measured = Measured::default();
    let mut paired: Option<Paired> = None;
    let mut slice_no = 0u64;
    loop {
        let left = shape
            .duration
            .saturating_sub(Duration::from_secs_f64(measured.seconds));
        if left < Duration::from_millis(10) {
            break;
        }
        let length = match &slices {
            None => left,
            Some(trivial) => {
                let started = Instant::now();
                let (out, _) = run_tasks(
                    client,
                    trivial,
                    &token,
                    shape,
                    Pass {
                        until: started + shape.slice,
                        measure: false,
                        seed: seed + 1_000 + slice_no,
                        pick: Pick::Random,
                    },
                )
                .await?;
                let p = paired.get_or_insert_with(Paired::default);
                p.requests += out.requests;
                p.seconds += started.elapsed().as_secs_f64();
                shape.slice.min(left)
            }
        };
        let before = Snapshot::take(server_pid);
        let started = Instant::now();
        let (out, hist) = run_tasks(
            client,
            &reqs,
            &token,
            shape,
            Pass {
                until: started + length,
                measure: true,
                seed: seed + 1 + slice_no,
                pick: Pick::Random,
            },
        )
        .await?;
        let seconds = started.elapsed().as_secs_f64();
        measured.add(
            out,
            hist,
            seconds,
            before.until(&Snapshot::take(server_pid)),
        )?;
        slice_no += 1;
    }
    let Measured {
        out,
        hist,
        seconds,
        cpu,
    } = measured;
    let cpu = cpu.per_second(seconds);
    let pg = match (pg_url, pg_before) {
        (Some(url), Some(b)) => Some(pgstats::per_request(&b, &pgstats::read(url)?, out.requests)),
        _ => None,
    };
    let hist = match hist {
        Some(h) => h,
        None => Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?,
    };
    Ok(PhaseResult {
        endpoint,
        requests: out.requests,
        errors: out.errors,
        warmup_errors: warm.errors + fill.map_or(0, |f| f.errors),
        fill,
        seconds,
        hist,
        first_error: out.first_error.or(warm.first_error),
        outcomes: warm.outcomes,
        cpu,
        pg,
        paired,
        paced: None,
    })
}

/// The measured slices of one endpoint, added up.
#[derive(Default)]
struct Measured {
    out: TaskOut,
    hist: Option<Histogram<u64>>,
    seconds: f64,
    /// Core-seconds.
    cpu: CpuUse,
}

impl Measured {
    fn add(
        &mut self,
        out: TaskOut,
        hist: Option<Histogram<u64>>,
        seconds: f64,
        cores: CpuUse,
    ) -> Result<()> {
        self.out.requests += out.requests;
        self.out.errors += out.errors;
        if self.out.first_error.is_none() {
            self.out.first_error = out.first_error;
        }
        match (&mut self.hist, hist) {
            (Some(all), Some(h)) => all.add(&h)?,
            (all @ None, h) => *all = h,
            (Some(_), None) => {}
        }
        self.seconds += seconds;
        self.cpu = self.cpu.plus(&cores.times(seconds));
        Ok(())
    }
}

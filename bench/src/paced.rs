//! The open loop: an endpoint's requests sent at a fixed rate, whatever the answers, as many
//! independent callers would send them. The closed loop of `driver` keeps `--concurrency`
//! requests waiting at every moment, so its latencies are mostly that queue (with N in flight the
//! mean is N over the throughput, Little's law); at a fixed rate below capacity they show the
//! service time plus only the queueing that this rate causes (docs/BENCHMARK.md, "Latency at a
//! fixed rate").
//!
//! The i-th request is due `i / rate` seconds after the start. A thread of its own releases each
//! request when it is due (a thread's sleep overshoots by about 0.1 ms here; tokio's timer wakes
//! on whole milliseconds, which put every request up to 2 ms late) into a queue that
//! `--concurrency` worker tasks take from: each sends, waits for the answer and takes the next.
//! So no more requests are in flight than in the closed loop, each on a connection the client
//! keeps idle (a task per request, or 64 workers against a pool that keeps 32 idle, opened new
//! connections in every burst: the trivial endpoint's p99 at 16 000 requests/s was 2.6-3.4 ms
//! that way, 0.87 ms with 16 workers).
//!
//! A latency counts from the moment its request was due, not from when a worker took it: when
//! the server stalls and every worker waits, the requests due meanwhile wait in the queue, as
//! independent callers' would, and that wait is part of their latency (a load generator that
//! measured only from the send would leave it out: "coordinated omission").

use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Mutex};

use crate::cpu::{CpuUse, Snapshot};
use crate::driver::{micros_since, prepared, send, Phase, Req, TaskOut};
use crate::error::{Error, Result};

/// Workers stop taking requests this long after the last was due, so that a pass against a
/// server slower than the rate ends; what is left counts as not sent.
const GRACE: Duration = Duration::from_secs(5);

/// What one endpoint's paced pass gave.
#[derive(Debug, Clone)]
pub struct PacedResult {
    /// Requests per second asked for.
    pub rate: f64,
    /// Worker tasks, so requests in flight at most.
    pub workers: usize,
    /// Requests due in the pass (`rate` times the duration).
    pub due: u64,
    pub requests: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// From the first request's due time to the last answer.
    pub seconds: f64,
    /// Latencies in microseconds, each from the moment its request was due.
    pub hist: Histogram<u64>,
    /// How long after its due time each request left, in microseconds: the pacer's delay, or
    /// the wait for a free worker.
    pub late: Histogram<u64>,
    /// How long after its due time the pacer released each request (part of `late`): the load
    /// generator's own delay.
    pub pacer_late: Histogram<u64>,
    pub cpu: CpuUse,
}

impl PacedResult {
    pub fn rps(&self) -> f64 {
        if self.seconds > 0.0 {
            self.requests as f64 / self.seconds
        } else {
            0.0
        }
    }

    pub fn p_ms(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn late_p99_ms(&self) -> f64 {
        self.late.value_at_quantile(0.99) as f64 / 1000.0
    }

    pub fn pacer_late_p99_ms(&self) -> f64 {
        self.pacer_late.value_at_quantile(0.99) as f64 / 1000.0
    }

    /// Every request due was sent: the server carried the rate (its latencies say how well).
    pub fn carried(&self) -> bool {
        self.requests == self.due
    }
}

struct WorkerOut {
    out: TaskOut,
    hist: Histogram<u64>,
    late: Histogram<u64>,
}

fn histogram() -> Result<Histogram<u64>> {
    Ok(Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// Releases the due time of each of `count` requests into `queue` when it comes, then closes it.
/// Returns how late it released each (its own delay: the sleep's overshoot, or the thread
/// waiting for a core).
fn release(
    queue: mpsc::UnboundedSender<Instant>,
    started: Instant,
    rate: f64,
    count: u64,
) -> Result<Histogram<u64>> {
    let mut own = histogram()?;
    for i in 0..count {
        let due = started + Duration::from_secs_f64(i as f64 / rate);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        own.record(micros(Instant::now().saturating_duration_since(due)))?;
        if queue.send(due).is_err() {
            break; // the workers are gone
        }
    }
    Ok(own)
}

async fn worker(
    client: reqwest::Client,
    reqs: Arc<Vec<Req>>,
    bearer: Arc<str>,
    queue: Arc<Mutex<mpsc::UnboundedReceiver<Instant>>>,
    stop_at: Instant,
    seed: u64,
) -> Result<WorkerOut> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut w = WorkerOut {
        out: TaskOut::default(),
        hist: histogram()?,
        late: histogram()?,
    };
    loop {
        // The guard is dropped at the end of the statement: one worker waits at the queue at a
        // time, the others are sending.
        let Some(due) = queue.lock().await.recv().await else {
            break;
        };
        let sent_at = Instant::now();
        if sent_at >= stop_at {
            break;
        }
        w.late
            .record(micros(sent_at.saturating_duration_since(due)))?;
        let answer = send(&client, &reqs[rng.gen_range(0..reqs.len())], &bearer).await;
        w.hist.record(micros_since(due))?;
        w.out.count(&answer);
    }
    Ok(w)
}

/// Sends `phase`'s requests (drawn at random, seeded) at `rate` per second for `duration`.
pub async fn run_paced(
    phase: Phase<'_>,
    token: &str,
    rate: f64,
    duration: Duration,
    server_pid: u32,
) -> Result<PacedResult> {
    if !(rate.is_finite() && rate >= 1.0) {
        return Err(Error::msg(format!(
            "a paced rate must be at least 1 request/s, not {rate}"
        )));
    }
    let reqs = prepared(phase.workload, phase.endpoint)?;
    let bearer: Arc<str> = Arc::from(format!("Bearer {token}"));
    // Truncation is the point: the requests due within `duration`.
    let due = (rate * duration.as_secs_f64()) as u64;
    let workers = phase.shape.concurrency;
    let (tx, rx) = mpsc::unbounded_channel();
    let queue = Arc::new(Mutex::new(rx));
    let before = Snapshot::take(server_pid);
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for k in 0..workers {
        set.spawn(worker(
            phase.client.clone(),
            reqs.clone(),
            bearer.clone(),
            queue.clone(),
            started + duration + GRACE,
            phase.seed ^ 0x0fe7_1ace ^ ((k as u64) << 32),
        ));
    }
    let pacer = std::thread::Builder::new()
        .name("bench-pacer".into())
        .spawn(move || release(tx, started, rate, due))
        .map_err(|e| Error::msg(format!("cannot start the pacer thread: {e}")))?;
    let mut out = TaskOut::default();
    let (mut hist, mut late) = (histogram()?, histogram()?);
    while let Some(joined) = set.join_next().await {
        let w = joined.map_err(|e| Error::msg(e.to_string()))??;
        out.merge(w.out);
        hist.add(&w.hist)?;
        late.add(&w.late)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = before.until(&Snapshot::take(server_pid));
    // The workers are done, so the queue is closed and the pacer has returned or soon will.
    drop(queue);
    let pacer_late = pacer
        .join()
        .map_err(|_| Error::msg("the pacer thread panicked"))??;
    Ok(PacedResult {
        rate,
        workers,
        due,
        requests: out.requests,
        errors: out.errors,
        first_error: out.first_error,
        seconds,
        hist,
        late,
        pacer_late,
        cpu,
    })
}

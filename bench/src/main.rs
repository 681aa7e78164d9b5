//! `consent-bench`: loads a synthetic population into SQLite and/or PostgreSQL, starts the
//! real server binary against it, and measures the decision endpoints next to a trivial endpoint
//! of the same server under concurrent load on loopback. See docs/BENCHMARK.md.

mod cpu;
mod driver;
mod error;
mod ids;
mod load;
mod paced;
mod pgstats;
mod population;
mod procs;
mod report;

use diesel::Connection;
use std::path::{Path, PathBuf};
use std::time::Duration;

use driver::{Endpoint, LoadShape, Workload};
use error::{bail, Context, Result};
use load::{Backend, Target};

const USAGE: &str = "usage: consent-bench [options]
  --size 10k|1m|both       population size(s) (default both; any <N>k or <N>m works)
  --backend sqlite|postgres|both
                           database(s) (default both; PostgreSQL is skipped with a note when
                           it does not answer, unless asked for by name)
  --duration SECS          measured seconds per endpoint (default 10)
  --warmup SECS            warm-up seconds per endpoint, not measured (default 2)
  --no-fill                do not send each decision's prepared requests once before its
                           warm-up (the fill puts them into the server's decision cache)
  --slice SECS             measure each endpoint in slices this long, each after a slice of
                           the trivial endpoint, and give its ratio against those (default 1;
                           0: one stretch per endpoint, ratio against the trivial phase)
  --concurrency N          requests in flight (default 16)
  --client-threads N       threads of the load generator (default 1)
  --server-workers N       HTTP worker threads of the server (HTTP_WORKERS; default: the CPUs
                           the load generator's threads leave, at least 1; 0: the server's own
                           default, one per CPU)
  --paced-fraction F       after each endpoint's closed loop, send it at a fixed rate (open
                           loop) for --duration: F times the trivial endpoint's req/s of this
                           run (default 0.25; 0: no paced part)
  --paced-rate N           the fixed rate in requests/s instead (overrides --paced-fraction)
  --opening-percent P      share of professional-access requests on the consent or emergency
                           basis, which write an opening when they pass a block (default 2)
  --reload                 rebuild the databases even when already loaded
  --load-only              load (or check) the databases and stop
  --seed N                 population seed (default 1)
  --pg-admin-url URL       where databases are created (default $BENCH_PG_ADMIN_URL or
                           postgres://postgres@127.0.0.1:5432/postgres)
  --server-bin PATH        the server (default target/release/consent-portal)
  --results FILE           the results file to merge into (default target/bench/results.json)
  --only a,b               measure only these endpoints (and trivial): token, active-user,
                           representation, summary-care-record, professional-access, mix
Environment: BENCH_SERVER_<NAME>=value passes <NAME>=value to the server (e.g.
BENCH_SERVER_RUST_LOG=warn). Results: target/bench/results.json; server logs: target/bench/.";

#[derive(Debug, Clone)]
pub struct Options {
    sizes: Vec<(String, usize)>,
    backends: Vec<Backend>,
    postgres_explicit: bool,
    shape: LoadShape,
    client_threads: usize,
    /// `None`: the CPUs the load generator leaves (`Options::server_workers`).
    server_workers: Option<usize>,
    opening_percent: f64,
    paced: PacedRate,
    reload: bool,
    load_only: bool,
    seed: u64,
    pg_admin_url: String,
    server_bin: Option<PathBuf>,
    endpoints: Vec<Endpoint>,
    results: Option<PathBuf>,
}

/// The rate of each endpoint's paced part (`paced`), which measures latency at a load below
/// capacity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PacedRate {
    Off,
    /// This share of the trivial endpoint's requests/s in the same run: the default 0.25 is half
    /// of what a decision at the throughput target (ratio 0.5) carries.
    OfTrivial(f64),
    PerSecond(f64),
}

impl PacedRate {
    /// Requests/s, given the trivial endpoint's rate in this run.
    pub fn rate(self, trivial_rps: Option<f64>) -> Option<f64> {
        match self {
            PacedRate::Off => None,
            PacedRate::OfTrivial(f) => trivial_rps.map(|t| t * f).filter(|r| *r >= 1.0),
            PacedRate::PerSecond(r) => Some(r),
        }
    }
}

impl Options {
    /// The server's HTTP workers. On a machine shared with the load generator the server gets
    /// the CPUs the generator's threads leave: more workers than that only take turns on the
    /// same cores, and the scheduler's turns then make the p99 (docs/BENCHMARK.md, "Fewer
    /// server workers").
    pub fn server_workers(&self) -> usize {
        self.server_workers.unwrap_or_else(|| {
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
            cpus.saturating_sub(self.client_threads).max(1)
        })
    }
}

fn parse_size(s: &str) -> Result<(String, usize)> {
    let lower = s.to_ascii_lowercase();
    let (digits, factor) = if let Some(d) = lower.strip_suffix('k') {
        (d, 1_000)
    } else if let Some(d) = lower.strip_suffix('m') {
        (d, 1_000_000)
    } else {
        (lower.as_str(), 1)
    };
    let n: usize = digits
        .parse()
        .with_context(|| format!("--size {s}: expected 10k, 1m, both or <N>k/<N>m"))?;
    if n == 0 {
        bail!("--size must be positive");
    }
    Ok((lower.clone(), n * factor))
}

fn parse_args(args: &[String]) -> Result<Option<Options>> {
    let mut o = Options {
        sizes: vec![("10k".into(), 10_000), ("1m".into(), 1_000_000)],
        backends: vec![Backend::Sqlite, Backend::Postgres],
        postgres_explicit: false,
        shape: LoadShape {
            concurrency: 16,
            fill: true,
            warmup: Duration::from_secs(2),
            duration: Duration::from_secs(10),
            slice: Duration::from_secs(1),
        },
        client_threads: 1,
        server_workers: None,
        opening_percent: 2.0,
        paced: PacedRate::OfTrivial(0.25),
        reload: false,
        load_only: false,
        seed: 1,
        pg_admin_url: std::env::var("BENCH_PG_ADMIN_URL")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned()),
        server_bin: None,
        endpoints: Endpoint::ALL.to_vec(),
        results: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_owned())),
            _ => (a.as_str(), None),
        };
        let mut value = || -> Result<String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it
                    .next()
                    .cloned()
                    .with_context(|| format!("{flag} needs a value")),
            }
        };
        let secs = |v: String| -> Result<Duration> {
            let s: f64 = v.parse().with_context(|| format!("{flag} {v}"))?;
            if !(0.0..=3600.0).contains(&s) {
                bail!("{flag} must be between 0 and 3600 seconds");
            }
            Ok(Duration::from_secs_f64(s))
        };
        match flag {
            "-h" | "--help" => return Ok(None),
            "--size" => {
                let v = value()?;
                o.sizes = match v.as_str() {
                    "both" => vec![("10k".into(), 10_000), ("1m".into(), 1_000_000)],
                    other => other
                        .split(',')
                        .map(parse_size)
                        .collect::<Result<Vec<_>>>()?,
                };
            }
            "--backend" => {
                let v = value()?;
                (o.backends, o.postgres_explicit) = match v.as_str() {
                    "sqlite" => (vec![Backend::Sqlite], false),
                    "postgres" | "postgresql" | "pg" => (vec![Backend::Postgres], true),
                    "both" => (vec![Backend::Sqlite, Backend::Postgres], false),
                    other => bail!("--backend {other}: expected sqlite, postgres or both"),
                };
            }
            "--duration" => o.shape.duration = secs(value()?)?,
            "--warmup" => o.shape.warmup = secs(value()?)?,
            "--slice" => o.shape.slice = secs(value()?)?,
            "--no-fill" => o.shape.fill = false,
            "--concurrency" => {
                o.shape.concurrency = value()?.parse().context("--concurrency")?;
                if !(1..=1024).contains(&o.shape.concurrency) {
                    bail!("--concurrency must be 1 to 1024");
                }
            }
            "--client-threads" => {
                o.client_threads = value()?.parse().context("--client-threads")?;
                if !(1..=64).contains(&o.client_threads) {
                    bail!("--client-threads must be 1 to 64");
                }
            }
            "--server-workers" => {
                let n: usize = value()?.parse().context("--server-workers")?;
                if n > 64 {
                    bail!("--server-workers must be 0 to 64");
                }
                o.server_workers = Some(n);
            }
            "--opening-percent" => {
                o.opening_percent = value()?.parse().context("--opening-percent")?;
                if !(0.0..=100.0).contains(&o.opening_percent) {
                    bail!("--opening-percent must be 0 to 100");
                }
            }
            "--paced-fraction" => {
                let f: f64 = value()?.parse().context("--paced-fraction")?;
                if !(0.0..=10.0).contains(&f) {
                    bail!("--paced-fraction must be 0 to 10");
                }
                if !matches!(o.paced, PacedRate::PerSecond(_)) {
                    o.paced = if f == 0.0 {
                        PacedRate::Off
                    } else {
                        PacedRate::OfTrivial(f)
                    };
                }
            }
            "--paced-rate" => {
                let r: f64 = value()?.parse().context("--paced-rate")?;
                if !(1.0..=1_000_000.0).contains(&r) {
                    bail!("--paced-rate must be 1 to 1000000 requests/s");
                }
                o.paced = PacedRate::PerSecond(r);
            }
            "--reload" => o.reload = true,
            "--load-only" => o.load_only = true,
            "--seed" => o.seed = value()?.parse().context("--seed")?,
            "--pg-admin-url" => o.pg_admin_url = value()?,
            "--server-bin" => o.server_bin = Some(PathBuf::from(value()?)),
            "--results" => o.results = Some(PathBuf::from(value()?)),
            "--only" => {
                let v = value()?;
                let mut chosen = vec![Endpoint::Trivial];
                for name in v.split(',') {
                    let e = Endpoint::ALL
                        .into_iter()
                        .find(|e| e.key() == name)
                        .with_context(|| {
                            format!("--only {name}: expected {}", Endpoint::keys().join(", "))
                        })?;
                    if !chosen.contains(&e) {
                        chosen.push(e);
                    }
                }
                chosen.sort();
                o.endpoints = chosen;
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    // Service tokens live 300 s at the dev provider; one is fetched per endpoint after its fill.
    let paced_time = if o.paced == PacedRate::Off {
        Duration::ZERO
    } else {
        o.shape.duration
    };
    if (o.shape.warmup + o.shape.measured_time() + paced_time).as_secs() > 270 {
        bail!(
            "--warmup plus --duration (twice --duration with --slice, once more for the paced \
             part) must stay under 270 s (the service token's lifetime, with room to spare)"
        );
    }
    Ok(Some(o))
}

fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

fn postgres_answers(admin_url: &str) -> bool {
    diesel::PgConnection::establish(admin_url).is_ok()
}

/// `BENCH_SERVER_<NAME>=value` from our environment, as `<NAME>=value` for the server.
fn server_env_overrides() -> Vec<(String, String)> {
    std::env::vars()
        .filter_map(|(k, v)| {
            k.strip_prefix("BENCH_SERVER_")
                .filter(|n| !n.is_empty())
                .map(|n| (n.to_owned(), v))
        })
        .collect()
}

async fn run(o: Options) -> Result<()> {
    let root = workspace_root();
    let target_dir = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    let out_dir = target_dir.join("bench");
    std::fs::create_dir_all(&out_dir)?;
    let server_bin = o
        .server_bin
        .clone()
        .unwrap_or_else(|| target_dir.join("release/consent-portal"));
    if !server_bin.exists() {
        bail!(
            "{} is missing: build it with `cargo build --release -p api` (scripts/bench does)",
            server_bin.display()
        );
    }

    let mut backends = o.backends.clone();
    if backends.contains(&Backend::Postgres) {
        let admin = o.pg_admin_url.clone();
        let up = tokio::task::spawn_blocking(move || postgres_answers(&admin))
            .await
            .unwrap_or(false);
        if !up {
            if o.postgres_explicit {
                bail!("PostgreSQL does not answer at {}", o.pg_admin_url);
            }
            eprintln!(
                "note: PostgreSQL does not answer at {}: running SQLite only",
                o.pg_admin_url
            );
            backends.retain(|b| *b != Backend::Postgres);
        }
    }

    let machine = report::Machine::detect();
    eprintln!(
        "machine: {} CPU(s) ({}), {:.1} GiB memory",
        machine.cpus, machine.cpu_model, machine.memory_gib
    );
    let idp = if o.load_only {
        None
    } else {
        Some(procs::start_idp(&root, "http://127.0.0.1:9/auth/callback")?)
    };
    let mut runs = Vec::new();
    for (size_label, citizens) in &o.sizes {
        for backend in &backends {
            let target = match backend {
                Backend::Sqlite => Target::sqlite(&out_dir, size_label),
                Backend::Postgres => Target::postgres(&o.pg_admin_url, size_label)?,
            };
            let loaded = {
                let (target, bin, dir) = (target.clone(), server_bin.clone(), out_dir.clone());
                let (citizens, seed, reload) = (*citizens, o.seed, o.reload);
                tokio::task::spawn_blocking(move || -> Result<_> {
                    let log_rows = 10 * citizens as u64;
                    let report =
                        load::ensure_loaded(&target, citizens, log_rows, seed, reload, &bin, &dir)?;
                    let started = std::time::Instant::now();
                    let pop = population::generate(&report.spec)?;
                    let regenerate = started.elapsed().as_secs_f64();
                    Ok((report, pop, regenerate))
                })
                .await
                .map_err(|e| error::Error::msg(e.to_string()))??
            };
            let (load_report, pop, regenerate_secs) = loaded;
            if load_report.reused {
                eprintln!(
                    "{} {size_label}: reusing {} (loaded {}; --reload rebuilds it)",
                    backend.title(),
                    target.database_name(),
                    load_report.spec.now
                );
            } else {
                eprintln!(
                    "{} {size_label}: loaded in {:.1} s",
                    backend.title(),
                    load_report.total_seconds
                );
            }
            let database_bytes = {
                let t = target.clone();
                tokio::task::spawn_blocking(move || t.size_bytes())
                    .await
                    .unwrap_or(None)
            };
            let Some(idp) = &idp else {
                runs.push(report::Run::new(
                    &target,
                    &load_report,
                    database_bytes,
                    Vec::new(),
                ));
                continue;
            };
            let results = measure(
                &o,
                &server_bin,
                &out_dir,
                &target,
                &idp.issuer,
                &pop,
                regenerate_secs,
            )
            .await?;
            let run =
                report::Run::new(&target, &load_report, database_bytes, results).with_settings(&o);
            report::print_run(&run);
            runs.push(run);
        }
    }
    if let Some(mut idp) = idp {
        idp.guard.stop();
    }
    let results = o
        .results
        .clone()
        .unwrap_or_else(|| out_dir.join("results.json"));
    let all = report::merge_and_write(&results, &runs, &o, &machine)?;
    report::print_summary(&all);
    Ok(())
}

/// Starts the server on `target`'s database and measures every endpoint.
async fn measure(
    o: &Options,
    server_bin: &Path,
    out_dir: &Path,
    target: &Target,
    issuer: &str,
    pop: &population::Population,
    regenerate_secs: f64,
) -> Result<Vec<driver::PhaseResult>> {
    let log_path = out_dir.join(format!(
        "server-{}-{}.log",
        target.backend.name(),
        target.size_label
    ));
    let mut server = procs::start_server(procs::ServerConfig {
        bin: server_bin,
        port: procs::free_port()?,
        database_url: &target.database_url,
        issuer,
        log_path,
        work_dir: out_dir,
        http_workers: o.server_workers(),
        extra_env: server_env_overrides(),
    })
    .await?;
    eprintln!(
        "{} {}: server pid {} at {} (population rebuilt in memory in {regenerate_secs:.1} s); \
         {} in flight, {} server worker(s), {}{:?} warm-up + {:?} per endpoint",
        target.backend.title(),
        target.size_label,
        server.guard.pid(),
        server.base,
        o.shape.concurrency,
        o.server_workers(),
        if o.shape.fill {
            "each decision's requests once (fill), "
        } else {
            ""
        },
        o.shape.warmup,
        o.shape.duration
    );
    let workload = Workload::new(pop, &server.base, o.seed, o.opening_percent)?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(o.shape.concurrency * 2)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .build()?;
    let mut results = Vec::new();
    // Set by the trivial endpoint, which is measured first.
    let mut paced_rate = o.paced.rate(None);
    for (i, endpoint) in o.endpoints.iter().copied().enumerate() {
        let phase = driver::Phase {
            client: &client,
            workload: &workload,
            endpoint,
            shape: o.shape,
            seed: o.seed.wrapping_add(100 * i as u64),
        };
        let token = procs::service_token(issuer).await?;
        let fill = driver::fill(phase, &token).await?;
        // A fresh token for the measured part, however long the fill took.
        let token = procs::service_token(issuer).await?;
        let mut r = driver::run_phase(
            phase,
            &token,
            driver::Observe {
                server_pid: server.guard.pid(),
                pg_url: (target.backend == Backend::Postgres)
                    .then_some(target.database_url.as_str()),
            },
            fill,
        )
        .await?;
        if endpoint == Endpoint::Trivial {
            paced_rate = o.paced.rate(Some(r.rps()));
        }
        eprintln!(
            "  {:<20} {:>9.0} req/s{}  p50 {:>7.3} ms  p99 {:>7.3} ms  errors {}  \
             cores: server {:.2} bench {:.2} postgres {:.2} other {:.2}",
            endpoint.name(),
            r.rps(),
            r.paired
                .map(|p| format!(" (trivial between: {:.0})", p.rps()))
                .unwrap_or_default(),
            r.p_ms(0.5),
            r.p_ms(0.99),
            r.errors,
            r.cpu.server,
            r.cpu.bench,
            r.cpu.postgres,
            r.cpu.other
        );
        if let Some(rate) = paced_rate {
            let p =
                paced::run_paced(phase, &token, rate, o.shape.duration, server.guard.pid()).await?;
            eprintln!(
                "  {:<20} {:>9.0} req/s paced ({rate:.0} asked)  p50 {:>7.3} ms  p99 {:>7.3} ms  \
                 errors {}  left late by {:.2} ms at p99 (pacer {:.2}){}",
                "",
                p.rps(),
                p.p_ms(0.5),
                p.p_ms(0.99),
                p.errors,
                p.late_p99_ms(),
                p.pacer_late_p99_ms(),
                if p.carried() {
                    String::new()
                } else {
                    format!("  NOT CARRIED: {} of {} sent", p.requests, p.due)
                }
            );
            r.paced = Some(p);
        }
        if let Some(f) = r.fill.filter(|f| f.sent < f.prepared) {
            eprintln!(
                "  {:<20} the fill sent only {} of {} prepared requests in {:.0} s: the measured \
                 part also asks what is not kept yet",
                "", f.sent, f.prepared, f.seconds
            );
        }
        server
            .guard
            .check_running()
            .with_context(|| format!("the server stopped (log: {})", server.log_path.display()))?;
        results.push(r);
    }
    server.guard.stop();
    Ok(results)
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse_args(&args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{USAGE}");
            return std::process::ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("consent-bench: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.client_threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("consent-bench: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // On Ctrl-C the run is dropped, and with it the guards of the processes it started.
    let result = runtime.block_on(async {
        tokio::select! {
            r = run(options) => r,
            _ = tokio::signal::ctrl_c() => Err(error::Error::msg("interrupted")),
        }
    });
    runtime.shutdown_background();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("consent-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn options_parse() {
        let o = parse_args(&args(&[
            "--size",
            "10k",
            "--backend=postgres",
            "--duration",
            "3",
            "--concurrency",
            "8",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(o.sizes, vec![("10k".to_owned(), 10_000)]);
        assert_eq!(o.backends, vec![Backend::Postgres]);
        assert!(o.postgres_explicit);
        assert_eq!(o.shape.duration, Duration::from_secs(3));
        assert_eq!(o.shape.concurrency, 8);
        assert_eq!(
            o.shape.slice,
            Duration::from_secs(1),
            "interleaved by default"
        );
        assert_eq!(o.shape.measured_time(), Duration::from_secs(6));
        let o = parse_args(&args(&[
            "--slice",
            "0",
            "--duration",
            "200",
            "--paced-fraction",
            "0",
        ]))
        .unwrap()
        .unwrap();
        assert!(o.shape.slice.is_zero());
        assert_eq!(o.shape.measured_time(), Duration::from_secs(200));
        // Interleaved, 200 s of an endpoint is 400 s of load: longer than the token lives.
        assert!(parse_args(&args(&["--duration", "200"])).is_err());
        assert!(parse_args(&args(&["--size", "huge"])).is_err());
        assert!(parse_args(&args(&["--duration", "300"])).is_err());
        assert!(parse_args(&args(&["--help"])).unwrap().is_none());
        assert_eq!(parse_size("100K").unwrap(), ("100k".to_owned(), 100_000));
    }

    #[test]
    fn the_paced_rate_follows_the_trivial_endpoint_or_is_fixed() {
        let o = parse_args(&args(&[])).unwrap().unwrap();
        assert_eq!(o.paced, PacedRate::OfTrivial(0.25), "on by default");
        assert_eq!(o.paced.rate(Some(20_000.0)), Some(5_000.0));
        assert_eq!(o.paced.rate(None), None, "known once trivial is measured");
        let off = parse_args(&args(&["--paced-fraction", "0"]))
            .unwrap()
            .unwrap();
        assert_eq!(off.paced, PacedRate::Off);
        assert_eq!(off.paced.rate(Some(20_000.0)), None);
        let fixed = parse_args(&args(&["--paced-rate", "3000", "--paced-fraction", "0.5"]))
            .unwrap()
            .unwrap();
        assert_eq!(
            fixed.paced,
            PacedRate::PerSecond(3000.0),
            "a fixed rate wins"
        );
        assert_eq!(fixed.paced.rate(None), Some(3000.0));
        assert!(parse_args(&args(&["--paced-rate", "0"])).is_err());
        // 2 s warm-up, 2 x 89 s interleaved and 89 s paced: 269 s fits the token; 90 does not.
        assert!(parse_args(&args(&["--duration", "89"])).is_ok());
        assert!(parse_args(&args(&["--duration", "90"])).is_err());
        assert!(parse_args(&args(&["--duration", "90", "--paced-fraction", "0"])).is_ok());
    }
}

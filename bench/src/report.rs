//! The tables printed after each run, the summary against the targets, and
//! target/bench/results.json (runs of earlier invocations with another backend or size are kept,
//! so a 1m run started later still gets its growth ratio).

use serde_json::{json, Value};
use std::path::Path;

use crate::driver::{Endpoint, PhaseResult};
use crate::error::{Context, Result};
use crate::load::{LoadReport, Target};
use crate::paced::PacedResult;
use crate::Options;

/// Targets of issue #6, item 7.
const MIN_RATIO: f64 = 0.5;
const MAX_P99_MS: f64 = 2.0;
const MAX_GROWTH: f64 = 1.5;

#[derive(Debug, Clone)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
}

impl Machine {
    pub fn detect() -> Machine {
        let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown CPU".to_owned(), |(_, m)| m.trim().to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let kib: f64 = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        Machine {
            cpus,
            cpu_model,
            memory_gib: kib / 1024.0 / 1024.0,
        }
    }
}

/// One (backend, size) as measured, in the form results.json keeps.
#[derive(Debug, Clone)]
pub struct Run(Value);

impl Run {
    pub fn new(
        target: &Target,
        load: &LoadReport,
        database_bytes: Option<u64>,
        results: Vec<PhaseResult>,
    ) -> Run {
        let trivial_rps = results
            .iter()
            .find(|r| r.endpoint == Endpoint::Trivial)
            .map(PhaseResult::rps);
        let endpoints: Vec<Value> = results
            .iter()
            .map(|r| {
                // Against the trivial slices measured between this endpoint's, when there were.
                let against = r.paired.map(|p| p.rps()).or(trivial_rps);
                let ratio = against.filter(|t| *t > 0.0).map(|t| r.rps() / t);
                json!({
                    "endpoint": r.endpoint.name(),
                    "request": r.endpoint.request_line(),
                    "requests": r.requests,
                    "errors": r.errors,
                    "warmup_errors": r.warmup_errors,
                    "fill": r.fill.map(|f| json!({
                        "sent": f.sent,
                        "errors": f.errors,
                        "prepared": f.prepared,
                        "seconds": round(f.seconds, 1),
                    })),
                    "first_error": r.first_error,
                    "seconds": round(r.seconds, 3),
                    "requests_per_second": round(r.rps(), 1),
                    "p50_ms": round(r.p_ms(0.5), 3),
                    "p90_ms": round(r.p_ms(0.9), 3),
                    "p99_ms": round(r.p_ms(0.99), 3),
                    "p999_ms": round(r.p_ms(0.999), 3),
                    "max_ms": round(r.hist.max() as f64 / 1000.0, 3),
                    "throughput_ratio_to_trivial": ratio.map(|x| round(x, 3)),
                    "paired_trivial_requests_per_second": r.paired.map(|p| round(p.rps(), 1)),
                    "warmup_answers": r.outcomes,
                    "cpu_cores": {
                        "server": round(r.cpu.server, 2),
                        "bench": round(r.cpu.bench, 2),
                        "postgres": round(r.cpu.postgres, 2),
                        "other": round(r.cpu.other, 2),
                    },
                    "server_cpu_us_per_request": round(r.micros_per_request(r.cpu.server), 1),
                    "postgres_per_request": r.pg.as_ref().map(|p| json!({
                        "commits": round(p.commits, 2),
                        "scans": p.tables.iter().map(|(t, seq, idx)| (t.clone(), json!({
                            "seq": round(*seq, 3),
                            "idx": round(*idx, 3),
                        }))).collect::<serde_json::Map<String, Value>>(),
                    })),
                    "postgres_cpu_us_per_request": round(r.micros_per_request(r.cpu.postgres), 1),
                    "paced": r.paced.as_ref().map(paced_json),
                })
            })
            .collect();
        Run(json!({
            "backend": target.backend.name(),
            "size": target.size_label,
            "citizens": load.spec.citizens,
            "usage_log_rows": load.spec.log_rows,
            "database": target.database_name(),
            "database_bytes": database_bytes,
            "measured_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "data_reference_time": load.spec.now.and_utc().to_rfc3339(),
            "load": {
                "reused": load.reused,
                "total_seconds": round(load.total_seconds, 1),
                "steps": load.steps.iter().map(|(name, rows, secs)| json!({
                    "step": name, "rows": rows, "seconds": round(*secs, 1)
                })).collect::<Vec<_>>(),
            },
            "endpoints": endpoints,
        }))
    }
}

/// An endpoint's paced part (open loop at a fixed rate), as results.json keeps it.
fn paced_json(p: &PacedResult) -> Value {
    let per_request = |cores: f64| {
        let rps = p.rps();
        if rps > 0.0 {
            round(cores * 1e6 / rps, 1)
        } else {
            0.0
        }
    };
    json!({
        "rate_asked": round(p.rate, 1),
        "workers": p.workers,
        "requests_per_second": round(p.rps(), 1),
        "requests": p.requests,
        "errors": p.errors,
        "first_error": p.first_error,
        "seconds": round(p.seconds, 3),
        "p50_ms": round(p.p_ms(0.5), 3),
        "p90_ms": round(p.p_ms(0.9), 3),
        "p99_ms": round(p.p_ms(0.99), 3),
        "p999_ms": round(p.p_ms(0.999), 3),
        "max_ms": round(p.hist.max() as f64 / 1000.0, 3),
        "due": p.due,
        "left_late_p99_ms": round(p.late_p99_ms(), 3),
        "left_late_max_ms": round(p.late.max() as f64 / 1000.0, 3),
        "pacer_late_p99_ms": round(p.pacer_late_p99_ms(), 3),
        "carried": p.carried(),
        "cpu_cores": {
            "server": round(p.cpu.server, 2),
            "bench": round(p.cpu.bench, 2),
            "postgres": round(p.cpu.postgres, 2),
            "other": round(p.cpu.other, 2),
        },
        "server_cpu_us_per_request": per_request(p.cpu.server),
        "postgres_cpu_us_per_request": per_request(p.cpu.postgres),
    })
}

impl Run {
    /// Records the load settings with the run (the results file may hold runs of several
    /// invocations).
    pub fn with_settings(mut self, o: &Options) -> Run {
        self.0["settings"] = settings(o);
        self
    }
}

/// The load settings of an invocation, as recorded with each run and in the file's header.
fn settings(o: &Options) -> serde_json::Value {
    json!({
        "concurrency": o.shape.concurrency,
        "warmup_seconds": o.shape.warmup.as_secs_f64(),
        "fill": o.shape.fill,
        "duration_seconds": o.shape.duration.as_secs_f64(),
        "slice_seconds": o.shape.slice.as_secs_f64(),
        "client_threads": o.client_threads,
        "server_workers": o.server_workers(),
        "opening_percent": o.opening_percent,
        "paced": match o.paced {
            crate::PacedRate::Off => json!(null),
            crate::PacedRate::OfTrivial(f) => json!({ "fraction_of_trivial": f }),
            crate::PacedRate::PerSecond(r) => json!({ "requests_per_second": r }),
        },
        "seed": o.seed,
    })
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

fn title(run: &Value) -> String {
    let backend = match run["backend"].as_str() {
        Some("postgres") => "PostgreSQL",
        Some("sqlite") => "SQLite",
        _ => "?",
    };
    format!(
        "{backend}, {} ({} citizens, {} usage-log rows)",
        run["size"].as_str().unwrap_or("?"),
        run["citizens"],
        run["usage_log_rows"]
    )
}

pub fn print_run(run: &Run) {
    let v = &run.0;
    let load = &v["load"];
    let total = load["total_seconds"].as_f64().unwrap_or(0.0);
    let loaded = match (load["reused"].as_bool() == Some(true), total > 0.0) {
        (true, true) => format!("database reused (its load took {total:.1} s)"),
        (true, false) => "database reused".to_owned(),
        (false, _) => format!("loaded in {total:.1} s"),
    };
    let size = v["database_bytes"].as_u64().map_or_else(String::new, |b| {
        format!(", {:.2} GiB", b as f64 / 1024.0 / 1024.0 / 1024.0)
    });
    println!();
    println!("== {} — {loaded}{size}", title(v));
    let steps: Vec<String> = load["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            format!(
                "{} {:.1} s",
                s["step"].as_str().unwrap_or("?"),
                s["seconds"].as_f64().unwrap_or(0.0)
            )
        })
        .collect();
    if !steps.is_empty() {
        println!("load steps: {}", steps.join(", "));
    }
    println!(
        "{:<21} {:>10} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7} {:>8} {:>8} {:>6}",
        "endpoint",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "ratio",
        "errors",
        "srv us",
        "pg us",
        "other"
    );
    for e in v["endpoints"].as_array().into_iter().flatten() {
        println!(
            "{:<21} {:>10.1} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>7} {:>7} {:>8.0} {:>8.0} {:>6.2}",
            e["endpoint"].as_str().unwrap_or("?"),
            e["requests_per_second"].as_f64().unwrap_or(0.0),
            e["p50_ms"].as_f64().unwrap_or(0.0),
            e["p90_ms"].as_f64().unwrap_or(0.0),
            e["p99_ms"].as_f64().unwrap_or(0.0),
            e["max_ms"].as_f64().unwrap_or(0.0),
            e["throughput_ratio_to_trivial"]
                .as_f64()
                .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}")),
            e["errors"],
            e["server_cpu_us_per_request"].as_f64().unwrap_or(0.0),
            e["postgres_cpu_us_per_request"].as_f64().unwrap_or(0.0),
            e["cpu_cores"]["other"].as_f64().unwrap_or(0.0),
        );
    }
    println!(
        "(ratio: req/s over the trivial endpoint's, as measured in the slices between this \
         endpoint's when --slice is on; srv us / pg us: CPU time per request of the \
         server / of all postgres processes; other: cores busy with anything else)"
    );
    print_paced(v);
    for e in v["endpoints"].as_array().into_iter().flatten() {
        if let Some(err) = e["first_error"].as_str() {
            println!(
                "  first error of {}: {err}",
                e["endpoint"].as_str().unwrap_or("?")
            );
        }
    }
    let mut scans_header = false;
    for e in v["endpoints"].as_array().into_iter().flatten() {
        let Some(scans) = e["postgres_per_request"]["scans"].as_object() else {
            continue;
        };
        if !scans_header {
            println!("PostgreSQL scans per request (index scans; sequential scans marked seq):");
            scans_header = true;
        }
        let mut t: Vec<(&String, f64, f64)> = scans
            .iter()
            .map(|(k, x)| {
                (
                    k,
                    x["seq"].as_f64().unwrap_or(0.0),
                    x["idx"].as_f64().unwrap_or(0.0),
                )
            })
            .filter(|(_, s, i)| *s >= 0.005 || *i >= 0.005)
            .collect();
        t.sort_by(|a, b| (b.2 + b.1).total_cmp(&(a.2 + a.1)));
        let total: f64 = t.iter().map(|(_, s, i)| s + i).sum();
        let shown: Vec<String> = t
            .iter()
            .map(|(k, s, i)| {
                if *s >= 0.005 {
                    format!("{k} {i:.2} + seq {s:.2}")
                } else {
                    format!("{k} {i:.2}")
                }
            })
            .collect();
        if shown.is_empty() {
            println!("  {:<20} none", e["endpoint"].as_str().unwrap_or("?"));
        } else {
            println!(
                "  {:<20} {total:.1} in all: {}",
                e["endpoint"].as_str().unwrap_or("?"),
                shown.join(", ")
            );
        }
    }
    println!("answers seen during the warm-ups:");
    for e in v["endpoints"].as_array().into_iter().flatten() {
        let Some(answers) = e["warmup_answers"].as_object() else {
            continue;
        };
        let total: u64 = answers.values().filter_map(Value::as_u64).sum();
        if total == 0 || e["endpoint"] == "decision mix" {
            continue;
        }
        let mut kinds: Vec<(&String, u64)> = answers
            .iter()
            .map(|(k, n)| (k, n.as_u64().unwrap_or(0)))
            .collect();
        kinds.sort_by_key(|k| std::cmp::Reverse(k.1));
        let shown: Vec<String> = kinds
            .iter()
            .map(|(k, n)| {
                let k = k.split_once(": ").map_or(k.as_str(), |(_, r)| r);
                format!("{k} {:.1}%", 100.0 * *n as f64 / total as f64)
            })
            .collect();
        println!(
            "  {:<20} {}",
            e["endpoint"].as_str().unwrap_or("?"),
            shown.join(", ")
        );
    }
}

/// The paced parts of a run's endpoints, when it had them.
fn print_paced(v: &Value) {
    let paced: Vec<(&str, &Value)> = v["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["paced"].is_object())
        .map(|e| (e["endpoint"].as_str().unwrap_or("?"), &e["paced"]))
        .collect();
    let Some((_, first)) = paced.first() else {
        return;
    };
    println!(
        "at a fixed rate of {:.0} requests/s (open loop, --duration each):",
        first["rate_asked"].as_f64().unwrap_or(0.0)
    );
    println!(
        "{:<21} {:>10} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8} {:>8} {:>7} {:>8} {:>6}",
        "endpoint",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "errors",
        "srv us",
        "pg us",
        "late ms",
        "pacer ms",
        "other"
    );
    for (name, p) in &paced {
        println!(
            "{:<21} {:>10.1} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>7} {:>8.0} {:>8.0} {:>7.2} {:>8.2} {:>6.2}{}",
            name,
            p["requests_per_second"].as_f64().unwrap_or(0.0),
            p["p50_ms"].as_f64().unwrap_or(0.0),
            p["p90_ms"].as_f64().unwrap_or(0.0),
            p["p99_ms"].as_f64().unwrap_or(0.0),
            p["max_ms"].as_f64().unwrap_or(0.0),
            p["errors"],
            p["server_cpu_us_per_request"].as_f64().unwrap_or(0.0),
            p["postgres_cpu_us_per_request"].as_f64().unwrap_or(0.0),
            p["left_late_p99_ms"].as_f64().unwrap_or(0.0),
            p["pacer_late_p99_ms"].as_f64().unwrap_or(0.0),
            p["cpu_cores"]["other"].as_f64().unwrap_or(0.0),
            if p["carried"] == false {
                "  NOT CARRIED"
            } else {
                ""
            },
        );
    }
    println!(
        "(latencies from each request's due time; late ms: how long after it a request left, at \
         p99; pacer ms: the pacer's own delay at p99 (sleep overshoot, waiting for a core); late \
         ms well above it means every one of the {} workers was waiting for an answer)",
        first["workers"]
    );
    for (name, p) in &paced {
        if let Some(err) = p["first_error"].as_str() {
            println!("  first error of {name} (paced): {err}");
        }
    }
}

/// Replaces the runs of the same (backend, size) in `path`, keeps the others, writes it back
/// and returns every run it now holds.
pub fn merge_and_write(
    path: &Path,
    runs: &[Run],
    o: &Options,
    machine: &Machine,
) -> Result<Vec<Value>> {
    let old: Value = std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let key = |r: &Value| (r["backend"].to_string(), r["size"].to_string());
    let fresh: Vec<Value> = runs
        .iter()
        .map(|r| r.0.clone())
        .filter(|r| r["endpoints"].as_array().is_some_and(|a| !a.is_empty()))
        .collect();
    let mut all: Vec<Value> = old["runs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| !fresh.iter().any(|f| key(f) == key(r)))
        .collect();
    all.extend(fresh);
    all.sort_by_key(|r| {
        (
            r["backend"].to_string(),
            r["citizens"].as_u64().unwrap_or(0),
        )
    });
    let doc = json!({
        "written_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "machine": {
            "cpus": machine.cpus,
            "cpu_model": machine.cpu_model,
            "memory_gib": round(machine.memory_gib, 1),
        },
        "settings_of_last_invocation": settings(o),
        "targets": {
            "min_throughput_ratio": MIN_RATIO,
            "max_p99_ms": MAX_P99_MS,
            "max_growth_p99_1m_over_10k": MAX_GROWTH,
        },
        "runs": all,
        "growth": growth(&all),
    });
    std::fs::write(path, serde_json::to_vec_pretty(&doc)?)
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("results written to {}", path.display());
    Ok(all)
}

fn endpoint<'a>(run: &'a Value, name: &str) -> Option<&'a Value> {
    run["endpoints"]
        .as_array()?
        .iter()
        .find(|e| e["endpoint"] == name)
}

/// p99 at the largest size over p99 at the smallest, per backend and endpoint.
fn growth(all: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for backend in ["sqlite", "postgres"] {
        let mut runs: Vec<&Value> = all.iter().filter(|r| r["backend"] == backend).collect();
        runs.sort_by_key(|r| r["citizens"].as_u64().unwrap_or(0));
        let (Some(small), Some(large)) = (runs.first(), runs.last()) else {
            continue;
        };
        if small["citizens"] == large["citizens"] {
            continue;
        }
        for e in Endpoint::ALL {
            let p = |r: &Value| endpoint(r, e.name()).and_then(|x| x["p99_ms"].as_f64());
            let paced =
                |r: &Value| endpoint(r, e.name()).and_then(|x| x["paced"]["p99_ms"].as_f64());
            // CPU time per request of the server and PostgreSQL: less disturbed by other work
            // on the machine than a percentile.
            let cpu = |r: &Value| {
                endpoint(r, e.name()).and_then(|x| {
                    Some(
                        x["server_cpu_us_per_request"].as_f64()?
                            + x["postgres_cpu_us_per_request"].as_f64().unwrap_or(0.0),
                    )
                })
            };
            if let (Some(a), Some(b)) = (p(small), p(large)) {
                let cpu_growth = match (cpu(small), cpu(large)) {
                    (Some(x), Some(y)) if x > 0.0 => Some(round(y / x, 3)),
                    _ => None,
                };
                out.push(json!({
                    "backend": backend,
                    "endpoint": e.name(),
                    "small": small["size"],
                    "large": large["size"],
                    "p99_small_ms": a,
                    "p99_large_ms": b,
                    "growth": if a > 0.0 { Some(round(b / a, 3)) } else { None },
                    "paced_p99_small_ms": paced(small),
                    "paced_p99_large_ms": paced(large),
                    "paced_growth": match (paced(small), paced(large)) {
                        (Some(x), Some(y)) if x > 0.0 => Some(round(y / x, 3)),
                        _ => None,
                    },
                    "cpu_us_small": cpu(small).map(|x| round(x, 1)),
                    "cpu_us_large": cpu(large).map(|x| round(x, 1)),
                    "cpu_growth": cpu_growth,
                }));
            }
        }
    }
    out
}

pub fn print_summary(all: &[Value]) {
    if all.is_empty() {
        return;
    }
    let growths = growth(all);
    println!();
    println!(
        "== Targets: throughput ratio decision/trivial >= {MIN_RATIO}, p99 < {MAX_P99_MS} ms, \
         p99(large)/p99(small) <= {MAX_GROWTH} (runs from the results file). p99 and growth \
         twice: with the run's concurrency in flight (closed loop: mostly queueing), and at the \
         paced rate (open loop, req/s in `at`); cpu gr.: growth of server + PostgreSQL CPU \
         time per request, for comparison"
    );
    println!(
        "{:<10} {:<5} {:>9} {:<21} {:>7} {:>9} {:>8} {:>8} {:>9} {:>8} {:>8}  verdict",
        "backend",
        "size",
        "in flight",
        "endpoint",
        "ratio",
        "p99 ms",
        "growth",
        "at",
        "p99 ms",
        "growth",
        "cpu gr."
    );
    for run in all {
        for e in run["endpoints"].as_array().into_iter().flatten() {
            let name = e["endpoint"].as_str().unwrap_or("?");
            if name == Endpoint::Trivial.name() || name == Endpoint::AuthOnly.name() {
                continue;
            }
            let ratio = e["throughput_ratio_to_trivial"].as_f64();
            let p99 = e["p99_ms"].as_f64();
            let found = growths.iter().find(|g| {
                g["backend"] == run["backend"] && g["endpoint"] == name && g["large"] == run["size"]
            });
            let g = found.and_then(|g| g["growth"].as_f64());
            let cpu_g = found.and_then(|g| g["cpu_growth"].as_f64());
            let paced = &e["paced"];
            let paced_p99 = paced["p99_ms"].as_f64();
            let paced_g = found.and_then(|g| g["paced_growth"].as_f64());
            let mut misses = Vec::new();
            if ratio.is_some_and(|r| r < MIN_RATIO) {
                misses.push("ratio");
            }
            if p99.is_some_and(|p| p >= MAX_P99_MS) {
                misses.push("p99");
            }
            if g.is_some_and(|g| g > MAX_GROWTH) {
                misses.push("growth");
            }
            if paced_p99.is_some_and(|p| p >= MAX_P99_MS) {
                misses.push("paced p99");
            }
            if paced_g.is_some_and(|g| g > MAX_GROWTH) {
                misses.push("paced growth");
            }
            if paced["carried"] == false {
                misses.push("paced rate not carried");
            }
            if e["errors"].as_u64().unwrap_or(0) + paced["errors"].as_u64().unwrap_or(0) > 0 {
                misses.push("errors");
            }
            let verdict = if misses.is_empty() {
                "met".to_owned()
            } else {
                format!("MISSED: {}", misses.join(", "))
            };
            let fixed = |x: Option<f64>, places: usize| {
                x.map_or_else(|| "-".to_owned(), |x| format!("{x:.places$}"))
            };
            println!(
                "{:<10} {:<5} {:>9} {:<21} {:>7} {:>9} {:>8} {:>8} {:>9} {:>8} {:>8}  {verdict}",
                run["backend"].as_str().unwrap_or("?"),
                run["size"].as_str().unwrap_or("?"),
                run["settings"]["concurrency"]
                    .as_u64()
                    .map_or_else(|| "?".to_owned(), |c| c.to_string()),
                name,
                fixed(ratio, 2),
                fixed(p99, 3),
                fixed(g, 2),
                fixed(paced["rate_asked"].as_f64(), 0),
                fixed(paced_p99, 3),
                fixed(paced_g, 2),
                fixed(cpu_g, 2),
            );
        }
    }
}

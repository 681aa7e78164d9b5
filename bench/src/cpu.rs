//! Where the machine's CPU went during a phase (Linux /proc): the server, this load generator,
//! the PostgreSQL processes, and everything else (other work on the machine, which disturbs the
//! figures). Times are in clock ticks of 1/100 s (USER_HZ on Linux).

use std::time::Instant;

const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    at: Instant,
    busy: u64,
    server: u64,
    bench: u64,
    postgres: u64,
}

/// Cores in use on average between two snapshots.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUse {
    pub server: f64,
    pub bench: f64,
    pub postgres: f64,
    /// Busy cores not accounted for above.
    pub other: f64,
}

fn machine_busy() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 8 {
        return None;
    }
    // user nice system idle iowait irq softirq steal
    Some(v.iter().sum::<u64>() - v[3] - v[4])
}

/// utime + stime of a process.
fn process_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn postgres_ticks() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .filter_map(|pid| process_ticks(&pid))
        .sum()
}

impl CpuUse {
    /// Scaled by `k` (cores times seconds gives core-seconds, and back).
    pub fn times(&self, k: f64) -> CpuUse {
        CpuUse {
            server: self.server * k,
            bench: self.bench * k,
            postgres: self.postgres * k,
            other: self.other * k,
        }
    }

    pub fn plus(&self, o: &CpuUse) -> CpuUse {
        CpuUse {
            server: self.server + o.server,
            bench: self.bench + o.bench,
            postgres: self.postgres + o.postgres,
            other: self.other + o.other,
        }
    }

    /// Core-seconds over `seconds`, as cores.
    pub fn per_second(&self, seconds: f64) -> CpuUse {
        if seconds > 0.0 {
            self.times(1.0 / seconds)
        } else {
            CpuUse::default()
        }
    }
}

impl Snapshot {
    pub fn take(server_pid: u32) -> Snapshot {
        Snapshot {
            at: Instant::now(),
            busy: machine_busy().unwrap_or(0),
            server: process_ticks(&server_pid.to_string()).unwrap_or(0),
            bench: process_ticks("self").unwrap_or(0),
            postgres: postgres_ticks(),
        }
    }

    /// Average cores used from `self` to `later`.
    pub fn until(&self, later: &Snapshot) -> CpuUse {
        let secs = later.at.duration_since(self.at).as_secs_f64();
        if secs <= 0.0 {
            return CpuUse::default();
        }
        let cores = |a: u64, b: u64| b.saturating_sub(a) as f64 / TICKS_PER_SECOND / secs;
        let server = cores(self.server, later.server);
        let bench = cores(self.bench, later.bench);
        let postgres = cores(self.postgres, later.postgres);
        let busy = cores(self.busy, later.busy);
        CpuUse {
            server,
            bench,
            postgres,
            other: (busy - server - bench - postgres).max(0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_of_different_lengths_average_by_time() {
        let busy = CpuUse {
            server: 1.0,
            bench: 0.5,
            postgres: 0.25,
            other: 0.0,
        };
        let idle = CpuUse::default();
        // 3 s at `busy`, then 1 s idle: three quarters of each.
        let total = busy.times(3.0).plus(&idle.times(1.0)).per_second(4.0);
        assert_eq!(total.server, 0.75);
        assert_eq!(total.bench, 0.375);
        assert_eq!(total.postgres, 0.1875);
        assert_eq!(CpuUse::default().per_second(0.0).server, 0.0);
    }
}

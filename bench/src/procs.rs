//! The processes the benchmark starts: the dev OIDC provider and the server. Each is held by a
//! guard that stops exactly that process (by its PID) when dropped, also on an error path.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{bail, Context, Result};

/// A child process that is stopped when the guard is dropped: SIGTERM first (the server then
/// finishes in-flight requests), SIGKILL after `grace`.
pub struct ChildGuard {
    name: &'static str,
    child: Option<Child>,
    grace: Duration,
    // Held so that a provider started with `--exit-with-stdin` also exits if we are killed.
    _stdin: Option<ChildStdin>,
}

impl ChildGuard {
    fn new(name: &'static str, mut child: Child, grace: Duration) -> ChildGuard {
        let stdin = child.stdin.take();
        ChildGuard {
            name,
            child: Some(child),
            grace,
            _stdin: stdin,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Fails when the process has already exited.
    pub fn check_running(&mut self) -> Result<()> {
        if let Some(child) = &mut self.child {
            if let Some(status) = child.try_wait()? {
                bail!("{} exited early ({status})", self.name);
            }
        }
        Ok(())
    }

    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        let pid = child.id().to_string();
        let _ = Command::new("kill")
            .args(["-TERM", &pid])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + self.grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The dev OIDC provider on a free port, issuing the service tokens.
pub struct Idp {
    pub issuer: String,
    pub guard: ChildGuard,
}

pub fn start_idp(root: &Path, portal_callback: &str) -> Result<Idp> {
    let dir = root.join("dev/idp");
    if !dir.join("node_modules").is_dir() {
        bail!("dev/idp/node_modules is missing: run scripts/idp-deps (scripts/bench does)");
    }
    let mut child = Command::new("node")
        .arg("server.js")
        .arg("--exit-with-stdin")
        .current_dir(&dir)
        .env("IDP_PORT", "0")
        .env("PORTAL_REDIRECT_URIS", portal_callback)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting node dev/idp/server.js")?;
    let stdout = child.stdout.take();
    let guard = ChildGuard::new("the dev OIDC provider", child, Duration::from_secs(3));
    let stdout = stdout.context("the provider's stdout")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .context("reading the provider's ready line")?;
    let issuer = line
        .trim()
        .strip_prefix("IDP_READY ")
        .with_context(|| format!("unexpected first line from dev/idp: {line:?}"))?
        .to_owned();
    Ok(Idp { issuer, guard })
}

pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// The server under measurement.
pub struct Server {
    pub base: String,
    pub log_path: PathBuf,
    pub guard: ChildGuard,
}

pub struct ServerConfig<'a> {
    pub bin: &'a Path,
    pub port: u16,
    pub database_url: &'a str,
    pub issuer: &'a str,
    pub log_path: PathBuf,
    pub work_dir: &'a Path,
    /// `HTTP_WORKERS` (0: the server's default).
    pub http_workers: usize,
    /// Extra variables from the bench's own environment (`BENCH_SERVER_*` names stripped).
    pub extra_env: Vec<(String, String)>,
}

/// Starts `consent-portal serve` with the product's defaults except what a loopback benchmark
/// needs (see docs/BENCHMARK.md), and waits until `/health/ready` answers.
pub async fn start_server(c: ServerConfig<'_>) -> Result<Server> {
    let base = format!("http://127.0.0.1:{}", c.port);
    let log = std::fs::File::create(&c.log_path)
        .with_context(|| format!("creating {}", c.log_path.display()))?;
    let child = Command::new(c.bin)
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", c.port.to_string())
        .env("PUBLIC_URL", &base)
        .env("DATABASE_URL", c.database_url)
        .env("OIDC_ISSUER", c.issuer)
        .env("SERVICE_TOKEN_ISSUERS", c.issuer)
        .env("ALLOW_SYNTHETIC_IDS", "true")
        .env("TERMS_VERSION", crate::population::TERMS_IN_FORCE)
        // The loaded data stays as loaded: no purge orders during the run.
        .env("PURGE_INTERVAL_SECONDS", "0")
        .env("HTTP_WORKERS", c.http_workers.to_string())
        .envs(c.extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(c.work_dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", c.bin.display()))?;
    let mut guard = ChildGuard::new("the server", child, Duration::from_secs(35));
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        guard
            .check_running()
            .with_context(|| format!("the server did not start (log: {})", c.log_path.display()))?;
        if let Ok(r) = client.get(format!("{base}/health/ready")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        if Instant::now() > deadline {
            bail!(
                "the server was not ready within 300 s (log: {})",
                c.log_path.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(Server {
        base,
        log_path: c.log_path,
        guard,
    })
}

/// A client-credentials access token with `consent:read` for `dev-service-reader`.
pub async fn service_token(issuer: &str) -> Result<String> {
    let client_id = "dev-service-reader";
    let res: serde_json::Value = reqwest::Client::new()
        .post(format!("{issuer}/token"))
        .basic_auth(client_id, Some(format!("{client_id}-secret")))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "consent:read"),
        ])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(res["access_token"]
        .as_str()
        .context("no access_token in the provider's answer")?
        .to_owned())
}

//! One server under test: its own port, database and log file.

use diesel::{Connection, PgConnection, RunQueryDsl};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::idp::Idp;
use crate::logscan;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    /// The admin URL of a PostgreSQL server where test databases can be created.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL when `TEST_DATABASE_URL` is set (scripts/test sets it when a server answers).
    /// Under `CI=true` a missing server is a failure, not a skip.
    pub fn postgres() -> Option<Backend> {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url)),
            _ => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "CI=true needs PostgreSQL: set TEST_DATABASE_URL (scripts/test does)"
                );
                eprintln!("PostgreSQL not configured (TEST_DATABASE_URL): skipping");
                None
            }
        }
    }
}

/// Runs an async test body against SQLite and, when available, PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await
                }
                #[tokio::test]
                async fn postgres() {
                    if let Some(backend) = $crate::Backend::postgres() {
                        super::$name(backend).await
                    }
                }
            }
        )*
    };
}

enum DbHandle {
    Sqlite,
    Postgres {
        admin_url: String,
        name: String,
    },
    /// Another app's database: that app removes it.
    Shared,
}

/// A logged-in citizen's session as a client holds it.
#[derive(Debug, Clone)]
pub struct Session {
    /// `name=value` for the Cookie header.
    pub cookie: String,
    /// The session id alone (for `Authorization: Bearer`).
    pub token: String,
    pub csrf: String,
    pub citizen_id: String,
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub idp: &'static Idp,
    pub log_path: PathBuf,
    pub database_url: String,
    child: Child,
    db: Option<DbHandle>,
    work_dir: PathBuf,
}

pub struct Builder {
    backend: Backend,
    env: HashMap<String, String>,
    shared_database: Option<String>,
}

impl Builder {
    /// Sets a configuration variable of the server (README.md's table).
    pub fn env(mut self, key: &str, value: &str) -> Builder {
        self.env.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Runs on `other`'s database, as a second instance of the same deployment. Drop it before
    /// `other` (declare it after `other`).
    pub fn sharing_database_of(mut self, other: &TestApp) -> Builder {
        self.shared_database = Some(other.database_url.clone());
        self
    }

    pub async fn spawn(self) -> TestApp {
        TestApp::start(self.backend, self.env, self.shared_database).await
    }
}

/// The test servers' key for webhook secrets at rest (32 bytes, base64; tests only).
const WEBHOOK_SECRET_KEY: &str = "dGVzdC1rZXktZm9yLXdlYmhvb2stc2VjcmV0cy0zMmI=";

fn binary() -> PathBuf {
    if let Ok(p) = std::env::var("PORTAL_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| crate::workspace_root().join("target"));
    target.join("debug/consent-portal")
}

/// A port no other server of this test process was given. The OS may hand a port released here
/// to the next caller before this test's server binds it, so two tests running at once could
/// get the same one (seen in CI: one server failed with "Address already in use" and its test
/// talked to the other test's server); ports already handed out are skipped.
fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

fn pg_database_url(admin_url: &str, name: &str) -> String {
    let mut url = url::Url::parse(admin_url).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

impl TestApp {
    pub fn builder(backend: Backend) -> Builder {
        Builder {
            backend,
            env: HashMap::new(),
            shared_database: None,
        }
    }

    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::builder(backend).spawn().await
    }

    async fn start(
        backend: Backend,
        overrides: HashMap<String, String>,
        shared_database: Option<String>,
    ) -> TestApp {
        let bin = binary();
        assert!(
            bin.exists(),
            "{} is missing: run `cargo build --workspace --bins` (./scripts/test does)",
            bin.display()
        );
        let idp = Idp::shared();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let work_dir = crate::workspace_root().join("target/test-runs").join(&id);
        std::fs::create_dir_all(&work_dir).expect("work dir");
        let (database_url, db) = match (&backend, shared_database) {
            (_, Some(url)) => (url, DbHandle::Shared),
            (Backend::Sqlite, None) => {
                let path = work_dir.join("portal.db");
                (path.display().to_string(), DbHandle::Sqlite)
            }
            (Backend::Postgres(admin_url), None) => {
                let name = format!("portal_test_{id}");
                let mut conn = PgConnection::establish(admin_url).expect("PostgreSQL answers");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("create test database");
                (
                    pg_database_url(admin_url, &name),
                    DbHandle::Postgres {
                        admin_url: admin_url.clone(),
                        name,
                    },
                )
            }
        };
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let (client_id, client_secret) =
            idp.register_client(&format!("{base}/auth/callback")).await;
        // Every test server seals webhook secrets with the same key, so instances sharing a
        // database open each other's (a test unsets it with an empty value).
        let key_path = work_dir.join("webhook-secret.key");
        std::fs::write(&key_path, WEBHOOK_SECRET_KEY).expect("key file");
        let log_path = work_dir.join("server.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let mut env: HashMap<String, String> = [
            ("PORT", port.to_string()),
            ("PUBLIC_URL", base.clone()),
            ("DATABASE_URL", database_url.clone()),
            ("DATABASE_MAX_CONNECTIONS", "4".to_owned()),
            ("OIDC_ISSUER", idp.issuer.clone()),
            ("OIDC_CLIENT_ID", client_id),
            ("OIDC_CLIENT_SECRET", client_secret),
            ("SERVICE_TOKEN_ISSUERS", idp.issuer.clone()),
            ("DEV_MODE", "true".to_owned()),
            ("ALLOW_SYNTHETIC_IDS", "true".to_owned()),
            (
                "REGISTER_EXTRACT",
                crate::workspace_root()
                    .join("dev/idp/persons.json")
                    .display()
                    .to_string(),
            ),
            ("POST_LOGIN_REDIRECT", "/api/v1/me".to_owned()),
            ("WEBHOOK_SECRET_KEY_FILE", key_path.display().to_string()),
            (
                "RUST_LOG",
                "debug,actix_server=info,h2=info,hyper=info,reqwest=info,rustls=info".to_owned(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(overrides);
        let child = Command::new(&bin)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&env)
            .current_dir(&work_dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("the server binary starts");
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let mut app = TestApp {
            base,
            client,
            idp,
            log_path,
            database_url,
            child,
            db: Some(db),
            work_dir,
        };
        app.wait_ready().await;
        app
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the server exited with {status} before it was ready:\n{}",
                    self.log()
                );
            }
            // Ready when this child says it listens on its own port (not merely when something
            // answers there) and its database is ready.
            let listening = format!("LISTENING {}", self.base);
            if self.log().lines().any(|l| l == listening) {
                if let Ok(res) = self.client.get(self.url("/health/ready")).send().await {
                    if res.status() == StatusCode::OK {
                        return;
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "the server was not ready in 30 s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    // ------------------------------------------------------------------ logging in

    /// Starts a login at the server; returns (authorize URL, login-binding cookie `name=value`).
    pub async fn start_login(&self, pid: &str, acr: Option<&str>) -> (String, String) {
        let mut url = url::Url::parse(&self.url("/auth/login")).expect("url");
        url.query_pairs_mut().append_pair("login_hint", pid);
        if let Some(acr) = acr {
            url.query_pairs_mut().append_pair("acr_values", acr);
        }
        let res = self.client.get(url).send().await.expect("login starts");
        assert_eq!(res.status(), StatusCode::FOUND, "GET /auth/login");
        let location = header(&res, "location").expect("redirect to the provider");
        let cookie = set_cookie(&res, "portal-login").expect("login-binding cookie");
        (location, cookie)
    }

    /// The provider's redirect back to this server for `authorize_url`.
    pub async fn authorize(&self, authorize_url: &str) -> String {
        self.idp
            .follow_to_callback(authorize_url, &self.url("/auth/callback"))
            .await
    }

    /// Delivers a callback URL with the given login-binding cookie.
    pub async fn callback(&self, callback_url: &str, login_cookie: Option<&str>) -> Response {
        let mut req = self.client.get(callback_url);
        if let Some(c) = login_cookie {
            req = req.header("cookie", c);
        }
        req.send().await.expect("callback answers")
    }

    /// Logs `pid` in at `idporten-loa-high`.
    pub async fn login(&self, pid: &str) -> Session {
        self.login_at(pid, None).await
    }

    /// Logs `pid` in, asking for `acr` (the server's default when `None`).
    pub async fn login_at(&self, pid: &str, acr: Option<&str>) -> Session {
        let (authorize_url, login_cookie) = self.start_login(pid, acr).await;
        let callback = self.authorize(&authorize_url).await;
        let res = self.callback(&callback, Some(&login_cookie)).await;
        assert_eq!(
            res.status(),
            StatusCode::SEE_OTHER,
            "callback: {:?}",
            res.text().await
        );
        let cookie = set_cookie(&res, "portal-session").expect("session cookie");
        let token = cookie
            .split_once('=')
            .map(|(_, v)| v.to_owned())
            .unwrap_or_default();
        let me: Value = self
            .client
            .get(self.url("/api/v1/me"))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("me")
            .json()
            .await
            .expect("me JSON");
        Session {
            cookie,
            token,
            csrf: me["session"]["csrf_token"]
                .as_str()
                .expect("csrf")
                .to_owned(),
            citizen_id: me["citizen_id"].as_str().expect("citizen id").to_owned(),
        }
    }

    // ------------------------------------------------------------------ requests

    /// A request with the session cookie (and, for state-changing methods, the CSRF header).
    pub fn as_citizen(&self, s: &Session, method: Method, path: &str) -> RequestBuilder {
        let changing = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
        let mut req = self
            .client
            .request(method, self.url(path))
            .header("cookie", &s.cookie);
        if changing {
            req = req.header("x-csrf-token", &s.csrf);
        }
        req
    }

    pub async fn get_json(&self, s: &Session, path: &str) -> (StatusCode, Value) {
        send_json(self.as_citizen(s, Method::GET, path)).await
    }

    pub async fn send_json(
        &self,
        s: &Session,
        method: Method,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        send_json(self.as_citizen(s, method, path).json(&body)).await
    }

    /// Accepts the terms in force at `level`.
    pub async fn accept_terms(&self, s: &Session, level: &str) -> Value {
        let (_, terms) = self.get_json(s, "/api/v1/terms").await;
        let version = terms["consent"]["terms_in_force"]
            .as_str()
            .expect("version")
            .to_owned();
        let (status, body) = self
            .send_json(
                s,
                Method::POST,
                "/api/v1/terms/acceptance",
                serde_json::json!({ "terms_version": version, "level": level }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// The citizen's whole usage log, newest first.
    pub async fn usage_log(&self, s: &Session) -> Vec<Value> {
        let mut out = Vec::new();
        let mut path = "/api/v1/usage-log?limit=100".to_owned();
        loop {
            let (status, page) = self.get_json(s, &path).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            out.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/api/v1/usage-log?limit=100&cursor={c}"),
                None => return out,
            }
        }
    }

    /// The whole change feed from its start, as `dev-service-feed` reads it: (type, subject_id) of
    /// every event, in order. Fails if an event carries an identity number.
    pub async fn feed_events(&self) -> Vec<(String, String)> {
        let token = self
            .idp
            .service_token("dev-service-feed", "feed:read")
            .await;
        let mut out = Vec::new();
        let mut path = "/api/v1/feed?limit=500".to_owned();
        loop {
            let (status, body) = send_json(self.as_service(&token, Method::GET, &path)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let events = body["events"].as_array().cloned().unwrap_or_default();
            if events.is_empty() {
                return out;
            }
            let text = body.to_string();
            assert!(
                logscan::lines_with_identity_numbers(&text).is_empty(),
                "an identity number in the feed: {text}"
            );
            out.extend(events.iter().map(|e| {
                (
                    e["type"].as_str().expect("type").to_owned(),
                    e["subject_id"].as_str().expect("subject_id").to_owned(),
                )
            }));
            let cursor = body["next_cursor"].as_str().expect("cursor");
            path = format!("/api/v1/feed?limit=500&cursor={cursor}");
        }
    }

    /// A machine request with a bearer token.
    pub fn as_service(&self, token: &str, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("authorization", format!("Bearer {token}"))
    }

    /// Sets the server's clock to `now` (RFC 3339; dev mode).
    pub async fn set_clock(&self, now: &str) {
        let res = self
            .client
            .put(self.url("/dev/clock"))
            .json(&serde_json::json!({ "now": now }))
            .send()
            .await
            .expect("dev clock");
        assert_eq!(res.status(), StatusCode::OK, "PUT /dev/clock {now}");
    }

    /// The server's "now" (dev mode).
    pub async fn server_now(&self) -> chrono::DateTime<chrono::Utc> {
        let body: Value = self
            .client
            .get(self.url("/dev/clock"))
            .send()
            .await
            .expect("dev clock")
            .json()
            .await
            .expect("clock JSON");
        crate::instant(&body["now"])
    }

    /// Moves the server's clock (dev mode).
    pub async fn advance_clock(&self, seconds: i64) {
        let res = self
            .client
            .post(self.url("/dev/clock/advance"))
            .json(&serde_json::json!({ "seconds": seconds }))
            .send()
            .await
            .expect("dev clock");
        assert_eq!(res.status(), StatusCode::OK);
    }

    /// Runs the server binary with another subcommand against this app's database.
    pub fn run_command(&self, command: &str) -> std::process::Output {
        Command::new(binary())
            .arg(command)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &self.database_url)
            .env("RUST_LOG", "info")
            .current_dir(&self.work_dir)
            .output()
            .expect("the binary runs")
    }

    /// Runs the server binary with `args` (a subcommand and its arguments, e.g.
    /// `["import-register", path]`) against this app's database, allowing synthetic identity
    /// numbers as the server under test does.
    pub fn run_command_with(&self, args: &[&str]) -> std::process::Output {
        Command::new(binary())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &self.database_url)
            .env("ALLOW_SYNTHETIC_IDS", "true")
            .env("RUST_LOG", "info")
            .current_dir(&self.work_dir)
            .output()
            .expect("the binary runs")
    }

    /// Runs SQL against this app's database (to play the attacker who edits rows).
    pub fn execute_sql(&self, sql: &str) -> usize {
        if self.database_url.starts_with("postgres") {
            let mut c = PgConnection::establish(&self.database_url).expect("pg");
            diesel::sql_query(sql).execute(&mut c).expect("sql")
        } else {
            let mut c = diesel::SqliteConnection::establish(&self.database_url).expect("sqlite");
            diesel::sql_query(sql).execute(&mut c).expect("sql")
        }
    }
}

pub async fn send_json(req: RequestBuilder) -> (StatusCode, Value) {
    let res = req.send().await.expect("the server answers");
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

pub fn header(res: &Response, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The `name=value` of the cookie whose name ends with `suffix`, from the Set-Cookie headers.
pub fn set_cookie(res: &Response, suffix: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|kv| {
            kv.split_once('=')
                .is_some_and(|(k, v)| k.ends_with(suffix) && !v.is_empty())
        })
        .map(str::to_owned)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let leaked = logscan::lines_with_identity_numbers(&self.log());
        match self.db.take() {
            Some(DbHandle::Postgres { admin_url, name }) => {
                if let Ok(mut c) = PgConnection::establish(&admin_url) {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut c);
                }
            }
            Some(DbHandle::Sqlite | DbHandle::Shared) | None => {}
        }
        if !std::thread::panicking() {
            assert!(
                leaked.is_empty(),
                "the server logged what looks like identity numbers ({}):\n{}",
                self.log_path.display(),
                leaked.join("\n")
            );
            // Keep the work dir (log, database) only when a test failed.
            let _ = std::fs::remove_dir_all(&self.work_dir);
        }
    }
}

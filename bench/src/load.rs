//! Writing the synthetic population into a migrated database, and finding it again.
//!
//! PostgreSQL: `COPY ... FROM STDIN` in binary format (diesel's `copy_from`), with foreign-key
//! triggers off for the loading session (`session_replication_role = replica`: the rows are
//! consistent by construction) and asynchronous commit; then `VACUUM (ANALYZE)`, as autovacuum
//! would do after a bulk load. SQLite: multi-row INSERTs in one transaction per table with the
//! journal off during the load, then back to WAL.
//!
//! Rows keyed by citizen id are written in id order so that index inserts append. The usage
//! log's hash chains are linked (each `prev_hash` is the previous row's `hash`) but the hashes
//! are random, not computed over the entries: `consent-portal verify-log` reports them broken.
//!
//! A complete load leaves a marker (PostgreSQL: the database's comment; SQLite: a file beside the
//! database) naming the format, size, seed and reference time; a later run with the same size
//! and seed reuses the database.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
use persistence::schema;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::error::{bail, Context, Result};
use crate::population::{self, Population, Spec};

/// Bumped whenever the generated data changes, so old databases are rebuilt.
const FORMAT: u32 = 1;
const LOG_CHUNK: usize = 100_000;
const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// Where one (backend, size) lives.
#[derive(Debug, Clone)]
pub struct Target {
    pub backend: Backend,
    pub size_label: String,
    /// What the server gets as DATABASE_URL.
    pub database_url: String,
    pg: Option<(String, String)>,
    sqlite: Option<PathBuf>,
}

impl Target {
    pub fn sqlite(dir: &Path, size_label: &str) -> Target {
        let path = dir.join(format!("sqlite-{size_label}.db"));
        Target {
            backend: Backend::Sqlite,
            size_label: size_label.to_owned(),
            database_url: path.display().to_string(),
            pg: None,
            sqlite: Some(path),
        }
    }

    pub fn postgres(admin_url: &str, size_label: &str) -> Result<Target> {
        let name = format!("consent_bench_{}", size_label.to_ascii_lowercase());
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            bail!("size label {size_label:?} makes no database name");
        }
        let mut url = url::Url::parse(admin_url).context("the PostgreSQL admin URL")?;
        url.set_path(&format!("/{name}"));
        Ok(Target {
            backend: Backend::Postgres,
            size_label: size_label.to_owned(),
            database_url: url.to_string(),
            pg: Some((admin_url.to_owned(), name)),
            sqlite: None,
        })
    }

    pub fn database_name(&self) -> String {
        match (&self.pg, &self.sqlite) {
            (Some((_, name)), _) => name.clone(),
            (_, Some(path)) => path.display().to_string(),
            _ => String::new(),
        }
    }

    fn marker_path(&self) -> Option<PathBuf> {
        self.sqlite.as_ref().map(|p| p.with_extension("marker"))
    }

    fn read_marker(&self) -> Result<Option<String>> {
        if let Some(path) = self.marker_path() {
            let db_exists = self.sqlite.as_ref().is_some_and(|p| p.exists());
            return Ok(match std::fs::read_to_string(&path) {
                Ok(s) if db_exists => Some(s.trim().to_owned()),
                _ => None,
            });
        }
        let Some((admin, name)) = &self.pg else {
            return Ok(None);
        };
        #[derive(QueryableByName)]
        struct Comment {
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            comment: Option<String>,
        }
        let mut conn = PgConnection::establish(admin).context("connecting to PostgreSQL")?;
        let rows: Vec<Comment> = diesel::sql_query(
            "SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1",
        )
        .bind::<diesel::sql_types::Text, _>(name)
        .load(&mut conn)?;
        Ok(rows.into_iter().next().and_then(|c| c.comment))
    }

    fn write_marker(&self, marker: &str) -> Result<()> {
        if let Some(path) = self.marker_path() {
            std::fs::write(&path, format!("{marker}\n"))?;
            return Ok(());
        }
        if let Some((admin, name)) = &self.pg {
            let mut conn = PgConnection::establish(admin)?;
            let quoted = marker.replace('\'', "''");
            diesel::sql_query(format!("COMMENT ON DATABASE {name} IS '{quoted}'"))
                .execute(&mut conn)?;
        }
        Ok(())
    }

    /// Removes the old database (and marker) and creates an empty one.
    fn recreate(&self) -> Result<()> {
        if let Some(path) = &self.sqlite {
            if let Some(m) = self.marker_path() {
                let _ = std::fs::remove_file(m);
            }
            for suffix in ["", "-wal", "-shm"] {
                let p = PathBuf::from(format!("{}{suffix}", path.display()));
                if p.exists() {
                    std::fs::remove_file(&p)
                        .with_context(|| format!("removing {}", p.display()))?;
                }
            }
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
        }
        if let Some((admin, name)) = &self.pg {
            let mut conn = PgConnection::establish(admin).context("connecting to PostgreSQL")?;
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)?;
            diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn)?;
        }
        Ok(())
    }

    /// The database's size on disk, in bytes.
    pub fn size_bytes(&self) -> Option<u64> {
        if let Some(path) = &self.sqlite {
            let wal = PathBuf::from(format!("{}-wal", path.display()));
            let main = std::fs::metadata(path).ok()?.len();
            return Some(main + std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0));
        }
        let (admin, name) = self.pg.as_ref()?;
        #[derive(QueryableByName)]
        struct Size {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            size: i64,
        }
        let mut conn = PgConnection::establish(admin).ok()?;
        let rows: Vec<Size> = diesel::sql_query("SELECT pg_database_size($1) AS size")
            .bind::<diesel::sql_types::Text, _>(name)
            .load(&mut conn)
            .ok()?;
        rows.first().and_then(|s| u64::try_from(s.size).ok())
    }
}

fn marker_of(spec: &Spec) -> String {
    format!(
        "consent-bench format={FORMAT} citizens={} log_rows={} seed={} now={}",
        spec.citizens,
        spec.log_rows,
        spec.seed,
        spec.now.and_utc().timestamp()
    )
}

/// The reference time of a marker that matches `citizens`, `log_rows` and `seed`.
fn matching_marker(marker: &str, citizens: usize, log_rows: u64, seed: u64) -> Option<i64> {
    let mut fields = std::collections::HashMap::new();
    let mut words = marker.split_whitespace();
    if words.next() != Some("consent-bench") {
        return None;
    }
    for w in words {
        let (k, v) = w.split_once('=')?;
        fields.insert(k, v);
    }
    let same = fields.get("format") == Some(&FORMAT.to_string().as_str())
        && fields.get("citizens") == Some(&citizens.to_string().as_str())
        && fields.get("log_rows") == Some(&log_rows.to_string().as_str())
        && fields.get("seed") == Some(&seed.to_string().as_str());
    if !same {
        return None;
    }
    fields.get("now")?.parse().ok()
}

/// How a database came to be ready.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub reused: bool,
    pub spec: Spec,
    /// (step, rows, seconds)
    pub steps: Vec<(String, u64, f64)>,
    pub total_seconds: f64,
}

/// Makes sure `target` holds the population of (`citizens`, `log_rows`, `seed`): reuses it when
/// its marker matches (and `reload` is false), else rebuilds it.
pub fn ensure_loaded(
    target: &Target,
    citizens: usize,
    log_rows: u64,
    seed: u64,
    reload: bool,
    server_bin: &Path,
    report_dir: &Path,
) -> Result<LoadReport> {
    if !reload {
        if let Some(marker) = target.read_marker()? {
            if let Some(ts) = matching_marker(&marker, citizens, log_rows, seed) {
                let now = DateTime::<Utc>::from_timestamp(ts, 0)
                    .context("the marker's time")?
                    .naive_utc();
                let mut report = LoadReport {
                    reused: true,
                    spec: Spec {
                        citizens,
                        log_rows,
                        seed,
                        now,
                    },
                    steps: Vec::new(),
                    total_seconds: 0.0,
                };
                // The figures of the load that made it, when this machine kept them.
                if let Some((steps, total)) =
                    read_load_times(&report_path(target, report_dir), &marker)
                {
                    report.steps = steps;
                    report.total_seconds = total;
                }
                return Ok(report);
            }
        }
    }
    let started = Instant::now();
    let now = Utc::now().naive_utc();
    let now = DateTime::<Utc>::from_timestamp(now.and_utc().timestamp(), 0)
        .context("now")?
        .naive_utc();
    let spec = Spec {
        citizens,
        log_rows,
        seed,
        now,
    };
    let mut steps = Vec::new();
    let mut step = |name: &str, rows: u64, t: Instant| {
        let secs = t.elapsed().as_secs_f64();
        eprintln!("  {name:<28} {rows:>11} rows {secs:>8.1} s");
        steps.push((name.to_owned(), rows, secs));
    };

    eprintln!(
        "loading {} {} ({} citizens, {} usage-log rows) into {}",
        target.backend.title(),
        target.size_label,
        citizens,
        log_rows,
        target.database_name()
    );
    let t = Instant::now();
    target.recreate()?;
    migrate(target, server_bin)?;
    step("create + migrate", 0, t);

    let t = Instant::now();
    let pop = population::generate(&spec)?;
    if pop.log_rows() != log_rows {
        bail!(
            "generated {} usage-log rows, not {log_rows}",
            pop.log_rows()
        );
    }
    step("generate population", pop.persons.len() as u64, t);

    let mut conn = Conn::open(target)?;
    write_tables(&mut conn, &pop, &spec, &mut step)?;
    let t = Instant::now();
    let log_rows = write_usage_log(&mut conn, target, &pop, &spec)?;
    step("usage_log", log_rows, t);
    let t = Instant::now();
    conn.finish()?;
    step(
        match target.backend {
            Backend::Postgres => "vacuum analyze",
            Backend::Sqlite => "checkpoint (WAL)",
        },
        0,
        t,
    );
    drop(conn);
    let report = LoadReport {
        reused: false,
        spec,
        steps,
        total_seconds: started.elapsed().as_secs_f64(),
    };
    write_load_times(&report_path(target, report_dir), &report)?;
    target.write_marker(&marker_of(&spec))?;
    Ok(report)
}

/// Where the figures of a target's last load are kept (target/bench/load-<backend>-<size>.json).
fn report_path(target: &Target, dir: &Path) -> PathBuf {
    dir.join(format!(
        "load-{}-{}.json",
        target.backend.name(),
        target.size_label
    ))
}

fn write_load_times(path: &Path, r: &LoadReport) -> Result<()> {
    let doc = serde_json::json!({
        "marker": marker_of(&r.spec),
        "total_seconds": r.total_seconds,
        "steps": r.steps.iter().map(|(name, rows, secs)| serde_json::json!({
            "step": name, "rows": rows, "seconds": secs
        })).collect::<Vec<_>>(),
    });
    std::fs::write(path, serde_json::to_vec_pretty(&doc)?)?;
    Ok(())
}

type LoadTimes = (Vec<(String, u64, f64)>, f64);

/// The figures in `path` if they belong to the load that left `marker`.
fn read_load_times(path: &Path, marker: &str) -> Option<LoadTimes> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    if v["marker"].as_str() != Some(marker) {
        return None;
    }
    let steps = v["steps"]
        .as_array()?
        .iter()
        .filter_map(|s| {
            Some((
                s["step"].as_str()?.to_owned(),
                s["rows"].as_u64()?,
                s["seconds"].as_f64()?,
            ))
        })
        .collect();
    Some((steps, v["total_seconds"].as_f64()?))
}

fn migrate(target: &Target, server_bin: &Path) -> Result<()> {
    let out = Command::new(server_bin)
        .arg("migrate")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &target.database_url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {} migrate", server_bin.display()))?;
    if !out.status.success() {
        bail!(
            "{} migrate failed: {}{}",
            server_bin.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

enum Conn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

impl Conn {
    fn open(target: &Target) -> Result<Conn> {
        match target.backend {
            Backend::Postgres => {
                let mut c = PgConnection::establish(&target.database_url)?;
                c.batch_execute(
                    "SET session_replication_role = replica; SET synchronous_commit = off; \
                     SET maintenance_work_mem = '512MB';",
                )?;
                Ok(Conn::Pg(c))
            }
            Backend::Sqlite => {
                let mut c = SqliteConnection::establish(&target.database_url)?;
                c.batch_execute(
                    "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; \
                     PRAGMA cache_size = -1048576; PRAGMA temp_store = MEMORY; \
                     PRAGMA foreign_keys = OFF;",
                )?;
                Ok(Conn::Sqlite(c))
            }
        }
    }

    fn begin(&mut self) -> Result<()> {
        if let Conn::Sqlite(c) = self {
            c.batch_execute("BEGIN")?;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        if let Conn::Sqlite(c) = self {
            c.batch_execute("COMMIT")?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        match self {
            Conn::Pg(c) => c.batch_execute("VACUUM (ANALYZE)")?,
            Conn::Sqlite(c) => c.batch_execute("PRAGMA journal_mode = WAL;")?,
        }
        Ok(())
    }
}

/// Writes `rows` into `table`: one binary COPY on PostgreSQL, multi-row INSERTs of `per`
/// rows on SQLite (kept under SQLite's 32 766 bound parameters).
macro_rules! put {
    ($conn:expr, $table:expr, $rows:expr, $per:expr) => {{
        let rows = $rows;
        match $conn {
            Conn::Pg(c) => {
                if !rows.is_empty() {
                    diesel::copy_from($table)
                        .from_insertable(&rows)
                        .execute(c)?;
                }
            }
            Conn::Sqlite(c) => {
                for chunk in rows.chunks($per) {
                    diesel::insert_into($table).values(chunk).execute(c)?;
                }
            }
        }
        rows.len() as u64
    }};
}

#[derive(Insertable)]
#[diesel(table_name = schema::citizens, treat_none_as_default_value = false)]
struct CitizenRow<'a> {
    id: &'a str,
    national_id: &'a str,
    created_at: NaiveDateTime,
    last_login_at: Option<NaiveDateTime>,
    previous_login_at: Option<NaiveDateTime>,
    last_login_seq: Option<i64>,
    previous_login_seq: Option<i64>,
    terms_version: Option<&'a str>,
    consent_level: Option<&'a str>,
    consent_accepted_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = schema::register_persons, treat_none_as_default_value = false)]
struct PersonRow<'a> {
    national_id: &'a str,
    given_name: &'a str,
    family_name: &'a str,
    birth_date: NaiveDate,
    address_id: Option<&'a str>,
    protection: Option<&'a str>,
    deceased_on: Option<NaiveDate>,
    imported_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = schema::register_parents, treat_none_as_default_value = false)]
struct ParentRow<'a> {
    child_id: &'a str,
    parent_id: &'a str,
}

#[derive(Insertable)]
#[diesel(table_name = schema::terms_history, treat_none_as_default_value = false)]
struct TermsRow<'a> {
    citizen_id: &'a str,
    action: &'a str,
    terms_version: &'a str,
    level: Option<&'a str>,
    at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = schema::powers_of_attorney, treat_none_as_default_value = false)]
struct PoaRow<'a> {
    id: &'a str,
    grantor_id: &'a str,
    grantee_id: &'a str,
    all_areas: bool,
    areas: &'a str,
    created_at: NaiveDateTime,
    valid_until: Option<NaiveDateTime>,
    accepted_at: Option<NaiveDateTime>,
    ended_reason: Option<&'a str>,
    ended_at: Option<NaiveDateTime>,
    ended_by: Option<&'a str>,
}

#[derive(Insertable)]
#[diesel(table_name = schema::access_switches, treat_none_as_default_value = false)]
struct SwitchRow<'a> {
    citizen_id: &'a str,
    services_removed_at: Option<NaiveDateTime>,
    patient_record_removed_at: Option<NaiveDateTime>,
    summary_care_record_removed_at: Option<NaiveDateTime>,
    services_changed_at: Option<NaiveDateTime>,
    patient_record_changed_at: Option<NaiveDateTime>,
    summary_care_record_changed_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = schema::summary_care_records, treat_none_as_default_value = false)]
struct RecordRow<'a> {
    citizen_id: &'a str,
    state: &'a str,
    record_started_at: Option<NaiveDateTime>,
    opted_out_at: Option<NaiveDateTime>,
    purge_ordered_at: Option<NaiveDateTime>,
    updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = schema::summary_care_record_purges, treat_none_as_default_value = false)]
struct PurgeRow<'a> {
    citizen_id: &'a str,
    opted_out_at: NaiveDateTime,
    ordered_at: NaiveDateTime,
    ordered_by: &'a str,
}

#[derive(Insertable)]
#[diesel(table_name = schema::sharing_restrictions, treat_none_as_default_value = false)]
struct SharingRow<'a> {
    id: &'a str,
    citizen_id: &'a str,
    seq: i64,
    kind: &'a str,
    target_kind: &'a str,
    target: &'a str,
    created_at: NaiveDateTime,
    created_by: &'a str,
    lifted_at: Option<NaiveDateTime>,
    lifted_by: Option<&'a str>,
}

#[derive(Insertable)]
#[diesel(table_name = schema::child_restrictions, treat_none_as_default_value = false)]
struct ChildRestrictionRow<'a> {
    id: &'a str,
    child_id: &'a str,
    kind: &'a str,
    areas: Option<&'a str>,
    guardian_id: Option<&'a str>,
    basis: &'a str,
    author_hpr: &'a str,
    author_org_number: &'a str,
    author_org_name: &'a str,
    client_id: &'a str,
    registered_at: NaiveDateTime,
    lifted_at: Option<NaiveDateTime>,
    lift_basis: Option<&'a str>,
    lifted_by_hpr: Option<&'a str>,
    lifted_by_org_number: Option<&'a str>,
    lifted_by_org_name: Option<&'a str>,
}

#[derive(Insertable)]
#[diesel(table_name = schema::usage_log, treat_none_as_default_value = false)]
struct LogRow<'a> {
    subject_id: &'a str,
    seq: i64,
    at: NaiveDateTime,
    actor_kind: &'a str,
    actor_id: &'a str,
    action: &'a str,
    details: &'a str,
    prev_hash: String,
    hash: String,
}

fn write_tables(
    conn: &mut Conn,
    pop: &Population,
    spec: &Spec,
    step: &mut impl FnMut(&str, u64, Instant),
) -> Result<()> {
    let order = pop.by_id();
    let p = |i: u32| pop.person(i);

    let t = Instant::now();
    conn.begin()?;
    let rows: Vec<CitizenRow> = order
        .iter()
        .map(|&i| {
            let x = p(i);
            let login = (x.log_rows > 0).then(|| spec.now - Duration::hours(i64::from(i % 700)));
            CitizenRow {
                id: &x.id,
                national_id: &x.pid,
                created_at: x.created_at,
                last_login_at: login,
                previous_login_at: login.map(|t| t - Duration::days(9)),
                last_login_seq: login.map(|_| i64::from(x.log_rows)),
                previous_login_seq: login.and((x.log_rows > 1).then(|| i64::from(x.log_rows) - 1)),
                terms_version: x.consent.map(|c| c.0),
                consent_level: x.consent.map(|c| c.1),
                consent_accepted_at: x.consent.map(|_| x.created_at + Duration::minutes(3)),
            }
        })
        .collect();
    let n = put!(&mut *conn, schema::citizens::table, rows, 3000);
    conn.commit()?;
    step("citizens", n, t);

    let t = Instant::now();
    conn.begin()?;
    let rows: Vec<TermsRow> = order
        .iter()
        .filter_map(|&i| {
            let x = p(i);
            x.consent.map(|(version, level)| TermsRow {
                citizen_id: &x.id,
                action: "terms.accepted",
                terms_version: version,
                level: Some(level),
                at: x.created_at + Duration::minutes(3),
            })
        })
        .collect();
    let n = put!(&mut *conn, schema::terms_history::table, rows, 5000);
    conn.commit()?;
    step("terms_history", n, t);

    let t = Instant::now();
    conn.begin()?;
    let mut by_pid: Vec<u32> = order.clone();
    by_pid.sort_by(|a, b| p(*a).pid.cmp(&p(*b).pid));
    let rows: Vec<PersonRow> = by_pid
        .iter()
        .map(|&i| {
            let x = p(i);
            PersonRow {
                national_id: &x.pid,
                given_name: x.given,
                family_name: x.family,
                birth_date: x.birth,
                address_id: x.address.as_deref(),
                protection: x.protection,
                deceased_on: x.deceased_on,
                imported_at: spec.now,
            }
        })
        .collect();
    let n = put!(&mut *conn, schema::register_persons::table, rows, 3000);
    let mut links = pop.parents.clone();
    links.sort_by(|a, b| (&p(a.0).pid, &p(a.1).pid).cmp(&(&p(b.0).pid, &p(b.1).pid)));
    let rows: Vec<ParentRow> = links
        .iter()
        .map(|(c, par)| ParentRow {
            child_id: &p(*c).pid,
            parent_id: &p(*par).pid,
        })
        .collect();
    let n2 = put!(&mut *conn, schema::register_parents::table, rows, 10000);
    conn.commit()?;
    step("register persons + parents", n + n2, t);

    let t = Instant::now();
    conn.begin()?;
    let rows: Vec<PoaRow> = pop
        .poas
        .iter()
        .map(|g| PoaRow {
            id: &g.id,
            grantor_id: &p(g.grantor).id,
            grantee_id: &p(g.grantee).id,
            all_areas: g.all_areas,
            areas: &g.areas,
            created_at: g.created_at,
            valid_until: g.valid_until,
            accepted_at: g.accepted_at,
            ended_reason: g.ended.map(|e| e.0),
            ended_at: g.ended.map(|e| e.1),
            ended_by: g.ended.map(|e| p(e.2).id.as_str()),
        })
        .collect();
    let n = put!(&mut *conn, schema::powers_of_attorney::table, rows, 2500);
    conn.commit()?;
    step("powers_of_attorney", n, t);

    let t = Instant::now();
    conn.begin()?;
    let mut rows: Vec<SwitchRow> = pop
        .switches
        .iter()
        .map(|s| {
            let at = |w| (s.which == w).then_some(s.at);
            SwitchRow {
                citizen_id: &p(s.person).id,
                services_removed_at: at(0),
                patient_record_removed_at: at(1),
                summary_care_record_removed_at: at(2),
                services_changed_at: at(0),
                patient_record_changed_at: at(1),
                summary_care_record_changed_at: at(2),
            }
        })
        .collect();
    rows.sort_by(|a, b| a.citizen_id.cmp(b.citizen_id));
    let mut n = put!(&mut *conn, schema::access_switches::table, rows, 4000);
    let rows: Vec<RecordRow> = pop
        .records
        .iter()
        .map(|r| RecordRow {
            citizen_id: &p(r.person).id,
            state: r.state,
            record_started_at: None,
            opted_out_at: Some(r.opted_out_at),
            purge_ordered_at: r.purge_ordered_at,
            updated_at: r.purge_ordered_at.unwrap_or(r.opted_out_at),
        })
        .collect();
    n += put!(&mut *conn, schema::summary_care_records::table, rows, 5000);
    let rows: Vec<PurgeRow> = pop
        .records
        .iter()
        .filter_map(|r| {
            r.purge_ordered_at.map(|at| PurgeRow {
                citizen_id: &p(r.person).id,
                opted_out_at: r.opted_out_at,
                ordered_at: at,
                ordered_by: "scheduler",
            })
        })
        .collect();
    n += put!(
        &mut *conn,
        schema::summary_care_record_purges::table,
        rows,
        7000
    );
    let rows: Vec<SharingRow> = pop
        .sharing
        .iter()
        .map(|s| {
            let who = p(s.person).id.as_str();
            SharingRow {
                id: &s.id,
                citizen_id: who,
                seq: s.seq,
                kind: s.kind,
                target_kind: s.target_kind,
                target: &s.target,
                created_at: s.created_at,
                created_by: who,
                lifted_at: s.lifted_at,
                lifted_by: s.lifted_at.map(|_| who),
            }
        })
        .collect();
    n += put!(&mut *conn, schema::sharing_restrictions::table, rows, 3000);
    let rows: Vec<ChildRestrictionRow> = pop
        .child_restrictions
        .iter()
        .map(|r| ChildRestrictionRow {
            id: &r.id,
            child_id: &p(r.child).id,
            kind: r.kind,
            areas: r.areas.as_deref(),
            guardian_id: r.guardian.map(|g| p(g).id.as_str()),
            basis: "Registered by the benchmark's synthetic school health service.",
            author_hpr: &pop.hprs[0],
            author_org_number: &pop.orgs[0],
            author_org_name: "Bench school health service",
            client_id: "dev-service-clinic",
            registered_at: r.registered_at,
            lifted_at: None,
            lift_basis: None,
            lifted_by_hpr: None,
            lifted_by_org_number: None,
            lifted_by_org_name: None,
        })
        .collect();
    n += put!(&mut *conn, schema::child_restrictions::table, rows, 1500);
    conn.commit()?;
    step("switches, records, blocks", n, t);
    Ok(())
}

const ACTIONS: [(&str, &str); 6] = [
    ("login", "{}"),
    ("service.used", "{\"area\":\"appointments\"}"),
    ("service.used", "{\"area\":\"prescriptions\"}"),
    (
        "terms.accepted",
        "{\"level\":\"full\",\"terms_version\":\"2026-01\"}",
    ),
    (
        "access_switch.changed",
        "{\"switch\":\"services\",\"removed\":false}",
    ),
    ("summary_care_record.viewed", "{}"),
];

/// The usage-log rows of the persons `order[range]`, in (subject, seq) order, handed to `sink`
/// in chunks.
fn log_rows_of(
    pop: &Population,
    spec: &Spec,
    order: &[u32],
    mut sink: impl FnMut(&[LogRow]) -> Result<()>,
) -> Result<u64> {
    let mut buf: Vec<LogRow> = Vec::with_capacity(LOG_CHUNK);
    let mut total = 0u64;
    for &i in order {
        let x = pop.person(i);
        if x.log_rows == 0 {
            continue;
        }
        let mut rng = StdRng::seed_from_u64(spec.seed ^ (u64::from(i) << 20) ^ 0x5eed);
        let span = (spec.now - x.created_at).num_seconds().max(1);
        let step = (span / i64::from(x.log_rows) / 2).max(1);
        let mut prev = GENESIS_HASH.to_owned();
        for seq in 1..=i64::from(x.log_rows) {
            let hash = hex::encode(rng.gen::<[u8; 32]>());
            let (action, details) = ACTIONS[rng.gen_range(0..ACTIONS.len())];
            let service = rng.gen_bool(0.15);
            buf.push(LogRow {
                subject_id: &x.id,
                seq,
                at: x.created_at + Duration::seconds(seq * step + rng.gen_range(0..step)),
                actor_kind: if service { "service" } else { "citizen" },
                actor_id: if service { "dev-service-reader" } else { &x.id },
                action,
                details,
                prev_hash: std::mem::replace(&mut prev, hash.clone()),
                hash,
            });
            if buf.len() >= LOG_CHUNK {
                total += buf.len() as u64;
                sink(&buf)?;
                buf.clear();
            }
        }
    }
    total += buf.len() as u64;
    sink(&buf)?;
    Ok(total)
}

fn write_usage_log(conn: &mut Conn, target: &Target, pop: &Population, spec: &Spec) -> Result<u64> {
    let order = pop.by_id();
    match conn {
        Conn::Sqlite(c) => {
            c.batch_execute("BEGIN")?;
            let n = log_rows_of(pop, spec, &order, |rows| {
                for chunk in rows.chunks(3000) {
                    diesel::insert_into(schema::usage_log::table)
                        .values(chunk)
                        .execute(c)?;
                }
                Ok(())
            })?;
            c.batch_execute("COMMIT")?;
            Ok(n)
        }
        Conn::Pg(_) => {
            // Two COPY streams over halves of the id order, each on its own connection: the
            // server's two cores each take one.
            let half = order.len() / 2;
            let (a, b) = order.split_at(half);
            std::thread::scope(|s| -> Result<u64> {
                let jobs: Vec<_> = [a, b]
                    .into_iter()
                    .map(|part| {
                        s.spawn(move || -> Result<u64> {
                            let Conn::Pg(mut c) = Conn::open(target)? else {
                                bail!("expected a PostgreSQL connection");
                            };
                            log_rows_of(pop, spec, part, |rows| {
                                if !rows.is_empty() {
                                    diesel::copy_from(schema::usage_log::table)
                                        .from_insertable(rows)
                                        .execute(&mut c)?;
                                }
                                Ok(())
                            })
                        })
                    })
                    .collect();
                let mut n = 0;
                for j in jobs {
                    n += j
                        .join()
                        .map_err(|_| crate::error::Error::msg("a loader thread panicked"))??;
                }
                Ok(n)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_matches_only_the_same_size_and_seed() {
        let spec = Spec {
            citizens: 10_000,
            log_rows: 100_000,
            seed: 3,
            now: DateTime::<Utc>::from_timestamp(1_800_000_000, 0)
                .unwrap()
                .naive_utc(),
        };
        let m = marker_of(&spec);
        assert_eq!(matching_marker(&m, 10_000, 100_000, 3), Some(1_800_000_000));
        assert_eq!(matching_marker(&m, 10_000, 100_000, 4), None);
        assert_eq!(matching_marker(&m, 1_000_000, 100_000, 3), None);
        assert_eq!(matching_marker("something else", 10_000, 100_000, 3), None);
    }
}

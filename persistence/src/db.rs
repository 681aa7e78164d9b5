//! Connections, the pool, migrations and transactions for both backends.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::time::Duration;
use thiserror::Error;

pub(crate) const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
pub(crate) const POSTGRES_MIGRATIONS: EmbeddedMigrations =
    embed_migrations!("../migrations/postgres");

/// One connection type for both backends. SQLite is last: it accepts any URL.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    /// `postgres://` and `postgresql://` URLs are PostgreSQL; anything else is a SQLite file path
    /// (an optional `sqlite://` prefix is removed).
    pub fn of_url(url: &str) -> (Backend, String) {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            (Backend::Sqlite, path.to_owned())
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgresql",
            Backend::Sqlite => "sqlite",
        }
    }
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] DieselError),
    #[error("no database connection available: {0}")]
    Pool(#[from] r2d2::PoolError),
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
}

/// An error type a transaction closure may return. `is_retryable` says whether running the whole
/// transaction again may succeed (a write conflict rather than a real failure).
pub trait TxError: From<DieselError> + From<StoreError> {
    fn is_retryable(&self) -> bool;
}

impl TxError for StoreError {
    fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Database(e) if is_conflict(e))
    }
}

/// Write conflicts worth a retry: PostgreSQL serialization failures and unique violations of a
/// concurrent insert (e.g. the next log `seq`), SQLite's "database is locked" / busy snapshot.
pub fn is_conflict(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _)
        | DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => true,
        DieselError::DatabaseError(_, info) => {
            let m = info.message();
            m.contains("database is locked")
                || m.contains("busy")
                || m.contains("deadlock detected")
        }
        _ => false,
    }
}

/// Opens connections of exactly one backend. (diesel's own `ConnectionManager<AnyConnection>`
/// would fall back to SQLite when PostgreSQL is down and create a file named like the URL.)
pub struct Manager {
    backend: Backend,
    target: String,
}

impl Manager {
    pub fn for_url(url: &str) -> Manager {
        let (backend, target) = Backend::of_url(url);
        Manager { backend, target }
    }
}

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, r2d2::Error> {
        let mut conn = match self.backend {
            Backend::Postgres => AnyConnection::Postgresql(
                PgConnection::establish(&self.target).map_err(r2d2::Error::ConnectionError)?,
            ),
            Backend::Sqlite => AnyConnection::Sqlite(
                SqliteConnection::establish(&self.target).map_err(r2d2::Error::ConnectionError)?,
            ),
        };
        // Settings every connection gets when it is opened.
        let setup = match self.backend {
            Backend::Postgres => {
                "SET application_name = 'consent-portal'; SET statement_timeout = '15s';"
            }
            Backend::Sqlite => {
                // WAL is a property of the file, switched once in `Db::connect`.
                "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;"
            }
        };
        conn.batch_execute(setup).map_err(r2d2::Error::QueryError)?;
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    /// A connection left inside a transaction, or whose transaction state diesel lost track of,
    /// is not handed out again.
    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

/// The PostgreSQL server of the tests: `TEST_DATABASE_URL` (scripts/test sets it when a server
/// answers), or `None` with a note on stderr. Under `CI=true` a missing server is a failure, not a
/// skip. For tests only (here and in `api`); the server never reads it.
pub fn test_database_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
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

/// One connection to `url`, outside any pool, set up like the pool's.
pub fn open_one(url: &str) -> Result<AnyConnection, StoreError> {
    Manager::for_url(url)
        .connect()
        .map_err(|e| StoreError::Connect(e.to_string()))
}

/// The database: a pool of connections of one backend.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    backend: Backend,
    url: String,
}

impl Db {
    /// Connects to `url` (see [`Backend::of_url`]). A SQLite file's folder is created if missing.
    pub fn connect(url: &str, max_connections: u32) -> Result<Db, StoreError> {
        let (backend, target) = Backend::of_url(url);
        if backend == Backend::Sqlite {
            if let Some(dir) = std::path::Path::new(&target).parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Migration(format!("cannot create the database folder: {e}"))
                    })?;
                }
            }
            // Switch the file to WAL once, before the pool opens several connections at the same
            // time (a journal-mode switch needs the file to itself and would fail "locked").
            let mut first = SqliteConnection::establish(&target)
                .map_err(|e| StoreError::Migration(format!("cannot open the database: {e}")))?;
            first
                .batch_execute("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL;")
                .map_err(StoreError::Database)?;
        }
        let pool = Pool::builder()
            .max_size(max_connections)
            // `transaction` tests a connection by its BEGIN instead, and replaces a closed one.
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(10))
            .build(Manager::for_url(url))?;
        Ok(Db {
            pool,
            backend,
            url: url.to_owned(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection URL, for a client of another kind to the same database (the decision
    /// cache's asynchronous mark reads). It may hold a password: never log it.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn conn(&self) -> Result<PooledConnection<Manager>, StoreError> {
        Ok(self.pool.get()?)
    }

    /// A connection of its own, outside the pool, set up like the pool's: for a task that runs one
    /// small statement after another (the decision cache's check) and should not pay the pool's
    /// check-out test (a `SELECT 1` round trip) each time. The caller drops it after an error.
    pub fn dedicated(&self) -> Result<AnyConnection, StoreError> {
        open_one(&self.url)
    }

    /// A connection of its own for one-statement reads made on a request's own thread: as
    /// [`Db::dedicated`], but on SQLite it gives up after 50 ms when the file is locked (not after
    /// 5 s), so that a rare lock (recovery after a crash) cannot stall a server worker.
    pub fn dedicated_reader(&self) -> Result<AnyConnection, StoreError> {
        let mut conn = self.dedicated()?;
        if let AnyConnection::Sqlite(c) = &mut conn {
            c.batch_execute("PRAGMA busy_timeout = 50")
                .map_err(StoreError::Database)?;
        }
        Ok(conn)
    }

    /// Applies pending migrations; returns how many ran.
    pub fn migrate(&self) -> Result<usize, StoreError> {
        let mut conn = self.conn()?;
        let done = match &mut *conn {
            AnyConnection::Postgresql(c) => c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.len()),
            AnyConnection::Sqlite(c) => {
                c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len())
            }
        };
        done.map_err(|e| StoreError::Migration(e.to_string()))
    }

    /// True when the database answers and no migration is pending (the readiness check). A pooled
    /// connection that fails the check is replaced once (the pool does not test connections it
    /// hands out), so that a database restart does not leave the instance unready.
    pub fn is_ready(&self) -> bool {
        let Ok(mut conn) = self.conn() else {
            return false;
        };
        let pending = |conn: &mut AnyConnection| match conn {
            AnyConnection::Postgresql(c) => c.has_pending_migration(POSTGRES_MIGRATIONS),
            AnyConnection::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
        };
        match pending(&mut conn) {
            Ok(pending) => !pending,
            Err(_) => match open_one(&self.url) {
                Ok(fresh) => {
                    *conn = fresh;
                    matches!(pending(&mut conn), Ok(false))
                }
                Err(_) => false,
            },
        }
    }

    /// Runs `f` in one transaction, again (up to a few times) when it fails with a write conflict.
    /// Blocking: call from a blocking thread.
    ///
    /// The pool does not test a connection when it hands it out (a `SELECT 1` round trip per
    /// transaction); the `BEGIN` is the test. A connection the server closed (a restart, an idle
    /// timeout) fails there, before `f` ran: it is replaced by a new one, once, and the
    /// transaction runs on that.
    pub fn transaction<T, E, F>(&self, mut f: F) -> Result<T, E>
    where
        E: TxError,
        F: FnMut(&mut AnyConnection) -> Result<T, E>,
    {
        const ATTEMPTS: u32 = 6;
        let mut conn = self.conn()?;
        let mut attempt = 1;
        let mut replaced = false;
        loop {
            let mut began = false;
            let c: &mut AnyConnection = &mut conn;
            match c.transaction(|c| {
                began = true;
                f(c)
            }) {
                Err(_) if !began && !replaced => {
                    tracing::info!("database connection lost; opening another");
                    *conn = open_one(&self.url)?;
                    replaced = true;
                }
                Err(e) if e.is_retryable() && attempt < ATTEMPTS => {
                    tracing::debug!(attempt, "transaction conflict; retrying");
                    std::thread::sleep(Duration::from_millis(5 * u64::from(attempt * attempt)));
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

/// Serialises a transaction's writes for one citizen on PostgreSQL (a row lock on the citizen).
/// SQLite needs nothing: it has one writer at a time.
pub fn lock_citizen(conn: &mut AnyConnection, citizen_id: &str) -> Result<(), DieselError> {
    if let AnyConnection::Postgresql(pg) = conn {
        use crate::schema::citizens;
        use diesel::{QueryDsl, RunQueryDsl};
        // Written with the query builder rather than as SQL text: diesel keeps it prepared.
        citizens::table
            .find(citizen_id)
            .select(citizens::id)
            .for_update()
            .execute(pg)?;
    }
    Ok(())
}

/// Times are stored as UTC to the whole second, the precision both backends keep exactly.
pub fn to_db(t: DateTime<Utc>) -> NaiveDateTime {
    t.trunc_subsecs(0).naive_utc()
}

/// `t` rounded up to the stored whole second: for a retry time, which must never come earlier
/// than its backoff says.
pub fn ceil_to_db(t: DateTime<Utc>) -> NaiveDateTime {
    use chrono::Timelike;
    if t.nanosecond() == 0 {
        to_db(t)
    } else {
        to_db(t + chrono::Duration::seconds(1))
    }
}

pub fn from_db(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

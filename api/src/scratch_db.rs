//! Tests only: a SQLite database in a fresh temporary file, removed (with its WAL files) when the
//! test ends; or a fresh PostgreSQL database when `TEST_DATABASE_URL` names a server (scripts/test
//! sets it; CI requires it), dropped when the test ends.

use diesel::{Connection, PgConnection, RunQueryDsl};
use persistence::Db;

pub struct ScratchDb {
    pub db: Db,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Postgres { admin: String, name: String },
}

impl ScratchDb {
    /// A database with no tables; `name` starts the file's name.
    pub fn empty(name: &str) -> ScratchDb {
        let path =
            std::env::temp_dir().join(format!("{name}-{}.db", uuid::Uuid::new_v4().simple()));
        let db = Db::connect(path.to_str().expect("a UTF-8 temp path"), 4).expect("connect");
        ScratchDb {
            db,
            cleanup: Cleanup::File(path),
        }
    }

    /// A migrated database.
    pub fn migrated(name: &str) -> ScratchDb {
        let scratch = ScratchDb::empty(name);
        scratch.db.migrate().expect("migrate");
        scratch
    }

    /// A migrated PostgreSQL database named after `name`, or `None` without a test server.
    pub fn postgres(name: &str) -> Option<ScratchDb> {
        let admin = persistence::db::test_database_url()?;
        let name = format!("{name}_{}", uuid::Uuid::new_v4().simple());
        let mut c = PgConnection::establish(&admin).expect("the test server");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .expect("create the database");
        let (base, _) = admin.rsplit_once('/').expect("a URL with a database");
        let scratch = ScratchDb {
            db: Db::connect(&format!("{base}/{name}"), 4).expect("connect"),
            cleanup: Cleanup::Postgres { admin, name },
        };
        scratch.db.migrate().expect("migrate");
        Some(scratch)
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            Cleanup::Postgres { admin, name } => {
                if let Ok(mut c) = PgConnection::establish(admin) {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut c);
                }
            }
        }
    }
}

//! Scratch databases for the storage tests: a SQLite file always, and a PostgreSQL database
//! when `TEST_DATABASE_URL` names a server (scripts/test sets it; CI requires it). Each is
//! removed when dropped.

use crate::db::Db;
use diesel::{Connection, PgConnection, RunQueryDsl};

/// A scratch database, removed when dropped.
pub(crate) struct Scratch {
    pub(crate) db: Db,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Postgres { admin: String, name: String },
}

impl Drop for Scratch {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(dir) => {
                let _ = std::fs::remove_dir_all(dir);
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

pub(crate) fn sqlite() -> Scratch {
    let dir =
        std::env::temp_dir().join(format!("portal-persist-{}", uuid::Uuid::new_v4().simple()));
    let db = Db::connect(dir.join("t.db").to_str().unwrap(), 4).unwrap();
    db.migrate().unwrap();
    Scratch {
        db,
        cleanup: Cleanup::File(dir),
    }
}

pub(crate) fn postgres() -> Option<Scratch> {
    let admin = crate::db::test_database_url()?;
    let name = format!("portal_persist_{}", uuid::Uuid::new_v4().simple());
    let mut c = PgConnection::establish(&admin).unwrap();
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut c)
        .unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    let db = Db::connect(&format!("{base}/{name}"), 4).unwrap();
    db.migrate().unwrap();
    Some(Scratch {
        db,
        cleanup: Cleanup::Postgres { admin, name },
    })
}

/// Runs `test` on SQLite and, when available, PostgreSQL.
pub(crate) fn both(test: impl Fn(&Db)) {
    test(&sqlite().db);
    if let Some(pg) = postgres() {
        test(&pg.db);
    }
}

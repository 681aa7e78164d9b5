//! Tests only: a SQLite database in a fresh temporary file, removed (with its WAL files) when the
//! test ends.

use persistence::Db;

pub struct ScratchDb {
    pub db: Db,
    path: std::path::PathBuf,
}

impl ScratchDb {
    /// A database with no tables; `name` starts the file's name.
    pub fn empty(name: &str) -> ScratchDb {
        let path =
            std::env::temp_dir().join(format!("{name}-{}.db", uuid::Uuid::new_v4().simple()));
        let db = Db::connect(path.to_str().expect("a UTF-8 temp path"), 4).expect("connect");
        ScratchDb { db, path }
    }

    /// A migrated database.
    pub fn migrated(name: &str) -> ScratchDb {
        let scratch = ScratchDb::empty(name);
        scratch.db.migrate().expect("migrate");
        scratch
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

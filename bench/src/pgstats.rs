//! PostgreSQL's per-table scan counters (`pg_stat_user_tables`) around a phase: how many index
//! and sequential scans each request caused, by table. A sequential scan per request on a large
//! table is a missing index; many index scans per request are many queries.

use diesel::pg::PgConnection;
use diesel::prelude::*;
use std::collections::BTreeMap;

use crate::error::Result;

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = diesel::sql_types::Text)]
    relname: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    seq_scan: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    idx_scan: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    xact_commit: i64,
}

/// table -> (sequential scans, index scans), and the database's committed transactions.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    tables: BTreeMap<String, (i64, i64)>,
    commits: i64,
}

pub fn read(database_url: &str) -> Result<Counters> {
    let mut conn = PgConnection::establish(database_url)?;
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT relname::text AS relname, COALESCE(seq_scan, 0)::bigint AS seq_scan, \
                COALESCE(idx_scan, 0)::bigint AS idx_scan, \
                (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())::bigint AS xact_commit \
         FROM pg_stat_user_tables",
    )
    .load(&mut conn)?;
    let commits = rows.first().map_or(0, |r| r.xact_commit);
    Ok(Counters {
        tables: rows
            .into_iter()
            .map(|r| (r.relname, (r.seq_scan, r.idx_scan)))
            .collect(),
        commits,
    })
}

/// Scans per request between two readings, by table: (table, sequential, index).
#[derive(Debug, Clone, Default)]
pub struct PerRequest {
    pub tables: Vec<(String, f64, f64)>,
    /// Transactions committed per request (the reading's own connection adds a few).
    pub commits: f64,
}

pub fn per_request(before: &Counters, after: &Counters, requests: u64) -> PerRequest {
    if requests == 0 {
        return PerRequest::default();
    }
    let n = requests as f64;
    let tables = after
        .tables
        .iter()
        .filter_map(|(t, (seq, idx))| {
            let (s0, i0) = before.tables.get(t).copied().unwrap_or((0, 0));
            let (ds, di) = (seq - s0, idx - i0);
            (ds > 0 || di > 0).then(|| (t.clone(), ds as f64 / n, di as f64 / n))
        })
        .collect();
    PerRequest {
        tables,
        commits: (after.commits - before.commits) as f64 / n,
    }
}

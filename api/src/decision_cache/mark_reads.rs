//! PostgreSQL: the mark read by a server worker on a connection of its own, on the worker's own
//! event loop (`tokio-postgres`).
//!
//! The shared check hands each round to a blocking thread and wakes the waiting requests from it.
//! On these 2-core machines those hand-overs and wake-ups cost more server CPU than the rest of a
//! decision (docs/BENCHMARK.md, "Fewer server workers; the check on the worker's own
//! connection"). A worker that sends the statement itself, on a socket its own event loop
//! watches, needs none of them: while the statement is out, the worker goes on with other
//! requests, and the answer wakes only it. When the mark moved, the events since the last check
//! are read on the same connection, so that needs no other thread either; only the rare cases
//! (more events than one read holds, a restored outbox, a failed read) go to the shared check on a
//! blocking thread (`DecisionCache::shared_round`).
//!
//! Only where this connection is what libpq's would be, apart from encryption on the machine's
//! own loopback: `tokio-postgres` is used without TLS, so the URL must say `sslmode=disable`, or
//! name only this machine (loopback addresses, `localhost`, Unix sockets) without
//! `sslmode=require`. A URL it does not understand (libpq options it lacks, e.g. `sslrootcert`)
//! keeps the shared check. So a database reached over the network with TLS keeps the shared check
//! until a TLS connector that follows libpq's `sslmode` rules is added here.

use persistence::outbox::EventRef;
use persistence::watermark::Watermark;
use std::net::IpAddr;
use std::time::Duration;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, Config, NoTls, Statement};

/// After a failed connection attempt a worker uses the shared check this long before it tries
/// again.
pub const RETRY_AFTER: Duration = Duration::from_secs(10);

/// A read that takes longer than this gives up its connection (the shared check then decides).
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The mark, as `persistence::watermark::read` has it (one row on PostgreSQL).
const MARKS: &str = "SELECT outbox_position, register_import FROM decision_watermark";

/// The events after `$1` up to the mark `$2`, at most `$3`, as `persistence::outbox::refs_after`
/// reads them. Outbox writers commit in position order, so once the mark shows a position every
/// event up to it has committed.
const EVENTS: &str = "SELECT id, subject_id, event_type FROM outbox \
    WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3";

/// What moved since a mark: the mark now and the events up to it.
pub struct Moved {
    pub mark: Watermark,
    pub events: Vec<EventRef>,
}

/// The connection settings for a worker's own reads, or `None` where they would differ from
/// libpq's in more than loopback encryption (see the module documentation).
pub fn config_for(url: &str) -> Option<Config> {
    let mut config: Config = url.parse().ok()?;
    let plain_like_libpq = match config.get_ssl_mode() {
        SslMode::Disable => true,
        SslMode::Prefer => on_this_machine(&config),
        _ => false,
    };
    if !plain_like_libpq {
        return None;
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    if config.get_application_name().is_none() {
        config.application_name("consent-portal decision marks");
    }
    Some(config)
}

fn on_this_machine(config: &Config) -> bool {
    let hosts_local = !config.get_hosts().is_empty()
        && config.get_hosts().iter().all(|h| match h {
            Host::Tcp(name) => {
                name.eq_ignore_ascii_case("localhost")
                    || name
                        .trim_matches(|c| c == '[' || c == ']')
                        .parse::<IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
            #[cfg(unix)]
            Host::Unix(_) => true,
        });
    hosts_local && config.get_hostaddrs().iter().all(IpAddr::is_loopback)
}

/// A worker's connection and its prepared statements.
pub struct MarkReader {
    client: Client,
    marks: Statement,
    events: Statement,
}

impl MarkReader {
    /// Connects and prepares the statement. The connection's task runs on the calling worker's
    /// event loop, so this must be called on the worker that will read.
    pub async fn connect(config: &Config) -> Result<MarkReader, tokio_postgres::Error> {
        let (client, connection) = config.connect(NoTls).await?;
        actix_web::rt::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "decision cache: a worker's own connection ended");
            }
        });
        let marks = client.prepare(MARKS).await?;
        let events = client.prepare(EVENTS).await?;
        tracing::info!("decision cache: this worker reads the mark on a connection of its own");
        Ok(MarkReader {
            client,
            marks,
            events,
        })
    }

    /// What moved since the mark `base`: one round trip when the outbox did not move, two when it
    /// did (its events up to the new mark). `Ok(None)` where that cannot be read here: the outbox
    /// went back (a restore: everything must go) or moved by more than `limit` events.
    pub async fn moved_since(&self, base: Watermark, limit: i64) -> Result<Option<Moved>, String> {
        let row = timed(self.client.query_one(&self.marks, &[])).await?;
        let mark = Watermark {
            outbox: row.try_get(0).map_err(|e| e.to_string())?,
            register: row.try_get(1).map_err(|e| e.to_string())?,
        };
        if mark.outbox < base.outbox {
            return Ok(None);
        }
        let mut events = Vec::new();
        if mark.outbox > base.outbox {
            let rows = timed(
                self.client
                    .query(&self.events, &[&base.outbox, &mark.outbox, &limit]),
            )
            .await?;
            for row in rows {
                events.push(EventRef {
                    position: row.try_get(0).map_err(|e| e.to_string())?,
                    subject_id: row.try_get(1).map_err(|e| e.to_string())?,
                    event_type: row.try_get(2).map_err(|e| e.to_string())?,
                });
            }
            let last = events.last().map_or(base.outbox, |e| e.position);
            if last < mark.outbox && i64::try_from(events.len()).unwrap_or(i64::MAX) >= limit {
                return Ok(None);
            }
        }
        Ok(Some(Moved { mark, events }))
    }
}

/// A statement's answer within [`READ_TIMEOUT`].
async fn timed<T>(
    query: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, String> {
    tokio::time::timeout(READ_TIMEOUT, query)
        .await
        .map_err(|_| format!("no answer within {READ_TIMEOUT:?}"))?
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::config_for;

    #[test]
    fn own_reads_only_where_libpq_would_not_encrypt_beyond_this_machine() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/db",
            "postgres://postgres@localhost/db",
            "postgres://postgres@[::1]:5432/db",
            "postgres://app@db.internal/db?sslmode=disable",
        ] {
            assert!(config_for(url).is_some(), "{url}");
        }
        for url in [
            // libpq would negotiate TLS with a remote server.
            "postgres://app@db.internal/db",
            "postgres://app@10.0.0.5/db?sslmode=prefer",
            "postgres://postgres@127.0.0.1/db?sslmode=require",
            // An option tokio-postgres does not know: keep libpq's way.
            "postgres://app@db.internal/db?sslmode=verify-full&sslrootcert=/etc/ca.pem",
            "not a url",
        ] {
            assert!(config_for(url).is_none(), "{url}");
        }
    }
}

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
//! own loopback (see [`own_reads_for`]):
//! - `sslmode=disable`: no TLS;
//! - `sslmode=prefer` (libpq's default) to a host on this machine (loopback addresses,
//!   `localhost`, Unix sockets): no TLS, where libpq would encrypt what never leaves the machine;
//! - `sslmode=prefer` to another host, or `sslmode=require`: TLS (rustls), preferred or required
//!   as the URL says, and like libpq in these modes the server's certificate is not checked
//!   against any authority: the handshake proves the server holds the key of the certificate it
//!   shows, and nothing more. libpq checks it when a root certificate file applies (`sslrootcert`,
//!   `~/.postgresql/root.crt`, `PGSSLROOTCERT`), so where TLS would be used and such a file or
//!   any `PGSSL*` variable is there, the shared check stays; so it does with `verify-ca` and
//!   `verify-full`, and with any option this crate does not know.

use persistence::outbox::EventRef;
use persistence::watermark::Watermark;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, Config, NoTls, Socket, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

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

/// How a worker's own connection is made.
pub struct OwnReads {
    config: Config,
    /// `None`: plain, as libpq with `sslmode=disable` (or on this machine's loopback).
    tls: Option<MakeRustlsConnect>,
}

/// How to make a worker's own connections to `url`, or `None` where they would differ from
/// libpq's in more than loopback encryption (see the module documentation).
pub fn own_reads_for(url: &str) -> Option<OwnReads> {
    own_reads_with(url, libpq_reads_more)
}

/// [`own_reads_for`], with what libpq would read beyond the URL given.
fn own_reads_with(url: &str, libpq_reads_more: impl Fn() -> bool) -> Option<OwnReads> {
    let mut config: Config = url.parse().ok()?;
    let hosts = config.get_hosts();
    let unix = |h: &Host| !matches!(h, Host::Tcp(_));
    let tls = match config.get_ssl_mode() {
        SslMode::Disable => None,
        // libpq never uses TLS on a Unix-domain socket, whatever the mode says.
        _ if !hosts.is_empty() && hosts.iter().all(unix) => None,
        SslMode::Prefer if on_this_machine(&config) => None,
        // A TLS handshake here needs a host name (not only `hostaddr`), and `require` over a
        // socket would refuse what libpq accepts.
        _ if hosts.is_empty() || hosts.iter().any(unix) => return None,
        // Where libpq would use TLS, only if it would not check more than this connection does.
        SslMode::Prefer | SslMode::Require if !libpq_reads_more() => {
            Some(MakeRustlsConnect::new(unverified_tls()?))
        }
        _ => return None,
    };
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    if config.get_application_name().is_none() {
        config.application_name("consent-portal decision marks");
    }
    Some(OwnReads { config, tls })
}

/// Whether libpq would take connection settings from outside the URL that this crate does not:
/// TLS settings from the environment or a service file, or the default root certificate file
/// (with it libpq checks the server's certificate even under `prefer` and `require`).
fn libpq_reads_more() -> bool {
    let from_env = std::env::vars_os().any(|(k, _)| {
        let k = k.to_string_lossy();
        k.starts_with("PGSSL") || k == "PGREQUIRESSL" || k.starts_with("PGSERVICE")
    });
    let root_file = std::env::var_os("HOME").is_some_and(|home| {
        std::path::Path::new(&home)
            .join(".postgresql/root.crt")
            .exists()
    });
    from_env || root_file
}

/// TLS that encrypts without checking the server's certificate against any authority, as libpq
/// does under `prefer` and `require` without a root certificate file. The handshake's signatures
/// are still verified.
fn unverified_tls() -> Option<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .ok()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Some(config)
}

/// Accepts the server's certificate as libpq's `prefer`/`require` do (see [`unverified_tls`]).
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
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
    /// Connects and prepares the statements. The connection's task runs on the calling worker's
    /// event loop, so this must be called on the worker that will read.
    pub async fn connect(how: &OwnReads) -> Result<MarkReader, tokio_postgres::Error> {
        let client = open(how).await?;
        let marks = client.prepare(MARKS).await?;
        let events = client.prepare(EVENTS).await?;
        tracing::info!(
            tls = how.tls.is_some(),
            "decision cache: this worker reads the mark on a connection of its own"
        );
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

/// A connection whose task runs on the calling thread's event loop.
async fn open(how: &OwnReads) -> Result<Client, tokio_postgres::Error> {
    match &how.tls {
        None => open_with(&how.config, NoTls).await,
        Some(tls) => open_with(&how.config, tls.clone()).await,
    }
}

async fn open_with<T>(config: &Config, tls: T) -> Result<Client, tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: 'static,
{
    let (client, connection) = config.connect(tls).await?;
    actix_web::rt::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "decision cache: a worker's own connection ended");
        }
    });
    Ok(client)
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
    use super::*;

    /// Whether a worker's own connection to `url` is made, and with TLS.
    fn tls_of(url: &str, libpq_reads_more: bool) -> Option<bool> {
        own_reads_with(url, || libpq_reads_more).map(|how| how.tls.is_some())
    }

    #[test]
    fn plain_on_this_machine_tls_beyond_it_and_libpqs_way_where_it_would_check_more() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/db",
            "postgres://postgres@localhost/db",
            "postgres://postgres@[::1]:5432/db",
            "postgres://app@db.internal/db?sslmode=disable",
            // libpq uses no TLS on a Unix-domain socket.
            "host=/var/run/postgresql user=app dbname=db sslmode=require",
        ] {
            assert_eq!(tls_of(url, false), Some(false), "{url}");
        }
        for url in [
            // libpq would negotiate TLS with a remote server, or must use it.
            "postgres://app@db.internal/db",
            "postgres://app@10.0.0.5/db?sslmode=prefer",
            "postgres://postgres@127.0.0.1/db?sslmode=require",
        ] {
            assert_eq!(tls_of(url, false), Some(true), "{url}");
        }
        for url in [
            // libpq checks the certificate: keep its way.
            "postgres://app@db.internal/db?sslmode=verify-full",
            "postgres://app@db.internal/db?sslmode=verify-ca&sslrootcert=/etc/ca.pem",
            // An option tokio-postgres does not know.
            "postgres://app@db.internal/db?sslcert=/etc/client.pem",
            // TLS with no host name to give the handshake, or partly over a socket.
            "hostaddr=10.0.0.5 user=app dbname=db",
            "host=/var/run/postgresql,db.internal user=app dbname=db sslmode=require",
            "not a url",
        ] {
            assert_eq!(tls_of(url, false), None, "{url}");
        }
        // A root certificate file or PGSSL* settings that libpq would read where it uses TLS;
        // on this machine's loopback the connection stays plain as before.
        assert_eq!(tls_of("postgres://app@db.internal/db", true), None);
        assert_eq!(
            tls_of("postgres://postgres@127.0.0.1/db?sslmode=require", true),
            None
        );
        assert_eq!(
            tls_of("postgres://postgres@127.0.0.1/db", true),
            Some(false)
        );
    }

    /// The test server has TLS on (as this machine's PostgreSQL, which libpq's `prefer` finds):
    /// `require` encrypts the worker's connection, while on loopback `prefer` keeps it plain.
    #[actix_web::test]
    async fn require_encrypts_and_loopback_prefer_does_not() {
        let admin = match std::env::var("TEST_DATABASE_URL") {
            Ok(u) if !u.is_empty() => u,
            _ => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "CI=true needs PostgreSQL (TEST_DATABASE_URL)"
                );
                eprintln!("PostgreSQL not configured (TEST_DATABASE_URL): skipping");
                return;
            }
        };
        let separator = if admin.contains('?') { '&' } else { '?' };
        for mode in ["require", "prefer"] {
            let url = format!("{admin}{separator}sslmode={mode}");
            let how = own_reads_with(&url, || false).expect("own reads");
            // Plain only for `prefer` on this machine.
            let encrypted = how.tls.is_some();
            assert_eq!(
                encrypted,
                mode == "require" || !on_this_machine(&how.config)
            );
            let client = open(&how).await.expect("connect");
            let row = client
                .query_one(
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    &[],
                )
                .await
                .expect("pg_stat_ssl");
            assert_eq!(row.get::<_, bool>(0), encrypted, "{url}");
        }
    }
}

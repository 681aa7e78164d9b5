//! PostgreSQL connections of a server worker's own (`tokio-postgres`), driven by the worker's
//! event loop, for the few statements on a decision's path: the decision cache's mark reads
//! (`decision_cache::mark_reads`) and the writes of openings of blocked health data
//! (`opening_writes::pipelined`). The pool's connections (diesel, libpq) are used from blocking
//! threads, and on these 2-core machines the hand-overs and wake-ups of a blocking thread cost
//! more server CPU than the rest of a decision (docs/BENCHMARK.md, "Fewer server workers; the
//! check on the worker's own connection"). A worker that sends a statement itself, on a socket
//! its own event loop watches, needs none of them: while the statement is out, the worker goes on
//! with other requests, and the answer wakes only it.
//!
//! Only where such a connection is what libpq's would be, apart from encryption on the
//! machine's own loopback (see [`for_url`]); elsewhere the callers keep the pool's way:
//! - `sslmode=disable`: no TLS;
//! - `sslmode=prefer` (libpq's default) to a host on this machine (loopback addresses,
//!   `localhost`, Unix sockets): no TLS, where libpq would encrypt what never leaves the machine;
//! - `sslmode=prefer` to another host, or `sslmode=require`: TLS (rustls), preferred or required
//!   as the URL says, and like libpq in these modes the server's certificate is not checked
//!   against any authority: the handshake proves the server holds the key of the certificate it
//!   shows, and nothing more. libpq checks it when its default root certificate file
//!   (`~/.postgresql/root.crt`) is there, so then the pool's way stays;
//! - `sslmode=verify-ca` / `verify-full` in a `postgres://` URL: TLS whose certificate must chain
//!   to the roots of `sslrootcert` (or the default root file), and for `verify-full` name the
//!   host, as libpq checks it. libpq 16's `sslrootcert=system`, a default revocation list
//!   (`~/.postgresql/root.crl`) and these modes in a key-value string keep the pool's way.
//!
//! Any `PGSSL*` (or service file) variable where TLS would be used, and any option tokio-postgres
//! does not know (`sslcert`, `sslcrl`, ...), keep the pool's way too: libpq would read them.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, Config, NoTls, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

/// After a failed connection attempt a worker keeps to the pool's way this long before it tries
/// again.
pub const RETRY_AFTER: Duration = Duration::from_secs(10);

/// How a worker's own connections are made.
pub struct WorkerPg {
    config: Config,
    /// `None`: plain, as libpq with `sslmode=disable` (or on this machine's loopback).
    tls: Option<MakeRustlsConnect>,
}

/// How to make a worker's own connections to `url`, or `None` where they would differ from
/// libpq's in more than loopback encryption (see the module documentation).
pub fn for_url(url: &str) -> Option<WorkerPg> {
    for_url_with(url, &Libpq::of_this_process())
}

/// [`for_url`], with what libpq would read beyond the URL given.
fn for_url_with(url: &str, libpq: &Libpq) -> Option<WorkerPg> {
    let (url, verify) = verify_options(url, libpq)?;
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
        // TLS settings in the environment or a service file: libpq's way.
        _ if libpq.tls_env => return None,
        // `verify-ca` / `verify-full` (given to tokio-postgres as `require`): checked as libpq
        // checks, against the root certificate file it would read.
        _ if verify.is_some() => Some(MakeRustlsConnect::new(tls(verify.as_ref())?)),
        // With a default root certificate file libpq checks even under `prefer` and `require`.
        SslMode::Prefer | SslMode::Require if !libpq.has(ROOT_CERT) => {
            Some(MakeRustlsConnect::new(tls(None)?))
        }
        _ => return None,
    };
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    Some(WorkerPg { config, tls })
}

/// libpq's default root certificate file and revocation list, in `~/.postgresql/`.
const ROOT_CERT: &str = "root.crt";
const ROOT_CRL: &str = "root.crl";

/// What libpq would read beyond the URL.
struct Libpq {
    /// TLS settings from the environment or a service file (`PGSSL*`, `PGREQUIRESSL`,
    /// `PGSERVICE*`), which this crate does not read.
    tls_env: bool,
    /// Where libpq looks for its default files (`$HOME/.postgresql`).
    dir: Option<PathBuf>,
}

impl Libpq {
    fn of_this_process() -> Libpq {
        let tls_env = std::env::vars_os().any(|(k, _)| {
            let k = k.to_string_lossy();
            k.starts_with("PGSSL") || k == "PGREQUIRESSL" || k.starts_with("PGSERVICE")
        });
        let dir = std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".postgresql"));
        Libpq { tls_env, dir }
    }

    fn default_file(&self, name: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(name))
    }

    fn has(&self, name: &str) -> bool {
        self.default_file(name).is_some_and(|f| f.exists())
    }
}

/// `sslmode=verify-ca` or `verify-full`, with the root certificates to check against.
#[derive(Debug, PartialEq)]
struct Verify {
    /// `verify-full`: the certificate must also name the host connected to.
    host_name: bool,
    roots: PathBuf,
}

/// The URL for tokio-postgres, which knows neither the verifying modes nor `sslrootcert`: with
/// one of them, that mode (and its root file) is taken out and `sslmode=require` put in its
/// place. `None` where the check would not be libpq's: the root file is libpq 16's `system`, no
/// root file is named and the default one is missing (libpq refuses to connect then), or a
/// default revocation list is there (libpq would honour it; rustls is not given one here).
/// Key-value connection strings are left as they are: tokio-postgres refuses these modes there,
/// so the shared check stays.
fn verify_options(url: &str, libpq: &Libpq) -> Option<(String, Option<Verify>)> {
    let unchanged = || Some((url.to_owned(), None));
    let is_url = url.starts_with("postgres://") || url.starts_with("postgresql://");
    let Some((base, query)) = url.split_once('?').filter(|_| is_url) else {
        return unchanged();
    };
    let decode = |v: &str| {
        percent_encoding::percent_decode_str(v)
            .decode_utf8()
            .map(|v| v.into_owned())
    };
    let mut mode = None;
    let mut roots = None;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => mode = Some(decode(value).ok()?),
            "sslrootcert" => roots = Some(decode(value).ok()?),
            _ => kept.push(pair),
        }
    }
    let host_name = match mode.as_deref() {
        Some("verify-full") => true,
        Some("verify-ca") => false,
        // Anything else is tokio-postgres's to read (or refuse), as it was.
        _ => return unchanged(),
    };
    let roots = match roots {
        Some(file) if file == "system" => return None,
        Some(file) => PathBuf::from(file),
        None => libpq.default_file(ROOT_CERT).filter(|f| f.exists())?,
    };
    if libpq.has(ROOT_CRL) {
        return None;
    }
    kept.push("sslmode=require");
    Some((
        format!("{base}?{}", kept.join("&")),
        Some(Verify { host_name, roots }),
    ))
}

/// The TLS of a worker's own connection. Without `verify`, as libpq under `prefer` and `require`
/// with no root certificate file: the server's certificate is not checked against any authority
/// (the handshake's signatures still are). With it, as libpq under `verify-ca` (the certificate
/// chains to one of the roots) or `verify-full` (and it names the host). rustls is stricter than
/// OpenSSL in places (a certificate that names its host only in the common name, with no subject
/// alternative names, fails `verify-full` here): such a connection fails, and the shared check,
/// with libpq, decides.
fn tls(verify: Option<&Verify>) -> Option<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .ok()?;
    let verifier = match verify {
        None => LibpqVerifier {
            provider,
            roots: None,
        },
        Some(v) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(&v.roots).ok()? {
                roots.add(cert.ok()?).ok()?;
            }
            if roots.is_empty() {
                return None;
            }
            if v.host_name {
                return Some(builder.with_root_certificates(roots).with_no_client_auth());
            }
            LibpqVerifier {
                provider,
                roots: Some(Arc::new(roots)),
            }
        }
    };
    Some(
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth(),
    )
}

/// The server certificate checks of libpq's `prefer` and `require` (no roots: any certificate)
/// and `verify-ca` (roots: it must chain to one, whatever host it names). See [`tls`].
#[derive(Debug)]
struct LibpqVerifier {
    provider: Arc<CryptoProvider>,
    roots: Option<Arc<RootCertStore>>,
}

impl ServerCertVerifier for LibpqVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            verify_server_cert_signed_by_trust_anchor(
                &ParsedCertificate::try_from(end_entity)?,
                roots,
                intermediates,
                now,
                self.provider.signature_verification_algorithms.all,
            )?;
        }
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
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

impl WorkerPg {
    /// A connection whose task runs on the calling thread's event loop, so this must be called
    /// on the worker that will use it. `purpose` names it to the server (`application_name`,
    /// after `consent-portal`) unless the URL names one.
    pub async fn open(&self, purpose: &str) -> Result<Client, tokio_postgres::Error> {
        let mut config = self.config.clone();
        if config.get_application_name().is_none() {
            config.application_name(format!("consent-portal {purpose}"));
        }
        match &self.tls {
            None => open_with(&config, NoTls).await,
            Some(tls) => open_with(&config, tls.clone()).await,
        }
    }

    /// Whether its connections are encrypted.
    pub fn tls(&self) -> bool {
        self.tls.is_some()
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
            tracing::warn!(error = %e, "a worker's own database connection ended");
        }
    });
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A root certificate of an authority no test server's certificate comes from.
    const UNRELATED_ROOT: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/worker_pg/testdata/unrelated-root.pem"
    );

    /// libpq's outside settings as a test sets them: none, unless `dir` holds default files.
    fn libpq(tls_env: bool, dir: Option<&std::path::Path>) -> Libpq {
        Libpq {
            tls_env,
            dir: dir.map(std::path::Path::to_path_buf),
        }
    }

    /// Whether a worker's own connection to `url` is made, and with TLS.
    fn tls_of(url: &str, libpq_reads_more: bool) -> Option<bool> {
        for_url_with(url, &libpq(libpq_reads_more, None)).map(|how| how.tls.is_some())
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
            // libpq checks the certificate against a root file that is not there: it refuses.
            "postgres://app@db.internal/db?sslmode=verify-full",
            // Verifying modes in a key-value string, which tokio-postgres refuses.
            "host=db.internal user=app dbname=db sslmode=verify-full",
            // An option tokio-postgres does not know.
            "postgres://app@db.internal/db?sslcert=/etc/client.pem",
            // A root file under `require`: libpq checks the chain then; keep its way.
            "postgres://app@db.internal/db?sslmode=require&sslrootcert=/etc/ca.pem",
            // TLS with no host name to give the handshake, or partly over a socket.
            "hostaddr=10.0.0.5 user=app dbname=db",
            "host=/var/run/postgresql,db.internal user=app dbname=db sslmode=require",
            "not a url",
        ] {
            assert_eq!(tls_of(url, false), None, "{url}");
        }
        // PGSSL* settings, or a default root certificate file, that libpq would read where it
        // uses TLS; on this machine's loopback the connection stays plain as before.
        assert_eq!(tls_of("postgres://app@db.internal/db", true), None);
        assert_eq!(
            tls_of("postgres://postgres@127.0.0.1/db?sslmode=require", true),
            None
        );
        assert_eq!(
            tls_of("postgres://postgres@127.0.0.1/db", true),
            Some(false)
        );
        let dir = tempfile_dir("root-crt");
        std::fs::copy(UNRELATED_ROOT, dir.join(ROOT_CERT)).expect("copy");
        let with_root = libpq(false, Some(&dir));
        let tls = |url: &str| for_url_with(url, &with_root).map(|how| how.tls.is_some());
        assert_eq!(tls("postgres://app@db.internal/db?sslmode=require"), None);
        assert_eq!(tls("postgres://postgres@127.0.0.1/db"), Some(false));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn verifying_modes_check_against_the_root_file_libpq_would_read() {
        let named = format!(
            "postgres://app@db.internal:5433/db?application_name=x&sslmode=verify-ca&sslrootcert={}",
            UNRELATED_ROOT.replace('/', "%2F")
        );
        let (url, verify) = verify_options(&named, &libpq(false, None)).expect("supported");
        assert_eq!(
            url,
            "postgres://app@db.internal:5433/db?application_name=x&sslmode=require"
        );
        assert_eq!(
            verify,
            Some(Verify {
                host_name: false,
                roots: PathBuf::from(UNRELATED_ROOT)
            })
        );
        let how = for_url_with(&named, &libpq(false, None)).expect("own connections");
        assert!(how.tls.is_some());
        assert_eq!(how.config.get_ssl_mode(), SslMode::Require);

        // No root file named: libpq's default one, when it is there.
        let dir = tempfile_dir("verify");
        let default_only = libpq(false, Some(&dir));
        let full = "postgres://app@db.internal/db?sslmode=verify-full";
        assert!(for_url_with(full, &default_only).is_none());
        std::fs::copy(UNRELATED_ROOT, dir.join(ROOT_CERT)).expect("copy");
        let (_, verify) = verify_options(full, &default_only).expect("supported");
        assert_eq!(
            verify,
            Some(Verify {
                host_name: true,
                roots: dir.join(ROOT_CERT)
            })
        );
        assert!(for_url_with(full, &default_only).is_some_and(|how| how.tls.is_some()));
        // Over a Unix-domain socket libpq uses no TLS, verifying mode or not.
        let socket = "postgres://app@%2Fvar%2Frun%2Fpostgresql/db?sslmode=verify-full";
        assert!(for_url_with(socket, &default_only).is_some_and(|how| how.tls.is_none()));

        // What libpq would check beyond the roots, or roots this crate cannot read: its way.
        assert!(for_url_with(full, &libpq(true, Some(&dir))).is_none());
        let not_pem = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        for roots in ["system", "/nonexistent/root.crt", not_pem] {
            let url = format!("{full}&sslrootcert={roots}");
            assert!(for_url_with(&url, &default_only).is_none(), "{roots}");
        }
        std::fs::write(dir.join(ROOT_CRL), "").expect("crl");
        assert!(for_url_with(full, &default_only).is_none());
        std::fs::remove_dir_all(&dir).ok();
    }

    /// A new empty folder for one test's default files.
    fn tempfile_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "worker-pg-{name}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    /// The test server has TLS on (as this machine's PostgreSQL, which libpq's `prefer` finds):
    /// `require` encrypts the worker's connection, while on loopback `prefer` keeps it plain.
    #[actix_web::test]
    async fn require_encrypts_and_loopback_prefer_does_not() {
        let Some(admin) = persistence::db::test_database_url() else {
            return;
        };
        let separator = if admin.contains('?') { '&' } else { '?' };
        for mode in ["require", "prefer"] {
            let url = format!("{admin}{separator}sslmode={mode}");
            let how = for_url_with(&url, &libpq(false, None)).expect("own connections");
            // Plain only for `prefer` on this machine.
            let encrypted = how.tls.is_some();
            assert_eq!(
                encrypted,
                mode == "require" || !on_this_machine(&how.config)
            );
            let client = how.open("test").await.expect("connect");
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

    /// Each verifying URL gives a worker's connection exactly when libpq connects, against the
    /// test server's own certificate (self-signed for `localhost` on these machines) and against
    /// a root it does not come from.
    #[actix_web::test]
    async fn verifying_modes_connect_where_libpq_does() {
        let Some(admin) = persistence::db::test_database_url() else {
            return;
        };
        let plain = for_url_with(&admin, &libpq(false, None)).expect("own connections");
        let client = plain.open("test").await.expect("connect");
        let pem: String = client
            .query_one("SELECT pg_read_file(current_setting('ssl_cert_file'))", &[])
            .await
            .expect("the server's certificate (superuser)")
            .get(0);
        let dir = tempfile_dir("server-cert");
        let server_root = dir.join("server.pem");
        std::fs::write(&server_root, pem).expect("write");
        let mut url = url::Url::parse(&admin).expect("TEST_DATABASE_URL is a URL");
        let mut cases = Vec::new();
        for (host, mode, roots) in [
            ("127.0.0.1", "verify-ca", server_root.as_path()),
            ("localhost", "verify-full", server_root.as_path()),
            ("127.0.0.1", "verify-full", server_root.as_path()),
            (
                "127.0.0.1",
                "verify-ca",
                std::path::Path::new(UNRELATED_ROOT),
            ),
        ] {
            url.set_host(Some(host)).expect("host");
            url.query_pairs_mut()
                .clear()
                .append_pair("sslmode", mode)
                .append_pair("sslrootcert", &roots.to_string_lossy());
            let how = for_url_with(url.as_str(), &libpq(false, None)).expect("own connections");
            let own = match how.open("test").await {
                Ok(c) => c
                    .query_one(
                        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                        &[],
                    )
                    .await
                    .expect("pg_stat_ssl")
                    .get::<_, bool>(0),
                Err(_) => false,
            };
            let libpq_connects = persistence::db::open_one(url.as_str()).is_ok();
            assert_eq!(own, libpq_connects, "{host} {mode} {}", roots.display());
            cases.push(own);
        }
        std::fs::remove_dir_all(&dir).ok();
        // The chain to the server's own certificate holds; the unrelated root does not.
        assert!(cases[0], "verify-ca against the server's certificate");
        assert!(!cases[3], "verify-ca against an unrelated root");
    }
}

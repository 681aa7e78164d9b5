//! Configuration from environment variables. Every variable is documented in README.md
//! ("Configuration"); `Config::from_env` refuses unsafe combinations with a message naming the
//! setting.

use domain::assurance::Assurance;
use std::collections::HashMap;
use thiserror::Error;
use url::Url;

#[derive(Debug, Clone)]
pub struct Config {
    pub bind_address: String,
    pub port: u16,
    /// The URL citizens reach the server at; the OIDC redirect URI is `<public_url>/auth/callback`.
    pub public_url: Url,
    pub database_url: String,
    pub database_max_connections: u32,
    pub oidc_issuer: Url,
    pub oidc_client_id: String,
    pub oidc_client_secret: String,
    /// `acr_values` requested at login when the caller asks for none.
    pub oidc_acr_values: Assurance,
    /// The assurance a session needs for any state-changing request.
    pub required_acr: Assurance,
    pub post_login_redirect: String,
    pub session_idle_minutes: i64,
    pub session_absolute_minutes: i64,
    pub cookie_secure: bool,
    pub terms_version: String,
    pub allow_synthetic_ids: bool,
    pub dev_mode: bool,
    pub service_token_issuers: Vec<Url>,
    pub service_token_audience: String,
    pub service_token_algorithms: Vec<jsonwebtoken::Algorithm>,
    pub service_token_leeway_seconds: u64,
    pub max_json_body_bytes: usize,
    pub log_json: bool,
    /// A population register extract (docs/REGISTER.md) that `serve` imports at start-up.
    /// A PKCS#8 PEM P-256 key that signs proofs of representation; an ephemeral key when unset.
    pub proof_signing_key_file: Option<std::path::PathBuf>,
    pub register_extract: Option<std::path::PathBuf>,
    /// How often the server orders due summary-care-record purges; 0 disables the timer (run
    /// `consent-portal order-purges` instead).
    pub purge_interval_seconds: u64,
    /// How often the webhook worker fans out new events and sends due deliveries, in
    /// milliseconds; 0 turns the worker off.
    pub webhook_interval_ms: u64,
    /// The first retry's delay; each further retry doubles it (with jitter), up to an hour.
    pub webhook_retry_base_seconds: u64,
    /// Attempts before a delivery is given up.
    pub webhook_max_attempts: u32,
    /// How long one delivery attempt may take.
    pub webhook_timeout_seconds: u64,
    /// 32 random bytes, base64, that seal webhook signing secrets at rest
    /// (`crate::webhook_secrets`); unset: secrets are stored as issued.
    pub webhook_secret_key_file: Option<std::path::PathBuf>,
    /// Where email goes: `smtp://host:port` (plain, a local sink), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS relay) or `smtps://user:pass@host:465`. Never logged.
    pub smtp_url: Option<String>,
    /// Without `SMTP_URL`: a folder where each message is written as an .eml file (development).
    pub mail_dir: Option<std::path::PathBuf>,
    pub mail_from: String,
    /// How often the email worker sends due messages, in milliseconds; 0 turns it off.
    pub notify_interval_ms: u64,
    pub notify_retry_base_seconds: u64,
    pub notify_max_attempts: u32,
    /// How often reminders (restore deadline, expiring powers of attorney, children's birthdays)
    /// are planned; 0 turns it off.
    pub reminder_interval_seconds: u64,
    /// How long usage-log entries are kept once the terms consent is withdrawn.
    pub usage_log_retention_days: i64,
    /// How many decision inputs a server keeps in memory (`crate::decision_cache`); 0 keeps none.
    pub decision_cache_entries: usize,
    /// HTTP worker threads (each an event loop); 0: one per CPU, actix-web's default.
    pub http_workers: usize,
}

#[derive(Debug, Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_map(&std::env::vars().collect())
    }

    /// Reads the configuration from `vars` (the environment, or a test's map).
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let get = |k: &str| vars.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let or = |k: &str, d: &str| get(k).unwrap_or(d).to_owned();
        let parse_num = |k: &str, d: u64| -> Result<u64, ConfigError> {
            match get(k) {
                None => Ok(d),
                Some(v) => v
                    .parse()
                    .map_err(|_| ConfigError(format!("{k} must be a whole number, got {v:?}"))),
            }
        };
        let parse_bool = |k: &str| -> Result<bool, ConfigError> {
            match get(k) {
                None => Ok(false),
                Some("true" | "1" | "yes") => Ok(true),
                Some("false" | "0" | "no") => Ok(false),
                Some(v) => Err(ConfigError(format!("{k} must be true or false, got {v:?}"))),
            }
        };
        let parse_url = |k: &str, d: &str| -> Result<Url, ConfigError> {
            let v = or(k, d);
            Url::parse(&v).map_err(|e| ConfigError(format!("{k} is not a URL ({e}): {v:?}")))
        };
        let parse_acr = |k: &str| -> Result<Assurance, ConfigError> {
            let v = or(k, Assurance::High.as_acr());
            Assurance::from_acr(&v).ok_or_else(|| {
                ConfigError(format!(
                    "{k} must be idporten-loa-substantial or idporten-loa-high, got {v:?}"
                ))
            })
        };

        let port = u16::try_from(parse_num("PORT", 8080)?)
            .map_err(|_| ConfigError("PORT must be at most 65535".into()))?;
        let public_url = parse_url("PUBLIC_URL", &format!("http://127.0.0.1:{port}"))?;
        let oidc_issuer = parse_url("OIDC_ISSUER", "http://127.0.0.1:9090")?;
        let service_token_issuers = match get("SERVICE_TOKEN_ISSUERS") {
            None => vec![oidc_issuer.clone()],
            Some(list) => list
                .split(',')
                .map(|s| {
                    Url::parse(s.trim()).map_err(|e| {
                        ConfigError(format!("SERVICE_TOKEN_ISSUERS has a bad URL ({e}): {s:?}"))
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let service_token_algorithms = or("SERVICE_TOKEN_ALGORITHMS", "ES256,RS256")
            .split(',')
            .map(|a| match a.trim() {
                "ES256" => Ok(jsonwebtoken::Algorithm::ES256),
                "ES384" => Ok(jsonwebtoken::Algorithm::ES384),
                "RS256" => Ok(jsonwebtoken::Algorithm::RS256),
                "PS256" => Ok(jsonwebtoken::Algorithm::PS256),
                "EdDSA" => Ok(jsonwebtoken::Algorithm::EdDSA),
                other => Err(ConfigError(format!(
                    "SERVICE_TOKEN_ALGORITHMS may list ES256, ES384, RS256, PS256, EdDSA (asymmetric only), got {other:?}"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let log_format = or("LOG_FORMAT", "text");
        if log_format != "text" && log_format != "json" {
            return Err(ConfigError(format!(
                "LOG_FORMAT must be text or json, got {log_format:?}"
            )));
        }
        let cookie_secure = match get("COOKIE_SECURE") {
            None => true,
            Some(_) => parse_bool("COOKIE_SECURE")?,
        };

        let config = Config {
            bind_address: or("BIND_ADDRESS", "127.0.0.1"),
            port,
            public_url,
            database_url: or("DATABASE_URL", "data/portal.db"),
            database_max_connections: u32::try_from(parse_num("DATABASE_MAX_CONNECTIONS", 8)?)
                .map_err(|_| ConfigError("DATABASE_MAX_CONNECTIONS is too large".into()))?,
            oidc_issuer,
            oidc_client_id: or("OIDC_CLIENT_ID", "consent-portal"),
            oidc_client_secret: or("OIDC_CLIENT_SECRET", "dev-portal-secret"),
            oidc_acr_values: parse_acr("OIDC_ACR_VALUES")?,
            required_acr: parse_acr("REQUIRED_ACR")?,
            post_login_redirect: or("POST_LOGIN_REDIRECT", "/"),
            session_idle_minutes: i64::try_from(parse_num("SESSION_IDLE_MINUTES", 30)?)
                .map_err(|_| ConfigError("SESSION_IDLE_MINUTES is too large".into()))?,
            session_absolute_minutes: i64::try_from(parse_num("SESSION_ABSOLUTE_MINUTES", 480)?)
                .map_err(|_| ConfigError("SESSION_ABSOLUTE_MINUTES is too large".into()))?,
            cookie_secure,
            terms_version: or("TERMS_VERSION", "2026-01"),
            allow_synthetic_ids: parse_bool("ALLOW_SYNTHETIC_IDS")?,
            dev_mode: parse_bool("DEV_MODE")?,
            service_token_issuers,
            service_token_audience: or("SERVICE_TOKEN_AUDIENCE", "urn:consent-portal:api"),
            service_token_algorithms,
            service_token_leeway_seconds: parse_num("SERVICE_TOKEN_LEEWAY_SECONDS", 5)?,
            max_json_body_bytes: usize::try_from(parse_num("MAX_JSON_BODY_BYTES", 16 * 1024)?)
                .map_err(|_| ConfigError("MAX_JSON_BODY_BYTES is too large".into()))?,
            log_json: log_format == "json",
            register_extract: get("REGISTER_EXTRACT").map(std::path::PathBuf::from),
            proof_signing_key_file: get("PROOF_SIGNING_KEY_FILE").map(std::path::PathBuf::from),
            purge_interval_seconds: parse_num("PURGE_INTERVAL_SECONDS", 300)?,
            webhook_interval_ms: parse_num("WEBHOOK_INTERVAL_MS", 1000)?,
            webhook_retry_base_seconds: parse_num("WEBHOOK_RETRY_BASE_SECONDS", 10)?.max(1),
            webhook_max_attempts: u32::try_from(parse_num("WEBHOOK_MAX_ATTEMPTS", 8)?)
                .map_err(|_| ConfigError("WEBHOOK_MAX_ATTEMPTS is too large".into()))?
                .max(1),
            webhook_timeout_seconds: parse_num("WEBHOOK_TIMEOUT_SECONDS", 10)?.max(1),
            webhook_secret_key_file: get("WEBHOOK_SECRET_KEY_FILE").map(std::path::PathBuf::from),
            smtp_url: get("SMTP_URL").map(str::to_owned),
            mail_dir: get("MAIL_DIR").map(std::path::PathBuf::from),
            mail_from: get("MAIL_FROM")
                .unwrap_or("Helseportal <no-reply@consent-portal.invalid>")
                .to_owned(),
            notify_interval_ms: parse_num("NOTIFY_INTERVAL_MS", 1000)?,
            notify_retry_base_seconds: parse_num("NOTIFY_RETRY_BASE_SECONDS", 10)?.max(1),
            notify_max_attempts: u32::try_from(parse_num("NOTIFY_MAX_ATTEMPTS", 8)?)
                .map_err(|_| ConfigError("NOTIFY_MAX_ATTEMPTS is too large".into()))?
                .max(1),
            reminder_interval_seconds: parse_num("REMINDER_INTERVAL_SECONDS", 300)?,
            usage_log_retention_days: i64::try_from(parse_num("USAGE_LOG_RETENTION_DAYS", 3650)?)
                .map_err(|_| {
                ConfigError("USAGE_LOG_RETENTION_DAYS is too large".into())
            })?,
            decision_cache_entries: usize::try_from(parse_num("DECISION_CACHE_ENTRIES", 100_000)?)
                .map_err(|_| ConfigError("DECISION_CACHE_ENTRIES is too large".into()))?,
            http_workers: usize::try_from(parse_num("HTTP_WORKERS", 0)?)
                .map_err(|_| ConfigError("HTTP_WORKERS is too large".into()))?,
        };
        if config
            .mail_from
            .parse::<lettre::message::Mailbox>()
            .is_err()
        {
            return Err(ConfigError(
                "MAIL_FROM must be an address, e.g. \"Helseportal <no-reply@example.org>\"".into(),
            ));
        }
        config.check_safe()?;
        Ok(config)
    }

    /// Refuses combinations that are only safe on a developer's machine.
    fn check_safe(&self) -> Result<(), ConfigError> {
        let production_issuer = !is_loopback_host(&self.oidc_issuer)
            || self
                .service_token_issuers
                .iter()
                .any(|u| !is_loopback_host(u));
        if self.dev_mode && production_issuer {
            return Err(ConfigError(
                "DEV_MODE=true (a settable clock) is refused with a non-loopback OIDC_ISSUER or SERVICE_TOKEN_ISSUERS".into(),
            ));
        }
        if self.allow_synthetic_ids && production_issuer {
            return Err(ConfigError(
                "ALLOW_SYNTHETIC_IDS=true is refused with a non-loopback OIDC_ISSUER or SERVICE_TOKEN_ISSUERS".into(),
            ));
        }
        let public_loopback = is_loopback_host(&self.public_url);
        let plain_http_loopback = public_loopback && self.public_url.scheme() == "http";
        if !self.cookie_secure && !plain_http_loopback {
            return Err(ConfigError(
                "COOKIE_SECURE=false is allowed only with a plain-http loopback PUBLIC_URL".into(),
            ));
        }
        if self.public_url.scheme() != "https" && !public_loopback {
            return Err(ConfigError(
                "PUBLIC_URL must be https unless it is a loopback address".into(),
            ));
        }
        if self.session_idle_minutes == 0 || self.session_absolute_minutes == 0 {
            return Err(ConfigError(
                "SESSION_IDLE_MINUTES and SESSION_ABSOLUTE_MINUTES must be above zero".into(),
            ));
        }
        if self.terms_version.len() > 64 {
            return Err(ConfigError(
                "TERMS_VERSION is longer than 64 characters".into(),
            ));
        }
        Ok(())
    }

    pub fn redirect_uri(&self) -> String {
        format!(
            "{}/auth/callback",
            self.public_url.as_str().trim_end_matches('/')
        )
    }

    pub fn session_policy(&self) -> domain::session::SessionPolicy {
        domain::session::SessionPolicy {
            idle: chrono::Duration::minutes(self.session_idle_minutes),
            absolute: chrono::Duration::minutes(self.session_absolute_minutes),
        }
    }

    pub fn id_policy(&self) -> domain::identity::IdPolicy {
        domain::identity::IdPolicy {
            allow_synthetic: self.allow_synthetic_ids,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_are_safe_and_local() {
        let c = Config::from_map(&vars(&[])).unwrap();
        assert!(!c.dev_mode);
        assert!(!c.allow_synthetic_ids);
        assert!(c.cookie_secure);
        assert_eq!(c.redirect_uri(), "http://127.0.0.1:8080/auth/callback");
        assert_eq!(c.required_acr, Assurance::High);
        assert_eq!(c.register_extract, None);
        assert_eq!(c.http_workers, 0, "one worker per CPU unless asked");
        let c = Config::from_map(&vars(&[("REGISTER_EXTRACT", "dev/idp/persons.json")])).unwrap();
        assert_eq!(
            c.register_extract.as_deref(),
            Some(std::path::Path::new("dev/idp/persons.json"))
        );
    }

    #[test]
    fn dev_clock_with_a_production_issuer_is_refused_naming_the_setting() {
        let err = Config::from_map(&vars(&[
            ("DEV_MODE", "true"),
            ("OIDC_ISSUER", "https://idporten.example"),
        ]))
        .unwrap_err();
        assert!(err.0.contains("DEV_MODE"), "{err}");
        let err = Config::from_map(&vars(&[
            ("DEV_MODE", "true"),
            ("SERVICE_TOKEN_ISSUERS", "https://helseid.example"),
        ]))
        .unwrap_err();
        assert!(err.0.contains("DEV_MODE"), "{err}");
    }

    #[test]
    fn synthetic_numbers_with_a_production_issuer_are_refused() {
        let err = Config::from_map(&vars(&[
            ("ALLOW_SYNTHETIC_IDS", "true"),
            ("OIDC_ISSUER", "https://idporten.example"),
        ]))
        .unwrap_err();
        assert!(err.0.contains("ALLOW_SYNTHETIC_IDS"), "{err}");
    }

    #[test]
    fn plain_http_cookies_only_on_loopback() {
        assert!(Config::from_map(&vars(&[("COOKIE_SECURE", "false")])).is_ok());
        let err = Config::from_map(&vars(&[
            ("COOKIE_SECURE", "false"),
            ("PUBLIC_URL", "https://portal.example"),
        ]))
        .unwrap_err();
        assert!(err.0.contains("COOKIE_SECURE"), "{err}");
        let err = Config::from_map(&vars(&[("PUBLIC_URL", "http://portal.example")])).unwrap_err();
        assert!(err.0.contains("PUBLIC_URL"), "{err}");
    }

    #[test]
    fn symmetric_algorithms_cannot_be_configured() {
        let err = Config::from_map(&vars(&[("SERVICE_TOKEN_ALGORITHMS", "HS256")])).unwrap_err();
        assert!(err.0.contains("SERVICE_TOKEN_ALGORITHMS"), "{err}");
    }

    #[test]
    fn bad_values_name_their_setting() {
        for (k, v) in [
            ("PORT", "eighty"),
            ("DEV_MODE", "maybe"),
            ("REQUIRED_ACR", "Level4"),
            ("LOG_FORMAT", "xml"),
            ("HTTP_WORKERS", "-1"),
        ] {
            let err = Config::from_map(&vars(&[(k, v)])).unwrap_err();
            assert!(err.0.contains(k), "{k}: {err}");
        }
    }
}

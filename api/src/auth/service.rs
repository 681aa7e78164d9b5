//! Downstream health services: OAuth2 client-credentials JWT access tokens.
//!
//! A token is accepted only when: its header names an algorithm from the configured, asymmetric
//! list (`alg: none` and HS* never parse or never match); it carries no `jku`, `x5u`, `jwk` or
//! `x5c` header (keys come only from the JWKS of a configured issuer, found by `kid`); its `typ`
//! is `at+jwt` (RFC 9068, so an ID token is not an access token); its signature verifies with
//! that issuer's key; `iss` is that issuer; `aud` contains the configured audience; `exp` is
//! present and not past, `nbf` not in the future, with a few seconds of leeway; and it has the
//! scope the endpoint needs. Anything else is a 401 that says only "invalid token".

use actix_web::http::header;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{decode, decode_header, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;
use url::Url;

use crate::config::Config;
use crate::error::ApiError;
use crate::state::AppState;

/// A scope an endpoint requires.
pub trait RequiredScope {
    const SCOPE: &'static str;
}

/// Read consent decisions and states.
pub struct ConsentRead;
impl RequiredScope for ConsentRead {
    const SCOPE: &'static str = "consent:read";
}

/// Report accesses into citizens' usage logs.
pub struct AccessLogWrite;
impl RequiredScope for AccessLogWrite {
    const SCOPE: &'static str = "access-log:write";
}

/// Register and lift restrictions on guardians' access to a child (health personnel systems).
pub struct ChildRestrictionsWrite;
impl RequiredScope for ChildRestrictionsWrite {
    const SCOPE: &'static str = "child-restrictions:write";
}

/// Read the change feed.
pub struct DataRequestsHandle;
impl RequiredScope for DataRequestsHandle {
    const SCOPE: &'static str = "data-requests:handle";
}

pub struct FeedRead;
impl RequiredScope for FeedRead {
    const SCOPE: &'static str = "feed:read";
}

/// An authenticated downstream service holding scope `S`.
#[derive(Debug, Clone)]
pub struct ServiceClient<S> {
    pub client_id: String,
    pub scopes: Vec<String>,
    _scope: PhantomData<S>,
}

#[derive(Debug, Deserialize)]
struct AccessClaims {
    client_id: Option<String>,
    sub: Option<String>,
    scope: Option<String>,
    exp: u64,
}

/// A token that verified: who it is, what it may, until when (UNIX seconds, leeway included).
#[derive(Clone)]
struct Verified {
    client_id: String,
    scopes: Vec<String>,
    valid_until: u64,
}

/// Tokens already verified, by the SHA-256 of their text. A machine client sends the same token
/// for its whole life (minutes), and checking its ES256/RS256 signature again on every request
/// cost more than the decision it guards (docs/BENCHMARK.md). The same bytes verify the same way
/// until they expire, so an entry lives until the token's `exp`; a key withdrawn from an issuer's
/// JWKS stops new tokens at once and the cached ones at their `exp`. Bounded: when full, expired
/// entries go, and if none had expired, all do.
struct VerifiedCache {
    entries: std::sync::Mutex<HashMap<[u8; 32], Verified>>,
}

const VERIFIED_CACHE_SIZE: usize = 10_000;

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl VerifiedCache {
    fn key(token: &str) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        Sha256::digest(token.as_bytes()).into()
    }

    fn get(&self, token: &str) -> Option<Verified> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(&Self::key(token))
            .filter(|v| unix_now() < v.valid_until)
            .cloned()
    }

    fn put(&self, token: &str, v: Verified) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= VERIFIED_CACHE_SIZE {
            let now = unix_now();
            entries.retain(|_, e| now < e.valid_until);
            if entries.len() >= VERIFIED_CACHE_SIZE {
                entries.clear();
            }
        }
        entries.insert(Self::key(token), v);
    }
}

struct KeyEntry {
    issuer: String,
    jwk: Jwk,
}

/// The trusted issuers' keys, by `kid`, refreshed when an unknown `kid` arrives: at most every
/// 30 seconds after a refresh that reached every issuer (so a flood of made-up `kid`s cannot make
/// us hammer them), and after one second when an issuer could not be reached (so a provider that
/// was briefly down does not lock services out for long).
pub struct ServiceTokens {
    issuers: Vec<Url>,
    audience: String,
    algorithms: Vec<jsonwebtoken::Algorithm>,
    leeway: u64,
    http: reqwest::Client,
    /// The keys, and when the next refresh may run.
    keys: RwLock<(HashMap<String, KeyEntry>, Option<Instant>)>,
    verified: VerifiedCache,
}

const REFRESH_AT_MOST_EVERY: Duration = Duration::from_secs(30);
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

impl ServiceTokens {
    pub fn new(config: &Config, http: reqwest::Client) -> ServiceTokens {
        ServiceTokens {
            issuers: config.service_token_issuers.clone(),
            audience: config.service_token_audience.clone(),
            algorithms: config.service_token_algorithms.clone(),
            leeway: config.service_token_leeway_seconds,
            http,
            keys: RwLock::new((HashMap::new(), None)),
            verified: VerifiedCache {
                entries: std::sync::Mutex::new(HashMap::new()),
            },
        }
    }

    async fn fetch_jwks(&self, issuer: &Url) -> Result<JwkSet, String> {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let base = issuer.as_str().trim_end_matches('/');
        let discovery: Discovery = self
            .http
            .get(format!("{base}/.well-known/openid-configuration"))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("discovery of {base}: {e}"))?
            .json()
            .await
            .map_err(|e| format!("discovery of {base}: {e}"))?;
        if discovery.issuer.trim_end_matches('/') != base {
            return Err(format!(
                "{base} names another issuer in its discovery document"
            ));
        }
        self.http
            .get(&discovery.jwks_uri)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("JWKS of {base}: {e}"))?
            .json()
            .await
            .map_err(|e| format!("JWKS of {base}: {e}"))
    }

    async fn refresh(&self) {
        let mut fresh = HashMap::new();
        let mut all_reached = true;
        for issuer in &self.issuers {
            match self.fetch_jwks(issuer).await {
                Ok(set) => {
                    for jwk in set.keys {
                        if let Some(kid) = jwk.common.key_id.clone() {
                            let issuer = issuer.as_str().trim_end_matches('/').to_owned();
                            fresh.insert(kid, KeyEntry { issuer, jwk });
                        }
                    }
                }
                Err(e) => {
                    all_reached = false;
                    tracing::warn!(error = %e, "could not load a service-token issuer's keys");
                }
            }
        }
        let mut keys = self.keys.write().await;
        // Keep known keys when an issuer is briefly unreachable.
        keys.0.extend(fresh);
        let wait = if all_reached {
            REFRESH_AT_MOST_EVERY
        } else {
            RETRY_AFTER_FAILURE
        };
        keys.1 = Some(Instant::now() + wait);
    }

    async fn key_for(&self, kid: &str) -> Option<(String, Jwk)> {
        let lookup = |map: &HashMap<String, KeyEntry>| {
            map.get(kid).map(|e| (e.issuer.clone(), e.jwk.clone()))
        };
        {
            let keys = self.keys.read().await;
            if let Some(found) = lookup(&keys.0) {
                return Some(found);
            }
            if keys.1.is_some_and(|next| Instant::now() < next) {
                return None;
            }
        }
        self.refresh().await;
        lookup(&self.keys.read().await.0)
    }

    /// Verifies `token`; returns the client id and its scopes.
    pub async fn verify(&self, token: &str) -> Result<(String, Vec<String>), ApiError> {
        if let Some(v) = self.verified.get(token) {
            return Ok((v.client_id, v.scopes));
        }
        let verified = self.verify_signature(token).await?;
        self.verified.put(token, verified.clone());
        Ok((verified.client_id, verified.scopes))
    }

    async fn verify_signature(&self, token: &str) -> Result<Verified, ApiError> {
        let bad = |why: &str| ApiError::InvalidToken(why.to_owned());
        let head = decode_header(token).map_err(|e| bad(&format!("header: {e}")))?;
        if !self.algorithms.contains(&head.alg) {
            return Err(bad(&format!("algorithm {:?} is not accepted", head.alg)));
        }
        if head.jku.is_some() || head.x5u.is_some() || head.jwk.is_some() || head.x5c.is_some() {
            return Err(bad("the header names its own key source"));
        }
        if !head.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
        }) {
            return Err(bad("typ is not at+jwt"));
        }
        let kid = head.kid.ok_or_else(|| bad("no kid"))?;
        let (issuer, jwk) = self
            .key_for(&kid)
            .await
            .ok_or_else(|| bad("kid of no trusted issuer"))?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| bad(&format!("key: {e}")))?;
        let mut validation = Validation::new(head.alg);
        validation.algorithms = vec![head.alg];
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = self.leeway;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let data = decode::<AccessClaims>(token, &key, &validation)
            .map_err(|e| bad(&format!("claims: {e}")))?;
        let client_id = data
            .claims
            .client_id
            .or(data.claims.sub)
            .ok_or_else(|| bad("no client_id"))?;
        let scopes = data
            .claims
            .scope
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        Ok(Verified {
            client_id,
            scopes,
            valid_until: data.claims.exp.saturating_add(self.leeway),
        })
    }
}

impl<S: RequiredScope + 'static> FromRequest for ServiceClient<S> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_owned());
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal("no app state".into()))?;
            let token = token.ok_or_else(|| ApiError::InvalidToken("no bearer token".into()))?;
            let (client_id, scopes) = state.service_tokens.verify(&token).await?;
            if !scopes.iter().any(|s| s == S::SCOPE) {
                tracing::warn!(target: "security", client_id, scope = S::SCOPE, "service lacks a scope");
                return Err(ApiError::InsufficientScope(S::SCOPE));
            }
            Ok(ServiceClient {
                client_id,
                scopes,
                _scope: PhantomData,
            })
        })
    }
}

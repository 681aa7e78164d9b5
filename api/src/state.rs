//! What every handler can reach: configuration, the database, the clock and the verifiers.

use actix_web::web;
use chrono::{DateTime, Utc};
use domain::clock::Clock;
use persistence::{AnyConnection, Db};
use std::sync::Arc;

use crate::auth::oidc::Oidc;
use crate::auth::proof::ProofSigner;
use crate::auth::service::ServiceTokens;
use crate::clock::DevClock;
use crate::config::Config;
use crate::decision_cache::DecisionCache;
use crate::error::ApiError;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    /// Present only in dev mode.
    pub dev_clock: Option<Arc<DevClock>>,
    pub oidc: Arc<Oidc>,
    pub service_tokens: Arc<ServiceTokens>,
    pub proofs: Arc<ProofSigner>,
    /// Seals webhook signing secrets at rest and opens them to sign.
    pub webhook_secrets: Arc<crate::webhook_secrets::Sealer>,
    /// Decision inputs kept between requests, checked fresh on each (`crate::decision_cache`).
    pub decisions: Arc<DecisionCache>,
    /// What `/metrics` reports (`crate::metrics`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Each server worker's connections for writing openings (`crate::opening_writes`).
    pub openings: Arc<crate::opening_writes::Writers>,
}

impl AppState {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Runs `f` in one database transaction on a blocking thread (retried on write conflicts).
    pub async fn tx<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnMut(&mut AnyConnection) -> Result<T, ApiError> + Send + 'static,
    {
        let db = self.db.clone();
        web::block(move || db.transaction(f))
            .await
            .map_err(|_| ApiError::Internal("the blocking pool is gone".into()))?
    }
}

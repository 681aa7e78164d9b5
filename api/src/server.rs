//! Building and running the HTTP server.

use actix_web::{middleware, web, App, HttpResponse, HttpServer};
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::{oidc::Oidc, proof::ProofSigner, service::ServiceTokens};
use crate::clock::{DevClock, SystemClock};
use crate::config::Config;
use crate::openapi_doc::ApiDoc;
use crate::state::AppState;
use crate::webhook_secrets::Sealer;
use crate::{routes, telemetry};

pub fn http_client() -> std::io::Result<reqwest::Client> {
    reqwest::Client::builder()
        // Never follow redirects on the back channel (openidconnect's advice, and no SSRF hops).
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(std::io::Error::other)
}

pub fn build_state(config: Config, db: persistence::Db) -> std::io::Result<AppState> {
    let http = http_client()?;
    let dev_clock = config.dev_mode.then(|| Arc::new(DevClock::default()));
    let clock: Arc<dyn domain::clock::Clock> = match &dev_clock {
        Some(dev) => dev.clone(),
        None => Arc::new(SystemClock),
    };
    let proofs = ProofSigner::from_config(&config).map_err(std::io::Error::other)?;
    let webhook_secrets = Sealer::from_config(&config).map_err(std::io::Error::other)?;
    webhook_secrets
        .prepare(&db, config.dev_mode)
        .map_err(std::io::Error::other)?;
    Ok(AppState {
        proofs: Arc::new(proofs),
        webhook_secrets: Arc::new(webhook_secrets),
        oidc: Arc::new(Oidc::new(&config, http.clone())),
        service_tokens: Arc::new(ServiceTokens::new(&config, http)),
        decisions: Arc::new(crate::decision_cache::DecisionCache::new(
            db.clone(),
            config.decision_cache_entries,
        )),
        metrics: Arc::new(crate::metrics::Metrics::new()),
        openings: Arc::new(crate::opening_writes::Writers::new(&db)),
        config: Arc::new(config),
        db,
        clock,
        dev_clock,
    })
}

/// Serves until SIGINT/SIGTERM, then finishes in-flight requests (actix's graceful shutdown).
pub async fn serve(state: AppState) -> std::io::Result<()> {
    let addr = (state.config.bind_address.clone(), state.config.port);
    let dev_mode = state.config.dev_mode;
    let workers = state.config.http_workers;
    let data = web::Data::new(state);
    spawn_purge_timer(data.clone());
    crate::webhook_worker::spawn(data.clone());
    crate::notify_worker::spawn(data.clone()).map_err(std::io::Error::other)?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(middleware::from_fn(telemetry::request_context))
            .configure(|cfg| routes::configure(cfg, dev_mode))
            .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", ApiDoc::openapi()))
            .route(
                "/docs",
                web::get().to(|| async {
                    HttpResponse::PermanentRedirect()
                        .insert_header(("location", "/docs/"))
                        .finish()
                }),
            )
            .default_service(web::to(routes::not_found))
    })
    .shutdown_timeout(30);
    let server = if workers > 0 {
        server.workers(workers)
    } else {
        server
    }
    .bind(addr)?;
    for a in server.addrs() {
        // The one line scripts and tests wait for.
        println!("LISTENING http://{a}");
        tracing::info!(address = %a, "listening");
    }
    server.run().await
}

/// Orders due summary-care-record purges every `PURGE_INTERVAL_SECONDS` (0: never), and forgets
/// sessions and idempotency keys past their keeping time (`crate::housekeeping`). Several
/// instances may run it at once: `order_due_purges` orders each purge once whoever runs it, and
/// a row is deleted once.
fn spawn_purge_timer(state: web::Data<AppState>) {
    let seconds = state.config.purge_interval_seconds;
    if seconds == 0 {
        return;
    }
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(std::time::Duration::from_secs(seconds));
        loop {
            tick.tick().await;
            let now = state.now();
            let db = state.db.clone();
            let run = web::block(move || {
                routes::summary_care_record::order_due_purges(&db, now, "scheduler")
            })
            .await;
            match run {
                Ok(Ok(0)) => {}
                Ok(Ok(ordered)) => tracing::info!(ordered, "summary care record purges ordered"),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "ordering purges failed; retried next tick")
                }
                Err(e) => tracing::error!(error = %e, "ordering purges failed; retried next tick"),
            }
            match crate::housekeeping::run(&state).await {
                Ok(f) if f == crate::housekeeping::Forgotten::default() => {}
                Ok(f) => tracing::info!(
                    sessions = f.sessions,
                    idempotency_keys = f.idempotency_keys,
                    "expired rows forgotten"
                ),
                Err(e) => tracing::error!(error = %e, "housekeeping failed; retried next tick"),
            }
        }
    });
}

//! The operator's commands: `serve` (the default), `migrate`, `verify-log`, `openapi`.

use crate::config::Config;
use crate::{server, telemetry};

const USAGE: &str = "usage: consent-portal [serve | migrate | verify-log | openapi]
  serve       run the HTTP server (migrates an embedded SQLite database first)
  migrate     apply pending database migrations and exit
  verify-log  verify every citizen's usage-log hash chain; exit 1 if one is broken
  openapi     print the OpenAPI document
Configuration is read from environment variables; see README.md.";

pub fn main() -> std::process::ExitCode {
    let command = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "serve".to_owned());
    if command == "openapi" {
        print!("{}", crate::openapi_doc::document_json());
        return std::process::ExitCode::SUCCESS;
    }
    if command == "help" || command == "--help" || command == "-h" {
        println!("{USAGE}");
        return std::process::ExitCode::SUCCESS;
    }
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("refusing to start: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    telemetry::init(config.log_json);
    let result = match command.as_str() {
        "serve" => run_serve(config),
        "migrate" => run_migrate(&config).map(|n| {
            tracing::info!(applied = n, "migrations applied");
        }),
        "verify-log" => run_verify(&config),
        other => {
            eprintln!("unknown command {other:?}\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "failed");
            std::process::ExitCode::FAILURE
        }
    }
}

fn connect(config: &Config) -> Result<persistence::Db, String> {
    persistence::Db::connect(&config.database_url, config.database_max_connections)
        .map_err(|e| e.to_string())
}

fn run_migrate(config: &Config) -> Result<usize, String> {
    connect(config)?.migrate().map_err(|e| e.to_string())
}

fn run_serve(config: Config) -> Result<(), String> {
    let db = connect(&config)?;
    // The embedded default migrates itself; PostgreSQL deployments may run `migrate` first, and
    // running it here too is harmless (diesel applies only what is pending, in a transaction).
    let applied = db.migrate().map_err(|e| e.to_string())?;
    tracing::info!(backend = db.backend().name(), applied, "database ready");
    let state = server::build_state(config, db).map_err(|e| e.to_string())?;
    actix_web::rt::System::new()
        .block_on(server::serve(state))
        .map_err(|e| e.to_string())
}

fn run_verify(config: &Config) -> Result<(), String> {
    let db = connect(config)?;
    let mut conn = db.conn().map_err(|e| e.to_string())?;
    let report = persistence::usage_log::verify_all(&mut conn).map_err(|e| e.to_string())?;
    let broken: Vec<_> = report.iter().filter(|r| r.1.is_err()).collect();
    tracing::info!(
        logs = report.len(),
        broken = broken.len(),
        "usage-log chains verified"
    );
    for (subject, result) in &broken {
        if let Err(e) = result {
            tracing::error!(subject_id = %subject, error = %e, "broken usage-log chain");
        }
    }
    if broken.is_empty() {
        Ok(())
    } else {
        Err(format!("{} usage-log chain(s) broken", broken.len()))
    }
}

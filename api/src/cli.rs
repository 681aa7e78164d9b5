//! The operator's commands: `serve` (the default), `migrate`, `verify-log`, `import-register`,
//! `order-purges`, `openapi`.

use crate::config::Config;
use crate::{server, telemetry};

const USAGE: &str =
    "usage: consent-portal [serve | migrate | verify-log | import-register <FILE> | order-purges | openapi]
  serve            run the HTTP server (migrates the database first; imports REGISTER_EXTRACT
                   when set)
  migrate          apply pending database migrations and exit
  verify-log       verify every citizen's usage-log hash chain; exit 1 if one is broken
  import-register  make the stored population register equal to the extract FILE
                   (docs/REGISTER.md); print what changed; exit 1 on a bad file
  order-purges     order the deletion of every summary care record whose 30-day restore
                   window has passed (once each; safe beside running servers); print how many
  openapi          print the OpenAPI document
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
        "order-purges" => run_order_purges(&config),
        "import-register" => match std::env::args().nth(2) {
            Some(file) => run_import_register(&config, std::path::Path::new(&file)),
            None => {
                eprintln!("import-register needs the extract's file path\n{USAGE}");
                return std::process::ExitCode::from(2);
            }
        },
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
    if let Some(path) = &config.register_extract {
        let report = import_register(&db, &config, path)?;
        tracing::info!(
            added = report.added,
            changed = report.changed,
            removed = report.removed,
            unchanged = report.unchanged,
            "population register imported"
        );
    }
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

/// Reads, validates and imports a register extract in one transaction. Errors name the entry
/// and field, never a number.
fn import_register(
    db: &persistence::Db,
    config: &Config,
    path: &std::path::Path,
) -> Result<persistence::register::ImportReport, String> {
    use domain::clock::Clock;
    let bytes = std::fs::read(path)
        .map_err(|e| format!("cannot read the register extract ({}): {e}", path.display()))?;
    let persons = persistence::register::parse_extract(&bytes, config.id_policy())
        .map_err(|e| e.to_string())?;
    let now = crate::clock::SystemClock.now();
    db.transaction(|conn| persistence::register::import(conn, &persons, now))
        .map_err(|e| format!("importing the register extract failed: {e}"))
}

fn run_order_purges(config: &Config) -> Result<(), String> {
    use domain::clock::Clock;
    let db = connect(config)?;
    if !db.is_ready() {
        return Err(
            "the database is not reachable or has pending migrations (run `consent-portal migrate`)"
                .into(),
        );
    }
    let now = crate::clock::SystemClock.now();
    let ordered = crate::routes::summary_care_record::order_due_purges(&db, now, "operator")
        .map_err(|e| e.to_string())?;
    println!("purges ordered: {ordered}");
    Ok(())
}

fn run_import_register(config: &Config, path: &std::path::Path) -> Result<(), String> {
    let db = connect(config)?;
    if !db.is_ready() {
        return Err(
            "the database is not reachable or has pending migrations (run `consent-portal migrate`)"
                .into(),
        );
    }
    let report = import_register(&db, config, path)?;
    println!("population register imported: {report}");
    Ok(())
}

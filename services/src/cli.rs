//! The command line: `kurslogg serve | migrate | demo`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use kurslogg_domain::clock::SystemClock;

use crate::app::Kurslogg;
use crate::config::{MailSettings, Overrides, Settings, Storage};
use crate::http::{self, HttpSettings};
use crate::mail::dispatch::Dispatcher;
use crate::mail::transport::Transport;
use crate::scheduler::Scheduler;
use crate::store::{EventLog, StoreError};

/// Kurslogg: course packages, registrations and attendance for regional federations.
#[derive(Debug, Parser)]
#[command(name = "kurslogg", version, about)]
pub struct Cli {
    /// TOML configuration file (default: ./kurslogg.toml if present).
    #[arg(long, global = true, env = "KURSLOGG_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite file and local data [env: KURSLOGG_DATA_DIR] [default: ./data].
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on [env: KURSLOGG_LISTEN] [default: 127.0.0.1:8080].
    #[arg(long, global = true)]
    pub listen: Option<SocketAddr>,
    /// `postgres://…` to use PostgreSQL instead of SQLite [env: KURSLOGG_DATABASE_URL].
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API (migrates first).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Load a realistic Fyrbodal autumn package, run a term through it and print what happened.
    Demo,
    /// Projections: where each stands, or rebuild them from the whole log.
    Projections {
        /// What to do.
        #[command(subcommand)]
        action: ProjectionsAction,
    },
}

/// `kurslogg projections …`
#[derive(Debug, Subcommand)]
pub enum ProjectionsAction {
    /// Each projection's position in the log and how far behind it is.
    Status,
    /// Empty a projection's views and build them again from the whole log.
    Rebuild {
        /// One projection (default: all). Known: enrolment, audit, notices.
        name: Option<String>,
    },
}

/// Errors that end the program.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// I/O failed (binding the port, creating the data directory).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The demo failed.
    #[error("demo: {0}")]
    Demo(String),
    /// The command line asked for something that does not exist.
    #[error("{0}")]
    Usage(String),
    /// A projection failed.
    #[error("projection: {0}")]
    Projection(#[from] kurslogg_projections::ProjectionError),
    /// The mail transport cannot be set up.
    #[error(transparent)]
    Mail(#[from] crate::mail::transport::TransportError),
}

/// How often the dispatcher looks for letters that are due.
const DISPATCH_EVERY: Duration = Duration::from_secs(1);

/// The configured mail transport: SMTP, or files under `<data dir>/outbox/`.
fn mail_transport(settings: &Settings) -> Result<(MailSettings, Transport), RunError> {
    let mail = settings.mail()?;
    let transport = Transport::from_settings(&mail, &settings.data_dir.join("outbox"))?;
    Ok((mail, transport))
}

/// Opens the configured event log and migrates it.
pub async fn open_log(settings: &Settings) -> Result<EventLog, RunError> {
    let options = crate::store::LogOptions {
        max_connections: settings.database_max_connections,
        sqlite_synchronous_full: settings.sqlite_synchronous == "full",
    };
    let log = match settings.storage()? {
        Storage::Sqlite(path) => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            tracing::info!(path = %path.display(), "event log: SQLite");
            EventLog::open_sqlite(&path, &options).await?
        }
        Storage::Postgres(url) => {
            tracing::info!("event log: PostgreSQL");
            EventLog::connect_postgres(url.expose(), &options).await?
        }
    };
    log.migrate().await?;
    Ok(log)
}

/// Runs the CLI.
pub async fn run(cli: Cli) -> Result<(), RunError> {
    let overrides =
        Overrides { listen: cli.listen, data_dir: cli.data_dir.clone(), database_url: cli.database_url.clone() };
    let settings = Settings::load(cli.config.as_deref(), &overrides)?;
    crate::telemetry::init(&settings.log_level, settings.log_format == "json");
    let log = open_log(&settings).await?;
    match cli.command {
        Command::Migrate => {
            tracing::info!("migrations applied");
            println!("migrations applied");
        }
        Command::Serve => {
            let app = Arc::new(Kurslogg::new(log.clone(), Arc::new(SystemClock)));
            let http_settings = HttpSettings {
                request_timeout: Duration::from_secs(settings.request_timeout_secs),
                max_body_bytes: settings.max_body_bytes,
            };
            crate::views::spawn_runners(&log.views());
            // Other instances may write to the same log: keep this one's caches fresh.
            tokio::spawn(app.clone().follow_log(Duration::from_millis(100)));
            let (mail, transport) = mail_transport(&settings)?;
            tracing::info!(transport = ?transport, "letters");
            tokio::spawn(Dispatcher::new(app.clone(), transport, mail).run(DISPATCH_EVERY));
            let every = Duration::from_secs(settings.scheduler_interval_secs);
            tokio::spawn(Scheduler::new(app.clone(), settings.reminder_days.clone()).run(every));
            let listener = tokio::net::TcpListener::bind(settings.listen).await?;
            tracing::info!(address = %listener.local_addr()?, "listening");
            http::serve(listener, http::router(app, &http_settings)).await?;
            log.close().await;
        }
        Command::Projections { action } => {
            let db = log.views();
            let statuses = match action {
                ProjectionsAction::Status => crate::views::status(&db).await?,
                ProjectionsAction::Rebuild { name } => {
                    if let Some(name) = name.as_deref().filter(|n| !crate::views::PROJECTIONS.contains(n)) {
                        return Err(RunError::Usage(format!(
                            "no projection {name:?}; known: {}",
                            crate::views::PROJECTIONS.join(", ")
                        )));
                    }
                    crate::views::rebuild(&db, name.as_deref()).await?
                }
            };
            for s in statuses {
                println!("{:<12} position {:>10}  lag {:>8}", s.name, s.position, s.lag);
            }
            log.close().await;
        }
        Command::Demo => {
            let (mail, transport) = mail_transport(&settings)?;
            crate::demo::run(log.clone(), transport, mail).await.map_err(RunError::Demo)?;
            log.close().await;
        }
    }
    Ok(())
}

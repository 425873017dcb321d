//! The command line: `kurslogg serve | migrate | demo | projections | users`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use kurslogg_domain::clock::SystemClock;
use kurslogg_domain::MunicipalityId;

use crate::app::{Actor, Kurslogg, Role};
use crate::auth::{NewUser, Origin};
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
    /// User accounts: create the first course-office user on a fresh install, issue tokens.
    Users {
        /// What to do.
        #[command(subcommand)]
        action: UsersAction,
    },
}

/// `kurslogg users …`
#[derive(Debug, Subcommand)]
pub enum UsersAction {
    /// Create a user and print a personal API token for them.
    Create {
        /// What they log in with (e.g. their work e-mail).
        login: String,
        /// course_office, coordinator, supervisor, trainer, auditor or participant.
        #[arg(long, default_value = "course_office")]
        role: String,
        /// Their name as shown (default: the login).
        #[arg(long)]
        name: Option<String>,
        /// A coordinator's municipality (id, e.g. uddevalla).
        #[arg(long)]
        municipality: Option<String>,
        /// The staff member a supervisor or participant is.
        #[arg(long)]
        staff: Option<String>,
        /// Read a password (at least 12 characters) from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Issue another personal API token for a user.
    Token {
        /// Their login.
        login: String,
        /// What the token is for.
        #[arg(long, default_value = "cli")]
        label: String,
        /// Days until it stops working (default: until revoked).
        #[arg(long)]
        valid_days: Option<i64>,
    },
    /// List the users.
    List,
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

/// Joins coordinator accounts to their person (docs/decisions/0018), as the system.
async fn unify_coordinators(app: &Kurslogg) -> Result<crate::app::CoordinatorsUnified, RunError> {
    let ctx = crate::app::CommandContext::system("migrate-coordinators");
    let unified = app.unify_coordinators(&ctx).await.map_err(|e| RunError::Usage(format!("coordinators: {e}")))?;
    if !unified.left.is_empty() {
        let accounts = unified.left.len();
        tracing::warn!(accounts, "coordinator accounts could not be joined to a person: no e-mail to write to");
    }
    Ok(unified)
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
            let app = Kurslogg::new(log.clone(), Arc::new(SystemClock));
            let unified = unify_coordinators(&app).await?;
            println!(
                "coordinators: {} accounts joined to their person ({} added as staff), {} given the role",
                unified.linked, unified.added, unified.roles_assigned
            );
            for login in &unified.left {
                println!("  left: coordinator account {login:?} has no e-mail to write to; make it anew with staff_id");
            }
            log.close().await;
        }
        Command::Serve => {
            let mut app = Kurslogg::new(log.clone(), Arc::new(SystemClock))
                .with_auth_settings(settings.auth()?)
                .with_certificate_settings(settings.certificates()?);
            if settings.public_url.as_deref().is_none_or(|u| u.trim().is_empty()) {
                tracing::warn!(
                    check_page = %settings.certificates()?.check_page(),
                    "public_url is not set: certificates print this check address; set public_url to the address people reach Kurslogg at"
                );
            }
            if let Some(oidc) = settings.oidc()? {
                tracing::info!(issuer = %oidc.issuer, claim = ?oidc.login_claim, "single sign-on");
                app = app.with_oidc(oidc).map_err(|e| RunError::Usage(format!("single sign-on: {e}")))?;
            }
            let app = Arc::new(app);
            unify_coordinators(&app).await?;
            // File descriptors beyond the connections: the database pool, SQLite's files,
            // letters written as files, the listener, logs.
            let reserve = settings.database_max_connections as usize + 64;
            let http_settings = HttpSettings {
                request_timeout: Duration::from_secs(settings.request_timeout_secs),
                max_body_bytes: settings.max_body_bytes,
                header_read_timeout: Duration::from_secs(settings.header_read_timeout_secs),
                max_connections: http::connection_limit(settings.max_connections, reserve),
            };
            let mut background = crate::views::spawn_runners(&log.views());
            // Other instances may write to the same log: keep this one's caches fresh.
            background.push(tokio::spawn(app.clone().follow_log(Duration::from_millis(100))));
            let (mail, transport) = mail_transport(&settings)?;
            tracing::info!(transport = ?transport, "letters");
            background.push(tokio::spawn(Dispatcher::new(app.clone(), transport, mail).run(DISPATCH_EVERY)));
            let every = Duration::from_secs(settings.scheduler_interval_secs);
            let scheduler = Scheduler::new(app.clone(), settings.reminder_days.clone())
                .with_retention_years(settings.retention_years);
            background.push(tokio::spawn(scheduler.run(every)));
            let listener = tokio::net::TcpListener::bind(settings.listen).await?;
            tracing::info!(address = %listener.local_addr()?, "listening");
            http::serve(listener, http::router(app, &http_settings), &http_settings).await?;
            // The background work stops before the pool closes, so that none of it finds
            // the pool closed and reports that as an error. Whatever a task was doing is
            // done again on the next start, as after a crash (its transaction rolls back).
            for task in &background {
                task.abort();
            }
            for task in background {
                let _ = task.await;
            }
            log.close().await;
            tracing::info!("stopped");
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
                println!(
                    "{:<12} position {:>10}  lag {:>8}  failed events {:>4}",
                    s.name, s.position, s.lag, s.failed_events
                );
                for failure in &s.failures {
                    println!("    position {} ({}): {}", failure.position, failure.event_type, failure.reason);
                }
            }
            log.close().await;
        }
        Command::Users { action } => {
            let app = Kurslogg::new(log.clone(), Arc::new(SystemClock)).with_auth_settings(settings.auth()?);
            users(&app, action).await?;
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

/// `kurslogg users …`: acts as the system (there may be no user yet), recorded as such.
async fn users(app: &Kurslogg, action: UsersAction) -> Result<(), RunError> {
    let system = Actor::system();
    let origin = Origin { client: "cli".into(), request_id: format!("cli-{}", uuid::Uuid::new_v4()) };
    let failed = |e: crate::app::AppError| RunError::Usage(e.to_string());
    match action {
        UsersAction::Create { login, role, name, municipality, staff, password_stdin } => {
            let role = Role::of_user(&role).ok_or_else(|| {
                let names: Vec<&str> = Role::OF_USERS.iter().map(|r| r.as_str()).collect();
                RunError::Usage(format!("--role must be one of {}", names.join(", ")))
            })?;
            let municipality = municipality
                .map(|m| MunicipalityId::parse(&m).map_err(|e| RunError::Usage(format!("--municipality: {}", e.0))))
                .transpose()?;
            let staff = staff
                .map(|s| s.parse().map_err(|_| RunError::Usage(format!("--staff: {s:?} is not a staff id"))))
                .transpose()?;
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                Some(line.trim_end_matches(['\r', '\n']).to_string())
            } else {
                None
            };
            let request = NewUser {
                display_name: name.unwrap_or_else(|| login.clone()),
                login,
                role,
                municipality,
                staff,
                password,
            };
            let user = app.create_user(&system, &origin, request).await.map_err(failed)?;
            let token = app.auth.issue_token(&system, &origin, &user.user_id, "cli", None).await;
            let token = token.map_err(|e| failed(e.into()))?;
            println!("created {} ({}), user id {}", user.login, user.role, user.user_id);
            println!("token (shown once; send as Authorization: Bearer …):");
            println!("{}", token.token);
        }
        UsersAction::Token { login, label, valid_days } => {
            let user = app.auth.user_by_login(&login).await.map_err(|e| failed(e.into()))?;
            let user = user.ok_or_else(|| RunError::Usage(format!("no user {login:?}")))?;
            let token = app.auth.issue_token(&system, &origin, &user.user_id, &label, valid_days).await;
            println!("{}", token.map_err(|e| failed(e.into()))?.token);
        }
        UsersAction::List => {
            for user in app.auth.users().await.map_err(|e| failed(e.into()))? {
                let scope = user.municipality.as_deref().or(user.staff_id.as_deref()).unwrap_or("");
                let disabled = if user.disabled_at.is_some() { " (disabled)" } else { "" };
                println!("{:<36} {:<14} {:<30} {scope}{disabled}", user.user_id, user.role.as_str(), user.login);
            }
        }
    }
    Ok(())
}

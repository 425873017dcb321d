//! Configuration: defaults, then a TOML file, then `KURSLOGG_*` environment variables,
//! then command-line flags. Validated at start-up with errors that say what is wrong.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// A value that must not appear in logs (database URLs can hold passwords).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Every setting. Each has a `KURSLOGG_<NAME>` environment variable, e.g.
/// `KURSLOGG_DATABASE_URL`, `KURSLOGG_LISTEN`, `KURSLOGG_DATA_DIR`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address the HTTP API listens on.
    pub listen: SocketAddr,
    /// Directory for the SQLite file and other local data.
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL; empty for the SQLite file under `data_dir`.
    pub database_url: Option<Secret>,
    /// PostgreSQL connection pool size.
    pub database_max_connections: u32,
    /// SQLite durability: `full` (fsync every commit) or `normal` (fsync at checkpoints).
    pub sqlite_synchronous: String,
    /// Log format: `pretty` or `json`.
    pub log_format: String,
    /// Log filter, e.g. `info` or `kurslogg=debug,info`.
    pub log_level: String,
    /// Seconds before a request is abandoned with 408.
    pub request_timeout_secs: u64,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database_max_connections: 16,
            sqlite_synchronous: "full".into(),
            log_format: "pretty".into(),
            log_level: "info".into(),
            request_timeout_secs: 30,
            max_body_bytes: 2 * 1024 * 1024,
        }
    }
}

/// Prefixes (after `KURSLOGG_`, lower-cased) of variables that belong to tools, not settings.
const TOOL_VARIABLES: [&str; 4] = ["test_", "skip_", "bench_", "config"];

/// Where the event log lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL.
    Postgres(Secret),
}

/// A configuration that does not make sense.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

/// Settings given on the command line, which win over everything else.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    /// `--listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--database-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

impl Settings {
    /// Loads defaults, then `file` (if given, it must exist; otherwise `kurslogg.toml`
    /// in the working directory if present), then the environment, then `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match file {
            Some(path) if !path.exists() => {
                return Err(ConfigError(format!("config file {} does not exist", path.display())));
            }
            Some(path) => figment = figment.merge(Toml::file(path)),
            None => figment = figment.merge(Toml::file("kurslogg.toml")),
        }
        // Variables of tools that share the prefix (tests, benchmarks, the config path) are
        // not settings; any other unknown KURSLOGG_ variable is a typo and stops start-up.
        let settings_only =
            Env::prefixed("KURSLOGG_").filter(|key| !TOOL_VARIABLES.iter().any(|p| key.as_str().starts_with(p)));
        figment = figment.merge(settings_only).merge(Serialized::defaults(overrides));
        let mut settings: Settings = figment.extract().map_err(|e| ConfigError(e.to_string()))?;
        if settings.database_url.as_ref().is_some_and(|u| u.expose().trim().is_empty()) {
            settings.database_url = None;
        }
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.storage()?;
        if !matches!(self.sqlite_synchronous.as_str(), "full" | "normal") {
            return Err(ConfigError(format!(
                "sqlite_synchronous must be full or normal, got {:?}",
                self.sqlite_synchronous
            )));
        }
        if !matches!(self.log_format.as_str(), "pretty" | "json") {
            return Err(ConfigError(format!("log_format must be pretty or json, got {:?}", self.log_format)));
        }
        if self.database_max_connections == 0 || self.request_timeout_secs == 0 || self.max_body_bytes < 1024 {
            return Err(ConfigError(
                "database_max_connections and request_timeout_secs must be positive, max_body_bytes at least 1024"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The event log's location.
    pub fn storage(&self) -> Result<Storage, ConfigError> {
        match &self.database_url {
            None => Ok(Storage::Sqlite(self.data_dir.join("kurslogg.db"))),
            Some(url) if url.expose().starts_with("postgres://") || url.expose().starts_with("postgresql://") => {
                Ok(Storage::Postgres(url.clone()))
            }
            Some(url) if url.expose().starts_with("sqlite://") => {
                Ok(Storage::Sqlite(PathBuf::from(url.expose().trim_start_matches("sqlite://"))))
            }
            Some(_) => Err(ConfigError(
                "database_url must start with postgres:// (or be empty for the SQLite file under data_dir)".into(),
            )),
        }
    }
}

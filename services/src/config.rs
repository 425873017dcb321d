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
    /// A secret with this value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

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
    /// Seconds a client may take to send a request's headers before the connection is closed.
    pub header_read_timeout_secs: u64,
    /// Most HTTP connections open at once; further ones wait to be accepted.
    pub max_connections: usize,
    /// Where letters go: `files` (`.eml` files under `<data_dir>/outbox/`) or `smtp`.
    pub mail_transport: String,
    /// The sender, e.g. `Kurser och konferenser <kurser@fyrbodal.se>`.
    pub mail_from: String,
    /// SMTP relay host (with `mail_transport = "smtp"`).
    pub smtp_host: String,
    /// SMTP port; by default 587 for `starttls`, 465 for `tls`, 25 for `none`.
    pub smtp_port: Option<u16>,
    /// `starttls` (default), `tls` (implicit TLS), or `none` (a local relay only).
    pub smtp_security: String,
    /// SMTP user name, if the relay wants one.
    pub smtp_username: Option<String>,
    /// SMTP password.
    pub smtp_password: Option<Secret>,
    /// PEM file of a private CA that signed the relay's certificate.
    pub smtp_ca_file: Option<PathBuf>,
    /// Most SMTP connections kept open.
    pub smtp_pool_size: u32,
    /// Seconds before an SMTP exchange is abandoned (and retried later).
    pub smtp_timeout_secs: u64,
    /// Seconds before the first retry of a letter that could not be sent; doubles per try.
    pub mail_retry_base_secs: u64,
    /// Tries before a letter that keeps failing is marked failed.
    pub mail_max_attempts: u32,
    /// Days before a registration deadline to remind municipalities that have not registered.
    pub reminder_days: Vec<u32>,
    /// Seconds between the scheduler's rounds (deadlines, reminders, completions).
    pub scheduler_interval_secs: u64,

    // ----- logins (issue 6) -----
    /// Hours a browser session lasts after login.
    pub session_hours: i64,
    /// Mark the session cookie Secure (sent over HTTPS only). Turn off only for a local trial over http.
    pub secure_cookies: bool,
    /// Failed password logins for one login name from one client address before the name
    /// is locked for that address for `login_lockout_minutes`.
    pub max_failed_logins: i64,
    /// Failed password logins for one login name from all addresses before it is locked
    /// for addresses its user has not logged in from.
    pub max_failed_logins_per_name: i64,
    /// Failed password logins from one client address before password logins from it are
    /// refused (except for users who have logged in from it before).
    pub max_failures_per_client: i64,
    /// Rejected bearer tokens from one client address before it may not try unknown ones.
    pub max_token_failures_per_client: i64,
    /// Reverse proxies (addresses or networks, e.g. `10.0.0.5` or `10.0.0.0/24`) whose
    /// `X-Forwarded-For` header gives the client's address; empty: the connection's peer.
    pub trusted_proxies: Vec<String>,
    /// The window in which failures are counted, and how long a lock lasts.
    pub login_lockout_minutes: i64,
    // ----- personal data (issue 6, docs/decisions/0007) -----
    /// Years after a staff member is removed (has left) before the scheduler erases their
    /// personal data; 0 keeps it until someone asks for the erasure.
    pub retention_years: u32,
    // ----- single sign-on (issue 6, docs/decisions/0008) -----
    /// The municipality's OpenID Connect provider (issuer URL); empty: no single sign-on.
    pub oidc_issuer: Option<String>,
    /// Kurslogg's client id at the provider.
    pub oidc_client_id: Option<String>,
    /// Kurslogg's client secret at the provider.
    pub oidc_client_secret: Option<Secret>,
    /// Kurslogg's public `https://…/auth/oidc/callback`, as registered at the provider.
    pub oidc_redirect_url: Option<String>,
    /// The verified claim that is the Kurslogg login: `email`, `preferred_username` or `sub`.
    pub oidc_login_claim: String,
    // ----- certificates (docs/decisions/0019) -----
    /// The service's public address (`https://kurslogg.fyrbodal.se`): certificates print
    /// `{public_url}/kontrollera-intyg` for their check, and letters link to it. Empty:
    /// `http://` and `listen`, fit for a trial only.
    pub public_url: Option<String>,
    /// Certificate checks one client address may make within `login_lockout_minutes`.
    pub max_certificate_checks_per_client: i64,
    /// Certificate checks answered "unknown" one client address may have within the window.
    pub max_failed_certificate_checks_per_client: i64,
}

/// The default of `retention_years`: a person who left is erased after three years,
/// long enough to answer for the last few terms (the yearly reports, a former employee
/// asking about a certificate), and no longer.
pub const DEFAULT_RETENTION_YEARS: u32 = 3;

/// The longest retention accepted: anything longer is likely a year typed by mistake.
const MAX_RETENTION_YEARS: u32 = 100;

/// How an SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (required, never optional).
    Starttls,
    /// TLS from the first byte.
    Tls,
    /// No encryption (a relay on the same host, or tests).
    None,
}

/// The SMTP relay.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Protection.
    pub security: SmtpSecurity,
    /// User name.
    pub username: Option<String>,
    /// Password.
    pub password: Option<Secret>,
    /// Private CA.
    pub ca_file: Option<PathBuf>,
    /// Pool size.
    pub pool_size: u32,
    /// Timeout in seconds.
    pub timeout_secs: u64,
}

/// Everything about sending letters.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// Sender's name.
    pub from_name: String,
    /// Sender's address.
    pub from_address: String,
    /// The relay; `None` writes files.
    pub smtp: Option<SmtpSettings>,
    /// First retry delay.
    pub retry_base: std::time::Duration,
    /// Tries before failing for good.
    pub max_attempts: u32,
}

impl Default for Settings {
    fn default() -> Self {
        let auth = crate::auth::AuthSettings::default();
        let certificates = crate::certificates::CertificateSettings::default();
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
            header_read_timeout_secs: 10,
            max_connections: 4096,
            mail_transport: "files".into(),
            mail_from: "Kurser och konferenser <kurser@kurslogg.invalid>".into(),
            smtp_host: String::new(),
            smtp_port: None,
            smtp_security: "starttls".into(),
            smtp_username: None,
            smtp_password: None,
            smtp_ca_file: None,
            smtp_pool_size: 4,
            smtp_timeout_secs: 30,
            mail_retry_base_secs: 30,
            mail_max_attempts: 12,
            reminder_days: vec![14, 3],
            scheduler_interval_secs: 60,
            session_hours: auth.session_hours,
            secure_cookies: auth.secure_cookies,
            max_failed_logins: auth.max_failed_logins,
            max_failed_logins_per_name: auth.max_failed_logins_per_name,
            max_failures_per_client: auth.max_failures_per_client,
            max_token_failures_per_client: auth.max_token_failures_per_client,
            trusted_proxies: vec![],
            login_lockout_minutes: auth.failure_window_minutes,
            retention_years: DEFAULT_RETENTION_YEARS,
            oidc_issuer: None,
            oidc_client_id: None,
            oidc_client_secret: None,
            oidc_redirect_url: None,
            oidc_login_claim: "email".into(),
            public_url: None,
            max_certificate_checks_per_client: certificates.max_checks_per_client,
            max_failed_certificate_checks_per_client: certificates.max_failed_checks_per_client,
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
        // Keys keep the environment's case (KURSLOGG_TEST_POSTGRES_URL gives `TEST_POSTGRES_URL`).
        let settings_only = Env::prefixed("KURSLOGG_").filter(|key| {
            let key = key.as_str().to_ascii_lowercase();
            !TOOL_VARIABLES.iter().any(|p| key.starts_with(p))
        });
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
        self.certificates()?;
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
        if !(1..=600).contains(&self.header_read_timeout_secs) || !(1..=1_000_000).contains(&self.max_connections) {
            return Err(ConfigError(format!(
                "header_read_timeout_secs must be 1 to 600 (got {}) and max_connections 1 to 1000000 (got {})",
                self.header_read_timeout_secs, self.max_connections
            )));
        }
        self.mail()?;
        if !(1..=24 * 30).contains(&self.session_hours)
            || self.max_failed_logins < 1
            || self.max_failed_logins_per_name < 1
            || self.max_failures_per_client < 1
            || self.max_token_failures_per_client < 1
            || !(1..=24 * 60).contains(&self.login_lockout_minutes)
        {
            return Err(ConfigError(
                "session_hours must be 1 to 720, max_failed_logins, max_failed_logins_per_name, \
                 max_failures_per_client and max_token_failures_per_client positive, login_lockout_minutes 1 to 1440"
                    .into(),
            ));
        }
        self.auth()?;
        if self.scheduler_interval_secs == 0 || self.reminder_days.iter().any(|d| *d == 0 || *d > 366) {
            return Err(ConfigError(
                "scheduler_interval_secs must be positive and reminder_days between 1 and 366".into(),
            ));
        }
        if self.retention_years > MAX_RETENTION_YEARS {
            return Err(ConfigError(format!(
                "retention_years is a number of years from 0 (never erase) to {MAX_RETENTION_YEARS}, got {}",
                self.retention_years
            )));
        }
        self.oidc()?;
        Ok(())
    }

    /// The identity provider, if single sign-on is set up: all four `oidc_*` settings, or none.
    pub fn oidc(&self) -> Result<Option<crate::oidc::OidcSettings>, ConfigError> {
        let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
        let secret = self.oidc_client_secret.clone().filter(|s| !s.expose().trim().is_empty());
        let (issuer, client_id, redirect_url) =
            (given(&self.oidc_issuer), given(&self.oidc_client_id), given(&self.oidc_redirect_url));
        let login_claim = crate::oidc::LoginClaim::parse(&self.oidc_login_claim).ok_or_else(|| {
            ConfigError(format!(
                "oidc_login_claim must be email, preferred_username or sub, got {:?}",
                self.oidc_login_claim
            ))
        })?;
        match (issuer, client_id, secret, redirect_url) {
            (None, None, None, None) => Ok(None),
            (Some(issuer), Some(client_id), Some(client_secret), Some(redirect_url)) => {
                for (name, url) in [("oidc_issuer", &issuer), ("oidc_redirect_url", &redirect_url)] {
                    if !(url.starts_with("https://") || url.starts_with("http://")) {
                        return Err(ConfigError(format!("{name} must be an http(s) URL, got {url:?}")));
                    }
                }
                Ok(Some(crate::oidc::OidcSettings { issuer, client_id, client_secret, redirect_url, login_claim }))
            }
            _ => Err(ConfigError(
                "single sign-on needs all of oidc_issuer, oidc_client_id, oidc_client_secret and oidc_redirect_url"
                    .into(),
            )),
        }
    }

    /// The public address certificates name, and the limits on checking them.
    pub fn certificates(&self) -> Result<crate::certificates::CertificateSettings, ConfigError> {
        let public_url = match self.public_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            None => format!("http://{}", self.listen),
            Some(url) => {
                let host = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
                if host.is_none_or(|h| h.is_empty() || h.contains(char::is_whitespace) || h.contains(['?', '#'])) {
                    return Err(ConfigError(format!(
                        "public_url: {url:?} is not an http:// or https:// address (e.g. https://kurslogg.fyrbodal.se)"
                    )));
                }
                url.trim_end_matches('/').to_string()
            }
        };
        for (name, value) in [
            ("max_certificate_checks_per_client", self.max_certificate_checks_per_client),
            ("max_failed_certificate_checks_per_client", self.max_failed_certificate_checks_per_client),
        ] {
            if value < 1 {
                return Err(ConfigError(format!("{name} must be at least 1")));
            }
        }
        Ok(crate::certificates::CertificateSettings {
            public_url,
            max_checks_per_client: self.max_certificate_checks_per_client,
            max_failed_checks_per_client: self.max_failed_certificate_checks_per_client,
        })
    }

    /// Sessions, the limits on failed logins and token guesses, and the trusted proxies.
    pub fn auth(&self) -> Result<crate::auth::AuthSettings, ConfigError> {
        let trusted_proxies = self
            .trusted_proxies
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        ConfigError(format!(
                            "trusted_proxies: {entry:?} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)"
                        ))
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(crate::auth::AuthSettings {
            session_hours: self.session_hours,
            max_failed_logins: self.max_failed_logins,
            max_failed_logins_per_name: self.max_failed_logins_per_name,
            max_failures_per_client: self.max_failures_per_client,
            max_token_failures_per_client: self.max_token_failures_per_client,
            failure_window_minutes: self.login_lockout_minutes,
            secure_cookies: self.secure_cookies,
            trusted_proxies,
        })
    }

    /// How letters are sent.
    pub fn mail(&self) -> Result<MailSettings, ConfigError> {
        let (from_name, from_address) = parse_sender(&self.mail_from)?;
        let smtp = match self.mail_transport.as_str() {
            "files" => None,
            "smtp" => {
                if self.smtp_host.trim().is_empty() {
                    return Err(ConfigError("mail_transport = \"smtp\" needs smtp_host".into()));
                }
                let security = match self.smtp_security.as_str() {
                    "starttls" => SmtpSecurity::Starttls,
                    "tls" => SmtpSecurity::Tls,
                    "none" => SmtpSecurity::None,
                    other => {
                        return Err(ConfigError(format!("smtp_security must be starttls, tls or none, got {other:?}")))
                    }
                };
                let default_port = match security {
                    SmtpSecurity::Starttls => 587,
                    SmtpSecurity::Tls => 465,
                    SmtpSecurity::None => 25,
                };
                if self.smtp_pool_size == 0 || self.smtp_timeout_secs == 0 {
                    return Err(ConfigError("smtp_pool_size and smtp_timeout_secs must be positive".into()));
                }
                Some(SmtpSettings {
                    host: self.smtp_host.trim().to_string(),
                    port: self.smtp_port.unwrap_or(default_port),
                    security,
                    username: self.smtp_username.clone().filter(|u| !u.is_empty()),
                    password: self.smtp_password.clone(),
                    ca_file: self.smtp_ca_file.clone(),
                    pool_size: self.smtp_pool_size,
                    timeout_secs: self.smtp_timeout_secs,
                })
            }
            other => return Err(ConfigError(format!("mail_transport must be files or smtp, got {other:?}"))),
        };
        if self.mail_retry_base_secs == 0 || self.mail_max_attempts == 0 {
            return Err(ConfigError("mail_retry_base_secs and mail_max_attempts must be positive".into()));
        }
        Ok(MailSettings {
            from_name,
            from_address,
            smtp,
            retry_base: std::time::Duration::from_secs(self.mail_retry_base_secs),
            max_attempts: self.mail_max_attempts,
        })
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

/// Splits `Name <address>` (or a bare address) into name and address.
fn parse_sender(from: &str) -> Result<(String, String), ConfigError> {
    let bad = || ConfigError(format!("mail_from must be an address or \"Name <address>\", got {from:?}"));
    let (name, address) = match from.trim().split_once('<') {
        Some((name, rest)) => (name.trim().trim_matches('"').to_string(), rest.strip_suffix('>').ok_or_else(bad)?),
        None => ("Kurslogg".to_string(), from.trim()),
    };
    let address = address.trim();
    let valid = address.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !address.contains(char::is_whitespace)
    });
    if !valid {
        return Err(bad());
    }
    Ok((name, address.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(toml: &str) -> Result<Settings, ConfigError> {
        let figment = Figment::from(Serialized::defaults(Settings::default())).merge(Toml::string(toml));
        let settings: Settings = figment.extract().map_err(|e| ConfigError(e.to_string()))?;
        settings.validate()?;
        Ok(settings)
    }

    #[test]
    fn certificates_name_the_public_url_or_else_the_listen_address() {
        let trial = with("listen = \"127.0.0.1:9000\"").expect("valid").certificates().expect("certificates");
        assert_eq!(trial.check_page(), "http://127.0.0.1:9000/kontrollera-intyg");
        let public = with("public_url = \"https://kurslogg.fyrbodal.se/\"").expect("valid");
        let public = public.certificates().expect("certificates");
        assert_eq!(public.check_link("X-1"), "https://kurslogg.fyrbodal.se/kontrollera-intyg?nummer=X-1");
        for wrong in [
            "public_url = \"kurslogg.fyrbodal.se\"",
            "public_url = \"https://\"",
            "max_certificate_checks_per_client = 0",
        ] {
            let error = with(wrong).expect_err(wrong).to_string();
            assert!(error.contains("public_url") || error.contains("max_certificate_checks"), "{wrong}: {error}");
        }
    }

    #[test]
    fn the_example_configuration_is_valid_and_sends_over_starttls() {
        let settings = with(include_str!("../../deploy/kurslogg.example.toml")).expect("valid example");
        let mail = settings.mail().expect("mail settings");
        let smtp = mail.smtp.expect("smtp");
        assert_eq!((smtp.host.as_str(), smtp.port, smtp.security), ("smtp.fyrbodal.se", 587, SmtpSecurity::Starttls));
        assert_eq!(
            (mail.from_name.as_str(), mail.from_address.as_str()),
            ("Kurser och konferenser", "kurser@fyrbodal.se")
        );
        assert_eq!(settings.reminder_days, vec![14, 3]);
        assert_eq!(settings.retention_years, DEFAULT_RETENTION_YEARS);
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        assert!(Settings::default().auth().expect("valid").trusted_proxies.is_empty());
        let auth =
            with("trusted_proxies = [\"10.0.0.5\", \"10.1.0.0/16\", \"::1\"]").expect("valid").auth().expect("valid");
        let nets: Vec<String> = auth.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(nets, ["10.0.0.5/32", "10.1.0.0/16", "::1/128"]);
        let error = with("trusted_proxies = [\"proxy.example\"]").expect_err("a name").to_string();
        assert!(error.contains("trusted_proxies") && error.contains("proxy.example"), "{error}");
        for (toml, named) in [
            ("max_token_failures_per_client = 0", "max_token_failures_per_client"),
            ("max_failed_logins_per_name = 0", "max_failed_logins_per_name"),
            ("header_read_timeout_secs = 0", "header_read_timeout_secs"),
            ("max_connections = 0", "max_connections"),
        ] {
            let error = with(toml).expect_err(toml).to_string();
            assert!(error.contains(named), "{toml}: {error}");
        }
    }

    #[test]
    fn by_default_letters_are_files() {
        let mail = Settings::default().mail().expect("defaults are valid");
        assert!(mail.smtp.is_none());
    }

    #[test]
    fn mail_settings_that_make_no_sense_are_refused_with_the_setting_named() {
        for (toml, named) in [
            ("mail_transport = \"pigeon\"", "mail_transport"),
            ("mail_transport = \"smtp\"", "smtp_host"),
            ("mail_transport = \"smtp\"\nsmtp_host = \"x\"\nsmtp_security = \"ssl\"", "smtp_security"),
            ("mail_from = \"not an address\"", "mail_from"),
            ("mail_from = \"Kansliet <kansliet@>\"", "mail_from"),
            ("reminder_days = [0]", "reminder_days"),
            ("mail_max_attempts = 0", "mail_max_attempts"),
        ] {
            let error = with(toml).expect_err(toml).to_string();
            assert!(error.contains(named), "{toml}: {error}");
        }
    }

    #[test]
    fn retention_is_three_years_unless_set_and_zero_keeps_people() {
        assert_eq!(Settings::default().retention_years, 3);
        assert!(Settings::default().oidc().expect("no single sign-on by default").is_none());
        let sso = "oidc_issuer = \"https://idp.vanersborg.example\"\noidc_client_id = \"kurslogg\"\n\
                   oidc_client_secret = \"hemligt\"\noidc_redirect_url = \"https://kurslogg.example/auth/oidc/callback\"";
        let oidc = with(sso).expect("single sign-on").oidc().expect("valid").expect("configured");
        assert_eq!(oidc.login_claim, crate::oidc::LoginClaim::Email);
        assert_eq!(oidc.client_secret.expose(), "hemligt");
        let half = with("oidc_issuer = \"https://idp.example\"").expect_err("half a provider").to_string();
        assert!(half.contains("oidc_client_id"), "{half}");
        let claim = with(&format!("{sso}\noidc_login_claim = \"name\"")).expect_err("no such claim").to_string();
        assert!(claim.contains("oidc_login_claim"), "{claim}");
        assert_eq!(with("retention_years = 0").expect("0 means never").retention_years, 0);
        assert_eq!(with("retention_years = 7").expect("seven years").retention_years, 7);
        let error = with("retention_years = 2027").expect_err("a year, not a number of years").to_string();
        assert!(error.contains("retention_years"), "{error}");
    }
}

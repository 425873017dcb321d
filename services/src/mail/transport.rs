//! Where letters go: an SMTP server (lettre, pooled connections, STARTTLS or TLS with
//! credentials), or, by default, `.eml` files in a directory, so a fresh install runs
//! with no mail server and its letters can be opened in any mail program.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kurslogg_domain::text::one_line;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::{MailSettings, SmtpSecurity};

/// Why a letter was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later: the server is down, busy, or said 4xx.
    #[error("{0}")]
    Transient(String),
    /// Will never work as it is: the server said 5xx (e.g. no such mailbox).
    #[error("{0}")]
    Permanent(String),
}

/// A configured way of delivering letters.
#[derive(Clone)]
pub enum Transport {
    /// One `.eml` file per letter in this directory.
    Files(PathBuf),
    /// An SMTP relay, and how long one letter may take in all.
    Smtp(AsyncSmtpTransport<Tokio1Executor>, Duration),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Files(dir) => write!(f, "Files({})", dir.display()),
            Self::Smtp(..) => f.write_str("Smtp"),
        }
    }
}

/// A configuration the transport cannot be built from.
#[derive(Debug, thiserror::Error)]
#[error("mail: {0}")]
pub struct TransportError(pub String);

impl Transport {
    /// The transport `settings` describe; files go to `outbox_dir`.
    pub fn from_settings(settings: &MailSettings, outbox_dir: &Path) -> Result<Self, TransportError> {
        let Some(smtp) = &settings.smtp else {
            std::fs::create_dir_all(outbox_dir)
                .map_err(|e| TransportError(format!("cannot create {}: {e}", outbox_dir.display())))?;
            return Ok(Self::Files(outbox_dir.to_path_buf()));
        };
        let bad = |e: lettre::transport::smtp::Error| TransportError(e.to_string());
        let tls_parameters = || -> Result<TlsParameters, TransportError> {
            let mut tls = TlsParameters::builder(smtp.host.clone());
            if let Some(file) = &smtp.ca_file {
                let pem =
                    std::fs::read(file).map_err(|e| TransportError(format!("cannot read {}: {e}", file.display())))?;
                tls = tls.add_root_certificate(Certificate::from_pem(&pem).map_err(bad)?);
            }
            tls.build().map_err(bad)
        };
        let builder = match smtp.security {
            SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
                .tls(Tls::Required(tls_parameters()?)),
            SmtpSecurity::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host).tls(Tls::Wrapper(tls_parameters()?))
            }
            // For a relay on the same host or a test server only: nothing is encrypted.
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
        };
        let mut builder = builder
            .port(smtp.port)
            .timeout(Some(Duration::from_secs(smtp.timeout_secs)))
            .pool_config(PoolConfig::new().max_size(smtp.pool_size));
        if let Some(username) = &smtp.username {
            let password = smtp.password.as_ref().map(|p| p.expose().to_string()).unwrap_or_default();
            builder = builder.credentials(Credentials::new(username.clone(), password));
        }
        Ok(Self::Smtp(builder.build(), Duration::from_secs(smtp.timeout_secs)))
    }

    /// Delivers `message`. A file is named after `file_stem` and replaced atomically, so
    /// writing the same letter twice leaves one file.
    pub async fn send(&self, message: &Message, file_stem: &str) -> Result<(), SendError> {
        match self {
            Self::Files(dir) => {
                let path = dir.join(format!("{file_stem}.eml"));
                let partial = dir.join(format!(".{file_stem}.eml.partial"));
                let write = async {
                    tokio::fs::write(&partial, message.formatted()).await?;
                    tokio::fs::rename(&partial, &path).await
                };
                write.await.map_err(|e| SendError::Transient(format!("cannot write {}: {e}", path.display())))
            }
            // lettre's timeout covers each exchange with the server, not a conversation
            // that stalls (seen after a refused login): bound the whole letter too, so a
            // stuck server delays the dispatcher, never stops it.
            Self::Smtp(smtp, limit) => match tokio::time::timeout(*limit * 2, smtp.send(message.clone())).await {
                Ok(Ok(_)) => Ok(()),
                // The server's reply text often quotes the address: keep only its code, so
                // the outbox and the logs hold no personal data.
                Ok(Err(e)) if e.is_permanent() => {
                    Err(SendError::Permanent(format!("the mail server refused the letter ({})", reply_code(&e))))
                }
                Ok(Err(e)) if e.status().is_some() => {
                    Err(SendError::Transient(format!("the mail server deferred the letter ({})", reply_code(&e))))
                }
                Ok(Err(e)) => Err(SendError::Transient(format!("the mail server could not be reached: {e}"))),
                Err(_) => Err(SendError::Transient(format!(
                    "the mail server did not finish within {} s",
                    (*limit * 2).as_secs()
                ))),
            },
        }
    }
}

impl Transport {
    /// Writes `message` over the kept letter `file_stem`, if the service keeps it (files)
    /// and it is there: the letter as it would be written now. False when there was
    /// nothing to write over.
    pub async fn rewrite(&self, message: &Message, file_stem: &str) -> std::io::Result<bool> {
        let Self::Files(dir) = self else { return Ok(false) };
        if !tokio::fs::try_exists(dir.join(format!("{file_stem}.eml"))).await? {
            return Ok(false);
        }
        self.send(message, file_stem).await.map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(true)
    }

    /// Deletes what [`Transport::send`] left of the letter `file_stem`: its `.eml` file
    /// (or a partial one). A letter sent through a relay is beyond reach: nothing to do.
    pub async fn delete(&self, file_stem: &str) -> std::io::Result<()> {
        let Self::Files(dir) = self else { return Ok(()) };
        for path in [dir.join(format!("{file_stem}.eml")), dir.join(format!(".{file_stem}.eml.partial"))] {
            match tokio::fs::remove_file(&path).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }
}

/// The name a letter's file has (without `.eml`): the notice id, and for a letter resent
/// on request, its generation.
pub fn file_stem(notice_id: &str, generation: i64) -> String {
    match generation {
        0 => notice_id.to_string(),
        n => format!("{notice_id}.{n}"),
    }
}

/// The SMTP reply code of an error, e.g. `550`.
fn reply_code(error: &lettre::transport::smtp::Error) -> String {
    error.status().map_or_else(|| "no reply code".to_string(), |code| code.to_string())
}

/// A mailbox, e.g. `Kurser och konferenser <kurser@fyrbodal.se>`. The error does not
/// repeat the address (it is personal data, and errors are stored and logged).
///
/// The name is made one line first ([`one_line`]): a name stored before the edge refused
/// line breaks (`"Eve\nEvil"`) would otherwise break the header (lettre panics on it), and
/// with it every letter behind this one. A name with nothing left is left out.
pub fn mailbox(name: &str, address: &str) -> Result<Mailbox, String> {
    let address = address.parse().map_err(|e| format!("the e-mail address cannot be used: {e}"))?;
    let name = one_line(name);
    Ok(Mailbox::new((!name.is_empty()).then_some(name), address))
}

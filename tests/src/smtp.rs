//! A real SMTP server for the tests: `tests/smtp/sink.py` (Python's aiosmtpd) in a
//! process of its own, on a port of its own, keeping every message it accepts in a
//! directory. It can be stopped and started again on the same port (a mail server that
//! goes down and comes back), and made slow.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

/// One message the server accepted.
#[derive(Debug, Clone, Deserialize)]
pub struct Received {
    /// Envelope sender.
    pub mail_from: String,
    /// Envelope recipients.
    pub rcpt_tos: Vec<String>,
    /// The Message-ID header.
    pub message_id: String,
    /// The subject, decoded.
    pub subject: String,
    /// The To header, decoded.
    pub to: String,
    /// The From header, decoded.
    pub from: String,
    /// Top-level content type.
    pub content_type: String,
    /// The plain-text part, decoded.
    pub text: Option<String>,
    /// The HTML part, decoded.
    pub html: Option<String>,
    /// Came over TLS (STARTTLS).
    pub tls: bool,
    /// The client logged in.
    pub authenticated: bool,
}

/// How the server behaves.
#[derive(Debug, Clone, Default)]
pub struct SinkOptions {
    /// Seconds to wait before accepting each message.
    pub delay: f64,
    /// Certificate and key (PEM files) to offer and require STARTTLS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// With `tls`: TLS from the first byte instead of STARTTLS.
    pub implicit_tls: bool,
    /// User and password to require.
    pub auth: Option<(String, String)>,
}

/// A running (or stopped) SMTP server.
pub struct SmtpSink {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Where it keeps messages.
    pub dir: PathBuf,
    options: SinkOptions,
    child: Option<Child>,
}

/// The sink script.
pub fn sink_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("smtp").join("sink.py")
}

/// The Python interpreter (`KURSLOGG_TEST_PYTHON`, default `python3`).
pub fn python() -> String {
    std::env::var("KURSLOGG_TEST_PYTHON").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| "python3".into())
}

impl SmtpSink {
    /// Starts a server on a free port.
    pub fn start() -> Self {
        Self::start_with(SinkOptions::default())
    }

    /// Starts a server with `options` on a free port.
    pub fn start_with(options: SinkOptions) -> Self {
        let mut sink = Self::stopped_with(options);
        sink.resume();
        sink
    }

    /// A server that is not running yet (`resume` starts it): a mail server that is down.
    pub fn stopped_with(options: SinkOptions) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
        let dir = std::env::temp_dir().join(format!("kl-smtp-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("message directory");
        Self { port, dir, options, child: None }
    }

    /// Starts the server (again) on its port, keeping the messages it has.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "the SMTP server is already running");
        let mut command = Command::new(python());
        command
            .arg(sink_script())
            .args(["--port", &self.port.to_string(), "--dir", &self.dir.display().to_string()])
            .args(["--delay", &self.options.delay.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some((cert, key)) = &self.options.tls {
            command.args(["--tls-cert", &cert.display().to_string(), "--tls-key", &key.display().to_string()]);
            if self.options.implicit_tls {
                command.arg("--implicit-tls");
            }
        }
        if let Some((user, password)) = &self.options.auth {
            command.args(["--auth", &format!("{user}:{password}")]);
        }
        let mut child =
            command.spawn().unwrap_or_else(|e| panic!("cannot start {} for the SMTP server: {e}", python()));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().expect("poll the SMTP server") {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                panic!(
                    "the test SMTP server exited ({status}). It needs Python's aiosmtpd \
                     (`pip install aiosmtpd`; scripts/test installs it):\n{stderr}"
                );
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "the test SMTP server did not listen on {} within 20 s", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child = Some(child);
    }

    /// Stops the server (a mail server going down); its messages stay.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Every message accepted so far, in the order accepted.
    pub fn messages(&self) -> Vec<Received> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .expect("message directory")
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|path| {
                let text = std::fs::read_to_string(path).expect("message record");
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            })
            .collect()
    }

    /// Waits (up to `limit`) until at least `count` messages have arrived; returns them all.
    pub async fn wait_for(&self, count: usize, limit: Duration) -> Vec<Received> {
        let deadline = Instant::now() + limit;
        loop {
            let messages = self.messages();
            if messages.len() >= count || Instant::now() > deadline {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
        if std::env::var("KURSLOGG_KEEP_TEST_DB").is_err() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Mail settings for the tests: plain SMTP to the test server on 127.0.0.1 at
/// `smtp_port` (or `.eml` files when `None`), quick retries.
pub fn mail_settings(smtp_port: Option<u16>) -> kurslogg::config::MailSettings {
    kurslogg::config::MailSettings {
        from_name: "Kurser och konferenser".into(),
        from_address: "kurser@fyrbodal.example.se".into(),
        smtp: smtp_port.map(|port| kurslogg::config::SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            security: kurslogg::config::SmtpSecurity::None,
            username: None,
            password: None,
            ca_file: None,
            pool_size: 2,
            timeout_secs: 2,
        }),
        retry_base: Duration::from_millis(100),
        max_attempts: 5,
    }
}

//! The one tracing set-up. Logs carry ids, never names or e-mail addresses.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; `json` for machine-read logs. Safe to call twice.
///
/// A panic is logged through it too (an ERROR event with the panic's message, where it
/// happened and a backtrace), so it reaches the JSON log with the request's span instead
/// of being printed to stderr beside it.
pub fn init(level: &str, json: bool) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
    log_panics();
}

/// Makes every panic an ERROR event of the tracing subscriber instead of text on stderr.
pub fn log_panics() {
    std::panic::set_hook(Box::new(tracing_panic::panic_hook));
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// A log written to memory.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_panic_is_an_error_line_of_the_json_log() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt().json().with_writer(move || writer.clone()).finish();
        super::log_panics();
        tracing::subscriber::with_default(subscriber, || {
            let _ = std::panic::catch_unwind(|| panic!("ett fel i en bokstav"));
        });
        let _ = std::panic::take_hook();
        let log = String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("UTF-8");
        let line: serde_json::Value = serde_json::from_str(log.lines().next().expect("a line")).expect("JSON");
        assert_eq!(line["level"], "ERROR", "{log}");
        assert!(log.contains("ett fel i en bokstav") && log.contains("telemetry.rs"), "{log}");
    }
}

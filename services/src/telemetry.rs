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
    std::panic::set_hook(Box::new(tracing_panic::panic_hook));
}

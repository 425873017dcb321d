//! Fault points: places where a test can make the process die, to show that what a
//! crash there leaves behind is recovered (the crash windows of a command that writes
//! more than once). `KURSLOGG_TEST_CRASH_AT=<name>` makes the point of that name abort
//! the process on the spot, as `kill -9` would: no destructor runs, nothing is flushed.
//! Unset (always, in production), a point costs one comparison with a value read once.

use std::sync::OnceLock;

/// The environment variable naming the point to crash at.
pub const CRASH_AT: &str = "KURSLOGG_TEST_CRASH_AT";

/// Aborts the process if `KURSLOGG_TEST_CRASH_AT` names this point.
pub fn crash_point(name: &str) {
    static CHOSEN: OnceLock<Option<String>> = OnceLock::new();
    let chosen = CHOSEN.get_or_init(|| std::env::var(CRASH_AT).ok().filter(|v| !v.is_empty()));
    if chosen.as_deref() == Some(name) {
        eprintln!("kurslogg: {CRASH_AT}={name}: aborting here on purpose");
        std::process::abort();
    }
}

//! Kurslogg's services: storage, use cases, HTTP API, configuration and the CLI.

pub mod app;
pub mod auth;
pub mod certificates;
pub mod cli;
pub mod config;
pub mod demo;
pub mod fault;
pub mod http;
pub mod mail;
pub mod oidc;
pub mod personal;
pub mod scheduler;
pub mod store;
pub mod telemetry;
pub mod views;
pub mod web;

/// mimalloc instead of glibc's malloc, for the service binary and for everything that
/// links this crate (benchmarks, tests), so they measure what runs. The projections move
/// many short-lived strings and large row buffers between threads (tokio's workers and
/// sqlx's SQLite thread); glibc's arenas spent about a fifth of a rebuild's CPU merging
/// and splitting free chunks (`perf`, BENCHMARKS.md). With mimalloc's `override`
/// feature (services/Cargo.toml) C code in the process allocates from it too: SQLite
/// itself, whose `malloc`/`free` through glibc were still ~8 % of its threads' time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Asks Linux not to back this process's memory with transparent huge pages, for the
/// service binary and the benchmarks (call it first thing in `main`).
///
/// Where the kernel's setting is `always`, every first touch of a fresh 64 KiB page of
/// the allocator faults in and zeroes a whole 2 MiB page, and memory the allocator gave
/// back and takes again is zeroed that way once more. A rebuild goes through several
/// hundred megabytes of short-lived rows and JSON in batches, and a `perf` profile of one
/// (one million events) spent a tenth of the process's CPU zeroing pages. With ordinary
/// pages its system time fell from 1.7-2.3 s to 1.2 s (BENCHMARKS.md, fourteenth
/// session). Nothing in the service gains from huge pages: its large memory is SQLite's
/// page cache and row buffers, walked, not searched at random.
pub fn without_transparent_huge_pages() {
    // Best effort: a kernel without the setting leaves the process as it was.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}

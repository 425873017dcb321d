//! Kurslogg's services: storage, use cases, HTTP API, configuration and the CLI.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod demo;
pub mod http;
pub mod mail;
pub mod oidc;
pub mod personal;
pub mod scheduler;
pub mod store;
pub mod telemetry;
pub mod views;

/// mimalloc instead of glibc's malloc, for the service binary and for everything that
/// links this crate (benchmarks, tests), so they measure what runs. The projections move
/// many short-lived strings and large row buffers between threads (tokio's workers and
/// sqlx's SQLite thread); glibc's arenas spent about a fifth of a rebuild's CPU merging
/// and splitting free chunks (`perf`, BENCHMARKS.md). With mimalloc's `override`
/// feature (services/Cargo.toml) C code in the process allocates from it too: SQLite
/// itself, whose `malloc`/`free` through glibc were still ~8 % of its threads' time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

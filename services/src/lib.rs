//! Kurslogg's services: storage, use cases, HTTP API, configuration and the CLI.

pub mod app;
pub mod store;

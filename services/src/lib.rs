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

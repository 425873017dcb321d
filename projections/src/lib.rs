//! Read models built from the event log by projections that never miss or double-apply
//! an event: each projection reads the log in global-position order, only up to a
//! high-water mark below which every position is final, and stores its checkpoint in the
//! same transaction as its view rows.

mod aside;
pub mod audit;
pub mod db;
pub mod enrolment;
pub mod feed;
pub mod history;
pub mod leader;
pub mod notices;
pub mod outbox;
pub mod runner;
mod tasks;
pub mod views;

pub use db::{Db, Param, ViewTx};
pub use feed::LoggedEvent;
pub use runner::{Projection, ProjectionError, Runner};

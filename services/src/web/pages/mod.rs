//! The pages, one module per part of Stationen.

pub mod catalogue;
pub mod registration;
pub mod start;

//! The pages, one module per part of Stationen.

pub mod catalogue;
pub mod costs;
pub mod registration;
pub mod staff;
pub mod start;

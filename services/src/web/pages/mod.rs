//! The pages, one module per part of Stationen.

pub mod start;

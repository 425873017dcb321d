//! The pages, one module per part of Stationen.

pub mod calendar;
pub mod catalogue;
pub mod costs;
pub mod participant;
pub mod registration;
pub mod staff;
pub mod start;
pub mod supervisor;
pub mod trainer;

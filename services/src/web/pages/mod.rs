//! The pages, one module per part of Stationen.

pub mod calendar;
pub mod catalogue;
pub mod costs;
// The course office: courses, packages, offerings, allocation, rosters (decision 0020).
pub mod office_allocation;
pub mod office_courses;
pub mod office_offerings;
pub mod office_packages;
pub mod participant;
pub mod registration;
pub mod staff;
pub mod start;
pub mod supervisor;
pub mod trainer;

//! The pages, one module per part of Stationen.

pub mod calendar;
pub mod catalogue;
// Certificates' public check (decision 0019).
pub mod certificates;
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
// The course office's follow-up and the auditor's pages (decision 0021).
pub mod audit;
pub mod follow_up;
pub mod office_letters;
pub mod office_statistics;
pub mod office_users;

//! Rules × scenarios → outcomes: evaluation, expectation checking and the strictness policy.

pub mod check;
pub mod config;
pub mod rules;

pub use check::{Detector, EventRef, EventTable, Hit, Renderings};
pub use config::{Config, Policy};
pub use rules::Rule;

//! Rules × scenarios → outcomes: evaluation, expectation checking and the strictness policy.

pub mod config;

pub use config::{Config, Policy};
pub mod check;

pub use check::{Detector, EventRef, Hit, Renderings};

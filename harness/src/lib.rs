//! firedrill: offline detection validation for Sigma and KQL rules.
//!
//! Scenarios describe synthetic process trees on a host; the generator renders them into the
//! process-creation events of six log schemas; native Sigma and KQL engines evaluate rules over
//! those events; the harness checks each rule fires exactly where a scenario expects and
//! explains why when it does not. `ARCHITECTURE.md` at the repository root maps the stages.

pub mod cli;
pub mod diag;
pub mod encoding;
pub mod event;
pub mod expr;
pub mod generate;
pub mod glob;
pub mod hash;
pub mod kql;
pub mod logs;
pub mod report;
pub mod run;
pub mod scenario;
pub mod sigma;
pub mod testing;

pub use diag::{Diagnostic, Severity, Span};
pub use event::{Event, LogSchema, Origin, Value};

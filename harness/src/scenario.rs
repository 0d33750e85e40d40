//! The scenario format: model, loading, validation and located diagnostics.
//!
//! A scenario is a YAML file describing process trees on hosts (see `docs/scenario-format.md`).
//! [`parse`] and [`load()`] turn text into a validated [`Scenario`] or into diagnostics that name
//! the file, line and column of every problem. [`json_schema`] describes the format for editors.

mod load;
mod locate;
pub mod model;
mod schema;

pub use load::{SCENARIO_KEYS, is_absolute_windows_path, load, parse, parse_with_profiles};
pub use model::{
    Check, Expectation, FORMAT_VERSION, Hashes, Host, Integrity, ProcessNode, Scenario, file_name,
    format_offset, parse_offset, parse_time,
};
pub use schema::json_schema;

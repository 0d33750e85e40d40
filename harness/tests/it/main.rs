//! One integration-test binary over the public API and the CLI.

mod kql_parse;
mod logs;
mod tidy;

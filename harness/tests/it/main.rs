//! One integration-test binary over the public API and the CLI.

mod logs;
mod tidy;

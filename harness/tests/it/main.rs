//! One integration-test binary over the public API and the CLI.

mod cli;
mod cli_generate;
mod encoding;
mod generate;
mod kql_eval;
mod kql_oracle;
mod kql_parse;
mod logs;
mod reports;
mod scenario;
mod seed_oracle;
mod sigma;
mod sigma_mangled;
mod support;
mod tidy;

//! One integration-test binary over the public API and the CLI.

mod cli_generate;
mod generate;
mod kql_eval;
mod kql_oracle;
mod kql_parse;
mod logs;
mod scenario;
mod seed_oracle;
mod sigma;
mod tidy;

//! The `firedrill` binary: parse arguments, call the library, map the outcome to an exit code.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = firedrill::cli::Cli::parse();
    firedrill::cli::run(cli).into()
}

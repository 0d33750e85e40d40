//! `firedrill run`.

use super::Exit;

/// Arguments of `firedrill run`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `firedrill run`.
pub fn run(_args: Args) -> Exit {
    super::not_yet("run")
}

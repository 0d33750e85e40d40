//! `firedrill regress`.

use super::Exit;

/// Arguments of `firedrill regress`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `firedrill regress`.
pub fn run(_args: Args) -> Exit {
    super::not_yet("regress")
}

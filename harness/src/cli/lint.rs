//! `firedrill lint`.

use super::Exit;

/// Arguments of `firedrill lint`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `firedrill lint`.
pub fn run(_args: Args) -> Exit {
    super::not_yet("lint")
}

//! `firedrill scan`.

use super::Exit;

/// Arguments of `firedrill scan`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `firedrill scan`.
pub fn run(_args: Args) -> Exit {
    super::not_yet("scan")
}

//! `firedrill explain`.

use super::Exit;

/// Arguments of `firedrill explain`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `firedrill explain`.
pub fn run(_args: Args) -> Exit {
    super::not_yet("explain")
}

//! `firedrill kql`.

use super::Exit;

/// Arguments of `firedrill kql`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `firedrill kql`.
pub fn run(_args: Args) -> Exit {
    super::not_yet("kql")
}

//! `firedrill generate`.

use super::Exit;

/// Arguments of `firedrill generate`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `firedrill generate`.
pub fn run(_args: Args) -> Exit {
    super::not_yet("generate")
}

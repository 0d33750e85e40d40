//! `firedrill schema`.

use super::Exit;

/// Arguments of `firedrill schema`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `firedrill schema`.
pub fn run(_args: Args) -> Exit {
    super::not_yet("schema")
}

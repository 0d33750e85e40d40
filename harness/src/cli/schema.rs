//! `firedrill schema`: print a JSON Schema of a file format, for editors.

use super::Exit;

/// The formats `firedrill schema` describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Scenario files (`scenarios/**/*.yaml`).
    Scenario,
}

/// Arguments of `firedrill schema`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which format.
    pub format: Format,
}

/// Runs `firedrill schema`.
pub fn run(args: Args) -> Exit {
    match args.format {
        Format::Scenario => {
            let schema = crate::scenario::json_schema();
            match serde_json::to_string_pretty(&schema) {
                Ok(text) => {
                    outln!("{text}");
                    Exit::Success
                }
                Err(error) => {
                    errln!("error: cannot serialize the schema: {error}");
                    Exit::InputError
                }
            }
        }
    }
}

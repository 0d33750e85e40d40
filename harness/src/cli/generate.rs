//! `firedrill generate`: render one scenario into one log schema as JSON lines on stdout.

use super::Exit;
use crate::event::LogSchema;
use crate::generate::{self, AsimSource, Options};
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `firedrill generate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario file.
    pub scenario: PathBuf,
    /// The log schema: sysmon, security4688, mde, asim, ecs or ocsf.
    #[arg(long)]
    pub schema: LogSchema,
    /// Seed for pids, GUIDs, logon ids and background timing.
    #[arg(long, default_value_t = Options::default().seed)]
    pub seed: u64,
    /// Leave out background activity.
    #[arg(long)]
    pub no_background: bool,
    /// The product ASIM rows are emulated from: defender, sysmon or security.
    #[arg(long, default_value = "defender")]
    pub asim_source: AsimSource,
    /// A directory of extra background profiles (`*.yaml`).
    #[arg(long)]
    pub profiles: Option<PathBuf>,
}

/// Runs `firedrill generate`.
pub fn run(args: Args) -> Exit {
    if args.schema == LogSchema::Other {
        errln!(
            "error: `other` is not a generated schema; use sysmon, security4688, mde, asim, ecs or ocsf"
        );
        return Exit::InputError;
    }
    let extra_profiles = match &args.profiles {
        Some(dir) => match generate::profile::load_dir(dir) {
            Ok(profiles) => profiles,
            Err(diagnostics) => {
                super::print_diagnostics(&diagnostics);
                return Exit::InputError;
            }
        },
        None => Vec::new(),
    };
    let names: Vec<String> = extra_profiles
        .iter()
        .map(|p| p.name.clone())
        .chain(generate::profile::bundled_names().map(String::from))
        .collect();
    let file = args.scenario.display().to_string();
    let scenario = crate::encoding::read_source(&args.scenario, &file, "SCN0000", "scenario file")
        .map_err(|d| vec![*d])
        .and_then(|text| {
            crate::scenario::parse_with_profiles(&file, &text, names.iter().map(String::as_str))
        });
    let scenario = match scenario {
        Ok(scenario) => scenario,
        Err(diagnostics) => {
            super::print_diagnostics(&diagnostics);
            return Exit::InputError;
        }
    };
    let options = Options {
        seed: args.seed,
        background: !args.no_background,
        asim_source: args.asim_source,
        extra_profiles,
    };
    let timeline = generate::timeline(&scenario, &options);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for event in generate::render(&timeline, args.schema) {
        if writeln!(out, "{}", event.to_json()).is_err() {
            return Exit::Success; // a closed pipe (`| head`) is not an error
        }
    }
    let _ = out.flush();
    Exit::Success
}

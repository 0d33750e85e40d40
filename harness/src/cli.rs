//! The command line: the top-level parser, the list of subcommands and their dispatch.
//!
//! This is the edge of the program: the only place besides `main.rs` that reads arguments,
//! prints, or decides exit codes. Each subcommand lives in its own file under `cli/` with its
//! `Args` and a `run` returning an [`Exit`].
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the CLI edge is where output happens"
)]

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// `print!` to stdout that does not panic when stdout is closed (`firedrill kql ... | head`).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::write_out(format_args!($($arg)*))
    };
}

/// `println!`, as [`out!`].
macro_rules! outln {
    () => {
        $crate::cli::write_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprint!` that does not panic when stderr is closed (`firedrill ... 2>&1 | head`): a message
/// that cannot be written has nowhere else to go, and the exit code still tells the outcome.
macro_rules! err {
    ($($arg:tt)*) => {
        $crate::cli::write_err(format_args!($($arg)*))
    };
}

/// `eprintln!`, as [`err!`].
macro_rules! errln {
    () => {
        $crate::cli::write_err(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::write_err(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub mod explain;
pub mod generate;
pub mod kql;
pub mod lint;
pub mod regress;
pub mod run;
pub mod scan;
pub mod schema;

/// Offline detection validation: does your rule still fire on the attack, and stay quiet otherwise?
#[derive(Debug, Parser)]
#[command(name = "firedrill", version, about, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every scenario against every rule and write reports (the main job).
    Run(run::Args),
    /// Render one scenario into one log schema as JSON lines.
    Generate(generate::Args),
    /// Load and compile rules, reporting every problem.
    Lint(lint::Args),
    /// Evaluate rules over recorded logs (EVTX, JSON lines).
    Scan(scan::Args),
    /// Run one KQL query over tables given as JSON lines.
    Kql(kql::Args),
    /// Explain why a rule did or did not match one event.
    Explain(explain::Args),
    /// Check rules against SigmaHQ-style regression data (info.yml + recorded log).
    Regress(regress::Args),
    /// Print a JSON Schema of a file format (for editors).
    Schema(schema::Args),
}

/// How a command ended; maps onto the process exit code of the CLI contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Everything passed (0).
    Success,
    /// A check failed: expectations, regressions, rules that fail to load, `--fail-on-hit` (1).
    CheckFailed,
    /// Usage or input errors: a bad scenario, an unreadable file (2).
    InputError,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(match exit {
            Exit::Success => 0,
            Exit::CheckFailed => 1,
            Exit::InputError => 2,
        })
    }
}

/// Writes to stdout (see [`out!`]). A reader that stopped reading (a closed pipe) is not an
/// error: the rest of the output is dropped and the exit code still tells the outcome. Any other
/// failure to write (a full disk behind `>`) ends the program with exit code 2, since the output
/// it asked for is lost.
pub(crate) fn write_out(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    match std::io::stdout().lock().write_fmt(args) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            errln!("error: cannot write to stdout: {e}");
            std::process::exit(2);
        }
    }
}

/// Writes to stderr (see [`err!`]), ignoring failure.
pub(crate) fn write_err(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Exit {
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Lint(args) => lint::run(args),
        Command::Scan(args) => scan::run(args),
        Command::Kql(args) => kql::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Regress(args) => regress::run(args),
        Command::Schema(args) => schema::run(args),
    }
}

/// Prints diagnostics to stderr, rendered for a person.
pub fn print_diagnostics<'a>(diagnostics: impl IntoIterator<Item = &'a crate::Diagnostic>) {
    for diagnostic in diagnostics {
        errln!("{}", diagnostic.render());
    }
}

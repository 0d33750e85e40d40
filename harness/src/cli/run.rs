//! `firedrill run`: every scenario against every rule, five reports, an exit code.

use super::{Exit, print_diagnostics};
use crate::report::{self, RunReport, Status, describe_check};
use crate::run::{self, Config, Policy, Workspace};
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Arguments of `firedrill run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file [default: firedrill.yaml, looked up from the current directory]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Scenario files or directories, instead of the configuration's.
    #[arg(long = "scenarios", value_name = "DIR")]
    pub scenarios: Vec<PathBuf>,
    /// Rule files or directories, instead of the configuration's.
    #[arg(long = "rules", value_name = "DIR")]
    pub rules: Vec<PathBuf>,
    /// Where to write the reports [default: the configuration's, else reports/]
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// An earlier report.json: report what is newly failing, passing or noisy; regressions fail.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// The generator seed, instead of the configuration's.
    #[arg(long)]
    pub seed: Option<u64>,
    /// What a rule firing where nothing is expected does: fail, warn or ignore.
    #[arg(long, value_name = "POLICY", value_parser = parse_policy)]
    pub unexpected: Option<Policy>,
    /// What a rule holding on one rendering but not another does: fail, warn or ignore.
    #[arg(long, value_name = "POLICY", value_parser = parse_policy)]
    pub portability: Option<Policy>,
    /// Require every rule to have at least one positive and one negative expectation.
    #[arg(long)]
    pub require_coverage: bool,
    /// Print the Markdown summary on stdout instead of the short one.
    #[arg(long)]
    pub markdown: bool,
}

fn parse_policy(text: &str) -> Result<Policy, String> {
    match text {
        "fail" => Ok(Policy::Fail),
        "warn" => Ok(Policy::Warn),
        "ignore" => Ok(Policy::Ignore),
        _ => Err(format!("expected fail, warn or ignore, not `{text}`")),
    }
}

/// Resolves the configuration from the file and the arguments.
fn configure(args: &Args) -> Result<Config, Vec<crate::Diagnostic>> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::discover(&cwd)?,
    };
    if !args.scenarios.is_empty() {
        config.scenarios = args.scenarios.iter().map(|p| cwd.join(p)).collect();
    }
    if !args.rules.is_empty() {
        config.rules = args.rules.iter().map(|p| cwd.join(p)).collect();
    }
    if let Some(report) = &args.report {
        config.report = cwd.join(report);
    }
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    if let Some(policy) = args.unexpected {
        config.unexpected = policy;
    }
    if let Some(policy) = args.portability {
        config.portability = policy;
    }
    if args.require_coverage {
        config.coverage.require_positive_and_negative = true;
    }
    Ok(config)
}

/// Runs `firedrill run`.
pub fn run(args: Args) -> Exit {
    let config = match configure(&args) {
        Ok(config) => config,
        Err(diagnostics) => {
            print_diagnostics(&diagnostics);
            return Exit::InputError;
        }
    };
    let baseline = match &args.baseline {
        Some(path) => match report::read_json(path) {
            Ok(baseline) => Some((baseline, path.display().to_string())),
            Err(diagnostic) => {
                print_diagnostics([diagnostic.as_ref()]);
                return Exit::InputError;
            }
        },
        None => None,
    };
    let report_dir = config.report.clone();
    let workspace = Workspace::load(config);
    let report = execute(&workspace);
    let report = with_baseline(report, baseline);
    print_diagnostics(&workspace.diagnostics);
    if args.markdown {
        out!("{}", report::markdown::render(&report));
    } else {
        print_summary(&report);
    }
    match report::write_all(&report, &report_dir) {
        Ok(_) => outln!("reports written to {}", report_dir.display()),
        Err(e) => {
            errln!(
                "error[IO0002]: cannot write reports to {}: {e}",
                report_dir.display()
            );
            return Exit::InputError;
        }
    }
    if workspace.has_input_errors() {
        Exit::InputError
    } else if report.summary.ok() {
        Exit::Success
    } else {
        Exit::CheckFailed
    }
}

/// Runs every check, drawing a progress bar on stderr when it is a terminal.
fn execute(workspace: &Workspace) -> RunReport {
    let total = workspace.scenarios.len();
    let done = AtomicUsize::new(0);
    let terminal = std::io::stderr().is_terminal();
    let tick = || {
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        if terminal {
            let width = 30;
            let filled = n * width / total.max(1);
            err!(
                "\r[{}{}] {n}/{total} scenarios",
                "#".repeat(filled),
                " ".repeat(width - filled)
            );
        }
    };
    let mut report = run::run_with_progress(workspace, &tick);
    if terminal && total > 0 {
        errln!();
    }
    report.generated_at =
        Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    report
}

fn with_baseline(mut report: RunReport, baseline: Option<(RunReport, String)>) -> RunReport {
    if let Some((old, label)) = baseline {
        report.baseline = Some(report::baseline::diff(&old, &report, &label));
        report.summarize();
    }
    report
}

/// The human summary: every failure explained, then the counts.
fn print_summary(report: &RunReport) {
    for rule in report.rules.iter().filter(|r| r.failed()) {
        for diagnostic in &rule.diagnostics {
            errln!("{}", diagnostic.render());
        }
    }
    for scenario in &report.scenarios {
        for diagnostic in &scenario.diagnostics {
            errln!("{}", diagnostic.render());
        }
    }
    for (scenario, check) in report.checks() {
        if check.status.is_failure() {
            outln!(
                "FAIL {}\n",
                describe_check(report.rule(&check.rule), scenario, check)
                    .trim_end()
                    .replace('\n', "\n     ")
            );
        }
    }
    for (scenario, check) in report.checks() {
        if check.status == Status::Warn {
            outln!(
                "warn {} × {}: {}",
                scenario.slug,
                report.rule_title(&check.rule),
                check.message
            );
        }
    }
    let coverage = &report.coverage;
    if coverage.required {
        for (keys, lack) in [
            (&coverage.untested, "no scenario expects anything of it"),
            (
                &coverage.only_positive,
                "no scenario where it must stay quiet",
            ),
            (&coverage.only_negative, "no scenario where it must fire"),
        ] {
            for key in keys {
                outln!("coverage: {}: {lack}", report.rule_title(key));
            }
        }
    }
    if let Some(diff) = &report.baseline {
        outln!(
            "against {}: {} newly failing, {} newly noisy, {} newly passing",
            diff.baseline,
            diff.newly_failing.len(),
            diff.newly_noisy.len(),
            diff.newly_passing.len()
        );
        for e in diff.newly_failing.iter().chain(&diff.newly_noisy) {
            outln!(
                "  regression: {} × {}",
                e.scenario,
                report.rule_title(&e.rule)
            );
        }
    }
    let s = &report.summary;
    outln!(
        "{}: {} expectations over {} scenarios and {} rules: {} passed, {} failed, {} warnings, {} unexpected fires, {} not applicable; {} rules and {} scenarios failed to load",
        if s.ok() { "ok" } else { "FAILED" },
        s.expectations,
        s.scenarios,
        s.rules,
        s.passed,
        s.failed,
        s.warnings,
        s.unexpected_fires,
        s.not_applicable,
        s.rules_failed_to_load,
        s.scenarios_failed_to_load
    );
}

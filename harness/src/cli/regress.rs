//! `firedrill regress`: check rules against SigmaHQ-style regression data (info.yml + recorded log).

use super::Exit;
use crate::diag::Diagnostic;
use crate::logs::ReadOptions;
use crate::logs::scan::{ScanOptions, scan};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Output formats of `firedrill regress`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per test, for people.
    Text,
    /// `{"format_version":1,"results":[…]}`.
    Json,
}

/// Arguments of `firedrill regress`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The regression data: a directory holding `info.yml` files (SigmaHQ's `regression_data`
    /// layout), searched recursively.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// A Sigma rule file or directory (repeat for more).
    #[arg(long = "rules", value_name = "PATH", required = true)]
    pub rules: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Worker threads (0: one per core).
    #[arg(long, short = 'j', default_value_t = 0)]
    pub threads: usize,
}

/// An `info.yml`, as SigmaHQ writes them (other keys are ignored).
#[derive(Debug, Deserialize)]
struct Info {
    #[serde(default)]
    rule_metadata: Vec<RuleMetadata>,
    #[serde(default)]
    regression_tests_info: Vec<TestInfo>,
}

#[derive(Debug, Deserialize)]
struct RuleMetadata {
    id: String,
}

#[derive(Debug, Deserialize)]
struct TestInfo {
    #[serde(default)]
    match_count: Option<u64>,
    path: String,
}

/// One checked (rule, log) pair.
#[derive(Debug, Serialize)]
pub struct RegressResult {
    /// The rule's id, as `info.yml` names it.
    pub rule_id: String,
    /// The recorded log.
    pub path: String,
    /// The fewest matches that pass (`match_count`, or 1).
    pub expected_min: u64,
    /// How many times the rule matched the log.
    pub matches: u64,
    /// `matches >= expected_min` and the rule loaded.
    pub passed: bool,
    /// Why the check could not run as asked (rule not loaded, log missing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The JSON output.
#[derive(Debug, Serialize)]
struct RegressReport {
    format_version: u32,
    results: Vec<RegressResult>,
}

/// Runs `firedrill regress`.
pub fn run(args: Args) -> Exit {
    if !args.dir.is_dir() {
        let d = Diagnostic::error("LOG0011", "regression data directory not found")
            .in_file(args.dir.display().to_string());
        super::print_diagnostics([&d]);
        return Exit::InputError;
    }
    let mut infos = Vec::new();
    find_infos(&args.dir, &mut infos);
    let (engine, rule_diagnostics, _) = super::scan::load_engine(&args.rules);
    super::print_diagnostics(rule_diagnostics.iter().filter(|d| d.is_error()));
    let engine = Arc::new(engine);
    let opts = ScanOptions {
        read: ReadOptions {
            threads: args.threads,
            ..ReadOptions::default()
        },
        // Only each rule's hits are read, never its listed matches: list one, count the rest.
        max_matches_per_rule: 1,
        ..ScanOptions::default()
    };
    let mut results = Vec::new();
    let mut input_errors = Vec::new();
    for info_path in infos {
        let info = match read_info(&info_path) {
            Ok(info) => info,
            Err(d) => {
                input_errors.push(*d);
                continue;
            }
        };
        for rule in &info.rule_metadata {
            for test in &info.regression_tests_info {
                results.push(check(&engine, &opts, &args.dir, &info_path, &rule.id, test));
            }
        }
    }
    super::print_diagnostics(&input_errors);
    let failed = results.iter().filter(|r| !r.passed).count();
    let text = match args.format {
        Format::Json => {
            let report = RegressReport {
                format_version: 1,
                results,
            };
            serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
        }
        Format::Text => {
            let mut out = String::new();
            for r in &results {
                out += &format!(
                    "{} {} {} match(es), expected at least {}: {}{}\n",
                    if r.passed { "pass" } else { "FAIL" },
                    r.rule_id,
                    r.matches,
                    r.expected_min,
                    r.path,
                    r.error
                        .as_deref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                );
            }
            out += &format!("{} checked, {} failed\n", results.len(), failed);
            out
        }
    };
    if let Err(exit) = super::scan::emit(&text, None) {
        return exit;
    }
    if !input_errors.is_empty() {
        Exit::InputError
    } else if failed > 0 {
        Exit::CheckFailed
    } else {
        Exit::Success
    }
}

fn find_infos(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            find_infos(&path, out);
        } else if path
            .file_name()
            .is_some_and(|n| n == "info.yml" || n == "info.yaml")
        {
            out.push(path);
        }
    }
}

fn read_info(path: &Path) -> Result<Info, Box<Diagnostic>> {
    let name = path.display().to_string();
    let text = crate::encoding::read_source(path, &name, "LOG0011", "the regression info")?;
    serde_yaml::from_str(&text).map_err(|e| {
        let d = Diagnostic::error("LOG0011", format!("not a regression info.yml: {e}"));
        let d = match e.location() {
            Some(at) => d.located(crate::diag::Location::at_line_col(
                name,
                &text,
                at.line(),
                at.column(),
            )),
            None => d.in_file(name),
        };
        Box::new(d)
    })
}

/// Where `info.yml`'s `path` points: SigmaHQ writes it relative to the repository root
/// (`regression_data/rules/…/x.evtx`), so try it beside `info.yml`, then against `dir` and
/// each of its ancestors.
fn resolve(dir: &Path, info: &Path, path: &str) -> Option<PathBuf> {
    let relative = Path::new(path);
    let beside = info.parent()?.join(relative.file_name()?);
    if beside.exists() {
        return Some(beside);
    }
    dir.ancestors()
        .map(|base| base.join(relative))
        .find(|candidate| candidate.exists())
}

fn check(
    engine: &Arc<crate::sigma::Engine>,
    opts: &ScanOptions,
    dir: &Path,
    info: &Path,
    rule_id: &str,
    test: &TestInfo,
) -> RegressResult {
    let expected_min = test.match_count.unwrap_or(1);
    let mut result = RegressResult {
        rule_id: rule_id.to_string(),
        path: test.path.clone(),
        expected_min,
        matches: 0,
        passed: false,
        error: None,
    };
    let Some(log) = resolve(dir, info, &test.path) else {
        result.error = Some("recorded log not found".into());
        return result;
    };
    result.path = log.display().to_string();
    match engine.find(rule_id) {
        None => {
            result.error = Some("rule not among the loaded rules".into());
            return result;
        }
        Some(rule) if !engine.rules()[rule].usable => {
            result.error = Some("rule failed to compile".into());
            return result;
        }
        Some(_) => {}
    }
    let report = scan(std::slice::from_ref(&log), engine, opts);
    if let Some(d) = report.diagnostics.iter().find(|d| d.is_error()) {
        result.error = Some(d.message.clone());
    }
    // The rule's hits, listed or not.
    result.matches = report
        .rules
        .iter()
        .filter(|r| r.rule_id == rule_id)
        .map(|r| r.hits)
        .sum();
    result.passed = result.error.is_none() && result.matches >= expected_min;
    result
}

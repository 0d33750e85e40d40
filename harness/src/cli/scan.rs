//! `firedrill scan`: evaluate Sigma and KQL rules over recorded logs and review what they fire on.

use super::Exit;
use crate::diag::Diagnostic;
use crate::logs::ReadOptions;
use crate::logs::kql::KqlRules;
use crate::logs::review::{self, Allowlist, ScanReport};
use crate::logs::scan::{REVIEW_MAX_MATCHES_PER_RULE, ScanOptions, scan};
use crate::sigma::{Config, Engine, RuleSet};
use chrono::{DateTime, Utc};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Output formats of `firedrill scan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The versioned JSON report (`format_version: 1`).
    Json,
    /// Markdown, for people and pull requests.
    Md,
    /// One self-contained HTML review page.
    Html,
}

impl Format {
    /// How many matches per rule the report lists without `--max-matches-per-rule`: JSON every
    /// one (the CLI contract lists every match), the review pages for people the earliest
    /// [`REVIEW_MAX_MATCHES_PER_RULE`].
    pub fn default_max_matches_per_rule(self) -> usize {
        match self {
            Format::Json => 0,
            Format::Md | Format::Html => REVIEW_MAX_MATCHES_PER_RULE,
        }
    }
}

/// Arguments of `firedrill scan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A rule file or directory (repeat for more): Sigma rules, `.kql` queries and Sentinel
    /// rule YAML.
    #[arg(long = "rules", value_name = "PATH", required = true)]
    pub rules: Vec<PathBuf>,
    /// Log files or directories: EVTX, JSON lines (flat, Winlogbeat, evtx_dump, Defender),
    /// Defender CSV; gzip-compressed or not.
    #[arg(value_name = "LOGFILE", required = true)]
    pub logs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Md)]
    pub format: Format,
    /// Exit with 1 when any rule matches (for CI runs over known-good logs).
    #[arg(long)]
    pub fail_on_hit: bool,
    /// Known false positives, in SigmaHQ's known-FPs.csv layout (`RuleId;RuleName;MatchString`).
    #[arg(long, value_name = "FILE")]
    pub allowlist: Option<PathBuf>,
    /// The field to take event times from, before the recognised ones (`UtcTime`,
    /// `@timestamp`, `timestamp`, `Timestamp`, `TimeGenerated`).
    #[arg(long, value_name = "FIELD")]
    pub time_field: Option<String>,
    /// `now()` for KQL queries (RFC 3339); by default the latest event time in the tables
    /// they read, so `ago(7d)` means the last week of the data.
    #[arg(long, value_name = "TIME", value_parser = parse_now)]
    pub now: Option<DateTime<Utc>>,
    /// List at most N matches per rule, the earliest (by time, then file, then index); the
    /// rest are counted per rule and in the summary, not listed. 0: list every match.
    /// Default: every match with `--format json`, 100 with `md` and `html`.
    #[arg(long, value_name = "N")]
    pub max_matches_per_rule: Option<usize>,
    /// Worker threads (0: one per core).
    #[arg(long, short = 'j', default_value_t = 0)]
    pub threads: usize,
    /// Write the report to FILE (atomically) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Rule files under `paths`, split into Sigma and KQL (`.kql` files and Sentinel rule YAML); a
/// path that does not exist is a `CFG0003` error.
pub(crate) fn rule_files(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<PathBuf>, Vec<Diagnostic>) {
    let (files, diagnostics) = crate::run::rules::rule_files(paths);
    let (kql, sigma) = files.into_iter().partition(|path| {
        let text = crate::encoding::read_or_empty(path);
        crate::run::rules::language_of(path, &text) == Some(crate::report::Language::Kql)
    });
    (sigma, kql, diagnostics)
}

/// Loads and compiles the Sigma rules among `paths` (KQL files are left out). Returns the
/// engine, the diagnostics (errors mean a rule failed) and how many files failed to load.
pub(crate) fn load_engine(paths: &[PathBuf]) -> (Engine, Vec<Diagnostic>, usize) {
    let (sigma, _, missing) = rule_files(paths);
    load_sigma(&sigma, missing)
}

fn load_sigma(sigma: &[PathBuf], missing: Vec<Diagnostic>) -> (Engine, Vec<Diagnostic>, usize) {
    let (set, mut diagnostics) = RuleSet::load_paths(sigma);
    let failed = set.failed.len() + missing.len();
    diagnostics.splice(0..0, missing);
    let (engine, compile) = Engine::compile(&set, &Config::default());
    diagnostics.extend(compile);
    (engine, diagnostics, failed)
}

/// Runs `firedrill scan`.
pub fn run(args: Args) -> Exit {
    let allowlist = match &args.allowlist {
        None => Allowlist::default(),
        Some(path) => match read_allowlist(path) {
            Ok(list) => list,
            Err(diagnostic) => {
                super::print_diagnostics([&*diagnostic]);
                return Exit::InputError;
            }
        },
    };
    let (sigma_files, kql_files, missing) = rule_files(&args.rules);
    let (engine, mut rule_diagnostics, failed_documents) = load_sigma(&sigma_files, missing);
    let engine = Arc::new(engine);
    let (kql, kql_diagnostics) = KqlRules::load(&kql_files);
    rule_diagnostics.extend(kql_diagnostics);
    let progress = Arc::new(AtomicU64::new(0));
    let opts = ScanOptions {
        read: ReadOptions {
            time_field: args.time_field.clone(),
            threads: args.threads,
            progress: Some(Arc::clone(&progress)),
            ..ReadOptions::default()
        },
        allowlist,
        kql: Arc::new(kql),
        now: args.now,
        max_matches_per_rule: args
            .max_matches_per_rule
            .unwrap_or(args.format.default_max_matches_per_rule()),
    };
    let bar = ProgressBar::start(progress);
    let mut report = scan(&args.logs, &engine, &opts);
    bar.finish();
    report.summary.rules_failed += failed_documents;
    crate::logs::scan::add_rule_diagnostics(&mut report, rule_diagnostics);
    let text = match args.format {
        Format::Json => review::to_json(&report) + "\n",
        Format::Md => review::to_markdown(&report),
        Format::Html => review::to_html(&report),
    };
    if let Err(exit) = emit(&text, args.output.as_deref()) {
        return exit;
    }
    if args.format != Format::Json {
        super::print_diagnostics(report.diagnostics.iter().filter(|d| d.is_error()));
    }
    exit_code(&report, args.fail_on_hit)
}

/// The CLI contract: unreadable input is 2; rules that failed or, with `--fail-on-hit`, any
/// match is 1.
fn exit_code(report: &ScanReport, fail_on_hit: bool) -> Exit {
    let s = &report.summary;
    if s.unreadable_files > 0 {
        Exit::InputError
    } else if s.rules_failed > 0 || (fail_on_hit && s.matches > 0) {
        Exit::CheckFailed
    } else {
        Exit::Success
    }
}

fn parse_now(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 time (2025-11-20T10:00:00Z): {e}"))
}

fn read_allowlist(path: &Path) -> Result<Allowlist, Box<Diagnostic>> {
    let text =
        crate::encoding::read_source(path, &path.display().to_string(), "LOG0010", "allowlist")?;
    Ok(Allowlist::parse(&path.display().to_string(), &text)?)
}

/// Prints `text` to stdout, or writes it atomically to `output`.
pub(crate) fn emit(text: &str, output: Option<&Path>) -> Result<(), Exit> {
    match output {
        None => {
            out!("{text}");
            Ok(())
        }
        Some(path) => crate::report::write_atomically(path, text.as_bytes()).map_err(|e| {
            errln!("error: cannot write {}: {e}", path.display());
            Exit::InputError
        }),
    }
}

/// A one-line progress display on stderr (only when stderr is a terminal): events read, events
/// per second, elapsed time.
pub(crate) struct ProgressBar {
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ProgressBar {
    pub(crate) fn start(counter: Arc<AtomicU64>) -> ProgressBar {
        let done = Arc::new(AtomicBool::new(false));
        let thread = std::io::stderr().is_terminal().then(|| {
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let start = Instant::now();
                while !done.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(200));
                    let events = counter.load(Ordering::Relaxed);
                    let seconds = start.elapsed().as_secs_f64();
                    err!(
                        "\r\x1b[2Kscanning: {} events, {} events/s, {seconds:.1}s",
                        thousands(events),
                        thousands((events as f64 / seconds.max(1e-9)) as u64)
                    );
                }
                err!("\r\x1b[2K");
            })
        });
        ProgressBar { done, thread }
    }

    pub(crate) fn finish(mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lists_every_match_by_default_and_the_help_names_the_review_pages_cap() {
        assert_eq!(Format::Json.default_max_matches_per_rule(), 0);
        for format in [Format::Md, Format::Html] {
            assert_eq!(
                format.default_max_matches_per_rule(),
                REVIEW_MAX_MATCHES_PER_RULE
            );
        }
        let command = <Args as clap::Args>::augment_args(clap::Command::new("scan"));
        let help = command
            .get_arguments()
            .find(|a| a.get_id() == "max_matches_per_rule")
            .and_then(|a| a.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        let default = format!("{REVIEW_MAX_MATCHES_PER_RULE} with `md` and `html`");
        assert!(help.contains(&default), "{help}");
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}

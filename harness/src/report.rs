//! One versioned report model and its pure writers: JSON, JUnit, Markdown, HTML, ATT&CK layer.
//!
//! `run` turns rules × scenarios into a [`RunReport`]; every output format is a pure function of
//! that one value (`json::render`, `junit::render`, `markdown::render`, `html::render`,
//! `attack_layer::render`). The only file system access is at the edge: [`write_all`] writes the
//! five files atomically (a temporary file in the target directory, then a rename), and
//! [`read_json`] loads an earlier `report.json` as a baseline for [`baseline::diff`].

use crate::diag::Diagnostic;
use crate::event::LogSchema;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

pub mod attack_layer;
pub mod baseline;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod page;

pub use baseline::BaselineDiff;

/// The version of the JSON model; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

/// The file names [`write_all`] writes, in order.
pub const FILES: [&str; 5] = [
    "report.json",
    "junit.xml",
    "report.md",
    "report.html",
    "attack-layer.json",
];

/// Everything one run found: rules, scenarios, one check per (scenario, rule), coverage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// [`FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// The tool and version that wrote it, for example `firedrill 0.1.0`.
    pub tool: String,
    /// When the run happened (RFC 3339), when the caller recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated_at: Option<String>,
    /// The generator seed.
    pub seed: u64,
    /// Counts over everything below.
    pub summary: Summary,
    /// Every rule file's rules, loaded or not.
    pub rules: Vec<RuleInfo>,
    /// Every scenario file, loaded or not, with its checks.
    pub scenarios: Vec<ScenarioReport>,
    /// Which rules lack positive or negative scenarios.
    pub coverage: Coverage,
    /// Problems not tied to one rule or scenario (configuration, directories).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
    /// The comparison with an earlier report, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineDiff>,
}

/// Counts over a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Scenario files found.
    pub scenarios: usize,
    /// Scenario files that did not load.
    pub scenarios_failed_to_load: usize,
    /// Rules found (including those that failed to load).
    pub rules: usize,
    /// Rules that did not load.
    pub rules_failed_to_load: usize,
    /// Expectations checked.
    pub expectations: usize,
    /// Expectations that held.
    pub passed: usize,
    /// Expectations that did not hold.
    pub failed: usize,
    /// Checks that passed with a warning (portability) or fired without an expectation under
    /// `unexpected: warn`.
    pub warnings: usize,
    /// Rules that fired on a scenario with no expectation for them.
    pub unexpected_fires: usize,
    /// Checks whose rule no rendering serves.
    pub not_applicable: usize,
    /// Failures from the coverage requirement, when it is on.
    #[serde(default)]
    pub coverage_failures: usize,
    /// Checks that regressed against the baseline.
    #[serde(default)]
    pub regressions: usize,
}

impl Summary {
    /// True when nothing failed: no failed check, no rule or scenario load error, no regression,
    /// no unmet coverage requirement.
    pub fn ok(&self) -> bool {
        self.failed == 0
            && self.rules_failed_to_load == 0
            && self.scenarios_failed_to_load == 0
            && self.regressions == 0
            && self.coverage_failures == 0
    }
}

/// The rule language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// A Sigma rule.
    Sigma,
    /// A KQL query (a `.kql` file or Sentinel rule YAML).
    Kql,
}

impl Language {
    /// `sigma` or `kql`.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Sigma => "sigma",
            Language::Kql => "kql",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule as the report names it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleInfo {
    /// Stable identity within the run: the rule's id when it has one, else its file and position.
    pub key: String,
    /// The short name used in test names: the file stem, plus the title when a file holds several.
    pub slug: String,
    /// The rule's title (Sigma) or name (KQL), or the file name.
    pub title: String,
    /// The rule's id, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The rule's `name` (Sigma rule names, Sentinel names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Sigma or KQL.
    pub language: Language,
    /// The file, relative to the repository root.
    pub path: String,
    /// The author (the Detection Rule License requires it to travel with every match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The severity level, when the rule states one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// ATT&CK techniques the rule names (`T1059`, `T1059.001`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub techniques: Vec<String>,
    /// What the rule reads: a Sigma log source (`windows/process_creation`) or KQL tables.
    pub reads: String,
    /// The renderings the rule is checked on; empty when none serves it.
    pub schemas: Vec<LogSchema>,
    /// Why it did not load (errors), or what to know about it (warnings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
}

impl RuleInfo {
    /// True when the rule failed to load.
    pub fn failed(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// What a scenario expects of a rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Expected {
    /// Fires on exactly these nodes' events and no others.
    FiresOn {
        /// Node ids.
        nodes: Vec<String>,
    },
    /// Fires at least once.
    Fires,
    /// Fires exactly this many times (Sigma: matching events; KQL: result rows).
    Count {
        /// How many.
        count: usize,
    },
    /// Never fires.
    Quiet,
}

impl Expected {
    /// True for expectations that the rule fires.
    pub fn is_positive(&self) -> bool {
        match self {
            Expected::FiresOn { nodes } => !nodes.is_empty(),
            Expected::Fires => true,
            Expected::Count { count } => *count > 0,
            Expected::Quiet => false,
        }
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::FiresOn { nodes } => write!(f, "fires_on [{}]", nodes.join(", ")),
            Expected::Fires => f.write_str("fires"),
            Expected::Count { count } => write!(f, "count {count}"),
            Expected::Quiet => f.write_str("quiet"),
        }
    }
}

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The expectation held.
    Pass,
    /// The expectation did not hold, or the rule fired unexpectedly under `unexpected: fail`.
    Fail,
    /// Held with a warning: a portability gap, or an unexpected fire under `unexpected: warn`.
    Warn,
    /// No rendering serves the rule's log source.
    NotApplicable,
    /// The rule or the scenario could not be evaluated (a load or evaluation error).
    Error,
    /// No expectation, and the rule did not fire (or its fire is ignored by policy).
    Silent,
}

impl Status {
    /// The lowercase name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Warn => "warn",
            Status::NotApplicable => "not applicable",
            Status::Error => "error",
            Status::Silent => "silent",
        }
    }

    /// True for statuses that fail a run.
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Fail | Status::Error)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One scenario file and what every rule did on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioReport {
    /// The file, relative to the repository root.
    pub file: String,
    /// The short name used in test names: the path under its scenario directory, without `.yaml`.
    pub slug: String,
    /// The scenario's name (the file stem when it did not load).
    pub name: String,
    /// Its description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// ATT&CK techniques the scenario exercises.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub techniques: Vec<String>,
    /// Why it did not load.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
    /// The events the checks refer to (matched events and the events of expected nodes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventRecord>,
    /// Why the scenario was skipped, when its file says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// One check per expectation, then one per other rule, in rule order.
    pub checks: Vec<CheckReport>,
}

impl ScenarioReport {
    /// The worst status among its checks (`Error` when it did not load).
    pub fn status(&self) -> Status {
        if self.diagnostics.iter().any(Diagnostic::is_error) {
            return Status::Error;
        }
        worst(self.checks.iter().map(|c| c.status))
    }
}

/// The worst of several statuses: error, fail, warn, pass, then the rest.
pub fn worst(statuses: impl IntoIterator<Item = Status>) -> Status {
    let rank = |s: Status| match s {
        Status::Error => 5,
        Status::Fail => 4,
        Status::Warn => 3,
        Status::Pass => 2,
        Status::NotApplicable => 1,
        Status::Silent => 0,
    };
    statuses
        .into_iter()
        .max_by_key(|s| rank(*s))
        .unwrap_or(Status::Silent)
}

/// One event of a rendering, as a report shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// The rendering it belongs to.
    pub schema: LogSchema,
    /// Its position in that rendering (0-based).
    pub index: usize,
    /// The scenario node (or background entry) it records.
    pub node: String,
    /// True for benign activity.
    pub benign: bool,
    /// The fields as the schema writes them.
    pub fields: serde_json::Value,
}

/// What one rule did on one scenario, against its expectation if there is one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// The rule's [`RuleInfo::key`].
    pub rule: String,
    /// What the scenario expects, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expected>,
    /// The expectation's `note:` (why it is what it is), shown beside the outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The outcome over all renderings.
    pub status: Status,
    /// One line: what happened.
    pub message: String,
    /// The outcome per rendering the rule meets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renderings: Vec<RenderingReport>,
    /// Why the check could not run (an unknown rule reference, an evaluation error).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
}

impl CheckReport {
    /// True when the rule fired on some rendering.
    pub fn fired(&self) -> bool {
        self.renderings.iter().any(|r| r.matches > 0)
    }
}

/// What one rule did on one rendering of one scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RenderingReport {
    /// The rendering.
    pub schema: LogSchema,
    /// The outcome on this rendering alone.
    pub status: Status,
    /// How many matches (Sigma: events; KQL: result rows).
    pub matches: usize,
    /// The nodes whose events produced the matches, in scenario order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fired_on: Vec<String>,
    /// The matched events, as indices into [`ScenarioReport::events`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<usize>,
    /// Expected against actual, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why it matched or did not: one explanation per event that matters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub explain: Vec<Explanation>,
}

/// Why a rule did or did not match one event, as the engine explains it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    /// The event, as an index into [`ScenarioReport::events`]; none when the node has no event
    /// in this rendering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<usize>,
    /// Its node.
    pub node: String,
    /// True when the rule matched it.
    pub matched: bool,
    /// The engine's trace, one line per condition node.
    pub trace: String,
}

/// Rules missing positive or negative scenarios.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// True when every rule must have at least one positive and one negative expectation.
    pub required: bool,
    /// Rules no scenario expects anything of.
    pub untested: Vec<String>,
    /// Rules with only positive expectations.
    pub only_positive: Vec<String>,
    /// Rules with only negative expectations.
    pub only_negative: Vec<String>,
}

impl RunReport {
    /// A rule by key.
    pub fn rule(&self, key: &str) -> Option<&RuleInfo> {
        self.rules.iter().find(|r| r.key == key)
    }

    /// The rule's title, or the key itself when the rule is unknown.
    pub fn rule_title<'a>(&'a self, key: &'a str) -> &'a str {
        self.rule(key).map_or(key, |r| r.title.as_str())
    }

    /// Every check with its scenario.
    pub fn checks(&self) -> impl Iterator<Item = (&ScenarioReport, &CheckReport)> {
        self.scenarios
            .iter()
            .flat_map(|s| s.checks.iter().map(move |c| (s, c)))
    }

    /// Recomputes [`RunReport::summary`] from the rules, scenarios, coverage and baseline.
    pub fn summarize(&mut self) {
        let mut summary = Summary {
            scenarios: self.scenarios.len(),
            scenarios_failed_to_load: self
                .scenarios
                .iter()
                .filter(|s| s.status() == Status::Error)
                .count(),
            rules: self.rules.len(),
            rules_failed_to_load: self.rules.iter().filter(|r| r.failed()).count(),
            ..Summary::default()
        };
        for (_, check) in self.checks() {
            if check.expected.is_some() {
                summary.expectations += 1;
            } else if check.fired() {
                summary.unexpected_fires += 1;
            }
            match check.status {
                Status::Pass => summary.passed += 1,
                Status::Fail | Status::Error => summary.failed += 1,
                Status::Warn => summary.warnings += 1,
                Status::NotApplicable => summary.not_applicable += 1,
                Status::Silent => {}
            }
        }
        if self.coverage.required {
            let mut lacking: Vec<&String> = self
                .coverage
                .untested
                .iter()
                .chain(&self.coverage.only_positive)
                .chain(&self.coverage.only_negative)
                .collect();
            lacking.sort();
            lacking.dedup();
            summary.coverage_failures = lacking.len();
        }
        summary.regressions = self.baseline.as_ref().map_or(0, BaselineDiff::regressions);
        self.summary = summary;
    }
}

/// A check explained for a person: rule, scenario, expectation, and per rendering what happened
/// and why (the engine's traces). Used by JUnit failures, libtest failures and the Markdown report.
pub fn describe_check(
    rule: Option<&RuleInfo>,
    scenario: &ScenarioReport,
    check: &CheckReport,
) -> String {
    let mut out = String::new();
    match rule {
        Some(rule) => {
            out += &format!("rule `{}` ({}, {})\n", rule.title, rule.language, rule.path);
        }
        None => out += &format!("rule `{}`\n", check.rule),
    }
    out += &format!("scenario `{}` ({})\n", scenario.name, scenario.file);
    match &check.expected {
        Some(expected) => {
            out += &format!("expected: {expected}\n");
            if let Some(note) = &check.note {
                out += &format!("note: {note}\n");
            }
        }
        None => out += "expected: nothing (no expectation for this rule)\n",
    }
    let repeated = check.renderings.iter().any(|r| {
        r.reason
            .as_ref()
            .is_some_and(|reason| check.message == format!("{}: {reason}", r.schema))
    });
    if repeated {
        out += &format!("outcome: {}\n", check.status);
    } else {
        out += &format!("outcome: {}: {}\n", check.status, check.message);
    }
    for rendering in &check.renderings {
        out += &format!("  {}: {}", rendering.schema, rendering.status);
        match &rendering.reason {
            Some(reason) => out += &format!(": {reason}\n"),
            None if rendering.fired_on.is_empty() => out += ": no match\n",
            None => out += &format!(": fired on [{}]\n", rendering.fired_on.join(", ")),
        }
        for explanation in &rendering.explain {
            let verdict = if explanation.matched {
                "matched"
            } else {
                "did not match"
            };
            let index = explanation
                .event
                .and_then(|i| scenario.events.get(i))
                .map_or(String::new(), |e| {
                    format!(" ({} event #{})", e.schema, e.index)
                });
            out += &format!("    node `{}`{index} {verdict}:\n", explanation.node);
            for line in explanation.trace.lines() {
                out += &format!("      {line}\n");
            }
        }
    }
    for diagnostic in rule
        .map(|r| r.diagnostics.as_slice())
        .unwrap_or_default()
        .iter()
        .chain(&check.diagnostics)
    {
        out += &diagnostic.render();
    }
    out
}

/// Writes the five report files into `dir` (created if missing), each atomically.
///
/// Returns the paths written, in [`FILES`] order.
pub fn write_all(report: &RunReport, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let contents = [
        json::render(report),
        junit::render(report),
        markdown::render(report),
        html::render(report),
        attack_layer::render(report),
    ];
    FILES
        .iter()
        .zip(contents)
        .map(|(name, text)| {
            let path = dir.join(name);
            write_atomically(&path, text.as_bytes())?;
            Ok(path)
        })
        .collect()
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// reader never sees a half-written file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".firedrill-");
    // A report is an ordinary file (tempfile's default is owner-only).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut file = builder.tempfile_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Reads a `report.json` written by an earlier run, for use as a baseline.
pub fn read_json(path: &Path) -> Result<RunReport, Box<Diagnostic>> {
    let display = path.display().to_string();
    let text = crate::encoding::read_source(path, &display, "IO0001", "baseline report")?;
    json::parse(&text).map_err(|d| Box::new(d.in_file(display)))
}

#[cfg(test)]
pub(crate) mod sample;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_leave_no_temporary_files_behind() {
        let dir = tempfile::tempdir().unwrap();
        let report = sample::report();
        let written = write_all(&report, &dir.path().join("out")).unwrap();
        assert_eq!(written.len(), 5);
        let mut names: Vec<String> = std::fs::read_dir(dir.path().join("out"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "attack-layer.json",
                "junit.xml",
                "report.html",
                "report.json",
                "report.md"
            ]
        );
        // Overwriting replaces the content whole.
        write_atomically(&written[2], b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&written[2]).unwrap(), "new");
    }

    #[test]
    fn summary_counts_follow_the_checks() {
        let report = sample::report();
        let s = &report.summary;
        assert_eq!(
            (s.expectations, s.passed, s.failed, s.warnings),
            (4, 2, 1, 2)
        );
        assert_eq!((s.unexpected_fires, s.not_applicable), (1, 1));
        assert_eq!(s.rules_failed_to_load, 1);
        assert!(!s.ok());
    }

    #[test]
    fn the_worst_status_wins() {
        assert_eq!(worst([Status::Pass, Status::Warn]), Status::Warn);
        assert_eq!(
            worst([Status::Silent, Status::NotApplicable]),
            Status::NotApplicable
        );
        assert_eq!(worst([]), Status::Silent);
    }
}

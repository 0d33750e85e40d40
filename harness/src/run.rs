//! Rules × scenarios → outcomes: evaluation, expectation checking and the strictness policy.
//!
//! [`Workspace::load`] is the loading edge: it reads the configured rule and scenario files and
//! keeps every failure as data (a rule that does not load is a rule with diagnostics; a scenario
//! that does not load is a scenario with diagnostics). Everything after that is pure:
//! [`Workspace::prepare`] renders one scenario into the schemas the rules need and resolves its
//! expectations; [`Workspace::check_rule`] checks one rule on it; [`run`] does all of that for
//! every pair and builds the [`RunReport`].

pub mod check;
pub mod config;
pub mod engines;
pub mod rules;

pub use check::{Detector, EventRef, EventTable, Hit, Renderings};
pub use config::{Config, Policy};
pub use rules::Rule;

use crate::diag::Diagnostic;
use crate::event::LogSchema;
use crate::report::{
    CheckReport, Coverage, Expected, FORMAT_VERSION, RunReport, ScenarioReport, Status, Summary,
};
use crate::scenario::{self, Check, Scenario};
use check::{CheckInput, Policies};
use rayon::prelude::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// One scenario file, loaded or not.
#[derive(Clone, Debug)]
pub struct ScenarioEntry {
    /// Where it is.
    pub path: PathBuf,
    /// The path for people (relative to the repository root).
    pub file: String,
    /// The path under its scenario directory without the extension (`arcgis/arcsoc_powershell`).
    pub slug: String,
    /// The scenario, or why it did not load.
    pub scenario: Result<Scenario, Vec<Diagnostic>>,
}

/// Everything a run needs: the configuration, the rules, the scenarios.
#[derive(Clone, Debug)]
pub struct Workspace {
    /// The configuration.
    pub config: Config,
    /// Every rule, loaded or not, in file order.
    pub rules: Vec<Rule>,
    /// Every scenario file, loaded or not, in file order.
    pub scenarios: Vec<ScenarioEntry>,
    /// Problems with the configuration itself (missing directories).
    pub diagnostics: Vec<Diagnostic>,
}

/// What a scenario expects of one rule, resolved.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The rule index, or why the reference names no rule.
    pub rule: Result<usize, Box<Diagnostic>>,
    /// The reference as written.
    pub reference: String,
    /// The expectation.
    pub expected: Expected,
    /// The expectation's note.
    pub note: Option<String>,
}

/// A scenario rendered and its expectations resolved: everything checks need.
#[derive(Debug)]
pub struct Prepared {
    /// The scenario's renderings (only the schemas some rule needs).
    pub renderings: Renderings,
    /// Node ids in tree order.
    pub nodes: Vec<String>,
    /// The expectations, resolved against the rules.
    pub expectations: Vec<Resolved>,
}

/// The expectation model of the report, from the scenario model.
pub fn expected(check: &Check) -> Expected {
    match check {
        Check::FiresOn(nodes) => Expected::FiresOn {
            nodes: nodes.clone(),
        },
        Check::Fires => Expected::Fires,
        Check::Count(count) => Expected::Count { count: *count },
        Check::Quiet => Expected::Quiet,
    }
}

/// Scenario files under `paths` with their slugs; a missing path is a `CFG0003` diagnostic.
pub fn scenario_files(paths: &[PathBuf]) -> (Vec<(PathBuf, String)>, Vec<Diagnostic>) {
    let mut files = Vec::new();
    let mut diagnostics = Vec::new();
    for base in paths {
        if base.is_file() {
            files.push((base.clone(), slug(base, base.parent().unwrap_or(base))));
        } else if base.is_dir() {
            let mut found = Vec::new();
            rules::walk(base, &mut found);
            found
                .retain(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")));
            found.sort();
            files.extend(found.into_iter().map(|p| {
                let s = slug(&p, base);
                (p, s)
            }));
        } else {
            diagnostics.push(
                Diagnostic::error("CFG0003", "no such file or directory")
                    .in_file(path_text(base))
                    .with_help("check `scenarios:` in firedrill.yaml or the --scenarios argument"),
            );
        }
    }
    (files, diagnostics)
}

fn slug(path: &Path, base: &Path) -> String {
    let relative = path.strip_prefix(base).unwrap_or(path).with_extension("");
    path_text(&relative)
}

fn path_text(path: &Path) -> String {
    path.display().to_string().replace('\\', "/")
}

impl Workspace {
    /// Loads every rule and scenario the configuration names. Never fails: problems are data.
    pub fn load(config: Config) -> Workspace {
        let mut diagnostics = Vec::new();
        let (rule_files, problems) = rules::rule_files(&config.rules);
        diagnostics.extend(problems);
        let mut loaded = engines::load(&rule_files, &config);
        rules::make_unique(&mut loaded);
        let (files, problems) = scenario_files(&config.scenarios);
        diagnostics.extend(problems);
        let scenarios = files
            .into_iter()
            .map(|(path, slug)| ScenarioEntry {
                file: config.display_path(&path),
                scenario: scenario::load(&path),
                path,
                slug,
            })
            .collect();
        Workspace {
            config,
            rules: loaded,
            scenarios,
            diagnostics,
        }
    }

    /// True when the input itself is broken: a missing directory, a scenario that does not load.
    pub fn has_input_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
            || self.scenarios.iter().any(|s| s.scenario.is_err())
    }

    /// The strictness settings.
    pub fn policies(&self) -> Policies {
        Policies {
            unexpected: self.config.unexpected,
            portability: self.config.portability,
        }
    }

    /// Renders `scenario` into every schema a loaded rule needs and resolves its expectations.
    pub fn prepare(&self, scenario: &Scenario) -> Prepared {
        let schemas: BTreeSet<LogSchema> = self
            .rules
            .iter()
            .filter(|r| r.detector.is_some())
            .flat_map(|r| r.needs.iter().copied())
            .collect();
        let options = crate::generate::Options {
            seed: self.config.seed,
            background: self.config.background,
            ..crate::generate::Options::default()
        };
        let timeline = crate::generate::timeline(scenario, &options);
        let renderings = Renderings::new(
            schemas
                .into_iter()
                .map(|schema| (schema, crate::generate::render(&timeline, schema)))
                .collect(),
            Some(timeline.end()),
        );
        let expectations = scenario
            .expect
            .iter()
            .map(|e| Resolved {
                rule: rules::resolve(&self.rules, &e.rule).map_err(|d| match &e.location {
                    Some(location) => Box::new(d.located(location.clone())),
                    None => Box::new(d.in_file(scenario.file.clone())),
                }),
                reference: e.rule.clone(),
                expected: expected(&e.check),
                note: e.note.clone(),
            })
            .collect();
        Prepared {
            renderings,
            nodes: scenario.node_ids().into_iter().map(String::from).collect(),
            expectations,
        }
    }

    /// Checks rule `index` on a prepared scenario: one check per expectation naming the rule, or
    /// one unexpected-fire check when none does. A rule that did not load yields error checks for
    /// its expectations and nothing otherwise.
    pub fn check_rule(
        &self,
        prepared: &Prepared,
        index: usize,
        table: &mut EventTable,
    ) -> Vec<CheckReport> {
        let rule = &self.rules[index];
        let expectations: Vec<&Resolved> = prepared
            .expectations
            .iter()
            .filter(|e| e.rule.as_ref().is_ok_and(|i| *i == index))
            .collect();
        let Some(detector) = &rule.detector else {
            return expectations
                .iter()
                .map(|e| CheckReport {
                    rule: rule.info.key.clone(),
                    expected: Some(e.expected.clone()),
                    note: e.note.clone(),
                    status: Status::Error,
                    message: "the rule did not load".to_string(),
                    renderings: Vec::new(),
                    diagnostics: Vec::new(),
                })
                .collect();
        };
        let input = CheckInput {
            rule: &rule.info.key,
            schemas: &rule.info.schemas,
            not_applicable: &rule.not_applicable,
            detector: detector.as_ref(),
            expected: None,
            renderings: &prepared.renderings,
            nodes: &prepared.nodes,
            policies: self.policies(),
        };
        if expectations.is_empty() {
            return vec![check::check(&input, table)];
        }
        expectations
            .iter()
            .map(|e| {
                let input = CheckInput {
                    expected: Some(&e.expected),
                    ..input
                };
                CheckReport {
                    note: e.note.clone(),
                    ..check::check(&input, table)
                }
            })
            .collect()
    }

    /// Error checks for expectations whose reference names no rule.
    pub fn unresolved(&self, prepared: &Prepared) -> Vec<CheckReport> {
        prepared
            .expectations
            .iter()
            .filter_map(|e| {
                let diagnostic = e.rule.as_ref().err()?;
                Some(CheckReport {
                    rule: e.reference.clone(),
                    expected: Some(e.expected.clone()),
                    note: e.note.clone(),
                    status: Status::Error,
                    message: diagnostic.message.clone(),
                    renderings: Vec::new(),
                    diagnostics: vec![(**diagnostic).clone()],
                })
            })
            .collect()
    }

    /// The report for one scenario file.
    pub fn check_scenario(&self, entry: &ScenarioEntry) -> ScenarioReport {
        let mut report = ScenarioReport {
            file: entry.file.clone(),
            slug: entry.slug.clone(),
            name: entry.slug.clone(),
            description: String::new(),
            techniques: Vec::new(),
            diagnostics: Vec::new(),
            events: Vec::new(),
            skipped: None,
            checks: Vec::new(),
        };
        let scenario = match &entry.scenario {
            Ok(scenario) => scenario,
            Err(diagnostics) => {
                report.diagnostics = diagnostics.clone();
                return report;
            }
        };
        report.name = scenario.name.clone();
        report.description = scenario.description.clone();
        report.techniques = scenario.attack.clone();
        if let Some(reason) = &scenario.skip {
            report.skipped = Some(reason.clone());
            return report;
        }
        let prepared = self.prepare(scenario);
        let mut table = EventTable::default();
        report.checks = self.unresolved(&prepared);
        for index in 0..self.rules.len() {
            report
                .checks
                .extend(self.check_rule(&prepared, index, &mut table));
        }
        report.events = table.into_records();
        report
    }

    /// Which rules lack positive or negative expectations, over the scenarios that loaded.
    pub fn coverage(&self) -> Coverage {
        let mut positive = vec![false; self.rules.len()];
        let mut negative = vec![false; self.rules.len()];
        for entry in &self.scenarios {
            let Ok(scenario) = &entry.scenario else {
                continue;
            };
            for e in &scenario.expect {
                if let Ok(i) = rules::resolve(&self.rules, &e.rule) {
                    if expected(&e.check).is_positive() {
                        positive[i] = true;
                    } else {
                        negative[i] = true;
                    }
                }
            }
        }
        let keys = |f: &dyn Fn(usize) -> bool| -> Vec<String> {
            (0..self.rules.len())
                .filter(|i| f(*i))
                .map(|i| self.rules[i].info.key.clone())
                .collect()
        };
        Coverage {
            required: self.config.coverage.require_positive_and_negative,
            untested: keys(&|i| !positive[i] && !negative[i]),
            only_positive: keys(&|i| positive[i] && !negative[i]),
            only_negative: keys(&|i| !positive[i] && negative[i]),
        }
    }
}

/// Runs every rule on every scenario (scenarios in parallel) and builds the report.
pub fn run(workspace: &Workspace) -> RunReport {
    run_with_progress(workspace, &|| {})
}

/// [`run`], calling `tick` once per scenario finished (for a progress bar at the edge).
pub fn run_with_progress(workspace: &Workspace, tick: &(dyn Fn() + Sync)) -> RunReport {
    let scenarios: Vec<ScenarioReport> = workspace
        .scenarios
        .par_iter()
        .map(|entry| {
            let report = workspace.check_scenario(entry);
            tick();
            report
        })
        .collect();
    let mut report = RunReport {
        format_version: FORMAT_VERSION,
        tool: format!("firedrill {}", env!("CARGO_PKG_VERSION")),
        generated_at: None,
        seed: workspace.config.seed,
        summary: Summary::default(),
        rules: workspace.rules.iter().map(|r| r.info.clone()).collect(),
        scenarios,
        coverage: workspace.coverage(),
        diagnostics: workspace.diagnostics.clone(),
        baseline: None,
    };
    report.summarize();
    report
}

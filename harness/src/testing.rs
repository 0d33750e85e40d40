//! Libtest-mimic glue: one trial per scenario and rule for a rule repository's cargo test.
//!
//! A rule repository adds a test target with `harness = false` whose whole body is
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     firedrill::testing::main()
//! }
//! ```
//!
//! [`main`] finds the configuration the way the CLI does, starting from the package being tested
//! (`CARGO_MANIFEST_DIR`), and runs one trial per (scenario, rule) named
//! `<scenario path>::<rule file stem>` with the rule language as the trial kind, so
//! `cargo test arcsoc` runs every trial whose scenario or rule mentions ArcSOC, and `--list`,
//! `--ignored`, `--exact` and `--skip` behave as they do with libtest. Rules that fail to load,
//! scenarios that fail to load and expectations naming no rule are failed trials of their own.
//! Scenarios with `skip:` are ignored trials. Each scenario is rendered once, lazily, by the
//! first of its trials that runs.

use crate::diag::Diagnostic;
use crate::report::{CheckReport, RuleInfo, ScenarioReport, Status, describe_check};
use crate::run::{Config, EventTable, Prepared, Workspace};
use crate::scenario::Scenario;
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

/// The whole body of a rule repository's `tests/*.rs` target with `harness = false`.
pub fn main() -> ExitCode {
    let args = Arguments::from_args();
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."));
    let trials = match Config::discover(&start) {
        Ok(config) => trials(Workspace::load(config)),
        Err(diagnostics) => vec![failed_trial("firedrill.yaml", "config", &diagnostics)],
    };
    libtest_mimic::run(&args, trials).exit_code()
}

fn render_all(diagnostics: &[Diagnostic]) -> String {
    diagnostics.iter().map(Diagnostic::render).collect()
}

fn failed_trial(name: &str, kind: &str, diagnostics: &[Diagnostic]) -> Trial {
    let text = render_all(diagnostics);
    Trial::test(name, move || Err(Failed::from(text))).with_kind(kind)
}

/// Every trial of a workspace, in scenario then rule order.
pub fn trials(workspace: Workspace) -> Vec<Trial> {
    let workspace = Arc::new(workspace);
    let mut trials = Vec::new();
    if !workspace.diagnostics.is_empty() {
        trials.push(failed_trial(
            "firedrill.yaml",
            "config",
            &workspace.diagnostics,
        ));
    }
    for rule in workspace.rules.iter().filter(|r| r.info.failed()) {
        trials.push(failed_trial(
            &format!("load::{}", rule.info.slug),
            rule.info.language.as_str(),
            &rule.info.diagnostics,
        ));
    }
    for (s, entry) in workspace.scenarios.iter().enumerate() {
        let scenario = match &entry.scenario {
            Ok(scenario) => scenario,
            Err(diagnostics) => {
                trials.push(failed_trial(
                    &format!("{}::load", entry.slug),
                    "scenario",
                    diagnostics,
                ));
                continue;
            }
        };
        let prepared: Arc<OnceLock<Prepared>> = Arc::new(OnceLock::new());
        let ignored = scenario.skip.is_some();
        for e in &scenario.expect {
            if let Err(diagnostic) = crate::run::rules::resolve(&workspace.rules, &e.rule) {
                let diagnostic = match &e.location {
                    Some(location) => diagnostic.located(location.clone()),
                    None => diagnostic.in_file(entry.file.clone()),
                };
                trials.push(
                    failed_trial(
                        &format!("{}::{}", entry.slug, e.rule),
                        "expectation",
                        &[diagnostic],
                    )
                    .with_ignored_flag(ignored),
                );
            }
        }
        for (r, rule) in workspace.rules.iter().enumerate() {
            if rule.detector.is_none() && !names_rule(&workspace, scenario, r) {
                continue;
            }
            let workspace = Arc::clone(&workspace);
            let prepared = Arc::clone(&prepared);
            let name = format!("{}::{}", entry.slug, rule.info.slug);
            let trial = Trial::ignorable_test(name, move || {
                let entry = &workspace.scenarios[s];
                let Ok(scenario) = &entry.scenario else {
                    return Err(Failed::from("the scenario did not load"));
                };
                let prepared = prepared.get_or_init(|| workspace.prepare(scenario));
                let mut table = EventTable::default();
                let checks = workspace.check_rule(prepared, r, &mut table);
                conclude(&workspace.rules[r].info, entry, scenario, checks, table)
            });
            trials.push(
                trial
                    .with_kind(rule.info.language.as_str())
                    .with_ignored_flag(ignored),
            );
        }
    }
    let coverage = workspace.coverage();
    if coverage.required {
        for rule in &workspace.rules {
            let key = &rule.info.key;
            let lack = if coverage.untested.contains(key) {
                Some("no scenario expects anything of this rule")
            } else if coverage.only_positive.contains(key) {
                Some("only positive expectations: add a scenario where the rule stays quiet")
            } else if coverage.only_negative.contains(key) {
                Some("only negative expectations: add a scenario where the rule fires")
            } else {
                None
            };
            let message =
                lack.map(|m| format!("rule `{}` ({}): {m}", rule.info.title, rule.info.path));
            trials.push(
                Trial::test(
                    format!("coverage::{}", rule.info.slug),
                    move || match message {
                        Some(m) => Err(Failed::from(m)),
                        None => Ok(()),
                    },
                )
                .with_kind("coverage"),
            );
        }
    }
    trials
}

/// True when some expectation of `scenario` names rule `index`.
fn names_rule(workspace: &Workspace, scenario: &Scenario, index: usize) -> bool {
    scenario
        .expect
        .iter()
        .any(|e| crate::run::rules::resolve(&workspace.rules, &e.rule).is_ok_and(|i| i == index))
}

/// A trial's verdict from its checks: failed with the explanation of every failing check,
/// ignored when no rendering serves the rule, passed otherwise.
fn conclude(
    rule: &RuleInfo,
    entry: &crate::run::ScenarioEntry,
    scenario: &Scenario,
    checks: Vec<CheckReport>,
    table: EventTable,
) -> Result<Completion, Failed> {
    let report = ScenarioReport {
        file: entry.file.clone(),
        slug: entry.slug.clone(),
        name: scenario.name.clone(),
        description: String::new(),
        techniques: Vec::new(),
        diagnostics: Vec::new(),
        events: table.into_records(),
        skipped: None,
        checks: Vec::new(),
    };
    let failures: Vec<String> = checks
        .iter()
        .filter(|c| c.status.is_failure())
        .map(|c| describe_check(Some(rule), &report, c))
        .collect();
    if !failures.is_empty() {
        return Err(Failed::from(failures.join("\n")));
    }
    if let Some(c) = checks.iter().find(|c| c.status == Status::NotApplicable) {
        return Ok(Completion::ignored_with(&c.message));
    }
    Ok(Completion::Completed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, LogSchema};
    use crate::report::Language;
    use crate::run::{Detector, EventRef, Hit, Renderings, ScenarioEntry, rules};

    /// Fires on every sysmon event whose image ends with `powershell.exe`.
    #[derive(Debug)]
    struct PowerShell;

    impl Detector for PowerShell {
        fn evaluate(
            &self,
            schema: LogSchema,
            renderings: &Renderings,
        ) -> Result<Vec<Hit>, Box<Diagnostic>> {
            Ok(renderings
                .get(&schema)
                .into_iter()
                .flatten()
                .enumerate()
                .filter(|(_, e)| {
                    e.get("Image")
                        .and_then(|v| v.as_str())
                        .is_some_and(|i| i.ends_with("powershell.exe"))
                })
                .map(|(index, _)| Hit {
                    events: vec![EventRef { schema, index }],
                })
                .collect())
        }

        fn explain(&self, _: LogSchema, event: &Event, _: &Renderings) -> Option<String> {
            Some(format!("Image: {:?}", event.get("Image")))
        }
    }

    const SCENARIO: &str = "format_version: 1\nname: ArcSOC runs PowerShell\nhost: { name: GIS01 }\nstart: 2025-11-20T09:00:00Z\nprocesses:\n  - id: arcsoc\n    image: 'C:\\Program Files\\ArcGIS\\Server\\framework\\runtime\\ArcSOC.exe'\n    children:\n      - id: ps\n        image: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe'\n        command_line: 'powershell.exe -enc SQBFAFgA'\n        children:\n          - id: who\n            image: 'C:\\Windows\\System32\\whoami.exe'\nexpect:\n  - rule: arcsoc\n    fires_on: [WHAT]\n  - rule: arcsok\n    quiet: true\n";

    fn workspace(fires_on: &str) -> Workspace {
        let mut good = rules::failed("rules/arcsoc.yml", Language::Sigma, Vec::new());
        good.info.title = "ArcSOC child".into();
        good.info.schemas = vec![LogSchema::Sysmon];
        good.needs = vec![LogSchema::Sysmon];
        good.detector = Some(Arc::new(PowerShell));
        let broken = rules::failed(
            "rules/broken.kql",
            Language::Kql,
            vec![Diagnostic::error("KQL0001", "unexpected end of query")],
        );
        let text = SCENARIO.replace("WHAT", fires_on);
        let scenario = crate::scenario::parse("scenarios/arcsoc.yaml", &text);
        assert!(scenario.is_ok(), "{scenario:?}");
        Workspace {
            config: Config::defaults(std::path::Path::new("/repo")),
            rules: vec![good, broken],
            scenarios: vec![
                ScenarioEntry {
                    path: PathBuf::from("/repo/scenarios/arcsoc.yaml"),
                    file: "scenarios/arcsoc.yaml".into(),
                    slug: "arcsoc".into(),
                    scenario,
                },
                ScenarioEntry {
                    path: PathBuf::from("/repo/scenarios/typo.yaml"),
                    file: "scenarios/typo.yaml".into(),
                    slug: "typo".into(),
                    scenario: Err(vec![Diagnostic::error(
                        "SCN0001",
                        "unknown key `procesess`",
                    )]),
                },
            ],
            diagnostics: Vec::new(),
        }
    }

    #[test]
    fn trials_are_named_scenario_then_rule_with_the_language_as_kind() {
        let trials = trials(workspace("ps"));
        let names: Vec<(String, String)> = trials
            .iter()
            .map(|t| (t.kind().to_string(), t.name().to_string()))
            .collect();
        let expected = [
            ("kql", "load::broken"),
            ("expectation", "arcsoc::arcsok"),
            ("sigma", "arcsoc::arcsoc"),
            ("scenario", "typo::load"),
        ];
        assert_eq!(names, expected.map(|(k, n)| (k.to_string(), n.to_string())));
    }

    #[test]
    fn a_filter_selects_trials_as_libtest_does() {
        let args = Arguments {
            filter: Some("arcsoc::arcsoc".into()),
            ..Arguments::default()
        };
        let kept: Vec<String> = trials(workspace("ps"))
            .iter()
            .filter(|t| !args.is_filtered_out(t))
            .map(|t| t.name().to_string())
            .collect();
        assert_eq!(kept, ["arcsoc::arcsoc"]);
    }

    /// The verdict of the (scenario 0, rule 0) trial.
    fn verdict(fires_on: &str) -> Result<Completion, Failed> {
        let workspace = workspace(fires_on);
        let entry = &workspace.scenarios[0];
        let scenario = entry.scenario.as_ref().unwrap();
        let prepared = workspace.prepare(scenario);
        let mut table = EventTable::default();
        let checks = workspace.check_rule(&prepared, 0, &mut table);
        conclude(&workspace.rules[0].info, entry, scenario, checks, table)
    }

    #[test]
    fn a_holding_expectation_passes_and_a_broken_one_fails_with_the_reason() {
        assert!(matches!(verdict("ps"), Ok(Completion::Completed)));
        let Err(failed) = verdict("who") else {
            panic!("a broken expectation passed");
        };
        let message = failed.message().unwrap_or_default();
        for needle in [
            "rule `ArcSOC child`",
            "scenario `ArcSOC runs PowerShell` (scenarios/arcsoc.yaml)",
            "expected: fires_on [who]",
            "did not fire on [who], also fired on [ps]",
            "node `who` (sysmon event #1) did not match",
        ] {
            assert!(message.contains(needle), "`{needle}` not in:\n{message}");
        }
    }
}

//! The bundled scenarios' expectations agree with a literal hand translation of the three seed rules.
//!
//! The engines under `sigma` and `kql` must meet the expectations written in `scenarios/`. This
//! test keeps those expectations honest from the other side: it evaluates each seed rule as a
//! plain Rust predicate, transcribed clause by clause from `fixtures/rules/`, over the generated
//! events, and compares the matched nodes with what every scenario expects.

use crate::support::bundled_scenarios;
use firedrill::event::{Event, LogSchema, Value};
use firedrill::generate::{self, Options};
use firedrill::scenario::{self, Check, Scenario};
use std::collections::BTreeSet;

const SIGMA: &str = "8e95e73e-ba02-4a87-b4d7-0929b8053038";
const ASIM: &str = "suspicious-arcsoc-child-process";
const SOFT_CELL: &str = "detect-suspicious-commands-initiated-by-web-server-processes";

fn s<'a>(event: &'a Event, field: &str) -> &'a str {
    event.get(field).and_then(Value::as_str).unwrap_or("")
}

fn ends_ci(value: &str, suffix: &str) -> bool {
    value.to_lowercase().ends_with(&suffix.to_lowercase())
}

const CHILDREN: [&str; 9] = [
    "\\cmd.exe",
    "\\cscript.exe",
    "\\mshta.exe",
    "\\powershell.exe",
    "\\pwsh.exe",
    "\\regsvr32.exe",
    "\\rundll32.exe",
    "\\wmic.exe",
    "\\wscript.exe",
];

/// `proc_creation_win_arcsoc_susp_child_process.yml` over a Sysmon event.
fn sigma_arcsoc(e: &Event) -> bool {
    let selection = ends_ci(s(e, "ParentImage"), "\\ArcSOC.exe")
        && CHILDREN.iter().any(|c| ends_ci(s(e, "Image"), c));
    let filter_main_cmd = ends_ci(s(e, "Image"), "\\cmd.exe")
        && s(e, "CommandLine").eq_ignore_ascii_case("cmd.exe /c \"ver\"");
    selection && !filter_main_cmd
}

/// `suspicious-arcsoc-child-process.kql` over an ASIM row.
fn kql_arcsoc(e: &Event) -> bool {
    let parent = ends_ci(s(e, "ParentProcessName"), "\\ArcSOC.exe")
        || ends_ci(s(e, "ActingProcessName"), "\\ArcSOC.exe");
    let child = CHILDREN
        .iter()
        .any(|c| ends_ci(s(e, "TargetProcessName"), c));
    let filtered = ends_ci(s(e, "TargetProcessName"), "\\cmd.exe")
        && s(e, "TargetProcessCommandLine").to_lowercase() == "cmd.exe /c \"ver\"";
    parent && child && !filtered
}

/// KQL `has`: the needle is a whole term (a maximal run of letters and digits), case-insensitive.
fn has(haystack: &str, term: &str) -> bool {
    haystack
        .split(|c: char| !c.is_alphanumeric())
        .any(|t| t.eq_ignore_ascii_case(term))
}

/// The Defender Soft Cell hunting query over a DeviceProcessEvents row, with `now` for `ago`.
fn soft_cell(e: &Event, now: chrono::DateTime<chrono::Utc>) -> bool {
    let web = ["w3wp.exe", "beasvc.exe", "httpd.exe"];
    let timestamp = chrono::DateTime::parse_from_rfc3339(s(e, "Timestamp"))
        .expect("mde timestamp")
        .with_timezone(&chrono::Utc);
    let pivot = web.contains(&s(e, "InitiatingProcessParentFileName"))
        || s(e, "InitiatingProcessParentFileName")
            .to_lowercase()
            .starts_with("tomcat")
        || web.contains(&s(e, "InitiatingProcessFileName"))
        || s(e, "InitiatingProcessFileName")
            .to_lowercase()
            .starts_with("tomcat");
    let file = ["cmd.exe", "powershell.exe"]
        .iter()
        .any(|f| s(e, "FileName").eq_ignore_ascii_case(f));
    let cl = s(e, "ProcessCommandLine");
    let terms = [
        "wget",
        "whoami",
        "certutil",
        "systeminfo",
        "ping",
        "ipconfig",
        "timeout",
    ];
    let command = cl.to_lowercase().contains("%temp%") || terms.iter().any(|t| has(cl, t));
    timestamp > now - chrono::TimeDelta::days(7) && pivot && file && command
}

fn matched_nodes(events: &[Event], rule: impl Fn(&Event) -> bool) -> Vec<String> {
    events
        .iter()
        .filter(|e| rule(e))
        .map(|e| e.origin.as_ref().expect("origin").node.clone())
        .collect()
}

fn agrees(check: &Check, nodes: &[String]) -> bool {
    match check {
        Check::FiresOn(expected) => {
            nodes.iter().collect::<BTreeSet<_>>() == expected.iter().collect::<BTreeSet<_>>()
        }
        Check::Fires => !nodes.is_empty(),
        Check::Count(n) => nodes.len() == *n,
        Check::Quiet => nodes.is_empty(),
    }
}

fn evaluate(scenario: &Scenario, options: &Options, rule: &str) -> Vec<String> {
    let timeline = generate::timeline(scenario, options);
    match rule {
        SIGMA => matched_nodes(
            &generate::render(&timeline, LogSchema::Sysmon),
            sigma_arcsoc,
        ),
        ASIM => matched_nodes(&generate::render(&timeline, LogSchema::Asim), kql_arcsoc),
        SOFT_CELL => {
            let now = timeline.end();
            matched_nodes(&generate::render(&timeline, LogSchema::Mde), |e| {
                soft_cell(e, now)
            })
        }
        other => panic!(
            "{}: expectation for an unknown seed rule `{other}`",
            scenario.file
        ),
    }
}

#[test]
fn every_bundled_expectation_matches_a_literal_reading_of_the_seed_rules() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in bundled_scenarios() {
        let scenario = scenario::load(&path).expect("bundled scenario loads");
        // Expectations of other rules (the SigmaHQ subset) are the run's to check, not this oracle's.
        let seeds: Vec<_> = scenario
            .expect
            .iter()
            .filter(|e| [SIGMA, ASIM, SOFT_CELL].contains(&e.rule.as_str()))
            .collect();
        let rules: BTreeSet<_> = seeds.iter().map(|e| e.rule.as_str()).collect();
        assert!(
            seeds.len() == 3 && rules == BTreeSet::from([SIGMA, ASIM, SOFT_CELL]),
            "{}: every bundled scenario has one expectation per seed rule",
            path.display()
        );
        for seed in [1, 42] {
            for background in [true, false] {
                let options = Options {
                    seed,
                    background,
                    ..Options::default()
                };
                for expectation in &seeds {
                    let nodes = evaluate(&scenario, &options, &expectation.rule);
                    checked += 1;
                    if !agrees(&expectation.check, &nodes) {
                        failures.push(format!(
                            "{} (seed {seed}, background {background}): {} expected {:?}, matched {nodes:?}",
                            path.display(),
                            expectation.rule,
                            expectation.check
                        ));
                    }
                }
            }
        }
    }
    assert!(checked >= 60, "only {checked} checks");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_oracle_reads_has_as_whole_terms() {
    assert!(has("cmd.exe /c cd /d \"C:\\\"&whoami&echo [S]", "whoami"));
    assert!(has("PING.EXE -n 1", "ping"));
    assert!(!has("cmd.exe /c pingtest.bat", "ping"));
    assert!(!has("whoamix", "whoami"));
}

//! The Sigma engine through its public API and the CLI: the seed rule, explain, lint, the
//! conformance suite, located diagnostics, and the SigmaHQ corpus.
#![allow(clippy::print_stdout, reason = "tests print skip notices")]

use crate::support::{
    bundled_scenarios, check_expected_renderings, files_with_ext, firedrill, root,
};
use firedrill::event::{Event, LogSchema, Value};
use firedrill::generate::{self, AsimSource, Options};
use firedrill::scenario;
use firedrill::sigma::{Config, Engine, RuleSet};
use std::path::{Path, PathBuf};

const SEED: &str = "fixtures/rules/sigma/proc_creation_win_arcsoc_susp_child_process.yml";

fn seed_engine() -> Engine {
    let (set, diags) = RuleSet::load_paths(&[root().join(SEED)]);
    assert!(diags.is_empty(), "{diags:?}");
    let (engine, diags) = Engine::compile(&set, &Config::default());
    assert!(diags.is_empty(), "{diags:?}");
    engine
}

fn arcsoc_events(schema: LogSchema) -> Vec<Event> {
    let path = root().join("scenarios/arcgis/soe-webshell-powershell.yaml");
    let scenario = scenario::load(&path).expect("bundled scenario loads");
    generate::render(&generate::timeline(&scenario, &Options::default()), schema)
}

fn fired_nodes(engine: &Engine, events: &[Event]) -> Vec<String> {
    let mut nodes: Vec<String> = engine
        .evaluate(events)
        .iter()
        .flat_map(|m| m.events.iter())
        .filter_map(|&i| events[i].origin.as_ref().map(|o| o.node.clone()))
        .collect();
    nodes.sort();
    nodes.dedup();
    nodes
}

#[test]
fn seed_rule_fires_on_the_arcsoc_child_in_every_sigma_rendering() {
    let engine = seed_engine();
    for schema in [
        LogSchema::Sysmon,
        LogSchema::Security4688,
        LogSchema::Ecs,
        LogSchema::Mde,
        LogSchema::Asim,
    ] {
        let events = arcsoc_events(schema);
        assert_eq!(fired_nodes(&engine, &events), vec!["ps"], "{schema}");
    }
}

#[test]
fn seed_rule_match_carries_the_rule_metadata_and_author() {
    let engine = seed_engine();
    let events = arcsoc_events(LogSchema::Sysmon);
    let matches = engine.evaluate(&events);
    let m = &matches[0];
    assert_eq!(
        m.rule_id.as_deref(),
        Some("8e95e73e-ba02-4a87-b4d7-0929b8053038")
    );
    assert_eq!(m.rule_title, "Suspicious ArcSOC.exe Child Process");
    assert_eq!(m.level.as_deref(), Some("high"));
    assert_eq!(m.author.as_deref(), Some("Micah Babinski"));
    assert!(m.tags.contains(&"attack.t1059".to_string()));
    assert_eq!(m.group, None);
}

#[test]
fn seed_rule_does_not_apply_to_the_ocsf_rendering_which_no_sigma_pipeline_serves() {
    let engine = seed_engine();
    let events = arcsoc_events(LogSchema::Ocsf);
    assert!(engine.evaluate(&events).is_empty());
    let trace = engine.explain(0, &events[0]);
    assert!(
        trace
            .reason
            .unwrap_or_default()
            .contains("no Sigma pipeline")
    );
}

#[test]
fn explain_says_why_a_pipeline_cannot_convert_a_rule_for_the_events_table() {
    let path = root().join("fixtures/sigma/kusto-pipelines/rules/pipeline_current_directory.yml");
    let (set, _) = RuleSet::load_paths(&[path]);
    let (engine, diags) = Engine::compile(&set, &Config::default());
    assert!(diags.is_empty(), "{diags:?}");
    let defender = &arcsoc_events(LogSchema::Mde)[0];
    let trace = engine.explain(0, defender);
    assert!(!trace.result);
    let reason = trace.reason.unwrap_or_default();
    assert!(
        reason.contains("pipeline microsoft-xdr cannot convert the rule for DeviceProcessEvents")
            && reason.contains("`CurrentDirectory` is not a column"),
        "{reason}"
    );
    // ASIM has the column: the rule runs there.
    let asim = &arcsoc_events(LogSchema::Asim)[0];
    assert_eq!(
        engine.explain(0, asim).reason.as_deref(),
        Some("pipeline sentinel-asim")
    );
}

/// The pipelines Sigma's Kusto backend (pySigma-backend-kusto) converts rules with for Defender
/// and for Sentinel's ASIM tables: firedrill's pipeline of the same name, the schema it reads, the
/// table the converted queries read, and the rows: every bundled scenario rendered in that schema
/// (ASIM emulated from each of its sources, since they fill different columns).
fn kusto_pipelines() -> Vec<(&'static str, &'static str, Vec<Event>)> {
    let asim: Vec<Event> = [
        AsimSource::Defender,
        AsimSource::Sysmon,
        AsimSource::SecurityEvent,
    ]
    .into_iter()
    .flat_map(|source| {
        let options = Options {
            asim_source: source,
            ..Options::default()
        };
        bundled_scenarios()
            .iter()
            .filter_map(|f| scenario::load(f).ok())
            .flat_map(|s| generate::render(&generate::timeline(&s, &options), LogSchema::Asim))
            .collect::<Vec<_>>()
    })
    .collect();
    vec![
        (
            "microsoft_xdr",
            "DeviceProcessEvents",
            with_absent_texts(scenario_events(LogSchema::Mde)),
        ),
        ("sentinel_asim", "imProcessCreate", with_absent_texts(asim)),
    ]
}

/// `rows`, then each again with a third of its string values left out (a different third from
/// row to row), as a CSV export leaves out its empty cells: Kusto reads them as empty strings.
fn with_absent_texts(rows: Vec<Event>) -> Vec<Event> {
    let sparse: Vec<Event> = rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut row = row.clone();
            let mut at = 0;
            row.fields.retain(|_, value| {
                at += 1;
                !matches!(value, firedrill::event::Value::String(_)) || (at + i) % 3 != 0
            });
            row
        })
        .collect();
    rows.into_iter().chain(sparse).collect()
}

/// `fixtures/sigma/kusto-pipelines/<pipeline>/conversions.jsonl` holds what pySigma-backend-kusto
/// (pySigma 1.5.1, backend 1.0.1, `tools/kusto-pipeline-oracle.py`) makes of the seed, the pinned
/// SigmaHQ subset and rules written for the pipelines' rewritings (account names split into name
/// and domain, `Hashes` into digest columns, fields mapped to two columns, `EventID` dropped).
/// Over every bundled scenario rendered as the pipeline's table, and the same rows with string
/// values left out ([`with_absent_texts`]), each rule matches through firedrill's pipeline exactly
/// the rows its converted query selects (run by the KQL engine); the rules the backend refuses,
/// and those whose conversion Kusto rejects (a type error), are refused with `SIG0070`.
#[test]
fn sigma_rules_on_kusto_tables_match_what_their_kusto_conversions_select() {
    for (pipeline, table_name, events) in kusto_pipelines() {
        let dir = root().join("fixtures/sigma/kusto-pipelines").join(pipeline);
        let conversions: Vec<serde_json::Value> =
            std::fs::read_to_string(dir.join("conversions.jsonl"))
                .expect("conversions fixture")
                .lines()
                .map(|line| serde_json::from_str(line).expect("a JSON line"))
                .collect();
        let mut files: Vec<PathBuf> = conversions
            .iter()
            .map(|c| root().join(c["rule"].as_str().expect("a rule file")))
            .collect();
        files.sort();
        files.dedup();
        let (set, diags) = RuleSet::load_paths(&files);
        assert!(diags.is_empty(), "{diags:?}");
        let (engine, diags) = Engine::compile(&set, &Config::default());
        assert!(!diags.iter().any(|d| d.is_error()), "{diags:?}");
        let class = engine.class_of(&events[0]).expect("the rows route");
        let mut sigma: std::collections::HashMap<String, Vec<usize>> = Default::default();
        for m in engine.evaluate(&events) {
            let id = m.rule_id.clone().unwrap_or_default();
            sigma.entry(id).or_default().extend(m.events);
        }
        let mut db = firedrill::kql::Database::new(chrono::Utc::now());
        db.bind(table_name, &events);
        let (mut fired, mut refused) = (0, 0);
        for conversion in &conversions {
            let id = conversion["id"].as_str().expect("an id");
            let rule = engine.find(id).expect("the converted rule is loaded");
            let context = format!("{pipeline}: {id} ({})", conversion["rule"]);
            // Why the rule never runs where the backend's conversion would: pySigma refuses it,
            // or the query it writes has a type error Kusto raises too (a keyword written as a
            // bare string in `where`).
            let not_run = match conversion["error"].as_str() {
                Some(error) => Err(format!("refused by pySigma ({error})")),
                None => {
                    let text = conversion["kql"].as_str().expect("a query");
                    let (query, diags) = firedrill::kql::parse(text);
                    let query = query.unwrap_or_else(|| panic!("{context}: {diags:?}"));
                    match firedrill::kql::evaluate(&query, &db) {
                        Ok(table) => Ok((text, table)),
                        Err(errors) if errors.iter().all(|d| d.code == "KQL0205") => {
                            Err(format!("its conversion does not run ({errors:?})"))
                        }
                        Err(errors) => panic!("{context}: {errors:?}"),
                    }
                }
            };
            let (text, table) = match not_run {
                Ok(ran) => ran,
                Err(why_not) => {
                    let why = engine.unconverted(rule, class).unwrap_or_else(|| {
                        panic!("{context}: {why_not}, yet firedrill runs the rule")
                    });
                    assert_eq!(why.code, "SIG0070");
                    assert!(!sigma.contains_key(id), "{context}");
                    refused += 1;
                    continue;
                }
            };
            assert!(engine.unconverted(rule, class).is_none(), "{context}");
            let mut selected: Vec<usize> = table.sources().iter().map(|s| s.index).collect();
            selected.sort_unstable();
            let mut matched = sigma.remove(id).unwrap_or_default();
            matched.sort_unstable();
            assert_eq!(matched, selected, "{context}:\n{text}");
            fired += usize::from(!matched.is_empty());
        }
        // Not vacuous: rules fire on either side, and some are refused.
        let (fires, refusals) = match pipeline {
            "microsoft_xdr" => (14, 9),
            _ => (8, 31),
        };
        assert!(fired >= fires, "{pipeline}: {fired} rules fired");
        assert_eq!(refused, refusals, "{pipeline}");
    }
}

/// Over the SigmaHQ corpus each pipeline refuses the rules pySigma-backend-kusto refuses (a field
/// without a column, `Hashes` with no algorithm the table has, a field reference, no category),
/// except one whose placeholder the backend cannot write unexpanded (firedrill expands it from
/// its config). The lists are `corpus-refusals.txt`.
#[test]
fn the_kusto_pipelines_refuse_the_corpus_rules_the_kusto_backend_refuses() {
    let corpus = root().join("../shared/corpora/sigma");
    if !corpus.exists() {
        println!("skipped: {} is absent", corpus.display());
        return;
    }
    let dirs: Vec<PathBuf> = [
        "rules",
        "rules-emerging-threats",
        "rules-threat-hunting",
        "rules-compliance",
        "rules-placeholder",
    ]
    .iter()
    .map(|d| corpus.join(d))
    .collect();
    let (set, _) = RuleSet::load_paths(&dirs);
    let (engine, _) = Engine::compile(&set, &Config::default());
    for (pipeline, schema) in [
        ("microsoft_xdr", LogSchema::Mde),
        ("sentinel_asim", LogSchema::Asim),
    ] {
        let listed = std::fs::read_to_string(
            root()
                .join("fixtures/sigma/kusto-pipelines")
                .join(pipeline)
                .join("corpus-refusals.txt"),
        )
        .expect("refusals fixture");
        let mut expected: Vec<&str> = listed
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        expected.sort_unstable();
        let class = engine
            .class_of(&Event::new(schema))
            .expect("the rows route");
        let mut refused: Vec<&str> = (0..engine.rules().len())
            .filter(|&r| engine.rules()[r].usable && engine.unconverted(r, class).is_some())
            .filter_map(|r| engine.rules()[r].id.as_deref())
            .collect();
        refused.sort_unstable();
        assert_eq!(refused, expected, "{pipeline}");
    }
}

#[test]
fn explain_shows_the_filter_suppressing_cmd_ver() {
    let engine = seed_engine();
    let events = arcsoc_events(LogSchema::Sysmon);
    let ver = events
        .iter()
        .find(|e| e.origin.as_ref().is_some_and(|o| o.node == "ver"))
        .expect("the ver node renders");
    let trace = engine.explain(0, ver);
    assert!(!trace.result);
    assert!(trace.find("selection `selection`").unwrap().result);
    assert!(trace.find("selection `filter_main_cmd`").unwrap().result);
    assert!(trace.find("1 of filter_main_*").unwrap().result);
}

#[test]
fn cli_explain_prints_the_filter_at_work() {
    let event = r#"{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\System32\\cmd.exe","ParentImage":"C:\\Program Files\\ArcGIS\\Server\\framework\\runtime\\ArcSOC.exe","CommandLine":"cmd.exe /c \"ver\""}"#;
    let output = firedrill()
        .current_dir(root())
        .args(["explain", "--rule", SEED, "--event", event])
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("no match"), "{text}");
    assert!(text.contains("✓ selection `filter_main_cmd`"), "{text}");
    assert!(text.contains("✗ not: operand matched"), "{text}");
}

/// `firedrill lint --format json DIR`: the exit code and the parsed report.
fn lint_json(dir: &Path) -> (Option<i32>, serde_json::Value) {
    let output = firedrill()
        .args(["lint", "--format", "json"])
        .arg(dir)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    (output.status.code(), json)
}

#[test]
fn cli_lint_reports_json_counts_and_fails_on_bad_rules() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(root().join(SEED), dir.path().join("good.yml")).unwrap();
    std::fs::write(
        dir.path().join("bad.yml"),
        "title: Bad\nlogsource: {product: windows}\ndetection:\n  sel:\n    Image|sometimes: x\n  condition: sel\n",
    )
    .unwrap();
    let (code, json) = lint_json(dir.path());
    assert_eq!(code, Some(1));
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["rules"], 2);
    assert_eq!(json["loaded"], 1);
    assert!(
        json["failed"][0]["error"]
            .as_str()
            .unwrap()
            .starts_with("SIG0020")
    );
}

#[test]
fn cli_lint_with_a_target_fails_the_rules_its_kusto_pipeline_refuses() {
    let rules = root().join("fixtures/sigma/kusto-pipelines/rules");
    let lint = |targets: &[&str]| {
        let mut command = firedrill();
        command.args(["lint", "--format", "json"]).arg(&rules);
        for target in targets {
            command.args(["--target", target]);
        }
        let output = command.output().unwrap();
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let mut failed: Vec<String> = json["failed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let path = f["path"].as_str().unwrap();
                path.rsplit('/').next().unwrap().to_string()
            })
            .collect();
        failed.sort();
        (output.status.code(), json["loaded"].clone(), failed)
    };
    let (code, loaded, failed) = lint(&[]);
    assert_eq!((code, loaded, failed.len()), (Some(0), 27.into(), 0));
    // Both refuse: `|cased` and `|fieldref` (the backend cannot write them), a `not` of EventID
    // (which both drop) or a condition of nothing else, keywords (written as a bare string, which
    // Kusto rejects), and a rule of no category (the backend picks the table by category).
    let both = [
        "pipeline_cased.yml",
        "pipeline_eventid_not.yml",
        "pipeline_eventid_only.yml",
        "pipeline_fieldref.yml",
        "pipeline_keywords.yml",
        "pipeline_no_category.yml",
    ];
    let (code, loaded, failed) = lint(&["defender"]);
    assert_eq!(code, Some(1));
    assert_eq!(loaded, 18);
    assert_eq!(
        failed,
        [
            both[0],
            "pipeline_current_directory.yml",
            both[1],
            both[2],
            both[3],
            "pipeline_imphash.yml",
            "pipeline_imphash_unknown.yml",
            both[4],
            both[5],
        ]
    );
    let (code, _, failed) = lint(&["asim"]);
    assert_eq!(code, Some(1));
    let mut expected = both.to_vec();
    expected.push("pipeline_original_file_name.yml");
    expected.sort_unstable();
    assert_eq!(failed, expected);
    // Refused for both: listed once per target, counted once (10 of the 27 rules fail).
    let (_, loaded, failed) = lint(&["defender", "asim"]);
    assert_eq!((loaded, failed.len()), (17.into(), 16));
}

#[test]
fn cli_lint_checks_kql_and_sentinel_rules_beside_sigma_ones() {
    let dir = tempfile::tempdir().unwrap();
    for file in [
        SEED,
        "fixtures/rules/kql/suspicious-arcsoc-child-process.kql",
        "fixtures/rules/kql/detect-suspicious-commands-initiated-by-web-server-processes.yaml",
    ] {
        let name = Path::new(file).file_name().unwrap();
        std::fs::copy(root().join(file), dir.path().join(name)).unwrap();
    }
    let lint = || lint_json(dir.path());
    let (code, json) = lint();
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(
        (json["rules"].as_u64(), json["loaded"].as_u64()),
        (Some(3), Some(3))
    );
    std::fs::write(
        dir.path().join("typo.kql"),
        "DeviceProcessEvents\n| where FileNme == 'cmd.exe'\n",
    )
    .unwrap();
    let (code, json) = lint();
    assert_eq!(code, Some(1), "{json}");
    assert_eq!(json["failed"].as_array().map(Vec::len), Some(1), "{json}");
    let error = json["failed"][0]["error"].as_str().unwrap();
    assert!(error.starts_with("KQL0202"), "{error}");
}

/// One conformance case: rules, events in time order, and every expected match.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// The specification section the case checks.
    spec: String,
    /// Where the spec is silent: what the engine decided, and why.
    #[serde(default)]
    decision: Option<String>,
    /// The rule text (may hold several YAML documents).
    rules: String,
    /// Placeholder values for `|expand`.
    #[serde(default)]
    placeholders: indexmap::IndexMap<String, Vec<String>>,
    /// Events: field maps; `_schema` (default sysmon) and `_time` (RFC 3339) are taken out.
    #[serde(default)]
    events: Vec<serde_json::Map<String, serde_json::Value>>,
    /// Every match the engine must produce, and no other.
    #[serde(default)]
    expect: Vec<Expected>,
    /// The diagnostic codes loading and compiling must produce (sorted, with repeats).
    #[serde(default)]
    diagnostics: Vec<String>,
}

#[derive(serde::Deserialize, Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
#[serde(deny_unknown_fields)]
struct Expected {
    rule: String,
    events: Vec<usize>,
    #[serde(default)]
    group: Option<std::collections::BTreeMap<String, String>>,
}

fn run_case(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let case: Case = serde_yaml::from_str(&text).map_err(|e| format!("bad case file: {e}"))?;
    if case.spec.trim().is_empty() {
        return Err("the case cites no spec section".into());
    }
    let _ = &case.decision;
    let mut set = RuleSet::new();
    let mut diags = set.add_source("case.yml", &case.rules);
    let config = Config {
        placeholders: case.placeholders.clone(),
    };
    let (engine, more) = Engine::compile(&set, &config);
    diags.extend(more);
    let mut codes: Vec<String> = diags.iter().map(|d| d.code.clone()).collect();
    codes.sort();
    let mut want_codes = case.diagnostics.clone();
    want_codes.sort();
    if codes != want_codes {
        let rendered: Vec<String> = diags.iter().map(|d| d.render()).collect();
        return Err(format!(
            "diagnostics {codes:?}, expected {want_codes:?}\n{}",
            rendered.join("")
        ));
    }
    let events: Vec<Event> = case
        .events
        .iter()
        .map(|object| {
            let mut object = object.clone();
            let schema = object
                .remove("_schema")
                .and_then(|s| s.as_str().map(str::to_string))
                .map_or(LogSchema::Sysmon, |s| s.parse().expect("known schema"));
            let time = object.remove("_time");
            let mut event = Event::from_json(schema, &object);
            event.timestamp = time.and_then(|t| {
                chrono::DateTime::parse_from_rfc3339(t.as_str()?)
                    .ok()
                    .map(|t| t.with_timezone(&chrono::Utc))
            });
            event
        })
        .collect();
    let mut actual: Vec<Expected> = engine
        .evaluate(&events)
        .into_iter()
        .map(|m| Expected {
            rule: m.rule_title,
            events: m.events,
            group: m.group.map(|g| g.into_iter().collect()),
        })
        .collect();
    actual.sort();
    let mut expected = case.expect.clone();
    expected.sort();
    if actual != expected {
        let explain: Vec<String> = events
            .iter()
            .enumerate()
            .flat_map(|(i, e)| {
                (0..engine.rules().len())
                    .map(move |r| (i, r, e))
                    .filter(|(_, r, _)| {
                        engine.rules()[*r].kind == firedrill::sigma::RuleKind::Detection
                    })
            })
            .map(|(i, r, e)| format!("event {i}:\n{}", engine.explain(r, e).render()))
            .collect();
        return Err(format!(
            "matches {actual:?}\nexpected {expected:?}\n{}",
            explain.join("")
        ));
    }
    Ok(())
}

/// Every malformed rule file under `fixtures/sigma-bad/` gets exactly the rendered diagnostics
/// (loading, then compiling) in the `.expected` file next to it: each case writes the key at
/// fault a second time, after a valid twin, and the caret must land on the faulty one.
/// `FIREDRILL_BLESS=1` rewrites the expected files.
#[test]
fn sigma_diagnostics_point_at_the_item_at_fault() {
    check_expected_renderings("sigma-bad", "yml", 8, |name, text| {
        let mut set = RuleSet::new();
        let mut diags = set.add_source(name, text);
        diags.extend(Engine::compile(&set, &Config::default()).1);
        if diags.is_empty() {
            return "(no diagnostics: the rules loaded and compiled)\n".to_string();
        }
        diags
            .iter()
            .map(|d| d.render())
            .collect::<Vec<_>>()
            .join("\n")
    });
}

#[test]
fn conformance_suite_from_the_specification() {
    let files = files_with_ext(&root().join("fixtures/sigma/conformance"), "yaml");
    assert!(files.len() >= 30, "only {} conformance cases", files.len());
    let failures: Vec<String> = files
        .iter()
        .filter_map(|path| {
            run_case(path)
                .err()
                .map(|e| format!("--- {}\n{e}", path.display()))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_sigmahq_corpus_rule_loads_and_compiles() {
    let corpus = root().join("../shared/corpora/sigma");
    if !corpus.exists() {
        println!("skipped: {} is absent", corpus.display());
        return;
    }
    let dirs: Vec<PathBuf> = firedrill::sigma::SIGMAHQ_RULE_DIRS
        .iter()
        .map(|d| corpus.join(d))
        .collect();
    let (set, diags) = RuleSet::load_paths(&dirs);
    assert!(set.failed.is_empty(), "{:?}", set.failed);
    assert_eq!(set.rules.len(), 3780);
    let (engine, more) = Engine::compile(&set, &Config::default());
    let errors: Vec<String> = diags
        .iter()
        .chain(&more)
        .filter(|d| d.is_error())
        .map(|d| d.render())
        .collect();
    assert!(errors.is_empty(), "{}", errors.join(""));
    assert!(engine.rules().iter().all(|r| r.usable));
    // The only warnings are placeholders without configured values (rules-placeholder and a
    // few others using `|expand`).
    let warnings: Vec<&str> = more.iter().map(|d| d.code.as_str()).collect();
    assert!(warnings.iter().all(|c| *c == "SIG0025"), "{warnings:?}");
}

#[test]
fn rule_files_load_in_walk_order_whatever_the_thread_count() {
    // Files parse in parallel; the set (rules, failures, diagnostics) must not depend on it.
    let dirs = [root().join("fixtures/sigma"), root().join("fixtures/logs")];
    let load = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool");
        let (set, diags) = pool.install(|| RuleSet::load_paths(&dirs));
        let rules: Vec<(String, String)> = set
            .rules
            .iter()
            .map(|r| (r.path.clone(), r.title.clone()))
            .collect();
        let failed: Vec<String> = set
            .failed
            .iter()
            .map(|(p, d)| p.clone() + &d.render())
            .collect();
        let diags: Vec<String> = diags.iter().map(|d| d.render()).collect();
        (rules, failed, diags)
    };
    let one = load(1);
    assert!(one.0.len() > 20, "{} rules", one.0.len());
    assert!(
        !one.1.is_empty(),
        "the fixtures hold rule files that fail to load"
    );
    assert_eq!(one, load(4));
}

#[test]
fn compiling_gives_the_same_rules_and_diagnostics_whatever_the_thread_count() {
    // Rules lower in parallel (each worker with its own regex cache); the diagnostics, their
    // order and which rules are usable must not depend on it. Rules whose regex fails to build
    // alternate with rules whose regex builds, so that the workers' shares interleave.
    let (mut set, _) = RuleSet::load_paths(&[root().join("fixtures/sigma")]);
    for i in 0..64 {
        let pattern = if i % 2 == 0 {
            format!("tool{i}(")
        } else {
            format!(r"tool{i}(x)?\.exe")
        };
        let rule = format!(
            "title: Rule {i}
logsource: {{product: windows, category: process_creation}}
detection:
  selection:
    CommandLine|re: '{pattern}'
  condition: selection
"
        );
        assert!(set.add_source(&format!("rule{i}.yml"), &rule).is_empty());
    }
    // Each usable rule must match its own tool in every rendering: the classes that read
    // through another pipeline (4688, ECS) lower their rules in parallel too.
    let tools: Vec<(String, Vec<Event>)> = (1..64)
        .step_by(2)
        .map(|i| {
            let command = format!("tool{i}x.exe --run");
            let events = [LogSchema::Sysmon, LogSchema::Security4688, LogSchema::Ecs]
                .into_iter()
                .map(|schema| match schema {
                    LogSchema::Ecs => Event::new(schema).with(
                        "process",
                        Value::Map(Box::new(
                            [("command_line".into(), command.as_str().into())]
                                .into_iter()
                                .collect(),
                        )),
                    ),
                    _ => Event::new(schema).with("CommandLine", command.as_str()),
                })
                .collect();
            (format!("Rule {i}"), events)
        })
        .collect();
    let compile = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool");
        let (engine, diags) = pool.install(|| Engine::compile(&set, &Config::default()));
        let usable: Vec<bool> = engine.rules().iter().map(|r| r.usable).collect();
        let diags: Vec<String> = diags.iter().map(|d| d.render()).collect();
        for (title, events) in &tools {
            for event in events {
                let matched: Vec<&str> = engine
                    .matches(event)
                    .map(|r| engine.rules()[r].title.as_str())
                    .collect();
                assert_eq!(
                    matched,
                    [title.as_str()],
                    "{} on {threads} threads",
                    event.schema
                );
            }
        }
        (usable, diags)
    };
    let one = compile(1);
    let failed = one.1.iter().filter(|d| d.contains("SIG0022")).count();
    assert_eq!(failed, 32, "{:#?}", one.1);
    assert_eq!(one.0.iter().filter(|u| !**u).count(), 32);
    assert_eq!(one, compile(4));
}

#[test]
fn the_specifications_example_rules_all_load() {
    let examples = root().join("../shared/corpora/sigma-spec/tests/schema");
    if !examples.exists() {
        println!("skipped: {} is absent", examples.display());
        return;
    }
    let (set, diags) = RuleSet::load_paths(&[examples]);
    assert!(diags.is_empty(), "{diags:?}");
    let kinds = |k: firedrill::sigma::RuleKind| {
        let (engine, _) = Engine::compile(&set, &Config::default());
        engine.rules().iter().filter(|r| r.kind == k).count()
    };
    assert_eq!(kinds(firedrill::sigma::RuleKind::Correlation), 8);
    assert_eq!(kinds(firedrill::sigma::RuleKind::Filter), 2);
    assert_eq!(kinds(firedrill::sigma::RuleKind::Detection), 2);
}

/// Every bundled scenario rendered in `schema`, background included.
fn scenario_events(schema: LogSchema) -> Vec<Event> {
    bundled_scenarios()
        .iter()
        .filter_map(|f| scenario::load(f).ok())
        .flat_map(|s| generate::render(&generate::timeline(&s, &Options::default()), schema))
        .collect()
}

/// The bundled Sigma rules (SigmaHQ's seed and the scenarios' own), compiled.
fn bundled_engine() -> Engine {
    let (set, _) = RuleSet::load_paths(&[
        root().join("fixtures/sigma/sigmahq"),
        root().join("fixtures/rules/sigma"),
    ]);
    Engine::compile(&set, &Config::default()).0
}

/// `n` Sysmon events from the scenarios' own, their command lines made `distinct` ways
/// distinct, a third of them given a needle some bundled rule looks for.
fn varied_events(n: usize, distinct: usize) -> Vec<Event> {
    let templates = scenario_events(LogSchema::Sysmon);
    let needles = [" /priv", " -enc ", " whoami", " -w hidden"];
    (0..n)
        .map(|i| {
            let mut event = templates[i % templates.len()].clone();
            let line = event
                .get("CommandLine")
                .and_then(Value::as_str)
                .unwrap_or("");
            let extra = if i % 3 == 0 { needles[i % 4] } else { "" };
            let line = format!("{line} /n {}{extra}", i % distinct);
            event.fields.insert("CommandLine".into(), line.into());
            event
        })
        .collect()
}

/// A session's memo and verdict tables start small and grow while they keep evicting what they
/// hold: once they have grown over thousands of distinct events, a remembered verdict is still
/// the verdict a fresh session gives. A memo slot read after its table grew would give an event
/// another text's needles; a verdict stored in a stale slot is only lost, since a verdict is
/// found by its own hash and key. The sessions are solitary: the engine's shared tables would
/// hold these verdicts, and the session's own would not grow.
#[test]
fn verdicts_stay_exact_while_session_tables_grow() {
    let engine = bundled_engine();
    let events = varied_events(12_000, 5_000);
    let mut warm = engine.solitary_session();
    let mut matched = 0;
    for event in &events {
        matched += engine.matches_with(event, &mut warm).len();
    }
    let mut fresh = engine.solitary_session();
    engine.matches_with(&events[0], &mut fresh);
    let (grown, first) = (warm.table_slots(), fresh.table_slots());
    assert!(
        grown.0 > first.0 && grown.1 > first.1,
        "over {} events the tables went from {first:?} slots to {grown:?}",
        events.len()
    );
    for event in &events {
        let remembered = engine.matches_with(event, &mut warm).to_vec();
        let fresh = engine
            .matches_with(event, &mut engine.solitary_session())
            .to_vec();
        assert_eq!(remembered, fresh, "event {}", event.to_json());
    }
    let (known, _) = warm.verdict_figures();
    assert!(known > 1_000, "{known} verdicts known");
    assert!(matched > 100, "{matched} matches");
}

/// The bundled Sigma rules, with the corpus's Windows process_creation rules where ../shared is
/// present.
fn process_creation_engine() -> Engine {
    let corpus = root().join("../shared/corpora/sigma/rules/windows/process_creation");
    let mut paths = vec![
        root().join("fixtures/sigma/sigmahq"),
        root().join("fixtures/rules/sigma"),
    ];
    if corpus.is_dir() {
        paths.push(corpus);
    } else {
        println!(
            "notice: {} is absent; checking the bundled rules only",
            corpus.display()
        );
    }
    let (set, _) = RuleSet::load_paths(&paths);
    let (engine, _) = Engine::compile(&set, &Config::default());
    engine
}

/// The prefilter answers text comparisons from its scan and skips rules whose needles are
/// absent; explain evaluates every comparison itself. The two must agree on every rule and
/// event: over the corpus's Windows process_creation rules where ../shared is present, and
/// over the bundled rules always.
#[test]
fn prefilter_verdicts_agree_with_plain_evaluation() {
    let engine = process_creation_engine();
    let mut session = engine.session();
    let mut checked = 0;
    for schema in [LogSchema::Sysmon, LogSchema::Security4688] {
        let events = scenario_events(schema);
        // A spread of events keeps the debug-build cost of explaining every rule modest.
        let step = (events.len() / 40).max(1);
        for event in events.iter().step_by(step) {
            let fast = engine.matches_with(event, &mut session).to_vec();
            for (rule, info) in engine.rules().iter().enumerate() {
                if !info.usable || !engine.applies(rule, event) {
                    continue;
                }
                let plain = engine.explain(rule, event).result;
                assert_eq!(
                    fast.contains(&rule),
                    plain,
                    "rule {} on {schema} event {:?}",
                    info.path,
                    event.to_json().to_string()
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "only {checked} verdicts compared");
}

/// A session remembers verdicts by the exact values of the fields rules read, and by what the
/// field scans found in them (and the scan memo by text): a warm session that has seen every
/// event before must give each event exactly the matches a fresh, solitary session gives it
/// (one that shares no verdicts with the engine's other sessions), and must have answered some
/// of them from memory, some by what was found.
#[test]
fn remembered_verdicts_agree_with_fresh_sessions() {
    let engine = process_creation_engine();
    let mut warm = engine.session();
    let mut compared = 0;
    for schema in [LogSchema::Sysmon, LogSchema::Security4688] {
        let events = scenario_events(schema);
        for event in &events {
            engine.matches_with(event, &mut warm);
        }
        for event in &events {
            let remembered = engine.matches_with(event, &mut warm).to_vec();
            let fresh = engine
                .matches_with(event, &mut engine.solitary_session())
                .to_vec();
            assert_eq!(remembered, fresh, "{schema} event {}", event.to_json());
            compared += 1;
        }
    }
    let (known, _) = warm.verdict_figures();
    assert!(compared > 100, "only {compared} events compared");
    assert!(known > 0, "no verdict was remembered");
    assert!(
        warm.found_verdicts() > 0,
        "no verdict was known by what the scans found"
    );
}

/// A condition that chains thousands of selections with `or` or with `and` (a generated rule
/// can) loads, compiles, matches and explains, and lints for the Kusto pipelines: the parser
/// holds a chain as one list, and every stage walks it in a loop (a recursion per operator
/// overflowed a test thread's stack at about a thousand).
#[test]
fn a_condition_chaining_thousands_of_selections_loads_compiles_matches_and_explains() {
    const N: usize = 5_000;
    let selections: String = (0..N)
        .map(|i| format!("  sel{i}:\n    Image|endswith: '\\x{i}.exe'\n"))
        .collect();
    let mut event = arcsoc_events(LogSchema::Sysmon).remove(0);
    event.fields.insert("Image".into(), "C:\\x7.exe".into());
    let dir = tempfile::tempdir().unwrap();
    for word in ["or", "and"] {
        let names: Vec<String> = (0..N).map(|i| format!("sel{i}")).collect();
        let condition = names.join(&format!(" {word} "));
        let text = format!(
            "title: Long {word} chain\nlogsource:\n  category: process_creation\n  product: windows\n\
             detection:\n{selections}  condition: {condition}\nlevel: low\n"
        );
        let mut set = RuleSet::new();
        let diags = set.add_source(&format!("long_{word}.yml"), &text);
        assert!(diags.is_empty(), "{diags:?}");
        let (engine, diags) = Engine::compile(&set, &Config::default());
        assert!(diags.is_empty(), "{diags:?}");
        // `or`: the event's image is one of the selections; `and`: it is not all of them.
        let expected = word == "or";
        assert_eq!(
            engine.matches(&event).count(),
            usize::from(expected),
            "{word}"
        );
        assert_eq!(engine.explain(0, &event).result, expected, "{word}");
        let file = dir.path().join(format!("long_{word}.yml"));
        std::fs::write(&file, &text).unwrap();
        for target in ["defender", "asim"] {
            let output = firedrill()
                .args(["lint", "--target", target])
                .arg(&file)
                .output()
                .unwrap();
            assert_eq!(
                output.status.code(),
                Some(0),
                "{word} for {target}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

/// A session remembers verdicts and scans by the tables of the engine it served: used with
/// another engine (as `firedrill scan`'s per-thread sessions are when a process scans twice
/// with different rules), it forgets them rather than answer from the first engine's rules.
#[test]
fn a_session_used_with_another_engine_answers_for_that_engine() {
    let engine_for = |image: &str| {
        let mut set = RuleSet::new();
        let rule = format!(
            "title: Image {image}\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  selection:\n    Image|endswith: '\\{image}'\n  condition: selection\n"
        );
        assert!(set.add_source(&format!("{image}.yml"), &rule).is_empty());
        Engine::compile(&set, &Config::default()).0
    };
    let (a, b) = (engine_for("a.exe"), engine_for("b.exe"));
    let event = Event::new(LogSchema::Sysmon)
        .with("EventID", Value::Int(1))
        .with("Image", Value::from("C:\\Windows\\a.exe"));
    let mut session = a.session();
    for _ in 0..3 {
        assert_eq!(a.matches_with(&event, &mut session), [0]);
    }
    for _ in 0..3 {
        assert!(b.matches_with(&event, &mut session).is_empty());
    }
    assert_eq!(a.matches_with(&event, &mut session), [0]);
}

/// The sessions of one engine share the verdicts they remember, once they have met more than a
/// scenario's worth of distinct events: a session that has never seen an event knows its
/// verdict when another session has evaluated it, and sessions on several threads at once,
/// each storing and finding verdicts, give every event the matches a solitary session gives it.
#[test]
fn sessions_of_one_engine_share_remembered_verdicts_across_threads() {
    let engine = bundled_engine();
    let events = varied_events(6_000, 3_000);
    let solitary: Vec<Vec<usize>> = {
        let mut session = engine.solitary_session();
        events
            .iter()
            .map(|e| engine.matches_with(e, &mut session).to_vec())
            .collect()
    };
    let per_thread: Vec<Vec<Vec<usize>>> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let (engine, events) = (&engine, &events);
                scope.spawn(move || {
                    let mut session = engine.session();
                    // Each thread starts elsewhere, so some verdicts it meets were stored by
                    // another.
                    let start = t * events.len() / 4;
                    let mut seen: Vec<Option<Vec<usize>>> = vec![None; events.len()];
                    for i in (0..2 * events.len()).map(|i| (start + i) % events.len()) {
                        let got = engine.matches_with(&events[i], &mut session).to_vec();
                        if let Some(before) = &seen[i] {
                            assert_eq!(*before, got, "a verdict changed on a second sight");
                        }
                        seen[i] = Some(got);
                    }
                    seen.into_iter()
                        .map(|matches| matches.expect("every event is seen"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for seen in &per_thread {
        for (i, (got, want)) in seen.iter().zip(&solitary).enumerate() {
            assert_eq!(got, want, "event {}", events[i].to_json());
        }
    }
    // A new session has seen nothing, yet knows the verdicts the others remembered.
    let mut newcomer = engine.session();
    for event in &events {
        engine.matches_with(event, &mut newcomer);
    }
    let (known, unknown) = newcomer.verdict_figures();
    assert!(
        known > 10 * unknown.max(1),
        "a new session knew {known} verdicts and evaluated {unknown}"
    );
}

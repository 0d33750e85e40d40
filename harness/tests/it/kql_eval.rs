//! KQL evaluation: the conformance suite in fixtures/kql/eval/, the seed queries, the CLI, and run
//! coverage of the shared corpus (../shared/corpora/kql) over empty tables of the right schema.

use crate::support::{files_with_ext, firedrill, render, root};
use firedrill::kql::{self, Database, Table};
use std::collections::BTreeMap;
use std::path::Path;

fn clock() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2024-05-02T00:00:00Z")
        .expect("fixed clock")
        .with_timezone(&chrono::Utc)
}

// ---------------------------------------------------------------------------------------------
// Conformance suite: fixtures/kql/eval/<case>.yaml
// ---------------------------------------------------------------------------------------------

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// The learn.microsoft.com page the case follows.
    doc: String,
    /// What the case checks.
    #[serde(default)]
    about: String,
    /// The query.
    query: String,
    /// Input tables: name → rows (JSON objects); an empty list binds an empty table.
    #[serde(default)]
    tables: BTreeMap<String, Vec<serde_json::Map<String, serde_json::Value>>>,
    /// Sentinel watchlists for `_GetWatchlist`: `alias[:search key]` → items.
    #[serde(default)]
    watchlists: BTreeMap<String, Vec<serde_json::Map<String, serde_json::Value>>>,
    /// The clock, RFC 3339.
    #[serde(default)]
    now: Option<String>,
    /// Expected `{"columns": [...], "rows": [...]}` (columns as `name:type`), or
    #[serde(default)]
    expect: Option<Expected>,
    /// an expected diagnostic code.
    #[serde(default)]
    error: Option<String>,
    /// An expected warning code (an offline stand-in, a retired name) beside the result.
    #[serde(default)]
    warning: Option<String>,
    /// The result's columns come from the data (`bag_unpack`, `pivot` without a declared
    /// schema): Kusto.Language cannot name them statically, so the oracle does not compare them.
    #[serde(default)]
    schema_from_data: bool,
    /// Expected provenance: per output row, the input row indices (of the single input table).
    #[serde(default)]
    sources: Option<Vec<Vec<usize>>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    columns: Vec<String>,
    rows: Vec<Vec<serde_json::Value>>,
    /// Compare rows as a multiset (for operators whose output order Kusto does not define).
    #[serde(default)]
    unordered: bool,
}

fn database_for(case: &Case) -> Database {
    let now = case
        .now
        .as_deref()
        .map(|n| {
            chrono::DateTime::parse_from_rfc3339(n)
                .expect("case clock is RFC 3339")
                .with_timezone(&chrono::Utc)
        })
        .unwrap_or_else(clock);
    let mut db = Database::new(now);
    for (name, rows) in &case.tables {
        let events: Vec<firedrill::Event> = rows
            .iter()
            .map(|r| firedrill::Event::from_json(firedrill::LogSchema::Other, r))
            .collect();
        db.bind(name, &events);
    }
    for (name, rows) in &case.watchlists {
        let items: Vec<firedrill::Event> = rows
            .iter()
            .map(|r| firedrill::Event::from_json(firedrill::LogSchema::Other, r))
            .collect();
        let (alias, key) = match name.split_once(':') {
            Some((alias, key)) => (alias, Some(key)),
            None => (name.as_str(), None),
        };
        db.bind_watchlist(alias, key, &items);
    }
    db
}

fn check_case(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let case: Case = serde_yaml::from_str(&text).map_err(|e| format!("bad case file: {e}"))?;
    if !case.doc.starts_with("https://learn.microsoft.com/") {
        return Err(format!(
            "`doc` must cite a learn.microsoft.com page, got {}",
            case.doc
        ));
    }
    let _ = &case.about;
    let db = database_for(&case);
    let run = kql::run_text("<case>", &case.query, &db);
    match (&case.error, run.table) {
        (Some(code), None) => {
            if run.diagnostics.iter().any(|d| &d.code == code) {
                Ok(())
            } else {
                Err(format!(
                    "expected {code}, got:\n{}",
                    render(&run.diagnostics)
                ))
            }
        }
        (Some(code), Some(_)) => Err(format!("expected {code}, but the query ran")),
        (None, None) => Err(format!("query failed:\n{}", render(&run.diagnostics))),
        (None, Some(table)) => {
            if let Some(code) = &case.warning
                && !run
                    .diagnostics
                    .iter()
                    .any(|d| &d.code == code && !d.is_error())
            {
                return Err(format!(
                    "expected warning {code}, got:\n{}",
                    render(&run.diagnostics)
                ));
            }
            let expect = case
                .expect
                .as_ref()
                .ok_or("a case needs `expect` or `error`")?;
            compare(&table, expect)?;
            if let Some(sources) = &case.sources {
                let got: Vec<Vec<usize>> = table
                    .rows
                    .iter()
                    .map(|r| r.sources.iter().map(|s| s.index).collect())
                    .collect();
                if &got != sources {
                    return Err(format!("provenance: expected {sources:?}, got {got:?}"));
                }
            }
            Ok(())
        }
    }
}

fn compare(table: &Table, expect: &Expected) -> Result<(), String> {
    let columns: Vec<String> = table
        .columns
        .iter()
        .map(|c| format!("{}:{}", c.name, c.ty))
        .collect();
    if columns != expect.columns {
        return Err(format!(
            "columns: expected {:?}, got {columns:?}",
            expect.columns
        ));
    }
    let mut got: Vec<Vec<serde_json::Value>> = table
        .rows
        .iter()
        .map(|r| r.values.iter().map(|v| v.to_json()).collect())
        .collect();
    let mut want = expect.rows.clone();
    if expect.unordered {
        got.sort_by_key(|r| serde_json::to_string(r).unwrap_or_default());
        want.sort_by_key(|r| serde_json::to_string(r).unwrap_or_default());
    }
    if got != want {
        return Err(format!(
            "rows:\nexpected {}\n     got {}",
            serde_json::to_string(&want).unwrap_or_default(),
            serde_json::to_string(&got).unwrap_or_default()
        ));
    }
    Ok(())
}

#[test]
fn conformance_cases_match_the_kusto_documentation() {
    let files = files_with_ext(&root().join("fixtures/kql/eval"), "yaml");
    assert!(
        files.len() >= 40,
        "expected the conformance suite, found {} cases",
        files.len()
    );
    let failures: Vec<String> = files
        .iter()
        .filter_map(|f| {
            check_case(f)
                .err()
                .map(|e| format!("{}: {e}", f.strip_prefix(root()).unwrap_or(f).display()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Seed queries
// ---------------------------------------------------------------------------------------------

#[test]
fn both_seed_queries_resolve_and_run_as_written_over_empty_tables() {
    let db = Database::new(clock());
    for file in [
        "fixtures/rules/kql/suspicious-arcsoc-child-process.kql",
        "fixtures/rules/kql/detect-suspicious-commands-initiated-by-web-server-processes.yaml",
    ] {
        let rule = kql::rule::load(root().join(file)).unwrap_or_else(|d| panic!("{}", render(&d)));
        let (query, diags) = rule.parse();
        let query = query.unwrap_or_else(|| panic!("{}", render(&diags)));
        let table = kql::evaluate(&query, &db).unwrap_or_else(|d| panic!("{file}: {}", render(&d)));
        assert!(table.rows.is_empty(), "{file}");
    }
}

/// A source-specific ASIM parser (`ASimProcessCreateMicrosoftSysmon`, four uses in the KQL
/// corpus) returns only its source's rows of `imProcessCreate`: Sysmon's, Security 4688's
/// (through `SecurityEvent`) or Defender's; a parser of a source firedrill makes no rows of
/// (`WindowsEvent`-collected events, Linux, other products) returns none.
#[test]
fn source_specific_asim_parsers_return_their_sources_rows_only() {
    use firedrill::generate::{self, AsimSource, Options};
    let scenario =
        firedrill::scenario::load(&root().join("scenarios/arcgis/soe-webshell-powershell.yaml"))
            .expect("a bundled scenario");
    let mut rows = Vec::new();
    let mut of = BTreeMap::new();
    for (source, product) in [
        (AsimSource::Defender, "M365 Defender for Endpoint"),
        (AsimSource::Sysmon, "Sysmon"),
        (AsimSource::SecurityEvent, "Security Events"),
    ] {
        let options = Options {
            asim_source: source,
            ..Options::default()
        };
        let events = generate::render(
            &generate::timeline(&scenario, &options),
            firedrill::event::LogSchema::Asim,
        );
        of.insert(product, events.len());
        rows.extend(events);
    }
    let mut db = Database::new(clock());
    db.bind("imProcessCreate", &rows);
    for (parser, product) in [
        ("imProcessCreate", None),
        ("_Im_ProcessCreate", None),
        ("ASimProcessCreateMicrosoftSysmon", Some("Sysmon")),
        (
            "vimProcessCreateMicrosoftSecurityEvents",
            Some("Security Events"),
        ),
        (
            "ASimProcessCreateMicrosoft365D",
            Some("M365 Defender for Endpoint"),
        ),
        ("vimProcessCreateMicrosoftWindowsEvents", Some("")),
        ("vimProcessCreateLinuxSysmon", Some("")),
    ] {
        let text = format!("{parser} | summarize count() by EventProduct");
        let (query, diags) = kql::parse(&text);
        let query = query.unwrap_or_else(|| panic!("{}", render(&diags)));
        let table = kql::evaluate(&query, &db).unwrap_or_else(|d| panic!("{}", render(&d)));
        let counts: BTreeMap<String, u64> = table.to_json()["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                (
                    row[0].as_str().unwrap().to_string(),
                    row[1].as_u64().unwrap(),
                )
            })
            .collect();
        let expected: BTreeMap<String, u64> = of
            .iter()
            .filter(|(p, _)| product.is_none_or(|want| want == **p))
            .map(|(p, n)| (p.to_string(), *n as u64))
            .collect();
        assert_eq!(counts, expected, "{parser}");
    }
}

/// A Sigma rule converted by its Kusto backend can `or` thousands of comparisons (SigmaHQ's
/// longest, 67 KB, about 1,100): such a chain compiles to a balanced tree and is walked and
/// dropped without recursion, so it compiles, runs, is explained, printed, linted and dropped
/// without running out of stack (a test thread has 2 MiB; compiled recursively, that SigmaHQ conversion
/// overflowed the main thread's 8 MiB in a debug build).
#[test]
fn a_chain_of_thousands_of_ors_and_ands_compiles_runs_explains_and_lints() {
    let mut db = Database::new(clock());
    let events: Vec<firedrill::event::Event> = [7, 20_000, 30_000]
        .into_iter()
        .map(|x: i64| {
            let mut event = firedrill::event::Event::new(firedrill::event::LogSchema::Other);
            event.fields.insert("x".into(), x.into());
            event
        })
        .collect();
    db.bind("T", &events);
    for op in ["or", "and"] {
        let terms: Vec<String> = (0..20_000).map(|i| format!("x != {i}")).collect();
        let test = if op == "or" {
            format!("x == 7 or {}", terms.join(" or "))
        } else {
            terms.join(" and ")
        };
        let text = format!("T | where {test}");
        let (query, diags) = kql::parse(&text);
        let query = query.unwrap_or_else(|| panic!("{}", render(&diags)));
        let table = kql::evaluate(&query, &db).unwrap_or_else(|d| panic!("{}", render(&d)));
        // `or`: every row differs from some term; `and`: 7 is among the terms, 20000 is not.
        let expected = if op == "or" { 3 } else { 2 };
        assert_eq!(table.rows.len(), expected, "{op}");
        // Explaining it walks the chain too, and so does printing it.
        let explanation = kql::explain::explain(&query, &db, &text);
        assert!(!explanation.steps.is_empty(), "{op}");
        assert_eq!(query.to_string().trim(), text, "{op}");
    }
    // `firedrill lint` reads the tables and names a query uses, and runs it over empty tables.
    let dir = tempfile::tempdir().unwrap();
    let terms: Vec<String> = (0..20_000)
        .map(|i| format!("ProcessCommandLine contains \"x{i}\""))
        .collect();
    let file = dir.path().join("long.kql");
    std::fs::write(
        &file,
        format!("DeviceProcessEvents\n| where {}\n", terms.join(" or ")),
    )
    .unwrap();
    let output = firedrill().arg("lint").arg(&file).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `search` over a chain of thousands of terms, `summarize` over an `or` of thousands of
/// aggregates, and `join` on an `and` of thousands of key pairs: each rewrites or flattens the
/// chain in a loop (a recursion per operator overflowed a test thread's stack).
#[test]
fn search_summarize_and_join_take_chains_of_thousands_of_terms() {
    let mut db = Database::new(clock());
    let events: Vec<firedrill::event::Event> = ["alpha", "beta"]
        .into_iter()
        .map(|word| {
            let mut event = firedrill::event::Event::new(firedrill::event::LogSchema::Other);
            event.fields.insert("A".into(), word.into());
            event
        })
        .collect();
    db.bind("T", &events);
    let terms: Vec<String> = (0..20_000).map(|i| format!("\"v{i}\"")).collect();
    let counts: Vec<String> = (0..20_000)
        .map(|i| format!("countif(A == \"v{i}\") > 0"))
        .collect();
    let keys = vec!["$left.A == $right.A"; 20_000];
    for (text, rows) in [
        (format!("T | search {} or \"beta\"", terms.join(" or ")), 1),
        (
            format!(
                "T | search kind=case_sensitive {} or \"BETA\"",
                terms.join(" or ")
            ),
            0,
        ),
        (
            format!("T | summarize x = {} | where x", counts.join(" or ")),
            0,
        ),
        (
            format!("T | join kind=inner (T) on {}", keys.join(" and ")),
            2,
        ),
    ] {
        let (query, diags) = kql::parse(&text);
        let query = query.unwrap_or_else(|| panic!("{}", render(&diags)));
        let table = kql::evaluate(&query, &db).unwrap_or_else(|d| panic!("{}", render(&d)));
        assert_eq!(table.rows.len(), rows, "{}", &text[..60]);
    }
}

#[test]
fn webserver_seed_names_duplicate_aggregates_and_keeps_provenance() {
    let mut db = Database::new(clock());
    let event = |parent: &str, file: &str, cmd: &str, device: &str| {
        firedrill::Event::new(firedrill::LogSchema::Mde)
            .with("Timestamp", "2024-05-01T10:00:00Z")
            .with("DeviceId", device)
            .with("FileName", file)
            .with("ProcessCommandLine", cmd)
            .with("InitiatingProcessFileName", parent)
            .with("InitiatingProcessParentFileName", "svchost.exe")
    };
    db.bind_rendering(
        firedrill::LogSchema::Mde,
        &[
            event("w3wp.exe", "cmd.exe", "cmd /c whoami", "d1"),
            event("w3wp.exe", "cmd.exe", "cmd /c echo shipping", "d1"),
            event("explorer.exe", "cmd.exe", "cmd /c whoami", "d1"),
            event("tomcat9.exe", "powershell.exe", "ping 10.0.0.1", "d2"),
            event("W3WP.EXE", "cmd.exe", "cmd /c whoami", "d3"),
        ],
    );
    let rule = kql::rule::load(root().join(
        "fixtures/rules/kql/detect-suspicious-commands-initiated-by-web-server-processes.yaml",
    ))
    .expect("seed rule loads");
    let (query, _) = rule.parse();
    let table =
        kql::evaluate(&query.expect("parses"), &db).unwrap_or_else(|d| panic!("{}", render(&d)));
    let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "DeviceId",
            "any_Timestamp",
            "any_Timestamp1",
            "any_FileName",
            "set_ProcessCommandLine",
            "any_InitiatingProcessFileName",
            "any_InitiatingProcessParentFileName"
        ]
    );
    // `in` is case-sensitive: W3WP.EXE does not match; `has` needs whole terms: "shipping" is not "ping".
    let got: Vec<(String, Vec<usize>)> = table
        .rows
        .iter()
        .map(|r| {
            (
                r.values[0].to_kql_string(),
                r.sources.iter().map(|s| s.index).collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [("d1".to_string(), vec![0]), ("d2".to_string(), vec![3])]
    );
}

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

/// Runs `firedrill kql` on `query` with one JSON lines file given as `flag` `spec=FILE`
/// (`--table T`, `--watchlist alias:key`); the JSON result.
fn run_cli(query: &str, flag: &str, spec: &str, lines: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let query_file = dir.path().join("q.kql");
    std::fs::write(&query_file, query).expect("write");
    let data = dir.path().join("data.jsonl");
    std::fs::write(&data, lines).expect("write");
    let out = firedrill()
        .args(["kql", "--query"])
        .arg(&query_file)
        .arg(flag)
        .arg(format!("{spec}={}", data.display()))
        .args(["--now", "2024-05-02T00:00:00Z", "--format", "json"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn cli_runs_a_query_over_json_lines_tables() {
    let json = run_cli(
        "T | where Name has 'whoami' | project Name, N = N * 2",
        "--table",
        "T",
        "{\"Name\":\"cmd /c whoami\",\"N\":1}\n{\"Name\":\"notepad\",\"N\":2}\n",
    );
    assert_eq!(
        json,
        serde_json::json!({
            "columns": [{"name": "Name", "type": "string"}, {"name": "N", "type": "long"}],
            "rows": [["cmd /c whoami", 2]]
        })
    );
}

#[test]
fn cli_normalises_recorded_process_creations_given_as_improcesscreate() {
    // The ArcSOC seed's conversion over the seed attack as Sysmon and as Security 4688 recorded
    // it: each row becomes its ASIM row, so the whoami child fires and `ver` does not.
    let query = std::fs::read_to_string(
        root().join("fixtures/rules/kql/suspicious-arcsoc-child-process.kql"),
    )
    .expect("seed query");
    let query = format!("{query}\n| project TargetProcessCommandLine, EventProduct");
    for (file, product) in [
        ("fixtures/logs/jsonl/sysmon-flat.jsonl", "Sysmon"),
        (
            "fixtures/logs/jsonl/security-4688-winlogbeat.jsonl",
            "Security Events",
        ),
    ] {
        let lines = std::fs::read_to_string(root().join(file)).expect("log");
        let json = run_cli(&query, "--table", "imProcessCreate", &lines);
        assert_eq!(
            json["rows"],
            serde_json::json!([["cmd.exe /c whoami /all", product]]),
            "{file}"
        );
    }
}

#[test]
fn cli_loads_watchlists_for_get_watchlist() {
    let json = run_cli(
        "_GetWatchlist('hosts') | where Role == 'dc' | project SearchKey, Host",
        "--watchlist",
        "hosts:Host",
        "{\"Host\":\"dc01\",\"Role\":\"dc\"}\n{\"Host\":\"web01\",\"Role\":\"web\"}\n",
    );
    assert_eq!(json["rows"], serde_json::json!([["dc01", "dc01"]]));
}

#[test]
fn cli_reports_unknown_columns_with_exit_code_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let query = dir.path().join("q.kql");
    std::fs::write(&query, "DeviceProcessEvents | where FileNam == 'x'").expect("write");
    let out = firedrill()
        .args(["kql", "--query"])
        .arg(&query)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("KQL0202") && stderr.contains("did you mean `FileName`?"),
        "{stderr}"
    );
}

#[test]
fn cli_runs_every_query_of_a_script_and_reports_each_block() {
    let json = run_cli(
        "// names\nT | project Name\n\n// doubled\nlet k = 2;\nT | project N = N * k\n",
        "--table",
        "T",
        "{\"Name\":\"a\",\"N\":1}\n",
    );
    assert_eq!(
        json,
        serde_json::json!({"blocks": [
            {"lines": [1, 2], "columns": [{"name": "Name", "type": "string"}], "rows": [["a"]]},
            {"lines": [4, 6], "columns": [{"name": "N", "type": "long"}], "rows": [[2]]}
        ]})
    );
}

#[test]
fn cli_reports_a_failing_script_block_at_its_line_and_still_runs_the_others() {
    let dir = tempfile::tempdir().expect("temp dir");
    let query = dir.path().join("q.kql");
    std::fs::write(
        &query,
        "DeviceProcessEvents | take 1\n\nDeviceProcessEvents | where FileNam == 'x'\n",
    )
    .expect("write");
    let out = firedrill()
        .args(["kql", "--format", "json", "--query"])
        .arg(&query)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let blocks = json["blocks"].as_array().expect("blocks");
    assert_eq!(blocks.len(), 2);
    assert!(blocks[0]["rows"].is_array());
    assert_eq!(blocks[1]["diagnostics"][0]["code"], "KQL0202");
    assert_eq!(blocks[1]["diagnostics"][0]["location"]["line"], 3);
}

#[test]
fn declared_query_parameters_take_the_value_the_database_declares() {
    let mut db = Database::new(clock());
    db.declare("n", kql::Value::Long(3));
    let text = "declare query_parameters(n:int = 1);\nrange x from 1 to 10 step 1 | take n";
    let run = kql::run_text("<test>", text, &db);
    let table = run
        .table
        .unwrap_or_else(|| panic!("{}", render(&run.diagnostics)));
    assert_eq!(table.rows.len(), 3);
}

#[test]
fn cli_rejects_a_rule_whose_query_is_a_script() {
    let out = firedrill()
        .args(["kql", "--query"])
        .arg(root().join("fixtures/kql/rules/err/0007_script_of_several_queries.yaml"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("KQL0108") && stderr.contains("a rule must be one query"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// Corpus run coverage
// ---------------------------------------------------------------------------------------------

#[test]
#[expect(
    clippy::print_stdout,
    reason = "the coverage report and the skip notice are the test's output"
)]
fn corpus_run_coverage_over_empty_tables() {
    let dir = root().join("../shared/corpora/kql");
    if !dir.is_dir() {
        println!("notice: ../shared/corpora/kql is absent; skipping KQL corpus run coverage");
        return;
    }
    let files = files_with_ext(&dir, "kql");
    let mut db = Database::new(clock());
    // The ASIM parser sources read the parser parameter `disabled`, which Sentinel declares.
    db.declare("disabled", firedrill::kql::Value::Bool(false));
    let (mut parsed, mut ran) = (0, 0);
    // The same over distinct queries: MANIFEST.tsv marks duplicates (`duplicate_of`).
    let duplicates = corpus_duplicates(&dir);
    let (mut distinct, mut distinct_parsed, mut distinct_ran) = (0, 0, 0);
    // Scripts (queries separated by blank lines): how many, their blocks, how many run.
    let (mut scripts, mut blocks, mut scripts_ran) = (0, 0, 0);
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let name = file
            .strip_prefix(&dir)
            .unwrap_or(file)
            .display()
            .to_string();
        let unique = !duplicates.contains(&name);
        distinct += usize::from(unique);
        let (parsed_text, diags) = kql::parse_text("<corpus>", &text);
        // A script runs when every block parses and runs.
        let queries: Vec<(Option<&kql::ast::Query>, &[firedrill::Diagnostic])> = match &parsed_text
        {
            kql::Parsed::Query(q) => vec![(Some(q), &diags[..])],
            kql::Parsed::Script(script) => {
                scripts += 1;
                blocks += script.blocks.len();
                script
                    .blocks
                    .iter()
                    .map(|b| (b.query.as_ref(), &b.diagnostics[..]))
                    .collect()
            }
            kql::Parsed::Invalid => vec![(None, &diags[..])],
        };
        let is_script = matches!(parsed_text, kql::Parsed::Script(_));
        let unparsed = queries.iter().find_map(|(q, d)| match q {
            None => d.iter().find(|d| d.is_error()),
            Some(_) => None,
        });
        if let Some(d) = unparsed {
            let at = d.location.as_ref().map_or(0, |l| l.line);
            let what = if is_script {
                "script block does not parse"
            } else {
                "does not parse"
            };
            failures.push(format!("{name}:{at}: {what}: {}", d.message));
            continue;
        }
        parsed += 1;
        distinct_parsed += usize::from(unique);
        let failed = queries.iter().find_map(|(q, _)| {
            let run = kql::evaluate_full(q.expect("parsed"), &db, Some(("<corpus>", &text)));
            match run.table {
                Some(_) => None,
                None => run.diagnostics.into_iter().find(|d| d.is_error()),
            }
        });
        match failed {
            None => {
                ran += 1;
                distinct_ran += usize::from(unique);
                scripts_ran += usize::from(is_script);
            }
            Some(d) => {
                *reasons
                    .entry(format!("{} {}", d.code, d.message))
                    .or_default() += 1;
                let at = d.location.as_ref().map_or(0, |l| l.line);
                failures.push(format!("{name}:{at}: {}", d.message));
            }
        }
    }
    let total = files.len();
    println!(
        "KQL corpus: {total} queries, {parsed} parse, {ran} resolve and run over empty tables ({:.1}% of all, {:.1}% of parsed); {scripts} scripts of {blocks} blocks, {scripts_ran} run",
        100.0 * ran as f64 / total as f64,
        100.0 * ran as f64 / parsed.max(1) as f64
    );
    println!(
        "  distinct queries: {distinct}, {distinct_parsed} parse, {distinct_ran} run ({:.1}% of all, {:.1}% of parsed)",
        100.0 * distinct_ran as f64 / distinct.max(1) as f64,
        100.0 * distinct_ran as f64 / distinct_parsed.max(1) as f64
    );
    let mut top: Vec<(&String, &usize)> = reasons.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (what, n) in top.iter().take(25) {
        println!("  {n:4}  {what}");
    }
    if std::env::var_os("FIREDRILL_KQL_FAILURES").is_some() {
        for f in &failures {
            println!("    {f}");
        }
    }
    assert!(
        ran * 100 >= parsed * 95,
        "run coverage regressed: {ran} of {parsed} parsed queries run"
    );
}

/// Corpus files (paths relative to the corpus) that `MANIFEST.tsv` marks as duplicates of
/// another (`duplicate_of` set).
fn corpus_duplicates(dir: &Path) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path().join("MANIFEST.tsv")) else {
            continue;
        };
        let folder = entry.file_name().to_string_lossy().to_string();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
        let (Some(file_at), Some(dup_at)) = (
            header.iter().position(|h| *h == "out_file"),
            header.iter().position(|h| *h == "duplicate_of"),
        ) else {
            continue;
        };
        for line in lines {
            let cells: Vec<&str> = line.split('\t').collect();
            if cells.get(dup_at).is_some_and(|d| !d.trim().is_empty())
                && let Some(file) = cells.get(file_at)
            {
                out.insert(format!("{folder}/{file}"));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Oracle: result column names and types against Microsoft's Kusto.Language
// ---------------------------------------------------------------------------------------------

/// `(col:type, ...)` for Kusto.Language's database of `tables`.
fn schema_text(table: &Table) -> String {
    let cols: Vec<String> = table
        .columns
        .iter()
        .map(|c| format!("['{}']:{}", c.name.replace('\'', "\\'"), c.ty))
        .collect();
    format!("({})", cols.join(", "))
}

fn columns_of(table: &Table) -> Vec<(String, String)> {
    table
        .columns
        .iter()
        .map(|c| (c.name.clone(), c.ty.to_string()))
        .collect()
}

#[test]
#[expect(
    clippy::print_stdout,
    reason = "the comparison report and skip notices are the test's output"
)]
fn result_columns_match_kusto_language() {
    use crate::kql_oracle::{OracleCase, run_oracle};
    // (id, our columns, tables given to the oracle)
    let mut ours: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut cases = Vec::new();
    let mut add = |id: String, text: String, db: &Database, table: &Table| {
        let (query, _) = kql::parse(&text);
        let Some(query) = query else { return };
        let mut tables = BTreeMap::new();
        for name in query.tables_read() {
            if let Some(t) = db.table(&name) {
                tables.insert(name, schema_text(&t));
            }
        }
        ours.push((id.clone(), columns_of(table)));
        cases.push(OracleCase {
            id,
            text,
            tables: Some(tables),
        });
    };
    let files = files_with_ext(&root().join("fixtures/kql/eval"), "yaml");
    for f in &files {
        let text = std::fs::read_to_string(f).expect("readable case");
        let case: Case = serde_yaml::from_str(&text).expect("valid case");
        // ASIM parser calls with parameters are functions Kusto.Language does not know.
        if case.error.is_some() || case.schema_from_data || case.query.contains("imProcessCreat") {
            continue;
        }
        let db = database_for(&case);
        if let Some(table) = kql::run_text("<case>", &case.query, &db).table {
            let id = format!(
                "fixtures/{}",
                f.file_name().unwrap_or_default().to_string_lossy()
            );
            add(id, case.query.clone(), &db, &table);
        }
    }
    let corpus = root().join("../shared/corpora/kql");
    let mut db = Database::new(clock());
    db.declare("disabled", firedrill::kql::Value::Bool(false));
    let corpus_files = files_with_ext(&corpus, "kql");
    // Queries firedrill rejects go to the oracle too, to see whether Kusto.Language binds them.
    let mut rejected: Vec<(String, String)> = Vec::new();
    for f in &corpus_files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let id = format!("corpus/{}", f.strip_prefix(&corpus).unwrap_or(f).display());
        let run = kql::run_text("<corpus>", &text, &db);
        match run.table {
            Some(table) => add(id, text, &db, &table),
            None => {
                let reason = run
                    .diagnostics
                    .first()
                    .map(|d| format!("{} {}", d.code, d.message))
                    .unwrap_or_default();
                add(id.clone(), text, &db, &Table::default());
                rejected.push((id, reason));
            }
        }
    }
    let Some(verdicts) = run_oracle(&cases) else {
        return;
    };
    let mut bound_cleanly = 0;
    let mut rejected_but_bound = Vec::new();
    for (id, verdict) in &verdicts {
        if id.starts_with("corpus/") && verdict.errors.is_empty() && verdict.columns.is_some() {
            bound_cleanly += 1;
            if let Some((_, reason)) = rejected.iter().find(|(r, _)| r == id) {
                rejected_but_bound.push(format!("{id}: {reason}"));
            }
        }
    }
    println!(
        "corpus: Kusto.Language binds {bound_cleanly} queries without errors over the catalog's tables; firedrill runs {} of them",
        bound_cleanly - rejected_but_bound.len()
    );
    for r in &rejected_but_bound {
        println!("  firedrill rejects, Kusto.Language binds: {r}");
    }
    let (mut compared, mut agree) = (0, 0);
    let mut fixture_mismatches = Vec::new();
    let mut corpus_mismatches = Vec::new();
    for (id, mine) in &ours {
        if rejected.iter().any(|(r, _)| r == id) {
            continue;
        }
        let Some(v) = verdicts.get(id) else { continue };
        let Some(theirs) = &v.columns else { continue };
        if !v.errors.is_empty() {
            continue;
        }
        compared += 1;
        if theirs == mine {
            agree += 1;
            continue;
        }
        let diff = format!("{id}\n    kusto:     {theirs:?}\n    firedrill: {mine:?}");
        if id.starts_with("fixtures/") {
            fixture_mismatches.push(diff);
        } else {
            corpus_mismatches.push(diff);
        }
    }
    println!(
        "result columns: {agree} of {compared} queries Kusto.Language binds without errors have the same column names and types"
    );
    if std::env::var_os("FIREDRILL_KQL_FAILURES").is_some() {
        for m in &corpus_mismatches {
            println!("  {m}");
        }
    }
    assert!(
        fixture_mismatches.is_empty(),
        "conformance cases whose result columns differ from Kusto.Language:\n{}",
        fixture_mismatches.join("\n")
    );
}

/// `rand()` and `new_guid()` draw from a generator with a fixed seed, restarted for every query:
/// a query gives the same values however many queries its thread ran before (the harness runs
/// trials on a pool of threads), and successive calls within a query still differ.
#[test]
fn rand_and_new_guid_give_a_query_the_same_values_whatever_ran_before() {
    let db = Database::new(clock());
    let run = |text: &str| {
        let evaluation = kql::run_text("q.kql", text, &db);
        let table = evaluation
            .table
            .unwrap_or_else(|| panic!("{}", render(&evaluation.diagnostics)));
        table
            .rows
            .iter()
            .map(|row| format!("{row:?}"))
            .collect::<Vec<_>>()
    };
    let query = "range i from 1 to 3 step 1 | extend r = rand(), g = new_guid()";
    let first = run(query);
    assert_eq!(first.len(), 3);
    assert!(first[0] != first[1] && first[1] != first[2], "{first:?}");
    run("print r = rand(), s = rand(), g = new_guid()");
    assert_eq!(run(query), first);
}

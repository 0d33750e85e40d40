//! Optional oracle: Microsoft's own KQL parser (Kusto.Language, npm `@kusto/language-service-next`)
//! must accept and reject the same queries as firedrill, across the shared corpus, the parse
//! fixtures and the seed rules. Skips with a notice when Node.js or the package is absent
//! (`tools/kusto-oracle/install.sh` installs it into the git-ignored `target/kusto-oracle`).
//!
//! Known, deliberate differences are listed with a reason in
//! `fixtures/kql/oracle-differences.tsv`; any other disagreement fails the test, and so does a
//! listed difference that no longer occurs (so the list stays honest).

#![expect(
    clippy::print_stdout,
    reason = "tests print skip notices and the agreement summary"
)]

use crate::support::{files_with_ext, root};
use firedrill::kql;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

/// (id, query text): ids are paths relative to the repository (fixtures) or `corpus/...`.
fn cases() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut files = files_with_ext(&root().join("fixtures/kql/parse"), "kql");
    files.extend(files_with_ext(&root().join("fixtures/rules/kql"), "kql"));
    files.sort();
    for f in files {
        let id = f
            .strip_prefix(root())
            .expect("under the root")
            .display()
            .to_string();
        out.push((id, std::fs::read_to_string(&f).expect("readable")));
    }
    for f in files_with_ext(&root().join("fixtures/rules/kql"), "yaml") {
        let r = kql::rule::load(&f).expect("the seed rule loads");
        let id = f
            .strip_prefix(root())
            .expect("under the root")
            .display()
            .to_string();
        out.push((id, r.query));
    }
    let corpus = root().join("../shared/corpora/kql");
    if corpus.is_dir() {
        for f in files_with_ext(&corpus, "kql") {
            let id = format!(
                "corpus/{}",
                f.strip_prefix(&corpus).expect("under corpus").display()
            );
            out.push((id, std::fs::read_to_string(&f).expect("readable")));
        }
    } else {
        println!(
            "notice: {} is absent; the oracle checks fixtures only",
            corpus.display()
        );
    }
    out
}

/// One query for the oracle; with `tables` (name → `(col:type, ...)`) Kusto.Language also binds
/// it and reports the result columns.
pub(crate) struct OracleCase {
    pub id: String,
    pub text: String,
    pub tables: Option<BTreeMap<String, String>>,
}

/// What Kusto.Language says about one query.
pub(crate) struct OracleVerdict {
    /// Error diagnostics, rendered `code at offset: message`.
    pub errors: Vec<String>,
    /// Result columns (name, Kusto type name) when the case had tables.
    pub columns: Option<Vec<(String, String)>>,
}

/// Runs `tools/kusto-oracle/oracle.js`; `None` (with a notice printed) when Node.js or the
/// package is absent. Usable from any test module of this binary.
pub(crate) fn run_oracle(cases: &[OracleCase]) -> Option<BTreeMap<String, OracleVerdict>> {
    run_oracle_with(cases, None)
}

/// Like [`run_oracle`]; `shared` tables (name → `(col:type, ...)`) bind every case that has
/// none of its own.
pub(crate) fn run_oracle_with(
    cases: &[OracleCase],
    shared: Option<&BTreeMap<String, String>>,
) -> Option<BTreeMap<String, OracleVerdict>> {
    let input = serde_json::Value::Array(
        cases
            .iter()
            .map(|c| match &c.tables {
                Some(t) => serde_json::json!({"id": c.id, "text": c.text, "tables": t}),
                None => serde_json::json!({"id": c.id, "text": c.text}),
            })
            .collect(),
    );
    let input = match shared {
        Some(tables) => serde_json::json!({"tables": tables, "cases": input}),
        None => input,
    };
    let results = run_node(&input)?;
    Some(
        results
            .into_iter()
            .map(|r| {
                let id = r["id"].as_str().expect("id").to_string();
                let errors = error_lines(&r["diagnostics"]);
                let columns = r["columns"].as_array().map(|cols| {
                    cols.iter()
                        .map(|c| {
                            (
                                c["name"].as_str().unwrap_or_default().to_string(),
                                c["type"].as_str().unwrap_or_default().to_string(),
                            )
                        })
                        .collect()
                });
                (id, OracleVerdict { errors, columns })
            })
            .collect(),
    )
}

/// Runs `tools/kusto-oracle/oracle.js` on `input`; its JSON results, or `None` (with a notice
/// printed) when Node.js or the package is absent.
fn run_node(input: &serde_json::Value) -> Option<Vec<serde_json::Value>> {
    if Command::new("node").arg("--version").output().is_err() {
        println!("notice: Node.js is absent; skipping the Kusto.Language oracle");
        return None;
    }
    let mut child = Command::new("node")
        .arg(root().join("tools/kusto-oracle/oracle.js"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    // The script exits early (code 3, checked below) when its package is missing; the pipe
    // then closes before all queries are written, which is not an error of its own.
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes());
    let output = child.wait_with_output().expect("node finishes");
    if output.status.code() == Some(3) {
        println!(
            "notice: @kusto/language-service-next is not installed ({}); skipping the oracle",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        return None;
    }
    assert!(
        output.status.success(),
        "oracle failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<serde_json::Value> =
        serde_json::from_slice(&output.stdout).expect("oracle JSON");
    Some(results)
}

/// One block of a script as Kusto.Language's `CodeScript` splits it: its text and the syntax
/// errors of parsing it alone.
pub(crate) struct OracleBlock {
    pub text: String,
    pub errors: Vec<String>,
}

/// Splits each `(id, text)` into blocks as Kusto's editors do (`CodeScript`) and parses every
/// block alone; `None` when the oracle is absent.
pub(crate) fn run_oracle_scripts(
    scripts: &[(String, String)],
) -> Option<BTreeMap<String, Vec<OracleBlock>>> {
    let input = serde_json::Value::Array(
        scripts
            .iter()
            .map(|(id, text)| serde_json::json!({"id": id, "text": text, "script": true}))
            .collect(),
    );
    let results = run_node(&input)?;
    Some(
        results
            .into_iter()
            .map(|r| {
                let id = r["id"].as_str().expect("id").to_string();
                let blocks = r["blocks"]
                    .as_array()
                    .expect("blocks")
                    .iter()
                    .map(|b| OracleBlock {
                        text: b["text"].as_str().unwrap_or_default().to_string(),
                        errors: error_lines(&b["diagnostics"]),
                    })
                    .collect();
                (id, blocks)
            })
            .collect(),
    )
}

/// Error diagnostics of an oracle result, rendered `code at offset: message`.
fn error_lines(diagnostics: &serde_json::Value) -> Vec<String> {
    diagnostics
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter(|d| d["severity"] == "Error")
        .map(|d| format!("{} at {}: {}", d["code"], d["start"], d["message"]))
        .collect()
}

/// id → (who rejects: `firedrill` or `kusto`, reason).
fn known_differences() -> BTreeMap<String, (String, String)> {
    let text = std::fs::read_to_string(root().join("fixtures/kql/oracle-differences.tsv"))
        .expect("fixtures/kql/oracle-differences.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.splitn(3, '\t');
            let id = parts.next().expect("id").to_string();
            let who = parts.next().expect("who rejects").to_string();
            let why = parts.next().expect("reason").to_string();
            (id, (who, why))
        })
        .collect()
}

#[test]
fn the_oracle_binds_queries_and_reports_result_columns() {
    let tables = BTreeMap::from([(
        "DeviceProcessEvents".to_string(),
        "(Timestamp:datetime, FileName:string)".to_string(),
    )]);
    let case = OracleCase {
        id: "q".into(),
        text: "DeviceProcessEvents | summarize any(Timestamp), any(Timestamp) by FileName".into(),
        tables: Some(tables),
    };
    let Some(verdicts) = run_oracle(&[case]) else {
        return;
    };
    let v = &verdicts["q"];
    assert!(v.errors.is_empty(), "{:?}", v.errors);
    let columns: Vec<_> = v
        .columns
        .as_ref()
        .expect("columns")
        .iter()
        .map(|(n, t)| format!("{n}:{t}"))
        .collect();
    assert_eq!(
        columns,
        [
            "FileName:string",
            "any_Timestamp:datetime",
            "any_Timestamp1:datetime"
        ]
    );
}

#[test]
fn firedrill_and_kusto_language_accept_and_reject_the_same_queries() {
    let cases = cases();
    let oracle_cases: Vec<_> = cases
        .iter()
        .map(|(id, text)| OracleCase {
            id: id.clone(),
            text: text.clone(),
            tables: None,
        })
        .collect();
    let Some(verdicts) = run_oracle(&oracle_cases) else {
        return;
    };
    let known = known_differences();
    let mut unexpected = Vec::new();
    let mut seen_known = Vec::new();
    let mut agree = 0;
    for (id, text) in &cases {
        let (q, diags) = kql::parse_named(id, text);
        let kusto_errors = &verdicts[id].errors;
        let ours = q.is_some();
        let theirs = kusto_errors.is_empty();
        if ours == theirs {
            agree += 1;
            continue;
        }
        let who = if ours { "kusto" } else { "firedrill" };
        if known.get(id).is_some_and(|(w, _)| w == who) {
            seen_known.push(id.clone());
            continue;
        }
        let detail = if ours {
            kusto_errors.join("; ")
        } else {
            diags
                .iter()
                .find(|d| d.is_error())
                .map(|d| format!("{}: {}", d.code, d.message))
                .unwrap_or_default()
        };
        unexpected.push(format!("{id}\t{who}\t{detail}"));
    }
    println!(
        "Kusto.Language oracle: {agree}/{} agree, {} known differences",
        cases.len(),
        seen_known.len()
    );
    let stale: Vec<_> = known
        .keys()
        .filter(|id| {
            !seen_known.contains(id)
                && (cases.iter().any(|(c, _)| c == *id) || !id.starts_with("corpus/"))
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "disagreements with Kusto.Language (id, who rejects, why):\n{}",
        unexpected.join("\n")
    );
    assert!(
        stale.is_empty(),
        "listed differences that no longer occur: {stale:?}"
    );
}

/// Every catalog table as a Kusto schema string.
fn catalog_tables() -> BTreeMap<String, String> {
    let catalog = kql::Catalog::builtin();
    catalog
        .names()
        .filter_map(|name| catalog.get(name))
        .map(|t| {
            let columns: Vec<String> = t
                .columns
                .iter()
                .map(|c| format!("[{}]:{}", serde_json::json!(c.name), c.ty.name()))
                .collect();
            (t.name.clone(), format!("({})", columns.join(", ")))
        })
        .collect()
}

/// The catalog's tables, and the ASIM process parser names firedrill accepts (aliases, the
/// retired `imProcessCreation`) as tables of the imProcessCreate schema, since Kusto.Language
/// knows no Sentinel functions.
fn catalog_and_asim_tables() -> BTreeMap<String, String> {
    let mut tables = catalog_tables();
    let asim = tables["imProcessCreate"].clone();
    for name in firedrill::kql::schema::ASIM_PROCESS_FUNCTIONS {
        tables.entry((*name).to_string()).or_insert(asim.clone());
    }
    tables
}

/// `text` with the ASIM parsers' `disabled` parameter declared (firedrill's database declares
/// it, as Sentinel does for a parser), so Kusto.Language can bind the parser sources.
fn with_declared_parameters(text: &str) -> String {
    if text.contains("disabled") {
        format!("declare query_parameters(disabled:bool = false);\n{text}")
    } else {
        text.to_string()
    }
}

/// The shared corpus and an empty database to run it over (the clock pinned, the ASIM parser
/// parameter `disabled` declared); `None`, with a notice naming `what` is skipped, when the
/// corpus is absent.
fn corpus_and_database(what: &str) -> Option<(std::path::PathBuf, kql::Database)> {
    let corpus = root().join("../shared/corpora/kql");
    if !corpus.is_dir() {
        println!("notice: {} is absent; skipping {what}", corpus.display());
        return None;
    }
    let now = chrono::DateTime::parse_from_rfc3339("2024-06-01T00:00:00Z")
        .expect("a time")
        .with_timezone(&chrono::Utc);
    let mut db = kql::Database::new(now);
    db.declare("disabled", kql::Value::Bool(false));
    Some((corpus, db))
}

#[test]
fn result_columns_agree_with_kusto_language_over_the_corpus() {
    let Some((corpus, db)) = corpus_and_database("the result-column oracle") else {
        return;
    };
    let files = files_with_ext(&corpus, "kql");
    // (id, our columns) for the queries firedrill runs over empty tables.
    let mut ours: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut cases = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("readable");
        let id = f
            .strip_prefix(&corpus)
            .expect("under corpus")
            .display()
            .to_string();
        let (Some(q), _) = kql::parse(&text) else {
            continue;
        };
        let Some(table) = kql::evaluate_full(&q, &db, None).table else {
            continue;
        };
        let columns = table
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.ty.name().to_string()))
            .collect();
        ours.insert(id.clone(), columns);
        cases.push(OracleCase {
            id,
            text: with_declared_parameters(&text),
            tables: None,
        });
    }
    let Some(verdicts) = run_oracle_with(&cases, Some(&catalog_and_asim_tables())) else {
        return;
    };
    let (mut compared, mut same) = (0, 0);
    let mut differences = Vec::new();
    // Queries firedrill runs that Kusto.Language rejects: only those calling the Defender and
    // Sentinel functions firedrill has stand-ins for and Kusto.Language does not know.
    let mut accepted_but_rejected = Vec::new();
    for (id, columns) in &ours {
        let v = &verdicts[id];
        let Some(theirs) = v.columns.as_ref().filter(|_| v.errors.is_empty()) else {
            if std::env::var_os("FIREDRILL_KQL_FAILURES").is_some() {
                println!("  not bound by Kusto: {id}: {}", v.errors.join("; "));
            }
            let stand_in = v
                .errors
                .iter()
                .any(|e| e.contains("'FileProfile'") || e.contains("'_GetWatchlist'"));
            if !stand_in {
                accepted_but_rejected.push(format!("{id}: {}", v.errors.join("; ")));
            }
            continue;
        };
        compared += 1;
        if columns == theirs {
            same += 1;
        } else {
            differences.push(format!("{id}: {}", column_difference(columns, theirs)));
        }
    }
    println!(
        "Kusto.Language result columns: {same}/{compared} bound queries agree on names and types ({} run in firedrill)",
        ours.len()
    );
    for d in differences.iter().take(20) {
        println!("  {d}");
    }
    assert!(
        accepted_but_rejected.is_empty(),
        "firedrill runs these, but Kusto.Language rejects them:\n{}",
        accepted_but_rejected.join("\n")
    );
    assert!(compared >= 100, "only {compared} queries could be compared");
    assert!(
        same * 100 >= compared * 95,
        "result columns differ from Kusto.Language for {} of {compared} queries",
        compared - same
    );
}

/// A short account of how two column lists differ: names only one side has, type differences,
/// or order.
fn column_difference(ours: &[(String, String)], theirs: &[(String, String)]) -> String {
    let names = |cols: &[(String, String)]| cols.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    let (our_names, their_names) = (names(ours), names(theirs));
    let only = |a: &[String], b: &[String]| {
        a.iter()
            .filter(|n| !b.contains(n))
            .take(4)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    let ours_only = only(&our_names, &their_names);
    if !ours_only.is_empty() {
        parts.push(format!("only firedrill has [{ours_only}]"));
    }
    let theirs_only = only(&their_names, &our_names);
    if !theirs_only.is_empty() {
        parts.push(format!("only Kusto has [{theirs_only}]"));
    }
    for (n, t) in ours {
        if let Some((_, k)) = theirs.iter().find(|(m, _)| m == n)
            && k != t
        {
            parts.push(format!("{n} is {t} here, {k} in Kusto"));
        }
    }
    if parts.is_empty() {
        parts.push("same columns in another order".into());
    }
    parts.join("; ")
}

#[test]
fn scripts_split_into_the_blocks_kusto_language_splits_and_blocks_parse_alike() {
    // Synthetic scripts for the splitting rules, and every corpus file firedrill reads as one.
    let mut scripts: Vec<(String, String)> = [
        "// leading comment\nT | take 1\n\n\nlet x = 1;\nT | where a == x\n\n// only a comment\n\nU",
        "\n\nT | take 1\n   \nU | take 2\n",
        "print s = ```a\n\nb```\n\nT | take 1\n\nU | where x == 'multi\\n\\nline'",
        "T\n| where x == 1\n\n| take 1\n\nU",
    ]
    .iter()
    .enumerate()
    .map(|(i, t)| (format!("synthetic/{i}"), t.to_string()))
    .collect();
    let corpus = root().join("../shared/corpora/kql");
    if corpus.is_dir() {
        for f in files_with_ext(&corpus, "kql") {
            let text = std::fs::read_to_string(&f).expect("readable");
            if matches!(kql::parse_text("<corpus>", &text).0, kql::Parsed::Script(_)) {
                let id = format!(
                    "corpus/{}",
                    f.strip_prefix(&corpus).expect("under").display()
                );
                scripts.push((id, text));
            }
        }
    }
    let Some(verdicts) = run_oracle_scripts(&scripts) else {
        return;
    };
    let known = known_differences();
    let mut seen_known = Vec::new();
    let (mut blocks, mut agree) = (0, 0);
    let mut split_differently = Vec::new();
    let mut parse_differently = Vec::new();
    for (id, text) in &scripts {
        let ours: Vec<(String, bool)> = match kql::parse_text("<script>", text).0 {
            kql::Parsed::Script(s) => s
                .blocks
                .iter()
                .map(|b| {
                    (
                        text[b.span.start..b.span.end].to_string(),
                        b.query.is_some(),
                    )
                })
                .collect(),
            // A text that is one query is one block for this comparison.
            _ => kql::script::block_spans(text)
                .iter()
                .map(|(s, _)| (text[s.start..s.end].to_string(), true))
                .collect(),
        };
        let theirs: Vec<(String, &Vec<String>)> = verdicts[id]
            .iter()
            .filter(|b| !kql::script::block_spans(&b.text).is_empty())
            .map(|b| (b.text.trim_end().to_string(), &b.errors))
            .collect();
        let our_texts: Vec<&String> = ours.iter().map(|(t, _)| t).collect();
        let their_texts: Vec<&String> = theirs.iter().map(|(t, _)| t).collect();
        if our_texts != their_texts {
            split_differently.push(format!(
                "{id}: firedrill {our_texts:?}\n  kusto {their_texts:?}"
            ));
            continue;
        }
        if !id.starts_with("corpus/") {
            continue;
        }
        for (i, ((_, parses), (_, errors))) in ours.iter().zip(&theirs).enumerate() {
            blocks += 1;
            let block_id = format!("{id}#block{}", i + 1);
            let who = if *parses { "kusto" } else { "firedrill" };
            if *parses == errors.is_empty() {
                agree += 1;
            } else if known.get(&block_id).is_some_and(|(w, _)| w == who) {
                seen_known.push(block_id);
            } else {
                parse_differently.push(format!("{block_id}\t{who}\t{}", errors.join("; ")));
            }
        }
    }
    println!(
        "scripts: {} texts split into the same blocks as Kusto.Language's CodeScript; {agree}/{blocks} corpus blocks parse alike, {} known differences",
        scripts.len() - split_differently.len(),
        seen_known.len()
    );
    assert!(
        split_differently.is_empty(),
        "blocks differ from Kusto.Language's CodeScript:\n{}",
        split_differently.join("\n")
    );
    assert!(
        parse_differently.is_empty(),
        "script blocks firedrill and Kusto.Language accept or reject differently (id, who rejects, why):\n{}",
        parse_differently.join("\n")
    );
    if corpus.is_dir() {
        let stale: Vec<&String> = known
            .keys()
            .filter(|id| id.contains("#block") && !seen_known.contains(id))
            .collect();
        assert!(
            stale.is_empty(),
            "listed block differences that no longer occur: {stale:?}"
        );
    }
}

/// id → reason, from `fixtures/kql/oracle-run-differences.tsv`: corpus queries (or script
/// blocks) firedrill cannot run although Kusto.Language, bound to the same tables, accepts them.
fn known_run_differences() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(root().join("fixtures/kql/oracle-run-differences.tsv"))
        .expect("fixtures/kql/oracle-run-differences.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (id, why) = l.split_once('\t').expect("id<TAB>reason");
            (id.to_string(), why.to_string())
        })
        .collect()
}

#[test]
fn corpus_queries_firedrill_cannot_run_are_rejected_by_kusto_language_too() {
    let Some((corpus, db)) = corpus_and_database("the run-failure oracle") else {
        return;
    };
    // Every query (or script block) firedrill cannot parse or run: (id, its text, our reason).
    let mut failing: Vec<(String, String, String)> = Vec::new();
    let first_error = |diags: &[firedrill::Diagnostic]| {
        diags
            .iter()
            .find(|d| d.is_error())
            .map(|d| format!("{}: {}", d.code, d.message))
            .unwrap_or_default()
    };
    let run = |q: &kql::ast::Query, text: &str| {
        let out = kql::evaluate_full(q, &db, Some(("<corpus>", text)));
        match out.table {
            Some(_) => None,
            None => Some(first_error(&out.diagnostics)),
        }
    };
    for f in files_with_ext(&corpus, "kql") {
        let text = std::fs::read_to_string(&f).expect("readable");
        let id = format!(
            "corpus/{}",
            f.strip_prefix(&corpus).expect("under").display()
        );
        let (parsed, diags) = kql::parse_text("<corpus>", &text);
        match parsed {
            kql::Parsed::Query(q) => {
                if let Some(why) = run(&q, &text) {
                    failing.push((id, text.clone(), why));
                }
            }
            kql::Parsed::Invalid => failing.push((id, text.clone(), first_error(&diags))),
            kql::Parsed::Script(script) => {
                for (i, b) in script.blocks.iter().enumerate() {
                    let why = match &b.query {
                        None => Some(first_error(&b.diagnostics)),
                        Some(q) => run(q, &text),
                    };
                    if let Some(why) = why {
                        let block = text[b.span.start..b.span.end].to_string();
                        failing.push((format!("{id}#block{}", i + 1), block, why));
                    }
                }
            }
        }
    }
    let tables = catalog_and_asim_tables();
    let cases: Vec<OracleCase> = failing
        .iter()
        .map(|(id, text, _)| OracleCase {
            id: id.clone(),
            text: text.clone(),
            tables: None,
        })
        .collect();
    let Some(verdicts) = run_oracle_with(&cases, Some(&tables)) else {
        return;
    };
    let known = known_run_differences();
    let mut unexpected = Vec::new();
    let mut seen_known = Vec::new();
    let list = std::env::var_os("FIREDRILL_KQL_FAILURES").is_some();
    for (id, _, why) in &failing {
        if !verdicts[id].errors.is_empty() {
            if list {
                println!(
                    "  {id}\n    firedrill: {why}\n    kusto: {}",
                    verdicts[id].errors[0]
                );
            }
            continue;
        }
        if known.contains_key(id) {
            seen_known.push(id.clone());
        } else {
            unexpected.push(format!("{id}\t{why}"));
        }
    }
    println!(
        "Kusto.Language rejects {} of the {} corpus queries or script blocks firedrill cannot run; {} known differences",
        failing.len() - seen_known.len() - unexpected.len(),
        failing.len(),
        seen_known.len()
    );
    assert!(
        unexpected.is_empty(),
        "firedrill cannot run these, but Kusto.Language accepts them (id, firedrill's reason):\n{}",
        unexpected.join("\n")
    );
    let stale: Vec<&String> = known.keys().filter(|id| !seen_known.contains(id)).collect();
    assert!(
        stale.is_empty(),
        "listed run differences that no longer occur: {stale:?}"
    );
}

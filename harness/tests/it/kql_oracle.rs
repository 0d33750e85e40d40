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
    if Command::new("node").arg("--version").output().is_err() {
        println!("notice: Node.js is absent; skipping the Kusto.Language oracle");
        return None;
    }
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
    Some(
        results
            .into_iter()
            .map(|r| {
                let id = r["id"].as_str().expect("id").to_string();
                let errors = r["diagnostics"]
                    .as_array()
                    .expect("diagnostics")
                    .iter()
                    .filter(|d| d["severity"] == "Error")
                    .map(|d| format!("{} at {}: {}", d["code"], d["start"], d["message"]))
                    .collect();
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

#[test]
fn result_columns_agree_with_kusto_language_over_the_corpus() {
    let corpus = root().join("../shared/corpora/kql");
    if !corpus.is_dir() {
        println!(
            "notice: {} is absent; skipping the result-column oracle",
            corpus.display()
        );
        return;
    }
    let files = files_with_ext(&corpus, "kql");
    let now = chrono::DateTime::parse_from_rfc3339("2024-06-01T00:00:00Z")
        .expect("a time")
        .with_timezone(&chrono::Utc);
    let mut db = kql::Database::new(now);
    db.declare("disabled", kql::Value::Bool(false));
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
            text,
            tables: None,
        });
    }
    let Some(verdicts) = run_oracle_with(&cases, Some(&catalog_tables())) else {
        return;
    };
    let (mut compared, mut same) = (0, 0);
    let mut differences = Vec::new();
    for (id, columns) in &ours {
        let v = &verdicts[id];
        // Queries Kusto cannot bind (ASIM functions, externaldata, tables outside the catalog)
        // have no reference columns.
        let Some(theirs) = v.columns.as_ref().filter(|_| v.errors.is_empty()) else {
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

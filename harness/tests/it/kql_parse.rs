//! KQL front end: fixtures under fixtures/kql/parse/{ok,err}, the seed rules, printing round
//! trips, and parse coverage of the shared corpus (../shared/corpora/kql).

#![expect(
    clippy::print_stdout,
    reason = "tests print skip notices and the corpus coverage table"
)]

use crate::support::{files_with_ext, firedrill, render, root};
use firedrill::Diagnostic;
use firedrill::kql::{self, ast::Query, rule};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The AST as JSON with every `span` removed: what "the same tree" means for round trips.
fn shape(q: &Query) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                map.shift_remove("span");
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(q).expect("the AST serializes");
    strip(&mut v);
    v
}

/// Parses `text`, prints it, parses the print, and checks both trees agree.
/// Returns the canonical text, or why the round trip failed.
fn round_trip(q: &Query) -> Result<String, String> {
    let printed = q.to_string();
    let (again, diags) = kql::parse(&printed);
    let Some(again) = again else {
        return Err(format!(
            "canonical print does not parse:\n{printed}\n{}",
            render(&diags)
        ));
    };
    if shape(&again) != shape(q) {
        return Err(format!(
            "canonical print parses to a different tree:\n{printed}\nprinted again:\n{again}"
        ));
    }
    Ok(printed)
}

fn snapshot_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(root().join("fixtures/kql/parse/snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s
}

fn case_name(path: &Path, kind: &str) -> String {
    format!(
        "{kind}__{}",
        path.file_stem().expect("file name").to_string_lossy()
    )
}

#[test]
fn ok_fixtures_parse_cleanly_round_trip_and_match_their_snapshots() {
    let files = files_with_ext(&root().join("fixtures/kql/parse/ok"), "kql");
    assert!(
        files.len() >= 20,
        "expected the ok fixtures, found {files:?}"
    );
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable fixture");
        let file = path.display().to_string();
        let (q, diags) = kql::parse_named(&file, &text);
        assert!(diags.is_empty(), "{file}:\n{}", render(&diags));
        let q = q.expect("no diagnostics means a query");
        let printed = round_trip(&q).unwrap_or_else(|e| panic!("{file}: {e}"));
        let ast = serde_yaml::to_string(&shape(&q)).expect("yaml");
        snapshot_settings().bind(|| {
            insta::assert_snapshot!(case_name(&path, "ok"), format!("{printed}\n---\n{ast}"));
        });
    }
}

#[test]
fn err_fixtures_report_located_diagnostics_that_match_their_snapshots() {
    let files = files_with_ext(&root().join("fixtures/kql/parse/err"), "kql");
    assert!(
        files.len() >= 10,
        "expected the err fixtures, found {files:?}"
    );
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable fixture");
        let name = format!(
            "fixtures/kql/parse/err/{}",
            path.file_name().expect("name").to_string_lossy()
        );
        let (q, diags) = kql::parse_named(&name, &text);
        assert!(q.is_none(), "{name}: parsed, but an error was expected");
        assert!(
            diags
                .iter()
                .all(|d| d.code.starts_with("KQL") && d.location.is_some()),
            "{name}: every diagnostic has a KQL code and a location:\n{}",
            render(&diags)
        );
        snapshot_settings().bind(|| {
            insta::assert_snapshot!(case_name(&path, "err"), render(&diags));
        });
    }
}

#[test]
fn seed_rules_parse_exactly_as_written() {
    let files = files_with_ext(&root().join("fixtures/rules/kql"), "kql")
        .into_iter()
        .chain(files_with_ext(&root().join("fixtures/rules/kql"), "yaml"))
        .collect::<Vec<_>>();
    assert_eq!(files.len(), 2, "the two seed rules: {files:?}");
    for path in files {
        let r = rule::load(&path).unwrap_or_else(|d| panic!("{}", render(&d)));
        let (q, diags) = r.parse();
        assert!(diags.is_empty(), "{}", render(&diags));
        round_trip(&q.expect("parsed")).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[test]
fn sentinel_yaml_fields_are_loaded() {
    let r = rule::load(root().join(
        "fixtures/rules/kql/detect-suspicious-commands-initiated-by-web-server-processes.yaml",
    ))
    .unwrap_or_else(|d| panic!("{}", render(&d)));
    assert_eq!(
        r.id.as_deref(),
        Some("7fdc5f4a-700d-4713-abfc-181f02968726")
    );
    assert_eq!(
        r.name,
        "detect-suspicious-commands-initiated-by-web-server-processes"
    );
    assert_eq!(r.tactics, ["Execution", "Defense evasion", "Discovery"]);
    assert!(r.query.starts_with("// Suspicious commands launched"));
    assert_eq!(&r.source[r.query_offset..r.query_offset + 2], "//");
}

#[test]
fn rule_query_errors_point_into_the_rule_file() {
    let text = "id: x\nname: broken\ntactics: [Execution]\nquery: |\n  DeviceProcessEvents\n  | where FileName =~ \"cmd.exe\"\n  | summarize by\n";
    let r = rule::from_str(Path::new("rules/broken.yaml"), text).expect("loads");
    let (q, diags) = r.parse();
    assert!(q.is_none());
    insta::assert_snapshot!(render(&diags), @r"
    error[KQL0006]: expected an expression, found end of query
     --> rules/broken.yaml:7:17
      |
    7 |   | summarize by
      |                 ^ expected an expression
    ");
}

#[test]
fn nesting_beyond_the_limit_is_a_diagnostic_not_a_crash() {
    for (open, close) in [("(", ")"), ("not(", ")"), ("dynamic([", "])")] {
        let q = format!("T | where {}1{}", open.repeat(200), close.repeat(200));
        let (parsed, diags) = kql::parse(&q);
        assert!(parsed.is_none());
        assert!(
            diags.iter().any(|d| d.code == "KQL0007"),
            "{open}: {}",
            render(&diags)
        );
    }
    let ok = format!("T | where {}1{}", "(".repeat(60), ")".repeat(60));
    assert!(kql::parse(&ok).0.is_some(), "60 levels are allowed");
    // Each operator other than `and` and `or` nests its operands a level deeper, in a chain
    // (`1 + 1 + ...`) as in parentheses (ten groups of ten, each inside the next).
    let plus = |n: usize| vec!["1"; n].join(" + ");
    let nested = (0..10).fold("x".to_string(), |inner, _| {
        format!("({inner}) + {}", plus(10))
    });
    for deep in [plus(200), vec!["x == 1"; 200].join(" == "), nested] {
        let (parsed, diags) = kql::parse(&format!("T | extend y = {deep}"));
        assert!(parsed.is_none(), "{}", &deep[..40]);
        assert!(
            diags.iter().any(|d| d.code == "KQL0007"),
            "{}",
            render(&diags)
        );
    }
    let ok = format!("T | extend y = {}", plus(60));
    assert!(kql::parse(&ok).0.is_some(), "a chain of 60 is allowed");
}

#[test]
fn every_broken_operator_is_reported_in_one_pass() {
    let (q, diags) = kql::parse("T | where a == | frobnicate x | extend = 1 | take 5");
    assert!(q.is_none());
    let codes: Vec<_> = diags.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(
        codes,
        ["KQL0006", "KQL0008", "KQL0006"],
        "{}",
        render(&diags)
    );
}

/// The queries of the shared corpus: one file each.
fn corpus() -> Option<Vec<PathBuf>> {
    let dir = root().join("../shared/corpora/kql");
    if !dir.is_dir() {
        println!(
            "notice: {} is absent; skipping the KQL corpus coverage check",
            dir.display()
        );
        return None;
    }
    Some(files_with_ext(&dir, "kql"))
}

/// What a failed parse is blamed on, for the coverage table.
fn construct(d: &Diagnostic) -> String {
    match d.code.as_str() {
        "KQL0008" | "KQL0010" => d.message.clone(),
        "KQL0009" => "template placeholder".into(),
        _ => format!("{}: {}", d.code, d.message),
    }
}

#[test]
fn corpus_parse_coverage() {
    let Some(files) = corpus() else { return };
    assert!(files.len() >= 500, "the corpus has 527 queries");
    let mut parsed = 0;
    let mut blame: BTreeMap<String, usize> = BTreeMap::new();
    let mut round_trip_failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("readable corpus file");
        let (q, diags) = kql::parse_named(&path.display().to_string(), &text);
        match q {
            Some(q) => {
                parsed += 1;
                if let Err(e) = round_trip(&q) {
                    round_trip_failures.push(format!("{}: {e}", path.display()));
                }
            }
            None => {
                let first = diags.iter().find(|d| d.is_error()).expect("an error");
                *blame.entry(construct(first)).or_default() += 1;
            }
        }
    }
    let mut top: Vec<_> = blame.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    println!(
        "KQL corpus: {parsed}/{} queries parse ({:.1}%)",
        files.len(),
        100.0 * parsed as f64 / files.len() as f64
    );
    for (what, n) in top.iter().take(15) {
        println!("  {n:4}  {what}");
    }
    assert!(
        round_trip_failures.is_empty(),
        "{}",
        round_trip_failures.join("\n")
    );
    // A floor, so a regression fails the build; raise it as coverage grows.
    assert!(
        parsed * 100 >= files.len() * 95,
        "only {parsed}/{} corpus queries parse",
        files.len()
    );
}

#[test]
fn every_example_in_the_subset_reference_parses_and_round_trips() {
    let doc = std::fs::read_to_string(root().join("docs/kql-subset.md")).expect("the reference");
    let mut examples = 0;
    for (i, block) in doc.split("```kql\n").skip(1).enumerate() {
        let text = block.split("\n```").next().expect("a closed block");
        // An example may be a script: queries separated by blank lines, each parsed alone.
        let (parsed, diags) =
            kql::parse_text(&format!("docs/kql-subset.md example {}", i + 1), text);
        assert!(diags.is_empty(), "{}", render(&diags));
        let queries: Vec<kql::ast::Query> = match parsed {
            kql::Parsed::Query(q) => vec![q],
            kql::Parsed::Script(s) => s.blocks.into_iter().filter_map(|b| b.query).collect(),
            kql::Parsed::Invalid => unreachable!("diagnostics were empty"),
        };
        for q in &queries {
            round_trip(q).unwrap_or_else(|e| panic!("example {}: {e}", i + 1));
        }
        examples += 1;
    }
    assert!(examples >= 5, "the reference shows examples");
}

/// A tiny deterministic generator (xorshift64*), so the mangling test needs no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// `text` with one random edit: truncation, deletion, insertion of a delimiter, or duplication.
fn mangle(text: &str, rng: &mut Rng) -> String {
    let boundaries: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let at = boundaries[rng.below(boundaries.len())];
    let to = boundaries[rng.below(boundaries.len())].max(at);
    const PIECES: &[&str] = &[
        "(", ")", "[", "]", "{", "}", "|", ";", ",", "'", "\"", "`", ".", "=", "!", "~", "*", "$",
        "@", "h'", "{{", "..", "```", "//", "-", "1d", "in~", "let ", " by ", "dynamic(", "\n",
    ];
    match rng.below(4) {
        0 => text[..at].to_string(),
        1 => format!("{}{}", &text[..at], &text[to..]),
        2 => format!(
            "{}{}{}",
            &text[..at],
            PIECES[rng.below(PIECES.len())],
            &text[at..]
        ),
        _ => format!("{}{}", &text[..to], &text[at..]),
    }
}

#[test]
fn mangled_queries_never_panic_and_what_parses_round_trips() {
    let mut inputs: Vec<String> = files_with_ext(&root().join("fixtures/kql/parse"), "kql")
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("readable"))
        .collect();
    if let Some(files) = corpus() {
        // Every seventh corpus query keeps the test quick.
        inputs.extend(
            files
                .iter()
                .step_by(7)
                .map(|p| std::fs::read_to_string(p).expect("readable")),
        );
    }
    let mut rng = Rng(0x5EED_F1DE_D811_u64);
    let mut accepted = 0;
    for text in &inputs {
        for _ in 0..20 {
            let mangled = mangle(text, &mut rng);
            let (q, diags) = kql::parse(&mangled);
            for d in &diags {
                let loc = d.location.as_ref().expect("every diagnostic is located");
                assert!(
                    d.code.starts_with("KQL") && loc.span.end <= mangled.len(),
                    "{}\n{mangled}",
                    d.render()
                );
            }
            if let Some(q) = q {
                accepted += 1;
                round_trip(&q).unwrap_or_else(|e| panic!("mangled input:\n{mangled}\n{e}"));
            }
        }
    }
    assert!(accepted > 0, "some mangled queries are still valid");
}

/// Checks the spans of one serialized AST node and its descendants against `src`: every span
/// lies inside its parent's, a name's span covers the name, a call's starts with its name, and
/// an operator's starts with its keyword. Returns the number of spans checked.
fn check_spans(v: &serde_json::Value, src: &str, outer: (u64, u64), path: &str) -> usize {
    let mut checked = 0;
    match v {
        serde_json::Value::Object(map) => {
            let mut here = outer;
            if let Some(span) = map.get("span") {
                let (s, e) = (
                    span["start"].as_u64().unwrap(),
                    span["end"].as_u64().unwrap(),
                );
                assert!(
                    outer.0 <= s && s <= e && e <= outer.1,
                    "{path}: span {s}..{e} outside its parent {outer:?}"
                );
                let text = &src[s as usize..e as usize];
                if let Some(kind) = map.get("kind").and_then(|k| k.as_object()) {
                    check_kind(kind, text, path);
                }
                // Nodes the parser supplies (a `parse` column's default type, mv-apply's rows)
                // have empty spans; dotted parameter names join several tokens.
                if let Some(name) = map.get("name").and_then(|n| n.as_str())
                    && !text.is_empty()
                    && !name.contains('.')
                {
                    let bracketed = text.starts_with('[') && text.contains(name);
                    assert!(
                        text == name || bracketed,
                        "{path}: name `{name}` spans `{text}`"
                    );
                }
                here = (s, e);
                checked += 1;
            }
            for (k, child) in map {
                checked += check_spans(child, src, here, &format!("{path}.{k}"));
            }
        }
        serde_json::Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                checked += check_spans(child, src, outer, &format!("{path}[{i}]"));
            }
        }
        _ => {}
    }
    checked
}

fn check_kind(kind: &serde_json::Map<String, serde_json::Value>, text: &str, path: &str) {
    let Some((variant, inner)) = kind.iter().next() else {
        return;
    };
    let keywords: &[&str] = match variant.as_str() {
        "Where" => &["where", "filter"],
        "Sort" => &["sort", "order"],
        "Take" => &["take", "limit"],
        "MvExpand" => &["mv-expand", "mvexpand"],
        "Parse" => &["parse"],
        "Extend" => &["extend"],
        "Summarize" => &["summarize"],
        "Join" => &["join"],
        "ProjectAway" => &["project-away"],
        "Top" => &["top"],
        "Call" => {
            let name = inner["name"]["name"].as_str().unwrap_or_default();
            assert!(
                text.starts_with(name),
                "{path}: call `{name}` spans `{text}`"
            );
            return;
        }
        _ => return,
    };
    assert!(
        keywords.iter().any(|k| text.starts_with(k)),
        "{path}: {variant} spans `{text}`"
    );
}

#[test]
fn every_node_span_points_at_its_own_text() {
    let mut files = files_with_ext(&root().join("fixtures/kql/parse/ok"), "kql");
    files.extend(corpus().unwrap_or_default());
    let mut checked = 0;
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable");
        if let (Some(q), _) = kql::parse(&text) {
            let v = serde_json::to_value(&q).expect("serializes");
            checked += check_spans(
                &v,
                &text,
                (0, text.len() as u64),
                &path.display().to_string(),
            );
        }
    }
    assert!(checked > 1000, "checked {checked} spans");
}

/// The tree as JSON without spans and with grouping parentheses dissolved.
fn shape_without_parens(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(map) => {
            if let Some(inner) = map.get("kind").and_then(|k| k.get("Paren")) {
                return shape_without_parens(inner);
            }
            serde_json::Value::Object(
                map.iter()
                    .filter(|(k, _)| *k != "span")
                    .map(|(k, v)| (k.clone(), shape_without_parens(v)))
                    .collect(),
            )
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(shape_without_parens).collect())
        }
        other => other.clone(),
    }
}

/// A random scalar expression tree (no parentheses: the printer must supply them).
fn random_expr(rng: &mut Rng, depth: usize) -> firedrill::kql::ast::Expr {
    use firedrill::kql::ast::*;
    let sp = firedrill::Span::default();
    let e = |kind| Expr::new(kind, sp);
    let leaf = depth == 0 || rng.below(4) == 0;
    if leaf {
        return match rng.below(6) {
            0 => e(ExprKind::Name(Ident::new(
                ["a", "b", "Col", "$left"][rng.below(4)],
                sp,
            ))),
            1 => e(ExprKind::Literal(Literal::Long(rng.below(100) as i64 - 50))),
            2 => e(ExprKind::Literal(Literal::String(
                ["x", "a\"b", "c\\d"][rng.below(3)].into(),
            ))),
            3 => e(ExprKind::Literal(Literal::Timespan(
                rng.below(5) as i64 * 36_000_000_000,
            ))),
            4 => e(ExprKind::Literal(Literal::Real(rng.below(9) as f64 / 4.0))),
            _ => e(ExprKind::Literal(Literal::Bool(rng.below(2) == 0))),
        };
    }
    let mut sub = || Box::new(random_expr(rng, depth - 1));
    let ops = [
        BinOp::Or,
        BinOp::And,
        BinOp::Eq,
        BinOp::NeCi,
        BinOp::Lt,
        BinOp::Add,
        BinOp::Sub,
        BinOp::Mul,
        BinOp::Mod,
        BinOp::MatchesRegex,
        BinOp::Str {
            op: StrOp::Has,
            negated: true,
            case_sensitive: true,
        },
        BinOp::Str {
            op: StrOp::StartsWith,
            negated: false,
            case_sensitive: false,
        },
    ];
    let (lhs, rhs) = (sub(), sub());
    let choice = rng.below(7);
    match choice {
        0..=2 => e(ExprKind::Binary {
            op: ops[rng.below(ops.len())],
            lhs,
            rhs,
        }),
        3 => e(ExprKind::Unary {
            op: [UnaryOp::Neg, UnaryOp::Plus][rng.below(2)],
            expr: lhs,
        }),
        4 => e(ExprKind::List {
            op: [ListOp::In, ListOp::NotInCi, ListOp::HasAny][rng.below(3)],
            lhs,
            items: vec![*rhs],
        }),
        5 => e(ExprKind::Between {
            negated: rng.below(2) == 0,
            lhs,
            low: rhs,
            high: Box::new(random_expr(rng, 0)),
        }),
        _ => e(ExprKind::Call {
            name: Ident::new("f", sp),
            args: vec![
                Arg {
                    name: None,
                    value: *lhs,
                },
                Arg {
                    name: Some(Ident::new("k", sp)),
                    value: *rhs,
                },
            ],
        }),
    }
}

#[test]
fn printed_random_expression_trees_parse_back_to_the_same_tree() {
    let mut rng = Rng(0xA57_2024);
    for _ in 0..1000 {
        let expr = random_expr(&mut rng, 5);
        let text = format!("print x = {expr}");
        let (q, diags) = kql::parse(&text);
        let q = q.unwrap_or_else(|| panic!("{text}\n{}", render(&diags)));
        let firedrill::kql::ast::StatementKind::Tabular(t) = &q.statements[0].kind else {
            panic!("a tabular statement: {text}");
        };
        let firedrill::kql::ast::SourceKind::Print(items) = &t.source.kind else {
            panic!("a print source: {text}");
        };
        let parsed = serde_json::to_value(&items[0].expr).expect("serializes");
        let built = serde_json::to_value(&expr).expect("serializes");
        assert_eq!(
            shape_without_parens(&parsed),
            shape_without_parens(&built),
            "{text}"
        );
    }
}

#[test]
fn help_kql_prints_the_subset_reference() {
    let out = firedrill().args(["help", "kql"]).output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("# The KQL subset firedrill understands") && text.contains("KQL0008"),
        "{text}"
    );
}

fn rule_fixtures(kind: &str) -> Vec<(String, String)> {
    let dir = root().join("fixtures/kql/rules").join(kind);
    let mut files = files_with_ext(&dir, "yaml");
    files.extend(files_with_ext(&dir, "kql"));
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(root())
                .expect("under the root")
                .display()
                .to_string();
            (rel, std::fs::read_to_string(&p).expect("readable"))
        })
        .collect()
}

#[test]
fn ok_rule_fixtures_load_parse_and_match_their_snapshots() {
    let cases = rule_fixtures("ok");
    assert!(cases.len() >= 2);
    for (rel, text) in cases {
        let r = rule::from_str(Path::new(&rel), &text).unwrap_or_else(|d| panic!("{}", render(&d)));
        let (q, diags) = r.parse();
        assert!(diags.is_empty(), "{}", render(&diags));
        let summary = format!(
            "id: {:?}\nname: {}\ndescription: {:?}\ntactics: {:?}\ntechniques: {:?}\nseverity: {:?}\nkind: {:?}\nquery_period: {:?}\nquery_frequency: {:?}\nquery starts at line {}\n---\n{}",
            r.id,
            r.name,
            r.description,
            r.tactics,
            r.techniques,
            r.severity,
            r.kind,
            r.query_period,
            r.query_frequency,
            text[..r.query_offset].matches('\n').count() + 1,
            q.expect("parsed")
        );
        snapshot_settings().bind(|| {
            insta::assert_snapshot!(case_name(Path::new(&rel), "rule_ok"), summary);
        });
    }
}

#[test]
fn err_rule_fixtures_report_located_diagnostics_that_match_their_snapshots() {
    let cases = rule_fixtures("err");
    assert!(cases.len() >= 5);
    for (rel, text) in cases {
        let diags = match rule::from_str(Path::new(&rel), &text) {
            Err(d) => d,
            Ok(r) => r.parse().1,
        };
        assert!(
            diags.iter().any(|d| d.is_error()),
            "{rel}: an error was expected"
        );
        assert!(
            diags
                .iter()
                .all(|d| d.code.starts_with("KQL") && d.file.as_deref() == Some(&rel)),
            "{rel}: every diagnostic names the rule file:\n{}",
            render(&diags)
        );
        snapshot_settings().bind(|| {
            insta::assert_snapshot!(case_name(Path::new(&rel), "rule_err"), render(&diags));
        });
    }
}

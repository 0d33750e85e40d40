//! Mangled Sigma rules and awkward event values never panic the loader, the compiler, the
//! prefilter, evaluation or explain: each bad rule is located diagnostics, each run a verdict.
#![allow(
    clippy::print_stdout,
    reason = "the test prints its counts and the text at fault"
)]

use crate::support::{files_with_ext, root};
use firedrill::event::{Event, Fields, LogSchema, Value};
use firedrill::generate::{self, Options};
use firedrill::scenario;
use firedrill::sigma::{Config, Engine, RuleSet, SUPPORTED};

/// The conformance suite's rule texts and events: every modifier, value form and condition
/// form the engine knows, with events they were written for.
fn conformance_cases() -> Vec<(String, String, Vec<Event>)> {
    let mut cases = Vec::new();
    for path in files_with_ext(&root().join("fixtures/sigma/conformance"), "yaml") {
        let text = std::fs::read_to_string(&path).expect("readable fixture");
        let case: serde_yaml::Value = serde_yaml::from_str(&text).expect("fixture parses");
        let Some(rules) = case.get("rules").and_then(|r| r.as_str()) else {
            continue;
        };
        let events = case
            .get("events")
            .and_then(|e| e.as_sequence())
            .map(|events| {
                events
                    .iter()
                    .filter_map(|e| serde_json::to_value(e).ok())
                    .filter_map(|e| serde_json::from_value::<Fields>(e).ok())
                    .map(|fields| Event {
                        fields,
                        ..Event::new(LogSchema::Sysmon)
                    })
                    .collect()
            })
            .unwrap_or_default();
        cases.push((path.display().to_string(), rules.to_string(), events));
    }
    cases
}

/// The bundled SigmaHQ rules and the seed rule, with the web-shell and ArcSOC scenarios'
/// Sysmon events.
fn bundled_rule_cases() -> Vec<(String, String, Vec<Event>)> {
    let mut events = Vec::new();
    for name in [
        "scenarios/arcgis/soe-webshell-powershell.yaml",
        "scenarios/iis/webshell-recon.yaml",
    ] {
        let scenario = scenario::load(&root().join(name)).expect("bundled scenario loads");
        let timeline = generate::timeline(&scenario, &Options::default());
        events.extend(generate::render(&timeline, LogSchema::Sysmon));
    }
    let mut paths = files_with_ext(&root().join("fixtures/sigma/sigmahq/rules"), "yml");
    paths.extend(files_with_ext(&root().join("fixtures/rules/sigma"), "yml"));
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable rule");
            (path.display().to_string(), text, events.clone())
        })
        .collect()
}

/// Values that have broken text handling elsewhere: case folding that changes length (`İ`
/// lowercases to two characters, `ẞ` to a shorter one), escapes at the end, wildcards alone,
/// lone surrogates' replacement, very long text, and every JSON shape.
fn awkward_values() -> Vec<Value> {
    let text = |s: &str| Value::String(s.to_string());
    let mut values = vec![
        text(""),
        text("*"),
        text("?"),
        text("\\"),
        text("\\\\*"),
        text("İSTANBUL İ"),
        text("ẞ ß Σ ς ǅ ﬁ"),
        text("\u{FFFD}\u{0}\u{200B}"),
        text("C:\\Windows\\System32\\cmd.exe /c whoami"),
        text("-nop -enc SQBFAFgA \u{2013}x \u{2014}y \u{2015}z /c"),
        text("10.0.0.1"),
        text("::ffff:10.0.0.1"),
        text("fe80::1%eth0"),
        text(&"A".repeat(3_000)),
        text(&"İ".repeat(1_000)),
        Value::Null,
        Value::Bool(true),
        Value::Int(i64::MIN),
        Value::Int(4688),
        Value::Float(f64::NAN),
        Value::Float(1e308),
        Value::List(vec![text("a"), Value::Null, Value::List(vec![text("İ")])]),
    ];
    let mut nested = Fields::default();
    nested.insert("İ".into(), text("x"));
    nested.insert("a.b".into(), Value::List(vec![]));
    values.push(Value::Map(Box::new(nested)));
    values
}

/// The field names the conformance rules and the process_creation taxonomy read.
const FIELDS: &[&str] = &[
    "CommandLine",
    "Image",
    "ParentImage",
    "OriginalFileName",
    "User",
    "EventID",
    "DestinationIp",
    "SourceIp",
    "TargetFilename",
    "a",
    "a.b",
];

fn awkward_events() -> Vec<Event> {
    let values = awkward_values();
    values
        .iter()
        .enumerate()
        .map(|(i, _)| {
            let mut fields = Fields::default();
            for (j, name) in FIELDS.iter().enumerate() {
                fields.insert((*name).into(), values[(i + j) % values.len()].clone());
            }
            Event {
                fields,
                ..Event::new(LogSchema::Sysmon)
            }
        })
        .collect()
}

/// Rule texts derived from `text`: prefixes, each line deleted, doubled, or shifted left, every
/// modifier added to each field key, and awkward scalars in place of each value.
fn mangles(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for cut in (0..text.len())
        .step_by(53)
        .filter(|&i| text.is_char_boundary(i))
    {
        out.push(text[..cut].to_string());
    }
    let with = |i: usize, line: String| {
        let mut changed: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        changed[i] = line;
        changed.join("\n")
    };
    let scalars = [
        "''",
        "'*'",
        "'?'",
        "'\\'",
        "'*\\'",
        "'İ*ẞ?'",
        "'%Placeholder%'",
        "'::/0'",
        "'300.1.1.1/33'",
        "'(?<x>'",
        "'[z-a]'",
        "null",
        "[]",
        "{}",
        "-1",
        "1.5e400",
        "true",
        "[null, '', '*']",
    ];
    for (i, line) in lines.iter().enumerate() {
        let mut without = lines.clone();
        without.remove(i);
        out.push(without.join("\n"));
        let mut doubled = lines.clone();
        doubled.insert(i, line);
        out.push(doubled.join("\n"));
        out.push(with(i, line[line.len().min(2)..].to_string()));
        let trimmed = line.trim_start();
        if trimmed.starts_with('-') || trimmed.starts_with('#') {
            continue;
        }
        let Some(colon) = line
            .find(": ")
            .or_else(|| line.strip_suffix(':').map(str::len))
        else {
            continue;
        };
        let (key, rest) = line.split_at(colon);
        for (name, _) in SUPPORTED {
            out.push(with(i, format!("{key}|{name}{rest}")));
        }
        for combo in [
            "|utf16|base64offset|contains",
            "|wide|base64",
            "|base64offset|re",
            "|windash|contains|all",
            "|cidr|contains",
            "|expand|re",
            "|fieldref|contains",
            "|re|i|m|s",
            "|exists|all",
            "|gt|lt",
            "|nosuch",
            "|",
            "||",
        ] {
            out.push(with(i, format!("{key}{combo}{rest}")));
        }
        if !rest.trim_start_matches(':').trim().is_empty() {
            for scalar in scalars {
                out.push(with(i, format!("{key}: {scalar}")));
            }
        }
    }
    out
}

/// Loads `texts` as one rule set each, compiles it, evaluates every event (correlations
/// included, and through a prefilter session), and explains every rule on every third event;
/// returns the rules compiled and the diagnostics, all located.
fn exercise(texts: &[String], events: &[Event]) -> (usize, usize) {
    let mut set = RuleSet::new();
    let mut diags = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        diags.extend(set.add_source(&format!("mangled{i}.yml"), text));
    }
    let (engine, compiled) = Engine::compile(&set, &Config::default());
    diags.extend(compiled);
    for d in &diags {
        assert!(d.code.starts_with("SIG"), "{d:?}");
        assert!(d.location.is_some(), "unlocated: {}", d.render());
    }
    let _ = engine.evaluate(events);
    let mut session = engine.session();
    for event in events {
        let _ = engine.matches_with(event, &mut session);
    }
    for rule in 0..engine.rules().len() {
        for event in events.iter().step_by(3) {
            let _ = engine.explain(rule, event).render();
        }
    }
    (engine.rules().len(), diags.len())
}

#[test]
fn mangled_rules_and_awkward_values_give_verdicts_and_diagnostics_never_panics() {
    let extra = awkward_events();
    let (mut texts, mut rules, mut diags) = (0, 0, 0);
    // A seventh of the conformance rules' mangled texts, a 31st of the bundled rules' (longer,
    // with fewer constructs), each case's loaded together: all of them one by one take an hour.
    // The strides are prime to the modifiers' count, so each kind of change meets every line.
    let cases = (conformance_cases().into_iter().map(|case| (case, 7)))
        .chain(bundled_rule_cases().into_iter().map(|case| (case, 31)));
    for ((path, case, events), stride) in cases {
        let events: Vec<Event> = events.into_iter().chain(extra.iter().cloned()).collect();
        let mangled: Vec<String> = mangles(&case).into_iter().step_by(stride).collect();
        for batch in mangled.chunks(250) {
            texts += batch.len();
            let result = std::panic::catch_unwind(|| exercise(batch, &events));
            match result {
                Ok((r, d)) => {
                    rules += r;
                    diags += d;
                }
                Err(_) => {
                    // The text at fault, alone: its panic is the test's failure.
                    for text in batch {
                        println!("{path}: checking alone:\n{text}");
                        exercise(std::slice::from_ref(text), &events);
                    }
                    panic!("{path}: a batch panicked, but no text alone did");
                }
            }
        }
    }
    println!("{texts} mangled rule texts: {rules} rules compiled, {diags} diagnostics");
    assert!(texts > 7_000, "{texts} mangled rule texts");
}

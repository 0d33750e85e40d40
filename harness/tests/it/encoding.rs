//! Input files in the encodings Windows tools write: UTF-8 with a byte-order mark, UTF-16 with
//! one. Each case writes a bundled file again in every encoding and expects what the UTF-8
//! original gives; bytes that are not text are a located error.

use crate::support::{firedrill, root};
use firedrill::event::LogSchema;
use firedrill::generate::{self, Options};
use firedrill::logs::{self, ReadOptions};
use firedrill::sigma::{Config, Engine, RuleSet};
use std::path::{Path, PathBuf};

/// `text` in each encoding a Windows tool may write it in, named for the test's messages.
fn encodings(text: &str) -> Vec<(&'static str, Vec<u8>)> {
    let utf16 = |mark: [u8; 2], unit: fn(u16) -> [u8; 2]| {
        let mut bytes = mark.to_vec();
        bytes.extend(text.encode_utf16().flat_map(unit));
        bytes
    };
    vec![
        ("utf-8", text.as_bytes().to_vec()),
        (
            "utf-8 with a byte-order mark",
            [b"\xEF\xBB\xBF", text.as_bytes()].concat(),
        ),
        ("utf-16le", utf16([0xFF, 0xFE], u16::to_le_bytes)),
        ("utf-16be", utf16([0xFE, 0xFF], u16::to_be_bytes)),
    ]
}

/// Writes `source` again, in every encoding, under `dir` (keeping its file name) and returns the
/// copies.
fn rewritten(source: &Path, dir: &Path) -> Vec<(&'static str, PathBuf)> {
    let text = std::fs::read_to_string(source).expect("a UTF-8 fixture");
    encodings(&text)
        .into_iter()
        .enumerate()
        .map(|(i, (name, bytes))| {
            let sub = dir.join(i.to_string());
            std::fs::create_dir_all(&sub).expect("a temporary directory");
            let path = sub.join(source.file_name().expect("a file name"));
            std::fs::write(&path, bytes).expect("writable");
            (name, path)
        })
        .collect()
}

#[test]
fn a_rule_and_a_scenario_mean_the_same_whatever_their_encoding() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let rules = rewritten(
        &root().join("fixtures/rules/sigma/proc_creation_win_arcsoc_susp_child_process.yml"),
        &dir.path().join("rules"),
    );
    let scenarios = rewritten(
        &root().join("scenarios/arcgis/soe-webshell-powershell.yaml"),
        &dir.path().join("scenarios"),
    );
    let mut seen = Vec::new();
    for ((encoding, rule), (_, scenario)) in rules.iter().zip(&scenarios) {
        let (set, diagnostics) = RuleSet::load_paths(std::slice::from_ref(rule));
        assert!(diagnostics.is_empty(), "{encoding}: {diagnostics:?}");
        let (engine, _) = Engine::compile(&set, &Config::default());
        let scenario = firedrill::scenario::load(scenario)
            .unwrap_or_else(|d| panic!("{encoding}: {}", crate::support::render(&d)));
        let events = generate::render(
            &generate::timeline(&scenario, &Options::default()),
            LogSchema::Sysmon,
        );
        let matched: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| engine.matches(e).next().is_some())
            .map(|(i, _)| i)
            .collect();
        assert!(!matched.is_empty(), "{encoding}: the seed rule fires");
        let title = set.rules[0].title.clone();
        let json: Vec<_> = events.iter().map(|e| e.to_json()).collect();
        seen.push((*encoding, (title, scenario.name.clone(), json, matched)));
    }
    let (_, expected) = &seen[0];
    for (encoding, got) in &seen[1..] {
        assert_eq!(got, expected, "{encoding}");
    }
}

#[test]
fn a_log_with_a_byte_order_mark_or_in_utf16_reads_as_the_same_records() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    // A flat JSON lines file (a mark made its first line a bad record), and a Defender CSV
    // export (the CSV reader drops a UTF-8 mark itself, but could not read UTF-16).
    for fixture in [
        "jsonl/sysmon-flat.jsonl",
        "defender/device-process-events.csv",
    ] {
        let copies = rewritten(&root().join("fixtures/logs").join(fixture), dir.path());
        let read = |path: &Path| {
            let (events, stats) = logs::read_all(path, &ReadOptions::default())
                .unwrap_or_else(|d| panic!("{}", d.render()));
            assert_eq!(stats.bad_records, 0, "{}", path.display());
            let events: Vec<_> = events
                .iter()
                .map(|(i, e)| (*i, e.schema, e.to_json()))
                .collect();
            events
        };
        let expected = read(&copies[0].1);
        assert!(!expected.is_empty(), "{fixture}");
        for (encoding, path) in &copies[1..] {
            assert_eq!(read(path), expected, "{fixture} in {encoding}");
        }
    }
}

#[test]
fn a_rule_file_that_is_not_text_is_an_error_at_the_first_byte_that_is_not() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("latin1.yml");
    let rule = b"title: Caf\xE9 child process\nlogsource: {product: windows, category: process_creation}\ndetection:\n  sel: {Image|endswith: '\\\\cmd.exe'}\n  condition: sel\n";
    std::fs::write(&path, rule).expect("writable");
    let output = firedrill()
        .arg("lint")
        .arg(&path)
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "error[IO0001]: cannot read rule file: not UTF-8: byte 0xE9 at offset 10 is not part of a character"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("latin1.yml:1:11"), "{stderr}");
    assert!(stderr.contains("help: save the file as UTF-8"), "{stderr}");
}

//! Recorded-log readers over the fixtures in `fixtures/logs/`: record counts, damaged input,
//! schema recognition, every JSON layout, gzip, directories.

use firedrill::event::{Event, LogSchema, Value};
use firedrill::logs::{self, FieldFilter, FileStats, Format, ReadOptions};
use std::path::{Path, PathBuf};

pub(crate) fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/logs")
        .join(relative)
}

fn read(relative: &str) -> (Vec<(u64, Event)>, FileStats) {
    read_with(relative, &ReadOptions::default())
}

fn read_with(relative: &str, opts: &ReadOptions) -> (Vec<(u64, Event)>, FileStats) {
    logs::read_all(&fixture(relative), opts).unwrap_or_else(|d| panic!("{}", d.render()))
}

/// A field name and its value as text.
type TextField = (String, Option<String>);

/// An event's fields as text, compared the way the SigmaHQ sample's JSON differs from the
/// `evtx` crate's rendering of the same record: its trailing spaces were trimmed and its GUIDs
/// were written upper-case without braces (the crate writes `{…}` lower-case), and time only to
/// the microsecond.
fn comparable(event: &Event) -> (LogSchema, Option<i64>, Vec<TextField>) {
    let fields = event
        .fields
        .iter()
        .map(|(k, v)| {
            let text = v
                .to_text()
                .map(|t| t.trim_end().replace(['{', '}'], "").to_lowercase());
            (k.to_string(), text)
        })
        .collect();
    (
        event.schema,
        event.timestamp.map(|t| t.timestamp_micros()),
        fields,
    )
}

fn text<'a>(event: &'a Event, field: &str) -> Option<&'a str> {
    event.get(field).and_then(Value::as_str)
}

#[test]
fn evtx_files_yield_every_record_with_system_and_event_data_fields() {
    let (events, stats) = read("evtx/sysmon-1-curl.evtx");
    assert_eq!(stats.format, Some(Format::Evtx));
    assert_eq!(
        (stats.events, stats.bad_records, stats.skipped_chunks),
        (1, 0, 0)
    );
    let (index, event) = &events[0];
    assert_eq!(*index, 0);
    assert_eq!(event.schema, LogSchema::Sysmon);
    assert_eq!(
        text(event, "Channel"),
        Some("Microsoft-Windows-Sysmon/Operational")
    );
    assert_eq!(event.get("EventID"), Some(&Value::Int(1)));
    assert_eq!(
        text(event, "Provider_Name"),
        Some("Microsoft-Windows-Sysmon")
    );
    assert_eq!(text(event, "Computer"), Some("swachchhanda"));
    assert_eq!(event.get("EventRecordID"), Some(&Value::Int(21475)));
    assert_eq!(text(event, "Image"), Some(r"C:\Windows\System32\curl.exe"));
    assert_eq!(
        text(event, "CommandLine"),
        Some(r#"curl.exe  -H "User-Agent: EvilAgent" http://example.com"#)
    );
    assert_eq!(
        event.timestamp.map(|t| t.to_rfc3339()).as_deref(),
        Some("2025-12-11T06:17:19.772545300+00:00")
    );
}

#[test]
fn evtx_records_match_their_evtx_dump_rendering() {
    let (from_evtx, _) = read("evtx/sysmon-1-curl.evtx");
    let (from_json, stats) = read("jsonl/evtx-dump-records.json");
    assert_eq!(stats.format, Some(Format::JsonDocuments));
    assert_eq!(stats.events, 2);
    assert_eq!(comparable(&from_json[0].1), comparable(&from_evtx[0].1));
    assert_eq!(from_json[1].0, 1);
    assert_eq!(from_json[1].1.get("EventID"), Some(&Value::Int(13)));
}

#[test]
fn non_process_channels_are_other_with_their_fields() {
    let (events, _) = read("evtx/sysmon-13-registry.evtx");
    assert_eq!(events[0].1.schema, LogSchema::Other);
    assert_eq!(events[0].1.get("EventID"), Some(&Value::Int(13)));
    assert!(text(&events[0].1, "TargetObject").is_some());
    let (events, _) = read("evtx/wmi-5858.evtx");
    assert_eq!(events[0].1.schema, LogSchema::Other);
    assert_eq!(
        text(&events[0].1, "Channel"),
        Some("Microsoft-Windows-WMI-Activity/Operational")
    );
    assert_eq!(events[0].1.get("EventID"), Some(&Value::Int(5858)));
    // WMI-Activity 5858 keeps its fields under UserData; they are flattened too.
    assert!(
        text(&events[0].1, "Operation").is_some(),
        "{:?}",
        events[0].1.fields
    );
}

#[test]
fn multi_chunk_evtx_yields_records_in_record_order() {
    let (events, stats) = read("evtx/sysmon-1-three-chunks.evtx");
    assert_eq!((stats.events, stats.skipped_chunks), (3, 0));
    let ids: Vec<_> = events
        .iter()
        .map(|(i, e)| (*i, e.get("EventRecordID").cloned()))
        .collect();
    assert_eq!(
        ids,
        vec![
            (0, Some(Value::Int(18463))),
            (1, Some(Value::Int(21475))),
            (2, Some(Value::Int(11507958)))
        ]
    );
}

#[test]
fn a_damaged_chunk_is_skipped_counted_and_reported() {
    let (events, stats) = read("evtx/sysmon-1-damaged-chunk.evtx");
    assert_eq!(stats.skipped_chunks, 1);
    assert_eq!(stats.events, 2);
    let ids: Vec<_> = events
        .iter()
        .map(|(_, e)| e.get("EventRecordID").cloned())
        .collect();
    assert_eq!(
        ids,
        vec![Some(Value::Int(18463)), Some(Value::Int(11507958))]
    );
    let warning = &stats.diagnostics[0];
    assert_eq!(warning.code, "LOG0003");
    assert!(
        warning.message.starts_with("damaged chunk 1 skipped"),
        "{}",
        warning.message
    );
}

#[test]
fn a_file_too_short_for_an_evtx_header_is_an_error() {
    let error =
        logs::read_all(&fixture("evtx/truncated.evtx"), &ReadOptions::default()).unwrap_err();
    assert_eq!(error.code, "LOG0007");
}

#[test]
fn gzip_inputs_read_like_the_plain_files() {
    let (plain, _) = read("evtx/sysmon-1-curl.evtx");
    let (gz, stats) = read("evtx/sysmon-1-curl.evtx.gz");
    assert!(stats.compressed);
    assert_eq!(plain, gz);
    let (plain, _) = read("jsonl/sysmon-flat.jsonl");
    let (gz, stats) = read("jsonl/sysmon-flat.jsonl.gz");
    assert!(stats.compressed);
    assert_eq!(stats.format, Some(Format::JsonLines));
    assert_eq!(plain, gz);
}

#[test]
fn every_sysmon_json_layout_gives_the_same_sigma_fields() {
    for file in [
        "jsonl/sysmon-flat.jsonl",
        "jsonl/sysmon-winlogbeat-raw.jsonl",
    ] {
        let (events, stats) = read(file);
        assert_eq!(stats.events, 3, "{file}");
        let (index, event) = &events[1];
        assert_eq!(*index, 1);
        assert_eq!(event.schema, LogSchema::Sysmon, "{file}");
        assert_eq!(event.get("EventID"), Some(&Value::Int(1)), "{file}");
        assert_eq!(
            text(event, "Computer"),
            Some("arcgis01.corp.example"),
            "{file}"
        );
        assert_eq!(
            text(event, "CommandLine"),
            Some("cmd.exe /c whoami /all"),
            "{file}"
        );
        assert_eq!(
            text(event, "ParentImage"),
            Some(r"C:\Program Files\ArcGIS\Server\bin\ArcSOC.exe"),
            "{file}"
        );
        assert_eq!(
            event.timestamp.map(|t| t.to_rfc3339()).as_deref(),
            Some("2025-11-20T10:00:01+00:00"),
            "{file}"
        );
    }
}

#[test]
fn ecs_documents_stay_nested() {
    let (events, _) = read("jsonl/sysmon-ecs.jsonl");
    let event = &events[1].1;
    assert_eq!(event.schema, LogSchema::Ecs);
    assert_eq!(
        text(event, "process.command_line"),
        Some("cmd.exe /c whoami /all")
    );
    assert_eq!(text(event, "process.parent.name"), Some("ArcSOC.exe"));
    assert_eq!(
        text(event, "winlog.event_data.IntegrityLevel"),
        Some("High")
    );
    assert_eq!(
        text(event, "winlog.channel"),
        Some("Microsoft-Windows-Sysmon/Operational")
    );
    assert_eq!(event.get("Image"), None);
}

#[test]
fn security_4688_is_recognised_from_winlogbeat_and_sentinel() {
    for file in [
        "jsonl/security-4688-winlogbeat.jsonl",
        "jsonl/security-4688-sentinel.jsonl",
    ] {
        let (events, _) = read(file);
        let event = &events[1].1;
        assert_eq!(event.schema, LogSchema::Security4688, "{file}");
        assert_eq!(event.get("EventID"), Some(&Value::Int(4688)), "{file}");
        assert_eq!(
            text(event, "NewProcessName"),
            Some(r"C:\Windows\System32\cmd.exe")
        );
        assert!(event.timestamp.is_some(), "{file}");
    }
}

#[test]
fn defender_exports_are_mde_in_json_csv_and_the_streaming_wrapper() {
    for file in [
        "defender/device-process-events.jsonl",
        "defender/device-process-events-stream.json",
        "defender/device-process-events.csv",
    ] {
        let (events, stats) = read(file);
        assert_eq!(stats.events, 3, "{file}");
        let event = &events[1].1;
        assert_eq!(event.schema, LogSchema::Mde, "{file}");
        assert_eq!(
            text(event, "InitiatingProcessFileName"),
            Some("ArcSOC.exe"),
            "{file}"
        );
        assert_eq!(
            text(event, "ProcessCommandLine"),
            Some("cmd.exe /c whoami /all"),
            "{file}"
        );
        assert_eq!(
            event.timestamp.map(|t| t.to_rfc3339()).as_deref(),
            Some("2025-11-20T10:00:01.123456700+00:00"),
            "{file}"
        );
    }
}

#[test]
fn bad_lines_are_skipped_with_warnings_and_keep_line_numbers() {
    let (events, stats) = read("jsonl/bad-lines.jsonl");
    let indices: Vec<u64> = events.iter().map(|(i, _)| *i).collect();
    assert_eq!(indices, vec![0, 3]);
    assert_eq!(stats.bad_records, 2);
    let messages: Vec<&str> = stats
        .diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert!(messages[0].starts_with("line 3: skipped"), "{messages:?}");
    assert!(messages[1].starts_with("line 5: skipped"), "{messages:?}");
    assert!(stats.diagnostics.iter().all(|d| d.code == "LOG0002"));
}

#[test]
fn a_field_filter_materialises_only_what_rules_read() {
    let opts = ReadOptions {
        fields: FieldFilter::only(["CommandLine"]),
        ..ReadOptions::default()
    };
    for file in [
        "evtx/sysmon-1-curl.evtx",
        "jsonl/sysmon-winlogbeat-raw.jsonl",
    ] {
        let (events, _) = read_with(file, &opts);
        let names: Vec<&str> = events[0].1.fields.keys().map(|k| k.as_str()).collect();
        assert!(names.contains(&"CommandLine"), "{file}: {names:?}");
        assert!(names.contains(&"EventID"), "{file}: {names:?}");
        assert!(!names.contains(&"Hashes"), "{file}: {names:?}");
        assert_eq!(events[0].1.schema, LogSchema::Sysmon);
        assert!(events[0].1.timestamp.is_some());
    }
}

#[test]
fn a_configured_time_field_wins() {
    let opts = ReadOptions {
        time_field: Some("UtcTime".into()),
        ..ReadOptions::default()
    };
    let (events, _) = read_with("evtx/sysmon-1-curl.evtx", &opts);
    assert_eq!(
        events[0].1.timestamp.map(|t| t.to_rfc3339()).as_deref(),
        Some("2025-12-11T06:17:19.636+00:00")
    );
}

#[test]
fn reading_in_parallel_keeps_file_order() {
    let opts = ReadOptions {
        threads: 4,
        ..ReadOptions::default()
    };
    assert_eq!(
        read_with("jsonl/sysmon-flat.jsonl", &opts).0,
        read("jsonl/sysmon-flat.jsonl").0
    );
    assert_eq!(
        read_with("evtx/sysmon-1-three-chunks.evtx", &opts).0,
        read("evtx/sysmon-1-three-chunks.evtx").0
    );
}

#[test]
fn directories_are_walked_recursively_for_log_files() {
    let (files, errors) = logs::discover(&[fixture("defender"), fixture("missing")]);
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec![
            "device-process-events-stream.json",
            "device-process-events.csv",
            "device-process-events.jsonl"
        ]
    );
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].code, "LOG0001");
}

#[test]
#[allow(
    clippy::print_stdout,
    reason = "a test skipped for want of ../shared says so"
)]
fn every_recorded_log_of_the_sigma_regression_sample_reads_completely() {
    let root =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora/sigma-regression-sample");
    if !root.exists() {
        println!("skipped: {} is absent", root.display());
        return;
    }
    let (files, errors) = logs::discover(&[root]);
    assert!(errors.is_empty());
    let evtx: Vec<_> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "evtx"))
        .collect();
    assert_eq!(evtx.len(), 29);
    for path in evtx {
        let (from_evtx, stats) = logs::read_all(path, &ReadOptions::default()).unwrap();
        assert_eq!(
            (stats.events, stats.bad_records, stats.skipped_chunks),
            (1, 0, 0),
            "{}",
            path.display()
        );
        let (from_json, _) =
            logs::read_all(&path.with_extension("json"), &ReadOptions::default()).unwrap();
        assert_eq!(
            comparable(&from_json[0].1),
            comparable(&from_evtx[0].1),
            "{}",
            path.display()
        );
    }
}

// ---- `firedrill scan` and `firedrill regress` ----

const SEED_RULE: &str = "fixtures/rules/sigma/proc_creation_win_arcsoc_susp_child_process.yml";
const SEED_ID: &str = "8e95e73e-ba02-4a87-b4d7-0929b8053038";

fn firedrill(args: &[&str]) -> (i32, String, String) {
    let output = assert_cmd::Command::cargo_bin("firedrill")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn scan_json(args: &[&str]) -> (i32, serde_json::Value) {
    let mut all = vec!["scan", "--format", "json"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = firedrill(&all);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}{stderr}"));
    (code, report)
}

#[test]
fn scan_finds_the_seed_attack_in_every_process_creation_layout_sigma_serves() {
    for file in [
        "fixtures/logs/jsonl/sysmon-flat.jsonl",
        "fixtures/logs/jsonl/sysmon-winlogbeat-raw.jsonl",
        "fixtures/logs/jsonl/sysmon-flat.jsonl.gz",
        "fixtures/logs/jsonl/sysmon-ecs.jsonl",
        "fixtures/logs/jsonl/security-4688-winlogbeat.jsonl",
        "fixtures/logs/jsonl/security-4688-sentinel.jsonl",
    ] {
        let (code, report) = scan_json(&["--rules", SEED_RULE, file]);
        assert_eq!(code, 0, "{file}");
        assert_eq!(report["format_version"], 1);
        assert_eq!(report["summary"]["events"], 3, "{file}");
        let matches = report["matches"].as_array().unwrap();
        assert_eq!(matches.len(), 1, "{file}: {matches:?}");
        assert_eq!(matches[0]["rule_id"], SEED_ID);
        assert_eq!(
            matches[0]["rule_title"],
            "Suspicious ArcSOC.exe Child Process"
        );
        assert_eq!(matches[0]["author"], "Micah Babinski");
        assert_eq!(matches[0]["source"], file);
        assert_eq!(matches[0]["index"], 1, "{file}");
        let rule = &report["rules"][0];
        assert_eq!(rule["hits"], 1);
        assert_eq!(rule["first_seen"], "2025-11-20T10:00:01Z");
        assert_eq!(rule["top_values"]["Computer"][0]["count"], 1, "{file}");
    }
}

#[test]
fn scan_applies_sigma_to_defender_rows_through_the_xdr_pipeline() {
    // The same three rows exported three ways (CSV, JSON lines, the streaming API); the seed
    // fires on `cmd.exe /c whoami /all` in each, not on `cmd.exe /c "ver"`.
    let (code, report) = scan_json(&["--rules", SEED_RULE, "fixtures/logs/defender"]);
    assert_eq!(code, 0);
    assert_eq!(report["summary"]["events"], 9);
    let matches = report["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 3, "{matches:#?}");
    assert!(
        matches
            .iter()
            .all(|m| m["rule_id"] == SEED_ID && m["index"] == 1)
    );
    assert!(report["diagnostics"].as_array().unwrap().is_empty());
}

#[test]
fn scan_applies_sigma_to_asim_rows_through_the_sentinel_asim_pipeline() {
    let (code, lines, stderr) = firedrill(&[
        "generate",
        "scenarios/arcgis/soe-webshell-powershell.yaml",
        "--schema",
        "asim",
        "--no-background",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("imProcessCreate.jsonl");
    std::fs::write(&file, &lines).unwrap();
    let (code, report) = scan_json(&["--rules", SEED_RULE, file.to_str().unwrap()]);
    assert_eq!(code, 0);
    let matches = report["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 1, "{matches:#?}");
    let index = matches[0]["index"].as_u64().unwrap() as usize;
    let row: serde_json::Value = serde_json::from_str(lines.lines().nth(index).unwrap()).unwrap();
    assert_eq!(row["_firedrill"]["node"], "ps");
    assert!(report["diagnostics"].as_array().unwrap().is_empty());
}

#[test]
fn scan_names_the_sigma_rules_the_xdr_pipeline_cannot_run_on_defender_rows() {
    let rules = "fixtures/sigma/kusto-pipelines/rules";
    let warnings = |log: &str| -> Vec<serde_json::Value> {
        let (code, report) = scan_json(&["--rules", rules, log]);
        assert_eq!(code, 0);
        report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["code"] == "LOG0014")
            .cloned()
            .collect()
    };
    let over_defender = warnings("fixtures/logs/defender/device-process-events.jsonl");
    assert_eq!(over_defender.len(), 1, "{over_defender:#?}");
    let warning = &over_defender[0];
    let message = warning["message"].as_str().unwrap();
    assert!(
        message.starts_with("9 Sigma rules did not run"),
        "{message}"
    );
    assert!(message.contains("pipeline: microsoft-xdr"), "{message}");
    let notes: Vec<&str> = warning["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    // In file order: pipeline_cased, _current_directory, _eventid_not, _eventid_only,
    // _fieldref, _imphash, _imphash_unknown, _keywords, _no_category.
    assert!(notes[0].contains("cannot write `|cased`"), "{notes:?}");
    assert!(
        notes[1].contains("`CurrentDirectory` is not a column"),
        "{notes:?}"
    );
    // EventID is dropped: under a `not`, or alone in a condition, nothing is left to convert.
    assert!(
        notes[2].contains("`not` applies to items the pipeline drops"),
        "{notes:?}"
    );
    assert!(
        notes[3].contains("reads only items the pipeline drops (dropped: `EventID`)"),
        "{notes:?}"
    );
    assert!(notes[4].contains("cannot write `|fieldref`"), "{notes:?}");
    assert!(notes[5].contains("MD5, SHA1, SHA256"), "{notes:?}");
    assert!(
        notes[7].contains("writes a keyword as a bare string"),
        "{notes:?}"
    );
    assert!(
        notes[8]
            .contains("picks the table by the log source's category, and the rule has no category"),
        "{notes:?}"
    );
    // Sysmon events take every rule through the identity pipeline.
    assert!(warnings("fixtures/logs/jsonl/sysmon-flat.jsonl").is_empty());
}

#[test]
fn scan_routes_events_only_to_rules_whose_log_source_applies() {
    let (_, report) = scan_json(&["--rules", "fixtures/logs/rules", "fixtures/logs/evtx"]);
    let hits: Vec<(String, String)> = report["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let source = m["source"].as_str().unwrap();
            let file = source.rsplit('/').next().unwrap().to_string();
            (m["rule_id"].as_str().unwrap().to_string(), file)
        })
        .collect();
    let fired = |id: &str| {
        let mut files: Vec<&str> = hits
            .iter()
            .filter(|(r, _)| r == id)
            .map(|(_, f)| f.as_str())
            .collect();
        files.sort();
        files
    };
    // The process-creation probe fires on every Sysmon EID 1 record, never on EID 13 (which
    // has an Image field too) nor on WMI-Activity.
    assert_eq!(
        fired("0f8a4a52-5d7e-4c55-9a55-2f1d3d0c7a11"),
        vec![
            "sysmon-1-curl.evtx",
            "sysmon-1-curl.evtx.gz",
            "sysmon-1-damaged-chunk.evtx",
            "sysmon-1-damaged-chunk.evtx",
            "sysmon-1-three-chunks.evtx",
            "sysmon-1-three-chunks.evtx",
            "sysmon-1-three-chunks.evtx",
        ]
    );
    assert_eq!(
        fired("974515da-6cc5-4c95-ae65-f97f9150ec7f"),
        vec!["sysmon-13-registry.evtx"]
    );
    assert_eq!(
        fired("d4f1a2b3-7c8e-4d5f-b6a9-1e0c2d3f4e5b"),
        vec!["wmi-5858.evtx"]
    );
    // The curl record is in the plain file, its gzip copy and the three-chunk file; in the
    // damaged file it sits in the damaged chunk.
    assert_eq!(fired("85de1f22-d189-44e4-8239-dc276b45379b").len(), 3);
    // The damaged chunk and the truncated file are reported, not silently dropped.
    assert_eq!(report["summary"]["skipped_chunks"], 1);
    assert_eq!(report["summary"]["unreadable_files"], 1);
    let codes: Vec<&str> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"LOG0003") && codes.contains(&"LOG0007"),
        "{codes:?}"
    );
}

#[test]
fn scan_lists_matches_in_time_order_across_files() {
    let (_, report) = scan_json(&[
        "--rules",
        "fixtures/logs/rules/local_process_creation_any_image.yml",
        "fixtures/logs/evtx/sysmon-1-three-chunks.evtx",
        "fixtures/logs/jsonl/sysmon-flat.jsonl",
    ]);
    let times: Vec<&str> = report["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["timestamp"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times.len(), 6);
    assert_eq!(times, sorted);
    // The three-chunk file's records are not in time order: its third record comes first.
    assert_eq!(report["matches"][0]["index"], 2);
}

#[test]
fn fail_on_hit_fails_only_when_something_matched() {
    let (code, _) = scan_json(&[
        "--fail-on-hit",
        "--rules",
        SEED_RULE,
        "fixtures/logs/jsonl/sysmon-flat.jsonl",
    ]);
    assert_eq!(code, 1);
    let (code, report) = scan_json(&[
        "--fail-on-hit",
        "--rules",
        SEED_RULE,
        "fixtures/logs/evtx/sysmon-1-curl.evtx",
    ]);
    assert_eq!((code, report["summary"]["matches"].as_u64()), (0, Some(0)));
}

#[test]
fn allowlisted_matches_are_counted_not_reported() {
    let (code, report) = scan_json(&[
        "--fail-on-hit",
        "--allowlist",
        "fixtures/logs/allowlist/known-fps.csv",
        "--rules",
        SEED_RULE,
        "fixtures/logs/jsonl/sysmon-flat.jsonl",
    ]);
    assert_eq!(code, 0);
    assert_eq!(report["summary"]["matches"], 0);
    assert_eq!(report["summary"]["allowlisted"], 1);
    assert_eq!(report["rules"][0]["allowlisted"], 1);
    assert_eq!(report["rules"][0]["hits"], 0);
    let (code, _, stderr) = firedrill(&[
        "scan",
        "--allowlist",
        "fixtures/logs/allowlist/broken.csv",
        "--rules",
        SEED_RULE,
        "fixtures/logs/jsonl/sysmon-flat.jsonl",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("LOG0010"), "{stderr}");
}

#[test]
fn unreadable_logs_are_input_errors() {
    let (code, report) = scan_json(&["--rules", SEED_RULE, "fixtures/logs/no-such-file.jsonl"]);
    assert_eq!(code, 2);
    assert_eq!(report["summary"]["unreadable_files"], 1);
}

#[test]
fn scan_writes_markdown_and_html_reviews() {
    let (code, md, _) = firedrill(&[
        "scan",
        "--rules",
        SEED_RULE,
        "fixtures/logs/jsonl/sysmon-winlogbeat-raw.jsonl",
    ]);
    assert_eq!(code, 0);
    assert!(
        md.contains("## Suspicious ArcSOC.exe Child Process"),
        "{md}"
    );
    assert!(md.contains("1 × `cmd.exe /c whoami /all`"), "{md}");
    let (code, html, _) = firedrill(&[
        "scan",
        "--format",
        "html",
        "--rules",
        SEED_RULE,
        "fixtures/logs/jsonl/sysmon-winlogbeat-raw.jsonl",
    ]);
    assert_eq!(code, 0);
    // The same page shell and stylesheet as `firedrill run`'s report.html.
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("cmd.exe /c whoami /all"));
    assert!(html.contains(firedrill::report::page::STYLE));
    assert!(html.trim_end().ends_with("</html>"));
}

#[test]
fn regress_checks_each_rule_against_its_recorded_log() {
    let (code, stdout, stderr) = firedrill(&[
        "regress",
        "fixtures/logs/regression",
        "--rules",
        "fixtures/logs/rules",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["format_version"], 1);
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    for result in results {
        assert_eq!(result["passed"], true, "{result}");
        assert_eq!(result["expected_min"], 1);
        assert!(result["matches"].as_u64() >= Some(1));
        assert!(result["path"].as_str().unwrap().ends_with(".evtx"));
    }
    // Without the rules, every check fails (exit 1) and says why.
    let (code, stdout, _) = firedrill(&[
        "regress",
        "fixtures/logs/regression",
        "--rules",
        SEED_RULE,
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        report["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["passed"] == false && r["error"] == "rule not among the loaded rules")
    );
}

#[test]
#[allow(
    clippy::print_stdout,
    reason = "a test skipped for want of ../shared says so"
)]
fn regress_passes_over_the_sigma_regression_sample() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora");
    if !root.exists() {
        println!("skipped: {} is absent", root.display());
        return;
    }
    let (code, stdout, stderr) = firedrill(&[
        "regress",
        "../shared/corpora/sigma-regression-sample",
        "--rules",
        "../shared/corpora/sigma/rules",
        "--rules",
        "../shared/corpora/sigma/rules-emerging-threats",
        "--format",
        "json",
    ]);
    let report: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 29);
    let failed: Vec<&serde_json::Value> = results.iter().filter(|r| r["passed"] != true).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(code, 0);
}

#[test]
fn correlations_run_over_the_matched_events_in_time_order() {
    let (code, report) = scan_json(&[
        "--rules",
        "fixtures/logs/rules-correlation",
        "fixtures/logs/jsonl/sysmon-flat.jsonl",
        "fixtures/logs/evtx/sysmon-1-curl.evtx",
    ]);
    assert_eq!(code, 0);
    let matches = report["matches"].as_array().unwrap();
    // The probe rule only feeds the correlation (no `generate: true`), so only the correlation
    // is reported: the three ArcGIS events, in time order; the other host's one event is not
    // enough.
    assert_eq!(matches.len(), 1, "{matches:#?}");
    let m = &matches[0];
    assert_eq!(m["rule_id"], "5b0b8f7e-3c1e-4d8a-9f2a-6c4d2e1b7a90");
    assert!(m.get("index").is_none());
    assert_eq!(m["group"]["Computer"], "arcgis01.corp.example");
    let indices: Vec<u64> = m["indices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| pair[1].as_u64().unwrap())
        .collect();
    assert_eq!(indices, vec![1, 0, 2]);
    assert_eq!(m["timestamp"], "2025-11-20T10:00:03Z");
}

#[test]
fn the_allowlist_covers_a_correlation_when_it_covers_every_event_that_made_it() {
    let scan = |allowlist: &str| {
        scan_json(&[
            "--fail-on-hit",
            "--allowlist",
            allowlist,
            "--rules",
            "fixtures/logs/rules-correlation",
            "fixtures/logs/jsonl/sysmon-flat.jsonl",
        ])
    };
    let (code, report) = scan("fixtures/logs/allowlist/correlation-host.csv");
    assert_eq!(code, 0);
    assert_eq!(report["summary"]["matches"], 0);
    assert_eq!(report["summary"]["allowlisted"], 1);
    assert_eq!(report["rules"][0]["allowlisted"], 1);
    let (code, report) = scan("fixtures/logs/allowlist/correlation-one-event.csv");
    assert_eq!(code, 1);
    assert_eq!(report["summary"]["matches"], 1);
    assert_eq!(report["summary"]["allowlisted"], 0);
}

// ---- KQL rules in `firedrill scan` ----

const KQL_RULES: &str = "fixtures/logs/rules-kql";
const HUNTING: &str = "fixtures/logs/defender-hunting";

/// A hit: its rule id, its `[file name, index]` sources and its result row.
type KqlHit = (String, Vec<(String, u64)>, serde_json::Value);

/// Every hit of a scan report.
fn kql_hits(report: &serde_json::Value) -> Vec<KqlHit> {
    report["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let name =
                |s: &serde_json::Value| s.as_str().unwrap().rsplit('/').next().unwrap().to_string();
            let sources = match m.get("indices") {
                Some(all) => all
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| (name(&p[0]), p[1].as_u64().unwrap()))
                    .collect(),
                None => vec![(name(&m["source"]), m["index"].as_u64().unwrap())],
            };
            (
                m["rule_id"].as_str().unwrap().to_string(),
                sources,
                m["row"].clone(),
            )
        })
        .collect()
}

#[test]
fn kql_rules_run_over_the_defender_tables_their_queries_read() {
    let (code, report) = scan_json(&["--rules", KQL_RULES, HUNTING]);
    assert_eq!(code, 0);
    assert_eq!(report["summary"]["events"], 10);
    assert_eq!(report["summary"]["rules"], 3);
    assert_eq!(report["summary"]["rules_failed"], 0);
    let hits = kql_hits(&report);
    let stream = "advanced-hunting-stream.json";
    let csv = "DeviceNetworkEvents.csv";
    let hit = |id: &str| {
        let found: Vec<_> = hits.iter().filter(|h| h.0 == id).collect();
        assert_eq!(found.len(), 1, "{id}: {hits:#?}");
        found[0].clone()
    };
    // One process row (the streaming wrapper's category names its table).
    let shell = hit("web-server-spawns-shell");
    assert_eq!(shell.1, vec![(stream.to_string(), 0)]);
    assert_eq!(shell.2["AccountName"], "svc-web");
    // A summarised row: the connections of the last hour before the newest event, from the
    // streaming export and the CSV export (whose rows are recognised by their columns); the
    // 08:00 connection is older than `ago(1h)`.
    let beacon = hit("0b7e5f3c-2d9a-4c61-9f1e-6a4b8c2d7e10");
    assert_eq!(beacon.2["Connections"], "5");
    let expected: Vec<(String, u64)> =
        [(csv, 1), (stream, 1), (stream, 2), (stream, 3), (stream, 4)]
            .iter()
            .map(|(f, i)| (f.to_string(), *i))
            .collect();
    assert_eq!(beacon.1, expected);
    // A join: the process row and the network row it made.
    let joined = hit("shell-connects-out");
    assert_eq!(
        joined.1,
        vec![(stream.to_string(), 0), (stream.to_string(), 1)]
    );
    assert_eq!(joined.2["RemotePort"], "80");
    let rule = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule_id"] == "web-server-spawns-shell")
        .unwrap();
    assert_eq!(rule["top_values"]["User"][0]["value"], "svc-web");
    assert_eq!(rule["first_seen"], "2025-11-20T10:00:01Z");
}

const SEED_KQL: &str = "fixtures/rules/kql/suspicious-arcsoc-child-process.kql";

/// The warnings of a scan report with `code`.
fn warnings<'r>(report: &'r serde_json::Value, code: &str) -> Vec<&'r serde_json::Value> {
    report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == code)
        .collect()
}

#[test]
fn improcesscreate_queries_read_recorded_sysmon_and_security_events_as_asim_normalises_them() {
    // The ArcSOC seed's KQL conversion, as published, over the seed attack recorded by Sysmon
    // and by the Security log: the whoami child fires, `cmd.exe /c "ver"` does not.
    for file in [
        "fixtures/logs/jsonl/sysmon-flat.jsonl",
        "fixtures/logs/jsonl/sysmon-winlogbeat-raw.jsonl",
        "fixtures/logs/jsonl/security-4688-winlogbeat.jsonl",
        "fixtures/logs/jsonl/security-4688-sentinel.jsonl",
    ] {
        let (code, report) = scan_json(&["--rules", SEED_KQL, file]);
        assert_eq!(code, 0, "{file}");
        let hits = kql_hits(&report);
        assert_eq!(hits.len(), 1, "{file}: {hits:#?}");
        let file_name = file.rsplit('/').next().unwrap().to_string();
        assert_eq!(hits[0].1, vec![(file_name, 1)], "{file}");
        assert_eq!(
            hits[0].2["TargetProcessCommandLine"],
            "cmd.exe /c whoami /all"
        );
        assert!(warnings(&report, "LOG0012").is_empty(), "{file}: {report}");
    }
    // Under another of its names, with the hit traced to its event.
    let dir = tempfile::tempdir().unwrap();
    let query = dir.path().join("alias.kql");
    std::fs::write(
        &query,
        "_Im_ProcessCreate\n| where TargetProcessCommandLine has 'whoami'\n",
    )
    .unwrap();
    let (_, report) = scan_json(&[
        "--rules",
        query.to_str().unwrap(),
        "fixtures/logs/jsonl/sysmon-flat.jsonl",
    ]);
    let hits = kql_hits(&report);
    assert_eq!(
        hits.iter().map(|h| h.1.clone()).collect::<Vec<_>>(),
        vec![vec![("sysmon-flat.jsonl".to_string(), 1)]],
        "{report}"
    );
}

#[test]
fn a_query_over_a_table_no_scanned_event_feeds_is_warned_about_not_silently_quiet() {
    // ECS documents are no ASIM source, and Sysmon events are no Defender rows.
    for (rules, file, table) in [
        (
            SEED_KQL,
            "fixtures/logs/jsonl/sysmon-ecs.jsonl",
            "imProcessCreate",
        ),
        (
            "fixtures/logs/rules-kql/web-server-spawns-shell.kql",
            "fixtures/logs/jsonl/sysmon-flat.jsonl",
            "DeviceProcessEvents",
        ),
    ] {
        let (code, report) = scan_json(&["--rules", rules, file]);
        assert_eq!(code, 0, "{file}");
        assert!(kql_hits(&report).is_empty(), "{file}");
        let warned = warnings(&report, "LOG0012");
        assert_eq!(warned.len(), 1, "{file}: {report}");
        let message = warned[0]["message"].as_str().unwrap();
        assert!(message.contains(&format!("`{table}`")), "{message}");
        assert!(
            warned[0]["file"]
                .as_str()
                .unwrap()
                .ends_with(rules.rsplit('/').next().unwrap()),
            "{}",
            warned[0]
        );
    }
    // Many queries over one empty table: one warning per table, listing their files.
    let (_, report) = scan_json(&[
        "--rules",
        KQL_RULES,
        "fixtures/logs/jsonl/sysmon-flat.jsonl",
    ]);
    let warned = warnings(&report, "LOG0012");
    let process = warned
        .iter()
        .find(|w| {
            w["message"]
                .as_str()
                .unwrap()
                .contains("`DeviceProcessEvents`")
        })
        .unwrap_or_else(|| panic!("{report}"));
    assert!(
        process["message"]
            .as_str()
            .unwrap()
            .starts_with("2 queries read"),
        "{process}"
    );
    assert_eq!(process["notes"].as_array().unwrap().len(), 2, "{process}");
    assert_eq!(warned.len(), 2, "one per table: {report}");
}

#[test]
fn sigma_rules_whose_log_source_no_scanned_event_had_are_warned_about_in_one_warning() {
    let (_, report) = scan_json(&[
        "--rules",
        "fixtures/logs/rules",
        "fixtures/logs/jsonl/sysmon-flat.jsonl",
    ]);
    let warned = warnings(&report, "LOG0013");
    assert_eq!(warned.len(), 1, "{report}");
    assert!(
        warned[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("2 of 4 Sigma rules apply to none of the 3 scanned events"),
        "{}",
        warned[0]
    );
    let notes: Vec<&str> = warned[0]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[0].contains("category: registry_set"), "{notes:?}");
    assert!(notes[1].contains("service: wmi"), "{notes:?}");
    // The seed rule meets the process creations it is for: nothing to warn about.
    let (_, report) = scan_json(&[
        "--rules",
        SEED_RULE,
        "fixtures/logs/jsonl/sysmon-flat.jsonl",
    ]);
    assert!(warnings(&report, "LOG0013").is_empty(), "{report}");
    // No event read at all: nothing a rule could have met, and nothing to say about rules.
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let (_, report) = scan_json(&["--rules", "fixtures/logs/rules", empty.to_str().unwrap()]);
    assert_eq!(report["summary"]["events"], 0, "{report}");
    assert!(warnings(&report, "LOG0013").is_empty(), "{report}");
}

#[test]
fn kql_now_is_the_latest_event_time_unless_pinned() {
    let (_, report) = scan_json(&[
        "--rules",
        KQL_RULES,
        "--now",
        "2025-11-20T11:30:00Z",
        HUNTING,
    ]);
    let hits = kql_hits(&report);
    assert!(
        !hits
            .iter()
            .any(|h| h.0 == "0b7e5f3c-2d9a-4c61-9f1e-6a4b8c2d7e10"),
        "an hour before 11:30 holds no connection: {hits:#?}"
    );
    let (code, _, stderr) =
        firedrill(&["scan", "--rules", KQL_RULES, "--now", "yesterday", HUNTING]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn kql_rules_that_do_not_resolve_fail_to_load_and_sigma_rules_still_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("typo.kql"),
        "DeviceProcessEvents | where ProcesCommandLine has \"whoami\"",
    )
    .unwrap();
    let rules = dir.path().display().to_string();
    let (code, report) = scan_json(&[
        "--rules",
        &rules,
        "--rules",
        SEED_RULE,
        "fixtures/logs/defender",
        "fixtures/logs/jsonl/sysmon-flat.jsonl",
    ]);
    assert_eq!(code, 1);
    assert_eq!(report["summary"]["rules"], 1);
    assert_eq!(report["summary"]["rules_failed"], 1);
    // The seed on the Sysmon line and on the Defender row of each of the three exports.
    assert_eq!(report["summary"]["matches"], 4);
    let errors: Vec<&str> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert!(
        errors.iter().all(|c| c.starts_with("KQL")) && !errors.is_empty(),
        "{errors:?}"
    );
}

// ---- the per-rule cap on listed matches (`--max-matches-per-rule`) ----

const CAPPED: &str = "fixtures/logs/max-matches";

/// `--max-matches-per-rule N` and `--allowlist FILE` as a case of `expected.json` asks.
fn cap_args(case: &serde_json::Value) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(n) = case.get("max_matches_per_rule") {
        args.extend(["--max-matches-per-rule".to_string(), n.to_string()]);
    }
    if let Some(file) = case["allowlist"].as_str() {
        args.extend(["--allowlist".to_string(), format!("{CAPPED}/{file}")]);
    }
    args
}

/// The listed matches of `rule_id` as `file stem:index`, in report order.
fn listed_of(report: &serde_json::Value, rule_id: &str) -> Vec<String> {
    report["matches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["rule_id"] == rule_id)
        .map(|m| {
            let source = m["source"].as_str().unwrap();
            let stem = source
                .rsplit('/')
                .next()
                .unwrap()
                .trim_end_matches(".jsonl");
            format!("{stem}:{}", m["index"])
        })
        .collect()
}

fn cap_expected() -> serde_json::Value {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("{CAPPED}/expected.json")),
    )
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn cap_cases() -> Vec<serde_json::Value> {
    cap_expected()["cases"].as_array().unwrap().clone()
}

#[test]
fn scans_list_each_rules_earliest_matches_and_count_the_rest_whatever_the_threads_and_file_order() {
    let rules = format!("{CAPPED}/rules");
    let east = format!("{CAPPED}/logs/east.jsonl");
    let west = format!("{CAPPED}/logs/west.jsonl");
    for case in cap_cases() {
        let name = case["name"].as_str().unwrap();
        let mut reports = Vec::new();
        for threads in ["1", "2"] {
            for files in [[&east, &west], [&west, &east]] {
                let extra = cap_args(&case);
                let mut args = vec!["--rules", &rules, "--threads", threads];
                args.extend(extra.iter().map(String::as_str));
                args.extend(files.iter().map(|f| f.as_str()));
                let (code, report) = scan_json(&args);
                let run = format!("{name} (threads {threads}, {})", files[0]);
                assert_eq!(code, 0, "{run}");
                for key in ["matches", "omitted", "allowlisted", "max_matches_per_rule"] {
                    assert_eq!(
                        report["summary"][key], case["summary"][key],
                        "{run}: summary.{key}"
                    );
                }
                let expected_rules = case["rules"].as_object().unwrap();
                assert_eq!(
                    report["rules"].as_array().unwrap().len(),
                    expected_rules.len()
                );
                for (id, want) in expected_rules {
                    let rule = report["rules"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|r| r["rule_id"] == id.as_str())
                        .unwrap_or_else(|| panic!("{run}: no rule {id}"));
                    assert_eq!(rule["hits"], want["hits"], "{run}: {id} hits");
                    assert_eq!(rule["omitted"], want["omitted"], "{run}: {id} omitted");
                    let listed: Vec<&str> = want["listed"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|l| l.as_str().unwrap())
                        .collect();
                    assert_eq!(listed_of(&report, id), listed, "{run}: {id} listed");
                }
                // The whole list is in time order, undated matches last.
                let times: Vec<Option<&str>> = report["matches"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["timestamp"].as_str())
                    .collect();
                let mut sorted = times.clone();
                sorted.sort_by_key(|t| (t.is_none(), *t));
                assert_eq!(times, sorted, "{run}");
                reports.push(report);
            }
        }
        for report in &reports[1..] {
            assert_eq!(report["matches"], reports[0]["matches"], "{name}");
            assert_eq!(report["rules"], reports[0]["rules"], "{name}");
        }
    }
}

#[test]
fn markdown_and_html_reviews_say_how_many_matches_each_rule_left_out() {
    let cases = cap_cases();
    let case = cases
        .iter()
        .find(|c| c["max_matches_per_rule"] == 2 && c.get("allowlist").is_none())
        .unwrap();
    let summary = &case["summary"];
    let totals = format!(
        "{} matches ({} not listed: at most 2 per rule)",
        summary["matches"], summary["omitted"]
    );
    for format in ["md", "html"] {
        let rules = format!("{CAPPED}/rules");
        let logs = format!("{CAPPED}/logs");
        let (code, text, stderr) = firedrill(&[
            "scan",
            "--format",
            format,
            "--max-matches-per-rule",
            "2",
            "--rules",
            &rules,
            &logs,
        ]);
        assert_eq!(code, 0, "{stderr}");
        let flat = text.replace("<b>", "").replace("</b>", "");
        assert!(flat.contains(&totals), "{format}: {totals}\n{text}");
        for (id, want) in case["rules"].as_object().unwrap() {
            let note = format!(
                "first 2 of {} matches ({} not listed)",
                want["hits"], want["omitted"]
            );
            assert!(text.contains(&note), "{format} {id}: {note}\n{text}");
        }
    }
}

#[test]
fn json_lists_every_match_by_default_and_review_pages_the_earliest_100_per_rule() {
    let expected = cap_expected()["past_the_review_cap"].clone();
    let rules = format!("{CAPPED}/rules");
    let logs = format!("{CAPPED}/{}", expected["logs"].as_str().unwrap());

    let (code, report) = scan_json(&["--rules", &rules, &logs]);
    assert_eq!(code, 0);
    let want = &expected["json_default"];
    for key in ["matches", "omitted", "allowlisted", "max_matches_per_rule"] {
        assert_eq!(
            report["summary"][key], want["summary"][key],
            "summary.{key}"
        );
    }
    for (id, rule_want) in want["rules"].as_object().unwrap() {
        let rule = report["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["rule_id"] == id.as_str())
            .unwrap_or_else(|| panic!("no rule {id}"));
        assert_eq!(rule["hits"], rule_want["hits"], "{id} hits");
        assert_eq!(rule["omitted"], rule_want["omitted"], "{id} omitted");
        assert_eq!(
            listed_of(&report, id).len() as u64,
            rule_want["listed"].as_u64().unwrap(),
            "{id} listed"
        );
    }

    for (extra, want) in [
        (None, &expected["review_default"]),
        (Some("0"), &expected["review_all"]),
    ] {
        for format in ["md", "html"] {
            let mut args = vec!["scan", "--format", format, "--rules", &rules, &logs];
            if let Some(n) = extra {
                args.extend(["--max-matches-per-rule", n]);
            }
            let (code, text, stderr) = firedrill(&args);
            let run = format!("{format} --max-matches-per-rule {extra:?}");
            assert_eq!(code, 0, "{run}: {stderr}");
            let flat = text.replace("<b>", "").replace("</b>", "");
            match want["totals"].as_str() {
                Some(totals) => assert!(flat.contains(totals), "{run}: {totals}\n{text}"),
                // Neither the totals' nor a rule's "(N not listed…" note.
                None => assert!(!flat.contains("not listed:"), "{run}\n{text}"),
            }
            for (id, note) in want["rules"].as_object().unwrap() {
                let note = note.as_str().unwrap();
                assert!(text.contains(note), "{run} {id}: {note}\n{text}");
            }
        }
    }
}

#[test]
fn the_cap_keeps_the_earliest_kql_and_correlation_hits_too() {
    for (rules, logs) in [
        (KQL_RULES, HUNTING),
        (
            "fixtures/logs/rules-correlation",
            "fixtures/logs/jsonl/sysmon-flat.jsonl",
        ),
    ] {
        let (_, all) = scan_json(&["--max-matches-per-rule", "0", "--rules", rules, logs]);
        let (_, one) = scan_json(&["--max-matches-per-rule", "1", "--rules", rules, logs]);
        let all_matches = all["matches"].as_array().unwrap();
        assert!(!all_matches.is_empty(), "{rules}");
        let mut omitted = 0;
        for rule in one["rules"].as_array().unwrap() {
            let id = &rule["rule_id"];
            let hits = rule["hits"].as_u64().unwrap();
            let of = |matches: &serde_json::Value| -> Vec<serde_json::Value> {
                matches
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|m| m["rule_id"] == *id)
                    .cloned()
                    .collect()
            };
            let earliest: Vec<_> = of(&all["matches"]).into_iter().take(1).collect();
            assert_eq!(of(&one["matches"]), earliest, "{rules}: {id}");
            assert_eq!(rule["omitted"].as_u64(), Some(hits.saturating_sub(1)));
            omitted += hits.saturating_sub(1);
        }
        assert_eq!(one["summary"]["omitted"].as_u64(), Some(omitted));
        assert_eq!(one["summary"]["matches"], all["summary"]["matches"]);
    }
}

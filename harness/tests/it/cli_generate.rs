//! `firedrill generate` and `firedrill schema scenario` as a user runs them.

use crate::support::{firedrill, root};

#[test]
fn generate_prints_one_json_event_per_line_with_its_origin() {
    let output = firedrill()
        .current_dir(root())
        .args([
            "generate",
            "scenarios/iis/webshell-cmd-whoami.yaml",
            "--schema",
            "mde",
            "--no-background",
        ])
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect();
    let nodes: Vec<&str> = events
        .iter()
        .map(|e| e["_firedrill"]["node"].as_str().expect("origin node"))
        .collect();
    assert_eq!(nodes, ["cmd", "whoami"]);
    assert_eq!(events[1]["InitiatingProcessFileName"], "cmd.exe");
    assert_eq!(events[1]["InitiatingProcessParentFileName"], "w3wp.exe");
    assert_eq!(events[0]["_firedrill"]["benign"], false);
}

#[test]
fn generate_is_byte_identical_for_a_seed_and_mixes_in_background() {
    let run = |seed: &str| {
        firedrill()
            .current_dir(root())
            .args([
                "generate",
                "scenarios/iis/benign-day.yaml",
                "--schema",
                "sysmon",
                "--seed",
                seed,
            ])
            .output()
            .expect("runs")
            .stdout
    };
    let first = run("5");
    assert_eq!(first, run("5"));
    assert_ne!(first, run("6"));
    let text = String::from_utf8(first).expect("utf-8");
    assert!(text.lines().count() > 50);
    assert!(text.contains("\"node\":\"bg:iis:"));
}

#[test]
fn generate_rejects_a_bad_scenario_with_a_located_diagnostic_and_exit_code_2() {
    let output = firedrill()
        .current_dir(root())
        .args([
            "generate",
            "fixtures/scenarios-bad/08_relative_image_path.yaml",
            "--schema",
            "sysmon",
        ])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error[SCN0007]: relative image path `cmd.exe`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("08_relative_image_path.yaml:10:16"),
        "{stderr}"
    );
}

#[test]
fn generate_reports_an_unreadable_file_and_an_unknown_schema_as_usage_errors() {
    let output = firedrill()
        .args(["generate", "no/such/scenario.yaml", "--schema", "sysmon"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("SCN0000"));
    firedrill()
        .current_dir(root())
        .args([
            "generate",
            "scenarios/iis/webshell-cmd-whoami.yaml",
            "--schema",
            "splunk",
        ])
        .assert()
        .code(2);
}

#[test]
fn asim_source_option_controls_the_grandparent_columns() {
    let run = |source: &str| {
        let out = firedrill()
            .current_dir(root())
            .args([
                "generate",
                "scenarios/iis/webshell-cmd-whoami.yaml",
                "--schema",
                "asim",
                "--no-background",
                "--asim-source",
                source,
            ])
            .output()
            .expect("runs");
        let text = String::from_utf8(out.stdout).expect("utf-8");
        let last: serde_json::Value =
            serde_json::from_str(text.lines().last().expect("events")).expect("json");
        last
    };
    assert_eq!(run("defender")["ParentProcessName"], "w3wp.exe");
    assert!(run("sysmon").get("ParentProcessName").is_none());
    assert_eq!(run("sysmon")["EventProduct"], "Sysmon");
}

#[test]
fn schema_scenario_prints_a_json_schema() {
    let output = firedrill()
        .args(["schema", "scenario"])
        .output()
        .expect("runs");
    assert!(output.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(schema["title"], "firedrill scenario");
    assert!(schema["$defs"]["process"]["properties"]["children"].is_object());
}

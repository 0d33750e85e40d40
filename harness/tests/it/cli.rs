//! `firedrill run` end to end: exit codes 0/1/2, failure messages, and `cargo test` in the example
//! rule repository through `firedrill::testing::main()`.

use crate::support::{firedrill, root};
use std::path::Path;

/// `firedrill run` in `fixtures/harness/<case>`, writing reports into `reports`.
pub fn run_fixture(case: &str, reports: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    firedrill()
        .current_dir(root().join("fixtures/harness").join(case))
        .arg("run")
        .arg("--report")
        .arg(reports)
        .args(extra)
        .assert()
}

fn stdout(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stdout).into_owned()
}

fn stderr(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
}

#[test]
fn every_expectation_holding_exits_0_and_writes_five_reports() {
    let dir = tempfile::tempdir().unwrap();
    let assert = run_fixture("pass", dir.path(), &[]).code(0);
    assert!(
        stdout(&assert).contains("ok: 4 expectations"),
        "{}",
        stdout(&assert)
    );
    for name in firedrill::report::FILES {
        assert!(dir.path().join(name).is_file(), "{name} missing");
    }
}

#[test]
fn a_broken_expectation_exits_1_naming_rule_scenario_node_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let assert = run_fixture("fail", dir.path(), &[]).code(1);
    let out = stdout(&assert);
    for needle in [
        "FAIL rule `Suspicious ArcSOC.exe Child Process`",
        "scenario `ArcGIS Server SOE web shell launches PowerShell` (scenarios/arcsoc.yaml)",
        "expected: fires_on [who]",
        "did not fire on [who], also fired on [ps]",
        "node `who`",
    ] {
        assert!(out.contains(needle), "`{needle}` not in:\n{out}");
    }
}

#[test]
fn a_scenario_that_does_not_load_exits_2_and_the_rest_still_run() {
    let dir = tempfile::tempdir().unwrap();
    let assert = run_fixture("bad-scenario", dir.path(), &[]).code(2);
    assert!(stderr(&assert).contains("procesess"), "{}", stderr(&assert));
    let report = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    let report = firedrill::report::json::parse(&report).unwrap();
    assert_eq!(report.summary.scenarios_failed_to_load, 1);
    assert_eq!(report.summary.passed, 2);
}

#[test]
fn a_bad_configuration_exits_2_with_a_located_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let assert = run_fixture("bad-config", dir.path(), &[]).code(2);
    let err = stderr(&assert);
    assert!(
        err.contains("error[CFG0002]: unknown field `scenaros`"),
        "{err}"
    );
    assert!(err.contains("firedrill.yaml:2:1"), "{err}");
    assert!(err.contains("did you mean `scenarios`?"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    run_fixture("pass", dir.path(), &["--unexpected", "sometimes"]).code(2);
    run_fixture("pass", dir.path(), &["--rules", "no/such/dir"]).code(2);
    let missing = dir.path().join("missing.json");
    run_fixture(
        "pass",
        dir.path(),
        &["--baseline", missing.to_str().unwrap()],
    )
    .code(2);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            if entry.file_name() != "target" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `cargo test` in a copy of `fixtures/example-repo`, built offline into a shared target directory.
fn cargo_test(repo: &Path, args: &[&str]) -> std::process::Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    std::process::Command::new(cargo)
        .current_dir(repo)
        .args(["test", "--offline", "--quiet"])
        .args(args)
        .env("CARGO_TARGET_DIR", root().join("target/example-repo"))
        .env_remove("CARGO_MANIFEST_DIR")
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs")
}

#[test]
fn cargo_test_in_the_example_repository_passes_then_fails_naming_rule_scenario_node_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("example-repo");
    copy_dir(&root().join("fixtures/example-repo"), &repo);
    let manifest = repo.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let absolute = format!("path = {:?}", root().display().to_string());
    std::fs::write(&manifest, text.replace("path = \"../..\"", &absolute)).unwrap();

    let passing = cargo_test(&repo, &[]);
    let out = String::from_utf8_lossy(&passing.stdout);
    assert!(
        passing.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&passing.stderr)
    );
    assert!(out.contains("test result: ok. 4 passed"), "{out}");

    let listed = cargo_test(&repo, &["arcsoc_powershell", "--", "--list"]);
    let list = String::from_utf8_lossy(&listed.stdout);
    assert!(
        list.contains(
            "[sigma] arcsoc_powershell::proc_creation_win_arcsoc_susp_child_process: test"
        ),
        "{list}"
    );
    assert!(!list.contains("arcgis_benign_day"), "{list}");

    let scenario = repo.join("scenarios/arcsoc_powershell.yaml");
    let text = std::fs::read_to_string(&scenario).unwrap();
    std::fs::write(
        &scenario,
        text.replacen("fires_on: [ps]", "fires_on: [who]", 1),
    )
    .unwrap();
    let failing = cargo_test(&repo, &[]);
    let out = String::from_utf8_lossy(&failing.stdout);
    assert!(!failing.status.success(), "{out}");
    for needle in [
        "arcsoc_powershell::proc_creation_win_arcsoc_susp_child_process",
        "rule `Suspicious ArcSOC.exe Child Process`",
        "scenario `ArcGIS Server SOE web shell launches PowerShell`",
        "did not fire on [who]",
        "node `who`",
        "test result: FAILED. 3 passed; 1 failed",
    ] {
        assert!(out.contains(needle), "`{needle}` not in:\n{out}");
    }
}

#[test]
fn required_coverage_fails_rules_without_a_negative_scenario() {
    let dir = tempfile::tempdir().unwrap();
    run_fixture("pass", dir.path(), &["--require-coverage"]).code(0);
    let only_attack = ["--require-coverage", "--scenarios", "scenarios/arcsoc.yaml"];
    let assert = run_fixture("pass", dir.path(), &only_attack).code(1);
    let text = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    let report = firedrill::report::json::parse(&text).unwrap();
    assert_eq!(report.coverage.only_positive.len(), 2);
    assert_eq!(report.summary.coverage_failures, 2);
    let out = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(
        out.contains(
            "coverage: Suspicious ArcSOC.exe Child Process: no scenario where it must stay quiet"
        ),
        "{out}"
    );
}

#[test]
fn a_rule_that_does_not_load_fails_on_its_own_and_the_rest_still_run() {
    let dir = tempfile::tempdir().unwrap();
    let assert = run_fixture("bad-rule", dir.path(), &[]).code(1);
    assert!(stderr(&assert).contains("endwith"), "{}", stderr(&assert));
    let text = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    let report = firedrill::report::json::parse(&text).unwrap();
    assert_eq!(report.summary.rules_failed_to_load, 1);
    assert_eq!((report.summary.passed, report.summary.failed), (4, 0));
    let broken = report.rules.iter().find(|r| r.failed()).unwrap();
    assert_eq!(broken.path, "rules/typo_modifier.yml");
    assert!(
        broken.diagnostics[0].code.starts_with("SIG"),
        "{:?}",
        broken.diagnostics
    );
}

#[test]
fn a_reader_that_stops_reading_ends_the_output_without_a_panic() {
    // Far more output than a pipe buffers, and the read end closed before the first byte is
    // read: every write after the first fills or meets a closed pipe.
    let dir = tempfile::tempdir().unwrap();
    let query = dir.path().join("q.kql");
    std::fs::write(
        &query,
        "range x from 1 to 300000 step 1 | extend y = strcat('row ', x)",
    )
    .unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("firedrill"))
        .args(["kql", "--query"])
        .arg(&query)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[test]
fn diagnostics_to_a_closed_stderr_end_without_a_panic_and_keep_the_exit_code() {
    // 500 rules that fail to load: far more diagnostics than a pipe buffers, on stderr, whose
    // read end is closed before the first byte is read (as in `firedrill lint ... 2>&1 | head`).
    let dir = tempfile::tempdir().unwrap();
    for i in 0..500 {
        std::fs::write(
            dir.path().join(format!("r{i}.yml")),
            format!("title: rule {i}\n"),
        )
        .unwrap();
    }
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("firedrill"))
        .arg("lint")
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "a panic exits 101");
}

//! The reports `firedrill run` writes: the JSON model, JUnit that parses, the baseline diff,
//! the ATT&CK layer, and the HTML page rendered in headless Chromium where it is installed.

use super::cli::run_fixture;
use firedrill::report::{Expected, RunReport, Status};
use std::path::Path;

fn read_report(dir: &Path) -> RunReport {
    let text = std::fs::read_to_string(dir.join("report.json")).unwrap();
    firedrill::report::json::parse(&text).unwrap()
}

#[test]
fn the_json_model_is_versioned_and_names_every_check() {
    let dir = tempfile::tempdir().unwrap();
    run_fixture("pass", dir.path(), &[]).code(0);
    let report = read_report(dir.path());
    assert_eq!(report.format_version, 1);
    assert_eq!(report.summary.expectations, 4);
    assert_eq!(report.summary.passed, 4);
    assert_eq!(report.rules.len(), 2);
    let sigma = report.rule("8e95e73e-ba02-4a87-b4d7-0929b8053038").unwrap();
    // The Detection Rule License requires the author to travel with the rule's results.
    assert_eq!(sigma.author.as_deref(), Some("Micah Babinski"));
    assert_eq!(sigma.schemas.len(), 2);
    let (scenario, check) = report
        .checks()
        .find(|(s, c)| s.file == "scenarios/arcsoc.yaml" && c.rule == sigma.key)
        .unwrap();
    assert_eq!(
        check.expected,
        Some(Expected::FiresOn {
            nodes: vec!["ps".into()]
        })
    );
    let sysmon = &check.renderings[0];
    assert_eq!(sysmon.fired_on, ["ps"]);
    let event = &scenario.events[sysmon.events[0]];
    assert_eq!(event.node, "ps");
    assert!(
        event.fields["Image"]
            .as_str()
            .unwrap()
            .ends_with("powershell.exe")
    );
}

#[test]
fn junit_parses_with_a_suite_per_scenario_file() {
    let dir = tempfile::tempdir().unwrap();
    run_fixture("fail", dir.path(), &[]).code(1);
    let text = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    let junit = quick_junit::Report::deserialize_from_str(&text).unwrap();
    let suites: Vec<&str> = junit.test_suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(suites, ["scenarios/arcsoc.yaml", "scenarios/benign.yaml"]);
    assert_eq!(junit.tests, 4);
    assert_eq!(junit.failures, 1);
}

#[test]
fn the_baseline_diff_reports_newly_failing_and_newly_passing_checks() {
    let dir = tempfile::tempdir().unwrap();
    let (good, bad, back) = (
        dir.path().join("good"),
        dir.path().join("bad"),
        dir.path().join("back"),
    );
    run_fixture("pass", &good, &[]).code(0);
    let baseline = good.join("report.json");
    let assert = run_fixture("fail", &bad, &["--baseline", baseline.to_str().unwrap()]).code(1);
    let out = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(
        out.contains("1 newly failing, 0 newly noisy, 0 newly passing"),
        "{out}"
    );
    let diff = read_report(&bad).baseline.unwrap();
    assert_eq!(diff.newly_failing.len(), 1);
    assert_eq!(diff.newly_failing[0].scenario, "scenarios/arcsoc.yaml");
    assert_eq!(
        diff.newly_failing[0].before,
        Some(Status::Pass),
        "the edited expectation is compared with the one it replaced"
    );
    let markdown = std::fs::read_to_string(bad.join("report.md")).unwrap();
    assert!(markdown.contains("### Against the baseline"), "{markdown}");
    // Fixing it again is newly passing, and not a regression.
    let regressed = bad.join("report.json");
    run_fixture("pass", &back, &["--baseline", regressed.to_str().unwrap()]).code(0);
    assert_eq!(read_report(&back).baseline.unwrap().newly_passing.len(), 1);
}

#[test]
fn the_attack_layer_scores_the_scenarios_techniques() {
    let dir = tempfile::tempdir().unwrap();
    run_fixture("fail", dir.path(), &[]).code(1);
    let text = std::fs::read_to_string(dir.path().join("attack-layer.json")).unwrap();
    let layer: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(layer["versions"]["layer"], "4.5");
    let t = layer["techniques"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["techniqueID"] == "T1059.001")
        .unwrap();
    assert_eq!(t["score"], 0);
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| {
            std::process::Command::new(name)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

/// Runs headless Chromium with `args`, killing it after a minute.
fn headless(browser: &str, args: &[&str]) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-extensions",
            "--no-first-run",
            "--mute-audio",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

#[test]
#[expect(clippy::print_stdout, reason = "the skip notice is the test's output")]
fn the_html_page_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        println!(
            "notice: skipping the HTML render check: no chromium on PATH (apt-get install chromium)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    run_fixture("fail", dir.path(), &[]).code(1);
    let page = dir.path().join("report.html");
    let url = format!("file://{}", page.display());
    let dom = headless(browser, &["--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("<table class=\"matrix\">"),
        "no matrix in the rendered DOM:\n{dom}"
    );
    assert!(dom.contains("Suspicious ArcSOC.exe Child Process"));
    let shot = dir.path().join("report.png");
    headless(
        browser,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,900",
            &url,
        ],
    );
    let png = std::fs::read(&shot).unwrap_or_default();
    assert!(png.starts_with(b"\x89PNG"), "no screenshot written");
    assert!(
        png.len() > 10_000,
        "the screenshot is suspiciously small: {} bytes",
        png.len()
    );
}

#[test]
fn kql_explanations_use_the_clock_the_query_ran_with() {
    let dir = tempfile::tempdir().unwrap();
    run_fixture("clock", dir.path(), &[]).code(0);
    let report = read_report(dir.path());
    let (_, check) = report
        .checks()
        .find(|(s, c)| s.file.ends_with("arcsoc.yaml") && c.rule == "recent-powershell")
        .unwrap();
    assert_eq!(check.status, Status::Warn);
    let rendering = &check.renderings[0];
    assert_eq!(rendering.fired_on, ["ps"]);
    let trace = &rendering.explain[0].trace;
    assert!(trace.contains("✓ | where Timestamp > ago(1h)"), "{trace}");
    assert!(
        trace.ends_with("✓ a result row comes from the event\n"),
        "{trace}"
    );
}

#[test]
fn a_newly_noisy_rule_is_a_regression_even_when_every_expectation_holds() {
    let dir = tempfile::tempdir().unwrap();
    let (before, after) = (dir.path().join("before"), dir.path().join("after"));
    run_fixture("clock", &before, &[]).code(0);
    run_fixture("pass", &after, &[]).code(0);
    // Against a baseline without the noisy query, it is new noise: exit 1.
    let baseline = after.join("report.json");
    run_fixture(
        "clock",
        &dir.path().join("noisy"),
        &["--baseline", baseline.to_str().unwrap()],
    )
    .code(1);
    let diff = read_report(&dir.path().join("noisy")).baseline.unwrap();
    assert_eq!(diff.newly_noisy.len(), 1);
    assert_eq!(diff.newly_noisy[0].rule, "recent-powershell");
    assert!(diff.newly_failing.is_empty());
    // Against itself, nothing changed.
    let same = before.join("report.json");
    run_fixture(
        "clock",
        &dir.path().join("same"),
        &["--baseline", same.to_str().unwrap()],
    )
    .code(0);
}

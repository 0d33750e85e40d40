//! JUnit XML through quick-junit: a test suite per scenario file, a test case per expectation.
//!
//! Checks without an expectation appear only when the rule fired (a warning or a failure under
//! the strictness policy); rules that failed to load get a suite of their own.

use super::{RunReport, Status, describe_check};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

/// The report as JUnit XML.
pub fn render(report: &RunReport) -> String {
    let mut junit = Report::new("firedrill");
    let broken: Vec<_> = report.rules.iter().filter(|r| r.failed()).collect();
    if !broken.is_empty() {
        let mut suite = TestSuite::new("rules");
        for rule in broken {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            let text: String = rule.diagnostics.iter().map(|d| d.render()).collect();
            status
                .set_message(format!("rule failed to load: {}", first_line(&text)))
                .set_type("load")
                .set_description(text);
            let mut case = TestCase::new(format!("load {}", rule.path), status);
            case.set_classname(format!("rules.{}", rule.language));
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    for scenario in &report.scenarios {
        let mut suite = TestSuite::new(scenario.file.as_str());
        if !scenario.diagnostics.is_empty() {
            let text: String = scenario.diagnostics.iter().map(|d| d.render()).collect();
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status
                .set_message(format!("scenario failed to load: {}", first_line(&text)))
                .set_type("load")
                .set_description(text);
            let mut case = TestCase::new("load", status);
            case.set_classname(scenario.slug.as_str());
            suite.add_test_case(case);
        }
        for check in &scenario.checks {
            if check.expected.is_none() && !check.fired() {
                continue;
            }
            let rule = report.rule(&check.rule);
            let slug = rule.map_or(check.rule.as_str(), |r| r.slug.as_str());
            let name = match &check.expected {
                Some(expected) => format!("{slug}: {expected}"),
                None => format!("{slug}: no expectation"),
            };
            let status = match check.status {
                Status::Pass | Status::Silent => TestCaseStatus::success(),
                Status::NotApplicable => {
                    let mut status = TestCaseStatus::skipped();
                    status.set_message(check.message.as_str());
                    status
                }
                // JUnit has no warning: a warned check passes, its text travels in system-out.
                Status::Warn => TestCaseStatus::success(),
                Status::Fail | Status::Error => {
                    let kind = if check.status == Status::Fail {
                        NonSuccessKind::Failure
                    } else {
                        NonSuccessKind::Error
                    };
                    let mut status = TestCaseStatus::non_success(kind);
                    status
                        .set_message(check.message.as_str())
                        .set_type(if check.expected.is_some() {
                            "expectation"
                        } else {
                            "unexpected"
                        })
                        .set_description(describe_check(report.rule(&check.rule), scenario, check));
                    status
                }
            };
            let mut case = TestCase::new(name, status);
            case.set_classname(scenario.slug.as_str());
            if check.status == Status::Warn {
                case.set_system_out(format!(
                    "warning: {}\n{}",
                    check.message,
                    describe_check(report.rule(&check.rule), scenario, check)
                ));
            }
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    let mut text = junit.to_string().unwrap_or_default();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_has_a_suite_per_scenario_file_and_parses_back() {
        let report = crate::report::sample::report();
        let text = render(&report);
        let parsed = Report::deserialize_from_str(&text).unwrap();
        let names: Vec<&str> = parsed.test_suites.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "rules",
                "scenarios/arcgis/arcsoc_powershell.yaml",
                "scenarios/iis/webshell_whoami.yaml",
                "scenarios/broken.yaml"
            ]
        );
        assert_eq!(parsed.tests, 7);
        assert_eq!(parsed.failures, 1);
        assert_eq!(parsed.errors, 2);
        insta::assert_snapshot!("report_junit", text);
    }
}

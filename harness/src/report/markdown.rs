//! `report.md`: a summary fit for a pull-request comment.
//!
//! The headline says pass or fail; tables list failures, warnings, load errors, coverage gaps and
//! the baseline diff; a per-scenario table follows; the full traces of failures sit in a
//! collapsed `<details>` block so the comment stays short.

use super::page::{md_cell as cell, md_table};
use super::{RunReport, Status, describe_check};
use std::fmt::Write as _;

/// The report as Markdown.
pub fn render(report: &RunReport) -> String {
    let s = &report.summary;
    let mut out = String::new();
    let verdict = if s.ok() { "passed" } else { "failed" };
    let _ = writeln!(out, "## firedrill run: {verdict}\n");
    let mut line = format!(
        "{} expectations over {} scenarios and {} rules: {} passed, {} failed",
        s.expectations, s.scenarios, s.rules, s.passed, s.failed
    );
    let mut extras = Vec::new();
    for (n, what) in [
        (s.warnings, "warnings"),
        (s.unexpected_fires, "unexpected fires"),
        (s.not_applicable, "not applicable"),
        (s.rules_failed_to_load, "rules that failed to load"),
        (s.scenarios_failed_to_load, "scenarios that failed to load"),
        (s.coverage_failures, "rules lacking coverage"),
        (s.regressions, "regressions against the baseline"),
    ] {
        if n > 0 {
            extras.push(format!("{what}: {n}"));
        }
    }
    if !extras.is_empty() {
        let _ = write!(line, " ({})", extras.join(", "));
    }
    let _ = writeln!(out, "{line}.\n");

    let mut failures = Vec::new();
    let mut warnings = Vec::new();
    for (scenario, check) in report.checks() {
        let rule = report.rule(&check.rule);
        let row = format!(
            "| `{}` | {} | {} | {} |",
            scenario.slug,
            cell(&rule.map_or(check.rule.clone(), |r| format!(
                "{} ({})",
                r.title, r.language
            ))),
            cell(&expected_with_note(check)),
            cell(&what_happened(check)),
        );
        match check.status {
            Status::Fail | Status::Error => failures.push((row, scenario, check)),
            Status::Warn => warnings.push(row),
            _ => {}
        }
    }
    let header = "| scenario | rule | expected | what happened |\n|---|---|---|---|";
    if !failures.is_empty() {
        let _ = writeln!(out, "### Failures\n\n{header}");
        for (row, _, _) in &failures {
            let _ = writeln!(out, "{row}");
        }
        out.push('\n');
    }
    if !warnings.is_empty() {
        let _ = writeln!(out, "### Warnings\n\n{header}");
        for row in &warnings {
            let _ = writeln!(out, "{row}");
        }
        out.push('\n');
    }

    let broken_rules: Vec<_> = report.rules.iter().filter(|r| r.failed()).collect();
    let broken_scenarios: Vec<_> = report
        .scenarios
        .iter()
        .filter(|s| !s.diagnostics.is_empty())
        .collect();
    if !broken_rules.is_empty() || !broken_scenarios.is_empty() || !report.diagnostics.is_empty() {
        let _ = writeln!(out, "### Load errors\n");
        let files = broken_rules
            .iter()
            .map(|r| (r.path.as_str(), &r.diagnostics))
            .chain(
                broken_scenarios
                    .iter()
                    .map(|s| (s.file.as_str(), &s.diagnostics)),
            );
        for (file, diagnostics) in files {
            for d in diagnostics {
                let at = d
                    .location
                    .as_ref()
                    .map_or(String::new(), |l| format!(":{}:{}", l.line, l.column));
                let _ = writeln!(out, "- `{file}{at}`: {} {}", d.code, d.message);
            }
        }
        for d in &report.diagnostics {
            let _ = writeln!(out, "- {} {}", d.code, d.message);
        }
        out.push('\n');
    }

    let coverage = &report.coverage;
    if !coverage.untested.is_empty()
        || !coverage.only_positive.is_empty()
        || !coverage.only_negative.is_empty()
    {
        let required = if coverage.required { " (required)" } else { "" };
        let _ = writeln!(out, "### Coverage{required}\n");
        for (keys, what) in [
            (&coverage.untested, "no scenario expects anything of"),
            (&coverage.only_positive, "only positive expectations for"),
            (&coverage.only_negative, "only negative expectations for"),
        ] {
            if !keys.is_empty() {
                let titles: Vec<String> = keys.iter().map(|k| cell(report.rule_title(k))).collect();
                if titles.len() > 8 {
                    let _ = writeln!(
                        out,
                        "- <details><summary>{what} {} rules</summary>{}</details>",
                        keys.len(),
                        titles.join(", ")
                    );
                } else {
                    let _ = writeln!(out, "- {what} {} rules: {}", keys.len(), titles.join(", "));
                }
            }
        }
        out.push('\n');
    }

    if let Some(diff) = &report.baseline {
        let _ = writeln!(out, "### Against the baseline\n");
        for (entries, what) in [
            (&diff.newly_failing, "newly failing"),
            (&diff.newly_noisy, "newly noisy"),
            (&diff.newly_passing, "newly passing"),
        ] {
            let _ = writeln!(out, "- {what}: {}", entries.len());
            for e in entries {
                let _ = writeln!(out, "  - `{}` × {}", e.scenario, report.rule_title(&e.rule));
            }
        }
        out.push('\n');
    }

    out.push_str("### Scenarios\n\n");
    out.push_str(&md_table(
        &["scenario", "result", "pass", "fail", "warn"],
        report.scenarios.iter().map(|scenario| {
            let count = |status| {
                scenario
                    .checks
                    .iter()
                    .filter(|c| c.status == status)
                    .count()
            };
            [
                format!("`{}`", scenario.slug),
                scenario.status().to_string(),
                count(Status::Pass).to_string(),
                (count(Status::Fail) + count(Status::Error)).to_string(),
                count(Status::Warn).to_string(),
            ]
        }),
    ));
    if !failures.is_empty() {
        let _ = writeln!(
            out,
            "\n<details><summary>Why the failures failed</summary>\n\n```text"
        );
        for (_, scenario, check) in &failures {
            let _ = writeln!(
                out,
                "{}",
                describe_check(report.rule(&check.rule), scenario, check)
            );
        }
        let _ = writeln!(out, "```\n\n</details>");
    }
    out
}

/// The expectation, with its note when the scenario gives one.
fn expected_with_note(check: &super::CheckReport) -> String {
    match (&check.expected, &check.note) {
        (None, _) => "nothing".to_string(),
        (Some(e), None) => e.to_string(),
        (Some(e), Some(note)) => format!("{e} (note: {note})"),
    }
}

fn what_happened(check: &super::CheckReport) -> String {
    if check.expected.is_none() {
        return check.message.clone();
    }
    // When the primary rendering holds, the others' gaps are said by what they fired on (the
    // expected column already states the expectation); otherwise each failing rendering's reason,
    // once (the message may already be the primary's reason).
    let portability = check
        .renderings
        .first()
        .is_some_and(|r| r.status == Status::Pass);
    let reasons: Vec<String> = check
        .renderings
        .iter()
        .filter(|r| r.status.is_failure() || r.status == Status::Warn)
        .map(|r| match &r.reason {
            Some(reason) if !portability || r.status == Status::Error => {
                format!("{}: {reason}", r.schema)
            }
            _ if r.fired_on.is_empty() => format!("{} fired on nothing", r.schema),
            _ => format!("{} fired on [{}]", r.schema, r.fired_on.join(", ")),
        })
        .filter(|text| *text != check.message)
        .collect();
    if reasons.is_empty() {
        check.message.clone()
    } else if portability {
        format!("{} ({})", check.message, reasons.join("; "))
    } else if check.renderings.len() == 1 {
        reasons.join("; ")
    } else {
        format!("{}; {}", check.message, reasons.join("; "))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn markdown_summary_lists_failures_warnings_and_load_errors() {
        let report = crate::report::sample::report();
        let text = super::render(&report);
        assert!(text.starts_with("## firedrill run: failed"));
        insta::assert_snapshot!("report_markdown", text);
    }

    #[test]
    fn a_warning_row_carries_the_expectations_note() {
        let mut report = crate::report::sample::report();
        let check = report
            .scenarios
            .iter_mut()
            .flat_map(|s| s.checks.iter_mut())
            .find(|c| c.expected.is_some())
            .expect("the sample has an expectation");
        check.status = crate::report::Status::Warn;
        check.note = Some("sysmon only | no OriginalFileName in 4688".into());
        let text = super::render(&report);
        let row = text
            .lines()
            .find(|l| l.contains("(note: sysmon only"))
            .expect("a row with the note");
        assert!(
            row.contains("(note: sysmon only \\| no OriginalFileName in 4688)"),
            "{row}"
        );
    }
}

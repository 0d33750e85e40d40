//! `report.md`: a summary fit for a pull-request comment.
//!
//! The headline says pass or fail; tables list failures, warnings, load errors, coverage gaps and
//! the baseline diff; a per-scenario table follows; the full traces of failures sit in a
//! collapsed `<details>` block so the comment stays short.

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
            check
                .expected
                .as_ref()
                .map_or("nothing".to_string(), |e| cell(&e.to_string())),
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

    let _ = writeln!(
        out,
        "### Scenarios\n\n| scenario | result | pass | fail | warn |\n|---|---|---|---|---|"
    );
    for scenario in &report.scenarios {
        let count = |status| {
            scenario
                .checks
                .iter()
                .filter(|c| c.status == status)
                .count()
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            scenario.slug,
            scenario.status(),
            count(Status::Pass),
            count(Status::Fail) + count(Status::Error),
            count(Status::Warn),
        );
    }
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

fn what_happened(check: &super::CheckReport) -> String {
    if check.expected.is_none() {
        return check.message.clone();
    }
    let reasons: Vec<String> = check
        .renderings
        .iter()
        .filter(|r| r.status.is_failure() || r.status == Status::Warn)
        .map(|r| match &r.reason {
            Some(reason) => format!("{}: {reason}", r.schema),
            None => format!("{}: fired on [{}]", r.schema, r.fired_on.join(", ")),
        })
        .collect();
    if reasons.is_empty() {
        check.message.clone()
    } else if check.renderings.len() == 1 {
        reasons.join("; ")
    } else {
        format!("{}; {}", check.message, reasons.join("; "))
    }
}

/// Escapes a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
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
}

//! `report.html`: one self-contained page (inline CSS, a few lines of inline script, no assets).
//!
//! A scenario × rule matrix up top, each cell coloured by the check's status and linking to its
//! drill-down: the expectation, the outcome per rendering, the engine's explain traces and the
//! events that matter, field by field. Load errors, coverage and the baseline diff follow.

use super::page::{self, esc};
use super::{CheckReport, EventRecord, RunReport, ScenarioReport, Status, describe_check, worst};
use std::fmt::Write as _;

const SCRIPT: &str = r#"
function openTarget() {
  var id = decodeURIComponent(location.hash.slice(1));
  var el = id && document.getElementById(id);
  if (el && el.tagName === 'DETAILS') { el.open = true; el.scrollIntoView(); }
}
window.addEventListener('hashchange', openTarget);
window.addEventListener('DOMContentLoaded', openTarget);
"#;

fn class(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Warn => "warn",
        Status::NotApplicable => "not-applicable",
        Status::Error => "error",
        Status::Silent => "silent",
    }
}

fn symbol(status: Status) -> &'static str {
    match status {
        Status::Pass => "✓",
        Status::Fail => "✗",
        Status::Warn => "!",
        Status::NotApplicable => "–",
        Status::Error => "E",
        Status::Silent => "·",
    }
}

fn badge(status: Status) -> String {
    format!("<span class=\"badge {}\">{}</span>", class(status), status)
}

fn check_id(scenario: usize, rule: usize) -> String {
    format!("s{scenario}-r{rule}")
}

/// The report as one HTML page.
pub fn render(report: &RunReport) -> String {
    let s = &report.summary;
    let verdict = if s.ok() { "passed" } else { "failed" };
    let mut out = page::head(&format!("firedrill report: {verdict}"), "", Some(SCRIPT));
    let _ = writeln!(
        out,
        "<h1>firedrill report <span class=\"verdict {verdict}\">{verdict}</span></h1>\n<p class=\"muted\">{}{} · seed {}</p>",
        esc(&report.tool),
        report
            .generated_at
            .as_deref()
            .map_or(String::new(), |t| format!(" · {}", esc(t))),
        report.seed
    );
    let _ = writeln!(
        out,
        "<p class=\"counts\"><span><b>{}</b> scenarios</span><span><b>{}</b> rules</span><span><b>{}</b> expectations</span><span><b>{}</b> passed</span><span><b>{}</b> failed</span><span><b>{}</b> warnings</span><span><b>{}</b> unexpected fires</span><span><b>{}</b> not applicable</span><span><b>{}</b> rules and <b>{}</b> scenarios failed to load</span></p>",
        s.scenarios,
        s.rules,
        s.expectations,
        s.passed,
        s.failed,
        s.warnings,
        s.unexpected_fires,
        s.not_applicable,
        s.rules_failed_to_load,
        s.scenarios_failed_to_load
    );
    matrix(report, &mut out);
    load_errors(report, &mut out);
    for (i, scenario) in report.scenarios.iter().enumerate() {
        scenario_section(report, i, scenario, &mut out);
    }
    coverage(report, &mut out);
    baseline(report, &mut out);
    out.push_str(page::FOOT);
    out
}

fn matrix(report: &RunReport, out: &mut String) {
    let _ = writeln!(
        out,
        "<h2 id=\"matrix\">Scenarios × rules</h2>\n<p class=\"legend\">"
    );
    for status in [
        Status::Pass,
        Status::Fail,
        Status::Warn,
        Status::Error,
        Status::NotApplicable,
        Status::Silent,
    ] {
        let _ = write!(
            out,
            "<span class=\"badge {}\">{} {}</span>",
            class(status),
            symbol(status),
            status
        );
    }
    let _ = writeln!(out, "</p>\n<table class=\"matrix\">\n<thead><tr><th></th>");
    for rule in &report.rules {
        let _ = write!(
            out,
            "<th class=\"rule\" title=\"{} ({}, {})\">{}</th>",
            esc(&rule.title),
            rule.language,
            esc(&rule.path),
            esc(&rule.title)
        );
    }
    let _ = writeln!(out, "</tr></thead>\n<tbody>");
    for (i, scenario) in report.scenarios.iter().enumerate() {
        let _ = write!(
            out,
            "<tr><th class=\"scenario\"><a href=\"#s{i}\">{}</a></th>",
            esc(&scenario.slug)
        );
        for (j, rule) in report.rules.iter().enumerate() {
            let checks: Vec<&CheckReport> = scenario
                .checks
                .iter()
                .filter(|c| c.rule == rule.key)
                .collect();
            if checks.is_empty() {
                out.push_str("<td class=\"cell\"></td>");
                continue;
            }
            let status = worst(checks.iter().map(|c| c.status));
            let messages: Vec<String> = checks
                .iter()
                .map(|c| format!("{} ({})", c.status, c.message))
                .collect();
            let title = format!(
                "{} × {}: {}",
                scenario.slug,
                rule.title,
                messages.join("; ")
            );
            let _ = write!(
                out,
                "<td class=\"cell {}\" title=\"{}\"><a href=\"#{}\">{}</a></td>",
                class(status),
                esc(&title),
                check_id(i, j),
                symbol(status)
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

fn load_errors(report: &RunReport, out: &mut String) {
    let rendered: Vec<String> = report
        .diagnostics
        .iter()
        .chain(report.rules.iter().flat_map(|r| &r.diagnostics))
        .chain(report.scenarios.iter().flat_map(|s| &s.diagnostics))
        .map(|d| d.render())
        .collect();
    if rendered.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<h2 id=\"load-errors\">Load errors</h2>\n<pre>{}</pre>",
        esc(&rendered.join("\n"))
    );
}

fn scenario_section(report: &RunReport, i: usize, scenario: &ScenarioReport, out: &mut String) {
    let _ = writeln!(
        out,
        "<h2 id=\"s{i}\">{} {}</h2>\n<p><code>{}</code>{}</p>",
        esc(&scenario.name),
        badge(scenario.status()),
        esc(&scenario.file),
        if scenario.techniques.is_empty() {
            String::new()
        } else {
            format!(" · ATT&amp;CK {}", esc(&scenario.techniques.join(", ")))
        }
    );
    if !scenario.description.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", esc(&scenario.description));
    }
    for check in scenario
        .checks
        .iter()
        .filter(|c| report.rule(&c.rule).is_none())
    {
        check_details(report, scenario, check, &format!("s{i}-unknown"), out);
    }
    for (j, rule) in report.rules.iter().enumerate() {
        let checks = scenario.checks.iter().filter(|c| c.rule == rule.key);
        for (k, check) in checks.enumerate() {
            if check.status == Status::Silent && check.expected.is_none() {
                continue;
            }
            let id = match k {
                0 => check_id(i, j),
                k => format!("{}-{k}", check_id(i, j)),
            };
            check_details(report, scenario, check, &id, out);
        }
    }
    let silent = scenario
        .checks
        .iter()
        .filter(|c| c.status == Status::Silent && c.expected.is_none())
        .count();
    if silent > 0 {
        let _ = writeln!(
            out,
            "<p class=\"muted\">{silent} rules with no expectation here stayed silent.</p>"
        );
    }
}

fn check_details(
    report: &RunReport,
    scenario: &ScenarioReport,
    check: &CheckReport,
    id: &str,
    out: &mut String,
) {
    let open = if check.status.is_failure() {
        " open"
    } else {
        ""
    };
    let title = report.rule_title(&check.rule);
    let expected = check
        .expected
        .as_ref()
        .map_or("no expectation".to_string(), ToString::to_string);
    let _ = writeln!(
        out,
        "<details class=\"check\" id=\"{id}\"{open}>\n<summary>{} <b>{}</b> · expected {} · {}</summary>",
        badge(check.status),
        esc(title),
        esc(&expected),
        esc(&check.message)
    );
    if let Some(note) = &check.note {
        let _ = writeln!(out, "<p class=\"note\">note: {}</p>", esc(note));
    }
    if !check.renderings.is_empty() {
        out.push_str(&page::html_table(
            "data",
            &["rendering", "result", "matches", "fired on", "why"],
            check.renderings.iter().map(|r| {
                [
                    r.schema.to_string(),
                    badge(r.status),
                    r.matches.to_string(),
                    esc(&r.fired_on.join(", ")),
                    esc(r.reason.as_deref().unwrap_or("")),
                ]
            }),
        ));
    }
    for r in &check.renderings {
        for e in &r.explain {
            let verdict = if e.matched {
                "matched"
            } else {
                "did not match"
            };
            let _ = writeln!(
                out,
                "<p><b>{}</b>: node <code>{}</code> {verdict}</p>\n<pre>{}</pre>",
                r.schema,
                esc(&e.node),
                esc(&e.trace)
            );
            if let Some(event) = e.event.and_then(|i| scenario.events.get(i)) {
                event_table(event, out);
            }
        }
        let explained: Vec<usize> = r.explain.iter().filter_map(|e| e.event).collect();
        for index in r.events.iter().filter(|i| !explained.contains(i)) {
            if let Some(event) = scenario.events.get(*index) {
                let _ = writeln!(
                    out,
                    "<p><b>{}</b>: matched node <code>{}</code></p>",
                    r.schema,
                    esc(&event.node)
                );
                event_table(event, out);
            }
        }
    }
    if check.status.is_failure() {
        let _ = writeln!(
            out,
            "<details><summary>as text</summary><pre>{}</pre></details>",
            esc(&describe_check(report.rule(&check.rule), scenario, check))
        );
    }
    out.push_str("</details>\n");
}

fn event_table(event: &EventRecord, out: &mut String) {
    let _ = writeln!(
        out,
        "<details><summary>{} event #{} · node <code>{}</code>{}</summary>\n<table class=\"data fields\">",
        event.schema,
        event.index,
        esc(&event.node),
        if event.benign { " · benign" } else { "" }
    );
    if let Some(fields) = event.fields.as_object() {
        for (name, value) in fields {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td><code>{}</code></td></tr>",
                esc(name),
                esc(&text)
            );
        }
    }
    out.push_str("</table></details>\n");
}

fn coverage(report: &RunReport, out: &mut String) {
    let c = &report.coverage;
    if c.untested.is_empty() && c.only_positive.is_empty() && c.only_negative.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<h2 id=\"coverage\">Coverage{}</h2>",
        if c.required { " (required)" } else { "" }
    );
    for (keys, what) in [
        (&c.untested, "No scenario expects anything of"),
        (&c.only_positive, "Only positive expectations for"),
        (&c.only_negative, "Only negative expectations for"),
    ] {
        if keys.is_empty() {
            continue;
        }
        let _ = writeln!(out, "<p>{what} {} rules:</p><ul>", keys.len());
        for key in keys {
            let _ = writeln!(out, "<li>{}</li>", esc(report.rule_title(key)));
        }
        out.push_str("</ul>\n");
    }
}

fn baseline(report: &RunReport, out: &mut String) {
    let Some(diff) = &report.baseline else {
        return;
    };
    let _ = writeln!(
        out,
        "<h2 id=\"baseline\">Against <code>{}</code></h2>",
        esc(&diff.baseline)
    );
    for (entries, what) in [
        (&diff.newly_failing, "Newly failing"),
        (&diff.newly_noisy, "Newly noisy"),
        (&diff.newly_passing, "Newly passing"),
    ] {
        let _ = writeln!(out, "<p>{what}: {}</p><ul>", entries.len());
        for e in entries {
            let _ = writeln!(
                out,
                "<li><code>{}</code> × {}</li>",
                esc(&e.scenario),
                esc(report.rule_title(&e.rule))
            );
        }
        out.push_str("</ul>\n");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_is_self_contained_and_links_every_cell_to_its_drill_down() {
        let report = crate::report::sample::report();
        let text = super::render(&report);
        for external in ["<link", "src=\"http", "href=\"http", "@import", "url("] {
            assert!(!text.contains(external), "external reference {external}");
        }
        for anchor in ["href=\"#s0-r0\"", "id=\"s0-r0\"", "id=\"s0-r1\" open"] {
            assert!(text.contains(anchor), "{anchor} missing");
        }
        assert!(text.contains("ParentImage|endswith"));
        assert!(text.contains("&lt;") || !text.contains("<query>"));
        insta::assert_snapshot!("report_html", text);
    }
}

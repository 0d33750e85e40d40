//! Baseline diff: what changed since an earlier `report.json` (newly failing, passing, noisy).
//!
//! Checks are matched by scenario file, rule key and position among that rule's checks in the
//! scenario (so an edited expectation is compared with what it replaced). A check counts as noisy when
//! its rule fired on a scenario with no expectation for it. Regressions are the newly failing
//! and the newly noisy checks; `firedrill run --baseline` exits non-zero when there are any.

use super::{CheckReport, Expected, RunReport, Status};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a run differs from its baseline.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineDiff {
    /// Where the baseline came from (as given on the command line).
    pub baseline: String,
    /// Expectations that fail now and did not fail (or did not exist) before.
    pub newly_failing: Vec<DiffEntry>,
    /// Expectations that pass now and failed before.
    pub newly_passing: Vec<DiffEntry>,
    /// Rules that fire now where nothing is expected of them, and did not before.
    pub newly_noisy: Vec<DiffEntry>,
}

impl BaselineDiff {
    /// The number of regressions: newly failing plus newly noisy.
    pub fn regressions(&self) -> usize {
        self.newly_failing.len() + self.newly_noisy.len()
    }
}

/// One check that changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffEntry {
    /// The scenario file.
    pub scenario: String,
    /// The rule's key.
    pub rule: String,
    /// The expectation, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expected>,
    /// The status in the baseline, when the check existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Status>,
    /// The status now.
    pub now: Status,
}

type Key = (String, String, usize);

/// Every check of `report` keyed by scenario file, rule key and ordinal among that rule's checks.
fn keyed(report: &RunReport) -> Vec<(Key, &CheckReport)> {
    let mut out = Vec::new();
    for scenario in &report.scenarios {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for check in &scenario.checks {
            let n = seen.entry(check.rule.as_str()).or_default();
            out.push(((scenario.file.clone(), check.rule.clone(), *n), check));
            *n += 1;
        }
    }
    out
}

fn noisy(check: &CheckReport) -> bool {
    check.expected.is_none() && check.fired() && matches!(check.status, Status::Warn | Status::Fail)
}

/// Compares `current` with `baseline`; `label` names the baseline in the result.
pub fn diff(baseline: &RunReport, current: &RunReport, label: &str) -> BaselineDiff {
    let before: BTreeMap<Key, &CheckReport> = keyed(baseline).into_iter().collect();
    let mut result = BaselineDiff {
        baseline: label.to_string(),
        ..BaselineDiff::default()
    };
    for (key, check) in keyed(current) {
        let old = before.get(&key).copied();
        let entry = || DiffEntry {
            scenario: key.0.clone(),
            rule: check.rule.clone(),
            expected: check.expected.clone(),
            before: old.map(|c| c.status),
            now: check.status,
        };
        if check.expected.is_none() {
            if noisy(check) && !old.is_some_and(noisy) {
                result.newly_noisy.push(entry());
            }
        } else if check.status.is_failure() {
            if !old.is_some_and(|c| c.status.is_failure()) {
                result.newly_failing.push(entry());
            }
        } else if check.status == Status::Pass && old.is_some_and(|c| c.status.is_failure()) {
            result.newly_passing.push(entry());
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    #[test]
    fn a_report_against_itself_has_no_changes() {
        let report = sample::report();
        let d = diff(&report, &report, "same");
        assert_eq!(d.regressions(), 0);
        assert!(d.newly_passing.is_empty());
    }

    #[test]
    fn fixed_broken_and_noisy_checks_are_classified() {
        let before = sample::report();
        let mut now = before.clone();
        // The failing KQL expectation now holds; the quiet Defender query now fails.
        now.scenarios[0].checks[1].status = Status::Pass;
        now.scenarios[0].checks[2].status = Status::Fail;
        // The silent Sigma rule now fires on the IIS scenario.
        now.scenarios[1].checks[0].status = Status::Warn;
        now.scenarios[1].checks[0].renderings[0].matches = 1;
        let d = diff(&before, &now, "last-week/report.json");
        let rules =
            |entries: &[DiffEntry]| entries.iter().map(|e| e.rule.clone()).collect::<Vec<_>>();
        assert_eq!(rules(&d.newly_passing), ["suspicious-arcsoc-child-process"]);
        assert_eq!(
            rules(&d.newly_failing),
            ["7fdc5f4a-700d-4713-abfc-181f02968726"]
        );
        assert_eq!(
            rules(&d.newly_noisy),
            ["8e95e73e-ba02-4a87-b4d7-0929b8053038"]
        );
        assert_eq!(d.regressions(), 2);
        assert_eq!(d.newly_failing[0].before, Some(Status::Pass));
    }
}

//! The correlation engine: windows per (correlation, group) over rule matches in time order.
//!
//! Decisions where the spec is silent (pinned by the conformance suite):
//! - `group-by` is optional: without it every occurrence falls in one group.
//! - An occurrence missing a group-by field is not counted (as `stats … by` drops it).
//! - Conditions that can only grow true (`gt`, `gte` on counts and sums, temporal types) fire as
//!   soon as they hold, then the group's window restarts. Others (`lt`, `lte`, `eq`, `neq`,
//!   averages, percentiles) are decided when the window closes: when an occurrence arrives
//!   after the first one's time plus the timespan, or at the end of the input.
//! - `value_percentile`: the share (in percent) of the window's occurrences whose field value
//!   equals the newest occurrence's value, compared with the condition (the spec's "rare
//!   process" example: `lte: 1`).
//! - Events without a timestamp take the previous event's time.

use super::rule::{Correlation, CorrelationType, RuleIndex};
use crate::expr::NumOp;
use std::collections::{HashMap, VecDeque};

/// A correlation ready to run.
#[derive(Clone, Debug)]
pub struct CorrDef {
    /// The correlation rule.
    pub rule: RuleIndex,
    /// Its section.
    pub spec: Correlation,
    /// The referenced rules, resolved, in the order written.
    pub inputs: Vec<RuleIndex>,
    /// Per input: alias name → field.
    pub alias_fields: Vec<HashMap<String, String>>,
}

impl CorrDef {
    /// The field holding group-by name `g` in occurrences of input `pos`.
    pub fn group_field<'a>(&'a self, pos: usize, g: &'a str) -> &'a str {
        self.alias_fields[pos].get(g).map_or(g, String::as_str)
    }

    fn monotone(&self) -> bool {
        match self.spec.kind {
            CorrelationType::Temporal | CorrelationType::TemporalOrdered => {
                self.spec.condition.as_ref().is_none_or(|c| {
                    c.checks
                        .iter()
                        .all(|(op, _)| matches!(op, NumOp::Gt | NumOp::Gte))
                })
            }
            CorrelationType::EventCount
            | CorrelationType::ValueCount
            | CorrelationType::ValueSum => self.spec.condition.as_ref().is_some_and(|c| {
                c.checks
                    .iter()
                    .all(|(op, _)| matches!(op, NumOp::Gt | NumOp::Gte))
            }),
            CorrelationType::ValueAvg | CorrelationType::ValuePercentile => false,
        }
    }
}

/// One rule match fed into a correlation.
#[derive(Clone, Debug)]
pub struct Occurrence {
    /// When (milliseconds since the epoch).
    pub time: i64,
    /// Which input of the correlation.
    pub input: usize,
    /// The input events that make it.
    pub events: Vec<usize>,
    /// The value of `condition.field`, when the type needs one.
    pub value: Option<String>,
}

/// A correlation that fired.
#[derive(Clone, Debug, PartialEq)]
pub struct Fired {
    /// The correlation rule.
    pub rule: RuleIndex,
    /// The group-by values.
    pub group: Vec<(String, String)>,
    /// The events, sorted.
    pub events: Vec<usize>,
    /// The time of the newest occurrence.
    pub time: i64,
}

#[derive(Debug, Default)]
struct Window {
    group: Vec<(String, String)>,
    entries: VecDeque<Occurrence>,
}

/// Running state of every correlation.
#[derive(Debug, Default)]
pub struct State {
    windows: HashMap<(usize, Vec<String>), Window>,
}

fn holds(checks: &[(NumOp, f64)], value: f64) -> bool {
    checks.iter().all(|(op, n)| op.apply(value, *n))
}

fn measure(def: &CorrDef, entries: &[&Occurrence]) -> Option<f64> {
    let values = || entries.iter().filter_map(|e| e.value.as_deref());
    let numbers = || values().filter_map(|v| v.trim().parse::<f64>().ok());
    Some(match def.spec.kind {
        CorrelationType::EventCount => entries.len() as f64,
        CorrelationType::ValueCount => {
            let mut distinct: Vec<&str> = values().collect();
            distinct.sort_unstable();
            distinct.dedup();
            distinct.len() as f64
        }
        CorrelationType::ValueSum => numbers().sum(),
        CorrelationType::ValueAvg => {
            let n = numbers().count();
            if n == 0 {
                return None;
            }
            numbers().sum::<f64>() / n as f64
        }
        CorrelationType::ValuePercentile => {
            let newest = entries.last()?.value.as_deref()?;
            let same = values().filter(|v| *v == newest).count();
            100.0 * same as f64 / entries.len() as f64
        }
        CorrelationType::Temporal => {
            let mut seen: Vec<usize> = entries.iter().map(|e| e.input).collect();
            seen.sort_unstable();
            seen.dedup();
            seen.len() as f64
        }
        CorrelationType::TemporalOrdered => {
            // Greedy: the longest prefix of the inputs seen in order.
            let mut next = 0;
            for e in entries {
                if e.input == next {
                    next += 1;
                    if next == def.inputs.len() {
                        break;
                    }
                }
            }
            next as f64
        }
    })
}

fn satisfied(def: &CorrDef, entries: &[&Occurrence]) -> bool {
    let Some(value) = measure(def, entries) else {
        return false;
    };
    match &def.spec.condition {
        Some(c) => holds(&c.checks, value),
        None => value >= def.inputs.len() as f64,
    }
}

impl State {
    /// Feeds one occurrence of correlation `index` in group `group`; returns what fired.
    pub fn push(
        &mut self,
        index: usize,
        def: &CorrDef,
        group: Vec<(String, String)>,
        occurrence: Occurrence,
    ) -> Vec<Fired> {
        let span_ms = def.spec.timespan * 1000;
        let key = (index, group.iter().map(|(_, v)| v.clone()).collect());
        let window = self.windows.entry(key).or_insert_with(|| Window {
            group: group.clone(),
            entries: VecDeque::new(),
        });
        let mut fired = Vec::new();
        let now = occurrence.time;
        if def.monotone() {
            while window
                .entries
                .front()
                .is_some_and(|e| e.time < now - span_ms)
            {
                window.entries.pop_front();
            }
            window.entries.push_back(occurrence);
            let entries: Vec<&Occurrence> = window.entries.iter().collect();
            if satisfied(def, &entries) {
                fired.push(fire(def, &group, &entries));
                window.entries.clear();
            }
        } else {
            while window
                .entries
                .front()
                .is_some_and(|first| now > first.time + span_ms)
            {
                if let Some(f) = close(def, &group, window) {
                    fired.push(f);
                }
            }
            window.entries.push_back(occurrence);
        }
        fired
    }

    /// Closes every open window (end of input) and returns what fired.
    pub fn finish(&mut self, defs: &[CorrDef]) -> Vec<Fired> {
        let mut keys: Vec<(usize, Vec<String>)> = self.windows.keys().cloned().collect();
        keys.sort();
        let mut fired = Vec::new();
        for key in keys {
            let def = &defs[key.0];
            if def.monotone() {
                continue;
            }
            if let Some(window) = self.windows.get_mut(&key) {
                let group = window.group.clone();
                while !window.entries.is_empty() {
                    if let Some(f) = close(def, &group, window) {
                        fired.push(f);
                    }
                }
            }
        }
        fired
    }
}

/// Evaluates the window anchored at the first entry and drops its entries.
fn close(def: &CorrDef, group: &[(String, String)], window: &mut Window) -> Option<Fired> {
    let start = window.entries.front()?.time;
    let end = start + def.spec.timespan * 1000;
    let n = window.entries.iter().take_while(|e| e.time <= end).count();
    let entries: Vec<Occurrence> = window.entries.drain(..n).collect();
    let refs: Vec<&Occurrence> = entries.iter().collect();
    satisfied(def, &refs).then(|| fire(def, group, &refs))
}

fn fire(def: &CorrDef, group: &[(String, String)], entries: &[&Occurrence]) -> Fired {
    let used: Vec<&Occurrence> = if def.spec.kind == CorrelationType::TemporalOrdered {
        // Only the occurrences that form the ordered sequence; a repeated step keeps its latest.
        let mut chosen: Vec<&Occurrence> = Vec::new();
        for e in entries {
            if e.input == chosen.len() {
                chosen.push(e);
            } else if e.input + 1 == chosen.len() {
                chosen.pop();
                chosen.push(e);
            }
            if chosen.len() == def.inputs.len() {
                break;
            }
        }
        chosen
    } else {
        entries.to_vec()
    };
    let entries = &used[..];
    let mut events: Vec<usize> = entries
        .iter()
        .flat_map(|e| e.events.iter().copied())
        .collect();
    events.sort_unstable();
    events.dedup();
    Fired {
        rule: def.rule,
        group: group.to_vec(),
        events,
        time: entries.last().map_or(0, |e| e.time),
    }
}

//! Expectation checking: one rule's hits on a scenario's renderings against what the scenario expects.
//!
//! Pure: the detector evaluates, this module compares and explains. Per rendering the outcome is
//! pass or fail against the expectation (or silent / noisy without one); across renderings the
//! first is primary and a gap on another is a portability finding, handled by policy.

use super::config::Policy;
use crate::diag::Diagnostic;
use crate::event::{Event, LogSchema};
use crate::report::{
    CheckReport, EventRecord, Expected, Explanation, RenderingReport, Status, worst,
};
use chrono::{DateTime, Utc};
use std::any::Any;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};

/// A scenario rendered into the schemas its rules need, with the clock KQL's `now()` reads.
#[derive(Debug, Default)]
pub struct Renderings {
    /// The events per schema, in time order.
    pub events: BTreeMap<LogSchema, Vec<Event>>,
    /// The end of the scenario's timeline: `now()` and `ago()` are pinned to it.
    pub clock: Option<DateTime<Utc>>,
    /// Results shared by detectors of one engine (a Sigma rule set evaluates all its rules in
    /// one pass), keyed by the engine's identity and the schema.
    memo: Mutex<HashMap<(usize, LogSchema), Arc<dyn Any + Send + Sync>>>,
}

impl Renderings {
    /// Renderings of `events` with `clock`.
    pub fn new(events: BTreeMap<LogSchema, Vec<Event>>, clock: Option<DateTime<Utc>>) -> Self {
        Renderings {
            events,
            clock,
            memo: Mutex::default(),
        }
    }

    /// The value computed once per (`engine`, `schema`) for these renderings: `compute` runs on
    /// the first call, later calls share its result.
    pub fn memo<T: Any + Send + Sync>(
        &self,
        engine: usize,
        schema: LogSchema,
        compute: impl FnOnce() -> T,
    ) -> Arc<T> {
        let key = (engine, schema);
        if let Some(hit) = self.memo.lock().ok().and_then(|m| m.get(&key).cloned())
            && let Ok(value) = hit.downcast::<T>()
        {
            return value;
        }
        let value = Arc::new(compute());
        if let Ok(mut memo) = self.memo.lock() {
            memo.insert(key, Arc::clone(&value) as Arc<dyn Any + Send + Sync>);
        }
        value
    }

    /// The events of one schema, when it was rendered.
    pub fn get(&self, schema: &LogSchema) -> Option<&Vec<Event>> {
        self.events.get(schema)
    }

    /// True when `schema` was rendered.
    pub fn contains_key(&self, schema: &LogSchema) -> bool {
        self.events.contains_key(schema)
    }

    /// The event `at` points to.
    pub fn event(&self, at: EventRef) -> Option<&Event> {
        self.events.get(&at.schema).and_then(|e| e.get(at.index))
    }
}

/// One event of one rendering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventRef {
    /// The rendering.
    pub schema: LogSchema,
    /// The position in it.
    pub index: usize,
}

/// One match of a rule: the events that produced it (one for a Sigma detection; a KQL row's
/// sources; a correlation's group).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hit {
    /// The events behind the match.
    pub events: Vec<EventRef>,
}

/// A loaded rule, ready to evaluate over renderings.
pub trait Detector: Send + Sync + fmt::Debug {
    /// The rule's matches on the `schema` rendering (KQL: the tables bound to `renderings`,
    /// with `schema` the primary one).
    fn evaluate(
        &self,
        schema: LogSchema,
        renderings: &Renderings,
    ) -> Result<Vec<Hit>, Box<Diagnostic>>;

    /// Why the rule does or does not match `event` of the `schema` rendering, as trace lines;
    /// `renderings` gives the context (the clock a KQL query's `ago()` reads).
    fn explain(&self, schema: LogSchema, event: &Event, renderings: &Renderings) -> Option<String>;
}

/// The strictness settings a check needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policies {
    /// A fire without an expectation.
    pub unexpected: Policy,
    /// A rendering that disagrees with the primary one.
    pub portability: Policy,
}

/// At most this many explanations per rendering.
const MAX_EXPLAIN: usize = 4;

/// The events a scenario report carries: each referenced event once.
#[derive(Debug, Default)]
pub struct EventTable {
    records: Vec<EventRecord>,
    index: BTreeMap<EventRef, usize>,
}

impl EventTable {
    /// The record index of `event`, adding it on first use.
    pub fn intern(&mut self, at: EventRef, event: &Event) -> usize {
        if let Some(i) = self.index.get(&at) {
            return *i;
        }
        let origin = event.origin.as_ref();
        self.records.push(EventRecord {
            schema: at.schema,
            index: at.index,
            node: origin.map_or_else(String::new, |o| o.node.clone()),
            benign: origin.is_some_and(|o| o.benign),
            fields: Event {
                origin: None,
                ..event.clone()
            }
            .to_json(),
        });
        self.index.insert(at, self.records.len() - 1);
        self.records.len() - 1
    }

    /// The records, in first-use order.
    pub fn into_records(self) -> Vec<EventRecord> {
        self.records
    }
}

/// What to check: one rule against one scenario.
#[derive(Clone, Copy, Debug)]
pub struct CheckInput<'a> {
    /// The rule's report key.
    pub rule: &'a str,
    /// The renderings to check on, primary first; empty when none serves the rule.
    pub schemas: &'a [LogSchema],
    /// Why no rendering serves the rule, when `schemas` is empty.
    pub not_applicable: &'a str,
    /// The rule.
    pub detector: &'a dyn Detector,
    /// What the scenario expects, if anything.
    pub expected: Option<&'a Expected>,
    /// The scenario's renderings.
    pub renderings: &'a Renderings,
    /// The scenario's node ids in tree order, for stable listings.
    pub nodes: &'a [String],
    /// The strictness settings.
    pub policies: Policies,
}

/// Checks one rule on one scenario.
pub fn check(input: &CheckInput<'_>, table: &mut EventTable) -> CheckReport {
    let mut report = CheckReport {
        rule: input.rule.to_string(),
        expected: input.expected.cloned(),
        note: None,
        status: Status::NotApplicable,
        message: String::new(),
        renderings: Vec::new(),
        diagnostics: Vec::new(),
    };
    let schemas: Vec<LogSchema> = input
        .schemas
        .iter()
        .copied()
        .filter(|s| input.renderings.contains_key(s))
        .collect();
    if schemas.is_empty() {
        report.message = format!("not applicable: {}", input.not_applicable);
        return report;
    }
    for schema in &schemas {
        let rendering = match input.detector.evaluate(*schema, input.renderings) {
            Ok(hits) => judge(input, *schema, &hits, table),
            Err(diagnostic) => RenderingReport {
                schema: *schema,
                status: Status::Error,
                matches: 0,
                fired_on: Vec::new(),
                events: Vec::new(),
                reason: Some(format!(
                    "evaluation failed: [{}] {}",
                    diagnostic.code, diagnostic.message
                )),
                explain: Vec::new(),
            },
        };
        report.renderings.push(rendering);
    }
    combine(input, &mut report);
    report
}

fn judge(
    input: &CheckInput<'_>,
    schema: LogSchema,
    hits: &[Hit],
    table: &mut EventTable,
) -> RenderingReport {
    let events_of = |at: &EventRef| {
        input
            .renderings
            .get(&at.schema)
            .and_then(|e| e.get(at.index))
    };
    let matched: BTreeSet<EventRef> = hits.iter().flat_map(|h| h.events.iter().copied()).collect();
    let fired: BTreeSet<String> = matched
        .iter()
        .filter_map(|at| {
            events_of(at)
                .and_then(|e| e.origin.as_ref())
                .map(|o| o.node.clone())
        })
        .collect();
    let fired_on = order_nodes(&fired, input.nodes);
    let mut rendering = RenderingReport {
        schema,
        status: Status::Pass,
        matches: hits.len(),
        fired_on: fired_on.clone(),
        events: matched
            .iter()
            .filter_map(|at| events_of(at).map(|e| table.intern(*at, e)))
            .collect(),
        reason: None,
        explain: Vec::new(),
    };
    let fired_text = |nodes: &[String]| {
        if nodes.is_empty() {
            "fired on nothing".to_string()
        } else {
            format!("fired on [{}]", nodes.join(", "))
        }
    };
    // Events to explain: (node filter, matched?) pairs chosen per failure kind.
    let mut explain_nodes: Vec<(String, bool)> = Vec::new();
    match input.expected {
        Some(Expected::FiresOn { nodes }) => {
            let want: BTreeSet<String> = nodes.iter().cloned().collect();
            let missing = order_nodes(&want.difference(&fired).cloned().collect(), input.nodes);
            let extra = order_nodes(&fired.difference(&want).cloned().collect(), input.nodes);
            if !missing.is_empty() || !extra.is_empty() {
                rendering.status = Status::Fail;
                let mut parts = Vec::new();
                if !missing.is_empty() {
                    parts.push(format!("did not fire on [{}]", missing.join(", ")));
                }
                if !extra.is_empty() {
                    parts.push(format!("also fired on [{}]", extra.join(", ")));
                }
                rendering.reason = Some(format!(
                    "expected fires on [{}], {}: {}",
                    nodes.join(", "),
                    fired_text(&fired_on),
                    parts.join(", ")
                ));
                explain_nodes.extend(missing.into_iter().map(|n| (n, false)));
                explain_nodes.extend(extra.into_iter().map(|n| (n, true)));
            }
        }
        Some(Expected::Fires) => {
            if hits.is_empty() {
                rendering.status = Status::Fail;
                rendering.reason = Some("expected to fire, fired on nothing".into());
                explain_nodes.extend(attack_nodes(input, schema).into_iter().map(|n| (n, false)));
            }
        }
        Some(Expected::Count { count }) => {
            if hits.len() != *count {
                rendering.status = Status::Fail;
                rendering.reason = Some(format!(
                    "expected {count} matches, got {} ({})",
                    hits.len(),
                    fired_text(&fired_on)
                ));
                if hits.len() > *count {
                    explain_nodes.extend(fired_on.iter().map(|n| (n.clone(), true)));
                } else {
                    explain_nodes
                        .extend(attack_nodes(input, schema).into_iter().map(|n| (n, false)));
                }
            }
        }
        Some(Expected::Quiet) => {
            if !hits.is_empty() {
                rendering.status = Status::Fail;
                rendering.reason = Some(format!("expected quiet, {}", fired_text(&fired_on)));
                explain_nodes.extend(fired_on.iter().map(|n| (n.clone(), true)));
            }
        }
        None => {
            rendering.status = if hits.is_empty() {
                Status::Silent
            } else {
                match input.policies.unexpected {
                    Policy::Fail => Status::Fail,
                    Policy::Warn => Status::Warn,
                    Policy::Ignore => Status::Silent,
                }
            };
            if !hits.is_empty() && input.policies.unexpected != Policy::Ignore {
                rendering.reason = Some(format!("no expectation, {}", fired_text(&fired_on)));
                explain_nodes.extend(fired_on.iter().map(|n| (n.clone(), true)));
            }
        }
    }
    if rendering.status == Status::Pass
        || rendering.status.is_failure()
        || rendering.status == Status::Warn
    {
        if rendering.status == Status::Pass {
            // A pass explains its first match, so the report can show why it fired.
            explain_nodes.extend(fired_on.first().map(|n| (n.clone(), true)));
        }
        explain(
            input,
            schema,
            &matched,
            &explain_nodes,
            table,
            &mut rendering,
        );
    }
    rendering
}

/// The non-benign scenario nodes with an event in the rendering: the ones that should fire.
fn attack_nodes(input: &CheckInput<'_>, schema: LogSchema) -> Vec<String> {
    let present: BTreeSet<String> = input
        .renderings
        .get(&schema)
        .into_iter()
        .flatten()
        .filter_map(|e| e.origin.as_ref())
        .filter(|o| !o.benign)
        .map(|o| o.node.clone())
        .collect();
    order_nodes(&present, input.nodes)
}

fn explain(
    input: &CheckInput<'_>,
    schema: LogSchema,
    matched: &BTreeSet<EventRef>,
    nodes: &[(String, bool)],
    table: &mut EventTable,
    rendering: &mut RenderingReport,
) {
    let Some(events) = input.renderings.get(&schema) else {
        return;
    };
    for (node, want_matched) in nodes.iter().take(MAX_EXPLAIN) {
        let found = events.iter().enumerate().find(|(index, event)| {
            event.origin.as_ref().is_some_and(|o| &o.node == node)
                && matched.contains(&EventRef {
                    schema,
                    index: *index,
                }) == *want_matched
        });
        let Some((index, event)) = found else {
            if !*want_matched {
                rendering.explain.push(Explanation {
                    event: None,
                    node: node.clone(),
                    matched: false,
                    trace: format!("no {schema} event records node `{node}`"),
                });
            }
            continue;
        };
        let at = EventRef { schema, index };
        let trace = input
            .detector
            .explain(schema, event, input.renderings)
            .unwrap_or_else(|| "(the engine gave no explanation)".to_string());
        rendering.explain.push(Explanation {
            event: Some(table.intern(at, event)),
            node: node.clone(),
            matched: *want_matched,
            trace,
        });
    }
}

/// `nodes` in scenario order, then any others (background entries) sorted.
fn order_nodes(nodes: &BTreeSet<String>, order: &[String]) -> Vec<String> {
    let mut out: Vec<String> = order
        .iter()
        .filter(|n| nodes.contains(*n))
        .cloned()
        .collect();
    out.extend(nodes.iter().filter(|n| !order.contains(n)).cloned());
    out
}

fn combine(input: &CheckInput<'_>, report: &mut CheckReport) {
    let primary = &report.renderings[0];
    let others = &report.renderings[1..];
    let describe = |r: &RenderingReport| match &r.reason {
        Some(reason) => reason.clone(),
        None if r.fired_on.is_empty() => "did not fire".to_string(),
        None => format!("fired on [{}]", r.fired_on.join(", ")),
    };
    if input.expected.is_none() {
        report.status = worst(report.renderings.iter().map(|r| r.status));
        report.message = match report.renderings.iter().find(|r| r.matches > 0) {
            Some(r) if report.status != Status::Silent => format!(
                "fired without an expectation on [{}] ({})",
                r.fired_on.join(", "),
                r.schema
            ),
            Some(_) => "fired without an expectation (ignored by policy)".to_string(),
            None => "did not fire".to_string(),
        };
        if report.renderings.iter().any(|r| r.status == Status::Error) {
            report.status = Status::Error;
        }
        return;
    }
    if primary.status != Status::Pass {
        report.status = primary.status;
        report.message = format!("{}: {}", primary.schema, describe(primary));
        return;
    }
    let gaps: Vec<&RenderingReport> = others.iter().filter(|r| r.status != Status::Pass).collect();
    if gaps.is_empty() {
        report.status = Status::Pass;
        report.message = match input.expected {
            Some(Expected::Quiet) => "quiet as expected".to_string(),
            _ => describe(primary),
        };
        return;
    }
    let names: Vec<&str> = gaps.iter().map(|r| r.schema.as_str()).collect();
    report.message = format!(
        "holds on {} but not on {}",
        primary.schema,
        names.join(", ")
    );
    report.status = if gaps.iter().any(|r| r.status == Status::Error) {
        Status::Error
    } else {
        match input.policies.portability {
            Policy::Fail => Status::Fail,
            Policy::Warn => Status::Warn,
            Policy::Ignore => Status::Pass,
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Origin;

    /// Matches events whose `Image` ends with a suffix; the sysmon rendering only has `Image`.
    #[derive(Debug)]
    struct EndsWith(&'static str);

    impl Detector for EndsWith {
        fn evaluate(
            &self,
            schema: LogSchema,
            renderings: &Renderings,
        ) -> Result<Vec<Hit>, Box<Diagnostic>> {
            Ok(renderings.events[&schema]
                .iter()
                .enumerate()
                .filter(|(_, e)| {
                    e.get("Image")
                        .and_then(|v| v.as_str())
                        .is_some_and(|i| i.ends_with(self.0))
                })
                .map(|(index, _)| Hit {
                    events: vec![EventRef { schema, index }],
                })
                .collect())
        }

        fn explain(&self, _schema: LogSchema, event: &Event, _: &Renderings) -> Option<String> {
            Some(match event.get("Image").and_then(|v| v.as_str()) {
                Some(image) => format!("Image|endswith '{}': {}", self.0, image.ends_with(self.0)),
                None => format!("Image|endswith '{}': false (field absent)", self.0),
            })
        }
    }

    fn event(schema: LogSchema, node: &str, benign: bool, image: &str) -> Event {
        let mut e = Event::new(schema);
        if schema == LogSchema::Sysmon {
            e = e.with("Image", image);
        } else {
            e = e.with("NewProcessName", image);
        }
        e.origin = Some(Origin {
            scenario: "s".into(),
            node: node.into(),
            benign,
        });
        e
    }

    fn renderings() -> Renderings {
        let mut r = Renderings::default();
        for schema in [LogSchema::Sysmon, LogSchema::Security4688] {
            r.events.insert(
                schema,
                vec![
                    event(schema, "ver", true, "C:\\Windows\\System32\\cmd.exe"),
                    event(schema, "ps", false, "C:\\Windows\\System32\\powershell.exe"),
                    event(schema, "who", false, "C:\\Windows\\System32\\whoami.exe"),
                ],
            );
        }
        r
    }

    fn run(
        detector: &dyn Detector,
        expected: Option<Expected>,
        schemas: &[LogSchema],
        policies: Policies,
    ) -> CheckReport {
        let renderings = renderings();
        let nodes = ["ver", "ps", "who"].map(String::from);
        let input = CheckInput {
            rule: "r",
            schemas,
            not_applicable: "no rendering serves linux/process_creation",
            detector,
            expected: expected.as_ref(),
            renderings: &renderings,
            nodes: &nodes,
            policies,
        };
        check(&input, &mut EventTable::default())
    }

    const SYSMON: &[LogSchema] = &[LogSchema::Sysmon];

    #[test]
    fn fires_on_passes_on_exactly_the_named_nodes() {
        let r = run(
            &EndsWith("powershell.exe"),
            Some(Expected::FiresOn {
                nodes: vec!["ps".into()],
            }),
            SYSMON,
            Policies::default(),
        );
        assert_eq!(r.status, Status::Pass, "{}", r.message);
        assert_eq!(r.renderings[0].fired_on, ["ps"]);
        assert!(r.renderings[0].explain[0].matched);
    }

    #[test]
    fn fires_on_names_missing_and_extra_nodes_with_traces() {
        let r = run(
            &EndsWith("whoami.exe"),
            Some(Expected::FiresOn {
                nodes: vec!["ps".into()],
            }),
            SYSMON,
            Policies::default(),
        );
        assert_eq!(r.status, Status::Fail);
        let reason = r.renderings[0].reason.as_deref().unwrap();
        assert_eq!(
            reason,
            "expected fires on [ps], fired on [who]: did not fire on [ps], also fired on [who]"
        );
        let explain = &r.renderings[0].explain;
        assert_eq!(
            (explain[0].node.as_str(), explain[0].matched),
            ("ps", false)
        );
        assert_eq!(explain[0].trace, "Image|endswith 'whoami.exe': false");
        assert_eq!(
            (explain[1].node.as_str(), explain[1].matched),
            ("who", true)
        );
    }

    #[test]
    fn fires_count_and_quiet_compare_the_number_of_matches() {
        let exe = EndsWith(".exe");
        assert_eq!(
            run(&exe, Some(Expected::Fires), SYSMON, Policies::default()).status,
            Status::Pass
        );
        assert_eq!(
            run(
                &exe,
                Some(Expected::Count { count: 3 }),
                SYSMON,
                Policies::default()
            )
            .status,
            Status::Pass
        );
        let wrong = run(
            &exe,
            Some(Expected::Count { count: 2 }),
            SYSMON,
            Policies::default(),
        );
        assert_eq!(wrong.status, Status::Fail);
        assert_eq!(
            wrong.renderings[0].reason.as_deref(),
            Some("expected 2 matches, got 3 (fired on [ver, ps, who])")
        );
        let noisy = run(&exe, Some(Expected::Quiet), SYSMON, Policies::default());
        assert_eq!(
            noisy.renderings[0].reason.as_deref(),
            Some("expected quiet, fired on [ver, ps, who]")
        );
        let none = EndsWith("mshta.exe");
        assert_eq!(
            run(&none, Some(Expected::Quiet), SYSMON, Policies::default()).status,
            Status::Pass
        );
        let silent = run(&none, Some(Expected::Fires), SYSMON, Policies::default());
        assert_eq!(silent.status, Status::Fail);
        // The events that should have fired are explained: the non-benign ones.
        let nodes: Vec<_> = silent.renderings[0]
            .explain
            .iter()
            .map(|e| e.node.as_str())
            .collect();
        assert_eq!(nodes, ["ps", "who"]);
    }

    #[test]
    fn unexpected_fires_follow_the_policy() {
        let exe = EndsWith("whoami.exe");
        let with = |unexpected| {
            run(
                &exe,
                None,
                SYSMON,
                Policies {
                    unexpected,
                    ..Policies::default()
                },
            )
            .status
        };
        assert_eq!(with(Policy::Fail), Status::Fail);
        assert_eq!(with(Policy::Warn), Status::Warn);
        assert_eq!(with(Policy::Ignore), Status::Silent);
        assert_eq!(
            run(&EndsWith("x"), None, SYSMON, Policies::default()).status,
            Status::Silent
        );
    }

    #[test]
    fn a_gap_on_a_secondary_rendering_is_a_portability_finding() {
        let both = &[LogSchema::Sysmon, LogSchema::Security4688];
        let expected = Some(Expected::FiresOn {
            nodes: vec!["ps".into()],
        });
        let r = run(
            &EndsWith("powershell.exe"),
            expected.clone(),
            both,
            Policies::default(),
        );
        assert_eq!(r.status, Status::Warn);
        assert_eq!(r.message, "holds on sysmon but not on security4688");
        assert_eq!(
            r.renderings[1].explain[0].trace,
            "Image|endswith 'powershell.exe': false (field absent)"
        );
        let strict = Policies {
            portability: Policy::Fail,
            ..Policies::default()
        };
        assert_eq!(
            run(&EndsWith("powershell.exe"), expected, both, strict).status,
            Status::Fail
        );
    }

    #[test]
    fn no_rendering_means_not_applicable_never_quiet() {
        let r = run(
            &EndsWith("x"),
            Some(Expected::Quiet),
            &[],
            Policies::default(),
        );
        assert_eq!(r.status, Status::NotApplicable);
        assert!(r.message.starts_with("not applicable: no rendering serves"));
    }
}

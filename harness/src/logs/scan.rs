//! Scanning recorded logs with Sigma and KQL rules: every file read in parallel (and within a
//! file in batches), every event routed and evaluated on the worker threads, only the matches
//! kept; then correlations over the matched events in time order, the KQL queries over the
//! tables the scanned rows make up ([`super::kql`]), and the review
//! ([`super::review::ScanReport`]), Sigma and KQL hits side by side.
//!
//! Memory is bounded by the reader's batches, the rules' tallies and the listed matches: events
//! that match nothing are dropped where they were parsed, each matched event is folded into
//! its file's per-rule tallies ([`RuleTally`]) and per-rule earliest matches ([`Earliest`],
//! at most [`ScanOptions::max_matches_per_rule`] each) as it is read, and each file's part is
//! merged into the scan's as soon as the files before it are done. Correlations need the
//! events their rules matched in time order, so when the rule set has correlation rules the
//! events matched by rules that feed one are kept (and only those); KQL queries need whole tables, so the rows of the tables
//! they read are kept.

use super::kql::KqlRules;
use super::review::{
    Allowlist, Earliest, FileSummary, MatchRecord, RuleTally, SUMMARY_FIELDS, ScanReport,
    ScanSummary, format_time,
};
use super::{FieldFilter, FileStats, MapFn, ReadOptions};
use crate::diag::Diagnostic;
use crate::event::{Event, Value};
use crate::sigma::{Engine, Router, RuleKind, Session};
use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// How many matches per rule the human review pages (`firedrill scan --format md|html`) list
/// unless told otherwise: a page of a few thousand rows stays readable and its memory flat
/// however much a rule fires. The library's own default ([`ScanOptions::default`]) and the JSON
/// report's list every match.
pub const REVIEW_MAX_MATCHES_PER_RULE: usize = 100;

/// How to scan. The default reads with [`ReadOptions::default`], allowlists nothing, runs no
/// KQL rules and lists every match.
#[derive(Clone, Debug, Default)]
pub struct ScanOptions {
    /// How to read (threads, time field, progress counter). Its field filter is replaced by
    /// the fields the rules read.
    pub read: ReadOptions,
    /// Known false positives.
    pub allowlist: Allowlist,
    /// KQL rules, run over the tables the scanned rows make up.
    pub kql: Arc<KqlRules>,
    /// `now()` for the KQL queries; the latest event time in their tables when `None`.
    pub now: Option<DateTime<Utc>>,
    /// How many matches per rule the report lists: the earliest by time, file path and index;
    /// the rest are counted, not listed. 0: all of them, the default, because the report is
    /// what `firedrill scan --format json` prints and the CLI contract lists every match there.
    /// Callers that only count hits or render a review page for people set a cap (such as
    /// [`REVIEW_MAX_MATCHES_PER_RULE`]) to keep memory flat.
    pub max_matches_per_rule: usize,
}

/// What one matched event leaves behind.
#[derive(Debug)]
struct Hit {
    time: Option<DateTime<Utc>>,
    /// Reported rules that matched, with whether the allowlist covers the match.
    rules: Vec<(usize, bool)>,
    /// The summary fields' values, in [`SUMMARY_FIELDS`] order.
    values: Vec<Option<String>>,
    /// The event itself, when correlations need it.
    event: Option<Event>,
    /// The rows the event adds to the KQL tables the queries read (by index): itself, and a
    /// recorded process creation's `imProcessCreate` row.
    rows: Vec<(usize, Event)>,
}

/// What one file's matched events leave behind, folded in as they are read.
struct FileHits {
    /// Per reported Sigma rule (by engine index): its tally over this file.
    tallies: HashMap<usize, RuleTally>,
    /// Per reported Sigma rule: its earliest detections in this file (their `file` set when
    /// merged; no record: one is made from the place).
    listed: HashMap<usize, Listed>,
    /// Matches the allowlist covered.
    allowlisted: usize,
    /// The matched events correlations need: time, index, event.
    kept: Vec<(Option<DateTime<Utc>>, u64, Event)>,
    /// Rows of the KQL tables: table, index, row.
    rows: Vec<(usize, u64, Event)>,
}

/// A rule's listed matches: detections carry no record (it is made from their [`Place`] at
/// the end), correlation and KQL hits their whole record.
type Listed = Earliest<Place, Option<Box<MatchRecord>>>;

/// Where a match sorts in the report: by time (undated last), then file (by path), then index;
/// then detections before correlations before KQL hits, each in the order found (detections of
/// one event in the order the engine reported its rules). No two matches share a place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Place {
    undated: bool,
    time: Option<DateTime<Utc>>,
    /// The file's rank by path (`usize::MAX` for a KQL hit no event made).
    file: usize,
    index: u64,
    /// 0: detection; 1: correlation; 2: KQL.
    phase: u8,
    /// Detection: the rule's position among the event's; else the order found.
    seq: u64,
}

impl Place {
    fn new(time: Option<DateTime<Utc>>, file: usize, index: u64, phase: u8, seq: u64) -> Place {
        Place {
            undated: time.is_none(),
            time,
            file,
            index,
            phase,
            seq,
        }
    }
}

/// The fields to materialise for `engine`: what its rules read, what routing and the review
/// read, or everything when a rule searches every value or an allowlist looks at the event.
pub fn field_filter(engine: &Engine, allowlist: &Allowlist) -> FieldFilter {
    if !allowlist.is_empty() {
        return FieldFilter::All;
    }
    let Some(fields) = engine.fields_read() else {
        return FieldFilter::All;
    };
    let review = [
        // What recognises a Defender `DeviceProcessEvents` row or an ASIM `imProcessCreate`
        // one (so routes it).
        "ActionType",
        "InitiatingProcessFileName",
        "TargetProcessName",
        "EventType",
        "NewProcessName",
        "ParentProcessName",
        "SubjectUserName",
        "process.command_line",
        "process.executable",
        "process.parent.executable",
        "user.name",
        "host.name",
        "winlog.computer_name",
    ];
    FieldFilter::only(
        fields
            .iter()
            .map(String::as_str)
            .chain(SUMMARY_FIELDS)
            .chain(review),
    )
}

/// The text of a summary field, through the pipeline of the event's routing class.
fn summary_values(router: &Router, event: &Event) -> Vec<Option<String>> {
    let pipeline = router
        .route(event)
        .map(|c| router.classes()[c].pipeline.clone());
    SUMMARY_FIELDS
        .iter()
        .map(|name| {
            let field = match &pipeline {
                Some(p) => p.field(name).into_owned(),
                None => (*name).to_string(),
            };
            // Other schemas' names for the same thing (ECS, Defender advanced hunting).
            let fallbacks: &[&str] = match *name {
                "Computer" => &["winlog.computer_name", "host.name", "DeviceName"],
                "CommandLine" => &["ProcessCommandLine"],
                "Image" => &["FolderPath"],
                "ParentImage" => &["InitiatingProcessFolderPath"],
                "User" => &["AccountName"],
                _ => &[],
            };
            std::iter::once(field.as_str())
                .chain(std::iter::once(*name))
                .chain(fallbacks.iter().copied())
                .find_map(|f| event.get(f))
                .and_then(Value::to_text)
                .map(|t| t.into_owned())
        })
        .collect()
}

thread_local! {
    static SESSION: RefCell<Session> = RefCell::new(Session::default());
}

/// Scans `paths` (files or directories) with `engine` (Sigma) and `opts.kql` (KQL).
pub fn scan(paths: &[PathBuf], engine: &Arc<Engine>, opts: &ScanOptions) -> ScanReport {
    let (files, mut diagnostics) = super::discover(paths);
    let mut summary = ScanSummary {
        unreadable_files: diagnostics.len(),
        ..ScanSummary::default()
    };
    let correlations = engine
        .rules()
        .iter()
        .any(|r| r.kind == RuleKind::Correlation && r.usable);
    let kql_tables: Arc<Vec<String>> = Arc::new(opts.kql.tables());
    let mut fields = field_filter(engine, &opts.allowlist);
    if !kql_tables.is_empty() {
        fields = fields.union(opts.kql.field_filter());
    }
    let read = ReadOptions {
        fields,
        ..opts.read.clone()
    };
    let router = Arc::new(Router::new());
    let allowlist = Arc::new(opts.allowlist.clone());
    let rule_ids: Arc<Vec<String>> = Arc::new(
        engine
            .rules()
            .iter()
            .map(|r| r.id.clone().unwrap_or_else(|| r.title.clone()))
            .collect(),
    );
    // The routing classes some scanned event had: rules applying to none of them saw nothing.
    let classes_seen: Arc<Vec<AtomicBool>> = Arc::new(
        (0..engine.class_count())
            .map(|_| AtomicBool::new(false))
            .collect(),
    );
    let map: MapFn<Option<Box<Hit>>> = {
        let engine = Arc::clone(engine);
        let router = Arc::clone(&router);
        let rule_ids = Arc::clone(&rule_ids);
        let allowlist = Arc::clone(&allowlist);
        let kql_tables = Arc::clone(&kql_tables);
        let classes_seen = Arc::clone(&classes_seen);
        Arc::new(move |event: Event| {
            let rules: Vec<usize> = SESSION.with(|session| {
                let mut session = session.borrow_mut();
                let rules = engine.matches_with(&event, &mut session).to_vec();
                if let Some(seen) = session.class().and_then(|c| classes_seen.get(c))
                    && !seen.load(Ordering::Relaxed)
                {
                    seen.store(true, Ordering::Relaxed);
                }
                rules
            });
            let (own, asim) = super::kql::rows_of(&event, &kql_tables);
            if rules.is_empty() && own.is_none() && asim.is_none() {
                return None;
            }
            let json =
                (!allowlist.is_empty() && !rules.is_empty()).then(|| event.to_json().to_string());
            let reported: Vec<(usize, bool)> = rules
                .iter()
                .filter(|&&r| engine.reports(r))
                .map(|&r| {
                    let id = &rule_ids[r];
                    let allowed = json
                        .as_deref()
                        .is_some_and(|j| !allowlist.is_silent_for(id) && allowlist.covers(id, j));
                    (r, allowed)
                })
                .collect();
            let values = if reported.is_empty() {
                Vec::new()
            } else {
                summary_values(&router, &event)
            };
            let time = event.timestamp;
            // Only events a correlation can use are kept (not every match of every rule).
            let keep = correlations && rules.iter().any(|&r| engine.feeds_correlation(r));
            // The event is a row of its own table: moved in, unless correlations keep it too.
            let mut rows: Vec<(usize, Event)> = asim.into_iter().collect();
            let event = match own {
                Some(table) if keep => {
                    rows.push((table, event.clone()));
                    Some(event)
                }
                Some(table) => {
                    rows.push((table, event));
                    None
                }
                None => keep.then_some(event),
            };
            Some(Box::new(Hit {
                time,
                values,
                rules: reported,
                event,
                rows,
            }))
        })
    };
    let cap = opts.max_matches_per_rule;
    let sources: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    // Files rank by path (then position), so that ties in time order the same whatever order
    // the files were given in.
    let mut by_rank: Vec<usize> = (0..files.len()).collect();
    by_rank.sort_by(|&a, &b| sources[a].cmp(&sources[b]).then(a.cmp(&b)));
    let mut rank = vec![0; files.len()];
    for (r, &file_no) in by_rank.iter().enumerate() {
        rank[file_no] = r;
    }
    let rank_of = |file_no: usize| rank.get(file_no).copied().unwrap_or(usize::MAX);

    let mut tallies: HashMap<Key, RuleTally> = HashMap::new();
    let mut listed: HashMap<Key, Listed> = HashMap::new();
    let mut kept: Vec<(Option<DateTime<Utc>>, usize, u64, Event)> = Vec::new();
    // Per KQL table: its rows, and where each came from (file, index).
    let mut tables: Vec<(String, Vec<Event>)> =
        kql_tables.iter().map(|t| (t.clone(), Vec::new())).collect();
    let mut origins: Vec<Vec<(usize, u64)>> = vec![Vec::new(); kql_tables.len()];
    let mut file_summaries = Vec::new();
    super::read_files_in_order(
        &files,
        &read,
        &map,
        || FileHits {
            tallies: HashMap::new(),
            listed: HashMap::new(),
            allowlisted: 0,
            kept: Vec::new(),
            rows: Vec::new(),
        },
        |part: &mut FileHits, index, hit| {
            let Some(hit) = hit else { return };
            let hit = *hit;
            for (position, &(rule, allowlisted)) in hit.rules.iter().enumerate() {
                part.tallies
                    .entry(rule)
                    .or_default()
                    .add(hit.time, &hit.values, allowlisted);
                if allowlisted {
                    part.allowlisted += 1;
                    continue;
                }
                part.listed
                    .entry(rule)
                    .or_insert_with(|| Earliest::new(cap))
                    .push(Place::new(hit.time, 0, index, 0, position as u64), None);
            }
            if let Some(event) = hit.event {
                part.kept.push((hit.time, index, event));
            }
            for (table, event) in hit.rows {
                part.rows.push((table, index, event));
            }
        },
        |file_no, path, result| {
            let (stats, part) = match result {
                Ok(found) => found,
                Err(diagnostic) => {
                    summary.unreadable_files += 1;
                    diagnostics.push(diagnostic);
                    file_summaries.push(FileSummary {
                        path: path.display().to_string(),
                        format: None,
                        compressed: false,
                        events: 0,
                        bad_records: 0,
                        skipped_chunks: 0,
                    });
                    return;
                }
            };
            file_summaries.push(file_summary(&stats));
            summary.events += stats.events;
            summary.bad_records += stats.bad_records;
            summary.skipped_chunks += stats.skipped_chunks;
            summary.allowlisted += part.allowlisted;
            diagnostics.extend(stats.diagnostics);
            for (rule, tally) in part.tallies {
                tallies.entry(Key::Sigma(rule)).or_default().merge(tally);
            }
            let file = rank_of(file_no);
            for (rule, earliest) in part.listed {
                listed
                    .entry(Key::Sigma(rule))
                    .or_insert_with(|| Earliest::new(cap))
                    .merge(earliest, |place| Place { file, ..place });
            }
            kept.extend(
                part.kept
                    .into_iter()
                    .map(|(time, index, event)| (time, file_no, index, event)),
            );
            for (table, index, event) in part.rows {
                tables[table].1.push(event);
                origins[table].push((file_no, index));
            }
        },
    );
    let seen: Vec<bool> = classes_seen
        .iter()
        .map(|s| s.load(Ordering::Relaxed))
        .collect();
    diagnostics.extend(unapplied(engine, &seen, summary.events));
    diagnostics.extend(unconverted(engine, &seen));
    // Correlation and KQL hits, in the order found.
    let mut found: u64 = 0;

    // Correlations, over the matched events in time order.
    if correlations {
        kept.sort_by_key(|k| order(k.0, k.1, k.2));
        let mut stream = engine.stream();
        let mut fired = Vec::new();
        for (position, (_, _, _, event)) in kept.iter().enumerate() {
            fired.extend(
                stream
                    .push(position, event)
                    .into_iter()
                    .filter(|m| m.group.is_some()),
            );
        }
        fired.extend(stream.finish().into_iter().filter(|m| m.group.is_some()));
        for m in fired {
            let members: Vec<&(Option<DateTime<Utc>>, usize, u64, Event)> =
                m.events.iter().filter_map(|&i| kept.get(i)).collect();
            let last = members.iter().filter_map(|k| k.0).max();
            let (file_no, index) = members.last().map_or((usize::MAX, 0), |k| (k.1, k.2));
            let rule_id = rule_ids[m.rule].clone();
            // An allowlist entry covers a correlation when it covers every event that made it.
            let allowlisted = !allowlist.is_empty()
                && !allowlist.is_silent_for(&rule_id)
                && !members.is_empty()
                && members
                    .iter()
                    .all(|k| allowlist.covers(&rule_id, &k.3.to_json().to_string()));
            tallies.entry(Key::Sigma(m.rule)).or_default().add(
                last,
                &[None, None, None, None, None],
                allowlisted,
            );
            if allowlisted {
                summary.allowlisted += 1;
                continue;
            }
            found += 1;
            let place = Place::new(last, rank_of(file_no), index, 1, found);
            let record = || {
                Some(Box::new(MatchRecord {
                    rule_id,
                    rule_title: m.rule_title.clone(),
                    level: m.level.clone(),
                    author: m.author.clone(),
                    source: members
                        .last()
                        .map(|k| sources[k.1].clone())
                        .unwrap_or_default(),
                    index: None,
                    group: m.group.map(|g| g.into_iter().collect()),
                    indices: Some(
                        members
                            .iter()
                            .map(|k| (sources[k.1].clone(), k.2))
                            .collect(),
                    ),
                    row: None,
                    timestamp: last.map(format_time),
                }))
            };
            listed
                .entry(Key::Sigma(m.rule))
                .or_insert_with(|| Earliest::new(cap))
                .push_with(place, record);
        }
    }

    // KQL queries, over the tables the scanned rows make up.
    if !opts.kql.is_empty() {
        let now = opts
            .now
            .or_else(|| {
                tables
                    .iter()
                    .flat_map(|t| &t.1)
                    .filter_map(|e| e.timestamp)
                    .max()
            })
            .unwrap_or_else(Utc::now);
        diagnostics.extend(opts.kql.unfed(&tables));
        for result in opts.kql.run(&tables, now) {
            diagnostics.extend(result.diagnostics);
            let Some(table) = result.table else {
                summary.rules_failed += 1;
                continue;
            };
            let query = &opts.kql.queries[result.query];
            let rule_id = query.key();
            for row in &table.rows {
                let mut members: Vec<(usize, u64, &Event)> = row
                    .sources
                    .iter()
                    .filter_map(|source| {
                        let t = kql_tables.iter().position(|n| **n == *source.table)?;
                        let (file_no, index) = *origins[t].get(source.index)?;
                        Some((file_no, index, tables[t].1.get(source.index)?))
                    })
                    .collect();
                members.sort_by_key(|m| (m.0, m.1));
                let cells: IndexMap<String, String> = table
                    .columns
                    .iter()
                    .zip(&row.values)
                    .filter(|(_, v)| !v.is_null())
                    .map(|(c, v)| (c.name.clone(), v.to_kql_string()))
                    .collect();
                let time = row_time(&table, &row.values)
                    .or_else(|| members.iter().filter_map(|m| m.2.timestamp).max());
                let allowlisted = !allowlist.is_empty()
                    && !allowlist.is_silent_for(&rule_id)
                    && allowlist
                        .covers(&rule_id, &serde_json::to_string(&cells).unwrap_or_default());
                let values = members
                    .first()
                    .map(|m| summary_values(&router, m.2))
                    .unwrap_or_default();
                tallies
                    .entry(Key::Kql(result.query))
                    .or_default()
                    .add(time, &values, allowlisted);
                if allowlisted {
                    summary.allowlisted += 1;
                    continue;
                }
                let (file_no, index) = members.last().map_or((usize::MAX, 0), |m| (m.0, m.1));
                found += 1;
                let place = Place::new(time, rank_of(file_no), index, 2, found);
                let record = || {
                    Some(Box::new(MatchRecord {
                        rule_id: rule_id.clone(),
                        rule_title: query.rule.name.clone(),
                        level: query.rule.severity.clone(),
                        author: None,
                        source: members
                            .last()
                            .map(|m| sources[m.0].clone())
                            .unwrap_or_default(),
                        index: (members.len() == 1).then_some(index),
                        group: None,
                        indices: (members.len() > 1).then(|| {
                            members
                                .iter()
                                .map(|m| (sources[m.0].clone(), m.1))
                                .collect()
                        }),
                        row: Some(cells),
                        timestamp: time.map(format_time),
                    }))
                };
                listed
                    .entry(Key::Kql(result.query))
                    .or_insert_with(|| Earliest::new(cap))
                    .push_with(place, record);
            }
        }
    }

    // The listed matches, in report order; detections' records made now.
    let omitted: HashMap<Key, u64> = listed.iter().map(|(k, l)| (*k, l.omitted())).collect();
    let mut placed: Vec<(Place, Key, Option<Box<MatchRecord>>)> = listed
        .into_iter()
        .flat_map(|(key, earliest)| {
            earliest
                .into_sorted()
                .into_iter()
                .map(move |(place, record)| (place, key, record))
        })
        .collect();
    placed.sort_unstable_by_key(|p| p.0);
    let matches: Vec<MatchRecord> = placed
        .into_iter()
        .filter_map(|(place, key, record)| match (record, key) {
            (Some(record), _) => Some(*record),
            // Only detections are listed without a record.
            (None, Key::Kql(_)) => None,
            (None, Key::Sigma(rule)) => {
                let info = &engine.rules()[rule];
                Some(MatchRecord {
                    rule_id: rule_ids[rule].clone(),
                    rule_title: info.title.clone(),
                    level: info.level.clone(),
                    author: info.author.clone(),
                    source: sources[by_rank[place.file]].clone(),
                    index: Some(place.index),
                    group: None,
                    indices: None,
                    row: None,
                    timestamp: place.time.map(format_time),
                })
            }
        })
        .collect();

    summary.matches = tallies.values().map(|t| t.hits() as usize).sum();
    summary.omitted = omitted.values().map(|&n| n as usize).sum();
    summary.max_matches_per_rule = cap;
    let mut rules: Vec<_> = tallies
        .into_iter()
        .map(|(key, tally)| {
            let omitted = omitted.get(&key).copied().unwrap_or(0);
            let mut rule = match key {
                Key::Sigma(rule) => {
                    let info = &engine.rules()[rule];
                    tally.finish(
                        rule_ids[rule].clone(),
                        info.title.clone(),
                        info.level.clone(),
                        info.author.clone(),
                    )
                }
                Key::Kql(query) => {
                    let query = &opts.kql.queries[query];
                    tally.finish(
                        query.key(),
                        query.rule.name.clone(),
                        query.rule.severity.clone(),
                        None,
                    )
                }
            };
            rule.omitted = omitted;
            rule
        })
        .collect();
    rules.sort_by(|a, b| {
        b.hits
            .cmp(&a.hits)
            .then_with(|| a.rule_title.cmp(&b.rule_title))
            .then_with(|| a.rule_id.cmp(&b.rule_id))
    });
    summary.files = files.len();
    let sigma_usable = engine.rules().iter().filter(|r| r.usable).count();
    summary.rules = sigma_usable + opts.kql.queries.len();
    summary.rules_failed += engine.rules().len() - sigma_usable + opts.kql.failed;
    ScanReport {
        format_version: 1,
        summary,
        files: file_summaries,
        rules,
        matches,
        diagnostics,
    }
}

/// A rule in the tallies: a Sigma rule by engine index, a KQL query by its index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key {
    Sigma(usize),
    Kql(usize),
}

/// The usable detection rules whose matches are reported, by engine index.
fn reported_detections(engine: &Engine) -> impl Iterator<Item = usize> + '_ {
    (0..engine.rules().len()).filter(|&r| {
        let rule = &engine.rules()[r];
        rule.usable && rule.kind == RuleKind::Detection && engine.reports(r)
    })
}

/// `warning` with a note per item, the first ten, and one counting the rest.
fn listed(mut warning: Diagnostic, notes: Vec<String>) -> Diagnostic {
    /// Notes listed; the rest are counted.
    const LISTED: usize = 10;
    let more = notes.len().saturating_sub(LISTED);
    for note in notes.into_iter().take(LISTED) {
        warning = warning.with_note(note);
    }
    if more > 0 {
        warning = warning.with_note(format!("and {more} more"));
    }
    warning
}

/// A `LOG0013` warning when some usable detection rules apply to none of the scanned events
/// (`seen`: the routing classes some event had): their log sources are not in these logs, so
/// their silence says nothing. One warning for all of them (a corpus scanned over Sysmon logs
/// leaves most of its rules without events), listing the first ten. None when no event was
/// read at all: the unreadable files have their own errors.
fn unapplied(engine: &Engine, seen: &[bool], events: u64) -> Option<Diagnostic> {
    if events == 0 {
        return None;
    }
    let detections: Vec<usize> = reported_detections(engine).collect();
    let idle: Vec<String> = detections
        .iter()
        .copied()
        .filter(|&r| {
            !seen
                .iter()
                .enumerate()
                .any(|(class, &seen)| seen && engine.applies_to_class(r, class))
        })
        .map(|r| {
            let rule = &engine.rules()[r];
            format!("{} ({}): {}", rule.title, rule.logsource, rule.path)
        })
        .collect();
    if idle.is_empty() {
        return None;
    }
    let warning = Diagnostic::warning(
        "LOG0013",
        format!(
            "{} of {} Sigma rules apply to none of the {events} scanned events: their log sources are not in these logs",
            idle.len(),
            detections.len()
        ),
    )
    .with_help(
        "scan logs of each rule's log source (process_creation: Sysmon event 1, Security event 4688, Defender DeviceProcessEvents or ASIM imProcessCreate rows), or check the rule's `logsource`",
    );
    Some(listed(warning, idle))
}

/// One `LOG0014` warning per routing class some scanned event had whose pipeline cannot convert
/// some of the usable detection rules that apply to it (`SIG0070`: Defender's `DeviceProcessEvents`
/// has no column for `CurrentDirectory`, say): those rules never ran on these events, so their
/// silence there says nothing. The first ten are listed with the reason.
fn unconverted(engine: &Engine, seen: &[bool]) -> Vec<Diagnostic> {
    let mut warnings = Vec::new();
    for (class, _) in seen.iter().enumerate().filter(|(_, seen)| **seen) {
        let refused: Vec<String> = reported_detections(engine)
            .filter_map(|r| {
                let why = engine.unconverted(r, class)?;
                let rule = &engine.rules()[r];
                Some(format!("{}: {} ({})", rule.title, why.message, rule.path))
            })
            .collect();
        if refused.is_empty() {
            continue;
        }
        let warning = Diagnostic::warning(
            "LOG0014",
            format!(
                "{} Sigma rules did not run on the events of {}: its pipeline cannot convert them",
                refused.len(),
                engine.class_name(class)
            ),
        )
        .with_help(
            "the query backend's pipeline refuses these rules the same way; scan other logs of their log source to review them",
        );
        warnings.push(listed(warning, refused));
    }
    warnings
}

/// A KQL result row's time: its `Timestamp` or `TimeGenerated` column, when it has one.
fn row_time(table: &crate::kql::Table, values: &[crate::kql::Value]) -> Option<DateTime<Utc>> {
    ["Timestamp", "TimeGenerated"].iter().find_map(|name| {
        let i = table.column_index(name)?;
        match values.get(i)? {
            crate::kql::Value::DateTime(ticks) => crate::kql::value::chrono_from_ticks(*ticks),
            _ => None,
        }
    })
}

/// Time order; events without a time after those with one; then file and index.
fn order(
    time: Option<DateTime<Utc>>,
    file: usize,
    index: u64,
) -> (bool, Option<DateTime<Utc>>, usize, u64) {
    (time.is_none(), time, file, index)
}

fn file_summary(stats: &FileStats) -> FileSummary {
    FileSummary {
        path: stats.path.display().to_string(),
        format: stats.format.map(super::Format::as_str),
        compressed: stats.compressed,
        events: stats.events,
        bad_records: stats.bad_records,
        skipped_chunks: stats.skipped_chunks,
    }
}

/// Adds load diagnostics (rules that failed) to a report.
pub fn add_rule_diagnostics(report: &mut ScanReport, diagnostics: Vec<Diagnostic>) {
    let mut all = diagnostics;
    all.append(&mut report.diagnostics);
    report.diagnostics = all;
}

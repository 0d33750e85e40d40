//! The false-positive review of a scan: the versioned report model (`format_version: 1`), how it
//! is aggregated from matches, the allowlist of known false positives, and the JSON, Markdown
//! and HTML writers (pure functions of the model, built from the page shell, stylesheet,
//! escaping and tables `firedrill run`'s report uses: [`crate::report::page`]).

use crate::diag::Diagnostic;
use crate::report::page::{self, esc};
use chrono::{DateTime, SecondsFormat, Utc};
use indexmap::IndexMap;
use serde::Serialize;
use std::collections::HashMap;

/// The fields whose most frequent values a review shows per rule, by their Sigma names.
pub const SUMMARY_FIELDS: [&str; 5] = ["CommandLine", "ParentImage", "Image", "User", "Computer"];

/// How many distinct values a review keeps per field.
pub const TOP_VALUES: usize = 5;

/// A scan's result.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ScanReport {
    /// Always 1 for this layout.
    pub format_version: u32,
    /// Totals.
    pub summary: ScanSummary,
    /// Every file read, with what reading it found.
    pub files: Vec<FileSummary>,
    /// Per rule that matched (or was allowlisted): counts, top values, first and last seen;
    /// most hits first.
    pub rules: Vec<RuleSummary>,
    /// The listed matches: per rule its earliest [`ScanSummary::max_matches_per_rule`] (all
    /// when that is 0), in time order (then file, then index); the rest are counted in
    /// [`RuleSummary::omitted`] and [`ScanSummary::omitted`].
    pub matches: Vec<MatchRecord>,
    /// Problems: rules that failed to load, files that could not be read, bad records.
    pub diagnostics: Vec<Diagnostic>,
}

/// Totals of a scan.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ScanSummary {
    /// Files read.
    pub files: usize,
    /// Events read.
    pub events: u64,
    /// Rules loaded and compiled.
    pub rules: usize,
    /// Rules that failed to load or compile.
    pub rules_failed: usize,
    /// Matches reported (not allowlisted), listed or not.
    pub matches: usize,
    /// Reported matches left out of the list of matches (past a rule's first
    /// `max_matches_per_rule`).
    pub omitted: usize,
    /// How many matches per rule the report lists; 0 when it lists all of them (the JSON
    /// report's default; a number, never null, so the field keeps one type).
    pub max_matches_per_rule: usize,
    /// Matches an allowlist entry covered.
    pub allowlisted: usize,
    /// Records that could not be parsed, across files.
    pub bad_records: u64,
    /// Damaged EVTX chunks skipped, across files.
    pub skipped_chunks: u64,
    /// Files that could not be read at all.
    pub unreadable_files: usize,
}

/// One file read.
#[derive(Clone, Debug, Serialize)]
pub struct FileSummary {
    /// The path as given or found.
    pub path: String,
    /// `evtx`, `json_lines`, `json_documents` or `csv`; absent when unreadable.
    pub format: Option<&'static str>,
    /// Gzip-compressed.
    pub compressed: bool,
    /// Events read.
    pub events: u64,
    /// Records skipped as unparseable.
    pub bad_records: u64,
    /// EVTX chunks skipped as damaged.
    pub skipped_chunks: u64,
}

/// One match.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MatchRecord {
    /// The rule's `id` (or its title when it has none).
    pub rule_id: String,
    /// The rule's `title`.
    pub rule_title: String,
    /// The rule's `level`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// The rule's `author` (the Detection Rule License asks that it travels with every match).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The file the event came from.
    pub source: String,
    /// The event's 0-based record or line number in `source` (detections).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// For correlations: the group-by fields and their values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<IndexMap<String, String>>,
    /// For correlations and KQL rows that several events made: those events, as
    /// `[source, index]` pairs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indices: Option<Vec<(String, u64)>>,
    /// For KQL rules: the result row, column by column (null cells left out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<IndexMap<String, String>>,
    /// When the event happened (a correlation: its last event), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

/// One distinct value and how often it occurred.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ValueCount {
    /// The value.
    pub value: String,
    /// How many matched events had it.
    pub count: u64,
}

/// Per rule: what it fired on.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RuleSummary {
    /// The rule's `id` (or title).
    pub rule_id: String,
    /// The rule's `title`.
    pub rule_title: String,
    /// The rule's `level`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// The rule's `author`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Matches reported.
    pub hits: u64,
    /// Matches covered by the allowlist.
    pub allowlisted: u64,
    /// Matches reported but not listed (past the first `max_matches_per_rule`).
    pub omitted: u64,
    /// Earliest matched event time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    /// Latest matched event time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    /// Per summary field, its most frequent values among the reported matches.
    pub top_values: IndexMap<String, Vec<ValueCount>>,
}

/// How many distinct values per field a [`RuleTally`] counts: past that, the long tail no
/// longer changes the top.
const DISTINCT_VALUES: usize = 10_000;

/// Builds one rule's summary from its matches, with bounded memory per distinct value.
/// Tallies of parts of a scan (one per file) [`merge`](RuleTally::merge) into one.
#[derive(Debug, Default)]
pub struct RuleTally {
    hits: u64,
    allowlisted: u64,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    /// Per summary field, its values' counts in the order the values were first seen.
    values: [IndexMap<String, u64>; SUMMARY_FIELDS.len()],
}

impl RuleTally {
    /// Counts one match: its time and its summary fields' values.
    pub fn add(
        &mut self,
        time: Option<DateTime<Utc>>,
        values: &[Option<String>],
        allowlisted: bool,
    ) {
        if allowlisted {
            self.allowlisted += 1;
            return;
        }
        self.hits += 1;
        self.seen(time);
        for (counts, value) in self.values.iter_mut().zip(values) {
            if let Some(value) = value {
                count(counts, value, 1);
            }
        }
    }

    fn seen(&mut self, time: Option<DateTime<Utc>>) {
        if let Some(time) = time {
            self.first = Some(self.first.map_or(time, |f| f.min(time)));
            self.last = Some(self.last.map_or(time, |l| l.max(time)));
        }
    }

    /// Adds the tally of a later part of the scan (the next file). Its values are counted in
    /// the order it first saw them, so merging the files' tallies in file order counts what
    /// one tally over all files would have, unless a single file had more than the distinct
    /// values a tally keeps.
    pub fn merge(&mut self, other: RuleTally) {
        self.hits += other.hits;
        self.allowlisted += other.allowlisted;
        self.seen(other.first);
        self.seen(other.last);
        for (counts, other) in self.values.iter_mut().zip(other.values) {
            for (value, n) in other {
                count(counts, &value, n);
            }
        }
    }

    /// Matches reported (not allowlisted).
    pub fn hits(&self) -> u64 {
        self.hits
    }

    /// The summary, with the top values of each field (most frequent first, ties by value).
    pub fn finish(
        self,
        rule_id: String,
        rule_title: String,
        level: Option<String>,
        author: Option<String>,
    ) -> RuleSummary {
        let mut top_values = IndexMap::new();
        for (name, counts) in SUMMARY_FIELDS.iter().zip(self.values) {
            let mut counts: Vec<ValueCount> = counts
                .into_iter()
                .map(|(value, count)| ValueCount { value, count })
                .collect();
            counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            counts.truncate(TOP_VALUES);
            if !counts.is_empty() {
                top_values.insert((*name).to_string(), counts);
            }
        }
        RuleSummary {
            rule_id,
            rule_title,
            level,
            author,
            hits: self.hits,
            allowlisted: self.allowlisted,
            omitted: 0,
            first_seen: self.first.map(format_time),
            last_seen: self.last.map(format_time),
            top_values,
        }
    }
}

/// Counts `n` more of `value`, unless it is new and `counts` is full.
fn count(counts: &mut IndexMap<String, u64>, value: &str, n: u64) {
    if let Some(c) = counts.get_mut(value) {
        *c += n;
    } else if counts.len() < DISTINCT_VALUES {
        counts.insert(value.to_string(), n);
    }
}

/// The earliest `cap` items by key (all of them when `cap` is 0), and how many later ones were
/// left out: a bounded max-heap, so memory stays at `cap` items however many are pushed.
/// Parts (one per file) [`merge`](Earliest::merge) into the earliest of their union, whatever
/// the order; keys should be distinct, so that which items are kept never depends on it.
#[derive(Debug)]
pub struct Earliest<K, T> {
    cap: usize,
    heap: std::collections::BinaryHeap<ByKey<K, T>>,
    omitted: u64,
}

/// A heap entry ordered by its key alone.
#[derive(Debug)]
struct ByKey<K, T>(K, T);

impl<K: Ord, T> PartialEq for ByKey<K, T> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<K: Ord, T> Eq for ByKey<K, T> {}

impl<K: Ord, T> PartialOrd for ByKey<K, T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<K: Ord, T> Ord for ByKey<K, T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

impl<K: Ord, T> Earliest<K, T> {
    /// Keeps the earliest `cap` (0: everything).
    pub fn new(cap: usize) -> Self {
        Earliest {
            cap,
            heap: std::collections::BinaryHeap::new(),
            omitted: 0,
        }
    }

    /// Offers an item; `item` is only made when it is kept.
    pub fn push_with(&mut self, key: K, item: impl FnOnce() -> T) {
        if self.cap == 0 || self.heap.len() < self.cap {
            self.heap.push(ByKey(key, item()));
            return;
        }
        self.omitted += 1;
        if let Some(mut latest) = self.heap.peek_mut()
            && key < latest.0
        {
            *latest = ByKey(key, item());
        }
    }

    /// Offers an item.
    pub fn push(&mut self, key: K, item: T) {
        self.push_with(key, || item);
    }

    /// Adds another part's items (re-keyed by `rekey`) and its count of omitted ones.
    pub fn merge<L>(&mut self, other: Earliest<L, T>, rekey: impl Fn(L) -> K) {
        self.omitted += other.omitted;
        for ByKey(key, item) in other.heap {
            self.push(rekey(key), item);
        }
    }

    /// How many items are kept.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// How many items were offered but not kept.
    pub fn omitted(&self) -> u64 {
        self.omitted
    }

    /// The kept items, earliest first.
    pub fn into_sorted(self) -> Vec<(K, T)> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|ByKey(key, item)| (key, item))
            .collect()
    }
}

/// RFC 3339 with the precision the time has, `Z` for UTC.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Known false positives per rule, in SigmaHQ's `known-FPs.csv` layout: a header line
/// `RuleId;RuleName;MatchString`, then one entry per line. An entry covers a match of the rule
/// (by id, or `*` for every rule) when `MatchString` occurs in the matched event, rendered as
/// one line of JSON (so `"Image":"C:\\Tools\\x.exe"` or a bare `x.exe` both work). Lines starting
/// with `#` are comments.
#[derive(Clone, Debug, Default)]
pub struct Allowlist {
    entries: Vec<AllowEntry>,
}

#[derive(Clone, Debug)]
struct AllowEntry {
    rule: String,
    needle: String,
}

impl Allowlist {
    /// Parses the file's text; `file` names it in diagnostics (`LOG0010`).
    pub fn parse(file: &str, text: &str) -> Result<Allowlist, Diagnostic> {
        let mut entries = Vec::new();
        let mut offset = 0;
        for (number, line) in text.split_inclusive('\n').enumerate() {
            let start = offset;
            offset += line.len();
            let line = line.trim_end_matches(['\n', '\r']);
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.splitn(3, ';');
            let (Some(rule), Some(_name), Some(needle)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(Diagnostic::error(
                    "LOG0010",
                    "allowlist line needs three `;`-separated columns: RuleId;RuleName;MatchString",
                )
                .at(
                    file,
                    text,
                    crate::diag::Span::new(start, start + line.len()),
                ));
            };
            if number == 0 && rule.trim().eq_ignore_ascii_case("RuleId") {
                continue;
            }
            if needle.is_empty() {
                return Err(Diagnostic::error(
                    "LOG0010",
                    "empty MatchString would allow every match",
                )
                .at(
                    file,
                    text,
                    crate::diag::Span::new(start, start + line.len()),
                ));
            }
            entries.push(AllowEntry {
                rule: rule.trim().to_string(),
                needle: needle.to_string(),
            });
        }
        Ok(Allowlist { entries })
    }

    /// True when no entry names `rule_id` (or `*`): the event need not be rendered.
    pub fn is_silent_for(&self, rule_id: &str) -> bool {
        !self
            .entries
            .iter()
            .any(|e| e.rule == "*" || e.rule == rule_id)
    }

    /// True when an entry for `rule_id` occurs in `event_json`.
    pub fn covers(&self, rule_id: &str, event_json: &str) -> bool {
        self.entries
            .iter()
            .any(|e| (e.rule == "*" || e.rule == rule_id) && event_json.contains(&e.needle))
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when it has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The report as pretty JSON.
pub fn to_json(report: &ScanReport) -> String {
    serde_json::to_string_pretty(report).unwrap_or_default()
}

/// A Markdown cell of at most 160 characters.
fn md_cell(text: &str) -> String {
    let text: String = text.chars().take(160).collect();
    page::md_cell(&text)
}

/// The one-line totals, as text.
fn totals(s: &ScanSummary) -> String {
    format!(
        "{} events in {} files; {} rules ({} failed to load); {} matches{}, {} allowlisted; {} bad records, {} damaged chunks skipped, {} unreadable files.",
        s.events,
        s.files,
        s.rules,
        s.rules_failed,
        s.matches,
        omitted_note(s),
        s.allowlisted,
        s.bad_records,
        s.skipped_chunks,
        s.unreadable_files
    )
}

/// ` (N not listed: at most M per rule)` when matches were left out of the list, else nothing.
fn omitted_note(s: &ScanSummary) -> String {
    if s.omitted == 0 {
        String::new()
    } else {
        format!(
            " ({} not listed: at most {} per rule)",
            s.omitted, s.max_matches_per_rule
        )
    }
}

/// What a rule's list of matches shows: `first N of M matches` (`N matches` when that is all),
/// and how many the report left out.
fn listed_note(rule: &RuleSummary, listed: usize) -> String {
    if rule.omitted == 0 {
        format!("{listed} matches")
    } else {
        format!(
            "first {listed} of {} matches ({} not listed)",
            rule.hits, rule.omitted
        )
    }
}

/// Where a match came from: its index, or the indices of the events that made it (with their
/// file's name when it is not the match's `source`).
fn indices(m: &MatchRecord) -> String {
    match (&m.index, &m.indices) {
        (Some(i), _) => i.to_string(),
        (None, Some(all)) => all
            .iter()
            .map(|(file, i)| {
                if *file == m.source {
                    i.to_string()
                } else {
                    let name = file.rsplit(['/', '\\']).next().unwrap_or(file);
                    format!("{name}:{i}")
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    }
}

/// A KQL result row as `column=value` pairs.
fn row_text(m: &MatchRecord) -> String {
    m.row
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The columns of the table of rules (`#`: numeric).
const RULE_COLUMNS: [&str; 7] = [
    "rule",
    "level",
    "#hits",
    "#allowlisted",
    "#not listed",
    "first seen",
    "last seen",
];

/// The listed matches per rule id, each rule's in report order.
fn by_rule(report: &ScanReport) -> HashMap<&str, Vec<&MatchRecord>> {
    let mut listed: HashMap<&str, Vec<&MatchRecord>> = HashMap::new();
    for m in &report.matches {
        listed.entry(m.rule_id.as_str()).or_default().push(m);
    }
    listed
}

/// The report as Markdown: totals, then per rule its counts, times, top values and first
/// matches (with the result row of a KQL rule).
pub fn to_markdown(report: &ScanReport) -> String {
    let mut out = String::from("# firedrill scan\n\n");
    out += &totals(&report.summary);
    out += "\n\n";
    if report.rules.is_empty() {
        out += "No rule matched.\n";
    } else {
        out += &page::md_table(
            &RULE_COLUMNS,
            report.rules.iter().map(|rule| {
                [
                    md_cell(&rule.rule_title),
                    md_cell(rule.level.as_deref().unwrap_or("")),
                    rule.hits.to_string(),
                    rule.allowlisted.to_string(),
                    rule.omitted.to_string(),
                    rule.first_seen.clone().unwrap_or_default(),
                    rule.last_seen.clone().unwrap_or_default(),
                ]
            }),
        );
    }
    let listed = by_rule(report);
    for rule in &report.rules {
        out += &format!("\n## {}\n\n", rule.rule_title);
        out += &format!("`{}`", rule.rule_id);
        if let Some(author) = &rule.author {
            out += &format!(", by {author}");
        }
        out += &format!(
            ": {} hits, {} allowlisted{}.\n",
            rule.hits,
            rule.allowlisted,
            if rule.omitted == 0 {
                String::new()
            } else {
                format!(", {} not listed", rule.omitted)
            }
        );
        for (field, values) in &rule.top_values {
            out += &format!("\n{field}:\n\n");
            for value in values {
                out += &format!(
                    "- {} × `{}`\n",
                    value.count,
                    md_cell(&value.value).replace('`', "'")
                );
            }
        }
        let matches = listed
            .get(rule.rule_id.as_str())
            .map_or(&[][..], Vec::as_slice);
        if !matches.is_empty() {
            out += &format!(
                "\n<details><summary>{}</summary>\n\n",
                listed_note(rule, matches.len())
            );
            out += &page::md_table(
                &["time", "source", "index", "row"],
                matches.iter().map(|m| {
                    [
                        m.timestamp.clone().unwrap_or_default(),
                        format!("`{}`", md_cell(&m.source).replace('`', "'")),
                        indices(m),
                        md_cell(&row_text(m)),
                    ]
                }),
            );
            out += "\n</details>\n";
        }
    }
    if !report.diagnostics.is_empty() {
        out += "\n## Diagnostics\n\n";
        for diagnostic in &report.diagnostics {
            out += &format!(
                "- {}[{}] {}{}\n",
                diagnostic.severity,
                diagnostic.code,
                diagnostic.message,
                diagnostic
                    .file
                    .as_deref()
                    .map(|f| format!(" ({f})"))
                    .unwrap_or_default()
            );
            for note in &diagnostic.notes {
                out += &format!("  - {note}\n");
            }
            if let Some(help) = &diagnostic.help {
                out += &format!("  - help: {help}\n");
            }
        }
    }
    out
}

/// The scan page's own rules, beside the shared stylesheet.
const STYLE: &str =
    "td.n { text-align: right; } details { margin: .5em 0; } code { word-break: break-all; }\n";

/// The report as one self-contained HTML review page, in the shell and style of `firedrill
/// run`'s report: totals, a table of rules, and per rule its top values and first matches.
pub fn to_html(report: &ScanReport) -> String {
    let s = &report.summary;
    let mut out = page::head("firedrill scan", STYLE, None);
    out += "<h1>firedrill scan</h1>\n";
    out += &format!(
        "<p class=\"counts\"><span><b>{}</b> events</span><span><b>{}</b> files</span><span><b>{}</b> rules ({} failed to load)</span><span><b>{}</b> matches{}</span><span><b>{}</b> allowlisted</span><span><b>{}</b> bad records</span><span><b>{}</b> damaged chunks skipped</span><span><b>{}</b> unreadable files</span></p>\n",
        s.events,
        s.files,
        s.rules,
        s.rules_failed,
        s.matches,
        esc(&omitted_note(s)),
        s.allowlisted,
        s.bad_records,
        s.skipped_chunks,
        s.unreadable_files
    );
    if report.rules.is_empty() {
        out += "<p class=\"muted\">No rule matched.</p>\n";
    } else {
        out += &page::html_table(
            "data",
            &RULE_COLUMNS,
            report.rules.iter().enumerate().map(|(i, rule)| {
                [
                    format!("<a href=\"#r{i}\">{}</a>", esc(&rule.rule_title)),
                    esc(rule.level.as_deref().unwrap_or("")),
                    rule.hits.to_string(),
                    rule.allowlisted.to_string(),
                    rule.omitted.to_string(),
                    esc(rule.first_seen.as_deref().unwrap_or("")),
                    esc(rule.last_seen.as_deref().unwrap_or("")),
                ]
            }),
        );
    }
    let listed = by_rule(report);
    for (i, rule) in report.rules.iter().enumerate() {
        out += &format!(
            "<h2 id=\"r{i}\">{}</h2>\n<p><code>{}</code>",
            esc(&rule.rule_title),
            esc(&rule.rule_id)
        );
        if let Some(author) = &rule.author {
            out += &format!(" by {}", esc(author));
        }
        out += "</p>\n";
        for (field, values) in &rule.top_values {
            out += &format!("<details open><summary>{}</summary>", esc(field));
            out += &page::html_table(
                "data",
                &["#count", "value"],
                values.iter().map(|v| {
                    [
                        v.count.to_string(),
                        format!("<code>{}</code>", esc(&v.value)),
                    ]
                }),
            );
            out += "</details>\n";
        }
        let matches = listed
            .get(rule.rule_id.as_str())
            .map_or(&[][..], Vec::as_slice);
        if !matches.is_empty() {
            out += &format!(
                "<details><summary>{}</summary>",
                esc(&listed_note(rule, matches.len()))
            );
            out += &page::html_table(
                "data",
                &["time", "source", "index", "row"],
                matches.iter().map(|m| {
                    [
                        esc(m.timestamp.as_deref().unwrap_or("")),
                        format!("<code>{}</code>", esc(&m.source)),
                        esc(&indices(m)),
                        format!("<code>{}</code>", esc(&row_text(m))),
                    ]
                }),
            );
            out += "</details>\n";
        }
    }
    if !report.diagnostics.is_empty() {
        out += "<h2>Diagnostics</h2>\n<pre>";
        for diagnostic in &report.diagnostics {
            out += &esc(&diagnostic.render());
        }
        out += "</pre>\n";
    }
    out += page::FOOT;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_keep_the_most_frequent_values_and_the_time_range() {
        let mut tally = RuleTally::default();
        let t = |s: &str| crate::logs::parse_time(s);
        let v = |cmd: &str| vec![Some(cmd.to_string()), None, None, None, None];
        tally.add(t("2025-01-02T00:00:00Z"), &v("b"), false);
        tally.add(t("2025-01-01T00:00:00Z"), &v("a"), false);
        tally.add(t("2025-01-03T00:00:00Z"), &v("b"), false);
        tally.add(t("2025-01-04T00:00:00Z"), &v("c"), true);
        let summary = tally.finish("id".into(), "title".into(), None, None);
        assert_eq!((summary.hits, summary.allowlisted), (3, 1));
        assert_eq!(summary.first_seen.as_deref(), Some("2025-01-01T00:00:00Z"));
        assert_eq!(summary.last_seen.as_deref(), Some("2025-01-03T00:00:00Z"));
        let top: Vec<(&str, u64)> = summary.top_values["CommandLine"]
            .iter()
            .map(|v| (v.value.as_str(), v.count))
            .collect();
        assert_eq!(top, vec![("b", 2), ("a", 1)]);
    }

    #[test]
    fn earliest_keeps_the_smallest_keys_whatever_the_order_and_counts_the_rest() {
        let keys = [7, 3, 9, 0, 5, 1, 8, 2, 6, 4];
        let mut all = Earliest::new(3);
        for k in keys {
            all.push(k, k * 10);
        }
        assert_eq!(all.into_sorted(), vec![(0, 0), (1, 10), (2, 20)]);
        // Two parts merged, in either order, keep the same three and omit the same seven.
        let part = |ks: &[i32]| {
            let mut part = Earliest::new(3);
            for &k in ks {
                part.push(k, k * 10);
            }
            part
        };
        for (first, second) in [(&keys[..4], &keys[4..]), (&keys[4..], &keys[..4])] {
            let mut merged = part(first);
            merged.merge(part(second), |k| k);
            assert_eq!((merged.len(), merged.omitted()), (3, 7));
            assert_eq!(merged.into_sorted(), vec![(0, 0), (1, 10), (2, 20)]);
        }
        let mut unlimited = Earliest::new(0);
        for k in keys {
            unlimited.push_with(k, || ());
        }
        assert_eq!((unlimited.len(), unlimited.omitted()), (10, 0));
        let mut never_made = Earliest::new(1);
        never_made.push(1, "kept");
        never_made.push_with(2, || unreachable!("a later item is not made"));
        assert_eq!(never_made.into_sorted(), vec![(1, "kept")]);
    }

    #[test]
    fn tallies_merged_in_order_count_what_one_tally_counts() {
        let t = |s: &str| crate::logs::parse_time(s);
        let events = [
            ("2025-01-02T00:00:00Z", "b", false),
            ("2025-01-05T00:00:00Z", "a", false),
            ("2025-01-01T00:00:00Z", "c", true),
            ("2025-01-03T00:00:00Z", "b", false),
            ("2025-01-04T00:00:00Z", "c", false),
        ];
        let add = |tally: &mut RuleTally, (time, cmd, allowed): (&str, &str, bool)| {
            tally.add(
                t(time),
                &[Some(cmd.into()), None, None, None, None],
                allowed,
            );
        };
        let mut one = RuleTally::default();
        events.iter().for_each(|&e| add(&mut one, e));
        let (mut first, mut second) = (RuleTally::default(), RuleTally::default());
        events[..2].iter().for_each(|&e| add(&mut first, e));
        events[2..].iter().for_each(|&e| add(&mut second, e));
        first.merge(second);
        assert_eq!(first.hits(), 4);
        let finish = |tally: RuleTally| {
            let s = tally.finish("id".into(), "t".into(), None, None);
            (
                s.hits,
                s.allowlisted,
                s.first_seen,
                s.last_seen,
                s.top_values,
            )
        };
        let merged = finish(first);
        assert_eq!(merged, finish(one));
        assert_eq!(merged.2.as_deref(), Some("2025-01-02T00:00:00Z"));
        assert_eq!(merged.3.as_deref(), Some("2025-01-05T00:00:00Z"));
    }

    #[test]
    fn allowlists_use_sigmahq_known_fps_layout() {
        let list = Allowlist::parse(
            "fps.csv",
            "RuleId;RuleName;MatchString\n# a comment\nabc;Some Rule;nightly.cmd\n*;Any;ProgramData\\\\backup\n",
        )
        .unwrap();
        assert_eq!(list.len(), 2);
        assert!(list.covers("abc", r#"{"CommandLine":"x nightly.cmd"}"#));
        assert!(!list.covers("abd", r#"{"CommandLine":"x nightly.cmd"}"#));
        assert!(list.covers("xyz", r#"{"P":"C:\\ProgramData\\backup\\a"}"#));
        assert!(!list.is_silent_for("zzz"));
        let error = Allowlist::parse("fps.csv", "RuleId;RuleName;MatchString\nonly-one-column\n")
            .unwrap_err();
        assert_eq!(error.code, "LOG0010");
        assert_eq!(error.location.unwrap().line, 2);
    }

    #[test]
    fn writers_escape_what_they_show() {
        let mut report = ScanReport {
            format_version: 1,
            ..ScanReport::default()
        };
        let mut tally = RuleTally::default();
        tally.add(
            None,
            &[Some("<script>|x".into()), None, None, None, None],
            false,
        );
        report
            .rules
            .push(tally.finish("id".into(), "A & B".into(), Some("high".into()), None));
        let html = to_html(&report);
        assert!(html.contains("A &amp; B") && html.contains("&lt;script&gt;"));
        assert!(!html.contains("<script>"));
        let md = to_markdown(&report);
        assert!(md.contains("\\|x"), "{md}");
        assert!(to_json(&report).contains("\"format_version\": 1"));
    }
}

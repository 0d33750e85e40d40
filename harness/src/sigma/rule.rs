//! The rule model and its loader: files, directories and texts; multi-document YAML with
//! `action: global` / `reset` / `repeat`; detection, correlation and filter rules.
//!
//! Loading never stops at a bad rule: every document is parsed on its own and problems come
//! back as located [`Diagnostic`]s; the rules that load are kept.

use super::condition::{self, CondNode};
use super::modifier::Modifier;
use crate::diag::{Diagnostic, Span, did_you_mean};
use indexmap::IndexMap;
use serde_yaml::Value as Yaml;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Index of a rule in its [`RuleSet`] (and in the compiled engine).
pub type RuleIndex = usize;

/// A rule's `logsource`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogSource {
    /// `category`, e.g. `process_creation`.
    pub category: Option<String>,
    /// `product`, e.g. `windows`.
    pub product: Option<String>,
    /// `service`, e.g. `sysmon`.
    pub service: Option<String>,
}

impl std::fmt::Display for LogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = [
            ("product", &self.product),
            ("category", &self.category),
            ("service", &self.service),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {v}")))
        .collect();
        if parts.is_empty() {
            f.write_str("any")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// A scalar value written in a rule.
#[derive(Clone, Debug, PartialEq)]
pub enum RuleValue {
    /// Text (wildcards and escapes not yet interpreted).
    Str(String),
    /// A whole number.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
}

impl RuleValue {
    /// The value as text, the way the rule writes it (`None` for null).
    pub fn text(&self) -> Option<String> {
        match self {
            RuleValue::Str(s) => Some(s.clone()),
            RuleValue::Int(i) => Some(i.to_string()),
            RuleValue::Float(f) => Some(f.to_string()),
            RuleValue::Bool(b) => Some(b.to_string()),
            RuleValue::Null => None,
        }
    }
}

/// One `field|modifiers: values` entry of a selection (or a keyword list when `field` is `None`).
#[derive(Clone, Debug, PartialEq)]
pub struct FieldItem {
    /// The field, or `None` for keywords.
    pub field: Option<String>,
    /// The modifiers, in the order written.
    pub modifiers: Vec<Modifier>,
    /// The values (one or a list).
    pub values: Vec<RuleValue>,
    /// The key as written (`Image|endswith`), for messages.
    pub key: String,
    /// Where the key is in the file.
    pub span: Span,
    /// Where each value is written, index for index with `values` (the key's span for a value
    /// that could not be found in the text, such as one written with escapes).
    pub value_spans: Vec<Span>,
}

impl FieldItem {
    /// Where value `index` is written (the key when unknown).
    pub fn value_span(&self, index: usize) -> Span {
        self.value_spans.get(index).copied().unwrap_or(self.span)
    }
}

/// A search identifier's body.
#[derive(Clone, Debug, PartialEq)]
pub enum Selection {
    /// A map: every item holds (AND).
    Map(Vec<FieldItem>),
    /// A list of maps (or of keyword lists): any holds (OR).
    AnyOf(Vec<Selection>),
    /// A keyword list: one item with no field.
    Keywords(FieldItem),
}

/// A rule's `detection` section.
#[derive(Clone, Debug, PartialEq)]
pub struct Detection {
    /// Search identifiers in order.
    pub selections: IndexMap<String, Selection>,
    /// The condition(s); a list is OR-linked. Spans are file offsets.
    pub conditions: Vec<CondNode>,
    /// The condition text(s) as written.
    pub condition_texts: Vec<String>,
}

/// A correlation type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorrelationType {
    /// `event_count`.
    EventCount,
    /// `value_count`.
    ValueCount,
    /// `temporal`.
    Temporal,
    /// `temporal_ordered`.
    TemporalOrdered,
    /// `value_sum`.
    ValueSum,
    /// `value_avg`.
    ValueAvg,
    /// `value_percentile`.
    ValuePercentile,
}

impl CorrelationType {
    const ALL: [(&'static str, CorrelationType); 7] = [
        ("event_count", CorrelationType::EventCount),
        ("value_count", CorrelationType::ValueCount),
        ("temporal", CorrelationType::Temporal),
        ("temporal_ordered", CorrelationType::TemporalOrdered),
        ("value_sum", CorrelationType::ValueSum),
        ("value_avg", CorrelationType::ValueAvg),
        ("value_percentile", CorrelationType::ValuePercentile),
    ];

    /// The spelling in rules.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, t)| *t == self)
            .map_or("?", |(n, _)| n)
    }

    /// True for the types that need `condition.field`.
    pub fn needs_field(self) -> bool {
        matches!(
            self,
            CorrelationType::ValueCount
                | CorrelationType::ValueSum
                | CorrelationType::ValueAvg
                | CorrelationType::ValuePercentile
        )
    }
}

/// A correlation condition: one or more comparisons (AND), and the field for value types.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CorrelationCondition {
    /// The field value types aggregate.
    pub field: Option<String>,
    /// `(operator, threshold)` pairs, all of which must hold.
    pub checks: Vec<(crate::expr::NumOp, f64)>,
}

/// A correlation rule's `correlation` section.
#[derive(Clone, Debug, PartialEq)]
pub struct Correlation {
    /// The type.
    pub kind: CorrelationType,
    /// Referenced rules by id or name.
    pub rules: Vec<String>,
    /// Group-by fields (or aliases); may be empty (one group).
    pub group_by: Vec<String>,
    /// The time window, in seconds.
    pub timespan: i64,
    /// The condition (temporal types default to "all rules seen").
    pub condition: Option<CorrelationCondition>,
    /// Alias → (rule name or id → field).
    pub aliases: IndexMap<String, IndexMap<String, String>>,
    /// `generate: true` keeps the referenced rules' own matches.
    pub generate: bool,
}

/// A filter rule's `filter` section.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    /// The rules (ids or names) the filter applies to.
    pub rules: Vec<String>,
    /// The selections and condition; a match of the condition suppresses the rule's match.
    pub detection: Detection,
}

/// What a rule is.
#[derive(Clone, Debug, PartialEq)]
pub enum RuleBody {
    /// A detection rule.
    Detection(Detection),
    /// A correlation (meta) rule.
    Correlation(Correlation),
    /// A filter (meta) rule.
    Filter(Filter),
}

/// The text a rule was loaded from, shared by every document of a file.
#[derive(Debug, PartialEq, Eq)]
pub struct Source {
    /// The path (or label).
    pub path: String,
    /// The whole text.
    pub text: String,
}

/// One loaded rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// `id`.
    pub id: Option<String>,
    /// `name`.
    pub name: Option<String>,
    /// `title`.
    pub title: String,
    /// `level`.
    pub level: Option<String>,
    /// `status`.
    pub status: Option<String>,
    /// `tags`.
    pub tags: Vec<String>,
    /// `taxonomy` (`None` means the default, `sigma`).
    pub taxonomy: Option<String>,
    /// `author` (a list is joined with `, `).
    pub author: Option<String>,
    /// The file it came from.
    pub path: String,
    /// The 0-based document index within the file.
    pub document: usize,
    /// The byte offset of the document in the file.
    pub offset: usize,
    /// `logsource`.
    pub logsource: LogSource,
    /// The body.
    pub body: RuleBody,
    /// The source text, for diagnostics found later (when compiling).
    pub source: Arc<Source>,
}

impl Rule {
    /// A located diagnostic pointing at `span` of this rule's file.
    pub fn diag(&self, d: Diagnostic, span: Span) -> Diagnostic {
        d.at(&self.source.path, &self.source.text, span)
    }

    /// The best name to refer to the rule by in messages.
    pub fn label(&self) -> String {
        match &self.id {
            Some(id) => format!("`{}` ({id})", self.title),
            None => format!("`{}`", self.title),
        }
    }
}

/// A set of loaded rules.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    /// The rules, in load order.
    pub rules: Vec<Rule>,
    /// Rule documents that failed to load: `(path, first error)`.
    pub failed: Vec<(String, Diagnostic)>,
}

impl RuleSet {
    /// An empty set.
    pub fn new() -> Self {
        RuleSet::default()
    }

    /// Loads every `.yml` / `.yaml` file under `paths` (files or directories, walked in sorted
    /// order). Unreadable files become `IO0001` diagnostics. Files are parsed in parallel (each
    /// file's documents stand alone: references between rules resolve when compiling) and
    /// gathered in walk order, so the set is the same on any number of threads.
    pub fn load_paths(paths: &[PathBuf]) -> (RuleSet, Vec<Diagnostic>) {
        use rayon::prelude::*;
        let mut diagnostics = Vec::new();
        let mut files = Vec::new();
        for path in paths {
            if path.is_dir() {
                walk(path, &mut files, &mut diagnostics);
            } else {
                files.push(path.clone());
            }
        }
        let parts: Vec<(RuleSet, Vec<Diagnostic>)> = files
            .par_iter()
            .map(|file| {
                let mut part = RuleSet::new();
                let label = file.display().to_string();
                let diags = match crate::encoding::read_source(file, &label, "IO0001", "rule file")
                {
                    Ok(text) => part.add_source(&label, &text),
                    Err(d) => {
                        let d = *d;
                        part.failed.push((label, d.clone()));
                        vec![d]
                    }
                };
                (part, diags)
            })
            .collect();
        let mut set = RuleSet::new();
        for (part, diags) in parts {
            set.rules.extend(part.rules);
            set.failed.extend(part.failed);
            diagnostics.extend(diags);
        }
        (set, diagnostics)
    }

    /// Loads every document of one rule text, labelled `path`; returns its diagnostics.
    pub fn add_source(&mut self, path: &str, text: &str) -> Vec<Diagnostic> {
        let source = Arc::new(Source {
            path: path.to_string(),
            text: text.to_string(),
        });
        let mut diagnostics = Vec::new();
        let mut global: Option<serde_yaml::Mapping> = None;
        let mut previous: Option<serde_yaml::Mapping> = None;
        for (document, (offset, chunk)) in split_documents(text).into_iter().enumerate() {
            if chunk.trim().lines().all(|l| {
                let l = l.trim();
                l.is_empty() || l.starts_with('#')
            }) {
                continue;
            }
            let yaml: Yaml = match serde_yaml::from_str(chunk) {
                Ok(y) => y,
                Err(e) => {
                    let span = match e.location() {
                        Some(loc) => {
                            let at =
                                offset + crate::diag::offset_of(chunk, loc.line(), loc.column());
                            Span::new(at, at + 1)
                        }
                        None => Span::new(offset, offset),
                    };
                    let message = e.to_string();
                    let message = message.split(" at line ").next().unwrap_or(&message);
                    let d = Diagnostic::error("SIG0001", format!("invalid YAML: {message}"))
                        .at(path, text, span);
                    self.failed.push((path.to_string(), d.clone()));
                    diagnostics.push(d);
                    continue;
                }
            };
            let Yaml::Mapping(mut map) = yaml else {
                let d = Diagnostic::error("SIG0002", "a rule document must be a mapping").at(
                    path,
                    text,
                    Span::new(offset, offset),
                );
                self.failed.push((path.to_string(), d.clone()));
                diagnostics.push(d);
                continue;
            };
            match map.get("action").and_then(Yaml::as_str) {
                Some("global") => {
                    map.remove("action");
                    global = Some(map);
                    continue;
                }
                Some("reset") => {
                    global = None;
                    continue;
                }
                Some("repeat") => {
                    map.remove("action");
                    let mut base = previous.clone().unwrap_or_default();
                    merge(&mut base, map);
                    map = base;
                }
                Some(other) => {
                    let span = locate(text, offset, "action", other);
                    diagnostics.push(
                        Diagnostic::error("SIG0060", format!("unknown action `{other}`"))
                            .at(path, text, span)
                            .with_help("use `global`, `reset` or `repeat`"),
                    );
                    continue;
                }
                None => {
                    if let Some(g) = &global {
                        let mut base = g.clone();
                        merge(&mut base, map);
                        map = base;
                    }
                }
            }
            previous = Some(map.clone());
            let mut doc_diags = Vec::new();
            let end = offset + chunk.len();
            let rule = parse_rule(&map, &source, (offset, end), document, &mut doc_diags);
            if let Some(first) = doc_diags.iter().find(|d| d.is_error()) {
                self.failed.push((path.to_string(), first.clone()));
            } else if let Some(rule) = rule {
                self.rules.push(rule);
            }
            diagnostics.extend(doc_diags);
        }
        diagnostics
    }

    /// The rule with `id` or `name` equal to `reference`.
    pub fn find(&self, reference: &str) -> Option<RuleIndex> {
        self.rules
            .iter()
            .position(|r| r.id.as_deref() == Some(reference))
            .or_else(|| {
                self.rules
                    .iter()
                    .position(|r| r.name.as_deref() == Some(reference))
            })
    }

    /// How many rules loaded.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when no rule loaded.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, diagnostics: &mut Vec<Diagnostic>) {
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            diagnostics.push(
                Diagnostic::error("IO0001", format!("cannot read rule directory: {e}"))
                    .in_file(dir.display().to_string()),
            );
            return;
        }
    };
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, files, diagnostics);
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            files.push(path);
        }
    }
}

/// Splits a multi-document YAML text at `---` lines: `(byte offset, document text)`.
pub fn split_documents(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end();
        let is_marker = trimmed == "---"
            || (trimmed.starts_with("---")
                && trimmed[3..].trim_start().starts_with('#')
                && trimmed[3..].starts_with(char::is_whitespace));
        if is_marker {
            out.push((start, &text[start..offset]));
            start = offset + line.len();
        }
        offset += line.len();
    }
    out.push((start, &text[start..]));
    out
}

fn merge(base: &mut serde_yaml::Mapping, over: serde_yaml::Mapping) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(Yaml::Mapping(b)), Yaml::Mapping(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// The span of `key: value` (the value when found, else the key) in the document at `offset`.
pub fn locate(text: &str, offset: usize, key: &str, value: &str) -> Span {
    let doc = &text[offset.min(text.len())..];
    if key.is_empty() {
        return Span::new(offset, offset);
    }
    if let Some(found) = find_key(text, Span::new(offset, text.len()), key, None) {
        return value_or_key(text, found, value);
    }
    // Not a key: a list item or a value (a referenced rule id, say).
    match doc.find(key) {
        Some(at) => Span::new(offset + at, offset + at + key.len()),
        None => Span::new(offset, offset),
    }
}

/// A key found in the text: the key itself and the block that holds its value (the rest of the
/// key's line and every following line indented deeper than the key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct KeySpan {
    key: Span,
    block: Span,
}

/// The first `key:` in `text[within]` at a word boundary (bare or quoted, block or flow style).
/// With `indent`, only a key that starts its line (after `- ` list markers) at exactly that
/// many columns counts.
fn find_key(text: &str, within: Span, key: &str, indent: Option<usize>) -> Option<KeySpan> {
    let area = &text[within.start.min(text.len())..within.end.min(text.len())];
    let mut search_from = 0;
    while let Some(found) = area[search_from..].find(key) {
        let at = search_from + found;
        search_from = at + key.len();
        let rest = &area[at + key.len()..];
        let before = area[..at].chars().next_back();
        let quoted = matches!(before, Some('\'' | '"'));
        let boundary_before = at == 0
            || before
                .is_some_and(|c| c.is_whitespace() || matches!(c, '\'' | '"' | '-' | '{' | ','));
        let colon = rest.starts_with(':')
            || (quoted && (rest.starts_with("':") || rest.starts_with("\":")));
        if !boundary_before || !colon {
            continue;
        }
        let start = within.start + at;
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let column = start - line_start - usize::from(quoted);
        if let Some(indent) = indent {
            let lead = &text[line_start..start - usize::from(quoted)];
            let lead_ok = lead.trim_start_matches([' ', '-']).is_empty();
            if !lead_ok || column != indent {
                continue;
            }
        }
        let end = block_end(text, start, column).min(within.end);
        return Some(KeySpan {
            key: Span::new(start, start + key.len()),
            block: Span::new(start + key.len(), end),
        });
    }
    None
}

/// Where the block of a key at `column` (starting at byte `start`) ends: at the first later
/// line with content that is indented no deeper than the key.
fn block_end(text: &str, start: usize, column: usize) -> usize {
    let Some(newline) = text[start..].find('\n') else {
        return text.len();
    };
    let mut offset = start + newline + 1;
    for line in text[offset..].split_inclusive('\n') {
        let content = line.trim_start_matches(' ');
        let blank = content.trim().is_empty() || content.starts_with('#');
        if !blank && line.len() - content.len() <= column {
            return offset;
        }
        offset += line.len();
    }
    text.len()
}

/// The span of `value` on the line of `found`'s key, else of the key.
fn value_or_key(text: &str, found: KeySpan, value: &str) -> Span {
    let rest = &text[found.key.end..];
    let line_end = rest.find('\n').unwrap_or(rest.len());
    if !value.is_empty()
        && let Some(v) = rest[..line_end].find(value)
    {
        let start = found.key.end + v;
        return Span::new(start, start + value.len());
    }
    found.key
}

/// The first occurrence of a scalar `value` in `text[within]` standing on its own: bare, quoted,
/// a list item or a flow-sequence element (not part of a longer word or a comment's text).
fn find_value(text: &str, within: Span, value: &str) -> Option<Span> {
    if value.is_empty() {
        return None;
    }
    let area = &text[within.start.min(text.len())..within.end.min(text.len())];
    let mut search_from = 0;
    while let Some(found) = area[search_from..].find(value) {
        let at = search_from + found;
        search_from = at + value.len().max(1);
        let before = area[..at].chars().next_back();
        let after = area[at + value.len()..].chars().next();
        let starts =
            before.is_none_or(|c| c.is_whitespace() || matches!(c, '\'' | '"' | '[' | ',' | ':'));
        let ends = after
            .is_none_or(|c| c.is_whitespace() || matches!(c, '\'' | '"' | ']' | '}' | ',' | '#'));
        let line = &area[area[..at].rfind('\n').map_or(0, |i| i + 1)..at];
        if starts && ends && !line.contains(" #") && !line.trim_start().starts_with('#') {
            let start = within.start + at;
            return Some(Span::new(start, start + value.len()));
        }
    }
    None
}

/// The indentation of the first line with content in `block` after its first line (the
/// column the keys of a nested block mapping start at).
fn child_indent(text: &str, block: Span) -> Option<usize> {
    let area = &text[block.start..block.end];
    let first_newline = area.find('\n')?;
    area[first_newline + 1..]
        .lines()
        .map(|l| (l, l.trim_start_matches(' ')))
        .find(|(_, content)| !content.trim().is_empty() && !content.starts_with('#'))
        .map(|(l, content)| l.len() - content.len())
}

fn scalar_string(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn string_list(v: Option<&Yaml>) -> Vec<String> {
    match v {
        Some(Yaml::Sequence(items)) => items.iter().filter_map(scalar_string).collect(),
        Some(other) => scalar_string(other).into_iter().collect(),
        None => Vec::new(),
    }
}

struct Ctx<'a> {
    source: &'a Source,
    offset: usize,
    /// The byte offset one past the document's end.
    end: usize,
    diags: &'a mut Vec<Diagnostic>,
    /// The selection being parsed, when its key was found in this document.
    scope: Option<Scope>,
}

/// Where a selection is written: field keys are searched in its block, from `cursor` on (items
/// are parsed in the order written, so a key repeated across alternatives is found in turn).
#[derive(Clone, Copy)]
struct Scope {
    key: Span,
    block: Span,
    cursor: usize,
}

impl Ctx<'_> {
    /// The document's own text range.
    fn document(&self) -> Span {
        Span::new(self.offset, self.end)
    }

    /// The span of `key: value` in the selection being parsed (or anywhere in the document,
    /// outside a selection or when the key is not written in it).
    fn locate(&self, key: &str, value: &str) -> Span {
        let text = &self.source.text;
        if let Some(scope) = self.scope
            && !key.is_empty()
        {
            let found = find_key(text, Span::new(scope.cursor, scope.block.end), key, None)
                .or_else(|| find_key(text, scope.block, key, None));
            if let Some(found) = found {
                return value_or_key(text, found, value);
            }
        }
        locate(text, self.offset, key, value)
    }

    /// The span of the key of the selection being parsed (`name` located anywhere when the
    /// selection is not written in this document).
    fn selection_span(&self, name: &str) -> Span {
        self.scope
            .map_or_else(|| self.locate(name, ""), |scope| scope.key)
    }

    fn error(&mut self, code: &str, message: String, key: &str, value: &str) -> Diagnostic {
        let span = self.locate(key, value);
        self.error_at(code, message, span)
    }

    fn error_at(&mut self, code: &str, message: String, span: Span) -> Diagnostic {
        let d = Diagnostic::error(code, message).at(&self.source.path, &self.source.text, span);
        self.diags.push(d.clone());
        d
    }

    fn warn(&mut self, code: &str, message: String, key: &str, value: &str) {
        let span = self.locate(key, value);
        self.diags.push(Diagnostic::warning(code, message).at(
            &self.source.path,
            &self.source.text,
            span,
        ));
    }
}

fn parse_rule(
    map: &serde_yaml::Mapping,
    source: &Arc<Source>,
    (offset, end): (usize, usize),
    document: usize,
    diags: &mut Vec<Diagnostic>,
) -> Option<Rule> {
    let mut cx = Ctx {
        source,
        offset,
        end,
        diags,
        scope: None,
    };
    let title = match map.get("title") {
        Some(Yaml::String(t)) if !t.trim().is_empty() => t.clone(),
        Some(_) => {
            cx.error(
                "SIG0003",
                "`title` must be a non-empty string".into(),
                "title",
                "",
            );
            return None;
        }
        None => {
            let d = Diagnostic::error("SIG0003", "rule has no `title`").at(
                &source.path,
                &source.text,
                Span::new(offset, offset),
            );
            cx.diags.push(d);
            return None;
        }
    };
    let author = match map.get("author") {
        Some(Yaml::Sequence(items)) => Some(
            items
                .iter()
                .filter_map(scalar_string)
                .collect::<Vec<_>>()
                .join(", "),
        ),
        Some(v) => scalar_string(v),
        None => None,
    };
    let level = map.get("level").and_then(scalar_string);
    if let Some(level) = &level
        && !["informational", "low", "medium", "high", "critical"].contains(&level.as_str())
    {
        cx.warn(
            "SIG0007",
            format!("unknown level `{level}`"),
            "level",
            level,
        );
    }
    let logsource = match map.get("logsource") {
        Some(Yaml::Mapping(ls)) => LogSource {
            category: ls.get("category").and_then(scalar_string),
            product: ls.get("product").and_then(scalar_string),
            service: ls.get("service").and_then(scalar_string),
        },
        Some(_) => {
            cx.error(
                "SIG0004",
                "`logsource` must be a mapping".into(),
                "logsource",
                "",
            );
            return None;
        }
        None => LogSource::default(),
    };
    let body = if let Some(correlation) = map.get("correlation") {
        RuleBody::Correlation(parse_correlation(correlation, &mut cx)?)
    } else if let Some(filter) = map.get("filter") {
        if map.get("logsource").is_none() {
            cx.error(
                "SIG0004",
                "filter rule has no `logsource`".into(),
                "filter",
                "",
            );
            return None;
        }
        let Yaml::Mapping(filter) = filter else {
            cx.error("SIG0040", "`filter` must be a mapping".into(), "filter", "");
            return None;
        };
        let rules = string_list(filter.get("rules"));
        if rules.is_empty() {
            cx.error(
                "SIG0040",
                "filter names no `rules` to apply to".into(),
                "filter",
                "",
            );
            return None;
        }
        let mut detection_map = filter.clone();
        detection_map.remove("rules");
        RuleBody::Filter(Filter {
            rules,
            detection: parse_detection(&detection_map, "filter", &mut cx)?,
        })
    } else if let Some(detection) = map.get("detection") {
        if map.get("logsource").is_none() {
            cx.error("SIG0004", "rule has no `logsource`".into(), "detection", "");
            return None;
        }
        let Yaml::Mapping(detection) = detection else {
            cx.error(
                "SIG0005",
                "`detection` must be a mapping".into(),
                "detection",
                "",
            );
            return None;
        };
        RuleBody::Detection(parse_detection(detection, "detection", &mut cx)?)
    } else {
        cx.error(
            "SIG0002",
            "not a Sigma rule: no `detection`, `correlation` or `filter` section".into(),
            "title",
            "",
        );
        return None;
    };
    Some(Rule {
        id: map.get("id").and_then(scalar_string),
        name: map.get("name").and_then(scalar_string),
        title,
        level,
        status: map.get("status").and_then(scalar_string),
        tags: string_list(map.get("tags")),
        taxonomy: map.get("taxonomy").and_then(scalar_string),
        author,
        path: source.path.clone(),
        document,
        offset,
        logsource,
        body,
        source: source.clone(),
    })
}

/// Parses a `detection` (or a filter rule's `filter`) mapping; `section` names the key it sits
/// under, so that diagnostics point into this document's section rather than at the first
/// occurrence of a key anywhere in the file.
fn parse_detection(
    map: &serde_yaml::Mapping,
    section: &str,
    cx: &mut Ctx<'_>,
) -> Option<Detection> {
    let source = cx.source;
    let text = &source.text;
    let section = find_key(text, cx.document(), section, Some(0));
    let child = |name: &str| {
        let section = section?;
        find_key(text, section.block, name, child_indent(text, section.block))
    };
    let mut selections = IndexMap::new();
    let mut ok = true;
    for (key, value) in map {
        let Some(name) = scalar_string(key) else {
            cx.error(
                "SIG0005",
                "search identifiers must be strings".into(),
                "detection",
                "",
            );
            ok = false;
            continue;
        };
        if name == "condition" || name == "timeframe" {
            continue;
        }
        cx.scope = child(&name).map(|found| Scope {
            key: found.key,
            block: found.block,
            cursor: found.block.start,
        });
        let parsed = parse_selection(&name, value, cx);
        cx.scope = None;
        match parsed {
            Some(sel) => {
                selections.insert(name, sel);
            }
            None => {
                // Keep the name so the condition does not report it a second time.
                selections.insert(name, Selection::AnyOf(Vec::new()));
                ok = false;
            }
        }
    }
    if map.get("timeframe").is_some() {
        cx.error(
            "SIG0013",
            "`timeframe` belongs to deprecated aggregations and is unsupported; use a correlation rule".into(),
            "timeframe",
            "",
        );
        ok = false;
    }
    let texts: Vec<String> = match map.get("condition") {
        Some(Yaml::String(s)) => vec![s.clone()],
        Some(Yaml::Sequence(items)) if !items.is_empty() => {
            let texts: Vec<String> = items.iter().filter_map(scalar_string).collect();
            if texts.len() != items.len() {
                cx.error(
                    "SIG0006",
                    "every condition in the list must be a string".into(),
                    "condition",
                    "",
                );
                return None;
            }
            texts
        }
        Some(_) => {
            cx.error(
                "SIG0006",
                "`condition` must be a string or a list of strings".into(),
                "condition",
                "",
            );
            return None;
        }
        None => {
            cx.error(
                "SIG0006",
                "detection has no `condition`".into(),
                "detection",
                "",
            );
            return None;
        }
    };
    let condition_key = child("condition");
    let mut conditions = Vec::new();
    for text in &texts {
        let base = match condition_key {
            Some(found) => value_or_key(&cx.source.text, found, text),
            None => locate(&cx.source.text, cx.offset, "condition", text),
        };
        let base = if base.len() == text.len() {
            base.start
        } else {
            // Block scalars and lists: search the text itself after the key.
            let from = condition_key.map_or(cx.offset, |found| found.key.end);
            cx.source.text[from..]
                .find(text.as_str())
                .map_or(base.start, |i| from + i)
        };
        match condition::parse(text) {
            Ok(node) => {
                let node = shift(node, base);
                if check_references(&node, &selections, cx) {
                    conditions.push(node);
                } else {
                    ok = false;
                }
            }
            Err(e) => {
                let span = Span::new(base + e.span.start, base + e.span.end.max(e.span.start));
                cx.diags.push(Diagnostic::error(e.code, e.message).at(
                    &cx.source.path,
                    &cx.source.text,
                    span,
                ));
                ok = false;
            }
        }
    }
    ok.then_some(Detection {
        selections,
        conditions,
        condition_texts: texts,
    })
}

fn shift(mut node: CondNode, by: usize) -> CondNode {
    node.span = Span::new(node.span.start + by, node.span.end + by);
    node.cond = match node.cond {
        condition::Cond::And(items) => {
            condition::Cond::And(items.into_iter().map(|a| shift(a, by)).collect())
        }
        condition::Cond::Or(items) => {
            condition::Cond::Or(items.into_iter().map(|a| shift(a, by)).collect())
        }
        condition::Cond::Not(a) => condition::Cond::Not(Box::new(shift(*a, by))),
        other => other,
    };
    node
}

fn check_references(
    node: &CondNode,
    selections: &IndexMap<String, Selection>,
    cx: &mut Ctx<'_>,
) -> bool {
    use condition::{Cond, Pattern};
    match &node.cond {
        Cond::Ident(name) => {
            if selections.contains_key(name) {
                return true;
            }
            let mut d = Diagnostic::error(
                "SIG0011",
                format!("condition refers to undefined search identifier `{name}`"),
            )
            .at(&cx.source.path, &cx.source.text, node.span);
            if let Some(best) = did_you_mean(name, selections.keys().map(String::as_str)) {
                d = d.with_help(format!("did you mean `{best}`?"));
            }
            cx.diags.push(d);
            false
        }
        Cond::OneOf(Pattern::Glob(p)) | Cond::AllOf(Pattern::Glob(p)) => {
            if selections.keys().any(|k| condition::pattern_matches(p, k)) {
                return true;
            }
            cx.diags.push(
                Diagnostic::error(
                    "SIG0012",
                    format!("pattern `{p}` matches no search identifier"),
                )
                .at(&cx.source.path, &cx.source.text, node.span),
            );
            false
        }
        Cond::OneOf(Pattern::Them) | Cond::AllOf(Pattern::Them) => true,
        // Every operand (not stopping at the first), so that each undefined name is reported.
        Cond::And(items) | Cond::Or(items) => {
            let mut ok = true;
            for item in items {
                ok &= check_references(item, selections, cx);
            }
            ok
        }
        Cond::Not(a) => check_references(a, selections, cx),
    }
}

fn rule_value(v: &Yaml) -> Option<RuleValue> {
    Some(match v {
        Yaml::String(s) => RuleValue::Str(s.clone()),
        Yaml::Number(n) => match n.as_i64() {
            Some(i) => RuleValue::Int(i),
            None => RuleValue::Float(n.as_f64()?),
        },
        Yaml::Bool(b) => RuleValue::Bool(*b),
        Yaml::Null => RuleValue::Null,
        _ => return None,
    })
}

fn parse_selection(name: &str, value: &Yaml, cx: &mut Ctx<'_>) -> Option<Selection> {
    match value {
        Yaml::Mapping(map) => {
            let mut items = Vec::new();
            let mut ok = true;
            for (k, v) in map {
                let Some(key) = scalar_string(k) else {
                    let span = cx.selection_span(name);
                    cx.error_at(
                        "SIG0005",
                        format!("selection `{name}` has a non-string key"),
                        span,
                    );
                    ok = false;
                    continue;
                };
                match parse_item(name, &key, v, cx) {
                    Some(item) => items.push(item),
                    None => ok = false,
                }
            }
            if items.is_empty() && ok {
                let span = cx.selection_span(name);
                cx.error_at("SIG0005", format!("selection `{name}` is empty"), span);
                return None;
            }
            ok.then_some(Selection::Map(items))
        }
        Yaml::Sequence(list) => {
            if list.is_empty() {
                let span = cx.selection_span(name);
                cx.error_at(
                    "SIG0005",
                    format!("selection `{name}` is an empty list"),
                    span,
                );
                return None;
            }
            if list
                .iter()
                .all(|v| !matches!(v, Yaml::Mapping(_) | Yaml::Sequence(_)))
            {
                return parse_item(name, "", value, cx).map(Selection::Keywords);
            }
            let mut alternatives = Vec::new();
            let mut ok = true;
            for item in list {
                match item {
                    Yaml::Mapping(_) => match parse_selection(name, item, cx) {
                        Some(sel) => alternatives.push(sel),
                        None => ok = false,
                    },
                    scalar => match parse_item(name, "", scalar, cx) {
                        Some(item) => alternatives.push(Selection::Keywords(item)),
                        None => ok = false,
                    },
                }
            }
            ok.then_some(Selection::AnyOf(alternatives))
        }
        Yaml::String(_) | Yaml::Number(_) | Yaml::Bool(_) => {
            parse_item(name, "", value, cx).map(Selection::Keywords)
        }
        _ => {
            let span = cx.selection_span(name);
            cx.error_at(
                "SIG0005",
                format!("selection `{name}` must be a map or a list"),
                span,
            );
            None
        }
    }
}

fn parse_item(selection: &str, key: &str, value: &Yaml, cx: &mut Ctx<'_>) -> Option<FieldItem> {
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or("").to_string();
    // Keyword lists have no key of their own: point at the selection.
    let span = if key.is_empty() {
        cx.selection_span(selection)
    } else {
        cx.locate(key, "")
    };
    let in_scope = cx
        .scope
        .filter(|scope| scope.block.start <= span.start && span.end <= scope.block.end);
    if let Some(scope) = &mut cx.scope
        && in_scope.is_some()
    {
        scope.cursor = scope.cursor.max(span.end);
    }
    let mut modifiers = Vec::new();
    let mut ok = true;
    for name in parts {
        match Modifier::parse(name) {
            Some(m) => modifiers.push(m),
            None => {
                let mut d = Diagnostic::error(
                    "SIG0020",
                    format!(
                        "unsupported modifier `{name}` on field `{field}` in selection `{selection}`"
                    ),
                )
                .at(&cx.source.path, &cx.source.text, span);
                if let Some(best) =
                    did_you_mean(name, super::modifier::SUPPORTED.iter().map(|(n, _)| *n))
                {
                    d = d.with_help(format!("did you mean `{best}`?"));
                }
                cx.diags.push(d);
                ok = false;
            }
        }
    }
    let values = match value {
        Yaml::Sequence(items) => {
            let mut values = Vec::new();
            for item in items {
                match rule_value(item) {
                    Some(v) => values.push(v),
                    None => {
                        cx.error_at(
                            "SIG0005",
                            format!(
                                "field `{key}` in selection `{selection}` has a nested list or map value"
                            ),
                            span,
                        );
                        ok = false;
                    }
                }
            }
            if values.is_empty() && ok {
                cx.error_at(
                    "SIG0005",
                    format!("field `{key}` in selection `{selection}` has an empty list"),
                    span,
                );
                ok = false;
            }
            values
        }
        other => match rule_value(other) {
            Some(v) => vec![v],
            None => {
                cx.error_at(
                    "SIG0005",
                    format!("field `{key}` in selection `{selection}` has a map value"),
                    span,
                );
                return None;
            }
        },
    };
    // The values follow the key (or, for keywords, the selection's key), in order.
    let text = &cx.source.text;
    let mut from = in_scope.map_or(span.end, |scope| scope.cursor.max(span.end));
    let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let to = block_end(text, span.start, span.start - line_start);
    let value_spans: Vec<Span> = values
        .iter()
        .map(|v| {
            let within = Span::new(from, to);
            let found = match v.text() {
                Some(value) => find_value(text, within, &value),
                // YAML's spellings of null (an empty item has no text to point at).
                None => ["null", "Null", "NULL", "~"]
                    .iter()
                    .filter_map(|null| find_value(text, within, null))
                    .min_by_key(|found| found.start),
            };
            match found {
                Some(found) => {
                    from = found.end;
                    found
                }
                None => span,
            }
        })
        .collect();
    if let Some(scope) = &mut cx.scope
        && in_scope.is_some()
    {
        scope.cursor = scope.cursor.max(from);
    }
    if values.len() > 1
        && let Some(null) = values.iter().position(|v| *v == RuleValue::Null)
    {
        cx.diags.push(
            Diagnostic::error(
                "SIG0023",
                format!("`null` inside a value list (field `{key}` in selection `{selection}`)"),
            )
            .at(&cx.source.path, &cx.source.text, value_spans[null])
            .with_help("put the `null` test in a selection of its own (rules specification, \"Special Field Values\")"),
        );
        ok = false;
    }
    ok.then(|| FieldItem {
        field: (!field.is_empty()).then_some(field),
        modifiers,
        values,
        key: key.to_string(),
        span,
        value_spans,
    })
}

fn parse_timespan(text: &str) -> Option<i64> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: i64 = number.parse().ok().filter(|n| *n > 0)?;
    Some(match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        "w" => n * 7 * 86_400,
        _ => return None,
    })
}

fn parse_correlation(value: &Yaml, cx: &mut Ctx<'_>) -> Option<Correlation> {
    use crate::expr::NumOp;
    let Yaml::Mapping(map) = value else {
        cx.error(
            "SIG0030",
            "`correlation` must be a mapping".into(),
            "correlation",
            "",
        );
        return None;
    };
    let type_name = map.get("type").and_then(scalar_string).unwrap_or_default();
    let Some(kind) = CorrelationType::ALL
        .iter()
        .find(|(n, _)| *n == type_name)
        .map(|(_, t)| *t)
    else {
        let mut d = cx.error(
            "SIG0030",
            format!("unknown correlation type `{type_name}`"),
            "type",
            &type_name,
        );
        if let Some(best) = did_you_mean(&type_name, CorrelationType::ALL.iter().map(|(n, _)| *n)) {
            d = d.with_help(format!("did you mean `{best}`?"));
            cx.diags.pop();
            cx.diags.push(d);
        }
        return None;
    };
    let rules = string_list(map.get("rules"));
    if rules.is_empty() {
        cx.error(
            "SIG0030",
            "correlation names no `rules`".into(),
            "correlation",
            "",
        );
        return None;
    }
    let timespan_text = map.get("timespan").and_then(scalar_string);
    let Some(timespan) = timespan_text.as_deref().and_then(parse_timespan) else {
        cx.error(
            "SIG0032",
            format!(
                "correlation needs a `timespan` like `90m` (got {})",
                timespan_text.map_or("nothing".to_string(), |t| format!("`{t}`"))
            ),
            "timespan",
            "",
        );
        return None;
    };
    let condition = match map.get("condition") {
        Some(Yaml::Mapping(c)) => {
            let mut cond = CorrelationCondition::default();
            for (k, v) in c {
                let key = scalar_string(k).unwrap_or_default();
                if key == "field" {
                    cond.field = scalar_string(v);
                    continue;
                }
                let op = match key.as_str() {
                    "gt" => NumOp::Gt,
                    "gte" => NumOp::Gte,
                    "lt" => NumOp::Lt,
                    "lte" => NumOp::Lte,
                    "eq" => NumOp::Eq,
                    "neq" => NumOp::Neq,
                    other => {
                        cx.error(
                            "SIG0030",
                            format!("unknown correlation condition operator `{other}`"),
                            other,
                            "",
                        );
                        return None;
                    }
                };
                let Some(n) = v.as_f64() else {
                    cx.error(
                        "SIG0030",
                        format!("correlation condition `{key}` needs a number"),
                        &key,
                        "",
                    );
                    return None;
                };
                cond.checks.push((op, n));
            }
            Some(cond)
        }
        Some(_) => {
            cx.error(
                "SIG0030",
                "correlation `condition` must be a mapping".into(),
                "condition",
                "",
            );
            return None;
        }
        None => None,
    };
    let temporal = matches!(
        kind,
        CorrelationType::Temporal | CorrelationType::TemporalOrdered
    );
    match &condition {
        None if !temporal => {
            cx.error(
                "SIG0030",
                format!("a `{}` correlation needs a `condition`", kind.name()),
                "correlation",
                "",
            );
            return None;
        }
        Some(c) if c.checks.is_empty() => {
            cx.error(
                "SIG0030",
                "correlation condition has no comparison (`gt`, `gte`, `lt`, `lte`, `eq`, `neq`)"
                    .into(),
                "condition",
                "",
            );
            return None;
        }
        Some(c) if kind.needs_field() && c.field.is_none() => {
            cx.error(
                "SIG0030",
                format!("a `{}` correlation needs `condition.field`", kind.name()),
                "condition",
                "",
            );
            return None;
        }
        _ => {}
    }
    let mut aliases = IndexMap::new();
    if let Some(Yaml::Mapping(a)) = map.get("aliases") {
        for (alias, per_rule) in a {
            let (Some(alias), Yaml::Mapping(per_rule)) = (scalar_string(alias), per_rule) else {
                cx.error(
                    "SIG0030",
                    "each alias must map rule names to fields".into(),
                    "aliases",
                    "",
                );
                return None;
            };
            let fields: IndexMap<String, String> = per_rule
                .iter()
                .filter_map(|(r, f)| Some((scalar_string(r)?, scalar_string(f)?)))
                .collect();
            aliases.insert(alias, fields);
        }
    }
    Some(Correlation {
        kind,
        rules,
        group_by: string_list(map.get("group-by")),
        timespan,
        condition,
        aliases,
        generate: map.get("generate").and_then(Yaml::as_bool).unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_at_marker_lines_only() {
        let text = "a: 1\n---\nb: '---'\n--- # two\nc: 3\n";
        let docs = split_documents(text);
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[1].1, "b: '---'\n");
        assert_eq!(&text[docs[2].0..], "c: 3\n");
    }

    #[test]
    fn timespans_accept_the_spec_units() {
        assert_eq!(parse_timespan("90m"), Some(5400));
        assert_eq!(parse_timespan("1d"), Some(86_400));
        assert_eq!(parse_timespan("10"), None);
        assert_eq!(parse_timespan("0s"), None);
    }

    #[test]
    fn global_action_merges_into_following_documents() {
        let text = "action: global\ntitle: T\nlogsource:\n  product: windows\ndetection:\n  condition: sel\n---\nlogsource:\n  category: process_creation\ndetection:\n  sel:\n    Image: x\n---\ndetection:\n  sel:\n    Image: y\n";
        let mut set = RuleSet::new();
        let diags = set.add_source("g.yml", text);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(set.rules.len(), 2);
        assert_eq!(
            set.rules[0].logsource.category.as_deref(),
            Some("process_creation")
        );
        assert_eq!(set.rules[1].logsource.product.as_deref(), Some("windows"));
    }

    #[test]
    fn a_bad_document_does_not_stop_the_others() {
        let text = "title: A\nlogsource: {product: windows}\ndetection:\n  sel:\n    Image|bogus: x\n  condition: sel\n---\ntitle: B\nlogsource: {product: windows}\ndetection:\n  sel:\n    Image: x\n  condition: sel\n";
        let mut set = RuleSet::new();
        let diags = set.add_source("two.yml", text);
        assert_eq!(set.rules.len(), 1);
        assert_eq!(set.failed.len(), 1);
        assert_eq!(diags[0].code, "SIG0020");
        let loc = diags[0].location.as_ref().unwrap();
        assert_eq!((loc.line, loc.column), (5, 5));
    }

    #[test]
    fn undefined_identifiers_get_a_suggestion() {
        let text = "title: A\nlogsource: {product: windows}\ndetection:\n  selection:\n    Image: x\n  condition: selektion\n";
        let mut set = RuleSet::new();
        let diags = set.add_source("a.yml", text);
        assert_eq!(diags[0].code, "SIG0011");
        assert_eq!(diags[0].help.as_deref(), Some("did you mean `selection`?"));
        let loc = diags[0].location.as_ref().unwrap();
        assert_eq!((loc.line, loc.column), (6, 14));
    }
}

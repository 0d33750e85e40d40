//! Diagnostics as data: a stable code, a message, where it happened and how to fix it.
//!
//! Every parser in firedrill (scenario YAML, Sigma rules and conditions, KQL) reports problems
//! as [`Diagnostic`] values. A diagnostic is self-contained: it carries the file name, the
//! line and column, and a copy of the offending source line, so it renders the same way
//! anywhere (a terminal, a JSON report, a libtest failure) without access to the source.
//! Rendering happens only at the edge, through [`Diagnostic::render`].

use serde::{Deserialize, Serialize};
use std::fmt;

/// A byte range into one source text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end` (byte offsets).
    pub const fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }

    /// Length in bytes.
    pub fn len(self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// True for a zero-width span.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// A value together with the span it was parsed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Spanned<T> {
    /// The value.
    pub node: T,
    /// Where it came from.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Wraps `node` with `span`.
    pub fn new(node: T, span: Span) -> Self {
        Spanned { node, span }
    }
}

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational; never fails anything.
    Note,
    /// Suspicious but usable.
    Warning,
    /// The input cannot be used as written.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// A resolved position in a named source: file, 1-based line and column, and the line's text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// The file (or pseudo-file such as `<query>`) the span points into.
    pub file: String,
    /// 1-based line of the span's start.
    pub line: usize,
    /// 1-based column (in characters) of the span's start.
    pub column: usize,
    /// Byte span in the whole source.
    pub span: Span,
    /// The full text of the line holding the span's start, without its line ending.
    pub source_line: String,
    /// How many characters of `source_line` the caret underline covers (at least 1).
    pub width: usize,
    /// Text printed after the caret underline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

impl Location {
    /// Resolves `span` in `source` (the whole text of `file`).
    ///
    /// Out-of-range spans are clamped to the text, so a slightly wrong span never panics.
    pub fn resolve(file: impl Into<String>, source: &str, span: Span) -> Location {
        let start = floor_char_boundary(source, span.start.min(source.len()));
        let end = floor_char_boundary(source, span.end.clamp(start, source.len()));
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let line = source[..start].matches('\n').count() + 1;
        let column = source[line_start..start].chars().count() + 1;
        let source_line = source[line_start..line_end]
            .trim_end_matches('\r')
            .to_string();
        let width = source[start..end.min(line_end).max(start)]
            .chars()
            .count()
            .max(1);
        Location {
            file: file.into(),
            line,
            column,
            span: Span::new(start, end),
            source_line,
            width,
            label: None,
        }
    }

    /// A location for a 1-based line and column, as YAML parsers report them.
    pub fn at_line_col(
        file: impl Into<String>,
        source: &str,
        line: usize,
        column: usize,
    ) -> Location {
        let offset = offset_of(source, line, column);
        Location::resolve(file, source, Span::new(offset, offset))
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The byte offset of a 1-based line and (character) column; clamped to the text.
pub fn offset_of(source: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (index, text) in source.split_inclusive('\n').enumerate() {
        if index + 1 == line {
            let within: usize = text
                .chars()
                .take(column.saturating_sub(1))
                .map(char::len_utf8)
                .sum();
            return offset + within;
        }
        offset += text.len();
    }
    source.len()
}

/// One problem found in an input: a stable code, a message, a location and help.
///
/// Codes are stable across releases and appear in JSON reports: `SCN…` for scenarios,
/// `SIG…` for Sigma, `KQL…` for KQL, `LOG…` for recorded logs, `CFG…` for configuration,
/// `IO…` for files that cannot be read. Messages are lowercase fragments with no trailing period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Stable code, for example `SCN0003`.
    pub code: String,
    /// How serious it is.
    pub severity: Severity,
    /// What is wrong, as a lowercase fragment.
    pub message: String,
    /// Where, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// The file, when there is no precise location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// How to fix it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Further context, one sentence each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error with `code` and `message`.
    pub fn error(code: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic::new(Severity::Error, code, message)
    }

    /// A warning with `code` and `message`.
    pub fn warning(code: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic::new(Severity::Warning, code, message)
    }

    /// A diagnostic of any severity.
    pub fn new(severity: Severity, code: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            code: code.into(),
            severity,
            message: message.into(),
            location: None,
            file: None,
            help: None,
            notes: Vec::new(),
        }
    }

    /// Points the diagnostic at `span` in `source`, the whole text of `file`.
    pub fn at(mut self, file: impl Into<String>, source: &str, span: Span) -> Self {
        let location = Location::resolve(file, source, span);
        self.file = Some(location.file.clone());
        self.location = Some(location);
        self
    }

    /// Points the diagnostic at a resolved location.
    pub fn located(mut self, location: Location) -> Self {
        self.file = Some(location.file.clone());
        self.location = Some(location);
        self
    }

    /// Names the file without a precise position.
    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }

    /// Sets the text printed beside the caret.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        if let Some(location) = &mut self.location {
            location.label = Some(label.into());
        }
        self
    }

    /// Adds a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic for a terminal or a text report, rustc style, without colour.
    ///
    /// ```text
    /// error[SCN0003]: duplicate node id `ps`
    ///   --> scenarios/arcsoc.yaml:14:13
    ///    |
    /// 14 |       - id: ps
    ///    |             ^^ first defined at line 9
    ///    = help: give every process node its own id
    /// ```
    pub fn render(&self) -> String {
        let mut out = format!("{}[{}]: {}\n", self.severity, self.code, self.message);
        match (&self.location, &self.file) {
            (Some(loc), _) => {
                let number = loc.line.to_string();
                let gutter = " ".repeat(number.len());
                out += &format!("{gutter}--> {}:{}:{}\n", loc.file, loc.line, loc.column);
                out += &format!("{gutter} |\n");
                out += &format!("{number} | {}\n", loc.source_line);
                let lead: String = loc
                    .source_line
                    .chars()
                    .take(loc.column - 1)
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                let carets = "^".repeat(loc.width);
                match &loc.label {
                    Some(label) => out += &format!("{gutter} | {lead}{carets} {label}\n"),
                    None => out += &format!("{gutter} | {lead}{carets}\n"),
                }
                for note in &self.notes {
                    out += &format!("{gutter} = note: {note}\n");
                }
                if let Some(help) = &self.help {
                    out += &format!("{gutter} = help: {help}\n");
                }
            }
            (None, file) => {
                if let Some(file) = file {
                    out += &format!(" --> {file}\n");
                }
                for note in &self.notes {
                    out += &format!("  = note: {note}\n");
                }
                if let Some(help) = &self.help {
                    out += &format!("  = help: {help}\n");
                }
            }
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for Diagnostic {}

/// The closest candidate to `word` by edit distance, for "did you mean" help.
///
/// Returns `None` when nothing is close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word_lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (levenshtein(&word_lower, &c.to_lowercase()), c))
        .filter(|(d, c)| {
            let len = c.chars().count().max(word.chars().count());
            *d <= if len <= 3 { 1 } else { (len / 3).max(2) }
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edit distance between two strings, in characters.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                previous
            } else {
                1 + previous.min(row[j]).min(row[j + 1])
            };
            previous = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_points_a_caret_at_the_span() {
        let source = "name: x\nprocesses:\n  - id: ps\n";
        let start = source.find("ps").unwrap();
        let d = Diagnostic::error("SCN0003", "duplicate node id `ps`")
            .at("s.yaml", source, Span::new(start, start + 2))
            .with_label("first defined at line 9")
            .with_help("give every process node its own id");
        assert_eq!(
            d.render(),
            "error[SCN0003]: duplicate node id `ps`\n --> s.yaml:3:9\n  |\n3 |   - id: ps\n  |         ^^ first defined at line 9\n  = help: give every process node its own id\n"
        );
    }

    #[test]
    fn line_and_column_round_trip_through_offsets() {
        let source = "a\nbé c\n";
        let offset = offset_of(source, 2, 3);
        assert_eq!(&source[offset..offset + 1], " ");
        let loc = Location::at_line_col("f", source, 2, 3);
        assert_eq!((loc.line, loc.column), (2, 3));
    }

    #[test]
    fn out_of_range_spans_are_clamped() {
        let loc = Location::resolve("f", "abc", Span::new(10, 20));
        assert_eq!((loc.line, loc.column), (1, 4));
    }

    #[test]
    fn did_you_mean_suggests_near_misses_only() {
        let keys = ["children", "command_line", "image"];
        assert_eq!(did_you_mean("childern", keys), Some("children"));
        assert_eq!(did_you_mean("imgae", keys), Some("image"));
        assert_eq!(did_you_mean("zzzzzzzz", keys), None);
    }
}

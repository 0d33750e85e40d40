//! Query scripts: several queries in one text, separated by blank lines, as query editors read them.
//!
//! Log Analytics, Defender advanced hunting and Azure Data Explorer run "the query under the
//! cursor": the editor text is split into blocks at blank lines (Kusto.Language's `CodeScript`
//! of `CodeBlock`s, block starts from `ScriptFacts.GetKustoBlockStarts`). Hunting notes and
//! webcast files are written that way. A Sentinel rule, though, runs its whole query text as one
//! query, blank lines included, so a text is read as a script only when it does not parse as one
//! query and a parse error of the whole text sits where a block begins ([`parse_text`], [`split`]).
//! Each block is then parsed on its own, with spans (and so lines and columns) into the whole
//! text.

use crate::diag::{Diagnostic, Span};
use crate::kql::ast::Query;
use crate::kql::lex::lex;

/// One query of a script.
#[derive(Clone, Debug)]
pub struct Block {
    /// The block in the whole text: its first line to the end of its last non-blank line.
    pub span: Span,
    /// Where the block's code starts (after leading comments): its first token.
    pub code_start: usize,
    /// 1-based first and last line of the block in the whole text.
    pub lines: (usize, usize),
    /// The parsed query, `Some` exactly when no diagnostic is an error.
    pub query: Option<Query>,
    /// The block's parse diagnostics, located in the whole text.
    pub diagnostics: Vec<Diagnostic>,
}

/// A script: the blocks that hold code, in order (blank and comment-only blocks are left out).
#[derive(Clone, Debug, Default)]
pub struct Script {
    /// The blocks.
    pub blocks: Vec<Block>,
}

impl Script {
    /// True when every block parses.
    pub fn parses(&self) -> bool {
        self.blocks.iter().all(|b| b.query.is_some())
    }

    /// Every block's diagnostics, in text order.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        self.blocks
            .iter()
            .flat_map(|b| b.diagnostics.iter().cloned())
            .collect()
    }

    /// "lines 1-6, 8-12 and 14-20", for messages.
    pub fn describe_lines(&self) -> String {
        let parts: Vec<String> = self
            .blocks
            .iter()
            .map(|b| match b.lines {
                (a, z) if a == z => format!("{a}"),
                (a, z) => format!("{a}-{z}"),
            })
            .collect();
        match parts.split_last() {
            Some((last, rest)) if !rest.is_empty() => {
                format!("lines {} and {last}", rest.join(", "))
            }
            _ => format!("lines {}", parts.join("")),
        }
    }
}

/// A text read as one query or as a script.
#[derive(Clone, Debug)]
pub enum Parsed {
    /// The text is one query (it may still hold blank lines).
    Query(Query),
    /// The text is several queries separated by blank lines; some blocks may fail to parse.
    Script(Script),
    /// The text is neither: these errors are inside a query, not between queries.
    Invalid,
}

/// Reads `text` as one query, else as a script (see the module documentation). The diagnostics
/// are the whole text's for [`Parsed::Query`] and [`Parsed::Invalid`], and every block's for
/// [`Parsed::Script`].
pub fn parse_text(file: &str, text: &str) -> (Parsed, Vec<Diagnostic>) {
    let (query, diagnostics) = crate::kql::parse::parse_named(file, text);
    if let Some(query) = query {
        return (Parsed::Query(query), diagnostics);
    }
    match split(file, text, &diagnostics) {
        Some(script) => {
            let diagnostics = script.diagnostics();
            (Parsed::Script(script), diagnostics)
        }
        None => (Parsed::Invalid, diagnostics),
    }
}

/// The script `text` is, given the errors of parsing it as one query: `None` unless it has
/// two or more blocks of code and some error sits where a block's code begins (on its first
/// line of code), which shows that a query ended before the blank line and another begins after
/// it. Errors elsewhere belong to their blocks and are reported when each block is parsed.
pub fn split(file: &str, text: &str, whole_text_errors: &[Diagnostic]) -> Option<Script> {
    let spans = block_spans(text);
    if spans.len() < 2 {
        return None;
    }
    let first_lines: Vec<(usize, usize)> = spans[1..]
        .iter()
        .map(|&(_, code)| {
            (
                code,
                text[code..].find('\n').map_or(text.len(), |i| code + i),
            )
        })
        .collect();
    let at_boundary = |d: &Diagnostic| {
        d.location.as_ref().is_some_and(|l| {
            first_lines
                .iter()
                .any(|&(start, end)| (start..end.max(start + 1)).contains(&l.span.start))
        })
    };
    if !whole_text_errors
        .iter()
        .any(|d| d.is_error() && at_boundary(d))
    {
        return None;
    }
    let blocks = spans
        .into_iter()
        .map(|(span, code_start)| {
            let (query, diagnostics) =
                crate::kql::parse::parse_named(file, &mask_outside(text, span));
            Block {
                span,
                code_start,
                lines: (line_of(text, span.start), line_of(text, span.end)),
                query,
                diagnostics,
            }
        })
        .collect();
    Some(Script { blocks })
}

/// The blocks of `text` that hold code: (block span, where its code starts).
///
/// Block starts follow Kusto.Language's `GetLineSeparatedBlockStarts`: a block starts at the
/// first non-blank line after one or more blank (whitespace-only) lines; a start inside a
/// multi-line string literal does not count. Blocks of only whitespace and comments are dropped.
pub fn block_spans(text: &str) -> Vec<(Span, usize)> {
    let (tokens, _) = lex("<script>", text);
    let inside_token = |at: usize| tokens.iter().any(|t| t.span.start < at && at < t.span.end);
    let mut starts = vec![0];
    let mut after_blank = false;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if is_blank(line) {
            after_blank = true;
        } else if after_blank {
            if !inside_token(offset) {
                starts.push(offset);
            }
            after_blank = false;
        }
        offset += line.len();
    }
    let mut out = Vec::new();
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(text.len());
        let chunk = &text[start..end];
        let trimmed_end = start + chunk.trim_end().len();
        if let Some(code) = code_start(text, start, trimmed_end) {
            out.push((Span::new(start, trimmed_end), code));
        }
    }
    out
}

fn is_blank(line: &str) -> bool {
    line.chars().all(char::is_whitespace)
}

/// The first byte of code in `text[start..end]`, past whitespace and `//` comments.
fn code_start(text: &str, start: usize, end: usize) -> Option<usize> {
    let mut at = start;
    while at < end {
        let rest = &text[at..end];
        let c = rest.chars().next()?;
        if c.is_whitespace() || c == '\u{200B}' || c == '\u{FEFF}' {
            at += c.len_utf8();
        } else if rest.starts_with("//") {
            at += rest.find('\n').unwrap_or(rest.len());
        } else {
            return Some(at);
        }
    }
    None
}

/// `text` with every character outside `keep` blanked (newlines kept, byte offsets unchanged),
/// so a block parses alone while its spans, lines and columns stay those of the whole text.
fn mask_outside(text: &str, keep: Span) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        if (keep.start..keep.end).contains(&i) || c == '\n' {
            out.push(c);
        } else {
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        }
    }
    out
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<&str> {
        block_spans(text)
            .into_iter()
            .map(|(s, _)| &text[s.start..s.end])
            .collect()
    }

    #[test]
    fn blocks_start_after_blank_lines_and_skip_comment_only_blocks() {
        let text = "// c\nT | take 1\n\n  \nlet x = 1;\nT2\n\n// only a comment\n\nU";
        assert_eq!(
            texts(text),
            ["// c\nT | take 1", "let x = 1;\nT2", "U"],
            "{text:?}"
        );
    }

    #[test]
    fn a_blank_line_inside_a_multiline_string_does_not_split() {
        let text = "print x = ```a\n\nb```\n\nT";
        assert_eq!(texts(text), ["print x = ```a\n\nb```", "T"]);
    }

    #[test]
    fn one_query_with_blank_lines_stays_one_query() {
        let text = "let a = 1;\n\nT\n\n| where x == a";
        assert!(matches!(parse_text("<q>", text).0, Parsed::Query(_)));
    }

    #[test]
    fn queries_separated_by_blank_lines_are_a_script_with_located_blocks() {
        let text = "// one\nT\n| take 1\n\nlet y = 2;\nU | where z == y\n";
        let (parsed, diags) = parse_text("f.kql", text);
        let Parsed::Script(script) = parsed else {
            panic!("not a script: {diags:?}")
        };
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(script.blocks.len(), 2);
        assert_eq!(script.blocks[0].lines, (1, 3));
        assert_eq!(script.blocks[1].lines, (5, 6));
        assert_eq!(script.describe_lines(), "lines 1-3 and 5-6");
        let second = script.blocks[1].query.as_ref().expect("parses");
        assert_eq!(second.to_string(), "let y = 2;\nU | where z == y");
    }

    #[test]
    fn a_broken_block_is_reported_at_its_line_in_the_whole_text() {
        let text = "T\n\nU | where\n";
        let (parsed, diags) = parse_text("f.kql", text);
        let Parsed::Script(script) = parsed else {
            panic!("not a script")
        };
        assert!(script.blocks[0].query.is_some() && script.blocks[1].query.is_none());
        assert!(!script.parses());
        assert_eq!(diags[0].location.as_ref().map(|l| l.line), Some(3));
    }

    #[test]
    fn an_error_inside_a_query_is_not_read_as_a_script() {
        let text = "T | where x == == 1\n\nU";
        assert!(matches!(parse_text("<q>", text).0, Parsed::Invalid));
    }
}

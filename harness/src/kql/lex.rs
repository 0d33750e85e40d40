//! The KQL lexer: query text → tokens with byte spans; bad input becomes located diagnostics.
//!
//! Comments (`// ...`) and whitespace are dropped. Words are [`TokenKind::Ident`], including
//! the hyphenated operator names (`project-away`, `mv-expand`), the negated and case-sensitive
//! word operators (`!has`, `!in~`, `in~`, `has_cs`) and `$left`/`$right`. Keywords are
//! contextual: the parser decides what a word means where it appears.

use crate::diag::{Diagnostic, Span};

/// A token and where it was found.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Its bytes in the query text.
    pub span: Span,
}

/// The kinds of token.
#[derive(Clone, Debug, PartialEq)]
pub enum TokenKind {
    /// A word: name, keyword, `project-away`, `!has`, `in~`, `$left`.
    Ident(String),
    /// An integer literal (`42`, `0x2a`).
    Long(i64),
    /// A real literal (`1.5`, `1e3`).
    Real(f64),
    /// A timespan literal (`7d`, `1.5h`, `100ms`), in ticks of 100 ns.
    Timespan(i64),
    /// A string literal in any form, decoded.
    String(String),
    /// `datetime(...)`, `time(...)`, `timespan(...)`, `guid(...)`, `date(...)`: the type word and
    /// the raw text between the parentheses, trimmed.
    TypedRaw {
        /// `datetime`, `date`, `time`, `timespan` or `guid`.
        ty: String,
        /// The text between the parentheses.
        raw: String,
    },
    /// A `{{placeholder}}` template; the text between the braces.
    Template(String),
    /// Punctuation and symbolic operators.
    Punct(&'static str),
    /// End of input.
    Eof,
}

impl TokenKind {
    /// A short description for "expected X, found Y" messages.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::Ident(s) => format!("`{s}`"),
            TokenKind::Long(n) => format!("number `{n}`"),
            TokenKind::Real(x) => format!("number `{x}`"),
            TokenKind::Timespan(_) => "timespan literal".into(),
            TokenKind::String(_) => "string literal".into(),
            TokenKind::TypedRaw { ty, .. } => format!("`{ty}(...)` literal"),
            TokenKind::Template(t) => format!("template placeholder `{{{{{t}}}}}`"),
            TokenKind::Punct(p) => format!("`{p}`"),
            TokenKind::Eof => "end of query".into(),
        }
    }
}

/// Operator names that contain a hyphen; the lexer joins `word-word` into one token only for these.
pub const HYPHENATED: &[&str] = &[
    "project-away",
    "project-keep",
    "project-rename",
    "project-reorder",
    "project-smart",
    "mv-expand",
    "mv-apply",
    "parse-where",
    "parse-kv",
    "top-nested",
    "top-hitters",
    "make-series",
    "make-graph",
    "graph-match",
    "graph-merge",
    "graph-to-table",
];

/// Word operators that may be written with a leading `!`.
const NEGATABLE: &[&str] = &[
    "has",
    "has_cs",
    "hasprefix",
    "hasprefix_cs",
    "hassuffix",
    "hassuffix_cs",
    "contains",
    "contains_cs",
    "startswith",
    "startswith_cs",
    "endswith",
    "endswith_cs",
    "in",
    "between",
];

/// Timespan unit suffixes and their length in ticks (100 ns).
pub const TIMESPAN_SUFFIXES: &[(&str, i64)] = &[
    ("d", 864_000_000_000),
    ("day", 864_000_000_000),
    ("days", 864_000_000_000),
    ("h", 36_000_000_000),
    ("hr", 36_000_000_000),
    ("hrs", 36_000_000_000),
    ("hour", 36_000_000_000),
    ("hours", 36_000_000_000),
    ("m", 600_000_000),
    ("min", 600_000_000),
    ("minute", 600_000_000),
    ("minutes", 600_000_000),
    ("s", 10_000_000),
    ("sec", 10_000_000),
    ("second", 10_000_000),
    ("seconds", 10_000_000),
    ("ms", 10_000),
    ("milli", 10_000),
    ("millis", 10_000),
    ("millisecond", 10_000),
    ("milliseconds", 10_000),
    ("microsecond", 10),
    ("microseconds", 10),
    ("tick", 1),
    ("ticks", 1),
];

/// Ticks per unit for a timespan suffix.
pub fn timespan_unit(suffix: &str) -> Option<i64> {
    TIMESPAN_SUFFIXES
        .iter()
        .find(|(s, _)| *s == suffix)
        .map(|(_, t)| *t)
}

const PUNCT: &[&str] = &[
    "==", "!=", "<>", "<=", ">=", "=~", "!~", "..", "=>", "|", ";", ",", "(", ")", "[", "]", "{",
    "}", "=", "<", ">", "+", "-", "*", "/", "%", ".", ":", "!", "?", "~",
];

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Splits `src` into tokens; problems are reported against `file` and lexing carries on.
/// The result always ends with an [`TokenKind::Eof`] token.
pub fn lex(file: &str, src: &str) -> (Vec<Token>, Vec<Diagnostic>) {
    let mut lx = Lexer {
        file,
        src,
        pos: 0,
        tokens: Vec::new(),
        diags: Vec::new(),
    };
    lx.run();
    (lx.tokens, lx.diags)
}

struct Lexer<'a> {
    file: &'a str,
    src: &'a str,
    pos: usize,
    tokens: Vec<Token>,
    diags: Vec<Diagnostic>,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.src[self.pos..].chars().nth(n)
    }

    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        self.tokens.push(Token {
            kind,
            span: Span::new(start, self.pos),
        });
    }

    fn error(&mut self, code: &str, message: String, span: Span) {
        self.diags
            .push(Diagnostic::error(code, message).at(self.file, self.src, span));
    }

    fn run(&mut self) {
        while let Some(c) = self.peek() {
            let start = self.pos;
            // Zero-width space and byte-order mark: invisible, and common in pasted queries.
            if c.is_whitespace() || c == '\u{200B}' || c == '\u{FEFF}' {
                self.pos += c.len_utf8();
            } else if self.rest().starts_with("//") {
                self.pos = self
                    .rest()
                    .find('\n')
                    .map_or(self.src.len(), |i| self.pos + i);
            } else if self.rest().starts_with("```") || self.rest().starts_with("~~~") {
                self.multiline_string();
            } else if c == '\'' || c == '"' {
                self.pos += 1;
                let s = self.quoted(c, start);
                self.push(TokenKind::String(s), start);
            } else if c == '@' && matches!(self.peek_at(1), Some('\'' | '"')) {
                self.pos += 1;
                self.verbatim(start);
            } else if (c == 'h' || c == 'H') && matches!(self.peek_at(1), Some('\'' | '"')) {
                self.pos += 1;
                let q = self.peek().unwrap_or('"');
                self.pos += 1;
                let s = self.quoted(q, start);
                self.push(TokenKind::String(s), start);
            } else if (c == 'h' || c == 'H')
                && self.peek_at(1) == Some('@')
                && matches!(self.peek_at(2), Some('\'' | '"'))
            {
                self.pos += 2;
                self.verbatim(start);
            } else if self.rest().starts_with("{{") {
                self.template();
            } else if c.is_ascii_digit()
                || (c == '.' && self.peek_at(1).is_some_and(|d| d.is_ascii_digit()))
            {
                self.number();
            } else if is_word_start(c) || (c == '$' && self.peek_at(1).is_some_and(is_word_start)) {
                self.word();
            } else if c == '!' && self.peek_at(1).is_some_and(is_word_start) {
                self.negated_word();
            } else if let Some(p) = PUNCT.iter().find(|p| self.rest().starts_with(**p)) {
                self.pos += p.len();
                self.push(TokenKind::Punct(p), start);
            } else {
                self.pos += c.len_utf8();
                self.error(
                    "KQL0001",
                    format!("unexpected character `{c}`"),
                    Span::new(start, self.pos),
                );
            }
        }
        // End of input sits right after the last token, so "found end of query" points at
        // the line that is incomplete rather than at trailing blank lines.
        let end = self.tokens.last().map_or(0, |t| t.span.end);
        self.tokens.push(Token {
            kind: TokenKind::Eof,
            span: Span::new(end, end),
        });
    }

    /// A `'..'` or `".."` string whose opening quote is consumed; backslash escapes.
    fn quoted(&mut self, quote: char, start: usize) -> String {
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                self.unterminated(start);
                return out;
            };
            if c == '\n' {
                self.unterminated(start);
                return out;
            }
            self.pos += c.len_utf8();
            if c == quote {
                return out;
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let esc_start = self.pos - 1;
            let Some(e) = self.peek() else {
                self.unterminated(start);
                return out;
            };
            self.pos += e.len_utf8();
            match e {
                '\\' => out.push('\\'),
                '\'' => out.push('\''),
                '"' => out.push('"'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                '0' => out.push('\0'),
                'u' => {
                    let hex: String = self.rest().chars().take(4).collect();
                    match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                        Some(ch) if hex.len() == 4 => {
                            self.pos += 4;
                            out.push(ch);
                        }
                        _ => self.error(
                            "KQL0003",
                            "invalid `\\u` escape: expected four hex digits".into(),
                            Span::new(esc_start, self.pos),
                        ),
                    }
                }
                other => {
                    self.error(
                        "KQL0003",
                        format!("unknown escape sequence `\\{other}`"),
                        Span::new(esc_start, self.pos),
                    );
                    out.push(other);
                }
            }
        }
    }

    fn unterminated(&mut self, start: usize) {
        let end = self.src[start..]
            .find('\n')
            .map_or(self.src.len(), |i| start + i);
        self.diags.push(
            Diagnostic::error("KQL0002", "unterminated string literal")
                .at(self.file, self.src, Span::new(start, end))
                .with_help("close the string with the quote it starts with on the same line, or use ``` for multi-line text"),
        );
    }

    /// `@'..'`: the `@` (and any `h`) consumed; quotes are doubled to escape, no backslash escapes.
    fn verbatim(&mut self, start: usize) {
        let quote = self.peek().unwrap_or('"');
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                self.unterminated(start);
                break;
            };
            if c == '\n' {
                self.unterminated(start);
                break;
            }
            self.pos += c.len_utf8();
            if c == quote {
                if self.peek() == Some(quote) {
                    self.pos += 1;
                    out.push(quote);
                } else {
                    break;
                }
            } else {
                out.push(c);
            }
        }
        self.push(TokenKind::String(out), start);
    }

    fn multiline_string(&mut self) {
        let start = self.pos;
        let fence = &self.src[start..start + 3];
        self.pos += 3;
        match self.rest().find(fence) {
            Some(i) => {
                let s = self.rest()[..i].to_string();
                self.pos += i + 3;
                self.push(TokenKind::String(s), start);
            }
            None => {
                self.pos = self.src.len();
                self.diags.push(
                    Diagnostic::error(
                        "KQL0002",
                        format!("unterminated multi-line string: no closing `{fence}`"),
                    )
                    .at(self.file, self.src, Span::new(start, start + 3)),
                );
                self.push(TokenKind::String(String::new()), start);
            }
        }
    }

    fn template(&mut self) {
        let start = self.pos;
        match self.rest()[2..].find("}}") {
            Some(i) => {
                let inner = self.rest()[2..2 + i].to_string();
                self.pos += i + 4;
                self.push(TokenKind::Template(inner), start);
            }
            None => {
                self.pos += 2;
                self.error(
                    "KQL0001",
                    "unexpected `{{` without a closing `}}`".into(),
                    Span::new(start, self.pos),
                );
            }
        }
    }

    fn number(&mut self) {
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let mut end = self.pos;
        let mut is_real = false;
        if self.rest().starts_with("0x") || self.rest().starts_with("0X") {
            end += 2;
            while end < bytes.len() && bytes[end].is_ascii_hexdigit() {
                end += 1;
            }
            let text = &self.src[start + 2..end];
            self.pos = end;
            match i64::from_str_radix(text, 16) {
                Ok(n) => self.push(TokenKind::Long(n), start),
                Err(_) => {
                    self.error(
                        "KQL0004",
                        format!("invalid hexadecimal number `{}`", &self.src[start..end]),
                        Span::new(start, end),
                    );
                    self.push(TokenKind::Long(0), start);
                }
            }
            return;
        }
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
        // A fraction, unless this is the `..` of a range.
        if end < bytes.len() && bytes[end] == b'.' && bytes.get(end + 1) != Some(&b'.') {
            is_real = true;
            end += 1;
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
        }
        if end < bytes.len() && (bytes[end] == b'e' || bytes[end] == b'E') {
            let mut e = end + 1;
            if e < bytes.len() && (bytes[e] == b'+' || bytes[e] == b'-') {
                e += 1;
            }
            if e < bytes.len() && bytes[e].is_ascii_digit() {
                while e < bytes.len() && bytes[e].is_ascii_digit() {
                    e += 1;
                }
                is_real = true;
                end = e;
            }
        }
        let number = &self.src[start..end];
        // A unit suffix makes it a timespan.
        let mut suffix_end = end;
        while suffix_end < bytes.len() && is_word_char(bytes[suffix_end] as char) {
            suffix_end += 1;
        }
        let suffix = &self.src[end..suffix_end];
        self.pos = suffix_end;
        if !suffix.is_empty() {
            match timespan_unit(suffix) {
                Some(per) => {
                    let value: f64 = number.parse().unwrap_or(0.0);
                    let ticks = (value * per as f64).round();
                    if ticks.abs() < 9.2e18 {
                        self.push(TokenKind::Timespan(ticks as i64), start);
                    } else {
                        self.error(
                            "KQL0004",
                            format!("timespan literal `{number}{suffix}` is out of range"),
                            Span::new(start, suffix_end),
                        );
                        self.push(TokenKind::Timespan(0), start);
                    }
                }
                None => {
                    self.diags.push(
                        Diagnostic::error(
                            "KQL0004",
                            format!("invalid number literal `{number}{suffix}`"),
                        )
                        .at(self.file, self.src, Span::new(start, suffix_end))
                        .with_help("timespan units are d, h, m, s, ms, microsecond and tick (for example `7d`, `100ms`)"),
                    );
                    self.push(TokenKind::Long(0), start);
                }
            }
            return;
        }
        if is_real {
            let x: f64 = number.parse().unwrap_or(0.0);
            self.push(TokenKind::Real(x), start);
        } else {
            match number.parse::<i64>() {
                Ok(n) => self.push(TokenKind::Long(n), start),
                Err(_) => {
                    let x: f64 = number.parse().unwrap_or(0.0);
                    self.push(TokenKind::Real(x), start);
                }
            }
        }
    }

    fn word_end(&self, from: usize) -> usize {
        self.src[from..]
            .char_indices()
            .find(|(_, c)| !is_word_char(*c))
            .map_or(self.src.len(), |(i, _)| from + i)
    }

    fn word(&mut self) {
        let start = self.pos;
        let first = if self.peek() == Some('$') {
            start + 1
        } else {
            start
        };
        let mut end = self.word_end(first);
        // `project-away`, `mv-expand`, ...: join only the known hyphenated names.
        let bytes = self.src.as_bytes();
        if end < bytes.len() && bytes[end] == b'-' {
            let next_end = self.word_end(end + 1);
            if next_end > end + 1 && HYPHENATED.contains(&&self.src[start..next_end]) {
                end = next_end;
            }
        }
        // `in~`
        if &self.src[start..end] == "in" && bytes.get(end) == Some(&b'~') {
            end += 1;
        }
        let word = self.src[start..end].to_string();
        self.pos = end;
        if matches!(
            word.as_str(),
            "datetime" | "date" | "time" | "timespan" | "guid"
        ) {
            let after = self.rest().trim_start();
            if after.starts_with('(') {
                let open = self.src.len() - after.len();
                match self.src[open..].find(')') {
                    Some(i) => {
                        let raw = self.src[open + 1..open + i].trim().to_string();
                        self.pos = open + i + 1;
                        self.push(TokenKind::TypedRaw { ty: word, raw }, start);
                    }
                    None => {
                        self.pos = self.src.len();
                        self.error(
                            "KQL0005",
                            format!("unclosed `(` in `{word}(...)` literal"),
                            Span::new(start, open + 1),
                        );
                        self.push(
                            TokenKind::TypedRaw {
                                ty: word,
                                raw: String::new(),
                            },
                            start,
                        );
                    }
                }
                return;
            }
        }
        self.push(TokenKind::Ident(word), start);
    }

    /// `!has`, `!contains_cs`, `!in~`, `!between`.
    fn negated_word(&mut self) {
        let start = self.pos;
        let end = self.word_end(start + 1);
        let word = &self.src[start + 1..end];
        if NEGATABLE.contains(&word) {
            let mut end = end;
            if word == "in" && self.src.as_bytes().get(end) == Some(&b'~') {
                end += 1;
            }
            let text = self.src[start..end].to_string();
            self.pos = end;
            self.push(TokenKind::Ident(text), start);
        } else {
            self.pos += 1;
            self.push(TokenKind::Punct("!"), start);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        let (tokens, diags) = lex("<query>", src);
        assert!(diags.is_empty(), "{diags:?}");
        tokens.into_iter().map(|t| t.kind).collect()
    }

    fn ident(s: &str) -> TokenKind {
        TokenKind::Ident(s.into())
    }

    #[test]
    fn hyphenated_operators_and_negated_word_operators_are_single_tokens() {
        assert_eq!(
            kinds("T | project-away a | where x !has_cs 'y' and z !in~ (1)"),
            vec![
                ident("T"),
                TokenKind::Punct("|"),
                ident("project-away"),
                ident("a"),
                TokenKind::Punct("|"),
                ident("where"),
                ident("x"),
                ident("!has_cs"),
                TokenKind::String("y".into()),
                ident("and"),
                ident("z"),
                ident("!in~"),
                TokenKind::Punct("("),
                TokenKind::Long(1),
                TokenKind::Punct(")"),
                TokenKind::Eof,
            ]
        );
    }

    #[test]
    fn subtraction_between_words_is_not_joined() {
        assert_eq!(
            kinds("a-b"),
            vec![
                ident("a"),
                TokenKind::Punct("-"),
                ident("b"),
                TokenKind::Eof
            ]
        );
    }

    #[test]
    fn timespans_are_ticks() {
        assert_eq!(
            kinds("7d 1.5h 100ms 1tick"),
            vec![
                TokenKind::Timespan(7 * 864_000_000_000),
                TokenKind::Timespan(54_000_000_000),
                TokenKind::Timespan(1_000_000),
                TokenKind::Timespan(1),
                TokenKind::Eof,
            ]
        );
    }

    #[test]
    fn string_forms_decode() {
        assert_eq!(
            kinds(
                r#"'a\'b' "c\\d" @'e\f''g' h"x" ```m
l```"#
            ),
            vec![
                TokenKind::String("a'b".into()),
                TokenKind::String("c\\d".into()),
                TokenKind::String("e\\f'g".into()),
                TokenKind::String("x".into()),
                TokenKind::String("m\nl".into()),
                TokenKind::Eof,
            ]
        );
    }

    #[test]
    fn range_dots_are_not_a_fraction() {
        assert_eq!(
            kinds("1..5"),
            vec![
                TokenKind::Long(1),
                TokenKind::Punct(".."),
                TokenKind::Long(5),
                TokenKind::Eof
            ]
        );
    }

    #[test]
    fn typed_literals_keep_their_raw_text() {
        assert_eq!(
            kinds("datetime(2024-01-01 10:00)"),
            vec![
                TokenKind::TypedRaw {
                    ty: "datetime".into(),
                    raw: "2024-01-01 10:00".into()
                },
                TokenKind::Eof
            ]
        );
    }

    #[test]
    fn unterminated_string_is_located() {
        let (_, diags) = lex("<query>", "T | where a == 'x\n");
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].code, "KQL0002");
        assert_eq!(diags[0].location.as_ref().map(|l| l.column), Some(16));
    }
}

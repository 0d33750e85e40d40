//! The `condition:` language: a lexer and a recursive-descent parser with spans and a depth limit.
//!
//! Precedence, least to most binding (rules specification, "Condition"): `or`, `and`, `not`,
//! `x of search-identifier`, parentheses. Deprecated aggregations (`| count() by x`) and `near`
//! are reported as unsupported (`SIG0013`, `SIG0014`), never ignored.

use crate::diag::Span;

/// Nesting deeper than this (parentheses and `not`) is rejected with `SIG0015`.
pub const MAX_DEPTH: usize = 64;

/// Which identifiers a quantifier ranges over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// `them`: every search identifier not starting with `_`.
    Them,
    /// A search-identifier pattern with `*` wildcards.
    Glob(String),
}

/// A parsed condition node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cond {
    /// A search identifier.
    Ident(String),
    /// `1 of pattern`.
    OneOf(Pattern),
    /// `all of pattern`.
    AllOf(Pattern),
    /// `a and b and ...`: a chain, however long, is one node (two operands or more), so that
    /// nothing walks it by recursion.
    And(Vec<CondNode>),
    /// `a or b or ...`, likewise.
    Or(Vec<CondNode>),
    /// `not a`.
    Not(Box<CondNode>),
}

/// A condition node with its span in the condition text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CondNode {
    /// The node.
    pub cond: Cond,
    /// Byte range within the condition string.
    pub span: Span,
}

/// A parse error: stable code, message, span within the condition string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CondError {
    /// `SIG0010`, `SIG0013`, `SIG0014` or `SIG0015`.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// Where.
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Word(String),
    LParen,
    RParen,
    Pipe,
}

fn lex(text: &str) -> Result<Vec<(Tok, Span)>, CondError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let c = text[i..].chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        match c {
            '(' => out.push((Tok::LParen, Span::new(i, i + 1))),
            ')' => out.push((Tok::RParen, Span::new(i, i + 1))),
            '|' => {
                // Everything after a pipe is a deprecated aggregation; the parser reports it.
                out.push((Tok::Pipe, Span::new(i, i + 1)));
                return Ok(out);
            }
            c if c.is_alphanumeric() || matches!(c, '_' | '*' | '-' | '.' | '?') => {
                let start = i;
                while i < text.len() {
                    let c = text[i..].chars().next().unwrap_or(' ');
                    if c.is_alphanumeric() || matches!(c, '_' | '*' | '-' | '.' | '?') {
                        i += c.len_utf8();
                    } else {
                        break;
                    }
                }
                out.push((Tok::Word(text[start..i].to_string()), Span::new(start, i)));
                continue;
            }
            other => {
                return Err(CondError {
                    code: "SIG0010",
                    message: format!("unexpected character `{other}` in condition"),
                    span: Span::new(i, i + other.len_utf8()),
                });
            }
        }
        i += 1;
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, Span)>,
    pos: usize,
    end: usize,
    depth: usize,
}

impl Parser {
    fn peek_word(&self) -> Option<&str> {
        match self.toks.get(self.pos) {
            Some((Tok::Word(w), _)) => Some(w.as_str()),
            _ => None,
        }
    }

    fn peek_span(&self) -> Span {
        self.toks
            .get(self.pos)
            .map_or(Span::new(self.end, self.end), |(_, s)| *s)
    }

    fn error(&self, message: impl Into<String>) -> CondError {
        CondError {
            code: "SIG0010",
            message: message.into(),
            span: self.peek_span(),
        }
    }

    fn keyword(&self, kw: &str) -> bool {
        self.peek_word().is_some_and(|w| w.eq_ignore_ascii_case(kw))
    }

    fn or_expr(&mut self) -> Result<CondNode, CondError> {
        self.chain("or", Self::and_expr, Cond::Or)
    }

    fn and_expr(&mut self) -> Result<CondNode, CondError> {
        self.chain("and", Self::not_expr, Cond::And)
    }

    /// Operands parsed by `operand`, separated by `word`: one operand as it is, several as one
    /// `node` (a chain is parsed in a loop, and held as a list).
    fn chain(
        &mut self,
        word: &str,
        operand: fn(&mut Self) -> Result<CondNode, CondError>,
        node: fn(Vec<CondNode>) -> Cond,
    ) -> Result<CondNode, CondError> {
        let first = operand(self)?;
        if !self.keyword(word) {
            return Ok(first);
        }
        let mut operands = vec![first];
        while self.keyword(word) {
            self.pos += 1;
            operands.push(operand(self)?);
        }
        let span = operands[0].span.to(operands[operands.len() - 1].span);
        Ok(CondNode {
            cond: node(operands),
            span,
        })
    }

    fn enter(&mut self) -> Result<(), CondError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(CondError {
                code: "SIG0015",
                message: format!("condition nests deeper than {MAX_DEPTH} levels"),
                span: self.peek_span(),
            });
        }
        Ok(())
    }

    fn not_expr(&mut self) -> Result<CondNode, CondError> {
        if self.keyword("not") {
            let start = self.peek_span();
            self.pos += 1;
            self.enter()?;
            let inner = self.not_expr()?;
            self.depth -= 1;
            let span = start.to(inner.span);
            return Ok(CondNode {
                cond: Cond::Not(Box::new(inner)),
                span,
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<CondNode, CondError> {
        let Some((tok, span)) = self.toks.get(self.pos).cloned() else {
            return Err(self.error("condition ends where an operand was expected"));
        };
        match tok {
            Tok::LParen => {
                self.pos += 1;
                self.enter()?;
                let inner = self.or_expr()?;
                self.depth -= 1;
                match self.toks.get(self.pos) {
                    Some((Tok::RParen, close)) => {
                        let close = *close;
                        self.pos += 1;
                        Ok(CondNode {
                            cond: inner.cond,
                            span: span.to(close),
                        })
                    }
                    _ => Err(CondError {
                        code: "SIG0010",
                        message: "unclosed `(`".into(),
                        span,
                    }),
                }
            }
            Tok::RParen => Err(self.error("unexpected `)`")),
            Tok::Pipe => Err(CondError {
                code: "SIG0013",
                message: "deprecated aggregation (`| count() ...`) is unsupported".into(),
                span: Span::new(span.start, self.end),
            }),
            Tok::Word(word) => {
                let lower = word.to_ascii_lowercase();
                if lower == "near" {
                    return Err(CondError {
                        code: "SIG0014",
                        message: "the deprecated `near` operator is unsupported".into(),
                        span,
                    });
                }
                if matches!(lower.as_str(), "and" | "or" | "of" | "them") {
                    return Err(self.error(format!("`{word}` where an operand was expected")));
                }
                let quantifier = lower == "all" || word.chars().all(|c| c.is_ascii_digit());
                let next_is_of = matches!(self.toks.get(self.pos + 1), Some((Tok::Word(w), _)) if w.eq_ignore_ascii_case("of"));
                if quantifier && next_is_of {
                    if lower != "all" && word != "1" {
                        return Err(CondError {
                            code: "SIG0010",
                            message: format!(
                                "`{word} of` is not Sigma: only `1 of` and `all of` exist"
                            ),
                            span,
                        });
                    }
                    self.pos += 2;
                    let Some((Tok::Word(target), target_span)) = self.toks.get(self.pos).cloned()
                    else {
                        return Err(self.error("`of` must be followed by `them` or a pattern"));
                    };
                    self.pos += 1;
                    let pattern = if target.eq_ignore_ascii_case("them") {
                        Pattern::Them
                    } else {
                        Pattern::Glob(target)
                    };
                    let cond = if lower == "all" {
                        Cond::AllOf(pattern)
                    } else {
                        Cond::OneOf(pattern)
                    };
                    return Ok(CondNode {
                        cond,
                        span: span.to(target_span),
                    });
                }
                self.pos += 1;
                Ok(CondNode {
                    cond: Cond::Ident(word),
                    span,
                })
            }
        }
    }
}

/// Parses one condition string.
pub fn parse(text: &str) -> Result<CondNode, CondError> {
    let toks = lex(text)?;
    let mut parser = Parser {
        toks,
        pos: 0,
        end: text.len(),
        depth: 0,
    };
    if parser.toks.is_empty() {
        return Err(CondError {
            code: "SIG0010",
            message: "empty condition".into(),
            span: Span::new(0, text.len()),
        });
    }
    let node = parser.or_expr()?;
    if parser.pos < parser.toks.len() {
        let (tok, span) = &parser.toks[parser.pos];
        return Err(match tok {
            Tok::Pipe => CondError {
                code: "SIG0013",
                message: "deprecated aggregation (`| count() ...`) is unsupported".into(),
                span: Span::new(span.start, text.len()),
            },
            Tok::Word(w) if w.eq_ignore_ascii_case("near") => CondError {
                code: "SIG0014",
                message: "the deprecated `near` operator is unsupported".into(),
                span: *span,
            },
            _ => parser.error("expected `and`, `or` or the end of the condition"),
        });
    }
    Ok(node)
}

/// True when a search identifier matches a quantifier pattern (`*` matches any run).
pub use crate::glob::matches as pattern_matches;

#[cfg(test)]
mod tests {
    use super::*;

    fn join(items: &[CondNode], word: &str) -> String {
        items.iter().map(show).collect::<Vec<_>>().join(word)
    }

    fn show(node: &CondNode) -> String {
        match &node.cond {
            Cond::Ident(s) => s.clone(),
            Cond::OneOf(Pattern::Them) => "1 of them".into(),
            Cond::AllOf(Pattern::Them) => "all of them".into(),
            Cond::OneOf(Pattern::Glob(p)) => format!("1 of {p}"),
            Cond::AllOf(Pattern::Glob(p)) => format!("all of {p}"),
            Cond::And(items) => format!("({})", join(items, " and ")),
            Cond::Or(items) => format!("({})", join(items, " or ")),
            Cond::Not(a) => format!("not {}", show(a)),
        }
    }

    #[test]
    fn precedence_is_or_then_and_then_not() {
        let node = parse("a or b and not c").unwrap();
        assert_eq!(show(&node), "(a or (b and not c))");
        let node = parse("selection and not 1 of filter_main_* and not all of them").unwrap();
        assert_eq!(
            show(&node),
            "(selection and not 1 of filter_main_* and not all of them)"
        );
        assert_eq!(show(&parse("(a or b) and c").unwrap()), "((a or b) and c)");
        assert_eq!(
            show(&parse("a or (b or c) or d").unwrap()),
            "(a or (b or c) or d)"
        );
    }

    #[test]
    fn spans_point_into_the_condition() {
        let text = "sel and not filter";
        let node = parse(text).unwrap();
        let Cond::And(items) = &node.cond else {
            panic!("expected and")
        };
        let right = &items[1];
        assert_eq!(&text[right.span.start..right.span.end], "not filter");
    }

    #[test]
    fn deprecated_syntax_is_reported_not_ignored() {
        assert_eq!(
            parse("selection | count() by host > 5").unwrap_err().code,
            "SIG0013"
        );
        assert_eq!(parse("a near b").unwrap_err().code, "SIG0014");
        assert_eq!(parse("a and (b").unwrap_err().code, "SIG0010");
        assert_eq!(parse("2 of x*").unwrap_err().code, "SIG0010");
    }

    #[test]
    fn nesting_is_limited() {
        let deep = format!("{}a{}", "(".repeat(65), ")".repeat(65));
        assert_eq!(parse(&deep).unwrap_err().code, "SIG0015");
        let ok = format!("{}a{}", "(".repeat(64), ")".repeat(64));
        assert!(parse(&ok).is_ok());
        let nots = format!("{}a", "not ".repeat(65));
        assert_eq!(parse(&nots).unwrap_err().code, "SIG0015");
    }

    #[test]
    fn patterns_match_with_stars_anywhere() {
        assert!(pattern_matches("filter_*", "filter_main"));
        assert!(pattern_matches("*_main*", "filter_main_x"));
        assert!(!pattern_matches("filter_*", "selection"));
        assert!(pattern_matches("sel", "sel"));
    }
}

//! The KQL parser: tokens → [`ast::Query`](super::ast::Query), recursive descent for statements and operators,
//! Pratt for scalar expressions.
//!
//! All errors are collected: a bad operator is reported and skipped to the next `|` or `;`,
//! so one pass reports every broken operator. Nesting deeper than [`MAX_DEPTH`] (parentheses,
//! calls, subqueries, dynamic literals) is an error, never a stack overflow. An operator
//! outside the supported subset is a `KQL0008` diagnostic that names it and points at it.

use crate::diag::{Diagnostic, Span, did_you_mean};
use crate::kql::ast::*;
use crate::kql::lex::{Token, TokenKind, lex, timespan_unit};

/// The deepest nesting of parentheses, calls, subqueries and dynamic literals accepted.
pub const MAX_DEPTH: usize = 64;

/// Tabular operators this parser understands, for "did you mean" help.
pub const SUPPORTED_OPERATORS: &[&str] = &[
    "where",
    "filter",
    "extend",
    "project",
    "project-away",
    "project-keep",
    "project-rename",
    "project-reorder",
    "summarize",
    "distinct",
    "top",
    "top-nested",
    "sort",
    "order",
    "take",
    "limit",
    "count",
    "union",
    "join",
    "lookup",
    "mv-expand",
    "mvexpand",
    "mv-apply",
    "parse",
    "parse-where",
    "evaluate",
    "invoke",
    "as",
    "serialize",
    "sample",
    "getschema",
    "render",
    "search",
    "make-series",
];

/// Real KQL operators outside the supported subset: reported as unsupported, not unknown.
const UNSUPPORTED_OPERATORS: &[&str] = &[
    "top-hitters",
    "facet",
    "fork",
    "partition",
    "scan",
    "reduce",
    "sample-distinct",
    "parse-kv",
    "project-smart",
    "consume",
    "make-graph",
    "graph-match",
    "graph-merge",
    "graph-to-table",
    "externaldata",
    "range",
    "print",
    "datatable",
];

/// Word operators of scalar expressions, for "did you mean" help.
const INFIX_WORDS: &[&str] = &[
    "and",
    "or",
    "has",
    "has_cs",
    "hasprefix",
    "hassuffix",
    "contains",
    "contains_cs",
    "startswith",
    "endswith",
    "matches",
    "in",
    "has_any",
    "has_all",
    "between",
];

/// Valid `kind=` values of `join`.
pub const JOIN_KINDS: &[&str] = &[
    "innerunique",
    "inner",
    "leftouter",
    "rightouter",
    "fullouter",
    "leftanti",
    "anti",
    "leftantisemi",
    "rightanti",
    "rightantisemi",
    "leftsemi",
    "rightsemi",
];

/// Parses `text`, locating diagnostics in `file`. The query is `Some` exactly when there are
/// no errors.
pub fn parse_named(file: &str, text: &str) -> (Option<Query>, Vec<Diagnostic>) {
    let (tokens, mut diags) = lex(file, text);
    let mut p = Parser {
        file,
        src: text,
        tokens,
        pos: 0,
        diags: Vec::new(),
        depth: 0,
    };
    let query = p.query();
    diags.append(&mut p.diags);
    diags.sort_by_key(|d| d.location.as_ref().map_or(0, |l| l.span.start));
    if diags.iter().any(Diagnostic::is_error) {
        (None, diags)
    } else {
        (Some(query), diags)
    }
}

/// An error was already reported; the caller recovers.
#[derive(Debug)]
struct Reported;

type PResult<T> = Result<T, Reported>;

struct Parser<'a> {
    file: &'a str,
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    diags: Vec<Diagnostic>,
    depth: usize,
}

/// `!has`, `contains_cs`, ... → the binary operator.
fn string_operator(word: &str) -> Option<BinOp> {
    let (negated, rest) = match word.strip_prefix('!') {
        Some(r) => (true, r),
        None => (false, word),
    };
    let (case_sensitive, base) = match rest.strip_suffix("_cs") {
        Some(b) => (true, b),
        None => (false, rest),
    };
    StrOp::ALL
        .into_iter()
        .find(|op| op.keyword() == base)
        .map(|op| BinOp::Str {
            op,
            negated,
            case_sensitive,
        })
}

fn list_operator(word: &str) -> Option<ListOp> {
    Some(match word {
        "in" => ListOp::In,
        "!in" => ListOp::NotIn,
        "in~" => ListOp::InCi,
        "!in~" => ListOp::NotInCi,
        "has_any" => ListOp::HasAny,
        "has_all" => ListOp::HasAll,
        _ => return None,
    })
}

/// Parses the text of `timespan(...)`/`time(...)`: `1d`, `1.5h`, `15 seconds`,
/// `[d.]hh:mm[:ss[.fffffff]]`, or a bare number of days (`time(2)`). Returns ticks.
pub fn parse_timespan_text(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    if raw.contains(':') {
        return crate::kql::value::parse_timespan_text(raw);
    }
    let (neg, body) = match raw.strip_prefix('-') {
        Some(b) => (true, b.trim()),
        None => (false, raw),
    };
    let split = body
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(body.len());
    let (num, unit) = body.split_at(split);
    let value: f64 = num.trim().parse().ok()?;
    let per = if unit.is_empty() {
        864_000_000_000
    } else {
        timespan_unit(unit)?
    };
    let ticks = (value * per as f64).round() as i64;
    Some(if neg { -ticks } else { ticks })
}

impl Parser<'_> {
    // ---- token helpers ----------------------------------------------------------------------

    fn peek(&self) -> &TokenKind {
        &self.tokens[self.pos].kind
    }

    fn peek_at(&self, n: usize) -> &TokenKind {
        let i = (self.pos + n).min(self.tokens.len() - 1);
        &self.tokens[i].kind
    }

    fn span(&self) -> Span {
        self.tokens[self.pos].span
    }

    fn prev_end(&self) -> usize {
        if self.pos == 0 {
            0
        } else {
            self.tokens[self.pos - 1].span.end
        }
    }

    fn since(&self, start: usize) -> Span {
        Span::new(start, self.prev_end().max(start))
    }

    fn bump(&mut self) -> Token {
        let t = self.tokens[self.pos].clone();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    fn at_punct(&self, p: &str) -> bool {
        matches!(self.peek(), TokenKind::Punct(q) if *q == p)
    }

    fn at_punct_n(&self, n: usize, p: &str) -> bool {
        matches!(self.peek_at(n), TokenKind::Punct(q) if *q == p)
    }

    fn at_word(&self, w: &str) -> bool {
        matches!(self.peek(), TokenKind::Ident(s) if s == w)
    }

    fn word(&self) -> Option<&str> {
        match self.peek() {
            TokenKind::Ident(s) => Some(s),
            _ => None,
        }
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if self.at_punct(p) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.at_word(w) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn error_at(&mut self, code: &str, message: impl Into<String>, span: Span) -> Reported {
        let d = Diagnostic::error(code, message).at(self.file, self.src, span);
        self.diags.push(d);
        Reported
    }

    fn push(&mut self, d: Diagnostic) -> Reported {
        self.diags.push(d);
        Reported
    }

    /// "expected X, found Y" at the current token (templates get their own diagnostic).
    fn expected(&mut self, what: &str) -> Reported {
        let span = self.span();
        if let TokenKind::Template(t) = self.peek().clone() {
            return self.template(&t, span);
        }
        let found = self.peek().describe();
        let d = Diagnostic::error("KQL0006", format!("expected {what}, found {found}"))
            .at(self.file, self.src, span)
            .with_label(format!("expected {what}"));
        self.push(d)
    }

    fn template(&mut self, text: &str, span: Span) -> Reported {
        let d = Diagnostic::error(
            "KQL0009",
            format!("template placeholder `{{{{{text}}}}}` is not KQL"),
        )
        .at(self.file, self.src, span)
        .with_label("filled in by the tool that runs this query")
        .with_help(
            "replace the placeholder with a value, for example `datetime(2024-01-01)` or `ago(1d)`",
        );
        self.push(d)
    }

    fn expect_punct(&mut self, p: &str) -> PResult<Span> {
        if self.at_punct(p) {
            Ok(self.bump().span)
        } else {
            Err(self.expected(&format!("`{p}`")))
        }
    }

    fn expect_word(&mut self, w: &str) -> PResult<Span> {
        if self.at_word(w) {
            Ok(self.bump().span)
        } else {
            Err(self.expected(&format!("`{w}`")))
        }
    }

    /// A closing delimiter; when missing, points at the opener too.
    fn expect_close(&mut self, close: &str, open_span: Span) -> PResult<Span> {
        if self.at_punct(close) {
            return Ok(self.bump().span);
        }
        let found = self.peek().describe();
        let span = self.span();
        let opener = &self.src[open_span.start..open_span.end];
        let d = Diagnostic::error("KQL0005", format!("expected `{close}`, found {found}"))
            .at(self.file, self.src, span)
            .with_label(format!("expected `{close}`"))
            .with_note(format!(
                "to close the `{opener}` at {}",
                self.line_col(open_span.start)
            ));
        Err(self.push(d))
    }

    fn line_col(&self, offset: usize) -> String {
        let loc = crate::diag::Location::resolve(self.file, self.src, Span::new(offset, offset));
        format!("line {}, column {}", loc.line, loc.column)
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let span = self.span();
            let d = Diagnostic::error(
                "KQL0007",
                format!("expression nested more than {MAX_DEPTH} levels deep"),
            )
            .at(self.file, self.src, span)
            .with_help("split the query with `let` statements");
            self.depth -= 1;
            return Err(self.push(d));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Skips to the next `|`, `;` or unbalanced closer, jumping over balanced groups.
    fn recover(&mut self) {
        let mut stack: Vec<&str> = Vec::new();
        loop {
            match self.peek() {
                TokenKind::Eof => return,
                TokenKind::Punct(p) => match *p {
                    "(" => stack.push(")"),
                    "[" => stack.push("]"),
                    "{" => stack.push("}"),
                    ")" | "]" | "}" if stack.pop().is_none() => return,
                    "|" | ";" if stack.is_empty() => return,
                    _ => {}
                },
                _ => {}
            }
            self.bump();
        }
    }

    /// After a failed statement: skips to the next `;` outside brackets, ignoring stray closers,
    /// so one mistake is reported once.
    fn skip_statement(&mut self) {
        let mut depth = 0usize;
        loop {
            match self.peek() {
                TokenKind::Eof => return,
                TokenKind::Punct("(" | "[" | "{") => depth += 1,
                TokenKind::Punct(")" | "]" | "}") => depth = depth.saturating_sub(1),
                TokenKind::Punct(";") if depth == 0 => return,
                _ => {}
            }
            self.bump();
        }
    }

    // ---- statements -------------------------------------------------------------------------

    fn query(&mut self) -> Query {
        let mut statements = Vec::new();
        loop {
            while self.eat_punct(";") {}
            if matches!(self.peek(), TokenKind::Eof) {
                break;
            }
            match self.statement(true) {
                Ok(s) => statements.push(s),
                Err(Reported) => {
                    self.skip_statement();
                    continue;
                }
            }
            if matches!(self.peek(), TokenKind::Eof) {
                break;
            }
            if !self.eat_punct(";") {
                let prev = self.tokens[self.pos.saturating_sub(1)].span;
                let _ = self.expected("`;` or `|` between statements");
                let ended = self.line_col(prev.end);
                if let Some(d) = self.diags.last_mut() {
                    d.notes
                        .push(format!("the previous statement ended at {ended}"));
                    d.help = Some(
                        "a query is one pipeline: end `let` statements with `;`; separate queries go in separate files, or (for `firedrill kql`) in one file with a blank line between them".into(),
                    );
                }
                self.skip_statement();
            }
        }
        if !statements
            .iter()
            .any(|s| matches!(s.kind, StatementKind::Tabular(_)))
            && self.diags.is_empty()
        {
            let end = self.src.len();
            let d = Diagnostic::error("KQL0011", "query has no tabular expression to run")
                .at(self.file, self.src, Span::new(end, end))
                .with_help("end the query with a table or pipeline, for example `DeviceProcessEvents | take 10`");
            self.diags.push(d);
        }
        Query {
            statements,
            span: Span::new(0, self.src.len()),
        }
    }

    /// One statement; `top` says it is a query statement (a bare expression is tabular).
    fn statement(&mut self, top: bool) -> PResult<Statement> {
        let start = self.span().start;
        if self.at_word("let") {
            self.bump();
            let name = self.name()?;
            self.expect_punct("=")?;
            let value = self.let_value()?;
            return Ok(Statement {
                kind: StatementKind::Let { name, value },
                span: self.since(start),
            });
        }
        if self.at_word("set") && matches!(self.peek_at(1), TokenKind::Ident(_)) {
            self.bump();
            let name = self.name()?;
            let value = if self.eat_punct("=") {
                Some(self.expr()?)
            } else {
                None
            };
            return Ok(Statement {
                kind: StatementKind::Set { name, value },
                span: self.since(start),
            });
        }
        if self.at_word("declare") && self.at_word_n(1, "query_parameters") {
            self.bump();
            self.bump();
            let params = self.param_list()?;
            return Ok(Statement {
                kind: StatementKind::DeclareParameters(params),
                span: self.since(start),
            });
        }
        if let Some(w @ ("declare" | "alias" | "pattern" | "restrict")) = self.word()
            && matches!(self.peek_at(1), TokenKind::Ident(_))
        {
            let w = w.to_string();
            let span = self.span();
            let d = Diagnostic::error("KQL0010", format!("unsupported statement `{w}`"))
                .at(self.file, self.src, span)
                .with_label("not in firedrill's KQL subset")
                .with_help("see docs/kql-subset.md for the supported statements");
            return Err(self.push(d));
        }
        let kind = match self.expr_or_tabular()? {
            Either::Tabular(t) => StatementKind::Tabular(t),
            Either::Scalar(e) if top => StatementKind::Tabular(source_only(e)),
            Either::Scalar(e) => StatementKind::Scalar(e),
        };
        Ok(Statement {
            kind,
            span: self.since(start),
        })
    }

    fn let_value(&mut self) -> PResult<LetValue> {
        if self.at_word("view") && self.at_punct_n(1, "(") {
            self.bump();
            return Ok(LetValue::Function(self.function_def()?));
        }
        let is_function = self.at_punct("(")
            && ((self.at_punct_n(1, ")") && self.at_punct_n(2, "{"))
                || (matches!(self.peek_at(1), TokenKind::Ident(_)) && self.at_punct_n(2, ":")));
        if is_function {
            return Ok(LetValue::Function(self.function_def()?));
        }
        Ok(match self.expr_or_tabular()? {
            Either::Tabular(t) => LetValue::Tabular(t),
            Either::Scalar(e) => LetValue::Scalar(e),
        })
    }

    /// `(name: type [= default], ...)`, the parentheses included.
    fn param_list(&mut self) -> PResult<Vec<Param>> {
        let open = self.expect_punct("(")?;
        let mut params = Vec::new();
        if !self.at_punct(")") {
            loop {
                params.push(self.param()?);
                if !self.eat_punct(",") {
                    break;
                }
            }
        }
        self.expect_close(")", open)?;
        Ok(params)
    }

    fn function_def(&mut self) -> PResult<FunctionDef> {
        let start = self.span().start;
        let params = self.param_list()?;
        let brace = self.expect_punct("{")?;
        self.enter()?;
        let mut body = Vec::new();
        loop {
            while self.eat_punct(";") {}
            if self.at_punct("}") || matches!(self.peek(), TokenKind::Eof) {
                break;
            }
            body.push(self.statement(false)?);
            if !self.at_punct("}") && !self.eat_punct(";") {
                self.leave();
                return Err(self.expected("`;` or `}`"));
            }
        }
        self.leave();
        self.expect_close("}", brace)?;
        if body.is_empty() {
            let span = self.since(start);
            return Err(self.error_at("KQL0006", "function body is empty", span));
        }
        Ok(FunctionDef {
            params,
            body,
            span: self.since(start),
        })
    }

    fn param(&mut self) -> PResult<Param> {
        let start = self.span().start;
        let name = self.name()?;
        self.expect_punct(":")?;
        let ty = if self.at_punct("(") {
            self.tabular_type()?
        } else {
            ParamType::Scalar(self.name()?)
        };
        let default = if self.eat_punct("=") {
            Some(self.expr()?)
        } else {
            None
        };
        Ok(Param {
            name,
            ty,
            default,
            span: self.since(start),
        })
    }

    /// `(*)`, `(a:string, b:long)`, `(a:string, *)`.
    fn tabular_type(&mut self) -> PResult<ParamType> {
        let open = self.expect_punct("(")?;
        let mut columns = Vec::new();
        let mut any = false;
        loop {
            if self.eat_punct("*") {
                any = true;
            } else if !self.at_punct(")") {
                columns.push(self.column_decl()?);
            }
            if !self.eat_punct(",") {
                break;
            }
        }
        self.expect_close(")", open)?;
        Ok(ParamType::Tabular { columns, any })
    }

    fn column_decl(&mut self) -> PResult<ColumnDecl> {
        let name = self.name()?;
        self.expect_punct(":")?;
        let ty = self.name()?;
        Ok(ColumnDecl { name, ty })
    }

    /// A name: a word or `['bracketed name']`.
    fn name(&mut self) -> PResult<Ident> {
        match self.peek().clone() {
            TokenKind::Ident(s) => {
                let span = self.bump().span;
                Ok(Ident::new(s, span))
            }
            TokenKind::Punct("[") if matches!(self.peek_at(1), TokenKind::String(_)) => {
                let start = self.bump().span.start;
                let TokenKind::String(s) = self.bump().kind else {
                    unreachable!("checked above")
                };
                self.expect_punct("]")?;
                Ok(Ident::new(s, self.since(start)))
            }
            _ => Err(self.expected("a name")),
        }
    }

    fn at_name(&self) -> bool {
        matches!(self.peek(), TokenKind::Ident(_))
            || (self.at_punct("[") && matches!(self.peek_at(1), TokenKind::String(_)))
    }

    /// Tokens a name occupies at the cursor (1 for a word, 3 for `['x']`).
    fn name_len(&self) -> usize {
        if self.at_punct("[") { 3 } else { 1 }
    }

    // ---- tabular ----------------------------------------------------------------------------

    /// Either a pipeline or a scalar expression, decided by the first token and by a `|`.
    fn expr_or_tabular(&mut self) -> PResult<Either> {
        let start = self.span().start;
        if let Some(source) = self.keyword_source()? {
            let ops = self.pipe_ops()?;
            return Ok(Either::Tabular(TabularExpr {
                source,
                ops,
                span: self.since(start),
            }));
        }
        let e = self.expr()?;
        if self.at_punct("|") {
            let source = Source {
                span: e.span,
                kind: SourceKind::Expr(e),
            };
            let ops = self.pipe_ops()?;
            return Ok(Either::Tabular(TabularExpr {
                source,
                ops,
                span: self.since(start),
            }));
        }
        Ok(Either::Scalar(e))
    }

    /// A tabular expression (a bare expression becomes its source).
    fn tabular(&mut self) -> PResult<TabularExpr> {
        Ok(match self.expr_or_tabular()? {
            Either::Tabular(t) => t,
            Either::Scalar(e) => source_only(e),
        })
    }

    fn pipe_ops(&mut self) -> PResult<Vec<Operator>> {
        let mut ops = Vec::new();
        let mut failed = false;
        while self.eat_punct("|") {
            match self.operator() {
                Ok(op) => {
                    if let Err(Reported) = self.check_operator_end(&op) {
                        failed = true;
                        self.recover();
                    }
                    ops.push(op);
                }
                Err(Reported) => {
                    failed = true;
                    self.recover();
                }
            }
        }
        if failed { Err(Reported) } else { Ok(ops) }
    }

    /// After an operator: anything but `|`, `;`, a closer or the end on the same line is a mistake
    /// inside the operator (`where x = 1`, `where x contain "a"`, `project a b`). A word that
    /// starts a new line is left to the statement level (a missing `;` or a second query).
    fn check_operator_end(&mut self, op: &Operator) -> PResult<()> {
        if self.at_operator_end() {
            return Ok(());
        }
        let span = self.span();
        let gap = &self.src[self.prev_end().min(span.start)..span.start];
        if gap.contains('\n') && matches!(self.peek(), TokenKind::Ident(_)) {
            return Ok(());
        }
        let found = self.peek().describe();
        let keyword = self.src[op.span.start..op.span.end]
            .split(|c: char| c.is_whitespace() || c == '(')
            .next()
            .unwrap_or("")
            .to_string();
        let mut d = Diagnostic::error(
            "KQL0006",
            format!("unexpected {found} after the `{keyword}` operator"),
        )
        .at(self.file, self.src, span);
        if self.at_punct("=") && matches!(op.kind, OperatorKind::Where(_)) {
            d = d
                .with_label("`=` assigns")
                .with_help("compare with `==`, or with `=~` to ignore case");
        } else if let TokenKind::Ident(w) = self.peek() {
            let words = INFIX_WORDS.iter().copied();
            d = match did_you_mean(w, words) {
                Some(s) => d.with_help(format!("did you mean the operator `{s}`?")),
                None => d.with_help("separate items with `,` and operators with `|`"),
            };
        } else {
            d = d.with_help("separate items with `,` and operators with `|`");
        }
        Err(self.push(d))
    }

    /// Sources introduced by a keyword: datatable, externaldata, union, range, print, search.
    fn keyword_source(&mut self) -> PResult<Option<Source>> {
        let start = self.span().start;
        let Some(word) = self.word() else {
            return Ok(None);
        };
        let kind = match word {
            "datatable" if self.at_punct_n(1, "(") => {
                self.bump();
                let columns = self.column_decls()?;
                let open = self.expect_punct("[")?;
                let values = self.comma_list_until("]", |p| p.expr())?;
                self.expect_close("]", open)?;
                SourceKind::Datatable { columns, values }
            }
            "externaldata" if self.at_punct_n(1, "(") => {
                self.bump();
                let columns = self.column_decls()?;
                let open = self.expect_punct("[")?;
                let uris = self.comma_list_until("]", |p| p.expr())?;
                self.expect_close("]", open)?;
                let props = self.with_props()?;
                SourceKind::ExternalData {
                    columns,
                    uris,
                    props,
                }
            }
            "union" => {
                self.bump();
                SourceKind::Union(self.union_body()?)
            }
            "range"
                if matches!(self.peek_at(1), TokenKind::Ident(_))
                    && matches!(self.peek_at(2), TokenKind::Ident(w) if w == "from") =>
            {
                self.bump();
                let column = self.name()?;
                self.expect_word("from")?;
                let from = self.expr()?;
                self.expect_word("to")?;
                let to = self.expr()?;
                self.expect_word("step")?;
                let step = self.expr()?;
                SourceKind::Range {
                    column,
                    from,
                    to,
                    step,
                }
            }
            "print" => {
                self.bump();
                SourceKind::Print(self.column_exprs()?)
            }
            "search" if !self.at_punct_n(1, "(") || self.at_word_n(1, "in") => {
                self.bump();
                SourceKind::Search(self.search_body()?)
            }
            "find" if !self.at_punct_n(1, "(") => {
                self.bump();
                SourceKind::Find(self.find_body()?)
            }
            "evaluate" if !self.at_punct_n(1, "(") => {
                let span = self.span();
                return Err(self.unsupported_operator(word.to_string(), span));
            }
            _ => return Ok(None),
        };
        Ok(Some(Source {
            kind,
            span: self.since(start),
        }))
    }

    fn at_word_n(&self, n: usize, w: &str) -> bool {
        matches!(self.peek_at(n), TokenKind::Ident(s) if s == w)
    }

    /// `with (name=value, ...)` when present (externaldata, render).
    fn with_props(&mut self) -> PResult<Vec<OpParam>> {
        if !self.eat_word("with") {
            return Ok(Vec::new());
        }
        let open = self.expect_punct("(")?;
        let props = self.comma_list_until(")", |p| p.op_param())?;
        self.expect_close(")", open)?;
        Ok(props)
    }

    fn column_decls(&mut self) -> PResult<Vec<ColumnDecl>> {
        let open = self.expect_punct("(")?;
        let cols = self.comma_list_until(")", |p| p.column_decl())?;
        self.expect_close(")", open)?;
        Ok(cols)
    }

    /// Comma-separated items up to (not including) `close`; an empty list is allowed.
    fn comma_list_until<T>(
        &mut self,
        close: &str,
        mut item: impl FnMut(&mut Self) -> PResult<T>,
    ) -> PResult<Vec<T>> {
        let mut out = Vec::new();
        if self.at_punct(close) {
            return Ok(out);
        }
        loop {
            out.push(item(self)?);
            if !self.eat_punct(",") {
                break;
            }
            if self.at_punct(close) {
                break;
            }
        }
        Ok(out)
    }

    /// `name=value` operator parameters accepted by an operator.
    fn op_params(&mut self, allowed: &[&str]) -> PResult<Vec<OpParam>> {
        let mut out = Vec::new();
        while let Some(w) = self.word() {
            let dotted = self.at_punct_n(1, ".")
                && matches!(self.peek_at(2), TokenKind::Ident(_))
                && self.at_punct_n(3, "=");
            let plain = self.at_punct_n(1, "=") && allowed.contains(&w);
            if !(plain || (dotted && w == "hint")) {
                break;
            }
            out.push(self.op_param()?);
        }
        Ok(out)
    }

    fn op_param(&mut self) -> PResult<OpParam> {
        let start = self.span().start;
        let first = self.name()?;
        let mut name = first.name;
        while self.at_punct(".") {
            self.bump();
            let part = self.name()?;
            name.push('.');
            name.push_str(&part.name);
        }
        let name = Ident::new(name, self.since(start));
        self.expect_punct("=")?;
        // A word value is a name, never a call: `hint.strategy=shuffle (T)`.
        let value = match self.peek().clone() {
            TokenKind::Ident(w) => {
                let span = self.bump().span;
                match w.as_str() {
                    "true" => lit(Literal::Bool(true), span),
                    "false" => lit(Literal::Bool(false), span),
                    _ => Expr::new(ExprKind::Name(Ident::new(w, span)), span),
                }
            }
            _ => self.unary()?,
        };
        Ok(OpParam {
            name,
            value,
            span: self.since(start),
        })
    }

    fn union_body(&mut self) -> PResult<Union> {
        let params = self.op_params(&["kind", "withsource", "isfuzzy"])?;
        let mut tables = Vec::new();
        loop {
            tables.push(source_only(self.table_item()?));
            if !self.eat_punct(",") {
                break;
            }
        }
        Ok(Union { params, tables })
    }

    /// One table operand of union / search: a name, a wildcard pattern, a call, or `( ... )`.
    fn table_item(&mut self) -> PResult<Expr> {
        if self.at_punct("(") {
            return self.primary();
        }
        if let Some(p) = self.pattern()? {
            return Ok(p);
        }
        self.postfix_expr()
    }

    /// A name pattern with `*` (`Device*`, `*`), when the cursor is at one.
    fn pattern(&mut self) -> PResult<Option<Expr>> {
        let start = self.pos;
        let mut text = String::new();
        let mut end = self.span().start;
        let mut has_star = false;
        loop {
            let tok = &self.tokens[self.pos];
            if !text.is_empty() && tok.span.start != end {
                break;
            }
            match &tok.kind {
                TokenKind::Ident(s) if !s.starts_with('!') => text.push_str(s),
                TokenKind::Long(n) if !text.is_empty() => text.push_str(&n.to_string()),
                TokenKind::Punct("*") => {
                    has_star = true;
                    text.push('*');
                }
                _ => break,
            }
            end = tok.span.end;
            self.bump();
        }
        if has_star {
            let span = Span::new(self.tokens[start].span.start, end);
            Ok(Some(Expr::new(ExprKind::Wildcard(text), span)))
        } else {
            self.pos = start;
            Ok(None)
        }
    }

    /// A name or wildcard pattern, for project-away, project-keep and project-reorder.
    fn name_or_pattern(&mut self) -> PResult<Expr> {
        if let Some(p) = self.pattern()? {
            return Ok(p);
        }
        let n = self.name()?;
        Ok(Expr::new(ExprKind::Name(n.clone()), n.span))
    }

    fn search_body(&mut self) -> PResult<Search> {
        let params = self.op_params(&["kind"])?;
        let mut tables = Vec::new();
        if self.eat_word("in") {
            let open = self.expect_punct("(")?;
            tables = self.comma_list_until(")", |p| Ok(source_only(p.table_item()?)))?;
            self.expect_close(")", open)?;
        }
        let predicate = self.search_predicate()?;
        Ok(Search {
            params,
            tables,
            predicate,
        })
    }

    /// `find` after its keyword: `[withsource=C] [in (T, ...)] where P [project ...]`, or `P [project ...]`.
    fn find_body(&mut self) -> PResult<Find> {
        let params = self.op_params(&["withsource"])?;
        let mut tables = Vec::new();
        let with_in = self.eat_word("in");
        if with_in {
            let open = self.expect_punct("(")?;
            tables = self.comma_list_until(")", |p| Ok(source_only(p.table_item()?)))?;
            self.expect_close(")", open)?;
        }
        // `where` is required after `in (...)`; without it the short form `find P` applies.
        if with_in || !params.is_empty() {
            if !self.eat_word("where") {
                return Err(self.expected("`where` and a predicate"));
            }
        } else {
            self.eat_word("where");
        }
        let predicate = self.search_predicate()?;
        let project = if self.eat_word("project-smart") {
            None
        } else if self.eat_word("project") {
            let mut columns = Vec::new();
            let mut pack_all = false;
            loop {
                if self.at_word("pack_all") && self.at_punct_n(1, "(") && self.at_punct_n(2, ")") {
                    self.bump();
                    self.bump();
                    self.bump();
                    pack_all = true;
                } else {
                    let name = self.name()?;
                    let ty = if self.eat_punct(":") {
                        Some(self.name()?)
                    } else {
                        None
                    };
                    columns.push(FindColumn { name, ty });
                }
                if !self.eat_punct(",") {
                    break;
                }
            }
            Some(FindProject { columns, pack_all })
        } else {
            None
        };
        Ok(Find {
            params,
            tables,
            predicate,
            project,
        })
    }

    /// A search predicate: an expression where `Col: "x"` means `Col has "x"`.
    fn search_predicate(&mut self) -> PResult<Expr> {
        if self.at_name() && self.at_punct_n(self.name_len(), ":") {
            let n = self.name()?;
            self.bump();
            let rhs = self.expr_bp(4)?;
            let span = n.span.to(rhs.span);
            let lhs = Expr::new(ExprKind::Name(n.clone()), n.span);
            let has = Expr::new(
                ExprKind::Binary {
                    op: BinOp::Str {
                        op: StrOp::Has,
                        negated: false,
                        case_sensitive: false,
                    },
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span,
            );
            return self.infix_loop(has, 0);
        }
        self.expr()
    }

    fn unsupported_operator(&mut self, word: String, span: Span) -> Reported {
        let d = Diagnostic::error("KQL0008", format!("unsupported operator `{word}`"))
            .at(self.file, self.src, span)
            .with_label("not in firedrill's KQL subset")
            .with_help("see docs/kql-subset.md for the supported operators");
        self.push(d)
    }

    fn operator(&mut self) -> PResult<Operator> {
        let start = self.span().start;
        let word_span = self.span();
        let word = match self.peek().clone() {
            TokenKind::Ident(w) => w,
            TokenKind::Template(t) => return Err(self.template(&t, word_span)),
            _ => return Err(self.expected("an operator after `|`")),
        };
        self.bump();
        let kind = match word.as_str() {
            "where" | "filter" => OperatorKind::Where(self.expr()?),
            "extend" => OperatorKind::Extend(self.column_exprs()?),
            "project" => OperatorKind::Project(self.column_exprs()?),
            "project-away" => OperatorKind::ProjectAway(self.comma_list(|p| p.name_or_pattern())?),
            "project-keep" => OperatorKind::ProjectKeep(self.comma_list(|p| p.name_or_pattern())?),
            "project-rename" => OperatorKind::ProjectRename(self.comma_list(|p| {
                let new = p.name()?;
                p.expect_punct("=")?;
                let old = p.name()?;
                Ok((new, old))
            })?),
            "project-reorder" => OperatorKind::ProjectReorder(self.comma_list(|p| {
                let e = p.name_or_pattern()?;
                let order = match p.word() {
                    Some("asc" | "desc") => Some(p.name()?),
                    // `granny-asc` lexes as `granny`, `-`, `asc`.
                    Some("granny") if p.at_punct_n(1, "-") => {
                        let granny = p.name()?;
                        p.expect_punct("-")?;
                        if !matches!(p.word(), Some("asc" | "desc")) {
                            return Err(p.expected("`asc` or `desc` after `granny-`"));
                        }
                        let order = p.name()?;
                        Some(Ident::new(
                            format!("granny-{}", order.name),
                            granny.span.to(order.span),
                        ))
                    }
                    _ => None,
                };
                Ok((e, order))
            })?),
            "summarize" => {
                let params = self.op_params(&[])?;
                let aggregates = if self.at_word("by") {
                    Vec::new()
                } else {
                    self.column_exprs()?
                };
                let by = if self.eat_word("by") {
                    self.column_exprs()?
                } else {
                    Vec::new()
                };
                if aggregates.is_empty() && by.is_empty() {
                    return Err(self.expected("an aggregate or `by`"));
                }
                OperatorKind::Summarize {
                    params,
                    aggregates,
                    by,
                }
            }
            "distinct" => OperatorKind::Distinct(self.column_exprs()?),
            "top-nested" => OperatorKind::TopNested(self.top_nested_clauses()?),
            "top" => {
                let count = self.expr()?;
                self.expect_word("by")?;
                let by = self.sort_key()?;
                OperatorKind::Top { count, by }
            }
            "sort" | "order" => {
                self.expect_word("by")?;
                OperatorKind::Sort(self.comma_list(|p| p.sort_key())?)
            }
            "take" | "limit" => OperatorKind::Take(self.expr()?),
            "count" => OperatorKind::Count,
            "union" => OperatorKind::Union(self.union_body()?),
            "join" | "lookup" => {
                let params = self.op_params(&["kind"])?;
                if word == "join" {
                    self.check_join_kind(&params);
                }
                let right = self.right_table()?;
                self.expect_word("on")?;
                let on = self.comma_list(|p| p.expr())?;
                if word == "join" {
                    OperatorKind::Join { params, right, on }
                } else {
                    OperatorKind::Lookup { params, right, on }
                }
            }
            "mv-expand" | "mvexpand" => {
                let params = self.op_params(&["bagexpansion", "with_itemindex", "kind"])?;
                let items = self.comma_list(|p| p.mv_item())?;
                let limit = if self.eat_word("limit") {
                    Some(self.expr()?)
                } else {
                    None
                };
                OperatorKind::MvExpand {
                    params,
                    items,
                    limit,
                }
            }
            "mv-apply" => {
                let params = self.op_params(&["with_itemindex"])?;
                let items = self.comma_list(|p| p.mv_item())?;
                self.expect_word("on")?;
                let open = self.expect_punct("(")?;
                self.enter()?;
                let sub_start = self.span().start;
                let mut ops = vec![self.operator()?];
                while self.eat_punct("|") {
                    ops.push(self.operator()?);
                }
                self.leave();
                let span = self.since(sub_start);
                self.expect_close(")", open)?;
                let rows = Expr::new(
                    ExprKind::Name(Ident::new("$rows", Span::new(sub_start, sub_start))),
                    Span::new(sub_start, sub_start),
                );
                let mut subquery = source_only(rows);
                subquery.ops = ops;
                subquery.span = span;
                OperatorKind::MvApply {
                    params,
                    items,
                    subquery,
                }
            }
            "parse" | "parse-where" => {
                let params = self.op_params(&["kind", "flags"])?;
                let expr = self.expr()?;
                self.expect_word("with")?;
                let pattern = self.parse_pattern()?;
                OperatorKind::Parse {
                    drop_unmatched: word == "parse-where",
                    params,
                    expr,
                    pattern,
                }
            }
            "evaluate" => {
                let params = self.op_params(&[])?;
                let call = self.postfix_expr()?;
                if !matches!(call.kind, ExprKind::Call { .. }) {
                    return Err(self.error_at(
                        "KQL0006",
                        "expected a plugin call such as `bag_unpack(Column)`",
                        call.span,
                    ));
                }
                let output = if self.eat_punct(":") {
                    let open = self.expect_punct("(")?;
                    let columns = self.comma_list(|p| p.column_decl())?;
                    self.expect_close(")", open)?;
                    Some(ParamType::Tabular {
                        columns,
                        any: false,
                    })
                } else {
                    None
                };
                OperatorKind::Evaluate {
                    params,
                    call,
                    output,
                }
            }
            "invoke" => {
                let call = self.postfix_expr()?;
                if !matches!(call.kind, ExprKind::Call { .. }) {
                    return Err(self.error_at(
                        "KQL0006",
                        "expected a function call after `invoke`",
                        call.span,
                    ));
                }
                OperatorKind::Invoke(call)
            }
            "as" => {
                let params = self.op_params(&[])?;
                OperatorKind::As {
                    params,
                    name: self.name()?,
                }
            }
            "serialize" => OperatorKind::Serialize(if self.at_operator_end() {
                Vec::new()
            } else {
                self.column_exprs()?
            }),
            "sample" => OperatorKind::Sample(self.expr()?),
            "getschema" => OperatorKind::Getschema,
            "render" => {
                let chart = self.name()?;
                let props = self.with_props()?;
                OperatorKind::Render { chart, props }
            }
            "search" => OperatorKind::Search(self.search_body()?),
            "make-series" => self.make_series()?,
            w if UNSUPPORTED_OPERATORS.contains(&w) => {
                return Err(self.unsupported_operator(word.clone(), word_span));
            }
            _ => {
                let mut d = Diagnostic::error("KQL0008", format!("unknown operator `{word}`"))
                    .at(self.file, self.src, word_span)
                    .with_label("not a tabular operator");
                if let Some(s) = did_you_mean(&word, SUPPORTED_OPERATORS.iter().copied()) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                } else {
                    d = d.with_help("see docs/kql-subset.md for the supported operators");
                }
                return Err(self.push(d));
            }
        };
        Ok(Operator {
            kind,
            span: self.since(start),
        })
    }

    fn at_operator_end(&self) -> bool {
        matches!(self.peek(), TokenKind::Eof)
            || self.at_punct("|")
            || self.at_punct(";")
            || self.at_punct(")")
            || self.at_punct("}")
    }

    fn check_join_kind(&mut self, params: &[OpParam]) {
        for p in params {
            if p.name.name != "kind" {
                continue;
            }
            let ok =
                matches!(&p.value.kind, ExprKind::Name(n) if JOIN_KINDS.contains(&n.name.as_str()));
            if !ok {
                let text = p.value.to_string();
                let mut d = Diagnostic::error("KQL0010", format!("unknown join kind `{text}`")).at(
                    self.file,
                    self.src,
                    p.value.span,
                );
                if let Some(s) = did_you_mean(&text, JOIN_KINDS.iter().copied()) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                } else {
                    d = d.with_help(format!("join kinds are {}", JOIN_KINDS.join(", ")));
                }
                self.diags.push(d);
            }
        }
    }

    /// The right side of join/lookup: `(subquery)` or a name / call.
    fn right_table(&mut self) -> PResult<TabularExpr> {
        if self.at_punct("(") {
            let open = self.bump().span;
            self.enter()?;
            let t = self.tabular();
            self.leave();
            let t = t?;
            self.expect_close(")", open)?;
            return Ok(t);
        }
        Ok(source_only(self.postfix_expr()?))
    }

    fn comma_list<T>(&mut self, mut item: impl FnMut(&mut Self) -> PResult<T>) -> PResult<Vec<T>> {
        let mut out = vec![item(self)?];
        while self.eat_punct(",") {
            out.push(item(self)?);
        }
        Ok(out)
    }

    /// The clauses after the first `top-nested`: `[N] of [Name =] Expr [with others = C] by
    /// [Name =] Aggregation [asc | desc]`, separated by `, top-nested`.
    fn top_nested_clauses(&mut self) -> PResult<Vec<TopNestedClause>> {
        let mut clauses = Vec::new();
        loop {
            let start = self.span().start;
            let count = if self.at_word("of") {
                None
            } else {
                Some(self.expr()?)
            };
            self.expect_word("of")?;
            let of = self.column_expr()?;
            let others = if self.eat_word("with") {
                self.expect_word("others")?;
                self.expect_punct("=")?;
                Some(self.expr()?)
            } else {
                None
            };
            self.expect_word("by")?;
            let by = self.column_expr()?;
            let order = if self.eat_word("asc") {
                SortOrder::Asc
            } else {
                self.eat_word("desc");
                SortOrder::Desc
            };
            clauses.push(TopNestedClause {
                count,
                of,
                others,
                by,
                order,
                span: self.since(start),
            });
            if self.at_punct(",") && self.at_word_n(1, "top-nested") {
                self.bump();
                self.bump();
            } else {
                return Ok(clauses);
            }
        }
    }

    fn column_exprs(&mut self) -> PResult<Vec<ColumnExpr>> {
        self.comma_list(|p| p.column_expr())
    }

    /// `[Name =] expr` or `(A, B) = expr`.
    fn column_expr(&mut self) -> PResult<ColumnExpr> {
        let start = self.span().start;
        let mut names = Vec::new();
        if self.at_name() && self.at_punct_n(self.name_len(), "=") {
            names.push(self.name()?);
            self.bump();
        } else if self.at_punct("(") && self.is_tuple_assignment() {
            self.bump();
            loop {
                names.push(self.name()?);
                if !self.eat_punct(",") {
                    break;
                }
            }
            self.expect_punct(")")?;
            self.expect_punct("=")?;
        }
        let expr = self.expr()?;
        Ok(ColumnExpr {
            names,
            expr,
            span: self.since(start),
        })
    }

    /// `(A, B) = ...` at the cursor.
    fn is_tuple_assignment(&self) -> bool {
        let mut i = 1;
        loop {
            match self.peek_at(i) {
                TokenKind::Ident(_) => i += 1,
                TokenKind::Punct("[") => i += 3,
                _ => return false,
            }
            match self.peek_at(i) {
                TokenKind::Punct(",") => i += 1,
                TokenKind::Punct(")") => {
                    return matches!(self.peek_at(i + 1), TokenKind::Punct("="));
                }
                _ => return false,
            }
        }
    }

    fn sort_key(&mut self) -> PResult<SortKey> {
        let start = self.span().start;
        let expr = self.expr()?;
        let order = if self.eat_word("asc") {
            Some(SortOrder::Asc)
        } else if self.eat_word("desc") {
            Some(SortOrder::Desc)
        } else {
            None
        };
        let nulls = if self.eat_word("nulls") {
            if self.eat_word("first") {
                Some(NullsPlacement::First)
            } else {
                self.expect_word("last")?;
                Some(NullsPlacement::Last)
            }
        } else {
            None
        };
        Ok(SortKey {
            expr,
            order,
            nulls,
            span: self.since(start),
        })
    }

    fn mv_item(&mut self) -> PResult<MvExpandItem> {
        let column = self.column_expr()?;
        let to_type = if self.eat_word("to") {
            self.expect_word("typeof")?;
            let open = self.expect_punct("(")?;
            let t = self.name()?;
            self.expect_close(")", open)?;
            Some(t)
        } else {
            None
        };
        Ok(MvExpandItem { column, to_type })
    }

    fn parse_pattern(&mut self) -> PResult<Vec<ParsePart>> {
        let mut parts = Vec::new();
        loop {
            match self.peek().clone() {
                TokenKind::String(_) => {
                    let mut s = String::new();
                    while let TokenKind::String(part) = self.peek().clone() {
                        s.push_str(&part);
                        self.bump();
                    }
                    parts.push(ParsePart::Literal(s));
                }
                TokenKind::Punct("*") => {
                    self.bump();
                    parts.push(ParsePart::Star);
                }
                TokenKind::Ident(_) | TokenKind::Punct("[") if self.at_name() => {
                    let name = self.name()?;
                    let ty = if self.eat_punct(":") {
                        self.name()?
                    } else {
                        Ident::new("string", Span::new(name.span.end, name.span.end))
                    };
                    parts.push(ParsePart::Column(ColumnDecl { name, ty }));
                }
                _ => break,
            }
        }
        if parts.is_empty() {
            return Err(self.expected("a parse pattern"));
        }
        Ok(parts)
    }

    fn make_series(&mut self) -> PResult<OperatorKind> {
        let params = self.op_params(&["kind"])?;
        let aggregates = self.comma_list(|p| {
            let agg = p.column_expr()?;
            let default = if p.at_word("default") && p.at_punct_n(1, "=") {
                p.bump();
                p.bump();
                Some(p.expr()?)
            } else {
                None
            };
            Ok((agg, default))
        })?;
        self.expect_word("on")?;
        let on = self.expr()?;
        let from = if self.eat_word("from") {
            Some(self.expr()?)
        } else {
            None
        };
        let to = if self.eat_word("to") {
            Some(self.expr()?)
        } else {
            None
        };
        self.expect_word("step")?;
        let step = self.expr()?;
        let by = if self.eat_word("by") {
            self.column_exprs()?
        } else {
            Vec::new()
        };
        Ok(OperatorKind::MakeSeries {
            params,
            aggregates,
            on,
            from,
            to,
            step,
            by,
        })
    }

    // ---- expressions ------------------------------------------------------------------------

    fn expr(&mut self) -> PResult<Expr> {
        self.expr_bp(0)
    }

    fn expr_bp(&mut self, min: u8) -> PResult<Expr> {
        let lhs = self.unary()?;
        self.infix_loop(lhs, min)
    }

    /// The operators that follow `lhs` and bind tighter than `min`, applied to it. A whole
    /// expression (`min` 0) nested deeper than [`MAX_DEPTH`] is an error: a chain of `+`, or of
    /// comparisons, nests one level per operator, and every stage after the parser recurses
    /// into it (`and` and `or` chains are walked without recursion, so count as one level).
    fn infix_loop(&mut self, lhs: Expr, min: u8) -> PResult<Expr> {
        let e = self.infix_links(lhs, min)?;
        if min == 0 && e.depth() > MAX_DEPTH {
            let d = Diagnostic::error(
                "KQL0007",
                format!("expression nested more than {MAX_DEPTH} levels deep"),
            )
            .at(self.file, self.src, e.span)
            .with_help(
                "each operator other than `and` and `or` nests its operands a level deeper: \
                 split the expression with `extend` or `let` statements",
            );
            return Err(self.push(d));
        }
        Ok(e)
    }

    fn infix_links(&mut self, mut lhs: Expr, min: u8) -> PResult<Expr> {
        loop {
            let Some(infix) = self.infix() else {
                return Ok(lhs);
            };
            let prec = match infix {
                Infix::Bin(op) => op.precedence(),
                Infix::List(_) | Infix::Between(_) => 3,
            };
            if prec <= min {
                return Ok(lhs);
            }
            match infix {
                Infix::Bin(op) => {
                    self.bump();
                    if op == BinOp::MatchesRegex {
                        self.bump();
                    }
                    let rhs = self.expr_bp(prec)?;
                    let span = lhs.span.to(rhs.span);
                    lhs = Expr::new(
                        ExprKind::Binary {
                            op,
                            lhs: Box::new(lhs),
                            rhs: Box::new(rhs),
                        },
                        span,
                    );
                }
                Infix::List(op) => {
                    self.bump();
                    let open = self.expect_punct("(")?;
                    self.enter()?;
                    let items = self.comma_list_until(")", |p| p.expr_or_subquery());
                    self.leave();
                    let items = items?;
                    let close = self.expect_close(")", open)?;
                    let span = lhs.span.to(close);
                    lhs = Expr::new(
                        ExprKind::List {
                            op,
                            lhs: Box::new(lhs),
                            items,
                        },
                        span,
                    );
                }
                Infix::Between(negated) => {
                    self.bump();
                    let open = self.expect_punct("(")?;
                    self.enter()?;
                    let bounds = (|| {
                        let low = self.expr()?;
                        self.expect_punct("..")?;
                        let high = self.expr()?;
                        Ok((low, high))
                    })();
                    self.leave();
                    let (low, high) = bounds?;
                    let close = self.expect_close(")", open)?;
                    let span = lhs.span.to(close);
                    lhs = Expr::new(
                        ExprKind::Between {
                            negated,
                            lhs: Box::new(lhs),
                            low: Box::new(low),
                            high: Box::new(high),
                        },
                        span,
                    );
                }
            }
        }
    }

    fn infix(&self) -> Option<Infix> {
        Some(match self.peek() {
            TokenKind::Punct(p) => Infix::Bin(match *p {
                "==" => BinOp::Eq,
                "!=" | "<>" => BinOp::Ne,
                "=~" => BinOp::EqCi,
                "!~" => BinOp::NeCi,
                "<" => BinOp::Lt,
                "<=" => BinOp::Le,
                ">" => BinOp::Gt,
                ">=" => BinOp::Ge,
                "+" => BinOp::Add,
                "-" => BinOp::Sub,
                "*" => BinOp::Mul,
                "/" => BinOp::Div,
                "%" => BinOp::Mod,
                _ => return None,
            }),
            TokenKind::Ident(w) => match w.as_str() {
                "or" => Infix::Bin(BinOp::Or),
                "and" => Infix::Bin(BinOp::And),
                "matches" if self.at_word_n(1, "regex") => Infix::Bin(BinOp::MatchesRegex),
                "between" => Infix::Between(false),
                "!between" => Infix::Between(true),
                w => {
                    if let Some(op) = list_operator(w) {
                        Infix::List(op)
                    } else {
                        Infix::Bin(string_operator(w)?)
                    }
                }
            },
            _ => return None,
        })
    }

    /// An expression that may be a pipeline (inside parentheses: `in (T | project x)`).
    fn expr_or_subquery(&mut self) -> PResult<Expr> {
        let start = self.span().start;
        Ok(match self.expr_or_tabular()? {
            Either::Scalar(e) => e,
            Either::Tabular(t) => Expr::new(ExprKind::Subquery(Box::new(t)), self.since(start)),
        })
    }

    fn unary(&mut self) -> PResult<Expr> {
        let start = self.span().start;
        let op = if self.at_punct("-") {
            Some(UnaryOp::Neg)
        } else if self.at_punct("+") {
            Some(UnaryOp::Plus)
        } else {
            None
        };
        let Some(op) = op else {
            return self.postfix_expr();
        };
        self.bump();
        self.enter()?;
        let inner = self.unary();
        self.leave();
        let inner = inner?;
        let span = self.since(start);
        // A sign on a number literal is part of the literal.
        if op == UnaryOp::Neg
            && let ExprKind::Literal(lit) = &inner.kind
        {
            let folded = match lit {
                Literal::Long(n) => n.checked_neg().map(Literal::Long),
                Literal::Real(x) => Some(Literal::Real(-x)),
                Literal::Timespan(t) => Some(Literal::Timespan(-t)),
                _ => None,
            };
            if let Some(l) = folded {
                return Ok(Expr::new(ExprKind::Literal(l), span));
            }
        }
        Ok(Expr::new(
            ExprKind::Unary {
                op,
                expr: Box::new(inner),
            },
            span,
        ))
    }

    fn postfix_expr(&mut self) -> PResult<Expr> {
        let mut e = self.primary()?;
        loop {
            // `.name` or `.['quoted name']` (a path step whose key is not a plain name).
            let quoted_step = self.at_punct_n(1, "[")
                && matches!(self.peek_at(2), TokenKind::String(_))
                && self.at_punct_n(3, "]");
            if self.at_punct(".") && (self.at_name_n(1) || quoted_step) {
                self.bump();
                let name = self.name()?;
                let span = e.span.to(name.span);
                e = Expr::new(
                    ExprKind::Member {
                        expr: Box::new(e),
                        name,
                    },
                    span,
                );
            } else if self.at_punct("[") {
                let open = self.bump().span;
                self.enter()?;
                let index = self.expr();
                self.leave();
                let index = index?;
                let close = self.expect_close("]", open)?;
                let span = e.span.to(close);
                e = Expr::new(
                    ExprKind::Index {
                        expr: Box::new(e),
                        index: Box::new(index),
                    },
                    span,
                );
            } else {
                return Ok(e);
            }
        }
    }

    fn at_name_n(&self, n: usize) -> bool {
        matches!(self.peek_at(n), TokenKind::Ident(_))
    }

    fn primary(&mut self) -> PResult<Expr> {
        let start = self.span().start;
        let tok = self.peek().clone();
        match tok {
            TokenKind::Long(n) => {
                self.bump();
                Ok(lit(Literal::Long(n), self.since(start)))
            }
            TokenKind::Real(x) => {
                self.bump();
                Ok(lit(Literal::Real(x), self.since(start)))
            }
            TokenKind::Timespan(t) => {
                self.bump();
                Ok(lit(Literal::Timespan(t), self.since(start)))
            }
            TokenKind::String(_) => {
                let mut s = String::new();
                while let TokenKind::String(part) = self.peek().clone() {
                    s.push_str(&part);
                    self.bump();
                }
                Ok(lit(Literal::String(s), self.since(start)))
            }
            TokenKind::TypedRaw { ty, raw } => {
                let span = self.bump().span;
                Ok(lit(self.typed_raw(&ty, &raw, span)?, span))
            }
            TokenKind::Template(t) => {
                let span = self.span();
                Err(self.template(&t, span))
            }
            TokenKind::Punct("*") => {
                self.bump();
                Ok(Expr::new(ExprKind::Wildcard("*".into()), self.since(start)))
            }
            TokenKind::Punct("(") => {
                let open = self.bump().span;
                self.enter()?;
                let inner = self.expr_or_tabular();
                self.leave();
                let inner = inner?;
                self.expect_close(")", open)?;
                let span = self.since(start);
                Ok(match inner {
                    Either::Scalar(e) => Expr::new(ExprKind::Paren(Box::new(e)), span),
                    Either::Tabular(t) => Expr::new(ExprKind::Subquery(Box::new(t)), span),
                })
            }
            TokenKind::Punct("[") if matches!(self.peek_at(1), TokenKind::String(_)) => {
                let n = self.name()?;
                Ok(Expr::new(ExprKind::Name(n.clone()), n.span))
            }
            TokenKind::Ident(w) => {
                if self.at_punct_n(1, "(") {
                    return self.call_or_typed(w);
                }
                let span = self.bump().span;
                Ok(match w.as_str() {
                    "true" | "True" | "TRUE" => lit(Literal::Bool(true), span),
                    "false" | "False" | "FALSE" => lit(Literal::Bool(false), span),
                    _ => Expr::new(ExprKind::Name(Ident::new(w, span)), span),
                })
            }
            _ => Err(self.expected("an expression")),
        }
    }

    fn typed_raw(&mut self, ty: &str, raw: &str, span: Span) -> PResult<Literal> {
        if let Some(i) = raw.find("{{") {
            let inner = raw[i + 2..].split("}}").next().unwrap_or("").to_string();
            return Err(self.template(&inner, span));
        }
        if raw == "null" {
            return Ok(Literal::Null(ty.to_string()));
        }
        match ty {
            "datetime" | "date" => {
                let body = crate::kql::value::datetime_literal_body(raw);
                if crate::kql::value::parse_datetime(body).is_none() {
                    let d = Diagnostic::error(
                        "KQL0004",
                        format!("invalid datetime literal `{ty}({raw})`"),
                    )
                    .at(self.file, self.src, span)
                    .with_help("write one of the formats the datetime data type page lists (ISO 8601, RFC 822, RFC 850, Sortable), or the US month/day/year (`02/17/2016 08:40:01`, `12-02-2022`), such as `datetime(2024-01-31)` or `datetime(2024-01-31T10:00:00Z)`");
                    return Err(self.push(d));
                }
                Ok(Literal::Datetime(raw.to_string()))
            }
            "guid" => {
                if crate::kql::value::parse_guid(raw).is_none() {
                    let d =
                        Diagnostic::error("KQL0004", format!("invalid guid literal `guid({raw})`"))
                            .at(self.file, self.src, span)
                            .with_help("a guid is 32 hex digits in 8-4-4-4-12 groups");
                    return Err(self.push(d));
                }
                Ok(Literal::Guid(raw.to_string()))
            }
            _ => match parse_timespan_text(raw) {
                Some(t) => Ok(Literal::Timespan(t)),
                None => {
                    let d = Diagnostic::error(
                        "KQL0004",
                        format!("invalid timespan literal `{ty}({raw})`"),
                    )
                    .at(self.file, self.src, span)
                    .with_help(
                        "write a duration such as `timespan(1d)`, `time(00:10:00)` or `1.5h`",
                    );
                    Err(self.push(d))
                }
            },
        }
    }

    fn call_or_typed(&mut self, name: String) -> PResult<Expr> {
        let start = self.span().start;
        let name_span = self.bump().span;
        match name.as_str() {
            "dynamic" => {
                let open = self.bump().span;
                self.enter()?;
                let d = self.dynamic_value();
                self.leave();
                let d = d?;
                self.expect_close(")", open)?;
                let value = match d {
                    Dynamic::Null => Literal::Null("dynamic".into()),
                    d => Literal::Dynamic(d),
                };
                return Ok(lit(value, self.since(start)));
            }
            "bool" | "int" | "long" | "real" | "double" | "decimal" => {
                if let Some(l) = self.typed_scalar(&name)? {
                    return Ok(lit(l, self.since(start)));
                }
            }
            _ => {}
        }
        let open = self.bump().span;
        self.enter()?;
        let args = self.comma_list_until(")", |p| p.arg());
        self.leave();
        let args = args?;
        self.expect_close(")", open)?;
        Ok(Expr::new(
            ExprKind::Call {
                name: Ident::new(name, name_span),
                args,
            },
            self.since(start),
        ))
    }

    /// `int(5)`, `real(nan)`, `bool(null)`: the cursor is at `(`. `None` (cursor unmoved) when
    /// the argument is not a literal, so the caller parses a call.
    fn typed_scalar(&mut self, ty: &str) -> PResult<Option<Literal>> {
        let save = self.pos;
        self.bump();
        let neg = self.eat_punct("-");
        let plus = !neg && self.eat_punct("+");
        let value = match (self.peek().clone(), ty) {
            (TokenKind::Ident(w), _) if w == "null" && !neg && !plus => Some(Literal::Null(
                if ty == "double" { "real" } else { ty }.into(),
            )),
            (TokenKind::Ident(w), "bool") if !neg && !plus => match w.as_str() {
                "true" | "True" | "TRUE" => Some(Literal::Bool(true)),
                "false" | "False" | "FALSE" => Some(Literal::Bool(false)),
                _ => None,
            },
            (TokenKind::Long(n), "int") => i32::try_from(if neg { -n } else { n })
                .ok()
                .map(Literal::Int),
            (TokenKind::Long(n), "long") => Some(Literal::Long(if neg { -n } else { n })),
            (TokenKind::Long(n), "real" | "double") => {
                Some(Literal::Real(if neg { -(n as f64) } else { n as f64 }))
            }
            (TokenKind::Real(x), "real" | "double") => {
                Some(Literal::Real(if neg { -x } else { x }))
            }
            (TokenKind::Ident(w), "real" | "double") => match w.as_str() {
                "nan" if !neg && !plus => Some(Literal::Real(f64::NAN)),
                "inf" if plus => Some(Literal::Real(f64::INFINITY)),
                "inf" if neg => Some(Literal::Real(f64::NEG_INFINITY)),
                _ => None,
            },
            (TokenKind::Long(_) | TokenKind::Real(_), "decimal") => {
                let span = self.span();
                let text = &self.src[span.start..span.end];
                Some(Literal::Decimal(format!(
                    "{}{text}",
                    if neg { "-" } else { "" }
                )))
            }
            _ => None,
        };
        if value.is_some() {
            self.bump();
            if self.at_punct(")") {
                self.bump();
                return Ok(value);
            }
        }
        self.pos = save;
        Ok(None)
    }

    fn arg(&mut self) -> PResult<Arg> {
        if matches!(self.peek(), TokenKind::Ident(_)) && self.at_punct_n(1, "=") {
            let name = self.name()?;
            self.bump();
            let value = self.expr_or_subquery()?;
            return Ok(Arg {
                name: Some(name),
                value,
            });
        }
        Ok(Arg {
            name: None,
            value: self.expr_or_subquery()?,
        })
    }

    fn dynamic_value(&mut self) -> PResult<Dynamic> {
        let start = self.span().start;
        match self.peek().clone() {
            TokenKind::Punct("[") => {
                let open = self.bump().span;
                self.enter()?;
                let items = self.comma_list_until("]", |p| p.dynamic_value());
                self.leave();
                let items = items?;
                self.expect_close("]", open)?;
                Ok(Dynamic::Array(items))
            }
            TokenKind::Punct("{") => {
                let open = self.bump().span;
                self.enter()?;
                let pairs = self.comma_list_until("}", |p| {
                    let key = match p.peek().clone() {
                        TokenKind::String(s) => {
                            p.bump();
                            s
                        }
                        TokenKind::Ident(s) => {
                            p.bump();
                            s
                        }
                        _ => return Err(p.expected("a property name")),
                    };
                    p.expect_punct(":")?;
                    Ok((key, p.dynamic_value()?))
                });
                self.leave();
                let pairs = pairs?;
                self.expect_close("}", open)?;
                Ok(Dynamic::Object(pairs))
            }
            TokenKind::Ident(w) if w == "null" => {
                self.bump();
                Ok(Dynamic::Null)
            }
            _ => {
                let mut e = self.unary()?;
                match std::mem::replace(&mut e.kind, ExprKind::Literal(Literal::Bool(false))) {
                    ExprKind::Literal(Literal::Null(_)) => Ok(Dynamic::Null),
                    ExprKind::Literal(Literal::Dynamic(d)) => Ok(d),
                    ExprKind::Literal(l) => Ok(Dynamic::Scalar(Box::new(l))),
                    _ => {
                        let span = self.since(start);
                        Err(self.error_at(
                            "KQL0006",
                            "expected a constant inside `dynamic(...)`",
                            span,
                        ))
                    }
                }
            }
        }
    }
}

#[expect(
    clippy::large_enum_variant,
    reason = "short-lived parse result, moved once"
)]
enum Either {
    Tabular(TabularExpr),
    Scalar(Expr),
}

#[derive(Clone, Copy)]
enum Infix {
    Bin(BinOp),
    List(ListOp),
    Between(bool),
}

fn lit(l: Literal, span: Span) -> Expr {
    Expr::new(ExprKind::Literal(l), span)
}

/// A tabular expression with `e` as its source and no operators.
fn source_only(e: Expr) -> TabularExpr {
    let span = e.span;
    TabularExpr {
        source: Source {
            kind: SourceKind::Expr(e),
            span,
        },
        ops: Vec::new(),
        span,
    }
}

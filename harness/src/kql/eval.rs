//! The tabular interpreter: resolves a parsed query against a [`Database`] and runs it, keeping row provenance.
//!
//! Each operator first resolves its expressions against the input columns (unknown columns,
//! functions and tables are `KQL02xx` diagnostics with suggestions, reported even over empty
//! tables), then runs them row by row. Semantics follow the operator pages under
//! learn.microsoft.com/kusto/query/. Anything the engine does not implement is a diagnostic that
//! names it and points at it; nothing becomes a silent empty result.
//!
//! Diagnostic codes: KQL0201 unknown table, KQL0202 unknown column, KQL0203 unknown function,
//! KQL0204 unsupported operator or feature, KQL0205 type error, KQL0206 wrong arguments,
//! KQL0207 run-time error (a bad regex), KQL0208 offline stand-in used (warning), KQL0209 bad
//! join/lookup keys, KQL0210 unknown ASIM parameter, KQL0211 a column an open (data-dependent)
//! table did not produce, read as null (warning).
//!
//! This file holds the `Evaluator` (scopes, `let`, user functions, the operator dispatch);
//! the operators live by family in `source` (where rows come from), `rows` (row and column
//! operators), `summarize`, `series` (make-series), `join` (join, lookup, union), `expand`
//! (mv-expand, mv-apply, parse) and `plugin` (`evaluate` plugins, invoke); scalar expressions
//! are resolved in `compile` into the [`Compiled`] form that `scalar` evaluates.

use super::ast::{
    Arg, Expr, ExprKind, FunctionDef, Ident, LetValue, Literal, OpParam, Operator, OperatorKind,
    ParamType, Query, Source, SourceKind, Statement, StatementKind, TabularExpr,
};
use super::bind::Database;
use super::func::Context;
use super::schema::Column;
use super::table::{Row, Table};
use super::value::{ScalarType, Value};
use crate::diag::{Diagnostic, Severity, Span, did_you_mean};
use std::collections::HashMap;
use std::sync::Arc;

mod compile;
mod expand;
mod find;
mod join;
mod nested;
mod plugin;
mod result_names;
mod rows;
mod scalar;
mod series;
mod source;
mod summarize;
mod window;

pub(super) use window::shown_name;

use compile::compile_expr;
use rows::{count_rows, distinct, getschema, pick_columns, project_rename};
pub use scalar::Compiled;

/// An evaluation problem before it is located in the query text.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalError {
    /// Stable code.
    pub code: &'static str,
    /// Lowercase message fragment.
    pub message: String,
    /// Where in the query.
    pub span: Span,
    /// How to fix it.
    pub help: Option<String>,
    /// Error or warning.
    pub severity: Severity,
    /// For `KQL0202`: the column name that did not resolve (an open table adds it and retries).
    pub unknown_column: Option<String>,
}

impl EvalError {
    fn new(code: &'static str, message: impl Into<String>, span: Span) -> EvalError {
        EvalError {
            code,
            message: message.into(),
            span,
            help: None,
            severity: Severity::Error,
            unknown_column: None,
        }
    }

    fn help(mut self, help: impl Into<String>) -> EvalError {
        self.help = Some(help.into());
        self
    }

    /// The diagnostic, located in `text` (the query) of `file` when given.
    pub fn to_diagnostic(&self, source: Option<(&str, &str)>) -> Diagnostic {
        let mut d = Diagnostic::new(self.severity, self.code, self.message.clone());
        if let Some((file, text)) = source {
            d = d.at(file, text, self.span);
        } else {
            d = d.with_note(format!(
                "at bytes {}..{} of the query",
                self.span.start, self.span.end
            ));
        }
        if let Some(h) = &self.help {
            d = d.with_help(h.clone());
        }
        d
    }
}

type R<T> = Result<T, EvalError>;

/// The result of a run: the table when there were no errors, and every diagnostic (warnings
/// about offline stand-ins included).
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The result table.
    pub table: Option<Table>,
    /// Errors and warnings.
    pub diagnostics: Vec<Diagnostic>,
}

/// Runs `query` over `db`: the last tabular statement's result, or the diagnostics.
pub fn evaluate(query: &Query, db: &Database) -> Result<Table, Vec<Diagnostic>> {
    let run = evaluate_full(query, db, None);
    match run.table {
        Some(t) => Ok(t),
        None => Err(run.diagnostics),
    }
}

/// Runs `query` over `db`, locating diagnostics in `source` (`(file, query text)`) when given.
pub fn evaluate_full(query: &Query, db: &Database, source: Option<(&str, &str)>) -> Evaluation {
    let mut ev = Evaluator::new(db);
    let result = ev.query(query);
    let mut diagnostics: Vec<Diagnostic> = ev
        .warnings
        .iter()
        .map(|w| w.to_diagnostic(source))
        .collect();
    match result {
        Ok(table) => Evaluation {
            table: Some(table),
            diagnostics,
        },
        Err(e) => {
            diagnostics.insert(0, e.to_diagnostic(source));
            Evaluation {
                table: None,
                diagnostics,
            }
        }
    }
}

/// Parses and runs `text` (diagnostics name `file`).
pub fn run_text(file: &str, text: &str, db: &Database) -> Evaluation {
    let (query, mut diagnostics) = super::parse::parse_named(file, text);
    let Some(query) = query else {
        return Evaluation {
            table: None,
            diagnostics,
        };
    };
    let mut run = evaluate_full(&query, db, Some((file, text)));
    diagnostics.append(&mut run.diagnostics);
    Evaluation {
        table: run.table,
        diagnostics,
    }
}

// -------------------------------------------------------------------------------------------
// Scopes
// -------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Binding {
    Scalar(Value, ScalarType),
    Table(Arc<Table>),
    Function(Arc<FunctionDef>),
}

pub(super) struct Evaluator<'a> {
    db: &'a Database,
    pub(super) ctx: Context,
    scopes: Vec<HashMap<String, Binding>>,
    warnings: Vec<EvalError>,
    depth: usize,
    /// Set while an `extend`/`project` item that calls a function returning several columns
    /// is compiled; the call takes it (see `func::MULTI_VALUED`).
    multi_ok: bool,
    /// The name the operator before the one running gave its result (`| as T1 | union ...`):
    /// `union withsource=` names the piped rows by it (the as operator page).
    piped_as: Option<String>,
}

const MAX_CALL_DEPTH: usize = 32;

impl<'a> Evaluator<'a> {
    /// An evaluator over `db`, with `rand()` and `new_guid()` restarted from their seed.
    pub(super) fn new(db: &'a Database) -> Evaluator<'a> {
        super::func::restart_random();
        Evaluator {
            db,
            ctx: Context {
                now: db.now_ticks(),
            },
            scopes: vec![
                db.parameters()
                    .map(|(k, v)| (k.to_string(), Binding::Scalar(v.clone(), v.natural_type())))
                    .collect(),
            ],
            warnings: Vec::new(),
            depth: 0,
            multi_ok: false,
            piped_as: None,
        }
    }

    fn lookup(&self, name: &str) -> Option<(&Binding, usize)> {
        self.scopes
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, s)| s.get(name).map(|b| (b, i)))
    }

    fn bind(&mut self, name: &str, binding: Binding) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.insert(name.to_string(), binding);
        }
    }

    fn warn(&mut self, w: EvalError) {
        let mut w = w;
        w.severity = Severity::Warning;
        if !self
            .warnings
            .iter()
            .any(|x| x.message == w.message && x.span == w.span)
        {
            self.warnings.push(w);
        }
    }

    fn query(&mut self, query: &Query) -> R<Table> {
        self.statements(&query.statements, query.span)
    }

    /// Runs statements; the last tabular statement is the result.
    fn statements(&mut self, statements: &[Statement], span: Span) -> R<Table> {
        let mut result = None;
        for statement in statements {
            match &statement.kind {
                StatementKind::Let { name, value } => self.let_statement(name, value)?,
                StatementKind::Set { name, value } => {
                    self.request_property(name, value.as_ref())?
                }
                StatementKind::DeclareParameters(params) => self.declare_parameters(params)?,
                StatementKind::Tabular(t) => result = Some(self.tabular(t)?),
                StatementKind::Scalar(e) => {
                    // A bare name or call at top level may be a table.
                    match self.try_tabular_expr(e)? {
                        Some(t) => result = Some((*t).clone()),
                        None => {
                            let c = self.compile(e, &[])?;
                            let v = c.eval_const(self)?;
                            result = Some(Table {
                                columns: vec![Column::new("print_0", c.ty)],
                                rows: vec![Row::literal(vec![v])],
                                open: false,
                                serialized: false,
                            });
                        }
                    }
                }
            }
        }
        result.ok_or_else(|| {
            EvalError::new(
                "KQL0204",
                "the query has no tabular statement to return",
                span,
            )
        })
    }

    pub(super) fn let_statement(&mut self, name: &Ident, value: &LetValue) -> R<()> {
        match value {
            LetValue::Function(def) => {
                self.bind(&name.name, Binding::Function(Arc::new(def.clone())))
            }
            LetValue::Tabular(t) => {
                // Run eagerly when the body does not read a parameter-dependent name; laziness
                // only matters for functions, so evaluate now for good error locations.
                let table = self.tabular(t)?;
                self.bind(&name.name, Binding::Table(Arc::new(table)));
            }
            LetValue::Scalar(e) => match self.try_tabular_expr(e)? {
                Some(t) => self.bind(&name.name, Binding::Table(t)),
                None => {
                    let c = self.compile(e, &[])?;
                    let v = c.eval_const(self)?;
                    self.bind(&name.name, Binding::Scalar(v, c.ty));
                }
            },
        }
        Ok(())
    }

    /// Calls a user function: binds parameters in a new scope and runs the body. `input` is the
    /// piped table for `invoke`. Returns `None` when the body ends in a scalar.
    fn call_function(
        &mut self,
        name: &str,
        def: &FunctionDef,
        args: &[Arg],
        input: Option<Arc<Table>>,
        span: Span,
    ) -> R<Option<Table>> {
        if self.depth >= MAX_CALL_DEPTH {
            return Err(EvalError::new(
                "KQL0204",
                format!("function `{name}` recurses too deeply"),
                span,
            ));
        }
        let mut positional: Vec<&Arg> = args.iter().collect();
        let mut scope = HashMap::new();
        let mut params = def.params.iter().peekable();
        if let Some(input) = input {
            match params.next() {
                Some(p) => {
                    scope.insert(p.name.name.clone(), Binding::Table(input));
                }
                None => {
                    return Err(EvalError::new(
                        "KQL0206",
                        format!("function `{name}` takes no tabular argument to invoke with"),
                        span,
                    ));
                }
            }
        }
        for p in params {
            let named = positional
                .iter()
                .position(|a| a.name.as_ref().is_some_and(|n| n.name == p.name.name));
            let arg = match named {
                Some(i) => Some(positional.remove(i)),
                None => positional
                    .iter()
                    .position(|a| a.name.is_none())
                    .map(|i| positional.remove(i)),
            };
            let binding = match (&p.ty, arg) {
                (ParamType::Tabular { .. }, Some(a)) => Binding::Table(self.tabular_arg(&a.value)?),
                (ParamType::Tabular { .. }, None) => {
                    return Err(EvalError::new(
                        "KQL0206",
                        format!("missing tabular argument `{}` of `{name}`", p.name.name),
                        span,
                    ));
                }
                (ParamType::Scalar(ty), a) => {
                    let ty = ScalarType::from_name(&ty.name).unwrap_or(ScalarType::Dynamic);
                    let expr = match (a, &p.default) {
                        (Some(a), _) => &a.value,
                        (None, Some(d)) => d,
                        (None, None) => {
                            return Err(EvalError::new(
                                "KQL0206",
                                format!("missing argument `{}` of `{name}`", p.name.name),
                                span,
                            ));
                        }
                    };
                    let c = self.compile(expr, &[])?;
                    Binding::Scalar(c.eval_const(self)?.convert_lossless(ty), ty)
                }
            };
            scope.insert(p.name.name.clone(), binding);
        }
        if let Some(extra) = positional.first() {
            return Err(EvalError::new(
                "KQL0206",
                format!("too many arguments to `{name}`"),
                extra.value.span,
            ));
        }
        self.scopes.push(scope);
        self.depth += 1;
        let result = self.function_body(def);
        self.depth -= 1;
        self.scopes.pop();
        result
    }

    /// `set name [= value]` (the set statement and request properties pages): `query_now`
    /// overrides what `now()` returns for the rest of the query; `notruncation` changes nothing
    /// here, as firedrill never truncates results. Any other property is `KQL0204`: firedrill
    /// does not model what it changes.
    pub(super) fn request_property(&mut self, name: &Ident, value: Option<&Expr>) -> R<()> {
        match (name.name.as_str(), value) {
            ("notruncation", None) => Ok(()),
            ("query_now", Some(v)) => {
                let c = self.compile(v, &[])?;
                match c.eval_const(self)? {
                    Value::DateTime(t) => {
                        self.ctx.now = t;
                        Ok(())
                    }
                    _ => Err(EvalError::new(
                        "KQL0205",
                        "`query_now` takes a datetime",
                        v.span,
                    )),
                }
            }
            (other, _) => Err(EvalError::new(
                "KQL0204",
                format!("request property `{other}` is not supported"),
                name.span,
            )
            .help("firedrill runs `set notruncation` and `set query_now = datetime(...)`")),
        }
    }

    /// `declare query_parameters(...)`: each parameter takes the value the database declares
    /// for it (`Database::declare`, as a client passes query parameters), converted to its
    /// type, else its default; one with neither is `KQL0206`.
    pub(super) fn declare_parameters(&mut self, params: &[crate::kql::ast::Param]) -> R<()> {
        for p in params {
            let ParamType::Scalar(ty) = &p.ty else {
                return Err(EvalError::new(
                    "KQL0204",
                    format!("tabular query parameter `{}` is not supported", p.name.name),
                    p.span,
                ));
            };
            let ty = ScalarType::from_name(&ty.name).ok_or_else(|| {
                EvalError::new("KQL0205", format!("unknown type `{}`", ty.name), p.span)
            })?;
            let given = self
                .db
                .parameters()
                .find(|(name, _)| *name == p.name.name)
                .map(|(_, v)| v.clone());
            let value = match (given, &p.default) {
                (Some(v), _) => v,
                (None, Some(d)) => {
                    let c = self.compile(d, &[])?;
                    c.eval_const(self)?
                }
                (None, None) => {
                    return Err(EvalError::new(
                        "KQL0206",
                        format!("query parameter `{}` has no value and no default", p.name.name),
                        p.span,
                    )
                    .help("give it a default, or declare its value in the database (`Database::declare`)"));
                }
            };
            self.bind(
                &p.name.name,
                Binding::Scalar(value.convert_lossless(ty), ty),
            );
        }
        Ok(())
    }

    fn function_body(&mut self, def: &FunctionDef) -> R<Option<Table>> {
        let Some((last, lets)) = def.body.split_last() else {
            return Err(EvalError::new("KQL0204", "empty function body", def.span));
        };
        for s in lets {
            if let StatementKind::Let { name, value } = &s.kind {
                self.let_statement(name, value)?;
            }
        }
        match &last.kind {
            StatementKind::Tabular(t) => Ok(Some(self.tabular(t)?)),
            StatementKind::Scalar(e) => Ok(self.try_tabular_expr(e)?.map(|t| (*t).clone())),
            StatementKind::Let { .. }
            | StatementKind::Set { .. }
            | StatementKind::DeclareParameters(_) => Err(EvalError::new(
                "KQL0204",
                "a function body must end in an expression",
                last.span,
            )),
        }
    }

    // ---------------------------------------------------------------------------------------
    // Tabular expressions
    // ---------------------------------------------------------------------------------------

    fn tabular(&mut self, t: &TabularExpr) -> R<Table> {
        let mut ops = t.ops.iter();
        // A bound table is shared: the first operator reads it without copying it when it can.
        let shared = self.source_shared(&t.source)?;
        let mut table = match ops.as_slice().first() {
            Some(first) => match self.operator_ref(first, &shared)? {
                Some(t) => {
                    ops.next();
                    t
                }
                None => Arc::unwrap_or_clone(shared),
            },
            None => Arc::unwrap_or_clone(shared),
        };
        let mut previous = t.ops.len().checked_sub(ops.len() + 1).map(|i| &t.ops[i]);
        for op in ops {
            self.piped_as = match previous.map(|p| &p.kind) {
                Some(OperatorKind::As { name, .. }) => Some(name.name.clone()),
                _ => None,
            };
            table = self.operator(op, table)?;
            previous = Some(op);
        }
        Ok(table)
    }

    /// The source as a shared table (bound tables are not copied).
    pub(super) fn source_shared(&mut self, s: &Source) -> R<Arc<Table>> {
        if let SourceKind::Expr(Expr {
            kind: ExprKind::Name(id),
            ..
        }) = &s.kind
        {
            return self.table_by_name(&id.name, id.span);
        }
        self.source(s).map(Arc::new)
    }

    /// Operators that only read their input run over a borrowed table; `None` for the others.
    fn operator_ref(&mut self, op: &Operator, input: &Table) -> R<Option<Table>> {
        if input.open {
            return Ok(None);
        }
        let out = self.operator_ref_closed(op, input)?;
        Ok(out.map(|mut out| {
            out.serialized = serialized_after(&op.kind, input.serialized);
            out
        }))
    }

    /// [`Evaluator::operator_ref`] over a closed table, before the output's serialization is set.
    fn operator_ref_closed(&mut self, op: &Operator, input: &Table) -> R<Option<Table>> {
        Ok(Some(match &op.kind {
            OperatorKind::Where(pred) => self.filter_ref(input, pred)?,
            OperatorKind::Project(items) => self.project(input, items, true, op.span)?,
            OperatorKind::Summarize { aggregates, by, .. } => {
                self.summarize(input, aggregates, by, op.span)?
            }
            OperatorKind::Take(n) => {
                let n = self.count_arg(n)?;
                Table {
                    columns: input.columns.clone(),
                    rows: input.rows.iter().take(n).cloned().collect(),
                    open: false,
                    serialized: false,
                }
            }
            _ => return Ok(None),
        }))
    }

    /// Runs one operator. Over an open table (one whose schema depends on the data), a column
    /// the operator names but the data did not produce is added, null, and the operator runs
    /// again, as Kusto resolves any name against such a table; the result is open too.
    pub(super) fn operator(&mut self, op: &Operator, input: Table) -> R<Table> {
        let serialized = serialized_after(&op.kind, input.serialized);
        let mut out = self.operator_open(op, input)?;
        out.serialized = serialized;
        Ok(out)
    }

    /// [`Evaluator::operator`], before the output's serialization is set.
    fn operator_open(&mut self, op: &Operator, input: Table) -> R<Table> {
        if !input.open {
            return self.operator_closed(op, input);
        }
        let mut input = input;
        loop {
            match self.operator_closed(op, input.clone()) {
                Ok(mut out) => {
                    out.open = true;
                    return Ok(out);
                }
                Err(e) => match e.unknown_column.clone() {
                    Some(name) if input.column_index(&name).is_none() => {
                        self.warn(EvalError::new(
                            "KQL0211",
                            format!("column `{name}` is not among the columns the data produced for this table (its schema depends on the data); it reads as null"),
                            e.span,
                        ));
                        input.columns.push(Column::new(name, ScalarType::Dynamic));
                        for r in &mut input.rows {
                            r.values.push(Value::Null);
                        }
                    }
                    _ => return Err(e),
                },
            }
        }
    }

    fn operator_closed(&mut self, op: &Operator, input: Table) -> R<Table> {
        match &op.kind {
            OperatorKind::Where(pred) => self.filter(input, pred),
            OperatorKind::Extend(items) => self.extend(input, items),
            OperatorKind::Project(items) => self.project(&input, items, true, op.span),
            OperatorKind::ProjectAway(items) => {
                let keep = self.select_columns(&input, items, false)?;
                Ok(pick_columns(input, &keep))
            }
            OperatorKind::ProjectKeep(items) => {
                let keep = self.select_columns(&input, items, true)?;
                Ok(pick_columns(input, &keep))
            }
            OperatorKind::ProjectRename(pairs) => project_rename(input, pairs),
            OperatorKind::ProjectReorder(items) => self.project_reorder(input, items),
            OperatorKind::Summarize { aggregates, by, .. } => {
                self.summarize(&input, aggregates, by, op.span)
            }
            OperatorKind::Distinct(items) => {
                let t = self.project(&input, items, false, op.span)?;
                Ok(distinct(t))
            }
            OperatorKind::TopNested(clauses) => self.top_nested(input, clauses),
            OperatorKind::Top { count, by } => {
                let n = self.count_arg(count)?;
                let mut t = self.sort(input, std::slice::from_ref(by))?;
                t.rows.truncate(n);
                Ok(t)
            }
            OperatorKind::Sort(keys) => self.sort(input, keys),
            OperatorKind::Take(n) | OperatorKind::Sample(n) => {
                let n = self.count_arg(n)?;
                let mut t = input;
                t.rows.truncate(n);
                Ok(t)
            }
            OperatorKind::Count => Ok(count_rows(&input)),
            OperatorKind::Union(u) => self.union_operator(input, u, op.span),
            OperatorKind::Join { params, right, on } => {
                let kind = param_value(params, "kind").unwrap_or_else(|| "innerunique".to_string());
                let right_t = self.tabular(right)?;
                self.join(input, right_t, &kind, on, op.span, false)
            }
            OperatorKind::Lookup { params, right, on } => {
                let kind = param_value(params, "kind").unwrap_or_else(|| "leftouter".to_string());
                if kind != "leftouter" && kind != "inner" {
                    return Err(EvalError::new(
                        "KQL0204",
                        format!("lookup kind `{kind}` is not supported (leftouter or inner)"),
                        op.span,
                    ));
                }
                let right_t = self.tabular(right)?;
                self.join(input, right_t, &kind, on, op.span, true)
            }
            OperatorKind::MvExpand {
                params,
                items,
                limit,
            } => self.mv_expand(input, params, items, limit.as_ref(), op.span),
            OperatorKind::Parse {
                drop_unmatched,
                params,
                expr,
                pattern,
            } => self.parse_op(input, *drop_unmatched, params, expr, pattern, op.span),
            OperatorKind::Evaluate { call, output, .. } => {
                self.evaluate_op(input, call, output.as_ref())
            }
            OperatorKind::Invoke(call) => self.invoke(input, call),
            OperatorKind::As { name, .. } => {
                let t = Arc::new(input);
                self.bind(&name.name, Binding::Table(Arc::clone(&t)));
                Ok((*t).clone())
            }
            OperatorKind::Serialize(items) => {
                let mut input = input;
                input.serialized = true;
                if items.is_empty() {
                    Ok(input)
                } else {
                    self.extend(input, items)
                }
            }
            OperatorKind::Getschema => Ok(getschema(&input)),
            OperatorKind::Render { .. } => Ok(input),
            OperatorKind::Search(s) => self.search(input, &s.predicate, &s.params),
            OperatorKind::MakeSeries {
                params,
                aggregates,
                on,
                from,
                to,
                step,
                by,
            } => self.make_series(
                &input,
                &series::SeriesSpec {
                    params,
                    aggregates,
                    on,
                    from: from.as_ref(),
                    to: to.as_ref(),
                    step,
                    by,
                    span: op.span,
                },
            ),
            OperatorKind::MvApply {
                params,
                items,
                subquery,
            } => self.mv_apply(input, params, items, subquery, op.span),
        }
    }

    pub(super) fn count_arg(&mut self, e: &Expr) -> R<usize> {
        let c = self.compile(e, &[])?;
        match c.eval_const(self)?.to_long() {
            Some(n) if n >= 0 => Ok(n as usize),
            _ => Err(EvalError::new(
                "KQL0205",
                "expected a non-negative whole number",
                e.span,
            )),
        }
    }

    // ---------------------------------------------------------------------------------------
    // Expressions
    // ---------------------------------------------------------------------------------------

    /// `pred` with its window function calls worked out over `t`: a copy of `t` with their
    /// hidden columns, and the predicate reading them; `None` when it calls none.
    pub(super) fn with_windows(&mut self, pred: &Expr, t: &Table) -> R<Option<(Table, Expr)>> {
        if !window::has_window_call(pred) {
            return Ok(None);
        }
        let mut copy = t.clone();
        let pred = self.materialize_windows(pred, &mut copy)?;
        Ok(Some((copy, pred)))
    }

    pub(super) fn compile(&mut self, e: &Expr, cols: &[Column]) -> R<Compiled> {
        compile_expr(self, e, cols, &HashMap::new())
    }
}

/// Whether `op`'s output is serialized (window functions may read it in order), given whether its
/// input is. The serialize operator's page lists the operators whose output is serialized
/// (`getschema`, `range`, `sort`, `top`, `top-hitters`; and `serialize` itself) and those whose
/// output is not (`count`, `distinct`, `evaluate`, `facet`, `join`, `make-series`, `mv-expand`,
/// `reduce`, `sample`, `sample-distinct`, `summarize`, `top-nested`); every other operator keeps
/// its input's. The window functions page lists `mv-expand` among the operators that keep it;
/// where the two pages disagree, the query is accepted (`mv-expand` keeps it). `lookup` is a
/// join, but neither page names it: it keeps its input's too.
fn serialized_after(op: &OperatorKind, input: bool) -> bool {
    match op {
        OperatorKind::Sort(_)
        | OperatorKind::Top { .. }
        | OperatorKind::Getschema
        | OperatorKind::Serialize(_) => true,
        OperatorKind::Count
        | OperatorKind::Distinct(_)
        | OperatorKind::Evaluate { .. }
        | OperatorKind::Join { .. }
        | OperatorKind::MakeSeries { .. }
        | OperatorKind::Sample(_)
        | OperatorKind::Summarize { .. }
        | OperatorKind::TopNested(_) => false,
        _ => input,
    }
}

fn param_value(params: &[OpParam], name: &str) -> Option<String> {
    params.iter().find(|p| p.name.name == name).map(param_name)
}

fn param_name(p: &OpParam) -> String {
    match &p.value.kind {
        ExprKind::Name(id) => id.name.clone(),
        ExprKind::Literal(Literal::String(s)) => s.clone(),
        ExprKind::Literal(Literal::Bool(b)) => b.to_string(),
        _ => p.value.to_string(),
    }
}

/// `*` matches any run of characters; everything else literally (case-sensitive).
pub use crate::glob::matches as wildcard_match;

fn column_or_error(t: &Table, name: &str, span: Span) -> R<usize> {
    t.column_index(name)
        .ok_or_else(|| unknown_column(name, &t.columns, span))
}

fn unknown_column(name: &str, cols: &[Column], span: Span) -> EvalError {
    let mut err = EvalError::new("KQL0202", format!("unknown column `{name}`"), span);
    err.unknown_column = Some(name.to_string());
    if let Some(s) = did_you_mean(name, cols.iter().map(|c| c.name.as_str())) {
        err = err.help(format!("did you mean `{s}`?"));
    }
    err
}

/// The column name Kusto derives for an unnamed expression: a column keeps its name, `a.b` and
/// `a["b"]` become `a_b`; anything else gets `None` (the caller numbers it `Column1`, ...).
fn derived_name(e: &Expr) -> Option<String> {
    match &e.kind {
        // A window function call worked out into a hidden column is a call: unnamed.
        ExprKind::Name(id) if window::is_hidden(&id.name) => None,
        ExprKind::Name(id) => Some(id.name.clone()),
        ExprKind::Member { expr, name } => Some(format!("{}_{}", derived_name(expr)?, name.name)),
        ExprKind::Index { expr, index } => match &index.kind {
            ExprKind::Literal(Literal::String(s)) => Some(format!("{}_{}", derived_name(expr)?, s)),
            ExprKind::Literal(Literal::Long(n)) => Some(format!("{}_{}", derived_name(expr)?, n)),
            _ => None,
        },
        ExprKind::Paren(inner) => derived_name(inner),
        // `project tostring(Account)` is `Account`, `extend strlen(s)` is `strlen_s`.
        ExprKind::Call { name, args } => result_names::call_name(&name.name, args, derived_name),
        _ => None,
    }
}

fn next_column_name(cols: &[Column], counter: &mut usize) -> String {
    loop {
        *counter += 1;
        let name = format!("Column{counter}");
        if !cols.iter().any(|c| c.name == name) {
            return name;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, LogSchema};

    fn run(query: &str, db: &Database) -> Table {
        let out = run_text("<q>", query, db);
        match out.table {
            Some(t) => t,
            None => panic!(
                "{}",
                out.diagnostics
                    .iter()
                    .map(Diagnostic::render)
                    .collect::<String>()
            ),
        }
    }

    fn db() -> Database {
        Database::new(
            chrono::DateTime::parse_from_rfc3339("2024-05-02T00:00:00Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
        )
    }

    #[test]
    fn where_and_summarize_keep_provenance() {
        let mut d = db();
        let e = |f: &str, dev: &str| {
            Event::new(LogSchema::Mde)
                .with("Timestamp", "2024-05-01T10:00:00Z")
                .with("FileName", f)
                .with("DeviceId", dev)
        };
        d.bind_rendering(
            LogSchema::Mde,
            &[
                e("cmd.exe", "a"),
                e("x.exe", "a"),
                e("CMD.EXE", "a"),
                e("cmd.exe", "b"),
            ],
        );
        let t = run(
            "DeviceProcessEvents | where FileName =~ 'cmd.exe' | summarize count(), any(FileName), any(FileName) by DeviceId",
            &d,
        );
        let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["DeviceId", "count_", "any_FileName", "any_FileName1"]
        );
        assert_eq!(t.rows[0].values[1], Value::Long(2));
        let idx: Vec<usize> = t.rows[0].sources.iter().map(|s| s.index).collect();
        assert_eq!(idx, [0, 2]);
    }

    #[test]
    fn unknown_columns_suggest_near_misses() {
        let out = run_text("<q>", "DeviceProcessEvents | where FileNme == 'x'", &db());
        let d = &out.diagnostics[0];
        assert_eq!(d.code, "KQL0202");
        assert_eq!(d.help.as_deref(), Some("did you mean `FileName`?"));
        assert_eq!(d.location.as_ref().unwrap().column, 29);
    }
}

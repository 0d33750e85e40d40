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
//! join/lookup keys, KQL0210 unknown ASIM parameter.

use super::ast::{
    Arg, BinOp, ColumnExpr, Expr, ExprKind, FunctionDef, Ident, LetValue, ListOp, Literal,
    MvExpandItem, NullsPlacement, OpParam, Operator, OperatorKind, ParamType, ParsePart, Query,
    SortKey, SortOrder, Source, SourceKind, Statement, StatementKind, StrOp, TabularExpr, UnaryOp,
};
use super::bind::{Database, asim_filter};
use super::func::{self, AggKind, AggState, Context};
use super::schema::{Column, asim_process_function};
use super::table::{EventRef, Row, Table, merge_sources};
use super::value::{GroupKey, ScalarType, Value, parse_datetime, parse_guid};
use crate::diag::{Diagnostic, Severity, Span, did_you_mean};
use indexmap::IndexMap;
use std::collections::HashMap;
use std::sync::Arc;

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
}

impl EvalError {
    fn new(code: &'static str, message: impl Into<String>, span: Span) -> EvalError {
        EvalError {
            code,
            message: message.into(),
            span,
            help: None,
            severity: Severity::Error,
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
}

const MAX_CALL_DEPTH: usize = 32;

impl<'a> Evaluator<'a> {
    pub(super) fn new(db: &'a Database) -> Evaluator<'a> {
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

    /// When `e` names a table, a tabular `let`, a tabular function call or `materialize(...)`,
    /// its table; `None` for a scalar expression.
    fn try_tabular_expr(&mut self, e: &Expr) -> R<Option<Arc<Table>>> {
        match &e.kind {
            ExprKind::Name(id) => {
                if let Some((b, _)) = self.lookup(&id.name) {
                    return match b.clone() {
                        Binding::Table(t) => Ok(Some(t)),
                        Binding::Function(def) if def.params.is_empty() => self
                            .call_function(&id.name, &def, &[], None, e.span)
                            .map(|t| t.map(Arc::new)),
                        _ => Ok(None),
                    };
                }
                Ok(self.db.table(&id.name))
            }
            ExprKind::Call { name, args } => {
                if matches!(name.name.as_str(), "materialize" | "table" | "view")
                    && let Some(arg) = args.first()
                {
                    if name.name == "table"
                        && let ExprKind::Literal(Literal::String(s)) = &arg.value.kind
                    {
                        return self.table_by_name(s, arg.value.span).map(Some);
                    }
                    return self.tabular_arg(&arg.value).map(Some);
                }
                if let Some((Binding::Function(def), _)) = self.lookup(&name.name) {
                    let def = def.clone();
                    return self
                        .call_function(&name.name, &def, args, None, e.span)
                        .map(|t| t.map(Arc::new));
                }
                if asim_process_function(&name.name)
                    || (self.db.table(&name.name).is_some() && func::scalar(&name.name).is_none())
                {
                    return self.asim_call(&name.name, args, e.span).map(Some);
                }
                Ok(None)
            }
            ExprKind::Paren(inner) => self.try_tabular_expr(inner),
            ExprKind::Subquery(t) => Ok(Some(Arc::new(self.tabular(t)?))),
            _ => Ok(None),
        }
    }

    fn tabular_arg(&mut self, e: &Expr) -> R<Arc<Table>> {
        match self.try_tabular_expr(e)? {
            Some(t) => Ok(t),
            None => Err(EvalError::new(
                "KQL0205",
                "expected a tabular expression",
                e.span,
            )),
        }
    }

    fn table_by_name(&mut self, name: &str, span: Span) -> R<Arc<Table>> {
        if let Some((b, _)) = self.lookup(name) {
            match b.clone() {
                Binding::Table(t) => return Ok(t),
                Binding::Function(def) if def.params.is_empty() => {
                    if let Some(t) = self.call_function(name, &def, &[], None, span)? {
                        return Ok(Arc::new(t));
                    }
                }
                _ => {}
            }
        }
        if let Some(t) = self.db.table(name) {
            return Ok(t);
        }
        let mut names: Vec<String> = self
            .db
            .table_names()
            .into_iter()
            .map(str::to_string)
            .collect();
        for scope in &self.scopes {
            names.extend(scope.keys().cloned());
        }
        let mut err = EvalError::new("KQL0201", format!("unknown table `{name}`"), span);
        if name == "imProcessCreation" {
            err = err.help("`imProcessCreation` is the retired name of the ASIM parser `imProcessCreate`, whose columns were renamed too");
        } else if name.starts_with("{{") || name.contains("{{") {
            err = err.help(
                "this is a template placeholder; substitute a value before running the query",
            );
        } else if let Some(s) = did_you_mean(name, names.iter().map(String::as_str)) {
            err = err.help(format!("did you mean `{s}`?"));
        }
        Err(err)
    }

    /// `imProcessCreate(starttime=..., ...)`: the bound ASIM table filtered by the parser parameters.
    fn asim_call(&mut self, name: &str, args: &[Arg], span: Span) -> R<Arc<Table>> {
        let table = self.table_by_name(name, span)?;
        if args.is_empty() {
            return Ok(table);
        }
        if !asim_process_function(name) {
            return Err(EvalError::new(
                "KQL0206",
                format!("table `{name}` takes no arguments"),
                span,
            ));
        }
        let mut params = Vec::new();
        for (i, arg) in args.iter().enumerate() {
            let pname = match &arg.name {
                Some(n) => n.name.clone(),
                None => match super::bind::ASIM_PROCESS_PARAMETERS.get(i) {
                    Some(p) => (*p).to_string(),
                    None => {
                        return Err(EvalError::new(
                            "KQL0210",
                            "too many ASIM parser arguments",
                            arg.value.span,
                        ));
                    }
                },
            };
            let c = self.compile(&arg.value, &[])?;
            params.push((pname, c.eval_const(self)?));
        }
        asim_filter(&table, &params)
            .map(Arc::new)
            .map_err(|m| EvalError::new("KQL0210", m, span))
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
            StatementKind::Let { .. } => Err(EvalError::new(
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
        for op in ops {
            table = self.operator(op, table)?;
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
                }
            }
            _ => return Ok(None),
        }))
    }

    fn source(&mut self, s: &Source) -> R<Table> {
        match &s.kind {
            SourceKind::Expr(e) => match &e.kind {
                ExprKind::Name(id) => Ok((*self.table_by_name(&id.name, id.span)?).clone()),
                ExprKind::Wildcard(p) => self.union_tables(
                    &[],
                    &[TabularExpr {
                        source: s.clone(),
                        ops: vec![],
                        span: s.span,
                    }],
                    e.span,
                    Some(p),
                ),
                _ => match self.try_tabular_expr(e)? {
                    Some(t) => Ok((*t).clone()),
                    None => {
                        let what = match &e.kind {
                            ExprKind::Call { name, .. } => name.name.clone(),
                            _ => e.to_string(),
                        };
                        let mut err = EvalError::new(
                            "KQL0201",
                            format!("`{what}` is not a table or tabular function"),
                            e.span,
                        );
                        if let ExprKind::Call { name, .. } = &e.kind
                            && name.name == "FileProfile"
                        {
                            err = err.help("`FileProfile` is a Defender enrichment; use it through `invoke FileProfile(...)`");
                        }
                        Err(err)
                    }
                },
            },
            SourceKind::Datatable { columns, values } => {
                let cols = self.column_decls(columns)?;
                if cols.is_empty() || values.len() % cols.len() != 0 {
                    return Err(EvalError::new(
                        "KQL0206",
                        format!(
                            "datatable has {} values, not a multiple of its {} columns",
                            values.len(),
                            cols.len()
                        ),
                        s.span,
                    ));
                }
                let mut rows = Vec::new();
                for chunk in values.chunks(cols.len()) {
                    let mut row = Vec::new();
                    for (v, c) in chunk.iter().zip(&cols) {
                        let compiled = self.compile(v, &[])?;
                        row.push(compiled.eval_const(self)?.convert_lossless(c.ty));
                    }
                    rows.push(Row::literal(row));
                }
                Ok(Table {
                    columns: cols,
                    rows,
                })
            }
            SourceKind::ExternalData { columns, .. } => {
                let cols = self.column_decls(columns)?;
                self.warn(EvalError::new("KQL0208", "externaldata reads from the network; firedrill runs offline and uses an empty table of the declared columns", s.span));
                Ok(Table::empty(cols))
            }
            SourceKind::Union(u) => self.union_tables(&u.params, &u.tables, s.span, None),
            SourceKind::Range {
                column,
                from,
                to,
                step,
            } => {
                let from_c = self.compile(from, &[])?;
                let (a, b, st) = (
                    from_c.eval_const(self)?,
                    self.compile(to, &[])?.eval_const(self)?,
                    self.compile(step, &[])?.eval_const(self)?,
                );
                let values = (func::scalar("range")
                    .map(|f| f.call)
                    .unwrap_or(|_, _| Ok(Value::Null)))(
                    &[a, b, st], &self.ctx
                )
                .map_err(|m| EvalError::new("KQL0207", m, s.span))?;
                let Value::Array(items) = values else {
                    return Err(EvalError::new(
                        "KQL0205",
                        "range bounds must be numbers or datetimes with a matching step",
                        s.span,
                    ));
                };
                Ok(Table {
                    columns: vec![Column::new(column.name.clone(), from_c.ty)],
                    rows: items
                        .iter()
                        .map(|v| Row::literal(vec![v.clone()]))
                        .collect(),
                })
            }
            SourceKind::Print(items) => {
                let empty = Table {
                    columns: vec![],
                    rows: vec![Row::literal(vec![])],
                };
                self.project(&empty, items, false, s.span)
            }
            SourceKind::Search(search) => {
                let mut base = if search.tables.is_empty() {
                    return Err(EvalError::new(
                        "KQL0204",
                        "search across every table is not supported; name the tables with `search in (T)`",
                        s.span,
                    ));
                } else {
                    self.union_tables_from(&[], &search.tables, s.span, None, Some("$table"))?
                };
                base = self.search(base, &search.predicate, &search.params)?;
                Ok(base)
            }
        }
    }

    fn column_decls(&self, decls: &[super::ast::ColumnDecl]) -> R<Vec<Column>> {
        decls
            .iter()
            .map(|d| {
                ScalarType::from_name(&d.ty.name)
                    .map(|ty| Column::new(d.name.name.clone(), ty))
                    .ok_or_else(|| {
                        EvalError::new(
                            "KQL0205",
                            format!("unknown type `{}`", d.ty.name),
                            d.ty.span,
                        )
                    })
            })
            .collect()
    }

    pub(super) fn operator(&mut self, op: &Operator, input: Table) -> R<Table> {
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
            OperatorKind::ProjectRename(pairs) => {
                let mut t = input;
                for (new, old) in pairs {
                    let i = column_or_error(&t, &old.name, old.span)?;
                    t.columns[i].name = new.name.clone();
                }
                Ok(t)
            }
            OperatorKind::ProjectReorder(items) => {
                let mut order: Vec<usize> = Vec::new();
                for (e, _) in items {
                    for i in self.match_columns(&input, e)? {
                        if !order.contains(&i) {
                            order.push(i);
                        }
                    }
                }
                for i in 0..input.columns.len() {
                    if !order.contains(&i) {
                        order.push(i);
                    }
                }
                Ok(pick_columns(input, &order))
            }
            OperatorKind::Summarize { aggregates, by, .. } => {
                self.summarize(&input, aggregates, by, op.span)
            }
            OperatorKind::Distinct(items) => {
                let t = self.project(&input, items, false, op.span)?;
                Ok(distinct(t))
            }
            OperatorKind::Top { count, by } => {
                let n = self.count_arg(count)?;
                let mut t = self.sort(input, std::slice::from_ref(by))?;
                t.rows.truncate(n);
                Ok(t)
            }
            OperatorKind::Sort(keys) => self.sort(input, keys),
            OperatorKind::Take(n) => {
                let n = self.count_arg(n)?;
                let mut t = input;
                t.rows.truncate(n);
                Ok(t)
            }
            OperatorKind::Sample(n) => {
                let n = self.count_arg(n)?;
                let mut t = input;
                t.rows.truncate(n);
                Ok(t)
            }
            OperatorKind::Count => {
                let mut sources = Vec::new();
                for r in &input.rows {
                    sources.extend(r.sources.iter().cloned());
                }
                sources.sort();
                sources.dedup();
                Ok(Table {
                    columns: vec![Column::new("Count", ScalarType::Long)],
                    rows: vec![Row {
                        values: vec![Value::Long(input.rows.len() as i64)],
                        sources,
                    }],
                })
            }
            OperatorKind::Union(u) => {
                let others = self.union_tables(&u.params, &u.tables, op.span, None)?;
                let mut params_with_source = None;
                for p in &u.params {
                    if p.name.name == "withsource" {
                        params_with_source = Some(p);
                    }
                }
                let piped = if let Some(p) = params_with_source {
                    let col = param_name(p);
                    let mut t = input;
                    t.columns.insert(0, Column::new(col, ScalarType::String));
                    for r in &mut t.rows {
                        r.values.insert(0, Value::str(""));
                    }
                    t
                } else {
                    input
                };
                Ok(union_all(vec![piped, others], union_kind_inner(&u.params)))
            }
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
                let out = self.evaluate_plugin(input, call)?;
                match output {
                    Some(ParamType::Tabular { columns, .. }) => {
                        // A declared output schema is the result's schema: named columns, typed.
                        let declared = self.column_decls(columns)?;
                        let map: Vec<Option<usize>> =
                            declared.iter().map(|c| out.column_index(&c.name)).collect();
                        let rows = out
                            .rows
                            .into_iter()
                            .map(|r| Row {
                                values: map
                                    .iter()
                                    .zip(&declared)
                                    .map(|(i, c)| {
                                        i.map_or_else(
                                            || c.ty.null(),
                                            |i| r.values[i].clone().convert_lossless(c.ty),
                                        )
                                    })
                                    .collect(),
                                sources: r.sources,
                            })
                            .collect();
                        Ok(Table {
                            columns: declared,
                            rows,
                        })
                    }
                    _ => Ok(out),
                }
            }
            OperatorKind::Invoke(call) => self.invoke(input, call),
            OperatorKind::As { name, .. } => {
                let t = Arc::new(input);
                self.bind(&name.name, Binding::Table(Arc::clone(&t)));
                Ok((*t).clone())
            }
            OperatorKind::Serialize(items) => {
                if items.is_empty() {
                    Ok(input)
                } else {
                    self.extend(input, items)
                }
            }
            OperatorKind::Getschema => Ok(Table {
                columns: vec![
                    Column::new("ColumnName", ScalarType::String),
                    Column::new("ColumnOrdinal", ScalarType::Int),
                    Column::new("DataType", ScalarType::String),
                    Column::new("ColumnType", ScalarType::String),
                ],
                rows: input
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        Row::literal(vec![
                            Value::str(&c.name),
                            Value::Long(i as i64),
                            Value::str(dotnet_type(c.ty)),
                            Value::str(c.ty.name()),
                        ])
                    })
                    .collect(),
            }),
            OperatorKind::Render { .. } => Ok(input),
            OperatorKind::Search(s) => self.search(input, &s.predicate, &s.params),
            OperatorKind::MakeSeries { .. } => Err(EvalError::new(
                "KQL0204",
                "make-series is not supported by firedrill's KQL engine",
                op.span,
            )
            .help("see docs/kql-subset.md for the supported operators")),
            OperatorKind::MvApply {
                params,
                items,
                subquery,
            } => {
                let mut out: Option<Table> = None;
                let columns = input.columns.clone();
                let mut parts = Vec::new();
                // Resolve once over an empty table so errors surface even without rows.
                let probe =
                    self.mv_expand(Table::empty(columns.clone()), params, items, None, op.span)?;
                let mut probe_out = probe;
                for sub_op in &subquery.ops {
                    probe_out = self.operator(sub_op, probe_out)?;
                }
                for row in input.rows {
                    let one = Table {
                        columns: columns.clone(),
                        rows: vec![row],
                    };
                    let original = one.rows[0].clone();
                    let mut t = self.mv_expand(one, params, items, None, op.span)?;
                    for sub_op in &subquery.ops {
                        t = self.operator(sub_op, t)?;
                    }
                    parts.push(reattach(&columns, &original, t));
                }
                if parts.is_empty() {
                    out = Some(reattach_columns(&columns, probe_out));
                }
                Ok(out.unwrap_or_else(|| union_all(parts, false)))
            }
        }
    }

    fn count_arg(&mut self, e: &Expr) -> R<usize> {
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

    fn union_tables(
        &mut self,
        params: &[OpParam],
        tables: &[TabularExpr],
        span: Span,
        pattern: Option<&String>,
    ) -> R<Table> {
        self.union_tables_from(params, tables, span, pattern, None)
    }

    /// `union`; `source_column` names the column that says which table a row came from
    /// (`withsource=`, or `$table` for `search`).
    fn union_tables_from(
        &mut self,
        params: &[OpParam],
        tables: &[TabularExpr],
        span: Span,
        pattern: Option<&String>,
        source_column: Option<&str>,
    ) -> R<Table> {
        let fuzzy = param_value(params, "isfuzzy").is_some_and(|v| v == "true");
        let with_source = params
            .iter()
            .find(|p| p.name.name == "withsource")
            .map(param_name)
            .or(source_column.map(str::to_string));
        let mut parts = Vec::new();
        let mut names = Vec::new();
        for t in tables {
            let wildcard = match (&t.source.kind, pattern) {
                (_, Some(p)) => Some(p.clone()),
                (
                    SourceKind::Expr(Expr {
                        kind: ExprKind::Wildcard(p),
                        ..
                    }),
                    None,
                ) => Some(p.clone()),
                _ => None,
            };
            if let Some(p) = wildcard {
                let mut matched: Vec<String> = self
                    .db
                    .table_names()
                    .into_iter()
                    .filter(|n| wildcard_match(&p, n))
                    .map(str::to_string)
                    .collect();
                matched.sort();
                matched.dedup();
                for name in matched {
                    if let Some(table) = self.db.table(&name) {
                        let mut table = (*table).clone();
                        for op in &t.ops {
                            table = self.operator(op, table)?;
                        }
                        parts.push(table);
                        names.push(name);
                    }
                }
                continue;
            }
            match self.tabular(t) {
                Ok(table) => {
                    parts.push(table);
                    names.push(match &t.source.kind {
                        SourceKind::Expr(Expr {
                            kind: ExprKind::Name(id),
                            ..
                        }) => id.name.clone(),
                        _ => format!("union_arg{}", parts.len() - 1),
                    });
                }
                Err(e) if fuzzy && e.code == "KQL0201" => self.warn(e),
                Err(e) => return Err(e),
            }
        }
        if parts.is_empty() && !fuzzy {
            return Err(EvalError::new(
                "KQL0201",
                "union has no tables to read",
                span,
            ));
        }
        if let Some(col) = with_source {
            for (t, name) in parts.iter_mut().zip(&names) {
                t.columns
                    .insert(0, Column::new(col.clone(), ScalarType::String));
                for r in &mut t.rows {
                    r.values.insert(0, Value::str(name));
                }
            }
        }
        Ok(union_all(parts, union_kind_inner(params)))
    }

    // ---------------------------------------------------------------------------------------
    // Row operators
    // ---------------------------------------------------------------------------------------

    fn predicate(&mut self, pred: &Expr, columns: &[Column]) -> R<Compiled> {
        let c = self.compile(pred, columns)?;
        if c.ty != ScalarType::Bool && c.ty != ScalarType::Dynamic {
            return Err(EvalError::new(
                "KQL0205",
                format!("a `where` predicate must be bool, not {}", c.ty),
                pred.span,
            ));
        }
        Ok(c)
    }

    fn filter_ref(&mut self, input: &Table, pred: &Expr) -> R<Table> {
        let c = self.predicate(pred, &input.columns)?;
        let mut rows = Vec::new();
        for row in &input.rows {
            if matches!(c.eval(&row.values, &self.ctx)?, Value::Bool(true)) {
                rows.push(row.clone());
            }
        }
        Ok(Table {
            columns: input.columns.clone(),
            rows,
        })
    }

    fn filter(&mut self, input: Table, pred: &Expr) -> R<Table> {
        let c = self.predicate(pred, &input.columns)?;
        let mut rows = Vec::with_capacity(input.rows.len() / 4);
        for row in input.rows {
            if matches!(c.eval(&row.values, &self.ctx)?, Value::Bool(true)) {
                rows.push(row);
            }
        }
        Ok(Table {
            columns: input.columns,
            rows,
        })
    }

    fn extend(&mut self, mut t: Table, items: &[ColumnExpr]) -> R<Table> {
        let mut counter = 0;
        for item in items {
            if item.names.len() > 1 {
                return Err(EvalError::new(
                    "KQL0204",
                    "extend with several names is not supported",
                    item.span,
                ));
            }
            let c = self.compile(&item.expr, &t.columns)?;
            let name = match item.names.first() {
                Some(n) => n.name.clone(),
                None => derived_name(&item.expr)
                    .unwrap_or_else(|| next_column_name(&t.columns, &mut counter)),
            };
            let mut values = Vec::with_capacity(t.rows.len());
            for row in &t.rows {
                values.push(c.eval(&row.values, &self.ctx)?);
            }
            match t.column_index(&name) {
                Some(i) => {
                    t.columns[i].ty = c.ty;
                    for (row, v) in t.rows.iter_mut().zip(values) {
                        row.values[i] = v;
                    }
                }
                None => {
                    t.columns.push(Column::new(name, c.ty));
                    for (row, v) in t.rows.iter_mut().zip(values) {
                        row.values.push(v);
                    }
                }
            }
        }
        Ok(t)
    }

    /// `project` (and `print`): only the listed columns. `strict` rejects wildcards.
    fn project(&mut self, t: &Table, items: &[ColumnExpr], strict: bool, _span: Span) -> R<Table> {
        let mut columns: Vec<Column> = Vec::new();
        let mut compiled: Vec<Compiled> = Vec::new();
        let mut counter = 0;
        for item in items {
            if let ExprKind::Wildcard(p) = &item.expr.kind {
                if strict && p != "*" {
                    // project accepts wildcards in practice (Kusto allows `project A*`).
                }
                for i in self.match_columns(t, &item.expr)? {
                    columns.push(t.columns[i].clone());
                    compiled.push(Compiled {
                        kind: CExpr::Col(i),
                        ty: t.columns[i].ty,
                    });
                }
                continue;
            }
            if item.names.len() > 1 {
                return Err(EvalError::new(
                    "KQL0204",
                    "project with several names is not supported",
                    item.span,
                ));
            }
            let c = self.compile(&item.expr, &t.columns)?;
            let name = match item.names.first() {
                Some(n) => n.name.clone(),
                None => derived_name(&item.expr).unwrap_or_else(|| {
                    let mut all = t.columns.clone();
                    all.extend(columns.iter().cloned());
                    next_column_name(&all, &mut counter)
                }),
            };

            if let Some(existing) = columns.iter().position(|c| c.name == name) {
                // Kusto reports duplicates; keep the later one for robustness.
                columns.remove(existing);
                compiled.remove(existing);
            }
            columns.push(Column::new(name, c.ty));
            compiled.push(c);
        }
        let mut rows = Vec::with_capacity(t.rows.len());
        for row in &t.rows {
            let mut values = Vec::with_capacity(compiled.len());
            for c in &compiled {
                values.push(c.eval(&row.values, &self.ctx)?);
            }
            rows.push(Row {
                values,
                sources: row.sources.clone(),
            });
        }
        Ok(Table { columns, rows })
    }

    /// Column indices matched by a name or wildcard pattern.
    fn match_columns(&self, t: &Table, e: &Expr) -> R<Vec<usize>> {
        match &e.kind {
            ExprKind::Name(id) => Ok(vec![column_or_error(t, &id.name, id.span)?]),
            ExprKind::Wildcard(p) => Ok(t
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| wildcard_match(p, &c.name))
                .map(|(i, _)| i)
                .collect()),
            _ => Err(EvalError::new(
                "KQL0205",
                "expected a column name or pattern",
                e.span,
            )),
        }
    }

    fn select_columns(&self, t: &Table, items: &[Expr], keep: bool) -> R<Vec<usize>> {
        let mut hit = vec![false; t.columns.len()];
        for e in items {
            for i in self.match_columns(t, e)? {
                hit[i] = true;
            }
        }
        Ok((0..t.columns.len()).filter(|i| hit[*i] == keep).collect())
    }

    fn sort(&mut self, t: Table, keys: &[SortKey]) -> R<Table> {
        let mut compiled = Vec::new();
        for k in keys {
            let c = self.compile(&k.expr, &t.columns)?;
            let desc = k.order != Some(SortOrder::Asc);
            let nulls_first = match k.nulls {
                Some(NullsPlacement::First) => true,
                Some(NullsPlacement::Last) => false,
                None => !desc,
            };
            compiled.push((c, desc, nulls_first));
        }
        let mut keyed: Vec<(Vec<Value>, Row)> = Vec::with_capacity(t.rows.len());
        for row in t.rows {
            let mut k = Vec::with_capacity(compiled.len());
            for (c, _, _) in &compiled {
                k.push(c.eval(&row.values, &self.ctx)?);
            }
            keyed.push((k, row));
        }
        keyed.sort_by(|(a, _), (b, _)| {
            for (i, (_, desc, nulls_first)) in compiled.iter().enumerate() {
                let (x, y) = (&a[i], &b[i]);
                let o = match (x.is_null(), y.is_null()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => {
                        if *nulls_first {
                            std::cmp::Ordering::Less
                        } else {
                            std::cmp::Ordering::Greater
                        }
                    }
                    (false, true) => {
                        if *nulls_first {
                            std::cmp::Ordering::Greater
                        } else {
                            std::cmp::Ordering::Less
                        }
                    }
                    (false, false) => {
                        let o = x.sort_cmp(y);
                        if *desc { o.reverse() } else { o }
                    }
                };
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
            std::cmp::Ordering::Equal
        });
        Ok(Table {
            columns: t.columns,
            rows: keyed.into_iter().map(|(_, r)| r).collect(),
        })
    }

    fn summarize(
        &mut self,
        t: &Table,
        aggregates: &[ColumnExpr],
        by: &[ColumnExpr],
        span: Span,
    ) -> R<Table> {
        // Group keys.
        let mut key_cols: Vec<(String, Compiled)> = Vec::new();
        let mut counter = 0;
        for item in by {
            let c = self.compile(&item.expr, &t.columns)?;
            let name = match item.names.first() {
                Some(n) => n.name.clone(),
                None => group_name(&item.expr)
                    .unwrap_or_else(|| next_column_name(&t.columns, &mut counter)),
            };
            key_cols.push((name, c));
        }
        // Aggregates: a call to an aggregate, or an expression over aggregates (`tostring(make_set(x))`).
        let mut aggs: Vec<AggSpec> = Vec::new();
        let mut items: Vec<SummaryItem> = Vec::new();
        let mut used: Vec<String> = key_cols.iter().map(|(n, _)| n.clone()).collect();
        let mut posts: Vec<(usize, Expr, Option<String>, Span)> = Vec::new();
        for item in aggregates {
            let direct = matches!(&item.expr.kind, ExprKind::Call { name, .. } if func::aggregate(&name.name).is_some());
            if direct {
                aggs.push(self.agg_spec(item, t, &mut used, &key_cols)?);
                items.push(SummaryItem::Agg(aggs.len() - 1));
                continue;
            }
            let mut found = Vec::new();
            let rewritten = replace_aggregates(&item.expr, &mut found, aggs.len());
            if found.is_empty() {
                return Err(EvalError::new(
                    "KQL0205",
                    "summarize expects an aggregate function call such as count() or make_set(x)",
                    item.expr.span,
                ));
            }
            let automatic = match &found[0].1.kind {
                ExprKind::Call { name, args } => {
                    func::aggregate(&name.name).map(|a| match a.kind {
                        AggKind::Count | AggKind::CountIf => format!("{}_", a.prefix),
                        _ => format!(
                            "{}_{}",
                            a.prefix,
                            args.first()
                                .and_then(|x| argument_name(&x.value))
                                .unwrap_or_default()
                        ),
                    })
                }
                _ => None,
            };
            for (hidden, call) in found {
                let spec_item = ColumnExpr {
                    names: vec![Ident::new(hidden.clone(), call.span)],
                    expr: call.clone(),
                    span: call.span,
                };
                let mut scratch = Vec::new();
                aggs.push(self.agg_spec(&spec_item, t, &mut scratch, &key_cols)?);
            }
            let name = item.names.first().map(|n| n.name.clone()).or_else(|| {
                automatic.map(|base| {
                    let mut name = base.clone();
                    let mut n = 0;
                    while used.contains(&name) {
                        n += 1;
                        name = format!("{base}{n}");
                    }
                    used.push(name.clone());
                    name
                })
            });
            posts.push((items.len(), rewritten, name, item.span));
            items.push(SummaryItem::Post(posts.len() - 1));
        }
        // The full row (keys, then every aggregate output) that post-expressions read.
        let mut full: Vec<Column> = key_cols
            .iter()
            .map(|(n, c)| Column::new(n.clone(), c.ty))
            .collect();
        for a in &aggs {
            full.extend(a.outputs.iter().cloned());
        }
        let mut post_compiled = Vec::new();
        let mut counter = 0;
        for (_, expr, name, _) in &posts {
            let c = self.compile(expr, &full)?;
            let name = name.clone().unwrap_or_else(|| {
                let mut n = next_column_name(&full, &mut counter);
                while used.contains(&n) {
                    n = next_column_name(&full, &mut counter);
                }
                used.push(n.clone());
                n
            });
            post_compiled.push((Column::new(name, c.ty), c));
        }
        // Group rows.
        let mut groups: IndexMap<Vec<GroupKey>, Group> = IndexMap::new();
        for row in &t.rows {
            let mut key_values = Vec::with_capacity(key_cols.len());
            for (_, c) in &key_cols {
                key_values.push(c.eval(&row.values, &self.ctx)?);
            }
            let key: Vec<GroupKey> = key_values.iter().map(Value::group_key).collect();
            let group = groups.entry(key).or_insert_with(|| Group {
                keys: key_values,
                states: aggs.iter().map(AggSpec::new_state).collect(),
                arg_rows: vec![None; aggs.len()],
                sources: Vec::new(),
            });
            group.sources.extend(row.sources.iter().cloned());
            for (i, a) in aggs.iter().enumerate() {
                a.update(&mut group.states[i], &mut group.arg_rows[i], row, &self.ctx)?;
            }
        }
        if key_cols.is_empty() && groups.is_empty() {
            groups.insert(
                Vec::new(),
                Group {
                    keys: Vec::new(),
                    states: aggs.iter().map(AggSpec::new_state).collect(),
                    arg_rows: vec![None; aggs.len()],
                    sources: Vec::new(),
                },
            );
        }
        let mut offsets = Vec::with_capacity(aggs.len());
        let mut at = key_cols.len();
        for a in &aggs {
            offsets.push(at);
            at += a.outputs.len();
        }
        let mut columns: Vec<Column> = key_cols
            .iter()
            .map(|(n, c)| Column::new(n.clone(), c.ty))
            .collect();
        for item in &items {
            match item {
                SummaryItem::Agg(i) => columns.extend(aggs[*i].outputs.iter().cloned()),
                SummaryItem::Post(p) => columns.push(post_compiled[*p].0.clone()),
            }
        }
        let _ = span;
        let mut rows = Vec::with_capacity(groups.len());
        for (_, mut g) in groups {
            let mut all = g.keys.clone();
            for (i, a) in aggs.iter().enumerate() {
                a.finish(&g.states[i], g.arg_rows[i].as_ref(), &mut all);
            }
            let mut values = g.keys;
            for item in &items {
                match item {
                    SummaryItem::Agg(i) => values.extend(
                        all[offsets[*i]..offsets[*i] + aggs[*i].outputs.len()]
                            .iter()
                            .cloned(),
                    ),
                    SummaryItem::Post(p) => values.push(post_compiled[*p].1.eval(&all, &self.ctx)?),
                }
            }
            g.sources.sort();
            g.sources.dedup();
            rows.push(Row {
                values,
                sources: g.sources,
            });
        }
        Ok(Table { columns, rows })
    }

    fn agg_spec(
        &mut self,
        item: &ColumnExpr,
        t: &Table,
        used: &mut Vec<String>,
        keys: &[(String, Compiled)],
    ) -> R<AggSpec> {
        let ExprKind::Call { name, args } = &item.expr.kind else {
            return Err(EvalError::new(
                "KQL0205",
                "summarize expects an aggregate function call such as count() or make_set(x)",
                item.expr.span,
            ));
        };
        let Some(agg) = func::aggregate(&name.name) else {
            let mut err = EvalError::new(
                "KQL0203",
                format!("unknown aggregate function `{}`", name.name),
                name.span,
            );
            if let Some(s) = did_you_mean(&name.name, func::AGGREGATES.iter().map(|a| a.name)) {
                err = err.help(format!("did you mean `{s}`?"));
            }
            return Err(err);
        };
        if args.len() < agg.min || args.len() > agg.max {
            return Err(EvalError::new(
                "KQL0206",
                format!(
                    "`{}` takes {}..{} arguments, got {}",
                    agg.name,
                    agg.min,
                    agg.max,
                    args.len()
                ),
                item.expr.span,
            ));
        }
        let is_star = |a: &Arg| matches!(&a.value.kind, ExprKind::Wildcard(w) if w == "*");
        let mut compiled = Vec::new();
        for a in args {
            if is_star(a) {
                compiled.push(None);
            } else {
                compiled.push(Some(self.compile(&a.value, &t.columns)?));
            }
        }
        let first_name = args
            .first()
            .and_then(|a| argument_name(&a.value))
            .unwrap_or_default();
        let unique = |base: String, used: &mut Vec<String>| -> String {
            let mut name = base.clone();
            let mut n = 0;
            while used.contains(&name) {
                n += 1;
                name = format!("{base}{n}");
            }
            used.push(name.clone());
            name
        };
        let given = |i: usize| item.names.get(i).map(|n| n.name.clone());
        for n in &item.names {
            used.push(n.name.clone());
        }
        let mut outputs = Vec::new();
        let mut arg_cols = Vec::new();
        let mut percentiles = Vec::new();
        let arg_ty = compiled.first().and_then(|c| c.as_ref().map(|c| c.ty));
        match agg.kind {
            AggKind::ArgMax | AggKind::ArgMin => {
                let Some(Some(target)) = compiled.first() else {
                    return Err(EvalError::new(
                        "KQL0206",
                        format!("`{}` needs an expression to maximize", agg.name),
                        item.expr.span,
                    ));
                };
                let base = if first_name.is_empty() {
                    format!("{}_", agg.prefix)
                } else {
                    first_name.clone()
                };
                outputs.push(Column::new(
                    given(0).unwrap_or_else(|| unique(base, used)),
                    target.ty,
                ));
                let key_names: Vec<&str> = keys.iter().map(|(n, _)| n.as_str()).collect();
                for (i, (a, c)) in args.iter().zip(&compiled).enumerate().skip(1) {
                    match c {
                        None => {
                            for (ci, col) in t.columns.iter().enumerate() {
                                if col.name == first_name || key_names.contains(&col.name.as_str())
                                {
                                    continue;
                                }
                                outputs.push(Column::new(unique(col.name.clone(), used), col.ty));
                                arg_cols.push(Compiled {
                                    kind: CExpr::Col(ci),
                                    ty: col.ty,
                                });
                            }
                        }
                        Some(c) => {
                            let name = given(i).unwrap_or_else(|| {
                                unique(
                                    derived_name(&a.value)
                                        .unwrap_or_else(|| format!("{}_{}", agg.prefix, i)),
                                    used,
                                )
                            });
                            outputs.push(Column::new(name, c.ty));
                            arg_cols.push(c.clone());
                        }
                    }
                }
            }
            AggKind::Percentiles => {
                for (i, a) in args.iter().enumerate().skip(1) {
                    let p = self
                        .compile(&a.value, &[])?
                        .eval_const(self)?
                        .to_real()
                        .unwrap_or(50.0);
                    let label = a.value.to_string().replace('.', "_");
                    let name = given(i - 1).unwrap_or_else(|| {
                        unique(format!("percentile_{first_name}_{label}"), used)
                    });
                    outputs.push(Column::new(name, func::aggregate_type(agg.kind, arg_ty)));
                    percentiles.push(p);
                }
            }
            _ => {
                let base = match agg.kind {
                    AggKind::Count | AggKind::CountIf => format!("{}_", agg.prefix),
                    _ => format!("{}_{}", agg.prefix, first_name),
                };
                let name = given(0).unwrap_or_else(|| unique(base, used));
                if item.names.len() > 1 {
                    return Err(EvalError::new(
                        "KQL0206",
                        format!("`{}` returns one column", agg.name),
                        item.span,
                    ));
                }
                outputs.push(Column::new(name, func::aggregate_type(agg.kind, arg_ty)));
                if agg.kind == AggKind::Percentile {
                    let p = match compiled.get(1) {
                        Some(Some(c)) => c.eval_const(self)?.to_real().unwrap_or(50.0),
                        _ => 50.0,
                    };
                    percentiles.push(p);
                }
            }
        }
        // The cap of make_set/make_list.
        let cap = match agg.kind {
            AggKind::MakeSet | AggKind::MakeList => compiled.get(1).cloned().flatten(),
            AggKind::MakeSetIf | AggKind::MakeListIf => compiled.get(2).cloned().flatten(),
            _ => None,
        };
        let cap = match cap {
            Some(c) => c.eval_const(self)?.to_long().map(|n| n.max(0) as usize),
            None => None,
        };
        Ok(AggSpec {
            kind: agg.kind,
            args: compiled,
            outputs,
            arg_cols,
            percentiles,
            cap,
            arg_ty,
        })
    }

    fn join(
        &mut self,
        left: Table,
        right: Table,
        kind: &str,
        on: &[Expr],
        span: Span,
        lookup: bool,
    ) -> R<Table> {
        // Key pairs: (left index, right index).
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        let mut flat = Vec::new();
        for e in on {
            flatten_and(e, &mut flat);
        }
        for e in flat {
            match &e.kind {
                ExprKind::Name(id) => {
                    let l = column_or_error(&left, &id.name, id.span)?;
                    let r = column_or_error(&right, &id.name, id.span)?;
                    pairs.push((l, r));
                }
                ExprKind::Binary {
                    op: BinOp::Eq,
                    lhs,
                    rhs,
                } => {
                    let side = |x: &Expr| -> Option<(String, String, Span)> {
                        match &x.kind {
                            ExprKind::Member { expr, name } => match &expr.kind {
                                ExprKind::Name(s) if s.name == "$left" || s.name == "$right" => {
                                    Some((s.name.clone(), name.name.clone(), name.span))
                                }
                                _ => None,
                            },
                            _ => None,
                        }
                    };
                    let (Some(a), Some(b)) = (side(lhs), side(rhs)) else {
                        return Err(EvalError::new(
                            "KQL0209",
                            "join keys must be column names or `$left.a == $right.b`",
                            e.span,
                        ));
                    };
                    let (l, r) = if a.0 == "$left" { (a, b) } else { (b, a) };
                    if l.0 != "$left" || r.0 != "$right" {
                        return Err(EvalError::new(
                            "KQL0209",
                            "a join condition compares a `$left` column with a `$right` column",
                            e.span,
                        ));
                    }
                    pairs.push((
                        column_or_error(&left, &l.1, l.2)?,
                        column_or_error(&right, &r.1, r.2)?,
                    ));
                }
                _ => {
                    return Err(EvalError::new(
                        "KQL0209",
                        "join keys must be column names or `$left.a == $right.b`",
                        e.span,
                    ));
                }
            }
        }
        let kind = match kind {
            "anti" | "leftantisemi" => "leftanti",
            "rightantisemi" => "rightanti",
            k => k,
        };
        let known = [
            "innerunique",
            "inner",
            "leftouter",
            "rightouter",
            "fullouter",
            "leftanti",
            "rightanti",
            "leftsemi",
            "rightsemi",
        ];
        if !known.contains(&kind) {
            return Err(EvalError::new(
                "KQL0204",
                format!("join kind `{kind}` is not supported"),
                span,
            ));
        }
        let key = |row: &Row, side_left: bool| -> Option<Vec<GroupKey>> {
            let mut k = Vec::with_capacity(pairs.len());
            for (l, r) in &pairs {
                let v = &row.values[if side_left { *l } else { *r }];
                if v.is_null() {
                    return None; // null keys never match
                }
                k.push(v.group_key());
            }
            Some(k)
        };
        // Left rows (deduplicated by key for innerunique).
        let mut left_rows: Vec<&Row> = left.rows.iter().collect();
        if kind == "innerunique" {
            let mut seen = std::collections::HashSet::new();
            left_rows.retain(|r| match key(r, true) {
                Some(k) => seen.insert(k),
                None => true,
            });
        }
        let mut index: HashMap<Vec<GroupKey>, Vec<usize>> = HashMap::new();
        for (i, r) in right.rows.iter().enumerate() {
            if let Some(k) = key(r, false) {
                index.entry(k).or_default().push(i);
            }
        }
        // Output columns.
        let right_keys: Vec<usize> = pairs.iter().map(|(_, r)| *r).collect();
        let right_keep: Vec<usize> = (0..right.columns.len())
            .filter(|i| !(lookup && right_keys.contains(i)))
            .collect();
        let mut names: Vec<String> = left.columns.iter().map(|c| c.name.clone()).collect();
        let mut right_cols = Vec::new();
        for &i in &right_keep {
            let mut name = right.columns[i].name.clone();
            if names.contains(&name) {
                let base = name.clone();
                let mut n = 1;
                name = format!("{base}{n}");
                while names.contains(&name) {
                    n += 1;
                    name = format!("{base}{n}");
                }
            }
            names.push(name.clone());
            right_cols.push(Column::new(name, right.columns[i].ty));
        }
        let left_only = matches!(kind, "leftanti" | "leftsemi");
        let right_only = matches!(kind, "rightanti" | "rightsemi");
        let columns: Vec<Column> = if left_only {
            left.columns.clone()
        } else if right_only {
            right.columns.clone()
        } else {
            left.columns.iter().cloned().chain(right_cols).collect()
        };
        let null_left: Vec<Value> = left.columns.iter().map(|c| c.ty.null()).collect();
        let null_right: Vec<Value> = right_keep
            .iter()
            .map(|&i| right.columns[i].ty.null())
            .collect();
        let combine = |l: Option<&Row>, r: Option<&Row>| -> Row {
            let mut values: Vec<Value> = match l {
                Some(l) => l.values.clone(),
                None => null_left.clone(),
            };
            match r {
                Some(r) => values.extend(right_keep.iter().map(|&i| r.values[i].clone())),
                None => values.extend(null_right.iter().cloned()),
            }
            let mut sources = l.map(|l| l.sources.clone()).unwrap_or_default();
            if let Some(r) = r {
                merge_sources(&mut sources, &r.sources);
            }
            Row { values, sources }
        };
        let mut rows = Vec::new();
        let mut right_matched = vec![false; right.rows.len()];
        for l in &left_rows {
            let matches: &[usize] = match key(l, true) {
                Some(k) => index.get(&k).map_or(&[], Vec::as_slice),
                None => &[],
            };
            for &ri in matches {
                right_matched[ri] = true;
            }
            match kind {
                "inner" | "innerunique" | "leftouter" | "fullouter" => {
                    for &ri in matches {
                        rows.push(combine(Some(l), Some(&right.rows[ri])));
                    }
                    if matches.is_empty() && matches!(kind, "leftouter" | "fullouter") {
                        rows.push(combine(Some(l), None));
                    }
                }
                "leftsemi" if !matches.is_empty() => rows.push((*l).clone()),
                "leftanti" if matches.is_empty() => rows.push((*l).clone()),
                _ => {}
            }
        }
        match kind {
            "rightouter" => {
                rows.clear();
                for (ri, r) in right.rows.iter().enumerate() {
                    let ls: Vec<&&Row> = left_rows
                        .iter()
                        .filter(|l| key(l, true).is_some() && key(l, true) == key(r, false))
                        .collect();
                    if ls.is_empty() {
                        rows.push(combine(None, Some(r)));
                    }
                    for l in ls {
                        rows.push(combine(Some(l), Some(r)));
                    }
                    let _ = ri;
                }
            }
            "fullouter" => {
                for (ri, r) in right.rows.iter().enumerate() {
                    if !right_matched[ri] {
                        rows.push(combine(None, Some(r)));
                    }
                }
            }
            "rightsemi" => {
                rows = right
                    .rows
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| right_matched[*i])
                    .map(|(_, r)| r.clone())
                    .collect()
            }
            "rightanti" => {
                rows = right
                    .rows
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !right_matched[*i])
                    .map(|(_, r)| r.clone())
                    .collect()
            }
            _ => {}
        }
        Ok(Table { columns, rows })
    }

    fn mv_expand(
        &mut self,
        t: Table,
        params: &[OpParam],
        items: &[MvExpandItem],
        limit: Option<&Expr>,
        span: Span,
    ) -> R<Table> {
        let bag_as_array = param_value(params, "bagexpansion").is_some_and(|v| v == "array");
        let index_col = params
            .iter()
            .find(|p| p.name.name == "with_itemindex")
            .map(param_name);
        let limit = match limit {
            Some(e) => Some(self.count_arg(e)?),
            None => None,
        };
        let mut t = t;
        let mut targets: Vec<(usize, Compiled, Option<ScalarType>)> = Vec::new();
        for item in items {
            let c = self.compile(&item.column.expr, &t.columns)?;
            let to = match &item.to_type {
                Some(ty) => Some(ScalarType::from_name(&ty.name).ok_or_else(|| {
                    EvalError::new("KQL0205", format!("unknown type `{}`", ty.name), ty.span)
                })?),
                None => None,
            };
            let name = match item.column.names.first() {
                Some(n) => n.name.clone(),
                None => derived_name(&item.column.expr)
                    .unwrap_or_else(|| format!("Column{}", targets.len() + 1)),
            };
            let idx = match t.column_index(&name) {
                Some(i) => i,
                None => {
                    t.columns.push(Column::new(name, ScalarType::Dynamic));
                    for r in &mut t.rows {
                        r.values.push(Value::Null);
                    }
                    t.columns.len() - 1
                }
            };
            t.columns[idx].ty = to.unwrap_or(ScalarType::Dynamic);
            targets.push((idx, c, to));
        }
        if let Some(ic) = &index_col {
            t.columns.push(Column::new(ic.clone(), ScalarType::Long));
        }
        let _ = span;
        let mut rows = Vec::new();
        for row in t.rows {
            let mut lists: Vec<Vec<Value>> = Vec::new();
            for (_, c, _) in &targets {
                let v = c.eval(&row.values, &self.ctx)?;
                lists.push(match v {
                    Value::Array(items) => items.to_vec(),
                    Value::Bag(map) => map
                        .iter()
                        .map(|(k, v)| {
                            if bag_as_array {
                                Value::array(vec![Value::str(k), v.clone()])
                            } else {
                                let mut m = IndexMap::new();
                                m.insert(k.clone(), v.clone());
                                Value::bag(m)
                            }
                        })
                        .collect(),
                    other => vec![other],
                });
            }
            let n = lists.iter().map(Vec::len).max().unwrap_or(0);
            let n = limit.map_or(n, |l| n.min(l));
            for i in 0..n {
                let mut values = row.values.clone();
                for ((idx, _, to), list) in targets.iter().zip(&lists) {
                    let v = list.get(i).cloned().unwrap_or(Value::Null);
                    values[*idx] = match to {
                        Some(ty) => v.convert(*ty),
                        None => v,
                    };
                }
                if index_col.is_some() {
                    values.push(Value::Long(i as i64));
                }
                rows.push(Row {
                    values,
                    sources: row.sources.clone(),
                });
            }
        }
        Ok(Table {
            columns: t.columns,
            rows,
        })
    }

    fn parse_op(
        &mut self,
        mut t: Table,
        drop_unmatched: bool,
        params: &[OpParam],
        expr: &Expr,
        pattern: &[ParsePart],
        span: Span,
    ) -> R<Table> {
        let kind = param_value(params, "kind").unwrap_or_else(|| "simple".to_string());
        let flags = param_value(params, "flags").unwrap_or_default();
        let source = self.compile(expr, &t.columns)?;
        let mut regex = String::new();
        if flags.contains('i') {
            regex.push_str("(?i)");
        }
        if flags.contains('s') {
            regex.push_str("(?s)");
        }
        if flags.contains('m') {
            regex.push_str("(?m)");
        }
        let mut cols: Vec<Column> = Vec::new();
        let column_count = pattern
            .iter()
            .filter(|p| matches!(p, ParsePart::Column(_)))
            .count();
        let mut seen = 0;
        for (i, part) in pattern.iter().enumerate() {
            match part {
                ParsePart::Literal(s) => {
                    if kind == "regex" {
                        regex.push_str(s);
                    } else {
                        regex.push_str(&regex::escape(s));
                    }
                }
                ParsePart::Star => {
                    regex.push_str(if i + 1 == pattern.len() { ".*" } else { ".*?" })
                }
                ParsePart::Column(decl) => {
                    seen += 1;
                    let ty = ScalarType::from_name(&decl.ty.name).unwrap_or(ScalarType::String);
                    let last = seen == column_count && i + 1 == pattern.len();
                    let group = if kind == "regex" {
                        "(.*?)".to_string()
                    } else {
                        match ty {
                            ScalarType::Int | ScalarType::Long => "([-+]?\\d+)".to_string(),
                            ScalarType::Real | ScalarType::Decimal => {
                                "([-+]?[0-9.eE+-]+)".to_string()
                            }
                            _ if last => "(.*)".to_string(),
                            _ => "(.*?)".to_string(),
                        }
                    };
                    regex.push_str(&group);
                    cols.push(Column::new(decl.name.name.clone(), ty));
                }
            }
        }
        if kind == "simple" || kind == "relaxed" {
            regex = format!("^(?s:.*?){regex}");
            regex = regex.replacen(
                "^(?s:.*?)",
                "^",
                usize::from(!matches!(pattern.first(), Some(ParsePart::Star))),
            );
            if !matches!(
                pattern.last(),
                Some(ParsePart::Column(_)) | Some(ParsePart::Star)
            ) {
                regex.push('$');
            }
        }
        let re = func::regex(&regex).map_err(|m| EvalError::new("KQL0207", m, span))?;
        let mut idx = Vec::new();
        for c in &cols {
            match t.column_index(&c.name) {
                Some(i) => {
                    t.columns[i].ty = c.ty;
                    idx.push(i);
                }
                None => {
                    t.columns.push(c.clone());
                    for r in &mut t.rows {
                        r.values.push(c.ty.null());
                    }
                    idx.push(t.columns.len() - 1);
                }
            }
        }
        let mut rows = Vec::with_capacity(t.rows.len());
        for mut row in t.rows {
            let text = source.eval(&row.values, &self.ctx)?.to_kql_string();
            match re.captures(&text) {
                Some(caps) => {
                    for (k, (&i, c)) in idx.iter().zip(&cols).enumerate() {
                        row.values[i] = caps
                            .get(k + 1)
                            .map_or(c.ty.null(), |m| Value::str(m.as_str()).convert(c.ty));
                    }
                    rows.push(row);
                }
                None => {
                    if !drop_unmatched {
                        for (&i, c) in idx.iter().zip(&cols) {
                            row.values[i] = c.ty.null();
                        }
                        rows.push(row);
                    }
                }
            }
        }
        Ok(Table {
            columns: t.columns,
            rows,
        })
    }

    fn evaluate_plugin(&mut self, t: Table, call: &Expr) -> R<Table> {
        let ExprKind::Call { name, args } = &call.kind else {
            return Err(EvalError::new(
                "KQL0205",
                "evaluate expects a plugin call",
                call.span,
            ));
        };
        match name.name.as_str() {
            "bag_unpack" => {
                let Some(first) = args.first() else {
                    return Err(EvalError::new(
                        "KQL0206",
                        "bag_unpack needs a column",
                        call.span,
                    ));
                };
                let c = self.compile(&first.value, &t.columns)?;
                let prefix = args
                    .get(1)
                    .map(|a| match &a.value.kind {
                        ExprKind::Literal(Literal::String(s)) => s.clone(),
                        _ => String::new(),
                    })
                    .unwrap_or_default();
                let col_idx = match &first.value.kind {
                    ExprKind::Name(id) => t.column_index(&id.name),
                    _ => None,
                };
                let mut keys: IndexMap<String, ()> = IndexMap::new();
                let mut bags = Vec::new();
                for r in &t.rows {
                    let v = c.eval(&r.values, &self.ctx)?;
                    if let Value::Bag(m) = &v {
                        for k in m.keys() {
                            keys.insert(k.clone(), ());
                        }
                    }
                    bags.push(v);
                }
                let keep: Vec<usize> = (0..t.columns.len())
                    .filter(|i| Some(*i) != col_idx)
                    .collect();
                let mut columns: Vec<Column> = keep.iter().map(|&i| t.columns[i].clone()).collect();
                columns.extend(
                    keys.keys()
                        .map(|k| Column::new(format!("{prefix}{k}"), ScalarType::Dynamic)),
                );
                let rows = t
                    .rows
                    .into_iter()
                    .zip(bags)
                    .map(|(r, bag)| {
                        let mut values: Vec<Value> =
                            keep.iter().map(|&i| r.values[i].clone()).collect();
                        for k in keys.keys() {
                            values.push(match &bag {
                                Value::Bag(m) => m.get(k).cloned().unwrap_or(Value::Null),
                                _ => Value::Null,
                            });
                        }
                        Row {
                            values,
                            sources: r.sources,
                        }
                    })
                    .collect();
                Ok(Table { columns, rows })
            }
            other => Err(EvalError::new(
                "KQL0204",
                format!("evaluate plugin `{other}` is not supported by firedrill's KQL engine"),
                name.span,
            )
            .help("see docs/kql-subset.md for the supported operators")),
        }
    }

    fn invoke(&mut self, t: Table, call: &Expr) -> R<Table> {
        let ExprKind::Call { name, args } = &call.kind else {
            return Err(EvalError::new(
                "KQL0205",
                "invoke expects a function call",
                call.span,
            ));
        };
        if let Some((Binding::Function(def), _)) = self.lookup(&name.name) {
            let def = def.clone();
            return self
                .call_function(&name.name, &def, args, Some(Arc::new(t)), call.span)?
                .ok_or_else(|| {
                    EvalError::new(
                        "KQL0205",
                        format!("`{}` does not return a table", name.name),
                        call.span,
                    )
                });
        }
        if name.name == "FileProfile" {
            self.warn(EvalError::new(
                "KQL0208",
                "FileProfile is a Defender cloud enrichment; firedrill adds its columns empty",
                call.span,
            ));
            let mut t = t;
            for (col, ty) in FILE_PROFILE_COLUMNS {
                if t.column_index(col).is_none() {
                    t.columns.push(Column::new(*col, *ty));
                    for r in &mut t.rows {
                        r.values.push(ty.null());
                    }
                }
            }
            return Ok(t);
        }
        Err(EvalError::new(
            "KQL0203",
            format!("unknown function `{}`", name.name),
            name.span,
        ))
    }

    fn search(&mut self, t: Table, predicate: &Expr, params: &[OpParam]) -> R<Table> {
        let cs = param_value(params, "kind").is_some_and(|k| k == "case_sensitive");
        if let ExprKind::Literal(Literal::String(term)) = &predicate.kind {
            let term = term.clone();
            let rows = t
                .rows
                .into_iter()
                .filter(|r| {
                    r.values.iter().any(|v| {
                        func::has(&v.text(), &term, cs) || func::contains(&v.text(), &term, cs)
                    })
                })
                .collect();
            return Ok(Table {
                columns: t.columns,
                rows,
            });
        }
        self.filter(t, predicate)
    }

    // ---------------------------------------------------------------------------------------
    // Expressions
    // ---------------------------------------------------------------------------------------

    pub(super) fn compile(&mut self, e: &Expr, cols: &[Column]) -> R<Compiled> {
        compile_expr(self, e, cols, &HashMap::new())
    }
}

/// Columns `invoke FileProfile()` adds (per the Defender "FileProfile() function" page).
const FILE_PROFILE_COLUMNS: &[(&str, ScalarType)] = &[
    ("GlobalPrevalence", ScalarType::Long),
    ("GlobalFirstSeen", ScalarType::DateTime),
    ("GlobalLastSeen", ScalarType::DateTime),
    ("Signer", ScalarType::String),
    ("Issuer", ScalarType::String),
    ("SignerHash", ScalarType::String),
    ("IsCertificateValid", ScalarType::Bool),
    ("IsRootSignerMicrosoft", ScalarType::Bool),
    ("SignatureState", ScalarType::String),
    ("IsExecutable", ScalarType::Bool),
    ("ThreatName", ScalarType::String),
    ("Publisher", ScalarType::String),
    ("SoftwareName", ScalarType::String),
    ("ProfileAvailability", ScalarType::String),
];

fn dotnet_type(ty: ScalarType) -> &'static str {
    match ty {
        ScalarType::Bool => "System.Boolean",
        ScalarType::Int => "System.Int32",
        ScalarType::Long => "System.Int64",
        ScalarType::Real => "System.Double",
        ScalarType::Decimal => "System.Data.SqlTypes.SqlDecimal",
        ScalarType::String => "System.String",
        ScalarType::DateTime => "System.DateTime",
        ScalarType::TimeSpan => "System.TimeSpan",
        ScalarType::Guid => "System.Guid",
        ScalarType::Dynamic => "System.Object",
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

fn union_kind_inner(params: &[OpParam]) -> bool {
    param_value(params, "kind").is_some_and(|k| k == "inner")
}

/// `*` matches any run of characters; everything else literally (case-sensitive).
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(p) => rest = &rest[p + part.len()..],
                None => return false,
            }
        }
    }
    true
}

fn union_all(mut parts: Vec<Table>, inner: bool) -> Table {
    // A column whose type differs between inputs becomes one column per type: `Name_long`, `Name_string`.
    let mut types: IndexMap<String, Vec<ScalarType>> = IndexMap::new();
    for t in &parts {
        for c in &t.columns {
            let seen = types.entry(c.name.clone()).or_default();
            if !seen.contains(&c.ty) {
                seen.push(c.ty);
            }
        }
    }
    for t in &mut parts {
        for c in &mut t.columns {
            if types.get(&c.name).is_some_and(|v| v.len() > 1) {
                c.name = format!("{}_{}", c.name, c.ty);
            }
        }
    }
    let mut columns: Vec<Column> = Vec::new();
    for t in &parts {
        for c in &t.columns {
            if !columns.iter().any(|x| x.name == c.name) {
                columns.push(c.clone());
            }
        }
    }
    if inner {
        columns.retain(|c| parts.iter().all(|t| t.column_index(&c.name).is_some()));
    }
    let mut rows = Vec::new();
    for t in parts {
        let map: Vec<Option<usize>> = columns.iter().map(|c| t.column_index(&c.name)).collect();
        for r in t.rows {
            let values = map
                .iter()
                .zip(&columns)
                .map(|(i, c)| i.map_or_else(|| c.ty.null(), |i| r.values[i].clone()))
                .collect();
            rows.push(Row {
                values,
                sources: r.sources,
            });
        }
    }
    Table { columns, rows }
}

/// mv-apply's output: the input row's columns the subquery did not produce, then the subquery's.
fn reattach(columns: &[Column], original: &Row, sub: Table) -> Table {
    let keep: Vec<usize> = (0..columns.len())
        .filter(|&i| sub.column_index(&columns[i].name).is_none())
        .collect();
    let mut out_cols: Vec<Column> = keep.iter().map(|&i| columns[i].clone()).collect();
    out_cols.extend(sub.columns.iter().cloned());
    let rows = sub
        .rows
        .into_iter()
        .map(|r| {
            let mut values: Vec<Value> = keep.iter().map(|&i| original.values[i].clone()).collect();
            values.extend(r.values);
            let mut sources = original.sources.clone();
            merge_sources(&mut sources, &r.sources);
            Row { values, sources }
        })
        .collect();
    Table {
        columns: out_cols,
        rows,
    }
}

fn reattach_columns(columns: &[Column], sub: Table) -> Table {
    let mut out: Vec<Column> = columns
        .iter()
        .filter(|c| sub.column_index(&c.name).is_none())
        .cloned()
        .collect();
    out.extend(sub.columns);
    Table::empty(out)
}

fn pick_columns(t: Table, keep: &[usize]) -> Table {
    Table {
        columns: keep.iter().map(|&i| t.columns[i].clone()).collect(),
        rows: t
            .rows
            .into_iter()
            .map(|r| Row {
                values: keep.iter().map(|&i| r.values[i].clone()).collect(),
                sources: r.sources,
            })
            .collect(),
    }
}

fn distinct(t: Table) -> Table {
    let mut groups: IndexMap<Vec<GroupKey>, Row> = IndexMap::new();
    for r in t.rows {
        let key: Vec<GroupKey> = r.values.iter().map(Value::group_key).collect();
        match groups.get_mut(&key) {
            Some(existing) => merge_sources(&mut existing.sources, &r.sources),
            None => {
                groups.insert(key, r);
            }
        }
    }
    Table {
        columns: t.columns,
        rows: groups.into_values().collect(),
    }
}

fn column_or_error(t: &Table, name: &str, span: Span) -> R<usize> {
    t.column_index(name)
        .ok_or_else(|| unknown_column(name, &t.columns, span))
}

fn unknown_column(name: &str, cols: &[Column], span: Span) -> EvalError {
    let mut err = EvalError::new("KQL0202", format!("unknown column `{name}`"), span);
    if let Some(s) = did_you_mean(name, cols.iter().map(|c| c.name.as_str())) {
        err = err.help(format!("did you mean `{s}`?"));
    }
    err
}

fn flatten_and<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match &e.kind {
        ExprKind::Binary {
            op: BinOp::And,
            lhs,
            rhs,
        } => {
            flatten_and(lhs, out);
            flatten_and(rhs, out);
        }
        ExprKind::Paren(inner) => flatten_and(inner, out),
        _ => out.push(e),
    }
}

/// The column name Kusto derives for an unnamed expression: a column keeps its name, `a.b` and
/// `a["b"]` become `a_b`; anything else gets `None` (the caller numbers it `Column1`, ...).
fn derived_name(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Name(id) => Some(id.name.clone()),
        ExprKind::Member { expr, name } => Some(format!("{}_{}", derived_name(expr)?, name.name)),
        ExprKind::Index { expr, index } => match &index.kind {
            ExprKind::Literal(Literal::String(s)) => Some(format!("{}_{}", derived_name(expr)?, s)),
            ExprKind::Literal(Literal::Long(n)) => Some(format!("{}_{}", derived_name(expr)?, n)),
            _ => None,
        },
        ExprKind::Paren(inner) => derived_name(inner),
        // Conversions keep their argument's name (`project tostring(Account)` is `Account`).
        ExprKind::Call { name, args }
            if args.len() == 1 && CONVERSIONS.contains(&name.name.as_str()) =>
        {
            derived_name(&args[0].value)
        }
        _ => None,
    }
}

const CONVERSIONS: &[&str] = &[
    "tostring",
    "toint",
    "tolong",
    "todouble",
    "toreal",
    "todecimal",
    "tobool",
    "toboolean",
    "todatetime",
    "totimespan",
    "toguid",
    "todynamic",
];

/// The name an aggregate's argument contributes to its automatic column name (`any_X`).
fn argument_name(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Call { args, .. } => args.first().and_then(|a| argument_name(&a.value)),
        _ => derived_name(e),
    }
}

/// A `by` expression's name: a column keeps its name, `bin(X, ...)` is named `X`.
fn group_name(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Call { args, .. } => args.first().and_then(|a| derived_name(&a.value)),
        _ => derived_name(e),
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

// ---------------------------------------------------------------------------------------------
// Aggregation
// ---------------------------------------------------------------------------------------------

enum SummaryItem {
    Agg(usize),
    Post(usize),
}

/// Replaces each aggregate call in `e` by a hidden column name (`__aggN`), collecting the calls.
fn replace_aggregates(e: &Expr, found: &mut Vec<(String, Expr)>, base: usize) -> Expr {
    let mut go = |x: &Expr| Box::new(replace_aggregates(x, found, base));
    let kind = match &e.kind {
        ExprKind::Call { name, .. } if func::aggregate(&name.name).is_some() => {
            let hidden = format!("__agg{}", base + found.len());
            found.push((hidden.clone(), e.clone()));
            return Expr::new(ExprKind::Name(Ident::new(hidden, e.span)), e.span);
        }
        ExprKind::Call { name, args } => {
            let args = args
                .iter()
                .map(|a| Arg {
                    name: a.name.clone(),
                    value: replace_aggregates(&a.value, found, base),
                })
                .collect();
            ExprKind::Call {
                name: name.clone(),
                args,
            }
        }
        ExprKind::Binary { op, lhs, rhs } => {
            let l = go(lhs);
            ExprKind::Binary {
                op: *op,
                lhs: l,
                rhs: Box::new(replace_aggregates(rhs, found, base)),
            }
        }
        ExprKind::Unary { op, expr } => ExprKind::Unary {
            op: *op,
            expr: go(expr),
        },
        ExprKind::Paren(inner) => ExprKind::Paren(go(inner)),
        ExprKind::Member { expr, name } => ExprKind::Member {
            expr: go(expr),
            name: name.clone(),
        },
        ExprKind::Index { expr, index } => {
            let x = go(expr);
            ExprKind::Index {
                expr: x,
                index: Box::new(replace_aggregates(index, found, base)),
            }
        }
        ExprKind::List { op, lhs, items } => {
            let l = go(lhs);
            ExprKind::List {
                op: *op,
                lhs: l,
                items: items
                    .iter()
                    .map(|i| replace_aggregates(i, found, base))
                    .collect(),
            }
        }
        ExprKind::Between {
            negated,
            lhs,
            low,
            high,
        } => {
            let l = go(lhs);
            let lo = Box::new(replace_aggregates(low, found, base));
            ExprKind::Between {
                negated: *negated,
                lhs: l,
                low: lo,
                high: Box::new(replace_aggregates(high, found, base)),
            }
        }
        other => other.clone(),
    };
    Expr::new(kind, e.span)
}

struct Group {
    keys: Vec<Value>,
    states: Vec<AggState>,
    arg_rows: Vec<Option<Vec<Value>>>,
    sources: Vec<EventRef>,
}

struct AggSpec {
    kind: AggKind,
    args: Vec<Option<Compiled>>,
    outputs: Vec<Column>,
    arg_cols: Vec<Compiled>,
    percentiles: Vec<f64>,
    cap: Option<usize>,
    arg_ty: Option<ScalarType>,
}

impl AggSpec {
    fn new_state(&self) -> AggState {
        AggState::new(self.kind, self.cap)
    }

    fn update(
        &self,
        state: &mut AggState,
        arg_row: &mut Option<Vec<Value>>,
        row: &Row,
        ctx: &Context,
    ) -> R<()> {
        let arg = |i: usize| -> R<Value> {
            match self.args.get(i) {
                Some(Some(c)) => c.eval(&row.values, ctx),
                _ => Ok(Value::Null),
            }
        };
        let cond = |i: usize| -> R<bool> { Ok(matches!(arg(i)?, Value::Bool(true))) };
        match self.kind {
            AggKind::Count => {
                state.update(&Value::Bool(true));
            }
            AggKind::CountIf => {
                if cond(0)? {
                    state.update(&Value::Bool(true));
                }
            }
            AggKind::DcountIf
            | AggKind::MakeSetIf
            | AggKind::MakeListIf
            | AggKind::AnyIf
            | AggKind::MinIf
            | AggKind::MaxIf
            | AggKind::SumIf
            | AggKind::AvgIf => {
                if cond(1)? {
                    state.update(&arg(0)?);
                }
            }
            AggKind::ArgMax | AggKind::ArgMin => {
                let v = arg(0)?;
                let replaced = state.update(&v);
                if replaced || (arg_row.is_none() && !v.is_null()) {
                    let mut values = Vec::with_capacity(self.arg_cols.len());
                    for c in &self.arg_cols {
                        values.push(c.eval(&row.values, ctx)?);
                    }
                    *arg_row = Some(values);
                }
            }
            _ => {
                state.update(&arg(0)?);
            }
        }
        Ok(())
    }

    fn finish(&self, state: &AggState, arg_row: Option<&Vec<Value>>, out: &mut Vec<Value>) {
        match self.kind {
            AggKind::ArgMax | AggKind::ArgMin => {
                out.push(state.finish(self.kind, 0.0, self.arg_ty));
                match arg_row {
                    Some(values) => out.extend(values.iter().cloned()),
                    None => out.extend(self.outputs[1..].iter().map(|c| c.ty.null())),
                }
            }
            AggKind::Percentiles | AggKind::Percentile => {
                for p in &self.percentiles {
                    out.push(state.finish(self.kind, *p, self.arg_ty));
                }
            }
            _ => out.push(state.finish(self.kind, 50.0, self.arg_ty)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Compiled scalar expressions
// ---------------------------------------------------------------------------------------------

/// A scalar expression resolved against a row schema: columns are indices, constants folded.
#[derive(Clone, Debug)]
pub struct Compiled {
    kind: CExpr,
    /// The static type.
    pub ty: ScalarType,
}

#[derive(Clone, Debug)]
enum CExpr {
    Const(Value),
    Col(usize),
    And(Box<Compiled>, Box<Compiled>),
    Or(Box<Compiled>, Box<Compiled>),
    Not(Box<Compiled>),
    Cmp(BinOp, Box<Compiled>, Box<Compiled>),
    Arith(BinOp, Box<Compiled>, Box<Compiled>),
    Neg(Box<Compiled>),
    /// String operator with a constant right side (case-folded already when insensitive).
    StrConst {
        op: StrOp,
        negated: bool,
        cs: bool,
        lhs: Box<Compiled>,
        needle: String,
    },
    Str {
        op: StrOp,
        negated: bool,
        cs: bool,
        lhs: Box<Compiled>,
        rhs: Box<Compiled>,
    },
    Regex(Box<Compiled>, regex::Regex),
    RegexDyn(Box<Compiled>, Box<Compiled>),
    /// `row_number([start [, restart]])`: a running counter over the rows in order.
    RowNumber {
        start: i64,
        next: std::cell::Cell<i64>,
        restart: Option<Box<Compiled>>,
    },
    /// `in` and friends over a list known before the first row (literals, lets, subqueries).
    InConst {
        op: ListOp,
        lhs: Box<Compiled>,
        values: Vec<Value>,
    },
    In {
        op: ListOp,
        lhs: Box<Compiled>,
        items: Vec<Compiled>,
    },
    Between {
        negated: bool,
        lhs: Box<Compiled>,
        low: Box<Compiled>,
        high: Box<Compiled>,
    },
    Call(&'static func::ScalarFn, Vec<Compiled>, Span),
    Member(Box<Compiled>, String),
    Index(Box<Compiled>, Box<Compiled>),
}

impl Compiled {
    fn constant(v: Value, ty: ScalarType) -> Compiled {
        Compiled {
            kind: CExpr::Const(v),
            ty,
        }
    }

    fn eval_const(&self, ev: &Evaluator<'_>) -> R<Value> {
        self.eval(&[], &ev.ctx)
    }

    /// Runs `f` on the value without copying it when it is a column.
    fn with<T>(&self, row: &[Value], ctx: &Context, f: impl FnOnce(&Value) -> T) -> R<T> {
        match &self.kind {
            CExpr::Col(i) => Ok(f(row.get(*i).unwrap_or(&Value::Null))),
            _ => Ok(f(&self.eval(row, ctx)?)),
        }
    }

    /// Evaluates over one row's values.
    pub fn eval(&self, row: &[Value], ctx: &Context) -> R<Value> {
        Ok(match &self.kind {
            CExpr::Const(v) => v.clone(),
            CExpr::Col(i) => row.get(*i).cloned().unwrap_or(Value::Null),
            CExpr::And(a, b) => match a.eval(row, ctx)? {
                Value::Bool(false) => Value::Bool(false),
                x => match (x, b.eval(row, ctx)?) {
                    (_, Value::Bool(false)) => Value::Bool(false),
                    (Value::Bool(true), Value::Bool(true)) => Value::Bool(true),
                    _ => Value::Null,
                },
            },
            CExpr::Or(a, b) => match a.eval(row, ctx)? {
                Value::Bool(true) => Value::Bool(true),
                x => match (x, b.eval(row, ctx)?) {
                    (_, Value::Bool(true)) => Value::Bool(true),
                    (Value::Bool(false), Value::Bool(false)) => Value::Bool(false),
                    _ => Value::Null,
                },
            },
            CExpr::Not(a) => match a.eval(row, ctx)?.to_bool() {
                Some(b) => Value::Bool(!b),
                None => Value::Null,
            },
            CExpr::Cmp(op, a, b) => match &b.kind {
                CExpr::Const(right) => a.with(row, ctx, |left| compare(*op, left, right))?,
                _ => compare(*op, &a.eval(row, ctx)?, &b.eval(row, ctx)?),
            },
            CExpr::Arith(op, a, b) => arith(*op, &a.eval(row, ctx)?, &b.eval(row, ctx)?),
            CExpr::Neg(a) => match a.eval(row, ctx)? {
                Value::Long(i) => Value::Long(-i),
                Value::Real(f) => Value::Real(-f),
                Value::TimeSpan(t) => Value::TimeSpan(-t),
                _ => Value::Null,
            },
            CExpr::StrConst {
                op,
                negated,
                cs,
                lhs,
                needle,
            } => {
                let hit = lhs.with(row, ctx, |v| str_op(*op, &v.text(), needle, *cs))?;
                Value::Bool(hit != *negated)
            }
            CExpr::Str {
                op,
                negated,
                cs,
                lhs,
                rhs,
            } => {
                let (l, r) = (lhs.eval(row, ctx)?, rhs.eval(row, ctx)?);
                Value::Bool(str_op(*op, &l.text(), &r.text(), *cs) != *negated)
            }
            CExpr::Regex(lhs, re) => Value::Bool(lhs.with(row, ctx, |v| re.is_match(&v.text()))?),
            CExpr::RegexDyn(lhs, rhs) => {
                let pattern = rhs.eval(row, ctx)?.to_kql_string();
                let re = func::regex(&pattern)
                    .map_err(|m| EvalError::new("KQL0207", m, Span::default()))?;
                Value::Bool(re.is_match(&lhs.eval(row, ctx)?.text()))
            }
            CExpr::RowNumber {
                start,
                next,
                restart,
            } => {
                if let Some(r) = restart
                    && matches!(r.eval(row, ctx)?, Value::Bool(true))
                {
                    next.set(*start);
                }
                let n = next.get();
                next.set(n + 1);
                Value::Long(n)
            }
            CExpr::InConst { op, lhs, values } => {
                lhs.with(row, ctx, |v| in_list(*op, v, values))?
            }
            CExpr::In { op, lhs, items } => {
                let v = lhs.eval(row, ctx)?;
                let mut values = Vec::new();
                for item in items {
                    match item.eval(row, ctx)? {
                        Value::Array(a)
                            if !matches!(item.kind, CExpr::Const(Value::Array(_)))
                                || item.ty == ScalarType::Dynamic =>
                        {
                            values.extend(a.iter().cloned())
                        }
                        other => values.push(other),
                    }
                }
                in_list(*op, &v, &values)
            }
            CExpr::Between {
                negated,
                lhs,
                low,
                high,
            } => {
                let v = lhs.eval(row, ctx)?;
                let (lo, hi) = (low.eval(row, ctx)?, high.eval(row, ctx)?);
                match (v.compare(&lo), v.compare(&hi)) {
                    (Some(a), Some(b)) => Value::Bool((a.is_ge() && b.is_le()) != *negated),
                    _ => Value::Null,
                }
            }
            CExpr::Call(f, args, span) => {
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    values.push(a.eval(row, ctx)?);
                }
                let v = (f.call)(&values, ctx).map_err(|m| EvalError::new("KQL0207", m, *span))?;
                match (&v, self.ty) {
                    (Value::Null, ScalarType::String) => Value::empty_string(),
                    (Value::String(_), _) | (_, ScalarType::Dynamic) => v,
                    (_, ScalarType::String) => Value::str(v.to_kql_string()),
                    _ => v,
                }
            }
            CExpr::Member(obj, name) => member(&obj.eval(row, ctx)?, name),
            CExpr::Index(obj, idx) => {
                let o = obj.eval(row, ctx)?;
                match idx.eval(row, ctx)? {
                    Value::Long(i) => match dynamic_of(&o) {
                        Value::Array(items) => {
                            let n = items.len() as i64;
                            let i = if i < 0 { n + i } else { i };
                            usize::try_from(i)
                                .ok()
                                .and_then(|i| items.get(i))
                                .cloned()
                                .unwrap_or(Value::Null)
                        }
                        _ => Value::Null,
                    },
                    key => member(&o, &key.to_kql_string()),
                }
            }
        })
    }
}

fn dynamic_of(v: &Value) -> Value {
    match v {
        Value::String(s) if s.starts_with('[') || s.starts_with('{') => {
            match serde_json::from_str::<serde_json::Value>(s) {
                Ok(j) => Value::from_json(&j),
                Err(_) => v.clone(),
            }
        }
        other => other.clone(),
    }
}

fn member(v: &Value, name: &str) -> Value {
    match dynamic_of(v) {
        Value::Bag(map) => map.get(name).cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

fn str_op(op: StrOp, haystack: &str, needle: &str, cs: bool) -> bool {
    match op {
        StrOp::Has => func::has(haystack, needle, cs),
        StrOp::HasPrefix => func::hasprefix(haystack, needle, cs),
        StrOp::HasSuffix => func::hassuffix(haystack, needle, cs),
        StrOp::Contains => func::contains(haystack, needle, cs),
        StrOp::StartsWith => func::startswith(haystack, needle, cs),
        StrOp::EndsWith => func::endswith(haystack, needle, cs),
    }
}

fn in_list(op: ListOp, v: &Value, items: &[Value]) -> Value {
    match op {
        ListOp::In | ListOp::NotIn => {
            if v.is_null() {
                return Value::Null;
            }
            let hit = items.iter().any(|i| v.kql_eq(i) == Some(true));
            Value::Bool(hit == (op == ListOp::In))
        }
        ListOp::InCi | ListOp::NotInCi => {
            let text = v.text();
            let hit = items.iter().any(|i| func::equals_ci(&text, &i.text()));
            Value::Bool(hit == (op == ListOp::InCi))
        }
        ListOp::HasAny => {
            let text = v.text();
            Value::Bool(items.iter().any(|i| func::has(&text, &i.text(), false)))
        }
        ListOp::HasAll => {
            let text = v.text();
            Value::Bool(items.iter().all(|i| func::has(&text, &i.text(), false)))
        }
    }
}

fn compare(op: BinOp, a: &Value, b: &Value) -> Value {
    match op {
        BinOp::Eq => a.kql_eq(b).map_or(Value::Null, Value::Bool),
        BinOp::Ne => a.kql_eq(b).map_or(Value::Null, |x| Value::Bool(!x)),
        BinOp::EqCi | BinOp::NeCi => {
            if a.is_null() || b.is_null() {
                return Value::Null;
            }
            let eq = func::equals_ci(&a.text(), &b.text());
            Value::Bool(eq == (op == BinOp::EqCi))
        }
        _ => match a.compare(b) {
            Some(o) => Value::Bool(match op {
                BinOp::Lt => o.is_lt(),
                BinOp::Le => o.is_le(),
                BinOp::Gt => o.is_gt(),
                BinOp::Ge => o.is_ge(),
                _ => false,
            }),
            None => Value::Null,
        },
    }
}

fn arith(op: BinOp, a: &Value, b: &Value) -> Value {
    use Value::*;
    match (a, b) {
        (Null, _) | (_, Null) => Null,
        (Long(x), Long(y)) => match op {
            BinOp::Add => Long(x.wrapping_add(*y)),
            BinOp::Sub => Long(x.wrapping_sub(*y)),
            BinOp::Mul => Long(x.wrapping_mul(*y)),
            BinOp::Div => {
                if *y == 0 {
                    Null
                } else {
                    Long(x.wrapping_div(*y))
                }
            }
            BinOp::Mod => {
                if *y == 0 {
                    Null
                } else {
                    Long(x.wrapping_rem(*y))
                }
            }
            _ => Null,
        },
        (DateTime(x), TimeSpan(y)) => match op {
            BinOp::Add => DateTime(x + y),
            BinOp::Sub => DateTime(x - y),
            _ => Null,
        },
        (TimeSpan(x), DateTime(y)) if op == BinOp::Add => DateTime(x + y),
        (DateTime(x), DateTime(y)) if op == BinOp::Sub => TimeSpan(x - y),
        (TimeSpan(x), TimeSpan(y)) => match op {
            BinOp::Add => TimeSpan(x + y),
            BinOp::Sub => TimeSpan(x - y),
            BinOp::Div => {
                if *y == 0 {
                    Null
                } else {
                    Real(*x as f64 / *y as f64)
                }
            }
            BinOp::Mod => {
                if *y == 0 {
                    Null
                } else {
                    TimeSpan(x % y)
                }
            }
            _ => Null,
        },
        (TimeSpan(x), Long(_) | Real(_)) => {
            let y = b.to_real().unwrap_or(f64::NAN);
            match op {
                BinOp::Mul => TimeSpan((*x as f64 * y) as i64),
                BinOp::Div if y != 0.0 => TimeSpan((*x as f64 / y) as i64),
                _ => Null,
            }
        }
        (Long(_) | Real(_), TimeSpan(y)) if op == BinOp::Mul => {
            TimeSpan((a.to_real().unwrap_or(0.0) * *y as f64) as i64)
        }
        (Long(_) | Real(_) | Bool(_), Long(_) | Real(_) | Bool(_)) => {
            let (x, y) = (
                a.to_real().unwrap_or(f64::NAN),
                b.to_real().unwrap_or(f64::NAN),
            );
            Real(match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div => x / y,
                BinOp::Mod => x % y,
                _ => f64::NAN,
            })
        }
        _ => Null,
    }
}

fn arith_type(op: BinOp, a: ScalarType, b: ScalarType) -> Option<ScalarType> {
    use ScalarType as T;
    Some(match (a, b) {
        (T::Dynamic, _) | (_, T::Dynamic) => T::Dynamic,
        (T::DateTime, T::TimeSpan) if matches!(op, BinOp::Add | BinOp::Sub) => T::DateTime,
        (T::TimeSpan, T::DateTime) if op == BinOp::Add => T::DateTime,
        (T::DateTime, T::DateTime) if op == BinOp::Sub => T::TimeSpan,
        (T::TimeSpan, T::TimeSpan) if op == BinOp::Div => T::Real,
        (T::TimeSpan, T::TimeSpan) if op != BinOp::Mul => T::TimeSpan,
        (T::TimeSpan, x) | (x, T::TimeSpan)
            if x.is_numeric() && matches!(op, BinOp::Mul | BinOp::Div) =>
        {
            T::TimeSpan
        }
        (x, y) if x.is_numeric() && y.is_numeric() => {
            if x == T::Decimal || y == T::Decimal {
                T::Decimal
            } else if matches!(x, T::Real) || matches!(y, T::Real) {
                T::Real
            } else if x == T::Int && y == T::Int {
                T::Int
            } else {
                T::Long
            }
        }
        (T::Bool, y) | (y, T::Bool) if y.is_numeric() => T::Long,
        _ => return None,
    })
}

fn literal_value(l: &Literal, span: Span) -> R<(Value, ScalarType)> {
    Ok(match l {
        Literal::Bool(b) => (Value::Bool(*b), ScalarType::Bool),
        Literal::Long(i) => (Value::Long(*i), ScalarType::Long),
        Literal::Int(i) => (Value::Long(i64::from(*i)), ScalarType::Int),
        Literal::Real(f) => (Value::Real(*f), ScalarType::Real),
        Literal::Decimal(s) => {
            (
                Value::Real(s.trim().parse().map_err(|_| {
                    EvalError::new("KQL0205", format!("invalid decimal `{s}`"), span)
                })?),
                ScalarType::Decimal,
            )
        }
        Literal::String(s) => (Value::str(s), ScalarType::String),
        Literal::Datetime(s) => match parse_datetime(s) {
            Some(t) => (Value::DateTime(t), ScalarType::DateTime),
            None => {
                return Err(EvalError::new(
                    "KQL0205",
                    format!("invalid datetime literal `{s}`"),
                    span,
                ));
            }
        },
        Literal::Timespan(t) => (Value::TimeSpan(*t), ScalarType::TimeSpan),
        Literal::Guid(s) => match parse_guid(s) {
            Some(g) => (Value::Guid(Arc::from(g)), ScalarType::Guid),
            None => {
                return Err(EvalError::new(
                    "KQL0205",
                    format!("invalid guid literal `{s}`"),
                    span,
                ));
            }
        },
        Literal::Null(ty) => {
            let ty = ScalarType::from_name(ty).unwrap_or(ScalarType::Dynamic);
            (ty.null(), ty)
        }
        Literal::Dynamic(d) => (dynamic_literal(d, span)?, ScalarType::Dynamic),
    })
}

fn dynamic_literal(d: &super::ast::Dynamic, span: Span) -> R<Value> {
    use super::ast::Dynamic as D;
    Ok(match d {
        D::Null => Value::Null,
        D::Scalar(l) => literal_value(l, span)?.0.convert(ScalarType::Dynamic),
        D::Array(items) => Value::array(
            items
                .iter()
                .map(|i| dynamic_literal(i, span))
                .collect::<R<Vec<_>>>()?,
        ),
        D::Object(pairs) => Value::bag(
            pairs
                .iter()
                .map(|(k, v)| Ok((k.clone(), dynamic_literal(v, span)?)))
                .collect::<R<IndexMap<_, _>>>()?,
        ),
    })
}

impl Value {
    /// Converts to `ty`, keeping the value when the conversion would lose it (for declared types).
    fn convert_lossless(self, ty: ScalarType) -> Value {
        if self.is_null() {
            return ty.null();
        }
        let converted = self.convert(ty);
        if converted.is_null() { self } else { converted }
    }
}

type Params = HashMap<String, Compiled>;

fn compile_expr(ev: &mut Evaluator<'_>, e: &Expr, cols: &[Column], params: &Params) -> R<Compiled> {
    let sub = |ev: &mut Evaluator<'_>, x: &Expr| compile_expr(ev, x, cols, params);
    Ok(match &e.kind {
        ExprKind::Literal(l) => {
            let (v, ty) = literal_value(l, e.span)?;
            Compiled::constant(v, ty)
        }
        ExprKind::Paren(inner) => sub(ev, inner)?,
        ExprKind::Name(id) => resolve_name(ev, id, cols, params)?,
        ExprKind::Wildcard(w) => {
            return Err(EvalError::new(
                "KQL0205",
                format!("`{w}` is not allowed here"),
                e.span,
            ));
        }
        ExprKind::Binary { op, lhs, rhs } => {
            let l = sub(ev, lhs)?;
            let r = sub(ev, rhs)?;
            match op {
                BinOp::And | BinOp::Or => {
                    for (side, x) in [(&l, lhs), (&r, rhs)] {
                        if !matches!(side.ty, ScalarType::Bool | ScalarType::Dynamic) {
                            return Err(EvalError::new(
                                "KQL0205",
                                format!("`{}` expects bool operands, not {}", op.symbol(), side.ty),
                                x.span,
                            ));
                        }
                    }
                    let kind = if *op == BinOp::And {
                        CExpr::And(Box::new(l), Box::new(r))
                    } else {
                        CExpr::Or(Box::new(l), Box::new(r))
                    };
                    Compiled {
                        kind,
                        ty: ScalarType::Bool,
                    }
                }
                BinOp::Eq
                | BinOp::Ne
                | BinOp::Lt
                | BinOp::Le
                | BinOp::Gt
                | BinOp::Ge
                | BinOp::EqCi
                | BinOp::NeCi => {
                    check_comparable(*op, &l, &r, e.span)?;
                    fold(
                        ev.ctx.now,
                        Compiled {
                            kind: CExpr::Cmp(*op, Box::new(l), Box::new(r)),
                            ty: ScalarType::Bool,
                        },
                    )
                }
                BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                    let Some(ty) = arith_type(*op, l.ty, r.ty) else {
                        let mut err = EvalError::new(
                            "KQL0205",
                            format!("cannot apply `{}` to {} and {}", op.symbol(), l.ty, r.ty),
                            e.span,
                        );
                        if l.ty == ScalarType::String || r.ty == ScalarType::String {
                            err = err.help("join strings with strcat()");
                        }
                        return Err(err);
                    };
                    fold(
                        ev.ctx.now,
                        Compiled {
                            kind: CExpr::Arith(*op, Box::new(l), Box::new(r)),
                            ty,
                        },
                    )
                }
                BinOp::Str {
                    op: sop,
                    negated,
                    case_sensitive,
                } => {
                    let kind = match &r.kind {
                        CExpr::Const(v) => {
                            let text = v.to_kql_string();
                            let needle = if *case_sensitive {
                                text
                            } else {
                                func::fold(&text).into_owned()
                            };
                            CExpr::StrConst {
                                op: *sop,
                                negated: *negated,
                                cs: *case_sensitive,
                                lhs: Box::new(l),
                                needle,
                            }
                        }
                        _ => CExpr::Str {
                            op: *sop,
                            negated: *negated,
                            cs: *case_sensitive,
                            lhs: Box::new(l),
                            rhs: Box::new(r),
                        },
                    };
                    Compiled {
                        kind,
                        ty: ScalarType::Bool,
                    }
                }
                BinOp::MatchesRegex => {
                    let kind = match &r.kind {
                        CExpr::Const(v) => {
                            let re = func::regex(&v.to_kql_string())
                                .map_err(|m| EvalError::new("KQL0207", m, rhs.span))?;
                            CExpr::Regex(Box::new(l), re)
                        }
                        _ => CExpr::RegexDyn(Box::new(l), Box::new(r)),
                    };
                    Compiled {
                        kind,
                        ty: ScalarType::Bool,
                    }
                }
            }
        }
        ExprKind::Unary { op, expr } => {
            let c = sub(ev, expr)?;
            match op {
                UnaryOp::Plus => c,
                UnaryOp::Neg => {
                    if !(c.ty.is_numeric()
                        || c.ty == ScalarType::TimeSpan
                        || c.ty == ScalarType::Dynamic)
                    {
                        return Err(EvalError::new(
                            "KQL0205",
                            format!("cannot negate a {}", c.ty),
                            e.span,
                        ));
                    }
                    let ty = c.ty;
                    fold(
                        ev.ctx.now,
                        Compiled {
                            kind: CExpr::Neg(Box::new(c)),
                            ty,
                        },
                    )
                }
            }
        }
        ExprKind::List { op, lhs, items } => {
            let l = sub(ev, lhs)?;
            let mut compiled = Vec::new();
            for item in items {
                compiled.push(list_item(ev, item, cols, params)?);
            }
            let in_expr = Compiled {
                kind: CExpr::In {
                    op: *op,
                    lhs: Box::new(l),
                    items: compiled,
                },
                ty: ScalarType::Bool,
            };
            constant_list(in_expr)
        }
        ExprKind::Between {
            negated,
            lhs,
            low,
            high,
        } => {
            let l = sub(ev, lhs)?;
            let lo = sub(ev, low)?;
            let hi = sub(ev, high)?;
            // `x between (a .. b)` with a timespan upper bound means a .. a+b.
            let hi = if matches!(l.ty, ScalarType::DateTime) && hi.ty == ScalarType::TimeSpan {
                fold(
                    ev.ctx.now,
                    Compiled {
                        kind: CExpr::Arith(BinOp::Add, Box::new(lo.clone()), Box::new(hi)),
                        ty: ScalarType::DateTime,
                    },
                )
            } else {
                hi
            };
            Compiled {
                kind: CExpr::Between {
                    negated: *negated,
                    lhs: Box::new(l),
                    low: Box::new(lo),
                    high: Box::new(hi),
                },
                ty: ScalarType::Bool,
            }
        }
        ExprKind::Member { expr, name } => {
            if let ExprKind::Name(id) = &expr.kind
                && (id.name == "$left" || id.name == "$right")
            {
                return Err(EvalError::new(
                    "KQL0209",
                    "`$left` and `$right` are only valid in join conditions",
                    e.span,
                ));
            }
            let obj = sub(ev, expr)?;
            Compiled {
                kind: CExpr::Member(Box::new(obj), name.name.clone()),
                ty: ScalarType::Dynamic,
            }
        }
        ExprKind::Index { expr, index } => {
            let obj = sub(ev, expr)?;
            let idx = sub(ev, index)?;
            Compiled {
                kind: CExpr::Index(Box::new(obj), Box::new(idx)),
                ty: ScalarType::Dynamic,
            }
        }
        ExprKind::Subquery(t) => {
            let table = ev.tabular(t)?;
            subquery_value(&table, e.span)?
        }
        ExprKind::Call { name, args } => compile_call(ev, e, name, args, cols, params)?,
    })
}

/// A single-column table in scalar position: its values as a dynamic array (for `in`).
fn subquery_value(table: &Table, span: Span) -> R<Compiled> {
    if table.columns.is_empty() {
        return Err(EvalError::new(
            "KQL0205",
            "the subquery returns no columns",
            span,
        ));
    }
    let values: Vec<Value> = table.rows.iter().map(|r| r.values[0].clone()).collect();
    Ok(Compiled::constant(
        Value::array(values),
        ScalarType::Dynamic,
    ))
}

fn list_item(ev: &mut Evaluator<'_>, item: &Expr, cols: &[Column], params: &Params) -> R<Compiled> {
    if let ExprKind::Paren(inner) = &item.kind {
        return list_item(ev, inner, cols, params);
    }
    // A name may be a tabular let: its first column is the list.
    if let ExprKind::Name(id) = &item.kind
        && cols.iter().all(|c| c.name != id.name)
        && !params.contains_key(&id.name)
        && let Some((Binding::Table(t), _)) = ev.lookup(&id.name)
    {
        let t = t.clone();
        return subquery_value(&t, item.span);
    }
    let c = compile_expr(ev, item, cols, params)?;
    Ok(match c.kind {
        // Scalars listed literally must not be flattened; dynamic arrays (lets, dynamic([...])) are.
        CExpr::Const(Value::Array(_)) => Compiled {
            ty: ScalarType::Dynamic,
            ..c
        },
        _ => c,
    })
}

fn check_comparable(op: BinOp, l: &Compiled, r: &Compiled, span: Span) -> R<()> {
    use ScalarType as T;
    let temporal = |t: T| matches!(t, T::DateTime | T::TimeSpan);
    let ok = |a: T, b: T| {
        !(temporal(a) && (b.is_numeric() || b == T::Bool)
            || temporal(b) && (a.is_numeric() || a == T::Bool)
            || (temporal(a) && temporal(b) && a != b))
            || a == b
            || a == T::Dynamic
            || b == T::Dynamic
            || (a.is_numeric() && b.is_numeric())
            || (matches!(a, T::Guid | T::String) && matches!(b, T::Guid | T::String))
            || (a == T::Bool && b.is_numeric())
            || (b == T::Bool && a.is_numeric())
            || (matches!(op, BinOp::EqCi | BinOp::NeCi))
            || (a == T::DateTime && b == T::String)
            || (b == T::DateTime && a == T::String)
    };
    if ok(l.ty, r.ty) {
        Ok(())
    } else {
        Err(EvalError::new(
            "KQL0205",
            format!(
                "cannot compare {} with {} using `{}`",
                l.ty,
                r.ty,
                op.symbol()
            ),
            span,
        ))
    }
}

/// Evaluates an `in` list once when every item is constant.
fn constant_list(c: Compiled) -> Compiled {
    let CExpr::In { op, lhs, items } = c.kind else {
        return c;
    };
    if !items.iter().all(|i| matches!(i.kind, CExpr::Const(_))) {
        return Compiled {
            kind: CExpr::In { op, lhs, items },
            ty: c.ty,
        };
    }
    let mut values = Vec::new();
    for item in &items {
        match &item.kind {
            CExpr::Const(Value::Array(a)) if item.ty == ScalarType::Dynamic => {
                values.extend(a.iter().cloned())
            }
            CExpr::Const(other) => values.push(other.clone()),
            _ => {}
        }
    }
    Compiled {
        kind: CExpr::InConst { op, lhs, values },
        ty: c.ty,
    }
}

/// Folds constant sub-expressions (no column reads) into a constant.
fn fold(now: i64, c: Compiled) -> Compiled {
    fn is_const(c: &Compiled) -> bool {
        matches!(c.kind, CExpr::Const(_))
    }
    let all_const = match &c.kind {
        CExpr::Cmp(_, a, b) | CExpr::Arith(_, a, b) => is_const(a) && is_const(b),
        CExpr::Neg(a) => is_const(a),
        CExpr::Call(f, args, _) => {
            args.iter().all(is_const) && !matches!(f.name, "new_guid" | "rand")
        }
        _ => false,
    };
    if !all_const {
        return c;
    }
    match c.eval(&[], &Context { now }) {
        Ok(v) => Compiled::constant(v, c.ty),
        Err(_) => c,
    }
}

fn resolve_name(
    ev: &mut Evaluator<'_>,
    id: &Ident,
    cols: &[Column],
    params: &Params,
) -> R<Compiled> {
    if let Some(c) = params.get(&id.name) {
        return Ok(c.clone());
    }
    if let Some(i) = cols.iter().position(|c| c.name == id.name) {
        return Ok(Compiled {
            kind: CExpr::Col(i),
            ty: cols[i].ty,
        });
    }
    if let Some((b, _)) = ev.lookup(&id.name) {
        match b.clone() {
            Binding::Scalar(v, ty) => return Ok(Compiled::constant(v, ty)),
            Binding::Table(t) => {
                // A one-row, one-column table used as a scalar behaves like toscalar().
                if t.columns.len() == 1 {
                    return subquery_value(&t, id.span);
                }
            }
            Binding::Function(_) => {}
        }
    }
    match id.name.as_str() {
        "true" => return Ok(Compiled::constant(Value::Bool(true), ScalarType::Bool)),
        "false" => return Ok(Compiled::constant(Value::Bool(false), ScalarType::Bool)),
        _ => {}
    }
    let mut names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
    let scope_names: Vec<String> = ev.scopes.iter().flat_map(|s| s.keys().cloned()).collect();
    names.extend(scope_names.iter().map(String::as_str));
    let mut err = EvalError::new("KQL0202", format!("unknown column `{}`", id.name), id.span);
    if let Some(s) = did_you_mean(&id.name, names) {
        err = err.help(format!("did you mean `{s}`?"));
    }
    Err(err)
}

fn compile_call(
    ev: &mut Evaluator<'_>,
    e: &Expr,
    name: &Ident,
    args: &[Arg],
    cols: &[Column],
    params: &Params,
) -> R<Compiled> {
    let fname = name.name.as_str();
    // Forms the evaluator handles itself.
    match fname {
        "not" => {
            let [a] = args else {
                return Err(EvalError::new(
                    "KQL0206",
                    "`not` takes one argument",
                    e.span,
                ));
            };
            let c = compile_expr(ev, &a.value, cols, params)?;
            return Ok(fold(
                ev.ctx.now,
                Compiled {
                    kind: CExpr::Not(Box::new(c)),
                    ty: ScalarType::Bool,
                },
            ));
        }
        "column_ifexists" => {
            let [col, default] = args else {
                return Err(EvalError::new(
                    "KQL0206",
                    "`column_ifexists` takes a column name and a default",
                    e.span,
                ));
            };
            let name_c = compile_expr(ev, &col.value, cols, params)?;
            let CExpr::Const(Value::String(col_name)) = &name_c.kind else {
                return Err(EvalError::new(
                    "KQL0205",
                    "column_ifexists expects a constant string column name",
                    col.value.span,
                ));
            };
            return match cols.iter().position(|c| c.name == col_name.as_ref()) {
                Some(i) => Ok(Compiled {
                    kind: CExpr::Col(i),
                    ty: cols[i].ty,
                }),
                None => compile_expr(ev, &default.value, cols, params),
            };
        }
        "bag_pack_columns" | "pack_all" => {
            let mut keys = Vec::new();
            let mut values = Vec::new();
            if fname == "pack_all" {
                for (i, c) in cols.iter().enumerate() {
                    keys.push(c.name.clone());
                    values.push(Compiled {
                        kind: CExpr::Col(i),
                        ty: c.ty,
                    });
                }
            } else {
                for a in args {
                    let ExprKind::Name(id) = &a.value.kind else {
                        return Err(EvalError::new(
                            "KQL0205",
                            "bag_pack_columns takes column names",
                            a.value.span,
                        ));
                    };
                    keys.push(id.name.clone());
                    values.push(compile_expr(ev, &a.value, cols, params)?);
                }
            }
            let Some(f) = func::scalar("bag_pack") else {
                return Err(EvalError::new("KQL0203", "bag_pack is missing", e.span));
            };
            let mut interleaved = Vec::new();
            for (k, v) in keys.into_iter().zip(values) {
                interleaved.push(Compiled::constant(Value::str(k), ScalarType::String));
                interleaved.push(v);
            }
            return Ok(Compiled {
                kind: CExpr::Call(f, interleaved, e.span),
                ty: ScalarType::Dynamic,
            });
        }
        "toscalar" => {
            let [a] = args else {
                return Err(EvalError::new(
                    "KQL0206",
                    "`toscalar` takes one argument",
                    e.span,
                ));
            };
            return match ev.try_tabular_expr(&a.value)? {
                Some(t) => Ok(match (t.columns.first(), t.rows.first()) {
                    (Some(c), Some(r)) => Compiled::constant(r.values[0].clone(), c.ty),
                    (Some(c), None) => Compiled::constant(c.ty.null(), c.ty),
                    _ => Compiled::constant(Value::Null, ScalarType::Dynamic),
                }),
                None => compile_expr(ev, &a.value, cols, params),
            };
        }
        "typeof" => {
            let type_name = args
                .first()
                .map(|a| type_arg_name(&a.value))
                .unwrap_or_default();
            let Some(ty) = ScalarType::from_name(type_name.trim()) else {
                return Err(EvalError::new(
                    "KQL0205",
                    format!("unknown type `{type_name}`"),
                    e.span,
                ));
            };
            return Ok(Compiled::constant(
                Value::str(ty.name()),
                ScalarType::String,
            ));
        }
        "materialize" => {
            return Err(EvalError::new(
                "KQL0205",
                "materialize() returns a table; use it as a tabular source",
                e.span,
            ));
        }
        "row_number" => {
            let start = match args.first() {
                Some(a) => compile_expr(ev, &a.value, cols, params)?
                    .eval(&[], &ev.ctx)?
                    .to_long()
                    .unwrap_or(1),
                None => 1,
            };
            let restart = match args.get(1) {
                Some(a) => Some(Box::new(compile_expr(ev, &a.value, cols, params)?)),
                None => None,
            };
            return Ok(Compiled {
                kind: CExpr::RowNumber {
                    start,
                    next: std::cell::Cell::new(start),
                    restart,
                },
                ty: ScalarType::Long,
            });
        }
        "ingestion_time" => {
            // Generated and recorded events are taken as ingested when they happened.
            return Ok(
                match ["TimeGenerated", "Timestamp"].iter().find_map(|n| {
                    cols.iter()
                        .position(|c| &c.name == n && c.ty == ScalarType::DateTime)
                }) {
                    Some(i) => Compiled {
                        kind: CExpr::Col(i),
                        ty: ScalarType::DateTime,
                    },
                    None => Compiled::constant(Value::Null, ScalarType::DateTime),
                },
            );
        }
        _ => {}
    }
    // User-defined scalar functions are inlined.
    if let Some((Binding::Function(def), _)) = ev.lookup(fname) {
        let def = def.clone();
        return inline_function(ev, e, fname, &def, args, cols, params);
    }
    let Some(f) = func::scalar(fname) else {
        if func::aggregate(fname).is_some() {
            return Err(EvalError::new(
                "KQL0205",
                format!("aggregate function `{fname}` is only valid in summarize"),
                name.span,
            ));
        }
        let mut err = EvalError::new("KQL0203", format!("unknown function `{fname}`"), name.span);
        if let Some(s) = did_you_mean(fname, func::known_names()) {
            err = err.help(format!("did you mean `{s}`?"));
        }
        return Err(err);
    };
    if args.len() < f.min || args.len() > f.max {
        let expected = if f.min == f.max {
            f.min.to_string()
        } else if f.max == usize::MAX {
            format!("at least {}", f.min)
        } else {
            format!("{} to {}", f.min, f.max)
        };
        return Err(EvalError::new(
            "KQL0206",
            format!("`{fname}` takes {expected} arguments, got {}", args.len()),
            e.span,
        ));
    }
    let mut compiled = Vec::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        // `extract(re, 1, text, typeof(long))`: the type argument is passed as its name.
        if fname == "extract"
            && i == 3
            && let ExprKind::Call { name, args: targs } = &a.value.kind
            && name.name == "typeof"
        {
            let tn = targs
                .first()
                .map(|x| type_arg_name(&x.value))
                .unwrap_or_default();
            compiled.push(Compiled::constant(
                Value::str(tn.trim()),
                ScalarType::String,
            ));
            continue;
        }
        compiled.push(compile_expr(ev, &a.value, cols, params)?);
    }
    if matches!(
        fname,
        "extract" | "extract_all" | "replace" | "replace_regex" | "matches"
    ) {
        let pattern_arg = if fname == "replace_regex" { 1 } else { 0 };
        if let Some(Compiled {
            kind: CExpr::Const(v),
            ..
        }) = compiled.get(pattern_arg)
        {
            func::regex(&v.to_kql_string())
                .map_err(|m| EvalError::new("KQL0207", m, args[pattern_arg].value.span))?;
        }
    }
    let mut types: Vec<ScalarType> = compiled.iter().map(|c| c.ty).collect();
    if fname == "extract"
        && compiled.len() == 4
        && let CExpr::Const(v) = &compiled[3].kind
    {
        types[0] = ScalarType::from_name(&v.to_kql_string()).unwrap_or(ScalarType::String);
        return Ok(Compiled {
            kind: CExpr::Call(f, compiled, e.span),
            ty: types[0],
        });
    }
    let ty = func::return_type(f, &types);
    Ok(fold(
        ev.ctx.now,
        Compiled {
            kind: CExpr::Call(f, compiled, e.span),
            ty,
        },
    ))
}

/// The type name in `typeof(long)`.
fn type_arg_name(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Name(id) => id.name.clone(),
        _ => e.to_string(),
    }
}

fn inline_function(
    ev: &mut Evaluator<'_>,
    e: &Expr,
    fname: &str,
    def: &FunctionDef,
    args: &[Arg],
    cols: &[Column],
    params: &Params,
) -> R<Compiled> {
    let Some(last) = def.body.last() else {
        return Err(EvalError::new("KQL0204", "empty function body", def.span));
    };
    let body = match &last.kind {
        StatementKind::Scalar(x) => x,
        _ => {
            return Err(EvalError::new(
                "KQL0205",
                format!("function `{fname}` returns a table; use it as a tabular source"),
                e.span,
            ));
        }
    };
    if ev.depth >= MAX_CALL_DEPTH {
        return Err(EvalError::new(
            "KQL0204",
            format!("function `{fname}` recurses too deeply"),
            e.span,
        ));
    }
    let mut inner: Params = params.clone();
    let mut positional = args.iter().filter(|a| a.name.is_none());
    for p in &def.params {
        let named = args
            .iter()
            .find(|a| a.name.as_ref().is_some_and(|n| n.name == p.name.name));
        let expr = named
            .or_else(|| positional.next())
            .map(|a| &a.value)
            .or(p.default.as_ref());
        let Some(expr) = expr else {
            return Err(EvalError::new(
                "KQL0206",
                format!("missing argument `{}` of `{fname}`", p.name.name),
                e.span,
            ));
        };
        let c = compile_expr(ev, expr, cols, params)?;
        inner.insert(p.name.name.clone(), c);
    }
    ev.depth += 1;
    ev.scopes.push(HashMap::new());
    let mut result = Ok(());
    for s in &def.body[..def.body.len() - 1] {
        if let StatementKind::Let { name, value } = &s.kind {
            result = ev.let_statement(name, value);
            if result.is_err() {
                break;
            }
        }
    }
    let compiled = result.and_then(|()| compile_expr(ev, body, cols, &inner));
    ev.scopes.pop();
    ev.depth -= 1;
    compiled
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

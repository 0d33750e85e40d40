//! Where rows come from: table names, tabular `let`s and functions, ASIM parser calls,
//! `datatable`, `externaldata`, `range`, `print` and `search` sources.

use super::scalar::Compiled;
use super::{Binding, EvalError, Evaluator, R};
use crate::diag::{Span, did_you_mean};
use crate::kql::ast::{
    Arg, ColumnExpr, Expr, ExprKind, Ident, Literal, Source, SourceKind, TabularExpr,
};
use crate::kql::bind::{asim_filter, watchlist_columns};
use crate::kql::func;
use crate::kql::schema::{Column, asim_process_function, retired_asim_function, retired_table};
use crate::kql::table::{Row, Table};
use crate::kql::value::{ScalarType, Value};
use std::sync::Arc;

/// Rows a `range` operator may generate: more is a diagnostic, not an out-of-memory (Kusto
/// documents no bound, and its result would not be the truncated one `range()` gives).
const RANGE_ROWS_MAX: usize = 1 << 22;

impl Evaluator<'_> {
    /// When `e` names a table, a tabular `let`, a tabular function call or `materialize(...)`,
    /// its table; `None` for a scalar expression.
    pub(super) fn try_tabular_expr(&mut self, e: &Expr) -> R<Option<Arc<Table>>> {
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
                let table = self.db.table(&id.name);
                if table.is_some() {
                    self.warn_retired(&id.name, id.span);
                }
                Ok(table)
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
                if name.name == "_GetWatchlist" {
                    return self.get_watchlist(args, e.span).map(Some);
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

    pub(super) fn tabular_arg(&mut self, e: &Expr) -> R<Arc<Table>> {
        match self.try_tabular_expr(e)? {
            Some(t) => Ok(t),
            None => Err(EvalError::new(
                "KQL0205",
                "expected a tabular expression",
                e.span,
            )),
        }
    }

    pub(super) fn table_by_name(&mut self, name: &str, span: Span) -> R<Arc<Table>> {
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
            self.warn_retired(name, span);
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
        if name.starts_with("{{") || name.contains("{{") {
            err = err.help(
                "this is a template placeholder; substitute a value before running the query",
            );
        } else if let Some(s) = did_you_mean(name, names.iter().map(String::as_str)) {
            err = err.help(format!("did you mean `{s}`?"));
        }
        Err(err)
    }

    /// Sentinel's `_GetWatchlist('alias')`: the watchlist bound under that alias, or (offline,
    /// with a `KQL0208` warning) an empty one. Either way the item columns come from the data,
    /// so the table is open.
    fn get_watchlist(&mut self, args: &[Arg], span: Span) -> R<Arc<Table>> {
        let [alias] = args else {
            return Err(EvalError::new(
                "KQL0206",
                "_GetWatchlist takes the watchlist alias",
                span,
            ));
        };
        let c = self.compile(&alias.value, &[])?;
        let Value::String(alias_text) = c.eval_const(self)? else {
            return Err(EvalError::new(
                "KQL0205",
                "the watchlist alias must be a string",
                alias.value.span,
            ));
        };
        if let Some(t) = self.db.watchlist(&alias_text) {
            return Ok(t);
        }
        self.warn(
            EvalError::new(
                "KQL0208",
                format!("watchlist `{alias_text}` is not loaded; `_GetWatchlist` returns it empty"),
                span,
            )
            .help("load its items with `firedrill kql --watchlist ALIAS[:SEARCHKEY]=FILE.jsonl`"),
        );
        Ok(Arc::new(Table {
            columns: watchlist_columns(),
            rows: Vec::new(),
            open: true,
            serialized: false,
        }))
    }

    /// A warning when `name` is a retired ASIM parser that runs as its replacement's stand-in,
    /// or a retired table read with its archived columns.
    fn warn_retired(&mut self, name: &str, span: Span) {
        if let Some((current, since)) = retired_table(name)
            && !self.db.is_bound(name)
        {
            self.warn(
                EvalError::new(
                    "KQL0208",
                    format!("`{name}` is a retired table (no records since {since}); firedrill reads it empty, with the columns of its archived reference page"),
                    span,
                )
                .help(format!("use `{current}`")),
            );
        }
        if let Some(current) = retired_asim_function(name) {
            self.warn(
                EvalError::new(
                    "KQL0208",
                    format!("`{name}` is the retired name of the ASIM parser `{current}`; firedrill runs `{current}` in its place"),
                    span,
                )
                .help(format!("use `{current}`; columns the retired parser named differently are not provided")),
            );
        }
    }

    /// `imProcessCreate(starttime=..., ...)`: the bound ASIM table filtered by the parser parameters.
    pub(super) fn asim_call(&mut self, name: &str, args: &[Arg], span: Span) -> R<Arc<Table>> {
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
                None => match crate::kql::bind::ASIM_PROCESS_PARAMETERS.get(i) {
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

    pub(super) fn source(&mut self, s: &Source) -> R<Table> {
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
                    open: false,
                    serialized: false,
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
                let compiled = [from, to, step].map(|e| self.compile(e, &[]));
                let [from_c, to_c, step_c] = compiled;
                let (from_c, to_c, step_c) = (from_c?, to_c?, step_c?);
                let ty = match (from_c.ty, to_c.ty, step_c.ty) {
                    (ScalarType::DateTime, ScalarType::DateTime, ScalarType::TimeSpan) => {
                        ScalarType::DateTime
                    }
                    (ScalarType::TimeSpan, ScalarType::TimeSpan, ScalarType::TimeSpan) => {
                        ScalarType::TimeSpan
                    }
                    (a, b, c) if [a, b, c].iter().all(|t| t.is_numeric()) => {
                        if [a, b, c]
                            .iter()
                            .any(|t| matches!(t, ScalarType::Real | ScalarType::Decimal))
                        {
                            ScalarType::Real
                        } else {
                            ScalarType::Long
                        }
                    }
                    (a, b, c) => {
                        return Err(EvalError::new(
                            "KQL0205",
                            format!(
                                "range takes numbers, or datetimes or timespans stepped by a \
                                 timespan, not {a}, {b} and {c}"
                            ),
                            s.span,
                        ));
                    }
                };
                // Numbers of mixed kinds step as reals (the column's type).
                let value = |c: &Compiled, ev: &mut Self| -> R<Value> {
                    let v = c.eval_const(ev)?;
                    Ok(match (ty, &v) {
                        (ScalarType::Real, Value::Long(n)) => Value::Real(*n as f64),
                        _ => v,
                    })
                };
                let (a, b, st) = (
                    value(&from_c, self)?,
                    value(&to_c, self)?,
                    value(&step_c, self)?,
                );
                let mut rows = Vec::new();
                // Null bounds or a zero step: no rows (as `range()` gives null).
                if let Some(series) = func::Series::new(&a, &b, Some(&st)) {
                    let len = series.len();
                    if len > RANGE_ROWS_MAX as u64 {
                        return Err(EvalError::new(
                            "KQL0206",
                            format!(
                                "range would generate {len} rows; firedrill generates at most \
                                 {RANGE_ROWS_MAX}"
                            ),
                            s.span,
                        ));
                    }
                    rows = series.map(|v| Row::literal(vec![v])).collect();
                }
                Ok(Table {
                    columns: vec![Column::new(column.name.clone(), ty)],
                    rows,
                    open: false,
                    // The serialize operator's page: range's output is serialized.
                    serialized: true,
                })
            }
            SourceKind::Print(items) => {
                let empty = Table {
                    columns: vec![],
                    rows: vec![Row::literal(vec![])],
                    open: false,
                    serialized: false,
                };
                // An unnamed column is `print_` and its position, whatever its expression
                // (Kusto.Language names `print v, v + 1` `print_0`, `print_1`).
                let named: Vec<ColumnExpr> = items
                    .iter()
                    .enumerate()
                    .map(|(at, item)| {
                        let mut item = item.clone();
                        // Sorting several arrays names its columns after them.
                        if item.names.is_empty() && !super::rows::sorts_several_arrays(&item.expr) {
                            item.names = vec![Ident::new(format!("print_{at}"), item.span)];
                        }
                        item
                    })
                    .collect();
                self.project(&empty, &named, false, s.span)
            }
            SourceKind::Find(find) => self.find(find),
            SourceKind::Search(search) => {
                let mut base = if search.tables.is_empty() {
                    self.search_every_table(s.span)?
                } else {
                    self.union_tables_from(&[], &search.tables, s.span, None, Some("$table"))?
                };
                base = self.search(base, &search.predicate, &search.params)?;
                Ok(base)
            }
        }
    }

    /// "All tables of the database in scope" for `search` and `find` without `in (...)` (their
    /// pages): every table the catalog knows and every bound table, once each, in name order.
    /// The ASIM process parser and its aliases (`_Im_ProcessCreate`, `imProcess`,
    /// `ASimProcessEventLogs`, ...) read one table, so it counts once, as `imProcessCreate`;
    /// retired tables (`AppFileEvents`) are stand-ins for queries that name them and are left
    /// out.
    pub(super) fn database_tables(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .db
            .table_names()
            .into_iter()
            .filter(|n| retired_table(n).is_none())
            .map(|n| {
                if asim_process_function(n) {
                    "imProcessCreate".to_string()
                } else {
                    n.to_string()
                }
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// `search` without `in (...)`: every table of [`Self::database_tables`], each row's table
    /// in `$table`.
    fn search_every_table(&mut self, span: Span) -> R<Table> {
        let tables: Vec<TabularExpr> = self
            .database_tables()
            .into_iter()
            .map(|name| {
                let e = Expr::new(
                    ExprKind::Name(crate::kql::ast::Ident::new(name, span)),
                    span,
                );
                TabularExpr {
                    source: Source {
                        kind: SourceKind::Expr(e),
                        span,
                    },
                    ops: vec![],
                    span,
                }
            })
            .collect();
        self.union_tables_from(&[], &tables, span, None, Some("$table"))
    }

    pub(super) fn column_decls(&self, decls: &[crate::kql::ast::ColumnDecl]) -> R<Vec<Column>> {
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
}

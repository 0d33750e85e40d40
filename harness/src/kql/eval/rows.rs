//! Row and column operators: `where`, `extend`, `project` and its variants, `sort`, `top`,
//! `take`, `distinct`, `count`, `getschema` and `search`.

use super::scalar::{CExpr, Compiled};
use super::summarize::unique_name;
use super::window::{drop_hidden, has_window_call, is_hidden};
use super::{
    EvalError, Evaluator, R, column_or_error, derived_name, next_column_name, param_value,
    wildcard_match,
};
use crate::diag::Span;
use crate::kql::ast::{
    BinOp, ColumnExpr, Expr, ExprKind, Ident, Literal, NullsPlacement, OpParam, SortKey, SortOrder,
    StrOp,
};
use crate::kql::schema::Column;
use crate::kql::table::{Row, Table, merge_sources};
use crate::kql::value::{GroupKey, ScalarType, Value};
use indexmap::IndexMap;

impl Evaluator<'_> {
    /// `project-reorder`: the listed columns first, in order, then the rest.
    pub(super) fn project_reorder(
        &self,
        input: Table,
        items: &[(Expr, Option<Ident>)],
    ) -> R<Table> {
        let mut order: Vec<usize> = Vec::new();
        for (e, sort) in items {
            let mut matched = self.match_columns(&input, e)?;
            // The columns a pattern matches, ordered by name when asked: `granny-` orders the
            // numbers in names by value (`a20` before `a100`).
            if let Some(sort) = sort {
                let name = |i: &usize| input.columns[*i].name.as_str();
                match sort.name.as_str() {
                    "asc" => matched.sort_by(|a, b| name(a).cmp(name(b))),
                    "desc" => matched.sort_by(|a, b| name(b).cmp(name(a))),
                    "granny-asc" => matched.sort_by(|a, b| natural_cmp(name(a), name(b))),
                    _ => matched.sort_by(|a, b| natural_cmp(name(b), name(a))),
                }
            }
            for i in matched {
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

    pub(super) fn predicate(&mut self, pred: &Expr, columns: &[Column]) -> R<Compiled> {
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

    pub(super) fn filter_ref(&mut self, input: &Table, pred: &Expr) -> R<Table> {
        if has_window_call(pred) {
            return self.filter(input.clone(), pred);
        }
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
            open: false,
            serialized: false,
        })
    }

    pub(super) fn filter(&mut self, mut input: Table, pred: &Expr) -> R<Table> {
        // Window function calls first become hidden columns, dropped after.
        let width = input.columns.len();
        let windowed;
        let pred = if has_window_call(pred) {
            windowed = self.materialize_windows(pred, &mut input)?;
            &windowed
        } else {
            pred
        };
        let c = self.predicate(pred, &input.columns)?;
        let mut rows = Vec::with_capacity(input.rows.len() / 4);
        for row in input.rows {
            if matches!(c.eval(&row.values, &self.ctx)?, Value::Bool(true)) {
                rows.push(row);
            }
        }
        let mut out = Table {
            columns: input.columns,
            rows,
            open: false,
            serialized: false,
        };
        drop_hidden(&mut out, width);
        Ok(out)
    }

    pub(super) fn extend(&mut self, mut t: Table, items: &[ColumnExpr]) -> R<Table> {
        let mut counter = 0;
        for item in items {
            // Window function calls become hidden columns, dropped once the item is computed.
            let width = t.columns.len();
            let windowed;
            let item = if has_window_call(&item.expr) {
                windowed = ColumnExpr {
                    expr: self.materialize_windows(&item.expr, &mut t)?,
                    ..item.clone()
                };
                &windowed
            } else {
                item
            };
            let targets = match self.multi_item(item, &t.columns, &t.columns)? {
                Some(parts) => parts,
                None => {
                    // Resolve first, so an unknown function is reported as such.
                    let c = self.compile(&item.expr, &t.columns)?;
                    if item.names.len() > 1 {
                        return Err(several_names(item, "extend"));
                    }
                    let name = match item.names.first() {
                        Some(n) => n.name.clone(),
                        None => derived_name(&item.expr)
                            .unwrap_or_else(|| next_column_name(&t.columns, &mut counter)),
                    };
                    vec![(name, c)]
                }
            };
            // Every part reads the item's input row, so all are computed before any is set.
            let mut computed = Vec::with_capacity(targets.len());
            for (name, c) in targets {
                let mut values = Vec::with_capacity(t.rows.len());
                for row in &t.rows {
                    values.push(c.eval(&row.values, &self.ctx)?);
                }
                computed.push((name, c.ty, values));
            }
            drop_hidden(&mut t, width);
            for (name, ty, values) in computed {
                set_column(&mut t, name, ty, values);
            }
        }
        Ok(t)
    }

    /// An `extend`/`project` item that calls a function returning several columns
    /// (`func::MULTI_VALUED`): one (name, value) per part. Names come from `(A, B, ...) =`
    /// first, then `<function>_<argument column>_<part>`, made unique against `taken` with a
    /// number as Kusto does (`..._baseline1`). `None` for any other item.
    fn multi_item(
        &mut self,
        item: &ColumnExpr,
        cols: &[Column],
        taken: &[Column],
    ) -> R<Option<Vec<(String, Compiled)>>> {
        let ExprKind::Call { name, args } = &item.expr.kind else {
            return Ok(None);
        };
        if matches!(name.name.as_str(), "array_sort_asc" | "array_sort_desc") {
            return self.sorted_arrays_item(item, args, cols, taken);
        }
        let Some(parts) = crate::kql::func::multi_valued(&name.name) else {
            return Ok(None);
        };
        if item.names.len() > parts.len() {
            return Err(EvalError::new(
                "KQL0206",
                format!(
                    "`{}` returns {} columns, but {} names are given",
                    name.name,
                    parts.len(),
                    item.names.len()
                ),
                item.span,
            ));
        }
        let arg = args
            .first()
            .and_then(|a| derived_name(&a.value))
            .unwrap_or_default();
        let mut used: Vec<String> = taken.iter().map(|c| c.name.clone()).collect();
        let mut out = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            self.multi_ok = true;
            let whole = self.compile(&item.expr, cols);
            self.multi_ok = false;
            let whole = whole?;
            let column = match item.names.get(i) {
                Some(n) => {
                    used.push(n.name.clone());
                    n.name.clone()
                }
                None => unique_name(format!("{}_{arg}_{part}", name.name), &mut used),
            };
            let index = Compiled::constant(Value::Long(i as i64), ScalarType::Long);
            out.push((
                column,
                Compiled {
                    kind: CExpr::Index(Box::new(whole), Box::new(index)),
                    ty: ScalarType::Dynamic,
                },
            ));
        }
        Ok(Some(out))
    }

    /// An `extend`/`project` item sorting arrays (`array_sort_asc(a, b)`): one column per array
    /// (a last boolean argument is `nulls_last`), named by `(A, B, ...) =`, else
    /// `<argument column>_sorted`, or `array<N>_sorted` for an argument that is no column, made
    /// unique against `taken`, as Kusto.Language names them. One array keeps the item's usual
    /// name when it is given one or its argument is no column. `None` when nothing splits.
    fn sorted_arrays_item(
        &mut self,
        item: &ColumnExpr,
        args: &[crate::kql::ast::Arg],
        cols: &[Column],
        taken: &[Column],
    ) -> R<Option<Vec<(String, Compiled)>>> {
        let mut arrays = args.len();
        if let Some(last) = args.last().filter(|_| args.len() > 1)
            && self.compile(&last.value, cols)?.ty == ScalarType::Bool
        {
            arrays -= 1;
        }
        let names: Vec<Option<String>> = args[..arrays]
            .iter()
            .map(|a| derived_name(&a.value))
            .collect();
        if arrays == 1 && (names[0].is_none() || !item.names.is_empty()) {
            return Ok(None);
        }
        if item.names.len() > arrays {
            return Err(EvalError::new(
                "KQL0206",
                format!(
                    "{arrays} arrays are sorted into {arrays} columns, but {} names are given",
                    item.names.len()
                ),
                item.span,
            ));
        }
        let mut used: Vec<String> = taken.iter().map(|c| c.name.clone()).collect();
        let mut out = Vec::with_capacity(arrays);
        for (i, arg_name) in names.into_iter().enumerate() {
            let column = match item.names.get(i) {
                Some(n) => {
                    used.push(n.name.clone());
                    n.name.clone()
                }
                None => unique_name(
                    format!("{}_sorted", arg_name.unwrap_or_else(|| format!("array{i}"))),
                    &mut used,
                ),
            };
            let whole = self.compile(&item.expr, cols)?;
            let part = if arrays == 1 {
                whole
            } else {
                let index = Compiled::constant(Value::Long(i as i64), ScalarType::Long);
                Compiled {
                    kind: CExpr::Index(Box::new(whole), Box::new(index)),
                    ty: ScalarType::Dynamic,
                }
            };
            out.push((column, part));
        }
        Ok(Some(out))
    }

    /// `project` (and `print`): only the listed columns. `strict` rejects wildcards.
    pub(super) fn project(
        &mut self,
        t: &Table,
        items: &[ColumnExpr],
        strict: bool,
        _span: Span,
    ) -> R<Table> {
        // Window function calls become hidden columns of a copy of the input, which the
        // projection then leaves out.
        let (windowed, rewritten);
        let (t, items) = if items.iter().any(|item| has_window_call(&item.expr)) {
            let mut copy = t.clone();
            let mut with_columns = Vec::with_capacity(items.len());
            for item in items {
                with_columns.push(ColumnExpr {
                    expr: self.materialize_windows(&item.expr, &mut copy)?,
                    ..item.clone()
                });
            }
            (windowed, rewritten) = (copy, with_columns);
            (&windowed, rewritten.as_slice())
        } else {
            (t, items)
        };
        let mut columns: Vec<Column> = Vec::new();
        let mut compiled: Vec<Compiled> = Vec::new();
        let mut counter = 0;
        for item in items {
            if let ExprKind::Wildcard(p) = &item.expr.kind {
                if strict && p != "*" {
                    // project accepts wildcards in practice (Kusto allows `project A*`).
                }
                for i in self.match_columns(t, &item.expr)? {
                    if is_hidden(&t.columns[i].name) {
                        continue;
                    }
                    columns.push(t.columns[i].clone());
                    compiled.push(Compiled {
                        kind: CExpr::Col(i),
                        ty: t.columns[i].ty,
                    });
                }
                continue;
            }
            if let Some(parts) = self.multi_item(item, &t.columns, &columns)? {
                for (name, c) in parts {
                    if let Some(existing) = columns.iter().position(|c| c.name == name) {
                        columns.remove(existing);
                        compiled.remove(existing);
                    }
                    columns.push(Column::new(name, c.ty));
                    compiled.push(c);
                }
                continue;
            }
            // Resolve first, so an unknown function is reported as such.
            let c = self.compile(&item.expr, &t.columns)?;
            if item.names.len() > 1 {
                return Err(several_names(item, "project"));
            }
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
        Ok(Table {
            columns,
            rows,
            open: false,
            serialized: false,
        })
    }

    /// Column indices matched by a name or wildcard pattern.
    pub(super) fn match_columns(&self, t: &Table, e: &Expr) -> R<Vec<usize>> {
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

    pub(super) fn select_columns(&self, t: &Table, items: &[Expr], keep: bool) -> R<Vec<usize>> {
        let mut hit = vec![false; t.columns.len()];
        for e in items {
            for i in self.match_columns(t, e)? {
                hit[i] = true;
            }
        }
        Ok((0..t.columns.len()).filter(|i| hit[*i] == keep).collect())
    }

    pub(super) fn sort(&mut self, t: Table, keys: &[SortKey]) -> R<Table> {
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
                // NaN goes with the nulls, next to the values (the sort page's table of
                // special values: `null, NaN, -inf, ...` and `..., -inf, NaN, null`).
                let nullness = |v: &Value| match v {
                    Value::Null => 2,
                    Value::Real(f) if f.is_nan() => 1,
                    _ => 0,
                };
                let o = match (nullness(x), nullness(y)) {
                    (0, 0) => {
                        let o = x.sort_cmp(y);
                        if *desc { o.reverse() } else { o }
                    }
                    (m, n) if *nulls_first => n.cmp(&m),
                    (m, n) => m.cmp(&n),
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
            open: false,
            serialized: false,
        })
    }

    /// `search`: the predicate read as the search operator page's table says (a term `x` is
    /// `* has "x"`, `x*` `* hasprefix`, `*x` `* hassuffix`, `*x*` `* contains`, `a*b`
    /// `* matches regex @"\ba.*b\b"`, `search *` every row), then filtered like `where`.
    /// `kind=case_sensitive` makes every string operator in it case-sensitive.
    pub(super) fn search(&mut self, t: Table, predicate: &Expr, params: &[OpParam]) -> R<Table> {
        let cs = param_value(params, "kind").is_some_and(|k| k == "case_sensitive");
        if matches!(&predicate.kind, ExprKind::Wildcard(w) if w == "*") {
            return Ok(Table { open: false, ..t });
        }
        let rewritten = search_predicate(predicate, cs);
        self.filter(t, &rewritten)
    }
}

/// Sets column `name` (added, or replaced when it exists) to `values`, one per row.
fn set_column(t: &mut Table, name: String, ty: ScalarType, values: Vec<Value>) {
    match t.column_index(&name) {
        Some(i) => {
            t.columns[i].ty = ty;
            for (row, v) in t.rows.iter_mut().zip(values) {
                row.values[i] = v;
            }
        }
        None => {
            t.columns.push(Column::new(name, ty));
            for (row, v) in t.rows.iter_mut().zip(values) {
                row.values.push(v);
            }
        }
    }
}

/// Compares names as `granny-asc` orders them: runs of digits by their value, the rest by
/// character (`a9` < `a10` < `b`).
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
        match (a.chars().next(), b.chars().next()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let (da, db) = (digits(a), digits(b));
                let (na, nb) = (
                    a[..da].trim_start_matches('0'),
                    b[..db].trim_start_matches('0'),
                );
                let order = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                if order.is_ne() {
                    return order;
                }
                (a, b) = (&a[da..], &b[db..]);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
                (a, b) = (&a[x.len_utf8()..], &b[y.len_utf8()..]);
            }
        }
    }
}

/// True for a call sorting several arrays together (`array_sort_asc(a, b)`), which names one
/// column per array; a last `true`/`false` is `nulls_last`, not an array.
pub(super) fn sorts_several_arrays(e: &Expr) -> bool {
    let ExprKind::Call { name, args } = &e.kind else {
        return false;
    };
    let arrays = match args.last().map(|a| &a.value.kind) {
        Some(ExprKind::Literal(Literal::Bool(_))) => args.len() - 1,
        _ => args.len(),
    };
    matches!(name.name.as_str(), "array_sort_asc" | "array_sort_desc") && arrays > 1
}

/// `(A, B) = f(...)` where `f` returns one value.
fn several_names(item: &ColumnExpr, operator: &str) -> EvalError {
    EvalError::new(
        "KQL0204",
        format!("{operator} with several names needs a function that returns several columns"),
        item.span,
    )
}

/// The `where` predicate a search predicate stands for (see [`Evaluator::search`]).
fn search_predicate(e: &Expr, case_sensitive: bool) -> Expr {
    let kind = match &e.kind {
        ExprKind::Literal(Literal::String(term)) => {
            return search_term(term, case_sensitive, e.span);
        }
        ExprKind::Paren(inner) => {
            ExprKind::Paren(Box::new(search_predicate(inner, case_sensitive)))
        }
        // A chain of terms, rewritten without recursion: it may be thousands long.
        ExprKind::Binary {
            op: op @ (BinOp::And | BinOp::Or),
            ..
        } => {
            let operands = e.operands(*op).into_iter();
            let rewritten = operands.map(|x| search_predicate(x, case_sensitive));
            return Expr::chain(*op, rewritten).unwrap_or_else(|| e.clone());
        }
        ExprKind::Call { name, args } if name.name == "not" && args.len() == 1 => {
            let mut args = args.clone();
            args[0].value = search_predicate(&args[0].value, case_sensitive);
            ExprKind::Call {
                name: name.clone(),
                args,
            }
        }
        ExprKind::Binary {
            op: BinOp::Str { op, negated, .. },
            lhs,
            rhs,
        } if case_sensitive => ExprKind::Binary {
            op: BinOp::Str {
                op: *op,
                negated: *negated,
                case_sensitive: true,
            },
            lhs: lhs.clone(),
            rhs: rhs.clone(),
        },
        other => other.clone(),
    };
    Expr::new(kind, e.span)
}

/// `* op term` for one search term, by where its `*` wildcards are.
fn search_term(term: &str, case_sensitive: bool, span: Span) -> Expr {
    let lead = term.starts_with('*');
    let trail = term.len() > 1 && term.ends_with('*');
    let core = &term[usize::from(lead)..term.len() - usize::from(trail)];
    let string = |s: String| Expr::new(ExprKind::Literal(Literal::String(s)), span);
    let (op, rhs) = if core.contains('*') {
        let body: Vec<String> = core.split('*').map(regex::escape).collect();
        let pattern = format!(
            "{}{}{}{}",
            if case_sensitive { "" } else { "(?i)" },
            if lead { "" } else { "\\b" },
            body.join(".*"),
            if trail { "" } else { "\\b" }
        );
        (BinOp::MatchesRegex, string(pattern))
    } else {
        let op = match (lead, trail) {
            (false, false) => StrOp::Has,
            (false, true) => StrOp::HasPrefix,
            (true, false) => StrOp::HasSuffix,
            (true, true) => StrOp::Contains,
        };
        (
            BinOp::Str {
                op,
                negated: false,
                case_sensitive,
            },
            string(core.to_string()),
        )
    };
    Expr::new(
        ExprKind::Binary {
            op,
            lhs: Box::new(Expr::new(ExprKind::Wildcard("*".into()), span)),
            rhs: Box::new(rhs),
        },
        span,
    )
}

pub(super) fn dotnet_type(ty: ScalarType) -> &'static str {
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

pub(super) fn pick_columns(t: Table, keep: &[usize]) -> Table {
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
        open: false,
        serialized: false,
    }
}

pub(super) fn distinct(t: Table) -> Table {
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
        open: false,
        serialized: false,
    }
}

/// `project-rename New = Old, ...`.
pub(super) fn project_rename(input: Table, pairs: &[(Ident, Ident)]) -> R<Table> {
    let mut t = input;
    for (new, old) in pairs {
        let i = column_or_error(&t, &old.name, old.span)?;
        t.columns[i].name = new.name.clone();
    }
    Ok(t)
}

/// `count`: one row, one `Count` column; its provenance is every input row's.
pub(super) fn count_rows(input: &Table) -> Table {
    let mut sources = Vec::new();
    for r in &input.rows {
        sources.extend(r.sources.iter().cloned());
    }
    sources.sort();
    sources.dedup();
    Table {
        columns: vec![Column::new("Count", ScalarType::Long)],
        rows: vec![Row {
            values: vec![Value::Long(input.rows.len() as i64)],
            sources,
        }],
        open: false,
        serialized: false,
    }
}

/// `getschema`: one row per input column.
pub(super) fn getschema(input: &Table) -> Table {
    Table {
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
        open: false,
        serialized: false,
    }
}

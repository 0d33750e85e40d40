//! `summarize`: group keys, aggregate calls and their automatic column names (`any_X`,
//! `any_X1`), and expressions over aggregates (`tostring(make_set(x))`).

use super::scalar::{CExpr, Compiled};
use super::{EvalError, Evaluator, R, derived_name, next_column_name};
use crate::diag::{Span, did_you_mean};
use crate::kql::ast::{Arg, BinOp, ColumnExpr, Expr, ExprKind, Ident};
use crate::kql::func::{self, AggKind, AggState, Context};
use crate::kql::schema::Column;
use crate::kql::table::{EventRef, Row, Table};
use crate::kql::value::{GroupKey, ScalarType, Value};
use indexmap::IndexMap;

impl Evaluator<'_> {
    /// The `by` columns of summarize and make-series: names (`bin(X, ...)` is `X`) and
    /// compiled expressions.
    pub(super) fn group_keys(
        &mut self,
        t: &Table,
        by: &[ColumnExpr],
    ) -> R<Vec<(String, Compiled)>> {
        let mut key_cols: Vec<(String, Compiled)> = Vec::new();
        let mut counter = 0;
        for item in by {
            let c = self.compile(&item.expr, &t.columns)?;
            let name = match item.names.first() {
                Some(n) => n.name.clone(),
                // Named as any unnamed column (`bin(X, 1h)` is `X`, `tolower(X)` numbered).
                None => derived_name(&item.expr)
                    .unwrap_or_else(|| next_column_name(&t.columns, &mut counter)),
            };
            key_cols.push((name, c));
        }
        Ok(key_cols)
    }

    pub(super) fn summarize(
        &mut self,
        t: &Table,
        aggregates: &[ColumnExpr],
        by: &[ColumnExpr],
        span: Span,
    ) -> R<Table> {
        let key_cols = self.group_keys(t, by)?;
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
                        _ if a.prefix.is_empty() => args
                            .first()
                            .and_then(|x| argument_name(&x.value))
                            .unwrap_or_else(|| a.name.to_string()),
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
            let name = item
                .names
                .first()
                .map(|n| n.name.clone())
                .or_else(|| automatic.map(|base| unique_name(base, &mut used)));
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
        Ok(Table {
            columns,
            rows,
            open: false,
            serialized: false,
        })
    }

    pub(super) fn agg_spec(
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
            let expected = match (agg.min, agg.max) {
                (0, 0) => "no arguments".to_string(),
                (lo, hi) if lo == hi => format!("{lo} arguments"),
                (lo, hi) => format!("{lo}..{hi} arguments"),
            };
            let mut err = EvalError::new(
                "KQL0206",
                format!("`{}` takes {expected}, got {}", agg.name, args.len()),
                item.expr.span,
            );
            if agg.name == "count" {
                err = err.help("`count()` counts the group's rows; `countif(predicate)` counts those where the predicate is true");
            }
            return Err(err);
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
        let unique = unique_name;
        let given = |i: usize| item.names.get(i).map(|n| n.name.clone());
        for n in &item.names {
            used.push(n.name.clone());
        }
        let mut outputs = Vec::new();
        let mut arg_cols = Vec::new();
        let mut percentiles = Vec::new();
        let arg_ty = compiled.first().and_then(|c| c.as_ref().map(|c| c.ty));
        // `take_any(X)` is named after X itself; `any(X)` is `any_X` (as Kusto.Language names them).
        let bare = agg.prefix.is_empty();
        let row_pick =
            agg.kind == AggKind::Any && (args.len() > 1 || args.first().is_some_and(is_star));
        match agg.kind {
            AggKind::Any if row_pick => {
                // `take_any(a, b, ...)`, `take_any(*)`: every value from one row.
                let key_names: Vec<&str> = keys.iter().map(|(n, _)| n.as_str()).collect();
                let named = |n: &str| {
                    if bare {
                        n.to_string()
                    } else {
                        format!("{}_{n}", agg.prefix)
                    }
                };
                for (i, (a, c)) in args.iter().zip(&compiled).enumerate() {
                    match c {
                        None => {
                            for (ci, col) in t.columns.iter().enumerate() {
                                if key_names.contains(&col.name.as_str()) {
                                    continue;
                                }
                                outputs.push(Column::new(unique(named(&col.name), used), col.ty));
                                arg_cols.push(Compiled {
                                    kind: CExpr::Col(ci),
                                    ty: col.ty,
                                });
                            }
                        }
                        Some(c) => {
                            let name = given(i).unwrap_or_else(|| {
                                let base =
                                    argument_name(&a.value).unwrap_or_else(|| format!("arg{i}"));
                                unique(named(&base), used)
                            });
                            outputs.push(Column::new(name, c.ty));
                            arg_cols.push(c.clone());
                        }
                    }
                }
            }
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
                    // `percentile(x, 95.5)` is `percentile_x_95_5`, as `percentiles` names each.
                    AggKind::Percentile => format!(
                        "{}_{first_name}_{}",
                        agg.prefix,
                        args.get(1)
                            .map(|a| a.value.to_string().replace('.', "_"))
                            .unwrap_or_default()
                    ),
                    _ if bare => args
                        .first()
                        .and_then(|a| derived_name(&a.value))
                        .unwrap_or_else(|| format!("{}_{}", agg.name, first_name)),
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
                if agg.kind == AggKind::PercentilesArray {
                    // The percentiles as arguments, or as one dynamic array of them.
                    for c in compiled.iter().skip(1).flatten() {
                        match c.eval_const(self)? {
                            Value::Array(items) => percentiles
                                .extend(items.iter().map(|p| p.to_real().unwrap_or(50.0))),
                            p => percentiles.push(p.to_real().unwrap_or(50.0)),
                        }
                    }
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
            row_pick,
        })
    }
}

/// The name an aggregate's argument contributes to its automatic column name (`any_X`).
pub(super) fn argument_name(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Call { args, .. } => args.first().and_then(|a| argument_name(&a.value)),
        _ => derived_name(e),
    }
}

pub(super) enum SummaryItem {
    Agg(usize),
    Post(usize),
}

/// Replaces each aggregate call in `e` by a hidden column name (`__aggN`), collecting the calls.
pub(super) fn replace_aggregates(e: &Expr, found: &mut Vec<(String, Expr)>, base: usize) -> Expr {
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
        // A chain of `and` or `or`, rewritten without recursion: it may be thousands long.
        ExprKind::Binary {
            op: op @ (BinOp::And | BinOp::Or),
            ..
        } => {
            let operands = e.operands(*op).into_iter();
            let rewritten: Vec<Expr> = operands
                .map(|x| replace_aggregates(x, found, base))
                .collect();
            return Expr::chain(*op, rewritten).unwrap_or_else(|| e.clone());
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

pub(super) struct Group {
    keys: Vec<Value>,
    states: Vec<AggState>,
    arg_rows: Vec<Option<Vec<Value>>>,
    sources: Vec<EventRef>,
}

pub(super) struct AggSpec {
    pub(super) kind: AggKind,
    args: Vec<Option<Compiled>>,
    pub(super) outputs: Vec<Column>,
    arg_cols: Vec<Compiled>,
    percentiles: Vec<f64>,
    cap: Option<usize>,
    arg_ty: Option<ScalarType>,
    /// `take_any(a, b, ...)` / `take_any(*)`: the outputs are `arg_cols` read from one row.
    row_pick: bool,
}

impl AggSpec {
    pub(super) fn new_state(&self) -> AggState {
        AggState::new(self.kind, self.cap)
    }

    pub(super) fn update(
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
            AggKind::Any if self.row_pick => {
                if arg_row.is_none() {
                    let mut values = Vec::with_capacity(self.arg_cols.len());
                    for c in &self.arg_cols {
                        values.push(c.eval(&row.values, ctx)?);
                    }
                    *arg_row = Some(values);
                }
            }
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
                // When every value is null, the group's first row is picked ("one row in the
                // group is picked", the arg_min page); a value replaces it.
                if replaced || arg_row.is_none() {
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

    pub(super) fn finish(
        &self,
        state: &AggState,
        arg_row: Option<&Vec<Value>>,
        out: &mut Vec<Value>,
    ) {
        match self.kind {
            AggKind::Any if self.row_pick => match arg_row {
                Some(values) => out.extend(values.iter().cloned()),
                None => out.extend(self.outputs.iter().map(|c| c.ty.null())),
            },
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
            AggKind::PercentilesArray => out.push(Value::array(
                self.percentiles
                    .iter()
                    .map(|p| state.finish(AggKind::Percentile, *p, self.arg_ty))
                    .collect(),
            )),
            _ => out.push(state.finish(self.kind, 50.0, self.arg_ty)),
        }
    }
}

/// `base`, or `base1`, `base2`, ... when taken; the name is then marked as used.
pub(super) fn unique_name(base: String, used: &mut Vec<String>) -> String {
    let mut name = base.clone();
    let mut n = 0;
    while used.contains(&name) {
        n += 1;
        name = format!("{base}{n}");
    }
    used.push(name.clone());
    name
}

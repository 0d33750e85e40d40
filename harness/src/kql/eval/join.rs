//! Combining tables: `join` (every kind, innerunique by default), `lookup`, and `union`
//! (wildcards, `withsource`, `kind=inner`, `isfuzzy`).

use super::{EvalError, Evaluator, R, column_or_error, param_name, param_value, wildcard_match};
use crate::diag::Span;
use crate::kql::ast::{
    BinOp, Expr, ExprKind, OpParam, OperatorKind, SourceKind, TabularExpr, Union,
};
use crate::kql::schema::Column;
use crate::kql::table::{Row, Table, merge_sources};
use crate::kql::value::{GroupKey, ScalarType, Value};
use indexmap::IndexMap;
use std::collections::HashMap;

impl Evaluator<'_> {
    /// `T | union U, ...`: the piped table first, then the others.
    pub(super) fn union_operator(&mut self, input: Table, u: &Union, span: Span) -> R<Table> {
        let piped_name = self.piped_as.take().unwrap_or_default();
        let others = self.union_tables(&u.params, &u.tables, span, None)?;
        let with_source = u.params.iter().rfind(|p| p.name.name == "withsource");
        let piped = if let Some(p) = with_source {
            let col = param_name(p);
            let mut t = input;
            t.columns.insert(0, Column::new(col, ScalarType::String));
            for r in &mut t.rows {
                r.values.insert(0, Value::str(piped_name.as_str()));
            }
            t
        } else {
            input
        };
        Ok(union_all(vec![piped, others], union_kind_inner(&u.params)))
    }

    pub(super) fn union_tables(
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
    pub(super) fn union_tables_from(
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
        let (mut parts, names) = self.table_operands(tables, pattern, fuzzy)?;
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

    /// The tables `union`, `search` and `find` read, each with its name: a wildcard (or
    /// `pattern`) expands to every matching table of the database, in name order; a
    /// subquery is named `union_arg<i>`. With `fuzzy`, unknown tables are warnings.
    pub(super) fn table_operands(
        &mut self,
        tables: &[TabularExpr],
        pattern: Option<&String>,
        fuzzy: bool,
    ) -> R<(Vec<Table>, Vec<String>)> {
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
                        // A subquery named by a last `as` (the as operator page).
                        _ => match last_as(t) {
                            Some(name) => name.to_string(),
                            None => format!("union_arg{}", parts.len() - 1),
                        },
                    });
                }
                Err(e) if fuzzy && e.code == "KQL0201" => self.warn(e),
                Err(e) => return Err(e),
            }
        }
        Ok((parts, names))
    }

    pub(super) fn join(
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
        if !crate::kql::parse::JOIN_KINDS.contains(&kind) {
            return Err(EvalError::new(
                "KQL0204",
                format!("join kind `{kind}` is not supported"),
                span,
            ));
        }
        let kind = match kind {
            "anti" | "leftantisemi" => "leftanti",
            "rightantisemi" => "rightanti",
            k => k,
        };
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
        // A right column whose name the left side (or an earlier renamed column) has becomes
        // `Name1`, `Name2`, ...: the first number no column of either side is called, as
        // Kusto names them.
        let mut names: Vec<String> = left.columns.iter().map(|c| c.name.clone()).collect();
        let taken: Vec<&str> = left
            .columns
            .iter()
            .chain(&right.columns)
            .map(|c| c.name.as_str())
            .collect();
        let mut right_cols = Vec::new();
        for &i in &right_keep {
            let mut name = right.columns[i].name.clone();
            if names.contains(&name) {
                let base = name.clone();
                let mut n = 1;
                name = format!("{base}{n}");
                while names.contains(&name) || taken.contains(&name.as_str()) {
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
        Ok(Table {
            columns,
            rows,
            open: left.open || right.open,
            serialized: false,
        })
    }
}

pub(super) fn union_kind_inner(params: &[OpParam]) -> bool {
    param_value(params, "kind").is_some_and(|k| k == "inner")
}

pub(super) fn union_all(mut parts: Vec<Table>, inner: bool) -> Table {
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
    let open = parts.iter().any(|t| t.open);
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
    Table {
        columns,
        rows,
        open,
        serialized: false,
    }
}

pub(super) fn flatten_and<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    // Without recursion: a chain of `and` may be thousands long.
    let mut pending = vec![e];
    while let Some(x) = pending.pop() {
        match &x.kind {
            ExprKind::Binary {
                op: BinOp::And,
                lhs,
                rhs,
            } => pending.extend([&**rhs, &**lhs]),
            ExprKind::Paren(inner) => pending.push(inner),
            _ => out.push(x),
        }
    }
}

/// The name a tabular expression's last operator, `as`, gives its result, looking into a
/// parenthesized subquery (`(range x from 1 to 10 step 1 | as T2)`).
fn last_as(t: &TabularExpr) -> Option<&str> {
    let mut t = t;
    loop {
        if let Some(op) = t.ops.last() {
            return match &op.kind {
                OperatorKind::As { name, .. } => Some(&name.name),
                _ => None,
            };
        }
        t = match &t.source.kind {
            SourceKind::Expr(Expr {
                kind: ExprKind::Paren(inner),
                ..
            }) => match &inner.kind {
                ExprKind::Subquery(sub) => sub,
                _ => return None,
            },
            SourceKind::Expr(Expr {
                kind: ExprKind::Subquery(sub),
                ..
            }) => sub,
            _ => return None,
        };
    }
}

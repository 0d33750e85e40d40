//! Operators that reshape rows: `mv-expand`, `mv-apply` and `parse` (the `evaluate` plugins
//! and `invoke` are in `plugin`).

use super::join::union_all;
use super::scalar::Compiled;
use super::{EvalError, Evaluator, R, derived_name, param_name, param_value};
use crate::diag::Span;
use crate::kql::ast::{Expr, MvExpandItem, OpParam, ParsePart, TabularExpr};
use crate::kql::func;
use crate::kql::schema::Column;
use crate::kql::table::{Row, Table, merge_sources};
use crate::kql::value::{ScalarType, Value};
use indexmap::IndexMap;
use std::fmt::Write as _;

impl Evaluator<'_> {
    /// the row.
    pub(super) fn mv_apply(
        &mut self,
        input: Table,
        params: &[OpParam],
        items: &[MvExpandItem],
        subquery: &TabularExpr,
        span: Span,
    ) -> R<Table> {
        let columns = input.columns.clone();
        let mut parts = Vec::new();
        // Resolve once over an empty table so errors surface even without rows.
        let mut probe_out =
            self.mv_expand(Table::empty(columns.clone()), params, items, None, span)?;
        for sub_op in &subquery.ops {
            probe_out = self.operator(sub_op, probe_out)?;
        }
        for row in input.rows {
            let one = Table {
                columns: columns.clone(),
                rows: vec![row],
                open: false,
                serialized: false,
            };
            let original = one.rows[0].clone();
            let mut t = self.mv_expand(one, params, items, None, span)?;
            for sub_op in &subquery.ops {
                t = self.operator(sub_op, t)?;
            }
            parts.push(reattach(&columns, &original, t));
        }
        if parts.is_empty() {
            return Ok(reattach_columns(&columns, probe_out));
        }
        Ok(union_all(parts, false))
    }

    pub(super) fn mv_expand(
        &mut self,
        t: Table,
        params: &[OpParam],
        items: &[MvExpandItem],
        limit: Option<&Expr>,
        span: Span,
    ) -> R<Table> {
        // `kind=array` (the page's spelling) or the older `bagexpansion=array`: a bag expands
        // into `[key, value]` arrays instead of one-key bags.
        let bag_as_array = param_value(params, "kind")
            .or_else(|| param_value(params, "bagexpansion"))
            .is_some_and(|v| v == "array");
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
            open: false,
            serialized: false,
        })
    }

    /// `parse`: a pattern of literals (regexes in regex mode), `*` and typed columns, matched
    /// as one regex whose column groups are named `GROUP_PREFIX` and their position.
    pub(super) fn parse_op(
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
        if flags.contains('U') {
            regex.push_str("(?U)");
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
                    // Each column's group is named, so that groups of a regex pattern's own do
                    // not shift which text a column takes (the page's `"(.*?)[a-zA-Z]*="`).
                    // Numbers take only a number, but in relaxed mode (a column whose text does
                    // not convert is null there); in regex mode text is greedy (the page: "the
                    // default mode is greedy", `flags=U` making it lazy), otherwise lazy but at
                    // the end.
                    let number = match ty {
                        ScalarType::Int | ScalarType::Long => Some("[-+]?\\d+"),
                        ScalarType::Real | ScalarType::Decimal => Some("[-+]?[0-9.eE+-]+"),
                        _ => None,
                    };
                    let text = if kind == "regex" || last { ".*" } else { ".*?" };
                    let body = match number {
                        // Relaxed: the number when there is one, else the text to the next
                        // delimiter (the page's `totalSlices=nonValidLongValue` is null there).
                        Some(number) if kind == "relaxed" => format!("{number}|{text}"),
                        Some(number) => number.to_string(),
                        None => text.to_string(),
                    };
                    let _ = write!(regex, "(?P<{}{}>{body})", GROUP_PREFIX, cols.len());
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
        let groups: Vec<String> = (0..cols.len())
            .map(|k| format!("{GROUP_PREFIX}{k}"))
            .collect();
        let mut rows = Vec::with_capacity(t.rows.len());
        let mut parsed = Vec::with_capacity(cols.len());
        for mut row in t.rows {
            let text = source.eval(&row.values, &self.ctx)?.to_kql_string();
            // "All extended columns must match the required types" (simple and regex modes):
            // a text that does not convert is no match; relaxed mode makes that column null.
            let matched = re.captures(&text).is_some_and(|caps| {
                parsed.clear();
                for (group, c) in groups.iter().zip(&cols) {
                    let part = caps.name(group).map_or("", |m| m.as_str());
                    let value = Value::str(part).convert(c.ty);
                    if value.is_null() && c.ty != ScalarType::String && kind != "relaxed" {
                        return false;
                    }
                    parsed.push(value);
                }
                true
            });
            match matched {
                true => {
                    for (&i, value) in idx.iter().zip(parsed.drain(..)) {
                        row.values[i] = value;
                    }
                    rows.push(row);
                }
                false => {
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
            open: false,
            serialized: false,
        })
    }
}

/// The prefix of the regex group names `parse` gives its columns.
const GROUP_PREFIX: &str = "firedrill_column_";

/// mv-apply's output: the input row's columns the subquery did not produce, then the subquery's.
pub(super) fn reattach(columns: &[Column], original: &Row, sub: Table) -> Table {
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
        open: false,
        serialized: false,
    }
}

pub(super) fn reattach_columns(columns: &[Column], sub: Table) -> Table {
    let mut out: Vec<Column> = columns
        .iter()
        .filter(|c| sub.column_index(&c.name).is_none())
        .cloned()
        .collect();
    out.extend(sub.columns);
    Table::empty(out)
}

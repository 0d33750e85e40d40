//! `make-series`: aggregates per group into arrays over a regular axis of bins
//! (learn.microsoft.com/kusto/query/make-series-operator).
//!
//! Bins run from `from` (or the first bin with data) up to, excluding, `to` (or past the last
//! bin with data) in steps of `step`; a row falls into bin `floor((axis - from) / step)`, rows
//! outside the range are dropped. Each aggregate becomes an array with one element per bin, the
//! `default` value (0 unless given) where a bin has no rows, and the axis column becomes the
//! array of bin starts. Without `kind=nonempty` an empty input gives no rows; with it and no
//! `by`, one row of defaults.

use super::summarize::{AggSpec, unique_name};
use super::{EvalError, Evaluator, R, param_value};
use crate::diag::Span;
use crate::kql::ast::{ColumnExpr, Expr, OpParam};
use crate::kql::func::AggState;
use crate::kql::schema::Column;
use crate::kql::table::{EventRef, Row, Table, merge_sources};
use crate::kql::value::{GroupKey, ScalarType, Value};
use indexmap::IndexMap;

/// More bins than this is a diagnostic, not an out-of-memory.
const MAX_BINS: usize = 1_000_000;

/// The parts of a `make-series` operator.
pub(super) struct SeriesSpec<'a> {
    pub(super) params: &'a [OpParam],
    pub(super) aggregates: &'a [(ColumnExpr, Option<Expr>)],
    pub(super) on: &'a Expr,
    pub(super) from: Option<&'a Expr>,
    pub(super) to: Option<&'a Expr>,
    pub(super) step: &'a Expr,
    pub(super) by: &'a [ColumnExpr],
    pub(super) span: Span,
}

/// One bin's aggregate state and (for row-picking aggregates) the row it picked.
type Cell = Option<(AggState, Option<Vec<Value>>)>;

struct SeriesGroup {
    keys: Vec<Value>,
    /// Per aggregate, per bin: the state, once a row fell into the bin.
    states: Vec<Vec<Cell>>,
    sources: Vec<EventRef>,
}

impl Evaluator<'_> {
    pub(super) fn make_series(&mut self, t: &Table, spec: &SeriesSpec<'_>) -> R<Table> {
        let nonempty = param_value(spec.params, "kind").is_some_and(|k| k == "nonempty");
        let key_cols = self.group_keys(t, spec.by)?;
        let mut used: Vec<String> = key_cols.iter().map(|(n, _)| n.clone()).collect();
        // Aggregates and their defaults.
        let mut aggs: Vec<AggSpec> = Vec::new();
        let mut defaults: Vec<Value> = Vec::new();
        for (item, default) in spec.aggregates {
            let agg = self.agg_spec(item, t, &mut used, &key_cols)?;
            if agg.outputs.len() != 1 {
                return Err(EvalError::new(
                    "KQL0204",
                    "make-series takes aggregates of one column (not arg_max, arg_min or percentiles)",
                    item.span,
                ));
            }
            let ty = agg.outputs[0].ty;
            let value = match default {
                Some(e) => {
                    let c = self.compile(e, &[])?;
                    c.eval_const(self)?.convert_lossless(ty)
                }
                None if ty.is_numeric() => Value::Long(0).convert(ty),
                None => ty.null(),
            };
            aggs.push(agg);
            defaults.push(value);
        }
        // The axis.
        let axis = self.compile(spec.on, &t.columns)?;
        let axis_name = super::derived_name(spec.on).unwrap_or_else(|| "Column1".to_string());
        let step_c = self.compile(spec.step, &[])?;
        let step = step_c.eval_const(self)?;
        let Some(step_n) = axis_number(&step).filter(|s| *s > 0.0) else {
            return Err(EvalError::new(
                "KQL0205",
                "the make-series step must be a positive timespan or number",
                spec.step.span,
            ));
        };
        let mut bound = |e: Option<&Expr>| -> R<Option<f64>> {
            match e {
                Some(e) => {
                    let c = self.compile(e, &[])?;
                    let v = c.eval_const(self)?;
                    axis_number(&v).map(Some).ok_or_else(|| {
                        EvalError::new(
                            "KQL0205",
                            "make-series bounds must be datetimes or numbers like the axis",
                            e.span,
                        )
                    })
                }
                None => Ok(None),
            }
        };
        let from = bound(spec.from)?;
        let to = bound(spec.to)?;
        // Axis values of the rows, then the range of bins.
        let mut positions = Vec::with_capacity(t.rows.len());
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for r in &t.rows {
            let p = axis_number(&axis.eval(&r.values, &self.ctx)?);
            if let Some(p) = p {
                lo = lo.min(p);
                hi = hi.max(p);
            }
            positions.push(p);
        }
        let start = from.unwrap_or_else(|| (lo / step_n).floor() * step_n);
        let end = to.unwrap_or_else(|| ((hi / step_n).floor() + 1.0) * step_n);
        let bins = if start.is_finite() && end.is_finite() && end > start {
            ((end - start) / step_n).ceil() as usize
        } else {
            0
        };
        if bins > MAX_BINS {
            return Err(EvalError::new(
                "KQL0206",
                format!("make-series would create {bins} bins (at most {MAX_BINS})"),
                spec.span,
            ));
        }
        // Group rows and feed each bin's states.
        let mut groups: IndexMap<Vec<GroupKey>, SeriesGroup> = IndexMap::new();
        for (r, p) in t.rows.iter().zip(&positions) {
            let Some(p) = p else { continue };
            let k = ((p - start) / step_n).floor();
            if k < 0.0 || k >= bins as f64 {
                continue;
            }
            let k = k as usize;
            let mut key_values = Vec::with_capacity(key_cols.len());
            for (_, c) in &key_cols {
                key_values.push(c.eval(&r.values, &self.ctx)?);
            }
            let key: Vec<GroupKey> = key_values.iter().map(Value::group_key).collect();
            let group = groups.entry(key).or_insert_with(|| SeriesGroup {
                keys: key_values,
                states: aggs
                    .iter()
                    .map(|_| (0..bins).map(|_| None).collect())
                    .collect(),
                sources: Vec::new(),
            });
            merge_sources(&mut group.sources, &r.sources);
            for (a, agg) in aggs.iter().enumerate() {
                let (state, arg_row) =
                    group.states[a][k].get_or_insert_with(|| (agg.new_state(), None));
                agg.update(state, arg_row, r, &self.ctx)?;
            }
        }
        if groups.is_empty() && nonempty && key_cols.is_empty() {
            groups.insert(
                Vec::new(),
                SeriesGroup {
                    keys: Vec::new(),
                    states: aggs
                        .iter()
                        .map(|_| (0..bins).map(|_| None).collect())
                        .collect(),
                    sources: Vec::new(),
                },
            );
        }
        // Output: keys, one array per aggregate, the axis array.
        let mut columns: Vec<Column> = key_cols
            .iter()
            .map(|(n, c)| Column::new(n.clone(), c.ty))
            .collect();
        for a in &aggs {
            columns.push(Column::new(a.outputs[0].name.clone(), ScalarType::Dynamic));
        }
        columns.push(Column::new(
            unique_name(axis_name, &mut used),
            ScalarType::Dynamic,
        ));
        let axis_values: Vec<Value> = (0..bins)
            .map(|k| axis_value(start + k as f64 * step_n, axis.ty))
            .collect();
        let axis_array = Value::array(axis_values);
        let mut rows = Vec::with_capacity(groups.len());
        for (_, g) in groups {
            let mut values = g.keys;
            for (a, agg) in aggs.iter().enumerate() {
                let series: Vec<Value> = g.states[a]
                    .iter()
                    .map(|cell| match cell {
                        Some((state, arg_row)) => {
                            let mut out = Vec::with_capacity(1);
                            agg.finish(state, arg_row.as_ref(), &mut out);
                            out.pop().unwrap_or(Value::Null)
                        }
                        None => defaults[a].clone(),
                    })
                    .collect();
                values.push(Value::array(series));
            }
            values.push(axis_array.clone());
            rows.push(Row {
                values,
                sources: g.sources,
            });
        }
        Ok(Table {
            columns,
            rows,
            open: false,
        })
    }
}

/// A datetime, timespan or number as a position on the axis (ticks for time).
fn axis_number(v: &Value) -> Option<f64> {
    match v {
        Value::DateTime(t) | Value::TimeSpan(t) => Some(*t as f64),
        Value::Long(n) => Some(*n as f64),
        Value::Real(f) if f.is_finite() => Some(*f),
        _ => None,
    }
}

/// A position back as a value of the axis type.
fn axis_value(p: f64, ty: ScalarType) -> Value {
    match ty {
        ScalarType::DateTime => Value::DateTime(p.round() as i64),
        ScalarType::TimeSpan => Value::TimeSpan(p.round() as i64),
        ScalarType::Int | ScalarType::Long => Value::Long(p.round() as i64),
        _ => Value::Real(p),
    }
}

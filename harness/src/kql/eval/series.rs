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
        let mut bound = |e: Option<&Expr>| -> R<Option<Value>> {
            match e {
                Some(e) => {
                    let c = self.compile(e, &[])?;
                    Ok(Some(c.eval_const(self)?))
                }
                None => Ok(None),
            }
        };
        let from = bound(spec.from)?;
        let to = bound(spec.to)?;
        let mut positions = Vec::with_capacity(t.rows.len());
        for r in &t.rows {
            positions.push(axis.eval(&r.values, &self.ctx)?);
        }
        let grid =
            Grid::new(axis.ty, &step, from.as_ref(), to.as_ref(), &positions).map_err(|what| {
                match what {
                    GridError::Step => EvalError::new(
                        "KQL0205",
                        "the make-series step must be a positive timespan or number",
                        spec.step.span,
                    ),
                    GridError::Bound => EvalError::new(
                        "KQL0205",
                        "make-series bounds must be datetimes or numbers like the axis",
                        spec.from.or(spec.to).map_or(spec.span, |e| e.span),
                    ),
                }
            })?;
        let bins = grid.bins;
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
            let Some(k) = grid.index(p) else { continue };
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
        let axis_values: Vec<Value> = (0..bins).map(|k| grid.value(k, axis.ty)).collect();
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
            serialized: false,
        })
    }
}

/// Positions on the axis: exact integers (ticks for datetimes and timespans, longs) unless the
/// axis, the step or a bound is real.
#[derive(Clone, Copy, Debug)]
enum Num {
    Int(i128),
    Real(f64),
}

impl Num {
    fn of(v: &Value, integral: bool) -> Option<Num> {
        match v {
            Value::DateTime(t) | Value::TimeSpan(t) | Value::Long(t) => Some(if integral {
                Num::Int(i128::from(*t))
            } else {
                Num::Real(*t as f64)
            }),
            Value::Real(f) if f.is_finite() && !integral => Some(Num::Real(*f)),
            _ => None,
        }
    }
}

enum GridError {
    Step,
    Bound,
}

/// The bins: `bins` of width `step` from `start`; axis values from `end` on fall outside.
struct Grid {
    start: Num,
    step: Num,
    bins: usize,
    end: Option<Num>,
}

impl Grid {
    fn new(
        axis: ScalarType,
        step: &Value,
        from: Option<&Value>,
        to: Option<&Value>,
        positions: &[Value],
    ) -> Result<Grid, GridError> {
        let exact =
            |v: &Value| matches!(v, Value::DateTime(_) | Value::TimeSpan(_) | Value::Long(_));
        let integral = matches!(
            axis,
            ScalarType::DateTime | ScalarType::TimeSpan | ScalarType::Int | ScalarType::Long
        ) && exact(step)
            && from.into_iter().chain(to).all(exact);
        let step = match Num::of(step, integral) {
            Some(Num::Int(n)) if n > 0 => Num::Int(n),
            Some(Num::Real(f)) if f > 0.0 => Num::Real(f),
            _ => return Err(GridError::Step),
        };
        let bound = |v: Option<&Value>| match v {
            Some(v) => Num::of(v, integral).map(Some).ok_or(GridError::Bound),
            None => Ok(None),
        };
        let (from, to) = (bound(from)?, bound(to)?);
        let data: Vec<Num> = positions
            .iter()
            .filter_map(|p| Num::of(p, integral))
            .collect();
        // In integral mode every `Num` is `Int`, otherwise every one is `Real`.
        match step {
            Num::Int(w) => {
                let int = |n: &Num| match n {
                    Num::Int(i) => Some(*i),
                    Num::Real(_) => None,
                };
                let start = from.as_ref().and_then(int).or_else(|| {
                    data.iter()
                        .filter_map(int)
                        .min()
                        .map(|lo| lo.div_euclid(w) * w)
                });
                let end = to.as_ref().and_then(int).or_else(|| {
                    let hi = data.iter().filter_map(int).max()?;
                    Some((hi.div_euclid(w) + 1) * w)
                });
                let bins = match (start, end) {
                    (Some(a), Some(b)) if b > a => {
                        usize::try_from((b - a + w - 1) / w).unwrap_or(usize::MAX)
                    }
                    _ => 0,
                };
                Ok(Grid {
                    start: Num::Int(start.unwrap_or(0)),
                    step,
                    bins,
                    end: end.map(Num::Int),
                })
            }
            Num::Real(w) => {
                let real = |n: &Num| match n {
                    Num::Real(f) => Some(*f),
                    Num::Int(_) => None,
                };
                let start = from.as_ref().and_then(real).or_else(|| {
                    let lo = data.iter().filter_map(real).reduce(f64::min)?;
                    Some((lo / w).floor() * w)
                });
                let end = to.as_ref().and_then(real).or_else(|| {
                    let hi = data.iter().filter_map(real).reduce(f64::max)?;
                    Some(((hi / w).floor() + 1.0) * w)
                });
                let bins = match (start, end) {
                    (Some(a), Some(b)) if b > a => {
                        ((b - a) / w).ceil().min(usize::MAX as f64) as usize
                    }
                    _ => 0,
                };
                Ok(Grid {
                    start: Num::Real(start.unwrap_or(0.0)),
                    step,
                    bins,
                    end: end.map(Num::Real),
                })
            }
        }
    }

    /// The bin `p` falls into, if any.
    fn index(&self, p: &Value) -> Option<usize> {
        let k = match (self.start, self.step) {
            (Num::Int(a), Num::Int(w)) => match Num::of(p, true)? {
                Num::Int(x) if !matches!(self.end, Some(Num::Int(e)) if x >= e) => {
                    (x - a).div_euclid(w)
                }
                _ => return None,
            },
            (Num::Real(a), Num::Real(w)) => match Num::of(p, false)? {
                Num::Real(x) if !matches!(self.end, Some(Num::Real(e)) if x >= e) => {
                    let k = ((x - a) / w).floor();
                    if !k.is_finite() {
                        return None;
                    }
                    k as i128
                }
                _ => return None,
            },
            _ => return None,
        };
        usize::try_from(k).ok().filter(|k| *k < self.bins)
    }

    /// Bin `k`'s start, as a value of the axis type.
    fn value(&self, k: usize, ty: ScalarType) -> Value {
        let (whole, real) = match (self.start, self.step) {
            (Num::Int(a), Num::Int(w)) => {
                let v = a + k as i128 * w;
                (i64::try_from(v).unwrap_or(i64::MAX), v as f64)
            }
            (Num::Real(a), Num::Real(w)) => {
                let v = a + k as f64 * w;
                (v.round() as i64, v)
            }
            _ => (0, 0.0),
        };
        match ty {
            ScalarType::DateTime => Value::DateTime(whole),
            ScalarType::TimeSpan => Value::TimeSpan(whole),
            ScalarType::Int | ScalarType::Long => Value::Long(whole),
            _ => Value::Real(real),
        }
    }
}

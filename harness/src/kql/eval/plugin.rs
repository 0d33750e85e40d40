//! `evaluate` plugins (`bag_unpack`, `pivot`) and `invoke` (user functions, the Defender
//! `FileProfile()` enrichment as an offline stand-in).
//!
//! Without a declared output schema both plugins derive their columns from the data, so their
//! result is an open table (see [`Table::open`]): a later operator may name a column the data
//! did not produce, which then reads as null with a `KQL0211` warning, as Kusto resolves any
//! name against such a table.

use super::{Binding, EvalError, Evaluator, R};
use crate::kql::ast::{Expr, ExprKind, ParamType};
use crate::kql::func::{self, AggKind, AggState};
use crate::kql::schema::Column;
use crate::kql::table::{Row, Table};
use crate::kql::value::{GroupKey, ScalarType, Value};
use indexmap::IndexMap;
use std::collections::BTreeMap;
use std::sync::Arc;

impl Evaluator<'_> {
    /// `evaluate plugin(...) [: (schema)]`: a declared output schema is the result's schema
    /// (named columns, typed).
    pub(super) fn evaluate_op(
        &mut self,
        input: Table,
        call: &Expr,
        output: Option<&ParamType>,
    ) -> R<Table> {
        let out = self.evaluate_plugin(input, call)?;
        let Some(ParamType::Tabular { columns, .. }) = output else {
            return Ok(out);
        };
        let declared = self.column_decls(columns)?;
        let map: Vec<Option<usize>> = declared.iter().map(|c| out.column_index(&c.name)).collect();
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
            open: false,
            serialized: false,
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
        let values: Vec<&Expr> = args.iter().map(|a| &a.value).collect();
        match name.name.as_str() {
            "bag_unpack" => {
                // Parameters may be named: bag_unpack(d, columnsConflict='replace_source').
                const NAMES: [&str; 4] = [
                    "Column",
                    "OutputColumnPrefix",
                    "columnsConflict",
                    "ignoredProperties",
                ];
                let mut slots: Vec<Option<&Expr>> = vec![None; NAMES.len()];
                let mut next = 0;
                for a in args {
                    let at = match &a.name {
                        Some(n) => NAMES.iter().position(|x| *x == n.name).ok_or_else(|| {
                            EvalError::new(
                                "KQL0206",
                                format!("bag_unpack has no parameter `{}`", n.name),
                                n.span,
                            )
                        })?,
                        None => next,
                    };
                    if at >= NAMES.len() {
                        return Err(EvalError::new(
                            "KQL0206",
                            "bag_unpack takes a column, a prefix, a conflict mode and ignored properties",
                            a.value.span,
                        ));
                    }
                    slots[at] = Some(&a.value);
                    next = at + 1;
                }
                self.bag_unpack(t, &slots, call)
            }
            "pivot" => self.pivot(t, &values, call),
            other => Err(EvalError::new(
                "KQL0204",
                format!("evaluate plugin `{other}` is not supported by firedrill's KQL engine"),
                name.span,
            )
            .help("see docs/kql-subset.md for the supported operators")),
        }
    }

    /// `bag_unpack(Column [, OutputColumnPrefix [, columnsConflict [, ignoredProperties]]])`:
    /// the bag column is replaced by one column per distinct top-level slot (ordered by name),
    /// typed as the slot's values when they all share a type, `dynamic` otherwise.
    fn bag_unpack(&mut self, t: Table, args: &[Option<&Expr>], call: &Expr) -> R<Table> {
        let Some(Some(first)) = args.first().copied() else {
            return Err(EvalError::new(
                "KQL0206",
                "bag_unpack needs a column",
                call.span,
            ));
        };
        let c = self.compile(first, &t.columns)?;
        let mut constant = |i: usize| -> R<Value> {
            match args.get(i).copied().flatten() {
                Some(e) => {
                    let c = self.compile(e, &[])?;
                    c.eval_const(self)
                }
                None => Ok(Value::Null),
            }
        };
        let prefix = constant(1)?.to_kql_string();
        let conflict = match constant(2)?.to_kql_string().as_str() {
            "" | "error" => Conflict::Error,
            "replace_source" => Conflict::ReplaceSource,
            "keep_source" => Conflict::KeepSource,
            other => {
                return Err(EvalError::new(
                    "KQL0206",
                    format!(
                        "bag_unpack conflict mode `{other}` is not one of error, replace_source, keep_source"
                    ),
                    args[2].map_or(call.span, |e| e.span),
                ));
            }
        };
        let ignored: Vec<String> = match constant(3)? {
            Value::Array(items) => items.iter().map(Value::to_kql_string).collect(),
            Value::Null => Vec::new(),
            other => vec![other.to_kql_string()],
        };
        let col_idx = match &first.kind {
            ExprKind::Name(id) => t.column_index(&id.name),
            _ => None,
        };
        // Distinct slots (by name) and the type their values share.
        let mut slots: BTreeMap<String, Option<ScalarType>> = BTreeMap::new();
        let mut bags = Vec::with_capacity(t.rows.len());
        for r in &t.rows {
            let v = c.eval(&r.values, &self.ctx)?;
            if let Value::Bag(m) = &v {
                for (k, x) in m.iter() {
                    if ignored.contains(k) || x.is_null() {
                        slots.entry(k.clone()).or_insert(None);
                        continue;
                    }
                    let ty = x.natural_type();
                    slots
                        .entry(k.clone())
                        .and_modify(|seen| {
                            *seen = match seen {
                                None => Some(ty),
                                Some(s) if *s == ty => Some(ty),
                                Some(_) => Some(ScalarType::Dynamic),
                            }
                        })
                        .or_insert(Some(ty));
                }
            }
            bags.push(v);
        }
        slots.retain(|k, _| !ignored.contains(k));
        let mut keep: Vec<usize> = (0..t.columns.len())
            .filter(|i| Some(*i) != col_idx)
            .collect();
        let mut unpacked: Vec<(String, Column)> = Vec::new();
        for (slot, ty) in &slots {
            let name = format!("{prefix}{slot}");
            if let Some(existing) = keep.iter().position(|&i| t.columns[i].name == name) {
                match conflict {
                    Conflict::Error => {
                        return Err(EvalError::new(
                            "KQL0205",
                            format!("bag_unpack would add the column `{name}`, which the input already has"),
                            call.span,
                        )
                        .help("pass 'replace_source' or 'keep_source' as the third argument"));
                    }
                    Conflict::KeepSource => continue,
                    Conflict::ReplaceSource => {
                        keep.remove(existing);
                    }
                }
            }
            unpacked.push((
                slot.clone(),
                Column::new(name, ty.unwrap_or(ScalarType::Dynamic)),
            ));
        }
        let mut columns: Vec<Column> = keep.iter().map(|&i| t.columns[i].clone()).collect();
        columns.extend(unpacked.iter().map(|(_, c)| c.clone()));
        let rows = t
            .rows
            .into_iter()
            .zip(bags)
            .map(|(r, bag)| {
                let mut values: Vec<Value> = keep.iter().map(|&i| r.values[i].clone()).collect();
                for (slot, col) in &unpacked {
                    let v = match &bag {
                        Value::Bag(m) => m.get(slot).cloned().unwrap_or(Value::Null),
                        _ => Value::Null,
                    };
                    values.push(if col.ty == ScalarType::Dynamic {
                        v
                    } else {
                        v.convert(col.ty)
                    });
                }
                Row {
                    values,
                    sources: r.sources,
                }
            })
            .collect();
        Ok(Table {
            columns,
            rows,
            open: true,
            serialized: false,
        })
    }

    /// `pivot(pivotColumn [, aggregation [, column1, ...]])`: one row per distinct combination of
    /// the group columns (by default every column but the pivot and aggregated ones), one
    /// column per distinct pivot value (ordered by name) holding the aggregation (default
    /// `count()`) of that value's rows.
    fn pivot(&mut self, t: Table, args: &[&Expr], call: &Expr) -> R<Table> {
        let Some(pivot) = args.first() else {
            return Err(EvalError::new(
                "KQL0206",
                "pivot needs the column to rotate",
                call.span,
            ));
        };
        let pivot_c = self.compile(pivot, &t.columns)?;
        let pivot_name = match &pivot.kind {
            ExprKind::Name(id) => Some(id.name.clone()),
            _ => None,
        };
        // The aggregation: a call to an aggregate function, or count() by default.
        let given = match args.get(1) {
            Some(Expr {
                kind: ExprKind::Call { name, args: a },
                span,
            }) => func::aggregate(&name.name).map(|agg| (agg, a, *span)),
            _ => None,
        };
        let (agg, agg_arg, group_from) = match given {
            Some((agg, a, span)) => {
                if !matches!(
                    agg.kind,
                    AggKind::Count
                        | AggKind::Min
                        | AggKind::Max
                        | AggKind::Any
                        | AggKind::Sum
                        | AggKind::Dcount
                        | AggKind::Avg
                        | AggKind::MakeList
                        | AggKind::MakeSet
                        | AggKind::MakeBag
                        | AggKind::Stdev
                        | AggKind::Variance
                ) {
                    return Err(EvalError::new(
                        "KQL0204",
                        format!("pivot does not take the aggregation `{}`", agg.name),
                        span,
                    ));
                }
                let arg = match a.first() {
                    Some(x) => Some((self.compile(&x.value, &t.columns)?, derived(&x.value))),
                    None => None,
                };
                (agg, arg, 2)
            }
            None => (
                func::aggregate("count")
                    .ok_or_else(|| EvalError::new("KQL0203", "count() is missing", call.span))?,
                None,
                1,
            ),
        };
        let mut groups: Vec<usize> = Vec::new();
        if args.len() > group_from {
            for e in &args[group_from..] {
                let ExprKind::Name(id) = &e.kind else {
                    return Err(EvalError::new(
                        "KQL0205",
                        "pivot groups by column names",
                        e.span,
                    ));
                };
                groups.push(super::column_or_error(&t, &id.name, id.span)?);
            }
        } else {
            let aggregated = agg_arg.as_ref().and_then(|(_, n)| n.clone());
            groups = (0..t.columns.len())
                .filter(|&i| {
                    Some(&t.columns[i].name) != pivot_name.as_ref()
                        && Some(&t.columns[i].name) != aggregated.as_ref()
                })
                .collect();
        }
        let arg_ty = agg_arg.as_ref().map(|(c, _)| c.ty);
        let out_ty = func::aggregate_type(agg.kind, arg_ty);
        let mut values_seen: BTreeMap<String, ()> = BTreeMap::new();
        // group key -> (key values, pivot value -> state, provenance)
        type Cell = IndexMap<String, AggState>;
        let mut rows: IndexMap<
            Vec<GroupKey>,
            (Vec<Value>, Cell, Vec<crate::kql::table::EventRef>),
        > = IndexMap::new();
        for r in &t.rows {
            let key_values: Vec<Value> = groups.iter().map(|&i| r.values[i].clone()).collect();
            let key: Vec<GroupKey> = key_values.iter().map(Value::group_key).collect();
            let pv = pivot_c.eval(&r.values, &self.ctx)?.to_kql_string();
            values_seen.insert(pv.clone(), ());
            let entry = rows
                .entry(key)
                .or_insert_with(|| (key_values, IndexMap::new(), Vec::new()));
            crate::kql::table::merge_sources(&mut entry.2, &r.sources);
            let state = entry
                .1
                .entry(pv)
                .or_insert_with(|| AggState::new(agg.kind, None));
            let v = match &agg_arg {
                Some((c, _)) => c.eval(&r.values, &self.ctx)?,
                None => Value::Bool(true),
            };
            state.update(&v);
        }
        let mut columns: Vec<Column> = groups.iter().map(|&i| t.columns[i].clone()).collect();
        columns.extend(values_seen.keys().map(|v| Column::new(v.clone(), out_ty)));
        let empty = AggState::new(agg.kind, None);
        let out_rows = rows
            .into_values()
            .map(|(mut values, cells, sources)| {
                for v in values_seen.keys() {
                    values.push(match cells.get(v) {
                        Some(state) => state.finish(agg.kind, 50.0, arg_ty),
                        // A cell without rows: counts and sums are 0 (as the page's examples show).
                        None if matches!(
                            agg.kind,
                            AggKind::Count | AggKind::Dcount | AggKind::Sum
                        ) =>
                        {
                            Value::Long(0).convert(out_ty)
                        }
                        None => empty.finish(agg.kind, 50.0, arg_ty),
                    });
                }
                Row { values, sources }
            })
            .collect();
        Ok(Table {
            columns,
            rows: out_rows,
            open: true,
            serialized: false,
        })
    }

    pub(super) fn invoke(&mut self, t: Table, call: &Expr) -> R<Table> {
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
}

/// What `bag_unpack` does when a slot has the name of an input column.
enum Conflict {
    Error,
    ReplaceSource,
    KeepSource,
}

/// The column an aggregate's argument names, if it is a plain column.
fn derived(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Name(id) => Some(id.name.clone()),
        _ => None,
    }
}

/// Columns `invoke FileProfile()` adds, typed as the Defender "FileProfile() function" page
/// lists them (<https://learn.microsoft.com/defender-xdr/advanced-hunting-fileprofile-function>);
/// columns the input already has are kept as they are.
pub(super) const FILE_PROFILE_COLUMNS: &[(&str, ScalarType)] = &[
    ("SHA1", ScalarType::String),
    ("SHA256", ScalarType::String),
    ("MD5", ScalarType::String),
    ("FileSize", ScalarType::Int),
    ("GlobalPrevalence", ScalarType::Int),
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

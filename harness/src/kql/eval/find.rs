//! `find`: the rows of several tables that match one predicate, in the output schema the
//! Kusto documentation defines (<https://learn.microsoft.com/kusto/query/find-operator>).
//!
//! - Tables that hold none of the columns the predicate reads are left out; in the others, a
//!   predicate column the table lacks reads as null.
//! - `source_` (or the `withsource=` name) says which table each row came from.
//! - `project-smart` (the default): the columns common to every remaining table (same name and
//!   type, in the first table's order), then the predicate's columns, then `pack_`, a property
//!   bag of each row's other columns (present only when some table has other columns).
//! - `project a, b:type [, pack_all()]`: those columns (null where a table lacks one; a type
//!   converts the values), and with `pack_all()` a `pack_` bag of the columns not listed.

use super::{EvalError, Evaluator, R, param_name, unknown_column};
use crate::kql::ast::Find;
use crate::kql::schema::Column;
use crate::kql::table::{Row, Table};
use crate::kql::value::{ScalarType, Value};
use indexmap::IndexMap;

/// The name of the property-bag column.
const PACK: &str = "pack_";

impl Evaluator<'_> {
    pub(super) fn find(&mut self, find: &Find) -> R<Table> {
        let (tables, names) = if find.tables.is_empty() {
            let names = self.database_tables();
            let tables = names
                .iter()
                .filter_map(|n| self.db.table(n).map(|t| (*t).clone()))
                .collect();
            (tables, names)
        } else {
            self.table_operands(&find.tables, None, false)?
        };
        // The predicate's columns: names it reads that some table has, in order.
        let mut read = Vec::new();
        find.predicate.names_read(&mut read);
        let mut predicate_columns: Vec<Column> = Vec::new();
        for name in read {
            if predicate_columns.iter().any(|c| c.name == name) {
                continue;
            }
            let types: Vec<ScalarType> = tables
                .iter()
                .filter_map(|t| t.column_index(&name).map(|i| t.columns[i].ty))
                .collect();
            let Some(&ty) = types.first() else { continue };
            if let Some(other) = types.iter().find(|t| **t != ty) {
                return Err(EvalError::new(
                    "KQL0204",
                    format!(
                        "find reads `{name}`, which is {ty} in one table and {other} in another: not supported"
                    ),
                    find.predicate.span,
                )
                .help("convert the column in each table first, for example with `union` and `extend`"));
            }
            predicate_columns.push(Column::new(name, ty));
        }
        // Tables holding none of the predicate's columns are left out.
        let kept: Vec<(Table, String)> = tables
            .into_iter()
            .zip(names)
            .filter(|(t, _)| {
                predicate_columns.is_empty()
                    || predicate_columns
                        .iter()
                        .any(|c| t.column_index(&c.name).is_some())
            })
            .collect();
        let source = find
            .params
            .iter()
            .rfind(|p| p.name.name == "withsource")
            .map_or_else(|| "source_".to_string(), param_name);
        let (columns, declared, pack) = match &find.project {
            None => smart_columns(&kept, &predicate_columns),
            Some(p) => {
                let mut columns = Vec::new();
                let mut declared = Vec::new();
                for c in &p.columns {
                    let found: Vec<ScalarType> = kept
                        .iter()
                        .filter_map(|(t, _)| t.column_index(&c.name.name).map(|i| t.columns[i].ty))
                        .collect();
                    let ty = match &c.ty {
                        Some(ty) => Some(ScalarType::from_name(&ty.name).ok_or_else(|| {
                            EvalError::new(
                                "KQL0205",
                                format!("unknown type `{}`", ty.name),
                                ty.span,
                            )
                        })?),
                        None => None,
                    };
                    let Some(&first) = found.first() else {
                        let all: Vec<Column> =
                            kept.iter().flat_map(|(t, _)| t.columns.clone()).collect();
                        return Err(unknown_column(&c.name.name, &all, c.name.span));
                    };
                    if ty.is_none()
                        && let Some(other) = found.iter().find(|t| **t != first)
                    {
                        return Err(EvalError::new(
                            "KQL0205",
                            format!(
                                "`{}` is {first} in one table and {other} in another",
                                c.name.name
                            ),
                            c.name.span,
                        )
                        .help(format!("give it a type: `{}:{first}`", c.name.name)));
                    }
                    columns.push(Column::new(c.name.name.clone(), ty.unwrap_or(first)));
                    declared.push(ty.is_some());
                }
                (columns, declared, p.pack_all)
            }
        };
        let mut out_columns = vec![Column::new(source, ScalarType::String)];
        out_columns.extend(columns.iter().cloned());
        if pack {
            out_columns.push(Column::new(PACK, ScalarType::Dynamic));
        }
        let mut rows = Vec::new();
        for (table, name) in kept {
            let own = table.columns.len();
            let mut widened = table;
            for c in &predicate_columns {
                if widened.column_index(&c.name).is_none() {
                    widened.columns.push(c.clone());
                    for r in &mut widened.rows {
                        r.values.push(c.ty.null());
                    }
                }
            }
            let matched = self.search(widened, &find.predicate, &[])?;
            let map: Vec<Option<usize>> = columns
                .iter()
                .map(|c| matched.column_index(&c.name).filter(|&i| i < own))
                .collect();
            let packed: Vec<usize> = (0..own)
                .filter(|&i| !columns.iter().any(|c| c.name == matched.columns[i].name))
                .collect();
            for r in matched.rows {
                let mut values = Vec::with_capacity(out_columns.len());
                values.push(Value::str(&name));
                for ((c, at), converts) in columns.iter().zip(&map).zip(&declared) {
                    values.push(match at {
                        Some(i) if *converts => r.values[*i].convert(c.ty),
                        Some(i) => r.values[*i].clone(),
                        None => c.ty.null(),
                    });
                }
                if pack {
                    let bag: IndexMap<String, Value> = packed
                        .iter()
                        .map(|&i| (matched.columns[i].name.clone(), r.values[i].clone()))
                        .collect();
                    values.push(Value::bag(bag));
                }
                rows.push(Row {
                    values,
                    sources: r.sources,
                });
            }
        }
        Ok(Table {
            columns: out_columns,
            rows,
            open: false,
            serialized: false,
        })
    }
}

/// `project-smart`: (columns, which were given a type (none), whether `pack_` is needed).
fn smart_columns(
    kept: &[(Table, String)],
    predicate_columns: &[Column],
) -> (Vec<Column>, Vec<bool>, bool) {
    let mut columns: Vec<Column> = match kept.first() {
        Some((first, _)) => first
            .columns
            .iter()
            .filter(|c| {
                kept.iter().all(|(t, _)| {
                    t.column_index(&c.name)
                        .is_some_and(|i| t.columns[i].ty == c.ty)
                })
            })
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    for c in predicate_columns {
        if !columns.iter().any(|x| x.name == c.name) {
            columns.push(c.clone());
        }
    }
    let pack = kept.iter().any(|(t, _)| {
        t.columns
            .iter()
            .any(|c| !columns.iter().any(|x| x.name == c.name))
    });
    let declared = vec![false; columns.len()];
    (columns, declared, pack)
}

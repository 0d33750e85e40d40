//! `top-nested`, as the top-nested operator page defines it
//! (<https://learn.microsoft.com/kusto/query/top-nested-operator>): the first clause partitions
//! the input by its *Expr*, aggregates each partition, and keeps the top *N* partitions by the
//! aggregate (all when *N* is omitted; largest first unless `asc`); each later clause does the
//! same within each kept partition. The result has two columns per clause, the value
//! (`Name =` or the column the expression reads) and the aggregate (`Name =` or
//! `aggregated_<value column>`), one row per kept path, its provenance every row of the path's
//! last partition. `with others = C` adds, at its level, one record whose value is `C` and
//! whose aggregate covers the rows outside the top; the page does not say what deeper clauses
//! give such a record, so it is supported on the last clause only (`KQL0204` elsewhere).

use super::scalar::Compiled;
use super::{EvalError, Evaluator, R, derived_name, next_column_name};
use crate::kql::ast::{ColumnExpr, SortOrder, TopNestedClause};
use crate::kql::schema::Column;
use crate::kql::table::{Row, Table, merge_sources};
use crate::kql::value::{GroupKey, Value};
use indexmap::IndexMap;

/// One clause, resolved against the input.
struct Level<'c> {
    clause: &'c TopNestedClause,
    keep: Option<usize>,
    value: Compiled,
    others: Option<Value>,
}

impl Evaluator<'_> {
    pub(super) fn top_nested(&mut self, input: Table, clauses: &[TopNestedClause]) -> R<Table> {
        let mut columns = Vec::new();
        let mut levels = Vec::new();
        let mut counter = 0;
        for (i, clause) in clauses.iter().enumerate() {
            let keep = match &clause.count {
                Some(n) => Some(self.count_arg(n)?),
                None => None,
            };
            let value = self.compile(&clause.of.expr, &input.columns)?;
            let others = match &clause.others {
                Some(_) if i + 1 < clauses.len() => {
                    return Err(EvalError::new(
                        "KQL0204",
                        "`with others` is supported on the last top-nested clause only: the page does not say what later clauses give the others record",
                        clause.span,
                    ));
                }
                Some(e) => Some(self.compile(e, &[])?.eval_const(self)?.convert(value.ty)),
                None => None,
            };
            let name = match clause.of.names.first() {
                Some(n) => n.name.clone(),
                None => derived_name(&clause.of.expr)
                    .unwrap_or_else(|| next_column_name(&input.columns, &mut counter)),
            };
            // The aggregate's type: the aggregation over no rows.
            let agg_ty = self.aggregate_rows(&input, &[], &clause.by)?.1;
            let agg_name = match clause.by.names.first() {
                Some(n) => n.name.clone(),
                None => format!("aggregated_{name}"),
            };
            columns.push(Column::new(name, value.ty));
            columns.push(Column::new(agg_name, agg_ty));
            levels.push(Level {
                clause,
                keep,
                value,
                others,
            });
        }
        let all: Vec<usize> = (0..input.rows.len()).collect();
        let mut rows = Vec::new();
        self.nest(&input, &levels, &all, &mut Vec::new(), &mut rows)?;
        Ok(Table {
            columns,
            rows,
            open: false,
            serialized: false,
        })
    }

    /// The rows of `levels[0]` (and deeper) within the input rows `rows`, each prefixed by
    /// `path` (the values and aggregates of the levels above).
    fn nest(
        &mut self,
        input: &Table,
        levels: &[Level<'_>],
        rows: &[usize],
        path: &mut Vec<Value>,
        out: &mut Vec<Row>,
    ) -> R<()> {
        let Some((level, deeper)) = levels.split_first() else {
            let mut sources = Vec::new();
            for &i in rows {
                merge_sources(&mut sources, &input.rows[i].sources);
            }
            out.push(Row {
                values: path.clone(),
                sources,
            });
            return Ok(());
        };
        let mut groups: IndexMap<GroupKey, (Value, Vec<usize>)> = IndexMap::new();
        for &i in rows {
            let v = level.value.eval(&input.rows[i].values, &self.ctx)?;
            groups
                .entry(v.group_key())
                .or_insert_with(|| (v, Vec::new()))
                .1
                .push(i);
        }
        let mut ranked = Vec::with_capacity(groups.len());
        for (_, (value, members)) in groups {
            let agg = self.aggregate_rows(input, &members, &level.clause.by)?.0;
            ranked.push((value, agg, members));
        }
        ranked.sort_by(|a, b| match level.clause.order {
            SortOrder::Asc => a.1.sort_cmp(&b.1),
            SortOrder::Desc => b.1.sort_cmp(&a.1),
        });
        let rest = match level.keep {
            Some(n) if n < ranked.len() => ranked.split_off(n),
            _ => Vec::new(),
        };
        if let Some(value) = &level.others
            && !rest.is_empty()
        {
            let members: Vec<usize> = rest.into_iter().flat_map(|(_, _, m)| m).collect();
            let agg = self.aggregate_rows(input, &members, &level.clause.by)?.0;
            ranked.push((value.clone(), agg, members));
        }
        for (value, agg, members) in ranked {
            path.push(value);
            path.push(agg);
            self.nest(input, deeper, &members, path, out)?;
            path.truncate(path.len() - 2);
        }
        Ok(())
    }

    /// The aggregation `by` over the input rows `members`, and its type.
    fn aggregate_rows(
        &mut self,
        input: &Table,
        members: &[usize],
        by: &ColumnExpr,
    ) -> R<(Value, crate::kql::value::ScalarType)> {
        let part = Table {
            columns: input.columns.clone(),
            rows: members.iter().map(|&i| input.rows[i].clone()).collect(),
            open: false,
            serialized: false,
        };
        let item = ColumnExpr {
            names: Vec::new(),
            expr: by.expr.clone(),
            span: by.span,
        };
        let t = self.summarize(&part, std::slice::from_ref(&item), &[], by.span)?;
        let value = t
            .rows
            .first()
            .and_then(|r| r.values.first().cloned())
            .unwrap_or(Value::Null);
        let ty = t
            .columns
            .first()
            .map_or(crate::kql::value::ScalarType::Long, |c| c.ty);
        Ok((value, ty))
    }
}

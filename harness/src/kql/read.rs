//! Which input tables a query reads: table names in source positions that no `let` binds.
//!
//! The harness uses [`Query::tables_read`] to decide which renderings a KQL rule needs and to
//! report "not applicable" when no rendering serves any of them.

use super::ast::{
    Expr, ExprKind, LetValue, OperatorKind, ParamType, Query, SourceKind, Statement, StatementKind,
    TabularExpr,
};
use std::collections::BTreeSet;

impl Query {
    /// The tables (and table functions such as `imProcessCreate`) the query reads, in first-use
    /// order, without names its own `let` statements or function parameters bind.
    pub fn tables_read(&self) -> Vec<String> {
        let mut walker = Walker::default();
        walker.statements(&self.statements);
        walker.found
    }
}

#[derive(Default)]
struct Walker {
    bound: Vec<BTreeSet<String>>,
    found: Vec<String>,
}

impl Walker {
    fn is_bound(&self, name: &str) -> bool {
        self.bound.iter().any(|s| s.contains(name))
    }

    fn bind(&mut self, name: &str) {
        if self.bound.is_empty() {
            self.bound.push(BTreeSet::new());
        }
        if let Some(scope) = self.bound.last_mut() {
            scope.insert(name.to_string());
        }
    }

    fn source_name(&mut self, name: &str) {
        if name.starts_with('$') || self.is_bound(name) || super::func::scalar(name).is_some() {
            return;
        }
        if matches!(name, "materialize" | "table" | "view" | "toscalar") {
            return;
        }
        if !self.found.iter().any(|f| f == name) {
            self.found.push(name.to_string());
        }
    }

    fn statements(&mut self, statements: &[Statement]) {
        for s in statements {
            match &s.kind {
                StatementKind::Let { name, value } => {
                    match value {
                        LetValue::Scalar(e) => self.expr(e, true),
                        LetValue::Tabular(t) => self.tabular(t),
                        LetValue::Function(def) => {
                            self.bound.push(BTreeSet::new());
                            for p in &def.params {
                                self.bind(&p.name.name);
                                if let (ParamType::Scalar(_), Some(d)) = (&p.ty, &p.default) {
                                    self.expr(d, false);
                                }
                            }
                            self.statements(&def.body);
                            self.bound.pop();
                        }
                    }
                    self.bind(&name.name);
                }
                StatementKind::Tabular(t) => self.tabular(t),
                StatementKind::Scalar(e) => self.expr(e, true),
                StatementKind::Set { .. } => {}
                StatementKind::DeclareParameters(params) => {
                    for p in params {
                        if let Some(d) = &p.default {
                            self.expr(d, false);
                        }
                        self.bind(&p.name.name);
                    }
                }
            }
        }
    }

    fn tabular(&mut self, t: &TabularExpr) {
        match &t.source.kind {
            SourceKind::Expr(e) => self.expr(e, true),
            SourceKind::Datatable { values, .. } => values.iter().for_each(|v| self.expr(v, false)),
            SourceKind::ExternalData { .. } => {}
            SourceKind::Union(u) => u.tables.iter().for_each(|t| self.tabular(t)),
            SourceKind::Range { from, to, step, .. } => {
                for e in [from, to, step] {
                    self.expr(e, false);
                }
            }
            SourceKind::Print(items) => items.iter().for_each(|i| self.expr(&i.expr, false)),
            SourceKind::Search(s) => s.tables.iter().for_each(|t| self.tabular(t)),
            SourceKind::Find(x) => x.tables.iter().for_each(|t| self.tabular(t)),
        }
        for op in &t.ops {
            match &op.kind {
                OperatorKind::Join { right, .. } | OperatorKind::Lookup { right, .. } => {
                    self.tabular(right)
                }
                OperatorKind::Union(u) => u.tables.iter().for_each(|t| self.tabular(t)),
                OperatorKind::MvApply { subquery, .. } => {
                    for sub in &subquery.ops {
                        let inner = TabularExpr {
                            source: subquery.source.clone(),
                            ops: vec![sub.clone()],
                            span: subquery.span,
                        };
                        self.bound.push(BTreeSet::from(["$rows".to_string()]));
                        self.tabular_ops_only(&inner);
                        self.bound.pop();
                    }
                }
                OperatorKind::Where(e) => self.expr(e, false),
                OperatorKind::TopNested(clauses) => {
                    for c in clauses {
                        for e in [c.count.as_ref(), Some(&c.of.expr), c.others.as_ref()]
                            .into_iter()
                            .flatten()
                        {
                            self.expr(e, false);
                        }
                        self.expr(&c.by.expr, false);
                    }
                }
                OperatorKind::Extend(items)
                | OperatorKind::Project(items)
                | OperatorKind::Serialize(items) => {
                    items.iter().for_each(|i| self.expr(&i.expr, false))
                }
                OperatorKind::Summarize { aggregates, by, .. } => aggregates
                    .iter()
                    .chain(by)
                    .for_each(|i| self.expr(&i.expr, false)),
                OperatorKind::Invoke(e) => {
                    // `invoke f()` reads what f reads; a let-bound f was walked at its definition.
                    if let ExprKind::Call { args, .. } = &e.kind {
                        args.iter().for_each(|a| self.expr(&a.value, false));
                    }
                }
                _ => {}
            }
        }
    }

    fn tabular_ops_only(&mut self, t: &TabularExpr) {
        let empty = TabularExpr {
            source: super::ast::Source {
                kind: SourceKind::Print(Vec::new()),
                span: t.source.span,
            },
            ops: t.ops.clone(),
            span: t.span,
        };
        self.tabular(&empty);
    }

    /// `source` is true where a bare name denotes a table (a tabular source or `let` value).
    fn expr(&mut self, e: &Expr, source: bool) {
        match &e.kind {
            ExprKind::Name(id) if source => self.source_name(&id.name),
            ExprKind::Wildcard(_) | ExprKind::Name(_) | ExprKind::Literal(_) => {}
            ExprKind::Call { name, args } => {
                if source {
                    self.source_name(&name.name);
                }
                let tabular_args = matches!(
                    name.name.as_str(),
                    "materialize" | "toscalar" | "table" | "view"
                );
                for a in args {
                    self.expr(&a.value, tabular_args);
                }
            }
            ExprKind::Subquery(t) => self.tabular(t),
            ExprKind::Paren(inner) => self.expr(inner, source),
            ExprKind::Binary { op, .. } => {
                for operand in e.operands(*op) {
                    self.expr(operand, false);
                }
            }
            ExprKind::Unary { expr, .. } | ExprKind::Member { expr, .. } => self.expr(expr, false),
            ExprKind::Index { expr, index } => {
                self.expr(expr, false);
                self.expr(index, false);
            }
            ExprKind::List { lhs, items, .. } => {
                self.expr(lhs, false);
                items.iter().for_each(|i| self.expr(i, false));
            }
            ExprKind::Between { lhs, low, high, .. } => {
                for x in [lhs, low, high] {
                    self.expr(x, false);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    fn read(q: &str) -> Vec<String> {
        let (query, diags) = crate::kql::parse(q);
        query.unwrap_or_else(|| panic!("{diags:?}")).tables_read()
    }

    #[test]
    fn lets_and_parameters_are_not_tables() {
        assert_eq!(
            read(
                "let t = DeviceProcessEvents | where x; let f = (T:(*)) { T | take 1 }; t | join (DeviceNetworkEvents) on DeviceId | union imProcessCreate(starttime = ago(1d))"
            ),
            [
                "DeviceProcessEvents",
                "DeviceNetworkEvents",
                "imProcessCreate"
            ]
        );
        assert_eq!(
            read("SecurityEvent | where Account in ((IdentityInfo | project x))"),
            ["SecurityEvent", "IdentityInfo"]
        );
    }
}

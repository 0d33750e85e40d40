//! Explain: for a query and the events bound in a database, which operator dropped them and why.
//!
//! The query's last pipeline runs operator by operator; after each one the rows that come from
//! a bound event (their provenance is not empty) are counted. The first operator after which none
//! is left dropped the event. When that operator is a `where`, its predicate is traced over the
//! rows it received: every `and`/`or`/`not` node and every comparison with its result and the
//! values of the columns it read. Predicates built from simple comparisons also lower to the
//! shared [`crate::expr`] IR ([`lower`]), and the step then carries that IR's trace too, so the
//! explanation reads like a Sigma one.

use super::ast::{BinOp, Expr, ExprKind, OperatorKind, Query, StatementKind};
use super::bind::Database;
use super::eval::{Evaluator, shown_name};
use super::schema::Column;
use super::table::Table;
use super::value::Value;
use crate::diag::Span;
use serde::Serialize;

/// One step of the pipeline: the source or an operator.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    /// The operator as written (whitespace collapsed), e.g. `where FileName =~ "cmd.exe"`.
    pub text: String,
    /// Where it is in the query.
    pub span: Span,
    /// Rows from the bound events after this step.
    pub rows: usize,
    /// The predicate trace, for the `where` that dropped the events.
    pub trace: Option<PredicateTrace>,
    /// A diagnostic message when the step failed.
    pub error: Option<String>,
    /// The dropping `where`'s predicate lowered to the shared IR and evaluated on the event's
    /// row, when every part of it lowers.
    pub ir_trace: Option<crate::expr::Trace>,
}

/// Why a predicate held or not, node by node.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PredicateTrace {
    /// The sub-expression as written.
    pub text: String,
    /// Its value: `Some(true)`, `Some(false)`, or `None` for null.
    pub result: Option<bool>,
    /// The columns it read and their values (`FileName = "w3wp.exe"`), for comparisons.
    pub reads: Vec<String>,
    /// Sub-predicates of `and`, `or` and `not`.
    pub children: Vec<PredicateTrace>,
}

/// The explanation of a query over the bound events.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// The source, then each operator, up to the one that dropped the events (or all of them).
    pub steps: Vec<Step>,
    /// True when a result row comes from a bound event.
    pub kept: bool,
}

/// Explains `query` (whose text is `text`) over `db`, where the events to explain are bound.
pub fn explain(query: &Query, db: &Database, text: &str) -> Explanation {
    let snippet = |span: Span| {
        let raw = text.get(span.start..span.end).unwrap_or("");
        raw.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let mut ev = Evaluator::new(db);
    let mut steps = Vec::new();
    let Some(last) = query
        .statements
        .iter()
        .rposition(|s| matches!(s.kind, StatementKind::Tabular(_)))
    else {
        return Explanation { steps, kept: false };
    };
    for s in &query.statements[..last] {
        let done = match &s.kind {
            StatementKind::Let { name, value } => ev.let_statement(name, value),
            StatementKind::Set { name, value } => ev.request_property(name, value.as_ref()),
            StatementKind::DeclareParameters(params) => ev.declare_parameters(params),
            _ => Ok(()),
        };
        if let Err(e) = done {
            steps.push(Step {
                text: snippet(s.span),
                span: s.span,
                rows: 0,
                trace: None,
                error: Some(e.message),
                ir_trace: None,
            });
            return Explanation { steps, kept: false };
        }
    }
    let StatementKind::Tabular(pipeline) = &query.statements[last].kind else {
        return Explanation { steps, kept: false };
    };
    let mut table: Table = match ev.source_shared(&pipeline.source) {
        Ok(t) => (*t).clone(),
        Err(e) => {
            steps.push(Step {
                text: snippet(pipeline.source.span),
                span: pipeline.source.span,
                rows: 0,
                trace: None,
                error: Some(e.message),
                ir_trace: None,
            });
            return Explanation { steps, kept: false };
        }
    };
    let from_events = |t: &Table| t.rows.iter().filter(|r| !r.sources.is_empty()).count();
    let rows = from_events(&table);
    steps.push(Step {
        text: snippet(pipeline.source.span),
        span: pipeline.source.span,
        rows,
        trace: None,
        error: None,
        ir_trace: None,
    });
    if rows == 0 {
        return Explanation { steps, kept: false };
    }
    for op in &pipeline.ops {
        let before = table.clone();
        match ev.operator(op, table) {
            Ok(next) => {
                let rows = from_events(&next);
                let (mut trace_out, mut ir_trace) = (None, None);
                if let (OperatorKind::Where(pred), 0) = (&op.kind, rows)
                    && let Some(at) = before.rows.iter().position(|r| !r.sources.is_empty())
                {
                    // Window function calls are worked out over all the rows first, as the
                    // operator did; the shared IR has none, so such a predicate is traced here
                    // only.
                    if let Ok(Some((windowed, pred))) = ev.with_windows(pred, &before) {
                        let row = &windowed.rows[at].values;
                        trace_out = Some(trace(&mut ev, &pred, &windowed.columns, row, text));
                    } else {
                        let row = &before.rows[at].values;
                        trace_out = Some(trace(&mut ev, pred, &before.columns, row, text));
                        ir_trace = lower(pred, &before.columns)
                            .and_then(|ir| ir.compile().ok())
                            .map(|compiled| compiled.explain(&row_event(&before.columns, row)));
                    }
                }
                steps.push(Step {
                    text: snippet(op.span),
                    span: op.span,
                    rows,
                    trace: trace_out,
                    error: None,
                    ir_trace,
                });
                if rows == 0 {
                    return Explanation { steps, kept: false };
                }
                table = next;
            }
            Err(e) => {
                steps.push(Step {
                    text: snippet(op.span),
                    span: op.span,
                    rows: 0,
                    trace: None,
                    error: Some(e.message),
                    ir_trace: None,
                });
                return Explanation { steps, kept: false };
            }
        }
    }
    Explanation { steps, kept: true }
}

fn trace(
    ev: &mut Evaluator<'_>,
    e: &Expr,
    cols: &[Column],
    row: &[Value],
    text: &str,
) -> PredicateTrace {
    let snippet = |span: Span| {
        let raw = text.get(span.start..span.end).unwrap_or("");
        raw.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let result = match ev.compile(e, cols).and_then(|c| c.eval(row, &ev.ctx)) {
        Ok(Value::Bool(b)) => Some(b),
        _ => None,
    };
    let mut children = Vec::new();
    match &e.kind {
        ExprKind::Paren(inner) => {
            return PredicateTrace {
                text: snippet(e.span),
                ..trace(ev, inner, cols, row, text)
            };
        }
        ExprKind::Binary {
            op: op @ (BinOp::And | BinOp::Or),
            ..
        } => {
            for operand in e.operands(*op) {
                children.push(trace(ev, operand, cols, row, text));
            }
        }
        ExprKind::Call { name, args } if name.name == "not" && args.len() == 1 => {
            children.push(trace(ev, &args[0].value, cols, row, text));
        }
        _ => {}
    }
    let mut reads = Vec::new();
    if children.is_empty() {
        let mut names = Vec::new();
        e.names_read(&mut names);
        for name in names {
            let shown = shown_name(&name);
            if let Some(i) = cols.iter().position(|c| c.name == name)
                && !reads
                    .iter()
                    .any(|r: &String| r.starts_with(&format!("{shown} = ")))
            {
                reads.push(format!("{shown} = {}", row[i].to_json()));
            }
        }
    }
    PredicateTrace {
        text: snippet(e.span),
        result,
        reads,
        children,
    }
}

/// The row as an event whose fields are the columns (for the shared IR).
fn row_event(columns: &[Column], values: &[Value]) -> crate::event::Event {
    let mut event = crate::event::Event::new(crate::event::LogSchema::Other);
    for (c, v) in columns.iter().zip(values) {
        event.fields.insert(
            crate::event::Name::new(&c.name),
            crate::event::Value::from_json(&v.to_json()),
        );
    }
    event
}

/// Lowers a `where` predicate to the shared IR when every part of it is a simple comparison of a
/// column with constants: `==`, `=~`, `!=`, `!~`, `has`, `contains`, `startswith`, `endswith`
/// (with `_cs` and `!` forms), `in`, `in~`, `!in`, `has_any`, `has_all`, `matches regex`, numeric
/// comparisons, and `and`/`or`/`not` of those. Anything else gives `None`.
pub fn lower(e: &Expr, columns: &[Column]) -> Option<crate::expr::Expr> {
    use super::ast::{ListOp, Literal, StrOp};
    use crate::expr::{Case, Expr as Ir, NumOp, Op, Target};
    let column = |x: &Expr| -> Option<String> {
        let mut x = x;
        while let ExprKind::Paren(inner) = &x.kind {
            x = inner;
        }
        match &x.kind {
            ExprKind::Name(id) if columns.iter().any(|c| c.name == id.name) => {
                Some(id.name.clone())
            }
            _ => None,
        }
    };
    let text = |x: &Expr| -> Option<String> {
        match &x.kind {
            ExprKind::Literal(Literal::String(s)) => Some(s.clone()),
            _ => None,
        }
    };
    let number = |x: &Expr| -> Option<f64> {
        match &x.kind {
            ExprKind::Literal(Literal::Long(n)) => Some(*n as f64),
            ExprKind::Literal(Literal::Int(n)) => Some(f64::from(*n)),
            ExprKind::Literal(Literal::Real(f)) => Some(*f),
            _ => None,
        }
    };
    let cmp = |field: String, op: Op, case: Case| Ir::cmp(Target::Field(field), op, case);
    let not = |x: Ir| Ir::Not(Box::new(x));
    Some(match &e.kind {
        ExprKind::Paren(inner) => lower(inner, columns)?,
        ExprKind::Call { name, args } if name.name == "not" && args.len() == 1 => {
            not(lower(&args[0].value, columns)?)
        }
        ExprKind::Binary {
            op: op @ (BinOp::And | BinOp::Or),
            ..
        } => {
            let parts = e
                .operands(*op)
                .into_iter()
                .map(|x| lower(x, columns))
                .collect::<Option<Vec<Ir>>>()?;
            if *op == BinOp::And {
                Ir::And(parts)
            } else {
                Ir::Or(parts)
            }
        }
        ExprKind::Binary { op, lhs, rhs } => {
            let field = column(lhs)?;
            match op {
                BinOp::Eq | BinOp::Ne | BinOp::EqCi | BinOp::NeCi if text(rhs).is_some() => {
                    let case = if matches!(op, BinOp::Eq | BinOp::Ne) {
                        Case::Sensitive
                    } else {
                        Case::Insensitive
                    };
                    let c = cmp(field, Op::Equals(text(rhs)?), case);
                    if matches!(op, BinOp::Ne | BinOp::NeCi) {
                        not(c)
                    } else {
                        c
                    }
                }
                BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                    let n = number(rhs)?;
                    let op = match op {
                        BinOp::Eq => NumOp::Eq,
                        BinOp::Ne => NumOp::Neq,
                        BinOp::Lt => NumOp::Lt,
                        BinOp::Le => NumOp::Lte,
                        BinOp::Gt => NumOp::Gt,
                        _ => NumOp::Gte,
                    };
                    cmp(field, Op::Num(op, n), Case::Sensitive)
                }
                BinOp::Str {
                    op: sop,
                    negated,
                    case_sensitive,
                } => {
                    let needle = text(rhs)?;
                    let op = match sop {
                        StrOp::Has => Op::TermHas(needle),
                        StrOp::Contains => Op::Contains(needle),
                        StrOp::StartsWith => Op::StartsWith(needle),
                        StrOp::EndsWith => Op::EndsWith(needle),
                        StrOp::HasPrefix | StrOp::HasSuffix => return None,
                    };
                    let case = if *case_sensitive {
                        Case::Sensitive
                    } else {
                        Case::Insensitive
                    };
                    let c = cmp(field, op, case);
                    if *negated { not(c) } else { c }
                }
                BinOp::MatchesRegex => cmp(field, Op::Regex(text(rhs)?), Case::Sensitive),
                _ => return None,
            }
        }
        ExprKind::List { op, lhs, items } => {
            let field = column(lhs)?;
            let values: Vec<String> = items.iter().map(text).collect::<Option<_>>()?;
            let (case, make): (Case, fn(String) -> Op) = match op {
                ListOp::In | ListOp::NotIn => (Case::Sensitive, Op::Equals),
                ListOp::InCi | ListOp::NotInCi => (Case::Insensitive, Op::Equals),
                ListOp::HasAny | ListOp::HasAll => (Case::Insensitive, Op::TermHas),
            };
            let parts: Vec<Ir> = values
                .into_iter()
                .map(|v| cmp(field.clone(), make(v), case))
                .collect();
            match op {
                ListOp::In | ListOp::InCi | ListOp::HasAny => Ir::Or(parts),
                ListOp::NotIn | ListOp::NotInCi => not(Ir::Or(parts)),
                ListOp::HasAll => Ir::And(parts),
            }
        }
        _ => return None,
    })
}

impl Explanation {
    /// The explanation as text: one line per step (`✓`/`✗`), the dropping `where`'s predicate
    /// tree indented beneath it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (i, step) in self.steps.iter().enumerate() {
            let mark = if step.rows > 0 { '✓' } else { '✗' };
            let lead = if i == 0 { "" } else { "| " };
            out += &format!("{mark} {lead}{}", step.text);
            match (&step.error, step.rows) {
                (Some(e), _) => out += &format!(": {e}\n"),
                (None, 0) if i == 0 => out += ": no bound event is in this table\n",
                (None, 0) => out += ": dropped the event\n",
                (None, _) => out += "\n",
            }
            if let Some(t) = &step.trace {
                render_trace(t, 1, &mut out);
            }
            if let Some(ir) = &step.ir_trace {
                out += "    as the shared predicate IR:\n";
                for line in ir.render().lines() {
                    out += &format!("      {line}\n");
                }
            }
        }
        if self.kept {
            out += "✓ a result row comes from the event\n";
        }
        out
    }
}

fn render_trace(t: &PredicateTrace, depth: usize, out: &mut String) {
    let mark = match t.result {
        Some(true) => "✓",
        Some(false) => "✗",
        None => "∅",
    };
    let reads = if t.reads.is_empty() {
        String::new()
    } else {
        format!("  [{}]", t.reads.join(", "))
    };
    *out += &format!("{}{mark} {}{reads}\n", "    ".repeat(depth), t.text);
    for c in &t.children {
        render_trace(c, depth + 1, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, LogSchema};

    #[test]
    fn the_dropping_where_is_traced_with_the_values_it_read() {
        let text = "DeviceProcessEvents | where Timestamp > ago(7d) | where FileName in~ ('cmd.exe') and ProcessCommandLine has 'whoami' | project FileName";
        let (query, _) = crate::kql::parse(text);
        let mut db = Database::new(
            chrono::DateTime::parse_from_rfc3339("2024-05-02T00:00:00Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
        );
        let event = Event::new(LogSchema::Mde)
            .with("Timestamp", "2024-05-01T10:00:00Z")
            .with("FileName", "cmd.exe")
            .with("ProcessCommandLine", "cmd /c ver");
        db.bind_rendering(LogSchema::Mde, &[event]);
        let explanation = explain(&query.unwrap(), &db, text);
        assert!(!explanation.kept);
        let rendered = explanation.render();
        assert!(
            rendered.contains("✓ | where Timestamp > ago(7d)\n"),
            "{rendered}"
        );
        assert!(rendered.contains("✗ | where FileName in~ ('cmd.exe') and ProcessCommandLine has 'whoami': dropped the event\n"), "{rendered}");
        assert!(
            rendered.contains("✓ FileName in~ ('cmd.exe')  [FileName = \"cmd.exe\"]"),
            "{rendered}"
        );
        assert!(
            rendered.contains(
                "✗ ProcessCommandLine has 'whoami'  [ProcessCommandLine = \"cmd /c ver\"]"
            ),
            "{rendered}"
        );
        assert!(!rendered.contains("| project"), "{rendered}");
        let ir = explanation.steps[2]
            .ir_trace
            .as_ref()
            .expect("the predicate lowers");
        assert!(!ir.result);
        assert!(
            rendered.contains("as the shared predicate IR:"),
            "{rendered}"
        );
    }

    #[test]
    fn a_dropping_where_that_calls_window_functions_shows_their_values() {
        let text = "DeviceProcessEvents | sort by Timestamp asc | where FileName == prev(FileName) and row_number() > 1";
        let (query, _) = crate::kql::parse(text);
        let mut db = Database::new(chrono::Utc::now());
        let events = ["cmd.exe", "whoami.exe"].map(|name| {
            Event::new(LogSchema::Mde)
                .with("Timestamp", "2024-05-01T10:00:00Z")
                .with("FileName", name)
        });
        db.bind_rendering(LogSchema::Mde, &events);
        let explanation = explain(&query.unwrap(), &db, text);
        assert!(!explanation.kept);
        let rendered = explanation.render();
        // The first row's: no row before it.
        assert!(
            rendered.contains(
                "✗ FileName == prev(FileName)  [FileName = \"cmd.exe\", prev(FileName) = \"\"]"
            ),
            "{rendered}"
        );
        assert!(
            rendered.contains("✗ row_number() > 1  [row_number() = 1]"),
            "{rendered}"
        );
        assert!(!rendered.contains('\u{0}'), "{rendered}");
    }
}

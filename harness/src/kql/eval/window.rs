//! Window functions (`prev`, `next`, `row_number`, `row_cumsum`, `row_rank_dense`,
//! `row_rank_min`, `row_window_session`): each call is worked out over the whole serialized row
//! set, innermost first, into a hidden column, before the operator evaluates its expression row
//! by row.
//!
//! Only `extend`, `project`, `where` and `serialize` evaluate them (the operators the window
//! functions page shows them in); anywhere else, and over rows that are not serialized
//! ([`super::serialized_after`]), a call is `KQL0205`, as Kusto refuses it.

use super::{EvalError, Evaluator, R};
use crate::diag::Span;
use crate::kql::ast::{Arg, Expr, ExprKind, Ident};
use crate::kql::schema::Column;
use crate::kql::table::Table;
use crate::kql::value::{ScalarType, Value};

/// The window functions, with their fewest and most arguments.
const WINDOW_FUNCTIONS: [(&str, usize, usize); 7] = [
    ("prev", 1, 3),
    ("next", 1, 3),
    ("row_number", 0, 2),
    ("row_cumsum", 1, 2),
    ("row_rank_dense", 1, 2),
    ("row_rank_min", 1, 2),
    ("row_window_session", 3, 4),
];

/// Hidden columns' names start so: no query can name one (no name holds a control character).
/// The rest is a number, for uniqueness, and the call as written, for explanations
/// ([`shown_name`]).
const HIDDEN: &str = "\u{0}window";

/// True for the name of a window function.
pub(super) fn is_window_function(name: &str) -> bool {
    WINDOW_FUNCTIONS.iter().any(|(n, ..)| *n == name)
}

/// True for a hidden column's name (see [`Evaluator::materialize_windows`]).
pub(super) fn is_hidden(name: &str) -> bool {
    name.starts_with(HIDDEN)
}

/// A column's name as a person should read it: for a hidden column, the window function call
/// it holds (`prev(Timestamp)`).
pub(in crate::kql) fn shown_name(name: &str) -> &str {
    match name.strip_prefix(HIDDEN) {
        Some(rest) => rest.split_once('\u{0}').map_or(rest, |(_, call)| call),
        None => name,
    }
}

/// True when `e` calls a window function (without recursion: `and` chains can be long).
pub(super) fn has_window_call(e: &Expr) -> bool {
    let mut pending = vec![e];
    while let Some(x) = pending.pop() {
        match &x.kind {
            ExprKind::Call { name, args } => {
                if is_window_function(&name.name) {
                    return true;
                }
                pending.extend(args.iter().map(|a| &a.value));
            }
            ExprKind::Binary { lhs, rhs, .. } => pending.extend([&**lhs, &**rhs]),
            ExprKind::Unary { expr, .. }
            | ExprKind::Paren(expr)
            | ExprKind::Member { expr, .. } => pending.push(expr),
            ExprKind::Index { expr, index } => pending.extend([&**expr, &**index]),
            ExprKind::List { lhs, items, .. } => {
                pending.push(lhs);
                pending.extend(items);
            }
            ExprKind::Between { lhs, low, high, .. } => {
                pending.extend([&**lhs, &**low, &**high]);
            }
            ExprKind::Literal(_)
            | ExprKind::Name(_)
            | ExprKind::Wildcard(_)
            | ExprKind::Subquery(_) => {}
        }
    }
    false
}

/// Drops the hidden columns appended to `t` beyond its first `width`.
pub(super) fn drop_hidden(t: &mut Table, width: usize) {
    if t.columns.len() > width {
        t.columns.truncate(width);
        for row in &mut t.rows {
            row.values.truncate(width);
        }
    }
}

impl Evaluator<'_> {
    /// `e` with each window function call replaced by a hidden column of `t`, appended to it,
    /// holding the call's value on every row; innermost calls first, so an argument may itself
    /// call one (`row_cumsum(x, name != prev(name))`).
    pub(super) fn materialize_windows(&mut self, e: &Expr, t: &mut Table) -> R<Expr> {
        let mut e = e.clone();
        self.rewrite_windows(&mut e, t)?;
        Ok(e)
    }

    fn rewrite_windows(&mut self, e: &mut Expr, t: &mut Table) -> R<()> {
        let mut pending = vec![e];
        while let Some(x) = pending.pop() {
            if let ExprKind::Call { name, args } = &mut x.kind
                && is_window_function(&name.name)
            {
                let call = Expr::new(
                    ExprKind::Call {
                        name: name.clone(),
                        args: args.clone(),
                    },
                    x.span,
                )
                .to_string();
                for arg in args.iter_mut() {
                    self.rewrite_windows(&mut arg.value, t)?;
                }
                let column = self.window_column(&name.name, args, &call, x.span, t)?;
                x.kind = ExprKind::Name(Ident::new(column, x.span));
                continue;
            }
            match &mut x.kind {
                ExprKind::Call { args, .. } => {
                    pending.extend(args.iter_mut().map(|a| &mut a.value))
                }
                ExprKind::Binary { lhs, rhs, .. } => pending.extend([&mut **lhs, &mut **rhs]),
                ExprKind::Unary { expr, .. }
                | ExprKind::Paren(expr)
                | ExprKind::Member { expr, .. } => pending.push(expr),
                ExprKind::Index { expr, index } => pending.extend([&mut **expr, &mut **index]),
                ExprKind::List { lhs, items, .. } => {
                    pending.push(lhs);
                    pending.extend(items.iter_mut());
                }
                ExprKind::Between { lhs, low, high, .. } => {
                    pending.extend([&mut **lhs, &mut **low, &mut **high]);
                }
                ExprKind::Literal(_)
                | ExprKind::Name(_)
                | ExprKind::Wildcard(_)
                | ExprKind::Subquery(_) => {}
            }
        }
        Ok(())
    }

    /// Works out the window function call `name(args)` (its arguments free of window calls;
    /// `call` as written) over `t`'s rows and appends its values as a hidden column; returns
    /// the column's name.
    fn window_column(
        &mut self,
        name: &str,
        args: &[Arg],
        call: &str,
        span: Span,
        t: &mut Table,
    ) -> R<String> {
        let Some(&(_, min, max)) = WINDOW_FUNCTIONS.iter().find(|(n, ..)| *n == name) else {
            return Err(EvalError::new(
                "KQL0203",
                format!("unknown function `{name}`"),
                span,
            ));
        };
        if !t.serialized {
            return Err(EvalError::new(
                "KQL0205",
                format!("`{name}()` needs a serialized row set, and these rows are not serialized"),
                span,
            )
            .help("order the rows first (`sort by`, `top`) or add `| serialize` before this operator; `summarize`, `join`, `distinct`, `count` and tables read as they are give rows in no order"));
        }
        if args.len() < min || args.len() > max {
            let expected = if min == max {
                min.to_string()
            } else {
                format!("{min} to {max}")
            };
            return Err(EvalError::new(
                "KQL0206",
                format!("`{name}` takes {expected} arguments, got {}", args.len()),
                span,
            ));
        }
        // Each argument's value on every row.
        let mut columns = Vec::with_capacity(args.len());
        let mut types = Vec::with_capacity(args.len());
        for arg in args {
            let c = self.compile(&arg.value, &t.columns)?;
            let mut values = Vec::with_capacity(t.rows.len());
            for row in &t.rows {
                values.push(c.eval(&row.values, &self.ctx)?);
            }
            types.push(c.ty);
            columns.push(values);
        }
        // Argument `i` on `row`, `None` when it is not given.
        let arg = |i: usize, row: usize| columns.get(i).map(|c| &c[row]);
        let restart = |i: usize, row: usize| matches!(arg(i, row), Some(Value::Bool(true)));
        let n = t.rows.len();
        let (ty, values): (ScalarType, Vec<Value>) = match name {
            "prev" | "next" => {
                let offset = match args.get(1) {
                    Some(a) => self.constant_offset(&a.value)?,
                    None => 1,
                };
                let ty = types[0];
                let values = (0..n)
                    .map(|i| {
                        let from = if name == "prev" {
                            i.checked_sub(offset)
                        } else {
                            i.checked_add(offset).filter(|&j| j < n)
                        };
                        match from {
                            Some(j) => columns[0][j].clone(),
                            // The default takes the column's type (null where it does not
                            // convert), so the column holds values of one type.
                            None => match arg(2, i).map(|v| v.convert(ty)) {
                                Some(v) if !v.is_null() => v,
                                _ => ty.null(),
                            },
                        }
                    })
                    .collect();
                (ty, values)
            }
            "row_number" => {
                let start = match args.first() {
                    Some(a) => self.constant_long(&a.value)?,
                    None => 1,
                };
                let mut next = start;
                let values = (0..n)
                    .map(|i| {
                        if restart(1, i) {
                            next = start;
                        }
                        next += 1;
                        Value::Long(next - 1)
                    })
                    .collect();
                (ScalarType::Long, values)
            }
            "row_cumsum" => {
                let ty = types[0];
                if !ty.is_numeric() {
                    return Err(EvalError::new(
                        "KQL0205",
                        format!("`row_cumsum` sums numbers, not {ty}"),
                        args[0].value.span,
                    ));
                }
                let real = matches!(ty, ScalarType::Real | ScalarType::Decimal);
                let (mut whole, mut fraction) = (0i64, 0f64);
                let values = (0..n)
                    .map(|i| {
                        if restart(1, i) {
                            (whole, fraction) = (0, 0.0);
                        }
                        match &columns[0][i] {
                            Value::Long(x) => whole = whole.wrapping_add(*x),
                            Value::Real(x) => fraction += x,
                            _ => {}
                        }
                        if real {
                            Value::Real(fraction + whole as f64)
                        } else {
                            Value::Long(whole)
                        }
                    })
                    .collect();
                (ty, values)
            }
            "row_rank_dense" | "row_rank_min" => {
                let dense = name == "row_rank_dense";
                let (mut rank, mut position) = (0i64, 0i64);
                let values = (0..n)
                    .map(|i| {
                        let new_partition = i == 0 || restart(1, i);
                        if new_partition {
                            position = 0;
                        }
                        position += 1;
                        if new_partition {
                            rank = 1;
                        } else if columns[0][i] != columns[0][i - 1] {
                            rank = if dense { rank + 1 } else { position };
                        }
                        Value::Long(rank)
                    })
                    .collect();
                (ScalarType::Long, values)
            }
            _ => {
                // row_window_session: each value's session start.
                if types[0] != ScalarType::DateTime {
                    return Err(EvalError::new(
                        "KQL0205",
                        format!("`row_window_session` groups datetimes, not {}", types[0]),
                        args[0].value.span,
                    ));
                }
                let (mut start, mut previous) = (None::<i64>, None::<i64>);
                let values = (0..n)
                    .map(|i| {
                        let Value::DateTime(at) = columns[0][i] else {
                            // A null ends the session: the next value starts one.
                            (start, previous) = (None, None);
                            return Value::Null;
                        };
                        let span_of = |k: usize| match arg(k, i) {
                            Some(Value::TimeSpan(s)) => Some(*s),
                            _ => None,
                        };
                        let new_session = match (start, previous) {
                            (Some(first), Some(last)) => {
                                span_of(1).is_none_or(|far| at >= first.saturating_add(far))
                                    || span_of(2).is_none_or(|gap| at >= last.saturating_add(gap))
                                    || restart(3, i)
                            }
                            _ => true,
                        };
                        if new_session {
                            start = Some(at);
                        }
                        previous = Some(at);
                        start.map_or(Value::Null, Value::DateTime)
                    })
                    .collect();
                (ScalarType::DateTime, values)
            }
        };
        let column = format!("{HIDDEN}{}\u{0}{call}", t.columns.len());
        t.columns.push(Column::new(column.clone(), ty));
        for (row, value) in t.rows.iter_mut().zip(values) {
            row.values.push(value);
        }
        Ok(column)
    }

    /// A window function's start: a constant whole number.
    fn constant_long(&mut self, e: &Expr) -> R<i64> {
        let c = self.compile(e, &[])?;
        c.eval_const(self)?
            .to_long()
            .ok_or_else(|| EvalError::new("KQL0205", "expected a constant whole number", e.span))
    }

    /// `prev`'s and `next`'s offset: a constant whole number, not negative.
    fn constant_offset(&mut self, e: &Expr) -> R<usize> {
        usize::try_from(self.constant_long(e)?)
            .map_err(|_| EvalError::new("KQL0205", "the offset must not be negative", e.span))
    }
}

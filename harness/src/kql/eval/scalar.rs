//! Compiled scalar expressions: the resolved form of an expression (columns as indices,
//! constants folded) and its row-by-row evaluation: operators, comparisons, arithmetic, literals.

use super::{EvalError, Evaluator, R};
use crate::diag::Span;
use crate::kql::ast::{BinOp, ListOp, Literal, StrOp};
use crate::kql::func::{self, Context};
use crate::kql::value::{ScalarType, Value, parse_datetime, parse_guid};
use indexmap::IndexMap;
use std::sync::Arc;

/// A scalar expression resolved against a row schema: columns are indices, constants folded.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub(super) kind: CExpr,
    /// The static type.
    pub ty: ScalarType,
}

#[derive(Clone, Debug)]
pub(super) enum CExpr {
    Const(Value),
    Col(usize),
    And(Box<Compiled>, Box<Compiled>),
    Or(Box<Compiled>, Box<Compiled>),
    Not(Box<Compiled>),
    Cmp(BinOp, Box<Compiled>, Box<Compiled>),
    Arith(BinOp, Box<Compiled>, Box<Compiled>),
    Neg(Box<Compiled>),
    /// String operator with a constant right side (case-folded already when insensitive).
    StrConst {
        op: StrOp,
        negated: bool,
        cs: bool,
        lhs: Box<Compiled>,
        needle: String,
    },
    Str {
        op: StrOp,
        negated: bool,
        cs: bool,
        lhs: Box<Compiled>,
        rhs: Box<Compiled>,
    },
    Regex(Box<Compiled>, regex::Regex),
    RegexDyn(Box<Compiled>, Box<Compiled>),
    /// `in` and friends over a list known before the first row (literals, lets, subqueries).
    InConst {
        op: ListOp,
        lhs: Box<Compiled>,
        values: Vec<Value>,
    },
    In {
        op: ListOp,
        lhs: Box<Compiled>,
        items: Vec<Compiled>,
    },
    Between {
        negated: bool,
        lhs: Box<Compiled>,
        low: Box<Compiled>,
        high: Box<Compiled>,
    },
    Call(&'static func::ScalarFn, Vec<Compiled>, Span),
    Member(Box<Compiled>, String),
    Index(Box<Compiled>, Box<Compiled>),
}

impl Compiled {
    pub(super) fn constant(v: Value, ty: ScalarType) -> Compiled {
        Compiled {
            kind: CExpr::Const(v),
            ty,
        }
    }

    pub(super) fn eval_const(&self, ev: &Evaluator<'_>) -> R<Value> {
        self.eval(&[], &ev.ctx)
    }

    /// Runs `f` on the value without copying it when it is a column.
    pub(super) fn with<T>(
        &self,
        row: &[Value],
        ctx: &Context,
        f: impl FnOnce(&Value) -> T,
    ) -> R<T> {
        match &self.kind {
            CExpr::Col(i) => Ok(f(row.get(*i).unwrap_or(&Value::Null))),
            _ => Ok(f(&self.eval(row, ctx)?)),
        }
    }

    /// Evaluates over one row's values.
    pub fn eval(&self, row: &[Value], ctx: &Context) -> R<Value> {
        Ok(match &self.kind {
            CExpr::Const(v) => v.clone(),
            CExpr::Col(i) => row.get(*i).cloned().unwrap_or(Value::Null),
            CExpr::And(a, b) => match a.eval(row, ctx)? {
                Value::Bool(false) => Value::Bool(false),
                x => match (x, b.eval(row, ctx)?) {
                    (_, Value::Bool(false)) => Value::Bool(false),
                    (Value::Bool(true), Value::Bool(true)) => Value::Bool(true),
                    _ => Value::Null,
                },
            },
            CExpr::Or(a, b) => match a.eval(row, ctx)? {
                Value::Bool(true) => Value::Bool(true),
                x => match (x, b.eval(row, ctx)?) {
                    (_, Value::Bool(true)) => Value::Bool(true),
                    (Value::Bool(false), Value::Bool(false)) => Value::Bool(false),
                    _ => Value::Null,
                },
            },
            CExpr::Not(a) => match a.eval(row, ctx)?.to_bool() {
                Some(b) => Value::Bool(!b),
                None => Value::Null,
            },
            CExpr::Cmp(op, a, b) => match &b.kind {
                CExpr::Const(right) => a.with(row, ctx, |left| compare(*op, left, right))?,
                _ => compare(*op, &a.eval(row, ctx)?, &b.eval(row, ctx)?),
            },
            CExpr::Arith(op, a, b) => arith(*op, &a.eval(row, ctx)?, &b.eval(row, ctx)?),
            CExpr::Neg(a) => match a.eval(row, ctx)? {
                Value::Long(i) => Value::Long(-i),
                Value::Real(f) => Value::Real(-f),
                Value::TimeSpan(t) => Value::TimeSpan(-t),
                _ => Value::Null,
            },
            CExpr::StrConst {
                op,
                negated,
                cs,
                lhs,
                needle,
            } => {
                let hit = lhs.with(row, ctx, |v| str_op(*op, &v.text(), needle, *cs))?;
                Value::Bool(hit != *negated)
            }
            CExpr::Str {
                op,
                negated,
                cs,
                lhs,
                rhs,
            } => {
                let (l, r) = (lhs.eval(row, ctx)?, rhs.eval(row, ctx)?);
                Value::Bool(str_op(*op, &l.text(), &r.text(), *cs) != *negated)
            }
            CExpr::Regex(lhs, re) => Value::Bool(lhs.with(row, ctx, |v| re.is_match(&v.text()))?),
            CExpr::RegexDyn(lhs, rhs) => {
                let pattern = rhs.eval(row, ctx)?.to_kql_string();
                let re = func::regex(&pattern)
                    .map_err(|m| EvalError::new("KQL0207", m, Span::default()))?;
                Value::Bool(re.is_match(&lhs.eval(row, ctx)?.text()))
            }
            CExpr::InConst { op, lhs, values } => {
                lhs.with(row, ctx, |v| in_list(*op, v, values))?
            }
            CExpr::In { op, lhs, items } => {
                let v = lhs.eval(row, ctx)?;
                let mut values = Vec::new();
                for item in items {
                    match item.eval(row, ctx)? {
                        Value::Array(a)
                            if !matches!(item.kind, CExpr::Const(Value::Array(_)))
                                || item.ty == ScalarType::Dynamic =>
                        {
                            push_flattened(&mut values, &a)
                        }
                        other => values.push(other),
                    }
                }
                in_list(*op, &v, &values)
            }
            CExpr::Between {
                negated,
                lhs,
                low,
                high,
            } => {
                let v = lhs.eval(row, ctx)?;
                let (lo, hi) = (low.eval(row, ctx)?, high.eval(row, ctx)?);
                match (v.compare(&lo), v.compare(&hi)) {
                    (Some(a), Some(b)) => Value::Bool((a.is_ge() && b.is_le()) != *negated),
                    _ => Value::Null,
                }
            }
            CExpr::Call(f, args, span) => {
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    values.push(a.eval(row, ctx)?);
                }
                let v = (f.call)(&values, ctx).map_err(|m| EvalError::new("KQL0207", m, *span))?;
                match (&v, self.ty) {
                    (Value::Null, ScalarType::String) => Value::empty_string(),
                    (Value::String(_), _) | (_, ScalarType::Dynamic) => v,
                    (_, ScalarType::String) => Value::str(v.to_kql_string()),
                    _ => v,
                }
            }
            CExpr::Member(obj, name) => member(&obj.eval(row, ctx)?, name),
            CExpr::Index(obj, idx) => {
                let o = obj.eval(row, ctx)?;
                match idx.eval(row, ctx)? {
                    Value::Long(i) => match dynamic_of(&o) {
                        Value::Array(items) => {
                            let n = items.len() as i64;
                            let i = if i < 0 { n + i } else { i };
                            usize::try_from(i)
                                .ok()
                                .and_then(|i| items.get(i))
                                .cloned()
                                .unwrap_or(Value::Null)
                        }
                        _ => Value::Null,
                    },
                    key => member(&o, &key.to_kql_string()),
                }
            }
        })
    }
}

pub(super) fn dynamic_of(v: &Value) -> Value {
    match v {
        Value::String(s) if s.starts_with('[') || s.starts_with('{') => {
            match serde_json::from_str::<serde_json::Value>(s) {
                Ok(j) => Value::from_json(&j),
                Err(_) => v.clone(),
            }
        }
        other => other.clone(),
    }
}

pub(super) fn member(v: &Value, name: &str) -> Value {
    match dynamic_of(v) {
        Value::Bag(map) => map.get(name).cloned().unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

pub(super) fn str_op(op: StrOp, haystack: &str, needle: &str, cs: bool) -> bool {
    match op {
        StrOp::Has => func::has(haystack, needle, cs),
        StrOp::HasPrefix => func::hasprefix(haystack, needle, cs),
        StrOp::HasSuffix => func::hassuffix(haystack, needle, cs),
        StrOp::Contains => func::contains(haystack, needle, cs),
        StrOp::StartsWith => func::startswith(haystack, needle, cs),
        StrOp::EndsWith => func::endswith(haystack, needle, cs),
    }
}

pub(super) fn in_list(op: ListOp, v: &Value, items: &[Value]) -> Value {
    match op {
        ListOp::In | ListOp::NotIn => {
            if v.is_null() {
                return Value::Null;
            }
            let hit = items.iter().any(|i| v.kql_eq(i) == Some(true));
            Value::Bool(hit == (op == ListOp::In))
        }
        ListOp::InCi | ListOp::NotInCi => {
            let text = v.text();
            let hit = items.iter().any(|i| func::equals_ci(&text, &i.text()));
            Value::Bool(hit == (op == ListOp::InCi))
        }
        ListOp::HasAny => {
            let text = v.text();
            Value::Bool(items.iter().any(|i| func::has(&text, &i.text(), false)))
        }
        ListOp::HasAll => {
            let text = v.text();
            Value::Bool(items.iter().all(|i| func::has(&text, &i.text(), false)))
        }
    }
}

pub(super) fn compare(op: BinOp, a: &Value, b: &Value) -> Value {
    match op {
        BinOp::Eq => a.kql_eq(b).map_or(Value::Null, Value::Bool),
        BinOp::Ne => a.kql_eq(b).map_or(Value::Null, |x| Value::Bool(!x)),
        BinOp::EqCi | BinOp::NeCi => {
            if a.is_null() || b.is_null() {
                return Value::Null;
            }
            let eq = func::equals_ci(&a.text(), &b.text());
            Value::Bool(eq == (op == BinOp::EqCi))
        }
        _ => match a.compare(b) {
            Some(o) => Value::Bool(match op {
                BinOp::Lt => o.is_lt(),
                BinOp::Le => o.is_le(),
                BinOp::Gt => o.is_gt(),
                BinOp::Ge => o.is_ge(),
                _ => false,
            }),
            None => Value::Null,
        },
    }
}

pub(super) fn arith(op: BinOp, a: &Value, b: &Value) -> Value {
    use Value::*;
    match (a, b) {
        (Null, _) | (_, Null) => Null,
        (Long(x), Long(y)) => match op {
            BinOp::Add => Long(x.wrapping_add(*y)),
            BinOp::Sub => Long(x.wrapping_sub(*y)),
            BinOp::Mul => Long(x.wrapping_mul(*y)),
            BinOp::Div => {
                if *y == 0 {
                    Null
                } else {
                    Long(x.wrapping_div(*y))
                }
            }
            BinOp::Mod => {
                if *y == 0 {
                    Null
                } else {
                    Long(x.wrapping_rem(*y))
                }
            }
            _ => Null,
        },
        (DateTime(x), TimeSpan(y)) => match op {
            BinOp::Add => DateTime(x + y),
            BinOp::Sub => DateTime(x - y),
            _ => Null,
        },
        (TimeSpan(x), DateTime(y)) if op == BinOp::Add => DateTime(x + y),
        (DateTime(x), DateTime(y)) if op == BinOp::Sub => TimeSpan(x - y),
        (TimeSpan(x), TimeSpan(y)) => match op {
            BinOp::Add => TimeSpan(x + y),
            BinOp::Sub => TimeSpan(x - y),
            BinOp::Div => {
                if *y == 0 {
                    Null
                } else {
                    Real(*x as f64 / *y as f64)
                }
            }
            BinOp::Mod => {
                if *y == 0 {
                    Null
                } else {
                    TimeSpan(x % y)
                }
            }
            _ => Null,
        },
        (TimeSpan(x), Long(_) | Real(_)) => {
            let y = b.to_real().unwrap_or(f64::NAN);
            match op {
                BinOp::Mul => TimeSpan((*x as f64 * y) as i64),
                BinOp::Div if y != 0.0 => TimeSpan((*x as f64 / y) as i64),
                _ => Null,
            }
        }
        (Long(_) | Real(_), TimeSpan(y)) if op == BinOp::Mul => {
            TimeSpan((a.to_real().unwrap_or(0.0) * *y as f64) as i64)
        }
        (Long(_) | Real(_) | Bool(_), Long(_) | Real(_) | Bool(_)) => {
            let (x, y) = (
                a.to_real().unwrap_or(f64::NAN),
                b.to_real().unwrap_or(f64::NAN),
            );
            Real(match op {
                BinOp::Add => x + y,
                BinOp::Sub => x - y,
                BinOp::Mul => x * y,
                BinOp::Div => x / y,
                BinOp::Mod => x % y,
                _ => f64::NAN,
            })
        }
        _ => Null,
    }
}

pub(super) fn arith_type(op: BinOp, a: ScalarType, b: ScalarType) -> Option<ScalarType> {
    use ScalarType as T;
    Some(match (a, b) {
        (T::Dynamic, _) | (_, T::Dynamic) => T::Dynamic,
        (T::DateTime, T::TimeSpan) if matches!(op, BinOp::Add | BinOp::Sub) => T::DateTime,
        (T::TimeSpan, T::DateTime) if op == BinOp::Add => T::DateTime,
        (T::DateTime, T::DateTime) if op == BinOp::Sub => T::TimeSpan,
        (T::TimeSpan, T::TimeSpan) if op == BinOp::Div => T::Real,
        (T::TimeSpan, T::TimeSpan) if op != BinOp::Mul => T::TimeSpan,
        (T::TimeSpan, x) | (x, T::TimeSpan)
            if x.is_numeric() && matches!(op, BinOp::Mul | BinOp::Div) =>
        {
            T::TimeSpan
        }
        (x, y) if x.is_numeric() && y.is_numeric() => {
            if x == T::Decimal || y == T::Decimal {
                T::Decimal
            } else if matches!(x, T::Real) || matches!(y, T::Real) {
                T::Real
            } else if x == T::Int && y == T::Int {
                T::Int
            } else {
                T::Long
            }
        }
        (T::Bool, y) | (y, T::Bool) if y.is_numeric() => T::Long,
        _ => return None,
    })
}

pub(super) fn literal_value(l: &Literal, span: Span) -> R<(Value, ScalarType)> {
    Ok(match l {
        Literal::Bool(b) => (Value::Bool(*b), ScalarType::Bool),
        Literal::Long(i) => (Value::Long(*i), ScalarType::Long),
        Literal::Int(i) => (Value::Long(i64::from(*i)), ScalarType::Int),
        Literal::Real(f) => (Value::Real(*f), ScalarType::Real),
        Literal::Decimal(s) => {
            (
                Value::Real(s.trim().parse().map_err(|_| {
                    EvalError::new("KQL0205", format!("invalid decimal `{s}`"), span)
                })?),
                ScalarType::Decimal,
            )
        }
        Literal::String(s) => (Value::str(s), ScalarType::String),
        Literal::Datetime(s) => match parse_datetime(crate::kql::value::datetime_literal_body(s)) {
            Some(t) => (Value::DateTime(t), ScalarType::DateTime),
            None => {
                return Err(EvalError::new(
                    "KQL0205",
                    format!("invalid datetime literal `{s}`"),
                    span,
                ));
            }
        },
        Literal::Timespan(t) => (Value::TimeSpan(*t), ScalarType::TimeSpan),
        Literal::Guid(s) => match parse_guid(s) {
            Some(g) => (Value::Guid(Arc::from(g)), ScalarType::Guid),
            None => {
                return Err(EvalError::new(
                    "KQL0205",
                    format!("invalid guid literal `{s}`"),
                    span,
                ));
            }
        },
        Literal::Null(ty) => {
            let ty = ScalarType::from_name(ty).unwrap_or(ScalarType::Dynamic);
            (ty.null(), ty)
        }
        Literal::Dynamic(d) => (dynamic_literal(d, span)?, ScalarType::Dynamic),
    })
}

pub(super) fn dynamic_literal(d: &crate::kql::ast::Dynamic, span: Span) -> R<Value> {
    use crate::kql::ast::Dynamic as D;
    Ok(match d {
        D::Null => Value::Null,
        D::Scalar(l) => literal_value(l, span)?.0.convert(ScalarType::Dynamic),
        D::Array(items) => Value::array(
            items
                .iter()
                .map(|i| dynamic_literal(i, span))
                .collect::<R<Vec<_>>>()?,
        ),
        D::Object(pairs) => Value::bag(
            pairs
                .iter()
                .map(|(k, v)| Ok((k.clone(), dynamic_literal(v, span)?)))
                .collect::<R<IndexMap<_, _>>>()?,
        ),
    })
}

impl Value {
    /// Converts to `ty`, keeping the value when the conversion would lose it (for declared types).
    pub(super) fn convert_lossless(self, ty: ScalarType) -> Value {
        if self.is_null() {
            return ty.null();
        }
        let converted = self.convert(ty);
        if converted.is_null() { self } else { converted }
    }
}

pub(super) fn check_comparable(op: BinOp, l: &Compiled, r: &Compiled, span: Span) -> R<()> {
    use ScalarType as T;
    let temporal = |t: T| matches!(t, T::DateTime | T::TimeSpan);
    let ok = |a: T, b: T| {
        !(temporal(a) && (b.is_numeric() || b == T::Bool)
            || temporal(b) && (a.is_numeric() || a == T::Bool)
            || (temporal(a) && temporal(b) && a != b))
            || a == b
            || a == T::Dynamic
            || b == T::Dynamic
            || (a.is_numeric() && b.is_numeric())
            || (matches!(a, T::Guid | T::String) && matches!(b, T::Guid | T::String))
            || (a == T::Bool && b.is_numeric())
            || (b == T::Bool && a.is_numeric())
            || (matches!(op, BinOp::EqCi | BinOp::NeCi))
            || (a == T::DateTime && b == T::String)
            || (b == T::DateTime && a == T::String)
    };
    if ok(l.ty, r.ty) {
        Ok(())
    } else {
        Err(EvalError::new(
            "KQL0205",
            format!(
                "cannot compare {} with {} using `{}`",
                l.ty,
                r.ty,
                op.symbol()
            ),
            span,
        ))
    }
}

/// Appends the values of an `in` list's dynamic array, nested arrays flattened:
/// `x in (dynamic([1, [2, 3]]))` is `x in (1, 2, 3)` (the in operator page).
fn push_flattened(values: &mut Vec<Value>, items: &[Value]) {
    let mut pending: Vec<&Value> = items.iter().rev().collect();
    while let Some(v) = pending.pop() {
        match v {
            Value::Array(inner) => pending.extend(inner.iter().rev()),
            other => values.push(other.clone()),
        }
    }
}

/// Evaluates an `in` list once when every item is constant.
pub(super) fn constant_list(c: Compiled) -> Compiled {
    let CExpr::In { op, lhs, items } = c.kind else {
        return c;
    };
    if !items.iter().all(|i| matches!(i.kind, CExpr::Const(_))) {
        return Compiled {
            kind: CExpr::In { op, lhs, items },
            ty: c.ty,
        };
    }
    let mut values = Vec::new();
    for item in &items {
        match &item.kind {
            CExpr::Const(Value::Array(a)) if item.ty == ScalarType::Dynamic => {
                push_flattened(&mut values, a)
            }
            CExpr::Const(other) => values.push(other.clone()),
            _ => {}
        }
    }
    Compiled {
        kind: CExpr::InConst { op, lhs, values },
        ty: c.ty,
    }
}

/// Folds constant sub-expressions (no column reads) into a constant.
pub(super) fn fold(now: i64, c: Compiled) -> Compiled {
    pub(super) fn is_const(c: &Compiled) -> bool {
        matches!(c.kind, CExpr::Const(_))
    }
    let all_const = match &c.kind {
        CExpr::Cmp(_, a, b) | CExpr::Arith(_, a, b) => is_const(a) && is_const(b),
        CExpr::Neg(a) => is_const(a),
        CExpr::Call(f, args, _) => {
            args.iter().all(is_const) && !matches!(f.name, "new_guid" | "rand")
        }
        _ => false,
    };
    if !all_const {
        return c;
    }
    match c.eval(&[], &Context { now }) {
        Ok(v) => Compiled::constant(v, c.ty),
        Err(_) => c,
    }
}

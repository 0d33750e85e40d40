//! Resolving scalar expressions against a row schema: names, `in` lists, and function calls
//! (built-in, handled by the evaluator itself, and user-defined, which are inlined).

use super::scalar::{
    CExpr, Compiled, arith_type, check_comparable, constant_list, fold, literal_value,
};
use super::{Binding, EvalError, Evaluator, MAX_CALL_DEPTH, R};
use crate::diag::{Span, did_you_mean};
use crate::kql::ast::{Arg, BinOp, Expr, ExprKind, FunctionDef, Ident, StatementKind, UnaryOp};
use crate::kql::func;
use crate::kql::schema::Column;
use crate::kql::table::Table;
use crate::kql::value::{ScalarType, Value};
use std::collections::HashMap;

pub(super) type Params = HashMap<String, Compiled>;

pub(super) fn compile_expr(
    ev: &mut Evaluator<'_>,
    e: &Expr,
    cols: &[Column],
    params: &Params,
) -> R<Compiled> {
    let sub = |ev: &mut Evaluator<'_>, x: &Expr| compile_expr(ev, x, cols, params);
    Ok(match &e.kind {
        ExprKind::Literal(l) => {
            let (v, ty) = literal_value(l, e.span)?;
            Compiled::constant(v, ty)
        }
        ExprKind::Paren(inner) => sub(ev, inner)?,
        ExprKind::Name(id) => resolve_name(ev, id, cols, params)?,
        ExprKind::Wildcard(w) => {
            return Err(EvalError::new(
                "KQL0205",
                format!("`{w}` is not allowed here"),
                e.span,
            ));
        }
        // `* has "x"`: the term in any column (the where and find operator pages); `search`
        // terms also become `* hasprefix`, `* contains`, `* matches regex`, ... (search page).
        ExprKind::Binary {
            op: op @ (BinOp::Str { negated: false, .. } | BinOp::MatchesRegex),
            lhs,
            rhs,
        } if matches!(&lhs.kind, ExprKind::Wildcard(w) if w == "*") => {
            let mut tests = Vec::with_capacity(cols.len());
            for c in cols {
                let column = Expr::new(
                    ExprKind::Name(crate::kql::ast::Ident::new(c.name.clone(), lhs.span)),
                    lhs.span,
                );
                let one = Expr::new(
                    ExprKind::Binary {
                        op: *op,
                        lhs: Box::new(column),
                        rhs: rhs.clone(),
                    },
                    e.span,
                );
                tests.push(sub(ev, &one)?);
            }
            // A balanced `or` tree: `search` over every table has well over a thousand
            // columns, and a chain that deep would exhaust the stack when evaluated.
            any_of(tests)
        }
        ExprKind::Binary {
            op: op @ (BinOp::And | BinOp::Or),
            ..
        } => {
            let operands = e.operands(*op);
            let mut tests = Vec::with_capacity(operands.len());
            for x in operands {
                let test = sub(ev, x)?;
                if !matches!(test.ty, ScalarType::Bool | ScalarType::Dynamic) {
                    return Err(EvalError::new(
                        "KQL0205",
                        format!("`{}` expects bool operands, not {}", op.symbol(), test.ty),
                        x.span,
                    ));
                }
                tests.push(test);
            }
            balanced(*op, tests)
        }
        ExprKind::Binary { op, lhs, rhs } => {
            let l = sub(ev, lhs)?;
            let r = sub(ev, rhs)?;
            match op {
                BinOp::Eq
                | BinOp::Ne
                | BinOp::Lt
                | BinOp::Le
                | BinOp::Gt
                | BinOp::Ge
                | BinOp::EqCi
                | BinOp::NeCi => {
                    check_comparable(*op, &l, &r, e.span)?;
                    fold(
                        ev.ctx.now,
                        Compiled {
                            kind: CExpr::Cmp(*op, Box::new(l), Box::new(r)),
                            ty: ScalarType::Bool,
                        },
                    )
                }
                BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                    let Some(ty) = arith_type(*op, l.ty, r.ty) else {
                        let mut err = EvalError::new(
                            "KQL0205",
                            format!("cannot apply `{}` to {} and {}", op.symbol(), l.ty, r.ty),
                            e.span,
                        );
                        if l.ty == ScalarType::String || r.ty == ScalarType::String {
                            err = err.help("join strings with strcat()");
                        }
                        return Err(err);
                    };
                    fold(
                        ev.ctx.now,
                        Compiled {
                            kind: CExpr::Arith(*op, Box::new(l), Box::new(r)),
                            ty,
                        },
                    )
                }
                BinOp::Str {
                    op: sop,
                    negated,
                    case_sensitive,
                } => {
                    let kind = match &r.kind {
                        CExpr::Const(v) => {
                            let text = v.to_kql_string();
                            let needle = if *case_sensitive {
                                text
                            } else {
                                func::fold(&text).into_owned()
                            };
                            CExpr::StrConst {
                                op: *sop,
                                negated: *negated,
                                cs: *case_sensitive,
                                lhs: Box::new(l),
                                needle,
                            }
                        }
                        _ => CExpr::Str {
                            op: *sop,
                            negated: *negated,
                            cs: *case_sensitive,
                            lhs: Box::new(l),
                            rhs: Box::new(r),
                        },
                    };
                    Compiled {
                        kind,
                        ty: ScalarType::Bool,
                    }
                }
                BinOp::MatchesRegex => {
                    let kind = match &r.kind {
                        CExpr::Const(v) => {
                            let re = func::regex(&v.to_kql_string())
                                .map_err(|m| EvalError::new("KQL0207", m, rhs.span))?;
                            CExpr::Regex(Box::new(l), re)
                        }
                        _ => CExpr::RegexDyn(Box::new(l), Box::new(r)),
                    };
                    Compiled {
                        kind,
                        ty: ScalarType::Bool,
                    }
                }
                BinOp::And | BinOp::Or => unreachable!("compiled as a chain above"),
            }
        }
        ExprKind::Unary { op, expr } => {
            let c = sub(ev, expr)?;
            match op {
                UnaryOp::Plus => c,
                UnaryOp::Neg => {
                    if !(c.ty.is_numeric()
                        || c.ty == ScalarType::TimeSpan
                        || c.ty == ScalarType::Dynamic)
                    {
                        return Err(EvalError::new(
                            "KQL0205",
                            format!("cannot negate a {}", c.ty),
                            e.span,
                        ));
                    }
                    let ty = c.ty;
                    fold(
                        ev.ctx.now,
                        Compiled {
                            kind: CExpr::Neg(Box::new(c)),
                            ty,
                        },
                    )
                }
            }
        }
        ExprKind::List { op, lhs, items } => {
            let l = sub(ev, lhs)?;
            let mut compiled = Vec::new();
            for item in items {
                compiled.push(list_item(ev, item, cols, params)?);
            }
            let in_expr = Compiled {
                kind: CExpr::In {
                    op: *op,
                    lhs: Box::new(l),
                    items: compiled,
                },
                ty: ScalarType::Bool,
            };
            constant_list(in_expr)
        }
        ExprKind::Between {
            negated,
            lhs,
            low,
            high,
        } => {
            let l = sub(ev, lhs)?;
            let lo = sub(ev, low)?;
            let hi = sub(ev, high)?;
            // `x between (a .. b)` with a timespan upper bound means a .. a+b.
            let hi = if matches!(l.ty, ScalarType::DateTime) && hi.ty == ScalarType::TimeSpan {
                fold(
                    ev.ctx.now,
                    Compiled {
                        kind: CExpr::Arith(BinOp::Add, Box::new(lo.clone()), Box::new(hi)),
                        ty: ScalarType::DateTime,
                    },
                )
            } else {
                hi
            };
            Compiled {
                kind: CExpr::Between {
                    negated: *negated,
                    lhs: Box::new(l),
                    low: Box::new(lo),
                    high: Box::new(hi),
                },
                ty: ScalarType::Bool,
            }
        }
        ExprKind::Member { expr, name } => {
            if let ExprKind::Name(id) = &expr.kind
                && (id.name == "$left" || id.name == "$right")
            {
                return Err(EvalError::new(
                    "KQL0209",
                    "`$left` and `$right` are only valid in join conditions",
                    e.span,
                ));
            }
            let obj = sub(ev, expr)?;
            dynamic_only(&obj, expr, &format!(".{}", name.name))?;
            Compiled {
                kind: CExpr::Member(Box::new(obj), name.name.clone()),
                ty: ScalarType::Dynamic,
            }
        }
        ExprKind::Index { expr, index } => {
            let obj = sub(ev, expr)?;
            dynamic_only(&obj, expr, "[...]")?;
            let idx = sub(ev, index)?;
            Compiled {
                kind: CExpr::Index(Box::new(obj), Box::new(idx)),
                ty: ScalarType::Dynamic,
            }
        }
        ExprKind::Subquery(t) => {
            let table = ev.tabular(t)?;
            subquery_value(&table, e.span)?
        }
        ExprKind::Call { name, args } => compile_call(ev, e, name, args, cols, params)?,
    })
}

/// A single-column table in scalar position: its values as a dynamic array (for `in`).
pub(super) fn subquery_value(table: &Table, span: Span) -> R<Compiled> {
    if table.columns.is_empty() {
        return Err(EvalError::new(
            "KQL0205",
            "the subquery returns no columns",
            span,
        ));
    }
    let values: Vec<Value> = table.rows.iter().map(|r| r.values[0].clone()).collect();
    Ok(Compiled::constant(
        Value::array(values),
        ScalarType::Dynamic,
    ))
}

pub(super) fn list_item(
    ev: &mut Evaluator<'_>,
    item: &Expr,
    cols: &[Column],
    params: &Params,
) -> R<Compiled> {
    if let ExprKind::Paren(inner) = &item.kind {
        return list_item(ev, inner, cols, params);
    }
    // A name may be a tabular let: its first column is the list.
    if let ExprKind::Name(id) = &item.kind
        && cols.iter().all(|c| c.name != id.name)
        && !params.contains_key(&id.name)
        && let Some((Binding::Table(t), _)) = ev.lookup(&id.name)
    {
        let t = t.clone();
        return subquery_value(&t, item.span);
    }
    let c = compile_expr(ev, item, cols, params)?;
    Ok(match c.kind {
        // Scalars listed literally must not be flattened; dynamic arrays (lets, dynamic([...])) are.
        CExpr::Const(Value::Array(_)) => Compiled {
            ty: ScalarType::Dynamic,
            ..c
        },
        _ => c,
    })
}

pub(super) fn resolve_name(
    ev: &mut Evaluator<'_>,
    id: &Ident,
    cols: &[Column],
    params: &Params,
) -> R<Compiled> {
    if let Some(c) = params.get(&id.name) {
        return Ok(c.clone());
    }
    if let Some(i) = cols.iter().position(|c| c.name == id.name) {
        return Ok(Compiled {
            kind: CExpr::Col(i),
            ty: cols[i].ty,
        });
    }
    if let Some((b, _)) = ev.lookup(&id.name) {
        match b.clone() {
            Binding::Scalar(v, ty) => return Ok(Compiled::constant(v, ty)),
            Binding::Table(t) => {
                // A one-row, one-column table used as a scalar behaves like toscalar().
                if t.columns.len() == 1 {
                    return subquery_value(&t, id.span);
                }
            }
            Binding::Function(_) => {}
        }
    }
    match id.name.as_str() {
        "true" => return Ok(Compiled::constant(Value::Bool(true), ScalarType::Bool)),
        "false" => return Ok(Compiled::constant(Value::Bool(false), ScalarType::Bool)),
        _ => {}
    }
    let mut names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
    let scope_names: Vec<String> = ev.scopes.iter().flat_map(|s| s.keys().cloned()).collect();
    names.extend(scope_names.iter().map(String::as_str));
    let mut err = EvalError::new("KQL0202", format!("unknown column `{}`", id.name), id.span);
    err.unknown_column = Some(id.name.clone());
    if let Some(s) = did_you_mean(&id.name, names) {
        err = err.help(format!("did you mean `{s}`?"));
    }
    Err(err)
}

pub(super) fn compile_call(
    ev: &mut Evaluator<'_>,
    e: &Expr,
    name: &Ident,
    args: &[Arg],
    cols: &[Column],
    params: &Params,
) -> R<Compiled> {
    let fname = name.name.as_str();
    // Only the call an `extend`/`project` item makes directly may return several columns.
    let multi_ok = std::mem::take(&mut ev.multi_ok);
    if let Some(parts) = func::multi_valued(fname) {
        if !multi_ok {
            return Err(EvalError::new(
                "KQL0204",
                format!(
                    "`{fname}` returns several columns ({}); use it as a whole `extend` or `project` item",
                    parts.join(", ")
                ),
                name.span,
            ));
        }
        if fname == "series_decompose" {
            // Seasonality -1, the default, needs series_periods_detect (undocumented).
            let automatic = match args.get(1) {
                None => true,
                Some(a) => matches!(
                    compile_expr(ev, &a.value, cols, params)?.kind,
                    CExpr::Const(ref v) if v.to_long() == Some(-1)
                ),
            };
            if automatic {
                return Err(EvalError::new(
                    "KQL0204",
                    func::undetectable_seasonality(),
                    args.get(1).map_or(e.span, |a| a.value.span),
                ));
            }
        }
    }
    // Forms the evaluator handles itself.
    match fname {
        "not" => {
            let [a] = args else {
                return Err(EvalError::new(
                    "KQL0206",
                    "`not` takes one argument",
                    e.span,
                ));
            };
            let c = compile_expr(ev, &a.value, cols, params)?;
            return Ok(fold(
                ev.ctx.now,
                Compiled {
                    kind: CExpr::Not(Box::new(c)),
                    ty: ScalarType::Bool,
                },
            ));
        }
        "column_ifexists" => {
            let [col, default] = args else {
                return Err(EvalError::new(
                    "KQL0206",
                    "`column_ifexists` takes a column name and a default",
                    e.span,
                ));
            };
            let name_c = compile_expr(ev, &col.value, cols, params)?;
            let CExpr::Const(Value::String(col_name)) = &name_c.kind else {
                return Err(EvalError::new(
                    "KQL0205",
                    "column_ifexists expects a constant string column name",
                    col.value.span,
                ));
            };
            return match cols.iter().position(|c| c.name == col_name.as_ref()) {
                Some(i) => Ok(Compiled {
                    kind: CExpr::Col(i),
                    ty: cols[i].ty,
                }),
                None => compile_expr(ev, &default.value, cols, params),
            };
        }
        "bag_pack_columns" | "pack_all" => {
            let mut keys = Vec::new();
            let mut values = Vec::new();
            if fname == "pack_all" {
                for (i, c) in cols.iter().enumerate() {
                    keys.push(c.name.clone());
                    values.push(Compiled {
                        kind: CExpr::Col(i),
                        ty: c.ty,
                    });
                }
            } else {
                for a in args {
                    let ExprKind::Name(id) = &a.value.kind else {
                        return Err(EvalError::new(
                            "KQL0205",
                            "bag_pack_columns takes column names",
                            a.value.span,
                        ));
                    };
                    keys.push(id.name.clone());
                    values.push(compile_expr(ev, &a.value, cols, params)?);
                }
            }
            let Some(f) = func::scalar("bag_pack") else {
                return Err(EvalError::new("KQL0203", "bag_pack is missing", e.span));
            };
            let mut interleaved = Vec::new();
            for (k, v) in keys.into_iter().zip(values) {
                interleaved.push(Compiled::constant(Value::str(k), ScalarType::String));
                interleaved.push(v);
            }
            return Ok(Compiled {
                kind: CExpr::Call(f, interleaved, e.span),
                ty: ScalarType::Dynamic,
            });
        }
        "toscalar" => {
            let [a] = args else {
                return Err(EvalError::new(
                    "KQL0206",
                    "`toscalar` takes one argument",
                    e.span,
                ));
            };
            return match ev.try_tabular_expr(&a.value)? {
                Some(t) => Ok(match (t.columns.first(), t.rows.first()) {
                    (Some(c), Some(r)) => Compiled::constant(r.values[0].clone(), c.ty),
                    (Some(c), None) => Compiled::constant(c.ty.null(), c.ty),
                    _ => Compiled::constant(Value::Null, ScalarType::Dynamic),
                }),
                None => compile_expr(ev, &a.value, cols, params),
            };
        }
        "typeof" => {
            let type_name = args
                .first()
                .map(|a| type_arg_name(&a.value))
                .unwrap_or_default();
            let Some(ty) = ScalarType::from_name(type_name.trim()) else {
                return Err(EvalError::new(
                    "KQL0205",
                    format!("unknown type `{type_name}`"),
                    e.span,
                ));
            };
            return Ok(Compiled::constant(
                Value::str(ty.name()),
                ScalarType::String,
            ));
        }
        "materialize" => {
            return Err(EvalError::new(
                "KQL0205",
                "materialize() returns a table; use it as a tabular source",
                e.span,
            ));
        }
        "ingestion_time" => {
            // Generated and recorded events are taken as ingested when they happened.
            return Ok(
                match ["TimeGenerated", "Timestamp"].iter().find_map(|n| {
                    cols.iter()
                        .position(|c| &c.name == n && c.ty == ScalarType::DateTime)
                }) {
                    Some(i) => Compiled {
                        kind: CExpr::Col(i),
                        ty: ScalarType::DateTime,
                    },
                    None => Compiled::constant(Value::Null, ScalarType::DateTime),
                },
            );
        }
        _ => {}
    }
    if super::window::is_window_function(fname) {
        return Err(EvalError::new(
            "KQL0205",
            format!(
                "`{fname}()` is a window function: firedrill evaluates window functions in `extend`, `project`, `where` and `serialize`"
            ),
            name.span,
        ));
    }
    // User-defined scalar functions are inlined.
    if let Some((Binding::Function(def), _)) = ev.lookup(fname) {
        let def = def.clone();
        return inline_function(ev, e, fname, &def, args, cols, params);
    }
    let Some(f) = func::scalar(fname) else {
        if func::aggregate(fname).is_some() {
            return Err(EvalError::new(
                "KQL0205",
                format!("aggregate function `{fname}` is only valid in summarize"),
                name.span,
            ));
        }
        if let Some(why) = func::unsupported_reason(fname) {
            return Err(EvalError::new(
                "KQL0204",
                format!("function `{fname}` is not supported: {why}"),
                name.span,
            ));
        }
        let mut err = EvalError::new("KQL0203", format!("unknown function `{fname}`"), name.span);
        if let Some(s) = did_you_mean(fname, func::known_names()) {
            err = err.help(format!("did you mean `{s}`?"));
        }
        return Err(err);
    };
    if args.len() < f.min || args.len() > f.max {
        let expected = if f.min == f.max {
            f.min.to_string()
        } else if f.max == usize::MAX {
            format!("at least {}", f.min)
        } else {
            format!("{} to {}", f.min, f.max)
        };
        return Err(EvalError::new(
            "KQL0206",
            format!("`{fname}` takes {expected} arguments, got {}", args.len()),
            e.span,
        ));
    }
    let mut compiled = Vec::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        // `extract(re, 1, text, typeof(long))`: the type argument is passed as its name.
        if fname == "extract"
            && i == 3
            && let ExprKind::Call { name, args: targs } = &a.value.kind
            && name.name == "typeof"
        {
            let tn = targs
                .first()
                .map(|x| type_arg_name(&x.value))
                .unwrap_or_default();
            compiled.push(Compiled::constant(
                Value::str(tn.trim()),
                ScalarType::String,
            ));
            continue;
        }
        compiled.push(compile_expr(ev, &a.value, cols, params)?);
    }
    if matches!(
        fname,
        "extract" | "extract_all" | "replace" | "replace_regex" | "matches"
    ) {
        let pattern_arg = if fname == "replace_regex" { 1 } else { 0 };
        if let Some(Compiled {
            kind: CExpr::Const(v),
            ..
        }) = compiled.get(pattern_arg)
        {
            func::regex(&v.to_kql_string())
                .map_err(|m| EvalError::new("KQL0207", m, args[pattern_arg].value.span))?;
        }
    }
    let mut types: Vec<ScalarType> = compiled.iter().map(|c| c.ty).collect();
    if fname == "extract"
        && compiled.len() == 4
        && let CExpr::Const(v) = &compiled[3].kind
    {
        types[0] = ScalarType::from_name(&v.to_kql_string()).unwrap_or(ScalarType::String);
        return Ok(Compiled {
            kind: CExpr::Call(f, compiled, e.span),
            ty: types[0],
        });
    }
    let ty = func::return_type(f, &types);
    Ok(fold(
        ev.ctx.now,
        Compiled {
            kind: CExpr::Call(f, compiled, e.span),
            ty,
        },
    ))
}

/// The type name in `typeof(long)`.
pub(super) fn type_arg_name(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Name(id) => id.name.clone(),
        _ => e.to_string(),
    }
}

pub(super) fn inline_function(
    ev: &mut Evaluator<'_>,
    e: &Expr,
    fname: &str,
    def: &FunctionDef,
    args: &[Arg],
    cols: &[Column],
    params: &Params,
) -> R<Compiled> {
    let Some(last) = def.body.last() else {
        return Err(EvalError::new("KQL0204", "empty function body", def.span));
    };
    let body = match &last.kind {
        StatementKind::Scalar(x) => x,
        _ => {
            return Err(EvalError::new(
                "KQL0205",
                format!("function `{fname}` returns a table; use it as a tabular source"),
                e.span,
            ));
        }
    };
    if ev.depth >= MAX_CALL_DEPTH {
        return Err(EvalError::new(
            "KQL0204",
            format!("function `{fname}` recurses too deeply"),
            e.span,
        ));
    }
    let mut inner: Params = params.clone();
    let mut positional = args.iter().filter(|a| a.name.is_none());
    for p in &def.params {
        let named = args
            .iter()
            .find(|a| a.name.as_ref().is_some_and(|n| n.name == p.name.name));
        let expr = named
            .or_else(|| positional.next())
            .map(|a| &a.value)
            .or(p.default.as_ref());
        let Some(expr) = expr else {
            return Err(EvalError::new(
                "KQL0206",
                format!("missing argument `{}` of `{fname}`", p.name.name),
                e.span,
            ));
        };
        let c = compile_expr(ev, expr, cols, params)?;
        inner.insert(p.name.name.clone(), c);
    }
    ev.depth += 1;
    ev.scopes.push(HashMap::new());
    let mut result = Ok(());
    for s in &def.body[..def.body.len() - 1] {
        if let StatementKind::Let { name, value } = &s.kind {
            result = ev.let_statement(name, value);
            if result.is_err() {
                break;
            }
        }
    }
    let compiled = result.and_then(|()| compile_expr(ev, body, cols, &inner));
    ev.scopes.pop();
    ev.depth -= 1;
    compiled
}

/// `a or b or ...` as a balanced tree (false for none), evaluated left to right.
fn any_of(tests: Vec<Compiled>) -> Compiled {
    balanced(BinOp::Or, tests)
}

/// `a and b and ...` (`op` And) or `a or b or ...` (`op` Or) as a balanced tree, evaluated left
/// to right: the same result as the chain (both are associative, nulls included), at a depth
/// the stack survives however long the chain (a converted Sigma rule can `or` thousands of
/// comparisons). None is the operator's identity.
fn balanced(op: BinOp, mut tests: Vec<Compiled>) -> Compiled {
    if tests.is_empty() {
        return Compiled::constant(Value::Bool(op == BinOp::And), ScalarType::Bool);
    }
    while tests.len() > 1 {
        let mut paired = Vec::with_capacity(tests.len().div_ceil(2));
        let mut it = tests.into_iter();
        while let Some(a) = it.next() {
            paired.push(match it.next() {
                Some(b) => Compiled {
                    kind: if op == BinOp::And {
                        CExpr::And(Box::new(a), Box::new(b))
                    } else {
                        CExpr::Or(Box::new(a), Box::new(b))
                    },
                    ty: ScalarType::Bool,
                },
                None => a,
            });
        }
        tests = paired;
    }
    tests.pop().expect("one test left")
}

/// Member and element access (`x.a`, `x[0]`, `x["a"]`) read dynamic values only, as Kusto
/// binds them (a string is not parsed implicitly: Kusto.Language reports KS147 / KS142).
fn dynamic_only(obj: &Compiled, expr: &Expr, access: &str) -> R<()> {
    if obj.ty == ScalarType::Dynamic {
        return Ok(());
    }
    let mut err = EvalError::new(
        "KQL0205",
        format!(
            "`{access}` reads a dynamic value, but `{expr}` is {}",
            obj.ty
        ),
        expr.span,
    );
    if obj.ty == ScalarType::String {
        err = err.help(format!(
            "parse the text first: `parse_json({expr}){access}`"
        ));
    }
    Err(err)
}

//! The scalar and aggregate function tables, and the string operators (`has`, `contains`, `startswith`, ...).
//!
//! Each scalar function is a row of [`SCALARS`]: its name, how many arguments it takes, its result
//! type, and a plain function over evaluated arguments. Semantics follow the function pages under
//! learn.microsoft.com/kusto/query/; where Kusto returns null (a failed conversion, an index out of
//! range) these do too. Functions that need the query's schema or sub-queries (`column_ifexists`,
//! `toscalar`, `materialize`) are handled by the evaluator, not here.

use super::value::{
    ScalarType, TICKS_PER_DAY, TICKS_PER_HOUR, TICKS_PER_MILLI, TICKS_PER_MINUTE, TICKS_PER_SECOND,
    Value, chrono_from_ticks, ticks_from_chrono,
};
use chrono::{Datelike, Timelike};
use indexmap::{IndexMap, IndexSet};
use regex::Regex;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

mod series;

/// What a function call may read besides its arguments.
#[derive(Clone, Copy, Debug)]
pub struct Context {
    /// `now()`, in ticks since the Unix epoch.
    pub now: i64,
}

/// How a function's result type follows from its arguments.
#[derive(Clone, Copy, Debug)]
pub enum Ret {
    /// Always this type.
    Fixed(ScalarType),
    /// The type of argument `n`.
    Arg(usize),
    /// The common type of arguments from `n` on, every other one (`iff`: 1; `case`: 1, step 2).
    Common(usize, usize),
}

/// One scalar function.
#[derive(Debug)]
pub struct ScalarFn {
    /// Its name in queries.
    pub name: &'static str,
    /// Fewest arguments.
    pub min: usize,
    /// Most arguments (`usize::MAX` for variadic).
    pub max: usize,
    /// Result type.
    pub ret: Ret,
    /// The implementation; `Err` is a message for a run-time diagnostic (a bad regex).
    pub call: fn(&[Value], &Context) -> Result<Value, String>,
}

const V: usize = usize::MAX;

macro_rules! f {
    ($name:literal, $min:expr, $max:expr, $ret:expr, $call:expr) => {
        ScalarFn {
            name: $name,
            min: $min,
            max: $max,
            ret: $ret,
            call: $call,
        }
    };
}

/// A one-argument function of a number, real-valued, null when the argument is no number.
macro_rules! real_fn {
    ($name:literal, $f:expr) => {
        f!($name, 1, 1, Ret::Fixed(T::Real), |a, _| Ok(real1(
            &a[0], $f
        )))
    };
}

use ScalarType as T;

/// Every scalar function, by name. Aliases are separate rows.
pub static SCALARS: &[ScalarFn] = &[
    f!("ago", 1, 1, Ret::Fixed(T::DateTime), |a, c| Ok(
        ts(&a[0]).map_or(Value::Null, |t| Value::DateTime(c.now - t))
    )),
    f!("now", 0, 1, Ret::Fixed(T::DateTime), |a, c| Ok(
        Value::DateTime(c.now + a.first().and_then(ts).unwrap_or(0))
    )),
    f!("tolower", 1, 1, Ret::Fixed(T::String), |a, _| Ok(
        Value::str(a[0].text().to_lowercase())
    )),
    f!("toupper", 1, 1, Ret::Fixed(T::String), |a, _| Ok(
        Value::str(a[0].text().to_uppercase())
    )),
    f!("strcat", 1, 64, Ret::Fixed(T::String), |a, _| Ok(
        Value::str(a.iter().map(|v| v.text()).collect::<String>())
    )),
    f!("strcat_delim", 3, 64, Ret::Fixed(T::String), |a, _| {
        let delim = a[0].text();
        Ok(Value::str(
            a[1..]
                .iter()
                .map(|v| v.text().into_owned())
                .collect::<Vec<_>>()
                .join(&delim),
        ))
    }),
    f!("strlen", 1, 1, Ret::Fixed(T::Long), |a, _| Ok(Value::Long(
        a[0].text().chars().count() as i64
    ))),
    f!("substring", 2, 3, Ret::Fixed(T::String), substring),
    f!("iff", 3, 3, Ret::Common(1, 1), iff),
    f!("iif", 3, 3, Ret::Common(1, 1), iff),
    f!("case", 3, V, Ret::Common(1, 2), |a, _| {
        for pair in a[..a.len() - 1].chunks(2) {
            if truthy(&pair[0]) {
                return Ok(pair[1].clone());
            }
        }
        Ok(a[a.len() - 1].clone())
    }),
    f!("coalesce", 1, 64, Ret::Common(0, 1), |a, _| Ok(a
        .iter()
        .find(|v| !v.is_empty())
        .cloned()
        .unwrap_or_else(|| a[a.len() - 1].clone()))),
    f!("isempty", 1, 1, Ret::Fixed(T::Bool), |a, _| Ok(
        Value::Bool(a[0].is_empty())
    )),
    f!("isnotempty", 1, 1, Ret::Fixed(T::Bool), isnotempty),
    f!("notempty", 1, 1, Ret::Fixed(T::Bool), isnotempty),
    f!("isnull", 1, 1, Ret::Fixed(T::Bool), |a, _| Ok(Value::Bool(
        a[0].is_null()
    ))),
    f!("isnotnull", 1, 1, Ret::Fixed(T::Bool), isnotnull),
    f!("notnull", 1, 1, Ret::Fixed(T::Bool), isnotnull),
    f!("tostring", 1, 1, Ret::Fixed(T::String), |a, _| Ok(
        Value::str(a[0].to_kql_string())
    )),
    f!("toint", 1, 1, Ret::Fixed(T::Int), to_int),
    f!("int", 1, 1, Ret::Fixed(T::Int), to_int),
    f!("tolong", 1, 1, Ret::Fixed(T::Long), to_long),
    f!("long", 1, 1, Ret::Fixed(T::Long), to_long),
    f!("todouble", 1, 1, Ret::Fixed(T::Real), to_real),
    f!("toreal", 1, 1, Ret::Fixed(T::Real), to_real),
    f!("real", 1, 1, Ret::Fixed(T::Real), to_real),
    f!("double", 1, 1, Ret::Fixed(T::Real), to_real),
    f!("todecimal", 1, 1, Ret::Fixed(T::Decimal), |a, _| Ok(
        a[0].convert(T::Decimal)
    )),
    f!("tobool", 1, 1, Ret::Fixed(T::Bool), to_bool),
    f!("toboolean", 1, 1, Ret::Fixed(T::Bool), to_bool),
    f!("bool", 1, 1, Ret::Fixed(T::Bool), to_bool),
    f!("todatetime", 1, 1, Ret::Fixed(T::DateTime), to_datetime),
    f!("datetime", 1, 1, Ret::Fixed(T::DateTime), to_datetime),
    f!("totimespan", 1, 1, Ret::Fixed(T::TimeSpan), to_timespan),
    f!("timespan", 1, 1, Ret::Fixed(T::TimeSpan), to_timespan),
    f!("toguid", 1, 1, Ret::Fixed(T::Guid), |a, _| Ok(
        a[0].convert(T::Guid)
    )),
    f!("parse_json", 1, 1, Ret::Fixed(T::Dynamic), parse_json),
    f!("parsejson", 1, 1, Ret::Fixed(T::Dynamic), parse_json),
    f!("todynamic", 1, 1, Ret::Fixed(T::Dynamic), parse_json),
    f!("dynamic", 1, 1, Ret::Fixed(T::Dynamic), |a, _| Ok(
        a[0].clone()
    )),
    f!("gettype", 1, 1, Ret::Fixed(T::String), |a, _| Ok(
        Value::str(gettype(&a[0]))
    )),
    f!("bin", 2, 2, Ret::Arg(0), |a, _| Ok(bin(&a[0], &a[1]))),
    f!("floor", 2, 2, Ret::Arg(0), |a, _| Ok(bin(&a[0], &a[1]))),
    f!("bin_at", 3, 3, Ret::Arg(0), |a, _| Ok(bin_at(
        &a[0], &a[1], &a[2]
    ))),
    f!("extract", 3, 4, Ret::Fixed(T::String), extract),
    f!("extract_all", 2, 3, Ret::Fixed(T::Dynamic), extract_all),
    f!("split", 2, 3, Ret::Fixed(T::Dynamic), split),
    f!("replace_string", 3, 3, Ret::Fixed(T::String), |a, _| Ok(
        Value::str(replace_literal(&a[0].text(), &a[1].text(), &a[2].text()))
    )),
    f!(
        "replace",
        3,
        3,
        Ret::Fixed(T::String),
        |a, _| replace_regex(&a[0], &a[1], &a[2])
    ),
    f!("replace_regex", 3, 3, Ret::Fixed(T::String), |a, _| {
        replace_regex(&a[1], &a[2], &a[0])
    }),
    f!("trim", 2, 2, Ret::Fixed(T::String), |a, _| trim(
        &a[0], &a[1], true, true
    )),
    f!("trim_start", 2, 2, Ret::Fixed(T::String), |a, _| trim(
        &a[0], &a[1], true, false
    )),
    f!("trim_end", 2, 2, Ret::Fixed(T::String), |a, _| trim(
        &a[0], &a[1], false, true
    )),
    f!("reverse", 1, 1, Ret::Fixed(T::String), |a, _| Ok(
        Value::str(round_trip_text(&a[0]).chars().rev().collect::<String>())
    )),
    f!("indexof", 2, 5, Ret::Fixed(T::Long), indexof),
    f!("countof", 2, 3, Ret::Fixed(T::Long), countof),
    f!("strrep", 2, 3, Ret::Fixed(T::String), |a, _| {
        let n = a[1].to_long().unwrap_or(0).clamp(0, 1024) as usize;
        let delim = a.get(2).map(|d| d.text().into_owned()).unwrap_or_default();
        Ok(Value::str(vec![a[0].text().into_owned(); n].join(&delim)))
    }),
    f!(
        "base64_decode_tostring",
        1,
        1,
        Ret::Fixed(T::String),
        base64_decode
    ),
    f!(
        "base64_decodestring",
        1,
        1,
        Ret::Fixed(T::String),
        base64_decode
    ),
    f!(
        "base64_encode_tostring",
        1,
        1,
        Ret::Fixed(T::String),
        base64_encode_text
    ),
    f!(
        "base64_encodestring",
        1,
        1,
        Ret::Fixed(T::String),
        base64_encode_text
    ),
    f!("url_decode", 1, 1, Ret::Fixed(T::String), |a, _| Ok(
        Value::str(url_decode(&a[0].text()))
    )),
    f!("array_length", 1, 1, Ret::Fixed(T::Long), array_length),
    // Returns several columns: the evaluator splits it in extend and project (see MULTI_VALUED).
    f!("series_decompose", 1, 5, Ret::Fixed(T::Dynamic), |a, _| {
        series::series_decompose(a)
    }),
    f!("array_slice", 3, 3, Ret::Fixed(T::Dynamic), array_slice),
    f!("array_concat", 1, 64, Ret::Fixed(T::Dynamic), |a, _| Ok(
        Value::array(
            a.iter()
                .flat_map(|v| match v {
                    Value::Array(items) => items.to_vec(),
                    _ => Vec::new(),
                })
                .collect()
        )
    )),
    f!("array_reverse", 1, 1, Ret::Fixed(T::Dynamic), |a, _| Ok(
        match &a[0] {
            Value::Array(items) => Value::array(items.iter().rev().cloned().collect()),
            _ => Value::Null,
        }
    )),
    // Several arrays return several columns: the evaluator splits them in extend and project.
    f!("array_sort_asc", 1, V, Ret::Fixed(T::Dynamic), |a, _| Ok(
        array_sort(a, false)
    )),
    f!("array_sort_desc", 1, V, Ret::Fixed(T::Dynamic), |a, _| Ok(
        array_sort(a, true)
    )),
    f!("array_index_of", 2, 5, Ret::Fixed(T::Long), |a, _| Ok(
        match &a[0] {
            Value::Array(items) => Value::Long(nth_position(
                items,
                a,
                |items, i| items[i].kql_eq(&a[1]) == Some(true),
                1,
            )),
            _ => Value::Null,
        }
    )),
    f!("set_has_element", 2, 2, Ret::Fixed(T::Bool), |a, _| Ok(
        match &a[0] {
            Value::Array(items) => Value::Bool(items.iter().any(|v| v.kql_eq(&a[1]) == Some(true))),
            _ => Value::Null,
        }
    )),
    f!("array_strcat", 2, 2, Ret::Fixed(T::String), strcat_array),
    f!("strcat_array", 2, 2, Ret::Fixed(T::String), strcat_array),
    f!("pack_array", 0, V, Ret::Fixed(T::Dynamic), |a, _| Ok(
        Value::array(a.iter().map(|v| v.convert(T::Dynamic)).collect())
    )),
    f!("pack", 0, V, Ret::Fixed(T::Dynamic), bag_pack),
    f!("bag_pack", 0, V, Ret::Fixed(T::Dynamic), bag_pack),
    f!("pack_dictionary", 0, V, Ret::Fixed(T::Dynamic), bag_pack),
    f!("bag_remove_keys", 2, 2, Ret::Fixed(T::Dynamic), |a, _| Ok(
        match (&a[0], &a[1]) {
            (Value::Bag(_), Value::Array(keys)) => {
                let mut bag = a[0].clone();
                for key in keys.iter() {
                    remove_key(&mut bag, &key.text());
                }
                bag
            }
            _ => Value::Null,
        }
    )),
    f!("bag_keys", 1, 1, Ret::Fixed(T::Dynamic), |a, _| Ok(
        match &a[0] {
            Value::Bag(map) => Value::array(map.keys().map(Value::str).collect()),
            _ => Value::Null,
        }
    )),
    f!("bag_has_key", 2, 2, Ret::Fixed(T::Bool), |a, _| Ok(
        match &a[0] {
            // A key, or a JSONPath into nested bags (`$.key2.prop1`, `$['key']`).
            Value::Bag(map) => Value::Bool(match a[1].text().strip_prefix('$') {
                Some(path) => json_path(&a[0], path).is_some(),
                None => map.contains_key(a[1].text().as_ref()),
            }),
            _ => Value::Null,
        }
    )),
    f!("set_union", 1, 64, Ret::Fixed(T::Dynamic), |a, _| Ok(
        set_combine(a, SetOp::Union)
    )),
    f!("set_intersect", 1, 64, Ret::Fixed(T::Dynamic), |a, _| Ok(
        set_combine(a, SetOp::Intersect)
    )),
    f!("set_difference", 1, 64, Ret::Fixed(T::Dynamic), |a, _| Ok(
        set_combine(a, SetOp::Difference)
    )),
    f!("range", 2, 3, Ret::Fixed(T::Dynamic), range_array),
    f!("datetime_add", 3, 3, Ret::Fixed(T::DateTime), datetime_add),
    f!("datetime_diff", 3, 3, Ret::Fixed(T::Long), datetime_diff),
    f!("datetime_part", 2, 2, Ret::Fixed(T::Int), |a, _| Ok(
        datetime_part(&a[0].text(), &a[1])
    )),
    f!("startofday", 1, 2, Ret::Fixed(T::DateTime), |a, _| Ok(
        start_of(&a[0], a.get(1), Period::Day)
    )),
    f!("startofweek", 1, 2, Ret::Fixed(T::DateTime), |a, _| Ok(
        start_of(&a[0], a.get(1), Period::Week)
    )),
    f!("startofmonth", 1, 2, Ret::Fixed(T::DateTime), |a, _| Ok(
        start_of(&a[0], a.get(1), Period::Month)
    )),
    f!("startofyear", 1, 2, Ret::Fixed(T::DateTime), |a, _| Ok(
        start_of(&a[0], a.get(1), Period::Year)
    )),
    f!("endofday", 1, 2, Ret::Fixed(T::DateTime), |a, _| Ok(
        end_of(&a[0], a.get(1), Period::Day)
    )),
    f!("endofweek", 1, 2, Ret::Fixed(T::DateTime), |a, _| Ok(
        end_of(&a[0], a.get(1), Period::Week)
    )),
    f!("endofmonth", 1, 2, Ret::Fixed(T::DateTime), |a, _| Ok(
        end_of(&a[0], a.get(1), Period::Month)
    )),
    f!("dayofweek", 1, 1, Ret::Fixed(T::TimeSpan), |a, _| Ok(dt(
        &a[0]
    )
    .and_then(chrono_from_ticks)
    .map_or(Value::Null, |t| Value::TimeSpan(
        i64::from(t.weekday().num_days_from_sunday()) * TICKS_PER_DAY
    )))),
    f!("dayofmonth", 1, 1, Ret::Fixed(T::Int), |a, _| Ok(
        datetime_part("day", &a[0])
    )),
    f!("dayofyear", 1, 1, Ret::Fixed(T::Int), |a, _| Ok(
        datetime_part("dayofyear", &a[0])
    )),
    f!("hourofday", 1, 1, Ret::Fixed(T::Int), |a, _| Ok(
        datetime_part("hour", &a[0])
    )),
    f!("monthofyear", 1, 1, Ret::Fixed(T::Int), |a, _| Ok(
        datetime_part("month", &a[0])
    )),
    f!("getyear", 1, 1, Ret::Fixed(T::Int), |a, _| Ok(
        datetime_part("year", &a[0])
    )),
    f!("getmonth", 1, 1, Ret::Fixed(T::Int), |a, _| Ok(
        datetime_part("month", &a[0])
    )),
    f!(
        "unixtime_seconds_todatetime",
        1,
        1,
        Ret::Fixed(T::DateTime),
        |a, _| Ok(unixtime_todatetime(&a[0], TICKS_PER_SECOND))
    ),
    f!(
        "unixtime_milliseconds_todatetime",
        1,
        1,
        Ret::Fixed(T::DateTime),
        |a, _| Ok(unixtime_todatetime(&a[0], TICKS_PER_MILLI))
    ),
    f!("format_datetime", 2, 2, Ret::Fixed(T::String), |a, _| Ok(
        dt(&a[0]).map_or(Value::empty_string(), |t| Value::str(
            format_datetime_pattern(t, &a[1].text())
        ))
    )),
    f!("format_timespan", 2, 2, Ret::Fixed(T::String), |a, _| Ok(
        ts(&a[0]).map_or(Value::empty_string(), |t| Value::str(
            format_timespan_pattern(t, &a[1].text())
        ))
    )),
    f!(
        "make_datetime",
        3,
        7,
        Ret::Fixed(T::DateTime),
        make_datetime
    ),
    f!("make_timespan", 2, 4, Ret::Fixed(T::TimeSpan), |a, _| {
        // The page types `second` as real: its fraction counts, to the tick.
        let Some(seconds) = a[a.len() - 1].to_real().filter(|_| a.len() > 2) else {
            let n: Option<Vec<i64>> = a.iter().map(Value::to_long).collect();
            return Ok(n.map_or(Value::Null, |n| {
                Value::TimeSpan(n[0] * TICKS_PER_HOUR + n[1] * TICKS_PER_MINUTE)
            }));
        };
        let units: &[i64] = match a.len() {
            3 => &[TICKS_PER_HOUR, TICKS_PER_MINUTE],
            _ => &[TICKS_PER_DAY, TICKS_PER_HOUR, TICKS_PER_MINUTE],
        };
        let whole: Option<i64> = a
            .iter()
            .zip(units)
            .map(|(v, unit)| v.to_long().map(|n| n * unit))
            .sum();
        Ok(whole.map_or(Value::Null, |whole| {
            Value::TimeSpan(whole + (seconds * TICKS_PER_SECOND as f64).round() as i64)
        }))
    }),
    f!("abs", 1, 1, Ret::Arg(0), |a, _| Ok(match &a[0] {
        Value::Long(i) => Value::Long(i.abs()),
        Value::Real(f) => Value::Real(f.abs()),
        Value::TimeSpan(t) => Value::TimeSpan(t.abs()),
        _ => Value::Null,
    })),
    f!("round", 1, 2, Ret::Arg(0), |a, _| Ok(
        match (&a[0], a.get(1).and_then(Value::to_long).unwrap_or(0)) {
            (Value::Long(i), _) => Value::Long(*i),
            (Value::Real(f), p) => {
                let m = 10f64.powi(p as i32);
                Value::Real((f * m).round() / m)
            }
            _ => Value::Null,
        }
    )),
    f!("sqrt", 1, 1, Ret::Fixed(T::Real), |a, _| Ok(a[0]
        .to_real()
        .map_or(Value::Null, |f| Value::Real(f.sqrt())))),
    f!("log", 1, 1, Ret::Fixed(T::Real), |a, _| Ok(a[0]
        .to_real()
        .map_or(Value::Null, |f| Value::Real(f.ln())))),
    f!("log2", 1, 1, Ret::Fixed(T::Real), |a, _| Ok(a[0]
        .to_real()
        .map_or(Value::Null, |f| Value::Real(f.log2())))),
    f!("log10", 1, 1, Ret::Fixed(T::Real), |a, _| Ok(a[0]
        .to_real()
        .map_or(Value::Null, |f| Value::Real(f.log10())))),
    f!("exp", 1, 1, Ret::Fixed(T::Real), |a, _| Ok(a[0]
        .to_real()
        .map_or(Value::Null, |f| Value::Real(f.exp())))),
    // Trigonometry (the sin, cos, tan, cot, asin, acos, atan, atan2, degrees, radians and pi
    // pages): angles in radians; asin and acos are null outside [-1, 1].
    real_fn!("sin", f64::sin),
    real_fn!("cos", f64::cos),
    real_fn!("tan", f64::tan),
    real_fn!("cot", |x: f64| 1.0 / x.tan()),
    f!("asin", 1, 1, Ret::Fixed(T::Real), |a, _| Ok(unit_domain(
        &a[0],
        f64::asin
    ))),
    f!("acos", 1, 1, Ret::Fixed(T::Real), |a, _| Ok(unit_domain(
        &a[0],
        f64::acos
    ))),
    real_fn!("atan", f64::atan),
    f!("atan2", 2, 2, Ret::Fixed(T::Real), |a, _| Ok(
        match (a[0].to_real(), a[1].to_real()) {
            (Some(y), Some(x)) => Value::Real(y.atan2(x)),
            _ => Value::Null,
        }
    )),
    real_fn!("degrees", f64::to_degrees),
    real_fn!("radians", f64::to_radians),
    f!("pi", 0, 0, Ret::Fixed(T::Real), |_, _| Ok(Value::Real(
        std::f64::consts::PI
    ))),
    f!("pow", 2, 2, Ret::Fixed(T::Real), |a, _| Ok(
        match (a[0].to_real(), a[1].to_real()) {
            (Some(x), Some(y)) => Value::Real(x.powf(y)),
            _ => Value::Null,
        }
    )),
    f!("ceiling", 1, 1, Ret::Arg(0), |a, _| Ok(match &a[0] {
        Value::Real(f) => Value::Real(f.ceil()),
        other => other.clone(),
    })),
    // Real, whatever the argument (Kusto.Language's signature; the page's parameter is real).
    f!("sign", 1, 1, Ret::Fixed(T::Real), |a, _| Ok(a[0]
        .to_real()
        .map_or(Value::Null, |f| Value::Real(if f == 0.0 {
            0.0
        } else {
            f.signum()
        })))),
    f!("min_of", 1, 64, Ret::Common(0, 1), |a, _| Ok(a
        .iter()
        .filter(|v| !v.is_null())
        .min_by(|x, y| x.sort_cmp(y))
        .cloned()
        .unwrap_or(Value::Null))),
    f!("max_of", 1, 64, Ret::Common(0, 1), |a, _| Ok(a
        .iter()
        .filter(|v| !v.is_null())
        .max_by(|x, y| x.sort_cmp(y))
        .cloned()
        .unwrap_or(Value::Null))),
    f!("tohex", 1, 2, Ret::Fixed(T::String), |a, _| Ok(a[0]
        .to_long()
        .map_or(Value::empty_string(), |i| {
            // Padded with zeros to `minLength` (`tohex(256, 8)` is `00000100`).
            let width = a.get(1).and_then(Value::to_long).unwrap_or(0).clamp(0, 64) as usize;
            Value::str(format!("{i:0width$x}"))
        }))),
    f!("hash", 1, 2, Ret::Fixed(T::Long), |a, _| {
        if a[0].is_null() {
            return Ok(Value::Null);
        }
        let hash = xxh64(&hash_bytes(&a[0]));
        Ok(match a.get(1).map(Value::to_long) {
            None => Value::Long(hash as i64),
            // "so that the output value is between 0 and mod - 1".
            Some(Some(m)) if m > 0 => Value::Long((hash % m as u64) as i64),
            Some(_) => Value::Null,
        })
    }),
    f!("isascii", 1, 1, Ret::Fixed(T::Bool), |a, _| Ok(
        Value::Bool(a[0].text().is_ascii())
    )),
    f!("isutf8", 1, 1, Ret::Fixed(T::Bool), |_, _| Ok(Value::Bool(
        true
    ))),
    f!(
        "parse_command_line",
        2,
        2,
        Ret::Fixed(T::Dynamic),
        |a, _| Ok(Value::array(
            parse_command_line(&a[0].text())
                .into_iter()
                .map(Value::str)
                .collect()
        ))
    ),
    f!("parse_path", 1, 1, Ret::Fixed(T::Dynamic), |a, _| Ok(
        parse_path(&a[0].text())
    )),
    f!("parse_url", 1, 1, Ret::Fixed(T::Dynamic), |a, _| Ok(
        parse_url(&a[0].text())
    )),
    f!("parse_csv", 1, 1, Ret::Fixed(T::Dynamic), |a, _| Ok(
        parse_csv(&a[0].text())
    )),
    f!("ipv4_is_private", 1, 1, Ret::Fixed(T::Bool), |a, _| Ok(
        parse_ipv4(&a[0].text()).map_or(Value::Null, |ip| Value::Bool(ipv4_private(ip)))
    )),
    f!("ipv4_is_in_range", 2, 2, Ret::Fixed(T::Bool), |a, _| Ok(
        match (parse_ipv4(&a[0].text()), parse_cidr(&a[1].text())) {
            (Some(ip), Some(r)) => Value::Bool(in_cidr(ip, r)),
            _ => Value::Null,
        }
    )),
    f!("ipv4_is_in_any_range", 2, V, Ret::Fixed(T::Bool), |a, _| {
        let Some(ip) = parse_ipv4(&a[0].text()) else {
            return Ok(Value::Null);
        };
        let ranges: Vec<Value> = a[1..]
            .iter()
            .flat_map(|v| match v {
                Value::Array(items) => items.to_vec(),
                other => vec![other.clone()],
            })
            .collect();
        Ok(Value::Bool(
            ranges
                .iter()
                .filter_map(|r| parse_cidr(&r.text()))
                .any(|r| in_cidr(ip, r)),
        ))
    }),
    f!("ipv4_is_match", 2, 3, Ret::Fixed(T::Bool), |a, _| Ok(
        match (parse_cidr(&a[0].text()), parse_cidr(&a[1].text())) {
            (Some(x), Some(y)) => {
                // The prefix argument (0 to 32) narrows both addresses further.
                let prefix = match a.get(2).map(Value::to_long) {
                    None => 32,
                    Some(Some(p)) if (0..=32).contains(&p) => p as u32,
                    Some(_) => return Ok(Value::Null),
                };
                let bits = x.1.min(y.1).min(prefix);
                Value::Bool(in_cidr(x.0, (y.0, bits)))
            }
            _ => Value::Null,
        }
    )),
    // A random (version 4) GUID, from the same reproducible generator as rand().
    f!("new_guid", 0, 0, Ret::Fixed(T::Guid), |_, _| {
        let bits = (u128::from(next_random()) << 64 | u128::from(next_random()))
            & !(0xF000 << 64 | 0xC000 << 48)
            | (0x4000 << 64 | 0x8000 << 48);
        Ok(super::value::parse_guid(&format!("{bits:032x}"))
            .map_or(Value::Null, |g| Value::Guid(Arc::from(g))))
    }),
    f!("arraylength", 1, 1, Ret::Fixed(T::Long), array_length),
    f!("extract_json", 2, 3, Ret::Fixed(T::String), extract_json),
    f!("extractjson", 2, 3, Ret::Fixed(T::String), extract_json),
    f!("hash_sha256", 1, 1, Ret::Fixed(T::String), |a, _| Ok(
        Value::str(sha256_hex(round_trip_text(&a[0]).as_bytes()))
    )),
    f!(
        "make_string",
        1,
        64,
        Ret::Fixed(T::String),
        string_from_codepoints
    ),
    f!(
        "unicode_codepoints_to_string",
        1,
        64,
        Ret::Fixed(T::String),
        string_from_codepoints
    ),
    f!("to_utf8", 1, 1, Ret::Fixed(T::Dynamic), codepoints),
    f!(
        "unicode_codepoints_from_string",
        1,
        1,
        Ret::Fixed(T::Dynamic),
        codepoints
    ),
    f!("has_ipv4", 2, 2, Ret::Fixed(T::Bool), |a, _| Ok(
        Value::Bool(ipv4_tokens(&a[0].text()).any(|t| t == a[1].text().trim()))
    )),
    f!("has_ipv4_prefix", 2, 2, Ret::Fixed(T::Bool), |a, _| Ok(
        Value::Bool(has_ipv4_prefix(&a[0].text(), &[a[1].text().into_owned()]))
    )),
    f!("has_any_ipv4", 2, V, Ret::Fixed(T::Bool), |a, _| {
        let wanted = flat_texts(&a[1..]);
        Ok(Value::Bool(
            ipv4_tokens(&a[0].text()).any(|t| wanted.iter().any(|w| w == t)),
        ))
    }),
    f!("has_any_ipv4_prefix", 2, V, Ret::Fixed(T::Bool), |a, _| Ok(
        Value::Bool(has_ipv4_prefix(&a[0].text(), &flat_texts(&a[1..])))
    )),
    f!("url_encode", 1, 1, Ret::Fixed(T::String), |a, _| Ok(
        Value::str(url_encode(&a[0].text(), "+"))
    )),
    f!(
        "url_encode_component",
        1,
        1,
        Ret::Fixed(T::String),
        |a, _| Ok(Value::str(url_encode(&a[0].text(), "%20")))
    ),
    f!("translate", 3, 3, Ret::Fixed(T::String), |a, _| {
        let from: Vec<char> = a[0].text().chars().collect();
        let to: Vec<char> = a[1].text().chars().collect();
        Ok(Value::str(
            a[2].text()
                .chars()
                .filter_map(|c| match from.iter().position(|f| *f == c) {
                    Some(i) if to.is_empty() => {
                        let _ = i;
                        None
                    }
                    Some(i) => Some(*to.get(i).unwrap_or_else(|| to.last().unwrap_or(&c))),
                    None => Some(c),
                })
                .collect::<String>(),
        ))
    }),
    f!(
        "base64_decode_toarray",
        1,
        1,
        Ret::Fixed(T::Dynamic),
        |a, _| Ok(match base64_decode_bytes(&a[0].text()) {
            Some(bytes) => Value::array(
                bytes
                    .into_iter()
                    .map(|b| Value::Long(i64::from(b)))
                    .collect()
            ),
            None => Value::Null,
        })
    ),
    f!("rand", 0, 1, Ret::Fixed(T::Real), |a, _| {
        let unit = (next_random() >> 11) as f64 / (1u64 << 53) as f64;
        Ok(match a.first().and_then(Value::to_long) {
            Some(n) if n > 0 => Value::Long((unit * n as f64) as i64),
            _ => Value::Real(unit),
        })
    }),
    f!("parse_xml", 1, 1, Ret::Fixed(T::Dynamic), |a, _| Ok(
        parse_xml(&a[0].text())
    )),
    f!("has_any_index", 2, 2, Ret::Fixed(T::Long), |a, _| Ok(
        match &a[1] {
            Value::Array(items) => Value::Long(
                items
                    .iter()
                    .position(|t| has(&a[0].text(), &t.text(), false))
                    .map_or(-1, |i| i as i64)
            ),
            _ => Value::Null,
        }
    )),
];

/// Looks a scalar function up by name.
pub fn scalar(name: &str) -> Option<&'static ScalarFn> {
    SCALARS.iter().find(|f| f.name == name)
}

/// Kusto functions firedrill knows but does not run, each with the reason (`KQL0204`, not
/// `KQL0203` "unknown function"): their results depend on computations Microsoft's
/// documentation does not specify, so any implementation would be a guess.
pub static UNSUPPORTED_SCALARS: &[(&str, &str)] = &[
    (
        "series_decompose_anomalies",
        "its anomaly score is series_outliers' and its default seasonality (-1) series_periods_detect's, and Microsoft's documentation specifies neither computation",
    ),
    (
        "series_decompose_forecast",
        "its default seasonality (-1) is detected by series_periods_detect, whose algorithm Microsoft's documentation does not specify",
    ),
    (
        "series_outliers",
        "Microsoft's documentation names Tukey's fences but not the score formula, the percentile method or the custom-range scaling",
    ),
    (
        "series_periods_detect",
        "Microsoft's documentation does not describe the period-detection algorithm or how its scores are computed",
    ),
];

/// Functions that return several columns, with the name of each: an `extend` or `project` item
/// calling one directly gets one column per part (named by `(A, B, ...) =` or
/// `<function>_<argument column>_<part>`); anywhere else the call is `KQL0204`.
pub static MULTI_VALUED: &[(&str, &[&str])] = &[("series_decompose", series::DECOMPOSE_PARTS)];

/// The parts of a function returning several columns.
pub fn multi_valued(name: &str) -> Option<&'static [&'static str]> {
    MULTI_VALUED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, parts)| *parts)
}

/// Why `series_decompose` with seasonality `-1` (its default) does not run.
pub fn undetectable_seasonality() -> String {
    series::undetectable_seasonality()
}

/// Why firedrill does not run the Kusto function `name`, when it is one of [`UNSUPPORTED_SCALARS`].
pub fn unsupported_reason(name: &str) -> Option<&'static str> {
    UNSUPPORTED_SCALARS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, why)| *why)
}

/// Every function name the engine knows (scalar, aggregate and evaluator-handled), for suggestions.
pub fn known_names() -> impl Iterator<Item = &'static str> {
    SCALARS
        .iter()
        .map(|f| f.name)
        .chain(AGGREGATES.iter().map(|a| a.name))
        .chain([
            "column_ifexists",
            "toscalar",
            "materialize",
            "not",
            "typeof",
            "ingestion_time",
            "row_number",
            "prev",
            "next",
            "row_cumsum",
            "row_rank_dense",
            "row_rank_min",
            "row_window_session",
            "bag_pack_columns",
            "pack_all",
        ])
}

/// The result type of a scalar function for argument types `args`.
pub fn return_type(function: &ScalarFn, args: &[ScalarType]) -> ScalarType {
    match function.ret {
        Ret::Fixed(ty) => ty,
        Ret::Arg(n) => args.get(n).copied().unwrap_or(ScalarType::Dynamic),
        Ret::Common(start, step) => {
            let mut candidates: Vec<ScalarType> =
                args.iter().skip(start).step_by(step).copied().collect();
            if function.name == "case" {
                candidates.push(*args.last().unwrap_or(&ScalarType::Dynamic));
            }
            common_type(&candidates)
        }
    }
}

/// The type several branches share: equal types stay, numbers widen to real/long, otherwise dynamic.
pub fn common_type(types: &[ScalarType]) -> ScalarType {
    let mut it = types.iter().copied();
    let Some(first) = it.next() else {
        return ScalarType::Dynamic;
    };
    it.fold(first, |acc, t| {
        if acc == t {
            acc
        } else if acc == T::Dynamic {
            t
        } else if t == T::Dynamic {
            acc
        } else if acc.is_numeric() && t.is_numeric() {
            if matches!(acc, T::Real | T::Decimal) || matches!(t, T::Real | T::Decimal) {
                T::Real
            } else {
                T::Long
            }
        } else {
            T::Dynamic
        }
    })
}

fn truthy(v: &Value) -> bool {
    matches!(v, Value::Bool(true))
}

fn ts(v: &Value) -> Option<i64> {
    match v {
        Value::TimeSpan(t) => Some(*t),
        _ => None,
    }
}

fn dt(v: &Value) -> Option<i64> {
    v.to_datetime()
}

fn gettype(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Long(_) => "long",
        Value::Real(_) => "real",
        Value::String(_) => "string",
        Value::DateTime(_) => "datetime",
        Value::TimeSpan(_) => "timespan",
        Value::Guid(_) => "guid",
        Value::Array(_) => "array",
        Value::Bag(_) => "dictionary",
    }
}

fn iff(a: &[Value], _: &Context) -> Result<Value, String> {
    Ok(if truthy(&a[0]) {
        a[1].clone()
    } else {
        a[2].clone()
    })
}

fn isnotempty(a: &[Value], _: &Context) -> Result<Value, String> {
    Ok(Value::Bool(!a[0].is_empty()))
}

fn isnotnull(a: &[Value], _: &Context) -> Result<Value, String> {
    Ok(Value::Bool(!a[0].is_null()))
}

fn to_int(a: &[Value], _: &Context) -> Result<Value, String> {
    Ok(a[0].convert(T::Int))
}

fn to_long(a: &[Value], _: &Context) -> Result<Value, String> {
    Ok(a[0].convert(T::Long))
}

fn to_real(a: &[Value], _: &Context) -> Result<Value, String> {
    Ok(a[0].convert(T::Real))
}

fn to_bool(a: &[Value], _: &Context) -> Result<Value, String> {
    Ok(a[0].convert(T::Bool))
}

fn to_datetime(a: &[Value], _: &Context) -> Result<Value, String> {
    Ok(a[0].convert(T::DateTime))
}

fn to_timespan(a: &[Value], _: &Context) -> Result<Value, String> {
    Ok(a[0].convert(T::TimeSpan))
}

/// `f` of a number as a real; null when the argument is not a number.
fn real1(v: &Value, f: impl Fn(f64) -> f64) -> Value {
    v.to_real().map_or(Value::Null, |x| Value::Real(f(x)))
}

/// `f` of a number in [-1, 1] (asin, acos); null outside it, as their pages say.
fn unit_domain(v: &Value, f: impl Fn(f64) -> f64) -> Value {
    match v.to_real() {
        Some(x) if (-1.0..=1.0).contains(&x) => Value::Real(f(x)),
        _ => Value::Null,
    }
}

fn array_length(a: &[Value], _: &Context) -> Result<Value, String> {
    Ok(match &a[0] {
        Value::Array(items) => Value::Long(items.len() as i64),
        _ => Value::Null,
    })
}

fn base64_encode_text(a: &[Value], _: &Context) -> Result<Value, String> {
    Ok(Value::str(base64_encode(a[0].text().as_bytes())))
}

/// `make_string` / `unicode_codepoints_to_string`: code points (numbers or arrays of numbers)
/// to text; values that are not code points are skipped.
fn string_from_codepoints(a: &[Value], _: &Context) -> Result<Value, String> {
    let codes: Vec<i64> = a
        .iter()
        .flat_map(|v| -> Vec<i64> {
            match v {
                Value::Array(items) => items.iter().filter_map(Value::to_long).collect(),
                other => other.to_long().into_iter().collect(),
            }
        })
        .collect();
    Ok(Value::str(
        codes
            .iter()
            .filter_map(|c| u32::try_from(*c).ok().and_then(char::from_u32))
            .collect::<String>(),
    ))
}

/// A Unix time in units of `ticks_per_unit` ticks as a datetime.
fn unixtime_todatetime(v: &Value, ticks_per_unit: i64) -> Value {
    v.to_real().map_or(Value::Null, |s| {
        Value::DateTime((s * ticks_per_unit as f64) as i64)
    })
}

fn substring(a: &[Value], _: &Context) -> Result<Value, String> {
    let text: Vec<char> = a[0].text().chars().collect();
    let Some(start) = a[1].to_long() else {
        return Ok(Value::empty_string());
    };
    // A negative start counts from the end (the page's `substring("123456", -2, 2)` is "56").
    let len = text.len() as i64;
    let start = if start < 0 { len + start } else { start }.clamp(0, len) as usize;
    let len = match a.get(2) {
        Some(l) => l.to_long().unwrap_or(0).max(0) as usize,
        None => text.len(),
    };
    let end = start.saturating_add(len).min(text.len());
    Ok(Value::str(text[start..end].iter().collect::<String>()))
}

fn parse_json(a: &[Value], _: &Context) -> Result<Value, String> {
    Ok(match &a[0] {
        // The isnull and gettype pages: `parse_json("")` is null.
        Value::String(s) if s.trim().is_empty() => Value::Null,
        Value::String(s) => match serde_json::from_str::<serde_json::Value>(s) {
            Ok(json) => Value::from_json(&json),
            Err(_) => Value::String(s.clone()),
        },
        other => other.clone(),
    })
}

/// `bin(value, size)`: rounds down to a multiple of `size`, for numbers, datetimes and timespans.
pub fn bin(value: &Value, size: &Value) -> Value {
    match (value, size) {
        (Value::DateTime(t), Value::TimeSpan(s)) | (Value::TimeSpan(t), Value::TimeSpan(s))
            if *s > 0 =>
        {
            let binned = t.div_euclid(*s) * s;
            if matches!(value, Value::DateTime(_)) {
                Value::DateTime(binned)
            } else {
                Value::TimeSpan(binned)
            }
        }
        (Value::Long(i), Value::Long(s)) if *s > 0 => Value::Long(i.div_euclid(*s) * s),
        (Value::Long(_) | Value::Real(_), Value::Long(_) | Value::Real(_)) => {
            match (value.to_real(), size.to_real()) {
                (Some(v), Some(s)) if s > 0.0 => {
                    let r = (v / s).floor() * s;
                    if matches!(value, Value::Long(_)) {
                        Value::Long(r as i64)
                    } else {
                        Value::Real(r)
                    }
                }
                _ => Value::Null,
            }
        }
        _ => Value::Null,
    }
}

fn bin_at(value: &Value, size: &Value, at: &Value) -> Value {
    match (value, at) {
        (Value::DateTime(t), Value::DateTime(a)) => match bin(&Value::TimeSpan(t - a), size) {
            Value::TimeSpan(b) => Value::DateTime(a + b),
            _ => Value::Null,
        },
        (Value::TimeSpan(t), Value::TimeSpan(a)) => match bin(&Value::TimeSpan(t - a), size) {
            Value::TimeSpan(b) => Value::TimeSpan(a + b),
            _ => Value::Null,
        },
        (Value::Long(v), Value::Long(a)) => match bin(&Value::Long(v - a), size) {
            Value::Long(b) => Value::Long(a + b),
            Value::Real(b) => Value::Real(*a as f64 + b),
            _ => Value::Null,
        },
        _ => match (value.to_real(), at.to_real()) {
            (Some(v), Some(a)) => match bin(&Value::Real(v - a), size) {
                Value::Real(b) => Value::Real(a + b),
                _ => Value::Null,
            },
            _ => Value::Null,
        },
    }
}

thread_local! {
    static RAND: std::cell::Cell<u64> = const { std::cell::Cell::new(RANDOM_SEED) };
    static REGEXES: RefCell<HashMap<String, Result<Regex, String>>> = RefCell::new(HashMap::new());
}

/// `unicode_codepoints_from_string` (and its older name `to_utf8`): the text's code points.
fn codepoints(a: &[Value], _: &Context) -> Result<Value, String> {
    Ok(Value::array(
        a[0].text()
            .chars()
            .map(|c| Value::Long(i64::from(u32::from(c))))
            .collect(),
    ))
}

/// The seed of the generator behind `rand()` and `new_guid()`.
const RANDOM_SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// Restarts this thread's generator from its seed: each query evaluation does, so that what
/// `rand()` and `new_guid()` give depends on the query and its data alone, not on which queries
/// the thread ran before (the harness runs trials on a pool of threads).
pub(super) fn restart_random() {
    RAND.with(|state| state.set(RANDOM_SEED));
}

/// The next number of a per-thread xorshift generator (see [`restart_random`]).
fn next_random() -> u64 {
    RAND.with(|state| {
        let mut v = state.get();
        v ^= v << 13;
        v ^= v >> 7;
        v ^= v << 17;
        state.set(v);
        v
    })
}

/// Compiles a KQL (RE2) regular expression, caching it per thread; `Err` carries the regex error.
pub fn regex(pattern: &str) -> Result<Regex, String> {
    REGEXES.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() > 4096 {
            cache.clear();
        }
        cache
            .entry(pattern.to_string())
            .or_insert_with(|| {
                Regex::new(&translate_re2(pattern)).map_err(|e| {
                    let shown: String = pattern.chars().take(60).collect();
                    let more = if pattern.chars().count() > 60 {
                        "…"
                    } else {
                        ""
                    };
                    let reason = e
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or_default()
                        .trim()
                        .to_string();
                    format!("invalid regular expression `{shown}{more}`: {reason}")
                })
            })
            .clone()
    })
}

/// RE2 syntax the `regex` crate spells differently: octal escapes (`\0`, `\123`) become `\x{..}`.
fn translate_re2(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && i + 1 < chars.len() {
            let next = chars[i + 1];
            if next == '0'
                || (next.is_digit(8)
                    && chars.get(i + 2).is_some_and(|c| c.is_digit(8))
                    && chars.get(i + 3).is_some_and(|c| c.is_digit(8)))
            {
                let digits: String = chars[i + 1..]
                    .iter()
                    .take(3)
                    .take_while(|c| c.is_digit(8))
                    .collect();
                let code = u32::from_str_radix(&digits, 8).unwrap_or(0);
                out += &format!("\\x{{{code:x}}}");
                i += 1 + digits.len();
                continue;
            }
            out.push(chars[i]);
            out.push(next);
            i += 2;
            continue;
        }
        // RE2 reads a `{` that does not start a repetition (`{2}`, `{2,}`, `{2,5}`) literally.
        if chars[i] == '{' {
            let close = chars[i + 1..].iter().position(|c| *c == '}');
            let is_repetition = close.is_some_and(|n| {
                let body: String = chars[i + 1..i + 1 + n].iter().collect();
                let (a, b) = body.split_once(',').unwrap_or((&body, "0"));
                !a.is_empty()
                    && a.bytes().all(|x| x.is_ascii_digit())
                    && b.bytes().all(|x| x.is_ascii_digit())
            });
            if !is_repetition {
                out.push_str("\\{");
                i += 1;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

fn extract(a: &[Value], _: &Context) -> Result<Value, String> {
    let re = regex(&a[0].text())?;
    let group = a[1].to_long().unwrap_or(0).max(0) as usize;
    let text = a[2].text();
    let found = re
        .captures(&text)
        .and_then(|c| c.get(group))
        .map(|m| m.as_str().to_string());
    Ok(match (found, a.get(3)) {
        (None, Some(_)) => Value::Null,
        (None, None) => Value::empty_string(),
        (Some(s), None) => Value::str(s),
        (Some(s), Some(_)) => {
            let ty = type_hint(&a[3]);
            Value::str(s).convert(ty)
        }
    })
}

/// The type named by a `typeof(...)` argument, which the evaluator passes as a string.
fn type_hint(v: &Value) -> ScalarType {
    ScalarType::from_name(&v.text()).unwrap_or(ScalarType::String)
}

fn extract_all(a: &[Value], _: &Context) -> Result<Value, String> {
    let re = regex(&a[0].text())?;
    let text = a[a.len() - 1].text();
    // The capture groups wanted, by index or by name (`dynamic(['first', 2, 'last'])`).
    let groups: Option<Vec<usize>> = if a.len() == 3 {
        match &a[1] {
            Value::Array(items) => Some(
                items
                    .iter()
                    .map(|item| match item {
                        Value::String(name) => re
                            .capture_names()
                            .position(|n| n == Some(name.as_ref()))
                            .ok_or_else(|| format!("extract_all: no capture group `{name}`")),
                        other => other
                            .to_long()
                            .and_then(|i| usize::try_from(i).ok())
                            .ok_or_else(|| {
                                format!("extract_all: `{}` names no capture group", other.text())
                            }),
                    })
                    .collect::<Result<_, _>>()?,
            ),
            _ => None,
        }
    } else {
        None
    };
    let mut out = Vec::new();
    for caps in re.captures_iter(&text) {
        let wanted: Vec<usize> = match &groups {
            Some(g) => g.clone(),
            None if caps.len() > 1 => (1..caps.len()).collect(),
            None => vec![0],
        };
        let values: Vec<Value> = wanted
            .iter()
            .map(|g| {
                caps.get(*g)
                    .map_or(Value::empty_string(), |m| Value::str(m.as_str()))
            })
            .collect();
        if values.len() == 1 && groups.is_none() {
            out.push(values.into_iter().next().unwrap_or_default());
        } else {
            out.push(Value::array(values));
        }
    }
    Ok(if out.is_empty() {
        Value::Null
    } else {
        Value::array(out)
    })
}

fn split(a: &[Value], _: &Context) -> Result<Value, String> {
    let text = a[0].text();
    let delim = a[1].text();
    let parts: Vec<Value> = if delim.is_empty() {
        vec![Value::str(text.as_ref())]
    } else {
        text.split(delim.as_ref()).map(Value::str).collect()
    };
    Ok(match a.get(2).and_then(Value::to_long) {
        Some(i) => match usize::try_from(i).ok().and_then(|i| parts.get(i)) {
            Some(part) => Value::array(vec![part.clone()]),
            None => Value::array(Vec::new()),
        },
        None => Value::array(parts),
    })
}

fn replace_literal(text: &str, from: &str, to: &str) -> String {
    if from.is_empty() {
        text.to_string()
    } else {
        text.replace(from, to)
    }
}

fn replace_regex(pattern: &Value, rewrite: &Value, text: &Value) -> Result<Value, String> {
    let re = regex(&pattern.text())?;
    // KQL rewrite uses \1 for groups; the regex crate uses ${1}.
    let rewrite = rewrite.text();
    let mut converted = String::new();
    let mut chars = rewrite.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(char::is_ascii_digit) => {
                let digit = chars.next().unwrap_or('0');
                converted += &format!("${{{digit}}}");
            }
            '$' => converted += "$$",
            other => converted.push(other),
        }
    }
    Ok(Value::str(re.replace_all(&text.text(), converted.as_str())))
}

fn trim(pattern: &Value, text: &Value, start: bool, end: bool) -> Result<Value, String> {
    let p = pattern.text();
    let mut s = text.text().into_owned();
    if start {
        let re = regex(&format!("^(?:{p})+"))?;
        s = re.replace(&s, "").into_owned();
    }
    if end {
        let re = regex(&format!("(?:{p})+$"))?;
        s = re.replace(&s, "").into_owned();
    }
    Ok(Value::str(s))
}

fn indexof(a: &[Value], _: &Context) -> Result<Value, String> {
    let text: Vec<char> = a[0].text().chars().collect();
    let needle: Vec<char> = a[1].text().chars().collect();
    Ok(Value::Long(nth_position(
        &text,
        a,
        |text, i| text[i..].starts_with(&needle),
        needle.len(),
    )))
}

/// Where `indexof(source, lookup, start, length, occurrence)` and its array form find their
/// lookup (`args` as the call has them): from `start` (negative: from the end), within `length`
/// items (-1 or none: to the end; a match of `width` items must lie within them), the
/// `occurrence`th time (default 1); -1 when it does not.
fn nth_position<T>(
    items: &[T],
    args: &[Value],
    found_at: impl Fn(&[T], usize) -> bool,
    width: usize,
) -> i64 {
    let start = args.get(2).and_then(Value::to_long).unwrap_or(0);
    let start = if start < 0 {
        (items.len() as i64 + start).max(0)
    } else {
        start
    } as usize;
    let occurrence = args.get(4).and_then(Value::to_long).unwrap_or(1).max(1) as usize;
    if start > items.len() {
        return -1;
    }
    let end = match args.get(3).and_then(Value::to_long) {
        Some(length) if length >= 0 => start.saturating_add(length as usize).min(items.len()),
        _ => items.len(),
    };
    let within = &items[..end];
    if within.len() < width {
        return -1;
    }
    let mut seen = 0;
    for i in start..=within.len() - width {
        if found_at(within, i) {
            seen += 1;
            if seen == occurrence {
                return i as i64;
            }
        }
    }
    -1
}

fn countof(a: &[Value], _: &Context) -> Result<Value, String> {
    let text = a[0].text();
    let needle = a[1].text();
    let is_regex = a.get(2).is_some_and(|k| k.text() == "regex");
    Ok(Value::Long(if is_regex {
        regex(&needle)?.find_iter(&text).count() as i64
    } else if needle.is_empty() {
        0
    } else {
        // Plain matches may overlap: the page's `countof("aaaa", "aa")` is 3.
        text.char_indices()
            .filter(|&(i, _)| text[i..].starts_with(needle.as_ref()))
            .count() as i64
    }))
}

fn base64_decode(a: &[Value], _: &Context) -> Result<Value, String> {
    Ok(match base64_decode_bytes(&a[0].text()) {
        Some(bytes) => Value::str(String::from_utf8_lossy(&bytes)),
        None => Value::empty_string(),
    })
}

fn base64_decode_bytes(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in text.trim().bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn url_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a URL as the `url_encode` pages show (.NET's `HttpUtility.UrlEncode`): letters,
/// digits and `-_.!*()` stay, a space is `space` (`+`, or `%20` for `url_encode_component`), every
/// other UTF-8 byte is `%` and two lowercase hex digits (`https%3a%2f%2fwww.bing.com%2fhello+world`).
fn url_encode(text: &str, space: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'*'
            | b'('
            | b')' => {
                out.push(char::from(b));
            }
            b' ' => out.push_str(space),
            _ => {
                let _ = write!(out, "%{b:02x}");
            }
        }
    }
    out
}

fn array_slice(a: &[Value], _: &Context) -> Result<Value, String> {
    let Value::Array(items) = &a[0] else {
        return Ok(Value::Null);
    };
    let len = items.len() as i64;
    let norm = |i: i64| if i < 0 { (len + i).max(0) } else { i.min(len) };
    let (Some(start), Some(end)) = (a[1].to_long(), a[2].to_long()) else {
        return Ok(Value::Null);
    };
    let (start, end) = (norm(start), norm(end));
    Ok(Value::array(if start > end || start >= len {
        Vec::new()
    } else {
        items[start as usize..=(end.min(len - 1)) as usize].to_vec()
    }))
}

/// The arrays `array_sort_asc(array1[, ..., arrayN][, nulls_last])` sorts: every argument but a
/// last boolean (`nulls_last`).
pub fn sorted_arrays(args: &[Value]) -> (&[Value], bool) {
    match args.split_last() {
        Some((Value::Bool(nulls_last), arrays)) if !arrays.is_empty() => (arrays, *nulls_last),
        _ => (args, true),
    }
}

/// `array_sort_asc`/`array_sort_desc`, as their pages define them: the first array sorted (nulls
/// last unless `nulls_last` is false), the others put in the same order (null for one whose
/// length differs). One array gives the sorted array; several, an array of them, which an
/// `extend` or `project` item splits into columns.
fn array_sort(args: &[Value], descending: bool) -> Value {
    let (arrays, nulls_last) = sorted_arrays(args);
    let Some(Value::Array(keys)) = arrays.first() else {
        return Value::Null;
    };
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&x, &y| {
        let (x, y) = (&keys[x], &keys[y]);
        match (x.is_null(), y.is_null()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) if nulls_last => std::cmp::Ordering::Greater,
            (true, false) => std::cmp::Ordering::Less,
            (false, true) if nulls_last => std::cmp::Ordering::Less,
            (false, true) => std::cmp::Ordering::Greater,
            (false, false) if descending => y.sort_cmp(x),
            (false, false) => x.sort_cmp(y),
        }
    });
    let reorder = |v: &Value| match v {
        Value::Array(items) if items.len() == keys.len() => {
            Value::array(order.iter().map(|&i| items[i].clone()).collect())
        }
        _ => Value::Null,
    };
    match arrays {
        [one] => reorder(one),
        several => Value::array(several.iter().map(reorder).collect()),
    }
}

fn strcat_array(a: &[Value], _: &Context) -> Result<Value, String> {
    let Value::Array(items) = &a[0] else {
        return Ok(Value::empty_string());
    };
    Ok(Value::str(
        items
            .iter()
            .map(|v| v.to_kql_string())
            .collect::<Vec<_>>()
            .join(&a[1].text()),
    ))
}

fn bag_pack(a: &[Value], _: &Context) -> Result<Value, String> {
    if !a.len().is_multiple_of(2) {
        return Err("bag_pack takes key/value pairs: an even number of arguments".into());
    }
    Ok(Value::bag(
        a.chunks(2)
            .map(|kv| (kv[0].to_kql_string(), kv[1].convert(T::Dynamic)))
            .collect(),
    ))
}

enum SetOp {
    Union,
    Intersect,
    Difference,
}

fn set_combine(a: &[Value], op: SetOp) -> Value {
    let sets: Vec<Vec<Value>> = a
        .iter()
        .map(|v| match v {
            Value::Array(items) => items.to_vec(),
            _ => Vec::new(),
        })
        .collect();
    let mut seen = IndexSet::new();
    let mut out = Vec::new();
    let first = sets.first().cloned().unwrap_or_default();
    let candidates: Vec<Value> = match op {
        SetOp::Union => sets.iter().flatten().cloned().collect(),
        _ => first,
    };
    for v in candidates {
        let keep = match op {
            SetOp::Union => true,
            SetOp::Intersect => sets[1..].iter().all(|s| s.iter().any(|x| x == &v)),
            SetOp::Difference => !sets[1..].iter().any(|s| s.iter().any(|x| x == &v)),
        };
        if keep && seen.insert(v.group_key()) {
            out.push(v);
        }
    }
    Value::array(out)
}

/// Most results the `range()` function returns (the range function page): a longer series is
/// truncated.
const RANGE_FUNCTION_MAX: usize = 1 << 20;

/// `range(start, stop [, step])`: the series, truncated at [`RANGE_FUNCTION_MAX`]; null when
/// the bounds and step do not make one.
fn range_array(a: &[Value], _: &Context) -> Result<Value, String> {
    let Some(series) = Series::new(&a[0], &a[1], a.get(2)) else {
        return Ok(Value::Null);
    };
    Ok(Value::array(series.take(RANGE_FUNCTION_MAX).collect()))
}

/// The values `start, start + step, ...` up to and including `stop` (down to it for a negative
/// step), as the range function and the range operator generate them: whole numbers when the
/// bounds and step are, reals when any of them is one; datetimes or timespans stepped by a
/// timespan (an hour when no step is given, a number elsewhere).
#[derive(Clone, Debug)]
pub struct Series {
    kind: SeriesKind,
    /// Values produced so far.
    at: u64,
}

#[derive(Clone, Copy, Debug)]
enum SeriesKind {
    /// `start + at * step` until past `stop`, in ticks for datetimes and timespans.
    Whole {
        start: i64,
        stop: i64,
        step: i64,
        wrap: fn(i64) -> Value,
    },
    Real {
        start: f64,
        stop: f64,
        step: f64,
    },
}

impl Series {
    /// The series from `start` to `stop` by `step`; `None` when they do not make one (mismatched
    /// types, nulls, a zero or non-finite step).
    pub fn new(start: &Value, stop: &Value, step: Option<&Value>) -> Option<Series> {
        let whole = |start: i64, stop: i64, step: i64, wrap: fn(i64) -> Value| {
            (step != 0).then_some(SeriesKind::Whole {
                start,
                stop,
                step,
                wrap,
            })
        };
        let kind = match (start, stop, step) {
            (Value::DateTime(s), Value::DateTime(e), None) => {
                whole(*s, *e, TICKS_PER_HOUR, Value::DateTime)?
            }
            (Value::DateTime(s), Value::DateTime(e), Some(Value::TimeSpan(st))) => {
                whole(*s, *e, *st, Value::DateTime)?
            }
            (Value::TimeSpan(s), Value::TimeSpan(e), None) => {
                whole(*s, *e, TICKS_PER_HOUR, Value::TimeSpan)?
            }
            (Value::TimeSpan(s), Value::TimeSpan(e), Some(Value::TimeSpan(st))) => {
                whole(*s, *e, *st, Value::TimeSpan)?
            }
            (Value::Long(s), Value::Long(e), None) => whole(*s, *e, 1, Value::Long)?,
            (Value::Long(s), Value::Long(e), Some(Value::Long(st))) => {
                whole(*s, *e, *st, Value::Long)?
            }
            (s @ (Value::Long(_) | Value::Real(_)), e @ (Value::Long(_) | Value::Real(_)), st) => {
                let step = match st {
                    None => 1.0,
                    Some(st @ (Value::Long(_) | Value::Real(_))) => st.to_real()?,
                    Some(_) => return None,
                };
                let (start, stop) = (s.to_real()?, e.to_real()?);
                if step == 0.0 || ![start, stop, step].iter().all(|x| x.is_finite()) {
                    return None;
                }
                SeriesKind::Real { start, stop, step }
            }
            _ => return None,
        };
        Some(Series { kind, at: 0 })
    }

    /// How many values the series holds, without generating them.
    pub fn len(&self) -> u64 {
        match self.kind {
            SeriesKind::Whole {
                start, stop, step, ..
            } => {
                let span = i128::from(stop) - i128::from(start);
                if span != 0 && (span < 0) != (step < 0) {
                    return 0;
                }
                u64::try_from(span / i128::from(step) + 1).unwrap_or(u64::MAX)
            }
            SeriesKind::Real { start, stop, step } => {
                // The quotient, then the neighbours that rounding may have put on the wrong
                // side: the count is the first `at` whose value `start + at * step` is past
                // `stop`.
                let quotient = ((stop - start) / step).floor();
                if quotient < 0.0 {
                    return 0;
                }
                if quotient >= 9.0e15 {
                    return u64::MAX;
                }
                let within = |at: u64| {
                    let value = start + at as f64 * step;
                    if step > 0.0 {
                        value <= stop
                    } else {
                        value >= stop
                    }
                };
                let mut count = quotient as u64 + 1;
                while within(count) {
                    count += 1;
                }
                while count > 0 && !within(count - 1) {
                    count -= 1;
                }
                count
            }
        }
    }

    /// True when the series holds no value.
    pub fn is_empty(&self) -> bool {
        self.clone().next().is_none()
    }
}

impl Iterator for Series {
    type Item = Value;

    fn next(&mut self) -> Option<Value> {
        let value = match self.kind {
            SeriesKind::Whole {
                start,
                stop,
                step,
                wrap,
            } => {
                let value = i128::from(start) + i128::from(self.at) * i128::from(step);
                let within = if step > 0 {
                    value <= i128::from(stop)
                } else {
                    value >= i128::from(stop)
                };
                within.then(|| wrap(value as i64))?
            }
            SeriesKind::Real { start, stop, step } => {
                let value = start + self.at as f64 * step;
                let within = if step > 0.0 {
                    value <= stop
                } else {
                    value >= stop
                };
                within.then_some(Value::Real(value))?
            }
        };
        self.at += 1;
        Some(value)
    }
}

fn period_ticks(part: &str) -> Option<i64> {
    Some(match part.to_ascii_lowercase().trim_matches('"') {
        "week" | "weeks" => 7 * TICKS_PER_DAY,
        "day" | "days" => TICKS_PER_DAY,
        "hour" | "hours" => TICKS_PER_HOUR,
        "minute" | "minutes" => TICKS_PER_MINUTE,
        "second" | "seconds" => TICKS_PER_SECOND,
        "millisecond" | "milliseconds" => TICKS_PER_MILLI,
        "microsecond" | "microseconds" => 10,
        _ => return None,
    })
}

fn datetime_add(a: &[Value], _: &Context) -> Result<Value, String> {
    let part = a[0].text().to_ascii_lowercase();
    let (Some(n), Some(t)) = (a[1].to_long(), dt(&a[2])) else {
        return Ok(Value::Null);
    };
    if matches!(part.as_str(), "nanosecond" | "nanoseconds") {
        // A tick is 100 nanoseconds.
        return Ok(Value::DateTime(t + n / 100));
    }
    if let Some(p) = period_ticks(&part) {
        return Ok(Value::DateTime(t + n * p));
    }
    let months = match part.as_str() {
        "month" | "months" => n,
        "quarter" | "quarters" => 3 * n,
        "year" | "years" => 12 * n,
        _ => return Err(format!("datetime_add: unknown period `{part}`")),
    };
    let Some(time) = chrono_from_ticks(t) else {
        return Ok(Value::Null);
    };
    let shifted = if months >= 0 {
        time.checked_add_months(chrono::Months::new(months as u32))
    } else {
        time.checked_sub_months(chrono::Months::new((-months) as u32))
    };
    Ok(shifted.map_or(Value::Null, |s| Value::DateTime(ticks_from_chrono(s))))
}

fn datetime_diff(a: &[Value], _: &Context) -> Result<Value, String> {
    let part = a[0].text().to_ascii_lowercase();
    let (Some(x), Some(y)) = (dt(&a[1]), dt(&a[2])) else {
        return Ok(Value::Null);
    };
    // Kusto counts boundaries crossed, like SQL DATEDIFF: weeks start on Sunday (the Unix
    // epoch, day 0, was a Thursday), and a tick is 100 nanoseconds.
    match part.as_str() {
        "week" | "weeks" => {
            let week = |t: i64| (t + 4 * TICKS_PER_DAY).div_euclid(7 * TICKS_PER_DAY);
            return Ok(Value::Long(week(x) - week(y)));
        }
        "nanosecond" | "nanoseconds" => return Ok(Value::Long((x - y).saturating_mul(100))),
        _ => {}
    }
    if let Some(p) = period_ticks(&part) {
        return Ok(Value::Long(x.div_euclid(p) - y.div_euclid(p)));
    }
    let (Some(tx), Some(ty)) = (chrono_from_ticks(x), chrono_from_ticks(y)) else {
        return Ok(Value::Null);
    };
    let months = (i64::from(tx.year()) * 12 + i64::from(tx.month0()))
        - (i64::from(ty.year()) * 12 + i64::from(ty.month0()));
    Ok(Value::Long(match part.as_str() {
        "month" | "months" => months,
        "quarter" | "quarters" => {
            (i64::from(tx.year()) * 4 + i64::from(tx.month0() / 3))
                - (i64::from(ty.year()) * 4 + i64::from(ty.month0() / 3))
        }
        "year" | "years" => i64::from(tx.year() - ty.year()),
        _ => return Err(format!("datetime_diff: unknown period `{part}`")),
    }))
}

fn datetime_part(part: &str, v: &Value) -> Value {
    let Some(t) = dt(v).and_then(chrono_from_ticks) else {
        return Value::Null;
    };
    Value::Long(match part.to_ascii_lowercase().as_str() {
        "year" => i64::from(t.year()),
        "quarter" => i64::from(t.month0() / 3 + 1),
        "month" => i64::from(t.month()),
        "weekofyear" | "week_of_year" => i64::from(t.iso_week().week()),
        "day" => i64::from(t.day()),
        "dayofyear" => i64::from(t.ordinal()),
        "hour" => i64::from(t.hour()),
        "minute" => i64::from(t.minute()),
        "second" => i64::from(t.second()),
        "millisecond" => i64::from(t.timestamp_subsec_millis()),
        "microsecond" => i64::from(t.timestamp_subsec_micros()),
        "nanosecond" => i64::from(t.timestamp_subsec_nanos()),
        _ => return Value::Null,
    })
}

#[derive(Clone, Copy)]
enum Period {
    Day,
    Week,
    Month,
    Year,
}

fn start_of(v: &Value, offset: Option<&Value>, period: Period) -> Value {
    let Some(t) = dt(v) else { return Value::Null };
    let offset = offset.and_then(Value::to_long).unwrap_or(0);
    let start = match period {
        Period::Day => t.div_euclid(TICKS_PER_DAY) * TICKS_PER_DAY + offset * TICKS_PER_DAY,
        Period::Week => {
            // 1970-01-01 was a Thursday; weeks start on Sunday.
            let days = t.div_euclid(TICKS_PER_DAY);
            let sunday = days - (days + 4).rem_euclid(7);
            (sunday + 7 * offset) * TICKS_PER_DAY
        }
        Period::Month | Period::Year => {
            let Some(time) = chrono_from_ticks(t) else {
                return Value::Null;
            };
            let (mut year, mut month) = (
                time.year(),
                if matches!(period, Period::Month) {
                    time.month() as i64
                } else {
                    1
                },
            );
            let step = if matches!(period, Period::Month) {
                offset
            } else {
                12 * offset
            };
            let total = i64::from(year) * 12 + (month - 1) + step;
            year = total.div_euclid(12) as i32;
            month = total.rem_euclid(12) + 1;
            let Some(date) = chrono::NaiveDate::from_ymd_opt(year, month as u32, 1) else {
                return Value::Null;
            };
            ticks_from_chrono(
                date.and_hms_opt(0, 0, 0)
                    .map(|d| d.and_utc())
                    .unwrap_or_default(),
            )
        }
    };
    Value::DateTime(start)
}

fn end_of(v: &Value, offset: Option<&Value>, period: Period) -> Value {
    let next = match start_of(
        v,
        Some(&Value::Long(
            offset.and_then(Value::to_long).unwrap_or(0) + 1,
        )),
        period,
    ) {
        Value::DateTime(t) => t,
        _ => return Value::Null,
    };
    Value::DateTime(next - 1)
}

fn make_datetime(a: &[Value], _: &Context) -> Result<Value, String> {
    let n: Option<Vec<f64>> = a.iter().map(Value::to_real).collect();
    let Some(n) = n else { return Ok(Value::Null) };
    let get = |i: usize| n.get(i).copied().unwrap_or(0.0);
    let date = chrono::NaiveDate::from_ymd_opt(get(0) as i32, get(1) as u32, get(2) as u32);
    let Some(date) = date else {
        return Ok(Value::Null);
    };
    let base = ticks_from_chrono(
        date.and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc())
            .unwrap_or_default(),
    );
    Ok(Value::DateTime(
        base + get(3) as i64 * TICKS_PER_HOUR
            + get(4) as i64 * TICKS_PER_MINUTE
            + (get(5) * TICKS_PER_SECOND as f64) as i64,
    ))
}

/// Writes a custom format string: each run of one specifier letter (`yyyy`, `MM`, `fff`) through
/// `element` (the letter and the run's length), every other character as it is.
fn format_elements(pattern: &str, mut element: impl FnMut(&mut String, char, usize)) -> String {
    let mut out = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if !"dfFhHmMsty".contains(c) {
            out.push(c);
            continue;
        }
        let mut run = 1;
        while chars.next_if_eq(&c).is_some() {
            run += 1;
        }
        element(&mut out, c, run);
    }
    out
}

/// `n` digits of a second's fraction (`f`), or those without trailing zeros and nothing when
/// they are all zero (`F`), from its seven digits of ticks.
fn push_fraction(out: &mut String, ticks: i64, letter: char, n: usize) {
    let digits = format!("{:07}", ticks.rem_euclid(TICKS_PER_SECOND));
    let digits = &digits[..n.min(7)];
    out.push_str(if letter == 'F' {
        digits.trim_end_matches('0')
    } else {
        digits
    });
}

/// `format_datetime`: the format elements of the format_datetime page (`d`, `dd`, `f`...,
/// `F`..., `h`, `hh`, `H`, `HH`, `m`, `mm`, `M`, `MM`, `s`, `ss`, `tt`, `y`, `yy`, `yyyy`), every
/// other character as it is.
fn format_datetime_pattern(t: i64, pattern: &str) -> String {
    let Some(time) = chrono_from_ticks(t) else {
        return String::new();
    };
    let padded = |out: &mut String, value: u32, n: usize| {
        let _ = write!(out, "{value:0width$}", width = n.min(2));
    };
    format_elements(pattern, |out, letter, n| match letter {
        'd' => padded(out, time.day(), n),
        'f' | 'F' => push_fraction(out, t, letter, n),
        'h' => padded(out, (time.hour() + 11) % 12 + 1, n),
        'H' => padded(out, time.hour(), n),
        'm' => padded(out, time.minute(), n),
        'M' => padded(out, time.month(), n),
        's' => padded(out, time.second(), n),
        't' => {
            let marker = if time.hour() < 12 { "AM" } else { "PM" };
            out.push_str(&marker[..n.min(2)]);
        }
        _ => {
            let year = time.year();
            let _ = match n {
                1 => write!(out, "{}", year % 100),
                2 => write!(out, "{:02}", year % 100),
                n => write!(out, "{year:0n$}"),
            };
        }
    })
}

/// `format_timespan`: the format elements of the format_timespan page (`d`...`dddddddd` whole
/// days, `h`/`H`, `hh`/`HH`, `m`, `mm`, `s`, `ss`, `f`..., `F`...), every other character as it
/// is; a negative timespan is formatted by its magnitude.
fn format_timespan_pattern(t: i64, pattern: &str) -> String {
    let ticks = t.unsigned_abs();
    let part = |unit: i64, of: u64| ticks / unit as u64 % of;
    format_elements(pattern, |out, letter, n| {
        let _ = match letter {
            'd' => write!(out, "{:0n$}", ticks / TICKS_PER_DAY as u64),
            'h' | 'H' => write!(out, "{:0w$}", part(TICKS_PER_HOUR, 24), w = n.min(2)),
            'm' => write!(out, "{:0w$}", part(TICKS_PER_MINUTE, 60), w = n.min(2)),
            's' => write!(out, "{:0w$}", part(TICKS_PER_SECOND, 60), w = n.min(2)),
            'f' | 'F' => {
                push_fraction(out, ticks as i64 % TICKS_PER_SECOND, letter, n);
                Ok(())
            }
            // Letters the page does not list for timespans are written as they are.
            other => {
                out.extend(std::iter::repeat_n(other, n));
                Ok(())
            }
        };
    })
}

fn flat_texts(values: &[Value]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| match v {
            Value::Array(items) => items.iter().map(Value::to_kql_string).collect(),
            other => vec![other.to_kql_string()],
        })
        .collect()
}

/// The IPv4 addresses in a text: maximal runs of digits and dots with four numeric parts.
/// Whether an IPv4 address in `text` starts with one of `prefixes`, each a whole address or one
/// to three of its leading parts ending with a dot (`192.168.`), as the has_ipv4_prefix page
/// defines a valid prefix; `127.0` is none, so it matches nothing.
fn has_ipv4_prefix(text: &str, prefixes: &[String]) -> bool {
    let valid: Vec<&str> = prefixes
        .iter()
        .map(|p| p.trim())
        .filter(|p| {
            parse_ipv4(p).is_some()
                || p.strip_suffix('.').is_some_and(|head| {
                    let parts: Vec<&str> = head.split('.').collect();
                    parts.len() <= 3
                        && parts
                            .iter()
                            .all(|n| !n.is_empty() && n.len() <= 3 && n.parse::<u8>().is_ok())
                })
        })
        .collect();
    ipv4_tokens(text).any(|t| {
        valid.iter().any(|p| {
            if p.ends_with('.') {
                t.starts_with(p)
            } else {
                t == *p
            }
        })
    })
}

fn ipv4_tokens(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|t| t.trim_matches('.'))
        .filter(|t| parse_ipv4(t).is_some())
}

/// Removes a key, or the value a JSONPath names in nested bags (`$.key2.prop1`), from a bag
/// (`bag_remove_keys`).
fn remove_key(bag: &mut Value, key: &str) {
    let parts: Vec<&str> = match key.strip_prefix('$') {
        Some(path) => path
            .split(['.', '[', ']'])
            .filter(|p| !p.is_empty())
            .map(|p| p.trim_matches(['\'', '"']))
            .collect(),
        None => vec![key],
    };
    let Some((last, path)) = parts.split_last() else {
        return;
    };
    let mut current = bag;
    for part in path {
        match current {
            Value::Bag(map) => match Arc::make_mut(map).get_mut(*part) {
                Some(inner) => current = inner,
                None => return,
            },
            _ => return,
        }
    }
    if let Value::Bag(map) = current {
        Arc::make_mut(map).shift_remove(*last);
    }
}

/// The value a JSONPath (after its `$`: `.key`, `['key']`, `[0]`) names in a dynamic value.
fn json_path<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    let mut current = value;
    for part in path.split(['.', '[', ']']).filter(|p| !p.is_empty()) {
        let key = part.trim_matches(['\'', '"']);
        current = match current {
            Value::Bag(map) => map.get(key)?,
            Value::Array(items) => items.get(key.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

fn extract_json(a: &[Value], _: &Context) -> Result<Value, String> {
    let path = a[0].text();
    let json: serde_json::Value = match serde_json::from_str(&a[1].text()) {
        Ok(j) => j,
        Err(_) => return Ok(Value::empty_string()),
    };
    let mut current = &json;
    let rest = path.trim().trim_start_matches('$');
    for part in rest.split(['.', '[', ']']).filter(|p| !p.is_empty()) {
        let key = part.trim_matches(['\'', '"']);
        current = match current {
            serde_json::Value::Object(m) => match m.get(key) {
                Some(v) => v,
                None => return Ok(Value::empty_string()),
            },
            serde_json::Value::Array(items) => {
                match key.parse::<usize>().ok().and_then(|i| items.get(i)) {
                    Some(v) => v,
                    None => return Ok(Value::empty_string()),
                }
            }
            _ => return Ok(Value::empty_string()),
        };
    }
    let v = Value::from_json(current);
    Ok(match a.get(2) {
        Some(t) => v.convert(type_hint(t)),
        None => Value::str(v.to_kql_string()),
    })
}

/// A small XML reader for `parse_xml`: elements become bags keyed by tag, attributes are `@name`,
/// text is `#text`; repeated children become arrays (the Kusto documentation's mapping).
fn parse_xml(text: &str) -> Value {
    fn element(chars: &[char], pos: &mut usize) -> Option<(String, Value)> {
        // At '<'.
        *pos += 1;
        let start = *pos;
        while *pos < chars.len()
            && !chars[*pos].is_whitespace()
            && chars[*pos] != '>'
            && chars[*pos] != '/'
        {
            *pos += 1;
        }
        let name: String = chars[start..*pos].iter().collect();
        let mut bag: IndexMap<String, Value> = IndexMap::new();
        // Attributes.
        loop {
            while *pos < chars.len() && chars[*pos].is_whitespace() {
                *pos += 1;
            }
            match chars.get(*pos)? {
                '/' => {
                    // An empty element is null (`<e/>` is `{"e": null}` in the page's table).
                    *pos += 2;
                    return Some((
                        name,
                        if bag.is_empty() {
                            Value::Null
                        } else {
                            Value::bag(bag)
                        },
                    ));
                }
                '>' => {
                    *pos += 1;
                    break;
                }
                _ => {
                    let s = *pos;
                    while *pos < chars.len() && chars[*pos] != '=' {
                        *pos += 1;
                    }
                    let key: String = chars[s..*pos].iter().collect::<String>().trim().to_string();
                    *pos += 1;
                    let quote = *chars.get(*pos)?;
                    *pos += 1;
                    let vs = *pos;
                    while *pos < chars.len() && chars[*pos] != quote {
                        *pos += 1;
                    }
                    let value: String = chars[vs..*pos].iter().collect();
                    *pos += 1;
                    bag.insert(format!("@{key}"), Value::str(value));
                }
            }
        }
        let mut text = String::new();
        loop {
            match chars.get(*pos)? {
                '<' if chars.get(*pos + 1) == Some(&'/') => {
                    while *pos < chars.len() && chars[*pos] != '>' {
                        *pos += 1;
                    }
                    *pos += 1;
                    break;
                }
                '<' if chars.get(*pos + 1) == Some(&'?') || chars.get(*pos + 1) == Some(&'!') => {
                    while *pos < chars.len() && chars[*pos] != '>' {
                        *pos += 1;
                    }
                    *pos += 1;
                }
                '<' => {
                    // Text before a child element comes first, as in the document.
                    if !text.trim().is_empty() && !bag.contains_key("#text") {
                        bag.insert("#text".into(), Value::Null);
                    }
                    let (k, v) = element(chars, pos)?;
                    match bag.get_mut(&k) {
                        Some(Value::Array(items)) => Arc::make_mut(items).push(v),
                        Some(existing) => {
                            let first = existing.clone();
                            *existing = Value::array(vec![first, v]);
                        }
                        None => {
                            bag.insert(k, v);
                        }
                    }
                }
                c => {
                    text.push(*c);
                    *pos += 1;
                }
            }
        }
        let text = text.trim().to_string();
        Some((
            name,
            if bag.is_empty() {
                Value::str(text)
            } else {
                if text.is_empty() {
                    bag.shift_remove("#text");
                } else {
                    bag.insert("#text".into(), Value::str(text));
                }
                Value::bag(bag)
            },
        ))
    }
    let chars: Vec<char> = text.chars().collect();
    let mut pos = 0;
    while pos < chars.len() {
        if chars[pos] == '<' && !matches!(chars.get(pos + 1), Some('?') | Some('!')) {
            return match element(&chars, &mut pos) {
                Some((k, v)) => {
                    let mut root = IndexMap::new();
                    root.insert(k, v);
                    Value::bag(root)
                }
                None => Value::Null,
            };
        }
        pos += 1;
    }
    Value::Null
}

/// SHA-256 (FIPS 180-4), hex encoded, for `hash_sha256`.
pub fn sha256_hex(data: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 64];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([
                chunk[4 * i],
                chunk[4 * i + 1],
                chunk[4 * i + 2],
                chunk[4 * i + 3],
            ]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut v = h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7]
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [
                t1.wrapping_add(t2),
                v[0],
                v[1],
                v[2],
                v[3].wrapping_add(t1),
                v[4],
                v[5],
                v[6],
            ];
        }
        for (x, y) in h.iter_mut().zip(v) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

/// .NET's ticks at the Unix epoch (firedrill's datetimes count ticks from the epoch).
const EPOCH_TICKS: i64 = 621_355_968_000_000_000;

/// The bytes `hash()` hashes: a text's UTF-8, a datetime's .NET ticks as eight little-endian
/// bytes (the page's three values, `hash("World")` and `hash(datetime("2015-01-01"))`, are the
/// xxhash64 of these), and, by the same rule but unverified (the page shows no example), a
/// long's, a real's or a timespan's eight little-endian bytes.
fn hash_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::Long(i) => i.to_le_bytes().to_vec(),
        Value::DateTime(t) => (t + EPOCH_TICKS).to_le_bytes().to_vec(),
        Value::TimeSpan(t) => t.to_le_bytes().to_vec(),
        Value::Real(f) => f.to_le_bytes().to_vec(),
        other => other.text().as_bytes().to_vec(),
    }
}

/// XXH64 with seed 0 (xxHash's specification), the hash the `hash()` page names.
fn xxh64(input: &[u8]) -> u64 {
    const P1: u64 = 0x9E37_79B1_85EB_CA87;
    const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
    const P3: u64 = 0x1656_67B1_9E37_79F9;
    const P4: u64 = 0x85EB_CA77_C2B2_AE63;
    const P5: u64 = 0x27D4_EB2F_1656_67C5;
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or_default());
    let round = |acc: u64, lane: u64| {
        acc.wrapping_add(lane.wrapping_mul(P2))
            .rotate_left(31)
            .wrapping_mul(P1)
    };
    let merge = |acc: u64, v: u64| (acc ^ round(0, v)).wrapping_mul(P1).wrapping_add(P4);
    let mut stripes = input.chunks_exact(32);
    let mut hash = if input.len() >= 32 {
        let mut v = [P1.wrapping_add(P2), P2, 0, 0u64.wrapping_sub(P1)];
        for stripe in &mut stripes {
            for (lane, bytes) in v.iter_mut().zip(stripe.chunks_exact(8)) {
                *lane = round(*lane, word(bytes));
            }
        }
        let mut h = v[0]
            .rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18));
        for lane in v {
            h = merge(h, lane);
        }
        h
    } else {
        P5
    };
    hash = hash.wrapping_add(input.len() as u64);
    let mut rest = stripes.remainder();
    while let Some((bytes, tail)) = rest.split_first_chunk::<8>() {
        hash = (hash ^ round(0, u64::from_le_bytes(*bytes)))
            .rotate_left(27)
            .wrapping_mul(P1)
            .wrapping_add(P4);
        rest = tail;
    }
    if let Some((bytes, tail)) = rest.split_first_chunk::<4>() {
        hash = (hash ^ u64::from(u32::from_le_bytes(*bytes)).wrapping_mul(P1))
            .rotate_left(23)
            .wrapping_mul(P2)
            .wrapping_add(P3);
        rest = tail;
    }
    for &byte in rest {
        hash = (hash ^ u64::from(byte).wrapping_mul(P5))
            .rotate_left(11)
            .wrapping_mul(P1);
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(P2);
    hash ^= hash >> 29;
    hash = hash.wrapping_mul(P3);
    hash ^ (hash >> 32)
}

/// Splits a Windows command line the way `CommandLineToArgvW` does.
pub fn parse_command_line(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    let mut has_token = false;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let mut n = 0;
                while i < chars.len() && chars[i] == '\\' {
                    n += 1;
                    i += 1;
                }
                if i < chars.len() && chars[i] == '"' {
                    current.extend(std::iter::repeat_n('\\', n / 2));
                    if n % 2 == 1 {
                        current.push('"');
                        i += 1;
                    }
                } else {
                    current.extend(std::iter::repeat_n('\\', n));
                }
                has_token = true;
                continue;
            }
            '"' => {
                in_quotes = !in_quotes;
                has_token = true;
            }
            ' ' | '\t' if !in_quotes => {
                if has_token {
                    args.push(std::mem::take(&mut current));
                    has_token = false;
                }
            }
            other => {
                current.push(other);
                has_token = true;
            }
        }
        i += 1;
    }
    if has_token {
        args.push(current);
    }
    args
}

/// `parse_path()`, as its page's examples split paths: a scheme (`file://`), a drive root
/// (`C:`, without its separator), the directory and its last name, the file name and its
/// extension, and an alternate data stream after a colon in the file name (`file.txt:some.exe`).
/// A long-path prefix (`\\?\`) is not part of any of them.
fn parse_path(text: &str) -> Value {
    let (scheme, path) = match text.split_once("://") {
        Some((scheme, rest))
            if scheme.len() > 1
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            (scheme, rest)
        }
        _ => ("", text),
    };
    let unprefixed = path.strip_prefix("\\\\?\\").unwrap_or(path);
    let bytes = unprefixed.as_bytes();
    let root = if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        &unprefixed[..2]
    } else {
        ""
    };
    let (dir, file) = match path.rfind(['\\', '/']) {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", &path[root.len()..]),
    };
    let (file, stream) = file.split_once(':').unwrap_or((file, ""));
    let ext = file.rfind('.').map_or("", |i| &file[i + 1..]);
    let mut bag = IndexMap::new();
    bag.insert("Scheme".to_string(), Value::str(scheme));
    bag.insert("RootPath".to_string(), Value::str(root));
    bag.insert("DirectoryPath".to_string(), Value::str(dir));
    bag.insert(
        "DirectoryName".to_string(),
        Value::str(dir.rsplit(['\\', '/']).next().unwrap_or("")),
    );
    bag.insert("Filename".to_string(), Value::str(file));
    bag.insert("Extension".to_string(), Value::str(ext));
    bag.insert("AlternateDataStreamName".to_string(), Value::str(stream));
    Value::bag(bag)
}

/// `parse_csv()`: the first record of a CSV text (RFC 4180: commas, double quotes around a
/// value that holds commas, quotes or line breaks, a quote doubled inside them).
/// A value as text the way `reverse()` and `hash_sha256()` convert it: a datetime with all seven
/// fraction digits (the reverse page's `Z0000000.00:00:21T51-01-7102`, the hash_sha256 page's
/// hash of `2020-01-01T00:00:00.0000000Z`), anything else as `tostring` prints it.
fn round_trip_text(v: &Value) -> std::borrow::Cow<'_, str> {
    match v {
        Value::DateTime(t) => match chrono_from_ticks(*t) {
            Some(time) => std::borrow::Cow::Owned(format!(
                "{}.{:07}Z",
                time.format("%Y-%m-%dT%H:%M:%S"),
                t.rem_euclid(TICKS_PER_SECOND)
            )),
            None => std::borrow::Cow::Borrowed(""),
        },
        other => other.text(),
    }
}

fn parse_csv(text: &str) -> Value {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) => Value::array(record.iter().map(Value::str).collect()),
        // An empty text is one empty value; a text that is not CSV (an unclosed quote reads to
        // the end) is its one value.
        Ok(false) | Err(_) => Value::array(vec![Value::str(text)]),
    }
}

fn parse_url(text: &str) -> Value {
    let mut bag = IndexMap::new();
    let (scheme, rest) = text.split_once("://").unwrap_or(("", text));
    let (authority, path_query) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (path_query, fragment) = path_query.split_once('#').unwrap_or((path_query, ""));
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    let (userinfo, hostport) = authority.rsplit_once('@').unwrap_or(("", authority));
    let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, ""));
    bag.insert("Scheme".into(), Value::str(scheme));
    bag.insert("Host".into(), Value::str(host));
    bag.insert("Port".into(), Value::str(port));
    bag.insert("Path".into(), Value::str(path));
    bag.insert("Username".into(), Value::str(user));
    bag.insert("Password".into(), Value::str(pass));
    let params: IndexMap<String, Value> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), Value::str(url_decode(v)))
        })
        .collect();
    bag.insert("Query Parameters".into(), Value::bag(params));
    bag.insert("Fragment".into(), Value::str(fragment));
    Value::bag(bag)
}

fn parse_ipv4(text: &str) -> Option<u32> {
    let text = text.trim();
    let text = text.split('/').next()?;
    let parts: Vec<u8> = text
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    (parts.len() == 4).then(|| u32::from_be_bytes([parts[0], parts[1], parts[2], parts[3]]))
}

fn parse_cidr(text: &str) -> Option<(u32, u32)> {
    let (ip, bits) = text.trim().split_once('/').unwrap_or((text.trim(), "32"));
    Some((parse_ipv4(ip)?, bits.parse().ok().filter(|b| *b <= 32)?))
}

fn in_cidr(ip: u32, (net, bits): (u32, u32)) -> bool {
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    ip & mask == net & mask
}

fn ipv4_private(ip: u32) -> bool {
    [(0x0A00_0000, 8), (0xAC10_0000, 12), (0xC0A8_0000, 16)]
        .iter()
        .any(|r| in_cidr(ip, *r))
}

// ---------------------------------------------------------------------------------------------
// String operators
// ---------------------------------------------------------------------------------------------

fn is_term_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// `has` (and `has_cs`): `needle` occurs in `haystack` as whole terms: where the needle begins
/// (ends) with an alphanumeric character, the match must not be preceded (followed) by one.
pub fn has(haystack: &str, needle: &str, case_sensitive: bool) -> bool {
    if needle.is_empty() {
        return true;
    }
    let (h, n);
    let (haystack, needle) = if case_sensitive {
        (haystack, needle)
    } else {
        h = fold(haystack);
        n = fold(needle);
        (h.as_ref(), n.as_ref())
    };
    let check_start = needle.chars().next().is_some_and(is_term_char);
    let check_end = needle.chars().next_back().is_some_and(is_term_char);
    let mut from = 0;
    while let Some(pos) = haystack[from..].find(needle) {
        let start = from + pos;
        let end = start + needle.len();
        let before_ok = !check_start
            || !haystack[..start]
                .chars()
                .next_back()
                .is_some_and(is_term_char);
        let after_ok = !check_end || !haystack[end..].chars().next().is_some_and(is_term_char);
        if before_ok && after_ok {
            return true;
        }
        from = start + haystack[start..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// `hasprefix`: some term of `haystack` starts with `needle`.
pub fn hasprefix(haystack: &str, needle: &str, case_sensitive: bool) -> bool {
    term_affix(haystack, needle, case_sensitive, true)
}

/// `hassuffix`: some term of `haystack` ends with `needle`.
pub fn hassuffix(haystack: &str, needle: &str, case_sensitive: bool) -> bool {
    term_affix(haystack, needle, case_sensitive, false)
}

fn term_affix(haystack: &str, needle: &str, case_sensitive: bool, prefix: bool) -> bool {
    if needle.is_empty() {
        return true;
    }
    let (h, n) = if case_sensitive {
        (haystack.into(), needle.into())
    } else {
        (fold(haystack), fold(needle))
    };
    let mut from = 0;
    while let Some(pos) = h[from..].find(n.as_ref()) {
        let start = from + pos;
        let end = start + n.len();
        let ok = if prefix {
            !n.chars().next().is_some_and(is_term_char)
                || !h[..start].chars().next_back().is_some_and(is_term_char)
        } else {
            !n.chars().next_back().is_some_and(is_term_char)
                || !h[end..].chars().next().is_some_and(is_term_char)
        };
        if ok {
            return true;
        }
        from = start + h[start..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

/// Case folding for the case-insensitive operators.
pub fn fold(text: &str) -> std::borrow::Cow<'_, str> {
    if text.is_ascii() {
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            std::borrow::Cow::Owned(text.to_ascii_lowercase())
        } else {
            std::borrow::Cow::Borrowed(text)
        }
    } else {
        std::borrow::Cow::Owned(text.to_lowercase())
    }
}

/// `contains` / `contains_cs`.
pub fn contains(haystack: &str, needle: &str, case_sensitive: bool) -> bool {
    if case_sensitive {
        haystack.contains(needle)
    } else if haystack.is_ascii() && needle.is_ascii() {
        let n = needle.as_bytes();
        n.is_empty()
            || haystack
                .as_bytes()
                .windows(n.len())
                .any(|w| w.eq_ignore_ascii_case(n))
    } else {
        fold(haystack).contains(fold(needle).as_ref())
    }
}

/// `startswith` / `startswith_cs`.
pub fn startswith(haystack: &str, needle: &str, case_sensitive: bool) -> bool {
    if case_sensitive {
        haystack.starts_with(needle)
    } else if haystack.is_ascii() && needle.is_ascii() {
        haystack.len() >= needle.len()
            && haystack.as_bytes()[..needle.len()].eq_ignore_ascii_case(needle.as_bytes())
    } else {
        fold(haystack).starts_with(fold(needle).as_ref())
    }
}

/// `endswith` / `endswith_cs`.
pub fn endswith(haystack: &str, needle: &str, case_sensitive: bool) -> bool {
    if case_sensitive {
        haystack.ends_with(needle)
    } else if haystack.is_ascii() && needle.is_ascii() {
        haystack.len() >= needle.len()
            && haystack.as_bytes()[haystack.len() - needle.len()..]
                .eq_ignore_ascii_case(needle.as_bytes())
    } else {
        fold(haystack).ends_with(fold(needle).as_ref())
    }
}

/// `=~`: equality ignoring case.
pub fn equals_ci(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

// ---------------------------------------------------------------------------------------------
// Aggregates
// ---------------------------------------------------------------------------------------------

/// How an aggregate's result column is named and typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggKind {
    /// `count()`.
    Count,
    /// `countif(predicate)`.
    CountIf,
    /// `dcount(x)`, `count_distinct(x)`.
    Dcount,
    /// `dcountif(x, predicate)`.
    DcountIf,
    /// `make_set(x [, max])`.
    MakeSet,
    /// `make_set_if(x, predicate [, max])`.
    MakeSetIf,
    /// `make_list(x [, max])`.
    MakeList,
    /// `make_list_if(x, predicate [, max])`.
    MakeListIf,
    /// `make_bag(x)`.
    MakeBag,
    /// `take_any(x)`, `any(x)`.
    Any,
    /// `take_anyif(x, predicate)`.
    AnyIf,
    /// `min(x)`.
    Min,
    /// `max(x)`.
    Max,
    /// `minif(x, predicate)`.
    MinIf,
    /// `maxif(x, predicate)`.
    MaxIf,
    /// `sum(x)`.
    Sum,
    /// `sumif(x, predicate)`.
    SumIf,
    /// `avg(x)`.
    Avg,
    /// `avgif(x, predicate)`.
    AvgIf,
    /// `stdev(x)`.
    Stdev,
    /// `variance(x)`.
    Variance,
    /// `percentile(x, p)`.
    Percentile,
    /// `percentiles(x, p, ...)`: one column per p.
    Percentiles,
    /// `percentiles_array(x, p, ...)` or `(x, dynamic([p, ...]))`: one array of them.
    PercentilesArray,
    /// `arg_max(x, cols...)`: the evaluator expands the columns.
    ArgMax,
    /// `arg_min(x, cols...)`.
    ArgMin,
    /// `binary_all_and(x)`: bitwise AND of the values.
    BinaryAllAnd,
    /// `binary_all_or(x)`: bitwise OR of the values.
    BinaryAllOr,
    /// `binary_all_xor(x)`: bitwise XOR of the values.
    BinaryAllXor,
}

/// One aggregate function row.
#[derive(Debug)]
pub struct AggregateFn {
    /// Name in queries.
    pub name: &'static str,
    /// What it computes.
    pub kind: AggKind,
    /// Prefix of the automatic column name (`count_`, `any_X`, `set_X`); empty when the column
    /// is named after the argument itself (`take_any(X)` is `X`, as Kusto.Language names it).
    pub prefix: &'static str,
    /// Fewest arguments.
    pub min: usize,
    /// Most arguments.
    pub max: usize,
}

macro_rules! agg {
    ($name:literal, $kind:ident, $prefix:literal, $min:expr, $max:expr) => {
        AggregateFn {
            name: $name,
            kind: AggKind::$kind,
            prefix: $prefix,
            min: $min,
            max: $max,
        }
    };
}

/// Every aggregate function, by name.
pub static AGGREGATES: &[AggregateFn] = &[
    // `count()` takes no arguments (count aggregation page); countif takes the predicate.
    agg!("count", Count, "count", 0, 0),
    agg!("countif", CountIf, "countif", 1, 1),
    agg!("dcount", Dcount, "dcount", 1, 2),
    agg!("count_distinct", Dcount, "count_distinct", 1, 1),
    agg!("dcountif", DcountIf, "dcountif", 2, 3),
    agg!("make_set", MakeSet, "set", 1, 2),
    agg!("makeset", MakeSet, "set", 1, 2),
    agg!("make_set_if", MakeSetIf, "set", 2, 3),
    agg!("make_list", MakeList, "list", 1, 2),
    agg!("makelist", MakeList, "list", 1, 2),
    agg!("make_list_if", MakeListIf, "list", 2, 3),
    agg!("make_bag", MakeBag, "bag", 1, 2),
    agg!("any", Any, "any", 1, usize::MAX),
    agg!("take_any", Any, "", 1, usize::MAX),
    agg!("anyif", AnyIf, "anyif", 2, 2),
    agg!("take_anyif", AnyIf, "", 2, 2),
    agg!("min", Min, "min", 1, 1),
    agg!("max", Max, "max", 1, 1),
    agg!("minif", MinIf, "minif", 2, 2),
    agg!("maxif", MaxIf, "maxif", 2, 2),
    agg!("sum", Sum, "sum", 1, 1),
    agg!("sumif", SumIf, "sumif", 2, 2),
    agg!("avg", Avg, "avg", 1, 1),
    agg!("avgif", AvgIf, "avgif", 2, 2),
    agg!("stdev", Stdev, "stdev", 1, 1),
    agg!("variance", Variance, "variance", 1, 1),
    agg!("percentile", Percentile, "percentile", 2, 2),
    agg!("percentiles", Percentiles, "percentile", 2, 64),
    agg!("percentiles_array", PercentilesArray, "percentiles", 2, 64),
    agg!("arg_max", ArgMax, "max", 1, 64),
    agg!("arg_min", ArgMin, "min", 1, 64),
    agg!("binary_all_and", BinaryAllAnd, "", 1, 1),
    agg!("binary_all_or", BinaryAllOr, "", 1, 1),
    agg!("binary_all_xor", BinaryAllXor, "", 1, 1),
];

/// Looks an aggregate function up by name.
pub fn aggregate(name: &str) -> Option<&'static AggregateFn> {
    AGGREGATES.iter().find(|a| a.name == name)
}

/// The result type of a single-column aggregate over argument type `arg`.
pub fn aggregate_type(kind: AggKind, arg: Option<ScalarType>) -> ScalarType {
    match kind {
        AggKind::Count
        | AggKind::CountIf
        | AggKind::Dcount
        | AggKind::DcountIf
        | AggKind::BinaryAllAnd
        | AggKind::BinaryAllOr
        | AggKind::BinaryAllXor => T::Long,
        AggKind::MakeSet
        | AggKind::MakeSetIf
        | AggKind::MakeList
        | AggKind::MakeListIf
        | AggKind::MakeBag
        | AggKind::PercentilesArray => T::Dynamic,
        AggKind::Avg | AggKind::AvgIf | AggKind::Stdev | AggKind::Variance => T::Real,
        AggKind::Sum | AggKind::SumIf => match arg {
            Some(T::Int) => T::Long,
            Some(t) => t,
            None => T::Long,
        },
        _ => arg.unwrap_or(T::Dynamic),
    }
}

/// The running state of one aggregate in one group.
#[derive(Debug)]
pub enum AggState {
    /// A count.
    Count(i64),
    /// Distinct keys seen.
    Distinct(IndexSet<super::value::GroupKey>),
    /// A set: keys seen and the values in first-seen order, with an optional cap.
    Set(IndexSet<super::value::GroupKey>, Vec<Value>, usize),
    /// A list with an optional cap.
    List(Vec<Value>, usize),
    /// A merged bag.
    Bag(IndexMap<String, Value>),
    /// The first non-null value.
    Any(Option<Value>),
    /// The extreme so far.
    Extreme(Option<Value>, bool),
    /// A numeric sum (`Long` while every input is whole).
    Sum(Option<Value>),
    /// Sum and count, for avg.
    Avg(f64, i64),
    /// All values, for stdev, variance and percentiles.
    Values(Vec<f64>),
    /// The bitwise fold so far (`binary_all_and/or/xor`).
    Bits(Option<i64>, AggKind),
}

impl AggState {
    /// A fresh state for `kind`; `cap` is make_set/make_list's maximum size.
    pub fn new(kind: AggKind, cap: Option<usize>) -> AggState {
        let cap = cap.unwrap_or(1_048_576);
        match kind {
            AggKind::Count | AggKind::CountIf => AggState::Count(0),
            AggKind::Dcount | AggKind::DcountIf => AggState::Distinct(IndexSet::new()),
            AggKind::MakeSet | AggKind::MakeSetIf => {
                AggState::Set(IndexSet::new(), Vec::new(), cap)
            }
            AggKind::MakeList | AggKind::MakeListIf => AggState::List(Vec::new(), cap),
            AggKind::MakeBag => AggState::Bag(IndexMap::new()),
            AggKind::Any | AggKind::AnyIf => AggState::Any(None),
            AggKind::Min | AggKind::MinIf | AggKind::ArgMin => AggState::Extreme(None, false),
            AggKind::Max | AggKind::MaxIf | AggKind::ArgMax => AggState::Extreme(None, true),
            AggKind::Sum | AggKind::SumIf => AggState::Sum(None),
            AggKind::Avg | AggKind::AvgIf => AggState::Avg(0.0, 0),
            AggKind::Stdev
            | AggKind::Variance
            | AggKind::Percentile
            | AggKind::Percentiles
            | AggKind::PercentilesArray => AggState::Values(Vec::new()),
            AggKind::BinaryAllAnd | AggKind::BinaryAllOr | AggKind::BinaryAllXor => {
                AggState::Bits(None, kind)
            }
        }
    }

    /// Feeds one row's argument value; returns true when an extreme was replaced (for arg_max/arg_min).
    pub fn update(&mut self, value: &Value) -> bool {
        match self {
            AggState::Count(n) => *n += 1,
            AggState::Distinct(set) => {
                if !value.is_empty() {
                    set.insert(value.group_key());
                }
            }
            AggState::Set(keys, values, cap) => {
                if !value.is_null() && values.len() < *cap {
                    let items: Vec<Value> = match value {
                        Value::Array(items) => items.to_vec(),
                        other => vec![other.clone()],
                    };
                    for item in items {
                        if keys.insert(item.group_key()) && values.len() < *cap {
                            values.push(item.convert(T::Dynamic));
                        }
                    }
                }
            }
            AggState::List(values, cap) => {
                if !value.is_null() && values.len() < *cap {
                    match value {
                        Value::Array(items) => values.extend(items.iter().cloned()),
                        other => values.push(other.convert(T::Dynamic)),
                    }
                }
            }
            AggState::Bag(bag) => {
                if let Value::Bag(items) = value {
                    for (k, v) in items.iter() {
                        bag.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
            AggState::Any(slot) => {
                if slot.is_none() && !value.is_empty() {
                    *slot = Some(value.clone());
                }
            }
            AggState::Bits(acc, kind) => {
                // Null values are ignored.
                if let Some(x) = value.to_long().filter(|_| !value.is_null()) {
                    *acc = Some(match (*acc, *kind) {
                        (None, _) => x,
                        (Some(a), AggKind::BinaryAllAnd) => a & x,
                        (Some(a), AggKind::BinaryAllOr) => a | x,
                        (Some(a), _) => a ^ x,
                    });
                }
            }
            AggState::Extreme(best, is_max) => {
                if value.is_null() {
                    return false;
                }
                let replace = match best {
                    None => true,
                    Some(b) => match value.compare(b) {
                        Some(o) => {
                            if *is_max {
                                o.is_gt()
                            } else {
                                o.is_lt()
                            }
                        }
                        None => false,
                    },
                };
                if replace {
                    *best = Some(value.clone());
                    return true;
                }
            }
            AggState::Sum(total) => {
                let next = match (total.take(), value) {
                    (t, Value::Null) => t,
                    (None, v) => Some(v.clone()),
                    (Some(Value::Long(a)), Value::Long(b)) => Some(Value::Long(a.wrapping_add(*b))),
                    (Some(Value::TimeSpan(a)), Value::TimeSpan(b)) => Some(Value::TimeSpan(a + b)),
                    (Some(a), b) => match (a.to_real(), b.to_real()) {
                        (Some(x), Some(y)) => Some(Value::Real(x + y)),
                        _ => Some(a),
                    },
                };
                *total = next;
            }
            AggState::Avg(sum, count) => {
                if let Some(f) = value.to_real().filter(|_| !value.is_null()) {
                    *sum += f;
                    *count += 1;
                }
            }
            AggState::Values(values) => {
                if let Some(f) = value.to_real().filter(|_| !value.is_null()) {
                    values.push(f);
                }
            }
        }
        false
    }

    /// The final value; `percentile` is the requested percentile for percentile states.
    pub fn finish(&self, kind: AggKind, percentile: f64, arg_type: Option<ScalarType>) -> Value {
        match self {
            AggState::Count(n) => Value::Long(*n),
            AggState::Distinct(set) => Value::Long(set.len() as i64),
            AggState::Set(_, values, _) => Value::array(values.clone()),
            AggState::List(values, _) => Value::array(values.clone()),
            AggState::Bag(bag) => Value::bag(bag.clone()),
            AggState::Any(v) => v
                .clone()
                .unwrap_or_else(|| arg_type.map_or(Value::Null, ScalarType::null)),
            AggState::Extreme(v, _) => v
                .clone()
                .unwrap_or_else(|| arg_type.map_or(Value::Null, ScalarType::null)),
            // Nothing summed is 0 (the summarize page's default values of aggregations).
            AggState::Sum(v) => v.clone().unwrap_or(match arg_type {
                Some(T::Real | T::Decimal) => Value::Real(0.0),
                Some(T::TimeSpan) => Value::TimeSpan(0),
                Some(T::Int | T::Long | T::Bool) => Value::Long(0),
                _ => Value::Null,
            }),
            AggState::Bits(acc, _) => acc.map_or(Value::Null, Value::Long),
            AggState::Avg(sum, count) => {
                if *count == 0 {
                    // "The result of avg_x(x) is NaN due to dividing by 0" (the summarize page).
                    Value::Real(f64::NAN)
                } else {
                    Value::Real(sum / *count as f64)
                }
            }
            AggState::Values(values) => match kind {
                AggKind::Stdev | AggKind::Variance => {
                    let n = values.len() as f64;
                    if values.len() < 2 {
                        return Value::Real(0.0);
                    }
                    let mean = values.iter().sum::<f64>() / n;
                    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
                    Value::Real(if kind == AggKind::Stdev {
                        var.sqrt()
                    } else {
                        var
                    })
                }
                _ => {
                    if values.is_empty() {
                        return Value::Null;
                    }
                    let mut sorted = values.clone();
                    sorted.sort_by(f64::total_cmp);
                    // Nearest-rank, as Kusto documents for percentile().
                    let rank =
                        ((percentile / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
                    let v = sorted[rank.min(sorted.len()) - 1];
                    match arg_type {
                        Some(T::Int | T::Long) => Value::Long(v as i64),
                        _ => Value::Real(v),
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: &[Value]) -> Value {
        (scalar(name).unwrap().call)(args, &Context { now: 0 }).unwrap()
    }

    #[test]
    fn a_series_counts_the_values_it_generates() {
        let (l, r, t) = (Value::Long, Value::Real, Value::TimeSpan);
        let cases = [
            (l(1), l(10), Some(l(3))),
            (l(10), l(1), Some(l(-3))),
            (l(1), l(0), Some(l(1))),
            (l(5), l(5), None),
            (r(0.1), r(0.3), Some(r(0.1))),
            (r(0.0), r(1.0), Some(r(0.1))),
            (l(1), r(2.5), Some(r(0.25))),
            (r(3.0), l(-1), Some(r(-0.7))),
            (t(TICKS_PER_HOUR), t(5 * TICKS_PER_HOUR), None),
            (
                Value::DateTime(0),
                Value::DateTime(TICKS_PER_DAY),
                Some(t(TICKS_PER_HOUR)),
            ),
        ];
        for (start, stop, step) in cases {
            let series = Series::new(&start, &stop, step.as_ref()).unwrap();
            let generated = series.clone().count() as u64;
            assert_eq!(series.len(), generated, "{start:?} {stop:?} {step:?}");
            assert_eq!(series.is_empty(), generated == 0);
        }
        // A zero step, or bounds of different kinds, make no series.
        assert!(Series::new(&l(1), &l(3), Some(&l(0))).is_none());
        assert!(Series::new(&l(1), &t(3), None).is_none());
        assert_eq!(
            Series::new(&l(i64::MIN), &l(i64::MAX), None).unwrap().len(),
            u64::MAX
        );
    }

    #[test]
    fn has_matches_whole_terms_only() {
        assert!(has("cmd.exe /c whoami", "whoami", false));
        assert!(has(
            "C:\\Windows\\System32\\PING.EXE 10.0.0.1",
            "ping",
            false
        ));
        assert!(!has("shipping", "ping", false));
        assert!(!has("whoamix", "whoami", false));
        assert!(has("c:\\windows\\cmd.exe /c", "\\cmd.exe", false));
        assert!(!has("Whoami", "whoami", true));
    }

    #[test]
    fn contains_and_affixes_ignore_case_unless_cs() {
        assert!(contains("C:\\TEMP\\x", "temp", false));
        assert!(!contains("C:\\TEMP\\x", "temp", true));
        assert!(startswith("Tomcat9.exe", "tomcat", false));
        assert!(endswith("C:\\x\\ArcSOC.exe", "\\arcsoc.exe", false));
        assert!(hasprefix("run powershell now", "power", false));
        assert!(!hasprefix("runpowershell", "power", false));
    }

    #[test]
    fn split_extract_and_substring_follow_the_docs() {
        assert_eq!(
            call("split", &[Value::str("aa_bb"), Value::str("_")]).to_kql_string(),
            "[\"aa\",\"bb\"]"
        );
        assert_eq!(
            call(
                "split",
                &[Value::str("aa_bb"), Value::str("_"), Value::Long(5)]
            )
            .to_kql_string(),
            "[]"
        );
        assert_eq!(
            call(
                "extract",
                &[
                    Value::str("x=([0-9]+)"),
                    Value::Long(1),
                    Value::str("a x=42")
                ]
            ),
            Value::str("42")
        );
        assert_eq!(
            call(
                "substring",
                &[Value::str("123456"), Value::Long(1), Value::Long(2)]
            ),
            Value::str("23")
        );
        assert_eq!(
            call("base64_decode_tostring", &[Value::str("S3VzdG8=")]),
            Value::str("Kusto")
        );
        assert_eq!(
            call("base64_encode_tostring", &[Value::str("Kusto")]),
            Value::str("S3VzdG8=")
        );
        assert_eq!(
            call("hash_sha256", &[Value::str("World")]),
            Value::str("78ae647dc5544d227130a0682a51e30bc7777fbb6d8a8f17007463a3ecd1d524")
        );
        assert_eq!(
            call(
                "replace",
                &[Value::str("\\0"), Value::str(""), Value::str("a\0b")]
            ),
            Value::str("ab")
        );
        assert_eq!(
            call(
                "extract",
                &[
                    Value::str("(Enum{)"),
                    Value::Long(1),
                    Value::str("Invoke-WinEnum{x")
                ]
            ),
            Value::str("Enum{")
        );
    }

    #[test]
    fn command_lines_split_like_windows() {
        assert_eq!(
            parse_command_line(r#""C:\Program Files\a.exe" -x "y z""#),
            vec!["C:\\Program Files\\a.exe", "-x", "y z"]
        );
    }
}

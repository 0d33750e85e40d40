//! KQL scalar values and types: bool, int, long, real, decimal (as real), string, datetime, timespan, guid, dynamic.
//!
//! Semantics follow the Kusto "scalar data types" pages on learn.microsoft.com: every type but
//! `string` has a null; a string is never null (a missing string is the empty string); datetimes
//! and timespans are counted in 100-nanosecond ticks; `dynamic` holds arrays, property bags and
//! scalars. Conversions (`tostring`, `tolong`, `todatetime`, ...) return null where Kusto does.

use chrono::{DateTime, TimeZone, Utc};
use indexmap::IndexMap;
use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

mod datetime;
pub use datetime::{literal_body as datetime_literal_body, parse_datetime};

/// 100-nanosecond ticks per second, the resolution of `datetime` and `timespan`.
pub const TICKS_PER_SECOND: i64 = 10_000_000;
/// Ticks per millisecond.
pub const TICKS_PER_MILLI: i64 = 10_000;
/// Ticks per minute.
pub const TICKS_PER_MINUTE: i64 = 60 * TICKS_PER_SECOND;
/// Ticks per hour.
pub const TICKS_PER_HOUR: i64 = 60 * TICKS_PER_MINUTE;
/// Ticks per day.
pub const TICKS_PER_DAY: i64 = 24 * TICKS_PER_HOUR;

/// A KQL scalar type, as a column or an expression has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScalarType {
    /// `bool` (alias `boolean`).
    Bool,
    /// `int`: a 32-bit integer.
    Int,
    /// `long`: a 64-bit integer.
    Long,
    /// `real` (alias `double`).
    Real,
    /// `decimal`, evaluated as `real`.
    Decimal,
    /// `string`.
    String,
    /// `datetime` (alias `date`).
    DateTime,
    /// `timespan` (alias `time`).
    TimeSpan,
    /// `guid` (alias `uniqueid`).
    Guid,
    /// `dynamic`: arrays, property bags and scalars.
    Dynamic,
}

impl ScalarType {
    /// Every type, for lookups by name.
    pub const ALL: [ScalarType; 10] = [
        ScalarType::Bool,
        ScalarType::Int,
        ScalarType::Long,
        ScalarType::Real,
        ScalarType::Decimal,
        ScalarType::String,
        ScalarType::DateTime,
        ScalarType::TimeSpan,
        ScalarType::Guid,
        ScalarType::Dynamic,
    ];

    /// The canonical name Kusto prints (`getschema`, result sets).
    pub fn name(self) -> &'static str {
        match self {
            ScalarType::Bool => "bool",
            ScalarType::Int => "int",
            ScalarType::Long => "long",
            ScalarType::Real => "real",
            ScalarType::Decimal => "decimal",
            ScalarType::String => "string",
            ScalarType::DateTime => "datetime",
            ScalarType::TimeSpan => "timespan",
            ScalarType::Guid => "guid",
            ScalarType::Dynamic => "dynamic",
        }
    }

    /// Parses a KQL type name or one of its aliases (`boolean`, `double`, `date`, `time`, `uniqueid`, ...).
    pub fn from_name(name: &str) -> Option<ScalarType> {
        Some(match name.to_ascii_lowercase().as_str() {
            "bool" | "boolean" => ScalarType::Bool,
            "int" | "int32" => ScalarType::Int,
            "long" | "int64" | "bigint" => ScalarType::Long,
            "real" | "double" | "float" => ScalarType::Real,
            "decimal" => ScalarType::Decimal,
            "string" => ScalarType::String,
            "datetime" | "date" => ScalarType::DateTime,
            "timespan" | "time" => ScalarType::TimeSpan,
            "guid" | "uniqueid" => ScalarType::Guid,
            "dynamic" => ScalarType::Dynamic,
            _ => return None,
        })
    }

    /// True for int, long, real and decimal.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            ScalarType::Int | ScalarType::Long | ScalarType::Real | ScalarType::Decimal
        )
    }

    /// The null of this type: the empty string for `string`, null otherwise.
    pub fn null(self) -> Value {
        match self {
            ScalarType::String => Value::empty_string(),
            _ => Value::Null,
        }
    }
}

impl fmt::Display for ScalarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A KQL value. The static type lives with the column or expression; the value only says what it holds.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// Null of any type but string.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// An `int` or `long`.
    Long(i64),
    /// A `real` or `decimal`.
    Real(f64),
    /// A string (never null).
    String(Arc<str>),
    /// A datetime, in ticks since the Unix epoch.
    DateTime(i64),
    /// A timespan, in ticks.
    TimeSpan(i64),
    /// A guid, in its lower-case hyphenated text form.
    Guid(Arc<str>),
    /// A dynamic array.
    Array(Arc<Vec<Value>>),
    /// A dynamic property bag, keys in insertion order.
    Bag(Arc<IndexMap<String, Value>>),
}

impl Value {
    /// The empty string.
    pub fn empty_string() -> Value {
        thread_local! {
            static EMPTY: Arc<str> = Arc::from("");
        }
        Value::String(EMPTY.with(Arc::clone))
    }

    /// A string value.
    pub fn str(text: impl AsRef<str>) -> Value {
        Value::String(Arc::from(text.as_ref()))
    }

    /// A dynamic array.
    pub fn array(items: Vec<Value>) -> Value {
        Value::Array(Arc::new(items))
    }

    /// A dynamic property bag.
    pub fn bag(items: IndexMap<String, Value>) -> Value {
        Value::Bag(Arc::new(items))
    }

    /// True for null (an empty string is not null).
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// `isempty`: null, or the empty string.
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            _ => false,
        }
    }

    /// The text of a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, when this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The type a value of this shape has when nothing else is known.
    pub fn natural_type(&self) -> ScalarType {
        match self {
            Value::Null => ScalarType::Dynamic,
            Value::Bool(_) => ScalarType::Bool,
            Value::Long(_) => ScalarType::Long,
            Value::Real(_) => ScalarType::Real,
            Value::String(_) => ScalarType::String,
            Value::DateTime(_) => ScalarType::DateTime,
            Value::TimeSpan(_) => ScalarType::TimeSpan,
            Value::Guid(_) => ScalarType::Guid,
            Value::Array(_) | Value::Bag(_) => ScalarType::Dynamic,
        }
    }

    /// `tostring()`: text as Kusto prints it; null becomes the empty string.
    pub fn to_kql_string(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(b) => if *b { "true" } else { "false" }.to_string(),
            Value::Long(i) => i.to_string(),
            Value::Real(f) => format_real(*f),
            Value::String(s) => s.to_string(),
            Value::DateTime(t) => format_datetime(*t),
            Value::TimeSpan(t) => format_timespan(*t),
            Value::Guid(g) => g.to_string(),
            Value::Array(_) | Value::Bag(_) => self.to_json().to_string(),
        }
    }

    /// Text for a string-operator operand (`has`, `contains`, ...): dynamic and scalars print as `tostring` does.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Value::String(s) => std::borrow::Cow::Borrowed(s),
            Value::Guid(s) => std::borrow::Cow::Borrowed(s),
            other => std::borrow::Cow::Owned(other.to_kql_string()),
        }
    }

    /// The value as JSON, the way `firedrill kql --format json` and dynamic serialisation print it.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Long(i) => J::from(*i),
            Value::Real(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::String(s) => J::String(s.to_string()),
            Value::DateTime(t) => J::String(format_datetime(*t)),
            Value::TimeSpan(t) => J::String(format_timespan(*t)),
            Value::Guid(g) => J::String(g.to_string()),
            Value::Array(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Value::Bag(map) => {
                J::Object(map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }

    /// A dynamic value from JSON: numbers stay numbers, strings stay strings.
    pub fn from_json(json: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match json {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Value::Long(i),
                None => Value::Real(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Value::str(s),
            J::Array(items) => Value::array(items.iter().map(Value::from_json).collect()),
            J::Object(map) => Value::bag(
                map.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Converts an event field into a value of column type `ty`; what cannot convert becomes null.
    pub fn from_event(value: &crate::event::Value, ty: ScalarType) -> Value {
        use crate::event::Value as E;
        if ty == ScalarType::Dynamic {
            return from_event_dynamic(value);
        }
        let natural = match value {
            E::Null => return ty.null(),
            E::Bool(b) => Value::Bool(*b),
            E::Int(i) => Value::Long(*i),
            E::Float(f) => Value::Real(*f),
            E::String(s) => Value::str(s),
            E::List(_) | E::Map(_) => from_event_dynamic(value),
        };
        natural.convert(ty)
    }

    /// Converts to type `ty` the way the `to<type>()` functions do: null where the value does not convert.
    pub fn convert(&self, ty: ScalarType) -> Value {
        match ty {
            ScalarType::Bool => self.to_bool().map_or(Value::Null, Value::Bool),
            ScalarType::Int => self
                .to_long()
                .map_or(Value::Null, |i| Value::Long(i64::from(i as i32))),
            ScalarType::Long => self.to_long().map_or(Value::Null, Value::Long),
            ScalarType::Real | ScalarType::Decimal => {
                self.to_real().map_or(Value::Null, Value::Real)
            }
            ScalarType::String => match self {
                Value::String(_) => self.clone(),
                other => Value::str(other.to_kql_string()),
            },
            ScalarType::DateTime => self.to_datetime().map_or(Value::Null, Value::DateTime),
            ScalarType::TimeSpan => self.to_timespan().map_or(Value::Null, Value::TimeSpan),
            ScalarType::Guid => self
                .to_guid()
                .map_or(Value::Null, |g| Value::Guid(Arc::from(g))),
            ScalarType::Dynamic => match self {
                Value::DateTime(_) | Value::TimeSpan(_) | Value::Guid(_) => {
                    Value::str(self.to_kql_string())
                }
                other => other.clone(),
            },
        }
    }

    /// `tobool()`: booleans, numbers (non-zero is true) and the strings `true`/`false` (any case).
    pub fn to_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Long(i) => Some(*i != 0),
            Value::Real(f) => Some(*f != 0.0),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// `tolong()`: numbers (reals truncate), booleans, numeric strings, datetimes and timespans as ticks.
    pub fn to_long(&self) -> Option<i64> {
        match self {
            Value::Bool(b) => Some(i64::from(*b)),
            Value::Long(i) => Some(*i),
            Value::Real(f) if f.is_finite() => Some(f.trunc() as i64),
            Value::String(s) => {
                let s = s.trim();
                s.parse::<i64>().ok().or_else(|| {
                    s.parse::<f64>()
                        .ok()
                        .filter(|f| f.is_finite())
                        .map(|f| f.trunc() as i64)
                })
            }
            Value::DateTime(t) | Value::TimeSpan(t) => Some(*t),
            _ => None,
        }
    }

    /// `toreal()`: numbers, booleans, numeric strings.
    pub fn to_real(&self) -> Option<f64> {
        match self {
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Long(i) => Some(*i as f64),
            Value::Real(f) => Some(*f),
            Value::String(s) => {
                let s = s.trim();
                match s.to_ascii_lowercase().as_str() {
                    "nan" => Some(f64::NAN),
                    "inf" | "+inf" => Some(f64::INFINITY),
                    "-inf" => Some(f64::NEG_INFINITY),
                    _ => s.parse::<f64>().ok(),
                }
            }
            Value::DateTime(t) | Value::TimeSpan(t) => Some(*t as f64),
            _ => None,
        }
    }

    /// `todatetime()`: datetimes, and strings in the formats `datetime()` accepts.
    pub fn to_datetime(&self) -> Option<i64> {
        match self {
            Value::DateTime(t) => Some(*t),
            Value::String(s) => parse_datetime(s),
            _ => None,
        }
    }

    /// `totimespan()`: timespans, numbers as ticks, strings in `[d.]hh:mm:ss[.f]` or literal (`5m`) form.
    pub fn to_timespan(&self) -> Option<i64> {
        match self {
            Value::TimeSpan(t) => Some(*t),
            Value::Long(i) => Some(*i),
            Value::String(s) => {
                parse_timespan_text(s.trim()).or_else(|| parse_timespan_literal(s.trim()))
            }
            _ => None,
        }
    }

    /// `toguid()`: a guid, or a string in guid form.
    pub fn to_guid(&self) -> Option<String> {
        match self {
            Value::Guid(g) => Some(g.to_string()),
            Value::String(s) => parse_guid(s),
            _ => None,
        }
    }

    /// Equality as `==` computes it (case-sensitive strings, numbers across int/long/real); `None` when either is null.
    pub fn kql_eq(&self, other: &Value) -> Option<bool> {
        match (self, other) {
            (Value::Null, _) | (_, Value::Null) => None,
            (Value::String(a), Value::String(b)) => Some(a == b),
            (Value::Guid(a), Value::Guid(b)) => Some(a.eq_ignore_ascii_case(b)),
            (Value::Guid(a), Value::String(b)) | (Value::String(b), Value::Guid(a)) => {
                Some(a.eq_ignore_ascii_case(b))
            }
            (Value::Array(_) | Value::Bag(_), _) | (_, Value::Array(_) | Value::Bag(_)) => {
                Some(self.to_json() == other.to_json())
            }
            _ => self.compare(other).map(|o| o == Ordering::Equal),
        }
    }

    /// Ordering as `<`, `>`, `sort` and `min`/`max` compute it, for values of compatible types.
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Null, _) | (_, Value::Null) => None,
            (Value::Long(a), Value::Long(b)) => Some(a.cmp(b)),
            (Value::Long(a), Value::Real(b)) => (*a as f64).partial_cmp(b),
            (Value::Real(a), Value::Long(b)) => a.partial_cmp(&(*b as f64)),
            (Value::Real(a), Value::Real(b)) => a.partial_cmp(b),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
            (Value::DateTime(a), Value::DateTime(b)) | (Value::TimeSpan(a), Value::TimeSpan(b)) => {
                Some(a.cmp(b))
            }
            (Value::DateTime(a), Value::String(b)) => parse_datetime(b).map(|b| a.cmp(&b)),
            (Value::String(a), Value::DateTime(b)) => parse_datetime(a).map(|a| a.cmp(b)),
            (Value::Guid(a), Value::Guid(b)) => Some(a.cmp(b)),
            (Value::Bool(a), Value::String(b)) => {
                Value::str(b.as_ref()).to_bool().map(|b| a.cmp(&b))
            }
            (Value::String(a), Value::Bool(b)) => {
                Value::str(a.as_ref()).to_bool().map(|a| a.cmp(b))
            }
            (Value::Bool(a), Value::Long(b)) => Some(i64::from(*a).cmp(b)),
            (Value::Long(a), Value::Bool(b)) => Some(a.cmp(&i64::from(*b))),
            (Value::String(a), Value::Long(_) | Value::Real(_)) => a
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(|a| Value::Real(a).compare(other)),
            (Value::Long(_) | Value::Real(_), Value::String(b)) => b
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(|b| self.compare(&Value::Real(b))),
            _ => None,
        }
    }

    /// A total order for sorting: nulls first, then by type, then by value.
    pub fn sort_cmp(&self, other: &Value) -> Ordering {
        fn rank(v: &Value) -> u8 {
            match v {
                Value::Null => 0,
                Value::Bool(_) => 1,
                Value::Long(_) | Value::Real(_) => 2,
                Value::DateTime(_) => 3,
                Value::TimeSpan(_) => 4,
                Value::String(_) => 5,
                Value::Guid(_) => 6,
                Value::Array(_) => 7,
                Value::Bag(_) => 8,
            }
        }
        match (self, other) {
            (Value::Real(a), Value::Real(b)) => a.total_cmp(b),
            (Value::Array(_) | Value::Bag(_), Value::Array(_) | Value::Bag(_)) => {
                self.to_json().to_string().cmp(&other.to_json().to_string())
            }
            _ => match rank(self).cmp(&rank(other)) {
                Ordering::Equal => self.compare(other).unwrap_or(Ordering::Equal),
                unequal => unequal,
            },
        }
    }

    /// A key for grouping (`summarize by`, `distinct`, `join`): equal keys group together.
    pub fn group_key(&self) -> GroupKey {
        match self {
            Value::Null => GroupKey::Null,
            Value::Bool(b) => GroupKey::Bool(*b),
            Value::Long(i) => GroupKey::Long(*i),
            Value::Real(f) => {
                if f.fract() == 0.0 && f.abs() < 9.0e15 {
                    GroupKey::Long(*f as i64)
                } else {
                    GroupKey::Real(f.to_bits())
                }
            }
            Value::String(s) => GroupKey::Text(s.clone()),
            Value::DateTime(t) => GroupKey::DateTime(*t),
            Value::TimeSpan(t) => GroupKey::TimeSpan(*t),
            Value::Guid(g) => GroupKey::Text(Arc::from(g.to_ascii_lowercase())),
            Value::Array(_) | Value::Bag(_) => {
                GroupKey::Text(Arc::from(self.to_json().to_string()))
            }
        }
    }
}

impl PartialEq for Value {
    /// Structural equality (null equals null), for tests and deduplication.
    fn eq(&self, other: &Value) -> bool {
        self.group_key() == other.group_key()
            && self.natural_type_rank() == other.natural_type_rank()
    }
}

impl Value {
    fn natural_type_rank(&self) -> u8 {
        match self {
            Value::Array(_) => 1,
            Value::Bag(_) => 2,
            _ => 0,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_kql_string())
    }
}

/// A hashable grouping key derived from a [`Value`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupKey {
    /// Null.
    Null,
    /// A boolean.
    Bool(bool),
    /// A whole number (reals without a fraction too).
    Long(i64),
    /// Other reals, by bit pattern.
    Real(u64),
    /// Strings, guids and dynamic values (as JSON text).
    Text(Arc<str>),
    /// A datetime.
    DateTime(i64),
    /// A timespan.
    TimeSpan(i64),
}

fn from_event_dynamic(value: &crate::event::Value) -> Value {
    use crate::event::Value as E;
    match value {
        E::Null => Value::Null,
        E::Bool(b) => Value::Bool(*b),
        E::Int(i) => Value::Long(*i),
        E::Float(f) => Value::Real(*f),
        E::String(s) => Value::str(s),
        E::List(items) => Value::array(items.iter().map(from_event_dynamic).collect()),
        E::Map(map) => Value::bag(
            map.iter()
                .map(|(k, v)| (k.to_string(), from_event_dynamic(v)))
                .collect(),
        ),
    }
}

/// Prints a real the way Kusto does: integral values without a fraction, others in shortest form.
pub fn format_real(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
    } else {
        f.to_string()
    }
}

/// Ticks since the Unix epoch for a chrono time.
pub fn ticks_from_chrono(time: DateTime<Utc>) -> i64 {
    time.timestamp() * TICKS_PER_SECOND + i64::from(time.timestamp_subsec_nanos() / 100)
}

/// The chrono time for ticks since the Unix epoch.
pub fn chrono_from_ticks(ticks: i64) -> Option<DateTime<Utc>> {
    let seconds = ticks.div_euclid(TICKS_PER_SECOND);
    let nanos = (ticks.rem_euclid(TICKS_PER_SECOND) * 100) as u32;
    Utc.timestamp_opt(seconds, nanos).single()
}

/// Prints a datetime as Kusto does: ISO 8601 UTC, fraction of a second only when non-zero (up to 7 digits).
pub fn format_datetime(ticks: i64) -> String {
    let Some(time) = chrono_from_ticks(ticks) else {
        return String::new();
    };
    let base = time.format("%Y-%m-%dT%H:%M:%S").to_string();
    let fraction = ticks.rem_euclid(TICKS_PER_SECOND);
    if fraction == 0 {
        format!("{base}Z")
    } else {
        let digits = format!("{fraction:07}");
        format!("{base}.{}Z", digits.trim_end_matches('0'))
    }
}

/// Prints a timespan as Kusto does: `[-][d.]hh:mm:ss[.fffffff]`.
pub fn format_timespan(ticks: i64) -> String {
    let sign = if ticks < 0 { "-" } else { "" };
    let ticks = ticks.unsigned_abs();
    let per_day = TICKS_PER_DAY as u64;
    let days = ticks / per_day;
    let rest = ticks % per_day;
    let hours = rest / TICKS_PER_HOUR as u64;
    let minutes = rest % TICKS_PER_HOUR as u64 / TICKS_PER_MINUTE as u64;
    let seconds = rest % TICKS_PER_MINUTE as u64 / TICKS_PER_SECOND as u64;
    let fraction = rest % TICKS_PER_SECOND as u64;
    let mut out = String::from(sign);
    if days > 0 {
        out += &format!("{days}.");
    }
    out += &format!("{hours:02}:{minutes:02}:{seconds:02}");
    if fraction > 0 {
        out += &format!(".{fraction:07}");
    }
    out
}

/// Parses a timespan literal's body: `5d`, `1.5h`, `30m`, `10s`, `100ms`, `10microsecond`, `1tick`, or `[d.]hh:mm[:ss[.f]]`.
pub fn parse_timespan_literal(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Some(t) = parse_timespan_text(text) {
        return Some(t);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = if number.is_empty() {
        1.0
    } else {
        number.parse().ok()?
    };
    let per_unit: f64 = match unit.to_ascii_lowercase().as_str() {
        "d" | "day" | "days" => TICKS_PER_DAY as f64,
        "h" | "hr" | "hrs" | "hour" | "hours" => TICKS_PER_HOUR as f64,
        "m" | "min" | "minute" | "minutes" => TICKS_PER_MINUTE as f64,
        "s" | "sec" | "second" | "seconds" | "" => TICKS_PER_SECOND as f64,
        "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => TICKS_PER_MILLI as f64,
        "microsecond" | "microseconds" => 10.0,
        "tick" | "ticks" => 1.0,
        _ => return None,
    };
    Some((number * per_unit).round() as i64)
}

/// Parses `[-][d.]hh:mm[:ss[.fffffff]]`.
pub fn parse_timespan_text(text: &str) -> Option<i64> {
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if !text.contains(':') {
        return None;
    }
    let (days, clock) = match text.split_once(':') {
        Some((head, _)) if head.contains('.') => {
            let (d, rest) = text.split_once('.')?;
            (d.parse::<i64>().ok()?, rest)
        }
        _ => (0, text),
    };
    let mut parts = clock.split(':');
    let hours: i64 = parts.next()?.parse().ok()?;
    let minutes: i64 = parts.next()?.parse().ok()?;
    let seconds_part = parts.next().unwrap_or("0");
    if parts.next().is_some() {
        return None;
    }
    let (whole, fraction) = seconds_part.split_once('.').unwrap_or((seconds_part, ""));
    let seconds: i64 = whole.parse().ok()?;
    let mut fraction_ticks = 0;
    if !fraction.is_empty() {
        if !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits: String = fraction
            .chars()
            .chain(std::iter::repeat('0'))
            .take(7)
            .collect();
        fraction_ticks = digits.parse::<i64>().ok()?;
    }
    let total = days * TICKS_PER_DAY
        + hours * TICKS_PER_HOUR
        + minutes * TICKS_PER_MINUTE
        + seconds * TICKS_PER_SECOND
        + fraction_ticks;
    Some(if negative { -total } else { total })
}

/// Parses a guid in `8-4-4-4-12` hex form (in braces or parentheses, or not), or as 32 hex
/// digits; returns it as `8-4-4-4-12`, lower-cased.
pub fn parse_guid(text: &str) -> Option<String> {
    let text = text.trim();
    // 32 digits without hyphens (the toguid page's `0123456789ABCDEF0123456789ABCDEF`).
    if text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        let t = text.to_ascii_lowercase();
        return Some(format!(
            "{}-{}-{}-{}-{}",
            &t[..8],
            &t[8..12],
            &t[12..16],
            &t[16..20],
            &t[20..]
        ));
    }
    let text = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .or_else(|| text.strip_prefix('(').and_then(|t| t.strip_suffix(')')))
        .unwrap_or(text);
    let groups: Vec<&str> = text.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    if groups.len() != 5
        || groups
            .iter()
            .zip(lengths)
            .any(|(g, n)| g.len() != n || !g.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return None;
    }
    Some(text.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_print_with_trimmed_fractions() {
        let t = parse_datetime("2024-05-01T10:00:00Z").unwrap();
        assert_eq!(format_datetime(t), "2024-05-01T10:00:00Z");
        let t = parse_datetime("2024-05-01 10:00:00.1234567").unwrap();
        assert_eq!(format_datetime(t), "2024-05-01T10:00:00.1234567Z");
        assert_eq!(
            format_datetime(parse_datetime("2015-12-31").unwrap()),
            "2015-12-31T00:00:00Z"
        );
    }

    #[test]
    fn timespans_parse_units_and_clock_forms() {
        assert_eq!(parse_timespan_literal("7d"), Some(7 * TICKS_PER_DAY));
        assert_eq!(parse_timespan_literal("1.5h"), Some(90 * TICKS_PER_MINUTE));
        assert_eq!(parse_timespan_literal("100ms"), Some(100 * TICKS_PER_MILLI));
        assert_eq!(
            parse_timespan_literal("1.02:03:04.5"),
            Some(
                TICKS_PER_DAY
                    + 2 * TICKS_PER_HOUR
                    + 3 * TICKS_PER_MINUTE
                    + 4 * TICKS_PER_SECOND
                    + 5_000_000
            )
        );
        assert_eq!(
            format_timespan(TICKS_PER_DAY + 90 * TICKS_PER_SECOND),
            "1.00:01:30"
        );
        assert_eq!(format_timespan(-TICKS_PER_HOUR), "-01:00:00");
    }

    #[test]
    fn strings_are_never_null_and_conversions_fail_to_null() {
        assert!(!Value::empty_string().is_null());
        assert!(Value::empty_string().is_empty());
        assert_eq!(Value::str("abc").convert(ScalarType::Long), Value::Null);
        assert_eq!(
            Value::str(" 42 ").convert(ScalarType::Long),
            Value::Long(42)
        );
        assert_eq!(Value::Real(2.9).convert(ScalarType::Long), Value::Long(2));
        assert_eq!(Value::Null.convert(ScalarType::String), Value::str(""));
    }

    #[test]
    fn equality_is_null_aware_and_numeric_across_kinds() {
        assert_eq!(Value::Long(1).kql_eq(&Value::Real(1.0)), Some(true));
        assert_eq!(Value::Null.kql_eq(&Value::Null), None);
        assert_eq!(Value::str("A").kql_eq(&Value::str("a")), Some(false));
    }
}

//! Compiled comparisons: text, glob, regex, CIDR, numeric, time, existence and field references.

use super::{Case, Cmp, Ctx, FieldTable, NumOp, Op, RefMode, RegexCache, Target, TimePart};
use crate::event::Value;
use chrono::{Datelike, NaiveDateTime, Timelike};
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

/// Appends the lowercase of `s` to `out`, character by character.
///
/// Character-wise lowercasing (no final-sigma context rule) keeps `lower(a + b) ==
/// lower(a) + lower(b)`, so substring relations survive folding: the prefilter and the
/// comparisons agree.
pub fn push_lower(out: &mut String, s: &str) {
    if s.is_ascii() {
        let start = out.len();
        out.push_str(s);
        out[start..].make_ascii_lowercase();
    } else {
        for c in s.chars() {
            out.extend(c.to_lowercase());
        }
    }
}

/// The lowercase of `s`, character by character (see [`push_lower`]).
pub fn lower(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_lower(&mut out, s);
    out
}

/// One part of a glob pattern.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum GlobPart {
    /// Literal text.
    Lit(String),
    /// `*`: any run of characters.
    Star,
    /// `?`: exactly one character.
    One,
}

/// A glob: literals, `*` and `?`, already unescaped.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Glob(pub Vec<GlobPart>);

impl Glob {
    fn lowered(&self) -> Glob {
        Glob(
            self.0
                .iter()
                .map(|p| match p {
                    GlobPart::Lit(s) => GlobPart::Lit(lower(s)),
                    other => other.clone(),
                })
                .collect(),
        )
    }

    /// Renders the glob back into Sigma's escaped notation.
    pub fn to_pattern(&self) -> String {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                GlobPart::Star => out.push('*'),
                GlobPart::One => out.push('?'),
                GlobPart::Lit(s) => {
                    for c in s.chars() {
                        if matches!(c, '*' | '?' | '\\') {
                            out.push('\\');
                        }
                        out.push(c);
                    }
                }
            }
        }
        out
    }

    /// True when `text` matches the whole glob.
    pub fn matches(&self, text: &str) -> bool {
        // Split into segments between stars; the first is anchored at the start, the last at
        // the end, the middle ones are found leftmost (which is optimal for globs).
        let segments: Vec<&[GlobPart]> = self.0.split(|p| *p == GlobPart::Star).collect();
        let n = segments.len();
        if n == 1 {
            return match_at(segments[0], text, 0) == Some(text.len());
        }
        let mut pos = match match_at(segments[0], text, 0) {
            Some(end) => end,
            None => return false,
        };
        for segment in &segments[1..n - 1] {
            if segment.is_empty() {
                continue;
            }
            match find_segment(segment, text, pos) {
                Some(end) => pos = end,
                None => return false,
            }
        }
        let last = segments[n - 1];
        if last.is_empty() {
            return true;
        }
        let mut start = pos;
        while start <= text.len() {
            if text.is_char_boundary(start) && match_at(last, text, start) == Some(text.len()) {
                return true;
            }
            start += 1;
        }
        false
    }
}

/// Matches a star-free segment at byte `at`; returns the end offset.
fn match_at(segment: &[GlobPart], text: &str, at: usize) -> Option<usize> {
    let mut pos = at;
    for part in segment {
        match part {
            GlobPart::Lit(s) => {
                if text.get(pos..)?.starts_with(s.as_str()) {
                    pos += s.len();
                } else {
                    return None;
                }
            }
            GlobPart::One => {
                let c = text.get(pos..)?.chars().next()?;
                pos += c.len_utf8();
            }
            GlobPart::Star => return None,
        }
    }
    Some(pos)
}

fn find_segment(segment: &[GlobPart], text: &str, from: usize) -> Option<usize> {
    let mut start = from;
    while start <= text.len() {
        if text.is_char_boundary(start) {
            if let Some(GlobPart::Lit(first)) = segment.first() {
                let found = text[start..].find(first.as_str())?;
                start += found;
            }
            if let Some(end) = match_at(segment, text, start) {
                return Some(end);
            }
        }
        start += 1;
    }
    None
}

/// An IP network: an address and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpNet {
    /// The network address.
    pub addr: IpAddr,
    /// The prefix length in bits.
    pub prefix: u8,
}

impl IpNet {
    /// Parses `10.0.0.0/8`, `2001:db8::/32` or a bare address (a host network).
    pub fn parse(text: &str) -> Result<IpNet, String> {
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text.trim(), None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{text}` is not an IPv4 or IPv6 network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{text}` has an invalid prefix length"))?,
            None => max,
        };
        Ok(IpNet { addr, prefix })
    }

    /// True when `ip` lies inside the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for IpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Which text operator a [`Matcher::Text`] applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextKind {
    /// Whole value.
    Equals,
    /// Anywhere.
    Contains,
    /// Prefix.
    StartsWith,
    /// Suffix.
    EndsWith,
    /// A whole term (KQL `has`).
    TermHas,
}

/// A compiled comparison.
#[derive(Clone, Debug)]
pub enum Matcher {
    /// A text comparison; the needle is lowercase when insensitive.
    Text {
        /// Which text operator.
        kind: TextKind,
        /// The needle.
        needle: String,
        /// Case sensitivity.
        case: Case,
    },
    /// A glob; literals lowercase when insensitive.
    Glob(Glob, Case),
    /// A regex, built once, with a lowercase literal every match contains, when one is known.
    Regex(Arc<regex::Regex>, Option<Arc<str>>),
    /// A network.
    Cidr(IpNet),
    /// A numeric comparison.
    Num(NumOp, f64),
    /// Field presence.
    Exists(bool),
    /// Absent or null.
    Null,
    /// Another field's value.
    FieldRef(usize, RefMode, Case),
    /// A date part.
    Time(TimePart, NumOp, f64),
    /// Never matches.
    Never(String),
}

impl Matcher {
    /// Builds the matcher for `cmp`.
    pub fn build(
        cmp: &Cmp,
        fields: &mut FieldTable,
        regexes: &mut RegexCache,
    ) -> Result<Matcher, String> {
        let text = |kind: TextKind, needle: &str| Matcher::Text {
            kind,
            needle: match cmp.case {
                Case::Insensitive => lower(needle),
                Case::Sensitive => needle.to_string(),
            },
            case: cmp.case,
        };
        let keyword_ok = !matches!(cmp.op, Op::Exists(_) | Op::Null | Op::FieldRef(..));
        if cmp.target == Target::Any && !keyword_ok {
            return Err("a keyword search cannot test existence, null or field references".into());
        }
        Ok(match &cmp.op {
            Op::Equals(s) => text(TextKind::Equals, s),
            Op::Contains(s) => text(TextKind::Contains, s),
            Op::StartsWith(s) => text(TextKind::StartsWith, s),
            Op::EndsWith(s) => text(TextKind::EndsWith, s),
            Op::TermHas(s) => Matcher::Text {
                kind: TextKind::TermHas,
                needle: lower(s),
                case: Case::Insensitive,
            },
            Op::Glob(glob) => match cmp.case {
                Case::Insensitive => Matcher::Glob(glob.lowered(), cmp.case),
                Case::Sensitive => Matcher::Glob(glob.clone(), cmp.case),
            },
            Op::Regex(pattern) => Matcher::Regex(regexes.get(pattern)?, regexes.needle(pattern)),
            Op::Cidr(net) => Matcher::Cidr(*net),
            Op::Num(op, n) => Matcher::Num(*op, *n),
            Op::Exists(b) => Matcher::Exists(*b),
            Op::Null => Matcher::Null,
            Op::FieldRef(other, mode) => Matcher::FieldRef(fields.intern(other), *mode, cmp.case),
            Op::Time(part, op, n) => Matcher::Time(*part, *op, *n),
            Op::Never(reason) => Matcher::Never(reason.clone()),
        })
    }

    /// A lowercase literal that must occur in the field's lowercase text for a match.
    pub fn needle(&self) -> Option<String> {
        let needle = match self {
            Matcher::Text { needle, case, .. } => match case {
                Case::Insensitive => needle.clone(),
                Case::Sensitive => lower(needle),
            },
            Matcher::Glob(glob, _) => glob
                .0
                .iter()
                .filter_map(|p| match p {
                    GlobPart::Lit(s) => Some(lower(s)),
                    _ => None,
                })
                .max_by_key(String::len)?,
            Matcher::Regex(_, needle) => needle.as_deref()?.to_string(),
            _ => return None,
        };
        (!needle.is_empty()).then_some(needle)
    }

    /// Evaluates against the field in `slot` (or every value for keyword search).
    pub fn eval(&self, slot: Option<usize>, ctx: &mut Ctx<'_>) -> bool {
        match self {
            Matcher::Exists(want) => slot.is_some_and(|s| ctx.value(s).is_some() == *want),
            Matcher::Null => slot.is_some_and(|s| ctx.value(s).is_none_or(Value::is_null)),
            Matcher::Never(_) => false,
            Matcher::FieldRef(other, mode, case) => {
                let Some(slot) = slot else { return false };
                let (Some(a), Some(b)) = (ctx.value(slot), ctx.value(*other)) else {
                    return false;
                };
                field_ref(a, b, *mode, *case)
            }
            Matcher::Text {
                case: Case::Insensitive,
                ..
            }
            | Matcher::Glob(_, Case::Insensitive) => match slot {
                Some(slot) => {
                    if let Some(text) = ctx.lower(slot) {
                        // Borrow dance: the scratch lends the text; test against a copy of
                        // the pointer only.
                        let text: &str = text;
                        return self.test_text_lowered(text);
                    }
                    match ctx.value(slot) {
                        Some(Value::List(items)) => {
                            any_text(items.iter(), &mut |t| self.test_text_lowered(&lower(t)))
                        }
                        _ => false,
                    }
                }
                None => any_leaf(ctx.event.fields.values(), &mut |t| {
                    self.test_text_lowered(&lower(t))
                }),
            },
            _ => match slot {
                Some(slot) => match ctx.value(slot) {
                    Some(value) => any_scalar(value, &mut |v| self.test_value(v)),
                    None => false,
                },
                None => any_leaf_value(ctx.event.fields.values(), &mut |v| self.test_value(v)),
            },
        }
    }

    /// True when the comparison reads nothing but its field's own text (so [`Matcher::on_text`]
    /// gives its result for a text value).
    pub fn reads_own_text(&self) -> bool {
        matches!(
            self,
            Matcher::Text { .. } | Matcher::Glob(..) | Matcher::Regex(..) | Matcher::Cidr(_)
        )
    }

    /// The comparison's result on a field whose value is the text `text`, as [`Matcher::eval`]
    /// gives it, for a matcher that [reads its own text](Matcher::reads_own_text) (false for the
    /// others).
    pub fn on_text(&self, text: &str) -> bool {
        match self {
            Matcher::Text {
                case: Case::Insensitive,
                ..
            }
            | Matcher::Glob(_, Case::Insensitive) => self.test_text_lowered(&lower(text)),
            Matcher::Text { kind, needle, .. } => text_op(*kind, text, needle),
            Matcher::Glob(glob, _) => glob.matches(text),
            Matcher::Regex(re, _) => re.is_match(text),
            Matcher::Cidr(net) => text
                .trim()
                .parse::<IpAddr>()
                .is_ok_and(|ip| net.contains(ip)),
            _ => false,
        }
    }

    fn test_text_lowered(&self, text: &str) -> bool {
        match self {
            Matcher::Text { kind, needle, .. } => text_op(*kind, text, needle),
            Matcher::Glob(glob, _) => glob.matches(text),
            _ => false,
        }
    }

    /// Tests one scalar value (text comparisons by its text, numbers, dates).
    fn test_value(&self, value: &Value) -> bool {
        match self {
            _ if self.reads_own_text() => value.to_text().is_some_and(|t| self.on_text(&t)),
            Matcher::Num(op, n) => number(value).is_some_and(|v| op.apply(v, *n)),
            Matcher::Time(part, op, n) => time_part(value, *part).is_some_and(|v| op.apply(v, *n)),
            _ => false,
        }
    }

    /// Evaluates and says why.
    pub fn explain(&self, slot: Option<usize>, ctx: &mut Ctx<'_>) -> (bool, String) {
        let result = self.eval(slot, ctx);
        let name = slot.map(|s| ctx.fields.name(s).to_string());
        let value = slot.and_then(|s| ctx.value(s));
        let reason = match (self, &name, value) {
            (Matcher::Never(reason), _, _) => reason.clone(),
            (Matcher::Exists(_), Some(n), v) => match v {
                Some(_) => format!("field `{n}` present"),
                None => format!("field `{n}` absent"),
            },
            (Matcher::Null, Some(n), v) => match v {
                None => format!("field `{n}` absent"),
                Some(Value::Null) => format!("field `{n}` is null"),
                Some(v) => format!("field `{n}` has value {}", show(v)),
            },
            (_, Some(n), None) => format!("field `{n}` absent"),
            (_, Some(n), Some(Value::Null)) => format!("field `{n}` is null"),
            (Matcher::FieldRef(other, ..), Some(_), Some(v)) => {
                let other_name = ctx.fields.name(*other).to_string();
                match ctx.value(*other) {
                    None => format!("referenced field `{other_name}` absent"),
                    Some(o) => format!(
                        "{} {} `{other_name}` ({})",
                        show(v),
                        if result { "matches" } else { "does not match" },
                        show(o)
                    ),
                }
            }
            (_, Some(_), Some(v)) => self.describe_outcome(v, result),
            (_, None, _) => {
                if result {
                    "a value of the event matches".to_string()
                } else {
                    "no value of the event matches".to_string()
                }
            }
        };
        (result, reason)
    }

    fn describe_outcome(&self, value: &Value, result: bool) -> String {
        let shown = show(value);
        let verb = |yes: &str, no: &str| {
            if result {
                yes.to_string()
            } else {
                no.to_string()
            }
        };
        match self {
            Matcher::Text { kind, needle, case } => {
                let (yes, no) = match kind {
                    TextKind::Equals => ("equals", "does not equal"),
                    TextKind::Contains => ("contains", "does not contain"),
                    TextKind::StartsWith => ("starts with", "does not start with"),
                    TextKind::EndsWith => ("ends with", "does not end with"),
                    TextKind::TermHas => ("has the term", "does not have the term"),
                };
                let mut out = format!("{shown} {} {}", verb(yes, no), quote(needle));
                if *case == Case::Insensitive {
                    out += " (ignoring case)";
                }
                if !result && *case == Case::Sensitive {
                    let folded = Matcher::Text {
                        kind: *kind,
                        needle: lower(needle),
                        case: Case::Insensitive,
                    };
                    if any_scalar(value, &mut |v| folded.test_value(v)) {
                        out += " (case mismatch: it would match ignoring case)";
                    }
                }
                out
            }
            Matcher::Glob(glob, case) => {
                let mut out = format!(
                    "{shown} {} {}",
                    verb("matches", "does not match"),
                    quote(&glob.to_pattern())
                );
                if !result && *case == Case::Sensitive {
                    let folded = Matcher::Glob(glob.lowered(), Case::Insensitive);
                    if any_scalar(value, &mut |v| folded.test_value(v)) {
                        out += " (case mismatch: it would match ignoring case)";
                    }
                }
                out
            }
            Matcher::Regex(re, _) => format!(
                "{shown} {} /{}/",
                verb("matches", "does not match"),
                re.as_str()
            ),
            Matcher::Cidr(net) => format!("{shown} {} {net}", verb("is in", "is not in")),
            Matcher::Num(op, n) => match any_number(value) {
                true => format!("{shown} {} {} {n}", verb("is", "is not"), op.symbol()),
                false => format!("{shown} is not a number"),
            },
            Matcher::Time(part, op, n) => format!(
                "{shown}: {part:?} {} {} {n}",
                verb("is", "is not"),
                op.symbol()
            ),
            _ => shown,
        }
    }
}

fn quote(s: &str) -> String {
    format!("'{s}'")
}

fn show(value: &Value) -> String {
    match value {
        Value::String(s) => {
            let mut text: String = s.chars().take(200).collect();
            if text.len() < s.len() {
                text.push('…');
            }
            format!("'{text}'")
        }
        other => other.to_json().to_string(),
    }
}

fn text_op(kind: TextKind, text: &str, needle: &str) -> bool {
    match kind {
        TextKind::Equals => text == needle,
        TextKind::Contains => text.contains(needle),
        TextKind::StartsWith => text.starts_with(needle),
        TextKind::EndsWith => text.ends_with(needle),
        TextKind::TermHas => term_has(text, needle),
    }
}

/// KQL `has`: `needle` occurs bounded by non-alphanumeric characters (or the ends).
fn term_has(text: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let mut from = 0;
    while let Some(found) = text[from..].find(needle) {
        let start = from + found;
        let end = start + needle.len();
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        if !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric) {
            return true;
        }
        from = start + text[start..].chars().next().map_or(1, char::len_utf8);
    }
    false
}

fn field_ref(a: &Value, b: &Value, mode: RefMode, case: Case) -> bool {
    let (Some(a), Some(b)) = (a.to_text(), b.to_text()) else {
        return false;
    };
    let (a, b): (Cow<str>, Cow<str>) = match case {
        Case::Sensitive => (a, b),
        Case::Insensitive => (Cow::Owned(lower(&a)), Cow::Owned(lower(&b))),
    };
    match mode {
        RefMode::Equals => a == b,
        RefMode::Contains => a.contains(b.as_ref()),
        RefMode::StartsWith => a.starts_with(b.as_ref()),
        RefMode::EndsWith => a.ends_with(b.as_ref()),
    }
}

/// Any scalar (the value itself, or an element of a list) satisfies `f`.
fn any_scalar(value: &Value, f: &mut dyn FnMut(&Value) -> bool) -> bool {
    match value {
        Value::List(items) => items.iter().any(|v| any_scalar(v, f)),
        Value::Map(_) | Value::Null => false,
        scalar => f(scalar),
    }
}

fn any_text<'v>(items: impl Iterator<Item = &'v Value>, f: &mut dyn FnMut(&str) -> bool) -> bool {
    for item in items {
        let hit = match item {
            Value::List(inner) => any_text(inner.iter(), f),
            Value::Map(_) | Value::Null => false,
            scalar => scalar.to_text().is_some_and(|t| f(&t)),
        };
        if hit {
            return true;
        }
    }
    false
}

/// Any leaf value anywhere in the event (through lists and maps) satisfies `f`.
fn any_leaf_value<'v>(
    items: impl Iterator<Item = &'v Value>,
    f: &mut dyn FnMut(&Value) -> bool,
) -> bool {
    for item in items {
        let hit = match item {
            Value::List(inner) => any_leaf_value(inner.iter(), f),
            Value::Map(map) => any_leaf_value(map.values(), f),
            Value::Null => false,
            scalar => f(scalar),
        };
        if hit {
            return true;
        }
    }
    false
}

fn any_leaf<'v>(items: impl Iterator<Item = &'v Value>, f: &mut dyn FnMut(&str) -> bool) -> bool {
    any_leaf_value(items, &mut |v| v.to_text().is_some_and(|t| f(&t)))
}

/// The value read as a number: integers, floats, decimal or `0x` hexadecimal text.
pub fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        Value::String(s) => {
            let s = s.trim();
            if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                return i64::from_str_radix(hex, 16).ok().map(|i| i as f64);
            }
            s.parse::<f64>().ok().filter(|f| f.is_finite())
        }
        _ => None,
    }
}

fn any_number(value: &Value) -> bool {
    any_scalar(value, &mut |v| number(v).is_some())
}

/// Parses the usual log timestamp spellings.
pub fn parse_time(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.naive_utc());
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t);
        }
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

fn time_part(value: &Value, part: TimePart) -> Option<f64> {
    let t = parse_time(&value.to_text()?)?;
    Some(f64::from(match part {
        TimePart::Minute => t.minute(),
        TimePart::Hour => t.hour(),
        TimePart::Day => t.day(),
        TimePart::Week => t.iso_week().week(),
        TimePart::Month => t.month(),
        TimePart::Year => u32::try_from(t.year()).unwrap_or(0),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(pattern: &[GlobPart]) -> Glob {
        Glob(pattern.to_vec())
    }

    #[test]
    fn globs_anchor_both_ends_and_find_middles_leftmost() {
        use GlobPart::*;
        let g = glob(&[Lit("a".into()), Star, Lit("b".into()), One, Lit("c".into())]);
        assert!(g.matches("axxbyc"));
        assert!(g.matches("abbyc"));
        assert!(!g.matches("axxbc"));
        assert!(glob(&[Star, Lit("é".into()), One]).matches("xéü"));
        assert!(glob(&[Star]).matches(""));
        assert!(!glob(&[Lit("ab".into())]).matches("abc"));
        let g = glob(&[Star, Lit("ab".into()), Star, Lit("ab".into())]);
        assert!(g.matches("xabab"));
        assert!(!g.matches("xab"));
    }

    #[test]
    fn cidr_handles_v4_and_v6_by_bits_not_text() {
        let v4 = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(v4.contains("10.200.1.1".parse().unwrap()));
        assert!(!v4.contains("11.0.0.1".parse().unwrap()));
        let v6 = IpNet::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:0db8:ffff::1".parse().unwrap()));
        assert!(!v6.contains("2001:db9::1".parse().unwrap()));
        let zero = IpNet::parse("0.0.0.0/0").unwrap();
        assert!(zero.contains("1.2.3.4".parse().unwrap()));
        assert!(IpNet::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn lowering_is_character_wise_so_substrings_survive() {
        assert_eq!(lower("ΟΔΟΣ"), "οδοσ");
        assert!(lower("ΑΣΒ").contains(&lower("Σ")));
    }

    #[test]
    fn term_has_needs_boundaries() {
        assert!(term_has("cmd.exe /c whoami", "whoami"));
        assert!(!term_has("notwhoami", "whoami"));
        assert!(term_has("a-b", "b"));
    }
}

//! Lowering: a rule's detection, through one pipeline, into the shared predicate IR [`Expr`].
//!
//! Modifier semantics live here. Transformation modifiers (`contains`, `startswith`,
//! `endswith`, `windash`, `base64`, `base64offset`, `utf16*`, `wide`) apply in the order
//! written; one type modifier (`re`, `cidr`, `exists`, `fieldref`, `gt`…, a date part) decides
//! the comparison; `all`, `cased`, `neq` and `expand` adjust it. Invalid combinations are
//! `SIG0021`, invalid values `SIG0022`, unresolved placeholders `SIG0025` (a warning: the
//! comparison then never matches and says so in traces).
//!
//! A pipeline standing for a query backend's may do more than rename an item's field
//! (`lower_item`): drop the item (a selection or condition operand left with nothing then leaves
//! its `and` / `or`: `Piece`), rewrite it into others on the value as pySigma writes it back
//! (`plain`), read it from either of two fields, write `exists` and values with a wildcard inside
//! as the backend does (`kusto_glob`), or refuse a field its table has no column for or a
//! modifier the backend cannot write (`SIG0070`: the rule cannot run on those rows).

use super::condition::{Cond, CondNode, Pattern, pattern_matches};
use super::modifier::{self, Modifier, Part};
use super::pipeline::{ItemTransform, Pipeline};
use super::rule::{Detection, FieldItem, Rule, RuleValue, Selection};
use crate::diag::{Diagnostic, Span};
use crate::expr::{
    Case, Expr, FieldTable, Glob, GlobPart, IpNet, Matcher, NumOp, Op, RefMode, RegexCache, Target,
    TimePart,
};
use indexmap::IndexMap;

/// Engine configuration that affects lowering.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Placeholder name (without `%`) → values, for `|expand`.
    pub placeholders: IndexMap<String, Vec<String>>,
}

/// Lowers a detection (selections and conditions) into one expression.
pub fn lower_detection(
    rule: &Rule,
    detection: &Detection,
    pipeline: &Pipeline,
    config: &Config,
    regexes: &mut RegexCache,
    diags: &mut Vec<Diagnostic>,
) -> Option<Expr> {
    let mut selections: IndexMap<&str, Piece> = IndexMap::new();
    let mut ok = true;
    for (name, selection) in &detection.selections {
        match lower_selection(rule, name, selection, pipeline, config, regexes, diags) {
            Some(Piece::Expr(expr)) => {
                let label = format!("selection `{name}`");
                selections.insert(name, Piece::Expr(Expr::Group(label, Box::new(expr))));
            }
            Some(Piece::Dropped) => {
                selections.insert(name, Piece::Dropped);
            }
            None => ok = false,
        }
    }
    if !ok {
        return None;
    }
    let mut conditions = Vec::with_capacity(detection.conditions.len());
    for (node, text) in detection.conditions.iter().zip(&detection.condition_texts) {
        let (span, reason) = match lower_condition(node, &selections) {
            Ok(Piece::Expr(expr)) => {
                conditions.push(Expr::Group(format!("condition `{text}`"), Box::new(expr)));
                continue;
            }
            Ok(Piece::Dropped) => (
                node.span,
                format!("condition `{text}` reads only items the pipeline drops"),
            ),
            Err(span) => (
                span,
                "this `not` applies to items the pipeline drops, and nothing else".to_string(),
            ),
        };
        let dropped = dropped_keys(detection, pipeline);
        diags.push(unconvertible(
            rule,
            pipeline,
            span,
            &format!("{reason} ({dropped})"),
        ));
        return None;
    }
    Some(if conditions.len() == 1 {
        conditions.into_iter().next().unwrap_or(Expr::Const(false))
    } else {
        Expr::Or(conditions)
    })
}

/// A selection or condition lowered through a pipeline that may drop items.
enum Piece {
    /// Its expression.
    Expr(Expr),
    /// Nothing: the pipeline drops every item in it. pySigma leaves such a part out of the
    /// `and` or `or` it is in, as if it had never been written (so `dropped or x` is `x`, not
    /// true); a `not` of it, or a condition of nothing else, cannot be converted (`SIG0070`).
    Dropped,
}

/// True when `pipeline` drops `item` (pySigma's `drop_detection_item`).
fn drops(pipeline: &Pipeline, item: &FieldItem) -> bool {
    item.field
        .as_deref()
        .is_some_and(|field| pipeline.drop.iter().any(|dropped| dropped == field))
}

/// The keys of the detection's items `pipeline` drops, for a refusal's message.
fn dropped_keys(detection: &Detection, pipeline: &Pipeline) -> String {
    fn walk<'a>(selection: &'a Selection, pipeline: &Pipeline, out: &mut Vec<&'a str>) {
        match selection {
            Selection::Map(items) => out.extend(
                items
                    .iter()
                    .filter(|item| drops(pipeline, item))
                    .map(|item| item.key.as_str()),
            ),
            Selection::AnyOf(alternatives) => {
                for alternative in alternatives {
                    walk(alternative, pipeline, out);
                }
            }
            Selection::Keywords(_) => {}
        }
    }
    let mut keys = Vec::new();
    for selection in detection.selections.values() {
        walk(selection, pipeline, &mut keys);
    }
    keys.sort_unstable();
    keys.dedup();
    let keys: Vec<String> = keys.iter().map(|key| format!("`{key}`")).collect();
    format!("dropped: {}", keys.join(", "))
}

/// Lowers one condition; `Err` is the span of a `not` of nothing but dropped items.
fn lower_condition(node: &CondNode, selections: &IndexMap<&str, Piece>) -> Result<Piece, Span> {
    // The selections a pattern names, those the pipeline dropped left out, and whether any was.
    let quantified = |pattern: &Pattern| -> (Vec<Expr>, bool) {
        let mut kept = Vec::new();
        let mut dropped = false;
        let named = selections.iter().filter(|(name, _)| match pattern {
            Pattern::Them => !name.starts_with('_'),
            Pattern::Glob(p) => pattern_matches(p, name),
        });
        for (_, lowered) in named {
            match lowered {
                Piece::Expr(expr) => kept.push(expr.clone()),
                Piece::Dropped => dropped = true,
            }
        }
        (kept, dropped)
    };
    let show = |pattern: &Pattern| match pattern {
        Pattern::Them => "them".to_string(),
        Pattern::Glob(p) => p.clone(),
    };
    let of = |pattern: &Pattern, all: bool| {
        let (kept, dropped) = quantified(pattern);
        if kept.is_empty() && dropped {
            return Piece::Dropped;
        }
        let (word, expr) = if all {
            ("all", Expr::And(kept))
        } else {
            ("1", Expr::Or(kept))
        };
        Piece::Expr(Expr::Group(
            format!("{word} of {}", show(pattern)),
            Box::new(expr),
        ))
    };
    // A chain's operands, the dropped ones left out (and the chain dropped when all were).
    let chain = |and: bool, items: &[CondNode]| -> Result<Piece, Span> {
        let mut kept = Vec::with_capacity(items.len());
        for item in items {
            if let Piece::Expr(expr) = lower_condition(item, selections)? {
                kept.push(expr);
            }
        }
        Ok(match kept.len() {
            0 => Piece::Dropped,
            1 => Piece::Expr(kept.remove(0)),
            _ => Piece::Expr(flatten(and, kept)),
        })
    };
    Ok(match &node.cond {
        Cond::Ident(name) => match selections.get(name.as_str()) {
            Some(Piece::Expr(expr)) => Piece::Expr(expr.clone()),
            Some(Piece::Dropped) => Piece::Dropped,
            None => Piece::Expr(Expr::Const(false)),
        },
        Cond::OneOf(p) => of(p, false),
        Cond::AllOf(p) => of(p, true),
        Cond::And(items) => chain(true, items)?,
        Cond::Or(items) => chain(false, items)?,
        Cond::Not(a) => match lower_condition(a, selections)? {
            Piece::Expr(expr) => Piece::Expr(Expr::Not(Box::new(expr))),
            Piece::Dropped => return Err(node.span),
        },
    })
}

fn flatten(and: bool, operands: Vec<Expr>) -> Expr {
    let mut items = Vec::with_capacity(operands.len());
    for e in operands {
        match (and, e) {
            (true, Expr::And(inner)) | (false, Expr::Or(inner)) => items.extend(inner),
            (_, e) => items.push(e),
        }
    }
    if and {
        Expr::And(items)
    } else {
        Expr::Or(items)
    }
}

fn lower_selection(
    rule: &Rule,
    name: &str,
    selection: &Selection,
    pipeline: &Pipeline,
    config: &Config,
    regexes: &mut RegexCache,
    diags: &mut Vec<Diagnostic>,
) -> Option<Piece> {
    match selection {
        Selection::Map(items) => {
            let mut out = Vec::new();
            let mut kept = 0;
            let mut ok = true;
            for item in items {
                if drops(pipeline, item) {
                    // Shown in traces; `true` changes nothing in the selection's `and`.
                    out.push(Expr::Group(
                        format!("`{}` dropped by pipeline {}", item.key, pipeline.name),
                        Box::new(Expr::Const(true)),
                    ));
                    continue;
                }
                kept += 1;
                match lower_item(rule, name, item, pipeline, config, regexes, diags) {
                    Some(e) => out.push(e),
                    None => ok = false,
                }
            }
            if !ok {
                return None;
            }
            if kept == 0 && !out.is_empty() {
                return Some(Piece::Dropped);
            }
            Some(Piece::Expr(if out.len() == 1 {
                out.pop().unwrap_or(Expr::Const(true))
            } else {
                Expr::And(out)
            }))
        }
        Selection::AnyOf(alternatives) => {
            let mut out = Vec::new();
            let mut dropped = false;
            let mut ok = true;
            for alt in alternatives {
                match lower_selection(rule, name, alt, pipeline, config, regexes, diags) {
                    Some(Piece::Expr(e)) => out.push(e),
                    Some(Piece::Dropped) => dropped = true,
                    None => ok = false,
                }
            }
            ok.then_some(if out.is_empty() && dropped {
                Piece::Dropped
            } else {
                Piece::Expr(Expr::Or(out))
            })
        }
        Selection::Keywords(item) => {
            lower_item(rule, name, item, pipeline, config, regexes, diags).map(Piece::Expr)
        }
    }
}

#[derive(Clone, Copy)]
struct ItemCx<'a> {
    rule: &'a Rule,
    selection: &'a str,
    item: &'a FieldItem,
    /// The value being lowered, when a diagnostic is about one value rather than the key.
    value: Option<usize>,
}

impl ItemCx<'_> {
    fn error(&self, code: &str, message: String) -> Diagnostic {
        let field = self.item.field.as_deref().unwrap_or("<keywords>");
        self.rule.diag(
            Diagnostic::error(
                code,
                format!(
                    "{message} (field `{field}` in selection `{}`)",
                    self.selection
                ),
            )
            .with_note(format!("rule {}", self.rule.label())),
            self.span(),
        )
    }

    /// `SIG0070`: `pipeline` cannot convert the rule, for `reason`.
    fn unconvertible(&self, pipeline: &Pipeline, reason: String) -> Diagnostic {
        let (message, help) = refusal(pipeline, &reason);
        self.error("SIG0070", message).with_help(help)
    }

    /// Where a diagnostic points: the value being lowered, else the key.
    fn span(&self) -> Span {
        self.value
            .map_or(self.item.span, |index| self.item.value_span(index))
    }

    /// The context for value `index` of the item.
    fn at_value(self, index: usize) -> Self {
        ItemCx {
            value: Some(index),
            ..self
        }
    }
}

/// `SIG0070`'s message and help: `pipeline` cannot convert the rule, for `reason`.
fn refusal(pipeline: &Pipeline, reason: &str) -> (String, String) {
    let table = pipeline.columns_of.as_deref().unwrap_or("its events");
    (
        format!(
            "pipeline {} cannot convert the rule for {table}: {reason}",
            pipeline.name
        ),
        format!(
            "the query backend's pipeline refuses the rule the same way; the rule cannot run on {table} rows"
        ),
    )
}

/// `SIG0070` about the rule at `span` (a condition, the log source).
pub(super) fn unconvertible(
    rule: &Rule,
    pipeline: &Pipeline,
    span: Span,
    reason: &str,
) -> Diagnostic {
    let (message, help) = refusal(pipeline, reason);
    rule.diag(
        Diagnostic::error("SIG0070", message)
            .with_note(format!("rule {}", rule.label()))
            .with_help(help),
        span,
    )
}

/// Lowers one detection item the pipeline keeps (dropped ones are [`lower_selection`]'s): first
/// what the pipeline does to items beyond renaming their field (refuses modifiers its backend
/// cannot write, rewrites items into others, refuses fields without a column), then the
/// comparison ([`lower_field_item`]).
fn lower_item(
    rule: &Rule,
    selection: &str,
    item: &FieldItem,
    pipeline: &Pipeline,
    config: &Config,
    regexes: &mut RegexCache,
    diags: &mut Vec<Diagnostic>,
) -> Option<Expr> {
    let cx = ItemCx {
        rule,
        selection,
        item,
        value: None,
    };
    let unsupported = item.modifiers.iter().find(|modifier| {
        pipeline
            .unsupported_modifiers
            .iter()
            .any(|name| name == modifier.name())
    });
    if let Some(modifier) = unsupported {
        let reason = format!("the query backend cannot write `|{}`", modifier.name());
        diags.push(cx.unconvertible(pipeline, reason));
        return None;
    }
    let Some(sigma) = item.field.as_deref() else {
        if pipeline.refuses_keywords {
            let reason = "the query backend writes a keyword as a bare string (`where \"…\"`), \
                          a query Kusto rejects";
            let (message, _) = refusal(pipeline, reason);
            let table = pipeline.columns_of.as_deref().unwrap_or("its events");
            diags.push(cx.error("SIG0070", message).with_help(format!(
                "the backend converts the rule, but the query does not run: the rule cannot run on {table} rows; search a field (`CommandLine|contains`) instead"
            )));
            return None;
        }
        return lower_field_item(cx, None, pipeline, config, regexes, diags);
    };
    let field = pipeline.field(sigma);
    if let Some(transform) = pipeline.items.get(field.as_ref()) {
        let lowered = lower_rewritten(&cx, transform, &field, pipeline, config, regexes, diags)?;
        return Some(Expr::Group(
            format!("`{}` rewritten by pipeline {}", item.key, pipeline.name),
            Box::new(lowered),
        ));
    }
    let targets = pipeline.any_of.get(sigma);
    let read = targets.map_or_else(
        || vec![field.as_ref()],
        |t| t.iter().map(String::as_str).collect(),
    );
    if let Some(column) = read.iter().find(|column| !pipeline.accepts(column)) {
        diags.push(cx.unconvertible(pipeline, format!("`{column}` is not a column")));
        return None;
    }
    if let Some(targets) = targets {
        let mut alternatives = Vec::new();
        for target in targets {
            alternatives.push(lower_field_item(
                cx,
                Some(target),
                pipeline,
                config,
                regexes,
                diags,
            )?);
        }
        return Some(Expr::Or(alternatives));
    }
    lower_field_item(cx, None, pipeline, config, regexes, diags)
}

/// A value as pySigma writes it back once parsed with its modifiers (`SigmaString.to_plain`):
/// the wildcards `contains`, `startswith` and `endswith` add, literal `*` and `?` escaped, every
/// other character as it is (a backslash that escaped nothing stays one).
fn plain(raw: &str, modifiers: &[Modifier]) -> String {
    let mut parts = modifier::parse_sigma_string(raw);
    let has = |m: Modifier| modifiers.contains(&m);
    if (has(Modifier::Contains) || has(Modifier::EndsWith)) && parts.first() != Some(&Part::Star) {
        parts.insert(0, Part::Star);
    }
    if (has(Modifier::Contains) || has(Modifier::StartsWith)) && parts.last() != Some(&Part::Star) {
        parts.push(Part::Star);
    }
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Star => out.push('*'),
            Part::One => out.push('?'),
            Part::Lit(bytes) => {
                for c in String::from_utf8_lossy(&bytes).chars() {
                    if c == '*' || c == '?' {
                        out.push('\\');
                    }
                    out.push(c);
                }
            }
        }
    }
    out
}

/// The digest algorithm a bare hash value's length tells, as pySigma-backend-kusto guesses it
/// (`SHA512` has no column in Defender's tables: such a rule cannot be converted).
fn algorithm_by_length(digest: &str) -> &'static str {
    match digest.chars().count() {
        32 => "MD5",
        40 => "SHA1",
        64 => "SHA256",
        128 => "SHA512",
        _ => "",
    }
}

/// Lowers an item `transform` rewrites (see [`ItemTransform`]); `field` is its field after
/// mapping.
fn lower_rewritten(
    cx: &ItemCx<'_>,
    transform: &ItemTransform,
    field: &str,
    pipeline: &Pipeline,
    config: &Config,
    regexes: &mut RegexCache,
    diags: &mut Vec<Diagnostic>,
) -> Option<Expr> {
    let item = cx.item;
    let text_modifier = |m: &Modifier| {
        matches!(
            m,
            Modifier::Contains
                | Modifier::StartsWith
                | Modifier::EndsWith
                | Modifier::All
                | Modifier::Cased
        )
    };
    if let Some(other) = item.modifiers.iter().find(|m| !text_modifier(m)) {
        diags.push(cx.unconvertible(
            pipeline,
            format!(
                "its rewriting of `{field}` takes text values, not the `{}` modifier",
                other.name()
            ),
        ));
        return None;
    }
    let mut plains = Vec::new();
    for (index, value) in item.values.iter().enumerate() {
        let RuleValue::Str(raw) = value else {
            diags.push(cx.at_value(index).unconvertible(
                pipeline,
                format!("its rewriting of `{field}` takes text values"),
            ));
            return None;
        };
        plains.push((index, plain(raw, &item.modifiers)));
    }
    // One new item: `name` equal to `raw` (a Sigma string: its wildcards hold), no modifiers.
    let mut equal = |name: &str, index: usize, raw: &str, modifiers: Vec<Modifier>| {
        let item = FieldItem {
            field: Some(name.to_string()),
            modifiers,
            values: vec![RuleValue::Str(raw.to_string())],
            key: item.key.clone(),
            span: item.span,
            value_spans: vec![item.value_span(index)],
        };
        let cx = ItemCx {
            item: &item,
            value: None,
            ..*cx
        };
        lower_field_item(cx, Some(name), pipeline, config, regexes, diags)
    };
    // Each value becomes its own alternative: `all` does not survive the rewriting.
    let mut alternatives = Vec::new();
    match transform {
        ItemTransform::SplitDomainUser { domain } => {
            for (index, plain) in plains {
                match plain.split('\\').collect::<Vec<_>>()[..] {
                    [in_domain, user] => alternatives.push(Expr::And(vec![
                        equal(field, index, user, Vec::new())?,
                        equal(domain, index, in_domain, Vec::new())?,
                    ])),
                    // Not `DOMAIN\user`: the value (or, with two backslashes or more, each part
                    // of it, as the backend does) under the mapped name, with its modifiers.
                    ref parts => {
                        let modifiers: Vec<Modifier> = item
                            .modifiers
                            .iter()
                            .copied()
                            .filter(|m| *m != Modifier::All)
                            .collect();
                        for part in parts {
                            alternatives.push(equal(field, index, part, modifiers.clone())?);
                        }
                    }
                }
            }
        }
        ItemTransform::Hashes { algorithms, prefix } => {
            let mut by_algorithm: IndexMap<String, Vec<(usize, String)>> = IndexMap::new();
            for (index, plain) in plains {
                let mut parts: Vec<&str> = plain.split('|').collect();
                if parts.len() == 1 {
                    parts = plain.split('=').collect();
                }
                let (algorithm, digest) = match parts[..] {
                    [named, digest] => {
                        let named = named.trim_start_matches('*').to_ascii_uppercase();
                        let known = algorithms.contains(&named);
                        (if known { named } else { String::new() }, digest)
                    }
                    _ => (algorithm_by_length(parts[0]).to_string(), parts[0]),
                };
                by_algorithm
                    .entry(algorithm)
                    .or_default()
                    .push((index, digest.to_string()));
            }
            by_algorithm.shift_remove("");
            if by_algorithm.is_empty() {
                diags.push(cx.unconvertible(
                    pipeline,
                    format!(
                        "no value of `{}` names one of the hash algorithms {}",
                        item.key,
                        algorithms.join(", ")
                    ),
                ));
                return None;
            }
            for (algorithm, digests) in by_algorithm {
                let column = format!("{prefix}{algorithm}");
                if !pipeline.accepts(&column) {
                    diags.push(cx.unconvertible(pipeline, format!("`{column}` is not a column")));
                    return None;
                }
                for (index, digest) in digests {
                    alternatives.push(equal(&column, index, &digest, Vec::new())?);
                }
            }
        }
    }
    Some(if alternatives.len() == 1 {
        alternatives.pop().unwrap_or(Expr::Const(false))
    } else {
        Expr::Or(alternatives)
    })
}

/// Lowers the comparison of the detection item `cx` is about, its field renamed by the pipeline
/// (or read as `mapped`, when given) and its values converted by it.
fn lower_field_item(
    cx: ItemCx<'_>,
    mapped: Option<&str>,
    pipeline: &Pipeline,
    config: &Config,
    regexes: &mut RegexCache,
    diags: &mut Vec<Diagnostic>,
) -> Option<Expr> {
    let ItemCx {
        rule,
        selection,
        item,
        ..
    } = cx;
    let mods = &item.modifiers;
    let has = |m: Modifier| mods.contains(&m);
    let target = match (&item.field, mapped) {
        (Some(_), Some(mapped)) => Target::Field(mapped.to_string()),
        (Some(f), None) => Target::Field(pipeline.field(f).into_owned()),
        (None, _) => Target::Any,
    };
    let case = if has(Modifier::Cased) {
        Case::Sensitive
    } else {
        Case::Insensitive
    };
    // The type modifier (at most one kind).
    let kinds: Vec<&str> = mods
        .iter()
        .filter_map(|m| match m {
            Modifier::Re => Some("re"),
            Modifier::Cidr => Some("cidr"),
            Modifier::Exists => Some("exists"),
            Modifier::FieldRef => Some("fieldref"),
            m if m.is_numeric() => Some("numeric"),
            m if m.is_time() => Some("time"),
            _ => None,
        })
        .collect();
    let mut distinct = kinds.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let time_and_numeric = distinct == ["numeric", "time"];
    if distinct.len() > 1 && !time_and_numeric
        || kinds.iter().filter(|k| **k == "numeric").count() > 1
    {
        diags.push(cx.error(
            "SIG0021",
            format!(
                "conflicting modifiers `{}`",
                mods.iter().map(|m| m.name()).collect::<Vec<_>>().join("|")
            ),
        ));
        return None;
    }
    if mods.iter().any(|m| m.is_re_flag()) && !has(Modifier::Re) {
        diags.push(cx.error(
            "SIG0021",
            "regex flags `i`, `m`, `s` need the `re` modifier".into(),
        ));
        return None;
    }
    let kind = distinct.last().copied();
    let transforms = mods.iter().any(|m| {
        matches!(
            m,
            Modifier::Contains | Modifier::StartsWith | Modifier::EndsWith | Modifier::Windash
        ) || m.is_encoding()
    });
    if kind.is_some_and(|k| k != "fieldref") && transforms {
        diags.push(cx.error(
            "SIG0021",
            format!(
                "`{}` cannot be combined with string transformations",
                kind.unwrap_or("")
            ),
        ));
        return None;
    }
    if item.field.is_none() && matches!(kind, Some("exists" | "fieldref")) {
        diags.push(cx.error(
            "SIG0021",
            "keyword lists cannot use `exists` or `fieldref`".into(),
        ));
        return None;
    }
    if has(Modifier::All) && item.values.len() == 1 {
        diags.push(
            rule.diag(
                Diagnostic::warning(
                    "SIG0024",
                    format!(
                        "`all` on a single value (field `{}` in selection `{selection}`)",
                        item.field.as_deref().unwrap_or("<keywords>")
                    ),
                ),
                item.span,
            )
            .with_help("the modifiers appendix does not allow `all` with one value; drop it"),
        );
    }
    let sigma_field = item.field.as_deref().unwrap_or("");
    let values: Vec<RuleValue> = item
        .values
        .iter()
        .map(|v| pipeline.value(sigma_field, v))
        .collect();
    let cmp = |op: Op| Expr::cmp(target.clone(), op, case);
    // Text comparisons are lowered first: pySigma-backend-kusto writes a value with a wildcard
    // inside one way alone and another in a list (`kusto_glob`), and how many the item's values
    // come to, modifiers applied, decides which.
    // Exactly the values the last arm of the match below lowers.
    let text = !matches!(
        kind,
        Some("exists" | "numeric" | "time" | "cidr" | "re" | "fieldref")
    );
    let mut strings = if text {
        values
            .iter()
            .enumerate()
            .map(|(index, value)| lower_string(&cx.at_value(index), value, mods, config, diags))
            .collect::<Option<Vec<Lowered>>>()?
    } else {
        Vec::new()
    };
    let alternatives: usize = strings
        .iter()
        .map(|lowered| match lowered {
            Lowered::Alternatives(ops) => ops.len(),
            _ => 1,
        })
        .sum();
    let in_list = pipeline.kusto_wildcards && alternatives > 1;
    let string_cmp = |op: Op| match op {
        Op::Glob(glob) if pipeline.kusto_wildcards && item.field.is_some() => {
            kusto_glob(&glob, in_list, &target, case)
        }
        op => cmp(op),
    };
    let mut per_value: Vec<Expr> = Vec::new();
    for (index, value) in values.iter().enumerate() {
        let value_cx = cx.at_value(index);
        let cx = &value_cx;
        let expr = match kind {
            Some("exists") => {
                let b = match value {
                    RuleValue::Bool(b) => *b,
                    RuleValue::Str(s) if s.eq_ignore_ascii_case("true") => true,
                    RuleValue::Str(s) if s.eq_ignore_ascii_case("false") => false,
                    _ => {
                        diags.push(cx.error("SIG0022", "`exists` needs `true` or `false`".into()));
                        return None;
                    }
                };
                if pipeline.exists_as_not_empty {
                    // `isnotempty(field)` / `isempty(field)`: an empty value does not exist.
                    let empty = Expr::Or(vec![cmp(Op::Null), cmp(Op::Equals(String::new()))]);
                    let (written, expr) = if b {
                        ("isnotempty", Expr::Not(Box::new(empty)))
                    } else {
                        ("isempty", empty)
                    };
                    Expr::Group(
                        format!(
                            "`exists: {b}` as pipeline {} writes it: {written}",
                            pipeline.name
                        ),
                        Box::new(expr),
                    )
                } else {
                    cmp(Op::Exists(b))
                }
            }
            Some("numeric" | "time") => {
                let Some(n) = numeric(value) else {
                    diags.push(cx.error(
                        "SIG0022",
                        format!("numeric comparison needs a number, not {}", show(value)),
                    ));
                    return None;
                };
                let op = mods
                    .iter()
                    .find_map(|m| match m {
                        Modifier::Lt => Some(NumOp::Lt),
                        Modifier::Lte => Some(NumOp::Lte),
                        Modifier::Gt => Some(NumOp::Gt),
                        Modifier::Gte => Some(NumOp::Gte),
                        _ => None,
                    })
                    .unwrap_or(NumOp::Eq);
                match mods.iter().find(|m| m.is_time()) {
                    Some(part) => cmp(Op::Time(time_part(*part), op, n)),
                    None => cmp(Op::Num(op, n)),
                }
            }
            Some("cidr") => {
                let text = value.text().unwrap_or_default();
                match IpNet::parse(&text) {
                    Ok(net) => cmp(Op::Cidr(net)),
                    Err(e) => {
                        diags.push(cx.error("SIG0022", e));
                        return None;
                    }
                }
            }
            Some("re") => {
                let Some(text) = value.text() else {
                    diags.push(cx.error("SIG0022", "`re` needs a string".into()));
                    return None;
                };
                let mut flags = String::new();
                for (m, f) in [
                    (Modifier::ReIgnoreCase, 'i'),
                    (Modifier::ReMultiLine, 'm'),
                    (Modifier::ReDotAll, 's'),
                ] {
                    if has(m) {
                        flags.push(f);
                    }
                }
                let pattern = if flags.is_empty() {
                    text
                } else {
                    format!("(?{flags}){text}")
                };
                if let Err(e) = regexes.get(&pattern) {
                    diags.push(cx.error("SIG0022", e));
                    return None;
                }
                Expr::cmp(target.clone(), Op::Regex(pattern), Case::Sensitive)
            }
            Some("fieldref") => {
                let Some(other) = value.text() else {
                    diags.push(cx.error("SIG0022", "`fieldref` needs a field name".into()));
                    return None;
                };
                let mode = if has(Modifier::Contains) {
                    RefMode::Contains
                } else if has(Modifier::StartsWith) {
                    RefMode::StartsWith
                } else if has(Modifier::EndsWith) {
                    RefMode::EndsWith
                } else {
                    RefMode::Equals
                };
                if mods
                    .iter()
                    .any(|m| m.is_encoding() || *m == Modifier::Windash)
                {
                    // About the modifiers: point at the key.
                    let key_cx = ItemCx { value: None, ..*cx };
                    diags.push(key_cx.error(
                        "SIG0021",
                        "`fieldref` cannot be combined with encodings or `windash`".into(),
                    ));
                    return None;
                }
                cmp(Op::FieldRef(pipeline.field(&other).into_owned(), mode))
            }
            _ => match std::mem::replace(&mut strings[index], Lowered::Null) {
                Lowered::Null => cmp(Op::Null),
                Lowered::Never(reason) => cmp(Op::Never(reason)),
                Lowered::Alternatives(alts) => {
                    let mut exprs: Vec<Expr> = alts.into_iter().map(&string_cmp).collect();
                    if exprs.len() == 1 {
                        exprs.pop().unwrap_or(Expr::Const(false))
                    } else {
                        Expr::Or(exprs)
                    }
                }
            },
        };
        per_value.push(expr);
    }
    let combined = if per_value.len() == 1 {
        per_value.pop().unwrap_or(Expr::Const(false))
    } else if has(Modifier::All) {
        Expr::And(per_value)
    } else {
        Expr::Or(per_value)
    };
    let lowered = if has(Modifier::Neq) {
        match &target {
            Target::Field(_) => {
                Expr::And(vec![cmp(Op::Exists(true)), Expr::Not(Box::new(combined))])
            }
            Target::Any => Expr::Not(Box::new(combined)),
        }
    } else {
        combined
    };
    Some(if pipeline.absent_text_is_empty {
        absent_text_as_empty(lowered, pipeline, regexes)
    } else {
        lowered
    })
}

/// `expr` as Kusto reads it, for a pipeline whose string columns are never null
/// ([`Pipeline::text_column`]): on such a column, `null` (`isnull`) never holds, the column always
/// exists, and a comparison that holds on the empty string holds on an absent or null value.
fn absent_text_as_empty(expr: Expr, pipeline: &Pipeline, regexes: &mut RegexCache) -> Expr {
    let mut each = |exprs: Vec<Expr>| -> Vec<Expr> {
        exprs
            .into_iter()
            .map(|e| absent_text_as_empty(e, pipeline, regexes))
            .collect()
    };
    match expr {
        Expr::And(exprs) => Expr::And(each(exprs)),
        Expr::Or(exprs) => Expr::Or(each(exprs)),
        Expr::Not(inner) => Expr::Not(Box::new(absent_text_as_empty(*inner, pipeline, regexes))),
        Expr::Group(label, inner) => Expr::Group(
            label,
            Box::new(absent_text_as_empty(*inner, pipeline, regexes)),
        ),
        Expr::Const(b) => Expr::Const(b),
        Expr::Cmp(cmp) => {
            let Target::Field(field) = &cmp.target else {
                return Expr::Cmp(cmp);
            };
            if !pipeline.text_column(field) {
                return Expr::Cmp(cmp);
            }
            let (label, expr) = match &cmp.op {
                Op::Null => (
                    format!("`{field}` is null: a string column never is, in Kusto (isnull)"),
                    Expr::Const(false),
                ),
                Op::Exists(exists) => (
                    format!("`{field}` exists: every row has every column, in Kusto"),
                    Expr::Const(*exists),
                ),
                _ => {
                    let on_empty = Matcher::build(&cmp, &mut FieldTable::default(), regexes)
                        .is_ok_and(|matcher| matcher.on_text(""));
                    if !on_empty {
                        return Expr::Cmp(cmp);
                    }
                    let absent = Expr::cmp(cmp.target.clone(), Op::Null, cmp.case);
                    (
                        format!("`{field}` absent or null reads as the empty string, in Kusto"),
                        Expr::Or(vec![Expr::Cmp(cmp), absent]),
                    )
                }
            };
            Expr::Group(label, Box::new(expr))
        }
    }
}

fn show(value: &RuleValue) -> String {
    match value.text() {
        Some(t) => format!("`{t}`"),
        None => "`null`".into(),
    }
}

fn numeric(value: &RuleValue) -> Option<f64> {
    match value {
        RuleValue::Int(i) => Some(*i as f64),
        RuleValue::Float(f) => Some(*f),
        RuleValue::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn time_part(m: Modifier) -> TimePart {
    match m {
        Modifier::Minute => TimePart::Minute,
        Modifier::Hour => TimePart::Hour,
        Modifier::Day => TimePart::Day,
        Modifier::Week => TimePart::Week,
        Modifier::Month => TimePart::Month,
        _ => TimePart::Year,
    }
}

enum Lowered {
    Null,
    Never(String),
    Alternatives(Vec<Op>),
}

fn lower_string(
    cx: &ItemCx<'_>,
    value: &RuleValue,
    mods: &[Modifier],
    config: &Config,
    diags: &mut Vec<Diagnostic>,
) -> Option<Lowered> {
    let text = match value {
        RuleValue::Null => {
            if mods.iter().any(|m| *m != Modifier::Neq) {
                diags.push(cx.error("SIG0021", "`null` cannot take modifiers".into()));
                return None;
            }
            return Some(Lowered::Null);
        }
        RuleValue::Str(s) => s.clone(),
        other => {
            // Numbers and booleans compare by text (see `expr`'s coercion rule).
            let text = other.text().unwrap_or_default();
            if mods.is_empty()
                || mods
                    .iter()
                    .all(|m| matches!(m, Modifier::All | Modifier::Neq))
            {
                return Some(Lowered::Alternatives(vec![Op::Equals(text)]));
            }
            text.replace('\\', "\\\\")
                .replace('*', "\\*")
                .replace('?', "\\?")
        }
    };
    let mut alternatives: Vec<Vec<Part>> = if mods.contains(&Modifier::Expand) {
        match expand(&text, config) {
            Ok(values) => values
                .iter()
                .map(|v| modifier::parse_sigma_string(v))
                .collect(),
            Err(missing) => {
                diags.push(
                    cx.rule
                        .diag(
                            Diagnostic::warning(
                                "SIG0025",
                                format!(
                                    "placeholder `%{missing}%` has no value in the configuration; the comparison never matches"
                                ),
                            ),
                            cx.span(),
                        )
                        .with_note(format!("rule {}", cx.rule.label()))
                        .with_help(format!("set placeholder `{missing}` (e.g. `--placeholder {missing}=value`)")),
                );
                return Some(Lowered::Never(format!(
                    "placeholder `%{missing}%` has no configured value"
                )));
            }
        }
    } else {
        vec![modifier::parse_sigma_string(&text)]
    };
    for m in mods {
        alternatives = match m {
            Modifier::Contains => alternatives
                .into_iter()
                .map(|mut p| {
                    if p.first() != Some(&Part::Star) {
                        p.insert(0, Part::Star);
                    }
                    if p.last() != Some(&Part::Star) {
                        p.push(Part::Star);
                    }
                    p
                })
                .collect(),
            Modifier::StartsWith => alternatives
                .into_iter()
                .map(|mut p| {
                    if p.last() != Some(&Part::Star) {
                        p.push(Part::Star);
                    }
                    p
                })
                .collect(),
            Modifier::EndsWith => alternatives
                .into_iter()
                .map(|mut p| {
                    if p.first() != Some(&Part::Star) {
                        p.insert(0, Part::Star);
                    }
                    p
                })
                .collect(),
            Modifier::Windash => alternatives
                .iter()
                .flat_map(|p| modifier::windash(p))
                .collect(),
            m if m.is_encoding() => {
                let mut out = Vec::new();
                for parts in &alternatives {
                    let Some(bytes) = modifier::literal(parts) else {
                        diags.push(cx.error(
                            "SIG0021",
                            format!(
                                "`{}` needs a value without wildcards (put `contains` after it)",
                                m.name()
                            ),
                        ));
                        return None;
                    };
                    match m {
                        Modifier::Base64 => {
                            out.push(vec![Part::Lit(modifier::base64(&bytes).into_bytes())])
                        }
                        Modifier::Base64Offset => out.extend(
                            modifier::base64offset(&bytes)
                                .into_iter()
                                .map(|s| vec![Part::Lit(s.into_bytes())]),
                        ),
                        other => out.push(vec![Part::Lit(modifier::utf16(&bytes, *other))]),
                    }
                }
                out
            }
            _ => alternatives,
        };
    }
    let keyword = cx.item.field.is_none();
    let mut ops = Vec::new();
    for parts in alternatives {
        let mut parts = modifier::normalize(parts);
        if keyword {
            // Keywords search the whole event: a keyword matches anywhere in any value.
            if parts.first() != Some(&Part::Star) {
                parts.insert(0, Part::Star);
            }
            if parts.last() != Some(&Part::Star) {
                parts.push(Part::Star);
            }
        }
        let op = classify(parts);
        if !ops.contains(&op) {
            ops.push(op);
        }
    }
    Some(Lowered::Alternatives(ops))
}

/// A value whose wildcards make it more than a prefix, suffix or substring, as
/// pySigma-backend-kusto writes it: alone, `matches regex` (`*` as `.*`, `?` as `.`), which is
/// unanchored and case-sensitive; in a list of values with a wildcard inside (not first or last),
/// `contains` of each literal part, in any order (`convert_condition_as_in_expression`).
fn kusto_glob(glob: &Glob, in_list: bool, target: &Target, case: Case) -> Expr {
    let parts = &glob.0;
    let inner = parts.len() > 2
        && parts[1..parts.len() - 1]
            .iter()
            .any(|part| !matches!(part, GlobPart::Lit(_)));
    if in_list && inner {
        let contained: Vec<Expr> = parts
            .iter()
            .filter_map(|part| match part {
                GlobPart::Lit(text) => {
                    Some(Expr::cmp(target.clone(), Op::Contains(text.clone()), case))
                }
                _ => None,
            })
            .collect();
        return Expr::Group(
            "a value with a wildcard inside, in a list, as the Kusto backend writes it".into(),
            Box::new(Expr::And(contained)),
        );
    }
    let mut pattern = String::new();
    for part in parts {
        match part {
            GlobPart::Lit(text) => pattern.push_str(&regex::escape(text)),
            GlobPart::Star => pattern.push_str(".*"),
            GlobPart::One => pattern.push('.'),
        }
    }
    Expr::Group(
        "a value with wildcards, as the Kusto backend writes it (matches regex)".into(),
        Box::new(Expr::cmp(
            target.clone(),
            Op::Regex(pattern),
            Case::Sensitive,
        )),
    )
}

fn classify(parts: Vec<Part>) -> Op {
    let text = |b: &[u8]| modifier::bytes_to_text(b);
    match parts.as_slice() {
        [] => Op::Equals(String::new()),
        [Part::Lit(l)] => Op::Equals(text(l)),
        [Part::Star, Part::Lit(l), Part::Star] => Op::Contains(text(l)),
        [Part::Lit(l), Part::Star] => Op::StartsWith(text(l)),
        [Part::Star, Part::Lit(l)] => Op::EndsWith(text(l)),
        _ => Op::Glob(Glob(
            parts
                .iter()
                .map(|p| match p {
                    Part::Lit(l) => GlobPart::Lit(text(l)),
                    Part::Star => GlobPart::Star,
                    Part::One => GlobPart::One,
                })
                .collect(),
        )),
    }
}

/// Expands `%name%` placeholders (a backslash-escaped `\%` is a plain percent sign) into every
/// combination of configured values; `Err(name)` for the first placeholder without values.
fn expand(text: &str, config: &Config) -> Result<Vec<String>, String> {
    let mut results = vec![String::new()];
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("\\%") {
            results.iter_mut().for_each(|r| r.push('%'));
            rest = after;
            continue;
        }
        if let Some(after) = rest.strip_prefix('%')
            && let Some(end) = after.find('%')
        {
            let name = &after[..end];
            let values = config
                .placeholders
                .get(name)
                .ok_or_else(|| name.to_string())?;
            results = results
                .iter()
                .flat_map(|r| values.iter().map(move |v| format!("{r}{v}")))
                .collect();
            rest = &after[end + 1..];
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        results.iter_mut().for_each(|r| r.push(c));
        rest = &rest[c.len_utf8()..];
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_expand_to_every_combination() {
        let mut config = Config::default();
        config
            .placeholders
            .insert("A".into(), vec!["x".into(), "y".into()]);
        assert_eq!(
            expand("%A%-\\%B%", &config).unwrap(),
            vec!["x-%B%", "y-%B%"]
        );
        assert_eq!(expand("%Missing%", &config), Err("Missing".into()));
    }

    #[test]
    fn values_are_written_back_as_pysigma_writes_them() {
        // pySigma 1.5.1: `SigmaString(raw).to_plain()`, with the modifiers' wildcards.
        for (raw, modifiers, want) in [
            (r"NT AUTHORITY\SYSTEM", &[][..], r"NT AUTHORITY\SYSTEM"),
            (r"a\*b", &[], r"a\*b"),
            (r"C:\\x", &[], r"C:\x"),
            (r"tail\", &[], r"tail\"),
            ("a?b", &[], "a?b"),
            ("*x", &[Modifier::Contains], "*x*"),
            ("x", &[Modifier::StartsWith], "x*"),
            ("x", &[Modifier::EndsWith], "*x"),
        ] {
            assert_eq!(plain(raw, modifiers), want, "{raw}");
        }
    }

    #[test]
    fn wildcard_shapes_become_specific_operators() {
        let p = modifier::parse_sigma_string;
        assert_eq!(classify(p("*\\cmd.exe")), Op::EndsWith("\\cmd.exe".into()));
        assert_eq!(classify(p("abc*")), Op::StartsWith("abc".into()));
        assert_eq!(classify(p("*a*")), Op::Contains("a".into()));
        assert_eq!(classify(p("a\\*")), Op::Equals("a*".into()));
        assert!(matches!(classify(p("a?c")), Op::Glob(_)));
    }
}

//! The shared predicate IR: field comparisons combined with and/or/not, compiled matchers and explanation traces.
//!
//! Sigma detections and KQL `where` predicates both lower to [`Expr`]. An `Expr` is plain data;
//! [`Expr::compile`] turns it into a [`Compiled`] matcher once (regexes built, needles
//! lowercased, field names interned), which then evaluates events with [`Compiled::eval`] or
//! explains itself with [`Compiled::explain`], producing a [`Trace`] of every node with its
//! result and reason.
//!
//! Semantics every engine shares (decisions, pinned by the tests below):
//! - Case-insensitive comparisons compare the Unicode lowercase (`str::to_lowercase`) of both
//!   sides, so Cyrillic and Greek letters fold as well as ASCII.
//! - Text comparisons coerce: a number or boolean in the event compares by its usual text
//!   (`4688`, `true`), so a rule's `EventID: 4688` matches `"4688"` and `4688` alike.
//! - A list value in the event matches when any element matches.
//! - A comparison on an absent or null field is false, except [`Op::Null`] (true) and
//!   [`Op::Exists`]`(false)` (true).

mod atoms;
mod matcher;
mod trace;

pub use atoms::{
    AtomHits, AtomRef, Atoms, HIT_ANY, HIT_PREFIX, HIT_SUFFIX, HIT_WHOLE, assign_atoms, atoms_of,
    hit_flags,
};
pub use matcher::{Glob, GlobPart, IpNet, Matcher, lower, number, parse_time, push_lower};
pub use trace::{Trace, TraceKind};

use crate::event::{Event, FieldHash, Fields, Value};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

/// Which field a comparison reads.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// One named field (dotted paths walk nested maps, see [`Event::get`]).
    Field(String),
    /// Every value of the event (keyword search).
    Any,
}

/// Case sensitivity of a text comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Case {
    /// Exact comparison.
    Sensitive,
    /// Comparison of the Unicode lowercase forms.
    Insensitive,
}

/// A numeric comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NumOp {
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `==`
    Eq,
    /// `!=`
    Neq,
}

impl NumOp {
    /// Applies the operator.
    pub fn apply(self, left: f64, right: f64) -> bool {
        match self {
            NumOp::Lt => left < right,
            NumOp::Lte => left <= right,
            NumOp::Gt => left > right,
            NumOp::Gte => left >= right,
            NumOp::Eq => left == right,
            NumOp::Neq => left != right,
        }
    }

    /// The operator's symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            NumOp::Lt => "<",
            NumOp::Lte => "<=",
            NumOp::Gt => ">",
            NumOp::Gte => ">=",
            NumOp::Eq => "==",
            NumOp::Neq => "!=",
        }
    }
}

/// A part of a date a time comparison extracts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimePart {
    /// 0–59.
    Minute,
    /// 0–23.
    Hour,
    /// 1–31.
    Day,
    /// ISO week, 1–53.
    Week,
    /// 1–12.
    Month,
    /// The year.
    Year,
}

/// How two fields compare in [`Op::FieldRef`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefMode {
    /// The values are equal.
    Equals,
    /// The field contains the other field's value.
    Contains,
    /// The field starts with the other field's value.
    StartsWith,
    /// The field ends with the other field's value.
    EndsWith,
}

/// What a comparison checks.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// The whole value equals the text.
    Equals(String),
    /// The value contains the text.
    Contains(String),
    /// The value starts with the text.
    StartsWith(String),
    /// The value ends with the text.
    EndsWith(String),
    /// The value matches a glob of literals, `*` and `?` (already unescaped into parts).
    Glob(Glob),
    /// The value matches a regular expression (the `regex` crate's flavour); the pattern is
    /// used as written, so flags go inline (`(?i)`).
    Regex(String),
    /// The value is an IP address inside the network.
    Cidr(IpNet),
    /// The value, read as a number, compares with the number.
    Num(NumOp, f64),
    /// The field is present (even when null or empty) or absent.
    Exists(bool),
    /// The field is absent or null.
    Null,
    /// The field compares with another field of the same event.
    FieldRef(String, RefMode),
    /// KQL `has`: the value contains the text as a whole term (bounded by non-alphanumerics).
    TermHas(String),
    /// A date part, extracted from the value, compares with the number.
    Time(TimePart, NumOp, f64),
    /// Never matches; the reason says why (an unresolved placeholder, say).
    Never(String),
}

/// One field comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Cmp {
    /// Which field.
    pub target: Target,
    /// What it checks.
    pub op: Op,
    /// Case sensitivity (text operators only).
    pub case: Case,
}

/// A predicate over one event.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// Always this result.
    Const(bool),
    /// All hold (true when empty).
    And(Vec<Expr>),
    /// Any holds (false when empty).
    Or(Vec<Expr>),
    /// The negation.
    Not(Box<Expr>),
    /// A field comparison.
    Cmp(Cmp),
    /// A named node shown in traces (a Sigma selection, `1 of filter_*`, a filter rule).
    Group(String, Box<Expr>),
}

impl Expr {
    /// A comparison of `field` with `op`, case-insensitive.
    pub fn field(field: &str, op: Op) -> Expr {
        Expr::Cmp(Cmp {
            target: Target::Field(field.to_string()),
            op,
            case: Case::Insensitive,
        })
    }

    /// A comparison with explicit case sensitivity.
    pub fn cmp(target: Target, op: Op, case: Case) -> Expr {
        Expr::Cmp(Cmp { target, op, case })
    }

    /// Compiles the expression on its own field table.
    pub fn compile(&self) -> Result<Compiled, String> {
        let mut fields = FieldTable::default();
        let mut regexes = RegexCache::default();
        let root = compile_node(self.clone(), &mut fields, &mut regexes)?;
        Ok(Compiled {
            root,
            fields: Arc::new(fields),
        })
    }
}

/// Interned field names: compiled comparisons refer to fields by slot.
#[derive(Clone, Debug, Default)]
pub struct FieldTable {
    names: Vec<String>,
    index: HashMap<String, usize>,
    /// Per slot, the name's hash in every event's field map ([`FieldHash`]).
    hashes: Vec<u64>,
    /// Per slot, true when the name has a dot (so may be a path through nested maps).
    dotted: Vec<bool>,
}

impl FieldTable {
    /// The slot of `name`, adding it when new.
    pub fn intern(&mut self, name: &str) -> usize {
        if let Some(&slot) = self.index.get(name) {
            return slot;
        }
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), self.names.len() - 1);
        self.hashes.push(FieldHash::default().hash_one(name));
        self.dotted.push(name.contains('.'));
        self.names.len() - 1
    }

    /// The name in `slot`.
    pub fn name(&self, slot: usize) -> &str {
        &self.names[slot]
    }

    /// The position of the field in `slot` among `fields`, found by the name's hash computed
    /// once ([`FieldHash`]).
    #[inline]
    pub fn index_in(&self, slot: usize, fields: &Fields) -> Option<usize> {
        use indexmap::map::RawEntryApiV1;
        let name = self.names[slot].as_str();
        fields
            .raw_entry_v1()
            .index_from_hash(self.hashes[slot], |key| key == name)
    }

    /// True when the name in `slot` has a dot, so may name a field in nested maps.
    pub fn dotted(&self, slot: usize) -> bool {
        self.dotted[slot]
    }

    /// How many fields.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when no field is interned.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// Regexes built once and shared between every comparison that uses the same pattern.
#[derive(Clone, Debug, Default)]
pub struct RegexCache {
    built: HashMap<String, Arc<regex::Regex>>,
    needles: HashMap<String, Option<Arc<str>>>,
}

impl RegexCache {
    /// Takes in what `other` built (for caches filled in parallel); what this one holds stays.
    pub fn merge(&mut self, other: RegexCache) {
        for (pattern, re) in other.built {
            self.built.entry(pattern).or_insert(re);
        }
        for (pattern, needle) in other.needles {
            self.needles.entry(pattern).or_insert(needle);
        }
    }

    /// The compiled regex for `pattern`, building it the first time.
    pub fn get(&mut self, pattern: &str) -> Result<Arc<regex::Regex>, String> {
        if let Some(re) = self.built.get(pattern) {
            return Ok(re.clone());
        }
        let re = regex::RegexBuilder::new(pattern)
            .size_limit(1 << 24)
            .build()
            .map_err(|e| format!("invalid regular expression: {}", first_line(&e.to_string())))?;
        let re = Arc::new(re);
        self.built.insert(pattern.to_string(), re.clone());
        Ok(re)
    }
}

impl RegexCache {
    /// A lowercase literal every match of `pattern` contains (`(?i)\.exe\s+werfault\.exe` →
    /// `werfault.exe`), the longest one found; computed once per pattern. A text without it,
    /// after lowercasing, cannot match, which lets a scanner rule the regex out unrun.
    pub fn needle(&mut self, pattern: &str) -> Option<Arc<str>> {
        if let Some(needle) = self.needles.get(pattern) {
            return needle.clone();
        }
        let needle = regex_syntax::parse(pattern)
            .ok()
            .and_then(|hir| regex_literal(&hir).longest())
            .filter(|n| !n.is_empty())
            .map(Arc::from);
        self.needles.insert(pattern.to_string(), needle.clone());
        needle
    }
}

/// What a regex (sub)pattern says about the lowercase text of its matches.
enum RegexLiteral {
    /// Every match is exactly this text, up to case.
    Exact(String),
    /// Every match contains this text (the longest known), or nothing is known.
    Contains(Option<String>),
}

impl RegexLiteral {
    fn longest(self) -> Option<String> {
        match self {
            RegexLiteral::Exact(s) => Some(s),
            RegexLiteral::Contains(s) => s,
        }
    }
}

/// See [`RegexCache::needle`]. Case-insensitive letters are classes whose members lowercase
/// alike (`[Ee]`); a class whose members lowercase apart (`[Ssſ]`, `[a-z]`) ends a literal.
fn regex_literal(hir: &regex_syntax::hir::Hir) -> RegexLiteral {
    use regex_syntax::hir::{Class, HirKind};
    let longer = |a: Option<String>, b: Option<String>| match (a, b) {
        (Some(a), Some(b)) => Some(if b.len() > a.len() { b } else { a }),
        (a, b) => a.or(b),
    };
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => RegexLiteral::Exact(String::new()),
        HirKind::Literal(lit) => match std::str::from_utf8(&lit.0) {
            Ok(text) => RegexLiteral::Exact(lower(text)),
            Err(_) => RegexLiteral::Contains(None),
        },
        HirKind::Class(Class::Unicode(class)) => {
            let mut folded: Option<String> = None;
            let mut members = 0;
            for range in class.ranges() {
                for c in range.start()..=range.end() {
                    members += 1;
                    let low: String = c.to_lowercase().collect();
                    if members > 4 || folded.as_ref().is_some_and(|f| *f != low) {
                        return RegexLiteral::Contains(None);
                    }
                    folded = Some(low);
                }
            }
            folded.map_or(RegexLiteral::Contains(None), RegexLiteral::Exact)
        }
        HirKind::Class(Class::Bytes(_)) | HirKind::Alternation(_) => RegexLiteral::Contains(None),
        HirKind::Capture(capture) => regex_literal(&capture.sub),
        HirKind::Repetition(rep) => match (rep.min, rep.max, regex_literal(&rep.sub)) {
            (1, Some(1), inner) => inner,
            (0, ..) => RegexLiteral::Contains(None),
            (_, _, inner) => RegexLiteral::Contains(inner.longest()),
        },
        HirKind::Concat(items) => {
            let mut best: Option<String> = None;
            let mut run = Some(String::new());
            let mut exact = true;
            for item in items {
                match regex_literal(item) {
                    RegexLiteral::Exact(text) => match &mut run {
                        Some(run) => run.push_str(&text),
                        None => run = Some(text),
                    },
                    RegexLiteral::Contains(inner) => {
                        exact = false;
                        best = longer(best, run.take().filter(|r| !r.is_empty()));
                        best = longer(best, inner);
                    }
                }
            }
            match run {
                Some(run) if exact => RegexLiteral::Exact(run),
                run => RegexLiteral::Contains(longer(best, run.filter(|r| !r.is_empty()))),
            }
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .filter(|l| l.starts_with("error:"))
        .map(|l| l.trim_start_matches("error:").trim().to_string())
        .next()
        .unwrap_or_else(|| s.lines().last().unwrap_or(s).trim().to_string())
}

/// A compiled comparison.
#[derive(Clone, Debug)]
pub struct CCmp {
    /// The field slot, or `None` for keyword search over every value.
    pub slot: Option<usize>,
    /// The matcher.
    pub matcher: matcher::Matcher,
    /// The comparison as written, for traces.
    pub source: Cmp,
}

/// A compiled expression node.
#[derive(Clone, Debug)]
pub enum Node {
    /// Always this.
    Const(bool),
    /// All hold.
    And(Vec<Node>),
    /// Any holds.
    Or(Vec<Node>),
    /// Negation.
    Not(Box<Node>),
    /// A comparison, with its needle atom once a scanner has assigned one ([`assign_atoms`]);
    /// the atom is inline so that evaluating long lists of comparisons stays in cache.
    Cmp {
        /// The needle atom.
        atom: Option<AtomRef>,
        /// The comparison.
        cmp: Box<CCmp>,
    },
    /// A named node.
    Group(Arc<str>, Box<Node>),
}

/// Compiles `expr` into a node, interning fields into `fields` and sharing regexes via `regexes`.
/// The expression is taken: its comparisons move into the nodes (which keep them for traces)
/// rather than being copied and then freed with the expression.
pub fn compile_node(
    expr: Expr,
    fields: &mut FieldTable,
    regexes: &mut RegexCache,
) -> Result<Node, String> {
    fn all(
        items: Vec<Expr>,
        fields: &mut FieldTable,
        regexes: &mut RegexCache,
    ) -> Result<Vec<Node>, String> {
        items
            .into_iter()
            .map(|e| compile_node(e, fields, regexes))
            .collect()
    }
    Ok(match expr {
        Expr::Const(b) => Node::Const(b),
        Expr::And(items) => Node::And(all(items, fields, regexes)?),
        Expr::Or(items) => Node::Or(all(items, fields, regexes)?),
        Expr::Not(inner) => Node::Not(Box::new(compile_node(*inner, fields, regexes)?)),
        Expr::Group(label, inner) => Node::Group(
            Arc::from(label),
            Box::new(compile_node(*inner, fields, regexes)?),
        ),
        Expr::Cmp(cmp) => {
            let slot = match &cmp.target {
                Target::Field(name) => Some(fields.intern(name)),
                Target::Any => None,
            };
            let matcher = matcher::Matcher::build(&cmp, fields, regexes)?;
            Node::Cmp {
                atom: None,
                cmp: Box::new(CCmp {
                    slot,
                    matcher,
                    source: cmp,
                }),
            }
        }
    })
}

/// Per-event scratch: field values looked up once, lowercased once.
#[derive(Debug, Default)]
pub struct Scratch {
    generation: u32,
    entries: Vec<Entry>,
    /// Needle occurrences found by a scanner for this event.
    pub atoms: AtomHits,
}

#[derive(Debug, Default)]
struct Entry {
    generation: u32,
    state: u8,
    /// Index of the field in the event's top-level map, or `u32::MAX` (nested or absent).
    index: u32,
    /// Where the field was last found, kept across events: events from one source list their
    /// fields in one order, so checking there first usually saves hashing the name.
    hint: u32,
    /// True once `lower` holds this event's lowercase text (computed on first use).
    lowered: bool,
    lower: String,
}

const ABSENT: u8 = 0;
const TEXT: u8 = 1;
const OTHER: u8 = 2;

impl Scratch {
    /// Starts a new event: forgets every cached value (in O(1)).
    pub fn reset(&mut self) {
        self.atoms.clear();
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.entries
                .iter_mut()
                .for_each(|e| e.generation = u32::MAX);
            self.generation = 1;
        }
    }
}

/// An event being evaluated, with the field table used to resolve slots.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The event.
    pub event: &'a Event,
    /// Slot → field name.
    pub fields: &'a FieldTable,
    /// Slot → name actually looked up in this event (a pipeline may rename); `None` = as named.
    pub scratch: &'a mut Scratch,
}

impl<'a> Ctx<'a> {
    /// A context over `event`, resetting `scratch`.
    pub fn new(event: &'a Event, fields: &'a FieldTable, scratch: &'a mut Scratch) -> Self {
        scratch.reset();
        if scratch.entries.len() < fields.len() {
            scratch.entries.resize_with(fields.len(), Entry::default);
        }
        Ctx {
            event,
            fields,
            scratch,
        }
    }

    /// Looks the field in `slot` up, once per event (its position and kind are kept), and
    /// returns its value.
    #[inline]
    fn load(&mut self, slot: usize) -> Option<&'a Value> {
        let generation = self.scratch.generation;
        let entry = &mut self.scratch.entries[slot];
        if entry.generation == generation {
            return match (entry.state, entry.index) {
                (ABSENT, _) => None,
                (_, u32::MAX) => self.event.get_nested(self.fields.name(slot)),
                (_, index) => self.event.fields.get_index(index as usize).map(|(_, v)| v),
            };
        }
        self.first_load(slot)
    }

    /// [`Ctx::load`] for the first time this event.
    fn first_load(&mut self, slot: usize) -> Option<&'a Value> {
        let entry = &mut self.scratch.entries[slot];
        entry.generation = self.scratch.generation;
        entry.lowered = false;
        let name = self.fields.name(slot);
        let fields = &self.event.fields;
        let hinted = fields
            .get_index(entry.hint as usize)
            .filter(|(key, _)| same_name(key, name));
        let (index, value) = match hinted {
            Some((_, v)) => (entry.hint, Some(v)),
            None => match self.fields.index_in(slot, fields) {
                Some(i) => (
                    u32::try_from(i).unwrap_or(u32::MAX),
                    fields.get_index(i).map(|(_, v)| v),
                ),
                None if self.fields.dotted(slot) => (u32::MAX, self.event.get_nested(name)),
                None => (u32::MAX, None),
            },
        };
        entry.index = index;
        if index != u32::MAX {
            entry.hint = index;
        }
        entry.state = match value {
            None => ABSENT,
            Some(Value::String(_) | Value::Int(_) | Value::Float(_) | Value::Bool(_)) => TEXT,
            Some(_) => OTHER,
        };
        value
    }

    /// The value of the field in `slot`, looked up once per event.
    pub fn value(&mut self, slot: usize) -> Option<&'a Value> {
        self.load(slot)
    }

    /// The value of the field in `slot` and, when the slot names a top-level field that is
    /// present, its position among the event's top-level fields.
    #[inline]
    pub fn value_at(&mut self, slot: usize) -> (Option<&'a Value>, Option<usize>) {
        let value = self.load(slot);
        let index = self.scratch.entries[slot].index;
        (
            value,
            (value.is_some() && index != u32::MAX).then_some(index as usize),
        )
    }

    /// [`Ctx::value_at`] for a pass that reads each field once: the position the field had in
    /// the previous event is tried first, and a field found there is not recorded.
    #[inline]
    pub fn peek(&mut self, slot: usize) -> (Option<&'a Value>, Option<usize>) {
        let hint = self.scratch.entries[slot].hint as usize;
        if let Some((key, value)) = self.event.fields.get_index(hint)
            && same_name(key, self.fields.name(slot))
        {
            return (Some(value), Some(hint));
        }
        self.value_at(slot)
    }

    /// The lowercase text of the field in `slot` (scalar values only), computed once per event.
    pub fn lower(&mut self, slot: usize) -> Option<&str> {
        let value = self.load(slot);
        if value.is_none() || self.scratch.entries[slot].state != TEXT {
            return None;
        }
        if !self.scratch.entries[slot].lowered {
            let entry = &mut self.scratch.entries[slot];
            entry.lower.clear();
            if let Some(text) = value.and_then(Value::to_text) {
                matcher::push_lower(&mut entry.lower, &text);
            }
            entry.lowered = true;
        }
        Some(self.scratch.entries[slot].lower.as_str())
    }
}

/// `a == b`, for field names: most are 4 to 16 bytes long, which two overlapping words each
/// tell without a call to `memcmp` (a field is found at its remembered position by its name,
/// for every field rules read in every event).
#[inline]
fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    match a.len() {
        8..=16 => same_ends::<8>(a, b),
        4..8 => same_ends::<4>(a, b),
        _ => a == b,
    }
}

/// For texts of the same length, `N` to `2N` bytes: whether their first `N` bytes and their
/// last `N` bytes agree, which covers every byte.
#[inline]
fn same_ends<const N: usize>(a: &[u8], b: &[u8]) -> bool {
    a.first_chunk::<N>() == b.first_chunk::<N>() && a.last_chunk::<N>() == b.last_chunk::<N>()
}

/// A compiled expression with its own field table.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The root node.
    pub root: Node,
    /// The field table its slots refer to.
    pub fields: Arc<FieldTable>,
}

impl Compiled {
    /// True when the event satisfies the expression.
    pub fn eval(&self, event: &Event) -> bool {
        let mut scratch = Scratch::default();
        let mut ctx = Ctx::new(event, &self.fields, &mut scratch);
        eval(&self.root, &mut ctx)
    }

    /// Evaluates every node (no short-circuit) and records why each holds or not.
    pub fn explain(&self, event: &Event) -> Trace {
        let mut scratch = Scratch::default();
        let mut ctx = Ctx::new(event, &self.fields, &mut scratch);
        explain(&self.root, &mut ctx)
    }
}

/// Evaluates `node` over the event in `ctx`, short-circuiting.
pub fn eval(node: &Node, ctx: &mut Ctx<'_>) -> bool {
    match node {
        Node::Const(b) => *b,
        Node::And(items) => items.iter().all(|n| eval(n, ctx)),
        Node::Or(items) => items.iter().any(|n| eval(n, ctx)),
        Node::Not(inner) => !eval(inner, ctx),
        Node::Group(_, inner) => eval(inner, ctx),
        Node::Cmp { atom, cmp } => match atom.and_then(|a| ctx.scratch.atoms.answer(a)) {
            Some(answer) => answer,
            None => cmp.matcher.eval(cmp.slot, ctx),
        },
    }
}

/// Evaluates every node of `node` and records the reasons.
pub fn explain(node: &Node, ctx: &mut Ctx<'_>) -> Trace {
    match node {
        Node::Const(b) => Trace::leaf(TraceKind::Const, b.to_string(), *b, None),
        Node::And(items) => {
            let children: Vec<Trace> = items.iter().map(|n| explain(n, ctx)).collect();
            let result = children.iter().all(|c| c.result);
            let reason = (!result).then(|| {
                let failed = children.iter().filter(|c| !c.result).count();
                format!("{failed} of {} operands false", children.len())
            });
            Trace::node(TraceKind::And, "and".into(), result, reason, children)
        }
        Node::Or(items) => {
            let children: Vec<Trace> = items.iter().map(|n| explain(n, ctx)).collect();
            let result = children.iter().any(|c| c.result);
            let reason = (!result).then(|| format!("none of {} operands true", children.len()));
            Trace::node(TraceKind::Or, "or".into(), result, reason, children)
        }
        Node::Not(inner) => {
            let child = explain(inner, ctx);
            let result = !child.result;
            let reason = Some(if result {
                "operand is false".to_string()
            } else {
                "operand matched".to_string()
            });
            Trace::node(TraceKind::Not, "not".into(), result, reason, vec![child])
        }
        Node::Group(label, inner) => {
            let child = explain(inner, ctx);
            let result = child.result;
            Trace::node(
                TraceKind::Group,
                label.to_string(),
                result,
                None,
                vec![child],
            )
        }
        Node::Cmp { cmp, .. } => {
            let (result, reason) = cmp.matcher.explain(cmp.slot, ctx);
            Trace::leaf(
                TraceKind::Cmp,
                trace::describe(&cmp.source),
                result,
                Some(reason),
            )
        }
    }
}

/// True when some comparison under `node` searches every value (keyword search).
pub fn reads_any(node: &Node) -> bool {
    match node {
        Node::Const(_) => false,
        Node::And(items) | Node::Or(items) => items.iter().any(reads_any),
        Node::Not(inner) | Node::Group(_, inner) => reads_any(inner),
        Node::Cmp { cmp, .. } => cmp.slot.is_none(),
    }
}

/// What the comparisons under a node read, for a cache of verdicts keyed by field values
/// (`sigma::prefilter`): a verdict is a function of these reads.
#[derive(Clone, Debug, Default)]
pub struct Reads {
    /// Every field slot some comparison reads (field references included), sorted.
    pub slots: Vec<usize>,
    /// True when a keyword search has no needle, so that every value of an event matters.
    pub opaque: bool,
}

impl Reads {
    /// Adds what the comparisons under `node` read.
    pub fn add(&mut self, node: &Node) {
        match node {
            Node::Const(_) => {}
            Node::And(items) | Node::Or(items) => items.iter().for_each(|n| self.add(n)),
            Node::Not(inner) | Node::Group(_, inner) => self.add(inner),
            Node::Cmp { atom, cmp } => {
                match cmp.slot {
                    Some(slot) => self.slots.push(slot),
                    None => self.opaque |= atom.is_none(),
                }
                if let matcher::Matcher::FieldRef(other, ..) = cmp.matcher {
                    self.slots.push(other);
                }
            }
        }
    }

    /// Sorts and removes repeats.
    pub fn finish(&mut self) {
        self.slots.sort_unstable();
        self.slots.dedup();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::LogSchema;

    fn event() -> Event {
        Event::new(LogSchema::Sysmon)
            .with("Image", "C:\\Windows\\System32\\cmd.exe")
            .with("CommandLine", "cmd.exe /c \"ver\"")
            .with("EventID", 1i64)
            .with("Empty", "")
            .with("Greek", "ΑΒΓ")
    }

    fn holds(expr: Expr) -> bool {
        expr.compile().unwrap().eval(&event())
    }

    #[test]
    fn field_names_are_equal_only_when_every_byte_is() {
        let name = "ParentCommandLineX";
        for len in 0..=name.len() {
            let a = &name[..len];
            assert!(same_name(a, a), "{a}");
            for at in 0..len {
                // The same length, one byte changed: each place is covered by some word.
                let mut other = a.as_bytes().to_vec();
                other[at] ^= 0x20;
                let other = String::from_utf8(other).expect("ASCII");
                assert!(!same_name(a, &other), "{a} and {other}");
            }
            assert!(!same_name(a, &name[..len.saturating_sub(1)]) || len == 0);
        }
    }

    #[test]
    fn text_comparisons_fold_unicode_case_by_default() {
        assert!(holds(Expr::field(
            "Image",
            Op::EndsWith("\\CMD.EXE".into())
        )));
        assert!(holds(Expr::field("Greek", Op::Equals("αβγ".into()))));
        assert!(!holds(Expr::cmp(
            Target::Field("Image".into()),
            Op::EndsWith("\\CMD.EXE".into()),
            Case::Sensitive
        )));
    }

    #[test]
    fn fields_are_found_by_their_precomputed_hash_wherever_they_stand() {
        let mut table = FieldTable::default();
        let slots = [
            "CommandLine",
            "Image",
            "Missing",
            "process.name",
            "process.pid",
        ]
        .map(|name| table.intern(name));
        let mut process = Fields::default();
        process.insert("name".into(), "cmd.exe".into());
        let mut event = event().with("process", Value::Map(Box::new(process)));
        let mut scratch = Scratch::default();
        let mut read = |event: &Event| {
            let mut ctx = Ctx::new(event, &table, &mut scratch);
            slots.map(|slot| ctx.value(slot).and_then(Value::as_str).map(str::to_string))
        };
        let expected = [
            Some("cmd.exe /c \"ver\"".to_string()),
            Some("C:\\Windows\\System32\\cmd.exe".to_string()),
            None,
            Some("cmd.exe".to_string()),
            None,
        ];
        assert_eq!(read(&event), expected);
        // Another order: the positions remembered from the last event are wrong now.
        event.fields.reverse();
        assert_eq!(read(&event), expected);
    }

    #[test]
    fn numbers_in_events_compare_by_their_text() {
        assert!(holds(Expr::field("EventID", Op::Equals("1".into()))));
        assert!(holds(Expr::field("EventID", Op::Num(NumOp::Lt, 2.0))));
    }

    #[test]
    fn regex_needles_are_literals_every_match_contains() {
        let needle = |p: &str| RegexCache::default().needle(p).map(|n| n.to_string());
        // Case-insensitive `s` is `[Ssſ]`, which breaks the literal: the longest run remains.
        assert_eq!(
            needle(r#"(?i)\.exe[\"']?\s+[^\"]{0,64}werfaultsecure\.exe[\"']?\s+\d{2,10}"#)
                .as_deref(),
            Some("ecure.exe")
        );
        assert_eq!(needle(r"net\s+User\s+").as_deref(), Some("user"));
        assert_eq!(needle(r"(?i)cmd.{0,5}/c").as_deref(), Some("cmd"));
        assert_eq!(needle(r"\$PSHome\[").as_deref(), Some("$pshome["));
        assert_eq!(needle(r"(?:abc)+x").as_deref(), Some("abc"));
        // Nothing every match contains: alternatives, optional parts, wide classes.
        assert_eq!(needle(r"abc|abd"), None);
        assert_eq!(needle(r"(?:abc)?[a-z]+"), None);
        // `ſ` folds to `s` in a case-insensitive regex but lowercases to itself: no needle.
        assert_eq!(needle(r"(?i)s"), None);
        // ...while the Kelvin sign lowercases to `k`, so `(?i)k` keeps one.
        assert_eq!(needle(r"(?i)k").as_deref(), Some("k"));
    }

    #[test]
    fn absent_null_and_empty_are_distinct() {
        assert!(holds(Expr::field("Missing", Op::Null)));
        assert!(!holds(Expr::field("Empty", Op::Null)));
        assert!(holds(Expr::field("Empty", Op::Equals(String::new()))));
        assert!(!holds(Expr::field("Missing", Op::Equals(String::new()))));
        assert!(holds(Expr::field("Missing", Op::Exists(false))));
    }

    #[test]
    fn explain_records_every_node_without_short_circuit() {
        let expr = Expr::And(vec![
            Expr::field("Image", Op::EndsWith("\\powershell.exe".into())),
            Expr::field("Missing", Op::Contains("x".into())),
        ]);
        let trace = expr.compile().unwrap().explain(&event());
        assert!(!trace.result);
        assert_eq!(trace.children.len(), 2);
        let text = trace.render();
        assert!(text.contains("field `Missing` absent"), "{text}");
        assert!(text.contains("does not end with"), "{text}");
    }
}

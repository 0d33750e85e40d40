//! The prefilter: per routing class, one Aho-Corasick scan per field finds every needle atom
//! of the class's rules in an event; a rule is evaluated only when a needle it cannot match
//! without occurred, and its text comparisons then answer from the scan (`expr::atoms`).
//!
//! Each rule has *triggers*: sets of atoms, one of each of which must occur (with the right
//! flag) for the rule to hold, read off its condition: every operand of an `and` contributes
//! its own, an `or` one set holding the best of each alternative, a `not` nothing. A rule is
//! evaluated only when all its (up to [`MAX_TRIGGERS`] most selective) sets were hit: the scan
//! finds the rules whose most selective set was hit, then checks their other sets; rules
//! without any are evaluated on every event of the class.
//!
//! Logs repeat themselves: the same image paths, users, hashes and most command lines recur
//! all day. A session therefore memoises what the scan of a field's text found, in a small
//! direct-mapped table per field (a slot per hash, overwritten on collision), so a recurring
//! value costs a hash and a comparison instead of an automaton run. Keyword needles, which
//! search every value, are scanned in one pass over all of an event's texts joined by NUL.

use super::rule::RuleIndex;
use crate::event::Value;
use crate::expr::{self, AtomHits, Atoms, Ctx, Node, hit_flags};
use crate::hash::FxHasher;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{BuildHasher, BuildHasherDefault};
use std::sync::Arc;

/// Trigger sets kept per rule (the most selective ones; fewer is still sound).
pub(super) const MAX_TRIGGERS: usize = 8;

/// Memo slots per scanned field (a power of two).
const MEMO_SLOTS: usize = 2048;
/// Longer texts are scanned every time: they rarely recur, and the memo would hold them.
const MEMO_MAX_LEN: usize = 512;

/// Automata already built, by pattern list: classes that differ only in field names (the same
/// rules through another pipeline) share them.
pub(super) type AutomatonCache = HashMap<Vec<String>, Option<Arc<AhoCorasick>>>;

/// One automaton over the atoms of one field (or of keyword searches, `slot: None`).
#[derive(Debug)]
struct FieldScan {
    slot: Option<usize>,
    ac: Arc<AhoCorasick>,
    /// Pattern index → atom id.
    atoms: Vec<u32>,
    /// Engine-wide index of this scan's memo table in a [`ScanState`].
    memo: usize,
    /// For keyword scans: true when no needle contains NUL, so texts can be joined by it.
    joinable: bool,
    /// False when no needle could occur in a number's text (`-1.5e3`, `NaN`, `inf`), so
    /// numbers need not be formatted for scanning.
    numbers: bool,
}

/// One memoised scan: the text and the atoms it holds, with their flags.
#[derive(Debug)]
struct MemoEntry {
    hash: u64,
    text: Box<str>,
    found: Box<[(u32, u8)]>,
}

/// Per-session scanning buffers and memo tables (see the module documentation).
#[derive(Debug, Default)]
pub(super) struct ScanState {
    /// Lowercased or joined text.
    buffer: String,
    /// Formatted numbers.
    number: String,
    /// What the current text's scan found.
    found: Vec<(u32, u8)>,
    /// Rule positions whose first trigger set was hit by this event.
    candidates: Vec<u32>,
    /// Memo table per scan, allocated on first use.
    memo: Vec<Vec<Option<MemoEntry>>>,
    /// Memo lookups that hit and missed, for the benchmark's figures.
    pub(super) memo_hits: u64,
    pub(super) memo_misses: u64,
}

/// The prefilter of one routing class.
#[derive(Debug)]
pub(super) struct Prefilter {
    scans: Vec<FieldScan>,
    /// Atom id → range of `trigger_list`: the rules whose first (most selective) trigger set
    /// the atom belongs to.
    trigger_start: Vec<u32>,
    /// `(flag needed, rule position)`.
    trigger_list: Vec<(u8, u32)>,
    /// Per rule position: its other trigger sets, checked only once the first was hit (so
    /// common needles do not touch every rule that also needs them).
    others: Vec<Box<[FrozenTrigger]>>,
    /// Rules with no trigger: evaluated on every event.
    always: Vec<u32>,
    /// Distinct needles scanned.
    needles: usize,
    /// False when some automaton could not be built: comparisons then never answer from the
    /// scan (their atoms may be missing), and the rules it would have triggered are in `always`.
    exact: bool,
}

/// Figures for `Engine::prefilter_stats`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Stats {
    pub needles: usize,
    pub always: usize,
    pub fields: usize,
}

/// How selective a needle is likely to be: its length, halved for executable names, which
/// recur all through a process-creation stream (`\cmd.exe`) while command-line fragments do not.
fn selectivity(needle: &str) -> usize {
    if needle.ends_with(".exe") {
        needle.len() / 2
    } else {
        needle.len()
    }
}

/// One trigger set: atoms one of which must occur with its flag.
type Trigger = Vec<(u32, u8)>;

/// A trigger set as stored for checking: `(atom, flag needed)`.
type FrozenTrigger = Box<[(u32, u8)]>;

/// How selective a trigger set is: that of its weakest needle.
fn set_selectivity(set: &Trigger, atoms: &Atoms) -> usize {
    set.iter()
        .map(|&(id, _)| selectivity(atoms.get(id).1))
        .min()
        .unwrap_or(usize::MAX)
}

/// Trigger sets all of which `node` needs to hold (empty when nothing is known).
fn triggers(node: &Node, atoms: &Atoms) -> Vec<Trigger> {
    match node {
        Node::Const(true) | Node::Not(_) => Vec::new(),
        // Never true: a set that no event can hit.
        Node::Const(false) => vec![Vec::new()],
        Node::Group(_, inner) => triggers(inner, atoms),
        Node::Cmp { atom, .. } => atom.map_or_else(Vec::new, |a| vec![vec![(a.id, a.need)]]),
        Node::And(items) => items.iter().flat_map(|n| triggers(n, atoms)).collect(),
        Node::Or(items) => {
            let mut union = Vec::new();
            for item in items {
                let best = triggers(item, atoms)
                    .into_iter()
                    .max_by_key(|set| set_selectivity(set, atoms));
                match best {
                    Some(set) => union.extend(set),
                    None => return Vec::new(),
                }
            }
            vec![union]
        }
    }
}

/// A rule's trigger sets: the [`MAX_TRIGGERS`] most selective, without repeats.
fn rule_triggers(node: &Node, atoms: &Atoms) -> Vec<Trigger> {
    let mut sets = triggers(node, atoms);
    for set in &mut sets {
        set.sort_unstable();
        set.dedup();
    }
    sets.sort_by_key(|set| std::cmp::Reverse(set_selectivity(set, atoms)));
    sets.dedup();
    sets.truncate(MAX_TRIGGERS);
    sets
}

impl Prefilter {
    /// The prefilter of a class whose rules (by position) are `rules`; every atom of their
    /// nodes is in `atoms`.
    /// `memos` counts memo tables engine-wide; this prefilter's scans take the next ones.
    pub(super) fn build(
        rules: &[(RuleIndex, Arc<Node>)],
        atoms: &Atoms,
        cache: &mut AutomatonCache,
        memos: &mut usize,
    ) -> Prefilter {
        // Every atom of every rule is scanned, so exact comparisons can answer from the scan.
        let mut used = Vec::new();
        for (_, node) in rules {
            expr::atoms_of(node, &mut used);
        }
        used.sort_unstable();
        used.dedup();
        let mut by_slot: Vec<(Option<usize>, Vec<u32>)> = Vec::new();
        for &id in &used {
            let slot = atoms.get(id).0;
            match by_slot.iter_mut().find(|(s, _)| *s == slot) {
                Some((_, ids)) => ids.push(id),
                None => by_slot.push((slot, vec![id])),
            }
        }
        by_slot.sort_by_key(|(slot, _)| *slot);

        let mut scans = Vec::new();
        let mut unscanned = Vec::new();
        for (slot, ids) in by_slot {
            let patterns: Vec<String> = ids.iter().map(|&id| atoms.get(id).1.to_string()).collect();
            let built = cache
                .entry(patterns)
                .or_insert_with_key(|patterns| {
                    // Small automata as DFAs (fast to scan, cheap to build); large ones as NFAs.
                    let kind = (patterns.len() <= 300).then_some(AhoCorasickKind::DFA);
                    AhoCorasickBuilder::new()
                        .match_kind(MatchKind::Standard)
                        .ascii_case_insensitive(true)
                        .kind(kind)
                        .build(patterns)
                        .ok()
                        .map(Arc::new)
                })
                .clone();
            match built {
                Some(ac) => {
                    let joinable = ids.iter().all(|&id| !atoms.get(id).1.contains('\0'));
                    let numbers = ids.iter().any(|&id| {
                        let needle = atoms.get(id).1;
                        needle
                            .chars()
                            .all(|c| c.is_ascii_digit() || "-+.einfa".contains(c))
                    });
                    scans.push(FieldScan {
                        slot,
                        ac,
                        atoms: ids,
                        memo: *memos,
                        joinable,
                        numbers,
                    });
                    *memos += 1;
                }
                None => unscanned.extend(ids),
            }
        }

        // Triggers, as a compressed table from atom to rule trigger sets.
        let mut per_atom: Vec<Vec<(u8, u32)>> = vec![Vec::new(); atoms.len()];
        let mut always = Vec::new();
        let mut others = Vec::with_capacity(rules.len());
        for (pos, (_, node)) in rules.iter().enumerate() {
            let pos = pos as u32;
            let sets: Vec<Trigger> = rule_triggers(node, atoms)
                .into_iter()
                .filter(|set| !set.iter().any(|(id, _)| unscanned.contains(id)))
                .collect();
            let mut sets = sets.into_iter();
            match sets.next() {
                Some(first) => {
                    for (id, need) in first {
                        per_atom[id as usize].push((need, pos));
                    }
                }
                None => always.push(pos),
            }
            others.push(sets.map(Vec::into_boxed_slice).collect());
        }
        let mut trigger_start = Vec::with_capacity(atoms.len() + 1);
        let mut trigger_list = Vec::new();
        for mut targets in per_atom {
            trigger_start.push(trigger_list.len() as u32);
            targets.sort_unstable();
            targets.dedup();
            trigger_list.extend(targets);
        }
        trigger_start.push(trigger_list.len() as u32);
        Prefilter {
            scans,
            trigger_start,
            trigger_list,
            others,
            always,
            needles: used.len(),
            exact: unscanned.is_empty(),
        }
    }

    /// Figures for reports.
    pub(super) fn stats(&self) -> Stats {
        Stats {
            needles: self.needles,
            always: self.always.len(),
            fields: self.scans.len(),
        }
    }

    /// Scans the event in `ctx`, recording its atoms in the context's scratch, and sets in
    /// `marks` (one bit per rule position) the rules worth evaluating.
    pub(super) fn scan(&self, ctx: &mut Ctx<'_>, state: &mut ScanState, marks: &mut [u64]) {
        let event = ctx.event;
        for scan in &self.scans {
            if let Some(slot) = scan.slot {
                if let Some(value) = ctx.value(slot) {
                    scan_value(scan, value, state, &mut ctx.scratch.atoms);
                }
                continue;
            }
            // Keyword needles: every text of the event.
            let hits = &mut ctx.scratch.atoms;
            if scan.joinable {
                let mut joined = std::mem::take(&mut state.buffer);
                joined.clear();
                for value in event.fields.values() {
                    join_leaves(value, scan.numbers, &mut joined, &mut state.number);
                }
                scan_text(scan, &joined, &mut state.found, hits);
                state.buffer = joined;
            } else {
                for value in event.fields.values() {
                    scan_leaves(scan, value, state, hits);
                }
            }
        }
        let hits = &mut ctx.scratch.atoms;
        let candidates = &mut state.candidates;
        for &id in hits.touched() {
            let flags = hits.flags(id);
            let range = self.trigger_start[id as usize] as usize
                ..self.trigger_start[id as usize + 1] as usize;
            for &(need, pos) in &self.trigger_list[range] {
                if flags & need != 0 {
                    candidates.push(pos);
                }
            }
        }
        for pos in candidates.drain(..) {
            let (word, bit) = (pos as usize / 64, 1u64 << (pos % 64));
            if marks[word] & bit != 0 {
                continue;
            }
            let all_hit = self.others[pos as usize]
                .iter()
                .all(|set| set.iter().any(|&(id, need)| hits.flags(id) & need != 0));
            if all_hit {
                marks[word] |= bit;
            }
        }
        for &pos in &self.always {
            marks[pos as usize / 64] |= 1 << (pos % 64);
        }
        if self.exact {
            hits.complete();
        }
    }
}

/// Scans a field's value the way text comparisons read it: scalars by their text, lists item
/// by item, maps and nulls not at all.
fn scan_value(scan: &FieldScan, value: &Value, state: &mut ScanState, hits: &mut AtomHits) {
    match value {
        Value::Null | Value::Map(_) => {}
        Value::List(items) => items
            .iter()
            .for_each(|item| scan_value(scan, item, state, hits)),
        Value::String(text) => scan_memoised(scan, text, state, hits),
        Value::Bool(b) => scan_text(
            scan,
            if *b { "true" } else { "false" },
            &mut state.found,
            hits,
        ),
        Value::Int(_) | Value::Float(_) if !scan.numbers => {}
        Value::Int(_) | Value::Float(_) => {
            let mut number = std::mem::take(&mut state.number);
            number.clear();
            push_number(value, &mut number);
            scan_text(scan, &number, &mut state.found, hits);
            state.number = number;
        }
    }
}

/// A number's text, as `Value::to_text` writes it, without allocating.
fn push_number(value: &Value, out: &mut String) {
    let _ = match value {
        Value::Int(i) => write!(out, "{i}"),
        Value::Float(f) => write!(out, "{f}"),
        _ => Ok(()),
    };
}

/// Appends every leaf text under `value` to `out`, each followed by NUL (numbers only when
/// `numbers`).
fn join_leaves(value: &Value, numbers: bool, out: &mut String, number: &mut String) {
    match value {
        Value::Null => return,
        Value::List(items) => {
            return items
                .iter()
                .for_each(|item| join_leaves(item, numbers, out, number));
        }
        Value::Map(map) => {
            return map
                .values()
                .for_each(|item| join_leaves(item, numbers, out, number));
        }
        Value::String(text) => push_folded(out, text),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(_) | Value::Float(_) if !numbers => return,
        Value::Int(_) | Value::Float(_) => {
            number.clear();
            push_number(value, number);
            out.push_str(number);
        }
    }
    out.push('\0');
}

/// Scans every leaf under `value` one by one, as keyword searches read them (when a needle
/// contains NUL and texts cannot be joined).
fn scan_leaves(scan: &FieldScan, value: &Value, state: &mut ScanState, hits: &mut AtomHits) {
    match value {
        Value::Null => {}
        Value::List(items) => items
            .iter()
            .for_each(|item| scan_leaves(scan, item, state, hits)),
        Value::Map(map) => map
            .values()
            .for_each(|item| scan_leaves(scan, item, state, hits)),
        scalar => scan_value(scan, scalar, state, hits),
    }
}

/// Appends `text` folded for scanning: non-ASCII characters lowercased exactly as comparisons
/// fold them, ASCII left as it is (the automata match ASCII case-insensitively and the needles
/// are lowercase), so byte positions agree with the fully lowercased text.
fn push_folded(out: &mut String, text: &str) {
    if text.is_ascii() {
        return out.push_str(text);
    }
    let mut rest = text;
    while let Some(at) = rest.bytes().position(|b| !b.is_ascii()) {
        out.push_str(&rest[..at]);
        let mut chars = rest[at..].chars();
        if let Some(c) = chars.next() {
            out.extend(c.to_lowercase());
        }
        rest = chars.as_str();
    }
    out.push_str(rest);
}

/// Scans one text through the scan's memo table.
fn scan_memoised(scan: &FieldScan, text: &str, state: &mut ScanState, hits: &mut AtomHits) {
    if text.len() > MEMO_MAX_LEN {
        return scan_folded(scan, text, state, hits);
    }
    let hash = BuildHasherDefault::<FxHasher>::default().hash_one(text);
    if state.memo.len() <= scan.memo {
        state.memo.resize_with(scan.memo + 1, Vec::new);
    }
    let table = &mut state.memo[scan.memo];
    if table.is_empty() {
        table.resize_with(MEMO_SLOTS, || None);
    }
    let index = hash as usize & (MEMO_SLOTS - 1);
    if let Some(entry) = &table[index]
        && entry.hash == hash
        && *entry.text == *text
    {
        state.memo_hits += 1;
        for &(id, flags) in &entry.found {
            hits.record(id, flags);
        }
        return;
    }
    state.memo_misses += 1;
    scan_folded(scan, text, state, hits);
    state.memo[scan.memo][index] = Some(MemoEntry {
        hash,
        text: text.into(),
        found: state.found.as_slice().into(),
    });
}

/// Scans one text after folding it (see [`push_folded`]); `state.found` holds what it found.
fn scan_folded(scan: &FieldScan, text: &str, state: &mut ScanState, hits: &mut AtomHits) {
    if text.is_ascii() {
        scan_text(scan, text, &mut state.found, hits);
    } else {
        let mut folded = std::mem::take(&mut state.buffer);
        folded.clear();
        push_folded(&mut folded, text);
        scan_text(scan, &folded, &mut state.found, hits);
        state.buffer = folded;
    }
}

/// Scans an already folded text, recording its atoms in `hits` and in `found`.
fn scan_text(scan: &FieldScan, text: &str, found: &mut Vec<(u32, u8)>, hits: &mut AtomHits) {
    found.clear();
    let len = text.len();
    for m in scan.ac.find_overlapping_iter(text) {
        let hit = (
            scan.atoms[m.pattern().as_usize()],
            hit_flags(m.start(), m.end(), len),
        );
        found.push(hit);
        hits.record(hit.0, hit.1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{Expr, FieldTable, HIT_ANY, Op, RegexCache, assign_atoms};

    fn compiled(expr: &Expr, atoms: &mut Atoms) -> Node {
        let mut node =
            expr::compile_node(expr, &mut FieldTable::default(), &mut RegexCache::default())
                .unwrap();
        assign_atoms(&mut node, atoms);
        node
    }

    #[test]
    fn every_conjunct_triggers_and_a_disjunction_is_one_set() {
        let expr = Expr::And(vec![
            Expr::field("Image", Op::EndsWith("\\CMD.exe".into())),
            Expr::Or(vec![
                Expr::field("CommandLine", Op::Contains("/c".into())),
                Expr::field("CommandLine", Op::Contains("/k".into())),
            ]),
            Expr::Not(Box::new(Expr::field("User", Op::Contains("system".into())))),
        ]);
        let mut atoms = Atoms::default();
        let node = compiled(&expr, &mut atoms);
        let sets = rule_triggers(&node, &atoms);
        let named: Vec<Vec<(&str, u8)>> = sets
            .iter()
            .map(|set| {
                set.iter()
                    .map(|&(id, need)| (atoms.get(id).1, need))
                    .collect()
            })
            .collect();
        assert_eq!(
            named,
            vec![
                vec![("\\cmd.exe", expr::HIT_SUFFIX)],
                vec![("/c", HIT_ANY), ("/k", HIT_ANY)],
            ]
        );
        let negated = compiled(&Expr::Not(Box::new(expr)), &mut atoms);
        assert!(rule_triggers(&negated, &atoms).is_empty());
    }

    #[test]
    fn inexact_needles_trigger_on_any_occurrence() {
        let expr = Expr::cmp(
            expr::Target::Field("CommandLine".into()),
            Op::EndsWith("Mimikatz".into()),
            expr::Case::Sensitive,
        );
        let mut atoms = Atoms::default();
        let node = compiled(&expr, &mut atoms);
        assert_eq!(rule_triggers(&node, &atoms), vec![vec![(0, HIT_ANY)]]);
    }
}

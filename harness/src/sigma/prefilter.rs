//! The prefilter: per routing class, one multi-needle scan per field ([`super::needles`]) finds
//! every needle atom of the class's rules in an event; a rule is evaluated only when a needle it
//! cannot match without occurred, and its text comparisons then answer from the scan
//! (`expr::atoms`).
//!
//! Each rule has *triggers*: sets of atoms, one of each of which must occur (with the right
//! flag) for the rule to hold, read off its condition: every operand of an `and` contributes
//! its own; an `or` the union of one set of each alternative, for every such choice (the most
//! selective ones), since the alternative that holds hits all of its sets; a `not` nothing. A
//! rule is evaluated only when all its (up to [`MAX_TRIGGERS`] most selective) sets were hit: the scan
//! finds the rules whose most selective set was hit, then checks their other sets; rules
//! without any are evaluated on every event of the class.
//!
//! Logs repeat themselves: the same image paths, users, hashes and most command lines recur all
//! day. A session therefore memoises what the scan of a field's text found, in a small two-way
//! set-associative table per field (growing while it keeps evicting: [`super::cache`]), so a
//! recurring value costs a hash and a comparison instead of an automaton run. Keyword needles,
//! which search every value, join the automaton of every field the rules read when a class has at
//! most [`FOLDED_KEYWORDS_MAX`]; the event's other values (all of them, when there are more) are
//! checked for them one by one.
//!
//! Whole verdicts recur too: the same program, started the same way by the same parent, gives the
//! same matches. A rule's verdict is a function of the values its comparisons read, so the
//! engine keeps, per class, a table from the exact values of the fields the class's rules read
//! (laid end to end as a key) to the rules that matched. Every session of the engine, on any
//! thread, reads and fills it ([`SharedVerdicts`]: write-once slots, no locks); a session keeps a
//! small table of its own for the keys whose set there is full. An event whose key is known skips
//! the field scans and the rules altogether. Keyword searches read every value: an event is
//! not cached when a keyword needle occurs outside the fields read (where the key does not look),
//! nor when a keyword search has no needle, nor when a value read is a list or a map.
//!
//! Most fields are asked only which needles they hold, and where: when every comparison on a
//! field answers from its scan (an exact needle, presence, null), two values in which the scan
//! found the same needles with the same flags give every rule the same verdict. A field with a
//! few comparisons that read only its text besides (a regex, a glob) qualifies too: its memo
//! entries work their results out once per text, and they join what was found. On a miss by
//! value, a second key therefore puts what each such field's scan found (through the memo) in
//! place of its value, and a second table answers events that differ only in values no rule
//! tells apart: another logon id, another parent command line without a needle. A field holding
//! a keyword needle enters that key by value, since keyword searches read it.

use super::cache::{self, Found, Shared, Sizes, Table};
use super::needles::{Automaton, ByteSet};
use super::rule::RuleIndex;
use crate::event::{Event, Value};
use crate::expr::{self, AtomHits, Atoms, Ctx, Matcher, Node, Reads, push_lower};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

/// Trigger sets kept per rule (the most selective ones; fewer is still sound).
pub(super) const MAX_TRIGGERS: usize = 8;

/// The memo table of each scanned field ([`Table`]): most fields hold a few hundred distinct
/// values, while a scan of recorded logs meets thousands of distinct command lines (on the
/// bench, growing two-way tables memoise 98.4% of the texts scanned, growing direct-mapped ones
/// 98.0%, 2,048 fixed slots 97.1%); texts and what was found in them may hold 4 MiB for it to
/// grow.
const MEMO: Sizes = Sizes {
    min: 256,
    max: 8192,
    budget: 4 << 20,
};
/// Longer texts are scanned every time: they rarely recur, and the memo would hold them.
const MEMO_MAX_LEN: usize = 512;
/// Keyword needles a class may have for them to join every field's automaton.
const FOLDED_KEYWORDS_MAX: usize = 8;
/// Comparisons a field's scan does not answer that a memo entry may work out once per text, so
/// that the field still enters the second verdict key by what was found.
const CHECKS_MAX: usize = 16;
/// A comparison a field's scan does not answer, with the needle it cannot hold without.
type Check = (Option<expr::AtomRef>, Matcher);

/// The verdict table of each class and key ([`Table`]): a scenario's session needs few slots
/// (56 bytes each, and the key), the recurring activity of a busy host many. The bench's pool of
/// 50,000 generated events holds about 18,500 distinct keys by value, 8,000 by what the scans
/// found (the events no earlier one gave a verdict for): over the cycled pool, a fixed table
/// of 4,096 direct-mapped slots knew 86% of verdicts, one of 16,384 96%, a growing one (to
/// 32,768) 98.3%, and a growing two-way one 98.9%, as many as 262,144 direct-mapped slots. Its
/// keys hold about 9 MB, under the 16 MiB budget; events that never recur would fill
/// every slot, each key up to [`VERDICT_KEY_MAX`].
const VERDICTS: Sizes = Sizes {
    min: 1024,
    max: 32768,
    budget: 16 << 20,
};
/// Slots of each shared verdict table ([`SharedVerdicts`]), 48 bytes each (3 MiB), allocated per
/// engine, class and key once sessions have missed [`SHARED_AFTER`] keys in it. Keys whose set
/// is full go to each session's own tables, so each session evaluates them itself: at 16,384
/// slots, the bench's 1-thread session scanned 460,704 field texts and its own tables grew to
/// 32,768 slots; at 65,536, 264,292 texts and 8,192 slots, and two threads went from 1.75M (best
/// of 3, median 1.56M) to 2.26M (2.12M) events/s.
const SHARED_VERDICTS: usize = VERDICTS.max * 2;
#[cfg(target_pointer_width = "64")]
const _: () = assert!(Shared::<SharedVerdict>::SLOT_BYTES == 48);
/// Keys the sessions' own tables miss, between them, before the shared table is allocated: a
/// scenario's few hundred events never need it.
const SHARED_AFTER: usize = 1024;
/// Longest verdict key (the values read, end to end) worth remembering.
const VERDICT_KEY_MAX: usize = 4096;

/// One automaton over the atoms of one field, with a few keyword needles (or over the keyword
/// needles only, `slot: None`).
#[derive(Debug)]
struct FieldScan {
    slot: Option<usize>,
    ac: Arc<Automaton>,
    /// Pattern index → atom id.
    atoms: Vec<u32>,
    /// The keyword atoms among them, sorted.
    keyword_atoms: Box<[u32]>,
    /// True when what the scan finds enters the verdict key ([`KeyPart::Found`]), so its memo
    /// entries list each atom once, by id, and work out `checks`.
    keyed: bool,
    /// The field's comparisons that the scan does not answer, all reading only the field's text.
    checks: Box<[Check]>,
    /// Engine-wide index of this scan's memo table in a [`ScanState`].
    memo: usize,
    /// False when no needle could occur in a number's text (`-1.5e3`, `NaN`, `inf`), so
    /// numbers need not be formatted for scanning.
    numbers: bool,
    /// The bytes the needles start with, in either case, when there are at most three: an ASCII
    /// text holding none of them holds no needle, which a byte search tells faster than the
    /// automaton.
    starts: Option<ByteSet>,
    /// True when lowercasing a non-ASCII character cannot give any of `starts` (only `i` and `k`
    /// can come of one: `İ`, the Kelvin sign), so a text of any kind without them holds no needle.
    starts_unfoldable: bool,
}

impl FieldScan {
    /// True when `value` holds none of the scan's needles for certain, told without a call: a
    /// null, a number when no needle could be in one, a text without the bytes needles start
    /// with. The event's values that no key covers go through it first.
    #[inline]
    fn surely_misses(&self, value: &Value) -> bool {
        match value {
            Value::Null => true,
            Value::Int(_) | Value::Float(_) => !self.numbers,
            Value::String(text) if self.starts_unfoldable => self.lacks_starts(text) == Some(true),
            _ => false,
        }
    }

    /// Whether `text` (as written, unfolded) lacks every byte the needles start with; `None`
    /// when there are more than three of them.
    #[inline]
    fn lacks_starts(&self, text: &str) -> Option<bool> {
        Some(!self.starts?.occurs_in(text.as_bytes()))
    }

    /// False when `text` holds none of the scan's needles for certain, even once folded; true
    /// when it may. `buffer` is scratch for the folded text.
    fn may_hold(&self, text: &str, buffer: &mut String) -> bool {
        if !self.starts_unfoldable && !text.is_ascii() {
            return true;
        }
        match self.lacks_starts(text) {
            Some(lacks) => !lacks,
            None => {
                buffer.clear();
                push_lower(buffer, text);
                self.ac.is_match(buffer.as_bytes())
            }
        }
    }
}

/// The distinct bytes `needles` start with, in both ASCII cases, when there are at most three.
fn start_bytes<'n>(needles: impl Iterator<Item = &'n str>) -> Option<ByteSet> {
    let mut starts = Vec::new();
    for needle in needles {
        let first = *needle.as_bytes().first()?;
        starts.extend([first.to_ascii_lowercase(), first.to_ascii_uppercase()]);
    }
    starts.sort_unstable();
    starts.dedup();
    ByteSet::new(&starts)
}

/// One memoised scan: the text and the atoms it holds, with their flags.
#[derive(Debug)]
struct MemoEntry {
    hash: u64,
    text: Box<str>,
    found: Box<[(u32, u8)]>,
    /// True when a keyword needle is among them.
    keyword: bool,
    /// For a keyed scan, the results of its `checks` on the text, one bit each.
    checks: u16,
}

/// A verdict key being laid out: the values read (or what the scans found in them), tagged,
/// end to end, in a buffer of [`VERDICT_KEY_MAX`] bytes a session allocates once. Each part is
/// one bounds check and a copy (appending to a `Vec` checked its capacity for the tag and the
/// text apart, and updated its length twice: 60 instructions a field, a fifth of a remembered
/// verdict's cost); a key that does not fit is not remembered.
#[derive(Debug, Default)]
struct Key {
    bytes: Box<[u8]>,
    len: usize,
    fits: bool,
}

impl Key {
    /// Starts a new key.
    fn clear(&mut self) {
        if self.bytes.is_empty() {
            self.bytes = vec![0; VERDICT_KEY_MAX].into();
        }
        self.len = 0;
        self.fits = true;
    }

    /// The key, when it fits.
    fn get(&self) -> Option<&[u8]> {
        self.fits.then(|| &self.bytes[..self.len])
    }

    /// Appends a tag and `part`.
    #[inline(always)]
    fn put<const N: usize>(&mut self, tag: [u8; N], part: &[u8]) {
        let end = self.len + N + part.len();
        match self.bytes.get_mut(self.len..end) {
            Some(room) => {
                let (head, rest) = room.split_at_mut(N);
                head.copy_from_slice(&tag);
                rest.copy_from_slice(part);
                self.len = end;
            }
            None => self.fits = false,
        }
    }

    /// Appends `value`'s key: a tag, then for a text its length and bytes, for a number or a
    /// boolean its bits. False for values a key does not hold (lists, maps). Texts, nearly every
    /// value read, are laid out inline in the caller's loop.
    #[inline(always)]
    fn value(&mut self, value: Option<&Value>) -> bool {
        if let Some(Value::String(text)) = value {
            self.text(text);
            return true;
        }
        self.other(value)
    }

    /// Appends a text's key: its tag, length and bytes.
    #[inline(always)]
    fn text(&mut self, text: &str) {
        // A text too long for its length to fit makes the key too long to be remembered.
        let [a, b, c, d] = (text.len() as u32).to_le_bytes();
        self.put([2, a, b, c, d], text.as_bytes());
    }

    /// [`Key::value`] for values other than texts.
    #[inline(never)]
    fn other(&mut self, value: Option<&Value>) -> bool {
        match value {
            None => self.put([0], &[]),
            Some(Value::Null) => self.put([1], &[]),
            Some(Value::String(text)) => self.text(text),
            Some(Value::Int(i)) => self.put([3], &i.to_le_bytes()),
            Some(Value::Float(f)) => self.put([4], &f.to_bits().to_le_bytes()),
            Some(Value::Bool(b)) => self.put([5, u8::from(*b)], &[]),
            Some(Value::List(_) | Value::Map(_)) => return false,
        }
        true
    }

    /// Appends what a field's scan found: a tag, the checks' results, the count, then each atom
    /// and its flags.
    fn found(&mut self, entry: &MemoEntry) {
        let [a, b] = entry.checks.to_le_bytes();
        let [c, d, e, f] = (entry.found.len() as u32).to_le_bytes();
        self.put([6, a, b, c, d, e, f], &[]);
        for &(id, flags) in &entry.found {
            let [a, b, c, d] = id.to_le_bytes();
            self.put([a, b, c, d, flags], &[]);
        }
    }
}

/// How a field the rules read enters the verdict key.
#[derive(Clone, Copy, Debug)]
enum KeyPart {
    /// The field's exact value.
    Value(usize),
    /// What the field's scan (`scans[.1]`) found in it: all its comparisons ask.
    Found(usize, usize),
    /// Whether the field is present, and null: all its comparisons ask.
    Presence(usize),
}

/// One remembered verdict: the key (the values read) and the rules that matched.
#[derive(Clone, Debug, Default)]
struct Verdict {
    hash: u64,
    key: Vec<u8>,
    rules: Vec<RuleIndex>,
}

impl cache::Entry for Option<MemoEntry> {
    fn held(&self) -> Option<u64> {
        self.as_ref().map(|entry| entry.hash)
    }

    fn bytes(&self) -> usize {
        self.as_ref().map_or(0, |entry| {
            entry.text.len() + std::mem::size_of_val::<[(u32, u8)]>(&entry.found)
        })
    }
}

impl cache::Entry for Verdict {
    fn held(&self) -> Option<u64> {
        // An empty slot's key is empty, and no key is: every field read adds a tag.
        (!self.key.is_empty()).then_some(self.hash)
    }

    fn bytes(&self) -> usize {
        self.key.capacity() + self.rules.capacity() * std::mem::size_of::<RuleIndex>()
    }
}

impl Verdict {
    /// Remembers `rules` as the verdict for `key`.
    fn store(&mut self, hash: u64, key: &[u8], rules: &[RuleIndex]) {
        self.hash = hash;
        self.key.clear();
        self.key.extend_from_slice(key);
        self.rules.clear();
        self.rules.extend_from_slice(rules);
    }
}

impl ScanState {
    /// Looks the current event's key (`by_found`: the one by what the scans found) up in
    /// verdict table `table`, the engine's shared one first: where the verdict is when known;
    /// otherwise notes where it goes once evaluated (the shared table while its set has room).
    fn lookup<'e>(
        &mut self,
        shared: Option<&'e SharedVerdicts>,
        table: usize,
        by_found: bool,
    ) -> Option<Known<'e>> {
        let key = if by_found { &self.found_key } else { &self.key };
        let key = key.get()?;
        // Every byte is hashed: a hash of each part's length and first and last eight bytes
        // only, tried in place of this eighth of a remembered verdict's cost, found 90.3%
        // of the bench's verdicts where this finds 96.8% (command lines that differ only in
        // their middle shared a hash, so a set, and evicted each other), and cost more.
        let hash = crate::hash::text_hash(key);
        let found = shared.map_or(Found::Full, |shared| {
            shared.0[table].find(hash, |known| *known.key == *key)
        });
        let place = match found {
            Found::Entry(known) => {
                self.verdict_hits += 1;
                return Some(Known::Shared(&known.rules));
            }
            Found::Empty(slot) => Place::Shared(table, slot, hash),
            Found::Full => {
                let verdicts = cache::allocated(&mut self.verdicts, table, VERDICTS);
                match verdicts.find(hash, |known| known.key == *key) {
                    Ok(slot) => {
                        self.verdict_hits += 1;
                        return Some(Known::Own(slot));
                    }
                    Err(slot) => {
                        if let Some(shared) = shared {
                            shared.0[table].missed();
                        }
                        Place::Own(table, slot, hash)
                    }
                }
            }
        };
        self.unsettled[usize::from(by_found)] = Some(place);
        None
    }
}

/// Per-session scanning buffers and memo tables (see the module documentation).
#[derive(Debug, Default)]
pub(super) struct ScanState {
    /// Folded text.
    buffer: String,
    /// Formatted numbers.
    number: String,
    /// What the current text's scan found.
    found: Vec<(u32, u8)>,
    /// Memo entries (table, slot) of this event whose atoms are not recorded yet.
    unrecorded: Vec<(usize, usize)>,
    /// Rule positions whose first trigger set was hit by this event.
    candidates: Vec<u32>,
    /// Memo table per scan, allocated on first use.
    memo: Vec<Table<Option<MemoEntry>>>,
    /// Top-level fields of the current event that are read (so in the verdict key), and that
    /// a field scan searched for keyword needles.
    read: Vec<u64>,
    covered: Vec<u64>,
    /// The current event's verdict keys: the values read, tagged, end to end; and the same
    /// with what the scans found in place of the values of fields that enter by it.
    key: Key,
    found_key: Key,
    /// Verdict table per class and key, allocated on first use.
    verdicts: Vec<Table<Verdict>>,
    /// Tables that asked to grow, grown before the next event: until then slots handed out for
    /// the current one stay valid.
    growing: Vec<Growing>,
    /// Where the current event's verdict goes once evaluated, per key.
    unsettled: [Option<Place>; 2],
    /// Memo lookups that hit and missed, for the benchmark's figures.
    pub(super) memo_hits: u64,
    pub(super) memo_misses: u64,
    /// Verdicts found (by either key; by the second only in `found_hits`), and events
    /// evaluated that could have been.
    pub(super) verdict_hits: u64,
    pub(super) found_hits: u64,
    pub(super) verdict_misses: u64,
}

/// Where a verdict is known: in a slot of the session's own table, or in the engine's shared one.
#[derive(Clone, Copy, Debug)]
enum Known<'e> {
    Own(usize),
    Shared(&'e [RuleIndex]),
}

/// Where an evaluated verdict goes: (table, slot, hash) in the session's own verdict tables or
/// in the engine's shared ones.
#[derive(Clone, Copy, Debug)]
enum Place {
    Own(usize, usize, u64),
    Shared(usize, usize, u64),
}

/// The verdict tables every session of an engine shares, one per class and key (numbered as
/// the sessions' own): a verdict is a function of the key alone, so what one session (or
/// thread) learns every other may use. A session's own tables take what the shared ones have no
/// room for, and evict.
#[derive(Debug)]
pub(super) struct SharedVerdicts(Box<[Shared<SharedVerdict>]>);

/// A verdict in a [`SharedVerdicts`] table: the key and the rules that matched (its hash is
/// the slot's).
#[derive(Debug)]
struct SharedVerdict {
    key: Box<[u8]>,
    rules: Box<[RuleIndex]>,
}

impl SharedVerdicts {
    /// `tables` empty tables, allocated once they are wanted ([`SHARED_AFTER`]).
    pub(super) fn new(tables: usize) -> SharedVerdicts {
        SharedVerdicts(
            (0..tables)
                .map(|_| Shared::new(SHARED_VERDICTS, VERDICTS.budget, SHARED_AFTER))
                .collect(),
        )
    }
}

/// A table to grow: a memo table, or a verdict table (by index in [`ScanState`]).
#[derive(Clone, Copy, Debug)]
enum Growing {
    Memo(usize),
    Verdicts(usize),
}

impl ScanState {
    /// The slots of the largest memo table and of the largest verdict table.
    pub(super) fn table_slots(&self) -> (usize, usize) {
        (
            self.memo.iter().map(Table::len).max().unwrap_or(0),
            self.verdicts.iter().map(Table::len).max().unwrap_or(0),
        )
    }

    /// Grows the tables that asked to, once nothing refers to their slots.
    fn grow_tables(&mut self) {
        for growing in self.growing.drain(..) {
            match growing {
                Growing::Memo(table) => self.memo[table].grow(),
                Growing::Verdicts(table) => self.verdicts[table].grow(),
            }
        }
    }

    /// Remembers `rules` as the verdict for `key` at `place`.
    fn store_verdict(
        verdicts: &mut [Table<Verdict>],
        shared: Option<&SharedVerdicts>,
        growing: &mut Vec<Growing>,
        place: Place,
        key: &[u8],
        rules: &[RuleIndex],
    ) {
        match place {
            Place::Own(table, slot, hash) => {
                if verdicts[table].store(slot, |verdict| verdict.store(hash, key, rules)) {
                    growing.push(Growing::Verdicts(table));
                }
            }
            Place::Shared(table, slot, hash) => {
                if let Some(shared) = shared {
                    let verdict = SharedVerdict {
                        key: key.into(),
                        rules: rules.into(),
                    };
                    let bytes = key.len() + std::mem::size_of_val(rules);
                    shared.0[table].store(slot, hash, verdict, bytes);
                }
            }
        }
    }
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
    /// Every field the rules read, in key order, and how it enters the key.
    key: Vec<KeyPart>,
    /// The field scans not done while building the key.
    rest: Vec<usize>,
    /// The keyword scan's automaton (also part of every field scan's), when rules search
    /// keywords.
    keywords: Option<usize>,
    /// True when every field scan also finds the keyword needles (see `FOLDED_KEYWORDS_MAX`).
    keywords_folded: bool,
    /// Engine-wide index of this class's verdict tables (by value, then by what was found),
    /// when verdicts can be cached.
    verdicts: Option<usize>,
    /// True when some field enters the second key otherwise than by value.
    by_found: bool,
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
        // The operand that holds hits every one of its sets: for each choice of one set per
        // operand, their union is hit. The most selective choices are kept.
        Node::Or(items) => {
            let mut unions: Vec<Trigger> = vec![Vec::new()];
            for item in items {
                let sets = triggers(item, atoms);
                if let [set] = sets.as_slice() {
                    // Every union takes the one set, in place (the common list of values, whose
                    // union grows item by item): selectivities only fall to the set's, so the
                    // unions stay in order.
                    for union in &mut unions {
                        merge_set(union, set);
                    }
                    unions.dedup();
                    continue;
                }
                if sets.is_empty() {
                    return Vec::new();
                }
                let mut next: Vec<Trigger> = Vec::with_capacity(unions.len() * sets.len());
                for union in &unions {
                    for set in &sets {
                        let mut joined = union.clone();
                        merge_set(&mut joined, set);
                        next.push(joined);
                    }
                }
                next.sort_by_cached_key(|set| std::cmp::Reverse(set_selectivity(set, atoms)));
                next.dedup();
                next.truncate(MAX_TRIGGERS);
                unions = next;
            }
            unions
        }
    }
}

/// Merges the sorted set `set` into the sorted set `union`, without repeats.
fn merge_set(union: &mut Trigger, set: &[(u32, u8)]) {
    match (union.last(), set.first()) {
        (_, None) => {}
        (Some(last), Some(first)) if last >= first => {
            let mut merged = Vec::with_capacity(union.len() + set.len());
            let (mut a, mut b) = (union.iter().peekable(), set.iter().peekable());
            while let (Some(&&x), Some(&&y)) = (a.peek(), b.peek()) {
                merged.push(x.min(y));
                if x <= y {
                    a.next();
                }
                if y <= x {
                    b.next();
                }
            }
            merged.extend(a.chain(b));
            *union = merged;
        }
        _ => union.extend_from_slice(set),
    }
}

/// A rule's trigger sets: the [`MAX_TRIGGERS`] most selective, without repeats.
fn rule_triggers(node: &Node, atoms: &Atoms) -> Vec<Trigger> {
    let mut sets = triggers(node, atoms);
    for set in &mut sets {
        set.sort_unstable();
        set.dedup();
    }
    sets.sort_by_cached_key(|set| std::cmp::Reverse(set_selectivity(set, atoms)));
    sets.dedup();
    sets.truncate(MAX_TRIGGERS);
    sets
}

/// What a class's field scans look for: the atoms its rules use, the fields they read, and
/// per field the atoms of its automaton.
struct Plan {
    used: Vec<u32>,
    reads: Reads,
    /// `(field slot, or None for the keyword scan; atom ids)`.
    by_slot: Vec<(Option<usize>, Vec<u32>)>,
    /// True when the keyword needles ride along in every field's automaton.
    folded: bool,
}

impl Plan {
    fn new(rules: &[(RuleIndex, Arc<Node>)], atoms: &Atoms) -> Plan {
        // Every atom of every rule is scanned, so exact comparisons can answer from the scan.
        let mut used = Vec::new();
        let mut reads = Reads::default();
        for (_, node) in rules {
            expr::atoms_of(node, &mut used);
            reads.add(node);
        }
        used.sort_unstable();
        used.dedup();
        reads.finish();
        let keyword_atoms: Vec<u32> = used
            .iter()
            .copied()
            .filter(|&id| atoms.get(id).0.is_none())
            .collect();
        // One scan per field with needles (with the keyword needles), and one of the keyword
        // needles.
        let mut by_slot: Vec<(Option<usize>, Vec<u32>)> = reads
            .slots
            .iter()
            .map(|&slot| (Some(slot), Vec::new()))
            .collect();
        if !keyword_atoms.is_empty() {
            by_slot.push((None, Vec::new()));
        }
        for &id in &used {
            if let Some(slot) = atoms.get(id).0
                && let Some((_, ids)) = by_slot.iter_mut().find(|(s, _)| *s == Some(slot))
            {
                ids.push(id);
            }
        }
        // A few keyword needles ride along in every field's automaton, so that the fields read
        // need no second scan; many would multiply the automata (build time and memory), and
        // are then searched for in every value by the keyword scan alone.
        let folded = keyword_atoms.len() <= FOLDED_KEYWORDS_MAX;
        for (slot, ids) in &mut by_slot {
            if slot.is_none() || (folded && !ids.is_empty()) {
                ids.extend(&keyword_atoms);
            }
        }
        Plan {
            used,
            reads,
            by_slot,
            folded,
        }
    }
}

/// The patterns of an automaton over atoms `ids`: needles are lowercase already, and lowercasing
/// them again keeps the case-sensitive automaton exact should one ever not be.
fn patterns(ids: &[u32], atoms: &Atoms) -> Vec<String> {
    ids.iter()
        .map(|&id| atoms.get(id).1.to_ascii_lowercase())
        .collect()
}

/// Builds an automaton (see [`Automaton`]); `None` when it cannot be built.
fn automaton(patterns: &[String]) -> Option<Arc<Automaton>> {
    Automaton::build(patterns).map(Arc::new)
}

/// What a class's prefilter is built from: its [`Plan`], and per field scan of the plan the
/// automaton (`None` for a scan without needles, or when the automaton could not be built).
pub(super) struct Planned {
    plan: Plan,
    automata: Vec<Option<Arc<Automaton>>>,
}

/// Plans the prefilter of each class with rules (`classes`, by class; `None` for a class
/// without rules) and builds, in parallel, the automata they need: each distinct needle set
/// once, however many classes scan for it (building them is most of compiling the corpus).
pub(super) fn plan_classes(
    classes: &[Vec<(RuleIndex, Arc<Node>)>],
    atoms: &Atoms,
) -> Vec<Option<Planned>> {
    use rayon::prelude::*;
    // Each class's plan, with per scan the index of its needle set among the distinct ones.
    let mut sets: HashMap<Vec<String>, usize> = HashMap::new();
    let plans: Vec<Option<(Plan, Vec<Option<usize>>)>> = classes
        .iter()
        .map(|rules| {
            if rules.is_empty() {
                return None;
            }
            let plan = Plan::new(rules, atoms);
            let set_of_scan = plan
                .by_slot
                .iter()
                .map(|(_, ids)| {
                    let next = sets.len();
                    (!ids.is_empty()).then(|| *sets.entry(patterns(ids, atoms)).or_insert(next))
                })
                .collect();
            Some((plan, set_of_scan))
        })
        .collect();
    let mut sets: Vec<(Vec<String>, usize)> = sets.into_iter().collect();
    sets.sort_unstable_by_key(|&(_, index)| index);
    let built: Vec<Option<Arc<Automaton>>> = sets
        .into_par_iter()
        .map(|(patterns, _)| automaton(&patterns))
        .collect();
    plans
        .into_iter()
        .map(|planned| {
            let (plan, set_of_scan) = planned?;
            let automata = set_of_scan
                .into_iter()
                .map(|set| set.and_then(|i| built[i].clone()))
                .collect();
            Some(Planned { plan, automata })
        })
        .collect()
}

impl Prefilter {
    /// The prefilter of a class whose rules (by position) are `rules`, as [`plan_classes`]
    /// planned it; every atom of their nodes is in `atoms`.
    /// `memos` counts memo tables engine-wide, `verdicts` verdict tables; this prefilter's
    /// take the next ones.
    pub(super) fn build(
        rules: &[(RuleIndex, Arc<Node>)],
        planned: Planned,
        atoms: &Atoms,
        memos: &mut usize,
        verdicts: &mut usize,
    ) -> Prefilter {
        let Planned {
            plan:
                Plan {
                    used,
                    reads,
                    by_slot,
                    folded,
                },
            automata,
        } = planned;
        let mut scans = Vec::new();
        let mut unscanned = Vec::new();
        let mut keywords = None;
        for ((slot, ids), built) in by_slot.into_iter().zip(automata) {
            if ids.is_empty() {
                continue;
            }
            let Some(ac) = built else {
                unscanned.extend(ids);
                continue;
            };
            let numbers = ids.iter().any(|&id| {
                let needle = atoms.get(id).1;
                needle
                    .chars()
                    .all(|c| c.is_ascii_digit() || "-+.einfa".contains(c))
            });
            if slot.is_none() {
                keywords = Some(scans.len());
            }
            let starts = start_bytes(ids.iter().map(|&id| atoms.get(id).1));
            let starts_unfoldable = starts.as_ref().is_some_and(|s| {
                s.bytes()
                    .iter()
                    .all(|b| b.is_ascii() && !b"iIkK".contains(b))
            });
            let mut keyword_atoms: Vec<u32> = ids
                .iter()
                .copied()
                .filter(|&id| atoms.get(id).0.is_none())
                .collect();
            keyword_atoms.sort_unstable();
            scans.push(FieldScan {
                slot,
                ac,
                atoms: ids,
                keyword_atoms: keyword_atoms.into(),
                keyed: false,
                checks: Box::default(),
                memo: *memos,
                numbers,
                starts,
                starts_unfoldable,
            });
            *memos += 1;
        }
        // Verdicts are cached unless a keyword search without a needle reads every value, or an
        // automaton could not be built (its rules are then evaluated on every event anyway).
        let cached = !reads.opaque && unscanned.is_empty();
        let verdict_table = cached.then(|| {
            *verdicts += 2;
            *verdicts - 2
        });

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
        // A field enters the second key by what its scan found when that is all its comparisons
        // ask, up to a few the scan does not answer, worked out once per text (keyword searches
        // included: their needles are then in every field scan, and a field holding one enters
        // by value); by presence when they ask only that.
        let by_scan = keywords.is_none() || folded;
        let mut checks = HashMap::new();
        for (_, node) in rules {
            field_checks(node, &mut checks);
        }
        let key: Vec<KeyPart> = reads
            .slots
            .iter()
            .map(|&slot| {
                let scan = scans.iter().position(|scan| scan.slot == Some(slot));
                let checks = checks.get(&slot).and_then(Option::as_ref);
                match scan {
                    _ if !by_scan || checks.is_none_or(|c| c.len() > CHECKS_MAX) => {
                        KeyPart::Value(slot)
                    }
                    Some(scan) => KeyPart::Found(slot, scan),
                    None if checks.is_some_and(|c| !c.is_empty()) => KeyPart::Value(slot),
                    None if keywords.is_none() => KeyPart::Presence(slot),
                    None => KeyPart::Value(slot),
                }
            })
            .collect();
        for part in &key {
            if let KeyPart::Found(slot, scan) = *part {
                scans[scan].keyed = true;
                if let Some(Some(list)) = checks.remove(&slot) {
                    scans[scan].checks = list.into();
                }
            }
        }
        let by_found = key.iter().any(|part| !matches!(part, KeyPart::Value(_)));
        let rest = (0..scans.len())
            .filter(|&i| {
                scans[i].slot.is_some()
                    && !key
                        .iter()
                        .any(|part| matches!(part, KeyPart::Found(_, scan) if *scan == i))
            })
            .collect();
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
            key,
            rest,
            keywords,
            keywords_folded: keywords.is_some() && folded,
            verdicts: verdict_table,
            by_found,
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

    /// Scans the event in `ctx`. When the session has seen the values the class's rules read
    /// before, returns the rules that matched then; otherwise records the event's atoms in the
    /// context's scratch and sets in `marks` (cleared to one bit per rule position) the rules
    /// worth evaluating, whose verdict then goes to [`Prefilter::settle`].
    pub(super) fn scan<'s>(
        &self,
        ctx: &mut Ctx<'_>,
        state: &'s mut ScanState,
        shared: Option<&'s SharedVerdicts>,
        marks: &mut Vec<u64>,
    ) -> Option<&'s [RuleIndex]> {
        state.unsettled = [None, None];
        // Before the first read of the event: its cache misses overlap.
        touch(ctx.event);
        state.unrecorded.clear();
        if !state.growing.is_empty() {
            state.grow_tables();
        }
        let words = ctx.event.fields.len().div_ceil(64);
        state.read.clear();
        state.read.resize(words, 0);
        // The first key: every value read, tagged, end to end.
        let mut cacheable = self.verdicts.is_some();
        state.key.clear();
        // The positions read below 64 (nearly all of them), kept in a register.
        let mut low = 0u64;
        for &part in &self.key {
            let (KeyPart::Value(slot) | KeyPart::Found(slot, _) | KeyPart::Presence(slot)) = part;
            let (value, at) = ctx.peek(slot);
            cacheable &= state.key.value(value);
            match at {
                Some(at) if at < 64 => low |= 1 << at,
                Some(at) => state.read[at / 64] |= 1 << (at % 64),
                None => {}
            }
        }
        if let Some(first) = state.read.first_mut() {
            *first |= low;
        }
        cacheable &= state.key.fits;
        // Keyword needles outside the fields read: the keys do not cover them.
        if let Some(keywords) = self.keywords {
            let scan = &self.scans[keywords];
            let hits = &mut ctx.scratch.atoms;
            let mut found = false;
            let fields = &ctx.event.fields;
            let read = std::mem::take(&mut state.read);
            for at in unset_bits(&read, fields.len()) {
                if let Some((_, value)) = fields.get_index(at)
                    && !scan.surely_misses(value)
                {
                    found |= scan_leaves(scan, value, state, hits);
                }
            }
            state.read = read;
            cacheable &= !found;
        }
        let table = self.verdicts.filter(|_| cacheable);
        if let Some(table) = table
            && let Some(known) = state.lookup(shared, table, false)
        {
            return Some(match known {
                Known::Own(slot) => &state.verdicts[table].get(slot).rules,
                Known::Shared(rules) => rules,
            });
        }

        // The scans of fields in the second key by what they found, through the memo.
        state.covered.clear();
        state.covered.resize(words, 0);
        state.found_key.clear();
        for &part in &self.key {
            let (KeyPart::Value(slot) | KeyPart::Found(slot, _) | KeyPart::Presence(slot)) = part;
            // Where the first pass found it: no name is hashed again.
            let (value, at) = ctx.value_at(slot);
            match part {
                KeyPart::Value(_) => {
                    state.found_key.value(value);
                }
                KeyPart::Presence(_) => state.found_key.put(
                    [match value {
                        None => 0,
                        Some(Value::Null) => 1,
                        Some(_) => 7,
                    }],
                    &[],
                ),
                KeyPart::Found(_, scan) => {
                    let scan = &self.scans[scan];
                    let memo_slot = self.scan_field(scan, value, at, state, &mut ctx.scratch.atoms);
                    // Its atoms are recorded only if the verdict is not known.
                    if let Some(at) = memo_slot {
                        state.unrecorded.push((scan.memo, at));
                    }
                    let entry = memo_slot.and_then(|at| state.memo[scan.memo].get(at).as_ref());
                    match entry {
                        // A keyword needle: keyword searches read the value.
                        Some(entry) if !entry.keyword => state.found_key.found(entry),
                        _ => {
                            state.found_key.value(value);
                        }
                    }
                }
            }
        }
        if let Some(table) = table
            && self.by_found
            && let Some(known) = state.lookup(shared, table + 1, true)
        {
            state.found_hits += 1;
            // Known by what was found: remembered by value too.
            let ScanState {
                verdicts,
                unsettled,
                key,
                growing,
                ..
            } = state;
            // The session's own tables may not be allocated yet (their numbers are the shared
            // ones'): the split needs their places.
            if verdicts.len() < table + 2 {
                verdicts.resize_with(table + 2, Table::default);
            }
            let (by_value, by_found) = verdicts.split_at_mut(table + 1);
            let rules = match known {
                Known::Own(slot) => &by_found[0].get(slot).rules,
                Known::Shared(rules) => rules,
            };
            if let Some(place) = unsettled[0].take()
                && let Some(key) = key.get()
            {
                ScanState::store_verdict(by_value, shared, growing, place, key, rules);
            }
            return Some(rules);
        }
        if table.is_some() {
            state.verdict_misses += 1;
        }
        let hits = &mut ctx.scratch.atoms;
        for (memo, at) in state.unrecorded.drain(..) {
            if let Some(entry) = state.memo[memo].get(at) {
                record(&entry.found, hits);
            }
        }
        // The scans of fields in the key by value.
        for &scan in &self.rest {
            let scan = &self.scans[scan];
            let Some(slot) = scan.slot else { continue };
            let (value, at) = ctx.value_at(slot);
            let hits = &mut ctx.scratch.atoms;
            if let Some(at) = self.scan_field(scan, value, at, state, hits)
                && let Some(entry) = state.memo[scan.memo].get(at)
            {
                record(&entry.found, hits);
            }
        }
        let hits = &mut ctx.scratch.atoms;
        // Keyword needles in the fields read that no field scan searched for them.
        if let Some(keywords) = self.keywords {
            let scan = &self.scans[keywords];
            for (at, value) in ctx.event.fields.values().enumerate() {
                let (word, bit) = (at / 64, 1 << (at % 64));
                if state.read[word] & bit != 0 && state.covered[word] & bit == 0 {
                    scan_leaves(scan, value, state, hits);
                }
            }
        }
        // One bit per rule position, set only on this path: a known verdict needs none.
        marks.clear();
        marks.resize(self.others.len().div_ceil(64), 0);
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
        None
    }

    /// Records the verdict of the event last scanned, when it can be cached: the rules that
    /// matched, sorted, under both keys.
    pub(super) fn settle(
        &self,
        state: &mut ScanState,
        shared: Option<&SharedVerdicts>,
        matched: &[RuleIndex],
    ) {
        let ScanState {
            verdicts,
            unsettled,
            key,
            found_key,
            growing,
            ..
        } = state;
        for (place, key) in unsettled.iter_mut().zip([key, found_key]) {
            if let Some(place) = place.take()
                && let Some(key) = key.get()
            {
                ScanState::store_verdict(verdicts, shared, growing, place, key, matched);
            }
        }
    }

    /// Scans one field's value, through the memo when it is a text short enough (returning the
    /// memo slot, whose atoms the caller records), or directly (recording its atoms); and notes
    /// when the keyword needles rode along.
    fn scan_field(
        &self,
        scan: &FieldScan,
        value: Option<&Value>,
        at: Option<usize>,
        state: &mut ScanState,
        hits: &mut AtomHits,
    ) -> Option<usize> {
        let value = value?;
        if self.keywords_folded
            && !matches!(value, Value::List(_) | Value::Map(_))
            && let Some(at) = at
        {
            state.covered[at / 64] |= 1 << (at % 64);
        }
        match value {
            Value::String(text) if text.len() <= MEMO_MAX_LEN => {
                Some(self.memoised(scan, text, state))
            }
            value => {
                scan_value(&scan.ac, scan, value, state, hits);
                None
            }
        }
    }

    /// Looks `text` up in the scan's memo, scanning it on a miss, and returns its slot in the
    /// scan's memo table.
    fn memoised(&self, scan: &FieldScan, text: &str, state: &mut ScanState) -> usize {
        let hash = crate::hash::text_hash(text.as_bytes());
        let table = cache::allocated(&mut state.memo, scan.memo, MEMO);
        let index = match table.find(hash, |entry| {
            entry.as_ref().is_some_and(|e| *e.text == *text)
        }) {
            Ok(index) => {
                state.memo_hits += 1;
                return index;
            }
            Err(index) => index,
        };
        state.memo_misses += 1;
        let mut found = std::mem::take(&mut state.found);
        scan_folded(&scan.ac, scan, text, &mut state.buffer, &mut found);
        // Each atom once, with all its flags, by id, for a key: texts holding the same needles
        // in the same places then have the same entry.
        if scan.keyed {
            found.sort_unstable_by_key(|&(id, _)| id);
            found.dedup_by(|later, first| {
                let same = later.0 == first.0;
                if same {
                    first.1 |= later.1;
                }
                same
            });
        }
        let keyword = found
            .iter()
            .any(|(id, _)| scan.keyword_atoms.binary_search(id).is_ok());
        let mut checks = 0u16;
        for (at, (atom, check)) in scan.checks.iter().enumerate() {
            // Without its needle a comparison is false: the scan just said whether it occurred.
            let needed = atom.is_none_or(|atom| {
                found
                    .binary_search_by_key(&atom.id, |&(id, _)| id)
                    .is_ok_and(|i| found[i].1 & atom.need != 0)
            });
            if needed && check.on_text(text) {
                checks |= 1 << at;
            }
        }
        let grow = state.memo[scan.memo].store(index, |entry| {
            *entry = Some(MemoEntry {
                hash,
                text: text.into(),
                found: found.as_slice().into(),
                keyword,
                checks,
            });
        });
        if grow {
            state.growing.push(Growing::Memo(scan.memo));
        }
        state.found = found;
        index
    }
}

/// Loads every cache line of `event`'s entries and the first byte of each of its texts, before
/// anything reads them.
///
/// An event's entries and texts are separate allocations; read in the order the key and the
/// scans need them, each cache miss waited for the one before (an entry, then its text). These
/// loads depend on nothing but their entry, so the misses of a whole event overlap: on the
/// bench's cycled pool of 50,000 events, which comes from main memory, twice as many events per
/// second (medians of alternating runs), with events in cache no slower.
///
/// Entries are at most 64 bytes each (asserted below), one after another, so any 64 bytes of
/// them hold at least one value's tag: loading the tags reaches every line but the one before
/// the first, which the first name's length reaches. Names themselves are not read (a name's bytes cost a branch on
/// how it is held; under callgrind, half of this function's instructions).
#[inline(never)]
fn touch(event: &Event) {
    const _: () = assert!(std::mem::size_of::<(u64, crate::event::Name, Value)>() <= 64);
    let mut sum = event.fields.first().map_or(0, |(name, _)| name.len() as u8);
    for value in event.fields.values() {
        sum ^= match value {
            Value::String(text) => text.as_bytes().first().copied().unwrap_or(0),
            _ => 1,
        };
    }
    std::hint::black_box(sum);
}

/// The positions below `len` whose bits are clear in `set` (one bit per position, 64 a word),
/// in order.
fn unset_bits(set: &[u64], len: usize) -> impl Iterator<Item = usize> + '_ {
    set.iter().enumerate().flat_map(move |(w, &word)| {
        let below = len.saturating_sub(w * 64);
        let mask = if below >= 64 {
            u64::MAX
        } else {
            (1u64 << below) - 1
        };
        let mut clear = !word & mask;
        std::iter::from_fn(move || {
            (clear != 0).then(|| {
                let bit = clear.trailing_zeros() as usize;
                clear &= clear - 1;
                w * 64 + bit
            })
        })
    })
}

/// Per field slot, what its comparisons ask beyond what its scan answers (exact needles,
/// presence, null): the comparisons reading only the field's text, or `None` when some reads
/// more (a field reference, a number).
fn field_checks(node: &Node, out: &mut HashMap<usize, Option<Vec<Check>>>) {
    match node {
        Node::Const(_) => {}
        Node::And(items) | Node::Or(items) => items.iter().for_each(|n| field_checks(n, out)),
        Node::Not(inner) | Node::Group(_, inner) => field_checks(inner, out),
        Node::Cmp { atom, cmp } => {
            if let Matcher::FieldRef(other, ..) = cmp.matcher {
                out.insert(other, None);
            }
            let Some(slot) = cmp.slot else { return };
            let entry = out.entry(slot).or_insert_with(|| Some(Vec::new()));
            let answered = atom.is_some_and(|a| a.exact)
                || matches!(
                    cmp.matcher,
                    Matcher::Exists(_) | Matcher::Null | Matcher::Never(_)
                );
            match entry {
                _ if answered => {}
                Some(list) if cmp.matcher.reads_own_text() => {
                    list.push((*atom, cmp.matcher.clone()));
                }
                _ => *entry = None,
            }
        }
    }
}

/// Scans a value that is not memoised the way text comparisons read it: scalars by their
/// text, lists item by item, maps and nulls not at all; records its atoms in `hits` and says
/// whether there were any.
fn scan_value(
    ac: &Automaton,
    scan: &FieldScan,
    value: &Value,
    state: &mut ScanState,
    hits: &mut AtomHits,
) -> bool {
    let text: &str = match value {
        Value::Null | Value::Map(_) => return false,
        Value::List(items) => {
            return items.iter().fold(false, |found, item| {
                scan_value(ac, scan, item, state, hits) | found
            });
        }
        Value::String(text) => text,
        Value::Bool(b) => {
            if *b {
                "true"
            } else {
                "false"
            }
        }
        Value::Int(_) | Value::Float(_) if !scan.numbers => return false,
        Value::Int(_) | Value::Float(_) => {
            let mut number = std::mem::take(&mut state.number);
            number.clear();
            push_number(value, &mut number);
            number.make_ascii_lowercase();
            let mut found = std::mem::take(&mut state.found);
            scan_text(ac, scan, &number, &mut found);
            record(&found, hits);
            let any = !found.is_empty();
            state.found = found;
            state.number = number;
            return any;
        }
    };
    let mut found = std::mem::take(&mut state.found);
    scan_folded(ac, scan, text, &mut state.buffer, &mut found);
    record(&found, hits);
    let any = !found.is_empty();
    state.found = found;
    any
}

/// Records found atoms.
fn record(found: &[(u32, u8)], hits: &mut AtomHits) {
    for &(id, flags) in found {
        hits.record(id, flags);
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

/// Scans every leaf under `value` for keyword needles, as keyword searches read them, and says
/// whether any occurred; most values hold none, which a quick check tells before the
/// overlapping search runs.
fn scan_leaves(
    scan: &FieldScan,
    value: &Value,
    state: &mut ScanState,
    hits: &mut AtomHits,
) -> bool {
    match value {
        Value::List(items) => items.iter().fold(false, |found, item| {
            scan_leaves(scan, item, state, hits) | found
        }),
        Value::Map(map) => map.values().fold(false, |found, item| {
            scan_leaves(scan, item, state, hits) | found
        }),
        Value::String(text) if !scan.may_hold(text, &mut state.buffer) => false,
        scalar => scan_value(&scan.ac, scan, scalar, state, hits),
    }
}

/// Scans one text after folding it as comparisons fold it ([`push_lower`]) into `found`.
fn scan_folded(
    ac: &Automaton,
    scan: &FieldScan,
    text: &str,
    buffer: &mut String,
    found: &mut Vec<(u32, u8)>,
) {
    buffer.clear();
    push_lower(buffer, text);
    scan_text(ac, scan, buffer, found);
}

/// Scans an already folded text into `found` (cleared first).
fn scan_text(ac: &Automaton, scan: &FieldScan, text: &str, found: &mut Vec<(u32, u8)>) {
    found.clear();
    ac.occurrences(text.as_bytes(), |pattern, flags| {
        found.push((scan.atoms[pattern], flags));
        true
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{Expr, FieldTable, HIT_ANY, Op, RegexCache, assign_atoms};

    #[test]
    fn a_key_is_its_values_in_order_and_none_when_they_do_not_fit() {
        let mut key = Key::default();
        key.clear();
        let text = Value::from("powershell.exe");
        assert!(key.value(Some(&text)));
        assert!(key.value(None));
        assert!(key.value(Some(&Value::Int(7))));
        assert!(!key.value(Some(&Value::List(Vec::new()))));
        let mut expected = vec![2, 14, 0, 0, 0];
        expected.extend_from_slice(b"powershell.exe");
        expected.push(0);
        expected.push(3);
        expected.extend_from_slice(&7i64.to_le_bytes());
        assert_eq!(key.get(), Some(&expected[..]));
        // A text as long as the buffer leaves no room for its tag.
        let long = Value::from("x".repeat(VERDICT_KEY_MAX));
        key.value(Some(&long));
        assert_eq!(key.get(), None);
        key.clear();
        assert_eq!(key.get(), Some(&[][..]));
    }

    fn compiled(expr: &Expr, atoms: &mut Atoms) -> Node {
        let mut node = expr::compile_node(
            expr.clone(),
            &mut FieldTable::default(),
            &mut RegexCache::default(),
        )
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
    fn a_disjunction_needs_one_set_of_each_alternative_for_every_choice() {
        // (Image ends with \\x.exe and CommandLine contains -enc) or CommandLine contains
        // .ps1: whichever alternative holds hits all its sets, so both unions are needed.
        let expr = Expr::Or(vec![
            Expr::And(vec![
                Expr::field("Image", Op::EndsWith("\\x.exe".into())),
                Expr::field("CommandLine", Op::Contains("-enc".into())),
            ]),
            Expr::field("CommandLine", Op::Contains(".ps1".into())),
        ]);
        let mut atoms = Atoms::default();
        let node = compiled(&expr, &mut atoms);
        let mut named: Vec<Vec<&str>> = rule_triggers(&node, &atoms)
            .iter()
            .map(|set| set.iter().map(|&(id, _)| atoms.get(id).1).collect())
            .collect();
        for set in &mut named {
            set.sort_unstable();
        }
        named.sort();
        assert_eq!(named, vec![vec!["-enc", ".ps1"], vec![".ps1", "\\x.exe"]]);
    }

    #[test]
    fn merging_trigger_sets_keeps_them_sorted_without_repeats() {
        let mut union = vec![(1, HIT_ANY), (4, HIT_ANY)];
        merge_set(&mut union, &[(5, HIT_ANY), (9, HIT_ANY)]);
        assert_eq!(
            union,
            [(1, HIT_ANY), (4, HIT_ANY), (5, HIT_ANY), (9, HIT_ANY)]
        );
        merge_set(
            &mut union,
            &[
                (0, HIT_ANY),
                (4, HIT_ANY),
                (4, expr::HIT_SUFFIX),
                (7, HIT_ANY),
            ],
        );
        assert_eq!(
            union,
            [
                (0, HIT_ANY),
                (1, HIT_ANY),
                (4, HIT_ANY),
                (4, expr::HIT_SUFFIX),
                (5, HIT_ANY),
                (7, HIT_ANY),
                (9, HIT_ANY)
            ]
        );
        merge_set(&mut union, &[]);
        assert_eq!(union.len(), 7);
        let mut empty = Vec::new();
        merge_set(&mut empty, &[(3, HIT_ANY)]);
        assert_eq!(empty, [(3, HIT_ANY)]);
    }

    #[test]
    fn a_long_list_of_values_is_one_trigger_set_of_all_its_needles() {
        let values: Vec<Expr> = (0..200)
            .map(|i| Expr::field("CommandLine", Op::Contains(format!("needle{i}"))))
            .collect();
        let mut atoms = Atoms::default();
        let node = compiled(&Expr::Or(values), &mut atoms);
        let sets = rule_triggers(&node, &atoms);
        assert_eq!(sets.len(), 1);
        assert_eq!(sets[0].len(), 200);
        assert!(sets[0].windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn unset_bits_are_the_positions_below_the_length_not_in_the_set() {
        let set = [0b1011u64, u64::MAX ^ (1 << 63), 0];
        let all = |len| unset_bits(&set, len).collect::<Vec<_>>();
        assert_eq!(all(0), Vec::<usize>::new());
        assert_eq!(all(3), vec![2]);
        assert_eq!(all(64), (2..64).filter(|&i| i != 3).collect::<Vec<_>>());
        assert_eq!(all(130)[61..], [127, 128, 129]);
        assert_eq!(all(128).len(), 62);
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

//! Multi-needle search for the prefilter: which needles of a set occur in a folded text, and
//! whether at its start, at its end or as the whole text ([`hit_flags`]).
//!
//! Needles of two bytes or more go to an Aho-Corasick automaton: a DFA when the set is small
//! (fast to scan, cheap to build), a contiguous NFA otherwise. It is built case-sensitive over
//! lowercase needles and run over lowercased text ([`crate::expr::push_lower`]): folding the text
//! costs a pass over each new text, while matching ASCII case insensitively doubles the
//! transitions on letters, and building the corpus's largest automata (5,254 hash needles,
//! 10,947 command-line needles) took 2.8 times as long. The search walks the automaton's states
//! itself: reporting the many overlapping occurrences in a command line through the crate's
//! iterator cost 1.4-1.5 times the walk.
//!
//! Needles of one byte (a backslash, a space, a digit: the literal a regex or a glob keeps can
//! be that short) are left out of the automaton. They occur all through a command line: on the
//! bench they were 60% of the occurrences the automaton reported, each a callback and an entry
//! in what a scan found, though a needle's flags are settled by its first occurrence, the first
//! byte and the last. One pass over the text marks the bytes it holds instead.

use crate::expr::{HIT_ANY, HIT_PREFIX, HIT_SUFFIX, HIT_WHOLE, hit_flags};
use aho_corasick::{Anchored, MatchKind, dfa, nfa};

/// Automata with at most this many needles are DFAs.
const DFA_NEEDLES_MAX: usize = 300;

/// A multi-needle searcher over lowercase needles (see the module documentation).
#[derive(Debug)]
pub(super) struct Automaton {
    /// The automaton of the needles of two bytes or more, when there are any.
    search: Option<Search>,
    /// The index among all the needles of each of the automaton's.
    searched: Box<[u32]>,
    /// The needles of one byte, with their indices among all the needles.
    bytes: Box<[(u8, u32)]>,
}

/// The automaton of the needles of two bytes or more.
#[derive(Debug)]
enum Search {
    Dfa(dfa::DFA),
    Nfa(nfa::contiguous::NFA),
}

impl Automaton {
    /// Builds the searcher of `patterns`; `None` when it cannot be built, or when a needle is
    /// empty (a comparison's needle never is: [`crate::expr::Matcher::needle`]).
    pub(super) fn build(patterns: &[String]) -> Option<Automaton> {
        if patterns.iter().any(String::is_empty) {
            return None;
        }
        let mut longer = Vec::new();
        let mut searched = Vec::new();
        let mut bytes = Vec::new();
        for (i, pattern) in patterns.iter().enumerate() {
            match *pattern.as_bytes() {
                [byte] => bytes.push((byte, i as u32)),
                _ => {
                    longer.push(pattern.as_str());
                    searched.push(i as u32);
                }
            }
        }
        let search = match longer.len() {
            0 => None,
            n if n <= DFA_NEEDLES_MAX => Some(Search::Dfa(
                dfa::DFA::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&longer)
                    .ok()?,
            )),
            _ => Some(Search::Nfa(
                nfa::contiguous::NFA::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&longer)
                    .ok()?,
            )),
        };
        Some(Automaton {
            search,
            searched: searched.into(),
            bytes: bytes.into(),
        })
    }

    /// Calls `found(pattern, flags)` for the needles that occur in `text` (folded): with the
    /// [`hit_flags`] of one of its occurrences, or of all of them together; a needle may be
    /// reported more than once, and the union of what was reported for it is exact. Stops early
    /// when `found` returns false.
    pub(super) fn occurrences(&self, text: &[u8], mut found: impl FnMut(usize, u8) -> bool) {
        if !self.bytes.is_empty() && !self.single_bytes(text, &mut found) {
            return;
        }
        let len = text.len();
        let mut report = |pattern: usize, start: usize, end: usize| {
            found(self.searched[pattern] as usize, hit_flags(start, end, len))
        };
        match &self.search {
            Some(Search::Dfa(dfa)) => walk(dfa, text, &mut report),
            Some(Search::Nfa(nfa)) => walk(nfa, text, &mut report),
            None => {}
        }
    }

    /// Reports the one-byte needles in `text`, each once; false when `found` asked to stop.
    fn single_bytes(&self, text: &[u8], found: &mut impl FnMut(usize, u8) -> bool) -> bool {
        let (Some(&first), Some(&last)) = (text.first(), text.last()) else {
            return true;
        };
        let mut held = [false; 256];
        for &byte in text {
            held[usize::from(byte)] = true;
        }
        for &(byte, pattern) in &self.bytes {
            if !held[usize::from(byte)] {
                continue;
            }
            let mut flags = HIT_ANY;
            if first == byte {
                flags |= HIT_PREFIX;
            }
            if last == byte {
                flags |= HIT_SUFFIX;
            }
            if text.len() == 1 {
                flags |= HIT_WHOLE;
            }
            if !found(pattern as usize, flags) {
                return false;
            }
        }
        true
    }

    /// True when some needle occurs in `text` (folded).
    pub(super) fn is_match(&self, text: &[u8]) -> bool {
        let mut any = false;
        self.occurrences(text, |_, _| {
            any = true;
            false
        });
        any
    }
}

/// One to three bytes searched for together (the bytes a set of needles starts with, in both
/// ASCII cases), in the short texts an event mostly holds: timestamps, GUIDs, host and channel
/// names. `memchr` pays for its dispatch and alignment on every call, which on such texts cost
/// more than the search (about 130 instructions a call on the bench's unread values); 16-byte
/// windows compile to a compare and a mask per window instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ByteSet {
    bytes: [u8; 3],
    len: u8,
}

impl ByteSet {
    /// The set of `bytes`; `None` unless there are one to three.
    pub(super) fn new(bytes: &[u8]) -> Option<ByteSet> {
        let len = u8::try_from(bytes.len())
            .ok()
            .filter(|n| (1..=3).contains(n))?;
        let mut set = [bytes[0]; 3];
        set[..bytes.len()].copy_from_slice(bytes);
        Some(ByteSet { bytes: set, len })
    }

    /// The bytes.
    pub(super) fn bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// True when one of the bytes occurs in `text`.
    #[inline(always)]
    pub(super) fn occurs_in(&self, text: &[u8]) -> bool {
        let [a, b, c] = self.bytes;
        match self.len {
            1 => occurs([a], text),
            2 => occurs([a, b], text),
            _ => occurs([a, b, c], text),
        }
    }
}

/// True when one of `set` occurs in `text`: 16-byte windows (the last one overlapping the one
/// before), two overlapping words under 16 bytes, bytes one by one under 8.
#[inline]
fn occurs<const N: usize>(set: [u8; N], text: &[u8]) -> bool {
    if let Some(last) = text.last_chunk::<16>() {
        let mut rest = text;
        while rest.len() > 16 {
            let Some((window, after)) = rest.split_first_chunk::<16>() else {
                break;
            };
            if window_holds(set, window) {
                return true;
            }
            rest = after;
        }
        return window_holds(set, last);
    }
    if let (Some(first), Some(last)) = (text.first_chunk::<8>(), text.last_chunk::<8>()) {
        let (first, last) = (u64::from_le_bytes(*first), u64::from_le_bytes(*last));
        return set
            .iter()
            .any(|&byte| word_holds(first, byte) || word_holds(last, byte));
    }
    text.iter().any(|byte| set.contains(byte))
}

/// True when one of `set` is in `window`; written without branches, so that it compiles to
/// vector compares.
#[inline]
fn window_holds<const N: usize>(set: [u8; N], window: &[u8; 16]) -> bool {
    let mut seen = 0u8;
    for &byte in window {
        for &wanted in &set {
            seen |= u8::from(byte == wanted);
        }
    }
    seen != 0
}

/// True when `byte` is one of the eight bytes of `word`: the bytes equal to it are the zero
/// bytes of `word ^ byte * 0x01..01`, and subtracting one from each byte borrows into the top
/// bit of a zero byte only (the test is exact as a whole, though not per byte).
#[inline]
fn word_holds(word: u64, byte: u8) -> bool {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let x = word ^ (u64::from(byte) * LOW);
    x.wrapping_sub(LOW) & !x & HIGH != 0
}

/// Walks `automaton` over `text`, calling `found(pattern, start, end)` for every occurrence,
/// until it returns false.
fn walk(
    automaton: &impl aho_corasick::automaton::Automaton,
    text: &[u8],
    found: &mut impl FnMut(usize, usize, usize) -> bool,
) {
    let Ok(mut state) = automaton.start_state(Anchored::No) else {
        return;
    };
    for (at, &byte) in text.iter().enumerate() {
        state = automaton.next_state(Anchored::No, state, byte);
        if !automaton.is_special(state) {
            continue;
        }
        if automaton.is_dead(state) {
            return;
        }
        if automaton.is_match(state) {
            for k in 0..automaton.match_len(state) {
                let pattern = automaton.match_pattern(state, k);
                let end = at + 1;
                if !found(
                    pattern.as_usize(),
                    end - automaton.pattern_len(pattern),
                    end,
                ) {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::AhoCorasick;
    use std::collections::BTreeMap;

    /// A small deterministic generator (xorshift), so that failures reproduce.
    struct Random(u64);

    impl Random {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }

        /// A text over a small alphabet, so that needles overlap and recur, with a character of
        /// two bytes now and then.
        fn text(&mut self, len: usize) -> String {
            const LETTERS: [&str; 7] = ["a", "b", "\\", ".", " ", "e", "ж"];
            (0..len)
                .map(|_| LETTERS[self.below(LETTERS.len())])
                .collect()
        }
    }

    /// Per needle found, the union of the flags reported for it.
    fn found(automaton: &Automaton, text: &str) -> BTreeMap<usize, u8> {
        let mut out = BTreeMap::new();
        automaton.occurrences(text.as_bytes(), |pattern, flags| {
            *out.entry(pattern).or_default() |= flags;
            true
        });
        out
    }

    /// The same from every occurrence an overlapping Aho-Corasick search finds.
    fn expected(needles: &[String], text: &str) -> BTreeMap<usize, u8> {
        let mut out = BTreeMap::new();
        for m in AhoCorasick::new(needles)
            .unwrap()
            .find_overlapping_iter(text)
        {
            *out.entry(m.pattern().as_usize()).or_default() |=
                hit_flags(m.start(), m.end(), text.len());
        }
        out
    }

    #[test]
    fn every_needle_is_found_with_the_flags_of_all_its_occurrences() {
        let mut random = Random(0x2545_f491_4f6c_dd1d);
        // Small sets (a DFA) and large ones (an NFA), with one-byte needles and repeats.
        for size in [5, 40, DFA_NEEDLES_MAX + 40] {
            for _ in 0..10 {
                let needles: Vec<String> = (0..size)
                    .map(|_| {
                        let len = 1 + random.below(6);
                        random.text(len)
                    })
                    .collect();
                let automaton = Automaton::build(&needles).unwrap();
                for _ in 0..40 {
                    let len = random.below(60);
                    let mut text = random.text(len);
                    // Needles at the start and at the end of a text, and as the whole text.
                    let needle = needles[random.below(needles.len())].clone();
                    match random.below(3) {
                        0 => text.insert_str(0, &needle),
                        1 => text.push_str(&needle),
                        _ => text = needle,
                    }
                    assert_eq!(
                        found(&automaton, &text),
                        expected(&needles, &text),
                        "{text:?} in {needles:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn one_byte_needles_have_their_place_flags() {
        let needles: Vec<String> = ["\\", "e", "x", "cmd"].map(String::from).to_vec();
        let automaton = Automaton::build(&needles).unwrap();
        let all = HIT_ANY | HIT_PREFIX | HIT_SUFFIX | HIT_WHOLE;
        assert_eq!(found(&automaton, "\\"), BTreeMap::from([(0, all)]));
        assert_eq!(
            found(&automaton, "\\cmd.exe"),
            BTreeMap::from([
                (0, HIT_ANY | HIT_PREFIX),
                (1, HIT_ANY | HIT_SUFFIX),
                (2, HIT_ANY),
                (3, HIT_ANY)
            ])
        );
        assert!(found(&automaton, "").is_empty());
    }

    #[test]
    fn a_search_stops_when_asked_and_empty_needles_are_refused() {
        let needles: Vec<String> = ["a", "bc", "de"].map(String::from).to_vec();
        let automaton = Automaton::build(&needles).unwrap();
        assert!(automaton.is_match(b"xxdexx"));
        assert!(automaton.is_match(b"xxaxx"));
        assert!(!automaton.is_match(b"xxcbxx"));
        let mut calls = 0;
        automaton.occurrences(b"a bc de", |_, _| {
            calls += 1;
            false
        });
        assert_eq!(calls, 1);
        assert!(Automaton::build(&["a".to_string(), String::new()]).is_none());
    }

    #[test]
    fn a_byte_set_is_found_at_every_place_in_texts_of_every_length() {
        let mut rng = Random(0x2545_f491_4f6c_dd1d);
        for set in [&b"\\"[..], b"pP", b"iI\x80", b"\xff", b"\x00\x01"] {
            let bytes = ByteSet::new(set).expect("one to three bytes");
            for len in 0..80 {
                // Texts of bytes outside the set (high ones too), then each place holding one.
                let filler: Vec<u8> = (0..len)
                    .map(|_| {
                        loop {
                            let byte = rng.below(256) as u8;
                            if !set.contains(&byte) {
                                break byte;
                            }
                        }
                    })
                    .collect();
                assert!(!bytes.occurs_in(&filler), "{set:?} in {filler:?}");
                for at in 0..len {
                    let mut text = filler.clone();
                    text[at] = set[rng.below(set.len())];
                    assert!(bytes.occurs_in(&text), "{set:?} at {at} of {len}");
                }
            }
        }
        assert_eq!(ByteSet::new(b""), None);
        assert_eq!(ByteSet::new(b"abcd"), None);
    }
}

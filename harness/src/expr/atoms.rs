//! Needle atoms: the lowercase literals of text comparisons, found once per event by a
//! multi-pattern scan, so comparisons answer from the scan instead of searching again.
//!
//! An atom is one `(field slot, lowercase needle)` pair. A scanner (the Sigma engine's prefilter)
//! records, per atom, where it occurred in the field's lowercase text: anywhere, at the start,
//! at the end, or as the whole text ([`HIT_ANY`] and friends). A case-insensitive `contains`,
//! `startswith`, `endswith` or equality comparison on a field is then *exactly* one flag test
//! ([`AtomRef::exact`]); other comparisons with a needle (globs, cased text, keywords) only learn
//! that their needle is necessary, which the prefilter uses to pick the rules worth evaluating.
//!
//! Invariant: [`AtomHits`] answers for an event only after the scanner has scanned every atom of
//! the rules it evaluates ([`AtomHits::complete`]); until then comparisons evaluate as usual,
//! which is also what explanations and every other engine do.

use super::matcher::{Matcher, TextKind};
use super::{Case, Node};
use std::collections::HashMap;

/// The needle occurs somewhere in the text.
pub const HIT_ANY: u8 = 1;
/// The needle starts the text.
pub const HIT_PREFIX: u8 = 2;
/// The needle ends the text.
pub const HIT_SUFFIX: u8 = 4;
/// The needle is the whole text.
pub const HIT_WHOLE: u8 = 8;

/// The flags one occurrence at `start..end` of a text `len` bytes long sets.
pub fn hit_flags(start: usize, end: usize, len: usize) -> u8 {
    let mut flags = HIT_ANY;
    if start == 0 {
        flags |= HIT_PREFIX;
    }
    if end == len {
        flags |= HIT_SUFFIX;
    }
    if start == 0 && end == len {
        flags |= HIT_WHOLE;
    }
    flags
}

/// A comparison's atom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AtomRef {
    /// The atom's id in its [`Atoms`] table.
    pub id: u32,
    /// The flag an occurrence must have for the comparison to hold (for an exact atom), or that
    /// it needs at least (otherwise).
    pub need: u8,
    /// True when the comparison holds exactly when the flag is set.
    pub exact: bool,
}

/// Interned atoms: `(slot or None for every value, lowercase needle)`.
#[derive(Clone, Debug, Default)]
pub struct Atoms {
    index: HashMap<(Option<usize>, String), u32>,
    list: Vec<(Option<usize>, String)>,
}

impl Atoms {
    /// The id of `(slot, needle)`, adding it when new.
    pub fn intern(&mut self, slot: Option<usize>, needle: &str) -> u32 {
        if let Some(&id) = self.index.get(&(slot, needle.to_string())) {
            return id;
        }
        let id = u32::try_from(self.list.len()).unwrap_or(u32::MAX);
        self.list.push((slot, needle.to_string()));
        self.index.insert((slot, needle.to_string()), id);
        id
    }

    /// The slot and needle of atom `id`.
    pub fn get(&self, id: u32) -> (Option<usize>, &str) {
        let (slot, needle) = &self.list[id as usize];
        (*slot, needle)
    }

    /// How many atoms.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// Gives every comparison under `node` that has a needle its atom.
pub fn assign_atoms(node: &mut Node, atoms: &mut Atoms) {
    match node {
        Node::Const(_) => {}
        Node::And(items) | Node::Or(items) => items.iter_mut().for_each(|n| assign_atoms(n, atoms)),
        Node::Not(inner) | Node::Group(_, inner) => assign_atoms(inner, atoms),
        Node::Cmp { atom, cmp } => {
            let Some(needle) = cmp.matcher.needle() else {
                return;
            };
            let exact_need = match (&cmp.matcher, cmp.slot) {
                (
                    Matcher::Text {
                        kind,
                        case: Case::Insensitive,
                        ..
                    },
                    Some(_),
                ) => match kind {
                    TextKind::Contains => Some(HIT_ANY),
                    TextKind::StartsWith => Some(HIT_PREFIX),
                    TextKind::EndsWith => Some(HIT_SUFFIX),
                    TextKind::Equals => Some(HIT_WHOLE),
                    TextKind::TermHas => None,
                },
                _ => None,
            };
            *atom = Some(AtomRef {
                id: atoms.intern(cmp.slot, &needle),
                need: exact_need.unwrap_or(HIT_ANY),
                exact: exact_need.is_some(),
            });
        }
    }
}

/// Every atom under `node`.
pub fn atoms_of(node: &Node, out: &mut Vec<u32>) {
    match node {
        Node::Const(_) => {}
        Node::And(items) | Node::Or(items) => items.iter().for_each(|n| atoms_of(n, out)),
        Node::Not(inner) | Node::Group(_, inner) => atoms_of(inner, out),
        Node::Cmp { atom, .. } => out.extend(atom.map(|a| a.id)),
    }
}

/// Per-event occurrence flags of atoms, cleared in time proportional to what was set.
#[derive(Debug, Default)]
pub struct AtomHits {
    flags: Vec<u8>,
    touched: Vec<u32>,
    complete: bool,
}

impl AtomHits {
    /// Forgets the previous event's hits; comparisons evaluate as usual until
    /// [`AtomHits::complete`].
    pub fn clear(&mut self) {
        for &id in &self.touched {
            self.flags[id as usize] = 0;
        }
        self.touched.clear();
        self.complete = false;
    }

    /// Prepares for `atoms` atoms.
    pub fn reserve(&mut self, atoms: usize) {
        if self.flags.len() < atoms {
            self.flags.resize(atoms, 0);
        }
    }

    /// Records an occurrence of atom `id` with `flags`.
    #[inline]
    pub fn record(&mut self, id: u32, flags: u8) {
        let slot = &mut self.flags[id as usize];
        if *slot == 0 {
            self.touched.push(id);
        }
        *slot |= flags;
    }

    /// The atoms recorded for this event, in first-seen order.
    pub fn touched(&self) -> &[u32] {
        &self.touched
    }

    /// The flags of atom `id`.
    #[inline]
    pub fn flags(&self, id: u32) -> u8 {
        self.flags.get(id as usize).copied().unwrap_or(0)
    }

    /// Declares the scan complete: exact comparisons now answer from the flags.
    pub fn complete(&mut self) {
        self.complete = true;
    }

    /// What the scan says about a comparison with atom `atom`, once complete: an exact atom
    /// answers outright; any other answers `false` when its needle, which the comparison
    /// cannot hold without, did not occur, and leaves the comparison to its matcher otherwise.
    #[inline]
    pub fn answer(&self, atom: AtomRef) -> Option<bool> {
        if !self.complete {
            return None;
        }
        let hit = self.flags(atom.id) & atom.need != 0;
        if atom.exact || !hit { Some(hit) } else { None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_say_where_the_needle_occurred() {
        assert_eq!(
            hit_flags(0, 3, 3),
            HIT_ANY | HIT_PREFIX | HIT_SUFFIX | HIT_WHOLE
        );
        assert_eq!(hit_flags(0, 2, 3), HIT_ANY | HIT_PREFIX);
        assert_eq!(hit_flags(1, 3, 3), HIT_ANY | HIT_SUFFIX);
        assert_eq!(hit_flags(1, 2, 3), HIT_ANY);
    }

    #[test]
    fn hits_answer_only_once_complete_and_clear_what_they_set() {
        let mut hits = AtomHits::default();
        hits.reserve(4);
        hits.record(2, HIT_ANY | HIT_SUFFIX);
        let exact = AtomRef {
            id: 2,
            need: HIT_SUFFIX,
            exact: true,
        };
        assert_eq!(hits.answer(exact), None);
        hits.complete();
        assert_eq!(hits.answer(exact), Some(true));
        assert_eq!(
            hits.answer(AtomRef {
                need: HIT_PREFIX,
                ..exact
            }),
            Some(false)
        );
        assert_eq!(
            hits.answer(AtomRef {
                exact: false,
                ..exact
            }),
            None
        );
        let absent = AtomRef {
            id: 3,
            need: HIT_ANY,
            exact: false,
        };
        assert_eq!(
            hits.answer(absent),
            Some(false),
            "a necessary needle that is absent"
        );
        hits.clear();
        assert_eq!(hits.flags(2), 0);
        assert!(hits.touched().is_empty());
    }
}

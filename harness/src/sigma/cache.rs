//! The set-associative tables a session caches in (the prefilter's memo of field scans, its
//! remembered verdicts): each hash has a set of [`WAYS`] slots, the entry used less recently
//! overwritten when all are taken, and the tables start small and double while their entries
//! keep evicting each other, up to a bound. Also the write-once table every session of an
//! engine shares ([`Shared`]), which a session's own tables back up.
//!
//! The harness opens a session per evaluation, over a scenario's few hundred events, while a
//! scan of recorded logs keeps one for millions: fixed tables were either too large for the
//! first (every table allocated and cleared whole on first use) or too small for the second
//! (on the bench, 16,384 verdict slots knew 96% of verdicts where 4,096 knew 86%). A table
//! grows once, since it last grew, it has evicted an eighth as many entries as it has slots, and
//! at least one for every [`LOOKUPS_PER_EVICTION`] lookups: a table that holds its working set
//! never grows, nor one whose few collisions cost little. Nor does one whose entries already
//! hold its byte budget on the heap (texts, keys): a stream of events that never recur fills
//! every slot it has, and a slot's key can be 4 KiB.
//!
//! Two ways rather than one slot per hash: a direct-mapped table evicts an entry whenever two
//! of the keys it holds share a slot, which at a quarter full is already one key in eight. On
//! the bench's cycled pool, a third of the verdicts the direct-mapped tables did not know (1.7%
//! of events) were such conflicts, each costing a whole evaluation; with two ways 1.1% are not
//! known, most of them the first sight of their key.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Slots per set: two, so that one bit per set tells which was used last ([`Table::find`]
/// replaces the other).
pub(super) const WAYS: usize = 2;
const _: () = assert!(WAYS == 2, "the recency of a set is one bit");

/// The lookups per eviction above which a table does not grow: a remembered verdict saves about
/// ten times the work of finding it, a memoised scan about a hundred times, so at a few percent
/// of lookups evictions cost more than the larger table's misses in cache.
const LOOKUPS_PER_EVICTION: usize = 32;

/// An entry of a [`Table`]: empty by default.
pub(super) trait Entry: Default {
    /// The hash the entry was stored under; `None` when the slot is empty.
    fn held(&self) -> Option<u64>;

    /// The bytes the entry holds on the heap.
    fn bytes(&self) -> usize;
}

/// The sizes of a kind of table: its slots at first and at most (powers of two), and the heap
/// bytes its entries may hold for it to grow (all nought for a table not yet allocated).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Sizes {
    pub min: usize,
    pub max: usize,
    pub budget: usize,
}

/// Table `at` of `tables`, allocated at `sizes` on first use (tables are numbered engine-wide,
/// and a session allocates only those its events reach).
pub(super) fn allocated<T: Entry>(
    tables: &mut Vec<Table<T>>,
    at: usize,
    sizes: Sizes,
) -> &mut Table<T> {
    if tables.len() <= at {
        tables.resize_with(at + 1, Table::default);
    }
    let table = &mut tables[at];
    if table.slots.is_empty() {
        *table = Table::new(sizes);
    }
    table
}

/// A set-associative table (see the module documentation); the default one has no slots until
/// [`allocated`] replaces it.
#[derive(Debug, Default)]
pub(super) struct Table<T> {
    slots: Vec<T>,
    /// The most slots the table grows to, and the heap bytes its entries may hold for it to grow.
    sizes: Sizes,
    /// The heap bytes its entries hold.
    bytes: usize,
    /// One bit per set: the way it last found or stored an entry in.
    recent: Vec<u64>,
    /// Lookups and entries evicted since the table last grew, and whether it asked to grow.
    lookups: usize,
    evicted: usize,
    asked: bool,
}

impl<T: Entry> Table<T> {
    /// A table of `sizes.min` slots that grows up to `sizes.max` while its entries hold less
    /// than `sizes.budget` bytes on the heap.
    pub(super) fn new(sizes: Sizes) -> Table<T> {
        debug_assert!(
            sizes.min.is_power_of_two()
                && sizes.max.is_power_of_two()
                && WAYS <= sizes.min
                && sizes.min <= sizes.max
        );
        let mut slots = Vec::new();
        slots.resize_with(sizes.min, T::default);
        Table {
            recent: vec![0; (sizes.min / WAYS).div_ceil(64)],
            slots,
            sizes,
            bytes: 0,
            lookups: 0,
            evicted: 0,
            asked: false,
        }
    }

    /// Looks `hash` up, counted as a lookup: `Ok` with the slot of an entry held under `hash`
    /// that is `wanted` (its set's most recent from then on); otherwise `Err` with the slot a new
    /// entry for `hash` goes to: an empty one of its set, else the one used less recently.
    #[inline]
    pub(super) fn find(&mut self, hash: u64, wanted: impl Fn(&T) -> bool) -> Result<usize, usize> {
        self.lookups += 1;
        let first = (hash as usize & (self.slots.len() / WAYS - 1)) * WAYS;
        let set = &self.slots[first..first + WAYS];
        if let Some(way) = set
            .iter()
            .position(|entry| entry.held() == Some(hash) && wanted(entry))
        {
            self.used(first + way);
            return Ok(first + way);
        }
        let way = set
            .iter()
            .position(|entry| entry.held().is_none())
            .unwrap_or_else(|| 1 - self.recent_way(first / WAYS));
        Err(first + way)
    }

    /// The way set `set` last found or stored an entry in.
    fn recent_way(&self, set: usize) -> usize {
        (self.recent[set / 64] >> (set % 64)) as usize & 1
    }

    /// Notes `slot` as its set's most recent.
    fn used(&mut self, slot: usize) {
        let set = slot / WAYS;
        let bit = 1 << (set % 64);
        if slot % WAYS == 1 {
            self.recent[set / 64] |= bit;
        } else {
            self.recent[set / 64] &= !bit;
        }
    }

    /// The entry in `slot`.
    #[inline]
    pub(super) fn get(&self, slot: usize) -> &T {
        &self.slots[slot]
    }

    /// Overwrites the entry in `slot` (one [`Table::find`] gave) through `fill`, its set's most
    /// recent from then on; counts an eviction when it held one. True when the table should grow
    /// (see [`Table::grow`]).
    pub(super) fn store(&mut self, slot: usize, fill: impl FnOnce(&mut T)) -> bool {
        self.used(slot);
        let size = self.slots.len();
        let entry = &mut self.slots[slot];
        let evicts = entry.held().is_some();
        self.bytes = self.bytes.saturating_sub(entry.bytes());
        fill(entry);
        self.bytes += entry.bytes();
        if !evicts {
            return false;
        }
        self.evicted += 1;
        // Asked once: the counts start again when the table grows.
        let grow = !self.asked
            && size < self.sizes.max
            && self.bytes < self.sizes.budget
            && self.evicted >= (size / 8).max(self.lookups.div_ceil(LOOKUPS_PER_EVICTION));
        self.asked |= grow;
        grow
    }

    /// Doubles the table (up to its bound), keeping every entry: the sets a hash may take in
    /// the larger table are its old set and the one half the table further on, so each new set
    /// receives the entries of one old set at most, and has room for them. Slots handed out
    /// before are void after it.
    pub(super) fn grow(&mut self) {
        if self.slots.len() >= self.sizes.max {
            return;
        }
        let size = self.slots.len() * 2;
        let mut slots = Vec::with_capacity(size);
        slots.resize_with(size, T::default);
        for entry in self.slots.drain(..) {
            if let Some(hash) = entry.held() {
                let first = (hash as usize & (size / WAYS - 1)) * WAYS;
                if let Some(free) = slots[first..first + WAYS]
                    .iter_mut()
                    .find(|slot| slot.held().is_none())
                {
                    *free = entry;
                }
            }
        }
        self.slots = slots;
        self.recent = vec![0; (size / WAYS).div_ceil(64)];
        self.lookups = 0;
        self.evicted = 0;
        self.asked = false;
    }

    /// The table's slots.
    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }
}

/// A set-associative table that every session of an engine shares ([`WAYS`] slots per set, as
/// in [`Table`]), whose slots are written once and never evicted. A session finds what another
/// stored without a lock or a write of its own: an acquire load of a slot's hash, then of its
/// entry. It stores by setting an empty slot; a store that loses a race for the slot is only
/// forgone. Once a set is full, or the entries hold the byte budget, further keys go to the
/// session's own [`Table`], which evicts. The slots are allocated only once the sessions' own
/// tables have missed a given number of keys between them ([`Shared::missed`]): a table sized
/// for a long scan would be wasted on a scenario's few hundred events.
///
/// Sessions that learn the same verdicts apart repeat each other's work. On the bench, each of
/// two threads evaluated the 8,000 events of the pool whose verdict no earlier event gave, at
/// about 18 µs each, before its own tables knew them. They also held two copies of the same
/// tables in the cache they share.
#[derive(Debug)]
pub(super) struct Shared<T> {
    slots: OnceLock<Box<[SharedSlot<T>]>>,
    size: usize,
    /// The heap bytes the entries hold, and the most they may hold.
    bytes: AtomicUsize,
    budget: usize,
    /// Keys the sessions' own tables missed while the slots were not allocated, and how many
    /// allocate them.
    misses: AtomicUsize,
    after: usize,
}

/// A slot of a [`Shared`] table: its entry, set once, and the hash it was stored under,
/// published after it.
#[derive(Debug)]
struct SharedSlot<T> {
    hash: AtomicU64,
    entry: OnceLock<T>,
}

impl<T> Default for SharedSlot<T> {
    fn default() -> Self {
        SharedSlot {
            hash: AtomicU64::new(0),
            entry: OnceLock::new(),
        }
    }
}

/// What [`Shared::find`] found for a hash.
#[derive(Debug)]
pub(super) enum Found<'a, T> {
    /// An entry stored under it that is wanted.
    Entry(&'a T),
    /// None, and the empty slot where one may go.
    Empty(usize),
    /// None, and no room: the slots are not allocated yet, its set is full, or the entries
    /// hold the budget.
    Full,
}

impl<T> Shared<T> {
    /// The bytes a slot takes.
    pub(super) const SLOT_BYTES: usize = std::mem::size_of::<SharedSlot<T>>();

    /// A table of `slots` slots (a power of two), allocated once the sessions' own tables have
    /// missed `after` keys (at once for 0), whose entries may hold `budget` bytes on the heap.
    pub(super) fn new(slots: usize, budget: usize, after: usize) -> Shared<T> {
        debug_assert!(slots.is_power_of_two() && WAYS <= slots);
        let table = Shared {
            slots: OnceLock::new(),
            size: slots,
            bytes: AtomicUsize::new(0),
            budget,
            misses: AtomicUsize::new(0),
            after,
        };
        if after == 0 {
            table.allocate();
        }
        table
    }

    fn allocate(&self) {
        self.slots
            .get_or_init(|| (0..self.size).map(|_| SharedSlot::default()).collect());
    }

    /// Counts a key a session's own table missed (the table answering for this one while it
    /// is not allocated, or for its full sets); allocates the slots at the `after`th.
    pub(super) fn missed(&self) {
        if self.slots.get().is_none()
            && self.misses.fetch_add(1, Ordering::Relaxed) + 1 >= self.after
        {
            self.allocate();
        }
    }

    /// Looks `hash` up: an entry stored under it that is `wanted`; otherwise an empty slot of
    /// its set, if the budget allows another entry (`Full` while the slots are not allocated).
    #[inline]
    pub(super) fn find(&self, hash: u64, wanted: impl Fn(&T) -> bool) -> Found<'_, T> {
        let Some(slots) = self.slots.get() else {
            return Found::Full;
        };
        let first = (hash as usize & (self.size / WAYS - 1)) * WAYS;
        let mut empty = None;
        for (at, slot) in slots[first..first + WAYS].iter().enumerate() {
            match slot.entry.get() {
                // Set, and published under this hash: the load synchronises with the store
                // that published it, which came after the entry was set.
                Some(entry) if slot.hash.load(Ordering::Acquire) == hash && wanted(entry) => {
                    return Found::Entry(entry);
                }
                Some(_) => {}
                None => {
                    empty.get_or_insert(first + at);
                }
            }
        }
        match empty {
            Some(slot) if self.bytes.load(Ordering::Relaxed) < self.budget => Found::Empty(slot),
            _ => Found::Full,
        }
    }

    /// Stores `entry`, which holds `bytes` on the heap, under `hash` in `slot`, which
    /// [`Shared::find`] gave as empty, unless another store has taken it since (false then).
    pub(super) fn store(&self, slot: usize, hash: u64, entry: T, bytes: usize) -> bool {
        let Some(slot) = self.slots.get().and_then(|slots| slots.get(slot)) else {
            return false;
        };
        if slot.entry.set(entry).is_err() {
            return false;
        }
        slot.hash.store(hash, Ordering::Release);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hash, holding as many heap bytes as it says.
    impl Entry for Option<u64> {
        fn held(&self) -> Option<u64> {
            *self
        }

        fn bytes(&self) -> usize {
            self.map_or(0, |hash| hash as usize)
        }
    }

    fn sizes(min: usize, max: usize, budget: usize) -> Sizes {
        Sizes { min, max, budget }
    }

    /// Looks `hash` up and stores it on a miss, growing at once when the table asks to.
    fn put(table: &mut Table<Option<u64>>, hash: u64) {
        if let Err(slot) = table.find(hash, |_| true)
            && table.store(slot, |entry| *entry = Some(hash))
        {
            table.grow();
        }
    }

    fn holds(table: &mut Table<Option<u64>>, hash: u64) -> bool {
        table.find(hash, |_| true).is_ok()
    }

    /// Finds `hash` in a shared table, storing it on a miss when there is room.
    fn share(table: &Shared<Option<u64>>, hash: u64) -> bool {
        match table.find(hash, |_| true) {
            Found::Entry(_) => true,
            Found::Empty(slot) => {
                table.store(slot, hash, Some(hash), hash as usize);
                false
            }
            Found::Full => false,
        }
    }

    #[test]
    fn a_shared_table_keeps_what_it_stored_and_refuses_a_third_hash_in_a_full_set() {
        // Of 16 slots, hashes 3, 11 and 19 share set 3 of 8.
        let table = Shared::new(16, usize::MAX, 0);
        assert!(matches!(table.find(3, |_| true), Found::Empty(6)));
        assert!(!share(&table, 3) && !share(&table, 11));
        assert!(share(&table, 3) && share(&table, 11));
        assert!(matches!(table.find(19, |_| true), Found::Full));
        // An entry not wanted is not found, and does not make room.
        assert!(matches!(table.find(3, |_| false), Found::Full));
        // Nothing is evicted: 3 and 11 stay.
        assert!(!share(&table, 19));
        assert!(share(&table, 3) && share(&table, 11));
    }

    #[test]
    fn a_shared_store_that_loses_the_race_for_a_slot_is_forgone() {
        let table = Shared::new(16, usize::MAX, 0);
        let Found::Empty(slot) = table.find(3, |_| true) else {
            panic!("an empty table has room");
        };
        assert!(table.store(slot, 3, Some(3), 3));
        // Another session found the same slot empty before the store.
        assert!(!table.store(slot, 11, Some(11), 11));
        assert!(share(&table, 3));
        assert!(matches!(table.find(11, |_| true), Found::Empty(7)));
    }

    #[test]
    fn a_shared_table_takes_entries_only_once_the_sessions_own_tables_missed_enough_keys() {
        let table: Shared<Option<u64>> = Shared::new(16, usize::MAX, 2);
        assert!(matches!(table.find(3, |_| true), Found::Full));
        table.missed();
        assert!(matches!(table.find(3, |_| true), Found::Full));
        table.missed();
        assert!(matches!(table.find(3, |_| true), Found::Empty(6)));
    }

    #[test]
    fn a_shared_table_whose_entries_hold_its_budget_takes_no_more() {
        // Entries "hold" their hash in bytes.
        let table = Shared::new(16, 10, 0);
        assert!(!share(&table, 6) && !share(&table, 4));
        assert!(matches!(table.find(1, |_| true), Found::Full));
        assert!(share(&table, 6) && share(&table, 4));
    }

    #[test]
    fn sessions_on_many_threads_find_in_a_shared_table_what_the_others_stored() {
        let table = Shared::new(1024, usize::MAX, 0);
        std::thread::scope(|scope| {
            for t in 0..4 {
                let table = &table;
                scope.spawn(move || {
                    for hash in (0..256).map(|h| (h + 64 * t) % 256) {
                        share(table, hash);
                    }
                });
            }
        });
        assert!((0..256).all(|hash| share(&table, hash)));
    }

    #[test]
    fn hashes_sharing_a_set_stay_until_a_third_evicts_the_one_used_less_recently() {
        // Of 16 slots, hashes 3, 11 and 19 share set 3 of 8.
        let mut table = Table::new(sizes(16, 16, usize::MAX));
        put(&mut table, 3);
        put(&mut table, 11);
        assert!(holds(&mut table, 3) && holds(&mut table, 11));
        // 3 was found after 11: 19 replaces 11.
        assert!(holds(&mut table, 3));
        put(&mut table, 19);
        assert!(holds(&mut table, 3) && holds(&mut table, 19));
        assert!(!holds(&mut table, 11));
        // An entry not wanted is not found: its slot is the one to replace.
        assert_eq!(table.find(3, |_| false), Err(6));
    }

    #[test]
    fn a_working_set_the_table_fits_never_makes_it_grow() {
        let mut table = Table::new(sizes(16, 1024, usize::MAX));
        for _ in 0..100 {
            for hash in 0..16 {
                put(&mut table, hash);
            }
        }
        assert_eq!(table.len(), 16);
        assert!((0..16).all(|hash| holds(&mut table, hash)));
    }

    #[test]
    fn a_table_whose_collisions_are_rare_among_its_lookups_does_not_grow() {
        let mut table = Table::new(sizes(16, 1024, usize::MAX));
        for round in 0..1000 {
            for hash in 0..16 {
                put(&mut table, hash);
            }
            // Every tenth round, once the table has served a while, a newcomer evicts one of
            // them, which comes back the next round.
            if round >= 100 && round % 10 == 0 {
                put(&mut table, 16 + round);
            }
        }
        assert_eq!(table.len(), 16);
    }

    #[test]
    fn a_table_whose_entries_hold_its_byte_budget_does_not_grow() {
        // Entries "hold" their hash in bytes: 0..32 hold 496 bytes, under a budget of 500.
        let mut table = Table::new(sizes(16, 1024, 500));
        for _ in 0..10 {
            for hash in 0..32 {
                put(&mut table, hash);
            }
        }
        assert_eq!(table.len(), 32, "grown while under budget");
        // 64..96 hold more than the budget once stored: the table keeps evicting, at 32 slots.
        for _ in 0..10 {
            for hash in 64..128 {
                put(&mut table, hash);
            }
        }
        assert_eq!(table.len(), 32);
    }

    #[test]
    fn a_table_that_keeps_evicting_doubles_up_to_its_bound_and_keeps_its_entries() {
        let mut table = Table::new(sizes(16, 64, usize::MAX));
        // 32 hashes over 16 slots: each evicts another, every round.
        for round in 0..3 {
            for hash in 0..32 {
                put(&mut table, hash);
            }
            if round == 0 {
                assert_eq!(table.len(), 32, "grown once its evictions reached its size");
            }
        }
        assert_eq!(
            table.len(),
            32,
            "32 slots hold the 32 hashes: no more evictions"
        );
        assert!((0..32).all(|hash| holds(&mut table, hash)));
        // Twice as many again: it grows to its bound and stops there.
        for _ in 0..10 {
            for hash in 0..256 {
                put(&mut table, hash);
            }
        }
        assert_eq!(table.len(), 64);
        assert!((192..256).all(|hash| holds(&mut table, hash)));
    }
}

//! A fast hash for keys no attacker chooses: field names from rules, field texts in a bounded
//! memo.

/// The multiply-rotate hash of rustc (`FxHasher`): a few instructions per word, no
/// protection against chosen collisions (not needed where a collision only costs time).
#[derive(Clone, Copy, Debug, Default)]
pub struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.add(u64::from_le_bytes(word.try_into().unwrap_or_default()));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds the hashers ([`FieldHasher`]) of every event's field map ([`crate::event::Fields`])
/// from one seed per process, drawn at random (no other constructor, so every map and every
/// precomputed name hash agree): fixed, so that a lookup can hash a rule's field name once at
/// compile time and reuse it on every event (`expr::Ctx`), where SipHash cost about 300
/// instructions per absent field per event; random, and finished by a full avalanche
/// ([`FieldHasher`]), so that field names chosen in a log cannot be made to collide from outside.
#[derive(Clone, Copy, Debug)]
pub struct FieldHash(u64);

impl Default for FieldHash {
    fn default() -> Self {
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        FieldHash(*SEED.get_or_init(|| {
            std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 0)
        }))
    }
}

impl std::hash::BuildHasher for FieldHash {
    type Hasher = FieldHasher;

    fn build_hasher(&self) -> FieldHasher {
        FieldHasher(FxHasher(self.0))
    }
}

/// An [`FxHasher`] whose result goes through murmur3's finaliser. A product carries differences
/// only upward, so names differing in the high bits of their last word would otherwise share the
/// low bits a table indexes by, whatever the seed.
#[derive(Clone, Copy, Debug)]
pub struct FieldHasher(FxHasher);

impl std::hash::Hasher for FieldHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
    }

    fn write_u8(&mut self, byte: u8) {
        self.0.write_u8(byte);
    }

    fn finish(&self) -> u64 {
        let mut h = self.0.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// A hash of a text for memo tables, where a collision only costs a lookup: four
/// multiply-rotate lanes over 32-byte blocks run side by side, so long texts (command lines,
/// hash lists) hash several times faster than one serial word chain.
pub fn text_hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let step = |lane: u64, word: u64| (lane.rotate_left(5) ^ word).wrapping_mul(K);
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or_default());
    let mut lanes = [bytes.len() as u64, K, K.rotate_left(21), K.rotate_left(42)];
    let mut blocks = bytes.chunks_exact(32);
    for block in &mut blocks {
        for (i, lane) in lanes.iter_mut().enumerate() {
            *lane = step(*lane, word(&block[i * 8..i * 8 + 8]));
        }
    }
    let rest = blocks.remainder();
    let mut words = rest.chunks_exact(8);
    for (i, w) in (&mut words).enumerate() {
        lanes[i] = step(lanes[i], word(w));
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        let mut last = [0u8; 8];
        last[..tail.len()].copy_from_slice(tail);
        lanes[3] = step(lanes[3], u64::from_le_bytes(last));
    }
    let mixed = step(step(step(lanes[0], lanes[1]), lanes[2]), lanes[3]);
    mixed ^ (mixed >> 29)
}

#[cfg(test)]
mod tests {
    use super::{FieldHash, text_hash};
    use std::hash::BuildHasher;

    #[test]
    fn field_names_differing_in_their_last_bytes_spread_over_a_tables_slots() {
        // 256 eight-byte names differing in their last two bytes: through a multiply-rotate
        // hash alone, at most five bits of that difference reach the low bits (at most 32 of 64
        // slots, whatever the seed); mixed, they fill nearly all 64.
        let build = FieldHash::default();
        let letters = "ABCDEFGHIJKLMNOP".chars();
        let mut slots: Vec<u64> = letters
            .clone()
            .flat_map(|a| letters.clone().map(move |b| format!("Proces{a}{b}")))
            .map(|name| build.hash_one(name.as_str()) & 63)
            .collect();
        slots.sort_unstable();
        slots.dedup();
        assert!(slots.len() >= 48, "{} of 64 slots", slots.len());
    }

    #[test]
    fn text_hash_reads_every_byte_and_the_length() {
        let base = b"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe -nop -w hidden";
        let hash = text_hash(base);
        assert_eq!(hash, text_hash(base));
        for at in 0..base.len() {
            let mut changed = base.to_vec();
            changed[at] ^= 1;
            assert_ne!(hash, text_hash(&changed), "byte {at} ignored");
        }
        assert_ne!(text_hash(b"ab"), text_hash(b"ab\0"));
        assert_ne!(text_hash(b""), text_hash(b"\0"));
    }
}

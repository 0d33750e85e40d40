//! Deterministic randomness: a stable string hash and a SplitMix64 stream.
//!
//! Everything random in a generated timeline (pids, GUIDs, logon ids, background timing) comes
//! from here, keyed by the seed and a stable name, so one node's values never shift because
//! another node was added.

/// FNV-1a over bytes: stable across platforms and releases (unlike `std`'s hasher).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// One SplitMix64 step: a well-mixed 64-bit value from a state.
pub fn splitmix(state: u64) -> u64 {
    let mut z = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A small deterministic generator.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A stream keyed by the seed and a name (`"pid:GIS01:ps"`).
    pub fn keyed(seed: u64, key: &str) -> Rng {
        Rng(splitmix(seed ^ fnv1a(key.as_bytes())))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix(self.0)
    }

    /// A number in `0..bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            0
        } else {
            self.next_u64() % bound
        }
    }

    /// `n` lower-case hex digits.
    pub fn hex(&mut self, n: usize) -> String {
        let mut out = String::with_capacity(n + 16);
        while out.len() < n {
            out += &format!("{:016x}", self.next_u64());
        }
        out.truncate(n);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_depend_on_seed_and_key_only() {
        assert_eq!(Rng::keyed(1, "a").next_u64(), Rng::keyed(1, "a").next_u64());
        assert_ne!(Rng::keyed(1, "a").next_u64(), Rng::keyed(2, "a").next_u64());
        assert_ne!(Rng::keyed(1, "a").next_u64(), Rng::keyed(1, "b").next_u64());
        assert_eq!(Rng::keyed(7, "x").hex(12).len(), 12);
    }
}

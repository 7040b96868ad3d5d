//! The random source of select's choice: wyrand in a thread-local, seeded
//! once per thread (like Go's per-M `fastrand`).

use std::cell::Cell;

thread_local! {
    /// 0 until the thread's first select seeds it.
    static STATE: Cell<u64> = const { Cell::new(0) };
}

/// Sets the select RNG's seed on this thread, so that a sequence of random
/// choices can be replayed (tests use it). Not part of the stable API.
///
/// ```
/// gosched::chan::__seed_select_rng(42);
/// ```
pub fn seed_select_rng(seed: u64) {
    // 0 means "unseeded": map it elsewhere.
    STATE.set(seed | 1 << 63);
}

fn initial_seed() -> u64 {
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x5eed);
        h.finish() | 1
    }
    // No entropy source in std there: a fixed seed.
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    {
        0x853c_49e6_748f_ea9b
    }
}

fn next_u64() -> u64 {
    let mut s = STATE.get();
    if s == 0 {
        s = initial_seed();
    }
    s = s.wrapping_add(0xa076_1d64_78bd_642f);
    STATE.set(s);
    let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
    (t >> 64) as u64 ^ t as u64
}

/// A uniform number in `0..n` (Lemire's multiply-shift; the bias, n / 2^64,
/// is far below anything a test could see).
pub(crate) fn below(n: usize) -> usize {
    debug_assert!(n > 0);
    ((u128::from(next_u64()) * n as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_sequences_repeat_and_stay_in_range() {
        seed_select_rng(7);
        let a: Vec<usize> = (0..100).map(|_| below(5)).collect();
        seed_select_rng(7);
        let b: Vec<usize> = (0..100).map(|_| below(5)).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|&x| x < 5));
        assert!((0..5).all(|k| a.contains(&k)));
    }
}

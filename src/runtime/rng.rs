//! The scheduler's random source (`select!`'s choice among ready arms):
//! wyrand in a thread-local, like Go's per-M `cheaprand`. The scheduler seeds
//! it from its platform ([`Platform::random_seed`]) when it starts.
//!
//! [`Platform::random_seed`]: crate::platform::Platform::random_seed

use std::cell::Cell;

thread_local! {
    static STATE: Cell<u64> = const { Cell::new(0x853c_49e6_748f_ea9b) };
}

/// Restarts this thread's sequence from `seed`: the same seed gives the same
/// choices.
pub(crate) fn seed(seed: u64) {
    STATE.set(seed);
}

fn next_u64() -> u64 {
    let s = STATE.get().wrapping_add(0xa076_1d64_78bd_642f);
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
        seed(7);
        let a: Vec<usize> = (0..100).map(|_| below(5)).collect();
        seed(7);
        let b: Vec<usize> = (0..100).map(|_| below(5)).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|&x| x < 5));
        assert!((0..5).all(|k| a.contains(&k)));
    }
}

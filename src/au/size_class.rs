//! Capacities for access-unit buffers, rounded up to a few sizes per power of two.
//!
//! Every access unit below `au_bytes::MAPPED_FROM` is its own heap block, freed by whatever sink ends the
//! pipeline. Blocks of slowly drifting sizes (a running estimate of the next picture's size) leave holes
//! the next picture never quite fits, and glibc's per-thread heaps grow by a little every minute
//! (measured by `benches/soak.sh`). With four sizes per doubling a freed block is reused by the next
//! picture of its class, at the cost of at most a quarter of a block unused.

/// Below this, blocks are small enough that the allocator's own size bins already reuse them.
const SMALLEST: usize = 4 * 1024;

/// `n` rounded up to the next of 1, 1.25, 1.5 or 1.75 × a power of two (n itself below 4 KiB).
pub fn size_class(n: usize) -> usize {
    if n <= SMALLEST {
        return n;
    }
    // A quarter of the power of two at or below n: the step between the classes of that octave.
    let step = 1usize << (usize::BITS - 1 - n.leading_zeros() - 2);
    n.div_ceil(step).saturating_mul(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_up_to_quarter_steps_of_each_octave() {
        assert_eq!(size_class(0), 0);
        assert_eq!(size_class(4096), 4096);
        assert_eq!(size_class(4097), 5120);
        assert_eq!(size_class(16 * 1024), 16 * 1024);
        assert_eq!(size_class(16 * 1024 + 1), 20 * 1024);
        assert_eq!(size_class(21 * 1024), 24 * 1024);
        assert_eq!(size_class(29 * 1024), 32 * 1024);
        assert_eq!(size_class(100_000), 114_688);
        assert_eq!(size_class(usize::MAX), usize::MAX);
    }

    #[test]
    fn never_smaller_and_wastes_at_most_a_quarter() {
        for n in (SMALLEST..4 << 20).step_by(997) {
            let c = size_class(n);
            assert!(c >= n && c - n <= n / 4, "{n} -> {c}");
            assert_eq!(size_class(c), c, "a class is its own class");
        }
    }
}

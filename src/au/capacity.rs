//! The room each access unit's buffer starts with, in a few sizes per power of two.
//!
//! Every access unit is its own heap block, freed by whatever sink ends the pipeline. Blocks of slowly
//! drifting sizes (a running estimate of the next picture's size, keyframes of every size) leave holes the
//! next picture never quite fits, and glibc's per-thread heaps grow by a little every minute (measured by
//! `benches/soak.sh`). With four sizes per doubling a freed block is reused by the next picture of its
//! class, at the cost of at most a quarter of a block unused.
//!
//! A picture that outgrows its buffer is copied into one twice the size, and the old block is left as a
//! hole. Encoders alternate large and small pictures (x265 and x264 at `tune=zerolatency` on a busy scene:
//! 45 KB, 45 KB, 1 KB, …; 55 KB, 5 KB, …), so a buffer sized for the average picture grew for every large
//! one, half the pictures of such a stream. Pictures between keyframes start with room for the largest of
//! the last few; a small one gives back what it did not use before it leaves, and a keyframe starts with
//! room for the last keyframes.

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

/// Pictures between keyframes whose largest sets the room for the next.
const RECENT: usize = 8;
/// Room a picture between keyframes starts with, at least and at most.
const MIN_ROOM: usize = 16 * 1024;
const MAX_ROOM: usize = 1024 * 1024;

#[derive(Debug)]
pub struct Capacities {
    /// Sizes of the last pictures between keyframes, each at most twice the room then: one huge picture
    /// cannot make the next ones start at megabytes.
    recent: [usize; RECENT],
    next: usize,
    /// Room a keyframe starts with: a little more than recent keyframes took.
    keyframe: usize,
    /// The largest size a keyframe may reach.
    limit: usize,
}

impl Capacities {
    /// `limit`: the largest access unit there may be.
    pub fn new(limit: usize) -> Self {
        Capacities {
            recent: [0; RECENT],
            next: 0,
            keyframe: 0,
            limit,
        }
    }

    /// The capacity for the next access unit's buffer: room for the largest recent picture between
    /// keyframes and an eighth.
    pub fn next_picture(&self) -> usize {
        let largest = self.recent.iter().copied().max().unwrap_or(0);
        size_class((largest + largest / 8).clamp(MIN_ROOM, MAX_ROOM))
    }

    /// The room a keyframe starting in a buffer of `capacity` should have, when more.
    pub fn keyframe_room(&self, capacity: usize) -> Option<usize> {
        (self.keyframe > capacity).then(|| size_class(self.keyframe))
    }

    /// An access unit of `len` bytes is complete.
    pub fn record(&mut self, len: usize, keyframe: bool) {
        if keyframe {
            let room = (len + len / 4).min(self.limit);
            self.keyframe = room.max(self.keyframe * 7 / 8);
        } else {
            self.recent[self.next] = len.min(2 * self.next_picture());
            self.next = (self.next + 1) % RECENT;
        }
    }

    /// Gives back what a finished picture's buffer does not use, when that is most of it: small
    /// pictures between large ones would otherwise hold a large one's room for as long as the pipeline
    /// keeps them. In place: the allocator splits the block, and joins it again once both are free.
    pub fn trim(data: &mut Vec<u8>) {
        let spare = data.capacity() - data.len();
        if spare > data.len() && spare >= MIN_ROOM {
            data.shrink_to(size_class(data.len()));
        }
    }
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

    #[test]
    fn pictures_start_with_room_for_the_largest_recent_one() {
        let mut c = Capacities::new(8 << 20);
        // x265 at zerolatency on a busy scene: two large pictures, one tiny, over and over.
        for _ in 0..10 {
            for len in [45_000, 44_000, 1_000] {
                c.record(len, false);
            }
        }
        let room = c.next_picture();
        assert!((45_000..=64 * 1024).contains(&room), "{room}");
        assert_eq!(size_class(room), room);
        // One huge picture counts as at most twice the room, and is forgotten after RECENT more.
        c.record(8_000_000, false);
        assert!(c.next_picture() <= 3 * room, "{}", c.next_picture());
        for _ in 0..RECENT {
            c.record(40_000, false);
        }
        assert_eq!(c.next_picture(), size_class(45_000));
        assert_eq!(c.keyframe_room(0), None, "no keyframe seen yet");
    }

    #[test]
    fn keyframes_get_room_for_the_last_ones() {
        let mut c = Capacities::new(8 << 20);
        c.record(400_000, true);
        let room = c.keyframe_room(64 * 1024).unwrap();
        assert!(room >= 500_000, "{room}");
        assert_eq!(c.keyframe_room(room), None, "already has the room");
        // A smaller keyframe lets the room shrink slowly.
        c.record(100_000, true);
        assert!(c.keyframe_room(0).unwrap() >= 400_000 * 5 / 4 * 7 / 8);
    }

    #[test]
    fn small_pictures_give_back_most_of_a_large_room() {
        let mut small = Vec::with_capacity(64 * 1024);
        small.extend_from_slice(&[0u8; 1_000]);
        Capacities::trim(&mut small);
        assert!(small.capacity() < 8 * 1024, "{}", small.capacity());
        let mut most = Vec::with_capacity(64 * 1024);
        most.extend_from_slice(&[0u8; 40_000]);
        Capacities::trim(&mut most);
        assert_eq!(most.capacity(), 64 * 1024, "more than half used: kept");
    }
}

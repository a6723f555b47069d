//! The bytes of the packets the reorder window holds, in one anonymous memory mapping of their own.
//!
//! A loss holds every packet behind it for the window: with a camera that sends each picture as one
//! burst, the rest of that picture (a keyframe: hundreds of kilobytes). Kept as separate heap blocks,
//! those packets stayed in the thread's heap after they left, between the access-unit blocks, and the
//! process grew by their peak for good (`benches/compare.sh` with loss: RSS +16–19 % over no loss). Here
//! they are appended to a region outside the heap; when the window empties, the region starts over.
//!
//! Its pages beyond the first `KEEP` go back to the system at once after a hold over `RELEASE_ABOVE`,
//! and after smaller ones once `QUIET_HOLDS` holds in a row have not needed them. Given back only after
//! the large holds at first, each stream kept the pages of the largest smaller hold it had ever seen,
//! which rarer holds raised for as long as the process ran (up to 3 MB over 16 streams in
//! `benches/soak.sh` on a busy host). Given back after every hold past `KEEP`, they cost a page fault
//! per 4 KiB each time a stream that often holds that much wrote them again: 5 % more CPU under loss.
//!
//! Packets leave in sequence order, not in the order they came, so the region can hold dead bytes
//! between live ones while the window never empties (one gap after another): once the dead bytes
//! outnumber the live ones, the window moves the live ones down (`compact_from`).

use crate::mapping::Region;

/// Bytes kept mapped in after the window empties: the few packets behind an ordinary loss.
const KEEP: usize = 64 * 1024;
/// After a hold over this much, the pages past `KEEP` go back at once: such holds are rare.
const RELEASE_ABOVE: usize = 256 * 1024;
/// Holds in a row within `KEEP` after which the pages past it go back.
const QUIET_HOLDS: u32 = 64;

#[derive(Debug)]
pub struct HeldBytes {
    /// Mapped on first use: a stream without loss never maps it.
    region: Option<Region>,
    capacity: usize,
    /// Where the next packet goes.
    end: usize,
    /// The highest byte written since the pages were last given back.
    touched: usize,
    /// The highest byte written during the current hold (compacting may move `end` back below it).
    hold_peak: usize,
    /// Holds in a row that stayed within `KEEP`.
    quiet_holds: u32,
    /// The system refused the mapping (strict overcommit and no memory left).
    map_failed: bool,
}

impl HeldBytes {
    /// Room for `capacity` bytes (address space only, until written).
    pub fn new(capacity: usize) -> Self {
        HeldBytes {
            region: None,
            capacity,
            end: 0,
            touched: 0,
            hold_peak: 0,
            quiet_holds: 0,
            map_failed: false,
        }
    }

    /// Appends `bytes`; returns where they start. `None`: not without compacting first (the region has
    /// more dead bytes than the `live` ones and the new ones together), or no memory for the region.
    pub fn append(&mut self, bytes: &[u8], live: usize) -> Option<usize> {
        let need = live + bytes.len();
        let end = self.end + bytes.len();
        if end > self.capacity || (end > KEEP && end > 2 * need) {
            return None;
        }
        if self.region.is_none() {
            self.region = Region::map(self.capacity);
            self.map_failed = self.region.is_none();
        }
        let region = self.region.as_mut()?;
        let at = self.end;
        region.bytes_mut()[at..end].copy_from_slice(bytes);
        self.end = end;
        self.touched = self.touched.max(end);
        self.hold_peak = self.hold_peak.max(end);
        Some(at)
    }

    /// Whether `len` more bytes fit after compacting down to `live`.
    pub fn fits_after_compacting(&self, live: usize, len: usize) -> bool {
        live + len <= self.capacity
    }

    pub fn get(&self, at: usize, len: usize) -> &[u8] {
        match &self.region {
            Some(r) => r.bytes().get(at..at + len).unwrap_or(&[]),
            None => &[],
        }
    }

    /// Starts compacting: live packets are then moved down with `move_down`, in the order they were
    /// appended, and the region continues after the last.
    pub fn compact_from(&mut self) -> Compaction<'_> {
        Compaction {
            held: self,
            next: 0,
        }
    }

    /// Nothing is held any more: the region starts over, and gives back the pages past `KEEP` after a
    /// large hold or enough small ones.
    pub fn clear(&mut self) {
        if self.hold_peak > 0 {
            self.quiet_holds = if self.hold_peak > KEEP {
                0
            } else {
                self.quiet_holds.saturating_add(1)
            };
        }
        self.end = 0;
        self.hold_peak = 0;
        if self.touched > RELEASE_ABOVE || (self.touched > KEEP && self.quiet_holds >= QUIET_HOLDS)
        {
            if let Some(r) = &mut self.region {
                r.release(KEEP, self.touched - KEEP);
            }
            self.touched = KEEP;
        }
    }

    /// Whether the system refused the region: nothing can be held.
    pub fn map_failed(&self) -> bool {
        self.map_failed
    }

    /// The bytes written since pages were last given back: what the region costs in memory.
    pub fn touched(&self) -> usize {
        self.touched
    }
}

/// Moves live packets down to the start of the region, in the order they were appended.
pub struct Compaction<'a> {
    held: &'a mut HeldBytes,
    next: usize,
}

impl Compaction<'_> {
    /// Moves the `len` bytes at `at` down to follow the packets moved before; returns their new place.
    pub fn move_down(&mut self, at: usize, len: usize) -> usize {
        let to = self.next;
        if let Some(r) = self.held.region.as_mut() {
            if at + len <= self.held.end && to <= at {
                r.bytes_mut().copy_within(at..at + len, to);
            }
        }
        self.next = to + len;
        to
    }
}

impl Drop for Compaction<'_> {
    fn drop(&mut self) {
        self.held.end = self.next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_bytes_read_back() {
        let mut h = HeldBytes::new(1 << 20);
        assert_eq!(h.get(0, 3), &[] as &[u8], "nothing mapped yet");
        let a = h.append(b"abc", 0).unwrap();
        let b = h.append(b"defg", 3).unwrap();
        assert_eq!(h.get(a, 3), b"abc");
        assert_eq!(h.get(b, 4), b"defg");
        assert_eq!(
            h.get(b, 1 << 21),
            &[] as &[u8],
            "out of range reads nothing"
        );
    }

    #[test]
    fn dead_bytes_ask_for_compaction_and_live_ones_survive_it() {
        let mut h = HeldBytes::new(1 << 20);
        let packet = [1u8; 1000];
        let mut places = Vec::new();
        while let Some(at) = h.append(&packet, 1000) {
            places.push(at);
        }
        // Only the last one is live (1000 bytes), yet the region filled past KEEP.
        assert_eq!(places.len(), KEEP / 1000);
        let last = *places.last().unwrap();
        assert!(h.fits_after_compacting(1000, 1000));
        let moved = h.compact_from().move_down(last, 1000);
        assert_eq!(moved, 0);
        assert_eq!(h.get(0, 1000), &packet[..]);
        assert_eq!(h.append(b"x", 1000), Some(1000));
    }

    #[test]
    fn capacity_is_a_hard_limit() {
        let mut h = HeldBytes::new(4096);
        assert!(h.append(&[0; 4096], 0).is_some());
        assert_eq!(h.append(&[0; 1], 4096), None);
        assert!(!h.fits_after_compacting(4096, 1));
    }

    #[test]
    fn a_large_hold_gives_its_pages_back_at_once_a_smaller_one_when_no_longer_needed() {
        let mut h = HeldBytes::new(4 << 20);
        let hold = |h: &mut HeldBytes, packets: usize| {
            let mut live = 0;
            for _ in 0..packets {
                h.append(&[9u8; 1400], live).unwrap();
                live += 1400;
            }
            h.clear();
        };
        hold(&mut h, 400);
        assert_eq!(h.touched(), KEEP, "over RELEASE_ABOVE: at once");
        // A hold of 84 KB: kept while such holds keep coming, given back after QUIET_HOLDS small ones.
        hold(&mut h, 60);
        assert_eq!(h.touched(), 60 * 1400);
        for _ in 0..QUIET_HOLDS - 1 {
            hold(&mut h, 3);
        }
        hold(&mut h, 60);
        assert_eq!(
            h.touched(),
            60 * 1400,
            "a large hold starts the count again"
        );
        for _ in 0..QUIET_HOLDS {
            hold(&mut h, 3);
        }
        assert_eq!(h.touched(), KEEP);
        // A hold that went past KEEP counts as large even when compacting brought it back under.
        let mut live = 0;
        for _ in 0..60 {
            h.append(&[9u8; 1400], live).unwrap();
            live += 1400;
        }
        let last = 59 * 1400;
        h.compact_from().move_down(last, 1400);
        h.clear();
        for _ in 0..QUIET_HOLDS - 1 {
            hold(&mut h, 3);
        }
        assert_eq!(
            h.touched(),
            60 * 1400,
            "the compacted hold started the count again"
        );
        hold(&mut h, 3);
        assert_eq!(h.touched(), KEEP);
        // Clearing an empty window is no hold.
        for _ in 0..QUIET_HOLDS * 2 {
            h.clear();
        }
        hold(&mut h, 60);
        for _ in 0..QUIET_HOLDS - 1 {
            h.clear();
            hold(&mut h, 3);
        }
        assert_eq!(h.touched(), 60 * 1400);
        // The kept pages and the given-back ones both take packets again.
        hold(&mut h, 3);
        let a = h.append(&[3u8; 1400], 0).unwrap();
        assert_eq!(a, 0);
        assert_eq!(h.get(a, 1400), &[3u8; 1400][..]);
    }

    #[test]
    fn a_refused_mapping_holds_nothing_and_says_so() {
        // More address space than any machine has: mmap fails as it would under strict overcommit.
        let mut h = HeldBytes::new(1 << 62);
        assert!(!h.map_failed());
        assert_eq!(h.append(b"abc", 0), None);
        assert!(h.map_failed());
        assert_eq!(h.get(0, 3), &[] as &[u8]);
    }
}

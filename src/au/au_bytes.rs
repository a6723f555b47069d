//! The bytes of one access unit: the stream's picture ring (`picture_ring`) for its usual pictures and
//! audio frames, a mapping of their own for keyframes and other outliers (`map_from`), the heap when the
//! ring is full (downstream holds many pictures).
//!
//! Every access unit is its own block, freed by whatever element ends the pipeline. glibc maps blocks
//! of 128 KiB and more only until one is freed; from then on it serves blocks up to that size from the
//! thread's heap (its dynamic mmap threshold). So after the first keyframe every keyframe came from the
//! streaming threads' heaps (seen in `/proc/PID/smaps` during `benches/soak.sh`), which then had to
//! hold the largest total of keyframes ever alive at once, between the smaller pictures' blocks. In
//! mappings of their own, keyframes take no room in the heaps.
//!
//! Only the outliers are mapped. And a mapping is used again: when the element downstream frees an
//! access unit, its mapping becomes one of the stream's spares (`SpareMappings`) for the next keyframe.
//! A fresh mapping per keyframe cost a page fault per 4 KiB written, the kernel zeroing each page, and
//! an unmapping: 14 % more CPU per stream at 1080p30 8 Mbit/s with a keyframe a second (`perf stat`,
//! 8 streams).

#[cfg(test)]
use super::picture_ring::RING_BYTES;
use super::picture_ring::{PictureRing, RingBytes};
use crate::mapping::Region;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};

/// No buffer below this capacity is mapped: glibc's own initial threshold.
pub const MAPPED_FROM: usize = 128 * 1024;

/// The capacity from which a stream's access units go into mappings: twice its `typical` picture, so
/// that only keyframes and other outliers do, and at least `MAPPED_FROM`.
pub fn map_from(typical: usize) -> usize {
    MAPPED_FROM.max(typical.saturating_mul(2))
}

/// Mappings kept for a stream's next keyframes.
const SPARES: usize = 2;

/// A stream's own memory for its access units: its picture ring, and the mappings its mapped access
/// units gave back when they were freed, for its next ones. Two: a keyframe that lacks its parameter
/// sets is copied into a second buffer with them in front (`builder/rewrites.rs`), so the stream of a
/// camera that sends them only in the SDP uses two at a time. Any more are unmapped: a stream keeps at
/// most two keyframes' pages this way.
#[derive(Clone, Default)]
pub struct SpareMappings {
    spares: Arc<Mutex<Vec<Region>>>,
    ring: PictureRing,
}

impl SpareMappings {
    /// An audio or metadata stream's: its frames are small, and so is its ring.
    pub fn for_frames() -> Self {
        SpareMappings {
            spares: Default::default(),
            ring: PictureRing::of(super::picture_ring::FRAME_RING_BYTES),
        }
    }

    /// A mapping of at least `len` bytes: the last spare, resized if it is smaller or more than twice
    /// as large, or else a new one. `None`: the system refused.
    fn take(&self, len: usize) -> Option<Region> {
        let spare = self.spares.lock().ok().and_then(|mut s| s.pop());
        if let Some(mut r) = spare {
            if (len..=len.saturating_mul(2)).contains(&r.len()) || r.resize(len) {
                return Some(r);
            }
        }
        Region::map(len)
    }

    /// Keeps `region` as a spare if there is room; otherwise it is unmapped.
    fn give_back(&self, region: Region) {
        if let Ok(mut spares) = self.spares.lock() {
            if spares.len() < SPARES {
                spares.push(region);
            }
        }
    }
}

impl std::fmt::Debug for SpareMappings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lens: Vec<usize> = self
            .spares
            .lock()
            .map(|s| s.iter().map(Region::len).collect())
            .unwrap_or_default();
        f.debug_struct("SpareMappings")
            .field("spares", &lens)
            .field("ring", &self.ring)
            .finish()
    }
}

/// A growable byte buffer, like `Vec<u8>` in the ways the access-unit builder uses one.
pub struct AuBytes {
    store: Store,
    /// Growing to this capacity or past it moves the bytes into a mapping.
    map_from: usize,
    /// Where mappings come from and go back to.
    spare: SpareMappings,
}

enum Store {
    Heap(Vec<u8>),
    /// `len` bytes used of a span of the stream's ring.
    Ring {
        span: RingBytes,
        len: usize,
    },
    /// `len` bytes used of the region.
    Mapped {
        region: Region,
        len: usize,
    },
}

impl AuBytes {
    /// Empty, mapped once its capacity reaches `map_from` (see `map_from()`), with the stream's `spare`
    /// mappings.
    pub fn new(map_from: usize, spare: &SpareMappings) -> Self {
        AuBytes {
            store: Store::Heap(Vec::new()),
            map_from: map_from.max(MAPPED_FROM),
            spare: spare.clone(),
        }
    }

    pub fn with_capacity(capacity: usize, map_from: usize, spare: &SpareMappings) -> Self {
        let mut b = AuBytes::new(map_from, spare);
        b.grow_to(capacity);
        b
    }

    /// An empty buffer of `capacity` for the same stream.
    pub fn sibling(&self, capacity: usize) -> Self {
        self.next(capacity, self.map_from)
    }

    /// An empty buffer of `capacity` for the stream's next picture, mapped from `map_from` on (the
    /// stream's usual size may have changed), with the same spare mappings.
    pub fn next(&self, capacity: usize, map_from: usize) -> Self {
        AuBytes::with_capacity(capacity, map_from, &self.spare)
    }

    pub fn capacity(&self) -> usize {
        match &self.store {
            Store::Heap(v) => v.capacity(),
            Store::Ring { span, .. } => span.len(),
            Store::Mapped { region, .. } => region.len(),
        }
    }

    /// Whether the bytes live in the stream's ring.
    pub fn in_ring(&self) -> bool {
        matches!(self.store, Store::Ring { .. })
    }

    /// Gives the room reserved past the bytes back to the ring, for the stream's next picture: a
    /// picture's buffer is made for a typical one and most are smaller.
    pub fn fit(&mut self) {
        if let Store::Ring { span, len } = &mut self.store {
            span.resize(*len);
        }
    }

    /// Whether the bytes live in a mapping of their own.
    pub fn is_mapped(&self) -> bool {
        matches!(self.store, Store::Mapped { .. })
    }

    /// Room for `additional` more bytes, and no more than that.
    pub fn reserve_exact(&mut self, additional: usize) {
        self.grow_to(self.len().saturating_add(additional));
    }

    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        let len = self.len();
        let need = len.saturating_add(bytes.len());
        if need > self.capacity() {
            // Doubling, as a `Vec` grows, so a long run of small appends costs few moves.
            self.grow_to(need.max(self.capacity().saturating_mul(2)));
        }
        match &mut self.store {
            Store::Heap(v) => v.extend_from_slice(bytes),
            Store::Ring { span, len: used } => {
                span.bytes_mut()[len..need].copy_from_slice(bytes);
                *used = need;
            }
            Store::Mapped { region, len: used } => {
                region.bytes_mut()[len..need].copy_from_slice(bytes);
                *used = need;
            }
        }
    }

    pub fn truncate(&mut self, at: usize) {
        match &mut self.store {
            Store::Heap(v) => v.truncate(at),
            Store::Ring { len, .. } | Store::Mapped { len, .. } => *len = (*len).min(at),
        }
    }

    pub fn clear(&mut self) {
        self.truncate(0);
    }

    pub fn pop(&mut self) -> Option<u8> {
        let last = self.last().copied()?;
        self.truncate(self.len() - 1);
        Some(last)
    }

    /// Takes the bytes from `at` on (all of them past the end: none); this buffer keeps those before.
    pub fn split_off(&mut self, at: usize) -> Vec<u8> {
        let tail = self.get(at..).map(<[u8]>::to_vec).unwrap_or_default();
        self.truncate(at);
        tail
    }

    /// Makes the capacity at least `capacity`: into a mapping from `map_from` on, else in the stream's
    /// ring (where the span grows in place if the room after it is free) or, when the ring has no room,
    /// on the heap. Where the system refuses a mapping the bytes go on as if it had not been asked.
    fn grow_to(&mut self, capacity: usize) {
        if capacity <= self.capacity() {
            return;
        }
        if capacity >= self.map_from {
            match &mut self.store {
                Store::Mapped { region, .. } => {
                    if region.resize(capacity) {
                        return;
                    }
                }
                _ => {
                    if let Some(mut region) = self.spare.take(capacity) {
                        let len = self.len();
                        region.bytes_mut()[..len].copy_from_slice(self);
                        self.store = Store::Mapped { region, len };
                        return;
                    }
                }
            }
        }
        if let Store::Ring { span, .. } = &mut self.store {
            if span.resize(capacity) {
                return;
            }
        }
        // A new buffer, or one in the ring that cannot grow where it is: a span of its own. Bytes that
        // went to the heap once stay there (the ring was full).
        let ring = matches!(&self.store, Store::Ring { .. })
            || matches!(&self.store, Store::Heap(v) if v.capacity() == 0);
        if let Some(mut span) = ring.then(|| self.spare.ring.take(capacity)).flatten() {
            let len = self.len();
            span.bytes_mut()[..len].copy_from_slice(self);
            self.store = Store::Ring { span, len };
            return;
        }
        match &mut self.store {
            Store::Heap(v) => v.reserve_exact(capacity - v.len()),
            _ => {
                let mut v = Vec::with_capacity(capacity);
                v.extend_from_slice(self);
                self.store = Store::Heap(v);
            }
        }
    }
}

impl Drop for AuBytes {
    fn drop(&mut self) {
        if let Store::Mapped { region, .. } =
            std::mem::replace(&mut self.store, Store::Heap(Vec::new()))
        {
            self.spare.give_back(region);
        }
    }
}

impl Deref for AuBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.store {
            Store::Heap(v) => v,
            Store::Ring { span, len } => &span.bytes()[..*len],
            Store::Mapped { region, len } => &region.bytes()[..*len],
        }
    }
}

impl DerefMut for AuBytes {
    fn deref_mut(&mut self) -> &mut [u8] {
        match &mut self.store {
            Store::Heap(v) => v,
            Store::Ring { span, len } => &mut span.bytes_mut()[..*len],
            Store::Mapped { region, len } => &mut region.bytes_mut()[..*len],
        }
    }
}

/// For `gst::Buffer::from_mut_slice`: the buffer wraps the bytes where they are.
impl AsMut<[u8]> for AuBytes {
    fn as_mut(&mut self) -> &mut [u8] {
        self
    }
}

impl AsRef<[u8]> for AuBytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl Clone for AuBytes {
    fn clone(&self) -> Self {
        let mut b = self.sibling(self.len());
        b.extend_from_slice(self);
        b
    }
}

impl PartialEq for AuBytes {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for AuBytes {}

impl PartialEq<Vec<u8>> for AuBytes {
    fn eq(&self, other: &Vec<u8>) -> bool {
        **self == other[..]
    }
}

impl<const N: usize> PartialEq<[u8; N]> for AuBytes {
    fn eq(&self, other: &[u8; N]) -> bool {
        **self == other[..]
    }
}

/// The length and where the bytes live, not the picture itself.
impl std::fmt::Debug for AuBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuBytes")
            .field("len", &self.len())
            .field("mapped", &self.is_mapped())
            .field("in_ring", &self.in_ring())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl SpareMappings {
        /// Where a new 1000-byte buffer of this stream would start.
        fn sibling_ptr(&self, len: usize) -> *const u8 {
            AuBytes::with_capacity(len, MAPPED_FROM, self).as_ptr()
        }
    }

    fn spare_lens(spare: &SpareMappings) -> Vec<usize> {
        spare
            .spares
            .lock()
            .unwrap()
            .iter()
            .map(Region::len)
            .collect()
    }

    #[test]
    fn small_buffers_are_not_mapped_of_their_own_and_large_ones_are() {
        let spare = SpareMappings::default();
        assert!(!AuBytes::with_capacity(MAPPED_FROM - 1, 0, &spare).is_mapped());
        let b = AuBytes::with_capacity(MAPPED_FROM, 0, &spare);
        assert!(b.is_mapped());
        assert!(b.capacity() >= MAPPED_FROM);
        assert!(b.is_empty());
        // A stream of 200 KB pictures maps only what is twice that.
        let high = map_from(200_000);
        assert!(!AuBytes::with_capacity(399_999, high, &spare).is_mapped());
        assert!(AuBytes::with_capacity(400_000, high, &spare).is_mapped());
    }

    #[test]
    fn growing_past_the_threshold_moves_the_bytes_into_a_mapping() {
        let mut b = AuBytes::new(MAPPED_FROM, &SpareMappings::default());
        let piece: Vec<u8> = (0..=255).collect();
        let mut expected = Vec::new();
        while expected.len() < 3 * MAPPED_FROM {
            b.extend_from_slice(&piece);
            expected.extend_from_slice(&piece);
        }
        assert!(b.is_mapped());
        assert_eq!(b, expected);
        b.reserve_exact(MAPPED_FROM);
        assert!(b.capacity() >= b.len() + MAPPED_FROM);
        assert_eq!(b, expected, "a resized mapping keeps its bytes");
    }

    #[test]
    fn a_freed_mapping_serves_the_next_keyframe() {
        let spare = SpareMappings::default();
        let mut key = AuBytes::with_capacity(500_000, MAPPED_FROM, &spare);
        key.extend_from_slice(&[7; 400_000]);
        let at = key.as_ptr();
        drop(key);
        assert_eq!(spare_lens(&spare), [500_000], "kept when freed");
        // The stream's next keyframe: the same pages, no new mapping.
        let next = AuBytes::with_capacity(300_000, MAPPED_FROM, &spare);
        assert_eq!(next.as_ptr(), at);
        assert_eq!(next.capacity(), 500_000);
        assert!(next.is_empty(), "nothing of the last picture shows");
        assert!(spare_lens(&spare).is_empty());
        // Three freed at once (a queue downstream held them): two are kept, the third unmapped.
        let second = next.sibling(300_000);
        let third = next.sibling(300_000);
        drop((next, second, third));
        assert_eq!(spare_lens(&spare), [500_000, 300_000]);
        // A spare over twice the size wanted shrinks to it; a smaller one grows.
        let small = AuBytes::with_capacity(140_000, MAPPED_FROM, &spare);
        assert_eq!(small.capacity(), 140_000);
        drop(small);
        assert_eq!(spare_lens(&spare), [500_000, 140_000]);
        let large = AuBytes::with_capacity(900_000, MAPPED_FROM, &spare);
        assert_eq!(large.capacity(), 900_000);
    }

    #[test]
    fn edits_read_the_same_in_every_store() {
        // In the ring, on the heap (the ring full) and in a mapping.
        for (capacity, ring_full, store) in [
            (16, false, "mapped: false, in_ring: true"),
            (16, true, "mapped: false, in_ring: false"),
            (2 * MAPPED_FROM, false, "mapped: true, in_ring: false"),
        ] {
            let spare = SpareMappings::default();
            let _full =
                ring_full.then(|| AuBytes::with_capacity(RING_BYTES, MAPPED_FROM * 4, &spare));
            let mut b = AuBytes::with_capacity(capacity, MAPPED_FROM, &spare);
            b.extend_from_slice(b"\0\0\0\x01abc\0\0");
            assert_eq!(b.pop(), Some(0));
            assert_eq!(b.split_off(7), vec![0]);
            assert_eq!(b.split_off(99), Vec::<u8>::new(), "past the end: nothing");
            assert_eq!(b, b"\0\0\0\x01abc".to_vec());
            b[4] = b'x';
            assert_eq!(&b[4..], b"xbc");
            let c = b.clone();
            b.truncate(4);
            assert_eq!(b.len(), 4);
            assert_eq!(c.len(), 7, "a clone has bytes of its own");
            assert_eq!(c, b"\0\0\0\x01xbc".to_vec());
            b.clear();
            assert_eq!(b.pop(), None);
            assert_eq!(format!("{b:?}"), format!("AuBytes {{ len: 0, {store} }}"));
        }
    }

    #[test]
    fn pictures_take_turns_in_the_ring_and_grow_there() {
        let spare = SpareMappings::default();
        let mut first = AuBytes::with_capacity(64 * 1024, MAPPED_FROM, &spare);
        first.extend_from_slice(&[1; 10_000]);
        assert!(first.in_ring());
        // The room a picture did not use goes to the next one, right after it.
        first.fit();
        let mut second = first.sibling(16 * 1024);
        assert_eq!(second.as_ptr() as usize, first.as_ptr() as usize + 10_000);
        // The newest grows where it is (to 64 KiB, doubling as a Vec would) and keeps its bytes.
        let at = second.as_ptr();
        let piece: Vec<u8> = (0..=255).collect();
        let mut expected = Vec::new();
        while expected.len() < 50_000 {
            second.extend_from_slice(&piece);
            expected.extend_from_slice(&piece);
        }
        assert_eq!(second.as_ptr(), at);
        assert_eq!(second, expected);
        // Both freed: the ring starts over and the next picture has the first one's pages.
        let first_at = first.as_ptr();
        drop((first, second));
        assert_eq!(spare.sibling_ptr(1000), first_at);
        // Past the mapping threshold a picture leaves the ring for a mapping of its own.
        let mut key = AuBytes::with_capacity(1000, MAPPED_FROM, &spare);
        key.extend_from_slice(&expected);
        key.reserve_exact(MAPPED_FROM);
        assert!(key.is_mapped());
        assert_eq!(&key[..expected.len()], &expected[..]);
    }

    #[test]
    fn a_full_ring_sends_pictures_to_the_heap_until_room_comes_back() {
        let spare = SpareMappings::default();
        let mut held: Vec<AuBytes> = (0..RING_BYTES / 32_768)
            .map(|_| AuBytes::with_capacity(32_768, MAPPED_FROM, &spare))
            .collect();
        assert!(held.iter().all(AuBytes::in_ring));
        let mut late = AuBytes::with_capacity(32_768, MAPPED_FROM, &spare);
        assert!(!late.in_ring() && !late.is_mapped(), "on the heap");
        late.extend_from_slice(&[9; 40_000]);
        assert!(!late.in_ring(), "bytes on the heap stay there");
        held.remove(0);
        assert!(AuBytes::with_capacity(32_768, MAPPED_FROM, &spare).in_ring());
    }
}

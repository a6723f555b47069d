//! A stream's ring of picture memory: its usual access units (those below `au_bytes`' mapping
//! threshold) and audio frames laid out one after another in one mapping per stream, and freed in about
//! the order they were made, so the same pages serve picture after picture.
//!
//! Issue 28: as heap blocks, each picture went through glibc's per-thread heaps, and every free stretch
//! a picture once touched stayed resident after it was freed (glibc gives pages back only at a heap's
//! top), so RSS crept up through `benches/soak.sh` unless the application set `MALLOC_ARENA_MAX`. A
//! ring's pages are all written in its first lap and the same ones from then on: its share of RSS is
//! its size, from the first minute. When downstream holds more than the ring has room for (a deep
//! queue, a muxer), pictures go to the heap as before.

use crate::mapping::Region;
use std::collections::VecDeque;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

/// A video stream's ring: room for 8 pictures of 32 KiB (1080p at 8 Mbit/s), or 0.7 s of 720p at
/// 3 Mbit/s.
pub const RING_BYTES: usize = 256 * 1024;

/// An audio or metadata stream's ring: 17 frames of 20 ms of 48 kHz stereo L16 (the largest audio
/// frames the element takes), hundreds of AAC or G.711 frames. Its pages are all resident once the
/// ring has gone round (16 s of 128 kbit/s AAC): a video's 256 KiB would be wasted on audio.
pub const FRAME_RING_BYTES: usize = 64 * 1024;

/// Where the next placement goes: the spans in use, oldest first. They lie in one run
/// `[first.start, last.end)`, or wrapped: `[first.start, end of ring)` then `[0, last.end)`.
#[derive(Debug, Default)]
struct Spans {
    live: VecDeque<Span>,
    /// The sequence number of `live[0]`; each placement takes the next.
    first_seq: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
    freed: bool,
}

impl Spans {
    /// A span of `len` bytes in a ring of `size`: its sequence number and start, or `None` when the
    /// spans in use leave no room that long.
    fn place(&mut self, len: usize, size: usize) -> Option<(u64, usize)> {
        if len == 0 || len > size {
            return None;
        }
        let start = match (self.live.front(), self.live.back()) {
            (Some(first), Some(last)) if last.start >= first.start => {
                if size - last.end >= len {
                    last.end
                } else if first.start >= len {
                    0
                } else {
                    return None;
                }
            }
            (Some(first), Some(last)) => {
                if first.start - last.end >= len {
                    last.end
                } else {
                    return None;
                }
            }
            _ => 0,
        };
        self.live.push_back(Span {
            start,
            end: start + len,
            freed: false,
        });
        Some((self.first_seq + self.live.len() as u64 - 1, start))
    }

    /// Makes the newest span `seq` end at `start + len`, when that is room nobody uses; `false`
    /// otherwise (an older span, or the room is taken), and nothing changes.
    fn resize_newest(&mut self, seq: u64, len: usize, size: usize) -> bool {
        let newest = self.first_seq + self.live.len() as u64;
        if seq.checked_add(1) != Some(newest) {
            return false;
        }
        let first_start = match self.live.front() {
            Some(first) => first.start,
            None => return false,
        };
        let Some(last) = self.live.back_mut() else {
            return false;
        };
        let end = last.start.saturating_add(len);
        // Wrapped: the room ends where the oldest span starts; else at the end of the ring.
        let limit = if last.start < first_start {
            first_start
        } else {
            size
        };
        if end > limit {
            return false;
        }
        last.end = end;
        true
    }

    /// Span `seq` is no longer used; the oldest spans no longer used make their room free.
    fn free(&mut self, seq: u64) {
        let Some(span) = seq
            .checked_sub(self.first_seq)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.live.get_mut(i))
        else {
            return;
        };
        span.freed = true;
        while self.live.front().is_some_and(|s| s.freed) {
            self.live.pop_front();
            self.first_seq += 1;
        }
    }
}

/// The mapping and its spans. Each byte of the mapping is reached only through the `RingBytes` whose
/// span holds it, and spans in use never overlap.
struct Ring {
    base: NonNull<u8>,
    size: usize,
    spans: Mutex<Spans>,
    _region: Region,
}

// SAFETY: the mapping is written and read only through `RingBytes`, each the sole owner of its span
// (spans in use are disjoint: `Spans`), and `spans` is behind a mutex. A span freed on one thread
// (a sink dropping its buffer) is placed again by another only after that thread's unlock.
unsafe impl Send for Ring {}
unsafe impl Sync for Ring {}

/// A stream's ring, mapped at its first use; clones share it.
#[derive(Clone)]
pub struct PictureRing {
    ring: Arc<std::sync::OnceLock<Option<Arc<Ring>>>>,
    size: usize,
}

/// A video stream's (`RING_BYTES`).
impl Default for PictureRing {
    fn default() -> Self {
        PictureRing::of(RING_BYTES)
    }
}

impl PictureRing {
    /// A ring of `size` bytes.
    pub fn of(size: usize) -> Self {
        PictureRing {
            ring: Default::default(),
            size,
        }
    }

    /// `len` bytes of the ring, or `None`: no room (or the system refused the mapping).
    pub fn take(&self, len: usize) -> Option<RingBytes> {
        let ring = self.ring.get_or_init(|| {
            let mut region = Region::map(self.size)?;
            let base = NonNull::new(region.bytes_mut().as_mut_ptr())?;
            Some(Arc::new(Ring {
                base,
                size: region.len(),
                spans: Mutex::new(Spans::default()),
                _region: region,
            }))
        });
        let ring = ring.as_ref()?;
        let (seq, start) = ring.spans.lock().ok()?.place(len, ring.size)?;
        Some(RingBytes {
            ring: ring.clone(),
            seq,
            start,
            len,
        })
    }
}

impl std::fmt::Debug for PictureRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let in_use = self.ring.get().and_then(Option::as_ref).map(|r| {
            r.spans
                .lock()
                .map(|s| s.live.iter().filter(|s| !s.freed).count())
                .unwrap_or(0)
        });
        f.debug_struct("PictureRing")
            .field("size", &self.size)
            .field("spans_in_use", &in_use)
            .finish()
    }
}

/// A span of a stream's ring, `len` bytes; back to the ring when dropped.
pub struct RingBytes {
    ring: Arc<Ring>,
    seq: u64,
    start: usize,
    len: usize,
}

impl RingBytes {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Makes the span `len` bytes long where it is: always when shorter (its end goes back to the ring
    /// if it is the newest span), when longer only if the room after it is free. `false`: unchanged.
    pub fn resize(&mut self, len: usize) -> bool {
        let moved = match self.ring.spans.lock() {
            Ok(mut spans) => spans.resize_newest(self.seq, len, self.ring.size),
            Err(_) => false,
        };
        if moved || len <= self.len {
            self.len = len;
            return true;
        }
        false
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `[start, start + len)` lies in the mapping (placed or resized within `size`) and is
        // this span's alone while it lives.
        unsafe { std::slice::from_raw_parts(self.ring.base.as_ptr().add(self.start), self.len) }
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, and `&mut self` makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.ring.base.as_ptr().add(self.start), self.len) }
    }
}

impl Drop for RingBytes {
    fn drop(&mut self) {
        if let Ok(mut spans) = self.ring.spans.lock() {
            spans.free(self.seq);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZE: usize = 100;

    fn starts(s: &Spans) -> Vec<(usize, usize)> {
        s.live.iter().map(|s| (s.start, s.end)).collect()
    }

    #[test]
    fn places_one_after_another_and_wraps_to_the_start() {
        let mut s = Spans::default();
        assert_eq!(s.place(40, SIZE), Some((0, 0)));
        assert_eq!(s.place(40, SIZE), Some((1, 40)));
        // 20 left at the end: a 30 does not fit anywhere while the first is in use.
        assert_eq!(s.place(30, SIZE), None);
        s.free(0);
        // Now it goes to the start, before the one in use.
        assert_eq!(s.place(30, SIZE), Some((2, 0)));
        assert_eq!(starts(&s), [(40, 80), (0, 30)]);
        // Wrapped: only [30, 40) is free.
        assert_eq!(s.place(11, SIZE), None);
        assert_eq!(s.place(10, SIZE), Some((3, 30)));
        assert_eq!(s.place(1, SIZE), None);
    }

    #[test]
    fn room_comes_back_in_order_whatever_the_order_of_frees() {
        let mut s = Spans::default();
        for _ in 0..4 {
            s.place(25, SIZE).unwrap();
        }
        // Freed out of order: the oldest still holds its room, so nothing comes back yet.
        s.free(2);
        s.free(1);
        assert_eq!(s.place(1, SIZE), None);
        s.free(0);
        assert_eq!(starts(&s), [(75, 100)]);
        assert_eq!(s.place(75, SIZE), Some((4, 0)));
        // Freeing twice, or a span long gone, or one never placed, changes nothing.
        s.free(0);
        s.free(2);
        s.free(99);
        assert_eq!(starts(&s), [(75, 100), (0, 75)]);
        s.free(3);
        s.free(4);
        assert!(s.live.is_empty());
        // Empty: the next starts over at 0.
        assert_eq!(s.place(SIZE, SIZE), Some((5, 0)));
    }

    #[test]
    fn the_newest_span_grows_into_free_room_only() {
        let mut s = Spans::default();
        s.place(10, SIZE).unwrap();
        s.place(10, SIZE).unwrap();
        // The older span cannot grow: the newer one is after it.
        assert!(!s.resize_newest(0, 20, SIZE));
        assert!(s.resize_newest(1, 90, SIZE));
        assert!(!s.resize_newest(1, 91, SIZE));
        // Shrinks give the end back.
        assert!(s.resize_newest(1, 5, SIZE));
        assert_eq!(s.place(85, SIZE), Some((2, 15)));
        s.free(0);
        s.free(1);
        // Wrapped: the newest at the start grows only up to the oldest.
        let (seq, start) = s.place(5, SIZE).unwrap();
        assert_eq!(start, 0);
        assert!(s.resize_newest(seq, 15, SIZE));
        assert!(!s.resize_newest(seq, 16, SIZE));
    }

    #[test]
    fn no_request_is_too_large_or_empty_to_answer() {
        let mut s = Spans::default();
        assert_eq!(s.place(0, SIZE), None);
        assert_eq!(s.place(SIZE + 1, SIZE), None);
        assert_eq!(s.place(usize::MAX, SIZE), None);
        let (seq, _) = s.place(SIZE, SIZE).unwrap();
        assert!(!s.resize_newest(seq, usize::MAX, SIZE));
        assert!(!s.resize_newest(seq + 5, 1, SIZE));
    }

    #[test]
    fn bytes_stay_apart_and_the_same_pages_serve_again() {
        let ring = PictureRing::default();
        let mut a = ring.take(1000).unwrap();
        let mut b = ring.take(1000).unwrap();
        a.bytes_mut().fill(1);
        b.bytes_mut().fill(2);
        assert!(a.bytes().iter().all(|&x| x == 1));
        assert!(b.bytes().iter().all(|&x| x == 2));
        let where_a = a.bytes().as_ptr();
        drop(a);
        drop(b);
        // Both gone: the ring starts over where the first was.
        let c = ring.take(500).unwrap();
        assert_eq!(c.bytes().as_ptr(), where_a);
        // Full: the ring says no and the caller goes to the heap.
        assert!(ring.take(RING_BYTES).is_none());
        assert_eq!(
            format!("{ring:?}"),
            "PictureRing { size: 262144, spans_in_use: Some(1) }"
        );
        let audio = PictureRing::of(FRAME_RING_BYTES);
        assert!(audio.take(FRAME_RING_BYTES + 1).is_none());
        assert!(audio.take(FRAME_RING_BYTES).is_some());
    }

    #[test]
    fn spans_live_on_other_threads_and_come_back_from_there() {
        let ring = PictureRing::default();
        let mut held = Vec::new();
        for i in 0..8u8 {
            let mut b = ring.take(RING_BYTES / 8).unwrap();
            b.bytes_mut().fill(i);
            held.push(b);
        }
        assert!(ring.take(1).is_none());
        std::thread::spawn(move || {
            for (i, b) in held.into_iter().enumerate() {
                assert!(b.bytes().iter().all(|&x| x == i as u8));
            }
        })
        .join()
        .unwrap();
        assert!(ring.take(RING_BYTES).is_some());
    }
}

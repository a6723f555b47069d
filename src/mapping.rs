//! Anonymous memory mappings: memory outside the allocator's heaps, for the few large buffers whose
//! sizes and lifetimes would fragment them — the reorder window's held packets (`rtp::held_bytes`) and
//! keyframe-sized access units (`au::au_bytes`). A mapping goes back to the system whole when dropped,
//! and its pages cost memory only once written.

use std::ptr::NonNull;

/// An anonymous private mapping of `len` bytes, readable and writable.
#[derive(Debug)]
pub struct Region {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping belongs to this `Region` alone and is reached only through it, so it may move to
// another thread with its owner.
unsafe impl Send for Region {}

impl Region {
    /// `None` when the system refuses (strict overcommit and no memory left, or `len` is 0).
    pub fn map(len: usize) -> Option<Region> {
        if len == 0 {
            return None;
        }
        // SAFETY: a fresh anonymous mapping, no file, no fixed address; checked for failure below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return None;
        }
        NonNull::new(ptr.cast()).map(|ptr| Region { ptr, len })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `len` bytes mapped readable and writable for as long as `self` lives.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, and `&mut self` makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// Makes the mapping `len` bytes long, moving it if it must; the bytes it had stay (up to `len`).
    /// The kernel moves pages rather than copying them. `false`: refused, the mapping is unchanged.
    pub fn resize(&mut self, len: usize) -> bool {
        if len == 0 {
            return false;
        }
        // SAFETY: remaps this region's own mapping; on success the old address is no longer valid and
        // is replaced at once, and no reference into it can outlive `&mut self`.
        let ptr = unsafe {
            libc::mremap(
                self.ptr.as_ptr().cast(),
                self.len,
                len,
                libc::MREMAP_MAYMOVE,
            )
        };
        if ptr == libc::MAP_FAILED {
            return false;
        }
        match NonNull::new(ptr.cast()) {
            Some(ptr) => {
                self.ptr = ptr;
                self.len = len;
                true
            }
            None => false,
        }
    }

    /// Gives the pages of `[from, from + len)` back; they read as zeros after. `from` is page-aligned.
    /// `&mut self`: the pages' contents change, so no slice from `bytes` may be alive.
    pub fn release(&mut self, from: usize, len: usize) {
        let len = len.min(self.len.saturating_sub(from));
        if len == 0 {
            return;
        }
        // SAFETY: the range lies within the mapping (`from + len <= self.len`; `add` stays in it). The
        // pages' contents change (to zeros): `&mut self` guarantees no reference into the mapping is
        // alive. A failure only leaves the pages in place.
        unsafe {
            libc::madvise(self.ptr.as_ptr().add(from).cast(), len, libc::MADV_DONTNEED);
        }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map` (or moved by `resize`), unmapped once.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resized_mapping_keeps_its_bytes() {
        let mut r = Region::map(8192).unwrap();
        r.bytes_mut()[..3].copy_from_slice(b"abc");
        r.bytes_mut()[8191] = 7;
        assert!(r.resize(1 << 20));
        assert_eq!(r.len(), 1 << 20);
        assert_eq!(&r.bytes()[..3], b"abc");
        assert_eq!(r.bytes()[8191], 7);
        assert_eq!(r.bytes()[(1 << 20) - 1], 0, "new pages read as zeros");
        assert!(r.resize(4096));
        assert_eq!(&r.bytes()[..3], b"abc");
    }

    #[test]
    fn released_pages_read_as_zeros() {
        let mut r = Region::map(3 * 4096).unwrap();
        r.bytes_mut().fill(9);
        r.release(4096, 4096);
        assert_eq!(r.bytes()[4095], 9);
        assert!(r.bytes()[4096..8192].iter().all(|&b| b == 0));
        assert_eq!(r.bytes()[8192], 9);
        // Past the end: clipped, nothing happens.
        r.release(3 * 4096, 4096);
        r.release(8192, 1 << 30);
        assert!(r.bytes()[8192..].iter().all(|&b| b == 0));
    }

    #[test]
    fn impossible_sizes_are_refused() {
        assert!(Region::map(0).is_none());
        assert!(Region::map(1 << 62).is_none());
        let mut r = Region::map(4096).unwrap();
        assert!(!r.resize(1 << 62));
        assert!(!r.resize(0));
        assert_eq!(r.len(), 4096);
    }
}

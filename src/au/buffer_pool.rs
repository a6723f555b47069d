//! Access-unit memory, recycled: a finished access unit's bytes go downstream in a `gst::Buffer`, and
//! when GStreamer frees that buffer (on whatever thread), the `Vec` comes back here for a later access
//! unit. Allocating each picture afresh (a keyframe ten times the size of the frames around it, thirty
//! times a second per camera) left the allocator's heaps fragmented: RSS grew for many minutes under
//! loss. Recycled buffers keep their capacity, so a stream settles on a few buffers its largest
//! pictures fit in.

use std::sync::Mutex;

/// Buffers kept per stream: one being filled, one or two downstream, a spare.
const KEPT: usize = 4;
/// A buffer this large (an outsized keyframe) is not kept: memory goes back to the system.
const MAX_KEPT_CAPACITY: usize = 2 * 1024 * 1024;

#[derive(Debug, Default)]
pub struct BufferPool {
    free: Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    /// An empty buffer with room for at least `capacity` bytes.
    pub fn take(&self, capacity: usize) -> Vec<u8> {
        let recycled = self.free.lock().ok().and_then(|mut f| f.pop());
        match recycled {
            Some(mut buf) => {
                buf.clear();
                buf.reserve(capacity);
                buf
            }
            None => Vec::with_capacity(capacity),
        }
    }

    /// Takes back a buffer downstream is done with.
    pub fn give(&self, buf: Vec<u8>) {
        if buf.capacity() > MAX_KEPT_CAPACITY {
            return;
        }
        if let Ok(mut free) = self.free.lock() {
            if free.len() < KEPT {
                free.push(buf);
            }
        }
    }
}

/// Access-unit bytes that return to their pool when dropped (when GStreamer frees the buffer).
pub struct Recycled {
    data: Vec<u8>,
    pool: std::sync::Arc<BufferPool>,
}

impl Recycled {
    pub fn new(data: Vec<u8>, pool: std::sync::Arc<BufferPool>) -> Self {
        Recycled { data, pool }
    }
}

impl AsRef<[u8]> for Recycled {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

impl AsMut<[u8]> for Recycled {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }
}

impl Drop for Recycled {
    fn drop(&mut self) {
        self.pool.give(std::mem::take(&mut self.data));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn buffers_come_back_with_their_capacity() {
        let pool = Arc::new(BufferPool::default());
        let mut a = pool.take(100);
        a.extend_from_slice(&[1; 300_000]);
        let cap = a.capacity();
        drop(Recycled::new(a, pool.clone()));
        let b = pool.take(100);
        assert!(b.is_empty());
        assert_eq!(b.capacity(), cap, "the same memory, reused");
    }

    #[test]
    fn the_pool_is_bounded() {
        let pool = Arc::new(BufferPool::default());
        for _ in 0..10 {
            pool.give(Vec::with_capacity(10));
        }
        assert_eq!(pool.free.lock().unwrap().len(), KEPT);
        pool.give(Vec::with_capacity(MAX_KEPT_CAPACITY + 1));
        assert!(pool
            .free
            .lock()
            .unwrap()
            .iter()
            .all(|b| b.capacity() <= MAX_KEPT_CAPACITY));
    }
}

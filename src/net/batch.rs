//! Batched UDP receive with recvmmsg(2): a burst of packets (one video frame arrives as dozens of
//! datagrams back to back) costs one system call instead of one per packet. Buffers are allocated once.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};
use std::os::fd::AsRawFd;

/// Datagrams per call.
pub const BATCH: usize = 32;
/// Largest datagram kept whole; RTP from cameras stays under the path MTU, so 8 KiB is ample.
pub const SLOT: usize = 8 * 1024;

/// The message headers point into the batch's own buffers: boxed slices, allocated once and never
/// grown or moved (a `Box<[_]>` cannot reallocate), so the pointers stay valid for the batch's life,
/// wherever the `RecvBatch` itself moves.
pub struct RecvBatch {
    data: Box<[u8]>,
    addrs: Box<[libc::sockaddr_storage]>,
    iovs: Box<[libc::iovec]>,
    msgs: Box<[libc::mmsghdr]>,
    received: usize,
}

// SAFETY: the raw pointers in `iovs` and `msgs` point only into this batch's own boxed buffers, which
// move with it to another thread and are reached only through `&mut self` (`recv_more`) or, read-only,
// `&self`; nothing else holds them.
unsafe impl Send for RecvBatch {}

impl Default for RecvBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl RecvBatch {
    pub fn new() -> Self {
        // SAFETY: all-zero is a valid value for these plain C structs (integers and null pointers).
        let zero_addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let zero_msg: libc::mmsghdr = unsafe { std::mem::zeroed() };
        let zero_iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        let mut b = RecvBatch {
            data: vec![0; BATCH * SLOT].into_boxed_slice(),
            addrs: vec![zero_addr; BATCH].into_boxed_slice(),
            iovs: vec![zero_iov; BATCH].into_boxed_slice(),
            msgs: vec![zero_msg; BATCH].into_boxed_slice(),
            received: BATCH,
        };
        // Every pointer derives from one base pointer per buffer, taken once: no later reborrow of a
        // whole buffer sits between them.
        let data = b.data.as_mut_ptr();
        let addrs = b.addrs.as_mut_ptr();
        let iovs = b.iovs.as_mut_ptr();
        for (i, m) in b.msgs.iter_mut().enumerate() {
            // SAFETY: `i < BATCH`: slot `i` (`i * SLOT`, `SLOT` bytes) lies inside `data`
            // (`BATCH * SLOT` bytes), address `i` inside `addrs`, iovec `i` inside `iovs`.
            unsafe {
                *iovs.add(i) = libc::iovec {
                    iov_base: data.add(i * SLOT).cast(),
                    iov_len: SLOT,
                };
                m.msg_hdr.msg_name = addrs.add(i).cast();
                m.msg_hdr.msg_iov = iovs.add(i);
            }
            m.msg_hdr.msg_iovlen = 1;
        }
        b.reset_written();
        b.received = 0;
        b
    }

    /// Restores what the kernel wrote into the headers of the last batch (name lengths, flags).
    fn reset_written(&mut self) {
        for m in &mut self.msgs[..self.received] {
            m.msg_hdr.msg_namelen =
                std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            m.msg_hdr.msg_flags = 0;
            m.msg_len = 0;
        }
    }

    /// Empties the batch.
    pub fn clear(&mut self) {
        self.reset_written();
        self.received = 0;
    }

    /// Datagrams held.
    pub fn len(&self) -> usize {
        self.received
    }

    pub fn is_empty(&self) -> bool {
        self.received == 0
    }

    /// Appends what `sock` has queued, into the slots still free, without blocking. Returns how many
    /// datagrams came.
    pub fn recv_more(&mut self, sock: &UdpSocket) -> io::Result<usize> {
        let free = BATCH - self.received;
        if free == 0 {
            return Ok(0);
        }
        // SAFETY: msgs[received..BATCH] (`free` of them) point at iovecs and addresses inside this
        // batch's boxed buffers, which live and stay put as long as `self`; `&mut self` keeps every
        // other reference to them out while the kernel writes; their written fields were reset.
        let n = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                self.msgs[self.received..].as_mut_ptr(),
                free as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock => Ok(0),
                _ => Err(e),
            };
        }
        self.received += n as usize;
        Ok(n as usize)
    }

    /// Datagram `i` of the batch: its bytes (None if it was larger than a slot) and sender.
    pub fn get(&self, i: usize) -> (Option<&[u8]>, Option<IpAddr>) {
        let from = (i < self.received)
            .then(|| addr_ip(&self.addrs[i]))
            .flatten();
        (self.data(i), from)
    }

    /// Datagram `i`'s bytes alone (None if it was larger than a slot or is not there).
    pub fn data(&self, i: usize) -> Option<&[u8]> {
        let m = self.msgs.get(i).filter(|_| i < self.received)?;
        let len = m.msg_len as usize;
        (m.msg_hdr.msg_flags & libc::MSG_TRUNC == 0 && len <= SLOT)
            .then(|| &self.data[i * SLOT..i * SLOT + len])
    }
}

fn addr_ip(a: &libc::sockaddr_storage) -> Option<IpAddr> {
    match i32::from(a.ss_family) {
        libc::AF_INET => {
            // SAFETY: ss_family says this storage holds a sockaddr_in.
            let sin = unsafe { &*(a as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                sin.sin_addr.s_addr,
            ))))
        }
        libc::AF_INET6 => {
            // SAFETY: ss_family says this storage holds a sockaddr_in6.
            let sin6 =
                unsafe { &*(a as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh batch of what `sock` has queued.
    fn recv(b: &mut RecvBatch, sock: &UdpSocket) -> io::Result<usize> {
        b.clear();
        b.recv_more(sock)
    }

    #[test]
    fn receives_a_burst_in_one_call() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut b = RecvBatch::new();
        assert_eq!(recv(&mut b, &rx).unwrap(), 0);
        for i in 0..40u8 {
            tx.send_to(&[i; 100], rx.local_addr().unwrap()).unwrap();
        }
        tx.send_to(&vec![7u8; SLOT + 1], rx.local_addr().unwrap())
            .unwrap();
        assert_eq!(recv(&mut b, &rx).unwrap(), BATCH);
        let (data, from) = b.get(3);
        assert_eq!(data.unwrap(), &[3u8; 100][..]);
        assert_eq!(from, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert_eq!(recv(&mut b, &rx).unwrap(), 9);
        assert_eq!(b.get(7).0.unwrap()[0], 39);
        assert_eq!(b.get(8).0, None, "oversized datagram is flagged, not cut");
        assert_eq!(b.get(9), (None, None));
        // Headers are reused: a later batch is read whole and from the right sender again.
        let rx_addr = rx.local_addr().unwrap();
        // Moving the batch (as into the receiver) keeps its heap buffers, which the headers point into.
        let mut b = std::hint::black_box(b);
        tx.send_to(&[5u8; 300], rx_addr).unwrap();
        assert_eq!(recv(&mut b, &rx).unwrap(), 1);
        assert_eq!(b.get(0).0.unwrap(), &[5u8; 300][..]);
        assert_eq!(b.get(0).1, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }

    #[test]
    fn two_sockets_fill_one_batch() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..(BATCH as u8 - 2) {
            tx.send_to(&[i], a.local_addr().unwrap()).unwrap();
        }
        for i in 0..5u8 {
            tx.send_to(&[100 + i], c.local_addr().unwrap()).unwrap();
        }
        let mut b = RecvBatch::new();
        assert_eq!(b.recv_more(&a).unwrap(), BATCH - 2);
        assert_eq!(
            b.recv_more(&c).unwrap(),
            2,
            "only the free slots are filled"
        );
        assert_eq!(b.len(), BATCH);
        assert_eq!(b.get(BATCH - 1).0.unwrap(), &[101]);
        assert_eq!(b.recv_more(&c).unwrap(), 0);
        b.clear();
        assert!(b.is_empty());
        assert_eq!(b.recv_more(&c).unwrap(), 3);
        assert_eq!(b.get(0).0.unwrap(), &[102]);
    }
}

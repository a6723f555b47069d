//! Batched UDP receive with recvmmsg(2): a burst of packets (one video frame arrives as dozens of
//! datagrams back to back) costs one system call instead of one per packet. Buffers are allocated once.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};
use std::os::fd::AsRawFd;

/// Datagrams per call.
pub const BATCH: usize = 32;
/// Largest datagram kept whole; RTP from cameras stays under the path MTU, so 8 KiB is ample.
pub const SLOT: usize = 8 * 1024;
/// Room for a datagram's ancillary data: its kernel receive time (`SO_TIMESTAMPNS`, a cmsg header and
/// a timespec: 32 bytes on 64-bit Linux), with space to spare.
const CONTROL: usize = 64;

/// The message headers point into the batch's own buffers: boxed slices, allocated once and never
/// grown or moved (a `Box<[_]>` cannot reallocate), so the pointers stay valid for the batch's life,
/// wherever the `RecvBatch` itself moves.
pub struct RecvBatch {
    data: Box<[u8]>,
    /// u64 words: cmsg headers are 8-byte aligned.
    controls: Box<[u64]>,
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
            controls: vec![0; BATCH * CONTROL / 8].into_boxed_slice(),
            addrs: vec![zero_addr; BATCH].into_boxed_slice(),
            iovs: vec![zero_iov; BATCH].into_boxed_slice(),
            msgs: vec![zero_msg; BATCH].into_boxed_slice(),
            received: BATCH,
        };
        // Every pointer derives from one base pointer per buffer, taken once: no later reborrow of a
        // whole buffer sits between them.
        let data = b.data.as_mut_ptr();
        let controls = b.controls.as_mut_ptr();
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
                // `i * CONTROL / 8` words in: control area `i` (`CONTROL` bytes) lies inside
                // `controls` (`BATCH * CONTROL` bytes).
                m.msg_hdr.msg_control = controls.add(i * CONTROL / 8).cast();
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
            m.msg_hdr.msg_controllen = CONTROL as _;
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

    /// When the kernel received datagram `i` (ns since the Unix epoch on CLOCK_REALTIME), from its
    /// `SO_TIMESTAMPNS` ancillary data; `None` without it (the option off, or not there).
    pub fn received_at(&self, i: usize) -> Option<u64> {
        let m = self.msgs.get(i).filter(|_| i < self.received)?;
        let hdr = &m.msg_hdr;
        // SAFETY: `hdr` is a header the kernel filled in this batch: `msg_control` points at its
        // control area and `msg_controllen` says how much of it the kernel wrote (at most `CONTROL`);
        // CMSG_FIRSTHDR/CMSG_NXTHDR stay within that length.
        let mut c = unsafe { libc::CMSG_FIRSTHDR(hdr) };
        // SAFETY: arithmetic on a length, no memory touched.
        let want = unsafe { libc::CMSG_LEN(std::mem::size_of::<libc::timespec>() as u32) };
        while !c.is_null() {
            // SAFETY: a non-null cmsg from the walk above lies wholly within the control area.
            let cmsg = unsafe { &*c };
            if cmsg.cmsg_level == libc::SOL_SOCKET
                && cmsg.cmsg_type == libc::SCM_TIMESTAMPNS
                && cmsg.cmsg_len as usize >= want as usize
            {
                // SAFETY: the kernel wrote a timespec as this cmsg's data (its length says so); read
                // unaligned, as CMSG_DATA promises no alignment for the payload's type.
                let ts: libc::timespec =
                    unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(c).cast()) };
                let (s, ns) = (
                    u64::try_from(ts.tv_sec).ok()?,
                    u64::try_from(ts.tv_nsec).ok()?,
                );
                return s.checked_mul(1_000_000_000)?.checked_add(ns);
            }
            // SAFETY: as above, within the header's control length.
            c = unsafe { libc::CMSG_NXTHDR(hdr, c) };
        }
        None
    }

    /// Datagram `i`'s bytes alone (None if it was larger than a slot or is not there).
    pub fn data(&self, i: usize) -> Option<&[u8]> {
        let m = self.msgs.get(i).filter(|_| i < self.received)?;
        let len = m.msg_len as usize;
        (m.msg_hdr.msg_flags & libc::MSG_TRUNC == 0 && len <= SLOT)
            .then(|| &self.data[i * SLOT..i * SLOT + len])
    }
}

/// Maps kernel receive times (CLOCK_REALTIME) onto `Instant`s: both clocks read once, when a read
/// begins; a datagram received `d` before that is `d` before the `Instant`. A receive time after the
/// reading (the wall clock stepped back meanwhile) or more than a minute before it (stepped forward)
/// maps to none.
#[derive(Debug, Clone, Copy)]
pub struct ReceiveClock {
    instant: std::time::Instant,
    real_ns: u64,
}

impl ReceiveClock {
    pub fn now() -> Self {
        let real = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        ReceiveClock {
            instant: std::time::Instant::now(),
            real_ns: u64::try_from(real.as_nanos()).unwrap_or(u64::MAX),
        }
    }

    /// When a datagram received at `at` (ns since the Unix epoch) came.
    pub fn instant_of(&self, at: Option<u64>) -> Option<std::time::Instant> {
        let ago = self.real_ns.checked_sub(at?)?;
        (ago <= 60_000_000_000)
            .then(|| {
                self.instant
                    .checked_sub(std::time::Duration::from_nanos(ago))
            })
            .flatten()
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
    fn each_datagram_has_its_kernel_receive_time() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut b = RecvBatch::new();
        tx.send_to(&[1], rx.local_addr().unwrap()).unwrap();
        assert_eq!(recv(&mut b, &rx).unwrap(), 1);
        assert_eq!(b.received_at(0), None, "not asked for: none");
        crate::net::udp::receive_times(&rx).unwrap();
        let now = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        };
        // The kernel starts stamping datagrams as they come a moment after the first socket asks (a
        // static key flipped from a work queue); until then it stamps them when they are read. So:
        // two datagrams 30 ms apart, until they come stamped apart (a few tries at most).
        let mut tries = Vec::new();
        let stamped_apart = (0..20).any(|_| {
            let before = now();
            tx.send_to(&[2], rx.local_addr().unwrap()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(30));
            tx.send_to(&[3], rx.local_addr().unwrap()).unwrap();
            assert_eq!(recv(&mut b, &rx).unwrap(), 2);
            let (a, c) = (b.received_at(0).unwrap(), b.received_at(1).unwrap());
            tries.push((before, a, c));
            // Each when it came, not when it was read: 30 ms apart, both after `before`.
            a >= before && c > a + 25_000_000 && c <= now()
        });
        assert!(stamped_apart, "{tries:?}");
        assert_eq!(b.received_at(2), None);
    }

    #[test]
    fn receive_times_map_onto_instants() {
        let c = ReceiveClock::now();
        let at = c.real_ns - 5_000_000;
        assert_eq!(
            c.instant_of(Some(at)),
            Some(c.instant - std::time::Duration::from_millis(5))
        );
        assert_eq!(c.instant_of(None), None);
        assert_eq!(c.instant_of(Some(c.real_ns + 1)), None, "after the read");
        assert_eq!(c.instant_of(Some(0)), None, "a minute and more before");
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

//! Marker steering: fewer wake-ups per video frame on the RTP port, without holding a frame back (its
//! earlier packets are read when its last one arrives: some microseconds of work, no waiting).
//!
//! A camera sends a frame as a burst of datagrams, and on a 100 Mbit/s link (or from a server feeding
//! several clients in turn) they arrive tens of microseconds apart, so a thread waiting on the socket is
//! woken once per packet. The element only has something to push when a frame's last packet (RTP marker
//! bit) arrives, so waking earlier is wasted work. Two sockets share the RTP port (SO_REUSEPORT) and a
//! classic BPF program picks the one each datagram goes to: packets with the marker bit, and every
//! `WAKE_EVERY`th sequence number so that at most that many packets wait unread, go to the *wake* socket
//! that the receive loop watches; the rest go to the *bulk* socket, read whenever the wake socket fires.
//! The receive loop watches both sockets whenever order or timing matters (start-up, loss, reordering
//! and a while after, cameras that do not set the marker bit); see `WakePolicy`.
//!
//! Unprivileged and local to the two sockets: SO_ATTACH_REUSEPORT_CBPF (Linux 4.5+). Where it is not
//! available the port gets one socket and every packet wakes the loop, as before.

use super::batch::{RecvBatch, BATCH};
use crate::rtp::packet::seq_delta;
use socket2::Socket;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// A packet with this sequence number modulo `WAKE_EVERY` wakes the loop even without the marker bit,
/// bounding what waits in the bulk socket to one receive batch.
pub const WAKE_EVERY: u16 = BATCH as u16;

/// The RTP socket pair: `wake` gets marker packets and every `WAKE_EVERY`th one, `bulk` the rest.
#[derive(Debug)]
pub struct Steered {
    pub bulk: Socket,
    pub wake: Socket,
}

/// Binds two sockets to `addr` in one SO_REUSEPORT group and attaches the steering program. Errors
/// when the kernel offers no steering or the port is taken; the caller then binds one plain socket.
pub fn bind(addr: SocketAddr, recv_buffer: usize) -> io::Result<Steered> {
    // Bind order is the index the program returns: bulk is 0, wake is 1.
    let bulk = reuse_port_socket(addr, recv_buffer)?;
    let wake = reuse_port_socket(addr, recv_buffer)?;
    attach(&bulk)?;
    Ok(Steered { bulk, wake })
}

fn reuse_port_socket(addr: SocketAddr, recv_buffer: usize) -> io::Result<Socket> {
    super::udp::bound_socket(addr, recv_buffer, true)
}

/// The program, run on each datagram with the UDP payload (the RTP header) at offset 0. Out-of-range
/// loads (runts) end it with 0: bulk, where the parser counts them as malformed.
fn program() -> [libc::sock_filter; 7] {
    const LDB: u16 = (libc::BPF_LD | libc::BPF_B | libc::BPF_ABS) as u16;
    const JSET: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
    const AND: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
    const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const RET: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    [
        op(LDB, 0, 0, 1),                         // M | PT
        op(JSET, 4, 0, 0x80),                     // marker → wake
        op(LDB, 0, 0, 3),                         // low byte of the sequence number
        op(AND, 0, 0, u32::from(WAKE_EVERY - 1)), //
        op(JEQ, 1, 0, 0),                         // every WAKE_EVERYth → wake
        op(RET, 0, 0, 0),                         // bulk
        op(RET, 0, 0, 1),                         // wake
    ]
}

// Not in the libc crate for Linux: the asm-generic value, which these architectures use.
const SO_ATTACH_REUSEPORT_CBPF: Option<libc::c_int> = if cfg!(all(
    target_os = "linux",
    any(
        target_arch = "x86",
        target_arch = "x86_64",
        target_arch = "arm",
        target_arch = "aarch64",
        target_arch = "riscv64",
        target_arch = "loongarch64",
    )
)) {
    Some(51)
} else {
    None
};

fn attach(sock: &Socket) -> io::Result<()> {
    let Some(opt) = SO_ATTACH_REUSEPORT_CBPF else {
        return Err(io::ErrorKind::Unsupported.into());
    };
    debug_assert!(WAKE_EVERY.is_power_of_two() && WAKE_EVERY <= 256);
    let mut filter = program();
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: prog points at `filter`, alive for the call; the kernel copies the program.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&prog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads the RTP port — one socket, or the steered pair — and hands out the datagrams in sequence order.
///
/// Each socket alone is in arrival order, but fed socket by socket the packets of the two would look
/// reordered to the reorder window (which would then arm its timer and count them). So both are read and
/// merged by sequence number. When the bulk socket fills a batch it may hold more, and a wake packet
/// beyond the last bulk packet read is kept for the next round rather than let through ahead of them.
pub struct RtpReader {
    wake: RecvBatch,
    /// Next datagram of `wake` to hand out; the rest wait for the next round.
    wake_pos: usize,
    bulk: RecvBatch,
}

impl Default for RtpReader {
    fn default() -> Self {
        Self::new()
    }
}

impl RtpReader {
    pub fn new() -> Self {
        RtpReader {
            wake: RecvBatch::new(),
            wake_pos: 0,
            bulk: RecvBatch::new(),
        }
    }

    /// Reads up to `rounds` batches, calling `visit(datagram, sender)` in sequence order (`None`: larger
    /// than a slot). Returns whether datagrams may be left: queued in the sockets or held here.
    pub fn read(
        &mut self,
        wake: &UdpSocket,
        bulk: Option<&UdpSocket>,
        rounds: usize,
        mut visit: impl FnMut(Option<&[u8]>, Option<IpAddr>),
    ) -> io::Result<bool> {
        for _ in 0..rounds {
            if self.wake_pos == self.wake.len() {
                self.wake.clear();
                self.wake_pos = 0;
            }
            // The wake socket first: a packet reaching it after this read is one that arrived after
            // everything in it, so the bulk read below cannot overtake it by more than that instant.
            recv(&mut self.wake, wake)?;
            self.bulk.clear();
            if let Some(bulk) = bulk {
                recv(&mut self.bulk, bulk)?;
            }
            let bulk_full = self.bulk.len() == BATCH;
            let horizon = if bulk_full {
                seq_of(self.bulk.data(BATCH - 1))
            } else {
                None
            };
            let mut i = 0;
            loop {
                let from_wake = (self.wake_pos < self.wake.len()).then(|| {
                    let w = seq_of(self.wake.data(self.wake_pos));
                    // Beyond what the bulk read covered: wait for the bulk packets before it.
                    let held =
                        bulk_full && w.zip(horizon).is_some_and(|(w, h)| seq_delta(h, w) > 0);
                    (w, held)
                });
                let from_bulk = (i < self.bulk.len()).then(|| seq_of(self.bulk.data(i)));
                let take_wake = match (from_wake, from_bulk) {
                    (Some((_, true)), _) | (None, _) => false,
                    (Some(_), None) => true,
                    (Some((Some(w), _)), Some(Some(b))) => seq_delta(w, b) > 0,
                    (Some((None, _)), _) => true,
                    (Some(_), Some(None)) => false,
                };
                if take_wake {
                    let (data, from) = self.wake.get(self.wake_pos);
                    visit(data, from);
                    self.wake_pos += 1;
                } else if from_bulk.is_some() {
                    let (data, from) = self.bulk.get(i);
                    visit(data, from);
                    i += 1;
                } else {
                    break;
                }
            }
            let wake_full = self.wake.len() == BATCH;
            if !bulk_full && !wake_full {
                return Ok(self.wake_pos < self.wake.len());
            }
        }
        Ok(true)
    }
}

/// After a gap (loss or reordering), every packet wakes the loop for this long.
pub const AFTER_GAP: Duration = Duration::from_secs(10);

/// Decides whether every packet should wake the receive loop (the bulk socket watched) or only the
/// wake socket's.
///
/// Only wake packets while the stream is steady: playing, access units ended by the marker bit, and no
/// gap or deadline pending, not even in the last `AFTER_GAP`: on a lossy link a lost marker packet
/// would otherwise be noticed only when the next frame's marker comes, a frame interval on top of the
/// reorder window for that frame, because the frame's other packets would sit unread in the bulk
/// socket. On a clean link that cost is paid at most once per `AFTER_GAP`.
#[derive(Debug, Default)]
pub struct WakePolicy {
    last_gap: Option<Instant>,
}

impl WakePolicy {
    /// `markers`: the camera ends access units with the marker bit. `gap`: the reorder window waits on a
    /// missing packet (or a picture on its missing tail).
    pub fn every_packet(&mut self, now: Instant, playing: bool, markers: bool, gap: bool) -> bool {
        if gap {
            self.last_gap = Some(now);
        }
        let recent_gap = self
            .last_gap
            .is_some_and(|t| now.saturating_duration_since(t) < AFTER_GAP);
        !playing || !markers || recent_gap
    }
}

fn recv(batch: &mut RecvBatch, sock: &UdpSocket) -> io::Result<()> {
    match batch.recv_more(sock) {
        Ok(_) => Ok(()),
        // ICMP port unreachable from an earlier send shows up here; not fatal.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::Interrupted | io::ErrorKind::ConnectionRefused
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// The RTP sequence number, if the datagram is long enough to have one.
fn seq_of(data: Option<&[u8]>) -> Option<u16> {
    let d = data?;
    Some(u16::from_be_bytes([*d.get(2)?, *d.get(3)?]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, UdpSocket};
    use std::time::Duration;

    fn rtp(seq: u16, marker: bool) -> Vec<u8> {
        let mut p = vec![0x80, 96 | if marker { 0x80 } else { 0 }];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0; 8]);
        p.push(0x65);
        p
    }

    fn drain(s: &Socket) -> Vec<u16> {
        let s: &UdpSocket = &s.try_clone().unwrap().into();
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        while let Ok(n) = s.recv(&mut buf) {
            got.push(if n >= 4 {
                u16::from_be_bytes([buf[2], buf[3]])
            } else {
                u16::MAX
            });
        }
        got
    }

    #[test]
    fn markers_and_every_batch_go_to_the_wake_socket() {
        let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = probe.local_addr().unwrap();
        drop(probe);
        let s = bind(addr, 1 << 20).expect("steering is available on Linux");
        let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        for seq in 60..70u16 {
            tx.send_to(&rtp(seq, seq == 66), addr).unwrap();
        }
        tx.send_to(&[0x80], addr).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(drain(&s.wake), vec![64, 66]);
        assert_eq!(
            drain(&s.bulk),
            vec![60, 61, 62, 63, 65, 67, 68, 69, u16::MAX]
        );
    }

    /// Sends `seqs` to the steered pair, then reads it all back.
    fn send_and_read(seqs: &[u16], marker: impl Fn(u16) -> bool) -> (Vec<u16>, usize) {
        let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = probe.local_addr().unwrap();
        drop(probe);
        let pair = bind(addr, 4 << 20).unwrap();
        let (wake, bulk): (UdpSocket, UdpSocket) = (pair.wake.into(), pair.bulk.into());
        let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        for &seq in seqs {
            tx.send_to(&rtp(seq, marker(seq)), addr).unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
        let mut reader = RtpReader::new();
        let mut got = Vec::new();
        let mut calls = 0;
        loop {
            calls += 1;
            let more = reader
                .read(&wake, Some(&bulk), 2, |d, _| got.push(seq_of(d).unwrap()))
                .unwrap();
            if !more {
                return (got, calls);
            }
        }
    }

    #[test]
    fn reads_a_keyframe_burst_in_sequence_order() {
        // 200 packets, the marker on the last: the bulk socket fills batch after batch, and each wake
        // packet (every 32nd, and the marker) must come out between its neighbours.
        let seqs: Vec<u16> = (65_500..=65_535).chain(0..164).collect();
        let (got, calls) = send_and_read(&seqs, |s| s == 163);
        assert_eq!(got, seqs);
        assert!(calls > 1, "two rounds per call cannot hold 200 packets");
    }

    #[test]
    fn one_plain_socket_where_there_is_no_steering() {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_nonblocking(true).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        for seq in 0..40u16 {
            tx.send_to(&rtp(seq, seq % 10 == 9), sock.local_addr().unwrap())
                .unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
        let mut reader = RtpReader::new();
        let mut got = Vec::new();
        let mut visit = |d: Option<&[u8]>, _| got.push(seq_of(d).unwrap());
        assert!(
            reader.read(&sock, None, 1, &mut visit).unwrap(),
            "a full batch: maybe more"
        );
        assert!(!reader.read(&sock, None, 1, &mut visit).unwrap());
        assert_eq!(got, (0..40).collect::<Vec<_>>());
    }

    #[test]
    fn genuine_reordering_is_left_to_the_reorder_window() {
        let seqs = [10, 12, 11, 31, 32, 33, 35, 34];
        let (got, _) = send_and_read(&seqs, |s| s == 35);
        // 32 and 35 come from the wake socket; the rest keep the camera's order.
        assert_eq!(got, [10, 12, 11, 31, 32, 33, 34, 35]);
    }

    #[test]
    fn every_packet_wakes_until_steady_and_for_a_while_after_a_gap() {
        let mut p = WakePolicy::default();
        let t = Instant::now();
        assert!(p.every_packet(t, false, false, false), "before PLAY");
        assert!(
            p.every_packet(t, true, false, false),
            "markers not seen yet"
        );
        assert!(!p.every_packet(t, true, true, false));
        assert!(p.every_packet(t, true, true, true), "a gap");
        let later = t + AFTER_GAP / 2;
        assert!(
            p.every_packet(later, true, true, false),
            "gap filled, but recent"
        );
        assert!(!p.every_packet(t + AFTER_GAP, true, true, false));
    }

    #[test]
    fn steers_ipv6_too() {
        // Hosts without IPv6 (some containers) have nothing to test here.
        let Ok(probe) = UdpSocket::bind("[::1]:0") else {
            return;
        };
        let addr = probe.local_addr().unwrap();
        drop(probe);
        let s = bind(addr, 1 << 20).expect("steering on IPv6");
        let tx = UdpSocket::bind("[::1]:0").unwrap();
        for seq in [1u16, 2, 3] {
            tx.send_to(&rtp(seq, seq == 2), addr).unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(drain(&s.wake), vec![2]);
        assert_eq!(drain(&s.bulk), vec![1, 3]);
    }

    #[test]
    fn a_taken_port_is_an_error() {
        let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(bind(taken.local_addr().unwrap(), 1 << 20).is_err());
    }
}

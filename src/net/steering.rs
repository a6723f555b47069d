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
//! The receive loop watches both sockets whenever order or timing matters (start-up, an open gap in the
//! sequence, cameras that do not set the marker bit); see `WakePolicy`.
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

/// `libc::sock_fprog` with its padding as a field: every byte handed to the kernel is initialised
/// (valgrind checks them all).
#[repr(C)]
struct Fprog {
    len: u16,
    pad: [u8; PAD],
    filter: *mut libc::sock_filter,
}
const PAD: usize = std::mem::align_of::<*mut libc::sock_filter>() - 2;
const _: () = assert!(std::mem::size_of::<Fprog>() == std::mem::size_of::<libc::sock_fprog>());

fn attach(sock: &Socket) -> io::Result<()> {
    let Some(opt) = SO_ATTACH_REUSEPORT_CBPF else {
        return Err(io::ErrorKind::Unsupported.into());
    };
    debug_assert!(WAKE_EVERY.is_power_of_two() && WAKE_EVERY <= 256);
    let mut filter = program();
    let prog = Fprog {
        len: filter.len() as u16,
        pad: [0; PAD],
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: `prog` has `sock_fprog`'s layout (checked below) and points at `filter`, alive for the
    // call; the kernel copies the program.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&prog as *const Fprog).cast(),
            std::mem::size_of::<Fprog>() as libc::socklen_t,
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

    /// Reads up to `rounds` batches, calling `visit(datagram, sender, kernel receive time)` in sequence
    /// order (`None`: larger than a slot; the time as `RecvBatch::received_at` gives it). Returns whether datagrams may be left: queued in the sockets or held here.
    /// `bulk_only`: the wake socket was just found empty (the loop woke for a deadline), so its first
    /// read is skipped.
    pub fn read(
        &mut self,
        wake: &UdpSocket,
        bulk: Option<&UdpSocket>,
        rounds: usize,
        bulk_only: bool,
        mut visit: impl FnMut(Option<&[u8]>, Option<IpAddr>, Option<u64>),
    ) -> io::Result<bool> {
        for round in 0..rounds {
            if self.wake_pos == self.wake.len() {
                self.wake.clear();
                self.wake_pos = 0;
            }
            // The wake socket first: a packet reaching it after this read is one that arrived after
            // everything in it, so the bulk read below cannot overtake it by more than that instant.
            if !(bulk_only && round == 0 && bulk.is_some()) {
                recv(&mut self.wake, wake)?;
            }
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
                    visit(data, from, self.wake.received_at(self.wake_pos));
                    self.wake_pos += 1;
                } else if from_bulk.is_some() {
                    let (data, from) = self.bulk.get(i);
                    visit(data, from, self.bulk.received_at(i));
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

/// How long past the expected end of the next frame the loop looks at the bulk socket anyway, as a
/// share of the frame interval.
const OVERDUE_SHARE: u32 = 4;
/// Frame intervals are taken in this range (a 120 fps camera, a 1 fps substream).
const MIN_INTERVAL: Duration = Duration::from_millis(5);
const MAX_INTERVAL: Duration = Duration::from_secs(2);
/// Access units over which the frame interval is the smallest step of RTP time (B-frames step back and
/// forth; the smallest step is one frame).
const INTERVAL_WINDOW: usize = 16;

/// How long after a gap opens every packet still wakes the loop. A reordered packet comes within a few
/// packets' time; one that has not by then is most likely lost, and waking on each later packet until
/// the reorder window gives up on it would cost a wake-up per packet for the whole window (at 0.5 %
/// loss, a few times a second). Past this the loop wakes for marker packets and the window's deadline,
/// and reads the bulk socket then, so a packet that does come late is still placed before the window
/// lets its successors go.
pub const GAP_WATCH: Duration = Duration::from_millis(3);

/// Decides whether every packet should wake the receive loop (the bulk socket watched) or only the
/// wake socket's, and when the loop must look at the bulk socket anyway.
///
/// Every packet wakes the loop while it matters: before PLAY, for cameras that do not set the marker
/// bit, and for `GAP_WATCH` after the reorder window starts waiting on a missing packet. Otherwise only
/// marker packets (and the window's deadline) do, and a lost marker packet is caught by a timer
/// instead: the next frame is due one frame interval after the last one completed; a quarter interval
/// past that, the loop reads the bulk socket, finds the frame's packets, and the reorder window takes
/// over. A loss thus costs wake-ups only while its gap is open,
/// not for seconds after it (at 0.5 % loss, "after a gap" was always).
#[derive(Debug, Default)]
pub struct WakePolicy {
    /// RTP time steps of the last access units, in clock ticks.
    steps: [u32; INTERVAL_WINDOW],
    next_step: usize,
    last_ts: Option<u64>,
    /// When the next frame should have completed, and when to look if it has not.
    due: Option<Instant>,
    overdue: Option<Instant>,
    /// Since when the reorder window has been waiting on a gap.
    gap_since: Option<Instant>,
}

impl WakePolicy {
    /// `markers`: the camera ends access units with the marker bit. `gap`: the reorder window waits on a
    /// missing packet (or a picture on its missing tail).
    pub fn every_packet(&mut self, playing: bool, markers: bool, gap: bool, now: Instant) -> bool {
        let fresh_gap = gap && now.duration_since(*self.gap_since.get_or_insert(now)) < GAP_WATCH;
        if !gap {
            self.gap_since = None;
        }
        !playing || !markers || fresh_gap
    }

    /// An access unit completed at `now`: the next one is due a frame interval later.
    pub fn on_access_unit(&mut self, rtp_ts: u64, clock_rate: u32, now: Instant) {
        if let Some(last) = self.last_ts {
            // Between neighbours in decoding order: B-frames step back, then forward by one frame.
            let step = rtp_ts.abs_diff(last).min(u64::from(u32::MAX)) as u32;
            if step > 0 {
                self.steps[self.next_step] = step;
                self.next_step = (self.next_step + 1) % INTERVAL_WINDOW;
            }
        }
        self.last_ts = Some(rtp_ts);
        let interval = self.interval(clock_rate);
        self.due = interval.map(|i| now + i);
        self.overdue = interval.map(|i| now + i + i / OVERDUE_SHARE);
    }

    /// When the next frame should have completed: what the bulk socket's packets read when overdue are
    /// taken to have arrived at (they came about then; reading them a quarter interval later must not
    /// count against the reorder window of a frame whose marker packet was lost).
    pub fn due(&self) -> Option<Instant> {
        self.due
    }

    /// The frame interval: the smallest step of RTP time between neighbouring access units lately.
    fn interval(&self, clock_rate: u32) -> Option<Duration> {
        let ticks = self.steps.iter().copied().filter(|&s| s > 0).min()?;
        let ns = u64::from(ticks) * 1_000_000_000 / u64::from(clock_rate.max(1));
        Some(Duration::from_nanos(ns).clamp(MIN_INTERVAL, MAX_INTERVAL))
    }

    /// Whether access units complete at least every `bound` lately, so that the loop wakes that often
    /// for this stream alone.
    pub fn wakes_within(&self, clock_rate: u32, bound: Duration) -> bool {
        self.interval(clock_rate).is_some_and(|i| i <= bound)
    }

    /// When the loop must read the bulk socket even without a wake packet.
    pub fn overdue(&self) -> Option<Instant> {
        self.overdue
    }

    /// The bulk socket was read at `now` for being overdue: look again an interval later if still
    /// nothing completes (a camera pausing, a 1 fps substream running late), not at once.
    pub fn looked(&mut self, now: Instant, clock_rate: u32) {
        self.overdue = Some(now + self.interval(clock_rate).unwrap_or(MAX_INTERVAL));
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
                .read(&wake, Some(&bulk), 2, false, |d, _, _| {
                    got.push(seq_of(d).unwrap())
                })
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
        let mut visit = |d: Option<&[u8]>, _, _| got.push(seq_of(d).unwrap());
        assert!(
            reader.read(&sock, None, 1, false, &mut visit).unwrap(),
            "a full batch: maybe more"
        );
        assert!(!reader.read(&sock, None, 1, false, &mut visit).unwrap());
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
    fn every_packet_wakes_only_until_steady_and_while_a_gap_is_fresh() {
        let mut p = WakePolicy::default();
        let t = Instant::now();
        assert!(p.every_packet(false, false, false, t), "before PLAY");
        assert!(
            p.every_packet(true, false, false, t),
            "markers not seen yet"
        );
        assert!(!p.every_packet(true, true, false, t));
        assert!(p.every_packet(true, true, true, t), "a gap");
        assert!(p.every_packet(true, true, true, t + GAP_WATCH / 2));
        assert!(
            !p.every_packet(true, true, true, t + GAP_WATCH),
            "the missing packet is late: lost, most likely"
        );
        assert!(
            !p.every_packet(true, true, false, t + GAP_WATCH),
            "the gap closed: steady again"
        );
        let later = t + GAP_WATCH * 10;
        assert!(p.every_packet(true, true, true, later), "a new gap");
        assert!(p.every_packet(false, true, true, later + GAP_WATCH));
    }

    #[test]
    fn the_bulk_socket_is_read_when_a_frame_is_overdue() {
        let mut p = WakePolicy::default();
        let t = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(p.overdue(), None);
        // 30 fps with B-frames in decoding order: I0 P3 B1 B2 P6 B4 B5 …, one every 33 ms.
        for (i, frame) in [0u64, 3, 1, 2, 6, 4, 5, 9, 7, 8].into_iter().enumerate() {
            p.on_access_unit((1 << 32) | (frame * 3000), 90_000, t + ms(33) * i as u32);
        }
        let last = t + ms(33) * 9;
        let due = p.overdue().unwrap() - last;
        assert!(
            due > ms(41) && due < ms(42),
            "{due:?}: an interval and a quarter"
        );
        // Looked and found nothing: again an interval later, not at once.
        p.looked(last + due, 90_000);
        assert_eq!(
            p.overdue(),
            Some(last + due + Duration::from_nanos(33_333_333))
        );
        // A 1 fps substream, and nonsense: within bounds.
        let mut slow = WakePolicy::default();
        slow.on_access_unit(0, 90_000, t);
        slow.on_access_unit(90_000, 90_000, t);
        assert_eq!(slow.overdue(), Some(t + ms(1250)));
        let mut odd = WakePolicy::default();
        odd.on_access_unit(0, 0, t);
        odd.on_access_unit(u64::MAX, 0, t);
        assert_eq!(odd.overdue(), Some(t + MAX_INTERVAL + MAX_INTERVAL / 4));
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

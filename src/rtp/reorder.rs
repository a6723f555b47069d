//! Reorder window for RTP (over UDP, and interleaved from relays that forward a UDP source's
//! reordering): packets are released in sequence order; a missing packet is declared lost once a later
//! one has waited for `window`, so the stream never stalls longer than that. In-order packets (the
//! common case) pass straight through without a copy; only early packets are copied, into a region of
//! their own (`HeldBytes`) that gives its memory back after a large hold.

use super::held_bytes::HeldBytes;
use super::packet::seq_delta;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Slots in the window; also the largest sequence jump treated as reordering rather than a restart.
pub const SLOTS: usize = 512;
/// Bytes the window may hold at most.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Process this packet now; `lost` packets before it will never come.
    Now {
        lost: u16,
    },
    /// Kept for later; call `pop`.
    Buffered,
    Duplicate,
    /// Arrived after its place was given up (or was already released).
    Late,
    /// Too far ahead or behind to be reordering: a stream restart, huge loss, or a stale packet.
    Jump,
    /// The window is full: drain with `pop(.., true)`, `reset()`, then push again.
    Overflow,
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    seq: u16,
    occupied: bool,
    /// The packet's place in `held`.
    at: usize,
    len: usize,
}

#[derive(Debug)]
pub struct ReorderWindow {
    window: Duration,
    slots: Vec<Slot>,
    next: Option<u16>,
    buffered: usize,
    bytes: usize,
    /// The packets held, in the order they came (arrival times never go back), with entries of those
    /// released dropped from the front: the first is the earliest held, which `deadline` needs. (Scanning
    /// the slots for it each time one left cost a scan per released packet behind a loss.) Also the
    /// order of their bytes in `held`.
    arrivals: VecDeque<(Instant, u16)>,
    held: HeldBytes,
}

impl ReorderWindow {
    pub fn new(window: Duration) -> Self {
        ReorderWindow {
            window,
            slots: vec![Slot::default(); SLOTS],
            next: None,
            buffered: 0,
            bytes: 0,
            arrivals: VecDeque::with_capacity(SLOTS),
            held: HeldBytes::new(MAX_BYTES),
        }
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    pub fn is_empty(&self) -> bool {
        self.buffered == 0
    }

    /// No memory for held packets: every early one overflows the window.
    pub fn out_of_memory(&self) -> bool {
        self.held.map_failed()
    }

    /// Once the packet `pop` returned last is done with: an empty window's region starts over.
    fn settle(&mut self) {
        if self.buffered == 0 {
            self.held.clear();
        }
    }

    fn holds(&self, seq: u16) -> bool {
        let slot = &self.slots[usize::from(seq) % SLOTS];
        slot.occupied && slot.seq == seq
    }

    pub fn reset(&mut self) {
        for s in &mut self.slots {
            s.occupied = false;
        }
        self.next = None;
        self.buffered = 0;
        self.bytes = 0;
        self.arrivals.clear();
        self.held.clear();
    }

    pub fn push(&mut self, seq: u16, packet: &[u8], now: Instant) -> Verdict {
        self.settle();
        let Some(next) = self.next else {
            self.next = Some(seq.wrapping_add(1));
            return Verdict::Now { lost: 0 };
        };
        let d = seq_delta(next, seq);
        if d.unsigned_abs() as usize >= SLOTS {
            return Verdict::Jump;
        }
        if d < 0 {
            return Verdict::Late;
        }
        if d == 0 {
            self.next = Some(seq.wrapping_add(1));
            return Verdict::Now { lost: 0 };
        }
        if self.window.is_zero() {
            self.next = Some(seq.wrapping_add(1));
            return Verdict::Now { lost: d as u16 };
        }
        if self.bytes + packet.len() > MAX_BYTES {
            return Verdict::Overflow;
        }
        // Held packets lie within one window of `next`, so a slot's occupant has this sequence number.
        if self.slots[usize::from(seq) % SLOTS].occupied {
            return Verdict::Duplicate;
        }
        let at = match self.held.append(packet, self.bytes) {
            Some(at) => at,
            None => {
                if !self.held.fits_after_compacting(self.bytes, packet.len()) {
                    return Verdict::Overflow;
                }
                self.compact();
                match self.held.append(packet, self.bytes) {
                    Some(at) => at,
                    // No memory for the region: as if full.
                    None => return Verdict::Overflow,
                }
            }
        };
        let slot = &mut self.slots[usize::from(seq) % SLOTS];
        *slot = Slot {
            seq,
            occupied: true,
            at,
            len: packet.len(),
        };
        self.buffered += 1;
        if self.arrivals.len() >= 2 * SLOTS {
            // Left behind an early packet with a long wait: drop the entries of those gone.
            let slots = &self.slots;
            self.arrivals.retain(|&(_, s)| {
                let slot = &slots[usize::from(s) % SLOTS];
                slot.occupied && slot.seq == s
            });
        }
        self.arrivals.push_back((now, seq));
        self.bytes += packet.len();
        Verdict::Buffered
    }

    /// Moves the packets held down to the start of the region, in arrival order (their order in it).
    fn compact(&mut self) {
        let mut compaction = self.held.compact_from();
        for &(_, seq) in &self.arrivals {
            let slot = &mut self.slots[usize::from(seq) % SLOTS];
            if slot.occupied && slot.seq == seq {
                slot.at = compaction.move_down(slot.at, slot.len);
            }
        }
    }

    /// When the oldest buffered packet stops waiting for the gap before it.
    pub fn deadline(&self) -> Option<Instant> {
        self.arrivals.front().map(|&(t, _)| t + self.window)
    }

    /// Next packet that may be processed, with how many packets before it are lost. `force` releases
    /// everything buffered regardless of time.
    pub fn pop(&mut self, now: Instant, force: bool) -> Option<(&[u8], u16)> {
        self.settle();
        if self.buffered == 0 {
            return None;
        }
        let next = self.next?;
        let lost = if self.holds(next) {
            0
        } else {
            if !force && self.deadline().is_some_and(|d| now < d) {
                return None;
            }
            // Skip to the first buffered packet after the gap.
            (1..SLOTS as u16).find(|&k| self.holds(next.wrapping_add(k)))?
        };
        let seq = next.wrapping_add(lost);
        self.next = Some(seq.wrapping_add(1));
        self.buffered -= 1;
        let idx = usize::from(seq) % SLOTS;
        self.slots[idx].occupied = false;
        self.bytes -= self.slots[idx].len;
        // Entries of packets no longer held go, up to the first still held: the next earliest.
        while let Some(&(_, held)) = self.arrivals.front() {
            if self.holds(held) {
                break;
            }
            self.arrivals.pop_front();
        }
        let slot = self.slots[idx];
        Some((self.held.get(slot.at, slot.len), lost))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_millis(50);

    fn drain(w: &mut ReorderWindow, now: Instant, force: bool) -> Vec<(u8, u16)> {
        let mut out = Vec::new();
        while let Some((p, lost)) = w.pop(now, force) {
            out.push((p[0], lost));
        }
        out
    }

    #[test]
    fn in_order_passes_through() {
        let mut w = ReorderWindow::new(W);
        let t = Instant::now();
        for seq in 65530u16..=65535 {
            assert_eq!(w.push(seq, &[0], t), Verdict::Now { lost: 0 });
        }
        assert_eq!(w.push(0, &[0], t), Verdict::Now { lost: 0 });
        assert!(w.is_empty());
        assert_eq!(w.deadline(), None);
    }

    #[test]
    fn swapped_pair_is_reordered() {
        let mut w = ReorderWindow::new(W);
        let t = Instant::now();
        w.push(1, &[1], t);
        assert_eq!(w.push(3, &[3], t), Verdict::Buffered);
        assert_eq!(w.push(3, &[3], t), Verdict::Duplicate);
        assert!(drain(&mut w, t, false).is_empty());
        assert_eq!(w.push(2, &[2], t), Verdict::Now { lost: 0 });
        assert_eq!(drain(&mut w, t, false), vec![(3, 0)]);
        assert_eq!(w.push(2, &[2], t), Verdict::Late);
    }

    #[test]
    fn loss_is_declared_after_the_window() {
        let mut w = ReorderWindow::new(W);
        let t = Instant::now();
        w.push(10, &[10], t);
        w.push(12, &[12], t);
        w.push(13, &[13], t + Duration::from_millis(10));
        assert_eq!(w.deadline(), Some(t + W));
        assert!(drain(&mut w, t + Duration::from_millis(49), false).is_empty());
        assert_eq!(drain(&mut w, t + W, false), vec![(12, 1), (13, 0)]);
        assert_eq!(w.push(11, &[11], t + W), Verdict::Late);
    }

    #[test]
    fn zero_window_never_waits() {
        let mut w = ReorderWindow::new(Duration::ZERO);
        let t = Instant::now();
        w.push(1, &[1], t);
        assert_eq!(w.push(4, &[4], t), Verdict::Now { lost: 2 });
        assert_eq!(w.push(2, &[2], t), Verdict::Late);
    }

    #[test]
    fn restart_overflows_and_recovers() {
        let mut w = ReorderWindow::new(W);
        let t = Instant::now();
        w.push(100, &[0], t);
        w.push(102, &[102], t);
        assert_eq!(w.push(30000, &[1], t), Verdict::Jump);
        assert_eq!(drain(&mut w, t, true), vec![(102, 1)]);
        w.reset();
        assert_eq!(w.push(30000, &[1], t), Verdict::Now { lost: 0 });
    }

    #[test]
    fn bytes_are_bounded() {
        let mut w = ReorderWindow::new(W);
        let t = Instant::now();
        w.push(0, &[0], t);
        let big = vec![0u8; 60_000];
        let mut seq = 2;
        let verdict = loop {
            match w.push(seq, &big, t) {
                Verdict::Buffered => seq += 1,
                v => break v,
            }
        };
        assert_eq!(verdict, Verdict::Overflow);
        assert!(seq < 80);
    }

    #[test]
    fn memory_follows_the_packets_held_at_once_not_the_slots() {
        let mut w = ReorderWindow::new(W);
        let t = Instant::now();
        let packet = [7u8; 1400];
        w.push(0, &packet, t);
        // A gap every 10 packets, three packets held behind each, over every slot position many times.
        let mut seq = 1u16;
        for gap in 0..2000u32 {
            seq = seq.wrapping_add(1); // the lost one
            for _ in 0..3 {
                assert_eq!(w.push(seq, &packet, t), Verdict::Buffered);
                seq = seq.wrapping_add(1);
            }
            let lost: Vec<u16> =
                std::iter::from_fn(|| w.pop(t + W, false).map(|(_, l)| l)).collect();
            assert_eq!(lost, vec![1, 0, 0], "gap {gap}");
            for _ in 0..6 {
                assert_eq!(w.push(seq, &packet, t), Verdict::Now { lost: 0 });
                seq = seq.wrapping_add(1);
            }
        }
        assert!(
            w.held.touched() <= 3 * 1400,
            "{} bytes touched",
            w.held.touched()
        );
        assert!(w.arrivals.len() <= 3, "{} arrivals kept", w.arrivals.len());
    }

    #[test]
    fn a_window_that_never_empties_reuses_its_memory() {
        // One gap after another, each before the last one's deadline: something is always held, so
        // the region never starts over and must move its live packets down instead.
        let mut w = ReorderWindow::new(W);
        let t = Instant::now();
        let packet = |seq: u16| {
            let mut p = [seq as u8; 1200];
            p[..2].copy_from_slice(&seq.to_be_bytes());
            p
        };
        w.push(0, &packet(0), t);
        let mut seq = 1u16;
        let mut released = 0u32;
        let mut last: Option<u16> = None;
        for round in 0..3000u32 {
            let now = t + W * round;
            seq = seq.wrapping_add(1); // lost
            for _ in 0..4 {
                assert_eq!(w.push(seq, &packet(seq), now), Verdict::Buffered);
                seq = seq.wrapping_add(1);
            }
            // The previous round's packets are due, this round's wait behind the new gap.
            while let Some((bytes, _)) = w.pop(now, false) {
                let s = u16::from_be_bytes([bytes[0], bytes[1]]);
                assert_eq!(bytes, &packet(s)[..], "the bytes held come back unchanged");
                if let Some(l) = last {
                    assert!(
                        s == l.wrapping_add(1) || s == l.wrapping_add(2),
                        "{l} then {s}"
                    );
                }
                last = Some(s);
                released += 1;
            }
            assert!(!w.is_empty(), "round {round}");
        }
        assert_eq!(released, 4 * 2999);
        assert!(
            w.held.touched() <= 128 * 1024,
            "{} bytes touched",
            w.held.touched()
        );
    }

    #[test]
    fn without_memory_an_early_packet_overflows() {
        let mut w = ReorderWindow::new(W);
        w.held = HeldBytes::new(1 << 62);
        let t = Instant::now();
        w.push(0, &[0], t);
        assert!(!w.out_of_memory());
        assert_eq!(w.push(2, &[2], t), Verdict::Overflow);
        assert!(w.out_of_memory());
        assert!(w.is_empty());
        assert_eq!(w.push(1, &[1], t), Verdict::Now { lost: 0 });
    }

    #[test]
    fn deadline_follows_the_earliest_packet_still_held() {
        let mut w = ReorderWindow::new(W);
        let t = Instant::now();
        let ms = Duration::from_millis;
        w.push(0, &[0], t);
        assert_eq!(w.push(5, &[5], t + ms(1)), Verdict::Buffered);
        assert_eq!(w.push(2, &[2], t + ms(2)), Verdict::Buffered);
        assert_eq!(w.push(3, &[3], t + ms(3)), Verdict::Buffered);
        assert_eq!(w.deadline(), Some(t + ms(1) + W));
        assert_eq!(w.push(1, &[1], t + ms(4)), Verdict::Now { lost: 0 });
        assert_eq!(drain(&mut w, t + ms(4), false), vec![(2, 0), (3, 0)]);
        assert_eq!(w.deadline(), Some(t + ms(1) + W), "5 still waits on 4");
        assert_eq!(w.push(4, &[4], t + ms(5)), Verdict::Now { lost: 0 });
        assert_eq!(drain(&mut w, t + ms(5), false), vec![(5, 0)]);
        assert_eq!(w.deadline(), None);
        // Released out of arrival order: the deadline moves to the next one held.
        assert_eq!(w.push(8, &[8], t + ms(6)), Verdict::Buffered);
        assert_eq!(w.push(7, &[7], t + ms(7)), Verdict::Buffered);
        assert_eq!(drain(&mut w, t + ms(6) + W, false), vec![(7, 1), (8, 0)]);
        assert_eq!(w.deadline(), None);
    }
}

//! Reorder window for RTP over UDP: packets are released in sequence order; a missing packet is declared
//! lost once a later one has waited for `window`, so the stream never stalls longer than that. In-order
//! packets (the common case) pass straight through without a copy; only early packets are copied, into
//! buffers reused from a spare list. A buffer belongs to a slot only while it holds a packet: slots are
//! picked by sequence number, so buffers kept per slot would end up one per slot (512 packets' worth
//! per stream after enough gaps, found by `benches/soak.sh`), while the spares number at most the
//! packets ever held at once.

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

#[derive(Debug)]
struct Slot {
    seq: u16,
    occupied: bool,
    data: Vec<u8>,
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
    /// the slots for it each time one left cost a scan per released packet behind a loss.)
    arrivals: VecDeque<(Instant, u16)>,
    /// Buffers of released packets, for the next early ones.
    spare: Vec<Vec<u8>>,
    /// The slot whose packet `pop` lent out last: its buffer goes back to `spare` on the next call.
    lent: Option<usize>,
}

impl ReorderWindow {
    pub fn new(window: Duration) -> Self {
        ReorderWindow {
            window,
            slots: (0..SLOTS)
                .map(|_| Slot {
                    seq: 0,
                    occupied: false,
                    data: Vec::new(),
                })
                .collect(),
            next: None,
            buffered: 0,
            bytes: 0,
            arrivals: VecDeque::with_capacity(SLOTS),
            spare: Vec::new(),
            lent: None,
        }
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    pub fn is_empty(&self) -> bool {
        self.buffered == 0
    }

    /// The buffer of the packet `pop` returned last, back to the spares.
    fn take_back(&mut self) {
        if let Some(idx) = self.lent.take() {
            let data = std::mem::take(&mut self.slots[idx].data);
            self.spare.push(data);
        }
    }

    pub fn reset(&mut self) {
        self.take_back();
        for s in &mut self.slots {
            if s.occupied {
                s.occupied = false;
                let data = std::mem::take(&mut s.data);
                self.spare.push(data);
            }
        }
        self.next = None;
        self.buffered = 0;
        self.bytes = 0;
        self.arrivals.clear();
    }

    pub fn push(&mut self, seq: u16, packet: &[u8], now: Instant) -> Verdict {
        self.take_back();
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
        let slot = &mut self.slots[usize::from(seq) % SLOTS];
        if slot.occupied {
            return Verdict::Duplicate;
        }
        slot.seq = seq;
        slot.occupied = true;
        slot.data = self.spare.pop().unwrap_or_default();
        slot.data.clear();
        slot.data.extend_from_slice(packet);
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

    /// When the oldest buffered packet stops waiting for the gap before it.
    pub fn deadline(&self) -> Option<Instant> {
        self.arrivals.front().map(|&(t, _)| t + self.window)
    }

    /// Next packet that may be processed, with how many packets before it are lost. `force` releases
    /// everything buffered regardless of time.
    pub fn pop(&mut self, now: Instant, force: bool) -> Option<(&[u8], u16)> {
        self.take_back();
        if self.buffered == 0 {
            return None;
        }
        let next = self.next?;
        let idx = usize::from(next) % SLOTS;
        let lost = if self.slots[idx].occupied && self.slots[idx].seq == next {
            0
        } else {
            if !force && self.deadline().is_some_and(|d| now < d) {
                return None;
            }
            // Skip to the first buffered packet after the gap.
            (1..SLOTS as u16).find(|&k| {
                let s = &self.slots[usize::from(next.wrapping_add(k)) % SLOTS];
                s.occupied && s.seq == next.wrapping_add(k)
            })?
        };
        let seq = next.wrapping_add(lost);
        self.next = Some(seq.wrapping_add(1));
        self.buffered -= 1;
        let idx = usize::from(seq) % SLOTS;
        self.slots[idx].occupied = false;
        self.bytes -= self.slots[idx].data.len();
        // Entries of packets no longer held go, up to the first still held: the next earliest.
        while let Some(&(_, held)) = self.arrivals.front() {
            let slot = &self.slots[usize::from(held) % SLOTS];
            if slot.occupied && slot.seq == held {
                break;
            }
            self.arrivals.pop_front();
        }
        self.lent = Some(idx);
        Some((&self.slots[idx].data, lost))
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
    fn buffers_number_the_packets_held_at_once_not_the_slots() {
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
        let held = w.slots.iter().filter(|s| s.data.capacity() > 0).count();
        assert!(held <= 1, "{held} slots keep a buffer");
        assert!(w.spare.len() <= 3, "{} spares", w.spare.len());
        assert!(w.arrivals.len() <= 3, "{} arrivals kept", w.arrivals.len());
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

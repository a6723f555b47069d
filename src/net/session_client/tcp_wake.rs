//! How many bytes on the RTSP connection wake the loop while RTP is interleaved on it (SO_RCVLOWAT).
//!
//! Over TCP every stream's packets come on the one connection, and each arrival wakes the loop: an
//! AAC track's 47 packets a second cost a wake-up each, between the video's pictures, more than the
//! video's reading itself. Between pictures — the last one complete (the camera marks picture ends),
//! nothing half-read — the loop asks to be woken only once three of the other streams' largest recent
//! frames' worth of bytes have come: the next picture's first packets bring that at once, the audio's
//! small packets do not, and are read with it. Only while every recent picture is half as large
//! again: a picture smaller than the threshold would wait for more bytes. And no later than a quarter
//! frame interval after the next picture was due, `SIDE_WAIT` at most, whatever comes. While a picture
//! is being read, every arrival wakes the loop as before, so that its end is seen at once.

use super::SessionClient;
use std::io;
use std::time::Instant;

/// Pictures, and other frames, over which the smallest and the largest are taken.
const WINDOW: usize = 16;
/// A frame's bytes on the connection beyond its payload: `$`, channel, length, RTP header, a little
/// payload header.
const OVERHEAD: usize = 4 + 12 + 4;
/// The threshold is this many of the other streams' largest frames.
const FRAMES_BELOW: usize = 3;

/// The sizes of the last pictures and other frames, and the threshold the socket has now.
#[derive(Debug)]
pub(super) struct TcpWake {
    pictures: [usize; WINDOW],
    next_picture: usize,
    others: [usize; WINDOW],
    next_other: usize,
    set: usize,
}

impl Default for TcpWake {
    fn default() -> Self {
        TcpWake {
            pictures: [0; WINDOW],
            next_picture: 0,
            others: [0; WINDOW],
            next_other: 0,
            set: 1,
        }
    }
}

impl TcpWake {
    /// A picture of `bytes` completed.
    pub fn picture(&mut self, bytes: usize) {
        self.pictures[self.next_picture] = bytes;
        self.next_picture = (self.next_picture + 1) % WINDOW;
    }

    /// A frame of another stream (audio, metadata) of `bytes` completed.
    pub fn other(&mut self, bytes: usize) {
        self.others[self.next_other] = bytes;
        self.next_other = (self.next_other + 1) % WINDOW;
    }

    /// Whether bytes below the threshold may wait in the socket now.
    pub fn raised(&self) -> bool {
        self.set > 1
    }

    /// The threshold for between pictures: three of the other streams' largest recent frames, when
    /// the smallest recent picture is half as large again at least (1, every byte, otherwise).
    pub fn between_pictures(&self) -> usize {
        let largest_other = self.others.iter().copied().max().unwrap_or(0);
        if largest_other == 0 {
            return 1;
        }
        let threshold = FRAMES_BELOW * (largest_other + OVERHEAD);
        let smallest_picture = self.pictures.iter().copied().min().unwrap_or(0);
        if smallest_picture >= threshold + threshold / 2 {
            threshold
        } else {
            1
        }
    }
}

impl SessionClient {
    /// Sets how many bytes wake the loop for the RTSP connection, and returns until when data below
    /// that may wait (`None`: every byte wakes it).
    pub(super) fn set_tcp_wake(&mut self, now: Instant) -> io::Result<Option<Instant>> {
        // Past the moment the next picture is overdue, every byte wakes the loop again.
        let overdue = self
            .primary()
            .and_then(|p| p.wake_policy.overdue())
            .filter(|&o| o > now);
        let between = self.session.uses_tcp()
            && self.streams.len() > 1
            && self.playing_since.is_some()
            && overdue.is_some()
            && !self.conn.holds_partial()
            && self.primary().is_some_and(|p| {
                p.inbound.depay.ended_by_marker()
                    && p.inbound.depay.open_picture().is_none()
                    && p.wake_policy
                        .wakes_within(p.inbound.clock_rate(), super::SIDE_WAIT)
            });
        let want = if between {
            self.tcp_wake.between_pictures()
        } else {
            1
        };
        if want != self.tcp_wake.set {
            crate::log!(self.cfg.log, Trace, "bytes that wake the loop: {}", want);
            self.conn.set_wake_threshold(want)?;
            self.tcp_wake.set = want;
        }
        let latest = now + super::SIDE_WAIT;
        Ok(overdue.filter(|_| want > 1).map(|o| o.min(latest)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_audio_frames_below_pictures_twice_that() {
        let mut w = TcpWake::default();
        assert_eq!(w.between_pictures(), 1);
        for _ in 0..WINDOW {
            w.picture(20_000);
        }
        // No other stream yet.
        assert_eq!(w.between_pictures(), 1);
        w.other(340);
        w.other(300);
        assert_eq!(w.between_pictures(), 3 * (340 + OVERHEAD));
        // A picture smaller than half as much again: every byte wakes, for a window of pictures.
        w.picture(1_500);
        assert_eq!(w.between_pictures(), 1);
        for _ in 0..WINDOW - 1 {
            w.picture(20_000);
        }
        assert_eq!(w.between_pictures(), 1);
        w.picture(20_000);
        assert_eq!(w.between_pictures(), 3 * (340 + OVERHEAD));
        // Fewer than a window of pictures: the empty slots count as 0.
        let mut fresh = TcpWake::default();
        fresh.other(340);
        fresh.picture(50_000);
        assert_eq!(fresh.between_pictures(), 1);
    }
}

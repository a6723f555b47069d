//! Which SSRC is the stream's: the one SETUP or RTP-Info announced, else the first to come; another
//! one is a stranger (an earlier session still streaming to ports we reuse, a camera replaying an old
//! session: Reolink's old live555, retina#17) and is dropped until it earns its place:
//! - the announced SSRC did not come within `HINT_PATIENCE` of the stranger's first packet (H264DVR
//!   announces `ssrc=0` and sends another), and the stranger's sequence and timestamps run as one
//!   stream's do, and agree with RTP-Info's `seq`/`rtptime` when those are given and sane;
//! - or ours went silent for `SWITCH_SILENCE` while the stranger streamed steadily (a restarted encoder);
//! - or it continues ours exactly, the next sequence number at a timestamp a moment later (Uniview
//!   starts a new SSRC at every GOP: followed at once, nothing lost).
//!
//! The announced SSRC, once it shows, wins back at once from a stranger followed in its absence.
//! Packets kept from before the PLAY reply all arrive "now": they never amount to patience.

use std::time::{Duration, Instant};

/// Ours silent this long, and a stranger steady for `SWITCH_PACKETS`: the camera restarted its encoder.
const SWITCH_SILENCE: Duration = Duration::from_millis(500);
const SWITCH_PACKETS: u32 = 30;
/// How long an announced SSRC that never shows is waited for, while a steady stranger streams.
const HINT_PATIENCE: Duration = Duration::from_millis(500);
/// One stream's packets: the next sequence number at most this far on (losses in between)…
const MAX_SEQ_STEP: u16 = 100;
/// …and a timestamp at most this many seconds on.
const MAX_TS_STEP_SECS: u32 = 5;
/// A new SSRC continues ours when its first packet is this close to our last one's sequence number.
const CONTINUES_SEQ: u16 = 4;
/// How far a stranger's first packet may be from RTP-Info's `seq` (packets kept from before the
/// reply come first) and `rtptime` (seconds) and still be the stream RTP-Info describes.
const RTP_INFO_SEQ_BEFORE: u16 = 512;
const RTP_INFO_SEQ_AFTER: u16 = 4096;
const RTP_INFO_TS_SECS: u32 = 10;

/// What a packet's SSRC makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The stream's packet.
    Ours,
    /// The stream's packet under a new SSRC, from now on ours: a new timeline starts here, unless
    /// `continues` (the sequence and timestamps go on from the old SSRC's).
    Switched { continues: bool },
    /// A stranger's: dropped.
    Stranger,
}

#[derive(Debug, Clone, Copy)]
struct Candidate {
    ssrc: u32,
    packets: u32,
    since: Instant,
    first: (u16, u32),
    last: (u16, u32),
    /// Every packet so far followed the one before as one stream's would.
    steady: bool,
}

#[derive(Debug, Default)]
pub struct SsrcChoice {
    ours: Option<u32>,
    /// What SETUP or RTP-Info named.
    announced: Option<u32>,
    /// RTP-Info's `seq` and `rtptime` when sane.
    rtp_info: (Option<u16>, Option<u32>),
    /// Our last packet: its sequence number and timestamp, and when it came.
    last: Option<(u16, u32, Instant)>,
    candidate: Option<Candidate>,
    clock_rate: u32,
}

impl SsrcChoice {
    pub fn new(clock_rate: u32) -> Self {
        SsrcChoice {
            clock_rate,
            ..Default::default()
        }
    }

    pub fn set_clock_rate(&mut self, clock_rate: u32) {
        self.clock_rate = clock_rate;
    }

    /// SETUP's or RTP-Info's `ssrc=` (`None`: the first packet decides).
    pub fn announce(&mut self, ssrc: Option<u32>) {
        self.announced = ssrc;
        self.ours = ssrc;
    }

    /// RTP-Info's `seq` and `rtptime` for this stream. Hikvision and Tapo send `seq=0` or `seq=1`
    /// whatever the stream's, Laureii `rtptime=0`: those say nothing.
    pub fn set_rtp_info(&mut self, seq: Option<u16>, rtptime: Option<u32>) {
        self.rtp_info = (seq.filter(|&s| s > 1), rtptime.filter(|&t| t != 0));
    }

    pub fn ours(&self) -> Option<u32> {
        self.ours
    }

    /// Judges a packet of `ssrc` with sequence number `seq` and timestamp `ts`, arrived at `now`.
    pub fn judge(&mut self, ssrc: u32, seq: u16, ts: u32, now: Instant) -> Verdict {
        let verdict = match self.ours {
            None => Verdict::Ours,
            Some(o) if o == ssrc => Verdict::Ours,
            Some(_) => self.judge_stranger(ssrc, seq, ts, now),
        };
        if verdict != Verdict::Stranger {
            self.ours = Some(ssrc);
            self.candidate = None;
            self.last = Some((seq, ts, now));
        }
        verdict
    }

    fn judge_stranger(&mut self, ssrc: u32, seq: u16, ts: u32, now: Instant) -> Verdict {
        if self.announced == Some(ssrc) {
            return Verdict::Switched { continues: false };
        }
        if let Some((last_seq, last_ts, _)) = self.last {
            if self.continues((last_seq, last_ts), (seq, ts), CONTINUES_SEQ) {
                return Verdict::Switched { continues: true };
            }
        }
        let step_ok = |c: &Candidate| self.continues(c.last, (seq, ts), MAX_SEQ_STEP);
        let c = match self.candidate {
            Some(c) if c.ssrc == ssrc => Candidate {
                packets: c.packets + 1,
                last: (seq, ts),
                steady: c.steady && step_ok(&c),
                ..c
            },
            _ => Candidate {
                ssrc,
                packets: 1,
                since: now,
                first: (seq, ts),
                last: (seq, ts),
                steady: true,
            },
        };
        self.candidate = Some(c);
        let follow = c.steady
            && match self.last {
                // The announced SSRC never came.
                None => {
                    c.packets >= 2
                        && now.duration_since(c.since) >= HINT_PATIENCE
                        && self.agrees_with_rtp_info(c.first)
                }
                Some((_, _, t)) => {
                    now.duration_since(t) >= SWITCH_SILENCE && c.packets >= SWITCH_PACKETS
                }
            };
        if follow {
            Verdict::Switched { continues: false }
        } else {
            Verdict::Stranger
        }
    }

    /// Whether `next` can follow `prev` in one stream: a sequence number 1 to `max_seq` on, a
    /// timestamp not before and at most `MAX_TS_STEP_SECS` on.
    fn continues(&self, prev: (u16, u32), next: (u16, u32), max_seq: u16) -> bool {
        let seq_step = next.0.wrapping_sub(prev.0);
        let ts_step = next.1.wrapping_sub(prev.1);
        (1..=max_seq).contains(&seq_step)
            && ts_step <= MAX_TS_STEP_SECS.saturating_mul(self.clock_rate.max(1))
    }

    /// Whether a stream whose first packet is `first` can be the one RTP-Info described.
    fn agrees_with_rtp_info(&self, first: (u16, u32)) -> bool {
        let seq_ok = self.rtp_info.0.is_none_or(|seq| {
            let d = first.0.wrapping_sub(seq);
            d <= RTP_INFO_SEQ_AFTER || d >= RTP_INFO_SEQ_BEFORE.wrapping_neg()
        });
        let ts_ok = self.rtp_info.1.is_none_or(|rtptime| {
            let d = first.1.wrapping_sub(rtptime) as i32;
            d.unsigned_abs() <= RTP_INFO_TS_SECS.saturating_mul(self.clock_rate.max(1))
        });
        seq_ok && ts_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: u32 = 0x1111;
    const STALE: u32 = 0x2222;

    fn at(t: Instant, ms: u64) -> Instant {
        t + Duration::from_millis(ms)
    }

    #[test]
    fn the_first_packet_decides_when_nothing_is_announced() {
        let mut c = SsrcChoice::new(90_000);
        let t = Instant::now();
        assert_eq!(c.judge(OURS, 7, 0, t), Verdict::Ours);
        assert_eq!(c.judge(STALE, 5000, 9, t), Verdict::Stranger);
        assert_eq!(c.ours(), Some(OURS));
    }

    #[test]
    fn a_stale_session_before_the_announced_one_never_becomes_ours() {
        let mut c = SsrcChoice::new(90_000);
        c.announce(Some(OURS));
        let t = Instant::now();
        // Forty packets kept from before the PLAY reply, all fed at the reply.
        for i in 0..40u16 {
            assert_eq!(c.judge(STALE, 100 + i, 3000, t), Verdict::Stranger);
        }
        // Ours comes 300 ms later, the stale session still streaming beside it.
        for i in 0..100u16 {
            let now = at(t, 300 + u64::from(i) * 10);
            assert_eq!(
                c.judge(STALE, 140 + i, 3000 + u32::from(i) * 900, now),
                Verdict::Stranger
            );
            assert_eq!(c.judge(OURS, i, u32::from(i) * 900, now), Verdict::Ours);
        }
    }

    #[test]
    fn an_announced_ssrc_that_never_comes_gives_way_to_a_steady_stream() {
        let mut c = SsrcChoice::new(90_000);
        c.announce(Some(0));
        let t = Instant::now();
        let verdicts: Vec<_> = (0..20u16)
            .map(|i| c.judge(STALE, i, u32::from(i) * 3000, at(t, u64::from(i) * 33)))
            .collect();
        let first = verdicts.iter().position(|v| *v != Verdict::Stranger);
        // Followed once half a second has passed (the 16th frame at 33 ms).
        assert_eq!(first, Some(16), "{verdicts:?}");
        assert_eq!(verdicts[16], Verdict::Switched { continues: false });
        assert_eq!(c.ours(), Some(STALE));
        // The announced one shows after all: it wins back at once.
        assert_eq!(
            c.judge(0, 9, 0, at(t, 700)),
            Verdict::Switched { continues: false }
        );
    }

    #[test]
    fn random_headers_never_earn_a_place() {
        let mut c = SsrcChoice::new(90_000);
        c.announce(Some(OURS));
        let t = Instant::now();
        let mut x = 0x1234_5678u32;
        for i in 0..500u64 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let v = c.judge(STALE, x as u16, x.rotate_left(7), at(t, i * 10));
            assert_eq!(v, Verdict::Stranger, "packet {i}");
        }
    }

    #[test]
    fn rtp_info_tells_the_stream_from_a_stale_one() {
        let t = Instant::now();
        for (seq, rtptime, followed) in [
            // Agrees: the stranger is the stream RTP-Info describes under another SSRC.
            (Some(1000), Some(90_000), true),
            // Another stream's numbers.
            (Some(30_000), Some(90_000), false),
            (Some(1000), Some(2_000_000_000), false),
            // Bogus values (Hikvision's seq=0, Laureii's rtptime=0) say nothing.
            (Some(0), Some(0), true),
            (None, None, true),
        ] {
            let mut c = SsrcChoice::new(90_000);
            c.announce(Some(OURS));
            c.set_rtp_info(seq, rtptime);
            let mut switched = false;
            for i in 0..30u16 {
                let now = at(t, u64::from(i) * 40);
                switched |= c.judge(STALE, 1000 + i, 90_000 + u32::from(i) * 3600, now)
                    != Verdict::Stranger;
            }
            assert_eq!(switched, followed, "seq {seq:?} rtptime {rtptime:?}");
        }
    }

    #[test]
    fn a_restarted_encoder_is_followed_after_silence() {
        let mut c = SsrcChoice::new(90_000);
        let t = Instant::now();
        c.judge(OURS, 10, 0, t);
        for i in 0..29u16 {
            assert_eq!(c.judge(STALE, 500 + i, 7, at(t, 600)), Verdict::Stranger);
        }
        assert_eq!(
            c.judge(STALE, 529, 7, at(t, 600)),
            Verdict::Switched { continues: false }
        );
        // A stream whose numbers jump about is no restarted encoder.
        let mut c = SsrcChoice::new(90_000);
        c.judge(OURS, 10, 0, t);
        for i in 0..60u16 {
            let v = c.judge(STALE, i.wrapping_mul(7919), 7, at(t, 600));
            assert_eq!(v, Verdict::Stranger);
        }
    }

    #[test]
    fn uniview_new_ssrc_per_gop_is_followed_at_once() {
        let mut c = SsrcChoice::new(90_000);
        c.announce(Some(OURS));
        let t = Instant::now();
        c.judge(OURS, 65_535, 4_294_964_296, t);
        // The next GOP: a new SSRC, the next sequence number (wrapping), one frame later.
        assert_eq!(
            c.judge(STALE, 0, 1000, at(t, 40)),
            Verdict::Switched { continues: true }
        );
        assert_eq!(c.judge(STALE, 1, 1000, at(t, 40)), Verdict::Ours);
        // A stale stream that happens to be near in sequence but far in time is not a continuation.
        assert_eq!(
            c.judge(0x3333, 2, 90_000 * 60, at(t, 41)),
            Verdict::Stranger
        );
    }
}

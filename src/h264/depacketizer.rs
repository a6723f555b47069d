//! RFC 6184 H.264 RTP depacketizer: single NAL unit packets (types 1-23), STAP-A (24) and FU-A (28),
//! written straight into the access-unit buffer. Other aggregation/fragmentation types are skipped.

use super::nal::H264;
use crate::au::{AccessUnit, AuBuilder};
use crate::rtp::packet::{RtpPacket, TimestampUnwrapper};

const STAP_A: u8 = 24;
const FU_A: u8 = 28;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DepayStats {
    /// NAL units dropped because a fragment was missing or the timestamp changed mid-NAL.
    pub nals_dropped: u64,
    /// Packets of types this depacketizer does not handle (STAP-B, MTAP, FU-B, reserved).
    pub unsupported: u64,
    pub malformed: u64,
}

#[derive(Debug)]
pub struct Depacketizer {
    ts: TimestampUnwrapper,
    /// Timestamp and NAL type of the FU-A being reassembled.
    fu: Option<(u64, u8)>,
    warned_fu_type: bool,
    timeline_epoch: u32,
    /// A picture pushed before all its packets came (`picture_tail_lost`); its stragglers are dropped.
    finished_ts: Option<u64>,
    pub au: AuBuilder<H264>,
    pub stats: DepayStats,
}

impl Depacketizer {
    pub fn new(wait_for_keyframe: bool) -> Self {
        Depacketizer {
            ts: TimestampUnwrapper::default(),
            fu: None,
            warned_fu_type: false,
            timeline_epoch: 0,
            finished_ts: None,
            au: AuBuilder::new(wait_for_keyframe),
            stats: DepayStats::default(),
        }
    }

    pub fn pop(&mut self) -> Option<AccessUnit> {
        self.au.pop()
    }

    /// Forgets timestamps and partial data: a new sender (SSRC) with its own RTP clock follows.
    pub fn reset_timeline(&mut self) {
        self.ts.reset();
        self.finished_ts = None;
        self.timeline_epoch = self.timeline_epoch.wrapping_add(1);
        self.lose();
    }

    /// Changes whenever RTP timestamps start over, so the buffer timeline can start over too.
    pub fn timeline_epoch(&self) -> u32 {
        self.timeline_epoch
    }

    /// Packets were lost before the next one.
    pub fn lose(&mut self) {
        if self.fu.take().is_some() {
            self.stats.nals_dropped += 1;
        }
        self.au.mark_loss();
    }

    /// The picture being assembled lost its tail: a later picture's packet is waiting behind a gap.
    pub fn picture_tail_lost(&mut self, next_ts: u32) {
        let open = self.au.open_picture();
        if open.is_some_and(|t| t as u32 != next_ts) {
            self.abandon_fu();
            self.au.finish_early();
            self.finished_ts = open;
        }
    }

    pub fn push(&mut self, pkt: &RtpPacket<'_>, lost_before: bool) {
        if lost_before {
            self.lose();
        }
        let ts = self.ts.unwrap(pkt.timestamp);
        // Only that very picture: with B-frames, later pictures may carry earlier timestamps.
        if self.finished_ts == Some(ts) {
            // The tail of a picture that was already given up on and pushed.
            self.stats.nals_dropped += 1;
            return;
        }
        let payload = pkt.payload;
        let Some(&header) = payload.first() else {
            return;
        };
        match header & 0x1f {
            1..=23 => {
                self.abandon_fu();
                self.au.begin_nal(ts, &[header]);
                self.au.extend(&payload[1..]);
                self.au.end_nal();
            }
            STAP_A => {
                self.abandon_fu();
                let mut rest = &payload[1..];
                while rest.len() >= 2 {
                    let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                    let Some(nal) = rest.get(2..2 + len).filter(|n| !n.is_empty()) else {
                        crate::log!(
                            self.au.log,
                            Debug,
                            "STAP-A with a bad NAL size {}; rest skipped",
                            len
                        );
                        self.stats.malformed += 1;
                        break;
                    };
                    self.au.begin_nal(ts, &nal[..1]);
                    self.au.extend(&nal[1..]);
                    self.au.end_nal();
                    rest = &rest[2 + len..];
                }
            }
            FU_A => self.push_fu_a(ts, payload),
            t => {
                crate::log!(
                    self.au.log,
                    Debug,
                    "skipping unsupported NAL packet type {}",
                    t
                );
                self.stats.unsupported += 1;
            }
        }
        if pkt.marker && self.fu.is_none() {
            self.au.marker();
        }
    }

    fn push_fu_a(&mut self, ts: u64, payload: &[u8]) {
        let (Some(&indicator), Some(&fu_header)) = (payload.first(), payload.get(1)) else {
            self.stats.malformed += 1;
            return;
        };
        // The reserved bit (0x20) is ignored: Longse CMSEKL800 sets it.
        let start = fu_header & 0x80 != 0;
        let end = fu_header & 0x40 != 0;
        let nal_type = fu_header & 0x1f;
        let data = &payload[2..];
        if start {
            self.abandon_fu();
            self.au.begin_nal(ts, &[(indicator & 0xe0) | nal_type]);
            self.fu = Some((ts, nal_type));
        } else {
            match self.fu {
                // Stream starts mid-fragment, or the start was lost: nothing to append to.
                None => return,
                Some((fu_ts, _)) if fu_ts != ts => {
                    crate::log!(
                        self.au.log,
                        Debug,
                        "timestamp changed inside a FU-A; NAL dropped"
                    );
                    self.abandon_fu();
                    return;
                }
                Some((_, t)) if t != nal_type && !self.warned_fu_type => {
                    // Tiandy changes the type between fragments; the first one stays.
                    crate::log!(
                        self.au.log,
                        Debug,
                        "FU-A NAL type changed from {} to {}; keeping {}",
                        t,
                        nal_type,
                        t
                    );
                    self.warned_fu_type = true;
                }
                _ => {}
            }
        }
        self.au.extend(data);
        if !self.au.nal_open() {
            // The NAL went over its size bound.
            self.fu = None;
            return;
        }
        if end {
            self.au.end_nal();
            self.fu = None;
        }
    }

    fn abandon_fu(&mut self) {
        if self.fu.take().is_some() {
            self.stats.nals_dropped += 1;
            self.au.abort_nal();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::au::builder::tests::annexb;
    use crate::rtp::packet::tests::build;

    fn push(d: &mut Depacketizer, seq: u16, ts: u32, marker: bool, payload: &[u8], lost: bool) {
        let buf = build(seq, ts, marker, payload);
        d.push(&RtpPacket::parse(&buf).unwrap(), lost);
    }

    /// FU-A packets carrying `nal` in `chunk`-byte fragments.
    fn fragments(nal: &[u8], chunk: usize) -> Vec<Vec<u8>> {
        let body = &nal[1..];
        let n = body.chunks(chunk).count();
        body.chunks(chunk)
            .enumerate()
            .map(|(i, c)| {
                let mut h = nal[0] & 0x1f;
                if i == 0 {
                    h |= 0x80;
                }
                if i == n - 1 {
                    h |= 0x40;
                }
                [&[(nal[0] & 0xe0) | FU_A, h][..], c].concat()
            })
            .collect()
    }

    #[test]
    fn single_nal_units() {
        let mut d = Depacketizer::new(false);
        push(&mut d, 1, 0, false, &[0x67, 1, 2], false);
        push(&mut d, 2, 0, false, &[0x68, 3], false);
        push(&mut d, 3, 0, true, &[0x65, 4, 5], false);
        let au = d.pop().unwrap();
        assert!(au.keyframe);
        assert_eq!(au.data, annexb(&[&[0x67, 1, 2], &[0x68, 3], &[0x65, 4, 5]]));
        assert_eq!(d.pop(), None);
    }

    #[test]
    fn stap_a() {
        let mut d = Depacketizer::new(false);
        let stap = [24, 0, 3, 0x67, 1, 2, 0, 2, 0x68, 3, 0, 3, 0x65, 4, 5];
        push(&mut d, 1, 0, true, &stap, false);
        assert_eq!(
            d.pop().unwrap().data,
            annexb(&[&[0x67, 1, 2], &[0x68, 3], &[0x65, 4, 5]])
        );
        // A size running past the end keeps what came before it.
        push(
            &mut d,
            2,
            3000,
            true,
            &[24, 0, 2, 0x41, 9, 0, 50, 0x41],
            false,
        );
        assert_eq!(d.pop().unwrap().data, annexb(&[&[0x41, 9]]));
        assert_eq!(d.stats.malformed, 1);
    }

    #[test]
    fn fu_a_across_many_packets() {
        let mut d = Depacketizer::new(false);
        let nal: Vec<u8> = [0x65]
            .into_iter()
            .chain((0..5000).map(|i| (i % 251) as u8 | 1))
            .collect();
        let frags = fragments(&nal, 1000);
        assert_eq!(frags.len(), 5);
        for (i, f) in frags.iter().enumerate() {
            push(&mut d, i as u16, 90, i == frags.len() - 1, f, false);
        }
        assert_eq!(d.pop().unwrap().data, annexb(&[&nal]));
    }

    #[test]
    fn lost_middle_fragment_drops_the_nal_only() {
        let mut d = Depacketizer::new(false);
        push(&mut d, 0, 0, true, &[0x65, 1], false);
        d.pop().unwrap();
        let slice2 = [0x41, 7, 7];
        let big: Vec<u8> = [0x41].into_iter().chain([9u8; 300]).collect();
        let frags = fragments(&big, 100);
        push(&mut d, 1, 3000, false, &frags[0], false);
        // frags[1] lost
        push(&mut d, 3, 3000, false, &frags[2], true);
        push(&mut d, 4, 3000, true, &slice2, false);
        let au = d.pop().unwrap();
        assert!(au.discont);
        assert_eq!(au.data, annexb(&[&slice2]));
        assert_eq!(d.stats.nals_dropped, 1);
    }

    #[test]
    fn fu_a_quirks() {
        let mut d = Depacketizer::new(false);
        // Start mid-fragment: ignored.
        push(&mut d, 0, 0, true, &[0x7c, 0x45, 1, 2], false);
        assert_eq!(d.pop(), None);
        // S and E together (7c c5), reserved bit set (7c a5 ... 7c 65), empty fragment (7c 05).
        push(&mut d, 1, 0, true, &[0x7c, 0xc5, 1, 2], false);
        assert_eq!(d.pop().unwrap().data, annexb(&[&[0x65, 1, 2]]));
        push(&mut d, 2, 3000, false, &[0x7c, 0xa1, 3], false);
        push(&mut d, 3, 3000, false, &[0x7c, 0x01], false);
        // Tiandy: type changes in a later fragment; the first type stays.
        push(&mut d, 4, 3000, true, &[0x7c, 0x47, 4], false);
        assert_eq!(d.pop().unwrap().data, annexb(&[&[0x61, 3, 4]]));
    }

    #[test]
    fn fu_a_quirk_wire_bytes() {
        let mut d = Depacketizer::new(false);
        // S and E in one fragment (7c c1): a whole NAL.
        push(&mut d, 0, 0, false, &[0x7c, 0xc5, 9], false);
        push(&mut d, 1, 0, true, &[0x7c, 0xc1, 8], false);
        assert_eq!(d.pop().unwrap().data, annexb(&[&[0x65, 9], &[0x61, 8]]));
        // Tiandy: 3c 81 then 3c 47 — the first fragment's type (1) stays.
        push(&mut d, 2, 3000, false, &[0x3c, 0x81, 1], false);
        push(&mut d, 3, 3000, true, &[0x3c, 0x47, 2], false);
        assert_eq!(d.pop().unwrap().data, annexb(&[&[0x21, 1, 2]]));
    }

    #[test]
    fn timestamp_change_inside_fu_a() {
        let mut d = Depacketizer::new(false);
        push(&mut d, 0, 0, true, &[0x65, 1], false);
        d.pop().unwrap();
        push(&mut d, 1, 3000, false, &[0x7c, 0x81, 1], false);
        push(&mut d, 2, 6000, true, &[0x7c, 0x41, 2], false);
        assert_eq!(d.pop(), None);
        push(&mut d, 3, 6000, true, &[0x41, 5], false);
        assert_eq!(d.pop().unwrap().data, annexb(&[&[0x41, 5]]));
        assert_eq!(d.stats.nals_dropped, 1);
    }

    #[test]
    fn unsupported_and_garbage_never_panic() {
        let mut d = Depacketizer::new(false);
        for t in [0u8, 25, 26, 27, 29, 30, 31] {
            push(&mut d, 0, 0, true, &[t, 1, 2, 3], false);
        }
        push(&mut d, 0, 0, true, &[], false);
        push(&mut d, 0, 0, true, &[28], false);
        push(&mut d, 0, 0, true, &[24, 0], false);
        assert_eq!(d.pop(), None);
        assert_eq!(d.stats.unsupported, 7);
    }

    #[test]
    fn start_codes_inside_single_nal_and_stap_a() {
        let mut d = Depacketizer::new(false);
        // Single NAL packet carrying SPS‖00000001‖PPS‖00000001‖IDR (V380 Pro).
        push(
            &mut d,
            0,
            0,
            true,
            &[0x67, 1, 0, 0, 0, 1, 0x68, 2, 0, 0, 0, 1, 0x65, 3],
            false,
        );
        assert_eq!(
            d.pop().unwrap().data,
            annexb(&[&[0x67, 1], &[0x68, 2], &[0x65, 3]])
        );
        // STAP-A entry SPS‖000001‖PPS, then a slice.
        push(
            &mut d,
            1,
            3000,
            true,
            &[24, 0, 7, 0x67, 4, 0, 0, 1, 0x68, 5, 0, 2, 0x65, 6],
            false,
        );
        assert_eq!(
            d.pop().unwrap().data,
            annexb(&[&[0x67, 4], &[0x68, 5], &[0x65, 6]])
        );
    }

    #[test]
    fn marker_on_sps_does_not_end_the_au() {
        // LV-IP22IR40DVBL: SPS, PPS and SEI each with M=1, then the IDR, one timestamp.
        let mut d = Depacketizer::new(false);
        push(&mut d, 0, 0, true, &[0x67, 1], false);
        push(&mut d, 1, 0, true, &[0x68, 2], false);
        push(&mut d, 2, 0, true, &[0x06, 3], false);
        assert_eq!(d.pop(), None);
        push(&mut d, 3, 0, true, &[0x65, 4], false);
        assert_eq!(
            d.pop().unwrap().data,
            annexb(&[&[0x67, 1], &[0x68, 2], &[0x06, 3], &[0x65, 4]])
        );
    }
}

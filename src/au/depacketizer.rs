//! What every NAL-unit payload format (RFC 6184 for H.264, RFC 7798 for H.265) shares once its packet
//! types are told apart: RTP timestamps extended to 64 bits, whole NAL units and fragments written
//! straight into the access-unit buffer, a fragment's NAL dropped whole when a piece goes missing, a
//! picture given up on whose stragglers are dropped, and the counters. A codec's payload format
//! (`PayloadFormat`) only parses its packet types and calls `nal` and `fragment`.

use super::builder::{AccessUnit, AuBuilder, AuStats};
use super::syntax::NalSyntax;
use crate::log::Log;
use crate::rtp::packet::{RtpPacket, TimestampUnwrapper};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DepayStats {
    /// NAL units dropped because a fragment was missing or the timestamp changed mid-NAL.
    pub nals_dropped: u64,
    /// Packets of types the payload format does not handle.
    pub unsupported: u64,
    pub malformed: u64,
}

/// A codec's RTP payload format: how its packets carry NAL units.
pub trait PayloadFormat: std::fmt::Debug + Send {
    type Syntax: NalSyntax + Send;
    /// Hands the NAL units and fragments of one packet's payload to `to`.
    fn payload(&mut self, to: &mut NalAssembler<Self::Syntax>, ts: u64, payload: &[u8]);
}

/// RTP packets in, access units out, whatever the codec.
pub trait Depacketize: std::fmt::Debug + Send {
    fn push(&mut self, pkt: &RtpPacket<'_>, lost_before: bool);
    fn pop(&mut self) -> Option<AccessUnit>;
    /// Packets were lost before the next one.
    fn lose(&mut self);
    /// Forgets timestamps and partial data: a new sender (SSRC) with its own RTP clock follows.
    fn reset_timeline(&mut self);
    /// Changes whenever RTP timestamps start over, so the buffer timeline can start over too.
    fn timeline_epoch(&self) -> u32;
    /// The picture being assembled lost its tail: a later picture's packet is waiting behind a gap.
    /// Video only: an audio frame never waits on a later packet.
    fn picture_tail_lost(&mut self, _next_ts: u32) {}
    /// Timestamp of the picture being assembled, once it has a slice (video only).
    fn open_picture(&self) -> Option<u64> {
        None
    }
    /// Whether the sender ends its frames with the marker bit (so only marker packets need wake the
    /// receive loop).
    fn ended_by_marker(&self) -> bool;
    /// A parameter set known out of band (the SDP's `sprop-*`; video only).
    fn set_parameter_set(&mut self, _nal: &[u8]) {}
    fn take_warnings(&mut self) -> Vec<String>;
    fn set_log(&mut self, log: Log);
    fn stats(&self) -> (DepayStats, AuStats);
}

/// The shared state of a depacketizer; payload formats write into it.
#[derive(Debug)]
pub struct NalAssembler<C: NalSyntax> {
    ts: TimestampUnwrapper,
    /// Timestamp and NAL type of the fragmented NAL being reassembled.
    fu: Option<(u64, u8)>,
    warned_fu_type: bool,
    timeline_epoch: u32,
    /// A picture pushed before all its packets came (`picture_tail_lost`); its stragglers are dropped.
    finished_ts: Option<u64>,
    pub au: AuBuilder<C>,
    pub stats: DepayStats,
}

impl<C: NalSyntax> NalAssembler<C> {
    fn new(wait_for_keyframe: bool) -> Self {
        NalAssembler {
            ts: TimestampUnwrapper::default(),
            fu: None,
            warned_fu_type: false,
            timeline_epoch: 0,
            finished_ts: None,
            au: AuBuilder::new(wait_for_keyframe),
            stats: DepayStats::default(),
        }
    }

    /// A whole NAL unit, header included.
    pub fn nal(&mut self, ts: u64, nal: &[u8]) {
        if nal.len() < C::HEADER_LEN {
            self.malformed("NAL unit shorter than its header");
            return;
        }
        let (header, body) = nal.split_at(C::HEADER_LEN);
        self.nal_parts(ts, header, body);
    }

    /// A whole NAL unit given as its header and the rest (when the header had to be rebuilt).
    pub fn nal_parts(&mut self, ts: u64, header: &[u8], body: &[u8]) {
        self.abandon_fragment();
        self.au.begin_nal(ts, header);
        self.au.extend(body);
        self.au.end_nal();
    }

    /// A fragment of a NAL unit whose header is `header` (rebuilt from the fragmentation headers) and
    /// type `nal_type`. The same rules for every codec: S and E together make a whole NAL, an empty
    /// fragment is fine, a type that changes after the first fragment keeps the first (Tiandy), a
    /// fragment without its start (a stream joined mid-NAL, a lost start) or with another timestamp
    /// drops the NAL.
    pub fn fragment(
        &mut self,
        ts: u64,
        (start, end): (bool, bool),
        header: &[u8],
        nal_type: u8,
        data: &[u8],
    ) {
        if start {
            self.abandon_fragment();
            self.au.begin_nal(ts, header);
            self.fu = Some((ts, nal_type));
        } else {
            match self.fu {
                None => return,
                Some((fu_ts, _)) if fu_ts != ts => {
                    crate::log!(
                        self.au.log,
                        Debug,
                        "timestamp changed inside a fragmented NAL; dropped"
                    );
                    self.abandon_fragment();
                    return;
                }
                Some((_, t)) if t != nal_type && !self.warned_fu_type => {
                    crate::log!(
                        self.au.log,
                        Debug,
                        "fragment NAL type changed from {} to {}; keeping {}",
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

    /// The decoding order number of the next whole NAL unit or fragment start.
    pub fn set_don(&mut self, don: u16) {
        self.au.set_don(don);
    }

    pub fn malformed(&mut self, what: &str) {
        crate::log!(self.au.log, Debug, "malformed payload: {}", what);
        self.stats.malformed += 1;
    }

    pub fn unsupported(&mut self, packet_type: u8) {
        crate::log!(
            self.au.log,
            Debug,
            "skipping unsupported packet type {}",
            packet_type
        );
        self.stats.unsupported += 1;
    }

    fn abandon_fragment(&mut self) {
        if self.fu.take().is_some() {
            self.stats.nals_dropped += 1;
            self.au.abort_nal();
        }
    }
}

/// A depacketizer: a payload format over the shared assembler.
#[derive(Debug)]
pub struct Depay<F: PayloadFormat> {
    format: F,
    core: NalAssembler<F::Syntax>,
}

impl<F: PayloadFormat> Depay<F> {
    pub fn new(format: F, wait_for_keyframe: bool) -> Self {
        Depay {
            format,
            core: NalAssembler::new(wait_for_keyframe),
        }
    }
}

impl<F: PayloadFormat> Depacketize for Depay<F> {
    fn push(&mut self, pkt: &RtpPacket<'_>, lost_before: bool) {
        if lost_before {
            self.lose();
        }
        let c = &mut self.core;
        let ts = c.ts.unwrap(pkt.timestamp);
        // Only that very picture: with B-frames, later pictures may carry earlier timestamps.
        if c.finished_ts == Some(ts) {
            // The tail of a picture that was already given up on and pushed.
            c.stats.nals_dropped += 1;
            return;
        }
        if !pkt.payload.is_empty() {
            self.format.payload(c, ts, pkt.payload);
        }
        if pkt.marker && c.fu.is_none() {
            c.au.marker();
        }
    }

    fn pop(&mut self) -> Option<AccessUnit> {
        self.core.au.pop()
    }

    fn lose(&mut self) {
        let c = &mut self.core;
        if c.fu.take().is_some() {
            c.stats.nals_dropped += 1;
        }
        c.au.mark_loss();
    }

    fn reset_timeline(&mut self) {
        let c = &mut self.core;
        c.ts.reset();
        c.finished_ts = None;
        c.timeline_epoch = c.timeline_epoch.wrapping_add(1);
        self.lose();
    }

    fn timeline_epoch(&self) -> u32 {
        self.core.timeline_epoch
    }

    fn picture_tail_lost(&mut self, next_ts: u32) {
        let c = &mut self.core;
        let open = c.au.open_picture();
        if open.is_some_and(|t| t as u32 != next_ts) {
            c.abandon_fragment();
            c.au.finish_early();
            c.finished_ts = open;
        }
    }

    fn open_picture(&self) -> Option<u64> {
        self.core.au.open_picture()
    }

    fn ended_by_marker(&self) -> bool {
        self.core.au.ended_by_marker()
    }

    fn set_parameter_set(&mut self, nal: &[u8]) {
        self.core.au.set_parameter_set(nal);
    }

    fn take_warnings(&mut self) -> Vec<String> {
        self.core.au.take_warnings()
    }

    fn set_log(&mut self, log: Log) {
        self.core.au.log = log;
    }

    fn stats(&self) -> (DepayStats, AuStats) {
        (self.core.stats.clone(), self.core.au.stats.clone())
    }
}

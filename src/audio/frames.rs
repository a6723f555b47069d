//! What every audio depacketizer shares: RTP timestamps extended to 64 bits, a bounded queue of frames
//! out, the DISCONT a loss leaves on the next frame, the timeline epoch and the counters; and
//! `AudioDepay`, the `Depacketize` of every audio payload format over them.

use crate::au::au_bytes::{AuBytes, SpareMappings, MAPPED_FROM};
use crate::au::depacketizer::DepayStats;
use crate::au::Depacketize;
use crate::au::{AccessUnit, AuStats};
use crate::log::Log;
use crate::rtp::packet::{RtpPacket, TimestampUnwrapper};
use std::collections::VecDeque;

/// Frames waiting to be taken: a consumer that stops taking them costs this many at most.
const MAX_READY: usize = 64;

#[derive(Debug)]
pub struct AudioFrames {
    ts: TimestampUnwrapper,
    ready: VecDeque<AccessUnit>,
    /// Something was lost since the last frame out.
    discont: bool,
    timeline_epoch: u32,
    spare: SpareMappings,
    pub stats: DepayStats,
    pub au_stats: AuStats,
    pub warnings: Vec<String>,
    pub log: Log,
}

impl Default for AudioFrames {
    fn default() -> Self {
        AudioFrames {
            ts: Default::default(),
            ready: Default::default(),
            discont: false,
            timeline_epoch: 0,
            spare: SpareMappings::for_frames(),
            stats: Default::default(),
            au_stats: Default::default(),
            warnings: Vec::new(),
            log: Default::default(),
        }
    }
}

impl AudioFrames {
    /// The 64-bit RTP time of a packet's 32-bit timestamp.
    pub fn extend(&mut self, ts: u32) -> u64 {
        self.ts.unwrap(ts)
    }

    /// A frame of `bytes` at `rtp_ts`, lasting `duration` ticks when known.
    pub fn push(&mut self, rtp_ts: u64, bytes: &[u8], duration: Option<u64>) {
        let mut data = AuBytes::with_capacity(bytes.len(), MAPPED_FROM, &self.spare);
        data.extend_from_slice(bytes);
        self.push_bytes(rtp_ts, data, duration);
    }

    /// A frame already gathered in `data`.
    pub fn push_bytes(&mut self, rtp_ts: u64, data: AuBytes, duration: Option<u64>) {
        if self.ready.len() >= MAX_READY {
            self.ready.pop_front();
            self.au_stats.dropped_oversize += 1;
            self.discont = true;
        }
        self.au_stats.access_units += 1;
        self.au_stats.keyframes += 1;
        self.ready.push_back(AccessUnit {
            data,
            rtp_ts,
            // Every audio frame decodes by itself.
            keyframe: true,
            discont: std::mem::take(&mut self.discont),
            sps: None,
            duration,
        });
    }

    /// A new, empty buffer for a frame gathered in pieces.
    pub fn buffer(&self, capacity: usize) -> AuBytes {
        AuBytes::with_capacity(capacity, MAPPED_FROM, &self.spare)
    }

    pub fn pop(&mut self) -> Option<AccessUnit> {
        self.ready.pop_front()
    }

    /// Packets were lost: the next frame out carries DISCONT (no samples are invented).
    pub fn lose(&mut self) {
        self.discont = true;
    }

    /// A new sender follows with its own RTP clock.
    pub fn reset_timeline(&mut self) {
        self.ts.reset();
        self.timeline_epoch = self.timeline_epoch.wrapping_add(1);
        self.discont = true;
    }

    pub fn timeline_epoch(&self) -> u32 {
        self.timeline_epoch
    }

    pub fn malformed(&mut self, why: &str) {
        crate::log!(self.log, Debug, "dropping audio packet: {}", why);
        self.stats.malformed += 1;
        self.discont = true;
    }

    /// Says `what` once as a warning for the bus.
    pub fn warn_once(&mut self, flag: &mut bool, what: String) {
        if !std::mem::replace(flag, true) {
            crate::log!(self.log, Warning, "{}", what);
            self.warnings.push(what);
        }
    }
}

/// An audio RTP payload format: how its packets carry frames.
pub trait AudioPayload: std::fmt::Debug + Send {
    /// Hands the frames of one packet (`lost_before`: packets were lost just before it) to `frames`.
    fn packet(&mut self, frames: &mut AudioFrames, pkt: &RtpPacket<'_>, lost_before: bool);
    /// Forgets a frame gathered in pieces (a loss, a new sender).
    fn forget(&mut self) {}
}

/// RTP packets in, audio frames out, whatever the payload format.
#[derive(Debug)]
pub struct AudioDepay<P: AudioPayload> {
    pub frames: AudioFrames,
    pub payload: P,
}

impl<P: AudioPayload> AudioDepay<P> {
    pub fn new(payload: P) -> Self {
        AudioDepay {
            frames: AudioFrames::default(),
            payload,
        }
    }
}

impl<P: AudioPayload> Depacketize for AudioDepay<P> {
    fn push(&mut self, pkt: &RtpPacket<'_>, lost_before: bool) {
        if lost_before {
            self.lose();
        }
        self.payload.packet(&mut self.frames, pkt, lost_before);
    }

    fn pop(&mut self) -> Option<AccessUnit> {
        self.frames.pop()
    }

    fn lose(&mut self) {
        self.frames.lose();
        self.payload.forget();
    }

    fn reset_timeline(&mut self) {
        self.frames.reset_timeline();
        self.payload.forget();
    }

    fn timeline_epoch(&self) -> u32 {
        self.frames.timeline_epoch()
    }

    /// Audio packets rarely carry the marker bit (RFC 3551: the first packet after silence), so every
    /// packet wakes the receive loop.
    fn ended_by_marker(&self) -> bool {
        false
    }

    fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.frames.warnings)
    }

    fn set_log(&mut self, log: Log) {
        self.frames.log = log;
    }

    fn stats(&self) -> (DepayStats, AuStats) {
        (self.frames.stats.clone(), self.frames.au_stats.clone())
    }
}

//! Access-unit assembly: NAL units go into one Annex-B buffer (4-byte start codes) per picture. An access
//! unit ends at the RTP marker bit or when the timestamp changes — but never right after a parameter set,
//! SEI or AUD, because cameras send those with the marker set or with the previous frame's timestamp.
//! Every keyframe that lacks the parameter sets its slices refer to gets them in front, so any keyframe
//! starts a decodable recording; each access unit whose SPS differs from the last one's carries it, so
//! caps change with the very picture that changed.

use super::annexb::{units, START_CODE, START_CODE_FINDER};
use super::au_bytes::{map_from, AuBytes, SpareMappings};
use super::param_sets::ParamSets;
use super::size_class::size_class;
use super::syntax::{Nal, NalSyntax, ParamKind};
use rewrites::{in_decoding_order, with_parameter_sets};
use std::collections::VecDeque;

/// Largest NAL unit accepted (fragment reassembly bound).
pub const MAX_NAL_BYTES: usize = 4 * 1024 * 1024;
/// Largest access unit accepted.
pub const MAX_AU_BYTES: usize = 8 * 1024 * 1024;
/// Completed access units waiting to be pushed: the receive loop takes them one by one, so only a
/// flood of tiny pictures in one read (a hostile or broken sender) could fill this; the oldest go.
pub const MAX_READY: usize = 64;
/// Bounds of the capacity a new access unit buffer starts with.
const MIN_CAPACITY: usize = 16 * 1024;
const MAX_CAPACITY: usize = 1024 * 1024;
/// A stream with neither keyframes nor recovery points for this long (90 kHz RTP time, the clock of
/// both codecs) starts at the next picture anyway: never nothing, silently.
const START_ANYWAY: u64 = 5 * 90_000;
/// Decoding order numbers kept per access unit. Real interleaved senders put a few dozen NAL units in a
/// picture; past this many the access unit goes out in arrival order rather than cost memory and time.
const MAX_DONS: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessUnit {
    pub data: AuBytes,
    /// Extended (64-bit) RTP timestamp.
    pub rtp_ts: u64,
    /// IDR / IRAP, or a recovery point: decoding can start here.
    pub keyframe: bool,
    /// Something was lost between the previous access unit pushed and this one.
    pub discont: bool,
    /// The SPS this access unit uses, when it differs from the previous one's (caps change here).
    pub sps: Option<Vec<u8>>,
    /// How long it lasts in RTP clock ticks, when the payload says (audio frames); pictures last
    /// until the next one.
    pub duration: Option<u64>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuStats {
    pub access_units: u64,
    pub keyframes: u64,
    /// Access units dropped while waiting for a keyframe.
    pub dropped_waiting: u64,
    /// NAL units or access units dropped for exceeding a size bound, or a full queue.
    pub dropped_oversize: u64,
}

#[derive(Debug)]
pub struct AuBuilder<C: NalSyntax> {
    buf: AuBytes,
    ts: Option<u64>,
    has_vcl: bool,
    keyframe: bool,
    recovery_point: bool,
    /// Offset of the first slice's start code.
    first_slice: Option<usize>,
    /// Offset of the open NAL's start code, if one is open.
    nal_start: Option<usize>,
    discont: bool,
    /// Dropping pictures until a keyframe (at the start, or after a loss with `wait_for_keyframe`).
    waiting: bool,
    /// RTP time of the first picture dropped while waiting.
    waiting_since: Option<u64>,
    /// Whether a picture has gone out yet.
    started: bool,
    wait_for_keyframe: bool,
    params: ParamSets<C>,
    /// The SPS the last access unit out used, and the parameter-set generation then.
    reported_sps: (Vec<u8>, Option<u32>),
    ready: VecDeque<AccessUnit>,
    capacity_hint: usize,
    /// Room a keyframe starts with: a little more than recent keyframes took.
    keyframe_hint: usize,
    warned_annexb: bool,
    /// The last access unit was ended by the RTP marker bit (not by the next one starting).
    ended_by_marker: bool,
    /// Things the application should hear about (taken by `take_warnings`).
    warnings: Vec<String>,
    /// RFC 7798 decoding order numbers of this access unit's NAL units: (DON, start code offset), in
    /// offset order.
    dons: Vec<(u16, usize)>,
    /// The DON of the next NAL unit begun.
    next_don: Option<u16>,
    pub stats: AuStats,
    pub log: crate::log::Log,
}

impl<C: NalSyntax> AuBuilder<C> {
    /// `wait_for_keyframe`: after a loss, drop everything until the next keyframe.
    pub fn new(wait_for_keyframe: bool) -> Self {
        AuBuilder {
            buf: AuBytes::with_capacity(64 * 1024, map_from(64 * 1024), &SpareMappings::default()),
            ts: None,
            has_vcl: false,
            keyframe: false,
            recovery_point: false,
            first_slice: None,
            nal_start: None,
            discont: false,
            waiting: true,
            waiting_since: None,
            started: false,
            wait_for_keyframe,
            params: ParamSets::default(),
            reported_sps: (Vec::new(), None),
            ready: VecDeque::with_capacity(4),
            capacity_hint: 64 * 1024,
            keyframe_hint: 0,
            warned_annexb: false,
            ended_by_marker: false,
            warnings: Vec::new(),
            dons: Vec::new(),
            next_don: None,
            stats: AuStats::default(),
            log: Default::default(),
        }
    }

    /// Parameter sets known out of band (`sprop-*`), used until in-band ones arrive.
    pub fn set_parameter_set(&mut self, nal: &[u8]) {
        if let Nal::Param(kind) = C::classify(nal) {
            self.params.store(kind, nal);
        }
    }

    pub fn pop(&mut self) -> Option<AccessUnit> {
        self.ready.pop_front()
    }

    /// Warnings for the bus since the last call.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    pub fn nal_open(&self) -> bool {
        self.nal_start.is_some()
    }

    /// Opens a NAL unit whose header (`C::HEADER_LEN` bytes) is `header`, at RTP time `ts`.
    pub fn begin_nal(&mut self, ts: u64, header: &[u8]) {
        self.abort_nal();
        if let Some(cur) = self.ts {
            if cur != ts {
                if self.has_vcl {
                    self.ended_by_marker = false;
                    self.finish();
                }
                // Non-VCL NALs waiting for their picture (Reolink: SPS/PPS with the previous frame's
                // timestamp) join the next access unit and take its timestamp.
            } else if self.has_vcl && C::classify(header) == Nal::Aud {
                // An AUD only comes first in an access unit: a new one at the same time.
                self.ended_by_marker = false;
                self.finish();
            }
        }
        self.ts = Some(ts);
        // A keyframe is several times the size of the pictures between: room for it at once, not a
        // chain of reallocations through ever larger blocks that fragment the heap (benches/soak.sh).
        if self.keyframe_hint > self.buf.capacity()
            && matches!(C::classify(header), Nal::Slice { keyframe: true, .. })
        {
            let room = size_class(self.keyframe_hint);
            self.buf.reserve_exact(room.saturating_sub(self.buf.len()));
        }
        if self.buf.len() + 4 + header.len() > MAX_AU_BYTES {
            self.drop_oversize();
            self.ts = Some(ts);
        }
        self.nal_start = Some(self.buf.len());
        if let Some(don) = self.next_don.take() {
            if self.dons.len() < MAX_DONS {
                self.dons.push((don, self.buf.len()));
            }
        }
        self.buf.extend_from_slice(&START_CODE);
        self.buf.extend_from_slice(header);
    }

    /// The decoding order number of the next NAL unit (RFC 7798 DONL/DOND): an access unit whose units
    /// came out of decoding order is put back in it.
    pub fn set_don(&mut self, don: u16) {
        self.next_don = Some(don);
    }

    pub fn extend(&mut self, bytes: &[u8]) {
        let Some(start) = self.nal_start else {
            return;
        };
        if self.buf.len() - start + bytes.len() > MAX_NAL_BYTES + 4 + C::HEADER_LEN
            || self.buf.len() + bytes.len() > MAX_AU_BYTES
        {
            crate::log!(
                self.log,
                Warning,
                "NAL unit over {} bytes dropped",
                MAX_NAL_BYTES
            );
            self.stats.dropped_oversize += 1;
            self.abort_nal();
            self.discont = true;
            return;
        }
        self.buf.extend_from_slice(bytes);
    }

    pub fn end_nal(&mut self) {
        let Some(mut start) = self.nal_start.take() else {
            return;
        };
        let body = 4 + C::HEADER_LEN;
        if self.buf.len() < start + body {
            self.drop_from(start);
            return;
        }
        // A NAL unit never holds 00 00 01 (emulation prevention), so one found here is a start code:
        // V380 Pro sends Annex-B inside RTP (SPS‖PPS‖IDR in one FU-A, single NAL or STAP-A entry, its
        // header saying SPS). Searching the reassembled unit also catches start codes straddling
        // fragments. Slices (nearly all the bytes) are not searched: that camera's blobs start with a
        // parameter set, and a start code left inside a slice is still one to any Annex-B parser.
        let mut search = !matches!(C::classify(&self.buf[start + 4..]), Nal::Slice { .. });
        loop {
            let embedded = search
                .then(|| START_CODE_FINDER.find(&self.buf[start + body..]))
                .flatten()
                .map(|p| start + body + p);
            search = true;
            let tail = embedded.map(|at| self.buf.split_off(at));
            self.close_nal(start);
            let Some(tail) = tail else {
                return;
            };
            if tail.len() < 3 + C::HEADER_LEN {
                return;
            }
            if !self.warned_annexb {
                self.warned_annexb = true;
                crate::log!(
                    self.log,
                    Warning,
                    "camera sends start codes inside RTP payloads; splitting them"
                );
            }
            start = self.buf.len();
            self.buf.extend_from_slice(&START_CODE);
            self.buf.extend_from_slice(&tail[3..]);
        }
    }

    /// Takes the NAL unit at `start` into the access unit, or into the next one.
    fn close_nal(&mut self, start: usize) {
        // Dahua pads NAL units with zero bytes; a NAL never ends in 0x00 (rbsp_stop_one_bit).
        while self.buf.len() > start + 4 + C::HEADER_LEN && self.buf.last() == Some(&0) {
            self.buf.pop();
        }
        if self.buf.len() < start + 4 + C::HEADER_LEN {
            self.drop_from(start);
            return;
        }
        let mut start = start;
        let kind = C::classify(&self.buf[start + 4..]);
        let next_picture = match kind {
            // rtph264pay (config-interval=-1) repeats SPS/PPS before every IDR slice, also after the
            // first slice of a multi-slice picture: a repeat says nothing new. New parameter sets after
            // a slice belong to the next access unit.
            Nal::Param(k) if self.has_vcl => {
                if self.params.is_known(k, &self.buf[start + 4..]) {
                    self.drop_from(start);
                    return;
                }
                // Unless its decoding order number puts it before the slices (an interleaving
                // RFC 7798 sender).
                !self.before_first_slice(start)
            }
            // A camera that leaves the marker off: the slice header says a new picture begins.
            Nal::Slice {
                first_in_picture: Some(true),
                ..
            } => self.has_vcl,
            _ => false,
        };
        if next_picture {
            let ts = self.ts;
            let tail = self.buf.split_off(start);
            let moved = self
                .dons
                .split_off(self.dons.partition_point(|d| d.1 < start));
            self.ended_by_marker = false;
            self.finish();
            self.ts = ts;
            let old = start;
            start = self.buf.len();
            self.dons
                .extend(moved.into_iter().map(|(d, at)| (d, at - old + start)));
            self.buf.extend_from_slice(&tail);
        }
        match kind {
            Nal::Slice { keyframe, .. } => {
                self.has_vcl = true;
                self.keyframe |= keyframe;
                self.first_slice.get_or_insert(start);
            }
            Nal::Param(k) => {
                if !self.params.store(k, &self.buf[start + 4..]) {
                    crate::log!(self.log, Debug, "unusable parameter set dropped");
                    self.drop_from(start);
                }
            }
            Nal::Sei { recovery_point } => self.recovery_point |= recovery_point,
            Nal::Aud | Nal::Other => {}
        }
    }

    /// Whether the NAL unit at `start` comes before the first slice in decoding order (by DON).
    fn before_first_slice(&self, start: usize) -> bool {
        let don_at = |at: usize| {
            let i = self.dons.binary_search_by_key(&at, |d| d.1).ok()?;
            Some(self.dons[i].0)
        };
        match (don_at(start), self.first_slice.and_then(don_at)) {
            (Some(d), Some(slice)) => (slice.wrapping_sub(d) as i16) > 0,
            _ => false,
        }
    }

    /// Drops the open NAL unit (a fragment went missing).
    pub fn abort_nal(&mut self) {
        if let Some(start) = self.nal_start.take() {
            self.drop_from(start);
        }
    }

    /// Drops the NAL unit whose start code is at `start`, and everything after it.
    fn drop_from(&mut self, start: usize) {
        self.buf.truncate(start);
        let keep = self.dons.partition_point(|d| d.1 < start);
        self.dons.truncate(keep);
    }

    /// Packets were lost before the next one.
    pub fn mark_loss(&mut self) {
        self.abort_nal();
        self.discont = true;
        if self.wait_for_keyframe {
            self.waiting = true;
        }
    }

    /// The rest of the open picture will not come (its last packets are missing and the next picture has
    /// begun): emit what there is now rather than when the next picture's packets are let through. A
    /// truncated picture is a loss: with `wait_for_keyframe` it goes, unless a keyframe.
    pub fn finish_early(&mut self) {
        if self.has_vcl {
            self.abort_nal();
            self.discont = true;
            self.waiting |= self.wait_for_keyframe;
            self.finish();
        }
    }

    /// Timestamp of the picture being assembled, once it has a slice.
    pub fn open_picture(&self) -> Option<u64> {
        self.ts.filter(|_| self.has_vcl)
    }

    /// The RTP marker bit was set on the last packet.
    pub fn marker(&mut self) {
        if self.has_vcl && self.nal_start.is_none() {
            self.ended_by_marker = true;
            self.finish();
        }
    }

    /// Whether the last access unit was ended by the marker bit: a camera that sets it lets the receive
    /// loop wait for marker packets alone.
    pub fn ended_by_marker(&self) -> bool {
        self.ended_by_marker
    }

    fn drop_oversize(&mut self) {
        crate::log!(
            self.log,
            Warning,
            "access unit over {} bytes dropped",
            MAX_AU_BYTES
        );
        self.stats.dropped_oversize += 1;
        self.discont = true;
        self.reset_au();
    }

    fn reset_au(&mut self) {
        self.buf.clear();
        self.ts = None;
        self.has_vcl = false;
        self.keyframe = false;
        self.recovery_point = false;
        self.first_slice = None;
        self.nal_start = None;
        self.dons.clear();
    }

    /// Whether output may start (or resume) with the picture at `ts`.
    fn may_start(&mut self, ts: u64) -> bool {
        if !self.waiting || self.keyframe {
            if self.keyframe && self.recovery_point && !self.started {
                self.warn("the camera sends no IDR (intra refresh): starting at a recovery point");
            }
            return true;
        }
        let since = *self.waiting_since.get_or_insert(ts);
        if ts.saturating_sub(since) >= START_ANYWAY {
            self.warn(&format!(
                "no keyframe or recovery point for {} s: starting without one (the first pictures may not decode)",
                START_ANYWAY / 90_000
            ));
            return true;
        }
        false
    }

    fn warn(&mut self, msg: &str) {
        crate::log!(self.log, Warning, "{}", msg);
        if self.warnings.len() < 8 {
            self.warnings.push(msg.to_string());
        }
    }

    fn finish(&mut self) {
        let Some(ts) = self.ts else {
            return;
        };
        if !self.has_vcl {
            return;
        }
        // Intra-refresh streams mark their recovery points with SEI: a place to start decoding.
        self.keyframe |= self.recovery_point;
        if !self.may_start(ts) {
            self.stats.dropped_waiting += 1;
            self.discont = true;
            self.reset_au();
            return;
        }
        self.waiting = false;
        self.waiting_since = None;
        self.started = true;
        // The next picture's buffer shares this stream's ring and spare keyframe mappings
        // (`au_bytes`); it goes in the ring right after this one, in the room this one did not use.
        self.buf.fit();
        let next = self
            .buf
            .next(size_class(self.capacity_hint), map_from(self.capacity_hint));
        let mut data = std::mem::replace(&mut self.buf, next);
        // Sized for a typical access unit, so most never reallocate while being filled. One huge
        // access unit counts as at most twice the current hint, so it cannot inflate every later one.
        let sample = (data.len() * 5 / 4).min(self.capacity_hint * 2);
        self.capacity_hint =
            ((self.capacity_hint * 7 + sample) / 8).clamp(MIN_CAPACITY, MAX_CAPACITY);
        if let Some(ordered) = in_decoding_order(&data, &self.dons) {
            data = ordered;
            self.first_slice = units(&data)
                .find(|(_, u)| matches!(C::classify(u), Nal::Slice { .. }))
                .map(|(at, _)| at);
        }
        if self.keyframe {
            let room = (data.len() * 5 / 4).min(MAX_AU_BYTES);
            self.keyframe_hint = room.max(self.keyframe_hint * 7 / 8);
        }
        let first_slice = self.first_slice.map_or(&[][..], |at| slice_at(&data, at));
        let chain = self.params.chain(first_slice);
        let sps = changed_sps(
            &mut self.reported_sps,
            self.params.generation(),
            chain[ParamKind::Sps as usize],
        );
        if self.keyframe {
            data = with_parameter_sets::<C>(data, chain);
        }
        self.stats.access_units += 1;
        if self.keyframe {
            self.stats.keyframes += 1;
        }
        if self.ready.len() >= MAX_READY {
            self.ready.pop_front();
            self.stats.dropped_oversize += 1;
            self.discont = true;
        }
        self.ready.push_back(AccessUnit {
            data,
            rtp_ts: ts,
            keyframe: self.keyframe,
            discont: std::mem::take(&mut self.discont),
            sps,
            duration: None,
        });
        self.reset_au();
    }
}

/// The SPS `used`, when it differs from the one the previous access unit out used (`reported`, with the
/// parameter-set generation then). Compared only when some SPS changed since.
fn changed_sps(
    reported: &mut (Vec<u8>, Option<u32>),
    generation: u32,
    used: Option<&[u8]>,
) -> Option<Vec<u8>> {
    if reported.1 == Some(generation) {
        return None;
    }
    let used = used?;
    reported.1 = Some(generation);
    if reported.0 == used {
        return None;
    }
    reported.0.clear();
    reported.0.extend_from_slice(used);
    Some(used.to_vec())
}

/// The start of the NAL unit (header included) whose start code is at `at`: enough for its header
/// fields, without searching the slice data for where it ends (once per picture, on the data path).
fn slice_at(au: &[u8], at: usize) -> &[u8] {
    au.get(at + START_CODE.len()..).unwrap_or_default()
}

mod rewrites;
#[cfg(test)]
pub mod tests;

//! Access-unit assembly: NAL units go into one Annex-B buffer (4-byte start codes) per picture. An access
//! unit ends at the RTP marker bit or when the timestamp changes — but never right after an SPS, PPS, SEI or
//! AUD, because cameras send those with the marker set or with the previous frame's timestamp.
//! Every IDR access unit that lacks SPS/PPS gets the latest ones in front.

use std::collections::VecDeque;

pub const START_CODE: [u8; 4] = [0, 0, 0, 1];
/// Built once: constructing a searcher per NAL unit costs more than the search.
static START_CODE_FINDER: once_cell::sync::Lazy<memchr::memmem::Finder<'static>> =
    once_cell::sync::Lazy::new(|| memchr::memmem::Finder::new(&[0, 0, 1]));
/// Largest NAL unit accepted (FU-A reassembly bound).
pub const MAX_NAL_BYTES: usize = 4 * 1024 * 1024;
/// Largest access unit accepted.
pub const MAX_AU_BYTES: usize = 8 * 1024 * 1024;
/// Completed access units waiting to be pushed: the receive loop takes them one by one, so only a
/// flood of tiny pictures in one read (a hostile or broken sender) could fill this; the oldest go.
pub const MAX_READY: usize = 64;
/// Bounds of the capacity a new access unit buffer starts with.
const MIN_CAPACITY: usize = 16 * 1024;
const MAX_CAPACITY: usize = 1024 * 1024;

pub const NAL_SLICE: u8 = 1;
pub const NAL_IDR: u8 = 5;
pub const NAL_SEI: u8 = 6;
pub const NAL_SPS: u8 = 7;
pub const NAL_PPS: u8 = 8;
pub const NAL_AUD: u8 = 9;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessUnit {
    pub data: Vec<u8>,
    /// Extended (64-bit) RTP timestamp.
    pub rtp_ts: u64,
    pub idr: bool,
    /// Something was lost between the previous access unit pushed and this one.
    pub discont: bool,
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
pub struct AuBuilder {
    buf: Vec<u8>,
    ts: Option<u64>,
    has_vcl: bool,
    idr: bool,
    has_sps: bool,
    has_pps: bool,
    /// Offset of the open NAL's start code, if one is open.
    nal_start: Option<usize>,
    discont: bool,
    waiting_for_idr: bool,
    wait_for_keyframe: bool,
    sps: Vec<u8>,
    pps: Vec<u8>,
    sps_generation: u32,
    ready: VecDeque<AccessUnit>,
    capacity_hint: usize,
    warned_annexb: bool,
    /// The last access unit was ended by the RTP marker bit (not by the next one starting).
    ended_by_marker: bool,
    pub stats: AuStats,
    pub log: crate::log::Log,
}

impl AuBuilder {
    /// `wait_for_keyframe`: after a loss, drop everything until the next IDR.
    pub fn new(wait_for_keyframe: bool) -> Self {
        AuBuilder {
            buf: Vec::with_capacity(64 * 1024),
            ts: None,
            has_vcl: false,
            idr: false,
            has_sps: false,
            has_pps: false,
            nal_start: None,
            discont: false,
            waiting_for_idr: true,
            wait_for_keyframe,
            sps: Vec::new(),
            pps: Vec::new(),
            sps_generation: 0,
            ready: VecDeque::with_capacity(4),
            capacity_hint: 64 * 1024,
            warned_annexb: false,
            ended_by_marker: false,
            stats: AuStats::default(),
            log: Default::default(),
        }
    }

    /// Latest SPS (without start code) and a counter that changes whenever it does.
    pub fn sps(&self) -> (&[u8], u32) {
        (&self.sps, self.sps_generation)
    }

    /// Parameter sets known out of band (sprop-parameter-sets), used until in-band ones arrive.
    pub fn set_parameter_set(&mut self, nal: &[u8]) {
        match nal.first().map(|h| h & 0x1f) {
            Some(NAL_SPS) => store(&mut self.sps, nal, &mut self.sps_generation),
            Some(NAL_PPS) => store(&mut self.pps, nal, &mut 0),
            _ => {}
        }
    }

    pub fn pop(&mut self) -> Option<AccessUnit> {
        self.ready.pop_front()
    }

    pub fn nal_open(&self) -> bool {
        self.nal_start.is_some()
    }

    /// Opens a NAL unit with header byte `header` at RTP time `ts`.
    pub fn begin_nal(&mut self, ts: u64, header: u8) {
        self.abort_nal();
        let nal_type = header & 0x1f;
        if let Some(cur) = self.ts {
            if cur != ts {
                if self.has_vcl {
                    self.ended_by_marker = false;
                    self.finish();
                }
                // Non-VCL NALs waiting for their picture (Reolink: SPS/PPS with the previous frame's
                // timestamp) join the next access unit and take its timestamp.
                self.ts = Some(ts);
            } else if self.has_vcl && nal_type == NAL_AUD {
                // An AUD only comes first in an access unit: a new one at the same time.
                self.ended_by_marker = false;
                self.finish();
            }
        }
        self.ts = Some(ts);
        if self.buf.len() + 5 > MAX_AU_BYTES {
            self.drop_oversize();
            self.ts = Some(ts);
        }
        self.nal_start = Some(self.buf.len());
        self.buf.extend_from_slice(&START_CODE);
        self.buf.push(header);
    }

    pub fn extend(&mut self, bytes: &[u8]) {
        let Some(start) = self.nal_start else {
            return;
        };
        if self.buf.len() - start + bytes.len() > MAX_NAL_BYTES + 5
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
        // A NAL unit never holds 00 00 01 (emulation prevention), so one found here is a start code:
        // V380 Pro sends Annex-B inside RTP (SPS‖PPS‖IDR in one FU-A, single NAL or STAP-A entry, its
        // header saying SPS). Searching the reassembled unit also catches start codes straddling
        // fragments. Slices (nearly all the bytes) are not searched: that camera's blobs start with a
        // parameter set, and a start code left inside a slice is still one to any Annex-B parser.
        let mut search = !matches!(self.buf[start + 4] & 0x1f, NAL_SLICE..=NAL_IDR);
        loop {
            let embedded = search
                .then(|| START_CODE_FINDER.find(&self.buf[start + 5..]))
                .flatten()
                .map(|p| start + 5 + p);
            search = true;
            let tail = embedded.map(|at| self.buf.split_off(at));
            self.close_nal(start);
            let Some(tail) = tail else {
                return;
            };
            if tail.len() <= 3 {
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

    fn close_nal(&mut self, start: usize) {
        // Dahua pads NAL units with zero bytes; a NAL never ends in 0x00 (rbsp_stop_one_bit).
        while self.buf.len() > start + 5 && self.buf.last() == Some(&0) {
            self.buf.pop();
        }
        let mut start = start;
        if self.buf.len() <= start + 4 {
            self.buf.truncate(start);
            return;
        }
        let nal_type = self.buf[start + 4] & 0x1f;
        if self.has_vcl && matches!(nal_type, NAL_SPS | NAL_PPS) {
            let stored = if nal_type == NAL_SPS {
                &self.sps
            } else {
                &self.pps
            };
            if self.buf[start + 4..] == stored[..] {
                // rtph264pay (config-interval=-1) repeats SPS/PPS before every IDR slice, also after the
                // first slice of a multi-slice picture: a repeat says nothing new.
                self.buf.truncate(start);
                return;
            }
            // New parameter sets after a slice belong to the next access unit.
            let ts = self.ts;
            let tail = self.buf.split_off(start);
            self.finish();
            self.ts = ts;
            start = self.buf.len();
            self.buf.extend_from_slice(&tail);
        }
        let nal = &self.buf[start + 4..];
        match nal[0] & 0x1f {
            NAL_SLICE..=NAL_IDR => {
                self.has_vcl = true;
                self.idr |= nal[0] & 0x1f == NAL_IDR;
            }
            NAL_SPS => {
                self.has_sps = true;
                store(&mut self.sps, nal, &mut self.sps_generation);
            }
            NAL_PPS => {
                self.has_pps = true;
                store(&mut self.pps, nal, &mut 0);
            }
            _ => {}
        }
    }

    /// Drops the open NAL unit (a fragment went missing).
    pub fn abort_nal(&mut self) {
        if let Some(start) = self.nal_start.take() {
            self.buf.truncate(start);
        }
    }

    /// Packets were lost before the next one.
    pub fn mark_loss(&mut self) {
        self.abort_nal();
        self.discont = true;
        if self.wait_for_keyframe {
            self.waiting_for_idr = true;
        }
    }

    /// The rest of the open picture will not come (its last packets are missing and the next picture has
    /// begun): emit what there is now rather than when the next picture's packets are let through.
    pub fn finish_early(&mut self) {
        if self.has_vcl {
            self.abort_nal();
            self.discont = true;
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
        self.idr = false;
        self.has_sps = false;
        self.has_pps = false;
        self.nal_start = None;
    }

    fn finish(&mut self) {
        let Some(ts) = self.ts else {
            return;
        };
        if !self.has_vcl {
            return;
        }
        if self.waiting_for_idr && !self.idr {
            self.stats.dropped_waiting += 1;
            self.discont = true;
            self.reset_au();
            return;
        }
        self.waiting_for_idr = false;
        let mut data = std::mem::replace(&mut self.buf, Vec::with_capacity(self.capacity_hint));
        // Sized for a typical access unit, so most never reallocate while being filled. One huge
        // access unit counts as at most twice the current hint, so it cannot inflate every later one.
        let sample = (data.len() * 5 / 4).min(self.capacity_hint * 2);
        self.capacity_hint =
            ((self.capacity_hint * 7 + sample) / 8).clamp(MIN_CAPACITY, MAX_CAPACITY);
        let lacks_sps = !self.has_sps && !self.sps.is_empty();
        let lacks_pps = !self.has_pps && !self.pps.is_empty();
        if self.idr && (lacks_sps || lacks_pps) {
            data = self.with_parameter_sets(data);
        }
        self.stats.access_units += 1;
        if self.idr {
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
            idr: self.idr,
            discont: std::mem::take(&mut self.discont),
        });
        self.reset_au();
    }

    /// Puts the missing parameter sets in: both after a leading AUD (else first); a lone missing PPS
    /// right before the first slice, so that it follows the SPS it refers to.
    fn with_parameter_sets(&self, au: Vec<u8>) -> Vec<u8> {
        let nal_starts = || {
            au.windows(5)
                .enumerate()
                .filter(|(_, w)| w[..4] == START_CODE)
                .map(|(i, w)| (i, w[4] & 0x1f))
        };
        let at = if self.has_sps {
            nal_starts()
                .find(|&(_, t)| (NAL_SLICE..=NAL_IDR).contains(&t))
                .map_or(0, |(i, _)| i)
        } else {
            match nal_starts().next() {
                Some((0, NAL_AUD)) => nal_starts().nth(1).map_or(au.len(), |(i, _)| i),
                _ => 0,
            }
        };
        let mut out = Vec::with_capacity(au.len() + self.sps.len() + self.pps.len() + 8);
        out.extend_from_slice(&au[..at]);
        for (ps, present) in [(&self.sps, self.has_sps), (&self.pps, self.has_pps)] {
            if !present && !ps.is_empty() {
                out.extend_from_slice(&START_CODE);
                out.extend_from_slice(ps);
            }
        }
        out.extend_from_slice(&au[at..]);
        out
    }
}

fn store(slot: &mut Vec<u8>, nal: &[u8], generation: &mut u32) {
    if slot != nal {
        slot.clear();
        slot.extend_from_slice(nal);
        *generation = generation.wrapping_add(1);
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    fn nal(b: &mut AuBuilder, ts: u64, bytes: &[u8]) {
        b.begin_nal(ts, bytes[0]);
        b.extend(&bytes[1..]);
        b.end_nal();
    }

    /// Annex-B with 4-byte start codes, as the builder writes it.
    pub fn annexb(nals: &[&[u8]]) -> Vec<u8> {
        nals.iter()
            .flat_map(|n| [&START_CODE[..], n].concat())
            .collect()
    }

    const SPS: &[u8] = &[0x67, 0x42, 0xc0, 0x1e];
    const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];

    #[test]
    fn the_ready_queue_and_capacity_are_bounded() {
        let mut b = AuBuilder::new(false);
        nal(&mut b, 0, &[0x65, 1]);
        b.marker();
        // A flood of one-slice pictures that nobody takes: the oldest go, with DISCONT.
        for ts in 1..1000u64 {
            nal(&mut b, ts * 3000, &[0x41, 1]);
            b.marker();
        }
        assert_eq!(b.ready.len(), MAX_READY);
        assert!(b.pop().unwrap().discont);
        // One 8 MiB picture does not make every later buffer start at megabytes.
        let hint = b.capacity_hint;
        nal(&mut b, 4_000_000, &[0x41; MAX_NAL_BYTES]);
        b.marker();
        assert!(
            b.capacity_hint <= hint * 2,
            "{} → {}",
            hint,
            b.capacity_hint
        );
    }

    #[test]
    fn waits_for_idr_then_inserts_parameter_sets() {
        let mut b = AuBuilder::new(false);
        b.set_parameter_set(SPS);
        b.set_parameter_set(PPS);
        nal(&mut b, 0, &[0x41, 1]);
        b.marker();
        assert_eq!(b.pop(), None, "a P frame first is dropped");
        nal(&mut b, 3000, &[0x65, 2]);
        b.marker();
        let au = b.pop().unwrap();
        assert!(au.idr && au.discont);
        assert_eq!(au.data, annexb(&[SPS, PPS, &[0x65, 2]]));
        nal(&mut b, 6000, &[0x41, 3]);
        b.marker();
        let au = b.pop().unwrap();
        assert!(!au.idr && !au.discont);
        assert_eq!(au.rtp_ts, 6000);
    }

    #[test]
    fn parameter_sets_with_marker_and_old_timestamp_join_the_idr() {
        // Reolink RLC-822A: SPS (M=1) and PPS at the previous timestamp, IDR at the next.
        let mut b = AuBuilder::new(false);
        nal(&mut b, 0, SPS);
        b.marker();
        nal(&mut b, 0, PPS);
        b.marker();
        nal(&mut b, 0, &[0x06, 5, 0x80]);
        b.marker();
        assert_eq!(b.pop(), None);
        nal(&mut b, 3000, &[0x65, 9]);
        b.marker();
        let au = b.pop().unwrap();
        assert_eq!(au.rtp_ts, 3000);
        assert_eq!(
            au.data,
            annexb(&[SPS, PPS, &[0x06, 5, 0x80], &[0x65, 9]]),
            "no extra SPS/PPS when the AU has them"
        );
    }

    #[test]
    fn multi_slice_and_timestamp_change_without_marker() {
        let mut b = AuBuilder::new(false);
        nal(&mut b, 0, &[0x65, 1]);
        nal(&mut b, 0, &[0x65, 2]);
        nal(&mut b, 3000, &[0x41, 3]); // no marker on the IDR: the timestamp ends it
        let au = b.pop().unwrap();
        assert_eq!(au.data, annexb(&[&[0x65, 1], &[0x65, 2]]));
        assert!(!b.ended_by_marker());
        b.marker();
        assert_eq!(b.pop().unwrap().rtp_ts, 3000);
        assert!(b.ended_by_marker());
        nal(&mut b, 6000, &[0x41, 4]);
        nal(&mut b, 9000, &[0x41, 5]);
        assert!(
            !b.ended_by_marker(),
            "a camera that stops setting the marker is noticed"
        );
    }

    #[test]
    fn aud_starts_a_new_au_and_parameter_sets_go_after_it() {
        let mut b = AuBuilder::new(false);
        b.set_parameter_set(SPS);
        b.set_parameter_set(PPS);
        nal(&mut b, 0, &[0x09, 0x10]);
        nal(&mut b, 0, &[0x65, 1]);
        nal(&mut b, 0, &[0x09, 0x30]);
        let au = b.pop().unwrap();
        assert_eq!(au.data, annexb(&[&[0x09, 0x10], SPS, PPS, &[0x65, 1]]));
    }

    #[test]
    fn trailing_zeros_stripped_and_loss_marks_discont() {
        let mut b = AuBuilder::new(false);
        nal(&mut b, 0, &[0x65, 1, 0, 0, 0]);
        b.marker();
        assert_eq!(b.pop().unwrap().data, annexb(&[&[0x65, 1]]));
        b.begin_nal(3000, 0x41);
        b.extend(&[7, 7]);
        b.mark_loss();
        nal(&mut b, 3000, &[0x41, 8]);
        b.marker();
        let au = b.pop().unwrap();
        assert!(au.discont);
        assert_eq!(au.data, annexb(&[&[0x41, 8]]), "broken NAL dropped");
    }

    #[test]
    fn wait_for_keyframe_after_loss() {
        let mut b = AuBuilder::new(true);
        nal(&mut b, 0, &[0x65, 1]);
        b.marker();
        b.pop().unwrap();
        b.mark_loss();
        nal(&mut b, 3000, &[0x41, 2]);
        b.marker();
        assert_eq!(b.pop(), None);
        assert_eq!(b.stats.dropped_waiting, 1);
        nal(&mut b, 6000, &[0x65, 3]);
        b.marker();
        let au = b.pop().unwrap();
        assert!(au.idr && au.discont);
    }

    #[test]
    fn oversize_nal_is_dropped() {
        let mut b = AuBuilder::new(false);
        b.begin_nal(0, 0x65);
        let chunk = vec![1u8; 1 << 20];
        for _ in 0..5 {
            b.extend(&chunk);
        }
        assert!(!b.nal_open());
        assert_eq!(b.stats.dropped_oversize, 1);
        nal(&mut b, 0, &[0x65, 1]);
        b.marker();
        assert!(b.pop().unwrap().discont);
    }

    #[test]
    fn repeated_parameter_sets_between_slices() {
        // rtph264pay config-interval=-1 with a two-slice IDR: SPS PPS IDR SPS PPS IDR, one timestamp.
        let mut b = AuBuilder::new(false);
        for n in [SPS, PPS, &[0x65, 1], SPS, PPS, &[0x65, 2]] {
            nal(&mut b, 0, n);
        }
        b.marker();
        assert_eq!(
            b.pop().unwrap().data,
            annexb(&[SPS, PPS, &[0x65, 1], &[0x65, 2]])
        );
        // A different SPS after a slice opens the next access unit.
        nal(&mut b, 3000, &[0x41, 3]);
        nal(&mut b, 3000, &[0x67, 0x64, 0, 0x1f]);
        nal(&mut b, 3000, &[0x65, 4]);
        b.marker();
        assert_eq!(b.pop().unwrap().data, annexb(&[&[0x41, 3]]));
        assert_eq!(
            b.pop().unwrap().data,
            annexb(&[&[0x67, 0x64, 0, 0x1f], PPS, &[0x65, 4]])
        );
    }

    #[test]
    fn annexb_inside_a_nal_is_split() {
        // V380 Pro: one NAL (FU type SPS) holding SPS‖00000001‖PPS‖000001‖IDR, then trailing junk start code.
        let mut b = AuBuilder::new(false);
        b.begin_nal(0, 0x67);
        b.extend(&[0x42, 0xc0, 0x1e, 0, 0]);
        b.extend(&[0, 1, 0x68, 0xce, 0x3c, 0x80, 0, 0, 1]); // start code split across two "fragments"
        b.extend(&[0x65, 7, 7, 0, 0, 1]);
        b.end_nal();
        b.marker();
        let au = b.pop().unwrap();
        assert!(au.idr);
        assert_eq!(au.data, annexb(&[SPS, PPS, &[0x65, 7, 7]]));
        // A slice is taken as it is (only parameter-set blobs are searched).
        b.begin_nal(3000, 0x41);
        b.extend(&[9, 0, 0, 1, 0x41, 8]);
        b.end_nal();
        b.marker();
        assert_eq!(
            b.pop().unwrap().data,
            annexb(&[&[0x41, 9, 0, 0, 1, 0x41, 8]])
        );
        assert_eq!(b.sps().0, SPS);
    }

    #[test]
    fn sps_generation_changes_only_on_new_bytes() {
        let mut b = AuBuilder::new(false);
        b.set_parameter_set(SPS);
        let g = b.sps().1;
        nal(&mut b, 0, SPS);
        assert_eq!(b.sps().1, g);
        nal(&mut b, 0, &[0x67, 0x64, 0, 0x1f]);
        assert_ne!(b.sps().1, g);
    }
}

//! One inbound RTP stream, sans-IO, whatever its codec: drops strangers' packets (other SSRC or payload type), keeps
//! reception statistics for RTCP, puts packets back in order and feeds the depacketizer. The same path
//! serves UDP datagrams and TCP-interleaved frames.

use super::codec::Codec;
pub use super::inbound_stats::InboundStats;
use super::spec::StreamSpec;
use crate::au::AccessUnit;
use crate::au::Depacketize;
use crate::rtp::keyframe_request::{KeyframeFeedback, KeyframeRequests, FEEDBACK_MAX};
use crate::rtp::packet::{seq_delta, RtpPacket};
use crate::rtp::reorder::{ReorderWindow, Verdict};
use crate::rtp::rtcp::{
    find_dlrr_for, find_sender_report, has_bye_for, write_rrtr, ReceptionStats, SenderReport,
    REPORT_LEN, RRTR_LEN,
};
use crate::rtp::wall_clock::{WallClock, WallClockStats};
use ssrc_choice::SsrcChoice;
use std::time::{Duration, Instant};

mod ssrc_choice;

#[derive(Debug)]
pub struct Inbound {
    payload_type: Option<u8>,
    clock_rate: u32,
    /// Which SSRC is ours; strangers' packets are dropped.
    ssrc: SsrcChoice,
    reorder: ReorderWindow,
    pub depay: Box<dyn Depacketize>,
    reception: ReceptionStats,
    wall_clock: WallClock,
    keyframes: KeyframeRequests,
    /// From the camera's DLRR replies to our reference times.
    round_trip: Option<Duration>,
    last_ext_seq: Option<u32>,
    epoch: Instant,
    last_packet: Option<Instant>,
    /// The latest sender report of an SSRC not (yet) ours, and when it came.
    stranger_report: Option<(SenderReport, Instant)>,
    /// When the last packet went to the depacketizer.
    last_push: Option<Instant>,
    /// Open picture waiting for its missing tail: until when, and the next picture's RTP timestamp.
    tail_wait: Option<(Instant, u32)>,
    /// Said once that the reorder window has no memory (`ReorderWindow::out_of_memory`).
    warned_no_memory: bool,
    /// A packet far from the sequence, held until the next one says whether the sender restarted
    /// (empty when none is held; the buffer is kept for the next one).
    jump: Option<Vec<u8>>,
    pub stats: InboundStats,
    log: crate::log::Log,
    wait_for_keyframe: bool,
    /// ONVIF replay: the low bytes of the CSeqs of the PLAY whose packets are wanted and of the one
    /// before it; a packet whose replay extension names the one before is stale (`restart_replay`).
    replay_cseq: Option<u8>,
    stale_cseq: Option<u8>,
    /// The RTP time of a packet whose replay extension ended a section (E): the next picture follows
    /// a hole in the recording.
    section_end: Option<u32>,
}

/// The longest compound RTCP packet sent: a receiver report, our reference time, a keyframe request.
pub const RTCP_MAX: usize = REPORT_LEN + RRTR_LEN + FEEDBACK_MAX;
/// The header extension profile of the ONVIF replay extension (NTP time per access unit).
const ONVIF_REPLAY: u16 = 0xabac;

impl Inbound {
    pub fn new(latency: Duration, wait_for_keyframe: bool) -> Self {
        Inbound {
            payload_type: None,
            clock_rate: 90_000,
            ssrc: SsrcChoice::new(90_000),
            reorder: ReorderWindow::new(latency),
            depay: Box::new(crate::h264::depacketizer::depacketizer(wait_for_keyframe)),
            reception: ReceptionStats::default(),
            wall_clock: WallClock::new(90_000),
            keyframes: KeyframeRequests::default(),
            round_trip: None,
            last_ext_seq: None,
            epoch: Instant::now(),
            last_packet: None,
            stranger_report: None,
            last_push: None,
            tail_wait: None,
            warned_no_memory: false,
            jump: None,
            stats: InboundStats::default(),
            log: Default::default(),
            wait_for_keyframe,
            replay_cseq: None,
            stale_cseq: None,
            section_end: None,
        }
    }

    /// A replay's new PLAY (ONVIF Streaming §6): what is held or half-assembled belongs to the old
    /// position and is dropped; RTP times and sequence numbers may start over; of the packets still
    /// to come, those naming the previous PLAY's CSeq (low byte) in their replay extension are
    /// dropped. Only those: gst-rtsp-server (rtponviftimestamp) writes 0 whatever the PLAY's CSeq, and
    /// its packets must not be taken for another PLAY's.
    pub fn restart_replay(&mut self, play_cseq: u8) {
        self.reorder.reset();
        self.last_ext_seq = None;
        self.jump = None;
        self.tail_wait = None;
        self.section_end = None;
        self.wall_clock.reset();
        self.depay.reset_timeline();
        self.stale_cseq = self.replay_cseq.replace(play_cseq);
    }

    /// From the SDP: packets of other payload types are dropped until this is set.
    pub fn set_format(&mut self, payload_type: u8, clock_rate: u32) {
        self.payload_type = Some(payload_type);
        self.clock_rate = clock_rate;
        self.ssrc.set_clock_rate(clock_rate);
        self.wall_clock.set_clock_rate(clock_rate);
    }

    /// The stream DESCRIBE chose (before any packet): its codec's depacketizer replaces the H.264
    /// default, and its payload type and clock rate are what packets must have.
    pub fn set_stream(&mut self, spec: &StreamSpec) {
        self.depay = Codec::depacketizer(spec, self.wait_for_keyframe);
        self.depay.set_log(self.log.clone());
        self.set_format(spec.payload_type, spec.clock_rate);
    }

    /// The depacketizer of video `codec` (`don`: H.265 with decoding order numbers) replaces the
    /// current one.
    pub fn set_codec(&mut self, codec: Codec, don: bool) {
        self.depay = codec.video_depacketizer(don, self.wait_for_keyframe);
        self.depay.set_log(self.log.clone());
    }

    /// Logs as this element from now on.
    pub fn set_log(&mut self, log: crate::log::Log) {
        self.log = log.clone();
        self.depay.set_log(log);
    }

    /// From SETUP's or RTP-Info's `ssrc=`; otherwise the first packet decides.
    pub fn set_ssrc(&mut self, ssrc: Option<u32>) {
        self.ssrc.announce(ssrc);
    }

    /// RTP-Info's `seq` and `rtptime`: a stranger that disagrees with them is not this stream.
    pub fn set_rtp_info(&mut self, seq: Option<u16>, rtptime: Option<u32>) {
        self.ssrc.set_rtp_info(seq, rtptime);
    }

    /// All counters of this stream, the depacketizer's included.
    pub fn snapshot(&self) -> InboundStats {
        let (depay, au) = self.depay.stats();
        InboundStats {
            malformed: self.stats.malformed + depay.malformed,
            nals_dropped: depay.nals_dropped,
            access_units_dropped: au.dropped_waiting + au.dropped_oversize,
            sender_reports: self.wall_clock.stats.sender_reports,
            ntp_jumps: self.wall_clock.stats.jumps,
            ..self.stats.clone()
        }
    }

    /// The camera's NTP time (ns since 1900) of the access unit at `rtp_ts`, once a sender report or
    /// the ONVIF extension gave one.
    pub fn ntp_of(&self, rtp_ts: u64) -> Option<u64> {
        self.wall_clock.ntp_of(rtp_ts as u32)
    }

    pub fn wall_clock_stats(&self) -> &WallClockStats {
        &self.wall_clock.stats
    }

    pub fn ssrc(&self) -> Option<u32> {
        self.ssrc.ours()
    }

    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    /// When the last packet of ours arrived.
    pub fn last_packet(&self) -> Option<Instant> {
        self.last_packet
    }

    pub fn deadline(&self) -> Option<Instant> {
        let tail = self.tail_wait.map(|(t, _)| t);
        [self.reorder.deadline(), tail, self.keyframes.deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// How to ask this camera for a keyframe, from the SDP.
    pub fn set_keyframe_feedback(&mut self, kind: Option<KeyframeFeedback>) {
        self.keyframes.set_kind(kind);
    }

    /// Asks the camera for a keyframe with the next RTCP packet (at most one a second).
    pub fn request_keyframe(&mut self) {
        if !self.keyframes.want() {
            crate::log!(
                self.log,
                Debug,
                "keyframe wanted, but the camera's SDP offers no way to ask (no rtcp-fb nack pli or ccm fir)"
            );
        }
    }

    /// Whether a keyframe request is waiting to go out now.
    pub fn keyframe_request_due(&self, now: Instant) -> bool {
        self.keyframes.is_due(now)
    }

    /// Packets were lost: with wait-for-keyframe the picture is gone until the next keyframe, so ask for
    /// one.
    fn on_loss(&mut self) {
        if self.wait_for_keyframe {
            self.request_keyframe();
        }
    }

    pub fn pop(&mut self) -> Option<AccessUnit> {
        self.depay.pop()
    }

    /// Packets are held behind a missing one, or a picture waits for its missing tail.
    pub fn waiting_on_gap(&self) -> bool {
        !self.reorder.is_empty() || self.tail_wait.is_some()
    }

    /// Counts a datagram too large to be RTP from a camera.
    pub fn oversized(&mut self) {
        crate::log!(self.log, Debug, "dropping an oversized datagram");
        self.stats.malformed += 1;
    }

    /// Counts a packet that came from an address other than the camera's.
    pub fn foreign_source(&mut self) {
        self.stats.foreign_source += 1;
    }

    pub fn on_packet(&mut self, buf: &[u8], now: Instant) {
        self.on_packet_received(buf, now, now);
    }

    /// A packet read `now` that the kernel received at `received` (UDP's receive time: the
    /// reception statistics' interarrival jitter is the network's, not the reads'; a batch read after
    /// the loop was busy would otherwise show as jitter). The rest goes by `now`.
    pub fn on_packet_received(&mut self, buf: &[u8], now: Instant, received: Instant) {
        let Some(pt) = self.payload_type else {
            return;
        };
        let pkt = match RtpPacket::parse(buf) {
            Ok(p) => p,
            Err(e) => {
                crate::log!(self.log, Debug, "dropping malformed RTP packet: {}", e);
                self.stats.malformed += 1;
                return;
            }
        };
        // Geovision repeats the IDR's last packet with payload type 50.
        if pkt.payload_type != pt {
            self.stats.foreign_payload_type += 1;
            return;
        }
        match self.ssrc.judge(pkt.ssrc, pkt.sequence, pkt.timestamp, now) {
            ssrc_choice::Verdict::Ours if self.last_packet.is_none() => {
                self.adopt_stranger_report(pkt.ssrc)
            }
            ssrc_choice::Verdict::Ours => {}
            ssrc_choice::Verdict::Switched { continues } => {
                self.follow_new_ssrc(pkt.ssrc, continues, now)
            }
            // Stale sessions on reused ports, cameras replaying an old session.
            ssrc_choice::Verdict::Stranger => {
                self.stats.foreign_ssrc += 1;
                return;
            }
        }
        self.last_packet = Some(now);
        self.stats.packets += 1;
        // ONVIF replay extension (ONVIF Streaming Spec §6.3): the access unit's NTP time.
        if let Some((ONVIF_REPLAY, ext)) = pkt.extension {
            if !self.on_replay_extension(ext, pkt.timestamp) {
                self.stats.replay_stale += 1;
                return;
            }
        }
        self.stats.bytes += buf.len() as u64;
        let ext_seq = match self.last_ext_seq {
            None => u32::from(pkt.sequence),
            Some(last) => last.wrapping_add_signed(i32::from(seq_delta(last as u16, pkt.sequence))),
        };
        if self.last_ext_seq.is_none_or(|l| ext_seq > l) {
            self.last_ext_seq = Some(ext_seq);
        }
        self.reception
            .on_packet(ext_seq, pkt.timestamp, self.rtp_time(received));

        self.order(&pkt, buf, now);
        if !self.reorder.is_empty() {
            self.release(now, false);
        }
    }

    /// The ONVIF replay extension (ONVIF Streaming §6.3): the access unit's NTP time, then the flags
    /// byte (C clean point, E end of a contiguous section, D discontinuity) and the low byte of the
    /// CSeq of the PLAY that sent it. `false`: the previous PLAY's packet, to drop. A D, or the first
    /// picture after an E, starts a new section: the depacketizer marks it DISCONT. Applied on
    /// arrival, which is the packets' order: replay is interleaved on TCP.
    fn on_replay_extension(&mut self, ext: &[u8], rtp_ts: u32) -> bool {
        if let (Some(stale), Some(&cseq)) = (self.stale_cseq, ext.get(9)) {
            if cseq == stale && self.replay_cseq != Some(stale) {
                return false;
            }
        }
        if let Some(ntp) = ext.get(..8) {
            let ntp = u64::from_be_bytes(ntp.try_into().expect("8 bytes"));
            self.wall_clock.on_exact(rtp_ts, ntp);
        }
        let flags = ext.get(8).copied().unwrap_or(0);
        let after_end = self.section_end.is_some_and(|ts| ts != rtp_ts);
        if flags & 0x20 != 0 || after_end {
            self.section_end = None;
            self.depay.lose();
        }
        if flags & 0x40 != 0 {
            self.section_end = Some(rtp_ts);
        }
        true
    }

    /// Puts a packet of ours through the reorder window into the depacketizer.
    fn order(&mut self, pkt: &RtpPacket<'_>, buf: &[u8], now: Instant) {
        let waiting = !self.reorder.is_empty();
        let mut verdict = self.reorder.push(pkt.sequence, buf, now);
        if verdict == Verdict::Jump {
            // A packet far from the stream's sequence is stale (a late straggler, a replay) unless the
            // next one follows it: only then did the sender restart its sequence numbers.
            let confirmed = self.jump.as_ref().is_some_and(|j| {
                j.len() >= 4 && u16::from_be_bytes([j[2], j[3]]).wrapping_add(1) == pkt.sequence
            });
            if !confirmed {
                let held = self
                    .jump
                    .get_or_insert_with(|| Vec::with_capacity(buf.len()));
                held.clear();
                held.extend_from_slice(buf);
                self.stats.late += 1;
                return;
            }
            self.stats.late = self.stats.late.saturating_sub(1);
            self.release(now, true);
            self.reorder.reset();
            self.depay.lose();
            if let Some(held) = self.jump.take() {
                if let Ok(first) = RtpPacket::parse(&held) {
                    self.order(&first, &held, now);
                }
                self.jump = Some(held);
            }
            verdict = self.reorder.push(pkt.sequence, buf, now);
        }
        if let Some(j) = self.jump.as_mut() {
            j.clear();
        }
        if verdict == Verdict::Overflow {
            if self.reorder.out_of_memory() && !self.warned_no_memory {
                self.warned_no_memory = true;
                crate::log!(
                    self.log,
                    Warning,
                    "no memory for the reorder window: packets out of order count as lost"
                );
            }
            // The window is full: release what is held, then start over from here.
            self.release(now, true);
            self.reorder.reset();
            self.depay.lose();
            verdict = self.reorder.push(pkt.sequence, buf, now);
        }
        match verdict {
            Verdict::Now { lost } => {
                self.tail_wait = None;
                self.last_push = Some(now);
                // Filling the gap the window was waiting on: this one came out of order.
                if waiting && lost == 0 {
                    self.stats.reordered += 1;
                }
                self.stats.lost += u64::from(lost);
                if lost > 0 {
                    self.on_loss();
                }
                self.depay.push(pkt, lost > 0);
            }
            // Waiting behind a gap with the next picture's packet in hand: what is missing includes the
            // open picture's last packet. Give it the window from when the picture's last packet came,
            // not from now, so that a lost marker costs no frame interval on top of the window.
            Verdict::Buffered => {
                if self.tail_wait.is_none() && self.depay.open_picture().is_some() {
                    let since = self.last_push.unwrap_or(now);
                    self.tail_wait = Some((since + self.reorder.window(), pkt.timestamp));
                }
            }
            Verdict::Duplicate => self.stats.duplicates += 1,
            Verdict::Late | Verdict::Overflow | Verdict::Jump => self.stats.late += 1,
        }
    }

    /// `now` in RTP clock units since the epoch, modulo 2^32 (for interarrival jitter). In u64: the
    /// seconds part cannot overflow, and it runs once per packet.
    fn rtp_time(&self, now: Instant) -> u32 {
        let d = now.duration_since(self.epoch);
        let rate = u64::from(self.clock_rate);
        let ticks =
            d.as_secs().wrapping_mul(rate) + u64::from(d.subsec_micros()) * rate / 1_000_000;
        ticks as u32
    }

    /// `ssrc` is ours from now on. `continues`: its sequence and timestamps go on from the old one's
    /// (Uniview's new SSRC per GOP), so the packets keep their order and the timeline its course.
    fn follow_new_ssrc(&mut self, ssrc: u32, continues: bool, now: Instant) {
        self.stats.ssrc_switches += 1;
        crate::log!(
            self.log,
            Debug,
            "following new SSRC {:08x}{}",
            ssrc,
            if continues {
                ", which continues the old one's sequence"
            } else {
                ""
            }
        );
        if continues {
            self.adopt_stranger_report(ssrc);
            return;
        }
        self.release(now, true);
        self.reorder.reset();
        self.last_ext_seq = None;
        self.reception = ReceptionStats::default();
        self.wall_clock.reset();
        self.adopt_stranger_report(ssrc);
        self.depay.reset_timeline();
    }

    /// Feeds the depacketizer with what the reorder window lets go.
    pub fn release(&mut self, now: Instant, force: bool) {
        if let Some((due, next_ts)) = self.tail_wait {
            if now >= due {
                self.tail_wait = None;
                self.depay.picture_tail_lost(next_ts);
            }
        }
        let mut lost_any = false;
        while let Some((bytes, lost)) = self.reorder.pop(now, force) {
            self.tail_wait = None;
            self.last_push = Some(now);
            self.stats.lost += u64::from(lost);
            lost_any |= lost > 0;
            // Stored packets were parsed once already, so this cannot fail.
            if let Ok(pkt) = RtpPacket::parse(bytes) {
                self.depay.push(&pkt, lost > 0);
            }
        }
        if lost_any {
            self.on_loss();
        }
    }

    /// The round-trip time to the camera, once it answered our reference time (RFC 3611 DLRR).
    pub fn round_trip(&self) -> Option<Duration> {
        self.round_trip
    }

    /// Our clock in NTP format for reference times: time since the epoch (only differences matter).
    fn ntp_now(&self, now: Instant) -> u64 {
        let d = now.duration_since(self.epoch);
        (d.as_secs() << 32) | ((u64::from(d.subsec_nanos()) << 32) / 1_000_000_000)
    }

    /// Takes an RTCP packet from the camera (we send as `our_ssrc`); returns true when it is a BYE for
    /// our source.
    pub fn on_rtcp(&mut self, buf: &[u8], our_ssrc: u32, now: Instant) -> bool {
        if let Some((lrr, dlrr)) = find_dlrr_for(buf, our_ssrc).filter(|&(lrr, _)| lrr != 0) {
            let middle = (self.ntp_now(now) >> 16) as u32;
            let rtt = middle.wrapping_sub(lrr).wrapping_sub(dlrr);
            // Negative (a camera's DLRR larger than the time since): not a measurement.
            if rtt < 1 << 31 {
                self.round_trip =
                    Some(Duration::from_nanos((u64::from(rtt) * 1_000_000_000) >> 16));
            }
        }
        let sr = find_sender_report(buf);
        let Some(ours) = self.ssrc.ours() else {
            // A report sent with (or before) the first packet, which may come after it.
            if let Some(sr) = sr {
                self.stranger_report = Some((sr, now));
            }
            return false;
        };
        match sr {
            Some(sr) if sr.ssrc == ours => self.apply_report(&sr, now),
            // Tapo C320WS sends reports for a foreign SSRC; a camera switching SSRC may report the
            // new one before its packets: kept in case it becomes ours.
            Some(sr) => self.stranger_report = Some((sr, now)),
            None => {}
        }
        has_bye_for(buf, ours)
    }

    fn apply_report(&mut self, sr: &SenderReport, now: Instant) {
        let us = now.duration_since(self.epoch).as_micros() as u64;
        self.reception.on_sender_report(sr.ntp_middle(), us);
        if self.wall_clock.on_sender_report(sr.rtp, sr.ntp) {
            crate::log!(
                self.log,
                Info,
                "the camera's clock jumped: new NTP mapping from RTP time {}",
                sr.rtp
            );
        }
    }

    /// `ssrc` became the stream's: the report it sent before its packets counts.
    fn adopt_stranger_report(&mut self, ssrc: u32) {
        if let Some((sr, at)) = self
            .stranger_report
            .take()
            .filter(|(sr, _)| sr.ssrc == ssrc)
        {
            self.apply_report(&sr, at);
        }
    }

    /// A receiver report about our source, once we know it, followed by a keyframe request when one is
    /// due (RFC 4585 feedback goes in a compound packet after the report).
    pub fn receiver_report(
        &mut self,
        our_ssrc: u32,
        now: Instant,
        out: &mut [u8; RTCP_MAX],
    ) -> Option<usize> {
        let ssrc = self.ssrc.ours()?;
        let us = now.duration_since(self.epoch).as_micros() as u64;
        let (report, feedback) = out.split_at_mut(REPORT_LEN);
        let report: &mut [u8; REPORT_LEN] = report.try_into().expect("REPORT_LEN bytes");
        let mut n = self
            .reception
            .write_receiver_report(our_ssrc, ssrc, us, report);
        let (rrtr, feedback) = feedback.split_at_mut(RRTR_LEN);
        let rrtr: &mut [u8; RRTR_LEN] = rrtr.try_into().expect("RRTR_LEN bytes");
        write_rrtr(our_ssrc, self.ntp_now(now).max(1), rrtr);
        n += RRTR_LEN;
        if let Some(kind) = self.keyframes.due(now) {
            let feedback: &mut [u8; FEEDBACK_MAX] =
                feedback.try_into().expect("FEEDBACK_MAX bytes");
            n += self.keyframes.write(kind, our_ssrc, ssrc, feedback);
            self.stats.keyframe_requests += 1;
            crate::log!(
                self.log,
                Debug,
                "asking the camera for a keyframe ({:?})",
                kind
            );
        }
        Some(n)
    }
}

#[cfg(test)]
mod tests;

//! Audio formats whose RTP packets each carry one frame, the payload as it is: G.711 PCMU and PCMA and
//! L16 (RFC 3551), G.722 (RFC 3551: an RTP clock of 8000 for 16 kHz audio), Opus (RFC 7587). What
//! differs is how long a payload lasts.

use super::frames::{AudioFrames, AudioPayload};
use crate::rtp::packet::RtpPacket;

/// How a payload's length (or first byte) says how long it lasts, in RTP clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duration {
    /// Samples of a fixed size: this many bytes per RTP clock tick (all channels).
    BytesPerTick(u32),
    /// Opus: from the packet's TOC byte (RFC 6716 §3.1), in 48 kHz ticks.
    OpusToc,
}

#[derive(Debug)]
pub struct PacketFrames {
    duration: Duration,
}

impl PacketFrames {
    pub fn new(duration: Duration) -> Self {
        PacketFrames { duration }
    }
}

impl AudioPayload for PacketFrames {
    fn packet(&mut self, frames: &mut AudioFrames, pkt: &RtpPacket<'_>, _lost_before: bool) {
        if pkt.payload.is_empty() {
            // Comfort noise or padding only: nothing to play.
            return;
        }
        let ts = frames.extend(pkt.timestamp);
        let duration = match self.duration {
            Duration::BytesPerTick(n) => Some(pkt.payload.len() as u64 / u64::from(n.max(1))),
            Duration::OpusToc => opus_ticks(pkt.payload),
        };
        frames.push(ts, pkt.payload, duration);
    }
}

/// An Opus packet's duration in 48 kHz ticks from its TOC byte (RFC 6716 §3.1): the configuration's
/// frame size times the frame count. `None` for a code 3 packet without its count byte.
pub fn opus_ticks(packet: &[u8]) -> Option<u64> {
    let toc = *packet.first()?;
    let config = toc >> 3;
    // Frame sizes in 48 kHz ticks: SILK 10/20/40/60 ms, hybrid 10/20 ms, CELT 2.5/5/10/20 ms.
    let frame: u64 = match config {
        0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)],
        12..=15 => [480, 960][usize::from(config % 2)],
        _ => [120, 240, 480, 960][usize::from(config % 4)],
    };
    let count = match toc & 3 {
        0 => 1,
        1 | 2 => 2,
        _ => u64::from(packet.get(1)? & 0x3f),
    };
    Some(frame * count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::au::Depacketize;
    use crate::audio::frames::AudioDepay;

    fn packet(seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p[4..8].copy_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn g711_frame_per_packet_with_duration_and_discont_after_loss() {
        let mut d = AudioDepay::new(PacketFrames::new(Duration::BytesPerTick(1)));
        let a = packet(1, 1000, &[0xd5; 160]);
        d.push(&RtpPacket::parse(&a).unwrap(), false);
        let f = d.pop().unwrap();
        assert_eq!(
            (f.data.len(), f.duration, f.keyframe, f.discont),
            (160, Some(160), true, false)
        );
        let b = packet(3, 1320, &[0xd5; 160]);
        d.push(&RtpPacket::parse(&b).unwrap(), true);
        let f = d.pop().unwrap();
        assert!(f.discont, "a loss before it");
        assert_eq!(f.rtp_ts - (1 << 32), 1320);
        // An empty payload is no frame.
        d.push(&RtpPacket::parse(&packet(4, 1480, &[])).unwrap(), false);
        assert!(d.pop().is_none());
    }

    #[test]
    fn l16_stereo_duration() {
        let mut d = AudioDepay::new(PacketFrames::new(Duration::BytesPerTick(4)));
        d.push(
            &RtpPacket::parse(&packet(1, 0, &[0; 441 * 4])).unwrap(),
            false,
        );
        assert_eq!(d.pop().unwrap().duration, Some(441));
    }

    #[test]
    fn opus_durations_from_the_toc() {
        assert_eq!(
            opus_ticks(&[0xfc, 0, 0]),
            Some(960),
            "CELT FB 20 ms, one frame"
        );
        assert_eq!(opus_ticks(&[0x18, 0]), Some(2880), "SILK 60 ms");
        assert_eq!(
            opus_ticks(&[0xf1, 0]),
            Some(960),
            "CELT 10 ms, two frames of code 1"
        );
        assert_eq!(
            opus_ticks(&[0xfb, 0x03]),
            Some(2880),
            "code 3, three frames"
        );
        assert_eq!(opus_ticks(&[0xfb]), None, "code 3 without its count");
        assert_eq!(opus_ticks(&[]), None);
    }
}

//! The sending side of RTP, for ONVIF's audio back channel: audio frames into RTP packets (RFC 3550
//! headers, our SSRC, sequence numbers from a random start, timestamps from the frames' running time
//! at the stream's clock rate) and the sender reports that tie those timestamps to NTP time. G.711 goes
//! as it is, split between samples; G.726 split between groups of codewords, in the media's packing;
//! AAC as RFC 3640's AAC-hbr (an AU header of a 13-bit size and a
//! 3-bit index before each access unit, one unit a packet, fragments for a larger one). Pure: the
//! session client sends what it returns.

/// Payload bytes per packet: well under a 1500-byte MTU with IP, UDP and RTP headers.
pub const MAX_PAYLOAD: usize = 1200;
const HEADER_LEN: usize = 12;

/// How frames become payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    /// Samples of this many bytes (G.711: one), split between samples.
    Samples(usize),
    /// RFC 3640 AAC-hbr: one access unit (of this many samples) a packet, behind its AU header.
    AacHbr(u32),
    /// G.726 codewords of `bits` bits (2 to 5, one a sample) as avenc_g726 packs them (AAL2, most
    /// significant bit first), split between whole groups of 8; repacked least significant bit
    /// first when the camera's media is `G726-*` (RFC 3551), as they are for `AAL2-G726-*`.
    G726 { bits: u8, rfc3551: bool },
}

#[derive(Debug)]
pub struct RtpSender {
    payload_type: u8,
    clock_rate: u32,
    packing: Packing,
    ssrc: u32,
    seq: u16,
    /// The RTP time of running time 0, random (RFC 3550 §5.1).
    ts_base: u32,
    /// The next packet's timestamp when a frame has no running time: right after the last one.
    next_ts: Option<u32>,
    /// The last packet's RTP time and running time (ns), for sender reports.
    last: Option<(u32, u64)>,
    packets: u32,
    octets: u32,
}

impl RtpSender {
    /// `seed`: random bits for the SSRC, the first sequence number and the timestamp base.
    pub fn new(payload_type: u8, clock_rate: u32, packing: Packing, seed: u64) -> Self {
        let packing = match packing {
            Packing::Samples(n) => Packing::Samples(n.max(1)),
            Packing::AacHbr(n) => Packing::AacHbr(n.max(1)),
            Packing::G726 { bits, rfc3551 } => Packing::G726 {
                bits: bits.clamp(2, 5),
                rfc3551,
            },
        };
        RtpSender {
            payload_type: payload_type & 0x7f,
            clock_rate: clock_rate.max(1),
            packing,
            ssrc: seed as u32,
            seq: (seed >> 32) as u16,
            ts_base: (seed >> 48) as u32 | ((seed as u32) << 16),
            next_ts: None,
            last: None,
            packets: 0,
            octets: 0,
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// `frame` captured at running time `running_time` (ns; `None`: right after the previous frame)
    /// as RTP packets, each passed to `out`. The marker bit: for G.711 on the first packet after a gap
    /// (RFC 3551 §4.1: the start of a talkspurt), for AAC on the packet that ends an access unit (RFC
    /// 3640 §3.2.1).
    pub fn packetize(
        &mut self,
        frame: &[u8],
        running_time: Option<u64>,
        mut out: impl FnMut(&[u8]),
    ) {
        let mut ts = match (running_time, self.next_ts) {
            (Some(rt), _) => self.ts_base.wrapping_add(
                (u128::from(rt) * u128::from(self.clock_rate) / 1_000_000_000) as u32,
            ),
            (None, Some(next)) => next,
            (None, None) => self.ts_base,
        };
        let talkspurt = self.next_ts.is_none_or(|next| next != ts);
        let mut packet = [0u8; HEADER_LEN + MAX_PAYLOAD];
        match self.packing {
            Packing::Samples(bytes) => {
                let step = MAX_PAYLOAD - MAX_PAYLOAD % bytes;
                let mut marker = talkspurt;
                for chunk in frame.chunks(step) {
                    let n = self.write(&mut packet, marker, ts, &[], chunk);
                    out(&packet[..n]);
                    ts = ts.wrapping_add((chunk.len() / bytes) as u32);
                    marker = false;
                }
            }
            Packing::G726 { bits, rfc3551 } => {
                // 8 codewords fill `bits` bytes: packets hold whole groups.
                let bits = usize::from(bits);
                let step = MAX_PAYLOAD - MAX_PAYLOAD % bits;
                let mut repacked = [0u8; MAX_PAYLOAD];
                let mut marker = talkspurt;
                for chunk in frame.chunks(step) {
                    let body = match rfc3551 {
                        true => {
                            let to = &mut repacked[..chunk.len()];
                            crate::audio::g726::repack_to_rfc3551(chunk, bits as u32, to);
                            &*to
                        }
                        false => chunk,
                    };
                    let n = self.write(&mut packet, marker, ts, &[], body);
                    out(&packet[..n]);
                    ts = ts.wrapping_add((chunk.len() * 8 / bits) as u32);
                    marker = false;
                }
            }
            Packing::AacHbr(samples) => {
                // The AU header section: its length in bits (16), then the unit's size and index 0.
                // A unit past 13 bits of size cannot be described: not sent.
                if frame.len() >= 1 << 13 {
                    return;
                }
                let size = (frame.len() as u16) << 3;
                let header = [0, 16, (size >> 8) as u8, size as u8];
                let chunks = frame.chunks(MAX_PAYLOAD - header.len());
                let count = chunks.len();
                for (i, chunk) in chunks.enumerate() {
                    // The marker on a packet that ends a unit (its last fragment).
                    let n = self.write(&mut packet, i + 1 == count, ts, &header, chunk);
                    out(&packet[..n]);
                }
                ts = ts.wrapping_add(samples);
            }
        }
        self.next_ts = Some(ts);
    }

    /// One packet into `packet`, counted: its length.
    fn write(
        &mut self,
        packet: &mut [u8],
        marker: bool,
        ts: u32,
        head: &[u8],
        body: &[u8],
    ) -> usize {
        packet[0] = 0x80;
        packet[1] = self.payload_type | if marker { 0x80 } else { 0 };
        packet[2..4].copy_from_slice(&self.seq.to_be_bytes());
        packet[4..8].copy_from_slice(&ts.to_be_bytes());
        packet[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        let payload = head.len() + body.len();
        packet[HEADER_LEN..HEADER_LEN + head.len()].copy_from_slice(head);
        packet[HEADER_LEN + head.len()..HEADER_LEN + payload].copy_from_slice(body);
        let rt =
            u64::from(ts.wrapping_sub(self.ts_base)) * 1_000_000_000 / u64::from(self.clock_rate);
        self.last = Some((ts, rt));
        self.seq = self.seq.wrapping_add(1);
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload as u32);
        HEADER_LEN + payload
    }

    /// Counts an RTP packet the application made itself (`push-backchannel-sample`) for the reports.
    pub fn count_sent(&mut self, packet: &[u8]) {
        self.packets = self.packets.wrapping_add(1);
        let payload = packet.len().saturating_sub(HEADER_LEN);
        self.octets = self.octets.wrapping_add(payload as u32);
    }

    /// A sender report (RFC 3550 §6.4.1) for now: `running_time` (ns) is the pipeline's running time
    /// now and `ntp` the wall-clock time (NTP 32.32); `None` before the first packet.
    pub fn sender_report(&self, running_time: u64, ntp: u64) -> Option<[u8; 28]> {
        let (last_ts, last_rt) = self.last?;
        let since = running_time.saturating_sub(last_rt);
        let ticks = (u128::from(since) * u128::from(self.clock_rate) / 1_000_000_000) as u32;
        let mut sr = [0u8; 28];
        sr[..4].copy_from_slice(&[0x80, 200, 0, 6]);
        sr[4..8].copy_from_slice(&self.ssrc.to_be_bytes());
        sr[8..16].copy_from_slice(&ntp.to_be_bytes());
        sr[16..20].copy_from_slice(&last_ts.wrapping_add(ticks).to_be_bytes());
        sr[20..24].copy_from_slice(&self.packets.to_be_bytes());
        sr[24..28].copy_from_slice(&self.octets.to_be_bytes());
        Some(sr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::packet::RtpPacket;
    use crate::rtp::rtcp::find_sender_report;

    const MS: u64 = 1_000_000;

    fn sent(s: &mut RtpSender, frame: &[u8], rt: Option<u64>) -> Vec<Vec<u8>> {
        let mut packets = Vec::new();
        s.packetize(frame, rt, |p| packets.push(p.to_vec()));
        packets
    }

    #[test]
    fn g726_goes_in_the_medias_packing_split_between_codeword_groups() {
        // 32 kbit/s: two codewords a byte; avenc_g726 puts the first in the high nibble (AAL2).
        let mut s = RtpSender::new(
            96,
            8000,
            Packing::G726 {
                bits: 4,
                rfc3551: true,
            },
            5,
        );
        let p = sent(&mut s, &[0x12; 80], Some(1000 * MS));
        let first = RtpPacket::parse(&p[0]).unwrap();
        assert_eq!(
            first.payload,
            &[0x21; 80][..],
            "RFC 3551: the first in the low nibble"
        );
        let p2 = sent(&mut s, &[0x12; 80], None);
        let next = RtpPacket::parse(&p2[0]).unwrap();
        assert_eq!(
            next.timestamp,
            first.timestamp.wrapping_add(160),
            "80 bytes, 160 samples"
        );
        // AAL2-G726-32 takes them as they are.
        let mut s = RtpSender::new(
            96,
            8000,
            Packing::G726 {
                bits: 4,
                rfc3551: false,
            },
            5,
        );
        let p = sent(&mut s, &[0x12; 80], Some(1000 * MS));
        assert_eq!(RtpPacket::parse(&p[0]).unwrap().payload, &[0x12; 80][..]);
        // 24 kbit/s: 8 codewords in 3 bytes; a large frame splits between whole groups.
        let mut s = RtpSender::new(
            96,
            8000,
            Packing::G726 {
                bits: 3,
                rfc3551: true,
            },
            5,
        );
        let p = sent(&mut s, &[0xa5; 3000], Some(0));
        let lens: Vec<usize> = p.iter().map(|p| p.len() - 12).collect();
        assert_eq!(lens, [1200, 1200, 600]);
        let ts: Vec<u32> = p
            .iter()
            .map(|p| RtpPacket::parse(p).unwrap().timestamp)
            .collect();
        assert_eq!(
            ts[1].wrapping_sub(ts[0]),
            3200,
            "1200 bytes of 3-bit codewords"
        );
    }

    #[test]
    fn g711_frames_become_packets_timed_by_their_running_time() {
        let mut s = RtpSender::new(0, 8000, Packing::Samples(1), 0x0123_4567_89ab_cdef);
        // 20 ms of G.711 at running time 1 s.
        let p = sent(&mut s, &[0x55; 160], Some(1000 * MS));
        assert_eq!(p.len(), 1);
        let first = RtpPacket::parse(&p[0]).unwrap();
        assert_eq!((first.payload_type, first.marker), (0, true));
        assert_eq!(first.ssrc, s.ssrc());
        assert_eq!(first.payload, &[0x55; 160][..]);
        let ts0 = first.timestamp;
        // The next 20 ms: 160 ticks on, no marker; one more sequence number.
        let p = sent(&mut s, &[0x66; 160], Some(1020 * MS));
        let next = RtpPacket::parse(&p[0]).unwrap();
        assert_eq!(next.timestamp, ts0.wrapping_add(160));
        assert_eq!(next.sequence, first.sequence.wrapping_add(1));
        assert!(!next.marker);
        // Without a running time: right after.
        let p = sent(&mut s, &[0x77; 80], None);
        assert_eq!(
            RtpPacket::parse(&p[0]).unwrap().timestamp,
            ts0.wrapping_add(320)
        );
        // After a gap (silence not sent): the marker starts the talkspurt.
        let p = sent(&mut s, &[0x77; 80], Some(2000 * MS));
        let after = RtpPacket::parse(&p[0]).unwrap();
        assert!(after.marker);
        assert_eq!(after.timestamp, ts0.wrapping_add(8000));
        // A large frame: split between samples, timestamps on by each packet's samples.
        let p = sent(&mut s, &vec![1u8; 3000], Some(3000 * MS));
        let lens: Vec<usize> = p.iter().map(|p| p.len() - 12).collect();
        assert_eq!(lens, [MAX_PAYLOAD, MAX_PAYLOAD, 3000 - 2 * MAX_PAYLOAD]);
        let ts: Vec<u32> = p
            .iter()
            .map(|p| RtpPacket::parse(p).unwrap().timestamp)
            .collect();
        assert_eq!(ts[1].wrapping_sub(ts[0]), MAX_PAYLOAD as u32);
        assert_eq!(ts[2].wrapping_sub(ts[1]), MAX_PAYLOAD as u32);
    }

    #[test]
    fn aac_units_behind_their_au_header_fragmented_past_a_packet() {
        let mut s = RtpSender::new(96, 16000, Packing::AacHbr(1024), 7);
        let p = sent(&mut s, &[9u8; 300], Some(1000 * MS));
        assert_eq!(p.len(), 1);
        let first = RtpPacket::parse(&p[0]).unwrap();
        assert!(first.marker, "a whole unit");
        // 16 bits of AU headers; size 300 (13 bits) and index 0 (3 bits).
        assert_eq!(
            &first.payload[..4],
            &[0, 16, (300u16 << 3 >> 8) as u8, (300u16 << 3) as u8]
        );
        assert_eq!(&first.payload[4..], &[9u8; 300][..]);
        // The next unit, 1024 samples on, without a running time.
        let p = sent(&mut s, &[8u8; 200], None);
        let next = RtpPacket::parse(&p[0]).unwrap();
        assert_eq!(next.timestamp, first.timestamp.wrapping_add(1024));
        // A unit larger than a packet: fragments of one timestamp, each with the unit's header, the
        // marker on the last.
        let p = sent(&mut s, &vec![7u8; 2000], None);
        assert_eq!(p.len(), 2);
        let (a, b) = (
            RtpPacket::parse(&p[0]).unwrap(),
            RtpPacket::parse(&p[1]).unwrap(),
        );
        assert_eq!((a.marker, b.marker), (false, true));
        assert_eq!(a.timestamp, b.timestamp);
        assert_eq!(&a.payload[..4], &b.payload[..4]);
        assert_eq!(a.payload.len() - 4 + b.payload.len() - 4, 2000);
        // Past 13 bits of size: not sent.
        assert!(sent(&mut s, &vec![0u8; 9000], None).is_empty());
    }

    #[test]
    fn sender_report_ties_rtp_time_to_ntp() {
        let mut s = RtpSender::new(8, 8000, Packing::Samples(1), 42);
        assert!(s.sender_report(0, 1 << 32).is_none());
        let p = sent(&mut s, &[0; 160], Some(500 * MS));
        let ts = RtpPacket::parse(&p[0]).unwrap().timestamp;
        s.count_sent(&[0u8; 12 + 40]);
        // 100 ms after that packet's time: 800 ticks on.
        let sr = s.sender_report(600 * MS, 7 << 32).unwrap();
        let parsed = find_sender_report(&sr).unwrap();
        assert_eq!(parsed.ssrc, s.ssrc());
        assert_eq!(parsed.rtp, ts.wrapping_add(800));
        assert_eq!(parsed.ntp, 7 << 32);
        assert_eq!(u32::from_be_bytes(sr[20..24].try_into().unwrap()), 2);
        assert_eq!(u32::from_be_bytes(sr[24..28].try_into().unwrap()), 200);
    }
}

//! RFC 6184 H.264 RTP payload format: single NAL unit packets (types 1-23), STAP-A (24) and FU-A (28).
//! What every NAL payload format shares (timestamps, fragment reassembly, loss) is in
//! `au::depacketizer`; this only tells the packet types apart. STAP-B, MTAP and FU-B are skipped.

use super::nal::H264;
use crate::au::depacketizer::{NalAssembler, PayloadFormat};
use crate::au::Depay;

const STAP_A: u8 = 24;
const FU_A: u8 = 28;

#[derive(Debug, Default)]
pub struct Rfc6184;

/// An H.264 depacketizer.
pub fn depacketizer(wait_for_keyframe: bool) -> Depay<Rfc6184> {
    Depay::new(Rfc6184, wait_for_keyframe)
}

impl PayloadFormat for Rfc6184 {
    type Syntax = H264;

    fn payload(&mut self, to: &mut NalAssembler<H264>, ts: u64, payload: &[u8]) {
        let header = payload[0];
        match header & 0x1f {
            1..=23 => to.nal(ts, payload),
            STAP_A => {
                let mut rest = &payload[1..];
                while rest.len() >= 2 {
                    let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                    let Some(nal) = rest.get(2..2 + len).filter(|n| !n.is_empty()) else {
                        to.malformed("STAP-A with a bad NAL size; rest skipped");
                        break;
                    };
                    to.nal(ts, nal);
                    rest = &rest[2 + len..];
                }
            }
            FU_A => {
                let Some(&fu_header) = payload.get(1) else {
                    to.malformed("FU-A without its header");
                    return;
                };
                // The reserved bit (0x20) is ignored: Longse CMSEKL800 sets it.
                let nal_type = fu_header & 0x1f;
                to.fragment(
                    ts,
                    (fu_header & 0x80 != 0, fu_header & 0x40 != 0),
                    &[(header & 0xe0) | nal_type],
                    nal_type,
                    &payload[2..],
                );
            }
            t => to.unsupported(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::au::builder::tests::annexb;
    use crate::au::Depacketize;
    use crate::rtp::packet::tests::build;
    use crate::rtp::packet::RtpPacket;

    fn push(d: &mut Depay<Rfc6184>, seq: u16, ts: u32, marker: bool, payload: &[u8], lost: bool) {
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
        let mut d = depacketizer(false);
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
        let mut d = depacketizer(false);
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
        assert_eq!(d.stats().0.malformed, 1);
    }

    #[test]
    fn fu_a_across_many_packets() {
        let mut d = depacketizer(false);
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
        let mut d = depacketizer(false);
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
        assert_eq!(d.stats().0.nals_dropped, 1);
    }

    #[test]
    fn fu_a_quirks() {
        let mut d = depacketizer(false);
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
        let mut d = depacketizer(false);
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
        let mut d = depacketizer(false);
        push(&mut d, 0, 0, true, &[0x65, 1], false);
        d.pop().unwrap();
        push(&mut d, 1, 3000, false, &[0x7c, 0x81, 1], false);
        push(&mut d, 2, 6000, true, &[0x7c, 0x41, 2], false);
        assert_eq!(d.pop(), None);
        push(&mut d, 3, 6000, true, &[0x41, 5], false);
        assert_eq!(d.pop().unwrap().data, annexb(&[&[0x41, 5]]));
        assert_eq!(d.stats().0.nals_dropped, 1);
    }

    #[test]
    fn unsupported_and_garbage_never_panic() {
        let mut d = depacketizer(false);
        for t in [0u8, 25, 26, 27, 29, 30, 31] {
            push(&mut d, 0, 0, true, &[t, 1, 2, 3], false);
        }
        push(&mut d, 0, 0, true, &[], false);
        push(&mut d, 0, 0, true, &[28], false);
        push(&mut d, 0, 0, true, &[24, 0], false);
        assert_eq!(d.pop(), None);
        assert_eq!(d.stats().0.unsupported, 7);
    }

    #[test]
    fn start_codes_inside_single_nal_and_stap_a() {
        let mut d = depacketizer(false);
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
        let mut d = depacketizer(false);
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

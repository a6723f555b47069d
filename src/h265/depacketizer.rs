//! RFC 7798 H.265 RTP payload format: single NAL unit packets (types 0–47), aggregation packets (48),
//! fragmentation units (49) and PACI packets (50, whose extension header is stripped and payload
//! depacketized; every peer fails on them today). With `sprop-max-don-diff` > 0 or
//! `sprop-depack-buf-nalus` > 0 the packets carry DONL/DOND fields, which are read and dropped. What
//! every NAL payload format shares is in `au::depacketizer`.

use super::nal::{nal_type, H265};
use crate::au::depacketizer::{NalAssembler, PayloadFormat};
use crate::au::Depay;

const AP: u8 = 48;
const FU: u8 = 49;
const PACI: u8 = 50;

#[derive(Debug, Default)]
pub struct Rfc7798 {
    /// Packets carry decoding order numbers (DONL in single NAL units, APs' first unit and FU starts;
    /// DOND before APs' later units).
    pub don: bool,
}

/// An H.265 depacketizer; `don` from the SDP (see `Rfc7798`).
pub fn depacketizer(don: bool, wait_for_keyframe: bool) -> Depay<Rfc7798> {
    Depay::new(Rfc7798 { don }, wait_for_keyframe)
}

impl PayloadFormat for Rfc7798 {
    type Syntax = H265;

    fn payload(&mut self, to: &mut NalAssembler<H265>, ts: u64, payload: &[u8]) {
        let Some(header) = payload.get(..2).map(|h| [h[0], h[1]]) else {
            to.malformed("payload shorter than its header");
            return;
        };
        self.unit(to, ts, header, &payload[2..], 0);
    }
}

impl Rfc7798 {
    /// A packet of type `header`'s with `body` after its two-byte header. `depth` bounds PACI nesting.
    fn unit(&self, to: &mut NalAssembler<H265>, ts: u64, header: [u8; 2], body: &[u8], depth: u8) {
        match nal_type(&header).unwrap_or(0) {
            0..=47 => {
                let Some(body) = self.read_donl(to, body) else {
                    to.malformed("single NAL unit shorter than its DONL");
                    return;
                };
                to.nal_parts(ts, &header, body);
            }
            AP => self.aggregation(to, ts, body),
            FU => {
                let Some(&fu) = body.first() else {
                    to.malformed("FU without its header");
                    return;
                };
                let (start, end, t) = (fu & 0x80 != 0, fu & 0x40 != 0, fu & 0x3f);
                let data = if start {
                    self.read_donl(to, &body[1..])
                } else {
                    Some(&body[1..])
                };
                let Some(data) = data else {
                    to.malformed("FU shorter than its DONL");
                    return;
                };
                let nal_header = [(header[0] & 0x81) | (t << 1), header[1]];
                to.fragment(ts, (start, end), &nal_header, t, data);
            }
            PACI if depth == 0 => {
                // PACI header: A(1) cType(6) PHSsize(5) F0 F1 F2 Y(4 bits, here F0..Y), then PHES.
                let (Some(&a), Some(&b)) = (body.first(), body.get(1)) else {
                    to.malformed("PACI without its header");
                    return;
                };
                let ctype = (a >> 1) & 0x3f;
                let phs = usize::from(((a & 1) << 4) | (b >> 4));
                let Some(inner) = body.get(2 + phs..) else {
                    to.malformed("PACI header extension past the packet");
                    return;
                };
                let inner_header = [(header[0] & 0x81) | (ctype << 1), header[1]];
                self.unit(to, ts, inner_header, inner, depth + 1);
            }
            t => to.unsupported(t),
        }
    }

    /// Aggregation packet: [DONL] size unit, then ([DOND] size unit)*; a unit's DON is the one before
    /// it plus DOND plus 1.
    fn aggregation(&self, to: &mut NalAssembler<H265>, ts: u64, body: &[u8]) {
        let mut rest = body;
        let mut don: Option<u16> = None;
        while !rest.is_empty() {
            let sized = match (self.don, don) {
                (false, _) => Some(rest),
                (true, None) => rest.get(..2).map(|d| {
                    don = Some(u16::from_be_bytes([d[0], d[1]]));
                    &rest[2..]
                }),
                (true, Some(prev)) => rest.first().map(|&dond| {
                    don = Some(prev.wrapping_add(u16::from(dond)).wrapping_add(1));
                    &rest[1..]
                }),
            };
            let Some(sized) = sized.filter(|r| r.len() >= 2) else {
                to.malformed("aggregation packet cut inside a unit's size");
                return;
            };
            if let Some(d) = don {
                to.set_don(d);
            }
            let len = usize::from(u16::from_be_bytes([sized[0], sized[1]]));
            let Some(nal) = sized.get(2..2 + len).filter(|n| n.len() >= 2) else {
                to.malformed("aggregation packet with a bad unit size; rest skipped");
                return;
            };
            to.nal(ts, nal);
            rest = &sized[2 + len..];
        }
    }

    /// With DON in use, reads the DONL in front of `body` (passing it on) and returns what follows.
    fn read_donl<'a>(&self, to: &mut NalAssembler<H265>, body: &'a [u8]) -> Option<&'a [u8]> {
        if !self.don {
            return Some(body);
        }
        let d = body.get(..2)?;
        to.set_don(u16::from_be_bytes([d[0], d[1]]));
        Some(&body[2..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::au::builder::tests::annexb;
    use crate::au::Depacketize;
    use crate::rtp::packet::tests::build;
    use crate::rtp::packet::RtpPacket;

    const VPS: &[u8] = &[0x40, 0x01, 0x0c];
    const SPS: &[u8] = &[0x42, 0x01, 0x01];
    const PPS: &[u8] = &[0x44, 0x01, 0xc0];
    const IDR: &[u8] = &[0x26, 0x01, 0xaf, 7, 7];
    const TRAIL: &[u8] = &[0x02, 0x01, 0xd0, 9];

    fn push(d: &mut Depay<Rfc7798>, seq: u16, ts: u32, marker: bool, payload: &[u8]) {
        let buf = build(seq, ts, marker, payload);
        d.push(&RtpPacket::parse(&buf).unwrap(), false);
    }

    fn ap(units: &[&[u8]], don: bool) -> Vec<u8> {
        ap_from(units, don.then_some(7))
    }

    /// An AP whose first unit has DONL `first_don` and the others DOND 0 (consecutive DONs).
    fn ap_from(units: &[&[u8]], first_don: Option<u16>) -> Vec<u8> {
        let mut p = vec![AP << 1, 1];
        for (i, u) in units.iter().enumerate() {
            match (first_don, i) {
                (Some(d), 0) => p.extend_from_slice(&d.to_be_bytes()),
                (Some(_), _) => p.push(0),
                (None, _) => {}
            }
            p.extend_from_slice(&(u.len() as u16).to_be_bytes());
            p.extend_from_slice(u);
        }
        p
    }

    #[test]
    fn single_ap_and_fu() {
        let mut d = depacketizer(false, false);
        push(&mut d, 1, 0, false, &ap(&[VPS, SPS, PPS], false));
        // The IDR in three fragments: S, middle, E.
        push(&mut d, 2, 0, false, &[FU << 1, 1, 0x80 | 19, 0xaf]);
        push(&mut d, 3, 0, false, &[FU << 1, 1, 19, 7]);
        push(&mut d, 4, 0, true, &[FU << 1, 1, 0x40 | 19, 7]);
        let au = d.pop().unwrap();
        assert!(au.keyframe);
        assert_eq!(au.data, annexb(&[VPS, SPS, PPS, IDR]));
        push(&mut d, 5, 3000, true, TRAIL);
        let au = d.pop().unwrap();
        assert!(!au.keyframe);
        assert_eq!(au.data, annexb(&[TRAIL]));
        // retina#123: an access unit of a single TRAIL_N (type 0) is a picture too.
        let trail_n = [0x00, 0x01, 0xd0, 5];
        push(&mut d, 6, 6000, true, &trail_n);
        assert_eq!(d.pop().unwrap().data, annexb(&[&trail_n]));
    }

    #[test]
    fn fu_rules_as_for_fu_a() {
        let mut d = depacketizer(false, false);
        // Starts mid-fragment: nothing; S and E together: a whole NAL; an empty middle fragment.
        push(&mut d, 1, 0, false, &[FU << 1, 1, 0x40 | 19, 1]);
        push(&mut d, 2, 0, false, &[FU << 1, 1, 0xc0 | 32, 0x0c]);
        push(&mut d, 3, 0, false, &[FU << 1, 1, 0x80 | 19, 0xaf]);
        push(&mut d, 4, 0, false, &[FU << 1, 1, 19]);
        // A type that changes after the first fragment keeps the first.
        push(&mut d, 5, 0, true, &[FU << 1, 1, 0x40 | 1, 7, 7]);
        let au = d.pop().unwrap();
        assert_eq!(au.data, annexb(&[VPS, IDR]));
        // A missing fragment drops the NAL.
        push(&mut d, 6, 3000, false, &[FU << 1, 1, 0x80 | 1, 0xd0]);
        let buf = build(8, 3000, true, &[FU << 1, 1, 0x40 | 1, 9]);
        d.push(&RtpPacket::parse(&buf).unwrap(), true);
        assert_eq!(d.pop(), None);
        assert_eq!(d.stats().0.nals_dropped, 1);
    }

    #[test]
    fn donl_and_dond_are_read_and_dropped() {
        let mut d = depacketizer(true, false);
        push(&mut d, 1, 0, false, &ap(&[VPS, SPS, PPS], true));
        let mut start = vec![FU << 1, 1, 0x80 | 19, 0, 9];
        start.push(0xaf);
        push(&mut d, 2, 0, false, &start);
        push(&mut d, 3, 0, true, &[FU << 1, 1, 0x40 | 19, 7, 7]);
        assert_eq!(d.pop().unwrap().data, annexb(&[VPS, SPS, PPS, IDR]));
        // A single NAL unit with DONL.
        push(&mut d, 4, 3000, true, &[0x02, 0x01, 0, 10, 0xd0, 9]);
        assert_eq!(d.pop().unwrap().data, annexb(&[TRAIL]));
    }

    #[test]
    fn units_sent_out_of_decoding_order_are_put_back() {
        // An interleaving sender: the AP's parameter sets (DON 11, 12, 13) after the slice (DON 14) and a
        // prefix SEI (DON 10), all one access unit.
        let sei = [0x4e, 0x01, 5, 1, 0, 0x80];
        let mut d = depacketizer(true, false);
        push(
            &mut d,
            1,
            0,
            false,
            &[[&IDR[..2], &[0, 14][..], &IDR[2..]].concat()][0],
        );
        push(
            &mut d,
            2,
            0,
            false,
            &ap(&[VPS, SPS, PPS], true)[..2]
                .iter()
                .chain([0u8, 11].iter())
                .copied()
                .chain(ap(&[VPS, SPS, PPS], true)[4..].iter().copied())
                .collect::<Vec<u8>>(),
        );
        push(
            &mut d,
            3,
            0,
            true,
            &[[&sei[..2], &[0, 10][..], &sei[2..]].concat()][0],
        );
        assert_eq!(d.pop().unwrap().data, annexb(&[&sei, VPS, SPS, PPS, IDR]));
        // DONs that wrap at 16 bits keep their order.
        push(&mut d, 4, 3000, false, &[0x02, 0x01, 0xff, 0xff, 0xd0, 9]);
        push(&mut d, 5, 3000, true, &[0x02, 0x01, 0x00, 0x00, 0x50, 8]);
        assert_eq!(
            d.pop().unwrap().data,
            annexb(&[TRAIL, &[0x02, 0x01, 0x50, 8]])
        );
    }

    #[test]
    fn paci_is_stripped_and_its_payload_depacketized() {
        let mut d = depacketizer(false, false);
        push(&mut d, 1, 0, false, &ap(&[VPS, SPS, PPS], false));
        // PACI (type 50) carrying a single IDR (cType 19) with a 2-byte header extension.
        let paci = [PACI << 1, 1, 19 << 1, 0b0010_0000, 0xee, 0xee, 0xaf, 7, 7];
        push(&mut d, 2, 0, true, &paci);
        assert_eq!(d.pop().unwrap().data, annexb(&[VPS, SPS, PPS, IDR]));
        // Nested PACI, an extension past the end: dropped, counted, never a panic.
        push(
            &mut d,
            3,
            3000,
            true,
            &[PACI << 1, 1, PACI << 1, 0, 0x02, 0x01],
        );
        push(&mut d, 4, 3000, true, &[PACI << 1, 1, 19 << 1, 0xf0]);
        assert_eq!(d.stats().0.unsupported + d.stats().0.malformed, 2);
    }

    #[test]
    fn garbage_never_panics() {
        let mut d = depacketizer(true, true);
        for (i, p) in [
            &[][..],
            &[0x60],
            &[0x60, 1],
            &[0x62, 1, 0xff],
            &[0x60, 1, 0, 0, 0, 9],
            &[0x64, 1, 0xff],
        ]
        .iter()
        .enumerate()
        {
            push(&mut d, i as u16, 0, true, p);
        }
        while d.pop().is_some() {}
    }
}

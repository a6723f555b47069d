//! G.726 ADPCM (RFC 3551 §4.5.4): 2, 3, 4 or 5-bit codewords at 8000 a second, a packet's payload one
//! frame. Two packings exist. `G726-16/24/32/40` packs each codeword from the least significant free
//! bit of its octet on (RFC 3551); `AAL2-G726-*` packs from the most significant bit (ITU-T I.366.2).
//! GStreamer's decoder (avdec_g726, FFmpeg's `g726`) reads the AAL2 order, so RFC 3551 payloads are
//! repacked into it, which is what rtpg726depay does with `force-aal2=false`. (rtpg726pay and
//! rtpg726depay default to AAL2 under the plain name; cameras, FFmpeg and go2rtc follow the RFC.)

use super::frames::{AudioFrames, AudioPayload};
use crate::rtp::packet::RtpPacket;

#[derive(Debug)]
pub struct G726Frames {
    /// Bits per codeword: 2, 3, 4 or 5.
    bits: u32,
    /// The payload is packed as RFC 3551 says (least significant bit first): repack it.
    rfc3551: bool,
}

impl G726Frames {
    pub fn new(bits: u32, rfc3551: bool) -> Self {
        G726Frames {
            bits: bits.clamp(2, 5),
            rfc3551,
        }
    }
}

impl AudioPayload for G726Frames {
    fn packet(&mut self, frames: &mut AudioFrames, pkt: &RtpPacket<'_>, _lost_before: bool) {
        let payload = pkt.payload;
        if payload.is_empty() {
            return;
        }
        let ts = frames.extend(pkt.timestamp);
        let samples = payload.len() as u64 * 8 / u64::from(self.bits);
        if !self.rfc3551 {
            return frames.push(ts, payload, Some(samples));
        }
        let mut out = frames.buffer(payload.len());
        let mut repacked = [0u8; 60];
        for chunk in payload.chunks(repacked.len()) {
            // 60 bytes, a multiple of every `bits`: whole codewords (8 per `bits` bytes) per chunk.
            repack_to_aal2(chunk, self.bits, &mut repacked[..chunk.len()]);
            out.extend_from_slice(&repacked[..chunk.len()]);
        }
        frames.push_bytes(ts, out, Some(samples));
    }
}

/// Codewords of `bits` bits packed least significant bit first (RFC 3551) in `from`, written most
/// significant bit first (AAL2) to `to` (as long as `from`). Bits of a last, partial codeword stay 0.
pub fn repack_to_aal2(from: &[u8], bits: u32, to: &mut [u8]) {
    repack(from, bits, to, true);
}

/// The other way, for the back channel: AAL2 (what avenc_g726 gives) to RFC 3551.
pub fn repack_to_rfc3551(from: &[u8], bits: u32, to: &mut [u8]) {
    repack(from, bits, to, false);
}

/// Codeword `at..at + bits` of a bit stream read least (`lsb`) or most significant bit first.
fn read(stream: &[u8], at: usize, bits: usize, lsb: bool) -> u32 {
    let mut word = 0u32;
    for k in 0..bits {
        let bit = at + k;
        let v = match lsb {
            true => (stream[bit / 8] >> (bit % 8)) & 1,
            false => (stream[bit / 8] >> (7 - bit % 8)) & 1,
        };
        let place = if lsb { k } else { bits - 1 - k };
        word |= u32::from(v) << place;
    }
    word
}

fn write(stream: &mut [u8], at: usize, bits: usize, lsb: bool, word: u32) {
    for k in 0..bits {
        let bit = at + k;
        let place = if lsb { k } else { bits - 1 - k };
        let v = ((word >> place) & 1) as u8;
        match lsb {
            true => stream[bit / 8] |= v << (bit % 8),
            false => stream[bit / 8] |= v << (7 - bit % 8),
        }
    }
}

/// Every whole codeword of `from` (packed least significant bit first when `from_lsb`) into `to`
/// in the other packing.
fn repack(from: &[u8], bits: u32, to: &mut [u8], from_lsb: bool) {
    let len = from.len().min(to.len());
    to[..len].fill(0);
    let bits = bits as usize;
    let mut at = 0;
    while at + bits <= len * 8 {
        let word = read(from, at, bits, from_lsb);
        write(to, at, bits, !from_lsb, word);
        at += bits;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packs codewords `words` of `bits` bits, least significant bit first (RFC 3551) when `lsb`, else
    /// most significant first (AAL2).
    fn pack(words: &[u32], bits: usize, lsb: bool) -> Vec<u8> {
        let mut out = vec![0u8; (words.len() * bits).div_ceil(8)];
        for (i, w) in words.iter().enumerate() {
            for k in 0..bits {
                let bit = i * bits + k;
                if lsb {
                    out[bit / 8] |= (((w >> k) & 1) as u8) << (bit % 8);
                } else {
                    out[bit / 8] |= (((w >> (bits - 1 - k)) & 1) as u8) << (7 - bit % 8);
                }
            }
        }
        out
    }

    #[test]
    fn rfc3551_order_becomes_aal2_order_at_every_rate() {
        for bits in 2..=5usize {
            let words: Vec<u32> = (0..16u32).map(|i| (i * 7 + 3) % (1 << bits)).collect();
            let rfc = pack(&words, bits, true);
            let mut out = vec![0; rfc.len()];
            repack_to_aal2(&rfc, bits as u32, &mut out);
            assert_eq!(out, pack(&words, bits, false), "{bits} bits");
        }
        for bits in 2..=5usize {
            let words: Vec<u32> = (0..16u32).map(|i| (i * 5 + 1) % (1 << bits)).collect();
            let aal2 = pack(&words, bits, false);
            let mut out = vec![0; aal2.len()];
            repack_to_rfc3551(&aal2, bits as u32, &mut out);
            assert_eq!(out, pack(&words, bits, true), "{bits} bits, to RFC 3551");
        }
        // RFC 3551's own example at 32 kbit/s: two codewords per octet, the first in the low nibble.
        let mut out = [0u8; 1];
        repack_to_aal2(&[0x21], 4, &mut out);
        assert_eq!(out, [0x12]);
    }

    #[test]
    fn packets_become_frames_with_their_duration() {
        use crate::au::Depacketize;
        use crate::audio::frames::AudioDepay;
        let mut d = AudioDepay::new(G726Frames::new(4, true));
        let mut p = vec![0x80, 97, 0, 1, 0, 0, 0, 100, 0, 0, 0, 1];
        p.extend_from_slice(&[0x21; 80]);
        d.push(&RtpPacket::parse(&p).unwrap(), false);
        let au = d.pop().unwrap();
        assert_eq!(au.duration, Some(160));
        assert!(au.data.iter().all(|&b| b == 0x12));
        // AAL2 payloads go out as they came; 24 kbit/s: 8 codewords per 3 bytes.
        let mut d = AudioDepay::new(G726Frames::new(3, false));
        d.push(&RtpPacket::parse(&p).unwrap(), false);
        let au = d.pop().unwrap();
        assert_eq!((au.duration, au.data[0]), (Some(80 * 8 / 3), 0x21));
        // A payload whose length is not a multiple of the chunk: the tail is repacked too.
        let mut d = AudioDepay::new(G726Frames::new(5, true));
        let mut p = p[..12].to_vec();
        p.extend_from_slice(&pack(&[1; 120], 5, true));
        d.push(&RtpPacket::parse(&p).unwrap(), false);
        assert_eq!(d.pop().unwrap().data, pack(&[1; 120], 5, false));
    }
}

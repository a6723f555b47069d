//! AAC in MPEG4-GENERIC (RFC 3640: AAC-hbr, AAC-lbr and the generic mode's AU headers): a packet's AU
//! headers give each access unit's size, several AUs share a packet, and one AU too large for a packet
//! is fragmented over packets of the same timestamp. Interleaved AUs (index deltas other than 0) are
//! refused with one warning: no camera is known to send them.

use super::aac_config::AacParams;
use super::frames::{AudioFrames, AudioPayload};
use crate::au::au_bytes::AuBytes;
use crate::au::bits::Bits;
use crate::rtp::packet::RtpPacket;

/// AUs read from one packet: a packet of 1500 bytes holds fewer than this many AAC frames.
const MAX_AUS: usize = 64;
/// The largest AU gathered from fragments (an AAC frame is at most 6144 bits per channel).
const MAX_AU_BYTES: usize = 64 * 1024;

#[derive(Debug)]
pub struct Rfc3640 {
    params: AacParams,
    /// RTP clock ticks per AU.
    au_ticks: u64,
    /// An AU arriving in fragments: its timestamp, its size and the bytes so far.
    fragment: Option<(u64, usize, AuBytes)>,
    warned_interleaving: bool,
}

impl Rfc3640 {
    pub fn new(params: AacParams, clock_rate: u32) -> Self {
        let au_ticks = u64::from(params.frame_length) * u64::from(clock_rate.max(1))
            / u64::from(params.sample_rate.max(1));
        Rfc3640 {
            params,
            au_ticks: au_ticks.max(1),
            fragment: None,
            warned_interleaving: false,
        }
    }

    /// The AU sizes of a packet's header section, and where its data starts. `Err` says why the packet
    /// is unusable.
    fn headers(
        &self,
        payload: &[u8],
        sizes: &mut [usize; MAX_AUS],
    ) -> Result<(usize, usize), Header> {
        let p = &self.params;
        let mut at = 0;
        let mut count = 0;
        if p.header_bits(true) > 0 {
            let len_bits = u32::from(u16::from_be_bytes([
                *payload.first().ok_or(Header::Short)?,
                *payload.get(1).ok_or(Header::Short)?,
            ]));
            let len_bytes = len_bits.div_ceil(8) as usize;
            let section = payload.get(2..2 + len_bytes).ok_or(Header::Short)?;
            let mut bits = Bits::raw(section);
            let mut used = 0;
            while used < len_bits {
                let first = count == 0;
                let header = p.header_bits(first);
                if header == 0 || used + header > len_bits {
                    break;
                }
                let size = bits.bits(p.size_length).ok_or(Header::Short)?;
                let index = if first {
                    bits.bits(p.index_length)
                } else {
                    bits.bits(p.index_delta_length)
                };
                if !first && index.ok_or(Header::Short)? != 0 {
                    return Err(Header::Interleaved);
                }
                bits.skip(
                    header
                        - p.size_length
                        - if first {
                            p.index_length
                        } else {
                            p.index_delta_length
                        },
                )
                .ok_or(Header::Short)?;
                used += header;
                let slot = sizes.get_mut(count).ok_or(Header::TooMany)?;
                *slot = match p.constant_size.filter(|_| p.size_length == 0) {
                    Some(c) => c as usize,
                    None => size as usize,
                };
                count += 1;
            }
            at = 2 + len_bytes;
        }
        if p.auxiliary_data_size_length > 0 {
            let aux = payload.get(at..).ok_or(Header::Short)?;
            let aux_bits = Bits::raw(aux)
                .bits(p.auxiliary_data_size_length)
                .ok_or(Header::Short)?;
            at += (p.auxiliary_data_size_length + aux_bits).div_ceil(8) as usize;
        }
        if count == 0 {
            // No AU headers: AUs of the constant size fill the packet.
            let size = p.constant_size.unwrap_or(0) as usize;
            let data = payload.len().saturating_sub(at);
            if size == 0 || !data.is_multiple_of(size) {
                return Err(Header::Short);
            }
            count = (data / size).min(MAX_AUS);
            sizes[..count].fill(size);
        }
        Ok((at, count))
    }

    /// A fragment of the AU being gathered; pushed once whole.
    fn continue_fragment(&mut self, frames: &mut AudioFrames, ts: u64, data: &[u8], marker: bool) {
        let Some((fts, size, mut buf)) = self.fragment.take() else {
            return;
        };
        buf.extend_from_slice(&data[..data.len().min(size - buf.len())]);
        if buf.len() == size {
            frames.push_bytes(ts, buf, Some(self.au_ticks));
        } else if marker {
            frames.malformed("an AAC frame's last fragment came short");
        } else {
            self.fragment = Some((fts, size, buf));
        }
    }
}

/// Why a packet's AU headers are unusable.
enum Header {
    Short,
    TooMany,
    Interleaved,
}

impl AudioPayload for Rfc3640 {
    fn packet(&mut self, frames: &mut AudioFrames, pkt: &RtpPacket<'_>, _lost_before: bool) {
        let ts = frames.extend(pkt.timestamp);
        let mut sizes = [0usize; MAX_AUS];
        let (at, count) = match self.headers(pkt.payload, &mut sizes) {
            Ok(h) => h,
            Err(Header::Interleaved) => {
                let mut warned = self.warned_interleaving;
                frames.warn_once(
                    &mut warned,
                    "the camera interleaves its AAC frames (RFC 3640 index deltas); audio is dropped".into(),
                );
                self.warned_interleaving = warned;
                frames.stats.unsupported += 1;
                return;
            }
            Err(Header::Short) => return frames.malformed("AAC AU headers cut short"),
            Err(Header::TooMany) => {
                return frames.malformed("more AAC AU headers than a packet holds")
            }
        };
        let data = pkt.payload.get(at..).unwrap_or_default();
        match &self.fragment {
            Some((fts, ..)) if *fts == ts => {
                return self.continue_fragment(frames, ts, data, pkt.marker)
            }
            // The last fragment never came: that AU is gone, this packet starts afresh.
            Some(_) => {
                self.fragment = None;
                frames.malformed("an AAC frame's last fragment never came");
            }
            None => {}
        }
        let mut rest = data;
        for (i, &size) in sizes[..count].iter().enumerate() {
            let au_ts = ts + i as u64 * self.au_ticks;
            if size <= rest.len() {
                let (au, tail) = rest.split_at(size);
                frames.push(au_ts, au, Some(self.au_ticks));
                rest = tail;
            } else if count == 1 && !pkt.marker && size <= MAX_AU_BYTES {
                // The first fragment of an AU larger than the packet.
                let mut buf = frames.buffer(size);
                buf.extend_from_slice(rest);
                self.fragment = Some((ts, size, buf));
                return;
            } else {
                return frames.malformed("an AAC frame larger than its packet");
            }
        }
    }

    fn forget(&mut self) {
        self.fragment = None;
    }
}

#[cfg(test)]
mod tests;

//! AAC in `MP4A-LATM` (RFC 6416): each packet carries one or more AudioMuxElements, or one fragment of
//! an element (the marker on the last); an element holds `sub_frames + 1` AAC frames, each after its
//! PayloadLengthInfo (bytes of 255 and a last one below). With `cpresent=1` an element starts with a
//! bit saying whether its StreamMuxConfig follows in band, and the frames then sit at any bit offset.

use super::frames::{AudioFrames, AudioPayload};
use super::latm_config::{read_stream_mux_config, LatmParams};
use crate::au::bits::Bits;
use crate::rtp::packet::RtpPacket;

/// The largest element gathered from fragments, and the largest frame.
const MAX_ELEMENT: usize = 64 * 1024;

#[derive(Debug)]
pub struct Latm {
    params: LatmParams,
    /// RTP clock ticks per AAC frame.
    au_ticks: u64,
    /// An element arriving in fragments: its timestamp and its bytes so far (the buffer is kept).
    pending: Vec<u8>,
    pending_ts: Option<u64>,
    warned_config: bool,
}

/// Why an element is unusable.
type Malformed = &'static str;

impl Latm {
    pub fn new(params: LatmParams, clock_rate: u32) -> Self {
        let asc = &params.mux.asc;
        let core = u64::from(asc.sample_rate.unwrap_or(clock_rate).max(1));
        let au_ticks = u64::from(asc.frame_length) * u64::from(clock_rate.max(1)) / core;
        Latm {
            params,
            au_ticks: au_ticks.max(1),
            pending: Vec::new(),
            pending_ts: None,
            warned_config: false,
        }
    }

    /// The elements of a whole packet (or of its fragments put together), from timestamp `ts` on.
    fn elements(&mut self, frames: &mut AudioFrames, ts: u64, data: &[u8]) {
        let mut b = Bits::raw(data);
        let mut next_ts = ts;
        while b.position() + 8 <= data.len() * 8 {
            if let Err(why) = self.element(frames, &mut b, &mut next_ts) {
                return frames.malformed(why);
            }
            b.align();
        }
    }

    /// One AudioMuxElement: its frames to `frames`, `ts` moved past them.
    fn element(
        &mut self,
        frames: &mut AudioFrames,
        b: &mut Bits,
        ts: &mut u64,
    ) -> Result<(), Malformed> {
        const SHORT: Malformed = "an LATM element cut short";
        if self.params.cpresent && !b.bit().ok_or(SHORT)? {
            let mux =
                read_stream_mux_config(b).map_err(|_| "an in-band StreamMuxConfig not read")?;
            if mux != self.params.mux {
                let mut warned = self.warned_config;
                frames.warn_once(
                    &mut warned,
                    "the camera's in-band AAC configuration (LATM) differs from its SDP's; \
                     audio is dropped"
                        .into(),
                );
                self.warned_config = warned;
                frames.stats.unsupported += 1;
                return Err("an LATM element of another configuration");
            }
        }
        let (sub_frames, other_data) =
            (self.params.mux.sub_frames, self.params.mux.other_data_bits);
        for _ in 0..=sub_frames {
            let mut len = 0usize;
            loop {
                let v = b.bits(8).ok_or(SHORT)?;
                len += v as usize;
                if v != 255 {
                    break;
                }
                if len > MAX_ELEMENT {
                    return Err("an LATM frame larger than 64 KiB");
                }
            }
            if len == 0 {
                continue;
            }
            if b.aligned() {
                let bytes = b.bytes(len).ok_or(SHORT)?;
                frames.push(*ts, bytes, Some(self.au_ticks));
            } else {
                // After an in-band StreamMuxConfig the frame sits at any bit offset.
                let mut buf = frames.buffer(len);
                let mut chunk = [0u8; 64];
                let mut left = len;
                while left > 0 {
                    let n = left.min(chunk.len());
                    for byte in &mut chunk[..n] {
                        *byte = b.bits(8).ok_or(SHORT)? as u8;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    left -= n;
                }
                frames.push_bytes(*ts, buf, Some(self.au_ticks));
            }
            *ts += self.au_ticks;
        }
        if let Some(bits) = other_data {
            b.skip(bits).ok_or(SHORT)?;
        }
        Ok(())
    }
}

impl AudioPayload for Latm {
    fn packet(&mut self, frames: &mut AudioFrames, pkt: &RtpPacket<'_>, _lost_before: bool) {
        let ts = frames.extend(pkt.timestamp);
        if self.pending_ts.is_some_and(|p| p != ts) {
            self.forget();
            frames.malformed("an LATM element's last fragment never came");
        }
        if self.pending_ts.is_none() && pkt.marker {
            return self.elements(frames, ts, pkt.payload);
        }
        if self.pending.len() + pkt.payload.len() > MAX_ELEMENT {
            self.forget();
            return frames.malformed("an LATM element larger than 64 KiB");
        }
        self.pending.extend_from_slice(pkt.payload);
        self.pending_ts = Some(ts);
        if pkt.marker {
            let pending = std::mem::take(&mut self.pending);
            self.elements(frames, ts, &pending);
            self.pending = pending;
            self.forget();
        }
    }

    fn forget(&mut self) {
        self.pending.clear();
        self.pending_ts = None;
    }
}

#[cfg(test)]
mod tests;

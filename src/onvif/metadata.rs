//! ONVIF metadata over RTP (ONVIF Streaming Specification §5.2.1.1): a `tt:MetadataStream` XML document
//! (or its gzip or EXI encoding) split over packets of one timestamp, the marker bit on its last. One
//! frame out per complete document; a document missing a packet is dropped whole (a partial XML
//! document is of no use to a parser), and the next one carries DISCONT.
//!
//! After a loss, whatever comes up to the next marker bit is dropped: the lost packets may have been
//! the head of the document those packets end, and RTP does not say whether they were (retina keeps
//! such tails; a parser then fails on them).

use crate::au::au_bytes::AuBytes;
use crate::audio::frames::{AudioFrames, AudioPayload};
use crate::rtp::packet::RtpPacket;

/// The largest document kept: ONVIF analytics frames are kilobytes; a sender that never sets the
/// marker bit must not grow memory without bound.
pub const MAX_DOCUMENT: usize = 1 << 20;

#[derive(Debug, Default)]
pub struct MetadataDocuments {
    /// The document being gathered: its extended RTP time and bytes so far.
    open: Option<(u64, AuBytes)>,
    /// Packets were lost: what comes is skipped up to and with the next marker bit.
    skipping: bool,
    warned_oversize: bool,
}

impl AudioPayload for MetadataDocuments {
    fn packet(&mut self, frames: &mut AudioFrames, pkt: &RtpPacket<'_>, lost_before: bool) {
        let ts = frames.extend(pkt.timestamp);
        if lost_before {
            self.skipping = true;
        }
        if self.skipping {
            self.skipping = !pkt.marker;
            return;
        }
        if self.open.as_ref().is_some_and(|(t, _)| *t != ts) {
            // A new timestamp while a document is open: its last packet never came.
            self.open = None;
            frames.malformed("ONVIF metadata document without its last packet");
        }
        let (_, data) = self
            .open
            .get_or_insert_with(|| (ts, frames.buffer(pkt.payload.len())));
        if data.len() + pkt.payload.len() > MAX_DOCUMENT {
            self.open = None;
            self.skipping = true;
            frames.lose();
            let mut warned = self.warned_oversize;
            frames.warn_once(
                &mut warned,
                format!(
                    "ONVIF metadata document over {} KiB dropped (no marker bit to end it?)",
                    MAX_DOCUMENT >> 10
                ),
            );
            self.warned_oversize = warned;
            return;
        }
        data.extend_from_slice(pkt.payload);
        if pkt.marker {
            if let Some((ts, data)) = self.open.take() {
                if !data.is_empty() {
                    frames.push_bytes(ts, data, None);
                }
            }
        }
    }

    /// A loss (or a new sender): skip to the next document boundary.
    fn forget(&mut self) {
        self.open = None;
        self.skipping = true;
    }
}

#[cfg(test)]
mod tests;

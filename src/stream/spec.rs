//! What one stream the element sets up is: the media section chosen, its codec and payload type, and
//! what that codec's `fmtp` parameters and the `rtcp-fb` lines say.

use super::codec::{Codec, Kind};
use crate::audio::aac_config::AacParams;
use crate::audio::latm_config::LatmParams;
use crate::rtsp::sdp::Media;
use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct StreamSpec {
    /// The media section's place in the SDP.
    pub media_index: usize,
    pub codec: Codec,
    pub payload_type: u8,
    pub clock_rate: u32,
    /// Audio channels (the rtpmap's encoding parameter; 1 when it gives none).
    pub channels: u32,
    /// AAC: the AU-header sizes and AudioSpecificConfig of its fmtp.
    pub aac: Option<AacParams>,
    /// AAC in LATM: its StreamMuxConfig and `cpresent`.
    pub latm: Option<LatmParams>,
    /// Absolute control URL for SETUP.
    pub control: String,
    /// Base64 parameter-set attributes as found: `sprop-parameter-sets` (H.264); `sprop-vps`,
    /// `sprop-sps`, `sprop-pps` (H.265).
    pub sprop: Vec<String>,
    pub packetization_mode: u8,
    /// RFC 7798: `sprop-max-don-diff` > 0 or `sprop-depack-buf-nalus` > 0, so packets carry DONL/DOND.
    pub don: bool,
    /// The SDP's connection address (`None`: media comes from the RTSP server's address).
    pub connection: Option<String>,
    /// `a=rtcp-fb:<pt or *> nack pli` (RFC 4585) and `ccm fir` (RFC 5104): how to ask for a keyframe.
    pub pli: bool,
    pub fir: bool,
    /// `a=source-filter: incl …` (RFC 4570): the one sender of a source-specific multicast group.
    pub source_filter: Option<String>,
}

/// The control URL shown redacted (a camera may take credentials in the query).
impl fmt::Debug for StreamSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamSpec")
            .field("media_index", &self.media_index)
            .field("codec", &self.codec)
            .field("payload_type", &self.payload_type)
            .field("clock_rate", &self.clock_rate)
            .field("channels", &self.channels)
            .field("aac", &self.aac)
            .field("latm", &self.latm)
            .field("control", &crate::rtsp::url::redact(&self.control))
            .field("sprop", &self.sprop)
            .field("packetization_mode", &self.packetization_mode)
            .field("don", &self.don)
            .field("connection", &self.connection)
            .field("pli", &self.pli)
            .field("fir", &self.fir)
            .field("source_filter", &self.source_filter)
            .finish()
    }
}

impl StreamSpec {
    /// Media section `media_index` (`media`) received as `codec` on payload type `pt` at `clock_rate`
    /// with `channels`; `Err` says why it cannot be (an AAC or LATM fmtp the depacketizer cannot
    /// follow).
    pub fn new(
        media_index: usize,
        media: &Media,
        codec: Codec,
        pt: u8,
        (clock_rate, channels): (u32, u32),
    ) -> Result<StreamSpec, String> {
        let aac = match codec {
            Codec::Aac => Some(AacParams::from_media(media, pt, clock_rate)?),
            _ => None,
        };
        let latm = match codec {
            Codec::Latm => Some(LatmParams::from_media(media, pt)?),
            _ => None,
        };
        let positive = |key: &str| {
            media
                .fmtp(pt, key)
                .and_then(|v| v.parse::<u32>().ok())
                .is_some_and(|n| n > 0)
        };
        Ok(StreamSpec {
            media_index,
            codec,
            payload_type: pt,
            clock_rate,
            channels: channels.max(1),
            aac,
            latm,
            control: media.control.clone(),
            sprop: codec
                .sprop_keys()
                .iter()
                .filter_map(|k| media.fmtp(pt, k))
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            packetization_mode: media
                .fmtp(pt, "packetization-mode")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            don: codec == Codec::H265
                && (positive("sprop-max-don-diff") || positive("sprop-depack-buf-nalus")),
            connection: media.connection.clone(),
            pli: media.has_feedback(pt, "nack pli"),
            fir: media.has_feedback(pt, "ccm fir"),
            source_filter: media.source_filter.clone(),
        })
    }

    pub fn kind(&self) -> Kind {
        self.codec.kind()
    }
}

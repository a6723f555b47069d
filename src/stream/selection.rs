//! Choosing which of the SDP's media to set up, apart from parsing it: today the first video the element
//! can depacketize (or the first of the codec asked for). Media it cannot use (audio, ONVIF metadata,
//! vendor media, unknown codecs) are left out; it fails only when no video is left.

use super::codec::Codec;
use super::spec::StreamSpec;
use crate::rtsp::sdp::{Description, Media};
use std::fmt;

/// No media the element can play.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NothingToPlay {
    /// The codec asked for (`None`: any the element has).
    pub wanted: Option<Codec>,
    /// What the SDP offered instead, as `<kind> <encoding>`.
    pub offered: Vec<String>,
    /// Media past `sdp::MAX_MEDIA`, not even read.
    pub omitted: usize,
}

/// How many of the media found the error names (each cut at 40 characters).
const MAX_MEDIA_SHOWN: usize = 4;

impl fmt::Display for NothingToPlay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.offered.is_empty() {
            return write!(f, "the stream offers no media (empty SDP)");
        }
        // A hostile SDP may list thousands of media with long names: a few, each cut short.
        let shown: Vec<String> = self
            .offered
            .iter()
            .take(MAX_MEDIA_SHOWN)
            .map(|m| crate::au::cut(m))
            .collect();
        let more = (self.offered.len() + self.omitted).saturating_sub(MAX_MEDIA_SHOWN);
        write!(
            f,
            "the stream has no {} video (it offers: {}{}); pick another stream/profile on the camera{}",
            self.wanted.map_or("H.264 or H.265", Codec::name),
            shown.join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() },
            if self.wanted.is_some() { " or video-codec=auto" } else { "" }
        )
    }
}

impl std::error::Error for NothingToPlay {}

/// The streams to set up, in the order their SETUPs go out: the first video of a codec in `wanted`
/// (`None`: any the element has).
pub fn select(desc: &Description, wanted: Option<Codec>) -> Result<Vec<StreamSpec>, NothingToPlay> {
    let mut offered = Vec::new();
    for (index, media) in desc.media.iter().enumerate() {
        match video_format(media, wanted) {
            Some((codec, pt, rate)) => {
                return Ok(vec![StreamSpec::new(index, media, codec, pt, rate)])
            }
            None => offered.push(media.summary()),
        }
    }
    Err(NothingToPlay {
        wanted,
        offered,
        omitted: desc.omitted,
    })
}

/// The codec, payload type and clock rate of `media` when it is video of a codec in `wanted`. The
/// payload type must be one the `m=` line lists, and the media must say it is video: Ubiquiti puts
/// audio on the video's payload type.
fn video_format(media: &Media, wanted: Option<Codec>) -> Option<(Codec, u8, u32)> {
    if !media.kind.eq_ignore_ascii_case("video") {
        return None;
    }
    media.rtpmaps.iter().find_map(|r| {
        let codec = Codec::from_encoding(&r.encoding)?;
        (wanted.is_none_or(|w| w == codec) && media.payload_types.contains(&r.payload_type))
            .then_some((codec, r.payload_type, r.clock_rate))
    })
}

#[cfg(test)]
mod tests;

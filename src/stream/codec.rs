//! The one place that maps an SDP `rtpmap` encoding name to what the element does with the stream: its
//! depacketizer, its out-of-band parameter sets and what its SPS says for caps. Adding a codec adds a
//! variant here and its arms; nothing else matches on encoding names.

use crate::au::{Depacketize, SpsInfo};

/// The codecs the element depacketizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    H264,
    H265,
}

impl Codec {
    /// Every codec, in the order a stream without a preference tries them.
    pub const ALL: [Codec; 2] = [Codec::H264, Codec::H265];

    /// The codec of an `a=rtpmap` encoding name (case does not matter: cameras write `h264`).
    pub fn from_encoding(name: &str) -> Option<Codec> {
        Codec::ALL
            .into_iter()
            .find(|c| name.eq_ignore_ascii_case(c.encoding()))
    }

    /// The encoding name in `a=rtpmap`.
    pub fn encoding(self) -> &'static str {
        match self {
            Codec::H264 => "H264",
            Codec::H265 => "H265",
        }
    }

    /// The name people know it by, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Codec::H264 => "H.264",
            Codec::H265 => "H.265",
        }
    }

    /// The `fmtp` keys that carry its parameter sets in base64.
    pub fn sprop_keys(self) -> &'static [&'static str] {
        match self {
            Codec::H264 => &["sprop-parameter-sets"],
            Codec::H265 => &["sprop-vps", "sprop-sps", "sprop-pps"],
        }
    }

    /// The depacketizer for a stream of this codec; `don`: H.265 packets carry decoding order
    /// numbers (`StreamSpec::don`).
    pub fn depacketizer(self, don: bool, wait_for_keyframe: bool) -> Box<dyn Depacketize> {
        match self {
            Codec::H264 => Box::new(crate::h264::depacketizer::depacketizer(wait_for_keyframe)),
            Codec::H265 => Box::new(crate::h265::depacketizer::depacketizer(
                don,
                wait_for_keyframe,
            )),
        }
    }

    /// The parameter sets the SDP gives (`sprop-*`), and what was wrong with those left out.
    pub fn decode_sprop(self, sprop: &[String]) -> (Vec<Vec<u8>>, Vec<String>) {
        match self {
            Codec::H264 => sprop
                .first()
                .map(|v| crate::h264::params::decode_sprop(v))
                .unwrap_or_default(),
            Codec::H265 => {
                let values: Vec<&str> = sprop.iter().map(String::as_str).collect();
                crate::h265::params::decode_sprop(&values)
            }
        }
    }

    /// What an SPS of this codec says (size, profile, frame rate, reordering).
    pub fn sps_info(self, sps: &[u8]) -> Result<SpsInfo, String> {
        match self {
            Codec::H264 => crate::h264::params::sps_info(sps),
            Codec::H265 => crate::h265::params::sps_info(sps),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_names_without_case() {
        assert_eq!(Codec::from_encoding("h264"), Some(Codec::H264));
        assert_eq!(Codec::from_encoding("H265"), Some(Codec::H265));
        assert_eq!(Codec::from_encoding("VP8"), None);
        assert_eq!(Codec::from_encoding(""), None);
    }
}

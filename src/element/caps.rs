//! Source pad caps from what the SPS says.

use crate::h264::params::SpsInfo;

pub fn base_caps() -> gst::Caps {
    gst::Caps::builder("video/x-h264")
        .field("stream-format", "byte-stream")
        .field("alignment", "au")
        .build()
}

pub fn caps_for(info: &SpsInfo) -> gst::Caps {
    let (num, den) = info.framerate.unwrap_or((0, 1));
    gst::Caps::builder("video/x-h264")
        .field("stream-format", "byte-stream")
        .field("alignment", "au")
        .field("profile", info.profile)
        .field("level", info.level.as_str())
        .field("width", i32::try_from(info.width).unwrap_or(i32::MAX))
        .field("height", i32::try_from(info.height).unwrap_or(i32::MAX))
        .field("framerate", gst::Fraction::new(num, den))
        .build()
}

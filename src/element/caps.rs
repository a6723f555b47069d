//! Source pad caps from what the SPS says.

use crate::au::SpsInfo;

/// The pad template: Annex-B access units of H.264 or H.265.
pub fn base_caps() -> gst::Caps {
    let mut caps = gst::Caps::new_empty();
    let caps_mut = caps.get_mut().expect("a new caps is writable");
    for media_type in ["video/x-h264", "video/x-h265"] {
        caps_mut.append(
            gst::Caps::builder(media_type)
                .field("stream-format", "byte-stream")
                .field("alignment", "au")
                .build(),
        );
    }
    caps
}

/// The audio pads' template: what `stream::Codec::audio_caps` gives.
pub fn audio_template_caps() -> gst::Caps {
    let mut caps = gst::Caps::new_empty();
    let caps_mut = caps.get_mut().expect("a new caps is writable");
    caps_mut.append(
        gst::Caps::builder("audio/mpeg")
            .field("mpegversion", 4i32)
            .field("stream-format", "raw")
            .build(),
    );
    for media_type in [
        "audio/x-mulaw",
        "audio/x-alaw",
        "audio/G722",
        "audio/x-opus",
    ] {
        caps_mut.append(gst::Caps::new_empty_simple(media_type));
    }
    caps_mut.append(
        gst::Caps::builder("audio/x-raw")
            .field("format", "S16BE")
            .field("layout", "interleaved")
            .build(),
    );
    caps
}

/// The metadata pads' template: ONVIF metadata documents, as `stream::Codec::side_caps` gives.
pub fn metadata_template_caps() -> gst::Caps {
    gst::Caps::new_empty_simple("application/x-onvif-metadata")
}

pub fn caps_for(info: &SpsInfo) -> gst::Caps {
    let (num, den) = info.framerate.unwrap_or((0, 1));
    gst::Caps::builder(info.media_type)
        .field("stream-format", "byte-stream")
        .field("alignment", "au")
        .field("profile", info.profile)
        .field_if_some("tier", info.tier)
        .field("level", info.level.as_str())
        .field("width", i32::try_from(info.width).unwrap_or(i32::MAX))
        .field("height", i32::try_from(info.height).unwrap_or(i32::MAX))
        .field("framerate", gst::Fraction::new(num, den))
        .build()
}

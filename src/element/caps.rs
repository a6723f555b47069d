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

/// The audio pads' template: what `stream::Codec::side_caps` gives.
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
    caps_mut.append(
        gst::Caps::builder("audio/x-adpcm")
            .field("layout", "g726")
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

/// The element's pad templates: the video, the audio and metadata pads added after SETUP, and the back
/// channel's request sink pad.
pub fn templates() -> Vec<gst::PadTemplate> {
    let mut templates = vec![
        gst::PadTemplate::new(
            "src",
            gst::PadDirection::Src,
            gst::PadPresence::Always,
            &base_caps(),
        )
        .expect("valid pad template"),
        gst::PadTemplate::new(
            "audio_%u",
            gst::PadDirection::Src,
            gst::PadPresence::Sometimes,
            &audio_template_caps(),
        )
        .expect("valid pad template"),
        gst::PadTemplate::new(
            "metadata_%u",
            gst::PadDirection::Src,
            gst::PadPresence::Sometimes,
            &metadata_template_caps(),
        )
        .expect("valid pad template"),
    ];
    templates.push(
        gst::PadTemplate::new(
            "backchannel",
            gst::PadDirection::Sink,
            gst::PadPresence::Request,
            &super::backchannel_pad::template_caps(),
        )
        .expect("valid pad template"),
    );
    templates
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::codec::Codec;
    use crate::stream::selection::{select, Choice, StreamChoice};

    #[test]
    fn every_audio_and_metadata_codec_fits_its_pad_template() {
        gst::init().unwrap();
        let media = [
            "audio 0 RTP/AVP 96\na=rtpmap:96 MPEG4-GENERIC/16000/1\na=fmtp:96 mode=AAC-hbr;config=1408;\
             sizelength=13;indexlength=3;indexdeltalength=3",
            "audio 0 RTP/AVP 96\na=rtpmap:96 MP4A-LATM/44100/2\na=fmtp:96 cpresent=0;config=400024203fc0",
            "audio 0 RTP/AVP 96\na=rtpmap:96 PCMU/8000",
            "audio 0 RTP/AVP 96\na=rtpmap:96 PCMA/8000",
            "audio 0 RTP/AVP 96\na=rtpmap:96 L16/44100/2",
            "audio 0 RTP/AVP 96\na=rtpmap:96 G722/8000",
            "audio 0 RTP/AVP 96\na=rtpmap:96 G726-24/8000",
            "audio 0 RTP/AVP 96\na=rtpmap:96 AAL2-G726-40/8000",
            "audio 0 RTP/AVP 96\na=rtpmap:96 opus/48000/2",
            "application 0 RTP/AVP 96\na=rtpmap:96 vnd.onvif.metadata.gzip/90000",
        ];
        let choice = Choice {
            video_codec: None,
            streams: StreamChoice::All,
            backchannel: false,
        };
        let mut codecs = Vec::new();
        for m in media {
            let sdp = format!("v=0\nm=video 0 RTP/AVP 97\na=rtpmap:97 H264/90000\nm={m}\n");
            let desc = crate::rtsp::sdp::parse(sdp.as_bytes(), "rtsp://h/").unwrap();
            let spec = select(&desc, &choice).unwrap().streams.remove(1);
            let caps = Codec::side_caps(&spec).unwrap();
            let template = match m.starts_with("audio") {
                true => audio_template_caps(),
                false => metadata_template_caps(),
            };
            assert!(caps.is_subset(&template), "{caps} not in {template}");
            codecs.push(std::mem::discriminant(&spec.codec));
        }
        // Every codec but the video ones is among them.
        for c in Codec::ALL.iter().filter(|c| !Codec::VIDEO.contains(c)) {
            assert!(
                codecs.contains(&std::mem::discriminant(c)),
                "{c:?} untested"
            );
        }
    }
}

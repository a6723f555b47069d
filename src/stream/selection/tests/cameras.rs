//! The audio real cameras describe (tests/fixtures/retina): which is set up by default and with
//! `streams=all`, its codec, clock rate and control URL, and what is left out and why.

use super::super::*;
use super::captured;
use crate::rtsp::sdp::parse;

/// (codec, clock rate, channels, payload type, control URL) of each audio stream chosen.
type Audio = (Codec, u32, u32, u8, String);

fn audio(reply: &str, streams: StreamChoice) -> (Vec<Audio>, Vec<String>) {
    let (sdp, base) = captured(reply);
    let chosen = select(
        &parse(sdp.as_bytes(), &base).unwrap(),
        &Choice {
            video_codec: None,
            streams,
            backchannel: false,
        },
    )
    .unwrap();
    assert_eq!(
        chosen.streams[0].kind(),
        Kind::Video,
        "the video goes first"
    );
    let audio = chosen.streams[1..]
        .iter()
        .map(|s| {
            assert_ne!(s.kind(), Kind::Video);
            (
                s.codec,
                s.clock_rate,
                s.channels,
                s.payload_type,
                s.control.clone(),
            )
        })
        .collect();
    (audio, chosen.left_out)
}

fn sdp_only(body: &str) -> String {
    format!("RTSP/1.0 200 OK\n\n{body}")
}

#[test]
fn each_camera_sets_up_its_audio() {
    let ubiquiti = sdp_only(include_str!(
        "../../../../tests/fixtures/retina/ubiquiti_sdp.txt"
    ));
    let tplink = sdp_only(include_str!(
        "../../../../tests/fixtures/retina/tplink_sdp.txt"
    ));
    let cases: [(&str, &str, Audio); 8] = [
        (
            "Reolink: AAC-hbr at 16 kHz",
            include_str!("../../../../tests/fixtures/retina/reolink_describe.txt"),
            (Codec::Aac, 16000, 1, 97, "rtsp://192.168.5.206/h264Preview_01_main/trackID=2".into()),
        ),
        (
            "Dahua: AAC at 48 kHz, ONVIF metadata beside it",
            include_str!("../../../../tests/fixtures/retina/dahua_describe_h264_aac_onvif.txt"),
            (
                Codec::Aac,
                48000,
                1,
                97,
                "rtsp://192.168.5.111:554/cam/realmonitor?channel=1&subtype=1&unicast=true&proto=Onvif/trackID=1"
                    .into(),
            ),
        ),
        (
            "Dahua H.265: PCMA",
            include_str!("../../../../tests/fixtures/retina/dahua_describe_h265_pcma.txt"),
            (
                Codec::Pcma,
                8000,
                1,
                8,
                "rtsp://cam-driveway/cam/realmonitor?channel=1&subtype=2/trackID=1".into(),
            ),
        ),
        (
            "TP-Link: PCMA beside a vendor media",
            &tplink,
            (Codec::Pcma, 8000, 1, 8, "rtsp://cam/track2".into()),
        ),
        (
            "VStarcam: PCMA, a tab after the m= line",
            include_str!("../../../../tests/fixtures/retina/vstarcam_describe.txt"),
            (Codec::Pcma, 8000, 1, 8, "rtsp://cam/track1".into()),
        ),
        (
            "Foscam: payload type 0 without an rtpmap is PCMU (RFC 3551)",
            include_str!("../../../../tests/fixtures/retina/foscam_describe.txt"),
            (Codec::Pcmu, 8000, 1, 0, "rtsp://192.168.5.107:65534/videoMain/track2".into()),
        ),
        (
            "GW Security: rtpmap:8 PCMU is PCMU, not the static PCMA",
            include_str!("../../../../tests/fixtures/retina/gw_main_describe.txt"),
            (
                Codec::Pcmu,
                8000,
                1,
                8,
                "rtsp://192.168.1.110:5050/H264?channel=1&subtype=0&unicast=true&proto=Onvif/audio".into(),
            ),
        ),
        (
            "Ubiquiti: the first of two audio media on one payload type, before the video",
            &ubiquiti,
            (Codec::Aac, 48000, 1, 96, "rtsp://cam/trackID=0".into()),
        ),
    ];
    for (camera, reply, expected) in cases {
        let (chosen, _) = audio(reply, StreamChoice::VideoAndAudio);
        assert_eq!(chosen, [expected], "{camera}");
        let (none, _) = audio(reply, StreamChoice::VideoOnly);
        assert!(none.is_empty(), "{camera}");
    }
}

#[test]
fn ubiquiti_all_sets_up_aac_and_opus() {
    let reply = sdp_only(include_str!(
        "../../../../tests/fixtures/retina/ubiquiti_sdp.txt"
    ));
    let (chosen, left_out) = audio(&reply, StreamChoice::All);
    let codecs: Vec<(Codec, u32, u32, u8)> = chosen.iter().map(|a| (a.0, a.1, a.2, a.3)).collect();
    assert_eq!(
        codecs,
        [(Codec::Aac, 48000, 1, 96), (Codec::Opus, 48000, 2, 96)]
    );
    assert!(left_out.is_empty(), "{left_out:?}");
}

#[test]
fn anpviz_aac_without_au_header_sizes_is_left_out_with_the_reason() {
    // Anpviz: `MPEG4-GENERIC` on payload type 0 with only `config=`: no mode, no AU-header sizes, so
    // the payload's layout is unknown. The video goes on; the reason is logged.
    let reply = sdp_only(include_str!(
        "../../../../tests/fixtures/retina/anpviz_sdp.txt"
    ));
    let (chosen, left_out) = audio(&reply, StreamChoice::VideoAndAudio);
    assert!(chosen.is_empty(), "{chosen:?}");
    assert_eq!(left_out.len(), 1, "{left_out:?}");
    assert!(
        left_out[0].starts_with("AAC audio (media 1)"),
        "{left_out:?}"
    );
}

#[test]
fn dahua_all_adds_the_onvif_metadata() {
    let reply = include_str!("../../../../tests/fixtures/retina/dahua_describe_h264_aac_onvif.txt");
    let (chosen, _) = audio(reply, StreamChoice::All);
    let base =
        "rtsp://192.168.5.111:554/cam/realmonitor?channel=1&subtype=1&unicast=true&proto=Onvif/";
    assert_eq!(
        chosen,
        [
            (Codec::Aac, 48000, 1, 97, format!("{base}trackID=1")),
            (
                Codec::OnvifMetadata(crate::stream::codec::MetadataEncoding::Xml),
                90000,
                1,
                107,
                format!("{base}trackID=4")
            ),
        ]
    );
}

//! Which media is set up, with real cameras' SDP (tests/fixtures/retina) where they show the behaviour.

use super::*;
use crate::rtsp::sdp::parse;

/// The video chosen from `sdp`.
fn choose(sdp: &str, base: &str, wanted: Option<Codec>) -> Result<StreamSpec, NothingToPlay> {
    let chosen = select(
        &parse(sdp.as_bytes(), base).unwrap(),
        &Choice::video_only(wanted),
    )?;
    assert_eq!(chosen.streams.len(), 1, "video only");
    Ok(chosen.streams.into_iter().next().unwrap())
}

#[test]
fn gst_rtsp_server_video() {
    let sdp = "v=0\r\nc=IN IP4 0.0.0.0\r\na=control:*\r\nm=video 0 RTP/AVP 96\r\n\
a=rtpmap:96 H264/90000\r\n\
a=fmtp:96 packetization-mode=1;profile-level-id=42c01e;sprop-parameter-sets=Z0LAHtkA,aMuMsg==\r\n\
a=control:stream=0\r\n";
    let v = choose(sdp, "rtsp://127.0.0.1:8554/test/", None).unwrap();
    assert_eq!(
        (v.codec, v.payload_type, v.clock_rate),
        (Codec::H264, 96, 90000)
    );
    assert_eq!(v.control, "rtsp://127.0.0.1:8554/test/stream=0");
    assert_eq!(v.packetization_mode, 1);
    assert_eq!(v.sprop, vec!["Z0LAHtkA,aMuMsg==".to_string()]);
    assert_eq!(v.media_index, 0);
}

#[test]
fn audio_and_metadata_first() {
    // macro-video: no o=; ONVIF metadata and audio ahead of the video; a bare fmtp.
    let sdp = "v=0\ns=x\nm=audio 0 RTP/AVP 0\na=rtpmap:0 PCMU/8000\na=control:trackID=1\n\
m=application 0 RTP/AVP 107\na=rtpmap:107 vnd.onvif.metadata/90000\n\
m=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000 \na=framerate:0S\na=fmtp:96\na=control:trackID=0\n";
    let v = choose(sdp, "rtsp://h/s", None).unwrap();
    assert_eq!(v.control, "rtsp://h/s/trackID=0");
    assert_eq!(v.media_index, 2);
    assert!(v.sprop.is_empty());
    assert_eq!(v.packetization_mode, 0);
}

#[test]
fn playable_lists_the_video_then_every_audio_and_metadata() {
    // Video second, two audio tracks (one the element cannot play), metadata, a vendor media.
    let sdp = "v=0\nm=audio 0 RTP/AVP 0\na=rtpmap:0 PCMU/8000\na=control:trackID=1\n\
m=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\na=control:trackID=0\n\
m=audio 0 RTP/AVP 97\na=rtpmap:97 speex/8000\na=control:trackID=2\n\
m=audio 0 RTP/AVP 8\na=control:trackID=3\n\
m=application 0 RTP/AVP 107\na=rtpmap:107 vnd.onvif.metadata/90000\na=control:trackID=4\n\
m=application/TP-LINK 0 RTP/AVP smart/1/90000\n";
    let desc = parse(sdp.as_bytes(), "rtsp://h/s/").unwrap();
    let listed: Vec<(usize, Codec)> = playable(&desc, &Choice::default())
        .iter()
        .map(|s| (s.media_index, s.codec))
        .collect();
    assert_eq!(
        listed,
        [
            (1, Codec::H264),
            (0, Codec::Pcmu),
            (3, Codec::Pcma),
            (
                4,
                Codec::OnvifMetadata(crate::stream::codec::MetadataEncoding::Xml)
            )
        ]
    );
    // Only the video of the codec asked for.
    assert!(playable(&desc, &Choice::video_only(Some(Codec::H265)))
        .iter()
        .all(|s| s.kind() != Kind::Video));
}

#[test]
fn audio_on_the_video_payload_type_is_not_video() {
    // Ubiquiti: two audio media on payload type 96, like the video.
    let sdp = "v=0\nm=audio 0 RTP/AVP 96\na=rtpmap:96 opus/48000/2\nm=audio 0 RTP/AVP 96\n\
a=rtpmap:96 MPEG4-GENERIC/16000\nm=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\na=control:*\n";
    let v = choose(sdp, "rtsp://h/s/", None).unwrap();
    assert_eq!(v.control, "rtsp://h/s/");
    assert_eq!(v.media_index, 2);
    // An H.264 rtpmap on audio media is not video either.
    let e = choose(
        "m=audio 0 RTP/AVP 96\na=rtpmap:96 H264/90000\n",
        "rtsp://h/",
        None,
    );
    assert!(e.is_err());
}

#[test]
fn payload_type_must_be_listed() {
    // Luckfox lists 97 and 96; an rtpmap for a payload type the m= line does not list is not used.
    let sdp = "m=video 0 RTP/AVP 97\na=rtpmap:96 H264/90000\na=rtpmap:97 H265/90000\n";
    let v = choose(sdp, "rtsp://h/", None).unwrap();
    assert_eq!((v.codec, v.payload_type), (Codec::H265, 97));
}

/// The SDP of a real camera's DESCRIBE reply (tests/fixtures/retina), and its Content-Base.
fn captured(reply: &str) -> (&str, String) {
    let (head, body) = reply
        .split_once("\r\n\r\n")
        .or_else(|| reply.split_once("\n\n"))
        .unwrap();
    let base = head
        .lines()
        .find_map(|l| l.trim().strip_prefix("Content-Base: "))
        .unwrap_or("rtsp://cam/")
        .to_string();
    (body, base)
}

#[test]
fn h265_cameras_choose_the_h265_media() {
    // Dahua (with PCMA), TP-Link (with PCMA and a vendor media), Anjvision, Vitek: H.265 only.
    let tplink = format!(
        "RTSP/1.0 200 OK\n\n{}",
        include_str!("../../../tests/fixtures/retina/tplink_sdp.txt")
    );
    for (camera, reply, control, sprops) in [
        (
            "Dahua",
            include_str!("../../../tests/fixtures/retina/dahua_describe_h265_pcma.txt"),
            "rtsp://cam-driveway/cam/realmonitor?channel=1&subtype=2/trackID=0",
            3,
        ),
        ("TP-Link", tplink.as_str(), "rtsp://cam/track1", 3),
        (
            "Anjvision",
            include_str!("../../../tests/fixtures/retina/anjvision_describe.txt"),
            "rtsp://192.168.1.10:554/stream0/trackID=1",
            3,
        ),
        (
            "Vitek",
            include_str!("../../../tests/fixtures/retina/vitek_describe.txt"),
            "rtsp://192.168.1.123:554/chID=2&streamType=sub/trackID=0",
            0,
        ),
    ] {
        let (sdp, base) = captured(reply);
        let v = choose(sdp, &base, None).unwrap_or_else(|e| panic!("{camera}: {e}"));
        assert_eq!(v.codec, Codec::H265, "{camera}");
        assert_eq!(v.control, control, "{camera}");
        assert_eq!(v.sprop.len(), sprops, "{camera}");
        assert!(!v.don, "{camera}");
        // Asked for H.264, these cameras have none.
        let e = choose(sdp, &base, Some(Codec::H264)).unwrap_err();
        assert!(e.to_string().contains("no H.264 video"), "{camera}: {e}");
    }
}

#[test]
fn codec_choice_and_decoding_order_numbers() {
    let both = "v=0\nm=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\na=control:a\n\
                m=video 0 RTP/AVP 97\na=rtpmap:97 H265/90000\na=fmtp:97 sprop-max-don-diff=2\na=control:b\n";
    let first = choose(both, "rtsp://h/", None).unwrap();
    assert_eq!((first.codec, first.payload_type), (Codec::H264, 96));
    let h265 = choose(both, "rtsp://h/", Some(Codec::H265)).unwrap();
    assert_eq!(
        (h265.codec, h265.control.as_str()),
        (Codec::H265, "rtsp://h/b")
    );
    assert!(h265.don);
    assert_eq!(h265.media_index, 1);
}

#[test]
fn keyframe_request_feedback() {
    let sdp = |fb: &str| format!("m=video 0 RTP/AVPF 96 97\r\na=rtpmap:96 H264/90000\r\n{fb}");
    let v = choose(&sdp("a=rtcp-fb:96 nack pli\r\n"), "rtsp://h/", None).unwrap();
    assert!(v.pli && !v.fir);
    let v = choose(&sdp("a=rtcp-fb:* ccm  FIR\r\n"), "rtsp://h/", None).unwrap();
    assert!(!v.pli && v.fir);
    // Another payload type's, or plain NACK: nothing.
    let v = choose(
        &sdp("a=rtcp-fb:97 nack pli\r\na=rtcp-fb:96 nack\r\n"),
        "rtsp://h/",
        None,
    )
    .unwrap();
    assert!(!v.pli && !v.fir);
}

#[test]
fn multicast_addresses_come_along() {
    let sdp = "v=0\r\na=source-filter: incl IN IP4 232.1.1.1 10.0.0.5\r\n\
               m=video 5000 RTP/AVP 96\r\nc=IN IP4 232.1.1.1/16\r\na=rtpmap:96 H264/90000\r\n";
    let v = choose(sdp, "rtsp://h/", None).unwrap();
    assert_eq!(v.source_filter.as_deref(), Some("10.0.0.5"));
    assert_eq!(v.connection.as_deref(), Some("232.1.1.1"));
}

#[test]
fn no_video() {
    let e = choose(
        "v=0\nm=video 0 RTP/AVP 96\na=rtpmap:96 VP8/90000\n",
        "rtsp://h/",
        None,
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("VP8") && e.to_string().contains("H.264 or H.265"),
        "{e}"
    );
    let e = choose("", "rtsp://h/", None).unwrap_err();
    assert!(e.to_string().contains("offers no media"), "{e}");
    // Hundreds of media, one with a huge name: the message names a few, each cut short.
    let mut many = String::from("v=0\n");
    many.push_str(&format!(
        "m=application 0 RTP/AVP 96\na=rtpmap:96 {}/90000\n",
        "X".repeat(5000)
    ));
    for i in 0..500 {
        many.push_str(&format!("m=audio 0 RTP/AVP {}\n", i % 128));
    }
    let e = choose(&many, "rtsp://h/", None).unwrap_err().to_string();
    assert!(e.len() < 400, "{} bytes: {e}", e.len());
    assert!(e.contains("and 497 more"), "{e}");
}

mod cameras;

#[test]
fn select_stream_refusals_move_on_to_the_next() {
    // Two videos (H.265 main, H.264 sub) and two audio (AAC, PCMA).
    let sdp = "v=0\nm=video 0 RTP/AVP 96\na=rtpmap:96 H265/90000\na=control:t0\n\
m=video 0 RTP/AVP 97\na=rtpmap:97 H264/90000\na=control:t1\n\
m=audio 0 RTP/AVP 98\na=rtpmap:98 MPEG4-GENERIC/16000\n\
a=fmtp:98 mode=AAC-hbr;config=1408;sizelength=13;indexlength=3;indexdeltalength=3\na=control:t2\n\
m=audio 0 RTP/AVP 8\na=rtpmap:8 PCMA/8000\na=control:t3\n";
    let desc = parse(sdp.as_bytes(), "rtsp://h/").unwrap();
    let choice = Choice::default();
    // Refusing the H.265 video and the AAC: the H.264 and the PCMA in their place.
    let mut asked = Vec::new();
    let chosen = select_with(&desc, &choice, &mut |s| {
        asked.push(s.media_index);
        !matches!(s.codec, Codec::H265 | Codec::Aac)
    })
    .unwrap();
    let codecs: Vec<Codec> = chosen.streams.iter().map(|s| s.codec).collect();
    assert_eq!(codecs, [Codec::H264, Codec::Pcma]);
    assert_eq!(asked, [0, 1, 2, 3]);
    assert!(chosen
        .left_out
        .iter()
        .any(|w| w.contains("refused by select-stream")));
    // Every video refused: an error that says so.
    let e = select_with(&desc, &choice, &mut |s| s.kind() != Kind::Video).unwrap_err();
    assert_eq!(e.refused, 2);
    assert!(
        e.to_string().contains("select-stream refused every video"),
        "{e}"
    );
}

fn with_backchannel(sdp: &str) -> Selection {
    let choice = Choice {
        backchannel: true,
        ..Choice::default()
    };
    select(&parse(sdp.as_bytes(), "rtsp://cam/").unwrap(), &choice).unwrap()
}

const ONVIF_VIDEO: &str =
    "v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:video\r\na=recvonly\r\n";

/// ONVIF's back channel is the `sendonly` audio: it is not received (no audio pad for it), and the
/// audio the camera sends still is.
#[test]
fn the_sendonly_audio_is_the_back_channel() {
    let sdp = format!(
        "{ONVIF_VIDEO}m=audio 0 RTP/AVP 0\r\na=control:audio\r\na=recvonly\r\n\
m=audio 0 RTP/AVP 8\r\na=control:audioback\r\na=rtpmap:8 PCMA/8000\r\na=sendonly\r\n"
    );
    let s = with_backchannel(&sdp);
    let back = s.backchannel.expect("a back channel");
    assert_eq!(
        (back.codec, back.payload_type, back.clock_rate),
        (Codec::Pcma, 8, 8000)
    );
    assert_eq!(back.control, "rtsp://cam/audioback");
    let received: Vec<&str> = s.streams.iter().map(|s| s.control.as_str()).collect();
    assert_eq!(received, ["rtsp://cam/video", "rtsp://cam/audio"]);
    // Sent before the camera's own audio in the SDP: the same.
    let sdp = format!(
        "{ONVIF_VIDEO}m=audio 0 RTP/AVP 0\r\na=control:audioback\r\na=sendonly\r\n\
m=audio 0 RTP/AVP 0\r\na=control:audio\r\na=recvonly\r\n"
    );
    let s = with_backchannel(&sdp);
    assert_eq!(s.backchannel.unwrap().control, "rtsp://cam/audioback");
    assert_eq!(s.streams[1].control, "rtsp://cam/audio");
    // Not asked for: the sendonly media is an audio like any other (cameras mislabel it).
    let s = select(
        &parse(sdp.as_bytes(), "rtsp://cam/").unwrap(),
        &Choice::default(),
    )
    .unwrap();
    assert!(s.backchannel.is_none());
    assert_eq!(s.streams[1].control, "rtsp://cam/audioback");
}

/// A camera that marks none `sendonly`: with two audio media, the last is the back channel; with one,
/// there is none (it is the camera's audio).
#[test]
fn unmarked_back_channel_is_the_last_of_two_audio_media() {
    let sdp = format!(
        "{ONVIF_VIDEO}m=audio 0 RTP/AVP 0\r\na=control:audio\r\n\
m=audio 0 RTP/AVP 0\r\na=control:audioback\r\n"
    );
    let s = with_backchannel(&sdp);
    assert_eq!(s.backchannel.unwrap().control, "rtsp://cam/audioback");
    let sdp = format!("{ONVIF_VIDEO}m=audio 0 RTP/AVP 0\r\na=control:audio\r\n");
    let s = with_backchannel(&sdp);
    assert!(s.backchannel.is_none());
    assert_eq!(s.streams.len(), 2);
}

/// A back channel in a codec the element does not send (G.726), or AAC in another mode than AAC-hbr,
/// is left out with the reason; AAC-hbr is sent.
#[test]
fn back_channel_codecs_the_element_sends() {
    let aac = |mode: &str| {
        format!(
            "{ONVIF_VIDEO}m=audio 0 RTP/AVP 97\r\na=control:audioback\r\n\
a=rtpmap:97 MPEG4-GENERIC/16000/1\r\na=fmtp:97 streamtype=5;config=1408;{mode}\r\na=sendonly\r\n"
        )
    };
    let s = with_backchannel(&aac(
        "mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3",
    ));
    let back = s.backchannel.expect("AAC-hbr is sent");
    assert_eq!((back.codec, back.clock_rate), (Codec::Aac, 16000));
    let s = with_backchannel(&aac(
        "mode=AAC-lbr;sizelength=6;indexlength=2;indexdeltalength=2",
    ));
    assert!(s.backchannel.is_none());
    assert!(
        s.left_out[0].contains("other than AAC-hbr"),
        "{:?}",
        s.left_out
    );
    let back = |rtpmap: &str| {
        format!(
            "{ONVIF_VIDEO}m=audio 0 RTP/AVP 97\r\na=control:audioback\r\na=rtpmap:97 {rtpmap}\r\na=sendonly\r\n"
        )
    };
    for (rtpmap, aal2) in [("G726-32/8000", false), ("AAL2-G726-24/8000", true)] {
        let s = with_backchannel(&back(rtpmap));
        let b = s.backchannel.expect("G.726 is sent");
        assert!(
            matches!(b.codec, Codec::G726 { aal2: a, .. } if a == aal2),
            "{rtpmap}"
        );
        assert_eq!(s.streams.len(), 1, "not received as well");
    }
    let s = with_backchannel(&back("opus/48000/2"));
    assert!(s.backchannel.is_none());
    assert_eq!(s.streams.len(), 1, "not received either");
    assert!(
        s.left_out[0].contains("not a codec the element sends"),
        "{:?}",
        s.left_out
    );
}

/// rtspsrc asks select-stream about the back channel too: refused, it is not set up, and the reason
/// says the application refused it.
#[test]
fn select_stream_may_refuse_the_back_channel() {
    let sdp = format!(
        "{ONVIF_VIDEO}m=audio 0 RTP/AVP 0\r\na=control:audioback\r\na=rtpmap:0 PCMU/8000\r\na=sendonly\r\n"
    );
    let desc = parse(sdp.as_bytes(), "rtsp://cam/").unwrap();
    let choice = Choice {
        backchannel: true,
        ..Choice::default()
    };
    let mut asked = Vec::new();
    let s = select_with(&desc, &choice, &mut |spec| {
        asked.push(spec.media_index);
        spec.media_index == 0
    })
    .unwrap();
    assert!(
        asked.contains(&1),
        "asked about the back channel: {asked:?}"
    );
    assert!(s.backchannel.is_none() && s.backchannel_refused);
    assert!(
        s.left_out.iter().any(|w| w.ends_with(REFUSED)),
        "{:?}",
        s.left_out
    );
    let s = select_with(&desc, &choice, &mut |_| true).unwrap();
    assert!(s.backchannel.is_some() && !s.backchannel_refused);
    // A camera without one: nothing refused, the session warns.
    let plain = parse(ONVIF_VIDEO.as_bytes(), "rtsp://cam/").unwrap();
    let s = select_with(&plain, &choice, &mut |_| true).unwrap();
    assert!(s.backchannel.is_none() && !s.backchannel_refused);
}

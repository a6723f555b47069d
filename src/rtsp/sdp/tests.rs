//! Parsing every media section, with real cameras' SDP where they show a behaviour; which media is
//! chosen is tested in `stream::selection`.

use super::*;

#[test]
fn every_media_section_with_its_attributes() {
    // Dahua (retina's dahua_describe_h264_aac_onvif shape): video, AAC audio and ONVIF metadata.
    let sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=Media\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\na=control:*\r\n\
m=video 0 RTP/AVP 96\r\na=control:trackID=0\r\na=rtpmap:96 H264/90000\r\n\
a=fmtp:96 packetization-mode=1;profile-level-id=4D002A;sprop-parameter-sets=Z00AKp2oHgCJ+WbgICAgQA==,aO48gA==\r\n\
m=audio 0 RTP/AVP 97\r\na=control:trackID=1\r\na=rtpmap:97 MPEG4-GENERIC/48000/2\r\n\
a=fmtp:97 streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1190\r\n\
m=application 0 RTP/AVP 107\r\na=control:trackID=4\r\na=rtpmap:107 vnd.onvif.metadata/90000\r\n";
    let d = parse(sdp.as_bytes(), "rtsp://cam/live/").unwrap();
    assert_eq!(d.media.len(), 3);
    assert_eq!(d.omitted, 0);
    let kinds: Vec<&str> = d.media.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, ["video", "audio", "application"]);
    let controls: Vec<&str> = d.media.iter().map(|m| m.control.as_str()).collect();
    assert_eq!(
        controls,
        [
            "rtsp://cam/live/trackID=0",
            "rtsp://cam/live/trackID=1",
            "rtsp://cam/live/trackID=4"
        ]
    );
    let audio = &d.media[1];
    assert_eq!(
        audio.rtpmaps,
        vec![RtpMap {
            payload_type: 97,
            encoding: "MPEG4-GENERIC".into(),
            clock_rate: 48000,
            channels: Some(2),
        }]
    );
    assert_eq!(audio.fmtp(97, "CONFIG"), Some("1190"));
    assert_eq!(audio.fmtp(97, "sizelength"), Some("13"));
    assert_eq!(
        audio.fmtp(96, "config"),
        None,
        "another payload type's fmtp"
    );
    assert_eq!(d.media[0].fmtp(96, "packetization-mode"), Some("1"));
    assert_eq!(d.media[2].summary(), "application vnd.onvif.metadata");
    assert!(d.media.iter().all(|m| m.connection.is_none()));
}

#[test]
fn gst_rtsp_server_sdp() {
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=Session\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n\
a=control:*\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
a=fmtp:96 packetization-mode=1;profile-level-id=42c01e;sprop-parameter-sets=Z0LAHtkA,aMuMsg==\r\n\
a=control:stream=0\r\n";
    let d = parse(sdp.as_bytes(), "rtsp://127.0.0.1:8554/test/").unwrap();
    let m = &d.media[0];
    assert_eq!(m.payload_types, [96]);
    assert_eq!(m.rtpmaps[0].clock_rate, 90000);
    assert_eq!(m.rtpmaps[0].channels, None);
    assert_eq!(m.control, "rtsp://127.0.0.1:8554/test/stream=0");
    assert_eq!(m.connection, None, "0.0.0.0 means the server address");
}

#[test]
fn broken_lines_and_vendor_media_are_kept_apart() {
    // TP-LINK: an application media whose m= line lists no number; IPCAM: trailing spaces; Ubiquiti:
    // a bare fmtp; no rtpmap clock rate means 90 kHz.
    let sdp = "v=0\nm=application/TP-LINK 0 RTP/AVP smart/1/90000\na=rtpmap:95 smart/1/90000\n\
m=video 0 RTP/AVP 97 96\na=control:track1\na=fmtp:96 profile-level-id=TeAo; packetization-mode=1\n\
a=rtpmap:96 h264 \na=fmtp:97\nnot a line\na=tool:LIVE555\n";
    let d = parse(sdp.as_bytes(), "rtsp://h/s?user=x").unwrap();
    assert_eq!(d.media.len(), 2);
    assert!(d.media[0].payload_types.is_empty());
    let v = &d.media[1];
    assert_eq!(v.payload_types, [97, 96]);
    assert_eq!(v.rtpmaps[0].encoding, "h264");
    assert_eq!(v.rtpmaps[0].clock_rate, 90000);
    assert_eq!(v.fmtps.len(), 1);
    assert_eq!(v.fmtp(96, "packetization-mode"), Some("1"));
    assert_eq!(v.control, "rtsp://h/s?user=x/track1");
}

#[test]
fn keyframe_request_feedback() {
    let sdp = "m=video 0 RTP/AVPF 96 97\r\na=rtpmap:96 H264/90000\r\na=rtcp-fb:96 nack pli\r\n\
a=rtcp-fb:* ccm  FIR\r\na=rtcp-fb:97 nack\r\n";
    let m = &parse(sdp.as_bytes(), "rtsp://h/").unwrap().media[0];
    assert!(m.has_feedback(96, "nack pli"));
    assert!(
        m.has_feedback(96, "ccm fir"),
        "* is every payload type; case and spaces folded"
    );
    assert!(!m.has_feedback(97, "nack pli"));
    assert!(m.has_feedback(97, "nack"));
    // A hostile SDP repeating rtcp-fb without end: a bounded number is kept.
    let many = format!(
        "m=video 0 RTP/AVP 96\n{}",
        "a=rtcp-fb:96 nack\n".repeat(10_000)
    );
    assert_eq!(
        parse(many.as_bytes(), "rtsp://h/").unwrap().media[0]
            .rtcp_fb
            .len(),
        MAX_RTCP_FB
    );
}

#[test]
fn session_level_connection_and_source_filter_are_inherited() {
    let sdp = "v=0\r\nc=IN IP4 232.1.1.1/127\r\na=source-filter: incl IN IP4 232.1.1.1 10.0.0.5\r\n\
m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
m=audio 5002 RTP/AVP 0\r\nc=IN IP4 232.1.1.2\r\na=source-filter: incl IN IP4 232.1.1.2 10.0.0.6\r\n";
    let d = parse(sdp.as_bytes(), "rtsp://h/").unwrap();
    assert_eq!(d.media[0].connection.as_deref(), Some("232.1.1.1"));
    assert_eq!(d.media[0].source_filter.as_deref(), Some("10.0.0.5"));
    assert_eq!(d.media[1].connection.as_deref(), Some("232.1.1.2"));
    assert_eq!(d.media[1].source_filter.as_deref(), Some("10.0.0.6"));
    assert_eq!(parse_source_filter("excl IN IP4 232.1.1.1 10.0.0.5"), None);
    assert_eq!(parse_source_filter("incl IN IP4"), None);
}

#[test]
fn control_joining() {
    assert_eq!(join_control("rtsp://h/s", Some("*")), "rtsp://h/s");
    assert_eq!(join_control("rtsp://h/s/", Some("t=1")), "rtsp://h/s/t=1");
    assert_eq!(join_control("rtsp://h/s", Some("rtsp://o/x")), "rtsp://o/x");
    assert_eq!(join_control("rtsp://h/s", None), "rtsp://h/s");
    // Anjvision: Content-Base without a scheme.
    let d = parse(
        b"m=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\na=control:track1",
        "192.168.1.10:554/stream0/",
    )
    .unwrap();
    assert_eq!(d.media[0].control, "rtsp://192.168.1.10:554/stream0/track1");
    // An absolute session-level control is every media's base.
    let d = parse(
        b"a=control:rtsp://other/agg/\nm=video 0 RTP/AVP 96\na=control:v",
        "rtsp://h/",
    )
    .unwrap();
    assert_eq!(d.media[0].control, "rtsp://other/agg/v");
}

#[test]
fn bounded_on_hostile_input() {
    assert_eq!(parse(b"\xff\xfe", "rtsp://h/"), Err(SdpError::NotUtf8));
    assert!(parse(b"", "rtsp://h/").unwrap().media.is_empty());
    // Thousands of media: MAX_MEDIA kept, the rest counted, and their lines do not reach the last one.
    let mut many = String::from("v=0\n");
    for i in 0..1000 {
        many.push_str(&format!(
            "m=audio 0 RTP/AVP {}\na=rtpmap:{} X{i}/8000\n",
            i % 128,
            i % 128
        ));
    }
    let d = parse(many.as_bytes(), "rtsp://h/").unwrap();
    assert_eq!(d.media.len(), MAX_MEDIA);
    assert_eq!(d.omitted, 1000 - MAX_MEDIA);
    assert_eq!(d.media[MAX_MEDIA - 1].rtpmaps.len(), 1);
    // Formats per media are bounded too.
    let pts: String = (0..128).map(|p| format!(" {p}")).collect();
    let d = parse(format!("m=video 0 RTP/AVP{pts}").as_bytes(), "rtsp://h/").unwrap();
    assert_eq!(d.media[0].payload_types.len(), MAX_FORMATS);
}

#[test]
fn direction_of_each_media_and_the_sessions_default() {
    // The ONVIF Streaming Specification's back channel example (§5.3.1): video and audio the camera
    // sends, then the audio it receives.
    let sdp = "v=0\r\no=- 2890842807 1 IN IP4 192.168.0.1\r\ns=RTSP Session with audiobackchannel\r\n\
m=video 0 RTP/AVP 26\r\na=control:rtsp://192.168.0.1/video\r\na=recvonly\r\n\
m=audio 0 RTP/AVP 0\r\na=control:rtsp://192.168.0.1/audio\r\na=recvonly\r\n\
m=audio 0 RTP/AVP 0\r\na=control:rtsp://192.168.0.1/audioback\r\na=rtpmap:0 PCMU/8000\r\na=sendonly\r\n";
    let d = parse(sdp.as_bytes(), "rtsp://192.168.0.1/").unwrap();
    let dirs: Vec<Direction> = d.media.iter().map(|m| m.direction).collect();
    assert_eq!(
        dirs,
        [
            Direction::RecvOnly,
            Direction::RecvOnly,
            Direction::SendOnly
        ]
    );
    // Nothing said: sendrecv. A session-level attribute is every media's default.
    let sdp = "v=0\r\na=inactive\r\nm=video 0 RTP/AVP 96\r\nm=audio 0 RTP/AVP 0\r\na=sendrecv\r\n";
    let d = parse(sdp.as_bytes(), "rtsp://cam/").unwrap();
    assert_eq!(d.media[0].direction, Direction::Inactive);
    assert_eq!(d.media[1].direction, Direction::SendRecv);
    let d = parse(b"v=0\r\nm=video 0 RTP/AVP 96\r\n", "rtsp://cam/").unwrap();
    assert_eq!(d.media[0].direction, Direction::SendRecv);
}

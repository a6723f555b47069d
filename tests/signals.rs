//! rtspsrc's signals, against gst-rtsp-server serving H.264 and AAC: `select-stream` is asked about
//! every stream before its SETUP, with rtspsrc's `application/x-rtp` caps, and a stream it refuses is
//! not set up (no pad, no bandwidth); refusing the video fails with a message that says so; `on-sdp`
//! hands over the SDP as a GstSDPMessage; and a refused stream gets no SETUP (the fake camera counts
//! them). Over UDP and TCP.

mod common;

use common::av::{record_av_with, AvRecording};
use common::server::{ServerOptions, TestServer};
use gst::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn server() -> TestServer {
    common::init();
    TestServer::start(ServerOptions {
        audio: Some("aac"),
        ..Default::default()
    })
    .expect("RTSP test server")
}

/// Records with `streams=all`, answering `select-stream` with `accept(media)`; returns the recording
/// and what the signal was asked: (stream number, media, encoding-name, clock-rate).
fn record_selecting(
    protocols: &str,
    accept: fn(&str) -> bool,
) -> (AvRecording, Vec<(u32, String, String, i32)>) {
    let srv = server();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let a = asked.clone();
    let rec = record_av_with(
        &srv.url(),
        &[("protocols", protocols), ("streams", "all")],
        30,
        Duration::from_secs(20),
        move |src| {
            src.connect("select-stream", false, move |args| {
                let num = args[1].get::<u32>().unwrap();
                let caps = args[2].get::<gst::Caps>().unwrap();
                let s = caps.structure(0).unwrap();
                assert_eq!(s.name(), "application/x-rtp");
                let media = s.get::<String>("media").unwrap();
                a.lock().unwrap().push((
                    num,
                    media.clone(),
                    s.get::<String>("encoding-name").unwrap(),
                    s.get::<i32>("clock-rate").unwrap(),
                ));
                Some(accept(&media).to_value())
            });
        },
    );
    let asked = asked.lock().unwrap().clone();
    (rec, asked)
}

fn select_stream_leaves_the_audio_out(protocols: &str) {
    let (rec, asked) = record_selecting(protocols, |media| media != "audio");
    assert!(rec.errors.is_empty(), "{protocols}: {:?}", rec.errors);
    assert_eq!(
        asked,
        [
            (0, "video".into(), "H264".into(), 90000),
            (1, "audio".into(), "MPEG4-GENERIC".into(), 16000)
        ],
        "{protocols}"
    );
    assert!(rec.side_pads.is_empty(), "{protocols}: {:?}", rec.side_pads);
    assert!(rec.no_more_pads, "{protocols}");
    assert!(rec.video_pts.len() >= 30, "{protocols}");
}

fn select_stream_accepting_all_gives_every_pad(protocols: &str) {
    let (rec, asked) = record_selecting(protocols, |_| true);
    assert!(rec.errors.is_empty(), "{protocols}: {:?}", rec.errors);
    assert_eq!(asked.len(), 2, "{protocols}: {asked:?}");
    assert_eq!(rec.side_pads, ["audio_0"], "{protocols}");
}

fn refusing_the_video_fails_with_the_reason(protocols: &str) {
    let (rec, _) = record_selecting(protocols, |media| media != "video");
    assert!(
        rec.errors
            .iter()
            .any(|e| e.contains("select-stream refused every video")),
        "{protocols}: {:?}",
        rec.errors
    );
}

fn on_sdp_gives_the_parsed_sdp(protocols: &str) {
    let srv = server();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let rec = record_av_with(
        &srv.url(),
        &[("protocols", protocols)],
        10,
        Duration::from_secs(20),
        move |src| {
            src.connect("on-sdp", false, move |args| {
                let sdp = args[1].get::<gst_sdp::SDPMessage>().unwrap();
                let media: Vec<String> = sdp
                    .medias()
                    .map(|m| {
                        format!(
                            "{} {}",
                            m.media().unwrap_or_default(),
                            m.attribute_val("rtpmap").unwrap_or_default()
                        )
                    })
                    .collect();
                s.lock().unwrap().push(media);
                None
            });
        },
    );
    assert!(rec.errors.is_empty(), "{protocols}: {:?}", rec.errors);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "{protocols}: once per session");
    assert_eq!(
        seen[0],
        ["video 96 H264/90000", "audio 97 MPEG4-GENERIC/16000/1"],
        "{protocols}"
    );
}

over_udp_and_tcp! {
    select_stream_leaves_the_audio_out => super::select_stream_leaves_the_audio_out;
    select_stream_accepting_all_gives_every_pad => super::select_stream_accepting_all_gives_every_pad;
    refusing_the_video_fails_with_the_reason => super::refusing_the_video_fails_with_the_reason;
    on_sdp_gives_the_parsed_sdp => super::on_sdp_gives_the_parsed_sdp;
}

/// A stream `select-stream` refuses costs no bandwidth: the camera sees one SETUP, the video's.
fn a_refused_stream_is_not_set_up(protocols: &str) {
    common::init();
    let cam = common::fake_camera::FakeCamera::start(common::fake_camera::Script {
        audio: Some(common::audio_clips::pcmu()),
        ..Default::default()
    });
    let rec = record_av_with(
        &cam.url(),
        &[("protocols", protocols)],
        30,
        Duration::from_secs(20),
        |src| {
            src.connect("select-stream", false, |args| {
                let caps = args[2].get::<gst::Caps>().unwrap();
                let media = caps.structure(0).unwrap().get::<String>("media").unwrap();
                Some((media == "video").to_value())
            });
        },
    );
    assert!(rec.errors.is_empty(), "{protocols}: {:?}", rec.errors);
    assert!(rec.side_pads.is_empty(), "{protocols}");
    assert_eq!(
        cam.shared.count("SETUP"),
        1,
        "{protocols}: {:?}",
        cam.shared.requests()
    );
}

over_udp_and_tcp! {
    a_refused_stream_is_not_set_up => super::a_refused_stream_is_not_set_up;
}

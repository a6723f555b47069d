//! The streams a camera offers, as a GstStreamCollection (what decodebin3, uridecodebin3 and playbin3
//! read): posted after DESCRIBE and before any SETUP, and sent down the pads; a `select-streams` answer
//! from a bus sync handler decides which audio is set up. Over UDP and TCP, against the fake camera
//! with two audio tracks beside its video.

mod common;

use common::av::record_av_with;
use common::fake_camera::{FakeAudio, FakeCamera, Script};
use gst::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn camera_with_two_audio_tracks() -> FakeCamera {
    FakeCamera::start(Script {
        audio: Some(FakeAudio {
            tracks: 2,
            ..common::audio_clips::pcmu()
        }),
        ..Default::default()
    })
}

#[derive(Debug, Default)]
struct Seen {
    /// The collection's streams: id, type, flags, caps.
    offered: Vec<(String, gst::StreamType, gst::StreamFlags, Option<gst::Caps>)>,
    /// A stream-collection event went down the src pad.
    on_video_pad: bool,
    /// Each side pad's stream-start id, and whether it carries the collection.
    side: Vec<(String, bool)>,
}

/// Records the camera; with `choose`, a bus sync handler answers the collection by selecting the
/// video and the stream `choose` picks from the offered ones.
fn record(
    cam: &FakeCamera,
    protocols: &str,
    choose: Option<fn(&[String]) -> String>,
) -> (Arc<Mutex<Seen>>, common::av::AvRecording) {
    common::init();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    let rec = record_av_with(
        &cam.url(),
        &[("protocols", protocols)],
        30,
        Duration::from_secs(20),
        move |src| {
            let pipeline = src.parent().unwrap().downcast::<gst::Pipeline>().unwrap();
            let (weak, seen) = (src.downgrade(), s.clone());
            pipeline.bus().unwrap().set_sync_handler(move |_, msg| {
                let gst::MessageView::StreamCollection(c) = msg.view() else {
                    return gst::BusSyncReply::Pass;
                };
                let collection = c.stream_collection();
                let offered: Vec<_> = collection
                    .iter()
                    .map(|st| {
                        let id = st.stream_id().map(|i| i.to_string()).unwrap_or_default();
                        (id, st.stream_type(), st.stream_flags(), st.caps())
                    })
                    .collect();
                let ids: Vec<String> = offered.iter().map(|o| o.0.clone()).collect();
                seen.lock().unwrap().offered = offered;
                if let (Some(choose), Some(src)) = (choose, weak.upgrade()) {
                    let picked = [ids[0].as_str(), choose(&ids).as_str()]
                        .map(str::to_string)
                        .to_vec();
                    assert!(src.send_event(gst::event::SelectStreams::new(
                        picked.iter().map(|s| s.as_str())
                    )));
                }
                gst::BusSyncReply::Pass
            });
            let seen = s.clone();
            src.static_pad("src").unwrap().add_probe(
                gst::PadProbeType::EVENT_DOWNSTREAM,
                move |_, info| {
                    if let Some(gst::PadProbeData::Event(e)) = &info.data {
                        if e.type_() == gst::EventType::StreamCollection {
                            seen.lock().unwrap().on_video_pad = true;
                        }
                    }
                    gst::PadProbeReturn::Ok
                },
            );
            let seen = s.clone();
            src.connect_pad_added(move |_, pad| {
                if pad.name() == "src" {
                    return;
                }
                let id = pad
                    .sticky_event::<gst::event::StreamStart>(0)
                    .map(|e| e.stream_id().to_string())
                    .unwrap_or_default();
                let has = pad
                    .sticky_event::<gst::event::StreamCollection>(0)
                    .is_some();
                seen.lock().unwrap().side.push((id, has));
            });
        },
    );
    assert!(rec.errors.is_empty(), "{protocols}: {:?}", rec.errors);
    (seen, rec)
}

/// Without an answer: every playable stream offered, the default ones (the video and the first audio)
/// flagged SELECT and set up, the ids those of the pads that carry them.
fn offered_before_setup(protocols: &str) {
    let cam = camera_with_two_audio_tracks();
    let (seen, rec) = record(&cam, protocols, None);
    let seen = seen.lock().unwrap();
    let kinds: Vec<_> = seen.offered.iter().map(|o| (o.1, o.2)).collect();
    assert_eq!(
        kinds,
        [
            (gst::StreamType::VIDEO, gst::StreamFlags::SELECT),
            (gst::StreamType::AUDIO, gst::StreamFlags::SELECT),
            (gst::StreamType::AUDIO, gst::StreamFlags::empty()),
        ],
        "{protocols}: {:?}",
        seen.offered
    );
    let video = &seen.offered[0];
    assert_eq!(
        video
            .3
            .as_ref()
            .and_then(|c| c.structure(0))
            .map(|s| s.name().to_string()),
        Some("video/x-h264".to_string())
    );
    let audio_caps = seen.offered[1].3.as_ref().unwrap();
    assert_eq!(audio_caps.structure(0).unwrap().name(), "audio/x-mulaw");
    assert!(seen.offered[1].0.starts_with(&video.0) && seen.offered[1].0.ends_with("/media1"));
    assert!(
        seen.on_video_pad,
        "{protocols}: no stream-collection event on src"
    );
    assert_eq!(
        seen.side,
        [(seen.offered[1].0.clone(), true)],
        "{protocols}"
    );
    assert_eq!(rec.side_pads, ["audio_0"]);
    assert_eq!(cam.shared.count("SETUP"), 2, "{protocols}");
}

/// A select-streams answer before the SETUPs: the second audio track is set up instead of the first.
fn selection_before_setup(protocols: &str) {
    let cam = camera_with_two_audio_tracks();
    let (seen, rec) = record(&cam, protocols, Some(|ids| ids[2].clone()));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.offered.len(), 3, "{protocols}");
    assert_eq!(
        seen.side,
        [(seen.offered[2].0.clone(), true)],
        "{protocols}: the second audio's pad"
    );
    assert!(seen.side[0].0.ends_with("/media2"));
    assert_eq!(rec.side_pads, ["audio_0"]);
    assert!(rec.side[0].len() > 10, "{protocols}: its audio flowed");
    assert_eq!(cam.shared.count("SETUP"), 2, "{protocols}");
}

/// gst-rtsp-server's video and AAC: the same collection from a real server, the AAC pad's stream-start
/// id the collection's.
fn offered_by_gst_rtsp_server(protocols: &str) {
    common::init();
    let srv = common::server::TestServer::start(common::server::ServerOptions {
        audio: Some("aac"),
        ..Default::default()
    })
    .expect("RTSP test server");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let ids = Arc::new(Mutex::new(Vec::new()));
    let i = ids.clone();
    let rec = record_av_with(
        &srv.url(),
        &[("protocols", protocols)],
        30,
        Duration::from_secs(20),
        move |src| {
            let bus = src
                .parent()
                .unwrap()
                .downcast::<gst::Pipeline>()
                .unwrap()
                .bus()
                .unwrap();
            bus.set_sync_handler(move |_, msg| {
                if let gst::MessageView::StreamCollection(c) = msg.view() {
                    *s.lock().unwrap() = c
                        .stream_collection()
                        .iter()
                        .map(|st| (st.stream_id().map(|i| i.to_string()), st.stream_type()))
                        .collect();
                }
                gst::BusSyncReply::Pass
            });
            src.connect_pad_added(move |_, pad| {
                if let Some(e) = pad.sticky_event::<gst::event::StreamStart>(0) {
                    i.lock().unwrap().push(e.stream_id().to_string());
                }
            });
        },
    );
    assert!(rec.errors.is_empty(), "{protocols}: {:?}", rec.errors);
    let seen = seen.lock().unwrap();
    let types: Vec<_> = seen.iter().map(|(_, t)| *t).collect();
    assert_eq!(
        types,
        [gst::StreamType::VIDEO, gst::StreamType::AUDIO],
        "{protocols}"
    );
    assert_eq!(rec.side_pads, ["audio_0"]);
    assert_eq!(
        ids.lock().unwrap().as_slice(),
        [seen[1].0.clone().unwrap()],
        "{protocols}"
    );
}

/// A selection is for the run it came in: the same element started again (NULL and back, perhaps for
/// another camera) sets up the defaults.
#[test]
fn a_selection_ends_with_its_run() {
    common::init();
    let cam = camera_with_two_audio_tracks();
    let (pipeline, src, _video) = common::video_pipeline(&cam.url(), &[]);
    let side_ids = Arc::new(Mutex::new(Vec::new()));
    let ids = side_ids.clone();
    src.connect_pad_added(move |_, pad| {
        if let Some(e) = pad.sticky_event::<gst::event::StreamStart>(0) {
            ids.lock().unwrap().push(e.stream_id().to_string());
        }
    });
    let bus = pipeline.bus().unwrap();
    for select_second in [true, false] {
        let weak = src.downgrade();
        bus.set_sync_handler(move |_, msg| {
            if let (gst::MessageView::StreamCollection(c), true) = (msg.view(), select_second) {
                let ids: Vec<String> = c
                    .stream_collection()
                    .iter()
                    .filter_map(|st| st.stream_id().map(|i| i.to_string()))
                    .collect();
                if let Some(src) = weak.upgrade() {
                    let picked = [ids[0].as_str(), ids[2].as_str()];
                    src.send_event(gst::event::SelectStreams::new(picked));
                }
            }
            gst::BusSyncReply::Pass
        });
        side_ids.lock().unwrap().clear();
        pipeline.set_state(gst::State::Playing).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while side_ids.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        pipeline.set_state(gst::State::Null).unwrap();
        let got = side_ids.lock().unwrap().clone();
        let want = if select_second { "/media2" } else { "/media1" };
        assert!(
            got.len() == 1 && got[0].ends_with(want),
            "select_second {select_second}: {got:?}"
        );
    }
}

over_udp_and_tcp! {
    offered_by_gst_rtsp_server => super::offered_by_gst_rtsp_server;
    offered_before_setup => super::offered_before_setup;
    selection_before_setup => super::selection_before_setup;
}

//! Under playbin, playbin3 and uridecodebin3, an rtsp:// URI plays video and audio through
//! `rustrtspbin` once its rank is raised over rtspsrc's (GST_PLUGIN_FEATURE_RANK=rustrtspbin:MAX, or
//! the registry in process): both decoded by the decoders those bins choose, the audio the server's
//! 440 Hz tone. Against gst-rtsp-server sending H.264 and AAC, over UDP and TCP (set through the
//! child `src` in `source-setup`, as applications configure the source).

mod common;

use common::av::Decoded;
use common::server::{ServerOptions, TestServer};
use gst::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn server() -> TestServer {
    common::init();
    // Above rtspsrc's PRIMARY: uridecodebin picks the highest-ranked URI handler.
    let bin = gst::Registry::get()
        .lookup_feature("rustrtspbin")
        .expect("rustrtspbin is registered");
    bin.set_rank(gst::Rank::PRIMARY + 100);
    TestServer::start(ServerOptions {
        audio: Some("aac"),
        ..Default::default()
    })
    .expect("RTSP test server")
}

#[derive(Default)]
struct Played {
    video_frames: usize,
    audio: Vec<i16>,
    audio_rate: u32,
}

/// An appsink taking raw `media` (S16LE mono for audio) into `played`.
fn sink(media: &str, played: Arc<Mutex<Played>>) -> gst_app::AppSink {
    let audio = media == "audio";
    let caps = match audio {
        true => gst::Caps::builder("audio/x-raw")
            .field("format", "S16LE")
            .field("channels", 1i32)
            .build(),
        false => gst::Caps::new_empty_simple("video/x-raw"),
    };
    let sink = gst_app::AppSink::builder().caps(&caps).sync(false).build();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                let sample = s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let mut p = played.lock().unwrap();
                if !audio {
                    p.video_frames += 1;
                    return Ok(gst::FlowSuccess::Ok);
                }
                let rate = sample
                    .caps()
                    .and_then(|c| c.structure(0)?.get::<i32>("rate").ok())
                    .unwrap_or(0);
                p.audio_rate = u32::try_from(rate).unwrap_or(0);
                let buf = sample.buffer().ok_or(gst::FlowError::Error)?;
                let map = buf.map_readable().map_err(|_| gst::FlowError::Error)?;
                p.audio.extend(
                    map.chunks_exact(2)
                        .map(|b| i16::from_le_bytes([b[0], b[1]])),
                );
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    sink
}

/// Plays the server's URI with `player` (playbin or playbin3) over `protocols` until 60 video frames
/// and 2 s of audio came; fails the test on an error or after 20 s.
fn plays_video_and_audio(player: &str, protocols: &str) {
    let srv = server();
    let played = Arc::new(Mutex::new(Played::default()));
    let pipeline = gst::ElementFactory::make(player)
        .property("uri", srv.url())
        .property("video-sink", sink("video", played.clone()))
        .property("audio-sink", sink("audio", played.clone()))
        .build()
        .unwrap();
    let source = Arc::new(Mutex::new(None::<String>));
    let (s, protocols_owned) = (source.clone(), protocols.to_string());
    pipeline.connect("source-setup", false, move |args| {
        let src = args[1].get::<gst::Element>().unwrap();
        *s.lock().unwrap() = src.factory().map(|f| f.name().to_string());
        if let Some(proxy) = src.dynamic_cast_ref::<gst::ChildProxy>() {
            proxy.set_child_property_from_str("src::protocols", &protocols_owned);
        }
        None
    });
    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let start = Instant::now();
    loop {
        {
            let p = played.lock().unwrap();
            if p.video_frames >= 60
                && p.audio_rate > 0
                && p.audio.len() >= 2 * p.audio_rate as usize
            {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{player} {protocols}: {} video frames, {} audio samples",
                p.video_frames,
                p.audio.len()
            );
        }
        if let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(20)) {
            if let gst::MessageView::Error(e) = msg.view() {
                panic!("{player} {protocols}: {} {:?}", e.error(), e.debug());
            }
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    assert_eq!(
        source.lock().unwrap().as_deref(),
        Some("rustrtspbin"),
        "{player} {protocols}"
    );
    let p = played.lock().unwrap();
    Decoded {
        first_channel: p.audio.clone(),
        rate: p.audio_rate,
        errors: Vec::new(),
    }
    .assert_source_tone(&format!("{player} {protocols}"));
}

fn playbin(protocols: &str) {
    plays_video_and_audio("playbin", protocols);
}

fn playbin3(protocols: &str) {
    plays_video_and_audio("playbin3", protocols);
}

over_udp_and_tcp! {
    playbin => super::playbin;
    playbin3 => super::playbin3;
}

/// The README's command: the rank raised through the environment, the plugin loaded from its file;
/// video and audio come out decoded (gst-launch -v prints raw caps on the pads after the decoders),
/// then it is stopped. Raw caps anywhere, not a decoder's own pad: gst-launch 1.22 now and then
/// prints no line for a pad whose caps did change (a run had avdec_h264 decoding, its peer's raw caps
/// printed, its own missing).
///
/// One more attempt when the first shows only one of the two decoded: in about one full-suite run in
/// twenty on a loaded machine, playbin3 1.22 under `gst-launch -v` left a stream undecoded although our
/// bin had exposed it with caps (decodebin3 never made the AAC decoder after the audio reached its
/// multiqueue). The in-process playbin3 tests above, without -v, have not shown it. A bin that does
/// not play fails both attempts; both outputs are printed.
#[test]
fn gst_launch_playbin3_with_the_rank_raised() {
    let srv = server();
    let dir = common::cargo_build(&["--lib", "--quiet"]);
    let first = match playbin3_launch(&dir, &srv.url()) {
        Ok(()) => return,
        Err(e) => e,
    };
    if let Err(second) = playbin3_launch(&dir, &srv.url()) {
        panic!("first attempt: {first}\n\nsecond attempt: {second}");
    }
}

/// One run of the README's playbin3 command: `Err` with what was missing and gst-launch's output.
fn playbin3_launch(dir: &std::path::Path, url: &str) -> Result<(), String> {
    use std::io::BufRead;
    // Line-buffered (coreutils' stdbuf): into a pipe, gst-launch's stdout is otherwise flushed per
    // 4 KiB, and the last caps lines may wait in its buffer for output that never comes.
    let mut child = std::process::Command::new("stdbuf")
        .args([
            "-oL",
            "gst-launch-1.0",
            "-v",
            "playbin3",
            &format!("uri={url}"),
        ])
        .args(["video-sink=fakesink", "audio-sink=fakesink"])
        .env("GST_PLUGIN_PATH", dir)
        .env("GST_PLUGIN_FEATURE_RANK", "rustrtspbin:MAX")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("stdbuf (coreutils) and gst-launch-1.0 (gstreamer1.0-tools from scripts/setup.sh)");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let wanted = ["caps = video/x-raw", "caps = audio/x-raw", "GstRustRtspBin"];
    while !wanted
        .iter()
        .all(|w| seen.iter().any(|l: &String| l.contains(w)))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    match wanted.iter().find(|w| !seen.iter().any(|l| l.contains(*w))) {
        None => Ok(()),
        Some(w) => Err(format!(
            "no line with {w} in 20 s of gst-launch -v: {}",
            seen.join("\n")
        )),
    }
}

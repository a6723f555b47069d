//! Audio beside the video, against a real RTSP server (gst-rtsp-server, 127.0.0.1) sending H.264 and
//! one audio codec: the video on the src pad as before, the audio on `audio_0`, decoded by GStreamer's
//! decoders, as long as the video, over UDP and TCP.

mod common;

use common::av::{av_offset, decode, record_av};
use common::server::{ServerOptions, TestServer};
use gst::prelude::*;
use std::time::Duration;

/// Video frames recorded: 3 s at 30 fps.
const FRAMES: usize = 90;

fn server(audio: &'static str) -> TestServer {
    common::init();
    TestServer::start(ServerOptions {
        audio: Some(audio),
        ..Default::default()
    })
    .expect("RTSP test server")
}

/// Records `audio` beside the video over `protocols` and checks the audio pad: its caps' media type,
/// PTS that increase, durations that add up to its PTS span, decoded samples as long as the video's
/// span (within 2 %, the encoder's priming and a packet at either end aside) and the server's tone.
fn records_audio(audio: &'static str, protocols: &str, media_type: &str) {
    let srv = server(audio);
    check_audio(&srv.url(), &[("protocols", protocols)], audio, media_type);
}

/// Records `url` with `props` and checks its `audio` pad as `records_audio` says.
fn check_audio(url: &str, props: &[(&str, &str)], audio: &str, media_type: &str) {
    let rec = record_av(url, props, FRAMES, Duration::from_secs(20));
    assert!(rec.errors.is_empty(), "{:?}", rec.errors);
    assert_eq!(rec.side_pads, ["audio_0"]);
    assert!(rec.no_more_pads);
    let caps = &rec.side_caps[0];
    assert_eq!(
        caps.structure(0).unwrap().name().as_str(),
        media_type,
        "{caps}"
    );
    let frames = &rec.side[0];
    assert!(frames.len() > 20, "{} audio buffers", frames.len());
    let pts: Vec<u64> = frames.iter().map(|f| f.pts.unwrap().nseconds()).collect();
    assert!(pts.windows(2).all(|w| w[0] < w[1]), "audio PTS increase");
    let durations: u64 = frames[..frames.len() - 1]
        .iter()
        .map(|f| {
            f.duration
                .expect("every audio buffer has a duration")
                .nseconds()
        })
        .sum();
    let span = pts[pts.len() - 1] - pts[0];
    // Lip-sync moves the audio into place once the server's first sender reports came, at 1/25 of
    // the time passed at most (element/timing.rs): no jump, and PTS that run up to 4 % off the
    // durations while it does.
    assert!(
        durations.abs_diff(span) < span / 25 + 20_000_000,
        "durations {durations} ns against a PTS span of {span} ns"
    );
    let d = decode(caps, frames);
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let decoded = d.first_channel.len() as f64 / f64::from(d.rate);
    d.assert_source_tone(audio);
    // Every frame decodes to what its duration says (AAC's 1024-sample priming aside).
    let last = frames[frames.len() - 1].duration.unwrap().nseconds();
    let pushed = (durations + last) as f64 / 1e9;
    assert!(
        (decoded - pushed).abs() < 0.05,
        "{decoded:.3} s of {audio} decoded from {pushed:.3} s of buffers"
    );
    // The audio covers the video, but for a packet or two still on their way when the recording
    // stops. It may start earlier: what came before the first picture (a keyframe away, later still
    // on a loaded machine) waits for it and goes out in its place.
    let (v0, v1) = (rec.video_pts[0], rec.video_pts[rec.video_pts.len() - 1]);
    let (a0, a1) = (pts[0], pts[pts.len() - 1] + last);
    assert!(
        a0 <= v0 + 100_000_000 && a1 + 250_000_000 >= v1 && v0 - a0.min(v0) < 2_100_000_000,
        "{audio} from {a0} to {a1} ns, the video from {v0} to {v1} ns"
    );
}

macro_rules! audio_tests {
    ($($name:ident: $codec:expr, $media_type:expr;)*) => {
        mod udp {
            $(#[test] fn $name() { super::records_audio($codec, "udp", $media_type) })*
        }
        mod tcp {
            $(#[test] fn $name() { super::records_audio($codec, "tcp", $media_type) })*
        }
    };
}

audio_tests! {
    aac: "aac", "audio/mpeg";
    latm: "latm", "audio/mpeg";
    pcma: "pcma", "audio/x-alaw";
    pcmu: "pcmu", "audio/x-mulaw";
    l16: "l16", "audio/x-raw";
    g722: "g722", "audio/G722";
    g726: "g726", "audio/x-adpcm";
    opus: "opus", "audio/x-opus";
}

/// AAC beside the video from gst-rtsp-server over RTSPS (a certificate made at run time, validation
/// off), RTP over UDP or interleaved on the TLS connection.
fn aac_over_tls(protocols: &str) {
    common::init();
    let cert = common::certs::self_signed();
    let srv = TestServer::start(ServerOptions {
        audio: Some("aac"),
        tls_pem: Some(cert.pem.clone()),
        ..Default::default()
    })
    .expect("gst-rtsp-server with TLS (needs glib-networking)");
    let props = [("protocols", protocols), ("tls-validation-flags", "0")];
    check_audio(&srv.url(), &props, "aac", "audio/mpeg");
}

over_udp_and_tcp! {
    aac_over_tls => super::aac_over_tls;
}

/// Lip-sync: gst-rtsp-server's sender reports say when each AAC and video frame was captured (both from
/// one pipeline clock). The server holds its audio back 300 ms before sending it (as cameras that
/// buffer their audio do), so audio placed by its arrival is 300 ms late; placed by the reports, the
/// audio pad's frames go out as far from the video's as the server captured them, within 5 ms.
fn audio_in_sync_with_the_video(protocols: &str) {
    common::init();
    let srv = TestServer::start(ServerOptions {
        audio: Some("aac"),
        audio_held_ms: 300,
        ..Default::default()
    })
    .expect("RTSP test server");
    // 12 s: the server's first sender reports come after 1 to 4 s, and the audio then slews into
    // place at 40 ms a second (element/timing.rs: no jump in the audio).
    let rec = record_av(
        &srv.url(),
        &[("protocols", protocols)],
        360,
        Duration::from_secs(30),
    );
    assert!(rec.errors.is_empty(), "{protocols}: {:?}", rec.errors);
    let offset = av_offset(&rec, 0, 1_500_000_000);
    assert!(
        offset.abs() <= 5_000_000,
        "{protocols}: audio {:.1} ms off the video",
        offset as f64 / 1e6
    );
}

over_udp_and_tcp! {
    audio_in_sync_with_the_video => super::audio_in_sync_with_the_video;
}

/// The README's gst-launch lines: video and AAC audio into Matroska and MP4 files that ffprobe reads
/// with both streams, each as long as the recording, and that ffmpeg decodes without a complaint.
fn into_files(protocols: &str) {
    let srv = server("aac");
    for (mux, audio) in [("matroskamux", "queue"), ("mp4mux", "aacparse ! queue")] {
        let context = format!("{protocols}, {mux}");
        let path = std::env::temp_dir().join(format!(
            "rustrtspsrc-audio-{}-{protocols}.{mux}",
            std::process::id()
        ));
        common::launch_for(
            &format!(
                "rustrtspsrc location={} protocols={protocols} name=cam \
                 cam. ! h264parse ! queue ! {mux} name=mux ! filesink location={} \
                 cam.audio_0 ! {audio} ! mux.audio_0",
                srv.url(),
                path.display()
            ),
            Duration::from_secs(4),
            &context,
        );
        let (codecs, duration) = common::codecs_and_duration(&path);
        assert_eq!(codecs, ["h264", "aac"], "{context}");
        assert!(duration > 3.0, "{context}: {duration} s");
        let complaints = common::ffmpeg_complaints(&path);
        assert!(complaints.is_empty(), "{context}: {complaints}");
        let _ = std::fs::remove_file(&path);
    }
}

over_udp_and_tcp! {
    into_files => super::into_files;
}

#[test]
fn video_only_sets_up_no_audio() {
    let srv = server("aac");
    let rec = record_av(
        &srv.url(),
        &[("streams", "video")],
        30,
        Duration::from_secs(20),
    );
    assert!(rec.errors.is_empty(), "{:?}", rec.errors);
    assert!(rec.side_pads.is_empty());
}

/// A pipeline set straight to PLAYING, a sink on the video and one on the audio, both waiting for
/// preroll (async, the default): both get their buffers. The video's first buffer waits in its sink
/// for the pipeline's PLAYING, which waits for the audio sink's preroll, which the element's audio
/// pad gives with a gap before the first frame comes.
fn sinks_that_preroll_on_both_pads(protocols: &str) {
    let srv = server("aac");
    let pipeline = gst::parse::launch(&format!(
        "rustrtspsrc location={} protocols={protocols} name=s \
         s.src ! appsink name=v sync=true s.audio_0 ! appsink name=a sync=true",
        srv.url()
    ))
    .unwrap();
    let bin = pipeline.downcast_ref::<gst::Bin>().unwrap();
    let counts: Vec<std::sync::Arc<std::sync::atomic::AtomicUsize>> = ["v", "a"]
        .iter()
        .map(|name| {
            let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let c = count.clone();
            let sink = bin
                .by_name(name)
                .unwrap()
                .downcast::<gst_app::AppSink>()
                .unwrap();
            sink.set_callbacks(
                gst_app::AppSinkCallbacks::builder()
                    .new_sample(move |s| {
                        s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                        c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        Ok(gst::FlowSuccess::Ok)
                    })
                    .build(),
            );
            count
        })
        .collect();
    pipeline.set_state(gst::State::Playing).unwrap();
    let start = std::time::Instant::now();
    let got = || {
        counts
            .iter()
            .map(|c| c.load(std::sync::atomic::Ordering::SeqCst))
            .collect::<Vec<_>>()
    };
    while got().iter().any(|&n| n < 30) && start.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(50));
    }
    pipeline.set_state(gst::State::Null).unwrap();
    let got = got();
    assert!(
        got.iter().all(|&n| n >= 30),
        "{protocols}: video and audio buffers {got:?}"
    );
}

over_udp_and_tcp! {
    sinks_that_preroll_on_both_pads => super::sinks_that_preroll_on_both_pads;
}

/// The mission's pipeline, `rustrtspsrc ! filesink`, against a camera that also sends audio: the
/// video file as before (the audio pad, unlinked, stops nothing), every picture decoding.
fn mission_pipeline_records_the_video(protocols: &str) {
    let srv = server("aac");
    let recorded = common::launch_to_file(
        &format!("rustrtspsrc location={} protocols={protocols}", srv.url()),
        Duration::from_secs(3),
        protocols,
    );
    let (decoded, problems) = common::decode(&recorded);
    assert!(
        decoded >= 75 && problems.is_empty(),
        "{protocols}: {decoded} pictures, {problems:?}"
    );
}

over_udp_and_tcp! {
    mission_pipeline_records_the_video => super::mission_pipeline_records_the_video;
}

/// Stopping a pipeline whose audio pad's task waits for frames is prompt: deactivating the pad wakes
/// the task (it no longer polls), and a full queue, downstream blocked, does not hold the stop either.
fn stopping_with_audio_pads_is_prompt(protocols: &str) {
    let srv = server("aac");
    for blocked in [false, true] {
        // A blocked audio sink: its appsink holds one sample and takes no more (max-buffers 1, drop
        // false), so the pad's queue fills behind it.
        let pipeline = gst::parse::launch(&format!(
            "rustrtspsrc location={} protocols={protocols} name=s s.src ! fakesink sync=false \
             s.audio_0 ! appsink name=a sync=false async=false max-buffers=1 emit-signals=false {}",
            srv.url(),
            if blocked { "drop=false" } else { "drop=true" }
        ))
        .unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        let sink = pipeline
            .downcast_ref::<gst::Bin>()
            .unwrap()
            .by_name("a")
            .unwrap();
        let waiting = std::time::Instant::now();
        while sink
            .property::<Option<gst::Sample>>("last-sample")
            .is_none()
        {
            assert!(
                waiting.elapsed() < Duration::from_secs(15),
                "{protocols}: no audio reached the sink"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Then the blocked sink's queue fills behind it (frames of 64 ms).
        std::thread::sleep(Duration::from_secs(1));
        let start = std::time::Instant::now();
        pipeline.set_state(gst::State::Null).unwrap();
        let took = start.elapsed();
        assert!(
            took < Duration::from_millis(1500),
            "{protocols}, blocked {blocked}: stopping took {took:?}"
        );
    }
}

over_udp_and_tcp! {
    stopping_with_audio_pads_is_prompt => super::stopping_with_audio_pads_is_prompt;
}

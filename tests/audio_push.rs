//! How the audio goes out beside the video (gst-rtsp-server, 127.0.0.1, H.264 and AAC): once its sink
//! has prerolled, each audio frame is pushed by the thread that pushes the video, with the picture it
//! came with, and over UDP the audio packets wake the receive loop no more than the pictures do. A
//! thread wake-up per audio frame (a pad task fed by a queue) or a loop wake-up per audio packet
//! cost more than the video's whole reading (BENCHMARKS.md, "Audio beside the video").
//!
//! And what that must not break: with a 1 fps video (a substream) the audio still goes out as it
//! comes, not a picture later.

mod common;

use common::server::{ServerOptions, TestServer};
use gst::prelude::*;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// Which thread pushed each buffer, and when, per pad.
#[derive(Default)]
struct Pushes {
    video: Vec<ThreadId>,
    audio: Vec<(ThreadId, Instant)>,
}

/// `description` as a pipeline, and its element named `s` (the rustrtspsrc).
fn launch(description: &str) -> (gst::Element, gst::Element) {
    let pipeline = gst::parse::launch(description).unwrap();
    let src = pipeline
        .downcast_ref::<gst::Bin>()
        .unwrap()
        .by_name("s")
        .unwrap();
    (pipeline, src)
}

/// Plays `url` into fakesinks (video and `audio_0`) until `audio_frames` audio buffers went out;
/// returns who pushed what, and the element's stats at the middle and at the end.
fn play(url: &str, props: &str, audio_frames: usize) -> (Pushes, gst::Structure, gst::Structure) {
    let (pipeline, src) = launch(&format!(
        "rustrtspsrc location={url} {props} name=s s.src ! fakesink sync=false \
         s.audio_0 ! fakesink sync=false"
    ));
    let pushes = Arc::new(Mutex::new(Pushes::default()));
    let p = pushes.clone();
    src.static_pad("src")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            p.lock().unwrap().video.push(std::thread::current().id());
            gst::PadProbeReturn::Ok
        });
    let p = pushes.clone();
    src.connect_pad_added(move |_, pad| {
        let p = p.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            p.lock()
                .unwrap()
                .audio
                .push((std::thread::current().id(), Instant::now()));
            gst::PadProbeReturn::Ok
        });
    });
    pipeline.set_state(gst::State::Playing).unwrap();
    let start = Instant::now();
    let audio = || pushes.lock().unwrap().audio.len();
    let stats = || src.property::<gst::Structure>("stats");
    let mut middle = None;
    while audio() < audio_frames && start.elapsed() < Duration::from_secs(30) {
        if middle.is_none() && audio() >= audio_frames / 2 {
            middle = Some(stats());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let end = stats();
    pipeline.set_state(gst::State::Null).unwrap();
    let got = audio();
    assert!(
        got >= audio_frames,
        "{props}: {got} audio buffers of {audio_frames} in 30 s"
    );
    let pushes = std::mem::take(&mut *pushes.lock().unwrap());
    (pushes, middle.expect("stats half-way"), end)
}

fn counter(s: &gst::Structure, name: &str) -> u64 {
    s.get::<u64>(name)
        .unwrap_or_else(|e| panic!("stats field {name}: {e}"))
}

/// Loop wake-ups per picture with the video alone (`streams=video`), over 90 pictures after 30.
fn wakeups_per_picture_video_alone(url: &str, props: &str) -> f64 {
    let (pipeline, src) = launch(&format!(
        "rustrtspsrc location={url} {props} streams=video name=s ! fakesink sync=false"
    ));
    pipeline.set_state(gst::State::Playing).unwrap();
    let stats = || src.property::<gst::Structure>("stats");
    let start = Instant::now();
    let wait_for = |pictures: u64| {
        while counter(&stats(), "access-units-pushed") < pictures {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{props}: the video alone did not play"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        stats()
    };
    let (from, to) = (wait_for(30), wait_for(120));
    pipeline.set_state(gst::State::Null).unwrap();
    let wakeups = counter(&to, "loop-wakeups") - counter(&from, "loop-wakeups");
    let pictures = counter(&to, "access-units-pushed") - counter(&from, "access-units-pushed");
    wakeups as f64 / pictures as f64
}

/// After the first second, the audio buffers are pushed by the video's thread, and the audio's 47
/// packets a second do not make the loop wake more often than for the video alone.
fn check(url: &str, props: &str, udp: bool) {
    // 5 s of AAC at 48 kHz, 1024 samples a frame.
    let (pushes, middle, end) = play(url, props, 235);
    let video = *pushes.video.last().expect("video buffers");
    let settled = &pushes.audio[pushes.audio.len() / 5..];
    let with_video = settled.iter().filter(|(t, _)| *t == video).count();
    assert!(
        with_video * 10 >= settled.len() * 9,
        "{props}: {with_video} of {} audio buffers pushed by the video's thread",
        settled.len()
    );
    let wakeups = counter(&end, "loop-wakeups") - counter(&middle, "loop-wakeups");
    let pictures = counter(&end, "access-units-pushed") - counter(&middle, "access-units-pushed");
    assert!(
        pictures > 30,
        "{props}: {pictures} pictures in the second half"
    );
    let with_audio = wakeups as f64 / pictures as f64;
    if udp {
        // About one per picture (1.05 measured; the video alone 1.1), with room for RTCP and the odd
        // split picture. A wake-up per audio packet made it 1.56 against this server, whose audio
        // packets often come with a picture's.
        assert!(
            with_audio <= 1.3,
            "{props}: {with_audio:.2} loop wake-ups per picture"
        );
    } else {
        // Over TCP a picture comes in several reads (3.1 wake-ups each for the video alone here);
        // small packets waiting for a picture's make it 2.2 with the audio. Waking for each audio
        // packet made it 3.6 (TLS: 4.9).
        let alone = wakeups_per_picture_video_alone(url, props);
        assert!(
            with_audio <= alone,
            "{props}: {with_audio:.2} loop wake-ups per picture with the audio, {alone:.2} without"
        );
    }
}

/// H.264 and AAC; noise, so that every picture is some kilobytes (over TCP, small packets wait for a
/// picture only while pictures are far larger than they are).
fn server(fps: u32, tls: Option<String>) -> TestServer {
    common::init();
    TestServer::start(ServerOptions {
        audio: Some("aac"),
        fps,
        tls_pem: tls,
        pattern: "snow",
        width: 480,
        height: 272,
        bitrate: 1500,
        ..Default::default()
    })
    .expect("RTSP test server")
}

#[test]
fn audio_rides_with_the_video_over_udp() {
    let srv = server(30, None);
    check(&srv.url(), "protocols=udp", true);
}

#[test]
fn audio_rides_with_the_video_over_tcp() {
    let srv = server(30, None);
    check(&srv.url(), "protocols=tcp", false);
}

#[test]
fn audio_rides_with_the_video_over_tls() {
    let cert = common::certs::self_signed();
    let srv = server(30, Some(cert.pem.clone()));
    check(&srv.url(), "protocols=tcp tls-validation-flags=0", false);
}

/// A 1 fps video (a camera's substream): the audio does not wait for pictures. Its buffers go out
/// as their packets come (one every 21 ms), never a second apart.
fn audio_beside_a_one_fps_video(protocols: &str) {
    let srv = server(1, None);
    let (pushes, _, _) = play(&srv.url(), &format!("protocols={protocols}"), 150);
    let times: Vec<Instant> = pushes.audio.iter().map(|(_, at)| *at).collect();
    let longest = times
        .windows(2)
        .skip(times.len() / 5)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap();
    assert!(
        longest < Duration::from_millis(400),
        "{protocols}: audio buffers up to {longest:?} apart beside a 1 fps video"
    );
}

#[test]
fn audio_beside_a_one_fps_video_over_udp() {
    audio_beside_a_one_fps_video("udp");
}

#[test]
fn audio_beside_a_one_fps_video_over_tcp() {
    audio_beside_a_one_fps_video("tcp");
}

/// The audio fed straight into splitmuxsink (no queue on its branch: rtspsrc users' lines have none),
/// which holds it until the video's next keyframe: the element keeps that pad on its own task, so the
/// thread that reads the video is never the one held. Pushed from that thread, nothing came after the
/// first keyframe.
fn straight_into_splitmuxsink(protocols: &str) {
    let srv = server(30, None);
    let dir = std::env::temp_dir().join(format!(
        "rustrtspsrc-splitmux-{protocols}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (pipeline, src) = launch(&format!(
        "rustrtspsrc location={} protocols={protocols} name=s \
         s.src ! queue ! h264parse ! splitmuxsink name=m muxer-factory=matroskamux \
         max-size-time=1000000000 location={}/part%02d.mkv \
         s.audio_0 ! aacparse ! m.audio_%u",
        srv.url(),
        dir.display()
    ));
    let audio = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let a = audio.clone();
    src.connect_pad_added(move |_, pad| {
        let a = a.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            a.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            gst::PadProbeReturn::Ok
        });
    });
    pipeline.set_state(gst::State::Playing).unwrap();
    let start = Instant::now();
    let parts = || std::fs::read_dir(&dir).map_or(0, |d| d.count());
    // 3 s of audio, and the files split at least twice.
    while (audio.load(std::sync::atomic::Ordering::SeqCst) < 141 || parts() < 3)
        && start.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    pipeline.set_state(gst::State::Null).unwrap();
    let (got, parts) = (audio.load(std::sync::atomic::Ordering::SeqCst), parts());
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        got >= 141 && parts >= 3,
        "{protocols}: {got} audio buffers, {parts} files in 20 s"
    );
}

#[test]
fn straight_into_splitmuxsink_over_udp() {
    straight_into_splitmuxsink("udp");
}

#[test]
fn straight_into_splitmuxsink_over_tcp() {
    straight_into_splitmuxsink("tcp");
}

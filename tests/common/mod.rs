//! Helpers for the integration tests: run `rustrtspsrc` in a pipeline, collect what it pushes and what the
//! bus says, and decode the result.

#![allow(dead_code)]

pub mod acceptor;
pub mod audio_clips;
pub mod av;
pub mod certs;
pub mod crash_report;
pub mod fake_camera;
pub mod files;
pub mod latency;
pub mod live555;
pub mod reach;
pub mod replay_media;
pub mod replay_player;
pub mod replay_server;
pub mod server;
pub mod tls_proxy;
pub mod tunnel_front;

#[allow(unused_imports)] // Each test binary uses a different part of it.
pub use files::{codecs_and_duration, ffmpeg_complaints, ffprobe};

use gst::prelude::*;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

/// `over_udp_and_tcp!(name => function);` makes the tests `name::udp` and `name::tcp`, each calling
/// `function` with that `protocols` value: every behaviour is tried on both transports.
#[macro_export]
macro_rules! over_udp_and_tcp {
    ($($name:ident => $function:path;)+) => {$(
        mod $name {
            $crate::tests_per_transport!($function; udp tcp);
        }
    )+};
}

/// `over_udp_tcp_and_tls!(name => function);`: as `over_udp_and_tcp!`, and `name::tls` with "tls" (the
/// camera behind a TLS front, see `reach::Reach`).
#[macro_export]
macro_rules! over_udp_tcp_and_tls {
    ($($name:ident => $function:path;)+) => {$(
        mod $name {
            $crate::tests_per_transport!($function; udp tcp tls);
        }
    )+};
}

/// One test per transport named, each calling `function` with the transport's name.
#[macro_export]
macro_rules! tests_per_transport {
    ($function:path; $($transport:ident)+) => {$(
        #[test]
        fn $transport() {
            $function(stringify!($transport));
        }
    )+};
}

pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().expect("gstreamer init");
        // After gst_init, whose registry scan sets its own handler for the time it runs.
        crash_report::install();
        gstrustrtsp::plugin_register_static().expect("register plugin");
    });
}

#[derive(Debug, Clone)]
pub struct Frame {
    pub pts: Option<gst::ClockTime>,
    pub flags: gst::BufferFlags,
    pub data: Vec<u8>,
    /// When the sink got it.
    pub at: Instant,
    /// The host's wall clock then (ns since 1970).
    pub wall: u64,
    /// The reference timestamp meta with caps `timestamp/x-ntp` (ns since 1900), if any.
    pub ntp: Option<u64>,
    /// The bytes start a memory page: an access unit in a mapping of its own (`au::au_bytes`), where a
    /// heap block never starts.
    pub page_aligned: bool,
}

#[derive(Debug, Default)]
pub struct Recording {
    pub frames: Vec<Frame>,
    pub caps: Vec<gst::Caps>,
    /// (domain/code description, message, debug) of error messages.
    pub errors: Vec<(String, String)>,
    pub error_kind: Option<gst::ResourceError>,
    pub warnings: Vec<String>,
    /// Time from PLAYING to the first error, if any.
    pub error_after: Option<Duration>,
    pub all_messages: Vec<String>,
    /// Element messages (rustrtspsrc-reconnecting, ...), with when they came.
    pub element_messages: Vec<(Duration, gst::Structure)>,
    /// The element's `stats` at the end.
    pub stats: Option<gst::Structure>,
    /// How long the final `set_state(Null)` took.
    pub stop_took: Duration,
}

impl Recording {
    pub fn annexb(&self) -> Vec<u8> {
        self.frames
            .iter()
            .flat_map(|f| f.data.iter().copied())
            .collect()
    }
}

/// The host's real-time clock, ns since 1970.
pub fn unix_now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// The time of a buffer's reference timestamp meta with caps `timestamp/x-ntp`.
pub fn ntp_meta(buf: &gst::BufferRef) -> Option<u64> {
    buf.iter_meta::<gst::ReferenceTimestampMeta>()
        .find(|m| {
            m.reference()
                .structure(0)
                .is_some_and(|s| s.name() == "timestamp/x-ntp")
        })
        .map(|m| m.timestamp().nseconds())
}

/// Records from `location` for `duration` (or until an error), with extra element properties.
pub fn record(location: &str, duration: Duration, props: &[(&str, &dyn ToValue)]) -> Recording {
    record_with(location, duration, props, None)
}

/// Like `record`, for recordings that must end without an error on the bus.
pub fn record_clean(
    location: &str,
    duration: Duration,
    props: &[(&str, &dyn ToValue)],
) -> Recording {
    let rec = record(location, duration, props);
    assert!(rec.errors.is_empty(), "{:?}", rec.errors);
    rec
}

/// Something to do to the pipeline once its time has come.
pub type Action = (Duration, Box<dyn FnOnce(&gst::Pipeline)>);

/// Like `record`, running `action` once `at` has passed.
pub fn record_with(
    location: &str,
    duration: Duration,
    props: &[(&str, &dyn ToValue)],
    action: Option<(Duration, Box<dyn FnOnce()>)>,
) -> Recording {
    let actions = action
        .into_iter()
        .map(|(at, f)| -> Action { (at, Box::new(move |_: &gst::Pipeline| f())) })
        .collect();
    record_with_actions(location, duration, props, actions)
}

/// A rustrtspsrc for `location` with `props` set; flags and enums may be given by nick, as on a
/// gst-launch line.
pub fn rtsp_src(location: &str, props: &[(&str, &dyn ToValue)]) -> gst::Element {
    init();
    let src = gst::ElementFactory::make("rustrtspsrc")
        .property("location", location)
        .build()
        .expect("rustrtspsrc");
    for (name, value) in props {
        let value = value.to_value();
        let pspec = src.find_property(name).expect("known property");
        match value.get::<&str>() {
            Ok(s) if pspec.value_type() != glib::Type::STRING => src.set_property_from_str(name, s),
            _ => src.set_property_from_value(name, &value),
        }
    }
    src
}

/// Runs the gst-launch line `launch` for `length`, then ends it with EOS as `gst-launch-1.0 -e` does and
/// waits for the EOS to come out (a muxer finishing its file); any error fails the test (`context`).
pub fn launch_for(launch: &str, length: Duration, context: &str) {
    init();
    let pipeline = gst::parse::launch(launch).unwrap_or_else(|e| panic!("{launch}: {e}"));
    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let start = std::time::Instant::now();
    while start.elapsed() < length {
        if let Some(msg) = bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(100),
            &[gst::MessageType::Error],
        ) {
            panic!("{context}: {msg:?}");
        }
    }
    pipeline.send_event(gst::event::Eos::new());
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(10),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .unwrap_or_else(|| panic!("{context}: no EOS within 10 s of sending it"));
    assert!(
        matches!(msg.view(), gst::MessageView::Eos(_)),
        "{context}: {msg:?}"
    );
    pipeline.set_state(gst::State::Null).unwrap();
}

/// Runs the gst-launch line `head ! filesink` for `length` (as `launch_for`) and returns the file's
/// bytes: the mission's pipeline, `rustrtspsrc … ! filesink location=out.h264`.
pub fn launch_to_file(head: &str, length: Duration, context: &str) -> Vec<u8> {
    static FILES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path =
        std::env::temp_dir().join(format!("rustrtspsrc-launch-{}-{n}.bin", std::process::id()));
    launch_for(
        &format!("{head} ! filesink location={}", path.display()),
        length,
        context,
    );
    let recorded = std::fs::read(&path).unwrap_or_else(|e| panic!("{context}: {e}"));
    let _ = std::fs::remove_file(&path);
    recorded
}

/// `src` into a fakesink (syncing when `sync`) in a pipeline of their own.
pub fn into_fakesink(src: &gst::Element, sync: bool) -> (gst::Pipeline, gst::Element) {
    let sink = gst::ElementFactory::make("fakesink")
        .property("sync", sync)
        .build()
        .expect("fakesink (gstreamer1.0 core elements)");
    let pipeline = gst::Pipeline::new();
    pipeline.add_many([src, &sink]).unwrap();
    src.link(&sink).unwrap();
    (pipeline, sink)
}

/// A pipeline of a rustrtspsrc for `location` (with `props`, as for `rtsp_src`) whose video pad
/// feeds an appsink that does not sync.
pub fn video_pipeline(
    location: &str,
    props: &[(&str, &dyn ToValue)],
) -> (gst::Pipeline, gst::Element, gst_app::AppSink) {
    let src = rtsp_src(location, props);
    let sink = gst_app::AppSink::builder().sync(false).build();
    let pipeline = gst::Pipeline::new();
    pipeline.add_many([&src, sink.upcast_ref()]).unwrap();
    src.link(&sink).unwrap();
    (pipeline, src, sink)
}

/// Like `record`, running each action (in time order) once its time has passed.
pub fn record_with_actions(
    location: &str,
    duration: Duration,
    props: &[(&str, &dyn ToValue)],
    mut actions: Vec<Action>,
) -> Recording {
    actions.sort_by_key(|(at, _)| *at);
    actions.reverse();
    let (pipeline, src, sink) = video_pipeline(location, props);

    let out = Arc::new(Mutex::new(Recording::default()));
    let o = out.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let mut rec = o.lock().unwrap();
                if let Some(caps) = sample.caps() {
                    if rec.caps.last() != Some(&caps.to_owned()) {
                        rec.caps.push(caps.to_owned());
                    }
                }
                let buf = sample.buffer().ok_or(gst::FlowError::Error)?;
                let map = buf.map_readable().map_err(|_| gst::FlowError::Error)?;
                rec.frames.push(Frame {
                    pts: buf.pts(),
                    flags: buf.flags(),
                    data: map.to_vec(),
                    at: Instant::now(),
                    wall: unix_now_ns(),
                    ntp: ntp_meta(buf),
                    page_aligned: (map.as_ptr() as usize).is_multiple_of(4096),
                });
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );

    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).expect("to PLAYING");
    let start = Instant::now();
    while start.elapsed() < duration {
        while actions.last().is_some_and(|(at, _)| start.elapsed() >= *at) {
            (actions.pop().unwrap().1)(&pipeline);
        }
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(50)) else {
            continue;
        };
        let mut rec = out.lock().unwrap();
        rec.all_messages.push(format!("{msg:?}"));
        match msg.view() {
            gst::MessageView::Error(e) => {
                rec.errors
                    .push((e.error().to_string(), format!("{:?}", e.debug())));
                rec.error_kind = e.error().kind::<gst::ResourceError>();
                rec.error_after.get_or_insert(start.elapsed());
                break;
            }
            gst::MessageView::Warning(w) => {
                rec.warnings.push(format!("{} {:?}", w.error(), w.debug()))
            }
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure() {
                    rec.element_messages.push((start.elapsed(), s.to_owned()));
                }
            }
            _ => {}
        }
    }
    out.lock().unwrap().stats = Some(src.property::<gst::Structure>("stats"));
    let stopping = Instant::now();
    pipeline.set_state(gst::State::Null).expect("to NULL");
    let mut rec = out.lock().unwrap();
    rec.stop_took = stopping.elapsed();
    std::mem::take(&mut *rec)
}

/// Runs `launch` (ending in `appsink name=sink`) to its end, as fast as it goes; returns every buffer.
pub fn pull_all(launch: &str) -> Vec<Vec<u8>> {
    init();
    let pipeline = gst::parse::launch(launch)
        .unwrap_or_else(|e| {
            panic!("{launch}: {e}: install gstreamer1.0-plugins-base/-good/-ugly and gstreamer1.0-libav")
        })
        .downcast::<gst::Pipeline>()
        .unwrap();
    let sink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut out = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        out.push(sample.buffer().unwrap().map_readable().unwrap().to_vec());
    }
    pipeline.set_state(gst::State::Null).unwrap();
    out
}

/// Decodes an Annex-B H.264 stream with avdec_h264; returns frames decoded and any error/warning.
pub fn decode(annexb: &[u8]) -> (usize, Vec<String>) {
    decode_as("h264", annexb)
}

/// Decodes an Annex-B stream of `codec` ("h264", "h265") with avdec.
pub fn decode_as(codec: &str, annexb: &[u8]) -> (usize, Vec<String>) {
    init();
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src caps=video/x-{codec},stream-format=byte-stream ! {codec}parse ! avdec_{codec} ! fakesink name=sink"
    ))
    .expect("decoder pipeline (needs gstreamer1.0-libav)")
    .downcast::<gst::Pipeline>()
    .unwrap();
    let src = pipeline
        .by_name("src")
        .unwrap()
        .downcast::<gst_app::AppSrc>()
        .unwrap();
    let sink = pipeline.by_name("sink").unwrap();
    let count = Arc::new(Mutex::new(0usize));
    let c = count.clone();
    sink.static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            *c.lock().unwrap() += 1;
            gst::PadProbeReturn::Ok
        });
    pipeline.set_state(gst::State::Playing).unwrap();
    src.push_buffer(gst::Buffer::from_slice(annexb.to_vec()))
        .unwrap();
    src.end_of_stream().unwrap();
    let mut problems = Vec::new();
    let bus = pipeline.bus().unwrap();
    for msg in bus.iter_timed(gst::ClockTime::from_seconds(30)) {
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                problems.push(format!("error: {} {:?}", e.error(), e.debug()));
                break;
            }
            gst::MessageView::Warning(w) => {
                problems.push(format!("warning: {} {:?}", w.error(), w.debug()))
            }
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    let n = *count.lock().unwrap();
    (n, problems)
}

/// What `ffmpeg -v error -i file -f null -` says about an Annex-B H.264 stream (empty: nothing).
pub fn ffmpeg_errors(annexb: &[u8]) -> String {
    ffmpeg_errors_as("h264", annexb)
}

/// Like `ffmpeg_errors`, for a stream of `codec` ("h264", "h265"). Fails the test when ffmpeg is
/// missing or cannot be run: a verdict that cannot be had is not a pass.
pub fn ffmpeg_errors_as(codec: &str, annexb: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("rustrtspsrc-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory for ffmpeg's input");
    let path =
        dir.join(format!("{:?}.{codec}", std::thread::current().id()).replace(['(', ')'], ""));
    std::fs::write(&path, annexb).expect("ffmpeg's input file");
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg is missing: install ffmpeg (scripts/setup.sh does)");
    let _ = std::fs::remove_file(&path);
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success() || !said.is_empty(),
        "ffmpeg failed without a word: {:?}",
        out.status
    );
    said
}

/// NAL unit types of an Annex-B access unit with 4-byte start codes.
pub fn nal_types(au: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    let mut i = 0;
    while i + 4 < au.len() {
        if au[i..i + 4] == [0, 0, 0, 1] {
            types.push(au[i + 4] & 0x1f);
            i += 5;
        } else {
            i += 1;
        }
    }
    types
}

impl Recording {
    pub fn messages_named(&self, name: &str) -> Vec<&gst::Structure> {
        self.element_messages
            .iter()
            .filter(|(_, s)| s.name() == name)
            .map(|(_, s)| s)
            .collect()
    }

    pub fn stat(&self, field: &str) -> u64 {
        self.stats.as_ref().unwrap().get::<u64>(field).unwrap()
    }

    /// "h264" or "h265", from the caps.
    pub fn codec(&self) -> &'static str {
        match self
            .caps
            .first()
            .and_then(|c| c.structure(0))
            .map(|s| s.name().as_str())
        {
            Some("video/x-h265") => "h265",
            _ => "h264",
        }
    }

    /// The width of each caps the element set, in order.
    pub fn widths(&self) -> Vec<i32> {
        self.caps
            .iter()
            .map(|c| c.structure(0).unwrap().get::<i32>("width").unwrap())
            .collect()
    }

    /// The longest wait between two buffers reaching the sink.
    pub fn longest_gap(&self) -> Duration {
        self.frames
            .windows(2)
            .map(|w| w[1].at.duration_since(w[0].at))
            .max()
            .unwrap_or_default()
    }

    /// Buffers after the first that carry DISCONT.
    pub fn disconts(&self) -> usize {
        self.frames
            .iter()
            .skip(1)
            .filter(|f| f.flags.contains(gst::BufferFlags::DISCONT))
            .count()
    }

    /// The `reason` of each `rustrtspsrc-reconnecting` message.
    pub fn reconnect_reasons(&self) -> Vec<String> {
        self.messages_named("rustrtspsrc-reconnecting")
            .iter()
            .map(|s| s.get::<String>("reason").unwrap())
            .collect()
    }

    /// The transport the `stats` report: "udp" or "tcp".
    pub fn transport(&self) -> &str {
        self.stats
            .as_ref()
            .unwrap()
            .get::<&str>("transport")
            .unwrap()
    }

    /// PTS strictly increase, the first buffer is a keyframe, and the whole stream decodes cleanly.
    pub fn assert_plays(&self) {
        assert!(!self.frames.is_empty(), "no frames");
        assert!(
            !self.frames[0].flags.contains(gst::BufferFlags::DELTA_UNIT),
            "first buffer is not a keyframe"
        );
        let pts: Vec<u64> = self
            .frames
            .iter()
            .map(|f| f.pts.expect("PTS").nseconds())
            .collect();
        if let Some(i) = pts.windows(2).position(|w| w[1] <= w[0]) {
            // Enough to tell a picture split in two from a timing fault.
            let around: Vec<_> = self.frames[i..i + 2]
                .iter()
                .map(|f| (f.data.len(), f.flags, nal_types(&f.data)))
                .collect();
            panic!(
                "PTS not increasing at {i}: {around:?}; stats {:?}; PTS {pts:?}",
                self.stats
            );
        }
        let stream = self.annexb();
        let codec = self.codec();
        let (decoded, problems) = decode_as(codec, &stream);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(decoded, self.frames.len(), "decoded frames vs access units");
        let errors = ffmpeg_errors_as(codec, &stream);
        assert!(errors.is_empty(), "ffmpeg: {errors}");
    }
}

/// Runs `cargo build <args>` for this package (what a user's build makes: the plugin file, an example)
/// and returns the directory the artifacts land in, honouring CARGO_TARGET_DIR.
pub fn cargo_build(args: &[&str]) -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let status = std::process::Command::new(env!("CARGO"))
        .arg("build")
        .args(args)
        .current_dir(&manifest)
        .status()
        .expect("cargo build");
    assert!(status.success(), "cargo build {args:?}");
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| manifest.join("target"), PathBuf::from)
        .join("debug")
}

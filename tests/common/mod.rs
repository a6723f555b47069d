//! Helpers for the integration tests: run `rustrtspsrc` in a pipeline, collect what it pushes and what the
//! bus says, and decode the result.

#![allow(dead_code)]

pub mod fake_camera;
pub mod server;

use gst::prelude::*;
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().expect("gstreamer init");
        gstrustrtsp::plugin_register_static().expect("register plugin");
    });
}

#[derive(Debug, Clone)]
pub struct Frame {
    pub pts: Option<gst::ClockTime>,
    pub flags: gst::BufferFlags,
    pub data: Vec<u8>,
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
}

impl Recording {
    pub fn annexb(&self) -> Vec<u8> {
        self.frames
            .iter()
            .flat_map(|f| f.data.iter().copied())
            .collect()
    }
}

/// Records from `location` for `duration` (or until an error), with extra element properties.
pub fn record(location: &str, duration: Duration, props: &[(&str, &dyn ToValue)]) -> Recording {
    init();
    let src = gst::ElementFactory::make("rustrtspsrc")
        .property("location", location)
        .build()
        .expect("rustrtspsrc");
    for (name, value) in props {
        src.set_property_from_value(name, &value.to_value());
    }
    let sink = gst_app::AppSink::builder().sync(false).build();
    let pipeline = gst::Pipeline::new();
    pipeline.add_many([&src, sink.upcast_ref()]).unwrap();
    src.link(&sink).unwrap();

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
                });
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );

    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).expect("to PLAYING");
    let start = Instant::now();
    while start.elapsed() < duration {
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
            gst::MessageView::Warning(w) => rec.warnings.push(w.error().to_string()),
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).expect("to NULL");
    let mut rec = out.lock().unwrap();
    std::mem::take(&mut *rec)
}

/// Decodes an Annex-B H.264 stream with avdec_h264; returns frames decoded and any error/warning.
pub fn decode(annexb: &[u8]) -> (usize, Vec<String>) {
    init();
    let pipeline = gst::parse::launch(
        "appsrc name=src caps=video/x-h264,stream-format=byte-stream ! h264parse ! avdec_h264 ! fakesink name=sink",
    )
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

/// `ffmpeg -v error -i file -f null -` output, if ffmpeg is installed.
pub fn ffmpeg_errors(annexb: &[u8]) -> Option<String> {
    let dir = std::env::temp_dir().join(format!("rustrtspsrc-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join(format!("{:?}.h264", std::thread::current().id()).replace(['(', ')'], ""));
    std::fs::write(&path, annexb).ok()?;
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "null", "-"])
        .output()
        .ok()?;
    let _ = std::fs::remove_file(&path);
    Some(String::from_utf8_lossy(&out.stderr).into_owned())
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

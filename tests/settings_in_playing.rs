//! Settings changed while the element plays apply from its next start, with a warning, never half:
//! a new `location` leaves the running session on the old camera (the new one sees no connection
//! until the element restarts), and a new `latency` changes neither the reorder window nor the
//! latency reported until then. Against two gst-rtsp-servers, over UDP and TCP.

mod common;

use common::server::{ServerOptions, TestServer};
use gst::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn server() -> TestServer {
    TestServer::start(ServerOptions::default()).expect("RTSP test server")
}

/// Waits until `count` passes `target`, gathering bus warnings; fails the test after 20 s.
fn wait_frames(bus: &gst::Bus, count: &AtomicUsize, target: usize, warnings: &mut Vec<String>) {
    let start = Instant::now();
    while count.load(Ordering::SeqCst) < target {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{} of {target} frames; warnings {warnings:?}",
            count.load(Ordering::SeqCst)
        );
        if let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(20)) {
            match msg.view() {
                gst::MessageView::Warning(w) => {
                    warnings.push(format!("{} {:?}", w.error(), w.debug()))
                }
                gst::MessageView::Error(e) => panic!("{} {:?}", e.error(), e.debug()),
                _ => {}
            }
        }
    }
}

fn src_latency(src: &gst::Element) -> gst::ClockTime {
    let mut q = gst::query::Latency::new();
    assert!(src.static_pad("src").unwrap().query(&mut q));
    q.result().1
}

fn location_and_latency_apply_from_the_next_start(protocols: &str) {
    common::init();
    let (a, b) = (server(), server());
    let (pipeline, src, sink) =
        common::video_pipeline(&a.url(), &[("protocols", &protocols), ("latency", &200u32)]);
    let frames = Arc::new(AtomicUsize::new(0));
    let f = frames.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |s| {
                s.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                f.fetch_add(1, Ordering::SeqCst);
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    let bus = pipeline.bus().unwrap();
    let mut warnings = Vec::new();
    pipeline.set_state(gst::State::Playing).unwrap();
    wait_frames(&bus, &frames, 15, &mut warnings);
    let before = src_latency(&src);
    assert_eq!(before, gst::ClockTime::from_mseconds(200), "{protocols}");

    src.set_property("location", b.url());
    src.set_property("latency", 2000u32);
    wait_frames(&bus, &frames, 45, &mut warnings);
    for name in ["location", "latency"] {
        assert!(
            warnings.iter().any(|w| w.contains(&format!(
                "{name} set in Playing: it applies from the next start"
            ))),
            "{protocols}: {warnings:?}"
        );
    }
    assert_eq!(b.clients(), 0, "{protocols}: the session moved mid-way");
    assert_eq!(
        src_latency(&src),
        before,
        "{protocols}: latency half-applied"
    );

    // The next start takes both.
    pipeline.set_state(gst::State::Null).unwrap();
    let restarted = frames.load(Ordering::SeqCst);
    pipeline.set_state(gst::State::Playing).unwrap();
    wait_frames(&bus, &frames, restarted + 15, &mut warnings);
    assert!(b.clients() >= 1, "{protocols}: the new location unused");
    assert_eq!(
        src_latency(&src),
        gst::ClockTime::from_mseconds(2000),
        "{protocols}"
    );
    pipeline.set_state(gst::State::Null).unwrap();
}

over_udp_and_tcp! {
    location_and_latency_apply_from_the_next_start => super::location_and_latency_apply_from_the_next_start;
}

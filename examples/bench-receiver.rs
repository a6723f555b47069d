//! The benchmark's GStreamer receivers, counting what they deliver: runs a gst-launch pipeline given as
//! arguments (several `… ! fakesink` branches) and prints, ten times a second, the buffers all its
//! fakesinks have received so far (but those named `audio…`: the count is of video frames). A receiver that falls behind shows as fewer frames, not as a lower CPU figure.
//! Otherwise it is `gst-launch-1.0 -q`: the same elements, the same threads.
//!
//!     bench-receiver rtspsrc location=rtsp://… ! rtph264depay ! fakesink sync=false …

use gst::prelude::*;
use std::io::Write;

fn main() {
    gst::init().expect("GStreamer");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let pipeline = gst::parse::launchv(&argv).expect("a gst-launch pipeline");
    // Counted from the sinks' own statistics, read when printed: a probe per buffer would add to
    // these receivers a cost per picture the floors do not pay.
    let mut sinks = Vec::new();
    if let Some(bin) = pipeline.downcast_ref::<gst::Bin>() {
        for element in bin.iterate_recurse().into_iter().flatten() {
            let is_sink = element.factory().is_some_and(|f| f.name() == "fakesink")
                && !element.name().starts_with("audio");
            if is_sink {
                sinks.push(element);
            }
        }
    }
    pipeline.set_state(gst::State::Playing).expect("PLAYING");
    // MALLOC_STATS=<seconds>: glibc's per-heap totals on stderr that often, to tell memory the heaps
    // hold but do not use (fragmentation) from memory in use (benches/soak.sh).
    if let Some(every) = std::env::var("MALLOC_STATS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&secs: &u64| secs > 0)
    {
        std::thread::spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_secs(every));
            // SAFETY: malloc_stats only reads the allocator's state and writes to stderr.
            unsafe { libc::malloc_stats() };
        });
    }
    let mut out = std::io::stdout();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let count: u64 = sinks.iter().map(rendered).sum();
        let _ = writeln!(out, "{count}");
        let _ = out.flush();
    }
}

/// The buffers `sink` has rendered so far (basesink's `stats`).
fn rendered(sink: &gst::Element) -> u64 {
    sink.property::<gst::Structure>("stats")
        .get::<u64>("rendered")
        .unwrap_or(0)
}

//! The benchmark's GStreamer receivers, counting what they deliver: runs a gst-launch pipeline given as
//! arguments (several `… ! fakesink` branches) and prints, ten times a second, the buffers all its
//! fakesinks have received so far (but those named `audio…`: the count is of video frames). A receiver that falls behind shows as fewer frames, not as a lower CPU figure.
//! Otherwise it is `gst-launch-1.0 -q`: the same elements, the same threads.
//!
//!     bench-receiver rtspsrc location=rtsp://… ! rtph264depay ! fakesink sync=false …

use gst::prelude::*;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts each buffer: a probe in C terms. gstreamer-rs' probe trampoline (taking the buffer out of
/// the probe info and putting it back) was ~4 % of the receivers' user time, and reading the sinks'
/// `stats` ten times a second cost the main thread as much; this costs the hook call alone.
unsafe extern "C" fn count_buffer(
    _pad: *mut gst::ffi::GstPad,
    _info: *mut gst::ffi::GstPadProbeInfo,
    count: glib::ffi::gpointer,
) -> gst::ffi::GstPadProbeReturn {
    // SAFETY: `count` is `COUNT` below, a static.
    unsafe { (*(count as *const AtomicU64)).fetch_add(1, Ordering::Relaxed) };
    gst::ffi::GST_PAD_PROBE_OK
}

static COUNT: AtomicU64 = AtomicU64::new(0);

fn main() {
    gst::init().expect("GStreamer");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let pipeline = gst::parse::launchv(&argv).expect("a gst-launch pipeline");
    if let Some(bin) = pipeline.downcast_ref::<gst::Bin>() {
        for element in bin.iterate_recurse().into_iter().flatten() {
            let is_sink = element.factory().is_some_and(|f| f.name() == "fakesink")
                && !element.name().starts_with("audio");
            if let (true, Some(pad)) = (is_sink, element.static_pad("sink")) {
                // SAFETY: a valid pad; the callback only touches the static counter it is given.
                unsafe {
                    gst::ffi::gst_pad_add_probe(
                        pad.as_ptr(),
                        gst::ffi::GST_PAD_PROBE_TYPE_BUFFER,
                        Some(count_buffer),
                        &COUNT as *const AtomicU64 as glib::ffi::gpointer,
                        None,
                    );
                }
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
        let _ = writeln!(out, "{}", COUNT.load(Ordering::Relaxed));
        let _ = out.flush();
    }
}

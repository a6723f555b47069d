//! What GStreamer itself costs per audio frame a source pushes: a buffer wrapping the frame's bytes,
//! its PTS, duration and `timestamp/x-ntp` reference meta, pushed from a pad into `fakesink
//! sync=false` (as the audio benchmark's receivers have it). Nothing is received or depacketized.
//! Prints the CPU time per frame, the least any element pushing one GStreamer buffer per audio
//! frame can spend on it (BENCHMARKS.md, "Audio beside the video").
//!
//!     cargo run --release --example bench-push-floor [FRAMES]

#[path = "floor/pictures.rs"]
mod pictures;

use gst::prelude::*;

fn cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec for the calling thread's CPU clock.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn main() {
    gst::init().expect("GStreamer");
    let frames: u64 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    let push = pictures::PushPad::new(
        &gst::Caps::builder("audio/mpeg")
            .field("mpegversion", 4)
            .field("stream-format", "raw")
            .build(),
    );
    let src = push.pad();
    let ntp_caps = gst::Caps::new_empty_simple("timestamp/x-ntp");
    let frame = vec![0u8; 340]; // 128 kbit/s AAC at 48 kHz: 340 bytes a frame
    let run = |n: u64| {
        for i in 0..n {
            let mut buffer = gst::Buffer::from_mut_slice(frame.clone());
            let b = buffer.get_mut().unwrap();
            b.set_pts(gst::ClockTime::from_nseconds(i * 21_333_333));
            b.set_duration(gst::ClockTime::from_nseconds(21_333_333));
            gst::ReferenceTimestampMeta::add(
                b,
                &ntp_caps,
                gst::ClockTime::from_nseconds(i),
                gst::ClockTime::NONE,
            );
            src.push(buffer).expect("fakesink takes it");
        }
    };
    run(frames / 10); // warm-up
    let t0 = cpu_ns();
    run(frames);
    let per = (cpu_ns() - t0) as f64 / frames as f64;
    println!("push-floor: {per:.0} ns of CPU per audio frame pushed ({frames} frames)");
}

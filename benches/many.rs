//! 64 cameras in one process: N rustrtspsrc elements (one pipeline) receive N 1080p30 8 Mbit/s streams
//! from one local sender; prints packets sent vs received and lost per the elements' `stats`, and this
//! process's CPU (receivers and the in-process sender together).
//!
//!     cargo bench --bench many            # N = 64, UDP
//!     STREAMS=32 PROTOCOLS=tcp cargo bench --bench many

#[path = "../tests/common/mod.rs"]
mod common;

use common::fake_camera::{encode, FakeCamera, Script};
use gst::prelude::*;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
        f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    ticks / 100.0
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("many-streams bench: run with cargo bench --bench many");
        return;
    }
    common::init();
    let n: usize = std::env::var("STREAMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let protocols = std::env::var("PROTOCOLS").unwrap_or_else(|_| "udp".into());
    let packets: &'static [Vec<u8>] =
        Box::leak(encode(1920, 1080, 8000, 150, 1400, "snow").into_boxed_slice());
    let cam = FakeCamera::start_with(Script::default(), packets);
    let desc: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "rustrtspsrc name=s{i} location={} protocols={protocols} ! fakesink sync=false",
                cam.url()
            )
        })
        .collect();
    let pipeline = gst::parse::launch(&desc.join(" "))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let (sent0, cpu0, t0) = (
        cam.shared.sent.load(Ordering::SeqCst),
        cpu_seconds(),
        Instant::now(),
    );
    let stats0: Vec<gst::Structure> = (0..n)
        .map(|i| {
            pipeline
                .by_name(&format!("s{i}"))
                .unwrap()
                .property("stats")
        })
        .collect();
    std::thread::sleep(Duration::from_secs(10));
    let (sent1, cpu1, secs) = (
        cam.shared.sent.load(Ordering::SeqCst),
        cpu_seconds(),
        t0.elapsed().as_secs_f64(),
    );
    let (mut received, mut lost) = (0u64, 0u64);
    for (i, s0) in stats0.iter().enumerate() {
        let s1: gst::Structure = pipeline
            .by_name(&format!("s{i}"))
            .unwrap()
            .property("stats");
        let d = |f: &str| s1.get::<u64>(f).unwrap() - s0.get::<u64>(f).unwrap();
        received += d("packets-received");
        lost += d("packets-lost");
    }
    pipeline.set_state(gst::State::Null).unwrap();
    let sent = (sent1 - sent0) as u64;
    println!(
        "{n} streams over {protocols}: sender {:.1} Mbit/s per stream; sent {sent}, received {received}, lost {lost} ({:.3} %)",
        packets.iter().map(Vec::len).sum::<usize>() as f64 * 8.0 / 5.0 / 1e6,
        lost as f64 * 100.0 / (received + lost).max(1) as f64
    );
    println!(
        "process CPU (receivers + sender): {:.1} % of one core, {:.2} % per stream",
        (cpu1 - cpu0) / secs * 100.0,
        (cpu1 - cpu0) / secs * 100.0 / n as f64
    );
}

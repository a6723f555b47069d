//! Added latency: the fake camera notes when each frame's last packet leaves; a pad probe notes when the
//! frame's buffer leaves the receiver. rustrtspsrc against `rtspsrc ! rtph264depay` at the same `latency`,
//! over UDP with no loss and with 1 % loss, and over TCP from a camera whose TCP uses Nagle's algorithm.
//! Prints p50/p90/p99/max in ms.
//!
//! Buffers are paired with frames by the camera's own time of each frame where the receiver gives it:
//! the camera sends the ONVIF replay extension, and rustrtspsrc puts that time on each buffer. rtspsrc
//! does not, so its buffers are paired by PTS differences, which holds while its PTS follow the RTP
//! clock exactly. (Pairing rustrtspsrc's by PTS was wrong under loss: its PTS slew toward arrival times
//! by design, a few frames' worth over a run, and the pairing slipped by two frames.)
//!
//!     cargo bench --bench latency

#[path = "../tests/common/mod.rs"]
mod common;

use common::fake_camera::{encode, FakeCamera, Script};
use gst::prelude::*;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WINDOW_MS: u32 = 50;
const RUN: Duration = Duration::from_secs(8);

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this too, where measuring would only
    // slow the suite down.
    if !std::env::args().any(|a| a == "--bench") {
        println!("latency bench: run with cargo bench --bench latency");
        return;
    }
    common::init();
    let packets: &'static [Vec<u8>] =
        Box::leak(encode(1280, 720, 4000, 150, 1400, "snow").into_boxed_slice());
    println!(
        "latency window {WINDOW_MS} ms; {} s per run; 1280x720 30 fps 4 Mbit/s",
        RUN.as_secs()
    );
    println!(
        "{:<12} {:<6} {:<8} {:>7} {:>7} {:>7} {:>7} {:>7}",
        "receiver", "over", "loss", "frames", "p50", "p90", "p99", "max"
    );
    // Over TCP: a camera whose TCP uses Nagle's algorithm, in Ethernet-sized segments, pacing each
    // frame's packets at twice the stream's rate (`tests/tcp_acks.rs`).
    for (transport, loss) in [("udp", false), ("udp", true), ("tcp", false)] {
        for receiver in ["rustrtspsrc", "rtspsrc"] {
            let tcp = transport == "tcp";
            let script = Script {
                log_frames: true,
                drop: loss.then_some(|i| i % 100 == 50),
                onvif_ntp: true,
                ethernet_segments: tcp,
                pace_bps: tcp.then_some(8_000_000),
                ..Default::default()
            };
            let cam = FakeCamera::start_with(script, packets);
            let pushed = run(receiver, &cam.url(), transport);
            let sent = cam.shared.frames.lock().unwrap().clone();
            let first_ntp = cam.shared.frame_ntp.lock().unwrap().first().copied();
            let mut lat = match first_ntp.filter(|_| receiver == "rustrtspsrc") {
                Some(ntp0) => common::latency::by_camera_time(
                    &sent,
                    pushed.iter().map(|&(t, _, ntp)| (t, ntp)),
                    ntp0,
                ),
                None => {
                    let by_pts: Vec<(Instant, u64)> =
                        pushed.iter().map(|&(t, pts, _)| (t, pts)).collect();
                    match_latencies(&sent, &by_pts)
                }
            };
            if lat.is_empty() {
                // rtspsrc's PTS over TCP do not follow the RTP clock closely enough for the pairing.
                let loss = if loss { "1 %" } else { "none" };
                println!(
                    "{receiver:<12} {transport:<6} {loss:<8} (buffers not paired with frames)"
                );
                continue;
            }
            lat.sort_by(f64::total_cmp);
            let q = |p: f64| {
                lat.get(((lat.len() as f64 - 1.0) * p).round() as usize)
                    .copied()
                    .unwrap_or(f64::NAN)
            };
            println!(
                "{:<12} {:<6} {:<8} {:>7} {:>7.2} {:>7.2} {:>7.2} {:>7.2}",
                receiver,
                transport,
                if loss { "1 %" } else { "none" },
                lat.len(),
                q(0.5),
                q(0.9),
                q(0.99),
                lat.last().copied().unwrap_or(f64::NAN)
            );
        }
    }
}

/// (push time, PTS in ns, the camera's time of the frame) of every buffer leaving the receiver.
fn run(receiver: &str, url: &str, protocols: &str) -> Vec<(Instant, u64, Option<u64>)> {
    let desc = match receiver {
        "rustrtspsrc" => format!("rustrtspsrc name=out location={url} protocols={protocols} latency={WINDOW_MS} ! fakesink sync=false"),
        _ => format!(
            "rtspsrc location={url} protocols={protocols} latency={WINDOW_MS} ! rtph264depay name=out ! video/x-h264,alignment=au ! fakesink sync=false"
        ),
    };
    let pipeline = gst::parse::launch(&desc)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let pad = pipeline.by_name("out").unwrap().static_pad("src").unwrap();
    let pushed = Arc::new(Mutex::new(Vec::new()));
    let p = pushed.clone();
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if let Some(buf) = info.buffer() {
            if let Some(pts) = buf.pts() {
                let ntp = common::ntp_meta(buf);
                p.lock()
                    .unwrap()
                    .push((Instant::now(), pts.nseconds(), ntp));
            }
        }
        gst::PadProbeReturn::Ok
    });
    pipeline.set_state(gst::State::Playing).unwrap();
    std::thread::sleep(RUN);
    pipeline.set_state(gst::State::Null).unwrap();
    let v = pushed.lock().unwrap().clone();
    v
}

/// Pairs buffers with sent frames by RTP time: PTS differences give the frame offsets from the first
/// buffer, and the first buffer's frame is the one that gives the smallest latencies none of which is
/// negative.
fn match_latencies(sent: &[(u32, Instant, bool)], pushed: &[(Instant, u64)]) -> Vec<f64> {
    let Some(&(t0, pts0)) = pushed.first() else {
        return Vec::new();
    };
    // rtph264pay rounds 90000/30 to 2999 or 3000: look frames up by the nearest timestamp.
    let by_ts: BTreeMap<u32, Instant> = sent.iter().map(|&(ts, t, _)| (ts, t)).collect();
    let nearest = |ts: u32| {
        by_ts
            .range(ts.saturating_sub(1500)..ts.saturating_add(1500))
            .next()
            .map(|(_, t)| t)
    };
    let candidates = sent
        .iter()
        .filter(|(_, t, _)| *t <= t0 && t0.duration_since(*t) < Duration::from_secs(3));
    let mut best: Option<Vec<f64>> = None;
    for &(ts0, _, _) in candidates {
        let lat: Option<Vec<f64>> = pushed
            .iter()
            .filter_map(|&(t, pts)| {
                let frames = ((pts.wrapping_sub(pts0) as i64) as f64 / 1e9 * 30.0).round() as i64;
                let ts = ts0.wrapping_add((frames * 3000) as u32);
                // A buffer before its frame left the sender rules this pairing out.
                nearest(ts).map(|sent_at| {
                    t.checked_duration_since(*sent_at)
                        .map(|d| d.as_secs_f64() * 1000.0)
                })
            })
            .collect();
        if let Some(lat) = lat {
            let median = |v: &Vec<f64>| {
                let mut s = v.clone();
                s.sort_by(f64::total_cmp);
                s[s.len() / 2]
            };
            if best.as_ref().is_none_or(|b| median(&lat) < median(b)) {
                best = Some(lat);
            }
        }
    }
    best.unwrap_or_default()
}

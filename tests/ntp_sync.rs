//! `ntp-sync`, end to end over UDP and TCP: two cameras with the same NTP clock and different RTP clocks
//! feed one pipeline, and frames captured at the same instant get the same PTS; a camera whose clock is
//! an hour off gets a warning and arrival-based PTS.

mod common;

use common::fake_camera::{CameraClock, FakeCamera, Script};
use common::record;
use gst::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MS: i64 = 1_000_000;

fn camera(ntp_offset_ms: i64, rtp_offset: u32, ppm: i64, latency_ms: u64) -> FakeCamera {
    FakeCamera::start(Script {
        clock: CameraClock {
            ntp_offset_ms,
            ppm,
            rtp_offset,
            latency: Duration::from_millis(latency_ms),
            jump: None,
        },
        sender_reports: Some(Duration::from_secs(1)),
        ..Default::default()
    })
}

/// (PTS, reference timestamp meta) of each buffer of one branch.
type Buffers = Vec<(i64, Option<u64>)>;

/// Runs one pipeline with a `rustrtspsrc ntp-sync=true ! appsink` branch per URL; returns per branch the
/// (PTS, meta) of every buffer, and the latency each source reports at the end.
fn record_together(
    urls: &[String],
    protocols: &str,
    duration: Duration,
) -> (Vec<Buffers>, Vec<gst::ClockTime>) {
    common::init();
    let pipeline = gst::Pipeline::new();
    let mut outs = Vec::new();
    let mut srcs = Vec::new();
    for url in urls {
        let src = gst::ElementFactory::make("rustrtspsrc")
            .property("location", url)
            .property("ntp-sync", true)
            .build()
            .unwrap();
        src.set_property_from_str("protocols", protocols);
        let sink = gst_app::AppSink::builder().sync(false).build();
        pipeline.add_many([&src, sink.upcast_ref()]).unwrap();
        src.link(&sink).unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        let o = out.clone();
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let buf = sample.buffer().ok_or(gst::FlowError::Error)?;
                    let pts = buf.pts().map_or(-1, |p| p.nseconds() as i64);
                    o.lock().unwrap().push((pts, common::ntp_meta(buf)));
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        outs.push(out);
        srcs.push(src);
    }
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let start = Instant::now();
    while start.elapsed() < duration {
        if let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(50)) {
            if let gst::MessageView::Error(e) = msg.view() {
                panic!("{protocols}: {} {:?}", e.error(), e.debug());
            }
        }
    }
    let latencies = srcs
        .iter()
        .map(|src| {
            let mut q = gst::query::Latency::new();
            assert!(src.query(&mut q));
            q.result().1
        })
        .collect();
    pipeline.set_state(gst::State::Null).unwrap();
    let buffers = outs
        .into_iter()
        .map(|o| std::mem::take(&mut *o.lock().unwrap()))
        .collect();
    (buffers, latencies)
}

/// PTS minus capture time (by the meta, checked against the camera in `wall_clock.rs`) of every buffer
/// past the first second.
fn offsets(buffers: &Buffers) -> Vec<i64> {
    let first = buffers
        .iter()
        .find_map(|b| b.1)
        .expect("buffers with a meta") as i64;
    buffers
        .iter()
        .filter_map(|&(pts, ntp)| Some((pts, ntp? as i64)))
        .filter(|&(_, ntp)| ntp - first > 1000 * MS)
        .map(|(pts, ntp)| pts - ntp)
        .collect()
}

fn two_cameras_align(protocols: &str) {
    // The same NTP clock; RTP clocks far apart, one 300 ppm fast; one sends its frames 150 ms after
    // capture, the other at once (arrival times alone would put them 150 ms apart).
    let a = camera(0, 0x1000_0000, 0, 0);
    let b = camera(0, 0xc000_0000, 300, 150);
    let (out, latencies) = record_together(&[a.url(), b.url()], protocols, Duration::from_secs(5));
    // The latency covers how far capture times are behind arrival.
    assert!(
        latencies[1] >= gst::ClockTime::from_mseconds(150 + 50),
        "{protocols}: {latencies:?}"
    );
    let (oa, ob) = (offsets(&out[0]), offsets(&out[1]));
    assert!(
        oa.len() > 60 && ob.len() > 60,
        "{protocols}: {} and {} buffers",
        oa.len(),
        ob.len()
    );
    for pts in out
        .iter()
        .map(|o| o.iter().map(|b| b.0).collect::<Vec<_>>())
    {
        assert!(
            pts.windows(2).all(|w| w[1] > w[0]),
            "{protocols}: PTS went back"
        );
    }
    // Captured at the same instant ⇔ the same PTS: PTS - capture time is one constant for both.
    let reference = oa[oa.len() / 2];
    let worst = oa
        .iter()
        .chain(&ob)
        .map(|o| (o - reference).abs())
        .max()
        .unwrap();
    assert!(
        worst <= 2 * MS,
        "{protocols}: frames captured at the same instant {} ms apart",
        worst as f64 / 1e6
    );
}

fn clock_an_hour_off(protocols: &str) {
    let cam = camera(3_600_000, 0, 0, 0);
    let rec = record(
        &cam.url(),
        Duration::from_secs(3),
        &[("protocols", &protocols), ("ntp-sync", &true)],
    );
    assert!(rec.errors.is_empty(), "{:?}", rec.errors);
    rec.assert_plays();
    let warnings: Vec<_> = rec
        .warnings
        .iter()
        .filter(|w| w.contains("ntp-sync"))
        .collect();
    assert_eq!(warnings.len(), 1, "{protocols}: {:?}", rec.warnings);
    // PTS follow arrival: the last frame's PTS is within a second of the first's plus the time between.
    let (first, last) = (&rec.frames[0], rec.frames.last().unwrap());
    let pts_span = (last.pts.unwrap() - first.pts.unwrap()).nseconds() as i64;
    let arrival_span = last.at.duration_since(first.at).as_nanos() as i64;
    assert!(
        (pts_span - arrival_span).abs() < 200 * MS,
        "{pts_span} vs {arrival_span}"
    );
}

over_udp_and_tcp! {
    aligned => super::two_cameras_align;
    unsynchronised_camera => super::clock_an_hour_off;
}

//! What the element tells the camera over RTCP and learns back, end to end over UDP and TCP. Keyframes on
//! request: an upstream ForceKeyUnit event (what splitmuxsink sends when it starts a file) becomes an
//! RTCP PLI or FIR as the camera's SDP offers, at most one a second and none lost; a camera offering
//! neither gets nothing; with wait-for-keyframe a loss asks too. The round-trip time, from a camera that
//! answers our reference times. The fake camera counts what it receives in compound RTCP packets.

mod common;

use common::fake_camera::{FakeCamera, Script};
use common::{record_with_actions, Action, Recording};
use gst::prelude::*;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

/// Sends a ForceKeyUnit upstream from the sink, as splitmuxsink does, `at` after the start.
fn force_key_unit(at: Duration) -> Action {
    (
        at,
        Box::new(|pipeline: &gst::Pipeline| {
            let sink = pipeline
                .iterate_sinks()
                .into_iter()
                .next()
                .unwrap()
                .unwrap();
            let event = gst_video::UpstreamForceKeyUnitEvent::builder()
                .all_headers(true)
                .build();
            assert!(sink.static_pad("sink").unwrap().push_event(event));
        }),
    )
}

fn run(
    script: Script,
    protocols: &str,
    props: &[(&str, &dyn ToValue)],
    requests: Vec<Action>,
) -> (FakeCamera, Recording) {
    let cam = FakeCamera::start(script);
    let mut all: Vec<(&str, &dyn ToValue)> = vec![("protocols", &protocols)];
    all.extend_from_slice(props);
    let rec = record_with_actions(&cam.url(), Duration::from_secs(4), &all, requests);
    assert!(rec.errors.is_empty(), "{:?}", rec.errors);
    rec.assert_plays();
    (cam, rec)
}

fn pli_once_a_second(protocols: &str) {
    let script = Script {
        rtcp_fb: &["nack", "nack pli"],
        ..Default::default()
    };
    // Three requests within 300 ms: one PLI at once, one more a second later, none lost.
    let requests = vec![
        force_key_unit(Duration::from_millis(1500)),
        force_key_unit(Duration::from_millis(1700)),
        force_key_unit(Duration::from_millis(1800)),
    ];
    let (cam, rec) = run(script, protocols, &[], requests);
    assert_eq!(cam.shared.plis.load(SeqCst), 2, "{protocols}");
    assert_eq!(cam.shared.firs.load(SeqCst), 0);
    assert_eq!(rec.stat("keyframe-requests"), 2);
}

fn fir_when_only_fir_is_offered(protocols: &str) {
    let script = Script {
        rtcp_fb: &["ccm fir"],
        ..Default::default()
    };
    let (cam, rec) = run(
        script,
        protocols,
        &[],
        vec![force_key_unit(Duration::from_secs(2))],
    );
    assert_eq!(cam.shared.firs.load(SeqCst), 1, "{protocols}");
    assert_eq!(cam.shared.plis.load(SeqCst), 0);
    assert_eq!(rec.stat("keyframe-requests"), 1);
}

fn nothing_when_nothing_is_offered(protocols: &str) {
    let (cam, rec) = run(
        Script::default(),
        protocols,
        &[],
        vec![force_key_unit(Duration::from_secs(2))],
    );
    assert_eq!(
        cam.shared.plis.load(SeqCst) + cam.shared.firs.load(SeqCst),
        0
    );
    assert_eq!(rec.stat("keyframe-requests"), 0);
    // Receiver reports still went out: the request was not sent, not the RTCP.
    assert!(cam.shared.receiver_reports.load(SeqCst) >= 1);
    // This camera does not answer reference times: no round trip known.
    assert_eq!(rec.stat("round-trip-time"), 0);
}

fn loss_asks_with_wait_for_keyframe(protocols: &str) {
    let script = Script {
        rtcp_fb: &["nack pli"],
        // One packet lost a second into the stream (about 100 packets a second).
        drop: Some(|i| i == 100),
        ..Default::default()
    };
    let (cam, rec) = run(script, protocols, &[("wait-for-keyframe", &true)], vec![]);
    assert_eq!(
        rec.stat("packets-lost"),
        1,
        "{protocols}: {:?} {}",
        rec.stats,
        cam.shared.dropped.load(SeqCst)
    );
    assert_eq!(
        cam.shared.plis.load(SeqCst),
        1,
        "{protocols}: {} sent, {} receiver reports; {:?}",
        rec.stat("keyframe-requests"),
        cam.shared.receiver_reports.load(SeqCst),
        rec.stats
    );
}

fn round_trip_time(protocols: &str) {
    // The camera answers 80 ms after our report and says it held it 30 ms: 50 ms there and back.
    let script = Script {
        answer_rrtr: Some((Duration::from_millis(80), Duration::from_millis(30))),
        ..Default::default()
    };
    let (_cam, rec) = run(script, protocols, &[], vec![]);
    let rtt = rec.stat("round-trip-time") as f64 / 1e6;
    assert!((49.0..150.0).contains(&rtt), "{protocols}: {rtt} ms");
}

/// The jitter our receiver reports give the camera is the network's (RFC 3550 §6.4.1: the variance of
/// the packets' transit), not our reads': over UDP each datagram's kernel receive time goes into it,
/// so a streaming thread held up downstream (a sink that takes 150 ms over every 10th picture, as a
/// busy encoder does), which then reads the datagrams queued meanwhile at once, does not show as
/// jitter. Over TCP the connection's bytes carry no receive time of their own, and the reads' times
/// stand (not checked: nothing changed there).
#[test]
fn reported_jitter_is_the_networks() {
    common::init();
    let cam = FakeCamera::start(Script::default());
    let src = common::rtsp_src(&cam.url(), &[("protocols", &"udp")]);
    let (pipeline, sink) = common::into_fakesink(&src, false);
    let n = std::sync::atomic::AtomicUsize::new(0);
    sink.static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            if n.fetch_add(1, SeqCst) % 10 == 9 {
                std::thread::sleep(Duration::from_millis(150));
            }
            gst::PadProbeReturn::Ok
        });
    pipeline.set_state(gst::State::Playing).unwrap();
    // Receiver reports go out every 5 s: three of them.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while cam.shared.reported_jitter.lock().unwrap().len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "{} receiver reports in 20 s",
            cam.shared.receiver_reports.load(SeqCst)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    pipeline.set_state(gst::State::Null).unwrap();
    let jitter = cam.shared.reported_jitter.lock().unwrap().clone();
    // 90 kHz: 2 ms is 180; read times made it 7 to 9 ms here. The first report is left out: the kernel
    // stamps datagrams as they come only a moment after the first socket of the host asks for it.
    assert!(
        jitter[1..].iter().all(|&j| j <= 180),
        "jitter reported (90 kHz units): {jitter:?}"
    );
}

over_udp_and_tcp! {
    round_trip => super::round_trip_time;
    pli => super::pli_once_a_second;
    fir => super::fir_when_only_fir_is_offered;
    not_offered => super::nothing_when_nothing_is_offered;
    loss_with_wait_for_keyframe => super::loss_asks_with_wait_for_keyframe;
}

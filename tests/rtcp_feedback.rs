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

/// The element reading `url` over UDP into a sink that takes 150 ms over every 10th picture (as a busy
/// encoder does): the streaming thread is held up, then reads what queued meanwhile at once.
fn held_up(url: &str) -> gst::Pipeline {
    let src = common::rtsp_src(url, &[("protocols", &"udp")]);
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
    pipeline
}

/// Plays `pipeline` until `reports()` holds three receiver reports' jitter (they go out every 5 s;
/// 20 s at most), and judges them: within 2 ms (180 at 90 kHz; read times made it 7 to 9 ms). The
/// first is left out: the kernel stamps datagrams as they come only a moment after the host's first
/// socket asks for it.
fn assert_network_jitter(pipeline: gst::Pipeline, reports: impl Fn() -> Vec<u32>, peer: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while reports().len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "{peer}: {} receiver reports in 20 s",
            reports().len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    pipeline.set_state(gst::State::Null).unwrap();
    let jitter = reports();
    assert!(
        jitter[1..].iter().all(|&j| j <= 180),
        "{peer}: jitter reported (90 kHz units): {jitter:?}"
    );
}

/// The jitter our receiver reports give the camera is the network's (RFC 3550 §6.4.1: the variance of
/// the packets' transit), not our reads': over UDP each datagram's kernel receive time goes into it,
/// so a streaming thread held up downstream does not show as jitter. Over TCP the connection's bytes
/// carry no receive time of their own, and the reads' times stand (not checked: nothing changed
/// there).
#[test]
fn reported_jitter_is_the_networks() {
    common::init();
    let cam = FakeCamera::start(Script::default());
    let pipeline = held_up(&cam.url());
    let reports = || cam.shared.reported_jitter.lock().unwrap().clone();
    assert_network_jitter(pipeline, reports, "fake camera");
}

/// The same as gst-rtsp-server's RTP session reads our reports: the report block our source sent last,
/// each new one told apart by its extended highest sequence number.
#[test]
fn gst_rtsp_server_hears_the_networks_jitter() {
    use gst_rtsp_server::prelude::*;
    common::init();
    let srv = common::server::TestServer::start(Default::default()).expect("gst-rtsp-server");
    let pipeline = held_up(&srv.url());
    let heard = std::sync::Mutex::new(Vec::<(u32, u32)>::new());
    let reports = || {
        let media = srv.media();
        let session = media.and_then(|m| m.stream(0)).and_then(|s| s.rtpsession());
        let stats = session.map(|s| s.property::<gst::Structure>("stats"));
        let sources = stats.and_then(|s| s.get::<glib::ValueArray>("source-stats").ok());
        let mut heard = heard.lock().unwrap();
        for source in sources.iter().flat_map(|a| a.iter()) {
            let Ok(s) = source.get::<gst::Structure>() else {
                continue;
            };
            // Our source (not the server's own): the report block it last sent.
            if s.get::<bool>("internal") != Ok(false) || s.get::<bool>("have-rb") != Ok(true) {
                continue;
            }
            let (Ok(seq), Ok(jitter)) =
                (s.get::<u32>("rb-exthighestseq"), s.get::<u32>("rb-jitter"))
            else {
                continue;
            };
            if heard.last().is_none_or(|&(last, _)| last != seq) {
                heard.push((seq, jitter));
            }
        }
        heard.iter().map(|&(_, j)| j).collect()
    };
    assert_network_jitter(pipeline, reports, "gst-rtsp-server");
}

over_udp_and_tcp! {
    round_trip => super::round_trip_time;
    pli => super::pli_once_a_second;
    fir => super::fir_when_only_fir_is_offered;
    not_offered => super::nothing_when_nothing_is_offered;
    loss_with_wait_for_keyframe => super::loss_asks_with_wait_for_keyframe;
}

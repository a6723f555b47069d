//! Keyframes on request, end to end over UDP and TCP: an upstream ForceKeyUnit event (what splitmuxsink
//! sends when it starts a file) becomes an RTCP PLI or FIR as the camera's SDP offers, at most one a
//! second and none lost; a camera offering neither gets nothing; with wait-for-keyframe a loss asks too.
//! The fake camera counts the requests it receives in compound RTCP packets.

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
}

fn loss_asks_with_wait_for_keyframe(protocols: &str) {
    let script = Script {
        rtcp_fb: &["nack pli"],
        // One packet lost early in the stream.
        drop: Some(|i| i == 300),
        ..Default::default()
    };
    let (cam, rec) = run(script, protocols, &[("wait-for-keyframe", &true)], vec![]);
    assert_eq!(rec.stat("packets-lost"), 1, "{protocols}");
    assert_eq!(cam.shared.plis.load(SeqCst), 1, "{protocols}");
}

over_udp_and_tcp! {
    pli => super::pli_once_a_second;
    fir => super::fir_when_only_fir_is_offered;
    not_offered => super::nothing_when_nothing_is_offered;
    loss_with_wait_for_keyframe => super::loss_asks_with_wait_for_keyframe;
}

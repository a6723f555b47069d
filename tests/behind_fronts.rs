//! The fake camera's failures through what may stand in front of a camera, where every request,
//! reconnect and keep-alive takes a different path than over plain RTSP: a TLS front (RTSPS, RTP over
//! UDP beside it or interleaved on it) and an HTTP tunnel (`rtsph://`, RTP interleaved in the GET
//! connection, requests base64 in the POST one). Reconnects after the camera drops the connection, a
//! Tapo camera's refused keep-alives on a 5 s session, and a Digest nonce that changes mid-session.

mod common;

use common::fake_camera::{FakeCamera, Script};
use common::reach::Reach;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

/// The fake camera with `script`, reached by `way`: "tls_udp" and "tls_tcp" (through a TLS front,
/// accepted by its pin, RTP by the suffix) or "http" (through an HTTP tunnel).
fn camera(script: Script, way: &str) -> (FakeCamera, Reach) {
    let cam = FakeCamera::start(script);
    let reach = match way {
        "tls_udp" => Reach::tls(&cam, "udp"),
        "tls_tcp" => Reach::tls(&cam, "tcp"),
        other => Reach::new(&cam, other),
    };
    (cam, reach)
}

fn reconnects(way: &str) {
    let (cam, reach) = camera(
        Script {
            close_after: Some(150),
            reboots: 2,
            ..Default::default()
        },
        way,
    );
    let rec = reach.record(Duration::from_secs(6), &[]);
    assert_eq!(
        rec.messages_named("rustrtspsrc-reconnected").len(),
        2,
        "{way}"
    );
    assert!(cam.shared.connections.load(SeqCst) >= 3);
    rec.assert_plays();
}

fn tapo_keepalive(way: &str) {
    // Tapo: GET_PARAMETER refused and not counted as alive, a 5 s session: the OPTIONS fallback must
    // land inside it, through a front as over plain TCP.
    let (cam, reach) = camera(
        Script {
            get_parameter_status: Some(400),
            keepalive_wrong_cseq: true,
            session_timeout: Some(5),
            ..Default::default()
        },
        way,
    );
    let rec = reach.record(Duration::from_secs(12), &[]);
    rec.assert_plays();
    assert_eq!(
        cam.shared.expiries.load(SeqCst),
        0,
        "{way}: the session expired"
    );
    assert!(
        cam.shared.count("OPTIONS") >= 3,
        "{way}: {:?}",
        cam.shared.requests()
    );
    assert_eq!(cam.shared.connections.load(SeqCst), 1, "{way}");
    assert!(
        rec.longest_gap() < Duration::from_secs(1),
        "{way}: {:?}",
        rec.longest_gap()
    );
}

fn digest_nonce_rotation(way: &str) {
    // The nonce changes on the first keep-alive of a 2 s session: answered again through a front too.
    let (cam, reach) = camera(
        Script {
            session_timeout: Some(2),
            digest: Some(("admin".into(), "pw".into())),
            ..Default::default()
        },
        way,
    );
    let rec = reach
        .with_credentials("admin", "pw")
        .record(Duration::from_secs(3), &[]);
    cam.assert_kept_alive(&rec, way);
    assert!(cam.shared.digest_responses.lock().unwrap().len() >= 5);
}

/// Each scenario through both fronts.
macro_rules! behind_every_front {
    ($($name:ident => $function:path;)+) => {$(
        mod $name {
            $crate::tests_per_transport!($function; tls_udp tls_tcp http);
        }
    )+};
}

behind_every_front! {
    reconnect => super::reconnects;
    tapo_keepalive => super::tapo_keepalive;
    digest => super::digest_nonce_rotation;
}

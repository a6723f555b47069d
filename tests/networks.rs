//! Cameras behind networks other than a flat LAN, end to end over UDP and TCP. NAT: after SETUP over UDP
//! the element sends dummy packets from its RTP and RTCP ports to the camera's before PLAY, so that a NAT
//! in front of it lets the camera's packets in (rtspsrc's `nat-method=dummy`). HTTP tunnelling
//! (`rtsph://`) through gst-rtsp-server's own tunnel, with and without Digest, whatever `protocols` say
//! (the tunnel carries RTP interleaved); a server that does not tunnel is an error at once.

mod common;

use common::fake_camera::{FakeCamera, Script};
use common::server::{Auth, ServerOptions, TestServer};
use common::tunnel_front::TunnelFront;
use common::{record, record_clean};
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

fn nat_dummy_packets(protocols: &str) {
    for (method, expected) in [("dummy", 2), ("none", 0)] {
        let cam = FakeCamera::start(Script::default());
        let rec = record_clean(
            &cam.url(),
            Duration::from_secs(2),
            &[("protocols", &protocols), ("nat-method", &method)],
        );
        rec.assert_plays();
        // Over TCP there is no UDP port to open.
        let expected = if protocols == "udp" { expected } else { 0 };
        let what = format!("{protocols}, nat-method={method}");
        assert_eq!(
            cam.shared.nat_rtp_before_play.load(SeqCst),
            expected,
            "{what}: RTP"
        );
        assert_eq!(cam.shared.nat_rtcp.load(SeqCst), expected, "{what}: RTCP");
    }
}

fn tunnelled(protocols: &str) {
    for auth in [
        None,
        Some(Auth {
            user: "viewer".into(),
            password: "Tunnel-9".into(),
            digest: true,
        }),
    ] {
        let server = TestServer::start(ServerOptions {
            auth: auth.clone(),
            ..Default::default()
        })
        .unwrap();
        let url = server.url().replace("rtsp://", "rtsph://");
        let rec = record_clean(
            &url,
            Duration::from_secs(3),
            &[
                ("protocols", &protocols),
                ("user-id", &"viewer"),
                ("user-pw", &"Tunnel-9"),
            ],
        );
        rec.assert_plays();
        assert_eq!(
            rec.transport(),
            "tcp",
            "{protocols}, auth {}",
            auth.is_some()
        );
        assert!(server.teardowns() >= 1, "TEARDOWN went through the tunnel");
    }
}

fn tunnel_refused(protocols: &str) {
    // The fake camera speaks RTSP only: it answers the GET as an RTSP request.
    let cam = FakeCamera::start(Script::default());
    let url = cam.url().replace("rtsp://", "rtsph://");
    let rec = record(&url, Duration::from_secs(4), &[("protocols", &protocols)]);
    assert!(rec.frames.is_empty());
    assert_eq!(
        rec.error_kind,
        Some(gst::ResourceError::OpenRead),
        "{:?}",
        rec.errors
    );
    assert!(rec.error_after.unwrap() < Duration::from_secs(2));
    assert!(
        rec.errors[0].1.contains("does not tunnel RTSP over HTTP"),
        "{:?}",
        rec.errors
    );
}

/// A server that answers the tunnel's POST connection and closes it (live555 does so for a POST whose
/// GET it has not read): the element reconnects at once, naming why, instead of sending requests into a
/// closed connection and waiting out the 10 s reply timeout.
fn tunnel_post_refused(protocols: &str) {
    let cam = FakeCamera::start(Script::default());
    let front = TunnelFront::refusing_posts(cam.port, 1);
    let rec = record_clean(
        &front.url(),
        Duration::from_secs(3),
        &[("protocols", &protocols)],
    );
    rec.assert_plays();
    let reasons = rec.reconnect_reasons();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].contains("refused the HTTP tunnel's POST connection")
            && reasons[0].contains("405"),
        "{reasons:?}"
    );
}

over_udp_and_tcp! {
    nat => super::nat_dummy_packets;
    http_tunnel_post_refused => super::tunnel_post_refused;
    http_tunnel => super::tunnelled;
    http_tunnel_refused => super::tunnel_refused;
}

//! Cameras behind networks other than a flat LAN, end to end over UDP and TCP. NAT: after SETUP over UDP
//! the element sends dummy packets from its RTP and RTCP ports to the camera's before PLAY, so that a NAT
//! in front of it lets the camera's packets in (rtspsrc's `nat-method=dummy`).

mod common;

use common::fake_camera::{FakeCamera, Script};
use common::record_clean;
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

over_udp_and_tcp! {
    nat => super::nat_dummy_packets;
}

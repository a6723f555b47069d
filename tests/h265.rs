//! H.265 cameras (RFC 7798) end to end: gst-rtsp-server serving x265enc ! rtph265pay over UDP and TCP,
//! recorded by the element with no new setting, decoded by avdec_h265 and ffmpeg; caps from the SPS.

mod common;

use common::server::{ServerOptions, TestServer};
use common::{record_clean, record_with};
use std::time::Duration;

/// NAL unit types of an H.265 Annex-B access unit with 4-byte start codes.
fn h265_types(au: &[u8]) -> Vec<u8> {
    au.windows(5)
        .filter(|w| w[..4] == [0, 0, 0, 1])
        .map(|w| (w[4] >> 1) & 0x3f)
        .collect()
}

fn server(width: u32, height: u32, port: u16) -> TestServer {
    common::init();
    TestServer::start(ServerOptions {
        codec: "h265",
        width,
        height,
        port,
        ..Default::default()
    })
    .expect("RTSP test server (needs x265enc: gstreamer1.0-plugins-bad)")
}

fn records_h265(protocols: &str) {
    let srv = server(320, 240, 0);
    let rec = record_clean(
        &srv.url(),
        Duration::from_secs(4),
        &[("protocols", &protocols)],
    );
    assert_eq!(rec.transport(), protocols);
    let n = rec.frames.len();
    assert!(n >= 45, "{protocols}: {n} frames in 4 s");
    let caps = rec.caps[0].structure(0).unwrap();
    assert_eq!(caps.name(), "video/x-h265", "{protocols}");
    assert_eq!(caps.get::<i32>("width").unwrap(), 320);
    assert_eq!(caps.get::<i32>("height").unwrap(), 240);
    assert_eq!(caps.get::<&str>("profile").unwrap(), "main");
    assert_eq!(caps.get::<&str>("tier").unwrap(), "main");
    assert_eq!(
        caps.get::<gst::Fraction>("framerate").unwrap(),
        gst::Fraction::new(30, 1)
    );
    // Keyframes (IRAP) carry VPS, SPS and PPS in front; other pictures are delta units.
    for f in &rec.frames {
        let types = h265_types(&f.data);
        let irap = types.iter().any(|t| (16..=23).contains(t));
        assert_eq!(
            !irap,
            f.flags.contains(gst::BufferFlags::DELTA_UNIT),
            "{types:?}"
        );
        if irap {
            let at = |t: u8| types.iter().position(|&x| x == t);
            let slice = types.iter().position(|t| (16..=23).contains(t));
            assert!(
                at(32) < at(33) && at(33) < at(34) && at(34) < slice,
                "{types:?}"
            );
            assert!(at(32).is_some(), "{types:?}");
        }
    }
    rec.assert_plays();
}

fn caps_follow_a_new_resolution_across_a_reconnect(protocols: &str) {
    // The camera comes back at another resolution (a restart of the server on the same port).
    let srv = server(320, 240, 0);
    let port = srv.port;
    let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(srv)));
    let s2 = slot.clone();
    let restart = Box::new(move || {
        drop(s2.lock().unwrap().take());
        *s2.lock().unwrap() = Some(server(640, 480, port));
    });
    let rec = record_with(
        &format!("rtsp://127.0.0.1:{port}/test"),
        Duration::from_secs(7),
        &[("protocols", &protocols), ("timeout", &2u32)],
        Some((Duration::from_secs(2), restart)),
    );
    assert!(rec.errors.is_empty(), "{protocols}: {:?}", rec.errors);
    let widths: Vec<i32> = rec
        .caps
        .iter()
        .map(|c| c.structure(0).unwrap().get::<i32>("width").unwrap())
        .collect();
    assert_eq!(widths, vec![320, 640], "{protocols}: {:?}", rec.caps);
    rec.assert_plays();
}

over_udp_and_tcp! {
    records_h265_from_a_real_server => super::records_h265;
    h265_caps_follow_a_new_resolution_across_a_reconnect => super::caps_follow_a_new_resolution_across_a_reconnect;
}

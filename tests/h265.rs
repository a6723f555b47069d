//! H.265 cameras (RFC 7798) end to end: gst-rtsp-server serving x265enc ! rtph265pay over UDP and TCP,
//! recorded by the element with no new setting, decoded by avdec_h265 and ffmpeg; caps from the SPS.

mod common;

use common::fake_camera::h265_packets::Packing;
use common::fake_camera::{FakeCamera, Script};
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
        &[("protocols", &protocols), ("stall-timeout", &2u32)],
        Some((Duration::from_secs(2), restart)),
    );
    assert!(rec.errors.is_empty(), "{protocols}: {:?}", rec.errors);
    let widths = rec.widths();
    assert_eq!(widths, vec![320, 640], "{protocols}: {:?}", rec.caps);
    rec.assert_plays();
}

over_udp_and_tcp! {
    records_h265_from_a_real_server => super::records_h265;
    h265_caps_follow_a_new_resolution_across_a_reconnect => super::caps_follow_a_new_resolution_across_a_reconnect;
}

/// Ten seconds of H.265, encoded once per test process.
fn pictures() -> &'static [common::fake_camera::h265_packets::Picture] {
    static PICTURES: std::sync::OnceLock<Vec<common::fake_camera::h265_packets::Picture>> =
        std::sync::OnceLock::new();
    PICTURES.get_or_init(|| common::fake_camera::h265_packets::encode(300))
}

/// A fake H.265 camera packing its pictures as `packing` says, with `script`'s misbehaviour.
fn camera(packing: Packing, script: Script) -> FakeCamera {
    let (packets, fmtp) = common::fake_camera::h265_packets::packetize(pictures(), packing);
    let packets: &'static [Vec<u8>] = Box::leak(packets.into_boxed_slice());
    FakeCamera::start_with(
        Script {
            encoding: Some("H265"),
            fmtp: Some(fmtp),
            ..script
        },
        packets,
    )
}

const MTU: usize = 1000;

fn every_packet_type(protocols: &str) {
    for (what, packing) in [
        (
            "single units and FUs",
            Packing {
                mtu: MTU,
                ..Default::default()
            },
        ),
        (
            "parameter sets in one AP, every 5th packet in a PACI",
            Packing {
                mtu: MTU,
                params_in_one_ap: true,
                paci_every: Some(5),
                ..Default::default()
            },
        ),
        (
            "DONL and DOND (sprop-max-don-diff=2)",
            Packing {
                mtu: MTU,
                don: true,
                params_in_one_ap: true,
                ..Default::default()
            },
        ),
        (
            "parameter sets only in the SDP",
            Packing {
                mtu: MTU,
                params_only_in_sdp: true,
                ..Default::default()
            },
        ),
        (
            "parameter sets only in the stream",
            Packing {
                mtu: MTU,
                params_only_in_band: true,
                ..Default::default()
            },
        ),
    ] {
        let cam = camera(packing, Script::default());
        let rec = record_clean(
            &cam.url(),
            Duration::from_secs(3),
            &[("protocols", &protocols)],
        );
        assert!(
            rec.frames.len() > 45,
            "{protocols}, {what}: {} frames",
            rec.frames.len()
        );
        assert_eq!(rec.codec(), "h265", "{protocols}, {what}");
        assert_eq!(rec.stat("malformed"), 0, "{protocols}, {what}");
        for f in rec
            .frames
            .iter()
            .filter(|f| !f.flags.contains(gst::BufferFlags::DELTA_UNIT))
        {
            let types = h265_types(&f.data);
            assert!(
                types.contains(&32) && types.contains(&33) && types.contains(&34),
                "{protocols}, {what}: keyframe without VPS/SPS/PPS: {types:?}"
            );
        }
        rec.assert_plays();
    }
}

fn loss_and_reordering(protocols: &str) {
    let cam = camera(
        Packing {
            mtu: MTU,
            ..Default::default()
        },
        Script {
            drop: Some(|i| i % 125 == 60),
            swap: Some(|i| i % 20 == 7),
            ..Default::default()
        },
    );
    let rec = record_clean(
        &cam.url(),
        Duration::from_secs(4),
        &[("protocols", &protocols)],
    );
    assert!(
        rec.frames.len() > 80,
        "{protocols}: {} frames",
        rec.frames.len()
    );
    assert!(rec.stat("packets-lost") > 0, "{protocols}");
    assert!(rec.stat("packets-reordered") > 0, "{protocols}");
    assert!(rec.disconts() > 0, "{protocols}");
    let (decoded, _) = common::decode_as("h265", &rec.annexb());
    assert!(
        decoded >= rec.frames.len() * 9 / 10,
        "{protocols}: decoded {decoded}"
    );
}

over_udp_and_tcp! {
    h265_every_packet_type => super::every_packet_type;
    h265_loss_and_reordering => super::loss_and_reordering;
}

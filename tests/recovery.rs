//! Transports and recovery: TCP interleaved, automatic UDP→TCP, reconnecting by itself, keep-alive and
//! auth robustness. Real server where it can show the behaviour, the scriptable fake camera where not.

mod common;

use common::fake_camera::{FakeCamera, Script};
use common::server::{ServerOptions, TestServer};
use common::{record, record_clean, record_with};
use std::time::Duration;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn tcp_interleaved_from_a_real_server() {
    common::init();
    let srv = TestServer::start(ServerOptions::default()).unwrap();
    let rec = record_clean(&srv.url(), secs(3), &[("protocols", &"tcp")]);
    assert!(rec.frames.len() > 45, "{} frames", rec.frames.len());
    rec.assert_plays();
    assert_eq!(rec.transport(), "tcp");

    let url = srv.url().replace("rtsp://", "rtspt://");
    let rec = record_clean(&url, secs(2), &[]);
    assert_eq!(rec.transport(), "tcp");
}

#[test]
fn udp_refused_with_461_falls_back_to_tcp() {
    let cam = FakeCamera::start(Script {
        refuse_udp: true,
        ..Default::default()
    });
    let rec = record_clean(&cam.url(), secs(3), &[]);
    rec.assert_plays();
    let setups: Vec<String> = cam
        .shared
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("SETUP"))
        .collect();
    assert!(setups[0].contains("client_port="), "{setups:?}");
    assert!(setups[1].contains("RTP/AVP/TCP"), "{setups:?}");
}

#[test]
fn silent_udp_falls_back_to_tcp_with_a_warning() {
    let cam = FakeCamera::start(Script {
        silent_udp: true,
        ..Default::default()
    });
    let rec = record_clean(&cam.url(), secs(4), &[("timeout", &500_000u64)]);
    assert!(
        rec.warnings.iter().any(|w| w.contains("firewall")),
        "{:?}",
        rec.warnings
    );
    rec.assert_plays();
    let reqs = cam.shared.requests();
    let teardown = reqs
        .iter()
        .position(|r| r == "TEARDOWN")
        .expect("TEARDOWN of the UDP session");
    let tcp_setup = reqs
        .iter()
        .position(|r| r.contains("RTP/AVP/TCP"))
        .expect("SETUP over TCP");
    assert!(teardown < tcp_setup, "{reqs:?}");
}

#[test]
fn reconnects_after_the_camera_drops_the_connection() {
    let cam = FakeCamera::start(Script {
        close_after: Some(150),
        ..Default::default()
    });
    let rec = record_clean(&cam.url(), secs(6), &[]);
    let reconnecting = rec.messages_named("rustrtspsrc-reconnecting");
    assert!(!reconnecting.is_empty(), "{:?}", rec.element_messages);
    assert_eq!(reconnecting[0].get::<u32>("attempt").unwrap(), 1);
    assert!(reconnecting[0]
        .get::<&str>("reason")
        .unwrap()
        .contains("closed"));
    assert_eq!(rec.messages_named("rustrtspsrc-reconnected").len(), 1);
    assert!(
        cam.shared
            .connections
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 2
    );
    assert_eq!(rec.stat("reconnects"), 1);
    // After the reconnect: a keyframe with DISCONT, time still moving forward, and the file still plays.
    let after = rec
        .frames
        .iter()
        .skip(1)
        .position(|f| f.flags.contains(gst::BufferFlags::DISCONT))
        .expect("a DISCONT buffer after the reconnect")
        + 1;
    assert!(!rec.frames[after]
        .flags
        .contains(gst::BufferFlags::DELTA_UNIT));
    // Only that one: a decoder that takes DISCONT for loss drops pictures up to the next keyframe.
    assert!(
        rec.frames[after + 1..]
            .iter()
            .all(|f| !f.flags.contains(gst::BufferFlags::DISCONT)),
        "DISCONT after the first picture of the new session"
    );
    assert!(
        rec.frames.len() > after + 20,
        "too few frames after the reconnect"
    );
    rec.assert_plays();
}

#[test]
fn reconnects_after_a_server_restart() {
    common::init();
    let srv = TestServer::start(ServerOptions::default()).unwrap();
    let port = srv.port;
    let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(srv)));
    let s2 = slot.clone();
    let restart = Box::new(move || {
        // A new server on the same port: new session, SSRC and sequence numbers.
        drop(s2.lock().unwrap().take());
        *s2.lock().unwrap() = Some(
            TestServer::start(ServerOptions {
                port,
                ..Default::default()
            })
            .unwrap(),
        );
    });
    let rec = record_with(
        &format!("rtsp://127.0.0.1:{port}/test"),
        secs(8),
        &[("stall-timeout", &2u32)],
        Some((secs(2), restart)),
    );
    assert!(rec.errors.is_empty(), "{:?}", rec.errors);
    assert!(
        !rec.messages_named("rustrtspsrc-reconnected").is_empty(),
        "{:?}",
        rec.element_messages
    );
    let last = rec.frames.last().unwrap().pts.unwrap() - rec.frames[0].pts.unwrap();
    assert!(
        last > gst::ClockTime::from_seconds(4),
        "recording stopped at {last}"
    );
    rec.assert_plays();
}

#[test]
fn keepalive_refused_switches_to_options() {
    let cam = FakeCamera::start(Script {
        session_timeout: Some(2),
        get_parameter_status: Some(400),
        keepalive_wrong_cseq: true,
        ..Default::default()
    });
    let rec = record_clean(&cam.url(), secs(4), &[]);
    assert!(
        rec.element_messages.is_empty(),
        "{:?}",
        rec.element_messages
    );
    // What the camera saw, not how many requests fit a loaded machine's 4 s: the session never
    // expired, GET_PARAMETER was tried once, OPTIONS went on from there.
    assert_eq!(
        cam.shared
            .expiries
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    let reqs = cam.shared.requests();
    let ka: Vec<&String> = reqs
        .iter()
        .skip_while(|r| !r.starts_with("PLAY"))
        .skip(1)
        .filter(|r| *r != "TEARDOWN")
        .collect();
    assert!(ka.len() >= 2, "{reqs:?}");
    assert!(ka[0].starts_with("GET_PARAMETER"), "{reqs:?}");
    assert!(ka[1..].iter().all(|r| r.starts_with("OPTIONS")), "{reqs:?}");
    rec.assert_plays();
}

#[test]
fn expired_session_reconnects() {
    // No keep-alives: the camera expires the session after 2 s and stops sending.
    let cam = FakeCamera::start(Script {
        session_timeout: Some(2),
        ..Default::default()
    });
    let rec = record_clean(
        &cam.url(),
        secs(8),
        &[("do-rtsp-keep-alive", &false), ("stall-timeout", &1u32)],
    );
    let reconnecting = rec.messages_named("rustrtspsrc-reconnecting");
    assert!(!reconnecting.is_empty(), "{:?}", rec.element_messages);
    assert!(reconnecting[0]
        .get::<&str>("reason")
        .unwrap()
        .contains("stopped sending"));
    assert!(!rec.messages_named("rustrtspsrc-reconnected").is_empty());
    rec.assert_plays();
}

#[test]
fn digest_nonce_change_on_keepalive() {
    let cam = FakeCamera::start(Script {
        session_timeout: Some(2),
        digest: Some(("admin".into(), "pw".into())),
        ..Default::default()
    });
    let url = cam.url().replace("rtsp://", "rtsp://admin:pw@");
    let rec = record_clean(&url, secs(4), &[]);
    // The stale keep-alive was answered again with the new nonce: the session never expired.
    cam.assert_kept_alive(&rec, "digest keep-alive");
    let last = rec.frames.last().unwrap().pts.unwrap() - rec.frames[0].pts.unwrap();
    assert!(last > gst::ClockTime::from_seconds(2));
}

#[test]
fn retry_limit_ends_with_an_error() {
    let cam = FakeCamera::start(Script::default());
    let port = cam.port;
    // Take the camera away for good after the first connection.
    let gone = Box::new(move || drop(cam));
    let rec = record_with(
        &format!("rtsp://127.0.0.1:{port}/stream"),
        secs(8),
        &[("reconnect-attempts", &2u32)],
        Some((Duration::from_millis(1500), gone)),
    );
    assert!(!rec.frames.is_empty());
    assert_eq!(
        rec.messages_named("rustrtspsrc-reconnecting").len(),
        2,
        "{:?}",
        rec.element_messages
    );
    let (_, debug) = &rec.errors.first().expect("an error after the retries");
    assert!(debug.contains("giving up after 2"), "{debug}");
}

#[test]
fn receiver_reports_over_udp_and_tcp() {
    use std::sync::atomic::Ordering::SeqCst;
    for protocols in ["udp", "tcp"] {
        let cam = FakeCamera::start(Script::default());
        let rec = record_clean(
            &cam.url(),
            Duration::from_millis(7500),
            &[("protocols", &protocols)],
        );
        // One half a second after PLAY, then every 5 s.
        assert!(cam.shared.receiver_reports.load(SeqCst) >= 2, "{protocols}");
        rec.assert_plays();
        let quiet = FakeCamera::start(Script::default());
        record(
            &quiet.url(),
            secs(2),
            &[("protocols", &protocols), ("do-rtcp", &false)],
        );
        assert_eq!(quiet.shared.receiver_reports.load(SeqCst), 0, "{protocols}");
    }
}

#[test]
fn interleaved_junk_is_ignored() {
    let cam = FakeCamera::start(Script {
        junk_frames: true,
        ..Default::default()
    });
    let rec = record_clean(&cam.url(), secs(3), &[("protocols", &"tcp")]);
    assert_eq!(rec.stat("malformed"), 0, "junk reached the RTP path");
    assert!(rec.frames.len() > 45);
    rec.assert_plays();
}

#[test]
fn caps_follow_a_stream_that_changed_across_a_reconnect() {
    // The camera comes back at another resolution: new SPS, new caps, and the file still plays.
    let bigger: &'static [Vec<u8>] =
        Box::leak(common::fake_camera::encode(640, 480, 1000, 90, 1000, "ball").into_boxed_slice());
    let cam = FakeCamera::start(Script {
        close_after: Some(120),
        after_reconnect: Some(bigger),
        ..Default::default()
    });
    let rec = record_clean(&cam.url(), secs(6), &[]);
    let widths = rec.widths();
    assert_eq!(widths, vec![320, 640], "{:?}", rec.caps);
    rec.assert_plays();
}

#[test]
fn receiver_reports_go_to_the_rtsp_server_only() {
    // The camera names other addresses for itself (the SDP's c=, Transport source=): a real camera's SDP
    // says c=IN IP4 192.168.1.67, and reports sent there would leave the machine. Here they are other
    // loopback addresses, watched on the camera's RTCP port: nothing may arrive there.
    use std::sync::atomic::Ordering::SeqCst;
    let cam = FakeCamera::start(Script {
        sdp_connection: Some("127.0.0.2"),
        transport_source: Some("127.0.0.3"),
        ..Default::default()
    });
    let watch = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (w, shared) = (watch.clone(), cam.shared.clone());
    let rec = record_with(
        &cam.url(),
        Duration::from_millis(6500),
        &[("protocols", &"udp")],
        Some((
            Duration::from_millis(300),
            Box::new(move || {
                // Bound once SETUP named the RTCP port, before the first report (500 ms after PLAY).
                let port = loop {
                    let p = shared.rtcp_port.load(SeqCst);
                    if p != 0 {
                        break p as u16;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                };
                for ip in ["127.0.0.2", "127.0.0.3"] {
                    let s = std::net::UdpSocket::bind((ip, port)).unwrap();
                    s.set_read_timeout(Some(Duration::from_millis(6000)))
                        .unwrap();
                    let w = w.clone();
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 1500];
                        if let Ok((n, _)) = s.recv_from(&mut buf) {
                            w.lock().unwrap().push(n);
                        }
                    });
                }
            }),
        )),
    );
    assert!(rec.errors.is_empty(), "{:?}", rec.errors);
    rec.assert_plays();
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        watch.lock().unwrap().is_empty(),
        "RTCP went to an address the camera named"
    );
    assert!(
        cam.shared.receiver_reports.load(SeqCst) >= 1,
        "no report reached the camera"
    );
}

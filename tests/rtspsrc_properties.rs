//! Properties that rustrtspsrc shares with rtspsrc take rtspsrc's type, unit and meaning, so that a
//! pipeline copied from rtspsrc does what it did there: `timeout` is the µs UDP may stay silent before
//! TCP is tried (0: never), `tcp-timeout` the µs a reply may take, `retry` the tries at a UDP port pair.
//! The element's own concepts have names of their own: `stall-timeout`, `reconnect-attempts`.

mod common;

use common::acceptor::Acceptor;
use common::fake_camera::{FakeCamera, Script};
use common::server::{ServerOptions, TestServer};
use common::{record, record_clean};
use gst::prelude::*;
use std::io::Read;
use std::time::Duration;

/// A gst-launch line as rtspsrc users write it, values in rtspsrc's units, plays as it did there.
#[test]
fn an_rtspsrc_line_plays() {
    common::init();
    let server = TestServer::start(ServerOptions::default()).unwrap();
    let recorded = common::launch_to_file(
        &format!(
            "rustrtspsrc location={} latency=200 timeout=5000000 tcp-timeout=20000000 retry=20 \
             protocols=udp+tcp do-rtcp=true do-rtsp-keep-alive=true",
            server.url()
        ),
        Duration::from_secs(3),
        "rtspsrc's line",
    );
    let (decoded, problems) = common::decode(&recorded);
    assert!(
        decoded >= 45 && problems.is_empty(),
        "{decoded} pictures, {problems:?}"
    );
}

/// The types and defaults gst-inspect shows: rtspsrc's types for its names.
#[test]
fn shared_names_have_rtspsrc_types() {
    common::init();
    let src = gst::ElementFactory::make("rustrtspsrc").build().unwrap();
    let spec = |name: &str| {
        src.find_property(name)
            .unwrap_or_else(|| panic!("no property {name}"))
    };
    assert_eq!(spec("timeout").value_type(), glib::Type::U64);
    assert_eq!(spec("tcp-timeout").value_type(), glib::Type::U64);
    assert_eq!(spec("retry").value_type(), glib::Type::U32);
    assert_eq!(src.property::<u32>("retry"), 20, "rtspsrc's default");
    assert_eq!(src.property::<u64>("timeout"), 3_000_000);
    assert_eq!(src.property::<u32>("stall-timeout"), 5);
    assert_eq!(src.property::<u32>("reconnect-attempts"), 0);
    assert!(src.find_property("udp-timeout").is_none());
}

/// `timeout=0` (rtspsrc: never retry over TCP): a camera whose UDP never arrives is not tried over
/// TCP; the stall timeout ends the attempt with the firewall hint.
#[test]
fn timeout_zero_never_tries_tcp() {
    let cam = FakeCamera::start(Script {
        silent_udp: true,
        ..Default::default()
    });
    let rec = record(
        &cam.url(),
        Duration::from_secs(5),
        &[("timeout", &0u64), ("stall-timeout", &2u32)],
    );
    assert!(rec.frames.is_empty());
    assert!(
        rec.errors.first().is_some_and(|e| e.1.contains("firewall")),
        "{:?}",
        rec.errors
    );
    let reqs = cam.shared.requests();
    assert!(!reqs.iter().any(|r| r.contains("RTP/AVP/TCP")), "{reqs:?}");
}

/// `timeout` in µs: 1 s of silent UDP, then TCP (read as seconds it would be 11 days).
#[test]
fn timeout_is_microseconds_of_silent_udp() {
    let cam = FakeCamera::start(Script {
        silent_udp: true,
        ..Default::default()
    });
    let rec = record_clean(
        &cam.url(),
        Duration::from_secs(4),
        &[("timeout", &1_000_000u64)],
    );
    rec.assert_plays();
    assert_eq!(rec.transport(), "tcp");
    assert!(
        rec.warnings.iter().any(|w| w.contains("1000 ms")),
        "{:?}",
        rec.warnings
    );
}

/// `tcp-timeout` in µs: a server that accepts the connection and never answers fails the attempt
/// after that long, naming the property (the default, 10 s, is past the recording's end).
#[test]
fn tcp_timeout_bounds_a_silent_server() {
    let silent = Acceptor::start(None, |mut client, stop| {
        let mut buf = [0u8; 1024];
        let _ = client.set_read_timeout(Some(Duration::from_millis(100)));
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            if matches!(client.read(&mut buf), Ok(0)) {
                return;
            }
        }
    });
    let rec = record(
        &format!("rtsp://127.0.0.1:{}/stream", silent.port),
        Duration::from_secs(5),
        &[("tcp-timeout", &1_000_000u64)],
    );
    assert!(rec.frames.is_empty());
    let error = &rec.errors.first().expect("an error").1;
    assert!(
        error.contains("did not answer OPTIONS within 1.0 s (tcp-timeout)"),
        "{error}"
    );
}

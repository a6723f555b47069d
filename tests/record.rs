//! The element against a real RTSP server (gst-rtsp-server, in-process, 127.0.0.1): it records, the output
//! decodes, and failures come out as errors a person can act on.

mod common;

use gst::prelude::*;

use common::server::{Auth, ServerOptions, TestServer};
use common::{nal_types, record, record_clean};
use std::time::Duration;

fn server(auth: Option<Auth>) -> TestServer {
    common::init();
    TestServer::start(ServerOptions {
        auth,
        ..Default::default()
    })
    .expect("RTSP test server")
}

#[test]
fn records_udp_and_output_decodes() {
    let srv = server(None);
    let rec = record_clean(&srv.url(), Duration::from_secs(4), &[]);
    let n = rec.frames.len();
    assert!(n >= 45, "only {n} frames in 4 s");

    // The first buffer is an IDR with SPS and PPS in front; flags follow the picture type.
    let first = &rec.frames[0];
    assert!(!first.flags.contains(gst::BufferFlags::DELTA_UNIT));
    let types = nal_types(&first.data);
    let at = |t: u8| types.iter().position(|&x| x == t);
    assert!(
        at(7) < at(5) && at(8) < at(5) && at(7).is_some() && at(8).is_some(),
        "{types:?}"
    );
    for f in &rec.frames {
        let idr = nal_types(&f.data).contains(&5);
        assert_eq!(!idr, f.flags.contains(gst::BufferFlags::DELTA_UNIT));
        if idr {
            let t = nal_types(&f.data);
            assert!(
                t.contains(&7) && t.contains(&8),
                "IDR without SPS/PPS: {t:?}"
            );
        }
    }

    // Keyframe first, PTS increasing, every access unit decodes (avdec_h264 and ffmpeg, no errors).
    rec.assert_plays();

    // Timestamps follow 30 fps.
    let pts: Vec<u64> = rec
        .frames
        .iter()
        .map(|f| f.pts.unwrap().nseconds())
        .collect();
    let span = (pts[n - 1] - pts[0]) as f64 / 1e9;
    let fps = (n - 1) as f64 / span;
    assert!((27.0..33.0).contains(&fps), "{fps} fps");

    // Full caps once the SPS is known.
    let caps = rec
        .caps
        .last()
        .expect("caps")
        .structure(0)
        .unwrap()
        .to_owned();
    assert_eq!(caps.get::<i32>("width").unwrap(), 320);
    assert_eq!(caps.get::<i32>("height").unwrap(), 240);
    assert_eq!(
        caps.get::<gst::Fraction>("framerate").unwrap(),
        gst::Fraction::new(30, 1)
    );
    assert_eq!(caps.get::<&str>("alignment").unwrap(), "au");
    assert!(caps.get::<&str>("profile").is_ok() && caps.get::<&str>("level").is_ok());

    // TEARDOWN reached the server when the element stopped (the server counts it on its own thread:
    // waited for, up to a deadline).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while srv.teardowns() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(srv.teardowns(), 1);
}

#[test]
fn basic_auth_with_url_credentials() {
    let srv = server(Some(Auth {
        user: "admin".into(),
        password: "s3cret".into(),
        digest: false,
    }));
    let url = srv.url().replace("rtsp://", "rtsp://admin:s3cret@");
    let rec = record_clean(&url, Duration::from_secs(2), &[]);
    assert!(rec.frames.len() > 10);
}

#[test]
fn digest_auth_with_properties() {
    let srv = server(Some(Auth {
        user: "admin".into(),
        password: "p@ss:w/rd".into(),
        digest: true,
    }));
    let rec = record_clean(
        &srv.url(),
        Duration::from_secs(2),
        &[("user-id", &"admin"), ("user-pw", &"p@ss:w/rd")],
    );
    assert!(rec.frames.len() > 10);
}

#[test]
fn wrong_password_is_a_clear_error() {
    for digest in [false, true] {
        let srv = server(Some(Auth {
            user: "admin".into(),
            password: "right".into(),
            digest,
        }));
        let url = srv.url().replace("rtsp://", "rtsp://admin:wrongpass@");
        let rec = record(&url, Duration::from_secs(5), &[]);
        assert_eq!(
            rec.error_kind,
            Some(gst::ResourceError::NotAuthorized),
            "{:?}",
            rec.errors
        );
        let (msg, debug) = &rec.errors[0];
        assert!(
            debug.contains("rejected the user name or password"),
            "{debug}"
        );
        assert!(rec.error_after.unwrap() < Duration::from_secs(3));
        let all = format!("{msg} {debug} {:?}", rec.all_messages);
        assert!(!all.contains("wrongpass"), "password leaked: {all}");
        assert!(rec.frames.is_empty());
    }
}

#[test]
fn missing_credentials_say_so() {
    let srv = server(Some(Auth {
        user: "admin".into(),
        password: "x".into(),
        digest: false,
    }));
    let rec = record(&srv.url(), Duration::from_secs(5), &[]);
    assert_eq!(rec.error_kind, Some(gst::ResourceError::NotAuthorized));
    assert!(rec.errors[0].1.contains("user-id"), "{:?}", rec.errors);
}

#[test]
fn unknown_path_is_not_found() {
    let srv = server(None);
    let url = format!("rtsp://127.0.0.1:{}/nope", srv.port);
    let rec = record(&url, Duration::from_secs(5), &[]);
    assert_eq!(
        rec.error_kind,
        Some(gst::ResourceError::NotFound),
        "{:?}",
        rec.errors
    );
    assert!(rec.errors[0].1.contains("404"), "{:?}", rec.errors);
    assert!(rec.error_after.unwrap() < Duration::from_secs(3));
}

#[test]
fn closed_port_fails_fast() {
    common::init();
    // Bind and drop to find a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let rec = record(
        &format!("rtsp://127.0.0.1:{port}/x"),
        Duration::from_secs(5),
        &[],
    );
    assert_eq!(
        rec.error_kind,
        Some(gst::ResourceError::OpenRead),
        "{:?}",
        rec.errors
    );
    assert!(
        rec.errors[0].1.contains(&format!("127.0.0.1:{port}")),
        "{:?}",
        rec.errors
    );
    assert!(rec.error_after.unwrap() < Duration::from_secs(3));
}

/// A location or port range the element refuses is not a missing one: the error at start names what
/// was given (credentials redacted) and why it was refused.
#[test]
fn refused_settings_are_named_in_the_error() {
    for (location, port_range, says) in [
        (
            "http://admin:Secret9@cam/x",
            None,
            "unsupported URL scheme \"http\"",
        ),
        ("rtsp:///stream", None, "the RTSP URL has no host"),
        (
            "rtsp://admin:Secret9@127.0.0.1:99999/x",
            None,
            "invalid port number",
        ),
        (
            "rtsp://127.0.0.1:8554/x",
            Some("7000-6000"),
            "port-range \"7000-6000\" refused",
        ),
    ] {
        let mut props: Vec<(&str, &dyn ToValue)> = Vec::new();
        if let Some(range) = &port_range {
            props.push(("port-range", range));
        }
        let src = common::rtsp_src(location, &props);
        let sink = gst::ElementFactory::make("fakesink").build().unwrap();
        let pipeline = gst::Pipeline::new();
        pipeline.add_many([&src, &sink]).unwrap();
        src.link(&sink).unwrap();
        assert!(
            pipeline.set_state(gst::State::Playing).is_err(),
            "{location}"
        );
        let msg = pipeline
            .bus()
            .unwrap()
            .timed_pop_filtered(gst::ClockTime::from_seconds(5), &[gst::MessageType::Error])
            .expect("an error on the bus");
        pipeline.set_state(gst::State::Null).unwrap();
        let gst::MessageView::Error(e) = msg.view() else {
            unreachable!()
        };
        assert_eq!(
            e.error().kind::<gst::ResourceError>(),
            Some(gst::ResourceError::Settings),
            "{location}: {e:?}"
        );
        let all = format!("{} {}", e.error(), e.debug().unwrap_or_default());
        assert!(all.contains(says), "{location}: {all}");
        assert!(!all.contains("No location"), "{location}: {all}");
        assert!(!all.contains("Secret9"), "{location}: {all}");
        if port_range.is_none() {
            assert!(all.contains("location "), "{location}: {all}");
        }
    }
}

#[test]
fn keep_alive_holds_a_short_session() {
    // The server expires sessions after 2 s without a request; RTCP is off so only keep-alives count.
    common::init();
    let srv = TestServer::start(ServerOptions {
        session_timeout: Some(2),
        ..Default::default()
    })
    .unwrap();
    let rec = record_clean(&srv.url(), Duration::from_secs(6), &[("do-rtcp", &false)]);
    // The session held (no reconnect, the stream ran to the end) thanks to keep-alives.
    assert!(srv.keepalives() >= 2, "{} keep-alives", srv.keepalives());
    assert!(
        rec.element_messages.is_empty(),
        "{:?}",
        rec.element_messages
    );
    let last = rec.frames.last().unwrap().pts.unwrap() - rec.frames[0].pts.unwrap();
    assert!(
        last > gst::ClockTime::from_seconds(4),
        "stream stopped after {last}"
    );
}

#[test]
fn element_interface() {
    common::init();
    let src = gst::ElementFactory::make("rustrtspsrc").build().unwrap();
    // Every property is documented for gst-inspect.
    for p in src.list_properties() {
        if p.owner_type() == src.type_() {
            assert!(
                p.blurb().is_some_and(|b| b.len() > 10),
                "{} has no description",
                p.name()
            );
        }
    }
    let factory = src.factory().unwrap();
    assert_eq!(factory.rank(), gst::Rank::NONE);
    assert!(factory
        .metadata(gst::ELEMENT_METADATA_KLASS)
        .unwrap()
        .contains("Source"));

    // URI handler: rtsp:// and rtspt:// taken, others refused; credentials never read back.
    let uri = src.dynamic_cast_ref::<gst::URIHandler>().unwrap();
    assert!(uri.set_uri("rtsp://admin:secret@127.0.0.1:8554/x").is_ok());
    assert_eq!(uri.uri().unwrap(), "rtsp://127.0.0.1:8554/x");
    assert_eq!(
        src.property::<String>("location"),
        "rtsp://127.0.0.1:8554/x"
    );
    assert!(uri.set_uri("http://127.0.0.1/").is_err());
    src.set_property("user-pw", "hunter2");
    assert_ne!(src.property::<String>("user-pw"), "hunter2");

    // Live, with the reorder window as latency: what the element reports once playing, and what the
    // pipeline configured from it. A new `latency` while playing applies from the next start: the
    // report stays the window the session runs with.
    let srv = server(None);
    src.set_property("location", srv.url());
    src.set_property("latency", 80u32);
    // Syncing, so that the pipeline asks it what latency to configure.
    let (pipeline, sink) = common::into_fakesink(&src, true);
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    sink.static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            let _ = tx.try_send(());
            gst::PadProbeReturn::Remove
        });
    pipeline.set_state(gst::State::Playing).unwrap();
    rx.recv_timeout(Duration::from_secs(10))
        .expect("a buffer within 10 s");
    // The sink answers the pipeline's latency query once its PLAYING is complete (with the first
    // buffer at the sink, on a loaded machine, it may not be yet).
    let (done, state, _) = pipeline.state(gst::ClockTime::from_seconds(10));
    assert!(
        done.is_ok() && state == gst::State::Playing,
        "{done:?} {state:?}"
    );
    let reported = || {
        let mut q = gst::query::Latency::new();
        assert!(src.query(&mut q));
        q.result()
    };
    let (live, min, max) = reported();
    assert!(live);
    assert_eq!(min, gst::ClockTime::from_mseconds(80));
    assert_eq!(max, Some(min));
    let mut q = gst::query::Latency::new();
    assert!(pipeline.query(&mut q));
    assert_eq!(q.result().1, min, "the pipeline's latency");
    src.set_property("latency", 300u32);
    assert_eq!(reported().1, gst::ClockTime::from_mseconds(80));
    pipeline.set_state(gst::State::Null).unwrap();
}

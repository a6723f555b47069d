//! The session state machine driven through handshakes, keep-alives and failures, with real cameras'
//! replies where they show the behaviour.

use super::*;
use crate::rtsp::auth::AuthError;
use crate::rtsp::message::{parse_message, Message};
use crate::stream::selection::{select, Choice};

const SDP: &str = "v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:stream=0\r\n";

fn cfg(url: &str) -> SessionConfig {
    SessionConfig {
        url: RtspUrl::parse(url).unwrap(),
        credentials: None,
        user_agent: "test".into(),
        udp_allowed: true,
        multicast_allowed: false,
        tcp_allowed: true,
        keep_alive: true,
        response_timeout: Some(RESPONSE_TIMEOUT),
        require: Vec::new(),
        log: Default::default(),
    }
}

fn resp(text: &str) -> Response {
    match parse_message(text.as_bytes()).unwrap().unwrap().0 {
        Message::Response(r) => r,
        m => panic!("{m:?}"),
    }
}

fn reply(cseq: u32, status: &str, extra: &str, body: &str) -> Response {
    resp(&format!(
        "RTSP/1.0 {status}\r\nCSeq: {cseq}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    ))
}

/// The DESCRIBE reply `resp` handled, then the streams chosen as the session client chooses them and
/// set up (UDP ports 5000-5001, 5002-5003, … when UDP is allowed): the outputs, the first SETUP last.
fn describe(s: &mut Session, resp: &Response, now: Instant) -> Vec<Output> {
    let mut out = s.handle_response(resp, now).unwrap();
    let Some(Output::Described(d)) = out.first() else {
        return out;
    };
    let udp = s.cfg.udp_allowed;
    let targets = select(d, &Choice::default())
        .unwrap()
        .streams
        .into_iter()
        .zip((5000u16..).step_by(2))
        .map(|(v, port)| SetupTarget {
            control: v.control,
            udp_ports: udp.then_some((port, port + 1)),
        })
        .collect();
    out.push(Output::Send(s.set_up(targets, now).expect("a SETUP")));
    out
}

/// A session through OPTIONS and DESCRIBE: the outputs of the DESCRIBE reply (the SETUP to send).
fn described(c: SessionConfig, now: Instant) -> (Session, Vec<Output>) {
    let mut s = Session::new(c);
    s.start(now);
    s.handle_response(&reply(1, "200 OK", "", ""), now).unwrap();
    let out = describe(&mut s, &reply(2, "200 OK", "", SDP), now);
    (s, out)
}

fn sent(out: &[Output]) -> &Request {
    out.iter()
        .find_map(|o| match o {
            Output::Send(r) => Some(r),
            _ => None,
        })
        .expect("a request")
}

/// Drives a session through to PLAYING and returns it with the time.
fn playing(public: &str) -> (Session, Instant) {
    let now = Instant::now();
    let mut s = Session::new(cfg("rtsp://u:p@127.0.0.1:8554/test"));
    let r = s.start(now);
    assert_eq!(r.method, Method::Options);
    assert_eq!(r.uri, "rtsp://127.0.0.1:8554/test");
    let out = s
        .handle_response(
            &reply(1, "200 OK", &format!("Public: {public}\r\n"), ""),
            now,
        )
        .unwrap();
    assert_eq!(sent(&out).method, Method::Describe);
    let out = describe(
        &mut s,
        &reply(
            2,
            "200 OK",
            "Content-Base: rtsp://127.0.0.1:8554/test/\r\n",
            SDP,
        ),
        now,
    );
    assert!(matches!(out[0], Output::Described(_)));
    let setup = sent(&out);
    assert_eq!(setup.uri, "rtsp://127.0.0.1:8554/test/stream=0");
    assert_eq!(
        setup.headers.get("Transport"),
        Some("RTP/AVP;unicast;client_port=5000-5001")
    );
    let out = s
        .handle_response(
            &reply(
                3,
                "200 OK",
                "Session:        708345999;timeout=60\r\nTransport: RTP/AVP;unicast;server_port=7000-7001;ssrc=1234ABCD\r\n",
                "",
            ),
            now,
        )
        .unwrap();
    assert_eq!(
        out[0],
        Output::SetUp {
            stream: 0,
            transport: Transport {
                server_port: Some((7000, 7001)),
                ssrc: Some(0x1234abcd),
                ..Default::default()
            },
            lower: Lower::Udp
        }
    );
    let play = sent(&out);
    assert_eq!(play.method, Method::Play);
    assert_eq!(play.uri, "rtsp://127.0.0.1:8554/test/");
    assert_eq!(play.headers.get("Session"), Some("708345999"));
    let out = s
        .handle_response(
            &reply(
                4,
                "200 OK",
                "Session: 999\r\nRTP-Info: url=rtsp://other/x;seq=0;rtptime=-1\r\n",
                "",
            ),
            now,
        )
        .unwrap();
    assert_eq!(
        out,
        vec![Output::Playing(vec![Some(RtpInfo {
            url: Some("rtsp://other/x".into()),
            seq: Some(0),
            rtptime: None,
            ssrc: None
        })])]
    );
    assert_eq!(s.state(), State::Playing);
    assert_eq!(s.session_id(), Some("708345999"), "first id is kept");
    (s, now)
}

#[test]
fn full_handshake_and_keepalive() {
    let (mut s, now) = playing("OPTIONS, DESCRIBE, SETUP, PLAY, GET_PARAMETER, TEARDOWN");
    // A third of the 60 s timeout: one failed keep-alive and its retry both land inside it.
    assert_eq!(s.poll(now + Duration::from_secs(19)).unwrap(), None);
    assert_eq!(s.next_deadline(), Some(now + Duration::from_secs(20)));
    let ka = s.poll(now + Duration::from_secs(20)).unwrap().unwrap();
    assert_eq!(ka.method, Method::GetParameter);
    assert_eq!(ka.headers.get("Session"), Some("708345999"));
    // Tapo: 400 with the previous CSeq → OPTIONS at once, no error.
    let at = now + Duration::from_secs(20);
    let out = s
        .handle_response(&reply(4, "400 Bad Request", "", ""), at)
        .unwrap();
    assert_eq!(sent(&out).method, Method::Options);
    s.handle_response(&reply(6, "200 OK", "", ""), at).unwrap();
    assert_eq!(s.next_deadline(), Some(at + Duration::from_secs(20)));
    let ka = s.poll(now + Duration::from_secs(40)).unwrap().unwrap();
    assert_eq!(ka.method, Method::Options);
    s.handle_response(&reply(7, "200 OK", "", ""), now).unwrap();
    let td = s.teardown(now).unwrap();
    assert_eq!(td.method, Method::Teardown);
    assert_eq!(td.uri, "rtsp://127.0.0.1:8554/test/");
    // Hikvision DS-2CD2032 answers TEARDOWN with 500 (or 454): the session is over all the same.
    assert!(s
        .handle_response(&reply(8, "500 Internal Server Error", "", ""), now)
        .unwrap()
        .is_empty());
    assert_eq!(s.state(), State::Closed);
}

/// A real camera's reply, from tests/fixtures/retina (see its README).
fn captured(text: &str) -> Response {
    resp(text)
}

#[test]
fn smallest_session_timeout_is_kept() {
    // GW4089IP's real replies: timeout=60 on SETUP's Session, timeout=120 on PLAY's.
    let (mut s, _) = playing("GET_PARAMETER");
    s.server_timeout = None;
    s.take_session(&captured(include_str!(
        "../../../tests/fixtures/retina/gw_main_setup_video.txt"
    )));
    assert_eq!(s.timeout(), Duration::from_secs(60));
    s.take_session(&captured(include_str!(
        "../../../tests/fixtures/retina/gw_main_play.txt"
    )));
    assert_eq!(s.timeout(), Duration::from_secs(60));
    s.take_session(&reply(9, "200 OK", "Session: 708345999;timeout=15\r\n", ""));
    assert_eq!(s.timeout(), Duration::from_secs(15));
}

#[test]
fn dahua_rtp_info_entry_of_our_track() {
    // Dahua's PLAY reply: relative URLs for three tracks; ours is trackID=1.
    let now = Instant::now();
    let mut s = Session::new(cfg("rtsp://127.0.0.1/cam/realmonitor?channel=1&subtype=0"));
    s.start(now);
    s.handle_response(&reply(1, "200 OK", "", ""), now).unwrap();
    let sdp = "v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=1\r\n";
    describe(&mut s, &reply(2, "200 OK", "", sdp), now);
    s.handle_response(&reply(3, "200 OK", "Session: 634214684047\r\n", ""), now)
        .unwrap();
    let mut play = captured(include_str!(
        "../../../tests/fixtures/retina/dahua_play.txt"
    ));
    play.headers.insert("CSeq", "4");
    let out = s.handle_response(&play, now).unwrap();
    match &out[0] {
        Output::Playing(infos) => assert_eq!(infos[0].as_ref().unwrap().seq, Some(45186)),
        o => panic!("{o:?}"),
    }
}

#[test]
fn relative_rtp_info_urls_are_resolved() {
    // Dahua/Reolink: one RTP-Info entry per track, relative URLs; ours is the second.
    let now = Instant::now();
    let mut s = Session::new(cfg("rtsp://127.0.0.1/s"));
    s.start(now);
    s.handle_response(&reply(1, "200 OK", "", ""), now).unwrap();
    let sdp = "v=0\r\nm=audio 0 RTP/AVP 8\r\na=control:trackID=0\r\n\
               m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=1\r\n";
    describe(
        &mut s,
        &reply(2, "200 OK", "Content-Base: rtsp://127.0.0.1/s/\r\n", sdp),
        now,
    );
    // The video is set up first, then the audio beside it.
    for cseq in [3, 4] {
        s.handle_response(&reply(cseq, "200 OK", "Session: a\r\n", ""), now)
            .unwrap();
    }
    let out = s
        .handle_response(
            &reply(
                5,
                "200 OK",
                "RTP-Info: url=trackID=0;seq=1;ssrc=11111111,url=trackID=1;seq=2;ssrc=22222222\r\n",
                "",
            ),
            now,
        )
        .unwrap();
    match out.iter().find(|o| matches!(o, Output::Playing(_))) {
        Some(Output::Playing(infos)) => {
            assert_eq!(infos[0].as_ref().unwrap().ssrc, Some(0x2222_2222));
            assert_eq!(infos[1].as_ref().unwrap().ssrc, Some(0x1111_1111));
        }
        o => panic!("{o:?}"),
    }
}

#[test]
fn digest_retry_then_rejected() {
    let now = Instant::now();
    let mut s = Session::new(cfg("rtsp://admin:secret@127.0.0.1/s"));
    s.start(now);
    let challenge = "WWW-Authenticate: Digest realm=\"r\", nonce=\"abc\"\r\n";
    let out = s
        .handle_response(&reply(1, "401 Unauthorized", challenge, ""), now)
        .unwrap();
    let r = sent(&out);
    assert_eq!(r.method, Method::Options);
    assert_eq!(r.cseq(), Some(2));
    let auth = r.headers.get("Authorization").unwrap();
    assert!(auth.starts_with("Digest ") && auth.contains("username=\"admin\""));
    assert!(!r.to_bytes().windows(6).any(|w| w == b"secret"));
    let e = s
        .handle_response(&reply(2, "401 Unauthorized", challenge, ""), now)
        .unwrap_err();
    assert_eq!(e, SessionError::Auth(AuthError::Rejected));
}

#[test]
fn basic_over_plain_rtsp_warns_once() {
    let now = Instant::now();
    let mut s = Session::new(cfg("rtsp://admin:secret@127.0.0.1/s"));
    s.start(now);
    let basic = "WWW-Authenticate: Basic realm=\"r\"\r\n";
    s.handle_response(&reply(1, "401 Unauthorized", basic, ""), now)
        .unwrap();
    s.handle_response(&reply(2, "200 OK", "", ""), now).unwrap();
    let w = s.take_warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("Basic") && !w[0].contains("secret"), "{w:?}");
    s.handle_response(&reply(3, "200 OK", "", SDP), now)
        .unwrap();
    assert!(s.take_warnings().is_empty());
    // Offered both, Digest is answered and nothing is said.
    let mut s = Session::new(cfg("rtsp://admin:secret@127.0.0.1/s"));
    s.start(now);
    let both = "WWW-Authenticate: Basic realm=\"r\"\r\nWWW-Authenticate: Digest realm=\"r\", nonce=\"n\"\r\n";
    let out = s
        .handle_response(&reply(1, "401 Unauthorized", both, ""), now)
        .unwrap();
    assert!(sent(&out)
        .headers
        .get("Authorization")
        .unwrap()
        .starts_with("Digest "));
    assert!(s.take_warnings().is_empty());
}

#[test]
fn errors_are_actionable() {
    let now = Instant::now();
    let mut s = Session::new(cfg("rtsp://127.0.0.1/nope"));
    s.start(now);
    // OPTIONS not implemented is fine.
    s.handle_response(&reply(1, "501 Not Implemented", "", ""), now)
        .unwrap();
    let e = s
        .handle_response(&reply(2, "404 Not Found", "", ""), now)
        .unwrap_err();
    assert!(e.to_string().contains("404"), "{e}");
    assert!(e.to_string().contains("rtsp://127.0.0.1/nope"), "{e}");

    let mut s = Session::new(cfg("rtsp://127.0.0.1/s"));
    s.start(now);
    assert_eq!(
        s.poll(now + RESPONSE_TIMEOUT).unwrap_err(),
        SessionError::NoAnswer(Method::Options, RESPONSE_TIMEOUT)
    );
    // tcp-timeout=0: a camera may take as long as it likes.
    let mut s = Session::new(SessionConfig {
        response_timeout: None,
        ..cfg("rtsp://127.0.0.1/s")
    });
    s.start(now);
    assert_eq!(s.poll(now + 100 * RESPONSE_TIMEOUT), Ok(None));
    assert_eq!(s.next_deadline(), None);
    let mut s = Session::new(cfg("rtsp://127.0.0.1/s"));
    s.start(now);
    let e = s
        .handle_response(
            &reply(
                1,
                "401 Unauthorized",
                "WWW-Authenticate: Basic realm=x\r\n",
                "",
            ),
            now,
        )
        .unwrap_err();
    assert_eq!(e, SessionError::Auth(AuthError::NoCredentials));
}

#[test]
fn stale_cseq_is_ignored_during_handshake() {
    let now = Instant::now();
    let mut s = Session::new(cfg("rtsp://127.0.0.1/s"));
    s.start(now);
    s.handle_response(&reply(1, "200 OK", "", ""), now).unwrap();
    assert!(s
        .handle_response(&reply(1, "200 OK", "", ""), now)
        .unwrap()
        .is_empty());
    assert_eq!(s.state(), State::Describe);
    // DESCRIBE without Content-Type or Content-Base (libavformat servers).
    let out = describe(&mut s, &reply(2, "200 OK", "", SDP), now);
    assert_eq!(sent(&out).uri, "rtsp://127.0.0.1/s/stream=0");
}

#[test]
fn unicast_then_multicast_then_tcp() {
    let now = Instant::now();
    let mut c = cfg("rtsp://127.0.0.1/s");
    c.multicast_allowed = true;
    let (mut s, out) = described(c, now);
    assert!(sent(&out)
        .headers
        .get("Transport")
        .unwrap()
        .contains("unicast"));
    let out = s
        .handle_response(&reply(3, "461 Unsupported Transport", "", ""), now)
        .unwrap();
    assert_eq!(
        sent(&out).headers.get("Transport"),
        Some("RTP/AVP;multicast")
    );
    let out = s
        .handle_response(&reply(4, "461 Unsupported Transport", "", ""), now)
        .unwrap();
    assert!(sent(&out).headers.get("Transport").unwrap().contains("TCP"));
    // A multicast reply as gst-rtsp-server gives it.
    let mut c = cfg("rtsp://127.0.0.1/s");
    (c.udp_allowed, c.multicast_allowed) = (false, true);
    let mut s = Session::new(c);
    s.start(now);
    s.handle_response(&reply(1, "200 OK", "", ""), now).unwrap();
    describe(&mut s, &reply(2, "200 OK", "", SDP), now);
    let out = s
        .handle_response(
            &reply(
                3,
                "200 OK",
                "Session: m\r\nTransport: RTP/AVP;multicast;destination=224.3.0.1;ttl=16;port=5000-5001;mode=\"PLAY\"\r\n",
                "",
            ),
            now,
        )
        .unwrap();
    let Output::SetUp {
        stream: 0,
        transport,
        lower,
    } = &out[0]
    else {
        panic!("{out:?}")
    };
    assert_eq!(*lower, Lower::Multicast);
    assert!(transport.multicast);
    assert_eq!(transport.destination.as_deref(), Some("224.3.0.1"));
    assert_eq!(
        (transport.port, transport.ttl),
        (Some((5000, 5001)), Some(16))
    );
}

#[test]
fn udp_refused_falls_back_to_tcp() {
    let now = Instant::now();
    let mut s = Session::new(cfg("rtsp://127.0.0.1/s"));
    s.start(now);
    s.handle_response(&reply(1, "200 OK", "", ""), now).unwrap();
    describe(&mut s, &reply(2, "200 OK", "", SDP), now);
    let out = s
        .handle_response(&reply(3, "461 Unsupported Transport", "", ""), now)
        .unwrap();
    let setup = sent(&out);
    assert_eq!(setup.uri, "rtsp://127.0.0.1/s/stream=0");
    assert_eq!(
        setup.headers.get("Transport"),
        Some("RTP/AVP/TCP;unicast;interleaved=0-1")
    );
    let out = s
        .handle_response(
            &reply(
                4,
                "200 OK",
                "Session: a\r\nTransport: RTP/AVP/TCP;unicast;interleaved=2-3\r\n",
                "",
            ),
            now,
        )
        .unwrap();
    assert!(
        matches!(&out[0], Output::SetUp { stream: 0, transport, lower: Lower::Tcp } if transport.interleaved == Some((2, 3)))
    );
    // Refused over TCP as well: an error, no loop.
    let mut c = cfg("rtsp://127.0.0.1/s");
    c.udp_allowed = false;
    let (mut s, out) = described(c, now);
    assert!(sent(&out).headers.get("Transport").unwrap().contains("TCP"));
    let e = s
        .handle_response(&reply(3, "461 Unsupported Transport", "", ""), now)
        .unwrap_err();
    assert!(e.to_string().contains("461"), "{e}");
}

#[test]
fn no_teardown_without_session() {
    let mut s = Session::new(cfg("rtsp://127.0.0.1/s"));
    assert!(s.teardown(Instant::now()).is_none());
}

/// Dahua's DESCRIBE with video, audio and metadata: three streams set up in order.
const THREE: &str =
    "v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=0\r\n\
m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/48000\r\na=control:trackID=1\r\n\
m=application 0 RTP/AVP 107\r\na=rtpmap:107 vnd.onvif.metadata/90000\r\na=control:trackID=4\r\n";

mod streams;

mod onvif;

mod keep_alive;

//! Several streams in one session: one SETUP each, in order, then one PLAY.

use super::*;

/// A session through DESCRIBE with `THREE`, its streams chosen as `controls` (UDP ports 5000-…).
fn choosing(c: SessionConfig, controls: &[&str], now: Instant) -> (Session, Request) {
    let mut s = Session::new(c);
    s.start(now);
    s.handle_response(&reply(1, "200 OK", "", ""), now).unwrap();
    let out = s
        .handle_response(
            &reply(2, "200 OK", "Content-Base: rtsp://cam/live/\r\n", THREE),
            now,
        )
        .unwrap();
    let [Output::Described(d)] = &out[..] else {
        panic!("{out:?}")
    };
    assert_eq!(d.media.len(), 3, "every media section reaches the chooser");
    assert_eq!(s.state(), State::Choosing);
    let targets = controls
        .iter()
        .zip((5000u16..).step_by(2))
        .map(|(c, port)| SetupTarget {
            control: format!("rtsp://cam/live/{c}"),
            udp_ports: s.cfg.udp_allowed.then_some((port, port + 1)),
        })
        .collect();
    let setup = s.set_up(targets, now).unwrap();
    (s, setup)
}

#[test]
fn every_chosen_stream_is_set_up_in_order_then_played() {
    let now = Instant::now();
    for udp in [true, false] {
        let mut c = cfg("rtsp://cam/live");
        c.udp_allowed = udp;
        let (mut s, first) = choosing(c, &["trackID=0", "trackID=1"], now);
        let expected_transport = |i: u16| match udp {
            true => format!(
                "RTP/AVP;unicast;client_port={}-{}",
                5000 + 2 * i,
                5001 + 2 * i
            ),
            false => format!("RTP/AVP/TCP;unicast;interleaved={}-{}", 2 * i, 2 * i + 1),
        };
        assert_eq!(first.uri, "rtsp://cam/live/trackID=0");
        assert_eq!(
            first.headers.get("Transport"),
            Some(expected_transport(0).as_str())
        );
        let out = s
            .handle_response(&reply(3, "200 OK", "Session: abc;timeout=60\r\n", ""), now)
            .unwrap();
        assert!(matches!(out[0], Output::SetUp { stream: 0, .. }), "{out:?}");
        let second = sent(&out);
        assert_eq!(second.method, Method::Setup);
        assert_eq!(second.uri, "rtsp://cam/live/trackID=1");
        assert_eq!(second.headers.get("Session"), Some("abc"), "one session");
        assert_eq!(
            second.headers.get("Transport"),
            Some(expected_transport(1).as_str())
        );
        let out = s
            .handle_response(&reply(4, "200 OK", "Session: abc;timeout=60\r\n", ""), now)
            .unwrap();
        assert!(matches!(out[0], Output::SetUp { stream: 1, .. }), "{out:?}");
        let play = sent(&out);
        assert_eq!(
            (play.method, play.uri.as_str()),
            (Method::Play, "rtsp://cam/live/")
        );
        // RTP-Info in another order than the SETUPs: each stream gets its own entry.
        let out = s
            .handle_response(
                &reply(
                    5,
                    "200 OK",
                    "RTP-Info: url=trackID=1;seq=7;ssrc=22222222,url=trackID=0;seq=9;ssrc=11111111\r\n",
                    "",
                ),
                now,
            )
            .unwrap();
        let [Output::Playing(infos)] = &out[..] else {
            panic!("{out:?}")
        };
        let ssrcs: Vec<_> = infos
            .iter()
            .map(|i| i.as_ref().and_then(|i| i.ssrc))
            .collect();
        assert_eq!(ssrcs, [Some(0x1111_1111), Some(0x2222_2222)]);
        assert_eq!(s.state(), State::Playing);
    }
}

#[test]
fn rtp_info_without_matching_urls_is_taken_in_order_only_when_counts_agree() {
    let now = Instant::now();
    let (mut s, _) = choosing(cfg("rtsp://cam/live"), &["trackID=0", "trackID=1"], now);
    s.handle_response(&reply(3, "200 OK", "Session: abc\r\n", ""), now)
        .unwrap();
    s.handle_response(&reply(4, "200 OK", "Session: abc\r\n", ""), now)
        .unwrap();
    // GW4089IP-like: url= names nothing set up. One entry for two streams: given to none.
    let out = s
        .handle_response(
            &reply(5, "200 OK", "RTP-Info: url=rtsp://x/y;seq=1\r\n", ""),
            now,
        )
        .unwrap();
    assert_eq!(out, vec![Output::Playing(vec![None, None])]);
}

#[test]
fn a_refused_later_stream_is_left_out_not_a_transport_change() {
    // A camera listing an audio track it will not serve: the video still plays, over the transport
    // the video got, with a warning naming the refusal.
    let now = Instant::now();
    let mut c = cfg("rtsp://cam/live");
    c.multicast_allowed = true;
    let (mut s, _) = choosing(c, &["trackID=0", "trackID=1", "trackID=2"], now);
    s.handle_response(&reply(3, "200 OK", "Session: abc\r\n", ""), now)
        .unwrap();
    let out = s
        .handle_response(&reply(4, "461 Unsupported Transport", "", ""), now)
        .unwrap();
    assert_eq!(out[0], Output::LeftOut { stream: 1 });
    let Output::Send(next) = &out[1] else {
        panic!("{out:?}")
    };
    assert_eq!(next.method, Method::Setup);
    assert!(next.uri.ends_with("trackID=2"), "{}", next.uri);
    assert_eq!(s.lower(), Lower::Udp);
    let warnings = s.take_warnings();
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("461"), "{warnings:?}");
    // The last one refused too: PLAY follows.
    let out = s
        .handle_response(&reply(5, "404 Not Found", "", ""), now)
        .unwrap();
    assert_eq!(out[0], Output::LeftOut { stream: 2 });
    assert!(
        matches!(&out[1], Output::Send(r) if r.method == Method::Play),
        "{out:?}"
    );
}

#[test]
fn a_refused_first_stream_is_still_an_error() {
    let now = Instant::now();
    let (mut s, _) = choosing(cfg("rtsp://cam/live"), &["trackID=0", "trackID=1"], now);
    // Refused over UDP: tried over TCP; refused there too: no video, an error.
    s.handle_response(&reply(3, "404 Not Found", "", ""), now)
        .unwrap();
    let e = s
        .handle_response(&reply(4, "404 Not Found", "", ""), now)
        .unwrap_err();
    assert!(e.to_string().contains("404"), "{e}");
}

#[test]
fn set_up_only_when_choosing() {
    let now = Instant::now();
    let target = || {
        vec![SetupTarget {
            control: "rtsp://cam/live/trackID=0".into(),
            udp_ports: None,
        }]
    };
    let mut s = Session::new(cfg("rtsp://cam/live"));
    assert!(s.set_up(target(), now).is_none(), "before DESCRIBE");
    s.start(now);
    assert!(s.set_up(target(), now).is_none(), "during OPTIONS");
    let (mut s, _) = choosing(cfg("rtsp://cam/live"), &["trackID=0"], now);
    assert!(s.set_up(target(), now).is_none(), "twice");
    let mut s = Session::new(cfg("rtsp://cam/live"));
    s.start(now);
    s.handle_response(&reply(1, "200 OK", "", ""), now).unwrap();
    s.handle_response(&reply(2, "200 OK", "", THREE), now)
        .unwrap();
    assert!(s.set_up(Vec::new(), now).is_none(), "nothing chosen");
    assert_eq!(s.state(), State::Choosing);
}

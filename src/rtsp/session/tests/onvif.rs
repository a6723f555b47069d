//! ONVIF's additions to the session: `Require` (the back channel, replay) with the retry without it on
//! 551, and replay's PAUSE and PLAY with its headers.

use super::*;
use crate::rtsp::replay::{Frames, Replay};

/// The one stream's SETUP answered (CSeq 3): the PLAY that follows.
fn play_after_setup(s: &mut Session, now: Instant) -> Request {
    let setup_ok = "Session: 1234\r\nTransport: RTP/AVP;unicast;client_port=5000-5001\r\n";
    let out = s
        .handle_response(&reply(3, "200 OK", setup_ok, ""), now)
        .unwrap();
    let play = out.into_iter().rev().find_map(|o| match o {
        Output::Send(r) => Some(r),
        _ => None,
    });
    play.expect("PLAY")
}

const BACKCHANNEL: &str = "www.onvif.org/ver20/backchannel";

fn requiring(tags: &[&str]) -> SessionConfig {
    SessionConfig {
        require: tags.iter().map(|t| t.to_string()).collect(),
        ..cfg("rtsp://127.0.0.1/s")
    }
}

/// ONVIF's back channel: `Require` with DESCRIBE, SETUP and PLAY (gst-rtsp-server finds the media with
/// the back channel by it at SETUP too), never with OPTIONS, keep-alives or TEARDOWN.
#[test]
fn require_goes_with_describe_setup_and_play() {
    let now = Instant::now();
    let mut s = Session::new(requiring(&[BACKCHANNEL]));
    assert_eq!(s.start(now).headers.get("Require"), None);
    let out = s.handle_response(&reply(1, "200 OK", "", ""), now).unwrap();
    assert_eq!(sent(&out).method, Method::Describe);
    assert_eq!(sent(&out).headers.get("Require"), Some(BACKCHANNEL));
    let out = describe(&mut s, &reply(2, "200 OK", "", SDP), now);
    assert_eq!(sent(&out).method, Method::Setup);
    assert_eq!(sent(&out).headers.get("Require"), Some(BACKCHANNEL));
    let play = play_after_setup(&mut s, now);
    assert_eq!(play.method, Method::Play);
    assert_eq!(play.headers.get("Require"), Some(BACKCHANNEL));
    assert!(s.requires(BACKCHANNEL));
    s.handle_response(&reply(4, "200 OK", "Session: 1234\r\n", ""), now)
        .unwrap();
    let keepalive = s.poll(now + s.keepalive_interval()).unwrap().unwrap();
    assert_eq!(keepalive.headers.get("Require"), None);
    assert_eq!(s.teardown(now).unwrap().headers.get("Require"), None);
    // None asked: no header.
    let (_, out) = described(cfg("rtsp://127.0.0.1/s"), now);
    assert_eq!(sent(&out).headers.get("Require"), None);
}

/// A camera without the back channel answers DESCRIBE with 551 Option not supported (gst-rtsp-server,
/// most cameras): DESCRIBE again without the tag, one warning, and the session goes on without it.
#[test]
fn describe_refused_with_551_is_asked_again_without_the_tag() {
    let now = Instant::now();
    for unsupported in [
        format!("Unsupported: {BACKCHANNEL}\r\n"),
        String::new(),
        "Unsupported: onvif-replay\r\n".into(),
    ] {
        let mut s = Session::new(requiring(&[BACKCHANNEL]));
        s.start(now);
        s.handle_response(&reply(1, "200 OK", "", ""), now).unwrap();
        let refused = reply(2, "551 Option not supported", &unsupported, "");
        let out = s.handle_response(&refused, now).unwrap();
        let again = sent(&out);
        assert_eq!(again.method, Method::Describe, "{unsupported:?}");
        assert_eq!(again.headers.get("Require"), None, "{unsupported:?}");
        assert!(!s.requires(BACKCHANNEL));
        let warnings = s.take_warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains(BACKCHANNEL), "{warnings:?}");
        let out = describe(&mut s, &reply(3, "200 OK", "", SDP), now);
        assert_eq!(sent(&out).method, Method::Setup);
        assert_eq!(sent(&out).headers.get("Require"), None);
    }
    // Two tags, one refused: the other stays.
    let mut s = Session::new(requiring(&[BACKCHANNEL, "x-vendor-tag"]));
    s.start(now);
    s.handle_response(&reply(1, "200 OK", "", ""), now).unwrap();
    let refused = reply(
        2,
        "551 Option not supported",
        "Unsupported: x-vendor-tag\r\n",
        "",
    );
    let out = s.handle_response(&refused, now).unwrap();
    assert_eq!(sent(&out).headers.get("Require"), Some(BACKCHANNEL));
    // A 551 to a DESCRIBE without Require is an error like any other.
    let mut s = Session::new(cfg("rtsp://127.0.0.1/s"));
    s.start(now);
    s.handle_response(&reply(1, "200 OK", "", ""), now).unwrap();
    let refused = reply(2, "551 Option not supported", "", "");
    assert!(s.handle_response(&refused, now).is_err());
}

const S: u64 = 1_000_000_000;
/// 2026-12-06T10:15:00Z, ns since 1900.
const FROM: u64 = (1_796_552_100 + 2_208_988_800) * S;

fn replay_from(start: u64) -> Replay {
    Replay {
        start: Some(start),
        end: None,
        scale: 1.0,
        rate_control: true,
        frames: None,
    }
}

/// A replay asked for before the session starts: the first PLAY carries its headers, not
/// `Range: npt=0.000-`.
#[test]
fn first_play_asks_for_the_replay() {
    let now = Instant::now();
    let mut s = Session::new(requiring(&["onvif-replay"]));
    s.set_replay(Replay {
        rate_control: false,
        ..replay_from(FROM)
    });
    s.start(now);
    s.handle_response(&reply(1, "200 OK", "", ""), now).unwrap();
    describe(&mut s, &reply(2, "200 OK", "", SDP), now);
    let play = play_after_setup(&mut s, now);
    assert_eq!(play.method, Method::Play);
    assert_eq!(
        play.headers.get("Range"),
        Some("clock=20261206T101500.00Z-")
    );
    assert_eq!(play.headers.get("Rate-Control"), Some("no"));
    assert_eq!(play.headers.get("Require"), Some("onvif-replay"));
}

/// A seek while playing: PAUSE, then PLAY with the new position, speed and frames on the same
/// session; PLAY's answer says playing again. Not playing: nothing to send.
#[test]
fn replay_while_playing_pauses_then_plays_from_there() {
    let (mut s, now) = playing("OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE");
    let back = Replay {
        scale: -1.0,
        frames: Some(Frames::Intra(None)),
        ..replay_from(FROM + 90 * S)
    };
    let pause = s.replay(back, now).expect("a PAUSE");
    assert_eq!(pause.method, Method::Pause);
    assert_eq!(pause.uri, "rtsp://127.0.0.1:8554/test/");
    assert_eq!(pause.headers.get("Session"), Some("708345999"));
    assert_eq!(s.state(), State::Pausing);
    // Another seek before the first is answered: nothing more goes out.
    assert!(s.replay(back, now).is_none());
    let out = s.handle_response(&reply(5, "200 OK", "", ""), now).unwrap();
    let play = sent(&out);
    assert_eq!(play.method, Method::Play);
    assert_eq!(
        play.headers.get("Range"),
        Some("clock=20261206T101630.00Z-")
    );
    assert_eq!(play.headers.get("Scale"), Some("-1.0"));
    assert_eq!(play.headers.get("Frames"), Some("intra"));
    assert_eq!(play.headers.get("Session"), Some("708345999"));
    let out = s
        .handle_response(&reply(6, "200 OK", "Session: 708345999\r\n", ""), now)
        .unwrap();
    assert!(matches!(out[..], [Output::Playing(_)]), "{out:?}");
    assert_eq!(s.state(), State::Playing);
    // A PAUSE refused is an error that names it.
    let pause = s.replay(replay_from(FROM), now).unwrap();
    assert_eq!(pause.method, Method::Pause);
    let e = s
        .handle_response(&reply(7, "455 Method Not Valid in This State", "", ""), now)
        .unwrap_err();
    assert!(e.to_string().contains("PAUSE"), "{e}");
}

/// A recording cannot be played without replay: a 551 to a request that requires it, DESCRIBE or a
/// seek's PLAY, ends the session with an error that says so, instead of the live stream.
#[test]
fn replay_refused_is_an_error_not_a_live_stream() {
    let now = Instant::now();
    let mut s = Session::new(requiring(&[crate::rtsp::replay::REPLAY_TAG]));
    s.start(now);
    s.handle_response(&reply(1, "200 OK", "", ""), now).unwrap();
    let refused = reply(
        2,
        "551 Option not supported",
        "Unsupported: onvif-replay\r\n",
        "",
    );
    let e = s.handle_response(&refused, now).unwrap_err();
    assert!(
        matches!(
            e,
            SessionError::OptionRefused {
                method: Method::Describe,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("onvif-replay") && e.to_string().contains("onvif-mode"),
        "{e}"
    );
    // With the back channel too: still an error, not a DESCRIBE without both.
    let mut s = Session::new(requiring(&[BACKCHANNEL, crate::rtsp::replay::REPLAY_TAG]));
    s.start(now);
    s.handle_response(&reply(1, "200 OK", "", ""), now).unwrap();
    let refused = reply(2, "551 Option not supported", "", "");
    assert!(s.handle_response(&refused, now).is_err());
}

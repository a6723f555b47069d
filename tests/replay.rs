//! ONVIF replay (`onvif-mode`): seeks on the element become PLAY requests for a recording, on one
//! session, and what comes back carries the recording's times. Against the scripted NVR of
//! `common::replay_server` (Range, Scale, Rate-Control and Frames honoured, the 0xABAC extension on
//! every packet), reached over TCP, over TLS, and with `protocols=udp` (replay is interleaved
//! whatever protocols say); and against gst-rtsp-server, which serves no recordings and refuses the
//! Require header.

mod common;

use common::replay_player::{near, seek, Player};
use common::replay_server::{ReplayServer, RECORDING_START};
use gst::prelude::*;
use std::time::{Duration, Instant};

const S: u64 = 1_000_000_000;
const FRAME: u64 = S / 30;

/// The server, and how the element reaches it: URL and properties (a TLS front's pin included).
struct Reach {
    server: ReplayServer,
    url: String,
    props: Vec<(&'static str, String)>,
    _front: Option<common::tls_proxy::TlsProxy>,
}

fn reach(transport: &str) -> Reach {
    common::init();
    let server = ReplayServer::start();
    match transport {
        "tls" => {
            let cert = common::certs::self_signed();
            let front =
                common::tls_proxy::TlsProxy::start(server.port, &cert.cert_der, &cert.key_der);
            Reach {
                url: front.url(),
                props: vec![
                    ("protocols", "tcp".into()),
                    (
                        "tls-certificate-sha256",
                        common::certs::sha256(&cert.cert_der),
                    ),
                ],
                server,
                _front: Some(front),
            }
        }
        t => Reach {
            url: server.url(),
            props: vec![("protocols", t.into())],
            server,
            _front: None,
        },
    }
}

/// The element in onvif-mode on `r`, with `props` besides; `before` runs in READY.
fn play(r: &Reach, props: &[(&str, &dyn ToValue)], before: impl FnOnce(&gst::Element)) -> Player {
    Player::start_at(&r.url, &r.props, props, before)
}

/// Every request but OPTIONS named onvif-replay in Require.
fn assert_required(server: &ReplayServer, context: &str) {
    for r in server.shared.requests() {
        if matches!(r.method.as_str(), "DESCRIBE" | "SETUP" | "PLAY" | "PAUSE") {
            assert_eq!(
                r.header("Require"),
                Some("onvif-replay"),
                "{context}: {r:?}"
            );
        }
    }
}

/// A seek before PLAY: the first PLAY asks for that clock time, the first picture is the keyframe at
/// it, and every picture's reference time is the recording's, 1/30 s apart.
fn seek_before_play(transport: &str) {
    let r = reach(transport);
    let at = RECORDING_START + 3 * S;
    let p = play(&r, &[], |src| {
        seek(src, 1.0, gst::SeekFlags::FLUSH, at, None)
    });
    p.until(transport, |s| s.video.buffers.len() >= 30);
    let plays = r.server.shared.plays();
    assert_eq!(plays.len(), 1, "{transport}: {plays:?}");
    assert_eq!(plays[0].header("Range"), Some("clock=20261206T101503.00Z-"));
    assert_eq!(plays[0].header("Scale"), None, "1.0 sends none");
    assert_eq!(
        plays[0].header("Rate-Control"),
        None,
        "rate control is the default"
    );
    assert_required(&r.server, transport);
    let pics = p.pictures();
    assert!(pics[0].keyframe, "{transport}: {:?}", pics[0]);
    assert!(
        near(pics[0].ntp, at),
        "{transport}: the first picture is the one asked for: {:?}",
        pics[0]
    );
    for (i, w) in pics.windows(2).enumerate() {
        assert!(
            w[1].ntp.abs_diff(w[0].ntp + FRAME) < 1_000_000,
            "{transport}: picture {i}: {w:?}"
        );
    }
    let segments = common::replay_player::lock(&p.seen).video.segments.clone();
    assert!(
        segments
            .iter()
            .any(|s| s.applied_rate() == 1.0 && s.time() == Some(gst::ClockTime::from_nseconds(at))),
        "{transport}: the segment's stream time is the position asked: {segments:?}"
    );
}

/// A flushing seek while playing: PAUSE, then PLAY with the new Range, on the same session and
/// connection; nothing of the old position comes after the new one's first picture, which carries
/// DISCONT, even what the server sends after the new PLAY's reply under the old PLAY's CSeq.
fn seek_while_playing(transport: &str) {
    let r = reach(transport);
    r.server
        .shared
        .stale_after_seek
        .store(true, std::sync::atomic::Ordering::Release);
    let p = play(&r, &[], |_| {});
    p.until(transport, |s| s.video.buffers.len() >= 15);
    let plays = r.server.shared.plays();
    assert_eq!(
        plays[0].header("Range"),
        None,
        "{transport}: no seek, no Range: {plays:?}"
    );
    assert!(
        near(p.pictures()[0].ntp, RECORDING_START),
        "{transport}: from the recording's start"
    );
    let at = RECORDING_START + 6 * S;
    seek(&p.src, 1.0, gst::SeekFlags::FLUSH, at, None);
    // The seek returns once flushed: whatever comes from now on is the new position's.
    let before = p.pictures().len();
    p.until(transport, |s| {
        s.video
            .buffers
            .iter()
            .filter(|x| x.ntp + 1_000 >= at)
            .count()
            >= 15
    });
    let methods: Vec<String> = r
        .server
        .shared
        .requests()
        .iter()
        .map(|r| r.method.clone())
        .collect();
    let tail: Vec<&str> = methods
        .iter()
        .map(String::as_str)
        .filter(|m| *m != "GET_PARAMETER" && *m != "OPTIONS")
        .collect();
    assert_eq!(
        tail,
        ["DESCRIBE", "SETUP", "PLAY", "PAUSE", "PLAY"],
        "{transport}"
    );
    assert_eq!(
        *r.server.shared.connections.lock().unwrap(),
        1,
        "{transport}: one connection"
    );
    let plays = r.server.shared.plays();
    assert_eq!(plays[1].header("Range"), Some("clock=20261206T101506.00Z-"));
    assert_required(&r.server, transport);
    let pics = p.pictures();
    assert!(
        pics[before..].iter().all(|x| x.ntp + 1_000 >= at),
        "{transport}: the old position's pictures came after the seek: {:?}",
        &pics[before..before + 3]
    );
    let first_new = pics.iter().position(|x| x.ntp + 1_000 >= at).unwrap();
    assert!(
        near(pics[first_new].ntp, at),
        "{transport}: {:?}",
        pics[first_new]
    );
    assert!(
        pics[first_new].keyframe && pics[first_new].discont,
        "{transport}: {:?}",
        pics[first_new]
    );
    assert!(
        pics[first_new..].iter().all(|x| x.ntp + 1_000 >= at),
        "{transport}: the old position's pictures came after the new one's"
    );
    assert!(
        pics[first_new..].windows(2).all(|w| w[1].pts > w[0].pts),
        "{transport}: PTS go forward after the seek"
    );
    common::replay_player::assert_on_the_new_running_time(&pics, first_new, transport);
    let stats = p.src.property::<gst::Structure>("stats");
    assert!(
        stats.get::<u64>("replay-stale-dropped").unwrap() > 0,
        "{transport}: the old PLAY's packets after the new reply were dropped: {stats:?}"
    );
}

/// Two seeks in a row, the second while the first's PLAY is out: the second is played once the first
/// is answered, and it is where the pictures end up.
fn seek_twice_at_once(transport: &str) {
    let r = reach(transport);
    let p = play(&r, &[], |_| {});
    p.until(transport, |s| s.video.buffers.len() >= 5);
    let (first, second) = (RECORDING_START + 3 * S, RECORDING_START + 7 * S);
    seek(&p.src, 1.0, gst::SeekFlags::FLUSH, first, None);
    seek(&p.src, 1.0, gst::SeekFlags::FLUSH, second, None);
    p.until(transport, |s| {
        s.video
            .buffers
            .iter()
            .filter(|x| x.ntp + 1_000 >= second)
            .count()
            >= 10
    });
    let plays = r.server.shared.plays();
    assert_eq!(
        plays.last().unwrap().header("Range"),
        Some("clock=20261206T101507.00Z-"),
        "{transport}: {plays:?}"
    );
    assert_eq!(
        *r.server.shared.connections.lock().unwrap(),
        1,
        "{transport}"
    );
}

/// Scale 2 with key units only: Scale and Frames sent; only keyframes come, a second of recording
/// apart, their PTS half a second apart (the speed applied by the server, in the segment).
fn fast_forward_intra(transport: &str) {
    let r = reach(transport);
    let flags =
        gst::SeekFlags::FLUSH | gst::SeekFlags::TRICKMODE | gst::SeekFlags::TRICKMODE_KEY_UNITS;
    let p = play(&r, &[], |src| {
        seek(src, 2.0, flags, RECORDING_START + S, None)
    });
    p.until(transport, |s| s.video.buffers.len() >= 5);
    let play = &r.server.shared.plays()[0];
    assert_eq!(play.header("Scale"), Some("2.0"), "{transport}");
    assert_eq!(play.header("Frames"), Some("intra"), "{transport}");
    let pics = p.pictures();
    assert!(pics.iter().all(|x| x.keyframe), "{transport}: {pics:?}");
    for w in pics.windows(2) {
        assert!(near(w[1].ntp - w[0].ntp, S), "{transport}: {w:?}");
        assert!(
            w[1].pts - w[0].pts <= S / 2 + 1_000_000,
            "{transport}: PTS at 2x: {w:?}"
        );
    }
    let segments = common::replay_player::lock(&p.seen).video.segments.clone();
    assert!(
        segments.iter().any(|s| s.applied_rate() == 2.0),
        "{transport}: {segments:?}"
    );
}

/// A key-unit seek with a trick-mode interval (a scrubbing player's): `Frames: intra/2000`, and the
/// keyframes come two seconds of recording apart.
fn intra_every_two_seconds(transport: &str) {
    let r = reach(transport);
    let flags = gst::SeekFlags::FLUSH | gst::SeekFlags::TRICKMODE_KEY_UNITS;
    let p = play(&r, &[], |src| {
        let seek = gst::event::Seek::builder(
            4.0,
            flags,
            gst::SeekType::Set,
            gst::ClockTime::from_nseconds(RECORDING_START + S),
            gst::SeekType::None,
            gst::ClockTime::NONE,
        )
        .trickmode_interval(gst::ClockTime::from_seconds(2))
        .build();
        assert!(src.send_event(seek), "seek refused");
    });
    p.until(transport, |s| s.video.buffers.len() >= 4);
    let play = &r.server.shared.plays()[0];
    assert_eq!(play.header("Frames"), Some("intra/2000"), "{transport}");
    let pics = p.pictures();
    assert!(pics.iter().all(|x| x.keyframe), "{transport}: {pics:?}");
    for w in pics.windows(2) {
        assert!(near(w[1].ntp - w[0].ntp, 2 * S), "{transport}: {w:?}");
    }
}

/// Scale -1: the GOPs come last to first, each forwards from its keyframe with DISCONT (the fragment
/// a decoder reverses), on the recording's times, under a segment at rate -1 that stops at the
/// position asked.
fn reverse(transport: &str) {
    let r = reach(transport);
    let at = RECORDING_START + 5 * S;
    let p = play(&r, &[], |src| {
        seek(src, -1.0, gst::SeekFlags::FLUSH, RECORDING_START, Some(at))
    });
    p.until(transport, |s| {
        s.video.buffers.iter().filter(|x| x.keyframe).count() >= 4
    });
    let play = &r.server.shared.plays()[0];
    assert_eq!(play.header("Scale"), Some("-1.0"), "{transport}");
    assert_eq!(
        play.header("Range"),
        Some("clock=20261206T101505.00Z-"),
        "{transport}"
    );
    let pics = p.pictures();
    let keys: Vec<u64> = pics.iter().filter(|x| x.keyframe).map(|x| x.ntp).collect();
    assert!(
        keys.windows(2).all(|w| w[1] < w[0]),
        "{transport}: keyframes backwards: {keys:?}"
    );
    let video = common::replay_player::lock(&p.seen).video.clone();
    common::replay_player::assert_played_backwards(&video, -1.0, at, transport);
}

/// From forwards to backwards while playing, without a flush: the segment that follows goes out at
/// rate -1 (stopping at the position asked) before the first picture played backwards, and every
/// picture from there on is on its recording time, keyframes going back. (Should a forward picture
/// slip out after the seek, the element asks basesrc for a segment of its own: `replay_seek.rs`
/// `backwards_the_segment_downstream_has_the_negative_rate`.)
fn reverse_while_playing_without_a_flush(transport: &str) {
    let r = reach(transport);
    let p = play(&r, &[], |src| {
        seek(src, 1.0, gst::SeekFlags::FLUSH, RECORDING_START, None)
    });
    p.until(transport, |s| s.video.buffers.len() >= 10);
    let at = RECORDING_START + 5 * S;
    let before = p.pictures().len();
    seek(
        &p.src,
        -1.0,
        gst::SeekFlags::empty(),
        RECORDING_START,
        Some(at),
    );
    p.until(transport, |s| {
        s.video.buffers[before..]
            .iter()
            .filter(|x| x.keyframe && x.pts == x.ntp)
            .count()
            >= 3
    });
    let video = common::replay_player::lock(&p.seen).video.clone();
    let seg = video
        .segments
        .iter()
        .position(|s| s.rate() == -1.0)
        .unwrap_or_else(|| panic!("{transport}: no segment at rate -1: {:?}", video.segments));
    let backwards: Vec<_> = video.buffers.iter().filter(|x| x.pts == x.ntp).collect();
    assert!(
        video.segments[seg].stop() == Some(gst::ClockTime::from_nseconds(at)),
        "{transport}: {:?}",
        video.segments[seg]
    );
    let keys: Vec<u64> = backwards
        .iter()
        .filter(|x| x.keyframe)
        .map(|x| x.ntp)
        .collect();
    assert!(
        keys.windows(2).all(|w| w[1] < w[0]) && keys.len() >= 3,
        "{transport}: keyframes backwards after the seek: {keys:?}"
    );
    assert!(
        backwards.first().is_some_and(|x| x.discont && x.keyframe),
        "{transport}: {:?}",
        backwards.first()
    );
}

/// A range's end: the server's BYE is EOS, no reconnect; the last picture is before the end asked.
fn end_of_range_is_eos(transport: &str) {
    let r = reach(transport);
    let (from, to) = (RECORDING_START + 8 * S, RECORDING_START + 9 * S);
    let p = play(&r, &[], |src| {
        seek(src, 1.0, gst::SeekFlags::FLUSH, from, Some(to))
    });
    p.until(transport, |s| s.eos);
    assert_eq!(
        r.server.shared.plays()[0].header("Range"),
        Some("clock=20261206T101508.00Z-20261206T101509.00Z")
    );
    let pics = p.pictures();
    assert_eq!(pics.len(), 30, "{transport}: the second asked for, whole");
    assert!(
        pics.iter().all(|x| x.ntp + 1_000 >= from && x.ntp < to),
        "{transport}"
    );
    assert_eq!(*r.server.shared.byes.lock().unwrap(), 1);
    // EOS stops the streaming task: a reconnect, had one been decided, would have come before it.
    let stats = p.src.property::<gst::Structure>("stats");
    assert_eq!(
        stats.get::<u64>("reconnects").unwrap(),
        0,
        "{transport}: {stats:?}"
    );
    assert_eq!(
        *r.server.shared.connections.lock().unwrap(),
        1,
        "{transport}: no reconnect after the end"
    );
}

/// A recording with a hole (a minute missing after 5 s, E then D in the extension): the picture after
/// it carries DISCONT and a GAP event covers the hole first, so a muxer does not stretch the last
/// picture before it across the minute.
fn a_hole_in_the_recording_is_a_gap(transport: &str) {
    let r = reach(transport);
    r.server
        .shared
        .hole_after_5_s
        .store(true, std::sync::atomic::Ordering::Release);
    let p = play(&r, &[("onvif-rate-control", &false)], |_| {});
    let after = RECORDING_START + 65 * S;
    p.until(transport, |s| {
        s.video.buffers.iter().any(|x| x.ntp + 1_000 >= after)
    });
    let pics = p.pictures();
    let first = pics.iter().position(|x| x.ntp + 1_000 >= after).unwrap();
    assert!(pics[first].discont, "{transport}: {:?}", pics[first]);
    assert_eq!(first, 150, "{transport}: every picture before the hole");
    let gaps = common::replay_player::lock(&p.seen).video.gaps.clone();
    assert_eq!(gaps.len(), 1, "{transport}: {gaps:?}");
    let (start, duration) = gaps[0];
    assert!(
        start.abs_diff(pics[first - 1].pts + FRAME) < 1_000_000,
        "{transport}: {gaps:?}"
    );
    assert!(
        (start + duration).abs_diff(pics[first].pts) < 1_000,
        "{transport}: the gap ends at the next picture: {gaps:?}"
    );
    assert!(
        duration.abs_diff(60 * S) < 2_000_000,
        "{transport}: a minute: {gaps:?}"
    );
}

/// onvif-rate-control=false: Rate-Control: no; the recording comes as fast as it is read, its PTS
/// still a frame apart (arrival says nothing of a recording's time).
fn as_fast_as_read(transport: &str) {
    let r = reach(transport);
    let p = play(&r, &[("onvif-rate-control", &false)], |_| {});
    p.until(transport, |s| s.video.buffers.len() >= 90);
    assert_eq!(
        r.server.shared.plays()[0].header("Rate-Control"),
        Some("no"),
        "{transport}"
    );
    let pics = p.pictures();
    for w in pics.windows(2) {
        assert!(
            w[1].pts.abs_diff(w[0].pts + FRAME) < 1_000_000,
            "{transport}: {w:?}"
        );
    }
}

over_udp_tcp_and_tls! {
    seek_before_play => super::seek_before_play;
    seek_while_playing => super::seek_while_playing;
    seek_twice_at_once => super::seek_twice_at_once;
    fast_forward_intra => super::fast_forward_intra;
    intra_every_two_seconds => super::intra_every_two_seconds;
    reverse => super::reverse;
    reverse_while_playing_without_a_flush => super::reverse_while_playing_without_a_flush;
    end_of_range_is_eos => super::end_of_range_is_eos;
    as_fast_as_read => super::as_fast_as_read;
    a_hole_in_the_recording_is_a_gap => super::a_hole_in_the_recording_is_a_gap;
}

/// gst-rtsp-server without ONVIF answers the Require header with 551: an error that names replay,
/// at once, and no reconnect.
#[test]
fn a_server_without_replay_is_an_error() {
    common::init();
    let srv = common::server::TestServer::start(Default::default()).expect("RTSP test server");
    let rec = common::record(
        &srv.url(),
        Duration::from_secs(10),
        &[("onvif-mode", &true), ("protocols", &"tcp")],
    );
    assert_eq!(rec.errors.len(), 1, "{:?}", rec.errors);
    let (text, debug) = &rec.errors[0];
    assert!(
        format!("{text} {debug}").contains("551")
            && format!("{text} {debug}").contains("onvif-mode"),
        "{text} {debug}"
    );
    assert!(rec.frames.is_empty());
    assert_eq!(rec.error_kind, Some(gst::ResourceError::Settings));
}

/// Without onvif-mode nothing changes: no Require, and the element is not seekable.
#[test]
fn without_onvif_mode_no_replay() {
    common::init();
    let r = reach("tcp");
    let (pipeline, src, _sink) = common::video_pipeline(&r.url, &[("protocols", &"tcp")]);
    pipeline.set_state(gst::State::Playing).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.server.shared.count("DESCRIBE") == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut q = gst::query::Seeking::new(gst::Format::Time);
    src.query(&mut q);
    pipeline.set_state(gst::State::Null).unwrap();
    let describe = &r.server.shared.requests()[1];
    assert_eq!(describe.method, "DESCRIBE");
    assert_eq!(describe.header("Require"), None);
    assert!(!q.result().0, "a live camera is not seekable");
}

/// gst-rtsp-server's ONVIF media with replay support (a seekable videotestsrc, its times written by
/// rtponviftimestamp): the PLAY's clock range becomes its seek, and the pictures carry the times
/// asked for, before PLAY, after a seek while playing, and at twice the speed.
fn gst_rtsp_server_replays(transport: &str) {
    common::init();
    let srv = common::server::TestServer::start(common::server::ServerOptions {
        replay: true,
        ..Default::default()
    })
    .expect("RTSP test server");
    let at = RECORDING_START + 60 * S;
    let reach = [("protocols", transport.to_string())];
    let p = Player::start_at(&srv.url(), &reach, &[], |src| {
        seek(src, 1.0, gst::SeekFlags::FLUSH, at, None)
    });
    p.until(transport, |s| s.video.buffers.len() >= 30);
    let pics = p.pictures();
    assert!(near(pics[0].ntp, at), "{transport}: {:?}", &pics[..3]);
    for w in pics.windows(2) {
        assert!(
            w[1].ntp.abs_diff(w[0].ntp + FRAME) < 1_000_000,
            "{transport}: {w:?}"
        );
    }
    let later = RECORDING_START + 3600 * S;
    seek(&p.src, 1.0, gst::SeekFlags::FLUSH, later, None);
    p.until(transport, |s| {
        s.video
            .buffers
            .iter()
            .filter(|x| x.ntp + 1_000 >= later)
            .count()
            >= 30
    });
    let pics = p.pictures();
    let first_new = pics.iter().position(|x| x.ntp + 1_000 >= later).unwrap();
    assert!(
        near(pics[first_new].ntp, later),
        "{transport}: {:?}",
        pics[first_new]
    );
    assert!(
        pics[first_new..].iter().all(|x| x.ntp + 1_000 >= later),
        "{transport}"
    );
    common::replay_player::assert_on_the_new_running_time(&pics, first_new, transport);
    // Twice the speed: the segment says the server applied it; the frames are a 30th of a second of
    // recording apart, their PTS (the server's RTP clock, its pipeline's running time) half that.
    let fast = RECORDING_START + 7200 * S;
    seek(&p.src, 2.0, gst::SeekFlags::FLUSH, fast, None);
    let before = p.pictures().len();
    p.until(transport, |s| s.video.buffers.len() >= before + 30);
    let pics = p.pictures();
    assert!(
        near(pics[before].ntp, fast),
        "{transport}: {:?}",
        pics[before]
    );
    for w in pics[before..].windows(2) {
        assert!(
            w[1].ntp.abs_diff(w[0].ntp + FRAME) < 1_000_000,
            "{transport}: {w:?}"
        );
        assert!(
            w[1].pts.abs_diff(w[0].pts + FRAME / 2) < 1_000_000,
            "{transport}: {w:?}"
        );
    }
    let segments = common::replay_player::lock(&p.seen).video.segments.clone();
    assert!(
        segments.iter().any(|s| s.applied_rate() == 2.0),
        "{transport}: {segments:?}"
    );
    assert_eq!(srv.clients(), 1, "{transport}: one connection");
}

over_udp_and_tcp! {
    gst_rtsp_server_replays => super::gst_rtsp_server_replays;
}

//! The failures real cameras show, end to end over UDP and over TCP, against the scriptable fake camera:
//! a camera that reboots, freezes or says BYE; Tapo's refused keep-alives on a 5 s session; an announced
//! SSRC that never streams; a rebooting camera's refusals once media has flowed. Timings are the ones the
//! element promises (README, "Transports and recovery").

mod common;

use common::fake_camera::{captured, Captured, FakeCamera, Script};
use common::{record_clean, unix_now_ns};
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Records from a camera running `script` over `protocols`; the recording must end without an error,
/// have reconnected `times`, and play.
fn record_reconnecting(
    script: Script,
    protocols: &str,
    duration: Duration,
    times: usize,
) -> common::Recording {
    let cam = FakeCamera::start(script);
    let rec = record_clean(&cam.url(), duration, &[("protocols", &protocols)]);
    assert_eq!(
        rec.messages_named("rustrtspsrc-reconnected").len(),
        times,
        "{protocols}: {:?}",
        rec.element_messages
    );
    assert_eq!(rec.transport(), protocols);
    rec.assert_plays();
    rec
}

fn assert_gap_within(rec: &common::Recording, limit: Duration, protocols: &str) {
    let gap = rec.longest_gap();
    assert!(gap <= limit, "{protocols}: {gap:?} between two frames");
}

fn closed_and_back_a_second_later(protocols: &str) {
    // Three reboots: each time the camera closes the connection and refuses connections for 1 s.
    let rec = record_reconnecting(
        Script {
            close_after: Some(100),
            reboots: 3,
            down_after_close: Some(secs(1)),
            ..Default::default()
        },
        protocols,
        secs(10),
        3,
    );
    // Each reboot's gap within 2.5 s; on average within 2 s, which tries every 0.5 s at first always
    // make and a backoff starting at 1 s makes in one run out of ten.
    let mut gaps: Vec<Duration> = rec
        .frames
        .windows(2)
        .map(|w| w[1].at.duration_since(w[0].at))
        .collect();
    gaps.sort();
    let reboots = &gaps[gaps.len() - 3..];
    assert!(
        reboots[2] <= Duration::from_millis(2500),
        "{protocols}: gaps {reboots:?}"
    );
    let mean = reboots.iter().sum::<Duration>() / 3;
    assert!(
        mean <= Duration::from_secs(2),
        "{protocols}: gaps {reboots:?}"
    );
    assert!(rec.reconnect_reasons()[0].contains("closed"), "{protocols}");
}

fn silent_with_the_connection_open(protocols: &str) {
    // The session stops sending for good; its RTSP connection stays open and answered. New sessions
    // stream at once, so frames must resume within the default `timeout` (5 s) + 1.5 s.
    let rec = record_reconnecting(
        Script {
            stall_after: Some(150),
            ..Default::default()
        },
        protocols,
        secs(10),
        1,
    );
    assert_gap_within(&rec, Duration::from_millis(6500), protocols);
    let reason = &rec.reconnect_reasons()[0];
    assert!(reason.contains("stopped sending"), "{protocols}: {reason}");
    assert!(!reason.contains("firewall"), "{protocols}: {reason}");
}

fn bye_reconnects_at_once(protocols: &str) {
    let rec = record_reconnecting(
        Script {
            bye_after: Some(150),
            ..Default::default()
        },
        protocols,
        secs(6),
        1,
    );
    assert_gap_within(&rec, Duration::from_millis(2500), protocols);
    assert!(rec.reconnect_reasons()[0].contains("BYE"), "{protocols}");
}

fn tapo_keepalive_on_a_5s_session(protocols: &str) {
    // Tapo C100/C200/C320WS: GET_PARAMETER listed, answered 400 with the previous request's CSeq, and
    // not counted as alive; RTCP does not count either. 30 s on a 5 s session.
    let cam = FakeCamera::start(Script {
        session_timeout: Some(5),
        get_parameter_status: Some(400),
        keepalive_wrong_cseq: true,
        ..Default::default()
    });
    let rec = record_clean(&cam.url(), secs(30), &[("protocols", &protocols)]);
    assert_eq!(
        cam.shared.expiries.load(SeqCst),
        0,
        "{protocols}: session expired"
    );
    assert!(
        rec.element_messages.is_empty(),
        "{protocols}: {:?}",
        rec.element_messages
    );
    assert_eq!(cam.shared.connections.load(SeqCst), 1, "{protocols}");
    let n = rec.frames.len();
    assert!(n > 25 * 30, "{protocols}: {n} frames in 30 s");
    rec.assert_plays();
}

const H264DVR: Captured = Captured {
    describe: Some(include_str!("fixtures/retina/h264dvr_describe.txt")),
    setup: Some(include_str!("fixtures/retina/h264dvr_setup_video.txt")),
    play: Some(include_str!("fixtures/retina/h264dvr_play.txt")),
    ssrc: None,
};

const SSRC_4_HEX_DIGITS: Captured = Captured {
    describe: None,
    setup: Some(include_str!("fixtures/retina/setup_ssrc_4_hex_digits.txt")),
    play: None,
    ssrc: None,
};

fn announced_ssrc_that_never_streams(protocols: &str) {
    // A camera announcing `ssrc=A046` (4 hex digits) and H264DVR announcing `ssrc=0`, their real
    // replies, both sending another SSRC: the one that streams is followed, on the transport chosen.
    for (camera, captured) in [("A046", SSRC_4_HEX_DIGITS), ("H264DVR", H264DVR)] {
        let cam = FakeCamera::start(Script {
            captured: Some(captured),
            ..Default::default()
        });
        let rec = record_clean(&cam.url(), secs(3), &[("protocols", &protocols)]);
        assert!(
            rec.frames.len() > 45,
            "{protocols} {camera}: {} frames",
            rec.frames.len()
        );
        assert!(rec.warnings.is_empty(), "{protocols}: {:?}", rec.warnings);
        assert_eq!(rec.transport(), protocols);
        assert_eq!(rec.stat("ssrc-switches"), 1, "{protocols} {camera}");
        assert!(
            rec.element_messages.is_empty(),
            "{:?}",
            rec.element_messages
        );
        rec.assert_plays();
    }
}

fn refusals_while_rebooting_are_retried(protocols: &str) {
    // Once media has flowed, the camera's answers while it boots again are not configuration errors.
    let rec = record_clean(
        &FakeCamera::start(Script {
            close_after: Some(60),
            describe_after_reconnect: &[404, 503, 401, 0],
            ..Default::default()
        })
        .url(),
        // Five failures in a row: the last backoff step is 2-4 s.
        secs(12),
        &[("protocols", &protocols)],
    );
    let reasons = rec.reconnect_reasons();
    assert_eq!(reasons.len(), 5, "{protocols}: {reasons:?}");
    for (reason, expected) in reasons[1..]
        .iter()
        .zip(["404", "503", "authentication", "H.264"])
    {
        assert!(reason.contains(expected), "{protocols}: {reasons:?}");
    }
    assert_eq!(rec.messages_named("rustrtspsrc-reconnected").len(), 1);
    rec.assert_plays();
}

fn digest_nonce_rotation(protocols: &str) {
    // The nonce changes on the first keep-alive, announced each way cameras do; the element answers
    // again with the new nonce (the camera checks the hash) and the session goes on.
    for stale in [", stale=true", ", stale=\"true\"", ""] {
        let cam = FakeCamera::start(Script {
            session_timeout: Some(2),
            digest: Some(("admin".into(), "pw".into())),
            digest_stale: Some(stale),
            ..Default::default()
        });
        let url = cam.url().replace("rtsp://", "rtsp://admin:pw@");
        let rec = record_clean(&url, secs(3), &[("protocols", &protocols)]);
        cam.assert_kept_alive(&rec, &format!("{protocols} {stale:?}"));
    }
}

#[test]
fn captured_replies_are_moved_to_loopback() {
    let describe = include_str!("fixtures/retina/reolink_describe.txt");
    let r = captured::replay(describe, "9", 5554, None);
    assert!(r.contains("CSeq: 9\r\n"));
    assert!(r.contains("Content-Base: rtsp://127.0.0.1:5554/h264Preview_01_main/"));
    assert!(r.contains("o=- 1619813458434609 1 IN IP4 127.0.0.1"));
    assert!(!r.contains("192.168"));
    let (_, body) = r.split_once("\r\n\r\n").unwrap();
    assert!(r.contains(&format!("Content-Length: {}\r\n", body.len())));
    let setup = include_str!("fixtures/retina/h264dvr_setup_video.txt");
    let r = captured::replay(
        setup,
        "4",
        5554,
        Some("RTP/AVP;unicast;client_port=5000-5001;server_port=7000-7001;ssrc=2A2A0001"),
    );
    assert!(
        r.contains(
            "Transport: RTP/AVP;unicast;client_port=5000-5001;server_port=7000-7001;ssrc=0\r\n"
        ),
        "{r}"
    );
    assert!(r.contains("Session: 231970;timeout=60"));
}

fn ssrc_named_only_in_rtp_info(protocols: &str) {
    // Reolink names its SSRC only in PLAY's RTP-Info, one entry per track with relative URLs; a Dahua
    // NVR writes it in decimal. Packets of another SSRC come first (the audio track's, say): the
    // element must follow the announced one from the start, not the first it sees.
    let reolink = Captured {
        describe: Some(include_str!("fixtures/retina/reolink_describe.txt")),
        setup: Some(include_str!("fixtures/retina/reolink_setup.txt")),
        play: Some(include_str!("fixtures/retina/reolink_play.txt")),
        ssrc: Some(0xdcc4_a0d8),
    };
    let dahua = Captured {
        play: Some(include_str!("fixtures/retina/dahua_play_decimal_ssrc.txt")),
        ssrc: Some(4_294_962_989),
        ..Default::default()
    };
    for (camera, captured) in [("Reolink", reolink), ("Dahua", dahua)] {
        let stranger_before: fn(usize) -> bool = |i| i < 3 || i % 50 == 3;
        let cam = FakeCamera::start(Script {
            captured: Some(captured),
            foreign_ssrc: Some(stranger_before),
            // Data before the reply, whose RTP-Info alone names the SSRC: the first packets hold
            // the keyframe's parameter sets, and a stranger's comes first.
            packets_before_play_reply: 10,
            ..Default::default()
        });
        let rec = record_clean(&cam.url(), secs(3), &[("protocols", &protocols)]);
        assert_eq!(rec.transport(), protocols);
        assert!(
            rec.frames.len() > 45,
            "{protocols} {camera}: {} frames",
            rec.frames.len()
        );
        assert_eq!(
            rec.disconts(),
            0,
            "{protocols} {camera}: the stream was switched mid-way"
        );
        rec.assert_plays();
        // Exactly the strangers were dropped (give or take one in flight), none of the camera's own.
        // Counted among the packets the element got to: a loaded machine reads seconds behind what
        // the camera has sent when the stats are taken.
        let sent = cam.shared.strangers.load(SeqCst) as u64;
        let reached = (rec.stat("packets-received") + rec.stat("packets-lost")) as usize;
        let strangers = (0..=reached).filter(|&i| stranger_before(i)).count() as u64;
        let dropped = rec.stat("foreign-ssrc-dropped");
        assert!(
            dropped <= sent && dropped <= strangers && dropped + 1 >= strangers,
            "{protocols} {camera}: dropped {dropped}, strangers {strangers} of {sent} sent"
        );
        assert_eq!(rec.stat("ssrc-switches"), 0, "{protocols} {camera}");
    }
}

/// An earlier session still streaming to our ports before the PLAY reply and after it (random
/// payloads, its own numbering), beside the stream SETUP announced: none of its packets reach the
/// output. The element once took 30 of them kept from before the reply for the stream: the first
/// second of the recording was garbage. Its RTCP (a report from a clock an hour behind, a BYE) is not
/// followed either, now that RTCP from before the reply is kept: the session goes on, and the wall
/// clock is the camera's.
fn stale_session_before_the_play_reply(protocols: &str) {
    let cam = FakeCamera::start(Script {
        stale_session: true,
        sender_reports: Some(secs(1)),
        ..Default::default()
    });
    let rec = record_clean(&cam.url(), secs(3), &[("protocols", &protocols)]);
    assert!(
        rec.frames.len() > 45,
        "{protocols}: {} frames",
        rec.frames.len()
    );
    assert_eq!(rec.stat("ssrc-switches"), 0, "{protocols}");
    assert_eq!(rec.disconts(), 0, "{protocols}");
    // Every stale packet that reached the element was dropped as a stranger's (the reading may trail
    // the sending by a few on a loaded machine, never lead it).
    let sent = cam.shared.strangers.load(SeqCst) as u64;
    let dropped = rec.stat("foreign-ssrc-dropped");
    assert!(
        dropped >= 40 && dropped <= sent,
        "{protocols}: dropped {dropped} of {sent}"
    );
    let reconnects = rec.element_messages.iter();
    let reconnects = reconnects.filter(|(_, s)| s.name() == "rustrtspsrc-reconnecting");
    assert_eq!(
        reconnects.count(),
        0,
        "{protocols}: the stale BYE was followed"
    );
    // ns since 1900 now, by the host's clock (the fake camera's).
    let now = unix_now_ns() + 2_208_988_800 * 1_000_000_000;
    let stamped: Vec<u64> = rec.frames.iter().filter_map(|f| f.ntp).collect();
    assert!(stamped.len() > 45, "{protocols}: {} stamped", stamped.len());
    let far = stamped.iter().filter(|t| t.abs_diff(now) > 60_000_000_000);
    assert_eq!(far.count(), 0, "{protocols}: stamped by the stale clock");
    rec.assert_plays();
}

/// Uniview starts a new SSRC at every GOP, its sequence numbers and timestamps going on: followed at
/// once, no picture lost and no new timeline (the element once waited 0.5 s of silence each time).
fn new_ssrc_every_gop(protocols: &str) {
    let cam = FakeCamera::start(Script {
        ssrc_per_gop: true,
        ..Default::default()
    });
    let rec = record_clean(&cam.url(), secs(4), &[("protocols", &protocols)]);
    let switches = rec.stat("ssrc-switches");
    assert!(
        switches >= 2,
        "{protocols}: {switches} switches, {:?}",
        rec.stats
    );
    assert_eq!(rec.disconts(), 0, "{protocols}");
    assert_eq!(rec.stat("foreign-ssrc-dropped"), 0, "{protocols}");
    // No picture missing: the PTS go on a frame interval at a time.
    let pts: Vec<u64> = rec
        .frames
        .iter()
        .map(|f| f.pts.unwrap().nseconds())
        .collect();
    let widest = pts.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    assert!(
        widest < 2 * 1_000_000_000 / 30,
        "{protocols}: a {} ms hole",
        widest / 1_000_000
    );
    rec.assert_plays();
}

fn a_picture_hours_off(protocols: &str) {
    // Intelbras DVR: an occasional frame whose RTP timestamp is hours away, then back. It is dropped;
    // the timeline is not remapped on one picture, and nothing reconnects.
    let cam = FakeCamera::start(Script {
        outlier_frame: Some(40),
        ..Default::default()
    });
    let rec = record_clean(&cam.url(), secs(3), &[("protocols", &protocols)]);
    assert_eq!(rec.stat("timestamp-outliers-dropped"), 1, "{protocols}");
    assert!(
        rec.element_messages.is_empty(),
        "{protocols}: {:?}",
        rec.element_messages
    );
    assert_eq!(
        rec.disconts(),
        1,
        "{protocols}: one DISCONT, after the dropped picture"
    );
    // PTS keep the stream's pace across it: no jump of hours, no resync.
    let last = rec.frames.last().unwrap().pts.unwrap() - rec.frames[0].pts.unwrap();
    assert!(
        last < gst::ClockTime::from_seconds(4),
        "{protocols}: {last}"
    );
    rec.assert_plays();
}

over_udp_and_tcp! {
    camera_closed_and_back_a_second_later => super::closed_and_back_a_second_later;
    camera_silent_with_the_connection_open => super::silent_with_the_connection_open;
    rtcp_bye_reconnects_at_once => super::bye_reconnects_at_once;
    tapo_keepalive_on_a_5s_session => super::tapo_keepalive_on_a_5s_session;
    announced_ssrc_that_never_streams => super::announced_ssrc_that_never_streams;
    refusals_while_rebooting_are_retried => super::refusals_while_rebooting_are_retried;
    digest_nonce_rotation => super::digest_nonce_rotation;
    ssrc_named_only_in_rtp_info => super::ssrc_named_only_in_rtp_info;
    stale_session_before_the_play_reply => super::stale_session_before_the_play_reply;
    new_ssrc_every_gop => super::new_ssrc_every_gop;
    a_picture_hours_off_is_dropped => super::a_picture_hours_off;
}

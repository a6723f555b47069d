//! ONVIF replay backwards against gst-rtsp-server's ONVIF media playing a real recording (an MP4
//! file, `common::replay_media::recording_file`: qtdemux plays it in reverse and by key units), over
//! UDP (replay is interleaved whatever protocols say), TCP and TLS. gst-rtsp-server sends the GOPs
//! last to first, each forwards, and stamps RTP from its running time, which runs backwards within
//! each GOP: the pictures' PTS must still go forward, a frame apart, from their recording times.

mod common;

use common::replay_player::{seek, server_reach, Picture, Player};
use common::server::{ServerOptions, TestServer};

const S: u64 = 1_000_000_000;

/// One test at a time: a dozen servers decoding nothing but seeking in parallel load a two-core
/// machine enough for gst-rtsp-server to drop pictures, keyframes included.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
const FRAME: u64 = S / 30;

fn serve(transport: &str, cert: &common::certs::ServerCert, b_frames: bool) -> TestServer {
    common::init();
    // Made before the servers run, outside the one-at-a-time section.
    common::replay_media::recording_file(b_frames);
    TestServer::start(ServerOptions {
        replay: true,
        replay_file: Some(common::replay_media::recording_file(b_frames)),
        tls_pem: (transport == "tls").then(|| cert.pem.clone()),
        ..Default::default()
    })
    .expect("gst-rtsp-server with ONVIF replay (TLS needs glib-networking)")
}

/// A reverse seek, keyframes only when `intra`; the file's times are its recording times (from
/// 1900-01-01, the NTP epoch): from the end (10 s) back.
fn play_backwards(
    transport: &str,
    intra: bool,
    b_frames: bool,
    done: impl Fn(&[Picture]) -> bool,
) -> Vec<Picture> {
    let _serial = one_at_a_time();
    let cert = common::certs::self_signed();
    let srv = serve(transport, &cert, b_frames);
    let mut flags = gst::SeekFlags::FLUSH;
    if intra {
        flags |= gst::SeekFlags::TRICKMODE | gst::SeekFlags::TRICKMODE_KEY_UNITS;
    }
    // Rate-Control: no, as GStreamer's ONVIF client plays backwards: paced, gst-rtsp-server drops
    // pictures its sink finds late (their running times fall within each GOP) on a busy machine.
    let p = Player::start_at(
        &srv.url(),
        &server_reach(transport),
        &[("onvif-rate-control", &false)],
        |src| seek(src, -1.0, flags, S, Some(10 * S)),
    );
    p.until(transport, |s| done(&s.video.buffers));
    let segments = common::replay_player::lock(&p.seen).video.segments.clone();
    assert!(
        segments.iter().any(|&(rate, _)| rate == -1.0),
        "{transport}: the segment says the server reversed it: {segments:?}"
    );
    p.pictures()
}

fn reverse(transport: &str) {
    let keys = |p: &[Picture]| p.iter().filter(|x| x.keyframe).count();
    let pics = play_backwards(transport, false, false, |p| keys(p) >= 4);
    // Three whole GOPs: from the first keyframe to the fourth.
    let starts: Vec<usize> = (0..pics.len()).filter(|&i| pics[i].keyframe).collect();
    // The first four: the recording's first GOP, played last, has no time of its own (0 means none).
    let key_times: Vec<u64> = starts[..4].iter().map(|&i| pics[i].ntp).collect();
    assert_eq!(key_times[0], 9 * S, "{transport}: from the last GOP");
    assert!(
        key_times
            .windows(2)
            .all(|w| w[1] < w[0] && (w[0] - w[1]) % S == 0),
        "{transport}: GOPs last to first: {key_times:?}"
    );
    assert_gops_on_their_recording_times(&pics[..starts[3]], transport);
    for g in starts.windows(2).take(3) {
        assert!(
            pics[g[0]..g[1]].windows(2).all(|w| w[1].ntp > w[0].ntp),
            "{transport}: each GOP forwards: {:?}",
            &pics[g[0]..g[1]]
        );
    }
    assert!(
        pics[1..starts[3]].iter().all(|x| x.discont == x.keyframe),
        "{transport}: DISCONT on each GOP's keyframe alone"
    );
}

/// Within each GOP, a picture's PTS is as far from its keyframe's as its recording time; each GOP
/// starts a frame after the last picture shown before it. A GOP starts at a keyframe, or where the
/// recording time goes back without one: gst-rtsp-server drops pictures when its client reads late,
/// keyframes too.
fn assert_gops_on_their_recording_times(pics: &[Picture], transport: &str) {
    let mut key = &pics[0];
    let mut shown_max = 0;
    for p in pics {
        if (p.keyframe || p.ntp < key.ntp) && p.ntp != key.ntp {
            assert!(
                p.pts.abs_diff(shown_max + FRAME) < 1_000_000,
                "{transport}: a GOP a frame after the last picture shown: {p:?}"
            );
            key = p;
        }
        let from_key = p.pts as i64 - key.pts as i64;
        assert!(
            from_key.abs_diff(p.ntp as i64 - key.ntp as i64) < 1_000_000,
            "{transport}: {p:?} out of its place in the GOP of {key:?}"
        );
        shown_max = shown_max.max(p.pts);
    }
}

fn reverse_intra(transport: &str) {
    let pics = play_backwards(transport, true, false, |p| p.len() >= 4);
    let pics = &pics[..4];
    assert!(pics.iter().all(|x| x.keyframe), "{transport}: {pics:?}");
    assert_eq!(pics[0].ntp, 9 * S, "{transport}: from the last GOP");
    for w in pics.windows(2) {
        assert_eq!(
            w[1].ntp + S,
            w[0].ntp,
            "{transport}: keyframes a second apart, backwards: {w:?}"
        );
        assert!(
            w[1].pts.abs_diff(w[0].pts + S) < 1_000_000,
            "{transport}: each keyframe shown for the second of recording it stands for: {w:?}"
        );
    }
}

/// With B-frames the pictures come in decoding order: each keeps its place in its GOP (PTS as far
/// from the keyframe's as its recording time), and the GOP's pictures fill a second, a frame apart.
fn reverse_with_b_frames(transport: &str) {
    let keys = |p: &[Picture]| p.iter().filter(|x| x.keyframe).count();
    let pics = play_backwards(transport, false, true, |p| keys(p) >= 4);
    let starts: Vec<usize> = (0..pics.len()).filter(|&i| pics[i].keyframe).collect();
    let pics = &pics[..starts[3]];
    assert!(
        pics.windows(2)
            .any(|w| !w[1].keyframe && w[1].ntp < w[0].ntp),
        "{transport}: decoding order differs from display with B-frames: {pics:?}"
    );
    assert_gops_on_their_recording_times(pics, transport);
}

/// Forwards at 2×, keyframes only, from a clock time before 1970 (the file's times start at the NTP
/// epoch): `Range: clock=19000101T000001.00Z-19000101T000008.00Z`, the keyframes from 1 s on (to 7 s),
/// half a second apart in PTS, then the end of the range as EOS.
fn forward_intra_from_1900(transport: &str) {
    let _serial = one_at_a_time();
    let cert = common::certs::self_signed();
    let srv = serve(transport, &cert, false);
    let flags =
        gst::SeekFlags::FLUSH | gst::SeekFlags::TRICKMODE | gst::SeekFlags::TRICKMODE_KEY_UNITS;
    let p = Player::start_at(&srv.url(), &server_reach(transport), &[], |src| {
        seek(src, 2.0, flags, S, Some(8 * S))
    });
    p.until(transport, |s| s.eos);
    let pics = p.pictures();
    let times: Vec<u64> = pics.iter().map(|x| x.ntp / S).collect();
    // The last keyframe before the range's end may not come: under load the server's sink drops it
    // as late (seen here with a busy machine).
    let expected: Vec<u64> = (1..=times.len() as u64).collect();
    assert!(
        times.len() >= 5 && times == expected && times.len() <= 7,
        "{transport}: {pics:?}"
    );
    assert!(
        pics.iter().all(|x| x.keyframe && x.ntp % S == 0),
        "{transport}: {pics:?}"
    );
    for w in pics.windows(2) {
        assert!(
            w[1].pts.abs_diff(w[0].pts + S / 2) < 1_000_000,
            "{transport}: a second of recording in half a second: {w:?}"
        );
    }
}

over_udp_tcp_and_tls! {
    forward_intra_from_1900 => super::forward_intra_from_1900;
    reverse => super::reverse;
    reverse_with_b_frames => super::reverse_with_b_frames;
    reverse_intra => super::reverse_intra;
}

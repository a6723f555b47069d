//! ONVIF replay backwards against gst-rtsp-server's ONVIF media playing a real recording (an MP4
//! file, `common::replay_media::recording_file`: qtdemux plays it in reverse and by key units), over
//! UDP (replay is interleaved whatever protocols say), TCP and TLS. gst-rtsp-server sends the GOPs
//! last to first, each forwards, and stamps RTP from its running time, which runs backwards within
//! each GOP: the pictures' PTS must still go forward, a frame apart, from their recording times.

mod common;

use common::replay_player::{seek, server_reach, Picture, Player};
use common::server::{ServerOptions, TestServer};

const S: u64 = 1_000_000_000;
const FRAME: u64 = S / 30;

fn serve(transport: &str, cert: &common::certs::ServerCert, b_frames: bool) -> TestServer {
    common::init();
    TestServer::start(ServerOptions {
        replay: true,
        replay_file: Some(common::replay_media::recording_file(b_frames)),
        tls_pem: (transport == "tls").then(|| cert.pem.clone()),
        ..Default::default()
    })
    .expect("gst-rtsp-server with ONVIF replay (TLS needs glib-networking)")
}

/// A reverse seek, keyframes only when `intra`; the file's times are its recording times (from
/// 1900-01-01, the NTP epoch: the seek asks from 8 s back).
fn play_backwards(
    transport: &str,
    intra: bool,
    b_frames: bool,
    done: impl Fn(&[Picture]) -> bool,
) -> Vec<Picture> {
    let cert = common::certs::self_signed();
    let srv = serve(transport, &cert, b_frames);
    let mut flags = gst::SeekFlags::FLUSH;
    if intra {
        flags |= gst::SeekFlags::TRICKMODE | gst::SeekFlags::TRICKMODE_KEY_UNITS;
    }
    let p = Player::start_at(&srv.url(), &server_reach(transport), &[], |src| {
        seek(src, -1.0, flags, S, Some(8 * S))
    });
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
    let pics = &pics[..starts[3]];
    let key_times: Vec<u64> = starts[..3].iter().map(|&i| pics[i].ntp).collect();
    assert!(
        key_times.windows(2).all(|w| w[1] + S == w[0]),
        "{transport}: GOPs a second apart, last to first: {key_times:?}"
    );
    for (i, w) in pics.windows(2).enumerate() {
        let new_gop = w[1].keyframe;
        if !new_gop {
            assert!(
                w[1].ntp.abs_diff(w[0].ntp + FRAME) < 1_000_000,
                "{transport}: each GOP forwards, a frame apart: {w:?}"
            );
        }
        assert_eq!(
            w[1].discont,
            new_gop,
            "{transport}: DISCONT at {}: {w:?}",
            i + 1
        );
        assert!(
            w[1].pts.abs_diff(w[0].pts + FRAME) < 1_000_000,
            "{transport}: PTS a frame apart, forwards, at {}: {w:?}",
            i + 1
        );
    }
}

fn reverse_intra(transport: &str) {
    let pics = play_backwards(transport, true, false, |p| p.len() >= 4);
    let pics = &pics[..4];
    assert!(pics.iter().all(|x| x.keyframe), "{transport}: {pics:?}");
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
    for g in starts.windows(2).take(3) {
        let gop = &pics[g[0]..g[1]];
        let key = &gop[0];
        assert!(
            gop.windows(2).any(|w| w[1].ntp < w[0].ntp),
            "{transport}: decoding order differs from display with B-frames: {gop:?}"
        );
        for p in gop {
            assert!(
                (p.pts - key.pts).abs_diff(p.ntp - key.ntp) < 1_000_000,
                "{transport}: a B-frame out of its place: {p:?} in the GOP of {key:?}"
            );
        }
        let mut shown: Vec<u64> = gop.iter().map(|p| p.pts).collect();
        shown.sort_unstable();
        assert!(
            shown
                .windows(2)
                .all(|w| w[1].abs_diff(w[0] + FRAME) < 1_000_000),
            "{transport}: a GOP's pictures a frame apart: {shown:?}"
        );
    }
}

over_udp_tcp_and_tls! {
    reverse => super::reverse;
    reverse_with_b_frames => super::reverse_with_b_frames;
    reverse_intra => super::reverse_intra;
}

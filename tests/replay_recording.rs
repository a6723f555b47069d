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

fn serve(transport: &str, cert: &common::certs::ServerCert) -> TestServer {
    common::init();
    TestServer::start(ServerOptions {
        replay: true,
        replay_file: Some(common::replay_media::recording_file()),
        tls_pem: (transport == "tls").then(|| cert.pem.clone()),
        ..Default::default()
    })
    .expect("gst-rtsp-server with ONVIF replay (TLS needs glib-networking)")
}

/// A reverse seek, keyframes only when `intra`; the file's times are its recording times (from
/// 1900-01-01, the NTP epoch: the seek asks from 8 s back).
fn play_backwards(transport: &str, intra: bool, done: impl Fn(&[Picture]) -> bool) -> Vec<Picture> {
    let cert = common::certs::self_signed();
    let srv = serve(transport, &cert);
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
    let pics = play_backwards(transport, false, |p| keys(p) >= 4);
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
    let pics = play_backwards(transport, true, |p| p.len() >= 4);
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

over_udp_tcp_and_tls! {
    reverse => super::reverse;
    reverse_intra => super::reverse_intra;
}

//! ONVIF replay of a recording with audio: gst-rtsp-server's ONVIF media with replay support
//! (`common::replay_media`, video and a PCMA sine, each packet's recording time in the 0xABAC
//! extension), over UDP (replay is interleaved whatever protocols say), TCP and TLS. The audio pad
//! starts where the seek asked, in sync with the video; a seek while playing flushes it, gives it
//! the new segment, and nothing of the old position follows on it.

mod common;

use common::replay_player::{assert_on_the_new_running_time, near, seek, Picture, Player};
use common::replay_server::RECORDING_START;
use common::server::{ServerOptions, TestServer};

const S: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;

/// Every audio frame from the `from`th on goes out as far from the video as the recording has it:
/// its PTS minus the nearest picture's equals their reference times' difference, within 5 ms.
fn assert_lip_sync(pictures: &[Picture], audio: &[Picture], from: usize, context: &str) {
    for a in &audio[from..] {
        let Some(v) = pictures.iter().min_by_key(|v| v.ntp.abs_diff(a.ntp)) else {
            continue;
        };
        if v.ntp.abs_diff(a.ntp) > 100 * MS {
            continue; // No picture of that moment came (the end of the run).
        }
        let expected = v.pts as i64 + (a.ntp as i64 - v.ntp as i64);
        assert!(
            (a.pts as i64 - expected).abs() <= 5 * MS as i64,
            "{context}: audio at {} ms of recording is {} ms off the video",
            (a.ntp - RECORDING_START) / MS,
            (a.pts as i64 - expected) / MS as i64
        );
    }
}

/// The first buffer of a new position carries DISCONT, and the ones after it do not (a decoder that
/// takes DISCONT for loss would drop pictures until the next keyframe).
fn assert_one_discont(buffers: &[Picture], what: &str, context: &str) {
    let marked: Vec<usize> = (0..buffers.len().min(20))
        .filter(|&i| buffers[i].discont)
        .collect();
    assert_eq!(marked, [0], "{context}: {what} buffers with DISCONT");
}

fn audio_follows_the_seeks(transport: &str) {
    common::init();
    let cert = common::certs::self_signed();
    let srv = TestServer::start(ServerOptions {
        replay: true,
        audio: Some("pcma"),
        tls_pem: (transport == "tls").then(|| cert.pem.clone()),
        ..Default::default()
    })
    .expect("gst-rtsp-server with ONVIF replay (TLS needs glib-networking)");
    let reach = common::replay_player::server_reach(transport);
    let at = RECORDING_START + 60 * S;
    let p = Player::start_at(&srv.url(), &reach, &[], |src| {
        seek(src, 1.0, gst::SeekFlags::FLUSH, at, None)
    });
    p.until(transport, |s| {
        s.video.buffers.len() >= 30 && s.audio.buffers.len() >= 50
    });
    let audio = p.audio();
    let first = &audio.buffers[0];
    assert!(near(first.ntp, at), "{transport}: audio from {first:?}");
    assert!(first.discont, "{transport}: {first:?}");
    assert!(
        audio
            .buffers
            .windows(2)
            .all(|w| near(w[1].ntp, w[0].ntp + 20 * MS)),
        "{transport}: 20 ms frames, none lost"
    );
    assert_lip_sync(&p.pictures(), &audio.buffers, 0, transport);
    assert_one_discont(&p.pictures(), "video", transport);
    assert_one_discont(&audio.buffers, "audio", transport);

    // A seek while playing: the audio pad is flushed, gets the new segment, and the old position's
    // frames stop at the flush.
    let later = RECORDING_START + 3600 * S;
    seek(&p.src, 1.0, gst::SeekFlags::FLUSH, later, None);
    p.until(transport, |s| {
        s.audio
            .buffers
            .iter()
            .filter(|a| a.ntp + 1_000 >= later)
            .count()
            >= 50
            && s.video
                .buffers
                .iter()
                .filter(|v| v.ntp + 1_000 >= later)
                .count()
                >= 30
    });
    let audio = p.audio();
    assert_eq!(
        audio.flushes.len(),
        1,
        "{transport}: the seek flushed the audio pad"
    );
    let flushed_at = audio.flushes[0];
    let after = &audio.buffers[flushed_at..];
    assert!(
        after.iter().all(|a| a.ntp + 1_000 >= later),
        "{transport}: the old position's audio came after the flush: {:?}",
        &after[..3.min(after.len())]
    );
    assert!(
        near(after[0].ntp, later) && after[0].discont,
        "{transport}: {:?}",
        after[0]
    );
    assert_eq!(
        audio.segments.last().and_then(|s| s.time()),
        Some(gst::ClockTime::from_nseconds(later)),
        "{transport}: the audio's segment after the seek: {:?}",
        audio.segments
    );
    assert_on_the_new_running_time(&audio.buffers, flushed_at, transport);
    assert_one_discont(after, "audio", transport);
    assert_lip_sync(&p.pictures(), &audio.buffers, flushed_at, transport);
    assert_eq!(srv.clients(), 1, "{transport}: one connection");
}

/// With sinks that sync (a player's), a seek while playing goes on at once on both pads: the pipeline's
/// running time starts over at the flush, and so must the timestamps, else each sink waits for as
/// long as had been played before the seek (here 3 s), reading nothing from the server meanwhile.
/// Within 1.5 s, a loaded machine's margin.
fn a_player_goes_on_at_once_after_a_seek(transport: &str) {
    common::init();
    let srv = TestServer::start(ServerOptions {
        replay: true,
        audio: Some("pcma"),
        ..Default::default()
    })
    .expect("gst-rtsp-server with ONVIF replay");
    let reach = [("protocols", transport.to_string())];
    let p = Player::start_with(&srv.url(), &reach, &[], true, |src| {
        seek(src, 1.0, gst::SeekFlags::FLUSH, RECORDING_START, None)
    });
    p.until(transport, |s| s.video.buffers.len() >= 90);
    let later = RECORDING_START + 3600 * S;
    seek(&p.src, 1.0, gst::SeekFlags::FLUSH, later, None);
    let sought = std::time::Instant::now();
    p.until(transport, |s| {
        s.audio.buffers.iter().any(|a| a.ntp + 1_000 >= later)
            && s.video.buffers.iter().any(|v| v.ntp + 1_000 >= later)
    });
    let seen = common::replay_player::lock(&p.seen);
    for (what, track) in [("video", &seen.video), ("audio", &seen.audio)] {
        let first = track
            .buffers
            .iter()
            .find(|b| b.ntp + 1_000 >= later)
            .unwrap();
        let waited = first.at.duration_since(sought);
        assert!(
            waited < std::time::Duration::from_millis(1500),
            "{transport}: the {what} sink got the new position {waited:?} after the seek"
        );
    }
}

over_udp_tcp_and_tls! {
    audio_follows_the_seeks => super::audio_follows_the_seeks;
}

over_udp_and_tcp! {
    a_player_goes_on_at_once_after_a_seek => super::a_player_goes_on_at_once_after_a_seek;
}

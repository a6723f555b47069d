//! Audio placed against the video as the camera captured it, from the scriptable fake camera: audio
//! sent 250 ms after its capture (its sender reports say so) comes out where the camera's reports put
//! it; reports from another clock are not followed; audio that comes before a late first picture
//! waits for it 2 s at most. Over UDP, TCP and TLS. (gst-rtsp-server's lip-sync: `tests/audio.rs`.)

mod common;

use common::audio_clips::pcmu;
use common::av::{av_offset, holes, record_av, AvRecording};
use common::fake_camera::{FakeAudio, FakeCamera, Script};
use common::reach::Reach;
use std::time::Duration;

/// Video frames recorded: 3 s at 30 fps.
const FRAMES: usize = 90;

/// A camera that buffers its audio: G.711 sent 250 ms after its capture, sender reports on both
/// streams saying so. `late` of 3600 s: reports from a clock an hour away.
fn camera_with_late_audio(late: Duration) -> FakeCamera {
    common::init();
    FakeCamera::start(late_audio_script(late))
}

fn late_audio_script(late: Duration) -> Script {
    Script {
        audio: Some(FakeAudio { late, ..pcmu() }),
        sender_reports: Some(Duration::from_secs(1)),
        ..Default::default()
    }
}

fn record_over(reach: &Reach) -> AvRecording {
    let rec = record_av(reach.url(), &reach.props(), FRAMES, Duration::from_secs(20));
    assert!(rec.errors.is_empty(), "{:?}", rec.errors);
    rec
}

/// Over the first 2 s, the audio is where the camera's reports put it against the video, within 5 ms.
fn assert_in_sync(rec: &AvRecording, transport: &str) {
    let offset = av_offset(rec, 0, 2_000_000_000);
    assert!(
        offset.abs() <= 5_000_000,
        "{transport}: audio {:.1} ms off the video",
        offset as f64 / 1e6
    );
}

/// Lip-sync: the audio pad's frames go out as far from the video's as the camera captured them (by
/// its sender reports), within 5 ms, though they arrive 250 ms later than the video captured with them.
fn late_audio_keeps_the_cameras_av_offset(transport: &str) {
    let cam = camera_with_late_audio(Duration::from_millis(250));
    let rec = record_over(&Reach::new(&cam, transport));
    assert_in_sync(&rec, transport);
    assert!(rec.warnings.is_empty(), "{transport}: {:?}", rec.warnings);
}

/// The camera's first sender reports go out with its first packets, before its PLAY reply (the fake
/// camera waits for its first video packet before replying; cameras that start streaming as they
/// answer do the same by chance): they count, so the first picture already places the audio. Dropped,
/// the next reports come a second later and the audio, started by its arrival, could not slew 250 ms.
fn reports_before_the_play_reply_place_the_audio(transport: &str) {
    common::init();
    let cam = FakeCamera::start(Script {
        packets_before_play_reply: 1,
        ..late_audio_script(Duration::from_millis(250))
    });
    let rec = record_over(&Reach::new(&cam, transport));
    assert_in_sync(&rec, transport);
}

/// Audio sender reports from another clock (an hour away from the video's) are not followed: one
/// warning, and the audio goes out as it arrives, beside the video, without a hole.
fn audio_reports_from_another_clock_are_not_followed(transport: &str) {
    let cam = camera_with_late_audio(Duration::from_secs(3600));
    let rec = record_over(&Reach::new(&cam, transport));
    let warned = rec
        .warnings
        .iter()
        .filter(|w| w.contains("sender reports put its audio"))
        .count();
    assert_eq!(warned, 1, "{transport}: {:?}", rec.warnings);
    let audio = &rec.side[0];
    let first = audio[0].pts.unwrap().nseconds();
    let video = rec.video_pts[0];
    assert!(
        first.abs_diff(video) < 300_000_000,
        "{transport}: audio from {first} ns, video from {video} ns"
    );
    assert_eq!(holes(audio), (0, vec![]), "{transport}");
}

/// A camera whose video starts late (its first 240 packets, some 2.5 s, are lost; then the element
/// waits for the next keyframe, a second at most) while its audio flows from the start: the audio does
/// not wait for the first picture longer than 2 s, it goes out by its arrival. (Under the 3 s after
/// which a silent UDP session moves to TCP.)
fn audio_waits_for_a_late_first_picture_2_s_at_most(transport: &str) {
    common::init();
    let cam = FakeCamera::start(Script {
        audio: Some(pcmu()),
        drop: Some(|i| i < 240),
        ..Default::default()
    });
    let rec = record_over(&Reach::new(&cam, transport));
    let (audio, video) = (
        rec.side[0].first().expect("audio").at,
        rec.video_first_at.expect("video"),
    );
    let ahead = video.saturating_duration_since(audio);
    assert!(
        ahead > Duration::from_millis(500),
        "{transport}: the first audio came only {ahead:?} before the first picture"
    );
    assert_eq!(holes(&rec.side[0]), (0, vec![]), "{transport}");
}

over_udp_tcp_and_tls! {
    late_audio_keeps_the_cameras_av_offset => super::late_audio_keeps_the_cameras_av_offset;
    reports_before_the_play_reply_place_the_audio => super::reports_before_the_play_reply_place_the_audio;
    audio_reports_from_another_clock_are_not_followed => super::audio_reports_from_another_clock_are_not_followed;
    audio_waits_for_a_late_first_picture_2_s_at_most => super::audio_waits_for_a_late_first_picture_2_s_at_most;
}

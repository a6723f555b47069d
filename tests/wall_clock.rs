//! The camera's wall-clock time on every buffer (GstReferenceTimestampMeta, timestamp/x-ntp), end to end
//! over UDP and TCP: from sender reports of a camera whose NTP clock is off the host's and whose RTP clock
//! runs fast or slow, from the ONVIF replay extension with no sender reports at all, across a jump of the
//! camera's clock, and from gst-rtsp-server's own reports. Each buffer's meta is checked against the
//! fake camera's own NTP time of that frame.

mod common;

use common::fake_camera::{CameraClock, FakeCamera, Script};
use common::{record_clean, Recording};
use std::time::Duration;

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;

/// Records `secs` from a fake camera running `script`; returns the recording and the camera's NTP time
/// of every frame it sent.
fn record_camera(script: Script, protocols: &str, secs: u64) -> (Recording, Vec<u64>) {
    let cam = FakeCamera::start(script);
    let rec = record_clean(
        &cam.url(),
        Duration::from_secs(secs),
        &[("protocols", &protocols)],
    );
    let frame_ntp = cam.shared.frame_ntp.lock().unwrap().clone();
    (rec, frame_ntp)
}

/// For each buffer with a meta: (the camera's NTP time of the frame nearest to it, the meta's error).
fn matched(rec: &Recording, frame_ntp: &[u64]) -> Vec<(u64, i64)> {
    rec.frames
        .iter()
        .filter_map(|f| f.ntp)
        .map(|m| {
            let nearest = *frame_ntp
                .iter()
                .min_by_key(|&&t| t.abs_diff(m))
                .expect("the camera sent frames");
            (nearest, m as i64 - nearest as i64)
        })
        .collect()
}

/// Every buffer from the `skip`th on carries a meta, and they match distinct frames in order.
fn assert_meta_on_every_buffer(rec: &Recording, skip: usize, matches: &[(u64, i64)], what: &str) {
    rec.assert_plays();
    let missing = rec
        .frames
        .iter()
        .skip(skip)
        .filter(|f| f.ntp.is_none())
        .count();
    assert_eq!(missing, 0, "{what}: buffers without a meta");
    assert!(
        matches.windows(2).all(|w| w[1].0 > w[0].0),
        "{what}: two buffers matched the same frame, or went back"
    );
}

fn sender_reports_at(protocols: &str, ppm: i64) {
    let script = Script {
        clock: CameraClock {
            ntp_offset_ms: -37_000,
            ppm,
            rtp_offset: 0x8000_0000,
            ..Default::default()
        },
        sender_reports: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    let (rec, frame_ntp) = record_camera(script, protocols, 5);
    let matches = matched(&rec, &frame_ntp);
    let what = format!("{protocols}, {ppm} ppm");
    // The first report goes out before the first packet; over UDP it may be read after the first
    // picture's packets.
    assert_meta_on_every_buffer(&rec, 1, &matches, &what);
    let bound = if ppm < -1000 { 500_000 } else { 100_000 };
    for &(ntp, err) in &matches {
        let camera_time = ntp - frame_ntp[0];
        // Until a second report measures the clock, the nominal rate is off by `ppm`.
        let allowed = if camera_time < 1100 * MS {
            camera_time * ppm.unsigned_abs() / 1_000_000 + 100_000
        } else {
            bound
        };
        assert!(
            err.unsigned_abs() <= allowed,
            "{what}: frame at {} ms off by {} µs",
            camera_time / MS,
            err as f64 / 1e3
        );
    }
    assert!(rec.stat("sender-reports") >= 4);
    let stats = rec.stats.as_ref().unwrap();
    let measured = stats.get::<f64>("clock-deviation-ppm").unwrap();
    assert!(
        (measured - ppm as f64).abs() < 50.0,
        "{what}: measured {measured} ppm"
    );
    assert!(stats.get::<u64>("ntp-time").unwrap() > frame_ntp[0]);
}

fn onvif_times_are_exact(protocols: &str) {
    // No sender reports at all; the RTP clock runs fast: only the extension can be exact.
    let script = Script {
        clock: CameraClock {
            ntp_offset_ms: 5_000,
            ppm: 500,
            ..Default::default()
        },
        onvif_ntp: true,
        ..Default::default()
    };
    let (rec, frame_ntp) = record_camera(script, protocols, 3);
    let matches = matched(&rec, &frame_ntp);
    assert_meta_on_every_buffer(&rec, 0, &matches, protocols);
    // 32.32 fixed point: within a nanosecond.
    assert!(matches.iter().all(|&(_, e)| e.abs() <= 1), "{matches:?}");
    assert_eq!(rec.stat("sender-reports"), 0);
}

fn a_clock_jump_is_followed(protocols: &str) {
    // Two seconds in, the camera's NTP client steps its clock an hour forward.
    let script = Script {
        clock: CameraClock {
            jump: Some((Duration::from_secs(2), 3_600_000)),
            ..Default::default()
        },
        sender_reports: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    let (rec, frame_ntp) = record_camera(script, protocols, 5);
    let jump_at = frame_ntp[0] + 2 * S;
    let matches = matched(&rec, &frame_ntp);
    assert_meta_on_every_buffer(&rec, 1, &matches, protocols);
    // Within one report of the jump the meta follows the new time; before it, the old one.
    let after: Vec<_> = matches
        .iter()
        .filter(|(ntp, _)| *ntp > jump_at + 3600 * S + 1100 * MS)
        .collect();
    assert!(
        after.len() > 30,
        "{protocols}: {} frames after",
        after.len()
    );
    assert!(
        after.iter().all(|(_, e)| e.unsigned_abs() <= 100_000),
        "{after:?}"
    );
    let before = matches.iter().filter(|(ntp, _)| *ntp < jump_at).count();
    assert!(before > 30, "{protocols}: {before} frames before");
    assert_eq!(rec.stat("ntp-jumps"), 1);
    let warnings: Vec<_> = rec
        .warnings
        .iter()
        .filter(|w| w.contains("clock jumped"))
        .collect();
    assert_eq!(warnings.len(), 1, "{:?}", rec.warnings);
}

fn no_meta_when_turned_off(protocols: &str) {
    let script = Script {
        sender_reports: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    let cam = FakeCamera::start(script);
    let rec = record_clean(
        &cam.url(),
        Duration::from_secs(2),
        &[
            ("protocols", &protocols),
            ("add-reference-timestamp-meta", &false),
        ],
    );
    rec.assert_plays();
    assert!(rec.frames.iter().all(|f| f.ntp.is_none()));
    assert!(rec.stat("sender-reports") >= 1);
}

fn plus_500_ppm(protocols: &str) {
    sender_reports_at(protocols, 500);
}

fn minus_2000_ppm(protocols: &str) {
    sender_reports_at(protocols, -2000);
}

fn exact_clock(protocols: &str) {
    sender_reports_at(protocols, 0);
}

over_udp_and_tcp! {
    sender_reports_exact_clock => super::exact_clock;
    sender_reports_plus_500_ppm => super::plus_500_ppm;
    sender_reports_minus_2000_ppm => super::minus_2000_ppm;
    onvif_extension => super::onvif_times_are_exact;
    clock_jump => super::a_clock_jump_is_followed;
    meta_off => super::no_meta_when_turned_off;
}

/// gst-rtsp-server sends sender reports from the host's clock: the meta is within 20 ms of the host's
/// wall clock when the buffer arrives.
fn server_reports(protocols: &str) {
    let server = common::server::TestServer::start(Default::default()).unwrap();
    let rec = record_clean(
        &server.url(),
        Duration::from_secs(7),
        &[("protocols", &protocols)],
    );
    rec.assert_plays();
    let with: Vec<_> = rec.frames.iter().filter(|f| f.ntp.is_some()).collect();
    assert!(
        with.len() > 20,
        "{protocols}: {} buffers with a meta",
        with.len()
    );
    let first = rec.frames.iter().position(|f| f.ntp.is_some()).unwrap();
    assert!(rec.frames[first..].iter().all(|f| f.ntp.is_some()));
    // How long before its arrival each frame was captured, by the server's reports. A frame can
    // arrive late (a loaded machine, TCP): the 95th percentile must be within 20 ms, and no meta may
    // lie in the future.
    let mut ages: Vec<i64> = with
        .iter()
        .map(|f| f.wall as i64 - (f.ntp.unwrap() as i64 - 2_208_988_800 * S as i64))
        .collect();
    ages.sort();
    let p95 = ages[ages.len() * 95 / 100];
    assert!(
        ages[0] >= -2 * MS as i64 && p95 <= 20 * MS as i64,
        "{protocols}: captured {} to {} ms (95 %: {} ms) before arrival",
        ages[0] as f64 / 1e6,
        ages[ages.len() - 1] as f64 / 1e6,
        p95 as f64 / 1e6
    );
}

over_udp_and_tcp! {
    rtsp_server => super::server_reports;
}

/// After a reconnect (the camera rebooted) the meta resumes from the new session's first report, and
/// PTS keep increasing.
fn across_a_reconnect(protocols: &str) {
    let script = Script {
        close_after: Some(150),
        down_after_close: Some(Duration::from_millis(500)),
        sender_reports: Some(Duration::from_secs(1)),
        clock: CameraClock {
            ntp_offset_ms: 20_000,
            ..Default::default()
        },
        ..Default::default()
    };
    let (rec, frame_ntp) = record_camera(script, protocols, 6);
    assert_eq!(
        rec.messages_named("rustrtspsrc-reconnected").len(),
        1,
        "{protocols}"
    );
    let matches = matched(&rec, &frame_ntp);
    // The first buffer of each session may come before that session's first report.
    let resumed = rec
        .frames
        .iter()
        .skip(1)
        .position(|f| f.flags.contains(gst::BufferFlags::DISCONT));
    let resumed = resumed.expect("a DISCONT after the reconnect") + 1;
    let missing = rec
        .frames
        .iter()
        .enumerate()
        .filter(|(i, f)| f.ntp.is_none() && *i > 0 && *i != resumed)
        .count();
    assert_eq!(missing, 0, "{protocols}: buffers without a meta");
    assert!(
        matches.iter().all(|&(_, e)| e.unsigned_abs() <= 100_000),
        "{protocols}: {matches:?}"
    );
    // The camera drops the connection 1.5 s in and is back 0.5 s later: seconds of stream follow.
    let after = rec.frames[resumed..]
        .iter()
        .filter(|f| f.ntp.is_some())
        .count();
    assert!(
        after > 30,
        "{protocols}: {after} buffers after the reconnect"
    );
    let pts: Vec<_> = rec.frames.iter().map(|f| f.pts.unwrap()).collect();
    assert!(
        pts.windows(2).all(|w| w[1] > w[0]),
        "{protocols}: PTS went back"
    );
}

over_udp_and_tcp! {
    reconnect => super::across_a_reconnect;
}

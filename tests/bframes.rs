//! A camera stream with B-frames (gst-rtsp-server serving x264enc bframes=2) recorded the way users
//! record: `rustrtspsrc ! h264parse ! mp4mux ! filesink`. The MP4 must hold every frame, decode
//! cleanly and play them in presentation order.

mod common;

use common::server::{ServerOptions, TestServer};
use std::time::Duration;

/// Records `secs` seconds into an MP4 and returns its path.
fn record_mp4(url: &str, protocols: &str, secs: u64) -> std::path::PathBuf {
    common::init();
    let path = std::env::temp_dir().join(format!(
        "rustrtspsrc-bframes-{}-{protocols}.mp4",
        std::process::id()
    ));
    common::launch_for(
        &format!(
            "rustrtspsrc location={url} protocols={protocols} ! h264parse ! mp4mux ! filesink location={}",
            path.display()
        ),
        Duration::from_secs(secs),
        protocols,
    );
    path
}

fn ffprobe(path: &std::path::Path, entries: &str) -> String {
    common::ffprobe(path, "v", entries)
}

/// The first value of each frame's line (ffprobe adds a blank line and a trailing comma for the first
/// frame's side data).
fn first_fields(csv: &str) -> Vec<&str> {
    csv.lines()
        .filter_map(|l| l.split(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect()
}

fn b_frames_into_mp4(protocols: &str) {
    let srv = TestServer::start(ServerOptions {
        bframes: 2,
        ..Default::default()
    })
    .unwrap();
    let path = record_mp4(&srv.url(), protocols, 4);
    // B-frames arrived and were kept.
    let types = ffprobe(&path, "frame=pict_type");
    let types = first_fields(&types);
    let b = types.iter().filter(|t| **t == "B").count();
    let n = types.len();
    assert!(n >= 90, "{protocols}: {n} frames");
    assert!(b >= n / 3, "{protocols}: {b} B-frames of {n}");
    // Presentation times strictly increase in display order (every frame, in order), with no gap.
    let pts: Vec<f64> = first_fields(&ffprobe(&path, "frame=pts_time"))
        .iter()
        .map(|p| p.parse().expect("a PTS"))
        .collect();
    assert_eq!(pts.len(), n, "{protocols}");
    assert!(pts.windows(2).all(|w| w[1] > w[0]), "{protocols}: {pts:?}");
    // The recording may stop after a reference picture whose B-frames (up to 2, sent after it) had not
    // come yet: the last frame may then follow a hole of up to two frames.
    let last = pts.len().saturating_sub(1);
    assert!(
        pts[..last].windows(2).all(|w| w[1] - w[0] < 0.05)
            && pts[last.saturating_sub(1)..]
                .windows(2)
                .all(|w| w[1] - w[0] < 0.11),
        "{protocols}: {pts:?}"
    );
    // The container says every frame is there, and it decodes without a complaint.
    let counted: usize = ffprobe(&path, "stream=nb_frames").trim().parse().unwrap();
    assert_eq!(counted, n, "{protocols}");
    let complaints = common::ffmpeg_complaints(&path);
    assert!(complaints.is_empty(), "{protocols}: {complaints}");
    let _ = std::fs::remove_file(&path);
}

over_udp_and_tcp! {
    b_frames_into_mp4 => super::b_frames_into_mp4;
}

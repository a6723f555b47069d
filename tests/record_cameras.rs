//! The `record-cameras` example end to end: two in-process test servers (H.264 with AAC, and H.265),
//! one of which restarts in the middle, and a camera that cannot be reached. Every segment must
//! decode, the front camera's with its audio beside the video, the restart must show in the status
//! output, the unreachable camera must not stop the others, Ctrl-C must finish the open segments, and
//! no password may be printed.

mod common;

use common::server::{ServerOptions, TestServer};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn example() -> PathBuf {
    common::cargo_build(&["--example", "record-cameras"]).join("examples/record-cameras")
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn records_segments_through_a_restart() {
    let bin = example();
    common::init();
    let front = TestServer::start(ServerOptions {
        audio: Some("aac"),
        ..Default::default()
    })
    .unwrap();
    let back = TestServer::start(ServerOptions {
        codec: "h265",
        ..Default::default()
    })
    .unwrap();
    let out = std::env::temp_dir().join(format!("rustrtspsrc-rec-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let child = Command::new(bin)
        .args(["--segment", "2", "--out"])
        .arg(&out)
        .arg(format!(
            "front={}",
            front.url().replace("rtsp://", "rtsp://admin:s3cret@")
        ))
        .arg(format!("back={}", back.url()))
        .arg("nobody=rtsp://127.0.0.1:9/none")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The back camera restarts (a reboot): the same port, a new server.
    std::thread::sleep(Duration::from_secs(4));
    let port = back.port;
    drop(back);
    std::thread::sleep(Duration::from_millis(500));
    let _back = TestServer::start(ServerOptions {
        codec: "h265",
        port,
        ..Default::default()
    })
    .unwrap();
    std::thread::sleep(Duration::from_secs(5));
    // Ctrl-C.
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let start = Instant::now();
    let done = child.wait_with_output().unwrap();
    assert!(start.elapsed() < Duration::from_secs(15));
    let stdout = String::from_utf8_lossy(&done.stdout);
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("reconnecting"), "{stdout}");
    // The unreachable camera's line gives the element's own reason, not basesrc's follow-up error.
    assert!(
        stdout.contains("retrying in 5 s: cannot connect to the camera at 127.0.0.1:9"),
        "the unreachable camera: {stdout}"
    );
    assert!(!stdout.contains("Internal data stream error"), "{stdout}");
    assert!(!stdout.contains("s3cret") && !stderr.contains("s3cret"));
    assert!(
        stdout.contains("audio AAC"),
        "the status line's codec: {stdout}"
    );
    for (camera, codec) in [("front", "h264"), ("back", "hevc")] {
        let files = segments(&out.join(camera));
        assert!(files.len() >= 3, "{camera}: {files:?}");
        for f in &files {
            let probe = Command::new("ffprobe")
                .args(["-v", "error", "-count_frames", "-select_streams", "v"])
                .args([
                    "-show_entries",
                    "stream=codec_name,nb_read_frames",
                    "-of",
                    "csv=p=0",
                ])
                .arg(f)
                .output()
                .unwrap();
            let info = String::from_utf8_lossy(&probe.stdout);
            let frames: u32 = info
                .trim()
                .split(',')
                .nth(1)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            assert!(
                info.starts_with(codec) && frames > 0,
                "{}: {info} {}",
                f.display(),
                String::from_utf8_lossy(&probe.stderr)
            );
            let audio = common::ffprobe(f, "a", "stream=codec_name");
            let wanted = if camera == "front" { "aac" } else { "" };
            assert_eq!(audio.trim(), wanted, "{}", f.display());
        }
    }
    let _ = std::fs::remove_dir_all(&out);
}

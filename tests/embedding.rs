//! The README's embedding examples, run as they are: Python (examples/embed/record.py, PyGObject; and
//! record_av.py, which links the audio pad too) and C (examples/embed/record.c, gst_parse_launch)
//! against the in-process test server sending H.264 and AAC (the video-only examples must not notice
//! the audio), loading the plugin file through GST_PLUGIN_PATH as embedders do. (The Rust way is the one every other test uses:
//! `plugin_register_static` and `gst::parse::launch`.)

mod common;

use common::server::{ServerOptions, TestServer};
use std::path::{Path, PathBuf};
use std::process::Command;

fn plugin_dir() -> PathBuf {
    common::cargo_build(&["--lib", "--quiet"])
}

fn server() -> TestServer {
    common::init();
    TestServer::start(ServerOptions {
        audio: Some("aac"),
        ..Default::default()
    })
    .unwrap()
}

/// Runs `examples/embed/<script>` with `args` under Debian's Python (where python3-gi installs: a
/// python3 earlier on PATH may be another one).
fn run_python(script: &str, args: &[&str]) -> std::process::Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = ["/usr/bin/python3", "python3"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("python3");
    Command::new(python)
        .arg(root.join("examples/embed").join(script))
        .args(args)
        .env("GST_PLUGIN_PATH", plugin_dir())
        .output()
        .expect("python3 (python3-gi, gir1.2-gstreamer-1.0 from scripts/setup.sh)")
}

#[test]
fn python_example_records() {
    let srv = server();
    // Each example runs 8 s for what 3 s give on an idle machine: on a loaded CI machine the first
    // keyframe came 3 s after PLAYING.
    let out = run_python("record.py", &[srv.url().as_str(), "8"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keyframes: u32 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("buffers "))
        .and_then(|l| l.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(0);
    assert!(keyframes >= 2, "{stdout}");
}

#[test]
fn python_example_records_video_and_audio() {
    let srv = server();
    let file = std::env::temp_dir().join(format!("rustrtspsrc-embed-{}.mkv", std::process::id()));
    let out = run_python(
        "record_av.py",
        &[srv.url().as_str(), file.to_str().unwrap(), "8"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("recording audio_0 audio/mpeg"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (codecs, duration) = common::codecs_and_duration(&file);
    assert_eq!(codecs, ["h264", "aac"], "{duration} s");
    assert!(duration > 3.0, "{duration} s");
    let _ = std::fs::remove_file(&file);
}

#[test]
fn c_example_records() {
    let (dir, srv) = (plugin_dir(), server());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = std::env::temp_dir().join(format!("rustrtspsrc-embed-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "gstreamer-1.0"])
        .output()
        .unwrap();
    let flags = String::from_utf8_lossy(&flags.stdout).to_string();
    let exe = tmp.join("record");
    let cc = Command::new("cc")
        .arg(root.join("examples/embed/record.c"))
        .args(flags.split_whitespace())
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("a C compiler (build-essential)");
    assert!(
        cc.status.success(),
        "{}",
        String::from_utf8_lossy(&cc.stderr)
    );
    let file = tmp.join("out.h264");
    let run = Command::new(&exe)
        .args([srv.url().as_str(), file.to_str().unwrap(), "8"])
        .env("GST_PLUGIN_PATH", &dir)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let recorded = std::fs::read(&file).unwrap();
    let (decoded, problems) = common::decode(&recorded);
    assert!(
        decoded >= 45 && problems.is_empty(),
        "{decoded} frames, {problems:?}"
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

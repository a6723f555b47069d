//! What ffprobe and ffmpeg say of a recorded file: its streams, its duration, its frames' times, and
//! any complaint while decoding it whole.

/// ffprobe's `entries` (e.g. `stream=codec_name`, `frame=pts_time`) of `path`, CSV without keys, of
/// the streams `select` picks (`v`, `a`, or all with ""): fails the test if ffprobe does.
pub fn ffprobe(path: &std::path::Path, select: &str, entries: &str) -> String {
    let mut cmd = std::process::Command::new("ffprobe");
    cmd.args(["-v", "error"]);
    if !select.is_empty() {
        cmd.args(["-select_streams", select]);
    }
    let out = cmd
        .args(["-show_entries", entries, "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe (ffmpeg is installed by scripts/setup.sh)");
    assert!(
        out.status.success(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What ffmpeg says while decoding `path` whole (empty: nothing to complain about). Frames pass
/// through in the file's time base: a conversion to a constant rate would complain about the 4 %
/// spacing of the first seconds' timing correction, not about the file.
pub fn ffmpeg_complaints(path: &std::path::Path) -> String {
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-fps_mode", "passthrough", "-enc_time_base:v", "-1"])
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg (installed by scripts/setup.sh)");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The codec names of `path`'s streams, and its duration in seconds (0 when ffprobe gives none).
pub fn codecs_and_duration(path: &std::path::Path) -> (Vec<String>, f64) {
    let text = ffprobe(path, "", "stream=codec_name:format=duration");
    let mut lines: Vec<String> = text.lines().map(|l| l.trim().to_string()).collect();
    let duration = lines.pop().and_then(|d| d.parse().ok()).unwrap_or(0.0);
    (lines, duration)
}

//! A live555 RTSP server, the stack most cameras embed, in a child process: `scripts/live555.sh` builds
//! it (from live555's 2024.06.26 sources, cached in `target/live555/`) with the clips it serves, on
//! first use. Its paths: `h264`, `h265`, `h264-aac`, `h265-aac` (30 s clips, 640x360 at 25 fps, AAC
//! 48 kHz mono 440 Hz).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

pub struct Live555 {
    child: Child,
    pub rtsp_port: u16,
    pub http_port: u16,
}

/// The built server, once per test process (the script itself serializes processes with a lock).
fn server_binary() -> PathBuf {
    static BUILT: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.as_ref() {
        return path.clone();
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(manifest.join("scripts/live555.sh"))
        .current_dir(&manifest)
        .stderr(Stdio::inherit())
        .output()
        .expect("running scripts/live555.sh");
    assert!(
        out.status.success(),
        "scripts/live555.sh could not build the live555 test server (it needs python3-pip, g++ and \
         gstreamer1.0-tools with x264enc, x265enc and avenc_aac: scripts/setup.sh installs them)"
    );
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    *built = Some(path.clone());
    path
}

impl Live555 {
    /// Starts a server on free ports of 127.0.0.1 and waits until it listens.
    pub fn start() -> Live555 {
        let binary = server_binary();
        let mut child = Command::new(&binary)
            .args(["0", "0"])
            .arg(binary.parent().unwrap())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the live555 test server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ports: Vec<u16> = line
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("live555 test server said {line:?}"))
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect();
        Live555 {
            child,
            rtsp_port: ports[0],
            http_port: ports[1],
        }
    }

    /// The location and `protocols` for `path` over `transport`: "udp", "tcp", or "http" (RTSP
    /// tunnelled in HTTP, on the server's HTTP port).
    pub fn reach(&self, path: &str, transport: &str) -> (String, &'static str) {
        match transport {
            "udp" => (self.url(path), "udp"),
            "tcp" => (self.url(path), "tcp"),
            "http" => (
                format!("rtsph://127.0.0.1:{}/{path}", self.http_port),
                "tcp",
            ),
            other => panic!("no transport {other}"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("rtsp://127.0.0.1:{}/{path}", self.rtsp_port)
    }
}

impl Drop for Live555 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

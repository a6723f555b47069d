//! The streaming thread sleeps between pictures whatever the keep-alives do. With keep-alives off
//! (`do-rtsp-keep-alive=false`) the session's keep-alive time stayed its next deadline once passed,
//! and with a camera that leaves keep-alives unanswered the overdue answer did: the receive loop then
//! waited with a zero timeout over and over, a core busy from the first keep-alive interval on.
//!
//! Against the fake camera (keep-alives off, or left unanswered: UDP, TCP, TLS) and gst-rtsp-server
//! (keep-alives off: UDP, TCP). Each case runs the element in a gst-launch process of its own, so that
//! its CPU time is its own, and reads that time between two buffers of the stream (by their PTS: after
//! the first keep-alive interval and two seconds later). A sleeping loop takes a few ms of CPU for two
//! seconds of a 30 fps stream; the busy loop took the whole two seconds.

mod common;

use common::fake_camera::{FakeCamera, Script};
use common::reach::Reach;
use common::server::{ServerOptions, TestServer};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The fake camera announces a 3 s session: keep-alives every second.
const SESSION_TIMEOUT: u32 = 3;
/// The window the CPU time is read over: from this PTS (past the first keep-alive) …
const FROM: Duration = Duration::from_millis(1500);
/// … for this long.
const WINDOW: Duration = Duration::from_secs(2);
/// gst-rtsp-server's sessions: 9 s (keep-alives every 3 s), kept alive by the element's RTCP (every
/// 5 s) when keep-alives are off; the window starts past the first keep-alive time.
const SERVER_SESSION_TIMEOUT: u32 = 9;
const SERVER_FROM: Duration = Duration::from_millis(3500);
/// Most CPU the element's process may take over the window: a busy loop takes all of it.
const MOST_CPU: Duration = Duration::from_millis(500);

/// CPU time (user and system) of process `pid` so far.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // Fields after the command name (in parentheses, which may hold spaces): utime and stime are
    // the 12th and 13th of them.
    let after = &stat[stat.rfind(')').expect("a command name") + 2..];
    let mut fields = after.split(' ').skip(11);
    let mut ticks = || -> u64 {
        let field = fields.next().expect("/proc/PID/stat holds utime and stime");
        field.parse().expect("CPU ticks are a number")
    };
    let ticks = ticks() + ticks();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

/// The PTS of a buffer fakesink's last-message names (`pts: 0:00:01.500000000`).
fn pts_of(line: &str) -> Option<Duration> {
    let t = line.split("pts: ").nth(1)?.split([',', ')']).next()?;
    let mut parts = t.split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    let secs: f64 = s.parse().ok()?;
    let whole = h.parse::<u64>().ok()? * 3600 + m.parse::<u64>().ok()? * 60;
    Some(Duration::from_secs(whole) + Duration::from_secs_f64(secs))
}

/// Plays `url` with `props` in a gst-launch process, and returns the CPU time that process took
/// while the stream went from `from` to `from + WINDOW`.
fn cpu_over_window(url: &str, props: &[(&str, &str)], from: Duration, context: &str) -> Duration {
    let dir = common::cargo_build(&["--lib", "--quiet"]);
    let mut args = vec![
        "-v".to_string(),
        "rustrtspsrc".to_string(),
        format!("location={url}"),
    ];
    for (k, v) in props {
        args.push(format!("{k}={v}"));
    }
    args.extend(["!", "fakesink", "silent=false", "sync=false"].map(String::from));
    // Line-buffered (coreutils' stdbuf): fakesink's lines must come as they happen.
    let mut child = Command::new("stdbuf")
        .arg("-oL")
        .arg("gst-launch-1.0")
        .args(&args)
        .env("GST_PLUGIN_PATH", &dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("stdbuf (coreutils) and gst-launch-1.0 (gstreamer1.0-tools from scripts/setup.sh)");
    let pid = child.id();
    // Read on a thread of its own: a stream that stops sending lines must not hold the test.
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut start = None;
    let mut result = None;
    while result.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = rx.recv_timeout(left) else {
            break;
        };
        let Some(pts) = line
            .contains("last-message = chain")
            .then(|| pts_of(&line))
            .flatten()
        else {
            continue;
        };
        match start {
            None if pts >= from => start = Some(cpu_time(pid)),
            Some(at) if pts >= from + WINDOW => result = Some(cpu_time(pid) - at),
            _ => {}
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    result.unwrap_or_else(|| {
        panic!(
            "{context}: the stream did not reach {:?} within 30 s",
            from + WINDOW
        )
    })
}

/// The element plays the fake camera (`script`, a 3 s session) through `transport` with `prop`
/// besides, and stays idle between pictures; `what` says how the keep-alives go. Returns the camera.
fn idle_with_fake_camera(
    transport: &str,
    script: Script,
    prop: (&str, &str),
    what: &str,
) -> FakeCamera {
    common::init();
    let cam = FakeCamera::start(Script {
        session_timeout: Some(SESSION_TIMEOUT),
        ..script
    });
    let reach = Reach::new(&cam, transport);
    let mut props = reach.props();
    props.push(prop);
    let cpu = cpu_over_window(reach.url(), &props, FROM, transport);
    assert!(
        cpu < MOST_CPU,
        "{transport}: {cpu:?} of CPU over {WINDOW:?} of stream, {what}"
    );
    cam
}

fn keepalives_off(transport: &str) {
    let script = Script {
        keep_session: true,
        ..Default::default()
    };
    let prop = ("do-rtsp-keep-alive", "false");
    let cam = idle_with_fake_camera(transport, script, prop, "keep-alives off");
    assert_eq!(
        cam.shared.count("GET_PARAMETER"),
        0,
        "{transport}: keep-alives sent"
    );
}

fn keepalives_unanswered(transport: &str) {
    let script = Script {
        ignore_keepalives: true,
        ..Default::default()
    };
    // The answer is overdue 0.3 s after each keep-alive (tcp-timeout, in µs as rtspsrc has it), the
    // next keep-alive is a second after it.
    let prop = ("tcp-timeout", "300000");
    let cam = idle_with_fake_camera(transport, script, prop, "keep-alives unanswered");
    assert!(
        cam.shared.count("GET_PARAMETER") >= 2,
        "{transport}: {} keep-alives",
        cam.shared.count("GET_PARAMETER")
    );
}

/// The same against a real server: gst-rtsp-server, keep-alives off.
fn gst_rtsp_server_keepalives_off(transport: &str) {
    common::init();
    let srv = TestServer::start(ServerOptions {
        session_timeout: Some(SERVER_SESSION_TIMEOUT),
        ..Default::default()
    })
    .expect("gst-rtsp-server (libgstrtspserver-1.0 from scripts/setup.sh)");
    let props = [("protocols", transport), ("do-rtsp-keep-alive", "false")];
    let cpu = cpu_over_window(&srv.url(), &props, SERVER_FROM, transport);
    assert!(
        cpu < MOST_CPU,
        "{transport}: {cpu:?} of CPU over {WINDOW:?} of gst-rtsp-server's stream, keep-alives off"
    );
    assert_eq!(srv.keepalives(), 0, "{transport}: keep-alives sent");
}

over_udp_and_tcp! {
    gst_rtsp_server_keepalives_off => super::gst_rtsp_server_keepalives_off;
}

over_udp_tcp_and_tls! {
    keepalives_off => super::keepalives_off;
    keepalives_unanswered => super::keepalives_unanswered;
}

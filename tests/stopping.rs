//! Stopping and pausing: a pipeline stops within 0.5 s whatever the camera or the name server do (a
//! camera silent mid-handshake too, over plain RTSP, TLS and an HTTP tunnel), and a pause of 30 s resumes
//! within a second with a keyframe, no stale backlog and no expired session.

mod common;

use common::fake_camera::{FakeCamera, Script};
use common::{record_clean, record_with_actions, Action};
use gst::prelude::*;
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

const STOP_WITHIN: Duration = Duration::from_millis(500);

fn stops_when_teardown_is_never_answered(protocols: &str) {
    let _pauses = pauses_beside();
    let cam = FakeCamera::start(Script {
        ignore_teardown: true,
        ..Default::default()
    });
    let rec = record_clean(
        &cam.url(),
        Duration::from_secs(2),
        &[("protocols", &protocols)],
    );
    assert!(!rec.frames.is_empty());
    assert!(cam.shared.count("TEARDOWN") >= 1, "{protocols}");
    assert!(
        rec.stop_took <= STOP_WITHIN,
        "{protocols}: set_state(NULL) took {:?}",
        rec.stop_took
    );
}

#[test]
fn stops_while_the_host_name_is_being_looked_up() {
    let _pauses = pauses_beside();
    // `.invalid` never resolves; where the resolver hangs (no network), the lookup must not hold up the
    // state change; where it fails at once, the element posts an error and stops all the same.
    common::init();
    let pipeline =
        gst::parse::launch("rustrtspsrc location=rtsp://camera.invalid/stream ! fakesink").unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(start.elapsed() <= STOP_WITHIN, "took {:?}", start.elapsed());
}

fn stops_while_the_camera_says_nothing(protocols: &str) {
    let _pauses = pauses_beside();
    // A port that accepts and never answers: not the RTSP reply, not the TLS handshake (our
    // ClientHello waits unanswered), not the HTTP tunnel's reply.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let conns: Vec<_> = listener.incoming().take(2).collect();
        std::thread::sleep(Duration::from_secs(3));
        drop(conns);
    });
    common::init();
    for scheme in ["rtsp", "rtsps", "rtsph"] {
        let pipeline = gst::parse::launch(&format!(
            "rustrtspsrc location={scheme}://127.0.0.1:{port}/stream protocols={protocols} ! fakesink"
        ))
        .unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let start = Instant::now();
        pipeline.set_state(gst::State::Null).unwrap();
        assert!(
            start.elapsed() <= STOP_WITHIN,
            "{scheme}, {protocols}: took {:?}",
            start.elapsed()
        );
    }
    drop(held);
}

fn pause_for_30s_and_resume(protocols: &str) {
    let _pauses = pauses_beside();
    // A camera with a 5 s session: without keep-alives during the pause it would expire.
    let cam = FakeCamera::start(Script {
        session_timeout: Some(5),
        ..Default::default()
    });
    let resumed = std::sync::Arc::new(std::sync::Mutex::new(None));
    let r = resumed.clone();
    let actions: Vec<Action> = vec![
        (
            Duration::from_secs(2),
            Box::new(|p: &gst::Pipeline| {
                p.set_state(gst::State::Paused).unwrap();
            }),
        ),
        (
            Duration::from_secs(32),
            Box::new(move |p: &gst::Pipeline| {
                p.set_state(gst::State::Playing).unwrap();
                *r.lock().unwrap() = Some(Instant::now());
            }),
        ),
    ];
    let rec = record_with_actions(
        &cam.url(),
        Duration::from_secs(35),
        &[("protocols", &protocols)],
        actions,
    );
    assert!(rec.errors.is_empty(), "{protocols}: {:?}", rec.errors);
    assert_eq!(
        cam.shared.expiries.load(SeqCst),
        0,
        "{protocols}: session expired"
    );
    let resumed = resumed.lock().unwrap().unwrap();
    let after: Vec<&common::Frame> = rec.frames.iter().filter(|f| f.at >= resumed).collect();
    // The sink hands over the buffer it held while paused first; then the new session's.
    let new_session = after
        .iter()
        .position(|f| f.flags.contains(gst::BufferFlags::DISCONT))
        .expect("a DISCONT buffer after resuming");
    assert!(
        new_session <= 1,
        "{protocols}: {new_session} stale buffers first"
    );
    let first = after[new_session];
    assert!(
        first.at - resumed <= Duration::from_secs(1),
        "{protocols}: first frame {:?} after PLAYING",
        first.at - resumed
    );
    assert!(
        !first.flags.contains(gst::BufferFlags::DELTA_UNIT),
        "{protocols}"
    );
    // No stale backlog: at most the camera's 30 fps (and a little) in the 3 s after resuming.
    assert!(
        after.len() <= 3 * 30 + 10,
        "{protocols}: {} frames",
        after.len()
    );
    assert!(after.len() >= 2 * 30, "{protocols}: {} frames", after.len());
    rec.assert_plays();
}

/// Every element leaving PLAYING starts a pause thread, and a test counts them across the process:
/// the tests here pause side by side, except the one that counts, which runs alone.
static PAUSES: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn pauses_beside() -> std::sync::RwLockReadGuard<'static, ()> {
    PAUSES
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn pauses_alone() -> std::sync::RwLockWriteGuard<'static, ()> {
    PAUSES
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Threads of this process whose name starts with `prefix` (Linux truncates names to 15 bytes).
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(prefix))
        .count()
}

/// Pausing a pipeline whose camera went silent: the state change does not wait for the streaming
/// thread blocked on the camera (basesrc's unlock wakes it), and the session ends at once (TEARDOWN),
/// not at the stall timeout. Pausing and playing ten times in a row leaves no pile of threads behind.
fn pausing_a_silent_camera(protocols: &str) {
    let _pauses = pauses_alone();
    let cam = FakeCamera::start(Script {
        stall_after: Some(60),
        ..Default::default()
    });
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let (s1, s2, shared) = (seen.clone(), seen.clone(), cam.shared.clone());
    let actions: Vec<Action> = vec![
        (
            // The camera is silent by then (60 packets: under a second).
            Duration::from_secs(2),
            Box::new(move |p: &gst::Pipeline| {
                let start = Instant::now();
                for _ in 0..10 {
                    p.set_state(gst::State::Paused).unwrap();
                    p.set_state(gst::State::Playing).unwrap();
                }
                p.set_state(gst::State::Paused).unwrap();
                let took = start.elapsed();
                *s1.lock().unwrap() = Some((took, threads_named("rustrtspsrc-pau"), 0));
            }),
        ),
        (
            Duration::from_millis(3500),
            Box::new(move |_: &gst::Pipeline| {
                if let Some(s) = s2.lock().unwrap().as_mut() {
                    s.2 = shared.count("TEARDOWN");
                }
            }),
        ),
    ];
    let rec = record_with_actions(
        &cam.url(),
        Duration::from_secs(4),
        &[("protocols", &protocols), ("stall-timeout", &30u32)],
        actions,
    );
    assert!(!rec.frames.is_empty(), "{protocols}");
    let (took, threads, teardowns) = seen.lock().unwrap().expect("the pauses ran");
    assert!(
        took < STOP_WITHIN,
        "{protocols}: 21 state changes took {took:?}"
    );
    assert!(threads <= 1, "{protocols}: {threads} pause threads");
    assert!(
        teardowns >= 1,
        "{protocols}: no TEARDOWN 1.5 s after the pause"
    );
}

over_udp_and_tcp! {
    pausing_a_silent_camera => super::pausing_a_silent_camera;
    stops_when_teardown_is_never_answered => super::stops_when_teardown_is_never_answered;
    pause_for_30s_and_resume => super::pause_for_30s_and_resume;
    stops_while_the_camera_says_nothing => super::stops_while_the_camera_says_nothing;
}

//! A camera whose TCP uses Nagle's algorithm (it sets no TCP_NODELAY) sends a picture's short last
//! segment only once everything before it is acknowledged. Linux delays an acknowledgement up to 40 ms
//! when what was read was a full-sized segment, and after any read while the connection is in its
//! interactive mode, which the RTSP exchange leaves it in. Pictures whose end waited on such an
//! acknowledgement came out 15-40 ms late: with acknowledgements forced after writes only, 17 of 209
//! here over TCP and 18 of 209 over TLS; with none forced, 80 of 209 and 90 of 208 from a smaller camera
//! (640x360, 1.5 Mbit/s), and 38 of 209 through an HTTP tunnel. The element now has every read and write acknowledged at once (`ack_promptly`
//! in `net/rtsp_connection.rs`).
//!
//! Timings of a real camera: 720p30 at 4 Mbit/s in 1400-byte packets over Ethernet-sized segments, each
//! picture's packets paced at twice the stream's rate as traffic-shaping cameras send them. Over UDP the
//! same bound holds, as it always did; through an HTTP tunnel (`rtsph://`) it holds as over TCP.

mod common;

use common::decode;
use common::fake_camera::{encode, FakeCamera, Script};
use common::latency::by_camera_time;
use common::reach::Reach;
use std::sync::OnceLock;
use std::time::Duration;

/// A frame later than this after its last packet left the camera was held back; the element itself
/// takes a fraction of a millisecond.
const HELD: f64 = 15.0;

fn clip() -> &'static [Vec<u8>] {
    static CLIP: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CLIP.get_or_init(|| encode(1280, 720, 4000, 60, 1400, "snow"))
}

fn pictures_are_not_held_for_acknowledgements(transport: &str) {
    let script = Script {
        log_frames: true,
        onvif_ntp: true,
        ethernet_segments: true,
        pace_bps: Some(8_000_000),
        ..Default::default()
    };
    let cam = FakeCamera::start_with(script, clip());
    let reach = Reach::new(&cam, transport);
    let rec = reach.record(Duration::from_secs(7), &[]);
    assert_eq!(rec.transport(), reach.transport());
    let sent = cam.shared.frames.lock().unwrap().clone();
    let ntp0 = cam.shared.frame_ntp.lock().unwrap()[0];
    let late = by_camera_time(&sent, rec.frames.iter().map(|f| (f.at, f.ntp)), ntp0);
    assert!(rec.frames.len() > 150, "{} frames", rec.frames.len());
    assert!(
        late.len() + 5 >= rec.frames.len(),
        "{} of {} frames paired with the camera's",
        late.len(),
        rec.frames.len()
    );
    let held: Vec<f64> = late.iter().copied().filter(|&ms| ms > HELD).collect();
    // A loaded machine may delay a frame or two; held acknowledgements delay a third or more.
    assert!(
        held.len() * 50 <= late.len(),
        "{} of {} frames came out more than {HELD} ms after their last packet: {held:.1?}",
        held.len(),
        late.len()
    );
    let (decoded, problems) = decode(&rec.annexb());
    assert!(
        decoded >= rec.frames.len() * 9 / 10,
        "decoded {decoded}: {problems:?}"
    );
}

/// Over every transport, and through an HTTP tunnel too: its GET connection is read as plain TCP is.
mod pictures_are_not_held_for_acknowledgements {
    crate::tests_per_transport!(super::pictures_are_not_held_for_acknowledgements; udp tcp tls http);
}

//! The least a receiver of RTSP over TCP can do, for `benches/veth_tcp.sh`: per stream, one thread that
//! sets the stream up (DESCRIBE, SETUP interleaved, PLAY), then only reads what arrives (a blocking read,
//! no poll), acknowledges it at once (TCP_QUICKACK, as the element's `ack_promptly`) and counts the
//! packets that end a picture. No depacketizing, no timestamps, no GStreamer. Requests, replies, SDP and
//! interleaved framing are the element's own (`rtsp::message`, `rtsp::sdp`). Its CPU beside rtspsrc's is
//! the lowest ratio any receiver that acknowledges a Nagle camera promptly can reach on that path.
//! Prints, ten times a second, the pictures all its streams have received so far, as bench-receiver does.
//!
//!     bench-tcp-floor [--no-quickack] [--gst] rtsp://10.213.0.2:8554/stream …   # one stream per URL
//!
//! `--gst` also pushes a GStreamer buffer per picture into fakesink (`floor/pictures.rs`): the least
//! possible GStreamer receiver.
//!
//! For the benches' own server only: no credentials, no keep-alive (the runs are shorter than its
//! 60 s session timeout).

#[path = "floor/rtsp.rs"]
mod rtsp;

fn main() {
    rtsp::run_interleaved("bench-tcp-floor", "rtsp://");
}

//! The least a receiver of RTSPS (RTP interleaved on the TLS connection) can do, for
//! `benches/compare.sh` (FLOOR=1, TLS rows): bench-tcp-floor over rustls, with the element's rustls
//! configuration (`net::tls`, ring, any certificate accepted: the bench server's is made at run time).
//! Per stream, one thread that sets the stream up (DESCRIBE, SETUP interleaved, PLAY), then only reads
//! and decrypts what arrives (a blocking read, no poll), acknowledges it at once (TCP_QUICKACK, as the
//! element's `ack_promptly`) and counts the packets that end a picture. No depacketizing, no
//! timestamps, no GStreamer. Prints, ten times a second, the pictures all its streams have received so
//! far, as bench-receiver does.
//!
//!     bench-tls-floor [--no-quickack] [--gst] rtsps://127.0.0.1:8555/stream …   # one stream per URL
//!
//! `--gst` also pushes a GStreamer buffer per picture into fakesink (`floor/pictures.rs`): the least
//! possible GStreamer receiver.
//!
//! For the benches' own server only: no credentials, no keep-alive (the runs are shorter than its
//! 60 s session timeout).

#[path = "floor/rtsp.rs"]
mod rtsp;

fn main() {
    rtsp::run_interleaved("bench-tls-floor", "rtsps://");
}

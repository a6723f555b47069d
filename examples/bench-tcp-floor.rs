//! The least a receiver of RTSP over TCP can do, for `benches/veth_tcp.sh`: per stream, one thread that
//! sets the stream up (DESCRIBE, SETUP interleaved, PLAY), then only reads what arrives (a blocking read,
//! no poll), acknowledges it at once (TCP_QUICKACK, as the element's `ack_promptly`) and counts the
//! packets that end a picture. No depacketizing, no timestamps, no GStreamer. Requests, replies, SDP and
//! interleaved framing are the element's own (`rtsp::message`, `rtsp::sdp`). Its CPU beside rtspsrc's is
//! the lowest ratio any receiver that acknowledges a Nagle camera promptly can reach on that path.
//! Prints, ten times a second, the pictures all its streams have received so far, as bench-receiver does.
//!
//!     bench-tcp-floor [--no-quickack] rtsp://10.213.0.2:8554/stream …   # one stream per URL
//!
//! For the benches' own server only: no credentials, no keep-alive (the runs are shorter than its
//! 60 s session timeout).

#[path = "floor/rtsp.rs"]
mod rtsp;

use gstrustrtsp::rtsp::headers::parse_transport;
use gstrustrtsp::rtsp::message::Message;
use rtsp::{bad, Connection};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

fn main() {
    let mut quickack = true;
    let mut urls = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--no-quickack" => quickack = false,
            _ => urls.push(arg),
        }
    }
    if urls.is_empty() {
        eprintln!("usage: bench-tcp-floor [--no-quickack] rtsp://host:port/path …");
        std::process::exit(2);
    }
    rtsp::run("bench-tcp-floor", urls, move |url, pictures| {
        receive(url, quickack, pictures)
    });
}

fn receive(url: &str, quickack: bool, pictures: &AtomicU64) -> io::Result<()> {
    let mut conn = Connection::open(url)?;
    let set_up = conn.play_video(url, "RTP/AVP/TCP;unicast;interleaved=0-1")?;
    let rtp_channel = set_up
        .headers
        .get("Transport")
        .and_then(|t| parse_transport(t).interleaved)
        .map_or(0, |(rtp, _)| rtp);

    // The same socket, for setsockopt while `conn` reads.
    let same = conn.stream.try_clone()?;
    let ack = socket2::SockRef::from(&same);
    loop {
        // Every whole message read so far; an RTP packet's marker bit ends a picture.
        let mut at = 0;
        while let Some((msg, used)) = conn
            .reader
            .next(&conn.buf[at..conn.len])
            .map_err(|e| bad(e.to_string()))?
        {
            if let Message::Data { channel, payload } = msg {
                // The RTP header's second byte, inside this packet only.
                let packet = &conn.buf[at + payload.start..at + payload.end];
                if channel == rtp_channel && packet.get(1).is_some_and(|b| b & 0x80 != 0) {
                    pictures.fetch_add(1, Ordering::Relaxed);
                }
            }
            at += used;
        }
        conn.consume(at);
        conn.read()?;
        if quickack {
            ack.set_quickack(true)?;
        }
    }
}

//! The least a receiver of RTSP over UDP can do, beside `bench-tcp-floor`: per stream, one thread that
//! sets the stream up (DESCRIBE, SETUP with a client port pair, PLAY, over the element's own RTSP
//! framing and SDP parsing), then only receives: a blocking recvmmsg(2) into one buffer of 64 slots,
//! returning as soon as one datagram came, and a count of the packets that end a picture. No poll, no
//! marker steering, no reorder window, no depacketizing, no GStreamer. Its CPU beside the element's and
//! rtspsrc's is the floor issue 28 measures UDP against. Prints, ten times a second, the pictures all
//! its streams have received so far, as bench-receiver does.
//!
//!     bench-udp-floor rtsp://127.0.0.1:8554/stream …   # one stream per URL
//!
//! For the benches' own server only: no credentials, no keep-alive, no RTCP (the runs are shorter than
//! its 60 s session timeout).

#[path = "floor/rtsp.rs"]
mod rtsp;

use rtsp::{bad, Connection};
use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};

/// Datagrams per recvmmsg, and the room for each (the bench server's packets are under 1500 bytes).
const SLOTS: usize = 64;
const SLOT: usize = 2048;

fn main() {
    let urls: Vec<String> = std::env::args().skip(1).collect();
    if urls.is_empty() {
        eprintln!("usage: bench-udp-floor rtsp://host:port/path …");
        std::process::exit(2);
    }
    rtsp::run("bench-udp-floor", urls, receive);
}

/// An even port for RTP and the odd one after it for RTCP (the RTCP socket is only held).
fn port_pair() -> io::Result<(UdpSocket, UdpSocket)> {
    for _ in 0..100 {
        let rtp = UdpSocket::bind("0.0.0.0:0")?;
        let port = rtp.local_addr()?.port();
        if port % 2 != 0 || port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = UdpSocket::bind(("0.0.0.0", port + 1)) {
            return Ok((rtp, rtcp));
        }
    }
    Err(bad("no free even/odd UDP port pair".into()))
}

fn receive(url: &str, pictures: &AtomicU64) -> io::Result<()> {
    let mut conn = Connection::open(url)?;
    let (rtp, _rtcp) = port_pair()?;
    let port = rtp.local_addr()?.port();
    conn.play_video(
        url,
        &format!("RTP/AVP;unicast;client_port={}-{}", port, port + 1),
    )?;

    // One buffer, SLOTS slots of SLOT bytes, and the headers recvmmsg fills.
    let mut buf = vec![0u8; SLOTS * SLOT].into_boxed_slice();
    let base = buf.as_mut_ptr();
    let mut iovecs: Vec<libc::iovec> = (0..SLOTS)
        .map(|i| libc::iovec {
            // SAFETY: i * SLOT is within `buf`, which is SLOTS * SLOT bytes long.
            iov_base: unsafe { base.add(i * SLOT) }.cast(),
            iov_len: SLOT,
        })
        .collect();
    // SAFETY: mmsghdr is plain data; all zeroes is a valid (empty) value.
    let mut msgs: Vec<libc::mmsghdr> = (0..SLOTS).map(|_| unsafe { std::mem::zeroed() }).collect();
    for (m, iov) in msgs.iter_mut().zip(iovecs.iter_mut()) {
        m.msg_hdr.msg_iov = iov;
        m.msg_hdr.msg_iovlen = 1;
    }
    loop {
        // SAFETY: `msgs` holds SLOTS headers, each pointing at its own iovec and slot of `buf`; all of
        // them live, unmoved and otherwise unborrowed for the call.
        let n = unsafe {
            libc::recvmmsg(
                rtp.as_raw_fd(),
                msgs.as_mut_ptr(),
                SLOTS as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for (i, m) in msgs.iter().enumerate().take(n as usize) {
            // The RTP header's second byte holds the marker bit.
            if m.msg_len >= 2 && buf[i * SLOT + 1] & 0x80 != 0 {
                pictures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

//! The least a receiver of RTSP over UDP can do, beside `bench-tcp-floor`: per stream, one thread that
//! sets the stream up (DESCRIBE, SETUP with a client port pair, PLAY, over the element's own RTSP
//! framing and SDP parsing), then only receives: a blocking recvmmsg(2) into one buffer of 64 slots,
//! returning as soon as one datagram came, and a count of the packets that end a picture. No poll, no
//! marker steering, no reorder window, no depacketizing, no GStreamer. Its CPU beside the element's and
//! rtspsrc's is the floor issue 28 measures UDP against. Prints, ten times a second, the pictures all
//! its streams have received so far, as bench-receiver does.
//!
//! `--audio` also sets up the first audio stream and reads its socket as the element does (issue 27):
//! without a wake-up of its own, a non-blocking recvmmsg each time the video's returns. What that adds
//! is the least the audio can cost a receiver that does not wake for it.
//!
//! `--gst` also pushes a GStreamer buffer per picture into fakesink (`floor/pictures.rs`): the least
//! possible GStreamer receiver.
//!
//!     bench-udp-floor [--audio] [--gst] rtsp://127.0.0.1:8554/stream …   # one stream per URL
//!
//! For the benches' own server only: no credentials, no keep-alive, no RTCP (the runs are shorter than
//! its 60 s session timeout).

#[path = "floor/rtsp.rs"]
mod rtsp;

use gstrustrtsp::stream::selection::{Choice, StreamChoice};
use rtsp::{bad, Connection, Pictures};
use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;

/// Datagrams per recvmmsg, and the room for each (the bench server's packets are under 1500 bytes).
const SLOTS: usize = 64;
const SLOT: usize = 2048;

fn main() {
    let ([audio, gst], urls) = rtsp::flags_and_urls(["--audio", "--gst"]);
    if urls.is_empty() {
        eprintln!("usage: bench-udp-floor [--audio] [--gst] rtsp://host:port/path …");
        std::process::exit(2);
    }
    rtsp::run("bench-udp-floor", urls, gst, move |url, pictures| {
        receive(url, audio, pictures)
    });
}

/// SLOTS headers over one buffer of SLOTS slots of SLOT bytes, for recvmmsg.
struct Batch {
    buf: Box<[u8]>,
    // Point into `buf` and into each other: kept together, never moved out.
    _iovecs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
}

impl Batch {
    fn new() -> Batch {
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
        let mut msgs: Vec<libc::mmsghdr> =
            (0..SLOTS).map(|_| unsafe { std::mem::zeroed() }).collect();
        for (m, iov) in msgs.iter_mut().zip(iovecs.iter_mut()) {
            m.msg_hdr.msg_iov = iov;
            m.msg_hdr.msg_iovlen = 1;
        }
        Batch {
            buf,
            _iovecs: iovecs,
            msgs,
        }
    }

    /// One recvmmsg on `socket` with `flags`: the datagrams read (0 when a non-blocking read finds
    /// none).
    fn read(&mut self, socket: &UdpSocket, flags: libc::c_int) -> io::Result<usize> {
        loop {
            // SAFETY: `msgs` holds SLOTS headers, each pointing at its own iovec and slot of `buf`;
            // all of them live, unmoved and otherwise unborrowed for the call.
            let n = unsafe {
                libc::recvmmsg(
                    socket.as_raw_fd(),
                    self.msgs.as_mut_ptr(),
                    SLOTS as libc::c_uint,
                    flags,
                    std::ptr::null_mut(),
                )
            };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => return Ok(0),
                _ => return Err(e),
            }
        }
    }

    /// The packets of the last read that end a picture (the RTP header's marker bit).
    fn picture_ends(&self, n: usize) -> u64 {
        let ends = self.msgs.iter().enumerate().take(n);
        ends.filter(|(i, m)| m.msg_len >= 2 && self.buf[i * SLOT + 1] & 0x80 != 0)
            .count() as u64
    }
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

fn receive(url: &str, audio: bool, pictures: &Pictures) -> io::Result<()> {
    let mut conn = Connection::open(url)?;
    let video = port_pair()?;
    let sound = match audio {
        true => Some(port_pair()?),
        false => None,
    };
    let ports = [Some(&video), sound.as_ref()].map(|p| p.and_then(|p| p.0.local_addr().ok()));
    let mut transport = |i: usize| {
        let port = ports.get(i).copied().flatten().map_or(0, |a| a.port());
        format!("RTP/AVP;unicast;client_port={}-{}", port, port + 1)
    };
    let choice = Choice {
        streams: match audio {
            true => StreamChoice::VideoAndAudio,
            false => StreamChoice::VideoOnly,
        },
        ..Choice::video_only(None)
    };
    let set_up = conn.play(url, &choice, &mut transport)?;
    if audio && set_up.len() < 2 {
        return Err(bad("--audio: the server offers no audio".into()));
    }
    let (mut batch, mut audio_batch) = (Batch::new(), Batch::new());
    loop {
        let n = batch.read(&video.0, libc::MSG_WAITFORONE)?;
        pictures.add(batch.picture_ends(n));
        if let Some((sound, _)) = &sound {
            audio_batch.read(sound, libc::MSG_DONTWAIT)?;
        }
    }
}

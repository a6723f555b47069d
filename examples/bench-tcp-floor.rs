//! The least a receiver of RTSP over TCP can do, for `benches/veth_tcp.sh`: per stream, one thread that
//! sets the stream up (DESCRIBE, SETUP interleaved, PLAY), then only reads what arrives (a blocking read,
//! no poll), acknowledges it at once (TCP_QUICKACK, as the element's `ack_promptly`) and counts the
//! packets that end a picture. No depacketizing, no timestamps, no GStreamer. Its CPU beside rtspsrc's is
//! the lowest ratio any receiver that acknowledges a Nagle camera promptly can reach on that path.
//! Prints, ten times a second, the pictures all its streams have received so far, as bench-receiver does.
//!
//!     bench-tcp-floor [--no-quickack] rtsp://10.213.0.2:8554/stream …   # one stream per URL
//!
//! For the benches' own server only: no credentials, no keep-alive (the runs are shorter than its
//! 60 s session timeout).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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
    let pictures = Arc::new(AtomicU64::new(0));
    for url in urls {
        let pictures = pictures.clone();
        std::thread::spawn(move || {
            if let Err(e) = receive(&url, quickack, &pictures) {
                eprintln!("bench-tcp-floor: {url}: {e}");
                std::process::exit(1);
            }
        });
    }
    loop {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{}", pictures.load(Ordering::Relaxed));
        let _ = out.flush();
    }
}

fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// One RTSP connection: its socket and what was read past the last reply.
struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
    len: usize,
    cseq: u32,
}

impl Connection {
    /// Sends a request and returns the reply's head and body.
    fn request(&mut self, line: &str, headers: &str) -> io::Result<(String, String)> {
        self.cseq += 1;
        let req = format!("{line} RTSP/1.0\r\nCSeq: {}\r\n{headers}\r\n", self.cseq);
        self.stream.write_all(req.as_bytes())?;
        loop {
            // The server may send media before the PLAY reply: whole interleaved packets are skipped.
            if self.len > 0 && self.buf[0] == b'$' {
                match interleaved_size(&self.buf[..self.len]) {
                    Some(size) if self.len >= size => {
                        self.buf.copy_within(size..self.len, 0);
                        self.len -= size;
                    }
                    _ => {
                        self.read()?;
                    }
                }
                continue;
            }
            if let Some(end) = self.buf[..self.len]
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
            {
                let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                let body_len: usize = header(&head, "content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let total = (end + 4).saturating_add(body_len);
                if self.len >= total {
                    let body = String::from_utf8_lossy(&self.buf[end + 4..total]).into_owned();
                    self.buf.copy_within(total..self.len, 0);
                    self.len -= total;
                    if !head.starts_with("RTSP/1.0 200") {
                        return Err(bad(format!(
                            "{line}: {}",
                            head.lines().next().unwrap_or("")
                        )));
                    }
                    return Ok((head, body));
                }
            }
            self.read()?;
        }
    }

    fn read(&mut self) -> io::Result<usize> {
        if self.len == self.buf.len() {
            return Err(bad("a message larger than the buffer".into()));
        }
        match self.stream.read(&mut self.buf[self.len..])? {
            0 => Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                self.len += n;
                Ok(n)
            }
        }
    }
}

/// An interleaved packet's length with its 4-byte header, once the header is there.
fn interleaved_size(b: &[u8]) -> Option<usize> {
    (b.len() >= 4).then(|| 4 + usize::from(u16::from_be_bytes([b[2], b[3]])))
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn receive(url: &str, quickack: bool, pictures: &AtomicU64) -> io::Result<()> {
    let rest = url
        .strip_prefix("rtsp://")
        .ok_or_else(|| bad("not an rtsp:// URL".into()))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let mut conn = Connection {
        stream: TcpStream::connect(authority)?,
        buf: vec![0; 64 * 1024],
        len: 0,
        cseq: 0,
    };
    let (_, sdp) = conn.request(&format!("DESCRIBE {url}"), "Accept: application/sdp\r\n")?;
    // The request URL, not Content-Base: behind the bench's forwarder the server names its own address.
    let base = url;
    let control = sdp
        .lines()
        .skip_while(|l| !l.starts_with("m=video"))
        .find_map(|l| l.strip_prefix("a=control:"))
        .ok_or_else(|| bad("no video control in the SDP".into()))?;
    let track = if control.starts_with("rtsp://") {
        control.to_string()
    } else {
        format!("{}/{control}", base.trim_end_matches('/'))
    };
    let (head, _) = conn.request(
        &format!("SETUP {track}"),
        "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n",
    )?;
    let session = header(&head, "session")
        .and_then(|s| s.split(';').next())
        .ok_or_else(|| bad("no Session in the SETUP reply".into()))?
        .to_string();
    conn.request(&format!("PLAY {base}"), &format!("Session: {session}\r\n"))?;

    // The same socket, for setsockopt while `conn` reads.
    let same = conn.stream.try_clone()?;
    let ack = socket2::SockRef::from(&same);
    loop {
        // Whole interleaved packets: `$`, channel, length, then an RTP packet on channel 0.
        let mut at = 0;
        while conn.len - at >= 4 {
            let b = &conn.buf[at..conn.len];
            if b[0] != b'$' {
                return Err(bad(
                    "something other than interleaved data after PLAY".into()
                ));
            }
            let size = interleaved_size(b).unwrap_or(usize::MAX);
            if b.len() < size {
                break;
            }
            if b[1] == 0 && size > 5 && b[5] & 0x80 != 0 {
                pictures.fetch_add(1, Ordering::Relaxed);
            }
            at += size;
        }
        conn.buf.copy_within(at..conn.len, 0);
        conn.len -= at;
        conn.read()?;
        if quickack {
            ack.set_quickack(true)?;
        }
    }
}

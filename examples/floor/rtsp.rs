//! What the floor receivers (`bench-tcp-floor`, `bench-udp-floor`, `bench-tls-floor`) share: the RTSP
//! connection that sets a stream up (over TLS for `rtsps://`, with the element's rustls configuration and
//! any certificate accepted), with the element's own framing (`rtsp::message`) and SDP parsing
//! (`rtsp::sdp`), so that replies, stray CR/LF and interleaved packets are told apart as the element
//! does; the interleaved receive loop of the TCP and TLS floors; and what each does per picture
//! (`pictures.rs`: count it, and with `--gst` push it into GStreamer).

// Each floor binary includes this file and uses a part of it (the UDP floor no interleaved loop).
#![allow(dead_code)]

use gstrustrtsp::rtsp::headers::parse_session;
use gstrustrtsp::rtsp::message::{Message, MessageReader, Method, Request, Response};
use gstrustrtsp::rtsp::sdp;
use gstrustrtsp::stream::selection::{select, Choice};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[path = "pictures.rs"]
mod pictures;
pub use pictures::Pictures;

/// Runs `receive` for each URL on a thread of its own, and prints ten times a second the pictures all
/// of them counted so far (as bench-receiver does); with `gst`, each thread also pushes a GStreamer
/// buffer per picture (`Pictures::pushing`). A stream that fails ends the program.
pub fn run(
    name: &str,
    urls: Vec<String>,
    gst: bool,
    receive: impl Fn(&str, &Pictures) -> io::Result<()> + Send + Sync + 'static,
) -> ! {
    if gst {
        gst::init().expect("GStreamer");
    }
    let receive = Arc::new(receive);
    let count = Arc::new(AtomicU64::new(0));
    for url in urls {
        let (count, receive, name) = (count.clone(), receive.clone(), name.to_string());
        std::thread::spawn(move || {
            let pictures = match gst {
                true => Pictures::pushing(count),
                false => Pictures::counting(count),
            };
            if let Err(e) = receive(&url, &pictures) {
                eprintln!("{name}: {url}: {e}");
                std::process::exit(1);
            }
        });
    }
    loop {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{}", count.load(Ordering::Relaxed));
        let _ = out.flush();
    }
}

/// The TCP and TLS floors' command line, `[--no-quickack] [--gst] URL …` with every URL of `scheme`
/// (`rtsp://`, `rtsps://`): runs `Connection::receive_interleaved` for each.
pub fn run_interleaved(name: &str, scheme: &str) -> ! {
    let ([no_quickack, gst], urls) = flags_and_urls(["--no-quickack", "--gst"]);
    let quickack = !no_quickack;
    if urls.is_empty() || urls.iter().any(|u| !u.starts_with(scheme)) {
        eprintln!("usage: {name} [--no-quickack] [--gst] {scheme}host:port/path …");
        std::process::exit(2);
    }
    run(name, urls, gst, move |url, pictures| {
        Connection::receive_interleaved(url, quickack, pictures)
    })
}

/// The command line: which of the `known` flags are on it, and the other arguments (the URLs).
pub fn flags_and_urls<const N: usize>(known: [&str; N]) -> ([bool; N], Vec<String>) {
    let (flags, urls): (Vec<String>, Vec<String>) = std::env::args()
        .skip(1)
        .partition(|a| known.contains(&a.as_str()));
    (known.map(|k| flags.iter().any(|f| f == k)), urls)
}

pub fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// A byte stream: the TCP socket, or rustls over it.
pub trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// One RTSP connection: its socket, what was read and not yet parsed, and the element's own framing
/// (`rtsp::message`), so that replies, stray CR/LF and interleaved packets are told apart as it does.
pub struct Connection {
    /// The TCP socket, for socket options; reads and writes go through `io`.
    pub tcp: TcpStream,
    io: Box<dyn Stream>,
    pub buf: Vec<u8>,
    pub len: usize,
    pub reader: MessageReader,
    pub cseq: u32,
}

impl Connection {
    /// The next whole message and its length, reading as needed; its bytes stay in `buf[..used]` until
    /// `consume`.
    pub fn next(&mut self) -> io::Result<(Message, usize)> {
        loop {
            match self.reader.next(&self.buf[..self.len]) {
                Ok(Some(m)) => return Ok(m),
                Ok(None) => self.read()?,
                Err(e) => return Err(bad(e.to_string())),
            };
        }
    }

    pub fn consume(&mut self, used: usize) {
        self.buf.copy_within(used..self.len, 0);
        self.len -= used;
    }

    pub fn read(&mut self) -> io::Result<()> {
        if self.len == self.buf.len() {
            return Err(bad("a message larger than the buffer".into()));
        }
        match self.io.read(&mut self.buf[self.len..])? {
            0 => Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                self.len += n;
                Ok(())
            }
        }
    }

    /// Sends a request and returns the reply, skipping media the server sends before it.
    pub fn request(&mut self, req: Request) -> io::Result<Response> {
        self.cseq += 1;
        let req = req.with_header("CSeq", self.cseq.to_string());
        self.io.write_all(&req.to_bytes())?;
        self.io.flush()?;
        loop {
            let (msg, used) = self.next()?;
            self.consume(used);
            match msg {
                Message::Response(r) if r.status == 200 => return Ok(r),
                Message::Response(r) => {
                    return Err(bad(format!("{}: {} {}", req.method, r.status, r.reason)))
                }
                _ => {}
            }
        }
    }
}

impl Connection {
    /// DESCRIBE, SETUP of the video with `transport`, PLAY: returns SETUP's reply.
    pub fn play_video(&mut self, url: &str, transport: &str) -> io::Result<Response> {
        let mut set_up = self.play(url, &Choice::video_only(None), &mut |_| {
            transport.to_string()
        })?;
        Ok(set_up.swap_remove(0))
    }

    /// DESCRIBE, a SETUP for each stream `choice` selects (the video first) with the transport
    /// `transport` gives for its place, one session, PLAY: returns the SETUPs' replies in that order.
    pub fn play(
        &mut self,
        url: &str,
        choice: &Choice,
        transport: &mut dyn FnMut(usize) -> String,
    ) -> io::Result<Vec<Response>> {
        let described = self.request(
            Request::new(Method::Describe, url).with_header("Accept", "application/sdp"),
        )?;
        // The request URL as the base, not Content-Base: behind the bench's forwarder the server
        // names its own address.
        let description = sdp::parse(&described.body, url).map_err(|e| bad(e.to_string()))?;
        let streams = select(&description, choice)
            .map_err(|e| bad(e.to_string()))?
            .streams;
        let mut session: Option<String> = None;
        let mut replies = Vec::new();
        for (i, stream) in streams.iter().enumerate() {
            let mut setup = Request::new(Method::Setup, stream.control.as_str())
                .with_header("Transport", transport(i));
            if let Some(id) = &session {
                setup = setup.with_header("Session", id.clone());
            }
            let reply = self.request(setup)?;
            if session.is_none() {
                let id = reply
                    .headers
                    .get("Session")
                    .and_then(parse_session)
                    .ok_or_else(|| bad("no Session in the SETUP reply".into()))?
                    .0;
                session = Some(id);
            }
            replies.push(reply);
        }
        let session = session.ok_or_else(|| bad("nothing to set up".into()))?;
        self.request(Request::new(Method::Play, url).with_header("Session", session))?;
        Ok(replies)
    }

    /// Connects to the server `url` names (`rtsp://host:port/…` or `rtsps://…`, no credentials); over
    /// TLS any certificate is accepted (the bench server's is made at run time).
    pub fn open(url: &str) -> io::Result<Connection> {
        let (tls, rest) = match (url.strip_prefix("rtsp://"), url.strip_prefix("rtsps://")) {
            (Some(rest), _) => (false, rest),
            (_, Some(rest)) => (true, rest),
            _ => return Err(bad("not an rtsp:// or rtsps:// URL".into())),
        };
        let authority = rest.split('/').next().unwrap_or(rest);
        let tcp = TcpStream::connect(authority)?;
        let io: Box<dyn Stream> = match tls {
            false => Box::new(tcp.try_clone()?),
            true => {
                let settings = gstrustrtsp::net::tls::TlsSettings {
                    validation_flags: 0,
                    ..Default::default()
                };
                let config = gstrustrtsp::net::tls::client_config(&settings).map_err(bad)?;
                let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
                let name = rustls::pki_types::ServerName::try_from(host.to_string())
                    .map_err(|e| bad(e.to_string()))?;
                let session =
                    rustls::ClientConnection::new(config, name).map_err(|e| bad(e.to_string()))?;
                Box::new(rustls::StreamOwned::new(session, tcp.try_clone()?))
            }
        };
        Ok(Connection {
            tcp,
            io,
            buf: vec![0; 64 * 1024],
            len: 0,
            reader: MessageReader::default(),
            cseq: 0,
        })
    }

    /// One stream of the TCP and TLS floors: DESCRIBE, SETUP interleaved, PLAY, then `count_pictures`.
    pub fn receive_interleaved(url: &str, quickack: bool, pictures: &Pictures) -> io::Result<()> {
        let mut conn = Connection::open(url)?;
        let set_up = conn.play_video(url, "RTP/AVP/TCP;unicast;interleaved=0-1")?;
        let rtp_channel = set_up
            .headers
            .get("Transport")
            .and_then(|t| gstrustrtsp::rtsp::headers::parse_transport(t).interleaved)
            .map_or(0, |(rtp, _)| rtp);
        conn.count_pictures(rtp_channel, quickack, pictures)
    }

    /// The interleaved receive loop of the TCP and TLS floors: after PLAY, only reads what arrives (a
    /// blocking read, no poll), acknowledges it at once (`quickack`, as the element's `ack_promptly`)
    /// and counts the packets on `rtp_channel` that end a picture.
    pub fn count_pictures(
        &mut self,
        rtp_channel: u8,
        quickack: bool,
        pictures: &Pictures,
    ) -> io::Result<()> {
        let same = self.tcp.try_clone()?;
        let ack = socket2::SockRef::from(&same);
        loop {
            // Every whole message read so far; an RTP packet's marker bit ends a picture.
            let mut at = 0;
            while let Some((msg, used)) = self
                .reader
                .next(&self.buf[at..self.len])
                .map_err(|e| bad(e.to_string()))?
            {
                if let Message::Data { channel, payload } = msg {
                    // The RTP header's second byte, inside this packet only.
                    let packet = &self.buf[at + payload.start..at + payload.end];
                    if channel == rtp_channel && packet.get(1).is_some_and(|b| b & 0x80 != 0) {
                        pictures.add(1);
                    }
                }
                at += used;
            }
            self.consume(at);
            self.read()?;
            if quickack {
                ack.set_quickack(true)?;
            }
        }
    }
}

//! The RTSP connection as a byte stream: requests go out, replies and interleaved `$` frames come in,
//! read into one bounded buffer and parsed incrementally (`MessageReader`). Interleaved payloads are
//! handed out as slices of that buffer: RTP over TCP is never copied before the access unit.
//!
//! The stream is plain TCP, TLS (RTSPS), or an HTTP tunnel (`rtsph://`, over TLS `rtsphs://`: replies
//! read from a GET connection after its HTTP head, requests written base64 on a POST connection; see
//! `http_tunnel.rs` and `tunnel_post.rs`). TLS runs on the same socket from the receive loop: each time
//! the socket is readable, one read feeds rustls and its plaintext is taken into the buffer; handshake
//! messages go out as rustls produces them. No thread, and no blocking handshake: a state change or
//! `unlock` never waits for a camera that stopped answering mid-handshake.

use super::client_error::ClientError;
use super::connect::connect;
use super::epoll::{wait_one, Waited, Waker};
use super::http_tunnel;
use super::tls;
use super::tunnel_post::TunnelPost;
use crate::rtsp::message::{Message, MessageReader, ParseError, MAX_BODY_BYTES, MAX_HEADER_BYTES};
use crate::rtsp::url::RtspUrl;
use std::io::{self, Read, Write};
use std::net::{IpAddr, TcpStream};
use std::ops::Range;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes asked for per read.
const READ_SIZE: usize = 64 * 1024;

pub struct RtspConnection {
    stream: TcpStream,
    /// RTSPS: the TLS session over `stream`.
    tls: Option<Box<rustls::ClientConnection>>,
    /// HTTP tunnel: `stream` is the GET connection; requests go on this POST one.
    post: Option<TunnelPost>,
    /// The GET reply's HTTP head has not been read past yet.
    http_head_pending: bool,
    /// The certificate fingerprint was logged (once per connection, when the handshake completes).
    tls_announced: bool,
    /// TLS records read from the socket and not yet given to rustls: one large read per wake-up
    /// (rustls' own reads from a socket take 4 KiB at a time).
    tls_in: Vec<u8>,
    tls_in_range: Range<usize>,
    /// Stays zeroed past `len`: growing only when a message needs more room avoids clearing 64 KiB
    /// before every read.
    buf: Vec<u8>,
    len: usize,
    /// Start of the bytes not yet parsed.
    pos: usize,
    reader: MessageReader,
    /// SO_RCVLOWAT as last set (`session_client/tcp_wake.rs`).
    wake_threshold: usize,
    log: crate::log::Log,
}

impl RtspConnection {
    /// Connects to the camera `url` names, the way its scheme says: plain, TLS with `tls`, or an HTTP
    /// tunnel. Returns fast on refusal; gives way when the waker fires.
    pub fn open(
        url: &RtspUrl,
        tls: Option<Arc<rustls::ClientConfig>>,
        user_agent: &str,
        waker: &Waker,
        log: &crate::log::Log,
    ) -> Result<Self, ClientError> {
        let (host, port) = (url.host.clone(), url.port);
        let tcp = || {
            connect(&host, port, waker).map_err(|error| match error.kind() {
                io::ErrorKind::Interrupted => ClientError::Flushing,
                _ => ClientError::Connect {
                    host: host.clone(),
                    port,
                    error,
                },
            })
        };
        let setup_err = |e| ClientError::Io("socket setup".into(), e);
        let tls_session = |config: &Arc<rustls::ClientConfig>| {
            let tls_err = |e: &dyn std::fmt::Display| ClientError::Tls {
                certificate: false,
                message: format!("cannot start TLS with {host}: {e}"),
            };
            let name =
                rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| tls_err(&e))?;
            rustls::ClientConnection::new(config.clone(), name).map_err(|e| tls_err(&e))
        };
        let stream = tcp()?;
        let session = tls.as_ref().map(tls_session).transpose()?;
        let mut conn = Self::new(stream, session, log.clone()).map_err(setup_err)?;
        if url.http_tunnel {
            let mut target = match url.url.path() {
                "" => "/".to_string(),
                p => p.to_string(),
            };
            if let Some(q) = url.url.query() {
                target = format!("{target}?{q}");
            }
            let host_header = format!("{host}:{port}");
            let cookie = http_tunnel::session_cookie();
            let get = http_tunnel::get_request(&target, &host_header, &cookie, user_agent);
            conn.write_direct(get.as_bytes()).map_err(setup_err)?;
            conn.http_head_pending = true;
            conn.await_tunnel_head(waker)?;
            let post_session = tls.as_ref().map(tls_session).transpose()?;
            let post = http_tunnel::post_request(&target, &host_header, &cookie, user_agent);
            conn.post = Some(TunnelPost::open(
                tcp()?,
                post_session,
                &post,
                waker,
                http_tunnel::GET_REPLY_TIMEOUT,
            )?);
        }
        Ok(conn)
    }

    /// HTTP tunnel: reads the GET connection until its reply head is whole (the bytes after it stay
    /// buffered), at most `GET_REPLY_TIMEOUT`; the POST may only go out then.
    fn await_tunnel_head(&mut self, waker: &Waker) -> Result<(), ClientError> {
        let deadline = Instant::now() + http_tunnel::GET_REPLY_TIMEOUT;
        while self.http_head_pending {
            if !self.pending() {
                let left = deadline.saturating_duration_since(Instant::now());
                match wait_one(Some(self.fd()), false, Some(waker), Some(left))
                    .map_err(|e| ClientError::Io("epoll".into(), e))?
                {
                    Waited::Woken => return Err(ClientError::Flushing),
                    Waited::TimedOut => {
                        return Err(ClientError::Tunnel(http_tunnel::TunnelError::Silent))
                    }
                    Waited::Ready => {}
                }
            }
            self.fill()?;
        }
        Ok(())
    }

    pub fn new(
        stream: TcpStream,
        tls: Option<rustls::ClientConnection>,
        log: crate::log::Log,
    ) -> io::Result<Self> {
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(super::connect::CONNECT_TIMEOUT))?;
        let mut conn = RtspConnection {
            stream,
            tls_in: if tls.is_some() {
                vec![0; READ_SIZE]
            } else {
                Vec::new()
            },
            tls_in_range: 0..0,
            tls: tls.map(Box::new),
            post: None,
            http_head_pending: false,
            tls_announced: false,
            buf: vec![0; READ_SIZE * 2],
            len: 0,
            pos: 0,
            reader: MessageReader::default(),
            wake_threshold: 1,
            log,
        };
        conn.flush_tls()?;
        Ok(conn)
    }

    pub fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    pub fn peer_ip(&self) -> io::Result<IpAddr> {
        Ok(self.stream.peer_addr()?.ip())
    }

    /// The POST connection of an HTTP tunnel, to watch with `check_post`.
    pub fn post_fd(&self) -> Option<RawFd> {
        self.post.as_ref().map(TunnelPost::fd)
    }

    /// The tunnel's POST connection became readable: the server refused or closed it.
    pub fn check_post(&mut self) -> Result<(), ClientError> {
        self.post.as_mut().map_or(Ok(()), TunnelPost::check)
    }

    /// Sends a request: on the tunnel's POST connection if there is one.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.post {
            Some(post) => post.send(bytes),
            None => self.write_direct(bytes),
        }
    }

    /// Sends on the connection read from (TLS or not).
    fn write_direct(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.tls {
            None => (&self.stream).write_all(bytes)?,
            // Held by rustls until the handshake is done, then sent by `flush_tls`.
            Some(tls) => {
                tls.writer().write_all(bytes)?;
                self.flush_tls()?;
            }
        }
        ack_promptly(&self.stream, &self.log);
        Ok(())
    }

    /// Sends what rustls has to send: handshake messages, alerts, encrypted requests.
    fn flush_tls(&mut self) -> io::Result<()> {
        if let Some(tls) = &mut self.tls {
            while tls.wants_write() {
                tls.write_tls(&mut self.stream)?;
            }
        }
        Ok(())
    }

    /// Reads what the socket holds. `Ok(false)`: nothing to read now.
    pub fn fill(&mut self) -> Result<bool, ClientError> {
        if self.buf.len() - self.len < READ_SIZE {
            self.compact();
            let want = self.len + READ_SIZE;
            if want > MAX_HEADER_BYTES + MAX_BODY_BYTES + READ_SIZE {
                return Err(ClientError::Parse(ParseError::HeaderTooLarge));
            }
            if self.buf.len() < want {
                self.buf.resize(want, 0);
            }
        }
        let read = if self.tls.is_some() {
            self.fill_tls()?
        } else {
            match self.stream.read(&mut self.buf[self.len..]) {
                Ok(0) => return Err(ClientError::Closed),
                Ok(n) => {
                    self.len += n;
                    ack_promptly(&self.stream, &self.log);
                    true
                }
                Err(e) if would_block(&e) => false,
                Err(e) => return Err(ClientError::Io("reading from the camera".into(), e)),
            }
        };
        Ok(read && self.skip_http_head()?)
    }

    /// HTTP tunnel: the GET reply's head comes before anything RTSP; `Ok(false)` until it is whole.
    fn skip_http_head(&mut self) -> Result<bool, ClientError> {
        if !self.http_head_pending {
            return Ok(true);
        }
        match http_tunnel::reply_head(&self.buf[self.pos..self.len]) {
            Ok(Some(head)) => {
                self.pos += head;
                self.http_head_pending = false;
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) => Err(ClientError::Tunnel(e)),
        }
    }

    /// TLS: plaintext rustls already holds, else the records read before, else one read from the socket.
    fn fill_tls(&mut self) -> Result<bool, ClientError> {
        let io_err = |e| ClientError::Io("reading from the camera".into(), e);
        let mut read_socket = false;
        loop {
            let tls = self.tls.as_mut().expect("a TLS connection");
            match tls.reader().read(&mut self.buf[self.len..]) {
                Ok(0) => return Err(ClientError::Closed),
                Ok(n) => {
                    self.len += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(ClientError::Closed)
                }
                Err(e) => return Err(io_err(e)),
            }
            if self.tls_in_range.is_empty() {
                if read_socket {
                    return Ok(false);
                }
                read_socket = true;
                match self.stream.read(&mut self.tls_in) {
                    Ok(0) => return Err(ClientError::Closed),
                    Ok(n) => {
                        self.tls_in_range = 0..n;
                        ack_promptly(&self.stream, &self.log);
                    }
                    Err(e) if would_block(&e) => return Ok(false),
                    Err(e) => return Err(io_err(e)),
                }
            }
            let mut records = &self.tls_in[self.tls_in_range.clone()];
            let taken = tls.read_tls(&mut records).map_err(io_err)?;
            self.tls_in_range.start += taken;
            if let Err(e) = tls.process_new_packets() {
                // Tell the camera why (a bad certificate alert) before the connection closes.
                let _ = self.flush_tls();
                let (certificate, message) = tls::describe(&e);
                return Err(ClientError::Tls {
                    certificate,
                    message,
                });
            }
            self.flush_tls()
                .map_err(|e| ClientError::Io("sending to the camera".into(), e))?;
            self.announce_tls();
        }
    }

    /// Once per connection, when the handshake is done: the certificate's fingerprint, so that a user
    /// can pin it.
    fn announce_tls(&mut self) {
        let Some(tls) = self.tls.as_ref().filter(|t| !t.is_handshaking()) else {
            return;
        };
        if std::mem::replace(&mut self.tls_announced, true) {
            return;
        }
        let fingerprint = tls
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| tls::fingerprint(c))
            .unwrap_or_default();
        crate::log!(
            self.log,
            Info,
            "TLS ({:?}) with the camera, whose certificate's SHA-256 is {} (tls-certificate-sha256 accepts exactly it)",
            tls.protocol_version(),
            fingerprint
        );
    }

    /// Whether TLS records or decrypted bytes wait in the TLS layer: read again without waiting for the
    /// socket.
    pub fn pending(&mut self) -> bool {
        let staged = !self.tls_in_range.is_empty();
        self.tls.as_mut().is_some_and(|t| {
            staged
                || t.process_new_packets()
                    .is_ok_and(|s| s.plaintext_bytes_to_read() > 0)
        })
    }

    /// The next complete message, with the offset its `Data` payload range is relative to.
    pub fn next_message(&mut self) -> Result<Option<(Message, usize)>, ParseError> {
        let at = self.pos;
        match self.reader.next(&self.buf[at..self.len])? {
            Some((msg, used)) => {
                self.pos += used;
                Ok(Some((msg, at)))
            }
            None => Ok(None),
        }
    }

    /// Bytes of the buffer, for a `Data` payload: `at + payload`.
    pub fn bytes(&self, range: Range<usize>) -> &[u8] {
        &self.buf[range]
    }

    /// Moves the unparsed bytes to the front of the buffer.
    pub fn compact(&mut self) {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.len, 0);
            self.len -= self.pos;
            self.pos = 0;
        }
    }

    /// Bytes read and not yet a whole message (a packet's first part).
    pub fn holds_partial(&self) -> bool {
        self.pos < self.len || !self.tls_in_range.is_empty()
    }

    /// How many bytes in the socket make it readable (SO_RCVLOWAT; 1 by default).
    pub fn set_wake_threshold(&mut self, bytes: usize) -> io::Result<()> {
        if bytes == self.wake_threshold {
            return Ok(());
        }
        let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        // SAFETY: `value` is a c_int alive for the call, and its size is what is passed.
        let rc = unsafe {
            libc::setsockopt(
                self.stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVLOWAT,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        self.wake_threshold = bytes;
        Ok(())
    }

    /// Waits up to `limit` for any reply (TEARDOWN's), skipping interleaved data; what it reads is
    /// dropped, the connection being about to close.
    pub fn await_reply(&mut self, limit: Duration) {
        // A reply is short: any byte wakes the wait.
        let _ = self.set_wake_threshold(1);
        let deadline = Instant::now() + limit;
        self.pos = self.len;
        self.compact();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if !self.pending()
                && !matches!(
                    wait_one(Some(self.fd()), false, None, Some(left)),
                    Ok(Waited::Ready)
                )
            {
                return;
            }
            let before = self.len.saturating_sub(4);
            match self.fill() {
                Ok(true) if self.buf[before..self.len].windows(5).any(|w| w == b"RTSP/") => return,
                Ok(_) => {}
                Err(_) => return,
            }
            // Keep the buffer small: only a reply's start is looked for.
            if self.len > READ_SIZE {
                self.pos = self.len - 4;
                self.compact();
            }
        }
    }

    /// Sending may block this long at most from now on (TEARDOWN to a camera that stopped reading).
    pub fn limit_writes(&self, limit: Duration) {
        let _ = self.stream.set_write_timeout(Some(limit));
        if let Some(post) = &self.post {
            post.limit_writes(limit);
        }
    }
}

/// Has what was read acknowledged now (TCP_QUICKACK), after every read and write.
///
/// A camera whose TCP uses Nagle's algorithm (it sets no TCP_NODELAY) sends a picture's short last
/// segment only once everything before it is acknowledged. Linux delays that acknowledgement by up to
/// 40 ms when the data read was a full-sized segment, and after any read while the connection is in its
/// interactive mode, which the RTSP exchange puts it in (a request written soon after each reply). Up to a
/// third of the pictures came out 15-40 ms late in the tests (`tests/tcp_acks.rs`). Not sticky, the option
/// is set after each read; it sends an acknowledgement only when one is owed.
fn ack_promptly(stream: &TcpStream, log: &crate::log::Log) {
    if let Err(e) = socket2::SockRef::from(stream).set_quickack(true) {
        // Only latency is at stake: go on.
        crate::log!(log, Debug, "TCP_QUICKACK refused: {}", e);
    }
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

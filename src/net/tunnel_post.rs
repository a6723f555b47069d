//! The POST half of an HTTP tunnel (`rtsph://`, `rtsphs://` over TLS): our requests go on it base64
//! encoded, and the server never answers on it. It is opened only once the GET connection's reply head
//! has come (`RtspConnection::open`): live555 ties a POST to a GET it has already read, and drops a
//! POST whose cookie it does not know yet, as rtspsrc and FFmpeg found before us.
//!
//! Anything the server sends on it, or its closing it, means the tunnel is broken (a POST live555 did
//! not pair answers 405 and closes): that is a connection error, so the session reconnects instead of
//! waiting for replies to requests the server never read.

use super::client_error::ClientError;
use super::epoll::{wait_one, Waited, Waker};
use super::http_tunnel::{self, TunnelError};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

pub struct TunnelPost {
    stream: TcpStream,
    /// `rtsphs://`: the POST connection's own TLS session.
    tls: Option<Box<rustls::ClientConnection>>,
}

impl TunnelPost {
    /// Sends the POST request head on `stream` (after the TLS handshake with `tls`, which waits at most
    /// `limit` and gives way to the waker).
    pub fn open(
        stream: TcpStream,
        tls: Option<rustls::ClientConnection>,
        head: &str,
        waker: &Waker,
        limit: Duration,
    ) -> Result<Self, ClientError> {
        let io_err = |e| ClientError::Io("opening the HTTP tunnel's POST connection".into(), e);
        stream.set_nodelay(true).map_err(io_err)?;
        stream
            .set_write_timeout(Some(super::connect::CONNECT_TIMEOUT))
            .map_err(io_err)?;
        let mut post = TunnelPost {
            stream,
            tls: tls.map(Box::new),
        };
        post.handshake(waker, limit)?;
        post.send_raw(head.as_bytes()).map_err(io_err)?;
        Ok(post)
    }

    /// TLS: runs the handshake to its end, reading only when the socket is readable.
    fn handshake(&mut self, waker: &Waker, limit: Duration) -> Result<(), ClientError> {
        let deadline = Instant::now() + limit;
        let io_err = |e| ClientError::Io("TLS on the HTTP tunnel's POST connection".into(), e);
        let Some(tls) = self.tls.as_mut() else {
            return Ok(());
        };
        loop {
            while tls.wants_write() {
                tls.write_tls(&mut self.stream).map_err(io_err)?;
            }
            if !tls.is_handshaking() {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match wait_one(
                Some(self.stream.as_raw_fd()),
                false,
                Some(waker),
                Some(left),
            )
            .map_err(io_err)?
            {
                Waited::Woken => return Err(ClientError::Flushing),
                Waited::TimedOut => return Err(ClientError::Tunnel(TunnelError::Silent)),
                Waited::Ready => {}
            }
            if tls.read_tls(&mut self.stream).map_err(io_err)? == 0 {
                return Err(ClientError::Tunnel(TunnelError::PostClosed(String::new())));
            }
            if let Err(e) = tls.process_new_packets() {
                let _ = tls.write_tls(&mut self.stream);
                let (certificate, message) = super::tls::describe(&e);
                return Err(ClientError::Tls {
                    certificate,
                    message,
                });
            }
        }
    }

    /// One RTSP request, base64 encoded as the tunnel carries it.
    pub fn send(&mut self, request: &[u8]) -> io::Result<()> {
        self.send_raw(http_tunnel::encode(request).as_bytes())
    }

    fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.tls {
            None => (&self.stream).write_all(bytes),
            Some(tls) => {
                tls.writer().write_all(bytes)?;
                while tls.wants_write() {
                    tls.write_tls(&mut self.stream)?;
                }
                Ok(())
            }
        }
    }

    pub fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    /// The POST connection became readable: the server said something or closed it, either way the
    /// tunnel no longer carries our requests. Only TLS housekeeping (session tickets) is not an error.
    pub fn check(&mut self) -> Result<(), ClientError> {
        let mut said = [0u8; 256];
        let closed = |said: &[u8]| {
            let line = said
                .split(|&b| b == b'\r' || b == b'\n')
                .next()
                .unwrap_or_default();
            ClientError::Tunnel(TunnelError::PostClosed(crate::au::cut(
                &String::from_utf8_lossy(line),
            )))
        };
        let io_err = |e| ClientError::Io("the HTTP tunnel's POST connection".into(), e);
        let Some(tls) = self.tls.as_mut() else {
            return match (&self.stream).read(&mut said) {
                Ok(n) => Err(closed(&said[..n])),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
                Err(e) => Err(io_err(e)),
            };
        };
        if tls.read_tls(&mut self.stream).map_err(io_err)? == 0 {
            return Err(closed(&[]));
        }
        tls.process_new_packets()
            .map_err(|e| io_err(io::Error::other(e)))?;
        match tls.reader().read(&mut said) {
            Ok(n) => Err(closed(&said[..n])),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(_) => Err(closed(&[])),
        }
    }

    /// Sending may block this long at most from now on.
    pub fn limit_writes(&self, limit: Duration) {
        let _ = self.stream.set_write_timeout(Some(limit));
    }
}

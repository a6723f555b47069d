//! The RTSP connection as a byte stream: requests go out, replies and interleaved `$` frames come in,
//! read into one bounded buffer and parsed incrementally (`MessageReader`). Interleaved payloads are
//! handed out as slices of that buffer: RTP over TCP is never copied before the access unit.

use super::client_error::ClientError;
use super::epoll::{wait_one, Waited};
use crate::rtsp::message::{Message, MessageReader, ParseError, MAX_BODY_BYTES, MAX_HEADER_BYTES};
use std::io::{self, Read, Write};
use std::net::{IpAddr, TcpStream};
use std::ops::Range;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

/// Bytes asked for per read.
const READ_SIZE: usize = 64 * 1024;

pub struct RtspConnection {
    stream: TcpStream,
    /// Stays zeroed past `len`: growing only when a message needs more room avoids clearing 64 KiB
    /// before every read.
    buf: Vec<u8>,
    len: usize,
    /// Start of the bytes not yet parsed.
    pos: usize,
    reader: MessageReader,
}

impl RtspConnection {
    pub fn new(stream: TcpStream) -> io::Result<Self> {
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(super::connect::CONNECT_TIMEOUT))?;
        Ok(RtspConnection {
            stream,
            buf: vec![0; READ_SIZE * 2],
            len: 0,
            pos: 0,
            reader: MessageReader::default(),
        })
    }

    pub fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    pub fn peer_ip(&self) -> io::Result<IpAddr> {
        Ok(self.stream.peer_addr()?.ip())
    }

    pub fn write(&self, bytes: &[u8]) -> io::Result<()> {
        (&self.stream).write_all(bytes)
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
        match self.stream.read(&mut self.buf[self.len..]) {
            Ok(0) => Err(ClientError::Closed),
            Ok(n) => {
                self.len += n;
                Ok(true)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(ClientError::Io("reading from the camera".into(), e)),
        }
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

    /// Waits up to `limit` for any reply (TEARDOWN's), skipping interleaved data; what it reads is
    /// dropped, the connection being about to close.
    pub fn await_reply(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut buf = [0u8; 4096];
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if !matches!(
                wait_one(Some(self.fd()), false, None, Some(left)),
                Ok(Waited::Ready)
            ) {
                return;
            }
            match self.stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) if buf[..n].windows(5).any(|w| w == b"RTSP/") => return,
                Ok(_) => {}
            }
        }
    }

    /// Sending may block this long at most from now on (TEARDOWN to a camera that stopped reading).
    pub fn limit_writes(&self, limit: Duration) {
        let _ = self.stream.set_write_timeout(Some(limit));
    }
}

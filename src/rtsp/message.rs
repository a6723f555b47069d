//! RTSP/1.0 request writer and a lenient, bounded, incremental reader for what a server sends: responses,
//! server-to-client requests and `$`-framed interleaved data (RFC 2326 §10.12).

use std::fmt;

/// Largest header block accepted (status line and headers).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Largest body accepted (an SDP is a few KiB; 1 MiB leaves room for odd servers).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Options,
    Describe,
    Setup,
    Play,
    Pause,
    Teardown,
    GetParameter,
    SetParameter,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Options => "OPTIONS",
            Method::Describe => "DESCRIBE",
            Method::Setup => "SETUP",
            Method::Play => "PLAY",
            Method::Pause => "PAUSE",
            Method::Teardown => "TEARDOWN",
            Method::GetParameter => "GET_PARAMETER",
            Method::SetParameter => "SET_PARAMETER",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Header list that keeps the order and looks names up case-insensitively (`CSeq`, `Cseq`, `cseq`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

/// Never shows an `Authorization` value (the Basic credentials or the Digest response).
impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(n, v)| {
                let v = if n.eq_ignore_ascii_case("Authorization") {
                    "<redacted>"
                } else {
                    v.as_str()
                };
                (n, v)
            }))
            .finish()
    }
}

impl Headers {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn insert(&mut self, name: &str, value: impl Into<String>) {
        self.0.push((name.to_string(), value.into()));
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// Request URI, without user info; cameras that take credentials in the path or query get them
    /// here, so it is shown only through `url::redact`.
    pub uri: String,
    pub headers: Headers,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("uri", &super::url::redact(&self.uri))
            .field("headers", &self.headers)
            .finish()
    }
}

impl Request {
    pub fn new(method: Method, uri: impl Into<String>) -> Self {
        Request {
            method,
            uri: uri.into(),
            headers: Headers::default(),
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.insert(name, value);
        self
    }

    pub fn cseq(&self) -> Option<u32> {
        self.headers.get("CSeq").and_then(|v| v.trim().parse().ok())
    }

    /// Wire form. Requests from this client never carry a body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} RTSP/1.0\r\n", self.method, self.uri);
        for (n, v) in self.headers.iter() {
            out.push_str(n);
            out.push_str(": ");
            out.push_str(v);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        out.into_bytes()
    }

    /// The request as it may be logged: the Authorization value and secrets in the URL are replaced.
    pub fn redacted(&self) -> String {
        let mut out = format!("{} {}", self.method, super::url::redact(&self.uri));
        for (n, v) in self.headers.iter() {
            let v = if n.eq_ignore_ascii_case("Authorization") {
                "<redacted>"
            } else {
                v
            };
            out.push_str(&format!("; {n}: {v}"));
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    pub body: Vec<u8>,
}

impl Response {
    pub fn cseq(&self) -> Option<u32> {
        self.headers.get("CSeq").and_then(|v| v.trim().parse().ok())
    }
}

/// One unit read from the RTSP connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Response(Response),
    /// A request from the server (ANNOUNCE, GET_PARAMETER, ...). Only its method and CSeq matter to us.
    Request {
        method: String,
        cseq: Option<u32>,
    },
    /// `$` frame: channel and the byte range of its payload inside the parsed buffer.
    Data {
        channel: u8,
        payload: std::ops::Range<usize>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    HeaderTooLarge,
    BodyTooLarge(usize),
    BadStartLine(String),
    BadHeader(String),
    BadContentLength(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::HeaderTooLarge => write!(
                f,
                "RTSP header block larger than {MAX_HEADER_BYTES} bytes; the server is not speaking RTSP"
            ),
            ParseError::BodyTooLarge(n) => write!(
                f,
                "RTSP body of {n} bytes exceeds the {MAX_BODY_BYTES}-byte limit"
            ),
            ParseError::BadStartLine(l) => write!(f, "malformed RTSP start line {l:?}"),
            ParseError::BadHeader(l) => write!(f, "malformed RTSP header line {l:?}"),
            ParseError::BadContentLength(v) => write!(f, "malformed Content-Length {v:?}"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses the first message in `buf`. `Ok(None)` means more bytes are needed; on success returns the message
/// and how many bytes it used. Stray CR/LF before a message (some cameras send them between frames) are
/// consumed as part of it. Stateless: a connection reads with a `MessageReader`, which does not look at
/// the same bytes twice.
pub fn parse_message(buf: &[u8]) -> Result<Option<(Message, usize)>, ParseError> {
    MessageReader::default().next(buf)
}

/// Incremental RTSP reader. Between two messages it remembers how far it has looked (CR/LF skipped,
/// header bytes searched for the blank line, the size of a message whose body is still arriving), so a
/// server dripping a large header or body a byte at a time costs linear, not quadratic, work.
#[derive(Debug, Default, Clone)]
pub struct MessageReader {
    /// Leading CR/LF bytes already skipped.
    skip: usize,
    /// Where the search for the end of the header block resumes (after the CR/LF).
    resume: usize,
    /// The whole message's length once its header block is known.
    framed: Option<usize>,
}

impl MessageReader {
    /// The first message of `buf`, which must start where the previous call's message ended (or, after
    /// `Ok(None)`, hold the same bytes as before and maybe more).
    pub fn next(&mut self, buf: &[u8]) -> Result<Option<(Message, usize)>, ParseError> {
        if self.framed.is_some_and(|total| buf.len() < total) {
            return Ok(None);
        }
        while self.skip < buf.len() && matches!(buf[self.skip], b'\r' | b'\n') {
            self.skip += 1;
        }
        if self.skip > MAX_HEADER_BYTES {
            return Err(ParseError::HeaderTooLarge);
        }
        let parsed = self.parse(buf);
        if !matches!(parsed, Ok(None)) {
            *self = MessageReader::default();
        }
        parsed
    }

    fn parse(&mut self, buf: &[u8]) -> Result<Option<(Message, usize)>, ParseError> {
        let skip = self.skip;
        let rest = &buf[skip..];
        let Some(&first) = rest.first() else {
            return Ok(None);
        };
        if first == b'$' {
            if rest.len() < 4 {
                return Ok(None);
            }
            let channel = rest[1];
            let len = u16::from_be_bytes([rest[2], rest[3]]) as usize;
            if rest.len() < 4 + len {
                return Ok(None);
            }
            let start = skip + 4;
            return Ok(Some((
                Message::Data {
                    channel,
                    payload: start..start + len,
                },
                start + len,
            )));
        }

        let Some(head_len) = find_header_end(rest, self.resume) else {
            // Two bytes back: the blank line may straddle two reads.
            self.resume = rest.len().saturating_sub(2);
            if rest.len() > MAX_HEADER_BYTES {
                return Err(ParseError::HeaderTooLarge);
            }
            return Ok(None);
        };
        // Where this header end was found, for the call that completes the body.
        self.resume = head_len.saturating_sub(3);
        if head_len > MAX_HEADER_BYTES {
            return Err(ParseError::HeaderTooLarge);
        }
        let head = String::from_utf8_lossy(&rest[..head_len]);
        let mut lines = head.split('\n').map(|l| l.trim_end_matches('\r'));
        let start_line = lines.next().unwrap_or_default().trim();
        let mut headers = Headers::default();
        for line in lines {
            if line.trim().is_empty() {
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(ParseError::BadHeader(truncate(line)));
            };
            headers.insert(name.trim(), value.trim());
        }
        let body_len = match headers.get("Content-Length") {
            None => 0,
            Some(v) => v
                .trim()
                .parse::<usize>()
                .map_err(|_| ParseError::BadContentLength(truncate(v)))?,
        };
        if body_len > MAX_BODY_BYTES {
            return Err(ParseError::BodyTooLarge(body_len));
        }
        if rest.len() < head_len + body_len {
            self.framed = Some(skip + head_len + body_len);
            return Ok(None);
        }
        let used = skip + head_len + body_len;

        if let Some(status_part) = start_line.strip_prefix("RTSP/") {
            // "RTSP/1.0 200 OK"; the reason phrase may be missing.
            let mut parts = status_part.splitn(3, ' ');
            let _version = parts.next();
            let status = parts
                .next()
                .and_then(|s| s.trim().parse::<u16>().ok())
                .ok_or_else(|| ParseError::BadStartLine(truncate(start_line)))?;
            let reason = parts.next().unwrap_or_default().trim().to_string();
            let body = rest[head_len..head_len + body_len].to_vec();
            return Ok(Some((
                Message::Response(Response {
                    status,
                    reason,
                    headers,
                    body,
                }),
                used,
            )));
        }
        let mut parts = start_line.split_whitespace();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(method), Some(_uri), Some(v)) if v.starts_with("RTSP/") => Ok(Some((
                Message::Request {
                    method: method.to_string(),
                    cseq: headers.get("CSeq").and_then(|v| v.trim().parse().ok()),
                },
                used,
            ))),
            _ => Err(ParseError::BadStartLine(truncate(start_line))),
        }
    }
}

/// Length of the header block including the blank line, accepting CRLF or bare LF line ends; the search
/// starts at `from`.
fn find_header_end(buf: &[u8], from: usize) -> Option<usize> {
    let limit = buf.len().min(MAX_HEADER_BYTES + 4);
    let mut i = from;
    while i < limit {
        if buf[i] == b'\n' {
            if buf.get(i + 1) == Some(&b'\n') {
                return Some(i + 2);
            }
            if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') {
                return Some(i + 3);
            }
        }
        i += 1;
    }
    None
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(buf: &[u8]) -> (Response, usize) {
        match parse_message(buf).unwrap().unwrap() {
            (Message::Response(r), n) => (r, n),
            other => panic!("not a response: {other:?}"),
        }
    }

    #[test]
    fn request_bytes() {
        let r = Request::new(Method::Describe, "rtsp://h/s")
            .with_header("CSeq", "2")
            .with_header("Accept", "application/sdp");
        assert_eq!(
            r.to_bytes(),
            b"DESCRIBE rtsp://h/s RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp\r\n\r\n"
        );
        let r = r.with_header("Authorization", "Basic c2VjcmV0");
        assert!(!r.redacted().contains("c2VjcmV0"));
    }

    #[test]
    fn response_with_body_incremental() {
        let msg = b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: 5\r\n\r\nhello";
        for cut in 0..msg.len() {
            assert_eq!(parse_message(&msg[..cut]).unwrap(), None, "cut {cut}");
        }
        let (r, n) = response(msg);
        assert_eq!(n, msg.len());
        assert_eq!(r.status, 200);
        assert_eq!(r.reason, "OK");
        assert_eq!(r.cseq(), Some(2));
        assert_eq!(r.body, b"hello");
    }

    /// Feeds `msg` one byte at a time to one reader, as a dripping server would; returns the message and
    /// the bytes it used.
    fn drip(msg: &[u8]) -> (Message, usize) {
        let mut reader = MessageReader::default();
        for end in 1..msg.len() {
            assert_eq!(reader.next(&msg[..end]).unwrap(), None, "at {end}");
        }
        reader.next(msg).unwrap().unwrap()
    }

    #[test]
    fn a_dripped_message_reads_like_a_whole_one() {
        for ending in ["\r\n\r\n", "\n\n", "\n\r\n"] {
            let body = "v=0\r\n".repeat(3000);
            let msg = format!(
                "\r\n\r\nRTSP/1.0 200 OK{e}CSeq: 2{e}Content-Length: {}{ending}{body}",
                body.len(),
                e = &ending[..ending.len() / 2],
            );
            let whole = parse_message(msg.as_bytes()).unwrap().unwrap();
            assert_eq!(drip(msg.as_bytes()), whole, "{ending:?}");
            assert_eq!(whole.1, msg.len());
        }
        let frame = b"\r\n$\x00\x00\x03abc";
        assert_eq!(drip(frame), parse_message(frame).unwrap().unwrap());
    }

    #[test]
    fn the_reader_starts_afresh_after_each_message() {
        let two = b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\nRTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: 1\r\n\r\nx";
        let mut reader = MessageReader::default();
        let (m, n) = reader.next(&two[..40]).unwrap().unwrap();
        assert!(matches!(m, Message::Response(r) if r.cseq() == Some(1)));
        assert_eq!(reader.next(&two[n..40]).unwrap(), None);
        let (m, _) = reader.next(&two[n..]).unwrap().unwrap();
        assert!(matches!(m, Message::Response(r) if r.cseq() == Some(2) && r.body == b"x"));
    }

    #[test]
    fn a_flood_of_crlf_is_bounded() {
        let mut reader = MessageReader::default();
        let flood = vec![b'\n'; MAX_HEADER_BYTES + 1];
        assert_eq!(reader.next(&flood), Err(ParseError::HeaderTooLarge));
    }

    #[test]
    fn debug_shows_no_authorization() {
        let r = Request::new(Method::Play, "rtsp://h/s?password=s3cr3t")
            .with_header("Authorization", "Basic YWRtaW46c2VjcmV0");
        let d = format!("{r:?}");
        assert!(
            !d.contains("YWRtaW46c2VjcmV0") && d.contains("<redacted>"),
            "{d}"
        );
        assert!(!d.contains("s3cr3t"), "{d}");
        assert!(!r.redacted().contains("s3cr3t"));
    }

    #[test]
    fn lenient_headers() {
        // Longse and others: padded values, trailing spaces, odd case, bare LF.
        let msg = b"RTSP/1.0 200 OK\nCseq: 1 \nSession:        708345999;timeout=60\n\n";
        let (r, _) = response(msg);
        assert_eq!(r.cseq(), Some(1));
        assert_eq!(r.headers.get("session"), Some("708345999;timeout=60"));
    }

    #[test]
    fn interleaved_and_stray_crlf() {
        let mut buf = b"\r\n$\x01\x00\x03abc".to_vec();
        buf.extend_from_slice(b"RTSP/1.0 200 OK\r\nCSeq: 3\r\n\r\n");
        let (m, n) = parse_message(&buf).unwrap().unwrap();
        assert_eq!(
            m,
            Message::Data {
                channel: 1,
                payload: 6..9
            }
        );
        assert_eq!(&buf[6..9], b"abc");
        let (r, _) = response(&buf[n..]);
        assert_eq!(r.cseq(), Some(3));
        assert_eq!(parse_message(b"$\x00\x00\x05ab").unwrap(), None);
    }

    #[test]
    fn server_request() {
        let (m, _) = parse_message(b"GET_PARAMETER rtsp://x RTSP/1.0\r\nCSeq: 9\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            m,
            Message::Request {
                method: "GET_PARAMETER".into(),
                cseq: Some(9)
            }
        );
    }

    #[test]
    fn limits_and_garbage() {
        let huge = vec![b'a'; MAX_HEADER_BYTES + 10];
        assert_eq!(parse_message(&huge), Err(ParseError::HeaderTooLarge));
        let big = b"RTSP/1.0 200 OK\r\nContent-Length: 99999999\r\n\r\n";
        assert!(matches!(
            parse_message(big),
            Err(ParseError::BodyTooLarge(_))
        ));
        assert!(parse_message(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
        assert!(parse_message(b"RTSP/1.0 abc OK\r\n\r\n").is_err());
        assert!(parse_message(b"RTSP/1.0 200 OK\r\nno colon\r\n\r\n").is_err());
        assert!(parse_message(b"RTSP/1.0 200 OK\r\nContent-Length: x\r\n\r\n").is_err());
        // Missing reason phrase is fine.
        assert_eq!(response(b"RTSP/1.0 200\r\n\r\n").0.status, 200);
    }
}

//! RTSP tunnelled in HTTP (`rtsph://`), as QuickTime introduced it and gst-rtsp-server, live555 and Axis
//! cameras serve it: two HTTP connections share a session cookie; the server's RTSP replies and
//! interleaved RTP come on the GET connection after its HTTP reply head, our requests go base64-encoded
//! on the POST connection, which is never answered and is opened only after the GET's reply head
//! (`tunnel_post.rs`). `rtsphs://` runs both connections over TLS. For networks that let only HTTP out.
//!
//! What is here is pure: the two requests, the reply head's check, the encoding. `rtsp_connection.rs`
//! and `tunnel_post.rs` run them on their sockets.

use base64::Engine;
use std::fmt;

/// How long the server may take to answer the GET before the POST is opened.
pub const GET_REPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The GET reply head is bounded like an RTSP header.
pub const MAX_REPLY_HEAD: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TunnelError {
    /// The server answered something other than `HTTP/1.x 200`.
    Refused(String),
    TooLong,
    /// No reply head to the GET in time (nor the TLS handshake of the POST).
    Silent,
    /// The server answered on the POST connection (what it said) or closed it.
    PostClosed(String),
}

impl fmt::Display for TunnelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TunnelError::Refused(status) => write!(
                f,
                "the server does not tunnel RTSP over HTTP here (it answered {status:?}); \
                 check the port (the camera's HTTP port) or use rtsp://"
            ),
            TunnelError::TooLong => write!(
                f,
                "the HTTP tunnel's reply head is longer than {MAX_REPLY_HEAD} bytes"
            ),
            TunnelError::Silent => write!(
                f,
                "the server did not answer the HTTP tunnel's GET request within {} s",
                GET_REPLY_TIMEOUT.as_secs()
            ),
            TunnelError::PostClosed(said) if said.is_empty() => write!(
                f,
                "the server closed the HTTP tunnel's POST connection (it did not pair it with the GET)"
            ),
            TunnelError::PostClosed(said) => write!(
                f,
                "the server refused the HTTP tunnel's POST connection: {said:?}"
            ),
        }
    }
}

impl std::error::Error for TunnelError {}

/// A session cookie that ties the GET and POST connections together: unique per connection attempt.
pub fn session_cookie() -> String {
    use sha2::Digest;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!(
        "{now}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    sha2::Sha256::digest(seed.as_bytes())[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The GET request that opens the server-to-client half. `target`: path and query of the URL.
pub fn get_request(target: &str, host: &str, cookie: &str, user_agent: &str) -> String {
    format!(
        "GET {target} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: {user_agent}\r\nx-sessioncookie: {cookie}\r\n\
         Accept: application/x-rtsp-tunnelled\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n\r\n"
    )
}

/// The POST request that opens the client-to-server half; its body is the base64 requests that follow,
/// for as long as the session lasts (hence the large, never reached, length).
pub fn post_request(target: &str, host: &str, cookie: &str, user_agent: &str) -> String {
    format!(
        "POST {target} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: {user_agent}\r\nx-sessioncookie: {cookie}\r\n\
         Content-Type: application/x-rtsp-tunnelled\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n\
         Content-Length: 32767\r\nExpires: Sun, 9 Jan 1972 00:00:00 GMT\r\n\r\n"
    )
}

/// The length of the GET reply's head once it is complete and says 200; `Ok(None)` while incomplete.
pub fn reply_head(buf: &[u8]) -> Result<Option<usize>, TunnelError> {
    let Some(end) = memchr::memmem::find(buf, b"\r\n\r\n") else {
        // A status line that is already not HTTP is refused at once (an RTSP server answering GET).
        if buf.len() >= 5 && !buf.starts_with(b"HTTP/") {
            return Err(TunnelError::Refused(status_line(buf)));
        }
        return if buf.len() > MAX_REPLY_HEAD {
            Err(TunnelError::TooLong)
        } else {
            Ok(None)
        };
    };
    let status = status_line(buf);
    let mut parts = status.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(v), Some("200")) if v.starts_with("HTTP/1.") => Ok(Some(end + 4)),
        _ => Err(TunnelError::Refused(status)),
    }
}

/// The first line, for messages (cut short, lossy).
fn status_line(buf: &[u8]) -> String {
    let line = buf
        .split(|&b| b == b'\r' || b == b'\n')
        .next()
        .unwrap_or_default();
    crate::au::cut(&String::from_utf8_lossy(line))
}

/// One request as it goes on the POST connection: base64 of the whole message, padded (servers decode
/// each request on its own or the stream as a whole; both take this).
pub fn encode(message: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_the_cookie_and_the_path() {
        let c = session_cookie();
        assert_eq!(c.len(), 24);
        assert_ne!(c, session_cookie());
        let get = get_request("/test?x=1", "cam:8080", &c, "ua");
        assert!(get.starts_with("GET /test?x=1 HTTP/1.0\r\n"));
        assert!(get.contains(&format!("x-sessioncookie: {c}\r\n")));
        assert!(get.ends_with("\r\n\r\n"));
        let post = post_request("/test", "cam", &c, "ua");
        assert!(post.contains("Content-Type: application/x-rtsp-tunnelled\r\n"));
    }

    #[test]
    fn reply_heads() {
        let ok = b"HTTP/1.0 200 OK\r\nContent-Type: application/x-rtsp-tunnelled\r\n\r\nRTSP/1.0";
        assert_eq!(reply_head(ok), Ok(Some(ok.len() - 8)));
        assert_eq!(reply_head(b"HTTP/1.0 200 OK\r\nServer"), Ok(None));
        assert!(matches!(
            reply_head(b"HTTP/1.1 404 Not Found\r\n\r\n"),
            Err(TunnelError::Refused(s)) if s == "HTTP/1.1 404 Not Found"
        ));
        // An RTSP server answering the GET as an RTSP request.
        assert!(matches!(
            reply_head(b"RTSP/1.0 400 Bad Request\r\n"),
            Err(TunnelError::Refused(_))
        ));
        let endless = [b"HTTP/1.0 200 OK\r\n".as_slice(), &[b'a'; MAX_REPLY_HEAD]].concat();
        assert_eq!(reply_head(&endless), Err(TunnelError::TooLong));
        assert_eq!(encode(b"OPTIONS"), "T1BUSU9OUw==");
    }
}

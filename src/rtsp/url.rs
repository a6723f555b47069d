//! `rtsp://user:pass@host:port/path` parsing. Credentials are split off here so that nothing downstream can
//! leak them. Cameras that take them in the path or query (Dahua, XMEye, Uniview:
//! `/user=admin_password=secret_channel=1`, `?user=admin&password=secret`) get them sent as they are, but
//! every shown form of a URL (`Display`, `Debug`, `redact`) replaces those values.

use std::fmt;

pub const DEFAULT_PORT: u16 = 554;
/// RTSPS' registered port (UniFi Protect uses 7441, given in its URLs).
pub const DEFAULT_TLS_PORT: u16 = 322;
/// RTSP tunnelled in HTTP goes to the HTTP port, in HTTPS to the HTTPS port.
pub const DEFAULT_HTTP_PORT: u16 = 80;
pub const DEFAULT_HTTPS_PORT: u16 = 443;

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({:?}, <redacted>)", self.user)
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct RtspUrl {
    /// The URL without user info.
    pub url: url::Url,
    pub host: String,
    pub port: u16,
    pub credentials: Option<Credentials>,
    /// `rtspt://`: RTP over the RTSP connection only.
    pub tcp_only: bool,
    /// `rtsps://`: RTSP over TLS.
    pub tls: bool,
    /// `rtsph://`: RTSP tunnelled in HTTP (RTP interleaved only); `rtsphs://` in HTTPS.
    pub http_tunnel: bool,
    /// The scheme as given (`rtsph`, ...): request lines carry `rtsp://` or `rtsps://` instead.
    pub scheme: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlError {
    Invalid(String),
    Scheme(String),
    NoHost,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::Invalid(e) => write!(f, "invalid RTSP URL: {e}"),
            UrlError::Scheme(s) => write!(
                f,
                "unsupported URL scheme {s:?}; use rtsp://host[:port]/path (rtspt:// for TCP only, rtsps:// for TLS, rtsph:// for a tunnel in HTTP, rtsphs:// in HTTPS)"
            ),
            UrlError::NoHost => write!(f, "the RTSP URL has no host"),
        }
    }
}

impl std::error::Error for UrlError {}

impl RtspUrl {
    pub fn parse(s: &str) -> Result<Self, UrlError> {
        let mut url = url::Url::parse(s.trim()).map_err(|e| UrlError::Invalid(e.to_string()))?;
        let (scheme, tcp_only, tls, http_tunnel) = match url.scheme() {
            "rtsp" => ("rtsp", false, false, false),
            "rtspt" => ("rtspt", true, false, false),
            "rtsps" => ("rtsps", false, true, false),
            "rtsph" => ("rtsph", true, false, true),
            "rtsphs" => ("rtsphs", true, true, true),
            other => return Err(UrlError::Scheme(other.to_string())),
        };
        // Servers know rtsp:// and rtsps:// in request lines, not rtspt://, rtsph:// or rtsphs://
        // (rtspsrc sends rtsps:// through a tunnel over TLS).
        let _ = url.set_scheme(if tls { "rtsps" } else { "rtsp" });
        let host = url.host_str().ok_or(UrlError::NoHost)?.to_string();
        if host.is_empty() {
            return Err(UrlError::NoHost);
        }
        let port = url.port().unwrap_or(match (tls, http_tunnel) {
            (true, true) => DEFAULT_HTTPS_PORT,
            (true, false) => DEFAULT_TLS_PORT,
            (false, true) => DEFAULT_HTTP_PORT,
            (false, false) => DEFAULT_PORT,
        });
        let user = decode(url.username());
        let password = url.password().map(decode).unwrap_or_default();
        let credentials =
            (!user.is_empty() || !password.is_empty()).then_some(Credentials { user, password });
        // Cannot fail for a URL with a host.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        Ok(RtspUrl {
            url,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port,
            credentials,
            tcp_only,
            tls,
            http_tunnel,
            scheme,
        })
    }

    /// The URL request lines carry (`rtsp://` or `rtsps://`, without user info).
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// What the scheme asks for, for the log.
    pub fn how(&self) -> &'static str {
        match (self.http_tunnel, self.tls, self.tcp_only) {
            (true, true, _) => "RTSP tunnelled in HTTPS: a GET and a POST connection over TLS",
            (true, false, _) => "RTSP tunnelled in HTTP: a GET and a POST connection",
            (false, true, _) => "RTSP over TLS",
            (false, false, true) => "RTSP with RTP interleaved on its connection",
            (false, false, false) => "RTSP",
        }
    }

    /// The URL with the scheme the user gave (what the element does: `rtsph://` for a tunnel), for
    /// messages; `Display` redacts it.
    fn as_given(&self) -> String {
        let s = self.url.as_str();
        let rest = s.split_once("://").map_or(s, |(_, rest)| rest);
        format!("{}://{rest}", self.scheme)
    }
}

/// The URL as it may be shown: secrets in the path or query replaced. The wire form is `as_str`.
impl fmt::Display for RtspUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.as_given()))
    }
}

impl fmt::Debug for RtspUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RtspUrl")
            .field("url", &redact(&self.as_given()))
            .field("credentials", &self.credentials)
            .field("tcp_only", &self.tcp_only)
            .field("tls", &self.tls)
            .field("http_tunnel", &self.http_tunnel)
            .finish()
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Keys whose values are secrets when they stand in a URL's path or query.
const PASSWORD_KEYS: [&str; 4] = ["password", "passwd", "pwd", "pass"];
/// Keys naming the user, redacted too when a password stands beside them.
const USER_KEYS: [&str; 4] = ["user", "username", "usr", "name"];
/// What a redacted value becomes.
const MASK: &str = "***";

/// A URL-like string as it may be shown: `user:pass@` removed, and the values of password-like keys in
/// the path or query (with the user beside them) replaced by `***`.
pub fn redact(s: &str) -> String {
    let (head, tail) = match s.find("://") {
        Some(scheme_end) => {
            let after = &s[scheme_end + 3..];
            let authority_end = after.find(['/', '?', '#']).unwrap_or(after.len());
            let host = match after[..authority_end].rfind('@') {
                Some(at) => &after[at + 1..authority_end],
                None => &after[..authority_end],
            };
            (
                format!("{}://{}", &s[..scheme_end], host),
                &after[authority_end..],
            )
        }
        None => (String::new(), s),
    };
    head + &redact_params(tail)
}

/// `key=value` pairs of a path or query, as cameras write them: after `/ ? & ;`, or after `_` in XMEye's
/// `user=admin_password=x_channel=1`. Returns (key start, value start, value end) of each.
fn params(s: &str) -> Vec<(usize, usize, usize)> {
    let b = s.as_bytes();
    let is_key = |c: u8| c.is_ascii_alphanumeric() || c == b'-';
    // A `_` ends a value only where another `key=` follows it.
    let key_at = |i: usize| {
        let n = b[i..].iter().take_while(|&&c| is_key(c)).count();
        (n > 0 && b.get(i + n) == Some(&b'=')).then_some(n)
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let boundary = i == 0 || matches!(b[i - 1], b'/' | b'?' | b'&' | b';' | b'_');
        match key_at(i).filter(|_| boundary) {
            Some(n) => {
                let start = i + n + 1;
                let mut end = start;
                while end < b.len()
                    && !matches!(b[end], b'/' | b'?' | b'&' | b';' | b'#')
                    && !(b[end] == b'_' && key_at(end + 1).is_some())
                {
                    end += 1;
                }
                out.push((i, start, end));
                i = end.max(i + 1);
            }
            None => i += 1,
        }
    }
    out
}

fn redact_params(s: &str) -> String {
    let pairs = params(s);
    let key = |&(k, v, _): &(usize, usize, usize)| s[k..v - 1].to_ascii_lowercase();
    let is_password = |p: &(usize, usize, usize)| PASSWORD_KEYS.contains(&key(p).as_str());
    if !pairs.iter().any(is_password) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    for p in &pairs {
        if is_password(p) || USER_KEYS.contains(&key(p).as_str()) {
            out.push_str(&s[at..p.1]);
            out.push_str(MASK);
            at = p.2;
        }
    }
    out.push_str(&s[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain() {
        let u = RtspUrl::parse("rtsp://192.0.2.1/stream1").unwrap();
        assert_eq!(u.host, "192.0.2.1");
        assert_eq!(u.port, 554);
        assert_eq!(u.credentials, None);
        assert_eq!(u.as_str(), "rtsp://192.0.2.1/stream1");
    }

    #[test]
    fn credentials_are_split_off() {
        let u = RtspUrl::parse("rtsp://admin:p%40ss%3Aw%2Fo%25rd@127.0.0.1:8554/test?x=1").unwrap();
        let c = u.credentials.clone().unwrap();
        assert_eq!(c.user, "admin");
        assert_eq!(c.password, "p@ss:w/o%rd");
        assert_eq!(u.port, 8554);
        assert_eq!(u.as_str(), "rtsp://127.0.0.1:8554/test?x=1");
        assert!(!format!("{c:?}").contains("p@ss"));
    }

    #[test]
    fn unencoded_at_in_password() {
        let u = RtspUrl::parse("rtsp://admin:p@ss@127.0.0.1/s").unwrap();
        assert_eq!(u.credentials.unwrap().password, "p@ss");
        assert_eq!(u.host, "127.0.0.1");
    }

    #[test]
    fn rtspt_means_tcp() {
        let u = RtspUrl::parse("rtspt://127.0.0.1/s").unwrap();
        assert!(u.tcp_only);
        assert_eq!(u.as_str(), "rtsp://127.0.0.1/s");
        assert!(!RtspUrl::parse("rtsp://127.0.0.1/s").unwrap().tcp_only);
    }

    #[test]
    fn rtsps_means_tls_on_port_322() {
        let u = RtspUrl::parse("rtsps://u:p@192.168.1.1/proxy/abc").unwrap();
        assert!(u.tls && !u.tcp_only);
        assert_eq!(u.port, 322);
        assert_eq!(u.as_str(), "rtsps://192.168.1.1/proxy/abc");
        // UniFi Protect.
        let u = RtspUrl::parse("rtsps://nvr:7441/Xj3kd9?enableSrtp").unwrap();
        assert_eq!((u.port, u.tls), (7441, true));
    }

    #[test]
    fn rtsph_means_an_http_tunnel() {
        let u = RtspUrl::parse("rtsph://cam/axis-media/media.amp?videocodec=h264").unwrap();
        assert!(u.http_tunnel && u.tcp_only && !u.tls);
        assert_eq!(u.port, 80);
        assert_eq!(
            u.as_str(),
            "rtsp://cam/axis-media/media.amp?videocodec=h264"
        );
        // Messages name the scheme in use, not the one request lines carry.
        assert_eq!(
            u.to_string(),
            "rtsph://cam/axis-media/media.amp?videocodec=h264"
        );
    }

    #[test]
    fn rtsphs_means_an_http_tunnel_over_tls() {
        let u = RtspUrl::parse("rtsphs://admin:secret@cam/live?password=x").unwrap();
        assert!(u.http_tunnel && u.tcp_only && u.tls);
        assert_eq!(u.port, 443);
        assert_eq!(u.as_str(), "rtsps://cam/live?password=x");
        assert_eq!(u.to_string(), "rtsphs://cam/live?password=***");
        assert!(!format!("{u:?}").contains("secret"));
        let u = RtspUrl::parse("rtspt://cam:8554/a").unwrap();
        assert_eq!(u.to_string(), "rtspt://cam:8554/a");
    }

    #[test]
    fn errors() {
        assert!(matches!(
            RtspUrl::parse("http://h/"),
            Err(UrlError::Scheme(_))
        ));
        assert!(RtspUrl::parse("not a url").is_err());
        assert!(RtspUrl::parse("rtsp:///path").is_err());
    }

    #[test]
    fn redact_strings() {
        assert_eq!(redact("rtsp://a:b@h/p@x"), "rtsp://h/p@x");
        assert_eq!(redact("rtsp://h/p"), "rtsp://h/p");
        assert_eq!(redact("rtsp://a:b@h"), "rtsp://h");
        assert_eq!(redact("rtsp://a:b@h?x=1"), "rtsp://h?x=1");
    }

    #[test]
    fn secrets_in_path_and_query_are_redacted() {
        for (url, shown) in [
            // XMEye / H264DVR: in the path, `_`-separated.
            (
                "rtsp://10.0.0.5:554/user=admin_password=s3cr_et_channel=1_stream=0.sdp",
                "rtsp://10.0.0.5:554/user=***_password=***_channel=1_stream=0.sdp",
            ),
            // Dahua / Uniview: in the query.
            (
                "rtsp://h/cam/realmonitor?channel=1&user=admin&password=s3cr3t&subtype=0",
                "rtsp://h/cam/realmonitor?channel=1&user=***&password=***&subtype=0",
            ),
            ("rtsp://h/live?PWD=x;usr=y", "rtsp://h/live?PWD=***;usr=***"),
            (
                "rtsp://h/live?passwd=&pass=zz",
                "rtsp://h/live?passwd=***&pass=***",
            ),
            // No password beside it: a user= alone, or look-alike keys, stay.
            (
                "rtsp://h/live?user=bob&channel=2",
                "rtsp://h/live?user=bob&channel=2",
            ),
            ("rtsp://h/passage=3/bypass=1", "rtsp://h/passage=3/bypass=1"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
        let u = RtspUrl::parse("rtsp://h/s?user=admin&password=s3cr3t").unwrap();
        // Sent as it is; shown without it.
        assert!(u.as_str().contains("s3cr3t"));
        assert!(!u.to_string().contains("s3cr3t"));
        assert!(!format!("{u:?}").contains("s3cr3t"));
    }
}

//! `rtsp://user:pass@host:port/path` parsing. Credentials are split off here so that nothing downstream can
//! leak them: the URL that is sent, logged and shown in errors never carries them.

use std::fmt;

pub const DEFAULT_PORT: u16 = 554;

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtspUrl {
    /// The URL without user info.
    pub url: url::Url,
    pub host: String,
    pub port: u16,
    pub credentials: Option<Credentials>,
    /// `rtspt://`: RTP over the RTSP connection only.
    pub tcp_only: bool,
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
                "unsupported URL scheme {s:?}; use rtsp://host[:port]/path (or rtspt:// for TCP only)"
            ),
            UrlError::NoHost => write!(f, "the RTSP URL has no host"),
        }
    }
}

impl std::error::Error for UrlError {}

impl RtspUrl {
    pub fn parse(s: &str) -> Result<Self, UrlError> {
        let mut url = url::Url::parse(s.trim()).map_err(|e| UrlError::Invalid(e.to_string()))?;
        let tcp_only = match url.scheme() {
            "rtsp" => false,
            "rtspt" => true,
            other => return Err(UrlError::Scheme(other.to_string())),
        };
        // Servers know only rtsp:// in request lines.
        let _ = url.set_scheme("rtsp");
        let host = url.host_str().ok_or(UrlError::NoHost)?.to_string();
        if host.is_empty() {
            return Err(UrlError::NoHost);
        }
        let port = url.port().unwrap_or(DEFAULT_PORT);
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
        })
    }

    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }
}

impl fmt::Display for RtspUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url.as_str())
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Removes any `user:pass@` from a URL-like string, for messages that quote what the user typed.
pub fn redact(s: &str) -> String {
    if let Some(scheme_end) = s.find("://") {
        let after = &s[scheme_end + 3..];
        let authority_end = after.find('/').unwrap_or(after.len());
        if let Some(at) = after[..authority_end].rfind('@') {
            return format!("{}://{}", &s[..scheme_end], &after[at + 1..]);
        }
    }
    s.to_string()
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
    }
}

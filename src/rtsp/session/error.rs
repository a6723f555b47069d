//! What ends a session, in words a person can act on (the path, the transports, the credentials).

use crate::rtsp::auth::AuthError;
use crate::rtsp::message::Method;
use crate::rtsp::sdp::SdpError;
use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionError {
    Status {
        method: Method,
        status: u16,
        reason: String,
        url: String,
    },
    Auth(AuthError),
    Sdp(SdpError),
    /// No reply to this request within the time (`tcp-timeout`).
    NoAnswer(Method, Duration),
    /// The server says the session is gone (454) or it cannot be kept alive.
    SessionLost(String),
    /// 551 Option not supported to a request that needs ONVIF replay: what the server named as
    /// unsupported.
    OptionRefused {
        method: Method,
        unsupported: String,
    },
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Status {
                method,
                status: 404,
                url,
                ..
            } => write!(
                f,
                "{method} {url}: 404 Not Found — the camera has no stream at this path; check location"
            ),
            SessionError::Status {
                method: Method::Setup,
                status: 461,
                ..
            } => write!(
                f,
                "SETUP: 461 Unsupported Transport — the camera accepts none of the transports allowed by `protocols`"
            ),
            SessionError::Status {
                method,
                status,
                reason,
                url,
            } => write!(f, "{method} {url}: the camera answered {status} {reason}"),
            SessionError::Auth(e) => write!(f, "{e}"),
            SessionError::Sdp(e) => write!(f, "{e}"),
            SessionError::NoAnswer(m, t) => write!(
                f,
                "the camera did not answer {m} within {:.1} s (tcp-timeout)",
                t.as_secs_f64()
            ),
            SessionError::SessionLost(why) => write!(f, "RTSP session lost: {why}"),
            SessionError::OptionRefused {
                method,
                unsupported,
            } => write!(
                f,
                "{method}: 551 Option not supported ({}) — the server does not play recordings \
                 (ONVIF replay); check location points at a recording, or unset onvif-mode for the \
                 live stream",
                match unsupported.is_empty() {
                    true => "onvif-replay",
                    false => unsupported.as_str(),
                }
            ),
        }
    }
}

impl std::error::Error for SessionError {}

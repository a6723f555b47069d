//! The reconnect policy: what a session's failure leads to. Before any media flowed, a failure is a
//! setting to fix (wrong path, password, port, certificate) and is reported at once, except where the
//! server itself is known to fail now and then: an HTTP tunnel's POST connection refused or closed
//! (live555 drops a POST that comes before it has read the GET, when the two race on the network) is
//! tried again, a few times. After media, "retry forever" means forever: a rebooting camera answers
//! 404, 401, 503 or an SDP without the track for a while. And what a failure that ends the stream is
//! posted as (`stream_error`).

use super::supervisor::SupervisorError;
use crate::net::client_error::ClientError;
use crate::net::http_tunnel::TunnelError;
use crate::rtsp::session::SessionError;

/// Reconnects tried before media for a failure the server makes now and then.
pub const TRANSIENT_ATTEMPTS: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Report the failure: nothing a reconnect would change.
    Fatal,
    /// `retry` reconnects were tried: report the failure saying so.
    GiveUp,
    Reconnect,
}

/// What failure `e` leads to, `attempts` reconnects having been tried since the last success, `retry`
/// being the most allowed (0: no limit), `played`: media flowed on this element since it started.
pub fn decide(e: &ClientError, played: bool, attempts: u32, retry: u32) -> Decision {
    // A server without ONVIF replay will not grow it on a reconnect.
    if matches!(
        e,
        ClientError::Flushing
            | ClientError::Session(crate::rtsp::session::SessionError::OptionRefused { .. })
    ) {
        return Decision::Fatal;
    }
    let transient = matches!(e, ClientError::Tunnel(TunnelError::PostClosed(_)))
        && attempts < TRANSIENT_ATTEMPTS;
    if !played && !transient {
        return Decision::Fatal;
    }
    if retry > 0 && attempts >= retry {
        return Decision::GiveUp;
    }
    Decision::Reconnect
}

/// The error a failure the policy does not reconnect after is posted as: the GStreamer resource error
/// kind an application can act on (path, credentials, settings, network), with the failure's words.
pub fn stream_error(e: ClientError) -> SupervisorError {
    use gst::ResourceError as R;
    let kind = match &e {
        ClientError::Flushing => return SupervisorError::Flushing,
        ClientError::Connect { .. } => R::OpenRead,
        ClientError::Session(SessionError::Status { status: 404, .. }) => R::NotFound,
        ClientError::Session(
            SessionError::Status {
                status: 401 | 403, ..
            }
            | SessionError::Auth(_),
        ) => R::NotAuthorized,
        ClientError::Session(SessionError::Sdp(_) | SessionError::OptionRefused { .. })
        | ClientError::NothingToPlay(_) => R::Settings,
        ClientError::Session(_) | ClientError::Io(..) => R::Read,
        ClientError::Tls {
            certificate: true, ..
        } => R::NotAuthorized,
        ClientError::Tls { .. } | ClientError::Tunnel(_) | ClientError::Multicast(_) => R::OpenRead,
        ClientError::Parse(_)
        | ClientError::Closed
        | ClientError::UdpSilent(_)
        | ClientError::NoData { .. }
        | ClientError::Bye => R::Read,
    };
    SupervisorError::Error(gst::error_msg!(kind, ["{}", e]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::time::Duration;
    use Decision::*;

    #[test]
    fn what_each_failure_leads_to() {
        let refused = || ClientError::Connect {
            host: "cam".into(),
            port: 554,
            error: io::ErrorKind::ConnectionRefused.into(),
        };
        let not_found = || {
            ClientError::Session(SessionError::Status {
                status: 404,
                reason: "Not Found".into(),
                method: crate::rtsp::message::Method::Describe,
                url: "rtsp://cam/x".into(),
            })
        };
        let post = || ClientError::Tunnel(TunnelError::PostClosed("HTTP/1.0 405".into()));
        let silent = || ClientError::NoData {
            after: Duration::from_secs(5),
            tcp: true,
            flowed: true,
        };
        // (failure, played, attempts, retry) → decision
        let table: [(ClientError, bool, u32, u32, Decision); 14] = [
            (ClientError::Flushing, true, 0, 0, Fatal),
            (ClientError::Flushing, false, 0, 0, Fatal),
            // Before media: a setting to fix.
            (refused(), false, 0, 0, Fatal),
            (not_found(), false, 0, 0, Fatal),
            (ClientError::Closed, false, 0, 0, Fatal),
            (ClientError::Tunnel(TunnelError::Silent), false, 0, 0, Fatal),
            // Before media, the tunnel's POST refused: tried again, three times.
            (post(), false, 0, 0, Reconnect),
            (post(), false, 2, 0, Reconnect),
            (post(), false, 3, 0, Fatal),
            (post(), false, 0, 1, Reconnect),
            // After media: reconnect, within `retry`.
            (refused(), true, 0, 0, Reconnect),
            (not_found(), true, 100, 0, Reconnect),
            (silent(), true, 4, 5, Reconnect),
            (silent(), true, 5, 5, GiveUp),
        ];
        for (e, played, attempts, retry, want) in table {
            assert_eq!(
                decide(&e, played, attempts, retry),
                want,
                "{e:?} played {played} attempts {attempts} retry {retry}"
            );
        }
    }
}

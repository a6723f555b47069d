//! Why a session client stopped, worded for the person who has to act on it.

use crate::rtsp::message::ParseError;
use crate::rtsp::session::SessionError;
use std::fmt;
use std::io;
use std::time::Duration;

#[derive(Debug)]
pub enum ClientError {
    /// `unlock` was called.
    Flushing,
    Connect {
        host: String,
        port: u16,
        error: io::Error,
    },
    Io(String, io::Error),
    Session(SessionError),
    /// The SDP offers nothing the element can receive.
    NothingToPlay(crate::stream::selection::NothingToPlay),
    Parse(ParseError),
    Closed,
    /// UDP was set up but not one packet arrived.
    UdpSilent(Duration),
    /// No RTP for `after`; `flowed`: packets had arrived before on this session.
    NoData {
        after: Duration,
        tcp: bool,
        flowed: bool,
    },
    /// The camera said goodbye (RTCP BYE for the stream's SSRC).
    Bye,
    /// The multicast group the camera named cannot be received.
    Multicast(String),
    /// The HTTP tunnel was refused.
    Tunnel(super::http_tunnel::TunnelError),
    /// RTSPS failed: `certificate` when the camera's certificate was rejected (a setting to change).
    Tls {
        certificate: bool,
        message: String,
    },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Flushing => write!(f, "flushing"),
            ClientError::Connect { host, port, error } => write!(
                f,
                "cannot connect to the camera at {host}:{port}: {error} (is the address right and the RTSP port open?)"
            ),
            ClientError::Io(what, e) => write!(f, "{what}: {e}"),
            ClientError::Session(e) => write!(f, "{e}"),
            ClientError::NothingToPlay(e) => write!(f, "{e}"),
            ClientError::Parse(e) => write!(f, "bad reply from the camera: {e}"),
            ClientError::Closed => write!(f, "the camera closed the RTSP connection"),
            ClientError::UdpSilent(t) => write!(
                f,
                "no RTP packet arrived over UDP within {} ms of PLAY; a firewall or NAT may be blocking UDP",
                t.as_millis()
            ),
            ClientError::NoData {
                after,
                flowed: true,
                ..
            } => write!(
                f,
                "the camera stopped sending RTP {} s ago (frozen, rebooting, unreachable, or it dropped the session)",
                after.as_secs()
            ),
            ClientError::NoData {
                after, tcp: false, ..
            } => write!(
                f,
                "no RTP packets arrived over UDP for {} s; a firewall or NAT between the camera and this \
                 host may be blocking UDP: open the UDP ports (see port-range) or set protocols=tcp",
                after.as_secs()
            ),
            ClientError::NoData {
                after, tcp: true, ..
            } => write!(
                f,
                "the camera sent no RTP packets for {} s after PLAY",
                after.as_secs()
            ),
            ClientError::Bye => write!(f, "the camera ended the stream (RTCP BYE)"),
            ClientError::Tls { message, .. } => write!(f, "{message}"),
            ClientError::Tunnel(e) => write!(f, "{e}"),
            ClientError::Multicast(why) => write!(f, "cannot receive the camera's multicast group: {why}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<SessionError> for ClientError {
    fn from(e: SessionError) -> Self {
        ClientError::Session(e)
    }
}

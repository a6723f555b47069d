//! How a test reaches the fake camera: RTP over UDP, interleaved on a plain TCP connection, through a
//! TLS front (`tls_proxy`) as a camera's RTSPS listener serves it, with RTP interleaved on the TLS
//! connection or over UDP beside it, or through an HTTP tunnel front (`tunnel_front`). Lets one scenario
//! run over every transport (`over_udp_tcp_and_tls!`).

use super::fake_camera::FakeCamera;
use super::tls_proxy::TlsProxy;
use super::tunnel_front::TunnelFront;
use super::{certs, record_clean, Recording};
use gst::prelude::*;
use std::time::Duration;

pub struct Reach {
    url: String,
    protocols: String,
    /// The TLS front's certificate pin, behind one.
    pin: Option<String>,
    _front: Option<Front>,
}

/// What stands between the test and the camera, kept alive as long as the `Reach`.
enum Front {
    Tls(TlsProxy),
    Tunnel(TunnelFront),
}

impl Reach {
    /// `transport`: "udp", "tcp", "tls" (RTSPS, RTP interleaved on it) or "http" (RTSP and RTP
    /// interleaved in an HTTP tunnel).
    pub fn new(cam: &FakeCamera, transport: &str) -> Reach {
        match transport {
            "udp" | "tcp" => Reach {
                url: cam.url(),
                protocols: transport.to_string(),
                pin: None,
                _front: None,
            },
            "tls" => Reach::tls(cam, "tcp"),
            "http" => {
                let front = TunnelFront::start(cam.port);
                Reach {
                    url: front.url(),
                    protocols: "tcp".to_string(),
                    pin: None,
                    _front: Some(Front::Tunnel(front)),
                }
            }
            other => panic!("no transport {other}"),
        }
    }

    /// RTSPS through a TLS front with a self-signed certificate (accepted by its pin), RTP by
    /// `protocols`.
    pub fn tls(cam: &FakeCamera, protocols: &str) -> Reach {
        let cert = certs::self_signed();
        let front = TlsProxy::start(cam.port, &cert.cert_der, &cert.key_der);
        Reach {
            url: front.url(),
            protocols: protocols.to_string(),
            pin: Some(certs::sha256(&cert.cert_der)),
            _front: Some(Front::Tls(front)),
        }
    }

    /// The same, with `user:password@` in the URL.
    pub fn with_credentials(mut self, user: &str, password: &str) -> Reach {
        self.url = self
            .url
            .replacen("://", &format!("://{user}:{password}@"), 1);
        self
    }

    /// What the element's stats name the transport ("tcp" for TLS and tunnels: interleaved on the
    /// connection).
    pub fn transport(&self) -> &str {
        &self.protocols
    }

    /// The URL the element reaches the camera at.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The element's properties for this transport: `protocols`, and the TLS front's pin.
    pub fn props(&self) -> Vec<(&'static str, &str)> {
        let mut props = vec![("protocols", self.protocols.as_str())];
        props.extend(self.pin.as_deref().map(|p| ("tls-certificate-sha256", p)));
        props
    }

    /// `record_clean` from the camera over this transport, with `props` besides.
    pub fn record(&self, duration: Duration, props: &[(&str, &dyn ToValue)]) -> Recording {
        let mut all: Vec<(&str, &dyn ToValue)> = vec![("protocols", &self.protocols)];
        if let Some(pin) = &self.pin {
            all.push(("tls-certificate-sha256", pin));
        }
        all.extend_from_slice(props);
        record_clean(&self.url, duration, &all)
    }
}

//! How a test reaches the fake camera: RTP over UDP, interleaved on a plain TCP connection, or interleaved
//! on TLS through a TLS front (`tls_proxy`), as a camera's RTSPS listener serves it. Lets one scenario run
//! over all three (`over_udp_tcp_and_tls!`).

use super::fake_camera::FakeCamera;
use super::tls_proxy::TlsProxy;
use super::{certs, record_clean, Recording};
use gst::prelude::*;
use std::time::Duration;

pub struct Reach {
    url: String,
    protocols: &'static str,
    /// The TLS front's certificate pin, with `tls`.
    pin: Option<String>,
    _front: Option<TlsProxy>,
}

impl Reach {
    /// `transport`: "udp", "tcp" or "tls".
    pub fn new(cam: &FakeCamera, transport: &str) -> Reach {
        match transport {
            "udp" | "tcp" => Reach {
                url: cam.url(),
                protocols: if transport == "udp" { "udp" } else { "tcp" },
                pin: None,
                _front: None,
            },
            "tls" => {
                let cert = certs::self_signed();
                let front = TlsProxy::start(cam.port, &cert.cert_der, &cert.key_der);
                Reach {
                    url: front.url(),
                    protocols: "tcp",
                    pin: Some(certs::sha256(&cert.cert_der)),
                    _front: Some(front),
                }
            }
            other => panic!("no transport {other}"),
        }
    }

    /// What the element's stats name the transport ("tcp" for TLS: interleaved on the connection).
    pub fn transport(&self) -> &'static str {
        self.protocols
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

//! A TLS front for the fake camera, as stunnel or a camera's own TLS listener would be: it accepts RTSPS
//! on 127.0.0.1, and relays the plaintext both ways to the camera's RTSP port, one plain connection per
//! TLS one. Every fake camera script then runs over TLS too (reconnects, keep-alives, interleaved RTP);
//! UDP media goes straight from the camera as it does for a real one. A connection the camera closes is
//! closed on the TLS side too. Towards the client it behaves as a camera on Ethernet would: segments of
//! at most 1448 bytes (unless told otherwise), Nagle's algorithm on.

use super::acceptor::Acceptor;
use super::fake_camera::ETHERNET_MSS;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub struct TlsProxy {
    acceptor: Acceptor,
}

impl TlsProxy {
    /// Serves TLS with `cert` (DER) and its PKCS#8 `key`, relaying to 127.0.0.1:`backend`, in
    /// Ethernet-sized segments.
    pub fn start(backend: u16, cert: &[u8], key: &[u8]) -> TlsProxy {
        Self::start_with_segments(backend, cert, key, Some(ETHERNET_MSS))
    }

    /// The same with segments of at most `mss` bytes towards the client (`None`: loopback's 64 KiB).
    pub fn start_with_segments(
        backend: u16,
        cert: &[u8],
        key: &[u8],
        mss: Option<u32>,
    ) -> TlsProxy {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(cert.to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_vec())),
            )
            .unwrap();
        let config = Arc::new(config);
        let acceptor = Acceptor::start(mss, move |client, stop| {
            relay(client, backend, config.clone(), stop)
        });
        TlsProxy { acceptor }
    }

    /// The camera's URL through the proxy.
    pub fn url(&self) -> String {
        format!("rtsps://127.0.0.1:{}/stream", self.acceptor.port)
    }
}

/// Readable descriptors among `fds`, waiting up to 50 ms.
fn readable(fds: [i32; 2]) -> [bool; 2] {
    let mut p = fds.map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    // SAFETY: `p` is a valid array of two pollfd for the duration of the call.
    let n = unsafe { libc::poll(p.as_mut_ptr(), 2, 50) };
    if n <= 0 {
        return [false, false];
    }
    p.map(|p| p.revents != 0)
}

fn relay(
    mut client: TcpStream,
    backend: u16,
    config: Arc<rustls::ServerConfig>,
    stop: &AtomicBool,
) {
    let Ok(mut camera) = TcpStream::connect(("127.0.0.1", backend)) else {
        return;
    };
    let mut tls = rustls::ServerConnection::new(config).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let fds = [client.as_raw_fd(), camera.as_raw_fd()];
    while !stop.load(Ordering::SeqCst) {
        let [from_client, from_camera] = readable(fds);
        if from_client {
            match tls.read_tls(&mut client) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if tls.process_new_packets().is_err() {
                let _ = tls.write_tls(&mut client);
                break;
            }
            loop {
                match tls.reader().read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => {
                        if camera.write_all(&buf[..n]).is_err() {
                            return;
                        }
                        // The hop to the camera must add nothing: acknowledged at once after each
                        // write and read, as the element does (its `ack_promptly`), the camera's
                        // Nagle never holds its packets back on this hop.
                        let _ = socket2::SockRef::from(&camera).set_quickack(true);
                    }
                    Err(_) => break,
                }
            }
        }
        if from_camera {
            match camera.read(&mut buf) {
                Ok(0) | Err(_) => {
                    tls.send_close_notify();
                    let _ = tls.write_tls(&mut client);
                    break;
                }
                Ok(n) => {
                    let _ = socket2::SockRef::from(&camera).set_quickack(true);
                    if tls.writer().write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        while tls.wants_write() {
            if tls.write_tls(&mut client).is_err() {
                return;
            }
        }
    }
}

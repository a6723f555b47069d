//! An HTTP tunnel front for the fake camera (`rtsph://`), as an Axis camera's HTTP port serves one: a
//! GET connection whose reply carries the camera's RTSP replies and interleaved RTP, and a POST connection,
//! tied to it by the `x-sessioncookie` header, whose body is the client's requests in base64. Each GET
//! opens one plain connection to the camera's RTSP port. Towards the client it behaves as a camera on
//! Ethernet would: segments of at most 1448 bytes, Nagle's algorithm on.

use super::acceptor::Acceptor;
use super::fake_camera::{no_data_yet, ETHERNET_MSS};
use base64::Engine;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The camera connections opened by GETs whose POST has not come yet, by session cookie.
type Waiting = Arc<Mutex<HashMap<String, TcpStream>>>;

pub struct TunnelFront {
    acceptor: Acceptor,
}

impl TunnelFront {
    /// Serves tunnels to the camera at 127.0.0.1:`backend`.
    pub fn start(backend: u16) -> TunnelFront {
        Self::refusing_posts(backend, 0)
    }

    /// As `start`, the first `refused` POST connections answered 405 and closed, as live555 answers a
    /// POST whose cookie no GET it has read carries.
    pub fn refusing_posts(backend: u16, refused: usize) -> TunnelFront {
        let waiting = Waiting::default();
        let refused = Arc::new(AtomicUsize::new(refused));
        let acceptor = Acceptor::start(Some(ETHERNET_MSS), move |client, stop| {
            serve(client, backend, &waiting, &refused, stop)
        });
        TunnelFront { acceptor }
    }

    /// The camera's URL through the tunnel.
    pub fn url(&self) -> String {
        format!("rtsph://127.0.0.1:{}/stream", self.acceptor.port)
    }
}

/// Reads may time out so that a stopped front lets its threads go.
const POLL: Duration = Duration::from_millis(100);

fn serve(
    mut client: TcpStream,
    backend: u16,
    waiting: &Waiting,
    refused: &AtomicUsize,
    stop: &AtomicBool,
) {
    let _ = client.set_read_timeout(Some(POLL));
    let Some((head, rest)) = request_head(&mut client, stop) else {
        return;
    };
    let cookie = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("x-sessioncookie")
                .then(|| value.trim().to_string())
        })
        .unwrap_or_default();
    if head.starts_with("GET ") {
        let Ok(mut camera) = TcpStream::connect(("127.0.0.1", backend)) else {
            return;
        };
        let Ok(to_camera) = camera.try_clone() else {
            return;
        };
        waiting.lock().unwrap().insert(cookie, to_camera);
        let reply = "HTTP/1.0 200 OK\r\nContent-Type: application/x-rtsp-tunnelled\r\n\
                     Cache-Control: no-store\r\nPragma: no-cache\r\n\r\n";
        if client.write_all(reply.as_bytes()).is_err() {
            return;
        }
        let _ = camera.set_read_timeout(Some(POLL));
        copy(&mut camera, &mut client, stop, |b| Some(b.to_vec()));
        let _ = client.shutdown(Shutdown::Both);
    } else if head.starts_with("POST ") {
        let refuse = refused
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if refuse {
            let _ = client.write_all(b"HTTP/1.0 405 Method Not Allowed\r\n\r\n");
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
        let Some(mut camera) = take_waiting(waiting, &cookie, stop) else {
            return;
        };
        // The requests come base64-encoded, each padded on its own: decoded four characters at a time.
        let mut pending = Vec::new();
        let mut decode = |b: &[u8]| {
            pending.extend(b.iter().filter(|c| !c.is_ascii_whitespace()));
            let whole = pending.len() / 4 * 4;
            let mut out = Vec::new();
            for quad in pending[..whole].chunks(4) {
                let engine = &base64::engine::general_purpose::STANDARD;
                out.extend(engine.decode(quad).ok()?);
            }
            pending.drain(..whole);
            Some(out)
        };
        let Some(first) = decode(&rest) else {
            return;
        };
        if camera.write_all(&first).is_err() {
            return;
        }
        copy(&mut client, &mut camera, stop, decode);
        let _ = camera.shutdown(Shutdown::Both);
    }
}

/// The request head (up to its blank line, at most 16 KiB) and whatever came after it.
fn request_head(client: &mut TcpStream, stop: &AtomicBool) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) && buf.len() < 16 * 1024 {
        match client.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if no_data_yet(&e) => continue,
            Err(_) => return None,
        }
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Some((String::from_utf8_lossy(&buf).into_owned(), rest));
        }
    }
    None
}

/// The camera connection of the GET with `cookie`, waiting up to 2 s for the GET to come.
fn take_waiting(waiting: &Waiting, cookie: &str, stop: &AtomicBool) -> Option<TcpStream> {
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until && !stop.load(Ordering::SeqCst) {
        if let Some(c) = waiting.lock().unwrap().remove(cookie) {
            return Some(c);
        }
        thread::sleep(Duration::from_millis(5));
    }
    None
}

/// Copies `from` to `to` through `map` until either side closes, `map` refuses or the front stops. The
/// camera's side is acknowledged at once after each read and write, as the element does (its
/// `ack_promptly`), so the camera's Nagle never holds its packets back on this hop.
fn copy(
    from: &mut TcpStream,
    to: &mut TcpStream,
    stop: &AtomicBool,
    mut map: impl FnMut(&[u8]) -> Option<Vec<u8>>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::SeqCst) {
        let n = match from.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if no_data_yet(&e) => continue,
            Err(_) => return,
        };
        let Some(out) = map(&buf[..n]) else {
            return;
        };
        if to.write_all(&out).is_err() {
            return;
        }
        for s in [&*from, &*to] {
            let _ = socket2::SockRef::from(s).set_quickack(true);
        }
    }
}

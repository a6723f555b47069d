//! Reaching the camera: the host name resolved off the streaming thread, then a TCP connect; both give
//! way at once when the waker fires, so stopping a pipeline never waits for a DNS server or an
//! unreachable camera's SYN timeout.

use super::epoll::{wait_one, Waited, Waker};
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a name lookup may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to the first address of `host` that accepts. `Interrupted` when the waker fired.
pub fn connect(host: &str, port: u16, waker: &Waker) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "host name has no address");
    for addr in resolve(host, port, waker)? {
        match connect_interruptibly(addr, waker) {
            Ok(c) => return Ok(c),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The addresses of `host`. A lookup runs on a helper thread (getaddrinfo cannot be interrupted): the
/// streaming thread waits for its answer or the waker, whichever comes first; a lookup still running
/// then ends on its own.
fn resolve(host: &str, port: u16, waker: &Waker) -> io::Result<Vec<SocketAddr>> {
    resolve_with(host, port, waker, |name, port| {
        (name, port).to_socket_addrs().map(|a| a.collect())
    })
}

type Lookup = fn(&str, u16) -> io::Result<Vec<SocketAddr>>;

fn resolve_with(
    host: &str,
    port: u16,
    waker: &Waker,
    lookup: Lookup,
) -> io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let answer: Arc<Mutex<Option<io::Result<Vec<SocketAddr>>>>> = Arc::default();
    let (mut done, ready) = UnixStream::pair()?;
    let (slot, name) = (answer.clone(), host.to_string());
    std::thread::Builder::new()
        .name("rustrtspsrc-dns".into())
        .spawn(move || {
            *slot.lock().unwrap() = Some(lookup(&name, port));
            let _ = done.write_all(&[1]);
        })?;
    match wait_one(
        Some(ready.as_raw_fd()),
        false,
        Some(waker),
        Some(RESOLVE_TIMEOUT),
    )? {
        Waited::Woken => Err(io::ErrorKind::Interrupted.into()),
        Waited::TimedOut => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "no answer to the name lookup within {} s",
                RESOLVE_TIMEOUT.as_secs()
            ),
        )),
        Waited::Ready => answer
            .lock()
            .unwrap()
            .take()
            .unwrap_or_else(|| Err(io::ErrorKind::NotFound.into())),
    }
}

/// TCP connect that gives up after `CONNECT_TIMEOUT` and returns at once (`Interrupted`) when the waker
/// fires, so that stopping a pipeline never waits for an unreachable camera's SYN timeout.
fn connect_interruptibly(addr: SocketAddr, waker: &Waker) -> io::Result<TcpStream> {
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_nonblocking(true)?;
    match sock.connect(&SockAddr::from(addr)) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
            match wait_one(
                Some(sock.as_raw_fd()),
                true,
                Some(waker),
                Some(CONNECT_TIMEOUT),
            )? {
                Waited::Woken => return Err(io::ErrorKind::Interrupted.into()),
                Waited::TimedOut => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "connection timed out",
                    ))
                }
                Waited::Ready => {}
            }
            if let Some(e) = sock.take_error()? {
                return Err(e);
            }
        }
        Err(e) => return Err(e),
    }
    sock.set_nonblocking(false)?;
    Ok(sock.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn names_resolve_and_a_lookup_gives_way_to_the_waker() {
        let waker = Waker::new().unwrap();
        let addrs = resolve("localhost", 554, &waker).unwrap();
        assert!(
            addrs
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 554),
            "{addrs:?}"
        );
        assert_eq!(
            resolve("127.0.0.1", 8554, &waker).unwrap(),
            vec![SocketAddr::from(([127, 0, 0, 1], 8554))]
        );
    }

    #[test]
    fn a_hanging_lookup_gives_way_to_the_waker() {
        // A name server that never answers: getaddrinfo blocks for its whole timeout.
        let hang: Lookup = |_, _| {
            std::thread::sleep(Duration::from_secs(3));
            Err(io::ErrorKind::TimedOut.into())
        };
        let waker = Waker::new().unwrap();
        let w = waker.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            w.wake();
        });
        let start = Instant::now();
        let e = resolve_with("camera.example", 554, &waker, hang).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Interrupted);
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn connect_is_interrupted_by_the_waker() {
        use socket2::{Domain, Socket, Type};
        // A loopback listener whose backlog is full drops further SYNs: a connect that hangs.
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        listener
            .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        listener.listen(0).unwrap();
        let addr = listener.local_addr().unwrap().as_socket().unwrap();
        let fillers: Vec<_> = (0..4)
            .filter_map(|_| {
                let s = Socket::new(Domain::IPV4, Type::STREAM, None).ok()?;
                s.set_nonblocking(true).ok()?;
                let _ = s.connect(&addr.into());
                Some(s)
            })
            .collect();
        std::thread::sleep(Duration::from_millis(100));
        let waker = Waker::new().unwrap();
        let w = waker.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            w.wake();
        });
        let start = Instant::now();
        let r = connect_interruptibly(addr, &waker);
        t.join().unwrap();
        drop(fillers);
        let e = r.expect_err("the connect should hang until woken");
        assert_eq!(e.kind(), io::ErrorKind::Interrupted, "{e}");
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}

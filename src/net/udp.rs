//! The client's UDP ports: RTP on an even port (one socket, or two with marker steering), RTCP on the
//! next one (RFC 3550 §11), large receive buffers so a burst of a 1080p keyframe is not dropped by the
//! kernel.

use super::steering;
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

const RECV_BUFFER: usize = 4 * 1024 * 1024;

/// The sockets of the RTP/RTCP port pair.
#[derive(Debug)]
pub struct UdpPorts {
    /// The RTP socket the receive loop waits on: every packet, or with marker steering only those that
    /// should wake it (see `steering`).
    pub rtp: UdpSocket,
    /// With marker steering, the RTP socket holding the other packets; read when `rtp` fires.
    pub rtp_bulk: Option<UdpSocket>,
    pub rtcp: UdpSocket,
}

impl UdpPorts {
    pub fn rtp_port(&self) -> u16 {
        self.rtp.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Binds a pair for receiving from a server at `server` (its address family decides ours).
    /// `range`: inclusive port range to pick from (`port-range`), else any free even port, taking the
    /// kernel's pick up to `tries` times (rtspsrc's `retry`: half its picks are odd). `steer`: with
    /// marker steering where the kernel offers it (the video's; a stream beside it is read when the
    /// video wakes the loop, or wakes it with every packet, so a second socket would only cost a read).
    pub fn bind(
        server: IpAddr,
        range: Option<(u16, u16)>,
        tries: u32,
        steer: bool,
        log: &crate::log::Log,
    ) -> io::Result<UdpPorts> {
        let any = match server {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        let mut last_err = None;
        match range {
            Some((lo, hi)) => {
                let first = lo + (lo % 2);
                for port in (first..hi).step_by(2) {
                    match Self::bind_at(any, port, None, steer, log) {
                        Ok(pair) => return Ok(pair),
                        Err(e) => last_err = Some(e),
                    }
                }
                Err(last_err.unwrap_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("port-range {lo}-{hi} holds no even/odd port pair"),
                    )
                }))
            }
            None => {
                for _ in 0..tries.max(1) {
                    // The kernel's pick of a free port, held until the RTCP port is ours too.
                    let probe = socket(SocketAddr::new(any, 0))?;
                    let port = probe.local_addr()?.as_socket().map_or(0, |a| a.port());
                    if port % 2 != 0 || port == u16::MAX {
                        continue;
                    }
                    match Self::bind_at(any, port, Some(probe), steer, log) {
                        Ok(pair) => return Ok(pair),
                        Err(e) => last_err = Some(e),
                    }
                }
                Err(last_err.unwrap_or_else(|| {
                    io::Error::new(io::ErrorKind::AddrInUse, "no free even/odd UDP port pair")
                }))
            }
        }
    }

    /// Binds RTCP at `port + 1` first: a plain socket there keeps other instances (which bind their
    /// RTCP port the same way) off `port`, which the RTP sockets then take with SO_REUSEPORT. `probe`
    /// holds `port` until then.
    fn bind_at(
        any: IpAddr,
        port: u16,
        probe: Option<Socket>,
        steer: bool,
        log: &crate::log::Log,
    ) -> io::Result<UdpPorts> {
        let rtcp = socket(SocketAddr::new(
            any,
            port.checked_add(1).ok_or(io::ErrorKind::InvalidInput)?,
        ))?;
        drop(probe);
        let addr = SocketAddr::new(any, port);
        if !steer {
            return Ok(UdpPorts {
                rtp: socket(addr)?.into(),
                rtp_bulk: None,
                rtcp: rtcp.into(),
            });
        }
        let (rtp, rtp_bulk) = match steering::bind(addr, RECV_BUFFER) {
            Ok(s) => (s.wake, Some(s.bulk.into())),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => return Err(e),
            Err(e) => {
                crate::log!(log, Debug, "no marker steering on port {}: {}", port, e);
                (socket(addr)?, None)
            }
        };
        Ok(UdpPorts {
            rtp: rtp.into(),
            rtp_bulk,
            rtcp: rtcp.into(),
        })
    }
}

fn socket(addr: SocketAddr) -> io::Result<Socket> {
    bound_socket(addr, RECV_BUFFER, false)
}

/// The one UDP socket builder: non-blocking, a large receive buffer, bound to `addr`; with `reuse_port`
/// in an SO_REUSEPORT group (marker steering).
pub(super) fn bound_socket(
    addr: SocketAddr,
    recv_buffer: usize,
    reuse_port: bool,
) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if reuse_port {
        s.set_reuse_port(true)?;
    }
    // Best effort: the kernel caps it at net.core.rmem_max.
    let _ = s.set_recv_buffer_size(recv_buffer);
    // Best effort too: each datagram's kernel receive time (`batch.rs`), for the reception statistics.
    let _ = receive_times(&s);
    s.bind(&addr.into())?;
    s.set_nonblocking(true)?;
    Ok(s)
}

/// Asks the kernel for each datagram's receive time (`SO_TIMESTAMPNS`), read with it by `recvmmsg`.
pub fn receive_times(s: &impl std::os::fd::AsRawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: a valid socket descriptor and a c_int option value of the size given.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_odd_pair() {
        let p = UdpPorts::bind(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            None,
            20,
            true,
            &Default::default(),
        )
        .unwrap();
        let rtp = p.rtp.local_addr().unwrap().port();
        assert_eq!(rtp % 2, 0);
        assert_eq!(p.rtcp.local_addr().unwrap().port(), rtp + 1);
        let bulk = p.rtp_bulk.as_ref().expect("marker steering on Linux");
        assert_eq!(bulk.local_addr().unwrap().port(), rtp);
        let plain = UdpPorts::bind(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            None,
            20,
            false,
            &Default::default(),
        )
        .unwrap();
        assert!(plain.rtp_bulk.is_none());
        assert_eq!(
            plain.rtcp.local_addr().unwrap().port(),
            plain.rtp_port() + 1
        );
    }

    #[test]
    fn from_range() {
        // Below the kernel's ephemeral range (32768–60999): no other process's socket is handed a port
        // here while the test runs (a bench server held 41005 once, and the pair moved on).
        let p = UdpPorts::bind(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            Some((31001, 31010)),
            1,
            true,
            &Default::default(),
        )
        .unwrap();
        assert_eq!(p.rtp_port(), 31002);
        let q = UdpPorts::bind(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            Some((31001, 31010)),
            1,
            true,
            &Default::default(),
        )
        .unwrap();
        assert_eq!(q.rtp_port(), 31004);
        assert!(UdpPorts::bind(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            Some((31003, 31003)),
            1,
            true,
            &Default::default()
        )
        .is_err());
    }
}

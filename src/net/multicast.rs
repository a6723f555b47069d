//! RTP multicast: the RTP and RTCP sockets of a group the SETUP reply names, joined on `multicast-iface`
//! (or the interface the routing table picks), source-specific when the SDP gives a source filter
//! (IPv4). Several elements, in one process or not, may receive the same group: each socket sets
//! SO_REUSEADDR and SO_REUSEPORT, and Linux gives every one of them a copy. Marker steering stays off here: its
//! SO_REUSEPORT group would spread the packets among the receivers instead of copying them.

use super::udp::UdpPorts;
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use std::ffi::CString;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

const RECV_BUFFER: usize = 4 * 1024 * 1024;

/// Where and how to receive a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub address: IpAddr,
    /// RTP and RTCP ports.
    pub ports: (u16, u16),
    /// Source-specific multicast: only this sender's packets (IPv4).
    pub source: Option<IpAddr>,
    pub ttl: u8,
}

/// The index of interface `name` (`multicast-iface`).
fn interface_index(name: &str) -> io::Result<u32> {
    let c = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: a valid NUL-terminated string for the duration of the call.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("multicast-iface {name:?}: no such network interface"),
        )),
        i => Ok(i),
    }
}

/// The first IPv4 address of interface `index` (what source-specific joins and IP_MULTICAST_IF take).
fn interface_v4(index: u32) -> io::Result<Ipv4Addr> {
    let mut addrs: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `addrs` with a list freed below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut addrs) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut found = None;
    let mut cur = addrs;
    while !cur.is_null() {
        // SAFETY: `cur` walks the list getifaddrs returned; the names and addresses it points to live
        // until freeifaddrs.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: as above; sa_family tells the address type.
        let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
        // SAFETY: ifa_name is a NUL-terminated string.
        let this = unsafe { libc::if_nametoindex(ifa.ifa_name) };
        if family == libc::AF_INET && this == index {
            // SAFETY: an AF_INET address is a sockaddr_in.
            let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
            found = Some(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)));
            break;
        }
    }
    // SAFETY: the list getifaddrs returned, freed once.
    unsafe { libc::freeifaddrs(addrs) };
    found.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            "multicast-iface has no IPv4 address",
        )
    })
}

/// One socket bound to the group's `port`, joined.
fn join(group: &Group, port: u16, iface: Option<u32>) -> io::Result<UdpSocket> {
    let addr = SocketAddr::new(group.address, port);
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    sock.set_reuse_address(true)?;
    // GLib sockets (gst-rtsp-server's own, udpsrc) set SO_REUSEPORT as well; sharing needs both sides
    // to agree. Multicast datagrams still go to every socket (REUSEPORT balances unicast only).
    sock.set_reuse_port(true)?;
    let _ = sock.set_recv_buffer_size(RECV_BUFFER);
    // Bound to the group address: only that group's datagrams, not other groups' on the same port.
    sock.bind(&addr.into())?;
    match (group.address, group.source) {
        (IpAddr::V4(g), Some(IpAddr::V4(src))) => {
            let local = iface.map(interface_v4).transpose()?;
            sock.join_ssm_v4(&src, &g, &local.unwrap_or(Ipv4Addr::UNSPECIFIED))?;
        }
        (IpAddr::V4(g), _) => {
            let on = iface.map_or(
                InterfaceIndexOrAddress::Address(Ipv4Addr::UNSPECIFIED),
                InterfaceIndexOrAddress::Index,
            );
            sock.join_multicast_v4_n(&g, &on)?;
            if let Some(i) = iface {
                sock.set_multicast_if_v4(&interface_v4(i)?)?;
            }
            sock.set_multicast_ttl_v4(u32::from(group.ttl))?;
        }
        (IpAddr::V6(g), _) => {
            sock.join_multicast_v6(&g, iface.unwrap_or(0))?;
            if let Some(i) = iface {
                sock.set_multicast_if_v6(i)?;
            }
            sock.set_multicast_hops_v6(u32::from(group.ttl))?;
        }
    }
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

/// The RTP and RTCP sockets of `group`, joined on `iface` (a name) or where the routes say.
pub fn bind(group: &Group, iface: Option<&str>) -> io::Result<UdpPorts> {
    if !group.address.is_multicast() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a multicast address", group.address),
        ));
    }
    let index = iface.map(interface_index).transpose()?;
    Ok(UdpPorts {
        rtp: join(group, group.ports.0, index)?,
        rtp_bulk: None,
        rtcp: join(group, group.ports.1, index)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_interfaces_and_unicast_groups_are_errors() {
        let group = Group {
            address: "224.3.0.9".parse().unwrap(),
            ports: (47000, 47001),
            source: None,
            ttl: 1,
        };
        let e = bind(&group, Some("no-such-if0")).unwrap_err();
        assert!(e.to_string().contains("no-such-if0"), "{e}");
        let unicast = Group {
            address: "127.0.0.1".parse().unwrap(),
            ..group
        };
        assert!(bind(&unicast, None).is_err());
    }

    #[test]
    fn loopback_has_an_index_and_an_address() {
        let lo = interface_index("lo").unwrap();
        assert_eq!(interface_v4(lo).unwrap(), Ipv4Addr::LOCALHOST);
    }
}

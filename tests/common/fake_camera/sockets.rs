//! The camera's sockets as a camera on Ethernet has them.

use std::net::TcpListener;

/// A read that ran into the socket's read timeout: nothing has arrived yet.
pub fn no_data_yet(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// The largest TCP segment over Ethernet with timestamps: 1500 − 20 (IP) − 20 (TCP) − 12 (options).
pub const ETHERNET_MSS: u32 = 1448;

/// A non-blocking listener on 127.0.0.1:`port` (0: any), its connections' segments at most `mss` bytes
/// (set before any connection, it is the MSS both sides announce).
pub fn listen(port: u16, mss: Option<u32>) -> TcpListener {
    let l = TcpListener::bind(("127.0.0.1", port)).expect("bind the camera's RTSP port");
    if let Some(mss) = mss {
        socket2::SockRef::from(&l).set_mss(mss).expect("TCP_MAXSEG");
    }
    l.set_nonblocking(true).unwrap();
    l
}

//! The session client on a multicast group, per stream: the SETUP reply names the group and its ports;
//! the sockets joined there replace the stream's unicast pair in the receive loop, and its receiver
//! reports go to the group (where the camera listens, as RFC 3550 §6 has every member do).

use super::tokens::Token;
use super::{ClientError, SessionClient};
use crate::net::multicast::{self, Group};
use crate::net::steering::RtpReader;
use crate::rtsp::headers::Transport;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;

/// TTL when the reply names none (gst-rtsp-server's and rtspsrc's default).
const DEFAULT_TTL: u8 = 16;

impl SessionClient {
    pub(super) fn join_group(
        &mut self,
        stream: usize,
        transport: &Transport,
    ) -> Result<(), ClientError> {
        let err = |why: String| ClientError::Multicast(why);
        let Some(s) = self.streams.get_mut(stream) else {
            return Ok(());
        };
        // The reply's destination; servers that leave it out mean the SDP's c= group.
        let named = transport
            .destination
            .clone()
            .or_else(|| s.spec.connection.clone())
            .ok_or_else(|| err("neither the SETUP reply nor the SDP names a group".into()))?;
        let address: IpAddr = named
            .parse()
            .map_err(|_| err(format!("the group {named:?} is not an address")))?;
        let ports = transport
            .port
            .or(transport.server_port)
            .ok_or_else(|| err("the SETUP reply names no port for the group".into()))?;
        // Source-specific: the SDP's source filter; the packets must come from there too.
        let source = s
            .spec
            .source_filter
            .as_deref()
            .or(transport.source.as_deref())
            .and_then(|s| s.parse().ok());
        let group = Group {
            address,
            ports,
            source,
            ttl: transport.ttl.unwrap_or(DEFAULT_TTL),
        };
        let udp = multicast::bind(&group, self.cfg.multicast_iface.as_deref())
            .map_err(|e| err(format!("joining {address} port {}: {e}", ports.0)))?;
        let setup_err = |e| ClientError::Io("epoll".into(), e);
        self.poller
            .add(udp.rtp.as_raw_fd(), Token::Rtp(stream).id())
            .map_err(setup_err)?;
        self.poller
            .add(udp.rtcp.as_raw_fd(), Token::Rtcp(stream).id())
            .map_err(setup_err)?;
        crate::log!(
            self.cfg.log,
            Debug,
            "stream {}: receiving multicast group {} ports {}-{}{}",
            stream,
            address,
            ports.0,
            ports.1,
            source
                .map(|s| format!(" from {s} only"))
                .unwrap_or_default()
        );
        if let Some(src) = source {
            s.source_ip = Some(src);
        }
        s.server_rtcp = Some(SocketAddr::new(address, ports.1));
        s.rtp_reader.get_or_insert_with(RtpReader::new);
        s.bulk_watched = false;
        // The unicast pair, if any, is closed (and so leaves the epoll set).
        s.udp = Some(udp);
        Ok(())
    }
}

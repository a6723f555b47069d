//! One set-up stream's receiving side in the session client: its inbound path (`stream::inbound`), its
//! UDP ports or interleaved channels, where its packets may come from and its reports go, and the RTP
//! that came before the PLAY reply.

use super::tokens::Token;
use crate::net::epoll::Poller;
use crate::net::steering::{RtpReader, WakePolicy};
use crate::net::udp::UdpPorts;
use crate::rtp::keyframe_request::KeyframeFeedback;
use crate::rtsp::headers::RtpInfo;
use crate::stream::inbound::Inbound;
use crate::stream::StreamSpec;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Instant;

pub(super) struct StreamReceiver {
    /// Its place among the session's streams: its epoll tokens and interleaved channels follow from it.
    pub index: usize,
    pub spec: StreamSpec,
    pub inbound: Inbound,
    /// Its unicast port pair (bound when UDP is allowed), or the multicast group's sockets.
    pub udp: Option<UdpPorts>,
    pub rtp_reader: Option<RtpReader>,
    /// Whether the poller watches the bulk RTP socket (marker steering), i.e. every packet wakes the
    /// loop: while order or timing matters, not while the stream is steady.
    pub bulk_watched: bool,
    /// Whether the poller watches its RTP sockets at all. A stream beside the video is read when the
    /// video wakes the loop instead, while that comes often enough (`udp_rtp.rs`).
    pub rtp_watched: bool,
    pub wake_policy: WakePolicy,
    /// The last read stopped with datagrams still queued or held: read again without waiting.
    pub rtp_backlog: bool,
    /// The arrival time the last RTP read went by (arrival times never go back).
    pub last_rtp_read: Instant,
    /// Where its RTP may come from besides the RTSP server's address (the SDP's or SETUP's source).
    pub source_ip: Option<IpAddr>,
    pub server_rtcp: Option<SocketAddr>,
    /// Interleaved RTP and RTCP channels once SETUP chose TCP.
    pub channels: Option<(u8, u8)>,
    /// RTP that came before the PLAY reply, for once RTP-Info has named the SSRC.
    pub early_rtp: Vec<Vec<u8>>,
    /// SETUP's reply named the SSRC (RTP-Info's then does not override it).
    pub ssrc_from_setup: bool,
    /// The camera refused its SETUP: it gets no pad and carries nothing.
    pub left_out: bool,
}

impl StreamReceiver {
    /// Stream `index` as `spec` describes it, with the parameter sets its SDP gives; `udp`: its port
    /// pair, registered in `poller`.
    pub fn new(
        index: usize,
        spec: StreamSpec,
        mut inbound: Inbound,
        udp: Option<UdpPorts>,
        poller: &Poller,
        now: Instant,
    ) -> io::Result<StreamReceiver> {
        inbound.set_stream(&spec);
        // PLI where offered: it is the lighter request, and the one cameras implement.
        inbound.set_keyframe_feedback(match (spec.pli, spec.fir) {
            (true, _) => Some(KeyframeFeedback::Pli),
            (false, true) => Some(KeyframeFeedback::Fir),
            (false, false) => None,
        });
        if let Some(u) = &udp {
            poller.add(u.rtp.as_raw_fd(), Token::Rtp(index).id())?;
            if let Some(bulk) = &u.rtp_bulk {
                poller.add(bulk.as_raw_fd(), Token::RtpBulk(index).id())?;
            }
            // A few packets every few seconds; watched so that a BYE ends the session at once.
            poller.add(u.rtcp.as_raw_fd(), Token::Rtcp(index).id())?;
        }
        Ok(StreamReceiver {
            index,
            source_ip: spec.connection.as_deref().and_then(|c| c.parse().ok()),
            spec,
            inbound,
            bulk_watched: udp.as_ref().is_some_and(|u| u.rtp_bulk.is_some()),
            rtp_watched: true,
            rtp_reader: udp.is_some().then(RtpReader::new),
            udp,
            wake_policy: WakePolicy::default(),
            rtp_backlog: false,
            last_rtp_read: now,
            server_rtcp: None,
            channels: None,
            early_rtp: Vec::new(),
            ssrc_from_setup: false,
            left_out: false,
        })
    }

    /// The SDP's parameter sets go to the depacketizer; those it cannot use are named for a warning.
    pub fn load_sdp_parameter_sets(&mut self) -> Vec<String> {
        let (nals, problems) = self.spec.codec.decode_sprop(&self.spec.sprop);
        for nal in &nals {
            self.inbound.depay.set_parameter_set(nal);
        }
        problems
    }

    /// The PLAY reply: the SSRC its RTP-Info names (when SETUP's named none), then the RTP that came
    /// before it.
    pub fn on_playing(&mut self, info: Option<RtpInfo>, now: Instant) {
        // Reolink names the SSRC only in RTP-Info; SETUP's, when given, stays.
        if let Some(ssrc) = info
            .as_ref()
            .and_then(|i| i.ssrc)
            .filter(|_| !self.ssrc_from_setup)
        {
            self.inbound.set_ssrc(Some(ssrc));
        }
        // RTP-Info seq/rtptime only tell a stranger from the stream (Hikvision and Tapo send bogus
        // values, filtered there); timing starts from the first packet.
        if let Some(info) = &info {
            self.inbound.set_rtp_info(info.seq, info.rtptime);
        }
        for packet in std::mem::take(&mut self.early_rtp) {
            self.inbound.on_packet(&packet, now);
        }
    }
}

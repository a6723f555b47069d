//! The session client's RTCP, per stream: the camera's reports over UDP (a BYE for a stream's source
//! ends the session), and our compound receiver reports, with a keyframe request when one is due. Also
//! the packets that open a NAT for the camera's, which go from the same ports.

use super::{ClientError, SessionClient, RTCP_INTERVAL};
use crate::stream::inbound::RTCP_MAX;
use std::net::SocketAddr;
use std::time::Instant;

/// Dummy packets sent to each of the camera's ports: one may be lost.
const NAT_PACKETS: usize = 2;

impl SessionClient {
    /// Reads the camera's RTCP over UDP for stream `i`; a BYE for its source ends the session.
    pub(super) fn read_rtcp(&mut self, i: usize) -> Result<(), ClientError> {
        let (server_ip, our_ssrc) = (self.server_ip, self.our_ssrc);
        let Some(s) = self.streams.get_mut(i) else {
            return Ok(());
        };
        let Some(udp) = &s.udp else { return Ok(()) };
        let mut buf = [0u8; 1500];
        let mut bye = false;
        while let Ok((n, from)) = udp.rtcp.recv_from(&mut buf) {
            if from.ip() == server_ip || Some(from.ip()) == s.source_ip {
                bye |= s.inbound.on_rtcp(&buf[..n], our_ssrc, Instant::now());
            }
        }
        if bye {
            return Err(ClientError::Bye);
        }
        Ok(())
    }

    /// A receiver report for every stream that has heard its source, each on its own channel or port.
    pub(super) fn send_receiver_reports(&mut self, now: Instant) {
        self.next_rtcp = now + RTCP_INTERVAL;
        for i in 0..self.streams.len() {
            self.send_receiver_report(i, now);
        }
    }

    fn send_receiver_report(&mut self, i: usize, now: Instant) {
        let our_ssrc = self.our_ssrc;
        let Some(s) = self.streams.get_mut(i) else {
            return;
        };
        let mut rr = [0u8; 4 + RTCP_MAX];
        let (head, body) = rr.split_at_mut(4);
        let body: &mut [u8; RTCP_MAX] = body.try_into().expect("RTCP_MAX bytes");
        let Some(n) = s.inbound.receiver_report(our_ssrc, now, body) else {
            return;
        };
        let result = match (s.channels, &s.udp, s.server_rtcp) {
            (Some((_, ch)), _, _) => {
                head.copy_from_slice(&[b'$', ch, 0, n as u8]);
                self.conn.write(&rr[..4 + n])
            }
            (None, Some(udp), Some(dest)) => udp.rtcp.send_to(&rr[4..4 + n], dest).map(|_| ()),
            _ => Ok(()),
        };
        if let Err(e) = result {
            crate::log!(self.cfg.log, Debug, "RTCP receiver report not sent: {}", e);
        }
    }

    /// `nat-method=dummy`: a NAT in front of us lets the camera's packets in only on ports we sent from,
    /// to the address and port we sent to. Sent before PLAY, to the RTSP server's address (as RTCP):
    /// an empty RTP packet of our SSRC on stream `i`'s payload type (no payload, nothing a camera could
    /// take for media) and an empty receiver report.
    pub(super) fn open_nat(&self, i: usize, (rtp_port, rtcp_port): (u16, u16)) {
        let Some(s) = self.streams.get(i) else { return };
        let Some(udp) = &s.udp else { return };
        let mut rtp = [0u8; 12];
        rtp[0] = 0x80;
        rtp[1] = s.spec.payload_type & 0x7f;
        rtp[8..12].copy_from_slice(&self.our_ssrc.to_be_bytes());
        let mut rr = [0x80, 201, 0, 1, 0, 0, 0, 0];
        rr[4..8].copy_from_slice(&self.our_ssrc.to_be_bytes());
        for _ in 0..NAT_PACKETS {
            let sent = udp
                .rtp
                .send_to(&rtp, SocketAddr::new(self.server_ip, rtp_port))
                .and_then(|_| {
                    udp.rtcp
                        .send_to(&rr, SocketAddr::new(self.server_ip, rtcp_port))
                });
            if let Err(e) = sent {
                crate::log!(self.cfg.log, Debug, "NAT dummy packet not sent: {}", e);
                return;
            }
        }
        crate::log!(
            self.cfg.log,
            Debug,
            "sent {} dummy packets to the camera's ports {}-{} to open a NAT",
            NAT_PACKETS,
            rtp_port,
            rtcp_port
        );
    }
}

//! The session client's RTCP: the camera's reports over UDP (a BYE for our source ends the session), and
//! our compound receiver reports, with a keyframe request when one is due.

use super::{ClientError, SessionClient, RTCP_INTERVAL};
use crate::rtp::inbound::RTCP_MAX;
use std::time::Instant;

impl SessionClient {
    /// Reads the camera's RTCP over UDP; a BYE for our source ends the session.
    pub(super) fn read_rtcp(&mut self) -> Result<(), ClientError> {
        let Some(udp) = &self.udp else { return Ok(()) };
        let mut buf = [0u8; 1500];
        let mut bye = false;
        while let Ok((n, from)) = udp.rtcp.recv_from(&mut buf) {
            if from.ip() == self.server_ip || Some(from.ip()) == self.source_ip {
                bye |= self
                    .inbound
                    .on_rtcp(&buf[..n], self.our_ssrc, Instant::now());
            }
        }
        if bye {
            return Err(ClientError::Bye);
        }
        Ok(())
    }

    pub(super) fn send_receiver_report(&mut self, now: Instant) {
        self.next_rtcp = now + RTCP_INTERVAL;
        let mut rr = [0u8; 4 + RTCP_MAX];
        let (head, body) = rr.split_at_mut(4);
        let body: &mut [u8; RTCP_MAX] = body.try_into().expect("RTCP_MAX bytes");
        let Some(n) = self.inbound.receiver_report(self.our_ssrc, now, body) else {
            return;
        };
        let result = match (self.channels, &self.udp, self.server_rtcp) {
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
}

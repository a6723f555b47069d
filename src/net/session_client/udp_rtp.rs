//! The session client's RTP over UDP (unicast or multicast): reading the port's datagrams in sequence
//! order across the steered pair, choosing which socket wakes the loop, and keeping RTP that comes
//! before the PLAY reply.

use super::{ClientError, SessionClient, TOKEN_RTP_BULK};
use crate::net::batch::BATCH;
use std::io;
use std::os::fd::AsRawFd;
use std::time::Instant;

/// Datagrams read per wake-up before the other sockets get a look.
const UDP_BATCH: usize = 4 * BATCH;
/// RTP kept from before the PLAY reply is read (Reolink and v4l2rtspserver send data first; over UDP
/// the reply may simply be read later): a keyframe's first packets, bounded in count and bytes.
const EARLY_RTP_PACKETS: usize = 256;
const EARLY_RTP_BYTES: usize = 2 * 1024 * 1024;

impl SessionClient {
    /// With marker steering: lets only the wake socket wake the loop while the stream is steady, and
    /// every packet otherwise (so that gaps, deadlines and markerless cameras are served as they come).
    pub(super) fn watch_bulk(&mut self, now: Instant) -> io::Result<()> {
        let Some(bulk) = self.udp.as_ref().and_then(|u| u.rtp_bulk.as_ref()) else {
            return Ok(());
        };
        let want = self.wake_policy.every_packet(
            self.playing_since.is_some(),
            self.inbound.depay.ended_by_marker(),
            self.inbound.waiting_on_gap(),
            now,
        );
        if want != self.bulk_watched {
            if want {
                self.poller.add(bulk.as_raw_fd(), TOKEN_RTP_BULK)?;
            } else {
                self.poller.remove(bulk.as_raw_fd())?;
            }
            self.bulk_watched = want;
        }
        Ok(())
    }

    /// Whether only the wake socket of a steered pair wakes the loop now.
    pub(super) fn steered_quietly(&self) -> bool {
        !self.bulk_watched && self.udp.as_ref().is_some_and(|u| u.rtp_bulk.is_some())
    }

    /// Reads the queued datagrams, in sequence order across the steered pair, as arrived at `now`.
    /// `bulk_only`: the wake socket is known to be empty.
    pub(super) fn read_rtp(&mut self, now: Instant, bulk_only: bool) -> Result<(), ClientError> {
        self.last_rtp_read = now;
        let (Some(udp), Some(reader)) = (&self.udp, &mut self.rtp_reader) else {
            return Ok(());
        };
        let expected = self.source_ip.unwrap_or(self.server_ip);
        let (inbound, server_ip) = (&mut self.inbound, self.server_ip);
        let (early, playing) = (&mut self.early_rtp, self.playing_since.is_some());
        self.rtp_backlog = reader
            .read(
                &udp.rtp,
                udp.rtp_bulk.as_ref(),
                UDP_BATCH / BATCH,
                bulk_only,
                |data, from| match (data, from) {
                    (_, Some(from)) if from != expected && from != server_ip => {
                        inbound.foreign_source()
                    }
                    (Some(data), _) if playing => inbound.on_packet(data, now),
                    (Some(data), _) => hold_early(early, data),
                    (None, _) => inbound.oversized(),
                },
            )
            .map_err(|e| ClientError::Io("receiving RTP".into(), e))?;
        Ok(())
    }
}

/// Keeps an RTP packet that came before the PLAY reply, while within the bounds; it goes to the
/// inbound stream once the reply's RTP-Info has named the SSRC (else the first packet, perhaps a
/// stranger's, would choose it). What is not RTP is dropped uncounted, as before the stream began.
pub(super) fn hold_early(early: &mut Vec<Vec<u8>>, packet: &[u8]) {
    if crate::rtp::packet::RtpPacket::parse(packet).is_err() {
        return;
    }
    let held: usize = early.iter().map(Vec::len).sum();
    if early.len() < EARLY_RTP_PACKETS && held + packet.len() <= EARLY_RTP_BYTES {
        early.push(packet.to_vec());
    }
}

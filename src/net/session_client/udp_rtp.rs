//! The session client's RTP over UDP (unicast or multicast), per stream: reading the port's datagrams
//! in sequence order across the steered pair, choosing which socket wakes the loop, and keeping RTP
//! that comes before the PLAY reply.

use super::stream_receiver::StreamReceiver;
use super::tokens::{Ready, Token};
use super::{ClientError, SessionClient};
use crate::net::batch::{ReceiveClock, BATCH};
use std::io;
use std::os::fd::AsRawFd;
use std::time::Instant;

/// Datagrams read per wake-up before the other sockets get a look.
const UDP_BATCH: usize = 4 * BATCH;
/// RTP kept from before the PLAY reply is read (Reolink and v4l2rtspserver send data first; over UDP
/// the reply may simply be read later): a keyframe's first packets, bounded in count and bytes.
const EARLY_RTP_PACKETS: usize = 256;
const EARLY_RTP_BYTES: usize = 2 * 1024 * 1024;

impl StreamReceiver {
    /// Whether only the wake socket of a steered pair wakes the loop now.
    pub(super) fn steered_quietly(&self) -> bool {
        !self.bulk_watched && self.udp.as_ref().is_some_and(|u| u.rtp_bulk.is_some())
    }
}

impl SessionClient {
    /// Whether the streams beside the video are read when the video wakes the loop, rather than waking
    /// it themselves: while playing, with the video steered (a wake-up per picture, not per packet)
    /// and its pictures coming at least every `SIDE_WAIT` and the reorder window. An AAC or G.711
    /// camera sends a packet every 20 to 64 ms, each a frame with the marker bit: woken for each, the
    /// loop would wake more often for the audio than for the video. With the video slower (a 1 fps
    /// substream) they wake the loop as they come.
    fn side_reads_follow_video(&self) -> bool {
        let bound = super::SIDE_WAIT.min(self.cfg.latency);
        self.playing_since.is_some()
            && self.primary().is_some_and(|p| {
                p.steered_quietly() && p.wake_policy.wakes_within(p.inbound.clock_rate(), bound)
            })
    }

    /// Watches the RTP sockets of the streams beside the video, or stops watching them, as
    /// `side_reads_follow_video` says. Call after the video's `watch_bulk`.
    pub(super) fn watch_side_streams(&mut self) -> io::Result<()> {
        let want = !self.side_reads_follow_video();
        for s in self.streams.iter_mut().skip(1) {
            let Some(udp) = s.udp.as_ref().filter(|_| want != s.rtp_watched) else {
                continue;
            };
            // One socket each: marker steering is the video's alone (`UdpPorts::bind`).
            if want {
                self.poller
                    .add(udp.rtp.as_raw_fd(), Token::Rtp(s.index).id())?;
            } else {
                self.poller.remove(udp.rtp.as_raw_fd())?;
            }
            s.rtp_watched = want;
        }
        Ok(())
    }

    /// With marker steering: lets only stream `i`'s wake socket wake the loop while the stream is
    /// steady, and every packet otherwise (so that gaps, deadlines and markerless cameras are served as
    /// they come).
    pub(super) fn watch_bulk(&mut self, i: usize, now: Instant) -> io::Result<()> {
        let playing = self.playing_since.is_some();
        let Some(s) = self.streams.get_mut(i) else {
            return Ok(());
        };
        let Some(bulk) = s.udp.as_ref().and_then(|u| u.rtp_bulk.as_ref()) else {
            return Ok(());
        };
        let want = s.wake_policy.every_packet(
            playing,
            s.inbound.depay.ended_by_marker(),
            s.inbound.waiting_on_gap(),
            now,
        );
        if want != s.bulk_watched {
            if want {
                self.poller.add(bulk.as_raw_fd(), Token::RtpBulk(i).id())?;
            } else {
                self.poller.remove(bulk.as_raw_fd())?;
            }
            s.bulk_watched = want;
        }
        Ok(())
    }

    /// Stream `i`'s UDP after a wait that reported `ready`: its RTP when a socket has some, a backlog
    /// waits, the reorder window's deadline passed or a frame is overdue while only marker packets wake
    /// the loop; its RTCP when some came.
    pub(super) fn serve_udp(&mut self, i: usize, ready: Ready) -> Result<(), ClientError> {
        let Some(s) = self.streams.get_mut(i) else {
            return Ok(());
        };
        // Not watched: read whenever the loop wakes.
        let unwatched = !s.rtp_watched && s.udp.is_some();
        // A frame overdue while only marker packets wake the loop: its marker packet may be lost, its
        // other packets waiting in the bulk socket.
        let overdue =
            s.steered_quietly() && s.wake_policy.overdue().is_some_and(|o| Instant::now() >= o);
        let mut arrival = Instant::now();
        if overdue {
            if let Some(due) = s.wake_policy.due() {
                arrival = due.max(s.last_rtp_read).min(arrival);
            }
            s.wake_policy.looked(Instant::now(), s.inbound.clock_rate());
        }
        // The reorder window's deadline while only marker packets wake the loop: a late packet may wait
        // in the bulk socket, to be placed before the window gives up on it.
        let deadline = s.steered_quietly() && ready.timer();
        if unwatched || overdue || deadline || s.rtp_backlog || ready.rtp(i) {
            // Woken by the deadline alone: the wake socket is empty, epoll said so.
            let bulk_only = !unwatched && !overdue && !s.rtp_backlog && !ready.rtp(i);
            self.read_rtp(i, arrival, bulk_only)?;
        }
        if ready.has(Token::Rtcp(i)) {
            self.read_rtcp(i)?;
        }
        Ok(())
    }

    /// Reads stream `i`'s queued datagrams, in sequence order across the steered pair, as arrived at
    /// `now`. `bulk_only`: the wake socket is known to be empty.
    fn read_rtp(&mut self, i: usize, now: Instant, bulk_only: bool) -> Result<(), ClientError> {
        let (server_ip, playing) = (self.server_ip, self.playing_since.is_some());
        let Some(s) = self.streams.get_mut(i) else {
            return Ok(());
        };
        s.last_rtp_read = now;
        let (Some(udp), Some(reader)) = (&s.udp, &mut s.rtp_reader) else {
            return Ok(());
        };
        let expected = s.source_ip.unwrap_or(server_ip);
        let (inbound, early) = (&mut s.inbound, &mut s.early_rtp);
        let clock = ReceiveClock::now();
        s.rtp_backlog = reader
            .read(
                &udp.rtp,
                udp.rtp_bulk.as_ref(),
                UDP_BATCH / BATCH,
                bulk_only,
                |data, from, at| match (data, from) {
                    (_, Some(from)) if from != expected && from != server_ip => {
                        inbound.foreign_source()
                    }
                    (Some(data), _) if playing => {
                        let received = clock.instant_of(at).unwrap_or(now);
                        inbound.on_packet_received(data, now, received)
                    }
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

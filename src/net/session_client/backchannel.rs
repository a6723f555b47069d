//! ONVIF's audio back channel (ONVIF Streaming §5.3) in the session client: the audio the element's
//! upstream gives, sent to the camera's `sendonly` media as RTP over the session's transport (UDP from
//! our port pair to the camera's, or interleaved on the RTSP connection, TLS or not), with a sender
//! report every few seconds. The element's threads queue the audio (`BackchannelQueue`, bounded) and
//! wake the loop by the queue's own descriptor; the loop sends what is queued.

use super::tokens::Token;
use super::SessionClient;
use crate::net::epoll::Waker;
use crate::net::rtsp_connection::RtspConnection;
use crate::net::udp::UdpPorts;
use crate::rtp::sender::{Packing, RtpSender};
use crate::rtsp::headers::Transport;
use crate::rtsp::session::Lower;
use crate::stream::{Codec, StreamSpec};
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Frames queued at most: 2 s of 20 ms audio. Past it (the session is reconnecting), the newest are
/// dropped and counted.
const MAX_QUEUED: usize = 100;
/// Sender reports go out this often (RFC 3550's 5 s minimum interval).
const REPORT_INTERVAL: Duration = Duration::from_secs(5);

/// What the element gives the back channel.
#[derive(Debug)]
pub enum Outgoing {
    /// Encoded audio (G.711: a byte a sample; AAC: one access unit) captured at this running time (ns).
    Audio {
        data: Vec<u8>,
        running_time: Option<u64>,
    },
    /// An RTP packet the application made (`push-backchannel-sample`), sent as it is.
    Rtp(Vec<u8>),
}

/// The back channel's codec once SETUP chose it: what the element's pad accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackchannelFormat {
    pub codec: Codec,
    pub payload_type: u8,
    pub clock_rate: u32,
    /// AAC's sample rate and channels (its AudioSpecificConfig), G.711's 8000 and 1.
    pub rate: u32,
    pub channels: u32,
    /// The SDP media it is (rtspsrc's stream id for `push-backchannel-sample`).
    pub media_index: usize,
}

/// The element's side of the back channel: it queues, the session client sends.
#[derive(Debug)]
pub struct BackchannelQueue {
    items: Mutex<VecDeque<(Outgoing, Instant)>>,
    waker: Waker,
    format: Mutex<Option<BackchannelFormat>>,
    dropped: AtomicU64,
}

impl BackchannelQueue {
    pub fn new() -> io::Result<Arc<Self>> {
        Ok(Arc::new(BackchannelQueue {
            items: Mutex::default(),
            waker: Waker::new()?,
            format: Mutex::default(),
            dropped: AtomicU64::new(0),
        }))
    }

    /// Queues `item` for the camera; `false` when the queue is full (it is dropped).
    pub fn push(&self, item: Outgoing) -> bool {
        let mut items = self.items.lock().unwrap();
        if items.len() >= MAX_QUEUED {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        items.push_back((item, Instant::now()));
        drop(items);
        self.waker.wake();
        true
    }

    /// The codec the camera's back channel takes; `None` until a session set it up.
    pub fn format(&self) -> Option<BackchannelFormat> {
        *self.format.lock().unwrap()
    }

    /// Frames dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn take(&self) -> VecDeque<(Outgoing, Instant)> {
        self.waker.reset();
        std::mem::take(&mut *self.items.lock().unwrap())
    }
}

/// Where the back channel's packets go.
struct Route {
    udp: Option<UdpPorts>,
    /// The camera's RTP and RTCP ports (UDP), or our interleaved channels (TCP), once set up.
    dest: Option<(SocketAddr, SocketAddr)>,
    channels: Option<(u8, u8)>,
    /// An interleaved frame being written, kept for the next: no allocation per packet.
    frame: Vec<u8>,
}

impl Route {
    /// One RTP (or, `rtcp`, RTCP) packet to the camera: on its own port, or interleaved on `conn`.
    fn send(&mut self, conn: &mut RtspConnection, packet: &[u8], rtcp: bool) -> io::Result<()> {
        match (self.channels, &self.udp, self.dest) {
            (Some((rtp_ch, rtcp_ch)), _, _) => {
                let len = u16::try_from(packet.len())
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet too large"))?;
                self.frame.clear();
                self.frame
                    .extend_from_slice(&[b'$', if rtcp { rtcp_ch } else { rtp_ch }]);
                self.frame.extend_from_slice(&len.to_be_bytes());
                self.frame.extend_from_slice(packet);
                conn.write(&self.frame)
            }
            (None, Some(udp), Some((rtp, rtcp_dest))) => {
                let socket = if rtcp { &udp.rtcp } else { &udp.rtp };
                socket
                    .send_to(packet, if rtcp { rtcp_dest } else { rtp })
                    .map(|_| ())
            }
            _ => Ok(()),
        }
    }
}

/// The back channel of one session: its place among the SETUPs, where its packets go, its sender.
pub(super) struct BackchannelSender {
    /// Its SETUP's place after the streams received: interleaved channels 2i and 2i+1.
    pub index: usize,
    pub spec: StreamSpec,
    route: Route,
    sender: RtpSender,
    /// The latest frame's running time and when it was queued: the running time now, for reports.
    latest: Option<(u64, Instant)>,
    next_report: Instant,
}

impl BackchannelSender {
    pub fn new(index: usize, spec: StreamSpec, udp: Option<UdpPorts>, now: Instant) -> Self {
        let packing = match (&spec.codec, &spec.aac) {
            (Codec::Aac, Some(aac)) => Packing::AacHbr(aac.frame_length),
            (Codec::G726 { bits, aal2 }, _) => Packing::G726 {
                bits: *bits,
                rfc3551: !aal2,
            },
            _ => Packing::Samples(1),
        };
        let sender = RtpSender::new(
            spec.payload_type,
            spec.clock_rate,
            packing,
            crate::random::random_u64(),
        );
        BackchannelSender {
            index,
            spec,
            route: Route {
                udp,
                dest: None,
                channels: None,
                frame: Vec::new(),
            },
            sender,
            latest: None,
            // RFC 3550 §6.2: the first report after half the interval, so that the camera can place
            // the audio on the wall clock early.
            next_report: now + REPORT_INTERVAL / 2,
        }
    }

    fn format(&self) -> BackchannelFormat {
        let (rate, channels) = match &self.spec.aac {
            Some(aac) => (aac.sample_rate, self.spec.channels),
            None => (self.spec.clock_rate, self.spec.channels),
        };
        BackchannelFormat {
            codec: self.spec.codec,
            payload_type: self.spec.payload_type,
            clock_rate: self.spec.clock_rate,
            rate,
            channels,
            media_index: self.spec.media_index,
        }
    }
}

impl SessionClient {
    /// The back channel's SETUP answered: where its packets go; the element's pad learns the codec.
    pub(super) fn on_backchannel_set_up(&mut self, transport: &Transport, lower: Lower) {
        let server_ip = self.server_ip;
        let Some(b) = &mut self.backchannel else {
            return;
        };
        match lower {
            Lower::Tcp => {
                let ours = crate::rtsp::session::interleaved_channels(b.index);
                b.route.channels = Some(transport.interleaved.unwrap_or(ours));
            }
            // The camera's own address, never one a header names (as for reports).
            _ => {
                b.route.dest = transport.server_port.map(|(rtp, rtcp)| {
                    (
                        SocketAddr::new(server_ip, rtp),
                        SocketAddr::new(server_ip, rtcp),
                    )
                });
            }
        }
        crate::log!(
            self.cfg.log,
            Debug,
            "back channel set up: {} pt {} over {:?}",
            b.spec.codec.name(),
            b.spec.payload_type,
            lower
        );
        if let Some(queue) = &self.cfg.backchannel {
            *queue.format.lock().unwrap() = Some(b.format());
        }
    }

    /// The back channel's watch: its queue's descriptor wakes the loop.
    pub(super) fn watch_backchannel(&self) -> io::Result<()> {
        match &self.cfg.backchannel {
            Some(queue) => self.poller.add(queue.waker.fd(), Token::Backchannel.id()),
            None => Ok(()),
        }
    }

    /// Sends what the element queued, once playing, and a sender report when one is due. Frames queued
    /// before the back channel was set up are dropped: they are old by now.
    pub(super) fn send_backchannel(&mut self, now: Instant) {
        let Some(queue) = self.cfg.backchannel.clone() else {
            return;
        };
        let items = queue.take();
        let (Some(b), Some(_)) = (&mut self.backchannel, self.playing_since) else {
            return;
        };
        let BackchannelSender {
            route,
            sender,
            latest,
            next_report,
            ..
        } = b;
        let conn = &mut self.conn;
        // The first failure, logged once (the camera gone: the session ends by itself).
        let mut failed: Option<io::Error> = None;
        let mut keep = |r: io::Result<()>| {
            if let Err(e) = r {
                failed.get_or_insert(e);
            }
        };
        for (item, queued) in items {
            match item {
                Outgoing::Audio { data, running_time } => {
                    if let Some(rt) = running_time {
                        *latest = Some((rt, queued));
                    }
                    sender.packetize(&data, running_time, |p| keep(route.send(conn, p, false)));
                }
                Outgoing::Rtp(packet) => {
                    sender.count_sent(&packet);
                    keep(route.send(conn, &packet, false));
                }
            }
        }
        if let Some((rt, at)) = latest.filter(|_| now >= *next_report) {
            *next_report = now + REPORT_INTERVAL;
            let rt_now = rt + now.saturating_duration_since(at).as_nanos() as u64;
            if let Some(sr) = sender.sender_report(rt_now, ntp_now()) {
                keep(route.send(conn, &sr, true));
            }
        }
        if let Some(e) = failed {
            crate::log!(self.cfg.log, Debug, "back channel packet not sent: {}", e);
        }
    }
}

/// Now on the host's clock as NTP 32.32.
fn ntp_now() -> u64 {
    use crate::rtp::wall_clock::{ns_to_ntp, NTP_UNIX_OFFSET_S};
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ns_to_ntp(unix.as_nanos() as u64 + NTP_UNIX_OFFSET_S * 1_000_000_000)
}

//! The client of one RTSP session and its receive loop, run on the element's streaming thread: one epoll
//! set over the RTSP connection, the RTP and RTCP sockets and the wake-up. RTSP replies go to the session; RTP — UDP datagrams or `$` frames on the
//! RTSP connection — goes to the inbound stream. Returns as soon as an access unit is complete.

pub use super::client_error::ClientError;
use super::epoll::{Poller, Waker, TOKEN_TIMER};
use super::rtsp_connection::RtspConnection;
use super::steering::{RtpReader, WakePolicy};
use super::udp::UdpPorts;
use crate::au::AccessUnit;
use crate::rtp::inbound::{Inbound, InboundStats};
use crate::rtp::keyframe_request::KeyframeFeedback;
use crate::rtsp::message::{Message, Request};
use crate::rtsp::sdp::Codec;
use crate::rtsp::session::{Lower, Output, Session, SessionConfig};
use crate::rtsp::url::{Credentials, RtspUrl};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod multicast;
mod rtcp;
mod udp_rtp;

use udp_rtp::hold_early;

/// How long TEARDOWN may take when the client stops: a camera that never answers must not hold up a
/// state change.
const TEARDOWN_WAIT: Duration = Duration::from_millis(200);
const RTCP_INTERVAL: Duration = Duration::from_secs(5);
const TOKEN_WAKE: u8 = 0;
const TOKEN_RTSP: u8 = 1;
const TOKEN_RTP: u8 = 2;
const TOKEN_RTP_BULK: u8 = 3;
const TOKEN_RTCP: u8 = 4;

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub url: RtspUrl,
    pub credentials: Option<Credentials>,
    pub user_agent: String,
    pub latency: Duration,
    /// No media for this long → error. `None`: wait forever.
    pub timeout: Option<Duration>,
    /// No UDP packet this long after PLAY → `UdpSilent` (the caller switches to TCP).
    pub udp_timeout: Duration,
    pub port_range: Option<(u16, u16)>,
    pub udp: bool,
    /// RTP multicast allowed (after unicast UDP, before TCP), received on `multicast_iface` if set.
    pub multicast: bool,
    pub multicast_iface: Option<String>,
    pub tcp: bool,
    pub do_rtcp: bool,
    pub keep_alive: bool,
    pub wait_for_keyframe: bool,
    /// The video codec to pick when the camera offers several (`None`: the first it can depacketize).
    pub codec: Option<Codec>,
    /// Set by the element when downstream asks for a keyframe (ForceKeyUnit); read and cleared here.
    pub keyframe_wanted: Arc<AtomicBool>,
    /// `nat-method=dummy`: after SETUP over UDP, packets from our ports to the camera's before PLAY.
    pub nat_dummy_packets: bool,
    /// RTSPS: how to speak TLS and check the camera's certificate (`None` for plain RTSP).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    pub log: crate::log::Log,
}

pub struct SessionClient {
    cfg: ClientConfig,
    /// Keeps the wake-up descriptor registered in `poller` open.
    _waker: Waker,
    poller: Poller,
    conn: RtspConnection,
    server_ip: IpAddr,
    udp: Option<UdpPorts>,
    session: Session,
    rtp_reader: Option<RtpReader>,
    /// Whether the poller watches the bulk RTP socket (marker steering), i.e. every packet wakes the
    /// loop: while order or timing matters, not while the stream is steady.
    bulk_watched: bool,
    wake_policy: WakePolicy,
    /// The last read stopped with datagrams still queued or held: read again without waiting.
    rtp_backlog: bool,
    /// The arrival time the last RTP read went by (arrival times never go back).
    last_rtp_read: Instant,
    /// Decrypted RTSP bytes wait in the TLS layer: read again without waiting.
    rtsp_backlog: bool,
    inbound: Inbound,
    source_ip: Option<IpAddr>,
    server_rtcp: Option<SocketAddr>,
    /// Interleaved RTP and RTCP channels once SETUP chose TCP.
    channels: Option<(u8, u8)>,
    /// When PLAY was answered.
    playing_since: Option<Instant>,
    /// Interleaved RTP that came before the PLAY reply, for once RTP-Info has named the SSRC.
    early_rtp: Vec<Vec<u8>>,
    next_rtcp: Instant,
    our_ssrc: u32,
    ssrc_from_setup: bool,
}

impl SessionClient {
    /// Connects to the server and sends the first request. Returns fast on refusal; at most
    /// `CONNECT_TIMEOUT` per address otherwise.
    pub fn connect(cfg: ClientConfig, waker: Waker) -> Result<Self, ClientError> {
        let conn =
            RtspConnection::open(&cfg.url, cfg.tls.clone(), &cfg.user_agent, &waker, &cfg.log)?;
        let setup_err = |e| ClientError::Io("socket setup".into(), e);
        let server_ip = conn.peer_ip().map_err(setup_err)?;
        let udp = if cfg.udp {
            Some(
                UdpPorts::bind(server_ip, cfg.port_range, &cfg.log)
                    .map_err(|e| ClientError::Io("cannot bind the UDP ports".into(), e))?,
            )
        } else {
            None
        };
        let session = Session::new(SessionConfig {
            url: cfg.url.clone(),
            credentials: cfg.credentials.clone(),
            user_agent: cfg.user_agent.clone(),
            udp_ports: udp.as_ref().map(|u| (u.rtp_port(), u.rtp_port() + 1)),
            multicast_allowed: cfg.multicast,
            tcp_allowed: cfg.tcp,
            keep_alive: cfg.keep_alive,
            codec: cfg.codec,
            log: cfg.log.clone(),
        });
        let rtp_reader = udp.is_some().then(RtpReader::new);
        let poller = Poller::new().map_err(setup_err)?;
        poller.add(waker.fd(), TOKEN_WAKE).map_err(setup_err)?;
        poller.add(conn.fd(), TOKEN_RTSP).map_err(setup_err)?;
        if let Some(u) = &udp {
            poller
                .add(u.rtp.as_raw_fd(), TOKEN_RTP)
                .map_err(setup_err)?;
            if let Some(bulk) = &u.rtp_bulk {
                poller
                    .add(bulk.as_raw_fd(), TOKEN_RTP_BULK)
                    .map_err(setup_err)?;
            }
            // A few packets every few seconds; watched so that a BYE ends the session at once.
            poller
                .add(u.rtcp.as_raw_fd(), TOKEN_RTCP)
                .map_err(setup_err)?;
        }
        let bulk_watched = udp.as_ref().is_some_and(|u| u.rtp_bulk.is_some());
        let now = Instant::now();
        let mut r = SessionClient {
            inbound: {
                let mut i = Inbound::new(cfg.latency, cfg.wait_for_keyframe);
                i.set_log(cfg.log.clone());
                i
            },
            cfg,
            _waker: waker,
            poller,
            conn,
            server_ip,
            udp,
            session,
            bulk_watched,
            wake_policy: WakePolicy::default(),
            rtp_backlog: false,
            last_rtp_read: now,
            rtsp_backlog: false,
            rtp_reader,
            source_ip: None,
            server_rtcp: None,
            channels: None,
            playing_since: None,
            early_rtp: Vec::new(),
            next_rtcp: now,
            our_ssrc: (crate::rtsp::backoff::random_u64() >> 32) as u32,
            ssrc_from_setup: false,
        };
        let req = r.session.start(now);
        r.send(&req)?;
        Ok(r)
    }

    /// The codec of the stream, once DESCRIBE chose it.
    pub fn codec(&self) -> Codec {
        self.session.media().map_or(Codec::H264, |m| m.codec)
    }

    pub fn clock_rate(&self) -> u32 {
        self.inbound.clock_rate()
    }

    pub fn stats(&self) -> InboundStats {
        self.inbound.snapshot()
    }

    /// The camera's NTP time (ns since 1900) of the access unit at `rtp_ts`, once known.
    pub fn ntp_of(&self, rtp_ts: u64) -> Option<u64> {
        self.inbound.ntp_of(rtp_ts)
    }

    /// The round-trip time to the camera, when it answers our RTCP reference times.
    pub fn round_trip(&self) -> Option<Duration> {
        self.inbound.round_trip()
    }

    pub fn wall_clock_stats(&self) -> &crate::rtp::wall_clock::WallClockStats {
        self.inbound.wall_clock_stats()
    }

    /// Changes when RTP timestamps start over (the camera switched SSRC).
    pub fn timeline_epoch(&self) -> u32 {
        self.inbound.depay.timeline_epoch()
    }

    /// Warnings for the bus since the last call.
    pub fn take_warnings(&mut self) -> Vec<String> {
        let mut w = self.session.take_warnings();
        w.append(&mut self.inbound.depay.take_warnings());
        w
    }

    /// Whether RTP comes interleaved on the RTSP connection.
    pub fn uses_tcp(&self) -> bool {
        self.session.uses_tcp()
    }

    /// How RTP comes.
    pub fn lower(&self) -> Lower {
        self.session.lower()
    }

    /// Runs until an access unit is complete. Returns it with the time its last packet was processed.
    pub fn next_access_unit(&mut self) -> Result<(AccessUnit, Instant), ClientError> {
        loop {
            let now = Instant::now();
            self.inbound.release(now, false);
            if let Some(au) = self.inbound.pop() {
                self.wake_policy
                    .on_access_unit(au.rtp_ts, self.inbound.clock_rate(), now);
                return Ok((au, now));
            }
            if let Some(req) = self.session.poll(now)? {
                self.send(&req)?;
            }
            if let Some(since) = self.playing_since {
                self.check_data_timeouts(since, now)?;
                if self.cfg.keyframe_wanted.swap(false, Ordering::Relaxed) {
                    self.inbound.request_keyframe();
                }
                if self.cfg.do_rtcp
                    && (now >= self.next_rtcp || self.inbound.keyframe_request_due(now))
                {
                    self.send_receiver_report(now);
                }
            }

            // Before the timeout: whether only marker packets wake the loop decides whether an overdue
            // frame is a deadline.
            self.watch_bulk(now)
                .map_err(|e| ClientError::Io("epoll".into(), e))?;
            let timeout = self
                .next_deadline()
                .map(|d| d.saturating_duration_since(now));
            // The reorder window's deadline to the microsecond: rounded up to epoll's milliseconds it
            // would add up to a millisecond to every loss.
            self.poller
                .set_precise(self.inbound.deadline(), now)
                .map_err(|e| ClientError::Io("timerfd".into(), e))?;
            let timeout = if self.rtp_backlog || self.rtsp_backlog {
                Some(Duration::ZERO)
            } else {
                timeout
            };
            let ready = self
                .poller
                .wait(timeout)
                .map_err(|e| ClientError::Io("epoll".into(), e))?;
            if ready & (1 << TOKEN_WAKE) != 0 {
                return Err(ClientError::Flushing);
            }
            if self.rtsp_backlog || ready & (1 << TOKEN_RTSP) != 0 {
                self.read_rtsp()?;
                self.rtsp_backlog = self.conn.pending();
            }
            // A frame overdue while only marker packets wake the loop: its marker packet may be lost,
            // its other packets waiting in the bulk socket.
            let overdue = self.steered_quietly()
                && self
                    .wake_policy
                    .overdue()
                    .is_some_and(|o| Instant::now() >= o);
            let mut arrival = Instant::now();
            if overdue {
                if let Some(due) = self.wake_policy.due() {
                    arrival = due.max(self.last_rtp_read).min(arrival);
                }
                self.wake_policy
                    .looked(Instant::now(), self.inbound.clock_rate());
            }
            // The reorder window's deadline while only marker packets wake the loop: a late packet
            // may wait in the bulk socket, to be placed before the window gives up on it.
            let deadline = self.steered_quietly() && ready & (1 << TOKEN_TIMER) != 0;
            if overdue
                || deadline
                || self.rtp_backlog
                || ready & (1 << TOKEN_RTP | 1 << TOKEN_RTP_BULK) != 0
            {
                // Woken by the deadline alone: the wake socket is empty, epoll said so.
                let bulk_only = !overdue
                    && !self.rtp_backlog
                    && ready & (1 << TOKEN_RTP | 1 << TOKEN_RTP_BULK) == 0;
                self.read_rtp(arrival, bulk_only)?;
            }
            if ready & (1 << TOKEN_RTCP) != 0 {
                self.read_rtcp()?;
            }
        }
    }

    /// Whether silent UDP has a next transport to go to: multicast after unicast, TCP after either.
    fn can_fall_back(&self) -> bool {
        self.cfg.tcp || (self.session.lower() == Lower::Udp && self.cfg.multicast)
    }

    fn check_data_timeouts(&self, since: Instant, now: Instant) -> Result<(), ClientError> {
        let tcp = self.session.uses_tcp();
        let last = self.inbound.last_packet();
        if !tcp
            && self.can_fall_back()
            && last.is_none()
            && now.duration_since(since) >= self.cfg.udp_timeout
        {
            return Err(ClientError::UdpSilent(self.cfg.udp_timeout));
        }
        if let Some(t) = self.cfg.timeout {
            if now.duration_since(last.unwrap_or(since)) >= t {
                return Err(ClientError::NoData {
                    after: t,
                    tcp,
                    flowed: last.is_some(),
                });
            }
        }
        Ok(())
    }

    fn next_deadline(&self) -> Option<Instant> {
        let since = self.playing_since;
        let last = self.inbound.last_packet().or(since);
        [
            self.session.next_deadline(),
            since.filter(|_| self.cfg.do_rtcp).map(|_| self.next_rtcp),
            since
                .filter(|_| {
                    self.can_fall_back()
                        && !self.session.uses_tcp()
                        && self.inbound.last_packet().is_none()
                })
                .map(|s| s + self.cfg.udp_timeout),
            self.cfg.timeout.zip(last).map(|(t, l)| l + t),
            self.wake_policy
                .overdue()
                .filter(|_| self.steered_quietly()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Best-effort TEARDOWN, waiting briefly for the reply so the server sees it before the close.
    pub fn teardown(&mut self) {
        let now = Instant::now();
        let Some(req) = self.session.teardown(now) else {
            return;
        };
        self.conn.limit_writes(TEARDOWN_WAIT);
        if self.send(&req).is_err() {
            return;
        }
        self.conn.await_reply(TEARDOWN_WAIT);
    }

    fn send(&mut self, req: &Request) -> Result<(), ClientError> {
        crate::log!(self.cfg.log, Debug, "sending {}", req.redacted());
        self.conn
            .write(&req.to_bytes())
            .map_err(|e| ClientError::Io(format!("sending {} to the camera", req.method), e))
    }

    fn read_rtsp(&mut self) -> Result<(), ClientError> {
        if !self.conn.fill()? {
            return Ok(());
        }
        let now = Instant::now();
        let result = loop {
            let (msg, at) = match self.conn.next_message() {
                Ok(Some(m)) => m,
                Ok(None) => break Ok(()),
                Err(e) => break Err(ClientError::Parse(e)),
            };
            match msg {
                Message::Response(resp) => {
                    crate::log!(
                        self.cfg.log,
                        Debug,
                        "reply {} {} CSeq {:?}",
                        resp.status,
                        resp.reason,
                        resp.cseq()
                    );
                    let outputs = match self.session.handle_response(&resp, now) {
                        Ok(o) => o,
                        Err(e) => break Err(e.into()),
                    };
                    if let Err(e) = outputs.into_iter().try_for_each(|out| self.apply(out, now)) {
                        break Err(e);
                    }
                }
                Message::Request { method, cseq } => {
                    // Servers rarely ask us anything; a polite 501 keeps them happy.
                    crate::log!(
                        self.cfg.log,
                        Debug,
                        "server request {} answered 501",
                        method
                    );
                    let reply = format!(
                        "RTSP/1.0 501 Not Implemented\r\nCSeq: {}\r\n\r\n",
                        cseq.unwrap_or(0)
                    );
                    if let Err(e) = self.conn.write(reply.as_bytes()) {
                        break Err(ClientError::Io("replying to the camera".into(), e));
                    }
                }
                Message::Data { channel, payload } => {
                    // Only channels we set up. Reolink and v4l2rtspserver send data before the
                    // PLAY reply: RTP is kept until the reply's RTP-Info names the SSRC (the first
                    // packets hold the keyframe's parameter sets), RTCP is not needed yet.
                    let payload = self.conn.bytes(at + payload.start..at + payload.end);
                    let playing = self.playing_since.is_some();
                    match self.channels {
                        Some((rtp, _)) if channel == rtp && playing => {
                            self.inbound.on_packet(payload, now);
                        }
                        Some((rtp, _)) if channel == rtp => {
                            hold_early(&mut self.early_rtp, payload)
                        }
                        Some((_, rtcp))
                            if playing
                                && channel == rtcp
                                && self.inbound.on_rtcp(payload, self.our_ssrc, now) =>
                        {
                            break Err(ClientError::Bye);
                        }
                        _ => {}
                    }
                }
            }
        };
        self.conn.compact();
        result
    }

    fn apply(&mut self, out: Output, now: Instant) -> Result<(), ClientError> {
        match out {
            Output::Send(req) => self.send(&req)?,
            Output::Described(media) => {
                crate::log!(
                    self.cfg.log,
                    Debug,
                    "{:?} media: pt {} control {} packetization-mode {}",
                    media.codec,
                    media.payload_type,
                    crate::rtsp::url::redact(&media.control),
                    media.packetization_mode
                );
                self.inbound.set_codec(media.codec, media.don);
                // PLI where offered: it is the lighter request, and the one cameras implement.
                self.inbound
                    .set_keyframe_feedback(match (media.pli, media.fir) {
                        (true, _) => Some(KeyframeFeedback::Pli),
                        (false, true) => Some(KeyframeFeedback::Fir),
                        (false, false) => None,
                    });
                self.inbound
                    .set_format(media.payload_type, media.clock_rate);
                if let Some(ip) = media.connection.as_deref().and_then(|c| c.parse().ok()) {
                    self.source_ip = Some(ip);
                }
                let sprop: Vec<&str> = media.sprop.iter().map(String::as_str).collect();
                let (nals, problems) = match media.codec {
                    Codec::H264 => sprop
                        .first()
                        .map(|v| crate::h264::params::decode_sprop(v))
                        .unwrap_or_default(),
                    Codec::H265 => crate::h265::params::decode_sprop(&sprop),
                };
                if !problems.is_empty() {
                    crate::log!(
                        self.cfg.log,
                        Warning,
                        "ignoring unusable parameter sets in the SDP ({}); using in-band ones",
                        problems.join("; ")
                    );
                }
                for nal in &nals {
                    self.inbound.depay.set_parameter_set(nal);
                }
            }
            Output::SetUp { transport, lower } => {
                self.ssrc_from_setup = transport.ssrc.is_some();
                self.inbound.set_ssrc(transport.ssrc);
                match lower {
                    // The reorder window stays: NVRs and RTSP proxies relaying a UDP source forward
                    // its reordering on the interleaved connection.
                    Lower::Tcp => self.channels = Some(transport.interleaved.unwrap_or((0, 1))),
                    Lower::Multicast => self.join_group(&transport)?,
                    Lower::Udp => {
                        if let Some(ip) = transport.source.as_deref().and_then(|s| s.parse().ok()) {
                            self.source_ip = Some(ip);
                        }
                        // Reports go to the RTSP server's own address, never to one an SDP or a
                        // Transport header names (a camera's SDP may name its LAN address, or any host).
                        self.server_rtcp = transport
                            .server_port
                            .map(|(_, rtcp)| SocketAddr::new(self.server_ip, rtcp));
                        if let Some(ports) =
                            transport.server_port.filter(|_| self.cfg.nat_dummy_packets)
                        {
                            self.open_nat(ports);
                        }
                    }
                }
            }
            Output::Playing(info) => {
                // Reolink names the SSRC only in RTP-Info; SETUP's, when given, stays.
                if let Some(ssrc) = info.and_then(|i| i.ssrc).filter(|_| !self.ssrc_from_setup) {
                    self.inbound.set_ssrc(Some(ssrc));
                }
                // RTP-Info seq/rtptime are not trusted (Hikvision, Tapo send bogus values); timing
                // starts from the first packet.
                crate::log!(
                    self.cfg.log,
                    Debug,
                    "playing over {}",
                    if self.session.uses_tcp() {
                        "TCP"
                    } else {
                        "UDP"
                    }
                );
                self.playing_since = Some(now);
                self.next_rtcp = now + Duration::from_millis(500);
                for packet in std::mem::take(&mut self.early_rtp) {
                    self.inbound.on_packet(&packet, now);
                }
            }
        }
        Ok(())
    }
}

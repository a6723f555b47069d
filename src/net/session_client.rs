//! The client of one RTSP session and its receive loop, run on the element's streaming thread: one epoll
//! set over the RTSP connection, the RTP and RTCP sockets and the wake-up. RTSP replies go to the session; RTP — UDP datagrams or `$` frames on the
//! RTSP connection — goes to the inbound stream. Returns as soon as an access unit is complete.

use super::batch::BATCH;
use super::epoll::{wait_one, Poller, Waited, Waker};
use super::steering::{RtpReader, WakePolicy};
use super::udp::UdpPorts;
use crate::h264::access_unit::AccessUnit;
use crate::h264::params;
use crate::rtp::inbound::{Inbound, InboundStats};
use crate::rtp::rtcp::REPORT_LEN;
use crate::rtsp::message::{
    parse_message, Message, ParseError, Request, MAX_BODY_BYTES, MAX_HEADER_BYTES,
};
use crate::rtsp::session::{Output, Session, SessionConfig, SessionError};
use crate::rtsp::url::{Credentials, RtspUrl};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const RTCP_INTERVAL: Duration = Duration::from_secs(5);
/// Datagrams read per wake-up before the other sockets get a look.
const UDP_BATCH: usize = 4 * BATCH;
const TCP_READ: usize = 64 * 1024;
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
    pub tcp: bool,
    pub do_rtcp: bool,
    pub keep_alive: bool,
    pub wait_for_keyframe: bool,
    pub log: crate::log::Log,
}

#[derive(Debug)]
pub enum ClientError {
    /// `unlock` was called.
    Flushing,
    Connect {
        host: String,
        port: u16,
        error: io::Error,
    },
    Io(String, io::Error),
    Session(SessionError),
    Parse(ParseError),
    Closed,
    /// UDP was set up but not one packet arrived.
    UdpSilent(Duration),
    /// No RTP for `after`; `flowed`: packets had arrived before on this session.
    NoData {
        after: Duration,
        tcp: bool,
        flowed: bool,
    },
    /// The camera said goodbye (RTCP BYE for the stream's SSRC).
    Bye,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Flushing => write!(f, "flushing"),
            ClientError::Connect { host, port, error } => write!(
                f,
                "cannot connect to the camera at {host}:{port}: {error} (is the address right and the RTSP port open?)"
            ),
            ClientError::Io(what, e) => write!(f, "{what}: {e}"),
            ClientError::Session(e) => write!(f, "{e}"),
            ClientError::Parse(e) => write!(f, "bad reply from the camera: {e}"),
            ClientError::Closed => write!(f, "the camera closed the RTSP connection"),
            ClientError::UdpSilent(t) => write!(
                f,
                "no RTP packet arrived over UDP within {} ms of PLAY; a firewall or NAT may be blocking UDP",
                t.as_millis()
            ),
            ClientError::NoData {
                after,
                flowed: true,
                ..
            } => write!(
                f,
                "the camera stopped sending RTP {} s ago (frozen, rebooting, unreachable, or it dropped the session)",
                after.as_secs()
            ),
            ClientError::NoData {
                after, tcp: false, ..
            } => write!(
                f,
                "no RTP packets arrived over UDP for {} s; a firewall or NAT between the camera and this \
                 host may be blocking UDP: open the UDP ports (see port-range) or set protocols=tcp",
                after.as_secs()
            ),
            ClientError::NoData {
                after, tcp: true, ..
            } => write!(
                f,
                "the camera sent no RTP packets for {} s after PLAY",
                after.as_secs()
            ),
            ClientError::Bye => write!(f, "the camera ended the stream (RTCP BYE)"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<SessionError> for ClientError {
    fn from(e: SessionError) -> Self {
        ClientError::Session(e)
    }
}

pub struct SessionClient {
    cfg: ClientConfig,
    /// Keeps the wake-up descriptor registered in `poller` open.
    _waker: Waker,
    poller: Poller,
    conn: TcpStream,
    server_ip: IpAddr,
    udp: Option<UdpPorts>,
    session: Session,
    rtsp_buf: Vec<u8>,
    rtsp_len: usize,
    rtp_reader: Option<RtpReader>,
    /// Whether the poller watches the bulk RTP socket (marker steering), i.e. every packet wakes the
    /// loop: while order or timing matters, not while the stream is steady.
    bulk_watched: bool,
    wake_policy: WakePolicy,
    /// The last read stopped with datagrams still queued or held: read again without waiting.
    rtp_backlog: bool,
    inbound: Inbound,
    source_ip: Option<IpAddr>,
    server_rtcp: Option<SocketAddr>,
    /// Interleaved RTP and RTCP channels once SETUP chose TCP.
    channels: Option<(u8, u8)>,
    /// When PLAY was answered.
    playing_since: Option<Instant>,
    next_rtcp: Instant,
    our_ssrc: u32,
    ssrc_from_setup: bool,
}

impl SessionClient {
    /// Connects to the server and sends the first request. Returns fast on refusal; at most
    /// `CONNECT_TIMEOUT` per address otherwise.
    pub fn connect(cfg: ClientConfig, waker: Waker) -> Result<Self, ClientError> {
        let (host, port) = (cfg.url.host.clone(), cfg.url.port);
        let connect_err = |error| ClientError::Connect {
            host: host.clone(),
            port,
            error,
        };
        let addrs: Vec<SocketAddr> = (host.as_str(), port)
            .to_socket_addrs()
            .map_err(connect_err)?
            .collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "host name has no address");
        let mut conn = None;
        for addr in addrs {
            match connect_interruptibly(addr, &waker) {
                Ok(c) => {
                    conn = Some(c);
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    return Err(ClientError::Flushing)
                }
                Err(e) => last = e,
            }
        }
        let conn = conn.ok_or_else(|| connect_err(last))?;
        let setup_err = |e| ClientError::Io("socket setup".into(), e);
        conn.set_nodelay(true).map_err(setup_err)?;
        conn.set_write_timeout(Some(CONNECT_TIMEOUT))
            .map_err(setup_err)?;
        let server_ip = conn.peer_addr().map_err(setup_err)?.ip();
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
            tcp_allowed: cfg.tcp,
            keep_alive: cfg.keep_alive,
            log: cfg.log.clone(),
        });
        let rtp_reader = udp.is_some().then(RtpReader::new);
        let poller = Poller::new().map_err(setup_err)?;
        poller.add(waker.fd(), TOKEN_WAKE).map_err(setup_err)?;
        poller
            .add(conn.as_raw_fd(), TOKEN_RTSP)
            .map_err(setup_err)?;
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
            rtsp_buf: vec![0; TCP_READ * 2],
            rtsp_len: 0,
            bulk_watched,
            wake_policy: WakePolicy::default(),
            rtp_backlog: false,
            rtp_reader,
            source_ip: None,
            server_rtcp: None,
            channels: None,
            playing_since: None,
            next_rtcp: now,
            our_ssrc: (crate::rtsp::backoff::random_u64() >> 32) as u32,
            ssrc_from_setup: false,
        };
        let req = r.session.start(now);
        r.send(&req)?;
        Ok(r)
    }

    /// Latest SPS and its generation counter, for caps.
    pub fn sps(&self) -> (&[u8], u32) {
        self.inbound.depay.au.sps()
    }

    pub fn clock_rate(&self) -> u32 {
        self.inbound.clock_rate()
    }

    pub fn stats(&self) -> InboundStats {
        self.inbound.snapshot()
    }

    /// Changes when RTP timestamps start over (the camera switched SSRC).
    pub fn timeline_epoch(&self) -> u32 {
        self.inbound.depay.timeline_epoch()
    }

    /// Warnings for the bus since the last call.
    pub fn take_warnings(&mut self) -> Vec<String> {
        self.session.take_warnings()
    }

    /// Whether RTP comes interleaved on the RTSP connection.
    pub fn uses_tcp(&self) -> bool {
        self.session.uses_tcp()
    }

    /// Runs until an access unit is complete. Returns it with the time its last packet was processed.
    pub fn next_access_unit(&mut self) -> Result<(AccessUnit, Instant), ClientError> {
        loop {
            let now = Instant::now();
            if let Some(au) = self.inbound.pop() {
                return Ok((au, now));
            }
            self.inbound.release(now, false);
            if let Some(au) = self.inbound.pop() {
                return Ok((au, now));
            }
            if let Some(req) = self.session.poll(now)? {
                self.send(&req)?;
            }
            if let Some(since) = self.playing_since {
                self.check_data_timeouts(since, now)?;
                if self.cfg.do_rtcp && now >= self.next_rtcp {
                    self.send_receiver_report(now);
                }
            }

            let timeout = self
                .next_deadline()
                .map(|d| d.saturating_duration_since(now));
            // The reorder window's deadline to the microsecond: rounded up to epoll's milliseconds it
            // would add up to a millisecond to every loss.
            self.poller
                .set_precise(
                    self.inbound
                        .deadline()
                        .map(|d| d.saturating_duration_since(now)),
                )
                .map_err(|e| ClientError::Io("timerfd".into(), e))?;
            self.watch_bulk(now)
                .map_err(|e| ClientError::Io("epoll".into(), e))?;
            let timeout = if self.rtp_backlog {
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
            if ready & (1 << TOKEN_RTSP) != 0 {
                self.read_rtsp()?;
            }
            if self.rtp_backlog || ready & (1 << TOKEN_RTP | 1 << TOKEN_RTP_BULK) != 0 {
                self.read_rtp()?;
            }
            if ready & (1 << TOKEN_RTCP) != 0 {
                self.read_rtcp()?;
            }
        }
    }

    /// With marker steering: lets only the wake socket wake the loop while the stream is steady, and
    /// every packet otherwise (so that gaps, deadlines and markerless cameras are served as they come).
    fn watch_bulk(&mut self, now: Instant) -> io::Result<()> {
        let Some(bulk) = self.udp.as_ref().and_then(|u| u.rtp_bulk.as_ref()) else {
            return Ok(());
        };
        let want = self.wake_policy.every_packet(
            now,
            self.playing_since.is_some(),
            self.inbound.depay.au.ended_by_marker(),
            self.inbound.waiting_on_gap(),
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

    fn check_data_timeouts(&self, since: Instant, now: Instant) -> Result<(), ClientError> {
        let tcp = self.session.uses_tcp();
        let last = self.inbound.last_packet();
        if !tcp
            && self.cfg.tcp
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
                    self.cfg.tcp && !self.session.uses_tcp() && self.inbound.last_packet().is_none()
                })
                .map(|s| s + self.cfg.udp_timeout),
            self.cfg.timeout.zip(last).map(|(t, l)| l + t),
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
        if self.send(&req).is_err() {
            return;
        }
        let deadline = now + Duration::from_millis(500);
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if !matches!(
                wait_one(Some(self.conn.as_raw_fd()), false, None, Some(left)),
                Ok(Waited::Ready)
            ) {
                break;
            }
            match self.conn.read(&mut buf) {
                Ok(0) | Err(_) => break,
                // Interleaved data may come first; any reply ends the wait.
                Ok(n) => {
                    if buf[..n].windows(5).any(|w| w == b"RTSP/") {
                        break;
                    }
                }
            }
        }
    }

    fn send(&mut self, req: &Request) -> Result<(), ClientError> {
        crate::log!(self.cfg.log, Debug, "sending {}", req.redacted());
        self.conn
            .write_all(&req.to_bytes())
            .map_err(|e| ClientError::Io(format!("sending {} to the camera", req.method), e))
    }

    fn read_rtsp(&mut self) -> Result<(), ClientError> {
        // The buffer keeps its zeroed length; `rtsp_len` bytes of it hold data. Growing only when a message
        // needs more room avoids clearing 64 KiB before every read.
        if self.rtsp_buf.len() - self.rtsp_len < TCP_READ {
            let want = self.rtsp_len + TCP_READ;
            if want > MAX_HEADER_BYTES + MAX_BODY_BYTES + TCP_READ {
                return Err(ClientError::Parse(ParseError::HeaderTooLarge));
            }
            self.rtsp_buf.resize(want, 0);
        }
        match self.conn.read(&mut self.rtsp_buf[self.rtsp_len..]) {
            Ok(0) => return Err(ClientError::Closed),
            Ok(n) => self.rtsp_len += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                return Ok(())
            }
            Err(e) => return Err(ClientError::Io("reading from the camera".into(), e)),
        }
        let now = Instant::now();
        let mut used = 0;
        let result = loop {
            let (msg, len) = match parse_message(&self.rtsp_buf[used..self.rtsp_len]) {
                Ok(Some(m)) => m,
                Ok(None) => break Ok(()),
                Err(e) => break Err(ClientError::Parse(e)),
            };
            let at = used;
            used += len;
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
                    if let Err(e) = self.conn.write_all(reply.as_bytes()) {
                        break Err(ClientError::Io("replying to the camera".into(), e));
                    }
                }
                Message::Data { channel, payload } => {
                    // Only channels we set up, and only once PLAY was answered (Reolink and
                    // v4l2rtspserver send data before the reply).
                    let payload = at + payload.start..at + payload.end;
                    match self.channels.filter(|_| self.playing_since.is_some()) {
                        Some((rtp, _)) if channel == rtp => {
                            self.inbound.on_packet(&self.rtsp_buf[payload], now);
                        }
                        Some((_, rtcp))
                            if channel == rtcp
                                && self.inbound.on_rtcp(&self.rtsp_buf[payload.clone()], now) =>
                        {
                            break Err(ClientError::Bye);
                        }
                        _ => {}
                    }
                }
            }
        };
        self.rtsp_buf.copy_within(used..self.rtsp_len, 0);
        self.rtsp_len -= used;
        result
    }

    fn apply(&mut self, out: Output, now: Instant) -> Result<(), ClientError> {
        match out {
            Output::Send(req) => self.send(&req)?,
            Output::Described(media) => {
                crate::log!(
                    self.cfg.log,
                    Debug,
                    "H.264 media: pt {} control {} packetization-mode {}",
                    media.payload_type,
                    crate::rtsp::url::redact(&media.control),
                    media.packetization_mode
                );
                self.inbound
                    .set_format(media.payload_type, media.clock_rate);
                if let Some(ip) = media.connection.as_deref().and_then(|c| c.parse().ok()) {
                    self.source_ip = Some(ip);
                }
                if let Some(sprop) = &media.sprop_parameter_sets {
                    let (nals, problems) = params::decode_sprop(sprop);
                    if !problems.is_empty() {
                        crate::log!(
                            self.cfg.log,
                            Warning,
                            "ignoring unusable sprop-parameter-sets ({}); using in-band SPS/PPS",
                            problems.join("; ")
                        );
                    }
                    for nal in &nals {
                        self.inbound.depay.au.set_parameter_set(nal);
                    }
                }
            }
            Output::SetUp { transport, tcp } => {
                self.ssrc_from_setup = transport.ssrc.is_some();
                self.inbound.set_ssrc(transport.ssrc);
                if tcp {
                    // The reorder window stays: NVRs and RTSP proxies relaying a UDP source forward
                    // its reordering on the interleaved connection.
                    self.channels = Some(transport.interleaved.unwrap_or((0, 1)));
                } else {
                    if let Some(ip) = transport.source.as_deref().and_then(|s| s.parse().ok()) {
                        self.source_ip = Some(ip);
                    }
                    // SessionClient reports go to the RTSP server's own address, never to one an SDP or a
                    // Transport header names (a camera's SDP may name its LAN address, or any host).
                    self.server_rtcp = transport
                        .server_port
                        .map(|(_, rtcp)| SocketAddr::new(self.server_ip, rtcp));
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
            }
        }
        Ok(())
    }

    /// Reads the queued datagrams, in sequence order across the steered pair.
    fn read_rtp(&mut self) -> Result<(), ClientError> {
        let (Some(udp), Some(reader)) = (&self.udp, &mut self.rtp_reader) else {
            return Ok(());
        };
        let expected = self.source_ip.unwrap_or(self.server_ip);
        let (inbound, server_ip) = (&mut self.inbound, self.server_ip);
        let now = Instant::now();
        self.rtp_backlog = reader
            .read(
                &udp.rtp,
                udp.rtp_bulk.as_ref(),
                UDP_BATCH / BATCH,
                |data, from| match (data, from) {
                    (_, Some(from)) if from != expected && from != server_ip => {
                        inbound.foreign_source()
                    }
                    (Some(data), _) => inbound.on_packet(data, now),
                    (None, _) => inbound.oversized(),
                },
            )
            .map_err(|e| ClientError::Io("receiving RTP".into(), e))?;
        Ok(())
    }

    /// Reads the camera's RTCP over UDP; a BYE for our source ends the session.
    fn read_rtcp(&mut self) -> Result<(), ClientError> {
        let Some(udp) = &self.udp else { return Ok(()) };
        let mut buf = [0u8; 1500];
        let mut bye = false;
        while let Ok((n, from)) = udp.rtcp.recv_from(&mut buf) {
            if from.ip() == self.server_ip || Some(from.ip()) == self.source_ip {
                bye |= self.inbound.on_rtcp(&buf[..n], Instant::now());
            }
        }
        if bye {
            return Err(ClientError::Bye);
        }
        Ok(())
    }

    fn send_receiver_report(&mut self, now: Instant) {
        self.next_rtcp = now + RTCP_INTERVAL;
        let mut rr = [0u8; 4 + REPORT_LEN];
        let (head, body) = rr.split_at_mut(4);
        let body: &mut [u8; REPORT_LEN] = body.try_into().expect("REPORT_LEN bytes");
        let Some(n) = self.inbound.receiver_report(self.our_ssrc, now, body) else {
            return;
        };
        let result = match (self.channels, &self.udp, self.server_rtcp) {
            (Some((_, ch)), _, _) => {
                head.copy_from_slice(&[b'$', ch, 0, n as u8]);
                self.conn.write_all(&rr[..4 + n])
            }
            (None, Some(udp), Some(dest)) => udp.rtcp.send_to(&rr[4..4 + n], dest).map(|_| ()),
            _ => Ok(()),
        };
        if let Err(e) = result {
            crate::log!(self.cfg.log, Debug, "RTCP receiver report not sent: {}", e);
        }
    }
}

/// TCP connect that gives up after `CONNECT_TIMEOUT` and returns at once (`Interrupted`) when the waker
/// fires, so that stopping a pipeline never waits for an unreachable camera's SYN timeout.
fn connect_interruptibly(addr: SocketAddr, waker: &Waker) -> io::Result<TcpStream> {
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_nonblocking(true)?;
    match sock.connect(&SockAddr::from(addr)) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
            match wait_one(
                Some(sock.as_raw_fd()),
                true,
                Some(waker),
                Some(CONNECT_TIMEOUT),
            )? {
                Waited::Woken => return Err(io::ErrorKind::Interrupted.into()),
                Waited::TimedOut => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "connection timed out",
                    ))
                }
                Waited::Ready => {}
            }
            if let Some(e) = sock.take_error()? {
                return Err(e);
            }
        }
        Err(e) => return Err(e),
    }
    sock.set_nonblocking(false)?;
    Ok(sock.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_is_interrupted_by_the_waker() {
        use socket2::{Domain, Socket, Type};
        // A loopback listener whose backlog is full drops further SYNs: a connect that hangs.
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        listener
            .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        listener.listen(0).unwrap();
        let addr = listener.local_addr().unwrap().as_socket().unwrap();
        let fillers: Vec<_> = (0..4)
            .filter_map(|_| {
                let s = Socket::new(Domain::IPV4, Type::STREAM, None).ok()?;
                s.set_nonblocking(true).ok()?;
                let _ = s.connect(&addr.into());
                Some(s)
            })
            .collect();
        std::thread::sleep(Duration::from_millis(100));
        let waker = Waker::new().unwrap();
        let w = waker.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            w.wake();
        });
        let start = Instant::now();
        let r = connect_interruptibly(addr, &waker);
        t.join().unwrap();
        drop(fillers);
        let e = r.expect_err("the connect should hang until woken");
        assert_eq!(e.kind(), io::ErrorKind::Interrupted, "{e}");
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}

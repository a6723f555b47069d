//! The receive loop, run on the element's streaming thread: one poll over the RTSP connection, the RTP and
//! RTCP sockets and the wake-up; RTSP replies go to the session, RTP packets through the reorder window
//! into the depacketizer. Returns as soon as an access unit is complete.

use super::poll::{wait_readable, Waker};
use super::udp::UdpPair;
use crate::h264::access_unit::AccessUnit;
use crate::h264::depacketizer::Depacketizer;
use crate::h264::params;
use crate::rtp::packet::{seq_delta, RtpPacket};
use crate::rtp::reorder::{ReorderWindow, Verdict};
use crate::rtp::rtcp::{find_sender_report, ReceptionStats};
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
const UDP_BATCH: usize = 64;

#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    pub url: RtspUrl,
    pub credentials: Option<Credentials>,
    pub user_agent: String,
    pub latency: Duration,
    /// No media for this long → error. `None`: wait forever.
    pub timeout: Option<Duration>,
    pub port_range: Option<(u16, u16)>,
    pub do_rtcp: bool,
    pub keep_alive: bool,
    pub wait_for_keyframe: bool,
}

#[derive(Debug)]
pub enum ReceiveError {
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
    NoData(Duration),
}

impl fmt::Display for ReceiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReceiveError::Flushing => write!(f, "flushing"),
            ReceiveError::Connect { host, port, error } => write!(
                f,
                "cannot connect to the camera at {host}:{port}: {error} (is the address right and the RTSP port open?)"
            ),
            ReceiveError::Io(what, e) => write!(f, "{what}: {e}"),
            ReceiveError::Session(e) => write!(f, "{e}"),
            ReceiveError::Parse(e) => write!(f, "bad reply from the camera: {e}"),
            ReceiveError::Closed => write!(f, "the camera closed the RTSP connection"),
            ReceiveError::NoData(t) => write!(
                f,
                "no RTP packets arrived over UDP for {} s; a firewall or NAT between the camera and this \
                 host may be blocking UDP: open the UDP ports (see port-range) or use RTSP over TCP",
                t.as_secs()
            ),
        }
    }
}

impl std::error::Error for ReceiveError {}

impl From<SessionError> for ReceiveError {
    fn from(e: SessionError) -> Self {
        ReceiveError::Session(e)
    }
}

/// Counters for the `stats` of the element and for tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReceiverStats {
    pub packets: u64,
    pub bytes: u64,
    pub lost: u64,
    pub reordered: u64,
    pub duplicates: u64,
    pub late: u64,
    pub foreign_ssrc: u64,
    pub foreign_source: u64,
    pub foreign_payload_type: u64,
    pub malformed: u64,
}

pub struct Receiver {
    cfg: ReceiverConfig,
    waker: Waker,
    conn: TcpStream,
    server_ip: IpAddr,
    udp: UdpPair,
    session: Session,
    rtsp_buf: Vec<u8>,
    udp_buf: Vec<u8>,
    reorder: ReorderWindow,
    depay: Depacketizer,
    reception: ReceptionStats,
    payload_type: Option<u8>,
    clock_rate: u32,
    ssrc: Option<u32>,
    source_ip: Option<IpAddr>,
    server_rtcp: Option<SocketAddr>,
    playing: bool,
    last_data: Instant,
    next_rtcp: Instant,
    last_ext_seq: Option<u32>,
    epoch: Instant,
    our_ssrc: u32,
    pub stats: ReceiverStats,
}

impl Receiver {
    /// Connects to the server and sends the first request. Returns fast on refusal; at most
    /// `CONNECT_TIMEOUT` per address otherwise.
    pub fn connect(cfg: ReceiverConfig, waker: Waker) -> Result<Self, ReceiveError> {
        let (host, port) = (cfg.url.host.clone(), cfg.url.port);
        let connect_err = |error| ReceiveError::Connect {
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
            match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                Ok(c) => {
                    conn = Some(c);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let conn = conn.ok_or_else(|| connect_err(last))?;
        let io_err = |what: &str| {
            let what = what.to_string();
            move |e| ReceiveError::Io(what, e)
        };
        conn.set_nodelay(true).map_err(io_err("socket setup"))?;
        conn.set_write_timeout(Some(CONNECT_TIMEOUT))
            .map_err(io_err("socket setup"))?;
        let server_ip = conn.peer_addr().map_err(io_err("socket setup"))?.ip();
        let udp = UdpPair::bind(server_ip, cfg.port_range)
            .map_err(io_err("cannot bind the UDP ports"))?;
        let rtp_port = udp.rtp_port();
        let session = Session::new(SessionConfig {
            url: cfg.url.clone(),
            credentials: cfg.credentials.clone(),
            user_agent: cfg.user_agent.clone(),
            client_ports: (rtp_port, rtp_port + 1),
            keep_alive: cfg.keep_alive,
        });
        let now = Instant::now();
        let mut r = Receiver {
            reorder: ReorderWindow::new(cfg.latency),
            depay: Depacketizer::new(cfg.wait_for_keyframe),
            cfg,
            waker,
            conn,
            server_ip,
            udp,
            session,
            rtsp_buf: Vec::with_capacity(8192),
            udp_buf: vec![0; 65536],
            reception: ReceptionStats::default(),
            payload_type: None,
            clock_rate: 90_000,
            ssrc: None,
            source_ip: None,
            server_rtcp: None,
            playing: false,
            last_data: now,
            next_rtcp: now,
            last_ext_seq: None,
            epoch: now,
            our_ssrc: rand_u32(),
            stats: ReceiverStats::default(),
        };
        let req = r.session.start(now);
        r.send(&req)?;
        Ok(r)
    }

    /// Latest SPS and its generation counter, for caps.
    pub fn sps(&self) -> (&[u8], u32) {
        self.depay.au.sps()
    }

    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    pub fn depay(&self) -> &Depacketizer {
        &self.depay
    }

    /// Runs until an access unit is complete. Returns it with the time its last packet was processed.
    pub fn next_access_unit(&mut self) -> Result<(AccessUnit, Instant), ReceiveError> {
        let mut ready = [false; 4];
        loop {
            let now = Instant::now();
            if let Some(au) = self.depay.pop() {
                return Ok((au, now));
            }
            self.release_reordered(now, false);
            if let Some(au) = self.depay.pop() {
                return Ok((au, now));
            }
            if let Some(req) = self.session.poll(now)? {
                self.send(&req)?;
            }
            if self.playing {
                if let Some(t) = self.cfg.timeout {
                    if now.duration_since(self.last_data) >= t {
                        return Err(ReceiveError::NoData(t));
                    }
                }
                if self.cfg.do_rtcp && now >= self.next_rtcp {
                    self.send_receiver_report(now);
                }
            }

            let deadline = [
                self.session.next_deadline(),
                self.reorder.deadline(),
                (self.playing && self.cfg.do_rtcp).then_some(self.next_rtcp),
                self.cfg
                    .timeout
                    .filter(|_| self.playing)
                    .map(|t| self.last_data + t),
            ]
            .into_iter()
            .flatten()
            .min();
            let timeout = deadline.map(|d| d.saturating_duration_since(now));
            let fds = [
                self.waker.fd(),
                self.conn.as_raw_fd(),
                self.udp.rtp.as_raw_fd(),
                self.udp.rtcp.as_raw_fd(),
            ];
            wait_readable(&fds, timeout, &mut ready)
                .map_err(|e| ReceiveError::Io("poll".into(), e))?;
            if ready[0] {
                return Err(ReceiveError::Flushing);
            }
            if ready[1] {
                self.read_rtsp()?;
            }
            if ready[2] {
                self.read_rtp()?;
            }
            if ready[3] {
                self.read_rtcp();
            }
        }
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
        let mut ready = [false];
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if wait_readable(&[self.conn.as_raw_fd()], Some(left), &mut ready).is_err() || !ready[0]
            {
                break;
            }
            match self.conn.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if buf[..n].windows(5).any(|w| w == b"RTSP/") {
                        break;
                    }
                }
            }
        }
    }

    fn send(&mut self, req: &Request) -> Result<(), ReceiveError> {
        crate::debug_log!("sending {}", req.redacted());
        self.conn
            .write_all(&req.to_bytes())
            .map_err(|e| ReceiveError::Io(format!("sending {} to the camera", req.method), e))
    }

    fn read_rtsp(&mut self) -> Result<(), ReceiveError> {
        let old = self.rtsp_buf.len();
        self.rtsp_buf.resize(old + 16384, 0);
        let n = match self.conn.read(&mut self.rtsp_buf[old..]) {
            Ok(n) => n,
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted =>
            {
                0
            }
            Err(e) => {
                self.rtsp_buf.truncate(old);
                return Err(ReceiveError::Io("reading from the camera".into(), e));
            }
        };
        self.rtsp_buf.truncate(old + n);
        if n == 0 {
            return Err(ReceiveError::Closed);
        }
        let mut used = 0;
        while let Some((msg, len)) =
            parse_message(&self.rtsp_buf[used..]).map_err(ReceiveError::Parse)?
        {
            used += len;
            match msg {
                Message::Response(resp) => {
                    crate::debug_log!(
                        "reply {} {} CSeq {:?}",
                        resp.status,
                        resp.reason,
                        resp.cseq()
                    );
                    let now = Instant::now();
                    for out in self.session.handle_response(&resp, now)? {
                        self.apply(out, now)?;
                    }
                }
                Message::Request { method, cseq } => {
                    // Servers rarely ask us anything; a polite 501 keeps them happy.
                    crate::debug_log!("server request {} ignored", method);
                    let reply = format!(
                        "RTSP/1.0 501 Not Implemented\r\nCSeq: {}\r\n\r\n",
                        cseq.unwrap_or(0)
                    );
                    self.conn
                        .write_all(reply.as_bytes())
                        .map_err(|e| ReceiveError::Io("replying to the camera".into(), e))?;
                }
                // Interleaved data is not set up on this transport; Reolink sends it anyway.
                Message::Data { .. } => {}
            }
        }
        self.rtsp_buf.drain(..used);
        if self.rtsp_buf.len() > MAX_HEADER_BYTES + MAX_BODY_BYTES {
            return Err(ReceiveError::Parse(ParseError::HeaderTooLarge));
        }
        Ok(())
    }

    fn apply(&mut self, out: Output, now: Instant) -> Result<(), ReceiveError> {
        match out {
            Output::Send(req) => self.send(&req)?,
            Output::Described(media) => {
                crate::debug_log!(
                    "H.264 media: pt {} control {} packetization-mode {}",
                    media.payload_type,
                    media.control,
                    media.packetization_mode
                );
                self.payload_type = Some(media.payload_type);
                self.clock_rate = media.clock_rate;
                if let Some(ip) = media.connection.as_deref().and_then(|c| c.parse().ok()) {
                    self.source_ip = Some(ip);
                }
                if let Some(sprop) = &media.sprop_parameter_sets {
                    let (nals, problems) = params::decode_sprop(sprop);
                    if !problems.is_empty() {
                        gst::warning!(
                            crate::CAT,
                            "ignoring unusable sprop-parameter-sets ({}); using in-band SPS/PPS",
                            problems.join("; ")
                        );
                    }
                    for nal in &nals {
                        self.depay.au.set_parameter_set(nal);
                    }
                }
            }
            Output::SetUp(transport) => {
                self.ssrc = transport.ssrc;
                if let Some(ip) = transport.source.as_deref().and_then(|s| s.parse().ok()) {
                    self.source_ip = Some(ip);
                }
                let ip = self.source_ip.unwrap_or(self.server_ip);
                self.server_rtcp = transport
                    .server_port
                    .map(|(_, rtcp)| SocketAddr::new(ip, rtcp));
            }
            Output::Playing(_) => {
                // RTP-Info seq/rtptime are not trusted (Hikvision, Tapo send bogus values); timing
                // starts from the first packet.
                crate::debug_log!("playing");
                self.playing = true;
                self.last_data = now;
                self.next_rtcp = now + Duration::from_millis(500);
            }
        }
        Ok(())
    }

    fn read_rtp(&mut self) -> Result<(), ReceiveError> {
        for _ in 0..UDP_BATCH {
            let (len, from) = match self.udp.rtp.recv_from(&mut self.udp_buf) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // ICMP port unreachable from an earlier send shows up here; not fatal.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Err(ReceiveError::Io("receiving RTP".into(), e)),
            };
            self.on_datagram(len, from.ip(), Instant::now());
        }
        Ok(())
    }

    fn on_datagram(&mut self, len: usize, from: IpAddr, now: Instant) {
        let expected_ip = self.source_ip.unwrap_or(self.server_ip);
        if from != expected_ip && from != self.server_ip {
            self.stats.foreign_source += 1;
            return;
        }
        let Some(pt) = self.payload_type else {
            return;
        };
        let buf = &self.udp_buf[..len];
        let pkt = match RtpPacket::parse(buf) {
            Ok(p) => p,
            Err(e) => {
                crate::debug_log!("dropping malformed RTP packet: {}", e);
                self.stats.malformed += 1;
                return;
            }
        };
        // Geovision repeats the IDR's last packet with payload type 50.
        if pkt.payload_type != pt {
            self.stats.foreign_payload_type += 1;
            return;
        }
        match self.ssrc {
            None => self.ssrc = Some(pkt.ssrc),
            Some(s) if s != pkt.ssrc => {
                // Stale sessions on reused ports, cameras replaying an old session.
                self.stats.foreign_ssrc += 1;
                return;
            }
            _ => {}
        }
        self.last_data = now;
        self.stats.packets += 1;
        self.stats.bytes += len as u64;
        let ext_seq = match self.last_ext_seq {
            None => u32::from(pkt.sequence),
            Some(last) => last.wrapping_add_signed(i32::from(seq_delta(last as u16, pkt.sequence))),
        };
        if self.last_ext_seq.is_none_or(|l| ext_seq > l) {
            self.last_ext_seq = Some(ext_seq);
        }
        let arrival_rtp = (now.duration_since(self.epoch).as_micros() * 9 / 100) as u32;
        self.reception
            .on_packet(ext_seq, pkt.timestamp, arrival_rtp);

        let Self {
            reorder,
            depay,
            stats,
            ..
        } = self;
        let mut verdict = reorder.push(pkt.sequence, buf, now);
        if verdict == Verdict::Overflow {
            // The sender restarted or jumped: release what is held, then start over from here.
            release_reordered(reorder, depay, stats, now, true);
            reorder.reset();
            depay.lose();
            verdict = reorder.push(pkt.sequence, buf, now);
        }
        match verdict {
            Verdict::Now { lost } => {
                stats.lost += u64::from(lost);
                depay.push(&pkt, lost > 0);
            }
            Verdict::Buffered => stats.reordered += 1,
            Verdict::Duplicate => stats.duplicates += 1,
            Verdict::Late | Verdict::Overflow => stats.late += 1,
        }
        if !reorder.is_empty() {
            release_reordered(reorder, depay, stats, now, false);
        }
    }

    fn release_reordered(&mut self, now: Instant, force: bool) {
        release_reordered(
            &mut self.reorder,
            &mut self.depay,
            &mut self.stats,
            now,
            force,
        );
    }

    fn read_rtcp(&mut self) {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = self.udp.rtcp.recv_from(&mut buf) {
            if from.ip() != self.server_ip && Some(from.ip()) != self.source_ip {
                continue;
            }
            if let Some((ssrc, ntp_mid)) = find_sender_report(&buf[..n]) {
                // Tapo C320WS sends reports for a foreign SSRC.
                if Some(ssrc) == self.ssrc {
                    let us = self.epoch.elapsed().as_micros() as u64;
                    self.reception.on_sender_report(ntp_mid, us);
                }
            }
        }
    }

    fn send_receiver_report(&mut self, now: Instant) {
        self.next_rtcp = now + RTCP_INTERVAL;
        let (Some(dest), Some(ssrc)) = (self.server_rtcp, self.ssrc) else {
            return;
        };
        let mut rr = [0u8; 32];
        let us = now.duration_since(self.epoch).as_micros() as u64;
        let n = self
            .reception
            .write_receiver_report(self.our_ssrc, ssrc, us, &mut rr);
        if let Err(e) = self.udp.rtcp.send_to(&rr[..n], dest) {
            crate::debug_log!("RTCP receiver report not sent: {}", e);
        }
    }
}

/// Feeds the depacketizer with what the reorder window lets go.
fn release_reordered(
    reorder: &mut ReorderWindow,
    depay: &mut Depacketizer,
    stats: &mut ReceiverStats,
    now: Instant,
    force: bool,
) {
    while let Some((bytes, lost)) = reorder.pop(now, force) {
        stats.lost += u64::from(lost);
        // Stored packets were parsed once already, so this cannot fail.
        if let Ok(pkt) = RtpPacket::parse(bytes) {
            depay.push(&pkt, lost > 0);
        }
    }
}

/// A random SSRC for our receiver reports (RFC 3550 §8.1) without a crate for it.
fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish() as u32
}

//! The client of one RTSP session and its receive loop, run on the element's streaming thread: one epoll
//! set over the RTSP connection, each stream's RTP and RTCP sockets and the wake-up. RTSP replies go to
//! the session (`session_client/signalling.rs`); RTP — UDP datagrams or `$` frames on the RTSP
//! connection — goes to its stream's inbound path (`stream_receiver.rs`). Returns as soon as an access
//! unit is complete, with the index of the stream it belongs to.

pub use super::client_error::ClientError;
use super::epoll::{Poller, Waker};
use super::rtsp_connection::RtspConnection;
use crate::au::AccessUnit;
use crate::rtsp::message::Request;
use crate::rtsp::sdp::Media;
use crate::rtsp::session::{Lower, Session, SessionConfig};
use crate::rtsp::url::{Credentials, RtspUrl};
use crate::stream::inbound::InboundStats;
use crate::stream::spec::StreamSpec;
use crate::stream::Codec;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod backchannel;
mod multicast;
mod rtcp;
mod signalling;
mod stream_receiver;
mod tcp_wake;
mod tokens;
mod udp_rtp;

pub use backchannel::{BackchannelFormat, BackchannelQueue, Outgoing};
use stream_receiver::StreamReceiver;
use tokens::{Ready, Token};

/// How long TEARDOWN may take when the client stops: a camera that never answers must not hold up a
/// state change.
const TEARDOWN_WAIT: Duration = Duration::from_millis(200);
const RTCP_INTERVAL: Duration = Duration::from_secs(5);

/// The longest a frame of a stream beside the video (audio, metadata) waits for the video: in its
/// socket for the video's next wake-up (`udp_rtp.rs`), then in the element for the next picture, to
/// go out just before it. Each audio frame otherwise costs a wake-up of the loop and of its pad's
/// thread, more than the video's whole reading. Bounded by the reorder window too, so that it stays
/// within the latency the element reports.
pub const SIDE_WAIT: Duration = Duration::from_millis(50);

/// Asks whether to set up the stream of SDP media section `media` (`false`: leave it out).
pub type SelectStream = Arc<dyn Fn(&Media, &StreamSpec) -> bool + Send + Sync>;
/// Is handed the SDP as the camera sent it, before the streams are chosen.
pub type OnSdp = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// Is told every stream the element could set up and which it would by default (media indexes),
/// before the choice; answers whether the application chose itself (then every stream is considered,
/// and `select_stream` decides).
pub type OnOffer = Arc<dyn Fn(&[crate::stream::StreamSpec], &[usize]) -> bool + Send + Sync>;

/// What the application is asked, or told, during signalling (the element's `select-stream` and
/// `on-sdp` signals). Called on the streaming thread.
#[derive(Clone, Default)]
pub struct Hooks {
    pub select_stream: Option<SelectStream>,
    pub on_sdp: Option<OnSdp>,
    pub on_offer: Option<OnOffer>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("select_stream", &self.select_stream.is_some())
            .field("on_sdp", &self.on_sdp.is_some())
            .field("on_offer", &self.on_offer.is_some())
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub url: RtspUrl,
    pub credentials: Option<Credentials>,
    pub user_agent: String,
    pub latency: Duration,
    /// No media for this long → error. `None`: wait forever.
    pub stall_timeout: Option<Duration>,
    /// No UDP packet this long after PLAY → `UdpSilent` (the caller switches to TCP); `None`: never.
    pub udp_timeout: Option<Duration>,
    /// How long a request may wait for its reply (`None`: for ever).
    pub tcp_timeout: Option<Duration>,
    /// Tries at a free even/odd UDP port pair (without a port range).
    pub udp_port_tries: u32,
    pub port_range: Option<(u16, u16)>,
    pub udp: bool,
    /// RTP multicast allowed (after unicast UDP, before TCP), received on `multicast_iface` if set.
    pub multicast: bool,
    pub multicast_iface: Option<String>,
    pub tcp: bool,
    pub do_rtcp: bool,
    pub keep_alive: bool,
    pub wait_for_keyframe: bool,
    /// Which streams to set up: the video codec, and which audio beside it.
    pub choice: crate::stream::selection::Choice,
    /// Set by the element when downstream asks for a keyframe (ForceKeyUnit); read and cleared here.
    pub keyframe_wanted: Arc<AtomicBool>,
    /// `nat-method=dummy`: after SETUP over UDP, packets from our ports to the camera's before PLAY.
    pub nat_dummy_packets: bool,
    /// RTSPS: how to speak TLS and check the camera's certificate (`None` for plain RTSP).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The back channel's audio, from the element (with `choice.backchannel`).
    pub backchannel: Option<Arc<BackchannelQueue>>,
    /// ONVIF replay (`onvif-mode`): a recording, from this position; requests carry `Require:
    /// onvif-replay`.
    pub replay: Option<crate::rtsp::replay::Replay>,
    pub hooks: Hooks,
    pub log: crate::log::Log,
}

pub struct SessionClient {
    cfg: ClientConfig,
    /// Keeps the wake-up descriptor registered in `poller` open.
    _waker: Waker,
    poller: Poller,
    conn: RtspConnection,
    server_ip: IpAddr,
    session: Session,
    /// The streams set up, by index; the first is the one the data timeouts watch (the video).
    streams: Vec<StreamReceiver>,
    /// Decrypted RTSP bytes wait in the TLS layer: read again without waiting.
    rtsp_backlog: bool,
    /// When PLAY was answered.
    playing_since: Option<Instant>,
    next_rtcp: Instant,
    our_ssrc: u32,
    /// Waits that slept: what the loop's wake-ups cost shows in this.
    wakeups: u64,
    tcp_wake: tcp_wake::TcpWake,
    /// ONVIF's audio back channel, when the camera offers one and it was asked for.
    backchannel: Option<backchannel::BackchannelSender>,
    /// Warnings of the session client's own, for the bus.
    warnings: Vec<String>,
    /// A replay asked for while a PLAY was out: sent once that PLAY is answered.
    replay_after_play: Option<crate::rtsp::replay::Replay>,
}

impl SessionClient {
    /// Connects to the server and sends the first request. Returns fast on refusal; at most
    /// `CONNECT_TIMEOUT` per address otherwise.
    pub fn connect(cfg: ClientConfig, waker: Waker) -> Result<Self, ClientError> {
        crate::log!(
            cfg.log,
            Info,
            "connecting to {} ({})",
            cfg.url,
            cfg.url.how()
        );
        let conn =
            RtspConnection::open(&cfg.url, cfg.tls.clone(), &cfg.user_agent, &waker, &cfg.log)?;
        let setup_err = |e| ClientError::Io("socket setup".into(), e);
        let server_ip = conn.peer_ip().map_err(setup_err)?;
        let mut session = Session::new(SessionConfig {
            url: cfg.url.clone(),
            credentials: cfg.credentials.clone(),
            user_agent: cfg.user_agent.clone(),
            udp_allowed: cfg.udp,
            multicast_allowed: cfg.multicast,
            tcp_allowed: cfg.tcp,
            keep_alive: cfg.keep_alive,
            response_timeout: cfg.tcp_timeout,
            require: [
                (cfg.choice.backchannel, crate::onvif::BACKCHANNEL_TAG),
                (cfg.replay.is_some(), crate::rtsp::replay::REPLAY_TAG),
            ]
            .iter()
            .filter(|(wanted, _)| *wanted)
            .map(|(_, tag)| tag.to_string())
            .collect(),
            log: cfg.log.clone(),
        });
        let poller = Poller::new().map_err(setup_err)?;
        poller
            .add(waker.fd(), Token::Wake.id())
            .map_err(setup_err)?;
        poller.add(conn.fd(), Token::Rtsp.id()).map_err(setup_err)?;
        if let Some(post) = conn.post_fd() {
            poller
                .add(post, Token::TunnelPost.id())
                .map_err(setup_err)?;
        }
        if let Some(replay) = cfg.replay {
            session.set_replay(replay);
        }
        let now = Instant::now();
        let mut r = SessionClient {
            cfg,
            _waker: waker,
            poller,
            conn,
            server_ip,
            session,
            streams: Vec::new(),
            rtsp_backlog: false,
            playing_since: None,
            next_rtcp: now,
            wakeups: 0,
            tcp_wake: Default::default(),
            backchannel: None,
            warnings: Vec::new(),
            replay_after_play: None,
            our_ssrc: (crate::random::random_u64() >> 32) as u32,
        };
        r.watch_backchannel().map_err(setup_err)?;
        let req = r.session.start(now);
        r.send(&req)?;
        Ok(r)
    }

    /// The stream the data timeouts watch and whose counters `stats` gives: the first set up.
    fn primary(&self) -> Option<&StreamReceiver> {
        self.streams.first()
    }

    /// What stream `stream` is, once DESCRIBE chose it.
    /// Stream `stream`'s spec; `None` for one the camera refused to set up.
    pub fn spec(&self, stream: usize) -> Option<&crate::stream::StreamSpec> {
        self.streams
            .get(stream)
            .filter(|s| !s.left_out)
            .map(|s| &s.spec)
    }

    /// The streams set up (or being set up), the video first.
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// The codec of stream `stream`, once DESCRIBE chose it.
    pub fn codec(&self, stream: usize) -> Codec {
        self.streams
            .get(stream)
            .map_or(Codec::H264, |s| s.spec.codec)
    }

    pub fn clock_rate(&self, stream: usize) -> u32 {
        self.streams
            .get(stream)
            .map_or(90_000, |s| s.inbound.clock_rate())
    }

    /// The counters of the primary stream.
    pub fn stats(&self) -> InboundStats {
        self.primary()
            .map(|s| s.inbound.snapshot())
            .unwrap_or_default()
    }

    /// The camera's NTP time (ns since 1900) of stream `stream`'s access unit at `rtp_ts`, once known.
    pub fn ntp_of(&self, stream: usize, rtp_ts: u64) -> Option<u64> {
        self.streams.get(stream)?.inbound.ntp_of(rtp_ts)
    }

    /// The round-trip time to the camera, when it answers our RTCP reference times.
    pub fn round_trip(&self) -> Option<Duration> {
        self.streams.iter().find_map(|s| s.inbound.round_trip())
    }

    /// The primary stream's wall clock.
    pub fn wall_clock_stats(&self) -> crate::rtp::wall_clock::WallClockStats {
        self.primary()
            .map(|s| s.inbound.wall_clock_stats().clone())
            .unwrap_or_default()
    }

    /// Changes when stream `stream`'s RTP timestamps start over (the camera switched SSRC).
    pub fn timeline_epoch(&self, stream: usize) -> u32 {
        self.streams
            .get(stream)
            .map_or(0, |s| s.inbound.depay.timeline_epoch())
    }

    /// Warnings for the bus since the last call.
    pub fn take_warnings(&mut self) -> Vec<String> {
        let mut w = self.session.take_warnings();
        w.append(&mut self.warnings);
        for s in &mut self.streams {
            w.append(&mut s.inbound.depay.take_warnings());
        }
        w
    }

    /// How RTP comes.
    pub fn lower(&self) -> Lower {
        self.session.lower()
    }

    /// Runs until an access unit is complete. Returns its stream's index, the access unit and the time
    /// its last packet was processed.
    pub fn next_access_unit(&mut self) -> Result<(usize, AccessUnit, Instant), ClientError> {
        loop {
            let now = Instant::now();
            if let Some((stream, au)) = self.completed(now) {
                return Ok((stream, au, now));
            }
            self.run_timers(now)?;
            let ready = self.wait(now)?;
            if ready.has(Token::Wake) {
                return Err(ClientError::Flushing);
            }
            if ready.has(Token::TunnelPost) {
                self.conn.check_post()?;
            }
            // Woken by anything while small packets may wait below the wake threshold: read them.
            if self.rtsp_backlog || ready.has(Token::Rtsp) || self.tcp_wake.raised() {
                self.read_rtsp()?;
                self.rtsp_backlog = self.conn.pending();
            }
            for i in 0..self.streams.len() {
                self.serve_udp(i, ready)?;
            }
            if ready.has(Token::Backchannel) {
                self.send_backchannel(Instant::now());
            }
        }
    }

    /// An access unit some stream completed, the reorder window having let go what is due. The
    /// streams beside the video first: their frames read at the video's wake-up then go out before
    /// its picture (the element pushes them just ahead of it), not a picture later.
    fn completed(&mut self, now: Instant) -> Option<(usize, AccessUnit)> {
        let (stream, au) = self.streams.iter_mut().rev().find_map(|s| {
            s.inbound.release(now, false);
            let au = s.inbound.pop()?;
            s.wake_policy
                .on_access_unit(au.rtp_ts, s.inbound.clock_rate(), now);
            Some((s.index, au))
        })?;
        if stream == 0 {
            self.tcp_wake.picture(au.data.len());
        } else {
            self.tcp_wake.other(au.data.len());
        }
        Some((stream, au))
    }

    /// What is due by the clock: a keep-alive, the data timeouts, keyframe requests and RTCP reports.
    fn run_timers(&mut self, now: Instant) -> Result<(), ClientError> {
        if let Some(req) = self.session.poll(now)? {
            self.send(&req)?;
        }
        let Some(since) = self.playing_since else {
            return Ok(());
        };
        self.check_data_timeouts(since, now)?;
        if self.cfg.keyframe_wanted.swap(false, Ordering::Relaxed) {
            for s in &mut self.streams {
                s.inbound.request_keyframe();
            }
        }
        let keyframe_request_due = self
            .streams
            .iter()
            .any(|s| s.inbound.keyframe_request_due(now));
        if self.cfg.do_rtcp && (now >= self.next_rtcp || keyframe_request_due) {
            self.send_receiver_reports(now);
        }
        Ok(())
    }

    /// Waits for a socket, the wake-up or the next deadline; at once when data is known to wait.
    fn wait(&mut self, now: Instant) -> Result<Ready, ClientError> {
        let epoll_err = |e| ClientError::Io("epoll".into(), e);
        // Before the timeout: whether only marker packets wake the loop decides whether an overdue
        // frame is a deadline.
        self.watch_bulk(0, now).map_err(epoll_err)?;
        self.watch_side_streams().map_err(epoll_err)?;
        for i in 1..self.streams.len() {
            self.watch_bulk(i, now).map_err(epoll_err)?;
        }
        let timeout = self
            .next_deadline()
            .map(|d| d.saturating_duration_since(now));
        // The reorder window's deadline to the microsecond: rounded up to epoll's milliseconds it
        // would add up to a millisecond to every loss.
        let precise = self
            .streams
            .iter()
            .filter_map(|s| s.inbound.deadline())
            .min();
        self.poller
            .set_precise(precise, now)
            .map_err(|e| ClientError::Io("timerfd".into(), e))?;
        // Over TCP between pictures: small packets wait for the next picture's, not long past its due.
        let timeout = match self.set_tcp_wake(now).map_err(epoll_err)? {
            Some(until) => {
                let bound = until.saturating_duration_since(now);
                Some(timeout.map_or(bound, |t| t.min(bound)))
            }
            None => timeout,
        };
        let backlog = self.rtsp_backlog || self.streams.iter().any(|s| s.rtp_backlog);
        let timeout = if backlog {
            Some(Duration::ZERO)
        } else {
            timeout
        };
        // A wait for nothing (data known to wait) does not sleep.
        self.wakeups += u64::from(timeout != Some(Duration::ZERO));
        self.poller.wait(timeout).map(Ready).map_err(epoll_err)
    }

    /// How often the loop waited (and woke) so far.
    pub fn wakeups(&self) -> u64 {
        self.wakeups
    }

    /// Whether silent UDP has a next transport to go to: multicast after unicast, TCP after either.
    fn can_fall_back(&self) -> bool {
        self.cfg.tcp || (self.session.lower() == Lower::Udp && self.cfg.multicast)
    }

    /// When the primary stream's last packet came.
    fn last_packet(&self) -> Option<Instant> {
        self.primary().and_then(|s| s.inbound.last_packet())
    }

    fn check_data_timeouts(&self, since: Instant, now: Instant) -> Result<(), ClientError> {
        let tcp = self.session.uses_tcp();
        let last = self.last_packet();
        if let Some(udp_timeout) = self.cfg.udp_timeout {
            if !tcp
                && self.can_fall_back()
                && last.is_none()
                && now.duration_since(since) >= udp_timeout
            {
                return Err(ClientError::UdpSilent(udp_timeout));
            }
        }
        if let Some(t) = self.cfg.stall_timeout {
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
        let last = self.last_packet().or(since);
        let timers = [
            self.session.next_deadline(),
            since.filter(|_| self.cfg.do_rtcp).map(|_| self.next_rtcp),
            since
                .filter(|_| {
                    self.can_fall_back() && !self.session.uses_tcp() && self.last_packet().is_none()
                })
                .zip(self.cfg.udp_timeout)
                .map(|(s, t)| s + t),
            self.cfg.stall_timeout.zip(last).map(|(t, l)| l + t),
        ];
        let overdue = self
            .streams
            .iter()
            .filter(|s| s.steered_quietly())
            .filter_map(|s| s.wake_policy.overdue());
        timers.into_iter().flatten().chain(overdue).min()
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

    /// Plays the recording from elsewhere, at another speed or with other frames (ONVIF replay): PAUSE
    /// then PLAY on this session. Until PLAY's answer the session is not playing (no data timeouts);
    /// what the old position still sends is dropped. Not playing yet: the first PLAY asks it.
    pub fn replay(&mut self, replay: crate::rtsp::replay::Replay) -> Result<(), ClientError> {
        self.cfg.replay = Some(replay);
        match self.session.replay(replay, Instant::now()) {
            Some(pause) => {
                self.playing_since = None;
                self.send(&pause)
            }
            // A PLAY is out (the first, or a seek's): this one follows its answer.
            None if self.session.state() == crate::rtsp::session::State::Play => {
                self.replay_after_play = Some(replay);
                Ok(())
            }
            None => {
                self.session.set_replay(replay);
                Ok(())
            }
        }
    }

    /// PLAY was answered: a replay asked for meanwhile goes now.
    fn replay_asked_meanwhile(&mut self) -> Result<(), ClientError> {
        match self.replay_after_play.take() {
            Some(replay) => self.replay(replay),
            None => Ok(()),
        }
    }

    fn send(&mut self, req: &Request) -> Result<(), ClientError> {
        crate::log!(self.cfg.log, Debug, "sending {}", req.redacted());
        // A replay's PLAY: RTP held from before it is the old position's, and so is what comes after
        // it naming the previous PLAY's CSeq.
        if req.method == crate::rtsp::message::Method::Play && self.cfg.replay.is_some() {
            let cseq = req.headers.get("CSeq").and_then(|c| c.parse::<u32>().ok());
            for s in &mut self.streams {
                s.early_rtp.clear();
                s.inbound.restart_replay(cseq.unwrap_or(0) as u8);
            }
        }
        self.conn
            .write(&req.to_bytes())
            .map_err(|e| ClientError::Io(format!("sending {} to the camera", req.method), e))
    }
}

//! The RTSP client session as a pure state machine: OPTIONS → DESCRIBE → (the caller chooses the
//! streams) → one SETUP per stream → PLAY → keep-alive → TEARDOWN. It takes responses and the current
//! time, and returns the requests to send and what the I/O layer must do; it never touches a socket or
//! sleeps. Every output about a stream carries the stream's index in the list given to `set_up`.

use super::auth::Authenticator;
use super::headers::{self, RtpInfo, Transport};
use super::message::{Method, Request, Response};
use super::replay::Replay;
use super::sdp::{self, Description};
use super::url::{Credentials, RtspUrl};
use std::fmt;

mod error;
mod setup;
pub use error::SessionError;
pub use setup::interleaved_channels;
use std::time::{Duration, Instant};

/// RFC 2326 default session timeout, used when the server names none.
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a request may stay unanswered.
/// How long a reply may take by default (`tcp-timeout`, rtspsrc's property, default 20 s there).
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Keep-alives go out at this fraction of the session timeout: a keep-alive that fails (or goes
/// unanswered) is followed by another one well inside the timeout (Tapo: 5 s or 15 s sessions).
const KEEPALIVE_DIVISOR: u32 = 3;

#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub url: RtspUrl,
    pub credentials: Option<Credentials>,
    pub user_agent: String,
    /// Whether RTP over unicast UDP may be used (first, when allowed); each stream's port pair comes
    /// with `set_up`.
    pub udp_allowed: bool,
    /// Whether RTP multicast may be used: after unicast UDP, before TCP.
    pub multicast_allowed: bool,
    /// Whether RTP over the RTSP connection (interleaved) may be used, first or as the fallback.
    pub tcp_allowed: bool,
    pub keep_alive: bool,
    /// How long a request may wait for its reply before the session fails; `None`: for ever.
    pub response_timeout: Option<Duration>,
    /// Option tags sent in `Require` with DESCRIBE, SETUP, PLAY and PAUSE (ONVIF's back channel and
    /// replay). A camera that answers DESCRIBE with 551 Option not supported is asked again without
    /// the tags it names in `Unsupported` (all of them when it names none), and a warning says so;
    /// with replay's tag, a 551 to any request ends the session instead.
    pub require: Vec<String>,
    pub log: crate::log::Log,
}

/// How RTP comes: rtspsrc's lower transports, in the order they are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lower {
    /// Unicast UDP to our port pair.
    Udp,
    /// UDP to a multicast group the SETUP reply names.
    Multicast,
    /// Interleaved on the RTSP connection.
    Tcp,
}

/// What the I/O layer must do.
/// A stream to set up: its control URL and, for unicast UDP, our RTP and RTCP ports.
#[derive(Clone, PartialEq, Eq)]
pub struct SetupTarget {
    pub control: String,
    pub udp_ports: Option<(u16, u16)>,
}

/// The control URL shown redacted (a camera may take credentials in the query).
impl fmt::Debug for SetupTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetupTarget")
            .field("control", &super::url::redact(&self.control))
            .field("udp_ports", &self.udp_ports)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Send(Request),
    /// DESCRIBE answered: choose the streams and call `set_up`.
    Described(Description),
    /// Stream `stream`'s SETUP answered with this transport, over `lower`.
    SetUp {
        stream: usize,
        transport: Transport,
        lower: Lower,
    },
    /// Stream `stream` (never the first) was refused: it is left out, the others are set up and play.
    LeftOut {
        stream: usize,
    },
    /// PLAY answered: media flows. Each stream's RTP-Info entry, if any, by stream index.
    Playing(Vec<Option<RtpInfo>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Init,
    Options,
    Describe,
    /// DESCRIBE answered; waiting for `set_up`.
    Choosing,
    Setup,
    Play,
    Playing,
    /// A replay's PAUSE is out; its PLAY follows.
    Pausing,
    TearingDown,
    Closed,
}

#[derive(Debug)]
struct Pending {
    cseq: u32,
    /// The request without CSeq/Authorization, to be sent again after a 401.
    template: Request,
    sent_at: Instant,
}

pub struct Session {
    cfg: SessionConfig,
    state: State,
    cseq: u32,
    auth: Authenticator,
    pending: Option<Pending>,
    session_id: Option<String>,
    /// The smallest session timeout the server stated, if any (GW4089IP: 60 on SETUP, 120 on PLAY).
    server_timeout: Option<Duration>,
    /// Aggregate control URL used for PLAY and TEARDOWN.
    base_url: String,
    /// The streams to set up, in order; `setting_up` is the one whose SETUP is outstanding.
    targets: Vec<SetupTarget>,
    setting_up: usize,
    keepalive_method: Method,
    next_keepalive: Option<Instant>,
    lower: Lower,
    warned_basic: bool,
    /// Warnings for the application (bus), taken with `take_warnings`.
    warnings: Vec<String>,
    /// What the next PLAY asks of a recording (ONVIF replay), instead of `Range: npt=0.000-`.
    replay: Option<Replay>,
}

/// The state, not the URLs (a camera may take credentials in the query) nor the requests.
impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("state", &self.state)
            .field("cseq", &self.cseq)
            .field("auth", &self.auth)
            .field("timeout", &self.timeout())
            .field("keepalive_method", &self.keepalive_method)
            .field("lower", &self.lower)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub fn new(cfg: SessionConfig) -> Self {
        let credentials = cfg
            .credentials
            .clone()
            .or_else(|| cfg.url.credentials.clone());
        Session {
            lower: match (cfg.udp_allowed, cfg.multicast_allowed) {
                (true, _) => Lower::Udp,
                (false, true) => Lower::Multicast,
                (false, false) => Lower::Tcp,
            },
            base_url: cfg.url.as_str().to_string(),
            auth: Authenticator::new(credentials),
            cfg,
            state: State::Init,
            cseq: 0,
            pending: None,
            session_id: None,
            server_timeout: None,
            targets: Vec::new(),
            setting_up: 0,
            keepalive_method: Method::Options,
            next_keepalive: None,
            warned_basic: false,
            warnings: Vec::new(),
            replay: None,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    pub fn timeout(&self) -> Duration {
        self.server_timeout.unwrap_or(DEFAULT_SESSION_TIMEOUT)
    }

    /// Time between keep-alives.
    pub fn keepalive_interval(&self) -> Duration {
        (self.timeout() / KEEPALIVE_DIVISOR).max(Duration::from_millis(500))
    }

    /// Whether the session uses (or will set up) TCP-interleaved RTP.
    pub fn uses_tcp(&self) -> bool {
        self.lower == Lower::Tcp
    }

    /// How RTP comes (or will, once SETUP is answered).
    pub fn lower(&self) -> Lower {
        self.lower
    }

    /// The transport to try after `lower` was refused, if the settings allow one.
    fn next_lower(&self) -> Option<Lower> {
        match self.lower {
            Lower::Udp if self.cfg.multicast_allowed => Some(Lower::Multicast),
            Lower::Udp | Lower::Multicast if self.cfg.tcp_allowed => Some(Lower::Tcp),
            _ => None,
        }
    }

    /// Warnings since the last call: things the application should hear about.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    pub fn keepalive_method(&self) -> Method {
        self.keepalive_method
    }

    /// First request of the session.
    pub fn start(&mut self, now: Instant) -> Request {
        self.state = State::Options;
        let url = self.cfg.url.as_str().to_string();
        self.send(Request::new(Method::Options, url), now)
    }

    /// Earliest time `poll` has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        // Only what `poll` acts on: a deadline it lets pass without acting stays in the past, and the
        // I/O loop would wait for it with a zero timeout over and over (a busy loop with keep-alives
        // off, or while a camera leaves a keep-alive unanswered).
        let playing = self.state == State::Playing;
        let answer = self
            .pending
            .as_ref()
            .zip(self.cfg.response_timeout)
            .filter(|_| !playing)
            .map(|(p, t)| p.sent_at + t);
        let keepalive = self
            .next_keepalive
            .filter(|_| playing && self.cfg.keep_alive);
        match (answer, keepalive) {
            (Some(a), Some(k)) => Some(a.min(k)),
            (a, k) => a.or(k),
        }
    }

    /// Timers: a keep-alive that is due, or an error when a request went unanswered.
    pub fn poll(&mut self, now: Instant) -> Result<Option<Request>, SessionError> {
        if let Some((p, t)) = self.pending.as_ref().zip(self.cfg.response_timeout) {
            if now >= p.sent_at + t && self.state != State::Playing {
                return Err(SessionError::NoAnswer(p.template.method, t));
            }
        }
        if self.state != State::Playing || !self.cfg.keep_alive {
            return Ok(None);
        }
        match self.next_keepalive {
            Some(t) if now >= t => {
                // A keep-alive still unanswered when the next is due is given up: some cameras ignore
                // them, and the data timeout watches the stream. Its late reply is tolerated.
                self.pending = None;
                Ok(Some(self.send_keepalive(now)))
            }
            _ => Ok(None),
        }
    }

    fn send_keepalive(&mut self, now: Instant) -> Request {
        self.next_keepalive = Some(now + self.keepalive_interval());
        let uri = if self.keepalive_method == Method::Options {
            self.cfg.url.as_str().to_string()
        } else {
            self.base_url.clone()
        };
        self.send(Request::new(self.keepalive_method, uri), now)
    }

    /// TEARDOWN for the current session, if one was set up.
    pub fn teardown(&mut self, now: Instant) -> Option<Request> {
        let has_session = self.session_id.is_some();
        self.state = State::TearingDown;
        self.next_keepalive = None;
        has_session.then(|| {
            let url = self.base_url.clone();
            self.send(Request::new(Method::Teardown, url), now)
        })
    }

    pub fn handle_response(
        &mut self,
        resp: &Response,
        now: Instant,
    ) -> Result<Vec<Output>, SessionError> {
        let Some(pending) = self.pending.take() else {
            // Nothing outstanding: a late or duplicate reply.
            return Ok(Vec::new());
        };
        if let Some(cseq) = resp.cseq() {
            if cseq != pending.cseq {
                let is_keepalive = self.state == State::Playing;
                if !is_keepalive && cseq < pending.cseq {
                    // A stale reply to an earlier request; keep waiting for ours.
                    self.pending = Some(pending);
                    return Ok(Vec::new());
                }
                // Tapo cameras answer keep-alives with the previous request's CSeq.
            }
        }
        let method = pending.template.method;

        if resp.status == 401 {
            self.auth
                .on_unauthorized(resp.headers.get_all("WWW-Authenticate"))
                .map_err(SessionError::Auth)?;
            return Ok(vec![Output::Send(self.send(pending.template, now))]);
        }
        if (200..300).contains(&resp.status) {
            self.auth.on_success();
        }

        // A recording asked for (ONVIF replay) cannot be played without: its live stream is not it.
        if resp.status == 551 && self.requires(super::replay::REPLAY_TAG) {
            return Err(SessionError::OptionRefused {
                method,
                unsupported: resp
                    .headers
                    .get("Unsupported")
                    .unwrap_or_default()
                    .to_string(),
            });
        }
        if resp.status == 551 && method == Method::Describe && !self.cfg.require.is_empty() {
            return Ok(self.without_unsupported(resp, pending.template, now));
        }
        match (self.state, method) {
            (State::Options, Method::Options) => Ok(self.on_options(resp, now)),
            (State::Describe, Method::Describe) => self.on_describe(resp, &pending.template),
            (State::Setup, Method::Setup) => self.on_setup(resp, &pending.template, now),
            (State::Play, Method::Play) => self.on_play(resp, &pending.template, now),
            (State::Pausing, Method::Pause) => {
                self.check_ok(resp, &pending.template)?;
                self.state = State::Play;
                let play = self.play_request();
                Ok(vec![Output::Send(self.send(play, now))])
            }
            (State::Playing, m) if m == self.keepalive_method => self.on_keepalive(resp, m, now),
            (State::TearingDown, _) => {
                self.state = State::Closed;
                Ok(Vec::new())
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Any answer to OPTIONS is fine (some servers don't implement it); DESCRIBE follows.
    fn on_options(&mut self, resp: &Response, now: Instant) -> Vec<Output> {
        if let Some(public) = resp.headers.get("Public") {
            if headers::public_has(public, "GET_PARAMETER") {
                self.keepalive_method = Method::GetParameter;
            }
        }
        self.state = State::Describe;
        let req = Request::new(Method::Describe, self.cfg.url.as_str().to_string())
            .with_header("Accept", "application/sdp");
        vec![Output::Send(self.send(req, now))]
    }

    /// DESCRIBE refused with 551 Option not supported: asked again without the option tags the camera
    /// does not support.
    fn without_unsupported(
        &mut self,
        resp: &Response,
        describe: Request,
        now: Instant,
    ) -> Vec<Output> {
        let unsupported = resp.headers.get("Unsupported").unwrap_or_default();
        let named: Vec<&str> = unsupported
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        let (dropped, kept): (Vec<String>, Vec<String>) = std::mem::take(&mut self.cfg.require)
            .into_iter()
            .partition(|tag| named.is_empty() || named.contains(&tag.as_str()));
        // It names only tags we did not send: none of ours is believed supported. Each 551 drops at
        // least one tag, so the DESCRIBEs end.
        let (dropped, kept) = match dropped.is_empty() {
            true => (kept, Vec::new()),
            false => (dropped, kept),
        };
        self.cfg.require = kept;
        self.warnings.push(format!(
            "the camera does not support {} (551 Option not supported): playing without it",
            dropped.join(", ")
        ));
        vec![Output::Send(self.send(describe, now))]
    }

    /// What the first PLAY asks of a recording (ONVIF replay): set before the session starts.
    pub fn set_replay(&mut self, replay: Replay) {
        self.replay = Some(replay);
    }

    /// Replays from elsewhere, at another speed or with other frames on the playing session (ONVIF
    /// Streaming §6: PAUSE, then PLAY with the replay's headers, the same session): the PAUSE, or
    /// `None` when not playing. PLAY's answer gives `Output::Playing` again.
    pub fn replay(&mut self, replay: Replay, now: Instant) -> Option<Request> {
        if self.state != State::Playing {
            return None;
        }
        self.replay = Some(replay);
        self.state = State::Pausing;
        let pause = Request::new(Method::Pause, self.base_url.clone());
        Some(self.send(pause, now))
    }

    /// Whether the camera took option tag `tag` (sent with `Require`, not refused).
    pub fn requires(&self, tag: &str) -> bool {
        self.cfg.require.iter().any(|t| t == tag)
    }

    /// The SDP, for the caller to choose from.
    fn on_describe(&mut self, resp: &Response, req: &Request) -> Result<Vec<Output>, SessionError> {
        self.check_ok(resp, req)?;
        // Any Content-Type (or none: libavformat servers) is parsed as SDP.
        let base = resp
            .headers
            .get("Content-Base")
            .or_else(|| resp.headers.get("Content-Location"))
            .filter(|b| !b.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| self.cfg.url.as_str().to_string());
        let description = sdp::parse(&resp.body, &base).map_err(SessionError::Sdp)?;
        self.base_url = sdp::join_control(&base, None);
        if !self.base_url.contains("://") {
            self.base_url = format!("rtsp://{}", self.base_url);
        }
        self.state = State::Choosing;
        Ok(vec![Output::Described(description)])
    }

    /// The streams chosen from the SDP, in the order they are set up: the first one's SETUP, or `None`
    /// when the session is not waiting for a choice or none was made.
    pub fn set_up(&mut self, targets: Vec<SetupTarget>, now: Instant) -> Option<Request> {
        if self.state != State::Choosing || targets.is_empty() {
            return None;
        }
        self.targets = targets;
        self.setting_up = 0;
        self.state = State::Setup;
        let setup = self.setup_request();
        Some(self.send(setup, now))
    }

    /// PLAY answered: media flows, with each stream's RTP-Info entry.
    fn on_play(
        &mut self,
        resp: &Response,
        req: &Request,
        now: Instant,
    ) -> Result<Vec<Output>, SessionError> {
        self.check_ok(resp, req)?;
        self.take_session(resp);
        self.state = State::Playing;
        self.next_keepalive = Some(now + self.keepalive_interval());
        let infos = resp
            .headers
            .get("RTP-Info")
            .map(headers::parse_rtp_info)
            .unwrap_or_default();
        Ok(vec![Output::Playing(self.rtp_info_by_stream(&infos))])
    }

    fn on_keepalive(
        &mut self,
        resp: &Response,
        method: Method,
        now: Instant,
    ) -> Result<Vec<Output>, SessionError> {
        match resp.status {
            200..=299 => Ok(Vec::new()),
            454 => Err(SessionError::SessionLost(
                "the camera answered the keep-alive with 454 Session Not Found".into(),
            )),
            _ if method != Method::Options => {
                // Tapo answers GET_PARAMETER with 400 and does not count it as alive: OPTIONS goes out
                // at once, not an interval later when the session may have expired.
                self.keepalive_method = Method::Options;
                Ok(vec![Output::Send(self.send_keepalive(now))])
            }
            _ => Ok(Vec::new()),
        }
    }

    fn check_ok(&self, resp: &Response, req: &Request) -> Result<(), SessionError> {
        if (200..300).contains(&resp.status) {
            return Ok(());
        }
        Err(SessionError::Status {
            method: req.method,
            status: resp.status,
            reason: resp.reason.clone(),
            url: super::url::redact(&req.uri),
        })
    }

    fn take_session(&mut self, resp: &Response) {
        let Some((id, timeout)) = resp.headers.get("Session").and_then(headers::parse_session)
        else {
            return;
        };
        // H264DVR changes the id on a later reply; the first one stays valid.
        if self.session_id.is_none() {
            self.session_id = Some(id);
        }
        if let Some(t) = timeout.filter(|&t| t > 0) {
            let t = Duration::from_secs(t.into());
            self.server_timeout = Some(self.server_timeout.map_or(t, |old| old.min(t)));
        }
    }

    fn send(&mut self, template: Request, now: Instant) -> Request {
        self.cseq += 1;
        let mut req = template.clone().with_header("CSeq", self.cseq.to_string());
        req = req.with_header("User-Agent", self.cfg.user_agent.clone());
        if let Some(id) = &self.session_id {
            req = req.with_header("Session", id.clone());
        }
        let requiring = matches!(
            template.method,
            Method::Describe | Method::Setup | Method::Play | Method::Pause
        );
        if requiring && !self.cfg.require.is_empty() {
            req = req.with_header("Require", self.cfg.require.join(", "));
        }
        if let Some(auth) = self
            .auth
            .authorization(template.method.as_str(), &template.uri)
        {
            req = req.with_header("Authorization", auth);
            // Over TLS (rtsps://) the password is encrypted like everything else.
            if self.auth.is_basic()
                && !self.cfg.url.tls
                && !std::mem::replace(&mut self.warned_basic, true)
            {
                self.warnings.push(
                    "the camera accepts only Basic authentication: the password crosses the network \
                     in the clear (base64) on every request"
                        .into(),
                );
            }
        }
        self.pending = Some(Pending {
            cseq: self.cseq,
            template,
            sent_at: now,
        });
        req
    }
}

#[cfg(test)]
mod tests;

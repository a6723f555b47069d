//! The per-stream part of a session: each stream's SETUP over the current transport and its answer
//! (the next transport, or the stream left out, when refused), PLAY after the last, and each stream's
//! entry of PLAY's RTP-Info.

use super::{Lower, Output, Session, SessionError, SetupTarget, State};
use crate::rtsp::headers::{self, RtpInfo};
use crate::rtsp::message::{Method, Request, Response};
use crate::rtsp::sdp;
use std::time::Instant;

/// The interleaved channels stream `index` asks for: 2i and 2i+1 (and takes when the reply names none).
pub fn interleaved_channels(index: usize) -> (u8, u8) {
    let rtp = u8::try_from(2 * index).unwrap_or(254);
    (rtp, rtp.saturating_add(1))
}

impl Session {
    /// A stream's SETUP answered: the next stream's SETUP, or PLAY after the last. A refused first
    /// SETUP is tried again over the next transport allowed; a refused later one (an audio track the
    /// camera lists but will not serve) is left out with a warning, so that the video still plays.
    pub(super) fn on_setup(
        &mut self,
        resp: &Response,
        req: &Request,
        now: Instant,
    ) -> Result<Vec<Output>, SessionError> {
        let next = self.next_lower().filter(|_| self.setting_up == 0);
        if let Some(next) = next.filter(|_| (400..500).contains(&resp.status)) {
            // 461 Unsupported Transport, or another refusal: the next transport allowed (unicast UDP,
            // then multicast, then RTP over the connection, as rtspsrc).
            crate::log!(
                self.cfg.log,
                Debug,
                "SETUP over {:?} refused ({}); trying {:?}",
                self.lower,
                resp.status,
                next
            );
            self.lower = next;
            let setup = self.setup_request();
            return Ok(vec![Output::Send(self.send(setup, now))]);
        }
        if self.setting_up > 0 && !(200..300).contains(&resp.status) {
            let why = format!(
                "the camera refused SETUP of stream {} ({} {}, {}): playing without it",
                self.setting_up,
                resp.status,
                crate::au::cut(&resp.reason),
                crate::rtsp::url::redact(&req.uri)
            );
            crate::log!(self.cfg.log, Warning, "{}", why);
            self.warnings.push(why);
            let left_out = Output::LeftOut {
                stream: self.setting_up,
            };
            let next = self.next_setup_or_play();
            return Ok(vec![left_out, Output::Send(self.send(next, now))]);
        }
        self.check_ok(resp, req)?;
        self.take_session(resp);
        let transport = resp
            .headers
            .get("Transport")
            .map(headers::parse_transport)
            .unwrap_or_default();
        let set_up = Output::SetUp {
            stream: self.setting_up,
            transport,
            lower: self.lower,
        };
        let request = self.next_setup_or_play();
        Ok(vec![set_up, Output::Send(self.send(request, now))])
    }

    /// After stream `setting_up`'s SETUP: the next stream's, or PLAY after the last.
    pub(super) fn next_setup_or_play(&mut self) -> Request {
        self.setting_up += 1;
        if self.setting_up < self.targets.len() {
            self.setup_request()
        } else {
            self.state = State::Play;
            self.play_request()
        }
    }

    /// Each stream's RTP-Info entry. Dahua and Reolink give one entry per track with relative URLs
    /// (`url=trackID=1`): resolved like control URLs before matching. GW4089IP's url= matches no control
    /// URL: with as many entries as streams, they are taken in order.
    pub(super) fn rtp_info_by_stream(&self, infos: &[RtpInfo]) -> Vec<Option<RtpInfo>> {
        let by_url = |target: &SetupTarget| {
            infos
                .iter()
                .find(|i| {
                    i.url.as_deref().is_some_and(|u| {
                        sdp::join_control(&self.base_url, Some(u)) == target.control
                    })
                })
                .cloned()
        };
        let found: Vec<Option<RtpInfo>> = self.targets.iter().map(by_url).collect();
        if found.iter().all(Option::is_none) && infos.len() == self.targets.len() {
            return infos.iter().cloned().map(Some).collect();
        }
        found
    }

    /// PLAY: a replay's headers when one is asked for, else from the start.
    pub(super) fn play_request(&self) -> Request {
        let play = Request::new(Method::Play, self.base_url.clone());
        if let Some(replay) = &self.replay {
            return replay
                .headers()
                .into_iter()
                .fold(play, |req, (name, value)| req.with_header(name, value));
        }
        // gst-rtsp-server cannot seek a media with an ONVIF back channel (its source of our audio is
        // not seekable) and answers a PLAY with a Range 503; the Range is optional.
        match self.requires(crate::onvif::BACKCHANNEL_TAG) {
            true => play,
            false => play.with_header("Range", "npt=0.000-"),
        }
    }

    /// SETUP of the stream `setting_up` over the current transport; stream i is interleaved on
    /// channels 2i and 2i+1.
    pub(super) fn setup_request(&self) -> Request {
        let target = &self.targets[self.setting_up];
        let transport = match (self.lower, target.udp_ports) {
            (Lower::Udp, Some((rtp, rtcp))) => {
                format!("RTP/AVP;unicast;client_port={rtp}-{rtcp}")
            }
            // The server picks the group and ports (from its address pool).
            (Lower::Multicast, _) => "RTP/AVP;multicast".to_string(),
            _ => {
                let (rtp, rtcp) = interleaved_channels(self.setting_up);
                format!("RTP/AVP/TCP;unicast;interleaved={rtp}-{rtcp}")
            }
        };
        Request::new(Method::Setup, target.control.as_str()).with_header("Transport", transport)
    }
}

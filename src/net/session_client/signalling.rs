//! The session client's RTSP side: replies go to the session and what it asks for is done here —
//! choosing the streams after DESCRIBE (their sockets bound and watched), each stream's transport after
//! its SETUP, the start of media after PLAY. Interleaved `$` frames go to the stream of their channel.

use super::backchannel::BackchannelSender;
use super::stream_receiver::StreamReceiver;
use super::tokens::MAX_STREAMS;
use super::udp_rtp::hold_early;
use super::{ClientError, SessionClient};
use crate::net::udp::UdpPorts;
use crate::rtsp::headers::{RtpInfo, Transport};
use crate::rtsp::message::Message;
use crate::rtsp::sdp::Description;
use crate::rtsp::session::{Lower, Output, SetupTarget};
use crate::stream::inbound::Inbound;
use crate::stream::selection;
use crate::stream::spec::StreamSpec;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

impl SessionClient {
    pub(super) fn read_rtsp(&mut self) -> Result<(), ClientError> {
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
            let handled = match msg {
                Message::Response(resp) => {
                    crate::log!(
                        self.cfg.log,
                        Debug,
                        "reply {} {} CSeq {:?}",
                        resp.status,
                        resp.reason,
                        resp.cseq()
                    );
                    self.session
                        .handle_response(&resp, now)
                        .map_err(ClientError::from)
                        .and_then(|outputs| {
                            outputs.into_iter().try_for_each(|out| self.apply(out, now))
                        })
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
                    self.conn
                        .write(reply.as_bytes())
                        .map_err(|e| ClientError::Io("replying to the camera".into(), e))
                }
                Message::Data { channel, payload } => {
                    let range = at + payload.start..at + payload.end;
                    self.on_interleaved(channel, range, now)
                }
            };
            if let Err(e) = handled {
                break Err(e);
            }
        };
        self.conn.compact();
        result
    }

    /// A `$` frame on `channel`, its payload at `range` of the connection's buffer. Only channels we
    /// set up. Reolink and v4l2rtspserver send data before the PLAY reply: RTP is kept until the reply's
    /// RTP-Info names the SSRC (the first packets hold the keyframe's parameter sets). So is RTCP: the
    /// first sender report goes out with the first packets, the next seconds later, and lip-sync needs
    /// it for the first picture; a report counts only for the SSRC that becomes the stream's, and a
    /// BYE only once playing (a stale session's).
    fn on_interleaved(
        &mut self,
        channel: u8,
        range: std::ops::Range<usize>,
        now: Instant,
    ) -> Result<(), ClientError> {
        let playing = self.playing_since.is_some();
        let payload = self.conn.bytes(range);
        let our_ssrc = self.our_ssrc;
        for s in &mut self.streams {
            match s.channels {
                Some((rtp, _)) if channel == rtp && playing => s.inbound.on_packet(payload, now),
                Some((rtp, _)) if channel == rtp => hold_early(&mut s.early_rtp, payload),
                Some((_, rtcp)) if channel == rtcp => {
                    if s.inbound.on_rtcp(payload, our_ssrc, now) && playing {
                        return Err(ClientError::Bye);
                    }
                }
                _ => continue,
            }
            break;
        }
        Ok(())
    }

    fn apply(&mut self, out: Output, now: Instant) -> Result<(), ClientError> {
        match out {
            Output::Send(req) => self.send(&req),
            Output::Described(description) => self.choose_streams(&description, now),
            Output::SetUp {
                stream,
                transport,
                lower,
            } => self.on_set_up(stream, &transport, lower),
            Output::LeftOut { stream } => {
                if let Some(s) = self.streams.get_mut(stream) {
                    s.left_out = true;
                }
                if self.backchannel.as_ref().is_some_and(|b| b.index == stream) {
                    self.backchannel = None;
                }
                Ok(())
            }
            Output::Playing(infos) => {
                self.on_playing(infos, now);
                self.replay_asked_meanwhile()
            }
        }
    }

    /// DESCRIBE answered: the streams to receive, each with its sockets, and the first SETUP.
    fn choose_streams(
        &mut self,
        description: &Description,
        now: Instant,
    ) -> Result<(), ClientError> {
        if let Some(on_sdp) = &self.cfg.hooks.on_sdp {
            on_sdp(&description.text);
        }
        let mut choice = self.cfg.choice;
        // A camera that answered the Require with 551 has none.
        choice.backchannel &= self.session.requires(crate::onvif::BACKCHANNEL_TAG);
        if let Some(offer) = &self.cfg.hooks.on_offer {
            let playable = selection::playable(description, &choice);
            let defaults: Vec<usize> = selection::select(description, &choice)
                .map(|s| s.streams.iter().map(|s| s.media_index).collect())
                .unwrap_or_default();
            if offer(&playable, &defaults) {
                choice.streams = selection::StreamChoice::All;
            }
        }
        let hook = self.cfg.hooks.select_stream.clone();
        let mut accept = |spec: &StreamSpec| match (&hook, description.media.get(spec.media_index))
        {
            (Some(hook), Some(media)) => hook(media, spec),
            _ => true,
        };
        let mut chosen = selection::select_with(description, &choice, &mut accept)
            .map_err(ClientError::NothingToPlay)?;
        for why in &chosen.left_out {
            crate::log!(self.cfg.log, Info, "left out: {}", why);
        }
        // Asked for and not refused, yet none to set up (live555 ignores the Require). One the
        // application refused (select-stream) is its own choice: no warning.
        if choice.backchannel && chosen.backchannel.is_none() && !chosen.backchannel_refused {
            let why = chosen
                .left_out
                .iter()
                .find(|w| w.starts_with("back channel"));
            let why = why.map_or("no sendonly audio in its SDP", String::as_str);
            self.warnings.push(format!(
                "the camera offers no ONVIF back channel ({why}): playing without it"
            ));
        }
        chosen.streams.truncate(MAX_STREAMS);
        let mut targets = Vec::with_capacity(chosen.streams.len());
        for (index, spec) in chosen.streams.into_iter().enumerate() {
            crate::log!(
                self.cfg.log,
                Debug,
                "stream {}: {:?} pt {} clock {} control {} packetization-mode {}",
                index,
                spec.codec,
                spec.payload_type,
                spec.clock_rate,
                crate::rtsp::url::redact(&spec.control),
                spec.packetization_mode
            );
            let udp = match self.cfg.udp {
                true => Some(self.bind_ports(index == 0)?),
                false => None,
            };
            targets.push(SetupTarget {
                control: spec.control.clone(),
                udp_ports: udp.as_ref().map(|u| (u.rtp_port(), u.rtp_port() + 1)),
            });
            let mut inbound = Inbound::new(self.cfg.latency, self.cfg.wait_for_keyframe);
            inbound.set_log(self.cfg.log.clone());
            let mut receiver = StreamReceiver::new(index, spec, inbound, udp, &self.poller, now)
                .map_err(|e| ClientError::Io("socket setup".into(), e))?;
            let problems = receiver.load_sdp_parameter_sets();
            if !problems.is_empty() {
                crate::log!(
                    self.cfg.log,
                    Warning,
                    "ignoring unusable parameter sets in the SDP ({}); using in-band ones",
                    problems.join("; ")
                );
            }
            self.streams.push(receiver);
        }
        if let Some(spec) = chosen.backchannel {
            let index = self.streams.len();
            let udp = match self.cfg.udp {
                true => Some(self.bind_ports(false)?),
                false => None,
            };
            targets.push(SetupTarget {
                control: spec.control.clone(),
                udp_ports: udp.as_ref().map(|u| (u.rtp_port(), u.rtp_port() + 1)),
            });
            self.backchannel = Some(BackchannelSender::new(index, spec, udp, now));
        }
        match self.session.set_up(targets, now) {
            Some(setup) => self.send(&setup),
            None => Ok(()),
        }
    }

    /// A UDP port pair for a stream (`steer`: marker steering, the video's).
    fn bind_ports(&self, steer: bool) -> Result<UdpPorts, ClientError> {
        let (range, tries) = (self.cfg.port_range, self.cfg.udp_port_tries);
        UdpPorts::bind(self.server_ip, range, tries, steer, &self.cfg.log)
            .map_err(|e| ClientError::Io("cannot bind the UDP ports".into(), e))
    }

    /// Stream `stream`'s SETUP answered: where its RTP comes from and its reports go.
    fn on_set_up(
        &mut self,
        stream: usize,
        transport: &Transport,
        lower: Lower,
    ) -> Result<(), ClientError> {
        if self.backchannel.as_ref().is_some_and(|b| b.index == stream) {
            self.on_backchannel_set_up(transport, lower);
            return Ok(());
        }
        let server_ip = self.server_ip;
        let Some(s) = self.streams.get_mut(stream) else {
            return Ok(());
        };
        s.ssrc_from_setup = transport.ssrc.is_some();
        s.inbound.set_ssrc(transport.ssrc);
        match lower {
            // The reorder window stays: NVRs and RTSP proxies relaying a UDP source forward its
            // reordering on the interleaved connection.
            Lower::Tcp => {
                let ours = crate::rtsp::session::interleaved_channels(stream);
                s.channels = Some(transport.interleaved.unwrap_or(ours));
            }
            Lower::Multicast => self.join_group(stream, transport)?,
            Lower::Udp => {
                if let Some(ip) = transport.source.as_deref().and_then(|s| s.parse().ok()) {
                    s.source_ip = Some(ip);
                }
                // Reports go to the RTSP server's own address, never to one an SDP or a Transport
                // header names (a camera's SDP may name its LAN address, or any host).
                s.server_rtcp = transport
                    .server_port
                    .map(|(_, rtcp)| SocketAddr::new(server_ip, rtcp));
                if let Some(ports) = transport.server_port.filter(|_| self.cfg.nat_dummy_packets) {
                    self.open_nat(stream, ports);
                }
            }
        }
        Ok(())
    }

    /// PLAY answered: media flows.
    fn on_playing(&mut self, infos: Vec<Option<RtpInfo>>, now: Instant) {
        crate::log!(
            self.cfg.log,
            Debug,
            "playing {} stream(s) over {}",
            self.streams.len(),
            if self.session.uses_tcp() {
                "TCP"
            } else {
                "UDP"
            }
        );
        self.playing_since = Some(now);
        self.next_rtcp = now + Duration::from_millis(500);
        let mut infos = infos.into_iter();
        for s in &mut self.streams {
            s.on_playing(infos.next().flatten(), now);
        }
    }
}

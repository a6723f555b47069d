//! SDP (RFC 4566) as cameras send it in their DESCRIBE reply: every media section with what a receiver
//! needs of it (payload types, `rtpmap`, `fmtp`, control URL, connection address, `rtcp-fb`, source
//! filter). Lenient: unknown or broken lines are skipped, and nothing here decides which media to set
//! up: that is `stream::selection`, over the codecs `stream::codec` knows.

use std::fmt;

/// The session description: the media sections in the order of the SDP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    pub media: Vec<Media>,
    /// Media sections past `MAX_MEDIA`, left out.
    pub omitted: usize,
    /// The SDP as it came (for `on-sdp`).
    pub text: Vec<u8>,
}

/// `a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    pub payload_type: u8,
    pub encoding: String,
    pub clock_rate: u32,
    /// The encoding parameters (audio channels), when given.
    pub channels: Option<u16>,
}

/// Which way a media's RTP goes (RFC 4566 §6), from the camera's side: `a=sendonly` on a media of
/// an ONVIF camera's DESCRIBE reply with `Require: www.onvif.org/ver20/backchannel` is the back channel,
/// the one media the client sends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// `sendrecv`, or nothing said (RFC 4566's default).
    #[default]
    SendRecv,
    /// `recvonly`: the camera sends (ONVIF marks its video and audio so).
    RecvOnly,
    /// `sendonly`: the client sends (ONVIF's back channel).
    SendOnly,
    Inactive,
}

impl Direction {
    fn parse(name: &str) -> Option<Direction> {
        Some(match name {
            "sendrecv" => Direction::SendRecv,
            "recvonly" => Direction::RecvOnly,
            "sendonly" => Direction::SendOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }
}

/// One `m=` section.
#[derive(Clone, PartialEq, Eq)]
pub struct Media {
    /// `video`, `audio`, `application`, … as written (TP-Link: `application/TP-LINK`).
    pub kind: String,
    /// The payload types the `m=` line lists.
    pub payload_types: Vec<u8>,
    pub rtpmaps: Vec<RtpMap>,
    /// (pt, parameters) of each `a=fmtp`.
    pub fmtps: Vec<(u8, String)>,
    /// Absolute control URL for SETUP.
    pub control: String,
    /// The media's or the session's `c=` address; `None` for `0.0.0.0`, `::` or none: media comes from
    /// the RTSP server's address.
    pub connection: Option<String>,
    /// (pt or `*`, feedback type and parameters, lower case) of each `a=rtcp-fb` (RFC 4585).
    pub rtcp_fb: Vec<(String, String)>,
    /// `a=source-filter: incl …` (RFC 4570), media's or session's: the one sender of a
    /// source-specific multicast group.
    pub source_filter: Option<String>,
    /// The media's `a=sendonly`/`recvonly`/…, else the session's.
    pub direction: Direction,
}

/// The control URL shown redacted (a camera may take credentials in the query).
impl fmt::Debug for Media {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Media")
            .field("kind", &self.kind)
            .field("payload_types", &self.payload_types)
            .field("rtpmaps", &self.rtpmaps)
            .field("fmtps", &self.fmtps)
            .field("control", &super::url::redact(&self.control))
            .field("connection", &self.connection)
            .field("rtcp_fb", &self.rtcp_fb)
            .field("source_filter", &self.source_filter)
            .field("direction", &self.direction)
            .finish()
    }
}

impl Media {
    /// The value of `key` in the `fmtp` of payload type `pt` (keys compared without case).
    pub fn fmtp(&self, pt: u8, key: &str) -> Option<&str> {
        let (_, params) = self.fmtps.iter().find(|(p, _)| *p == pt)?;
        params.split(';').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            k.trim().eq_ignore_ascii_case(key).then(|| v.trim())
        })
    }

    /// Whether the SDP offers feedback `wanted` (`nack pli`, `ccm fir`) for payload type `pt`.
    pub fn has_feedback(&self, pt: u8, wanted: &str) -> bool {
        self.rtcp_fb
            .iter()
            .any(|(p, fb)| (p == "*" || p.parse() == Ok(pt)) && fb == wanted)
    }

    /// What the media is, for messages: its kind and first encoding (`audio PCMA`).
    pub fn summary(&self) -> String {
        match self.rtpmaps.first() {
            Some(r) => format!("{} {}", self.kind, r.encoding),
            None => format!("{} {}", self.kind, self.kind),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdpError {
    NotUtf8,
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SdpError::NotUtf8 => write!(f, "the DESCRIBE reply is not a text SDP"),
        }
    }
}

impl std::error::Error for SdpError {}

/// A media section while its lines are read.
#[derive(Default)]
struct MediaDraft {
    kind: String,
    payload_types: Vec<u8>,
    rtpmaps: Vec<RtpMap>,
    fmtps: Vec<(u8, String)>,
    control: Option<String>,
    connection: Option<String>,
    rtcp_fb: Vec<(String, String)>,
    source_filter: Option<String>,
    direction: Option<Direction>,
}

/// Session-level attributes that media inherit.
#[derive(Default)]
struct SessionLevel {
    control: Option<String>,
    connection: Option<String>,
    source_filter: Option<String>,
    direction: Option<Direction>,
}

/// `a=rtcp-fb` lines kept per media: a hostile SDP may repeat them without end.
const MAX_RTCP_FB: usize = 32;
/// Media sections kept: a hostile SDP may list thousands; no camera sends more than a handful.
pub const MAX_MEDIA: usize = 64;
/// `rtpmap` and `fmtp` lines kept per media.
const MAX_FORMATS: usize = 32;

/// Parses `body`. `base` is the URL control attributes are relative to (Content-Base, else
/// Content-Location, else the DESCRIBE URL).
pub fn parse(body: &[u8], base: &str) -> Result<Description, SdpError> {
    let text = std::str::from_utf8(body).map_err(|_| SdpError::NotUtf8)?;
    let mut session = SessionLevel::default();
    let mut drafts: Vec<MediaDraft> = Vec::new();
    let mut omitted = 0;
    for line in text.lines() {
        let Some((kind, value)) = line.trim().split_once('=') else {
            continue;
        };
        let value = value.trim();
        match kind {
            // Every line after an `m=` belongs to a media section: past MAX_MEDIA they are counted only.
            "m" if drafts.len() == MAX_MEDIA => omitted += 1,
            _ if omitted > 0 => {}
            "m" => drafts.push(media_line(value)),
            "c" => {
                let addr = connection_address(value);
                match drafts.last_mut() {
                    Some(m) => m.connection = addr,
                    None => session.connection = addr,
                }
            }
            "a" => attribute(value, drafts.last_mut(), &mut session),
            _ => {}
        }
    }

    let base = normalize_base(base);
    let session_base = match session.control.as_deref() {
        Some(c) if c.contains("://") => c.to_string(),
        _ => base,
    };
    let media = drafts
        .into_iter()
        .map(|m| Media {
            control: join_control(&session_base, m.control.as_deref()),
            connection: m
                .connection
                .or_else(|| session.connection.clone())
                .filter(|a| a != "0.0.0.0" && a != "::"),
            source_filter: m.source_filter.or_else(|| session.source_filter.clone()),
            direction: m.direction.or(session.direction).unwrap_or_default(),
            kind: m.kind,
            payload_types: m.payload_types,
            rtpmaps: m.rtpmaps,
            fmtps: m.fmtps,
            rtcp_fb: m.rtcp_fb,
        })
        .collect();
    Ok(Description {
        media,
        omitted,
        text: body.to_vec(),
    })
}

/// `m=<kind> <port> <proto> <fmt> …`
fn media_line(value: &str) -> MediaDraft {
    let mut parts = value.split_whitespace();
    let kind = parts.next().unwrap_or_default().to_string();
    let _port = parts.next();
    let _proto = parts.next();
    MediaDraft {
        kind,
        payload_types: parts
            .filter_map(|p| p.parse().ok())
            .take(MAX_FORMATS)
            .collect(),
        ..Default::default()
    }
}

/// `c=IN IP4 224.2.1.1/127`: the address without the TTL.
fn connection_address(value: &str) -> Option<String> {
    value
        .split_whitespace()
        .nth(2)
        .map(|a| a.split('/').next().unwrap_or(a).to_string())
}

/// One `a=` line, for the current media or the session.
fn attribute(value: &str, media: Option<&mut MediaDraft>, session: &mut SessionLevel) {
    let (name, val) = value.split_once(':').unwrap_or((value, ""));
    let val = val.trim();
    let Some(m) = media else {
        match name {
            "control" => session.control = Some(val.to_string()),
            "source-filter" => session.source_filter = parse_source_filter(val),
            _ => {
                if let Some(d) = Direction::parse(name) {
                    session.direction = Some(d);
                }
            }
        }
        return;
    };
    match name {
        "control" => m.control = Some(val.to_string()),
        "rtpmap" if m.rtpmaps.len() < MAX_FORMATS => {
            if let Some(r) = parse_rtpmap(val) {
                m.rtpmaps.push(r);
            }
        }
        "fmtp" if m.fmtps.len() < MAX_FORMATS => {
            // Ubiquiti sends a bare `a=fmtp:96`; it has nothing to say.
            if let Some((pt, params)) = val.split_once(char::is_whitespace) {
                if let Ok(pt) = pt.parse() {
                    m.fmtps.push((pt, params.trim().to_string()));
                }
            }
        }
        "source-filter" => m.source_filter = parse_source_filter(val),
        "rtcp-fb" if m.rtcp_fb.len() < MAX_RTCP_FB => {
            if let Some((pt, fb)) = val.split_once(char::is_whitespace) {
                let fb = fb.split_whitespace().collect::<Vec<_>>().join(" ");
                m.rtcp_fb.push((pt.to_string(), fb.to_ascii_lowercase()));
            }
        }
        _ => {
            if let Some(d) = Direction::parse(name) {
                m.direction = Some(d);
            }
        }
    }
}

/// The first source of an inclusive `a=source-filter` (`incl IN IP4 <group> <source> …`).
fn parse_source_filter(val: &str) -> Option<String> {
    let mut parts = val.split_whitespace();
    (parts.next()? == "incl").then_some(())?;
    let _net = parts.next()?;
    let _family = parts.next()?;
    let _group = parts.next()?;
    parts.next().map(str::to_string)
}

/// `a=rtpmap:96 H264/90000 ` → 96, "H264", 90000. A missing or broken clock rate means 90 kHz.
fn parse_rtpmap(val: &str) -> Option<RtpMap> {
    let (pt, rest) = val.split_once(char::is_whitespace)?;
    let payload_type = pt.trim().parse().ok()?;
    let mut enc = rest.trim().split('/');
    let encoding = enc.next()?.trim().to_string();
    let clock_rate = enc
        .next()
        .and_then(|r| r.trim().parse().ok())
        .unwrap_or(90000);
    let channels = enc.next().and_then(|c| c.trim().parse().ok());
    Some(RtpMap {
        payload_type,
        encoding,
        clock_rate,
        channels,
    })
}

/// Anjvision sends `Content-Base: 192.168.1.10:554/stream0/` without a scheme.
fn normalize_base(base: &str) -> String {
    let base = base.trim();
    if base.contains("://") {
        base.to_string()
    } else {
        format!("rtsp://{base}")
    }
}

/// Joins a control attribute as live555 and FFmpeg do: `*` or none is the base, an absolute URL stays,
/// anything else is appended to the base with one `/` (also when the base has a query string).
pub fn join_control(base: &str, control: Option<&str>) -> String {
    match control.map(str::trim) {
        None | Some("") | Some("*") => base.to_string(),
        Some(c) if c.contains("://") => c.to_string(),
        Some(c) => {
            let c = c.trim_start_matches('/');
            if base.ends_with('/') {
                format!("{base}{c}")
            } else {
                format!("{base}/{c}")
            }
        }
    }
}

#[cfg(test)]
mod tests;

//! The part of SDP (RFC 4566) a H.264 receiver needs: pick the first H.264 video media, its payload type,
//! control URL, `sprop-parameter-sets` and `packetization-mode`. Lenient: unknown or broken lines and media
//! are skipped; it fails only when no H.264 video is left.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct H264Media {
    pub payload_type: u8,
    pub clock_rate: u32,
    /// Absolute control URL for SETUP.
    pub control: String,
    /// Base64 `sprop-parameter-sets` as found (decoded by `h264::params`).
    pub sprop_parameter_sets: Option<String>,
    pub packetization_mode: u8,
    /// `c=IN IP4 0.0.0.0` (or no `c=`): media comes from the RTSP server's address.
    pub connection: Option<String>,
}

/// The control URL shown redacted (a camera may take credentials in the query).
impl fmt::Debug for H264Media {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("H264Media")
            .field("payload_type", &self.payload_type)
            .field("clock_rate", &self.clock_rate)
            .field("control", &super::url::redact(&self.control))
            .field("sprop_parameter_sets", &self.sprop_parameter_sets)
            .field("packetization_mode", &self.packetization_mode)
            .field("connection", &self.connection)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdpError {
    NotUtf8,
    NoH264(Vec<String>),
}

/// How many of the media found the "no H.264" error names (each cut at 40 characters).
const MAX_MEDIA_SHOWN: usize = 4;

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SdpError::NotUtf8 => write!(f, "the DESCRIBE reply is not a text SDP"),
            SdpError::NoH264(found) if found.is_empty() => {
                write!(f, "the stream offers no media (empty SDP)")
            }
            SdpError::NoH264(found) => {
                // A hostile SDP may list thousands of media with long names: a few, each cut short.
                let shown: Vec<String> = found
                    .iter()
                    .take(MAX_MEDIA_SHOWN)
                    .map(|m| crate::au::cut(m))
                    .collect();
                let more = found.len().saturating_sub(MAX_MEDIA_SHOWN);
                write!(
                    f,
                    "the stream has no H.264 video (it offers: {}{}); pick another stream/profile on the camera",
                    shown.join(", "),
                    if more > 0 { format!(" and {more} more") } else { String::new() }
                )
            }
        }
    }
}

impl std::error::Error for SdpError {}

#[derive(Default)]
struct MediaDraft {
    kind: String,
    payload_types: Vec<u8>,
    /// (pt, encoding, clock rate)
    rtpmaps: Vec<(u8, String, u32)>,
    /// (pt, parameters)
    fmtps: Vec<(u8, String)>,
    control: Option<String>,
    connection: Option<String>,
}

/// Parses `body` and returns the first H.264 video media. `base` is the URL control attributes are relative
/// to (Content-Base, else Content-Location, else the DESCRIBE URL).
pub fn find_h264(body: &[u8], base: &str) -> Result<H264Media, SdpError> {
    let text = std::str::from_utf8(body).map_err(|_| SdpError::NotUtf8)?;
    let mut session_control = None;
    let mut session_connection = None;
    let mut media: Vec<MediaDraft> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let Some((kind, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        match kind {
            "m" => {
                let mut parts = value.split_whitespace();
                let kind = parts.next().unwrap_or_default().to_string();
                let _port = parts.next();
                let _proto = parts.next();
                media.push(MediaDraft {
                    kind,
                    payload_types: parts.filter_map(|p| p.parse().ok()).collect(),
                    ..Default::default()
                });
            }
            "c" => {
                let addr = value.split_whitespace().nth(2).map(|a| {
                    // `c=IN IP4 224.2.1.1/127`: drop the TTL.
                    a.split('/').next().unwrap_or(a).to_string()
                });
                match media.last_mut() {
                    Some(m) => m.connection = addr,
                    None => session_connection = addr,
                }
            }
            "a" => {
                let (name, val) = value.split_once(':').unwrap_or((value, ""));
                let val = val.trim();
                match (name, media.last_mut()) {
                    ("control", None) => session_control = Some(val.to_string()),
                    ("control", Some(m)) => m.control = Some(val.to_string()),
                    ("rtpmap", Some(m)) => {
                        if let Some(r) = parse_rtpmap(val) {
                            m.rtpmaps.push(r);
                        }
                    }
                    ("fmtp", Some(m)) => {
                        // Ubiquiti sends a bare `a=fmtp:96`; it has nothing to say.
                        if let Some((pt, params)) = val.split_once(char::is_whitespace) {
                            if let Ok(pt) = pt.parse() {
                                m.fmtps.push((pt, params.trim().to_string()));
                            }
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    let base = normalize_base(base);
    let session_base = match session_control.as_deref() {
        Some(c) if c.contains("://") => c.to_string(),
        _ => base.clone(),
    };
    let mut found = Vec::new();
    for m in &media {
        let h264 = m
            .rtpmaps
            .iter()
            .find(|(pt, enc, _)| enc.eq_ignore_ascii_case("H264") && m.payload_types.contains(pt));
        let Some(&(pt, _, clock_rate)) = h264 else {
            let desc = m
                .rtpmaps
                .iter()
                .map(|(_, e, _)| e.clone())
                .next()
                .unwrap_or_else(|| m.kind.clone());
            found.push(format!("{} {}", m.kind, desc));
            continue;
        };
        if !m.kind.eq_ignore_ascii_case("video") {
            found.push(format!("{} H264", m.kind));
            continue;
        }
        let params = m
            .fmtps
            .iter()
            .find(|(p, _)| *p == pt)
            .map(|(_, p)| p.as_str())
            .unwrap_or("");
        let fmtp = |key: &str| {
            params.split(';').find_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case(key)
                    .then(|| v.trim().to_string())
            })
        };
        let connection = m
            .connection
            .clone()
            .or_else(|| session_connection.clone())
            .filter(|a| a != "0.0.0.0" && a != "::");
        return Ok(H264Media {
            payload_type: pt,
            clock_rate,
            control: join_control(&session_base, m.control.as_deref()),
            sprop_parameter_sets: fmtp("sprop-parameter-sets").filter(|s| !s.is_empty()),
            packetization_mode: fmtp("packetization-mode")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            connection,
        });
    }
    Err(SdpError::NoH264(found))
}

/// `a=rtpmap:96 H264/90000 ` → (96, "H264", 90000). A missing or broken clock rate means 90 kHz.
fn parse_rtpmap(val: &str) -> Option<(u8, String, u32)> {
    let (pt, rest) = val.split_once(char::is_whitespace)?;
    let pt = pt.trim().parse().ok()?;
    let mut enc = rest.trim().split('/');
    let name = enc.next()?.trim().to_string();
    let rate = enc
        .next()
        .and_then(|r| r.trim().parse().ok())
        .unwrap_or(90000);
    Some((pt, name, rate))
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
mod tests {
    use super::*;

    const GST_SERVER: &str =
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=Session\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n\
a=control:*\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
a=fmtp:96 packetization-mode=1;profile-level-id=42c01e;sprop-parameter-sets=Z0LAHtkA,aMuMsg==\r\n\
a=control:stream=0\r\n";

    #[test]
    fn gst_rtsp_server_sdp() {
        let m = find_h264(GST_SERVER.as_bytes(), "rtsp://127.0.0.1:8554/test/").unwrap();
        assert_eq!(m.payload_type, 96);
        assert_eq!(m.clock_rate, 90000);
        assert_eq!(m.control, "rtsp://127.0.0.1:8554/test/stream=0");
        assert_eq!(m.packetization_mode, 1);
        assert_eq!(m.sprop_parameter_sets.as_deref(), Some("Z0LAHtkA,aMuMsg=="));
        assert_eq!(m.connection, None, "0.0.0.0 means the server address");
    }

    #[test]
    fn audio_and_metadata_first_no_origin_trailing_spaces() {
        // macro-video: no o=; IPCAM: trailing space after rtpmap; ONVIF metadata and audio ahead of video.
        let sdp = "v=0\ns=x\nm=audio 0 RTP/AVP 0\na=rtpmap:0 PCMU/8000\na=control:trackID=1\n\
m=application 0 RTP/AVP 107\na=rtpmap:107 vnd.onvif.metadata/90000\n\
m=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000 \na=framerate:0S\na=fmtp:96\na=control:trackID=0\n";
        let m = find_h264(sdp.as_bytes(), "rtsp://h/s").unwrap();
        assert_eq!(m.control, "rtsp://h/s/trackID=0");
        assert_eq!(m.sprop_parameter_sets, None);
        assert_eq!(m.packetization_mode, 0);
    }

    #[test]
    fn unknown_media_skipped_and_attributes_in_any_order() {
        // TP-LINK: unparseable application media. Luckfox: a=control before other attributes.
        let sdp = "v=0\nm=application/TP-LINK 0 RTP/AVP smart/1/90000\na=rtpmap:95 smart/1/90000\n\
m=video 0 RTP/AVP 97 96\na=control:track1\na=fmtp:96 profile-level-id=TeAo; packetization-mode=1\n\
a=rtpmap:96 h264/90000\na=tool:LIVE555\n";
        let m = find_h264(sdp.as_bytes(), "rtsp://h/s?user=x").unwrap();
        assert_eq!(m.payload_type, 96);
        assert_eq!(m.packetization_mode, 1);
        assert_eq!(m.control, "rtsp://h/s?user=x/track1");
    }

    #[test]
    fn audio_with_same_pt_is_not_video() {
        // Ubiquiti: two audio media both using payload type 96.
        let sdp = "v=0\nm=audio 0 RTP/AVP 96\na=rtpmap:96 opus/48000/2\nm=audio 0 RTP/AVP 96\n\
a=rtpmap:96 MPEG4-GENERIC/16000\nm=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\na=control:*\n";
        let m = find_h264(sdp.as_bytes(), "rtsp://h/s/").unwrap();
        assert_eq!(m.control, "rtsp://h/s/");
    }

    #[test]
    fn no_h264() {
        let sdp = "v=0\nm=video 0 RTP/AVP 96\na=rtpmap:96 H265/90000\n";
        let e = find_h264(sdp.as_bytes(), "rtsp://h/").unwrap_err();
        assert!(e.to_string().contains("H265"), "{e}");
        assert!(find_h264(b"\xff\xfe", "rtsp://h/").is_err());
        assert!(find_h264(b"", "rtsp://h/").is_err());
        // Hundreds of media, one with a huge name: the message names a few, each cut short.
        let mut many = String::from("v=0\n");
        many.push_str(&format!(
            "m=application 0 RTP/AVP 96\na=rtpmap:96 {}/90000\n",
            "X".repeat(5000)
        ));
        for i in 0..500 {
            many.push_str(&format!("m=audio 0 RTP/AVP {}\n", i % 128));
        }
        let e = find_h264(many.as_bytes(), "rtsp://h/")
            .unwrap_err()
            .to_string();
        assert!(e.len() < 400, "{} bytes: {e}", e.len());
        assert!(e.contains("and 497 more"), "{e}");
    }

    #[test]
    fn control_joining() {
        assert_eq!(join_control("rtsp://h/s", Some("*")), "rtsp://h/s");
        assert_eq!(join_control("rtsp://h/s/", Some("t=1")), "rtsp://h/s/t=1");
        assert_eq!(join_control("rtsp://h/s", Some("rtsp://o/x")), "rtsp://o/x");
        // Anjvision Content-Base without a scheme.
        let m = find_h264(
            b"m=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\na=control:track1",
            "192.168.1.10:554/stream0/",
        )
        .unwrap();
        assert_eq!(m.control, "rtsp://192.168.1.10:554/stream0/track1");
    }

    #[test]
    fn explicit_connection() {
        let m = find_h264(
            b"c=IN IP4 10.0.0.5/127\nm=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000",
            "rtsp://h/",
        )
        .unwrap();
        assert_eq!(m.connection.as_deref(), Some("10.0.0.5"));
    }
}

//! The part of SDP (RFC 4566) a video receiver needs: pick the first H.264 or H.265 video media (or the
//! codec asked for), its payload type, control URL, parameter sets (`sprop-parameter-sets`; `sprop-vps`,
//! `sprop-sps`, `sprop-pps`) and whether RFC 7798 decoding order numbers are in use. Lenient: unknown or
//! broken lines and media (audio, ONVIF metadata, vendor media) are skipped; it fails only when no video
//! it can depacketize is left.

use std::fmt;

/// The video codecs the element depacketizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    H264,
    H265,
}

impl Codec {
    /// The encoding name in `a=rtpmap`.
    pub fn encoding(self) -> &'static str {
        match self {
            Codec::H264 => "H264",
            Codec::H265 => "H265",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Codec::H264 => "H.264",
            Codec::H265 => "H.265",
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct VideoMedia {
    pub codec: Codec,
    pub payload_type: u8,
    pub clock_rate: u32,
    /// Absolute control URL for SETUP.
    pub control: String,
    /// Base64 parameter-set attributes as found: `sprop-parameter-sets` (H.264); `sprop-vps`,
    /// `sprop-sps`, `sprop-pps` (H.265).
    pub sprop: Vec<String>,
    pub packetization_mode: u8,
    /// RFC 7798: `sprop-max-don-diff` > 0 or `sprop-depack-buf-nalus` > 0, so packets carry DONL/DOND.
    pub don: bool,
    /// `c=IN IP4 0.0.0.0` (or no `c=`): media comes from the RTSP server's address.
    pub connection: Option<String>,
    /// `a=rtcp-fb:<pt or *> nack pli` (RFC 4585) and `ccm fir` (RFC 5104): how to ask for a keyframe.
    pub pli: bool,
    pub fir: bool,
    /// `a=source-filter: incl …` (RFC 4570): the one sender of a source-specific multicast group.
    pub source_filter: Option<String>,
}

/// The control URL shown redacted (a camera may take credentials in the query).
impl fmt::Debug for VideoMedia {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VideoMedia")
            .field("codec", &self.codec)
            .field("payload_type", &self.payload_type)
            .field("clock_rate", &self.clock_rate)
            .field("control", &super::url::redact(&self.control))
            .field("sprop", &self.sprop)
            .field("packetization_mode", &self.packetization_mode)
            .field("don", &self.don)
            .field("connection", &self.connection)
            .field("pli", &self.pli)
            .field("fir", &self.fir)
            .field("source_filter", &self.source_filter)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdpError {
    NotUtf8,
    /// No video of the codec asked for (`None`: of any codec the element has), and what was offered.
    NoVideo(Option<Codec>, Vec<String>),
}

/// How many of the media found the "no H.264" error names (each cut at 40 characters).
const MAX_MEDIA_SHOWN: usize = 4;

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SdpError::NotUtf8 => write!(f, "the DESCRIBE reply is not a text SDP"),
            SdpError::NoVideo(_, found) if found.is_empty() => {
                write!(f, "the stream offers no media (empty SDP)")
            }
            SdpError::NoVideo(wanted, found) => {
                // A hostile SDP may list thousands of media with long names: a few, each cut short.
                let shown: Vec<String> = found
                    .iter()
                    .take(MAX_MEDIA_SHOWN)
                    .map(|m| crate::au::cut(m))
                    .collect();
                let more = found.len().saturating_sub(MAX_MEDIA_SHOWN);
                write!(
                    f,
                    "the stream has no {} video (it offers: {}{}); pick another stream/profile on the camera{}",
                    wanted.map_or("H.264 or H.265", Codec::name),
                    shown.join(", "),
                    if more > 0 { format!(" and {more} more") } else { String::new() },
                    if wanted.is_some() { " or video-codec=auto" } else { "" }
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
    /// (pt or `*`, feedback type and parameters) of `a=rtcp-fb`.
    rtcp_fb: Vec<(String, String)>,
    source_filter: Option<String>,
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

/// `a=rtcp-fb` lines kept per media: a hostile SDP may repeat them without end.
const MAX_RTCP_FB: usize = 32;

/// Parses `body` and returns the first H.264 or H.265 video media, or the first of `wanted`. `base` is
/// the URL control attributes are relative to (Content-Base, else Content-Location, else the DESCRIBE
/// URL).
pub fn find_video(body: &[u8], base: &str, wanted: Option<Codec>) -> Result<VideoMedia, SdpError> {
    let text = std::str::from_utf8(body).map_err(|_| SdpError::NotUtf8)?;
    let mut session_control = None;
    let mut session_connection = None;
    let mut session_source_filter = None;
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
                    ("source-filter", None) => session_source_filter = parse_source_filter(val),
                    ("source-filter", Some(m)) => m.source_filter = parse_source_filter(val),
                    ("rtcp-fb", Some(m)) if m.rtcp_fb.len() < MAX_RTCP_FB => {
                        if let Some((pt, fb)) = val.split_once(char::is_whitespace) {
                            let fb = fb.split_whitespace().collect::<Vec<_>>().join(" ");
                            m.rtcp_fb.push((pt.to_string(), fb.to_ascii_lowercase()));
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
    let codecs: &[Codec] = match wanted {
        Some(c) => &[c][..],
        None => &[Codec::H264, Codec::H265],
    };
    for m in &media {
        let video = m.rtpmaps.iter().find_map(|(pt, enc, rate)| {
            let codec = codecs
                .iter()
                .find(|c| enc.eq_ignore_ascii_case(c.encoding()))?;
            m.payload_types.contains(pt).then_some((*codec, *pt, *rate))
        });
        let Some((codec, pt, clock_rate)) = video else {
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
            found.push(format!("{} {}", m.kind, codec.encoding()));
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
        let positive = |key: &str| {
            fmtp(key)
                .and_then(|v| v.parse::<u32>().ok())
                .is_some_and(|n| n > 0)
        };
        let sprop_keys: &[&str] = match codec {
            Codec::H264 => &["sprop-parameter-sets"],
            Codec::H265 => &["sprop-vps", "sprop-sps", "sprop-pps"],
        };
        let connection = m
            .connection
            .clone()
            .or_else(|| session_connection.clone())
            .filter(|a| a != "0.0.0.0" && a != "::");
        let feedback = |wanted: &str| {
            m.rtcp_fb
                .iter()
                .any(|(p, fb)| (p == "*" || p.parse() == Ok(pt)) && fb == wanted)
        };
        return Ok(VideoMedia {
            codec,
            payload_type: pt,
            clock_rate,
            control: join_control(&session_base, m.control.as_deref()),
            sprop: sprop_keys
                .iter()
                .filter_map(|k| fmtp(k))
                .filter(|s| !s.is_empty())
                .collect(),
            packetization_mode: fmtp("packetization-mode")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            don: codec == Codec::H265
                && (positive("sprop-max-don-diff") || positive("sprop-depack-buf-nalus")),
            connection,
            pli: feedback("nack pli"),
            fir: feedback("ccm fir"),
            source_filter: m
                .source_filter
                .clone()
                .or_else(|| session_source_filter.clone()),
        });
    }
    Err(SdpError::NoVideo(wanted, found))
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
        let m = find_video(GST_SERVER.as_bytes(), "rtsp://127.0.0.1:8554/test/", None).unwrap();
        assert_eq!(m.payload_type, 96);
        assert_eq!(m.clock_rate, 90000);
        assert_eq!(m.control, "rtsp://127.0.0.1:8554/test/stream=0");
        assert_eq!(m.packetization_mode, 1);
        assert_eq!(m.sprop, vec!["Z0LAHtkA,aMuMsg==".to_string()]);
        assert_eq!(m.connection, None, "0.0.0.0 means the server address");
    }

    #[test]
    fn audio_and_metadata_first_no_origin_trailing_spaces() {
        // macro-video: no o=; IPCAM: trailing space after rtpmap; ONVIF metadata and audio ahead of video.
        let sdp = "v=0\ns=x\nm=audio 0 RTP/AVP 0\na=rtpmap:0 PCMU/8000\na=control:trackID=1\n\
m=application 0 RTP/AVP 107\na=rtpmap:107 vnd.onvif.metadata/90000\n\
m=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000 \na=framerate:0S\na=fmtp:96\na=control:trackID=0\n";
        let m = find_video(sdp.as_bytes(), "rtsp://h/s", None).unwrap();
        assert_eq!(m.control, "rtsp://h/s/trackID=0");
        assert!(m.sprop.is_empty());
        assert_eq!(m.packetization_mode, 0);
    }

    #[test]
    fn unknown_media_skipped_and_attributes_in_any_order() {
        // TP-LINK: unparseable application media. Luckfox: a=control before other attributes.
        let sdp = "v=0\nm=application/TP-LINK 0 RTP/AVP smart/1/90000\na=rtpmap:95 smart/1/90000\n\
m=video 0 RTP/AVP 97 96\na=control:track1\na=fmtp:96 profile-level-id=TeAo; packetization-mode=1\n\
a=rtpmap:96 h264/90000\na=tool:LIVE555\n";
        let m = find_video(sdp.as_bytes(), "rtsp://h/s?user=x", None).unwrap();
        assert_eq!(m.payload_type, 96);
        assert_eq!(m.packetization_mode, 1);
        assert_eq!(m.control, "rtsp://h/s?user=x/track1");
    }

    #[test]
    fn audio_with_same_pt_is_not_video() {
        // Ubiquiti: two audio media both using payload type 96.
        let sdp = "v=0\nm=audio 0 RTP/AVP 96\na=rtpmap:96 opus/48000/2\nm=audio 0 RTP/AVP 96\n\
a=rtpmap:96 MPEG4-GENERIC/16000\nm=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\na=control:*\n";
        let m = find_video(sdp.as_bytes(), "rtsp://h/s/", None).unwrap();
        assert_eq!(m.control, "rtsp://h/s/");
    }

    /// The SDP of a real camera's DESCRIBE reply (tests/fixtures/retina), and its Content-Base.
    fn captured(reply: &str) -> (&str, String) {
        let (head, body) = reply
            .split_once("\r\n\r\n")
            .or_else(|| reply.split_once("\n\n"))
            .unwrap();
        let base = head
            .lines()
            .find_map(|l| l.trim().strip_prefix("Content-Base: "))
            .unwrap_or("rtsp://cam/")
            .to_string();
        (body, base)
    }

    #[test]
    fn h265_cameras_choose_the_h265_media() {
        // Dahua (with PCMA), TP-Link (with PCMA and a vendor media), Anjvision, Vitek: H.265 only.
        let tplink = format!(
            "RTSP/1.0 200 OK\n\n{}",
            include_str!("../../tests/fixtures/retina/tplink_sdp.txt")
        );
        for (camera, reply, control, sprops) in [
            (
                "Dahua",
                include_str!("../../tests/fixtures/retina/dahua_describe_h265_pcma.txt"),
                "rtsp://cam-driveway/cam/realmonitor?channel=1&subtype=2/trackID=0",
                3,
            ),
            ("TP-Link", tplink.as_str(), "rtsp://cam/track1", 3),
            (
                "Anjvision",
                include_str!("../../tests/fixtures/retina/anjvision_describe.txt"),
                "rtsp://192.168.1.10:554/stream0/trackID=1",
                3,
            ),
            (
                "Vitek",
                include_str!("../../tests/fixtures/retina/vitek_describe.txt"),
                "rtsp://192.168.1.123:554/chID=2&streamType=sub/trackID=0",
                0,
            ),
        ] {
            let (sdp, base) = captured(reply);
            let m =
                find_video(sdp.as_bytes(), &base, None).unwrap_or_else(|e| panic!("{camera}: {e}"));
            assert_eq!(m.codec, Codec::H265, "{camera}");
            assert_eq!(m.control, control, "{camera}");
            assert_eq!(m.sprop.len(), sprops, "{camera}");
            assert!(!m.don, "{camera}");
            // Asked for H.264, these cameras have none.
            let e = find_video(sdp.as_bytes(), &base, Some(Codec::H264)).unwrap_err();
            assert!(e.to_string().contains("no H.264 video"), "{camera}: {e}");
        }
    }

    #[test]
    fn codec_choice_and_decoding_order_numbers() {
        let both = "v=0\nm=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\na=control:a\n\
                    m=video 0 RTP/AVP 97\na=rtpmap:97 H265/90000\na=fmtp:97 sprop-max-don-diff=2\na=control:b\n";
        let first = find_video(both.as_bytes(), "rtsp://h/", None).unwrap();
        assert_eq!((first.codec, first.payload_type), (Codec::H264, 96));
        let h265 = find_video(both.as_bytes(), "rtsp://h/", Some(Codec::H265)).unwrap();
        assert_eq!(
            (h265.codec, h265.control.as_str()),
            (Codec::H265, "rtsp://h/b")
        );
        assert!(h265.don);
    }

    #[test]
    fn keyframe_request_feedback() {
        let sdp = |fb: &str| format!("m=video 0 RTP/AVPF 96 97\r\na=rtpmap:96 H264/90000\r\n{fb}");
        let v = find_video(
            sdp("a=rtcp-fb:96 nack pli\r\n").as_bytes(),
            "rtsp://h/",
            None,
        )
        .unwrap();
        assert!(v.pli && !v.fir);
        let v = find_video(
            sdp("a=rtcp-fb:* ccm  FIR\r\n").as_bytes(),
            "rtsp://h/",
            None,
        )
        .unwrap();
        assert!(!v.pli && v.fir);
        // Another payload type's, or plain NACK: nothing.
        let v = find_video(
            sdp("a=rtcp-fb:97 nack pli\r\na=rtcp-fb:96 nack\r\n").as_bytes(),
            "rtsp://h/",
            None,
        )
        .unwrap();
        assert!(!v.pli && !v.fir);
    }

    #[test]
    fn source_specific_multicast() {
        let sdp = "v=0\r\na=source-filter: incl IN IP4 232.1.1.1 10.0.0.5\r\n\
                   m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";
        let v = find_video(sdp.as_bytes(), "rtsp://h/", None).unwrap();
        assert_eq!(v.source_filter.as_deref(), Some("10.0.0.5"));
        assert_eq!(parse_source_filter("excl IN IP4 232.1.1.1 10.0.0.5"), None);
        assert_eq!(parse_source_filter("incl IN IP4"), None);
    }

    #[test]
    fn no_video() {
        let sdp = "v=0\nm=video 0 RTP/AVP 96\na=rtpmap:96 VP8/90000\n";
        let e = find_video(sdp.as_bytes(), "rtsp://h/", None).unwrap_err();
        assert!(
            e.to_string().contains("VP8") && e.to_string().contains("H.264 or H.265"),
            "{e}"
        );
        assert!(find_video(b"\xff\xfe", "rtsp://h/", None).is_err());
        assert!(find_video(b"", "rtsp://h/", None).is_err());
        // Hundreds of media, one with a huge name: the message names a few, each cut short.
        let mut many = String::from("v=0\n");
        many.push_str(&format!(
            "m=application 0 RTP/AVP 96\na=rtpmap:96 {}/90000\n",
            "X".repeat(5000)
        ));
        for i in 0..500 {
            many.push_str(&format!("m=audio 0 RTP/AVP {}\n", i % 128));
        }
        let e = find_video(many.as_bytes(), "rtsp://h/", None)
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
        let m = find_video(
            b"m=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\na=control:track1",
            "192.168.1.10:554/stream0/",
            None,
        )
        .unwrap();
        assert_eq!(m.control, "rtsp://192.168.1.10:554/stream0/track1");
    }

    #[test]
    fn explicit_connection() {
        let m = find_video(
            b"c=IN IP4 10.0.0.5/127\nm=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000",
            "rtsp://h/",
            None,
        )
        .unwrap();
        assert_eq!(m.connection.as_deref(), Some("10.0.0.5"));
    }
}

//! Values of the RTSP headers the session needs: `Session`, `Transport`, `RTP-Info`, `Public`, `Content-Base`.
//! All parsing is whitespace- and order-tolerant because cameras are.

/// `Session: 708345999;timeout=60` → id and timeout in seconds.
pub fn parse_session(value: &str) -> Option<(String, Option<u32>)> {
    let mut parts = value.split(';');
    let id = parts.next()?.trim();
    if id.is_empty() {
        return None;
    }
    let timeout = parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("timeout")
            .then(|| v.trim().parse().ok())
            .flatten()
    });
    Some((id.to_string(), timeout))
}

/// What the server's SETUP reply says about transport.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transport {
    pub server_port: Option<(u16, u16)>,
    pub source: Option<String>,
    pub ssrc: Option<u32>,
    pub interleaved: Option<(u8, u8)>,
    /// Multicast: the group (`destination=`), its RTP/RTCP ports (`port=`) and `ttl=`.
    pub multicast: bool,
    pub destination: Option<String>,
    pub port: Option<(u16, u16)>,
    pub ttl: Option<u8>,
}

pub fn parse_transport(value: &str) -> Transport {
    let mut t = Transport::default();
    // A server may list several transports; the first one is the one it chose.
    let first = value.split(',').next().unwrap_or_default();
    for part in first.split(';') {
        let Some((k, v)) = part.split_once('=') else {
            t.multicast |= part.trim().eq_ignore_ascii_case("multicast");
            continue;
        };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        match k.as_str() {
            "server_port" => t.server_port = parse_pair(v),
            "interleaved" => {
                t.interleaved = parse_pair(v)
                    .and_then(|(a, b)| Some((u8::try_from(a).ok()?, u8::try_from(b).ok()?)))
            }
            "source" => t.source = Some(v.to_string()),
            "destination" => t.destination = Some(v.to_string()),
            "port" => t.port = parse_pair(v),
            "ttl" => t.ttl = v.parse().ok(),
            // Hikvision sends `ssrc= d6d6627`; some send fewer than 8 digits.
            "ssrc" => t.ssrc = parse_ssrc(v),
            _ => {}
        }
    }
    t
}

/// An SSRC as RFC 2326 writes it (8 hex digits, cameras send fewer), or in decimal where it cannot be
/// hex (a Dahua NVR's RTP-Info: `ssrc=4294962989`). A value that fits neither is ignored.
fn parse_ssrc(v: &str) -> Option<u32> {
    let v = v.trim();
    match v.len() {
        1..=8 => u32::from_str_radix(v, 16).ok(),
        _ => v.parse().ok(),
    }
}

fn parse_pair(v: &str) -> Option<(u16, u16)> {
    match v.split_once('-') {
        Some((a, b)) => Some((a.trim().parse().ok()?, b.trim().parse().ok()?)),
        None => {
            let a: u16 = v.trim().parse().ok()?;
            Some((a, a.checked_add(1)?))
        }
    }
}

/// One entry of `RTP-Info`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RtpInfo {
    pub url: Option<String>,
    pub seq: Option<u16>,
    pub rtptime: Option<u32>,
    /// Reolink sends the SSRC here rather than in SETUP's Transport.
    pub ssrc: Option<u32>,
}

/// The URL shown redacted: servers echo the request URL, credentials in its query too.
impl std::fmt::Debug for RtpInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtpInfo")
            .field("url", &self.url.as_deref().map(super::url::redact))
            .field("seq", &self.seq)
            .field("rtptime", &self.rtptime)
            .field("ssrc", &self.ssrc)
            .finish()
    }
}

pub fn parse_rtp_info(value: &str) -> Vec<RtpInfo> {
    value
        .split(',')
        .map(|entry| {
            let mut info = RtpInfo::default();
            // Laureii ends with a `;`: empty parts are skipped.
            for part in entry.split(';').filter(|p| !p.trim().is_empty()) {
                let Some((k, v)) = part.split_once('=') else {
                    continue;
                };
                let v = v.trim();
                match k.trim().to_ascii_lowercase().as_str() {
                    "url" => info.url = Some(v.to_string()),
                    "seq" => info.seq = v.parse().ok(),
                    // OMNY M5S2A sends rtptime=-1, which parses as nothing.
                    "rtptime" => info.rtptime = v.parse().ok(),
                    "ssrc" => info.ssrc = parse_ssrc(v),
                    _ => {}
                }
            }
            info
        })
        .filter(|i| i.url.is_some() || i.seq.is_some() || i.rtptime.is_some())
        .collect()
}

/// Whether a `Public:` list names `method`.
pub fn public_has(value: &str, method: &str) -> bool {
    value
        .split(',')
        .any(|m| m.trim().eq_ignore_ascii_case(method))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_forms() {
        assert_eq!(
            parse_session("708345999;timeout=60"),
            Some(("708345999".into(), Some(60)))
        );
        assert_eq!(
            parse_session("x; timeout = 15"),
            Some(("x".into(), Some(15)))
        );
        assert_eq!(parse_session("abc"), Some(("abc".into(), None)));
        assert_eq!(parse_session(" ;timeout=1"), None);
    }

    #[test]
    fn transport_any_order() {
        // Luckfox rkipc puts ssrc= before interleaved=; Hikvision pads ssrc.
        let t = parse_transport("RTP/AVP/TCP;unicast;ssrc= d6d6627;interleaved=0-1");
        assert_eq!(t.ssrc, Some(0x0d6d6627));
        assert_eq!(t.interleaved, Some((0, 1)));
        let t = parse_transport(
            "RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;source=127.0.0.1;ssrc=DEADBEEF",
        );
        assert_eq!(t.server_port, Some((6970, 6971)));
        assert_eq!(t.source.as_deref(), Some("127.0.0.1"));
        assert_eq!(t.ssrc, Some(0xdeadbeef));
        assert_eq!(parse_transport("RTP/AVP;server_port=x-y").server_port, None);
    }

    #[test]
    fn rtp_info_quirks() {
        let i = parse_rtp_info("url=rtsp://h/s/trackID=1;seq=0;rtptime=0;");
        assert_eq!(i.len(), 1);
        assert_eq!(i[0].seq, Some(0));
        assert_eq!(i[0].rtptime, Some(0));
        let i = parse_rtp_info("url=rtsp://h/s;seq=5;rtptime=-1");
        assert_eq!(i[0].rtptime, None);
        assert_eq!(i[0].seq, Some(5));
        assert!(parse_rtp_info("").is_empty());
        let i = parse_rtp_info("url=rtsp://h/s/track1;seq=9;ssrc=1A2B3C4D");
        assert_eq!(i[0].ssrc, Some(0x1a2b3c4d));
        // A Dahua NVR's real PLAY reply: the SSRC in decimal.
        let reply = include_str!("../../tests/fixtures/retina/dahua_play_decimal_ssrc.txt");
        let value = reply
            .lines()
            .find_map(|l| l.strip_prefix("RTP-Info: "))
            .unwrap();
        assert_eq!(parse_rtp_info(value)[0].ssrc, Some(4_294_962_989));
        assert_eq!(parse_rtp_info("url=x;ssrc=99999999999")[0].ssrc, None);
    }

    #[test]
    fn public_list() {
        assert!(public_has(
            "OPTIONS, DESCRIBE, get_parameter",
            "GET_PARAMETER"
        ));
        assert!(!public_has("OPTIONS, DESCRIBE", "GET_PARAMETER"));
    }
}

//! Element properties: their values, defaults and parsing.

use gst::glib;
use std::time::Duration;

pub const DEFAULT_LATENCY_MS: u32 = 50;
/// rtspsrc's 5 s: a camera that stopped sending is noticed within that, whatever the transport.
pub const DEFAULT_STALL_TIMEOUT_S: u32 = 5;
pub const DEFAULT_DO_RTCP: bool = true;
pub const DEFAULT_KEEP_ALIVE: bool = true;
pub const DEFAULT_WAIT_FOR_KEYFRAME: bool = false;
/// `timeout`, rtspsrc's property: µs without a first UDP packet before trying TCP. rtspsrc waits 5 s;
/// 3 s here, so that the switch comes before `stall-timeout` gives the session up.
pub const DEFAULT_UDP_TIMEOUT_US: u64 = 3_000_000;
/// `tcp-timeout`, rtspsrc's property: µs a request may wait for its reply (rtspsrc: 20 s).
pub const DEFAULT_TCP_TIMEOUT_US: u64 = crate::rtsp::session::RESPONSE_TIMEOUT.as_micros() as u64;
/// 0: reconnect forever, which is what a recorder of a live camera wants.
pub const DEFAULT_RECONNECT_ATTEMPTS: u32 = 0;
/// `retry`, rtspsrc's property and default: tries at a free even/odd UDP port pair.
pub const DEFAULT_RETRY: u32 = 20;
/// Recording users need the capture time of every frame, and the meta costs nanoseconds per buffer.
pub const DEFAULT_REFERENCE_TIMESTAMP_META: bool = true;
pub const DEFAULT_NTP_SYNC: bool = false;

/// Lower transports, with rtspsrc's `GstRTSPLowerTrans` values so the same numbers work for both.
#[glib::flags(name = "GstRustRtspSrcProtocols")]
pub enum Protocols {
    #[flags_value(name = "RTP over UDP", nick = "udp")]
    UDP = 0b0000_0001,
    #[flags_value(name = "RTP over UDP multicast", nick = "udp-mcast")]
    UDP_MCAST = 0b0000_0010,
    #[flags_value(name = "RTP interleaved on the RTSP TCP connection", nick = "tcp")]
    TCP = 0b0000_0100,
}

/// Problems that reject the camera's TLS certificate (`tls-validation-flags`): GTlsCertificateFlags'
/// values and nicks, as rtspsrc takes them.
#[glib::flags(name = "GstRustRtspSrcTlsValidationFlags")]
pub enum TlsValidationFlags {
    #[flags_value(name = "Not signed by a trusted CA", nick = "unknown-ca")]
    UNKNOWN_CA = 1,
    #[flags_value(
        name = "Not issued for the camera's host name or address",
        nick = "bad-identity"
    )]
    BAD_IDENTITY = 2,
    #[flags_value(name = "Not valid yet", nick = "not-activated")]
    NOT_ACTIVATED = 4,
    #[flags_value(name = "Expired", nick = "expired")]
    EXPIRED = 8,
    #[flags_value(name = "Revoked", nick = "revoked")]
    REVOKED = 16,
    #[flags_value(
        name = "Insecure algorithm (always refused by rustls)",
        nick = "insecure"
    )]
    INSECURE = 32,
    #[flags_value(name = "Malformed or otherwise unusable", nick = "generic-error")]
    GENERIC_ERROR = 64,
    #[flags_value(name = "All of the above", nick = "validate-all")]
    VALIDATE_ALL = 127,
}

/// How to open a NAT in front of the client for the camera's UDP packets (`nat-method`), with rtspsrc's
/// `GstRTSPNatMethod` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, glib::Enum)]
#[enum_type(name = "GstRustRtspSrcNatMethod")]
pub enum NatMethod {
    #[enum_value(name = "None", nick = "none")]
    None = 0,
    #[default]
    #[enum_value(
        name = "Send dummy packets to the camera's ports after SETUP",
        nick = "dummy"
    )]
    Dummy = 1,
}

/// Which video to take when a camera offers several (`video-codec`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, glib::Enum)]
#[enum_type(name = "GstRustRtspSrcVideoCodec")]
pub enum VideoCodec {
    #[default]
    #[enum_value(name = "The first H.264 or H.265 video in the SDP", nick = "auto")]
    Auto = 0,
    #[enum_value(name = "H.264 only", nick = "h264")]
    H264 = 1,
    #[enum_value(name = "H.265 only", nick = "h265")]
    H265 = 2,
}

impl VideoCodec {
    pub fn wanted(self) -> Option<crate::stream::Codec> {
        match self {
            VideoCodec::Auto => None,
            VideoCodec::H264 => Some(crate::stream::Codec::H264),
            VideoCodec::H265 => Some(crate::stream::Codec::H265),
        }
    }
}

/// rtspsrc's `backchannel`: whether to ask the camera for its audio back channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, glib::Enum)]
#[enum_type(name = "GstRustRtspSrcBackchannel")]
pub enum Backchannel {
    #[default]
    #[enum_value(name = "No back channel", nick = "none")]
    None = 0,
    #[enum_value(name = "ONVIF audio back channel", nick = "onvif")]
    Onvif = 1,
}

/// Which streams to receive besides the video (`streams`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, glib::Enum)]
#[enum_type(name = "GstRustRtspSrcStreams")]
pub enum Streams {
    #[enum_value(name = "The video only", nick = "video")]
    Video = 0,
    #[default]
    #[enum_value(
        name = "The video and the first audio the element plays",
        nick = "video-audio"
    )]
    VideoAudio = 1,
    #[enum_value(
        name = "The video, every audio the element plays and the ONVIF metadata",
        nick = "all"
    )]
    All = 2,
}

impl Streams {
    pub fn choice(self) -> crate::stream::selection::StreamChoice {
        use crate::stream::selection::StreamChoice;
        match self {
            Streams::Video => StreamChoice::VideoOnly,
            Streams::VideoAudio => StreamChoice::VideoAndAudio,
            Streams::All => StreamChoice::All,
        }
    }
}

pub fn default_user_agent() -> String {
    format!("rustrtspsrc/{}", env!("CARGO_PKG_VERSION"))
}

#[derive(Clone)]
pub struct Settings {
    pub location: Option<String>,
    pub user_id: Option<String>,
    pub user_pw: Option<String>,
    pub latency_ms: u32,
    pub stall_timeout_s: u32,
    pub port_range: Option<(u16, u16)>,
    pub do_rtcp: bool,
    pub keep_alive: bool,
    pub user_agent: String,
    pub wait_for_keyframe: bool,
    pub protocols: Protocols,
    pub udp_timeout_us: u64,
    pub tcp_timeout_us: u64,
    pub reconnect_attempts: u32,
    pub retry: u32,
    pub video_codec: VideoCodec,
    pub streams: Streams,
    pub backchannel: Backchannel,
    /// rtspsrc's `onvif-mode`: play a recording (ONVIF replay), seeks in clock time.
    pub onvif_mode: bool,
    /// rtspsrc's `onvif-rate-control`: false sends `Rate-Control: no`.
    pub onvif_rate_control: bool,
    pub reference_timestamp_meta: bool,
    pub ntp_sync: bool,
    pub nat_method: NatMethod,
    pub tls_validation_flags: TlsValidationFlags,
    pub tls_ca_file: Option<String>,
    pub tls_certificate_sha256: Option<String>,
    pub multicast_iface: Option<String>,
    /// Values refused when set (`location`, `port-range`), said again as the error at start: what
    /// was given (redacted) and why.
    pub refused: Vec<String>,
}

/// Shows the location redacted and whether a password is set, never the password.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field(
                "location",
                &self.location.as_deref().map(crate::rtsp::url::redact),
            )
            .field("user_id", &self.user_id)
            .field("user_pw", &self.user_pw.as_ref().map(|_| "<set>"))
            .field("latency_ms", &self.latency_ms)
            .field("stall_timeout_s", &self.stall_timeout_s)
            .field("udp_timeout_us", &self.udp_timeout_us)
            .field("tcp_timeout_us", &self.tcp_timeout_us)
            .field("protocols", &self.protocols)
            .field("reconnect_attempts", &self.reconnect_attempts)
            .field("retry", &self.retry)
            .field("video_codec", &self.video_codec)
            .field("reference_timestamp_meta", &self.reference_timestamp_meta)
            .field("ntp_sync", &self.ntp_sync)
            .field("onvif_mode", &self.onvif_mode)
            .field("onvif_rate_control", &self.onvif_rate_control)
            .field("tls_validation_flags", &self.tls_validation_flags)
            .field("tls_ca_file", &self.tls_ca_file)
            .field("tls_certificate_sha256", &self.tls_certificate_sha256)
            .finish_non_exhaustive()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            location: None,
            user_id: None,
            user_pw: None,
            latency_ms: DEFAULT_LATENCY_MS,
            stall_timeout_s: DEFAULT_STALL_TIMEOUT_S,
            port_range: None,
            do_rtcp: DEFAULT_DO_RTCP,
            keep_alive: DEFAULT_KEEP_ALIVE,
            user_agent: default_user_agent(),
            wait_for_keyframe: DEFAULT_WAIT_FOR_KEYFRAME,
            protocols: Protocols::UDP | Protocols::TCP,
            udp_timeout_us: DEFAULT_UDP_TIMEOUT_US,
            tcp_timeout_us: DEFAULT_TCP_TIMEOUT_US,
            reconnect_attempts: DEFAULT_RECONNECT_ATTEMPTS,
            retry: DEFAULT_RETRY,
            video_codec: VideoCodec::Auto,
            streams: Streams::VideoAudio,
            backchannel: Backchannel::None,
            onvif_mode: false,
            onvif_rate_control: true,
            reference_timestamp_meta: DEFAULT_REFERENCE_TIMESTAMP_META,
            ntp_sync: DEFAULT_NTP_SYNC,
            nat_method: NatMethod::Dummy,
            refused: Vec::new(),
            tls_validation_flags: TlsValidationFlags::VALIDATE_ALL,
            tls_ca_file: None,
            tls_certificate_sha256: None,
            multicast_iface: None,
        }
    }
}

impl Settings {
    /// The TLS settings for an `rtsps://` camera; a malformed pin is an error to show.
    pub fn tls(&self) -> Result<crate::net::tls::TlsSettings, String> {
        Ok(crate::net::tls::TlsSettings {
            validation_flags: self.tls_validation_flags.bits(),
            ca_file: self.tls_ca_file.as_ref().map(Into::into),
            pin: self
                .tls_certificate_sha256
                .as_deref()
                .map(crate::net::tls::parse_pin)
                .transpose()?,
        })
    }

    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms.into())
    }

    pub fn stall_timeout(&self) -> Option<Duration> {
        (self.stall_timeout_s > 0).then(|| Duration::from_secs(self.stall_timeout_s.into()))
    }

    /// How long a request may wait for its reply; `None`: for ever (rtspsrc's 0).
    pub fn tcp_timeout(&self) -> Option<Duration> {
        (self.tcp_timeout_us > 0).then(|| Duration::from_micros(self.tcp_timeout_us))
    }

    /// How long UDP may stay silent after PLAY before TCP is tried; `None`: never (rtspsrc's 0).
    pub fn udp_timeout(&self) -> Option<Duration> {
        (self.udp_timeout_us > 0).then(|| Duration::from_micros(self.udp_timeout_us))
    }
}

/// `port-range` as rtspsrc takes it: "3000-3005". Needs room for one even/odd pair.
pub fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("port-range {s:?} is not of the form 3000-3005"))?;
    let lo: u16 = a
        .trim()
        .parse()
        .map_err(|_| format!("port-range {s:?}: bad first port"))?;
    let hi: u16 = b
        .trim()
        .parse()
        .map_err(|_| format!("port-range {s:?}: bad last port"))?;
    if lo == 0 || hi <= lo {
        return Err(format!(
            "port-range {s:?}: the last port must be above the first"
        ));
    }
    Ok((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_ranges() {
        assert_eq!(parse_port_range("3000-3005"), Ok((3000, 3005)));
        assert!(parse_port_range("3000").is_err());
        assert!(parse_port_range("3005-3000").is_err());
        assert!(parse_port_range("0-10").is_err());
        assert!(parse_port_range("a-b").is_err());
    }

    #[test]
    fn debug_shows_no_password() {
        let s = Settings {
            location: Some("rtsp://admin:Pw1@h/s?user=admin&password=Pw2".into()),
            user_pw: Some("Pw3".into()),
            ..Default::default()
        };
        let d = format!("{s:?}");
        assert!(
            !d.contains("Pw1") && !d.contains("Pw2") && !d.contains("Pw3"),
            "{d}"
        );
    }
}

//! The element's properties as gst-inspect shows them: names, ranges, defaults and what each does.

use super::settings::{self, Protocols};
use super::stats::Stats;
use crate::rtsp::url::redact;
use gst::glib;
use gst::prelude::*;

pub fn specs() -> Vec<glib::ParamSpec> {
    vec![
        glib::ParamSpecString::builder("location")
            .nick("Location")
            .blurb("RTSP URL of the camera stream: rtsp://[user[:password]@]host[:port]/path")
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("user-id")
            .nick("User ID")
            .blurb("User name for Basic/Digest authentication (overrides the one in the URL)")
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("user-pw")
            .nick("User password")
            .blurb("Password for Basic/Digest authentication (overrides the one in the URL)")
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("latency")
            .nick("Latency")
            .blurb("Reorder window for RTP over UDP in ms: a missing packet is given up after this long (0 = no reordering)")
            .maximum(10_000)
            .default_value(settings::DEFAULT_LATENCY_MS)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt64::builder("timeout")
            .nick("Timeout")
            .blurb("rtspsrc's: microseconds without a first UDP packet after PLAY before the session is torn down and tried over TCP, when protocols allow it (0 = never try TCP)")
            .maximum(3_600_000_000)
            .default_value(settings::DEFAULT_UDP_TIMEOUT_US)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt64::builder("tcp-timeout")
            .nick("TCP timeout")
            .blurb("rtspsrc's: microseconds the camera may take to answer an RTSP request before the attempt fails (0 = wait for ever); rtspsrc waits 20 s by default. The TCP connect itself gives up after 5 s per address")
            .maximum(3_600_000_000)
            .default_value(settings::DEFAULT_TCP_TIMEOUT_US)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("stall-timeout")
            .nick("Stall timeout")
            .blurb("Seconds without any RTP packet before the stream counts as lost: reconnect (see reconnect-attempts), or an error if none ever came (0 = wait forever)")
            .maximum(3600)
            .default_value(settings::DEFAULT_STALL_TIMEOUT_S)
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("port-range")
            .nick("Port range")
            .blurb("Client UDP port range for RTP/RTCP, e.g. 3000-3005 (default: any free even/odd pair)")
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("do-rtcp")
            .nick("Do RTCP")
            .blurb("Send RTCP receiver reports to the camera")
            .default_value(settings::DEFAULT_DO_RTCP)
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("do-rtsp-keep-alive")
            .nick("Do RTSP keep-alive")
            .blurb("Keep the RTSP session alive with GET_PARAMETER or OPTIONS at half the session timeout")
            .default_value(settings::DEFAULT_KEEP_ALIVE)
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("user-agent")
            .nick("User agent")
            .blurb("User-Agent header sent with every RTSP request")
            .default_value(Some(settings::default_user_agent().as_str()))
            .mutable_ready()
            .build(),
        glib::ParamSpecFlags::builder::<Protocols>("protocols")
            .nick("Protocols")
            .blurb("Allowed lower transports, tried in this order: UDP unicast, UDP multicast (the group the camera names), then RTP interleaved on the RTSP TCP connection; rtspsrc's values")
            .default_value(Protocols::UDP | Protocols::TCP)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("reconnect-attempts")
            .nick("Reconnect attempts")
            .blurb("Reconnect attempts after the stream was lost (camera reboot, network outage) before posting an error; 0 = forever")
            .default_value(settings::DEFAULT_RECONNECT_ATTEMPTS)
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("retry")
            .nick("Retry")
            .blurb("rtspsrc's: tries at binding a free even/odd UDP port pair for RTP/RTCP (without port-range; with it, every pair of the range is tried)")
            .minimum(1)
            .maximum(1000)
            .default_value(settings::DEFAULT_RETRY)
            .mutable_ready()
            .build(),
        glib::ParamSpecBoxed::builder::<gst::Structure>("stats")
            .nick("Statistics")
            .blurb(&Stats::describe())
            .read_only()
            .build(),
        glib::ParamSpecEnum::builder::<settings::VideoCodec>("video-codec")
            .nick("Video codec")
            .blurb("Which video to record when the camera offers several: the first H.264 or H.265 in the SDP (auto), or only one codec")
            .default_value(settings::VideoCodec::Auto)
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder::<settings::Streams>("streams")
            .nick("Streams")
            .blurb("Which streams to receive: the video only (video), the video and the first audio the camera sends in a codec the element plays (video-audio: AAC, G.711, L16, G.722, Opus), or the video, every such audio and the first ONVIF metadata stream (all). The video is on the src pad from the start; each audio comes on an audio_%u pad and the metadata on metadata_0 (application/x-onvif-metadata, one buffer per XML document), added after SETUP. Streams not chosen are not set up")
            .default_value(settings::Streams::VideoAudio)
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder::<settings::Backchannel>("backchannel")
            .nick("Back channel")
            .blurb("The camera's audio back channel (ONVIF Streaming §5.3: doorbells, cameras with a speaker): onvif asks for it (Require: www.onvif.org/ver20/backchannel) and sends the audio given on the backchannel request pad, or with the push-backchannel-sample action signal, to its sendonly audio media (PCMU, PCMA, AAC, G.726). A camera that refuses the request (551) plays without it, with a warning. Off by default: some cameras hang on the Require header, and an open back channel blocks some doorbells' call button")
            .default_value(settings::Backchannel::None)
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("onvif-mode")
            .nick("ONVIF mode")
            .blurb("Play a camera's or NVR's recordings (ONVIF Streaming §6, replay): every request carries Require: onvif-replay, RTP comes interleaved on the RTSP connection (TCP, RTSPS or the HTTP tunnel, whatever protocols say), and a seek in TIME format is read as absolute time since the NTP epoch (1900-01-01 UTC, as rtspsrc's onvif-mode and the reference timestamp meta count) and becomes PLAY with Range: clock=… on the same session; its rate becomes Scale (negative: reverse), its trick-mode key-units flag Frames: intra. Each buffer's timestamp/x-ntp reference meta is the recording's time of the frame; the end of the recording (RTCP BYE) is EOS, not a reconnect. A server without replay (551) is an error")
            .default_value(false)
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("onvif-rate-control")
            .nick("ONVIF rate control")
            .blurb("In onvif-mode: true lets the server send the recording at its own pace (Rate-Control: yes, the default); false asks for it as fast as the element reads (Rate-Control: no), for exporting a recording with a sink that does not sync")
            .default_value(true)
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("multicast-iface")
            .nick("Multicast interface")
            .blurb("Network interface to join multicast groups on (e.g. eth0); default: the one the routing table picks")
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder::<settings::NatMethod>("nat-method")
            .nick("NAT method")
            .blurb("How to open a NAT in front of this host for the camera's UDP packets: dummy sends a few packets from our RTP and RTCP ports to the camera's after SETUP, before PLAY")
            .default_value(settings::NatMethod::Dummy)
            .mutable_ready()
            .build(),
        glib::ParamSpecFlags::builder::<settings::TlsValidationFlags>("tls-validation-flags")
            .nick("TLS validation flags")
            .blurb("For rtsps:// cameras: the certificate problems that reject it (rtspsrc's flags); 0 accepts any certificate, as most cameras' are self-signed. A rejected certificate is a NOT_AUTHORIZED error naming the check and its fingerprint")
            .default_value(settings::TlsValidationFlags::VALIDATE_ALL)
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("tls-ca-file")
            .nick("TLS CA file")
            .blurb("For rtsps:// cameras: a PEM file of CA certificates trusted besides the system's (a private CA)")
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("tls-certificate-sha256")
            .nick("TLS certificate SHA-256")
            .blurb("For rtsps:// cameras: accept exactly the certificate with this SHA-256 fingerprint (64 hex digits, colons allowed), whatever tls-validation-flags say; the element logs each camera's fingerprint at INFO")
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("add-reference-timestamp-meta")
            .nick("Add reference timestamp meta")
            .blurb("Put the camera's wall-clock capture time on every buffer, as a GstReferenceTimestampMeta with caps timestamp/x-ntp (ns since 1900), from its RTCP sender reports or the ONVIF replay header extension; buffers before the first of those carry none")
            .default_value(settings::DEFAULT_REFERENCE_TIMESTAMP_META)
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("ntp-sync")
            .nick("NTP sync")
            .blurb("Derive PTS from the camera's NTP capture time (through this host's real-time clock), so that cameras with synchronised clocks get aligned PTS in one pipeline; the latency reported grows by the camera-to-here delay. Ignored, with a warning, when the camera's clock is seconds away from this host's")
            .default_value(settings::DEFAULT_NTP_SYNC)
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("wait-for-keyframe")
            .nick("Wait for keyframe")
            .blurb("After packet loss, drop frames until the next keyframe instead of passing them on with DISCONT")
            .default_value(settings::DEFAULT_WAIT_FOR_KEYFRAME)
            .mutable_ready()
            .build(),
    ]
}

/// Sets the setting property `name` (every property but `location` and `port-range`, which are
/// checked by the element, and the read-only `stats`) from `value`, type-checked by GObject.
pub fn set(s: &mut settings::Settings, name: &str, value: &glib::Value) {
    match name {
        "user-id" => s.user_id = value.get().expect("type checked upstream"),
        "user-pw" => s.user_pw = value.get().expect("type checked upstream"),
        "latency" => s.latency_ms = value.get().expect("type checked upstream"),
        "timeout" => s.udp_timeout_us = value.get().expect("type checked upstream"),
        "stall-timeout" => s.stall_timeout_s = value.get().expect("type checked upstream"),
        "tcp-timeout" => s.tcp_timeout_us = value.get().expect("type checked upstream"),
        "do-rtcp" => s.do_rtcp = value.get().expect("type checked upstream"),
        "do-rtsp-keep-alive" => s.keep_alive = value.get().expect("type checked upstream"),
        "user-agent" => {
            s.user_agent = value
                .get::<Option<String>>()
                .expect("type checked upstream")
                .unwrap_or_else(settings::default_user_agent)
        }
        "wait-for-keyframe" => s.wait_for_keyframe = value.get().expect("type checked upstream"),
        "protocols" => s.protocols = value.get().expect("type checked upstream"),
        "reconnect-attempts" => s.reconnect_attempts = value.get().expect("type checked upstream"),
        "retry" => s.retry = value.get().expect("type checked upstream"),
        "video-codec" => s.video_codec = value.get().expect("type checked upstream"),
        "streams" => s.streams = value.get().expect("type checked upstream"),
        "backchannel" => s.backchannel = value.get().expect("type checked upstream"),
        "onvif-mode" => s.onvif_mode = value.get().expect("type checked upstream"),
        "onvif-rate-control" => s.onvif_rate_control = value.get().expect("type checked upstream"),
        "add-reference-timestamp-meta" => {
            s.reference_timestamp_meta = value.get().expect("type checked upstream")
        }
        "ntp-sync" => s.ntp_sync = value.get().expect("type checked upstream"),
        "nat-method" => s.nat_method = value.get().expect("type checked upstream"),
        "multicast-iface" => s.multicast_iface = value.get().expect("type checked upstream"),
        "tls-validation-flags" => {
            s.tls_validation_flags = value.get().expect("type checked upstream")
        }
        "tls-ca-file" => s.tls_ca_file = value.get().expect("type checked upstream"),
        "tls-certificate-sha256" => {
            s.tls_certificate_sha256 = value.get().expect("type checked upstream")
        }
        _ => unimplemented!(),
    }
}

/// The value of setting property `name`: the location without its password, the password masked.
pub fn get(s: &settings::Settings, name: &str) -> glib::Value {
    match name {
        // The password never leaves the element, not even through the URL.
        "location" => s.location.as_deref().map(redact).to_value(),
        "user-id" => s.user_id.to_value(),
        "user-pw" => s.user_pw.as_ref().map(|_| "*****").to_value(),
        "latency" => s.latency_ms.to_value(),
        "timeout" => s.udp_timeout_us.to_value(),
        "stall-timeout" => s.stall_timeout_s.to_value(),
        "tcp-timeout" => s.tcp_timeout_us.to_value(),
        "port-range" => s.port_range.map(|(a, b)| format!("{a}-{b}")).to_value(),
        "do-rtcp" => s.do_rtcp.to_value(),
        "do-rtsp-keep-alive" => s.keep_alive.to_value(),
        "user-agent" => s.user_agent.to_value(),
        "wait-for-keyframe" => s.wait_for_keyframe.to_value(),
        "protocols" => s.protocols.to_value(),
        "reconnect-attempts" => s.reconnect_attempts.to_value(),
        "retry" => s.retry.to_value(),
        "video-codec" => s.video_codec.to_value(),
        "streams" => s.streams.to_value(),
        "backchannel" => s.backchannel.to_value(),
        "onvif-mode" => s.onvif_mode.to_value(),
        "onvif-rate-control" => s.onvif_rate_control.to_value(),
        "add-reference-timestamp-meta" => s.reference_timestamp_meta.to_value(),
        "ntp-sync" => s.ntp_sync.to_value(),
        "nat-method" => s.nat_method.to_value(),
        "multicast-iface" => s.multicast_iface.to_value(),
        "tls-validation-flags" => s.tls_validation_flags.to_value(),
        "tls-ca-file" => s.tls_ca_file.to_value(),
        "tls-certificate-sha256" => s.tls_certificate_sha256.to_value(),
        _ => unimplemented!(),
    }
}

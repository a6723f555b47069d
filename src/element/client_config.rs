//! The element's settings as a session client's configuration: the URL parsed, the transports the
//! scheme and `protocols` allow, TLS set up; what cannot work is a Settings error naming why.

use super::settings::{NatMethod, Protocols, Settings};
use crate::net::session_client::{BackchannelQueue, ClientConfig, Hooks};
use crate::rtsp::replay::Replay;
use crate::rtsp::url::{redact, Credentials, RtspUrl};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

pub fn client_config(
    s: &Settings,
    backchannel: Option<Arc<BackchannelQueue>>,
    keyframe_wanted: Arc<AtomicBool>,
    hooks: Hooks,
    log: crate::log::Log,
) -> Result<ClientConfig, gst::ErrorMessage> {
    if !s.refused.is_empty() {
        return Err(gst::error_msg!(
            gst::ResourceError::Settings,
            ["{}", s.refused.join("; ")]
        ));
    }
    let location = s.location.as_deref().ok_or_else(|| {
        gst::error_msg!(
            gst::ResourceError::NotFound,
            ["No location set: set location=rtsp://host/path"]
        )
    })?;
    let url = RtspUrl::parse(location).map_err(|e| {
        gst::error_msg!(
            gst::ResourceError::Settings,
            ["{} ({})", e, redact(location)]
        )
    })?;
    let credentials = match (s.user_id.clone(), s.user_pw.clone()) {
        (None, None) => None,
        (user, password) => Some(Credentials {
            user: user.unwrap_or_default(),
            password: password.unwrap_or_default(),
        }),
    };
    // rtspt://, rtsph:// and rtsphs:// carry RTP on the RTSP connection whatever protocols say; so
    // does ONVIF replay (Streaming §6: "RTP/RTSP/TCP"), as rtspsrc's onvif-mode does.
    let interleaved_only = url.tcp_only || s.onvif_mode;
    let tcp = s.protocols.contains(Protocols::TCP) || interleaved_only;
    let udp = s.protocols.contains(Protocols::UDP) && !interleaved_only;
    let multicast = s.protocols.contains(Protocols::UDP_MCAST) && !interleaved_only;
    if !tcp && !udp && !multicast {
        return Err(gst::error_msg!(
            gst::ResourceError::Settings,
            ["protocols allows no transport: set udp, udp-mcast, tcp or several"]
        ));
    }
    let tls = if url.tls {
        let settings = s
            .tls()
            .map_err(|e| gst::error_msg!(gst::ResourceError::Settings, ["{}", e]))?;
        let config = crate::net::tls::client_config(&settings)
            .map_err(|e| gst::error_msg!(gst::ResourceError::Settings, ["{}", e]))?;
        Some(config)
    } else {
        None
    };
    Ok(ClientConfig {
        tls,
        multicast,
        multicast_iface: s.multicast_iface.clone(),
        udp,
        tcp,
        udp_timeout: s.udp_timeout(),
        tcp_timeout: s.tcp_timeout(),
        udp_port_tries: s.retry.max(1),
        url,
        credentials,
        user_agent: s.user_agent.clone(),
        latency: s.latency(),
        stall_timeout: s.stall_timeout(),
        port_range: s.port_range,
        do_rtcp: s.do_rtcp,
        keep_alive: s.keep_alive,
        wait_for_keyframe: s.wait_for_keyframe,
        choice: crate::stream::selection::Choice {
            video_codec: s.video_codec.wanted(),
            streams: s.streams.choice(),
            backchannel: s.backchannel == super::settings::Backchannel::Onvif,
        },
        keyframe_wanted,
        nat_dummy_packets: s.nat_method == NatMethod::Dummy,
        backchannel,
        replay: s.onvif_mode.then_some(Replay {
            start: None,
            end: None,
            scale: 1.0,
            rate_control: s.onvif_rate_control,
            frames: None,
        }),
        hooks,
        log,
    })
}

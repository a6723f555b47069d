//! The element's signals, rtspsrc's where the meaning is the same: `select-stream` (whether to set up a
//! stream, asked before its SETUP with its SDP media number and its `application/x-rtp` caps) and
//! `on-sdp` (the camera's SDP as a GstSDPMessage, before the streams are chosen). Both are emitted on
//! the streaming thread, once per session (so again after a reconnect). The same hooks offer the
//! stream collection (`collection.rs`) and apply a `select-streams` selection.

use crate::net::session_client::Hooks;
use crate::rtsp::sdp::Media;
use crate::stream::spec::StreamSpec;
use crate::CAT;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use std::sync::Arc;

pub fn signals() -> Vec<glib::subclass::Signal> {
    vec![
        glib::subclass::Signal::builder("select-stream")
            .param_types([u32::static_type(), gst::Caps::static_type()])
            .return_type::<bool>()
            // Without a handler every stream the `streams` property lets in is set up.
            .class_handler(|_| Some(true.to_value()))
            // The first handler that says no leaves the stream out.
            .accumulator(|_hint, _acc, value| match value.get::<bool>() {
                Ok(false) => std::ops::ControlFlow::Break(value.clone()),
                _ => std::ops::ControlFlow::Continue(value.clone()),
            })
            .build(),
        glib::subclass::Signal::builder("on-sdp")
            .param_types([gst_sdp::SDPMessage::static_type()])
            .build(),
        // rtspsrc's: an RTP packet for the back channel (stream id, the sample), sent as it is.
        glib::subclass::Signal::builder("push-backchannel-sample")
            .param_types([u32::static_type(), gst::Sample::static_type()])
            .return_type::<gst::FlowReturn>()
            .action()
            .class_handler(|args| {
                let element = args[0].get::<super::RustRtspSrc>().ok()?;
                let sample = args[2].get::<gst::Sample>().ok()?;
                Some(element.imp().backchannel().push_sample(&sample).to_value())
            })
            .build(),
    ]
}

/// The session client's hooks that emit the signals on `element`.
pub fn hooks(element: &super::RustRtspSrc) -> Hooks {
    let weak = element.downgrade();
    let select_stream = move |media: &Media, spec: &StreamSpec| {
        let Some(element) = weak.upgrade() else {
            return true;
        };
        // A select-streams selection first, then the application's signal handler.
        if !element
            .imp()
            .collection()
            .accepts(element.upcast_ref(), spec)
        {
            return false;
        }
        let num = u32::try_from(spec.media_index).unwrap_or(u32::MAX);
        element.emit_by_name::<bool>("select-stream", &[&num, &rtp_caps(media, spec)])
    };
    let weak = element.downgrade();
    let on_offer = move |playable: &[StreamSpec], defaults: &[usize]| {
        weak.upgrade().is_some_and(|element| {
            element
                .imp()
                .collection()
                .offer(element.upcast_ref(), playable, defaults)
        })
    };
    let weak = element.downgrade();
    let on_sdp = move |text: &[u8]| {
        let Some(element) = weak.upgrade() else {
            return;
        };
        match gst_sdp::SDPMessage::parse_buffer(text) {
            Ok(sdp) => element.emit_by_name::<()>("on-sdp", &[&sdp]),
            Err(e) => gst::debug!(CAT, obj = element, "on-sdp not emitted: {}", e),
        }
    };
    Hooks {
        select_stream: Some(Arc::new(select_stream)),
        on_sdp: Some(Arc::new(on_sdp)),
        on_offer: Some(Arc::new(on_offer)),
    }
}

/// A stream's caps as rtspsrc gives them to `select-stream`: `application/x-rtp` with the media, the
/// payload type, clock rate and encoding name (upper case), and each `fmtp` parameter as a string.
pub fn rtp_caps(media: &Media, spec: &StreamSpec) -> gst::Caps {
    let encoding = media
        .rtpmaps
        .iter()
        .find(|r| r.payload_type == spec.payload_type)
        .map_or(spec.codec.encoding(), |r| r.encoding.as_str())
        .to_ascii_uppercase();
    let mut s = gst::Structure::builder("application/x-rtp")
        .field("media", media.kind.to_ascii_lowercase())
        .field("payload", i32::from(spec.payload_type))
        .field(
            "clock-rate",
            i32::try_from(spec.clock_rate).unwrap_or(i32::MAX),
        )
        .field("encoding-name", encoding)
        .build();
    if spec.channels > 1 {
        s.set("encoding-params", spec.channels.to_string());
    }
    let params = media
        .fmtps
        .iter()
        .find(|(pt, _)| *pt == spec.payload_type)
        .map_or("", |(_, p)| p.as_str());
    for (key, value) in params.split(';').filter_map(|kv| kv.split_once('=')) {
        let key = key.trim().to_ascii_lowercase();
        // Only names a structure can hold; the SDP's own fields win.
        let valid = key.starts_with(|c: char| c.is_ascii_alphabetic())
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if valid && !s.has_field(key.as_str()) {
            s.set(key.as_str(), value.trim());
        }
    }
    gst::Caps::builder_full().structure(s).build()
}

//! rustrtspsrc: a GStreamer source element that receives H.264 and H.265 video from IP cameras over RTSP.
//!
//! Layers, each in its own folder: `rtsp` (signalling, sans-IO), `rtp` (packets, RTCP, reordering),
//! `stream` (one stream: codec registry, stream selection, packets to access units),
//! `au` (codec-neutral access units, parameter sets, depacketizing), `h264` and `h265` (RFC 6184 and
//! RFC 7798 payload formats, NAL syntax, SPS → caps), `audio` (AAC, G.711, L16, G.722, Opus over RTP), `net` (sockets and the receive loop), `element` (the GStreamer shell);
//! `mapping` holds the memory mappings that keep large buffers out of the allocator's heaps, `random`
//! the jitter and SSRC randomness.

use std::sync::LazyLock;

pub mod au;
pub mod audio;
pub mod element;
#[doc(hidden)]
pub mod fuzzing;
pub mod h264;
pub mod h265;
pub mod log;
pub mod mapping;
pub mod net;
pub mod onvif;
pub mod random;
pub mod rtp;
pub mod rtsp;
pub mod stream;
pub mod uri_bin;

pub static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "rustrtspsrc",
        gst::DebugColorFlags::empty(),
        Some("Rust RTSP H.264/H.265 source"),
    )
});

fn plugin_init(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    element::register(plugin)?;
    uri_bin::register(plugin)
}

gst::plugin_define!(
    rustrtsp,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MIT/X11",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    // GStreamer rejects a plugin whose origin is empty.
    env!("CARGO_PKG_NAME"),
    env!("BUILD_REL_DATE")
);

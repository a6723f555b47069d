//! The `rustrtspbin` element: rustrtspsrc for playbin, playbin3 and uridecodebin. Those bins look at a
//! source's pads once, before it plays: a source with a pad from the start gets a decoder on it and
//! nothing more, so audio pads that come later are never seen. This bin holds a `rustrtspsrc` (child
//! `src`) and shows every stream as a pad that comes when the stream does (`video_0`, `audio_0`, …,
//! then `no-more-pads`), which is what they wait for. Applications that link the video pad before
//! PLAYING keep using `rustrtspsrc`.

use gst::glib;
use gst::prelude::*;

mod imp;

glib::wrapper! {
    pub struct RustRtspBin(ObjectSubclass<imp::RustRtspBin>)
        @extends gst::Bin, gst::Element, gst::Object,
        @implements gst::URIHandler, gst::ChildProxy;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    // Rank NONE, as rustrtspsrc: playbin takes it over rtspsrc only when asked
    // (GST_PLUGIN_FEATURE_RANK=rustrtspbin:MAX).
    gst::Element::register(
        Some(plugin),
        "rustrtspbin",
        gst::Rank::NONE,
        RustRtspBin::static_type(),
    )
}

//! The `rustrtspsrc` element.

use gst::glib;
use gst::prelude::*;

mod backchannel_pad;
mod caps;
mod client_config;
mod collection;
mod decode_times;
mod decoupling;
mod imp;
mod lip_sync;
mod ntp_sync;
mod pipeline_clock;
mod properties;
mod recovery;
mod replay_seek;
mod reverse_gops;
mod section_gaps;
mod settings;
mod side_output;
mod side_pads;
mod signals;
mod stats;
mod supervisor;
mod timing;

pub(crate) use caps::{audio_template_caps, base_caps, metadata_template_caps};

glib::wrapper! {
    pub struct RustRtspSrc(ObjectSubclass<imp::RustRtspSrc>)
        @extends gst_base::PushSrc, gst_base::BaseSrc, gst::Element, gst::Object,
        @implements gst::URIHandler;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    // Rank NONE: never picked over rtspsrc by playbin/uridecodebin unless asked for.
    gst::Element::register(
        Some(plugin),
        "rustrtspsrc",
        gst::Rank::NONE,
        RustRtspSrc::static_type(),
    )
}

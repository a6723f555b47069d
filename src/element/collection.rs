//! The streams a camera offers, as a GstStreamCollection for streams-aware parents (decodebin3,
//! uridecodebin3, playbin3) and applications: after DESCRIBE, before any SETUP, it is posted on the
//! bus and sent down the src pad (and each side pad when it comes). A `select-streams` event that
//! comes back before the SETUPs (from a bus sync handler) decides which audio and metadata streams are
//! set up; one that comes later applies from the next session. The video is always the src pad's.
//!
//! Stream ids: the src pad's stream-start id for the video, `<that id>/media<N>` for the SDP's media
//! `N`, which is also the stream-start id of the pad that carries it.

use crate::stream::codec::{Codec, Kind};
use crate::stream::spec::StreamSpec;
use crate::CAT;
use gst::prelude::*;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct Collection {
    /// The stream ids the last `select-streams` chose (`None`: none came; `streams` decides).
    selected: Mutex<Option<Vec<String>>>,
    /// The collection offered last, for the pads added after it.
    offered: Mutex<Option<gst::StreamCollection>>,
}

impl Collection {
    /// A `select-streams` event's stream ids.
    pub fn select(&self, ids: Vec<String>) {
        *self.selected.lock().unwrap() = Some(ids);
    }

    /// A new start (perhaps another camera): no selection or collection from the last one stands.
    pub fn reset(&self) {
        *self.selected.lock().unwrap() = None;
        *self.offered.lock().unwrap() = None;
    }

    pub fn offered(&self) -> Option<gst::StreamCollection> {
        self.offered.lock().unwrap().clone()
    }

    /// Whether stream `spec` may be set up: the video always, the others when no selection came or
    /// the selection names them.
    pub fn accepts(&self, element: &gst::Element, spec: &StreamSpec) -> bool {
        if spec.kind() == Kind::Video {
            return true;
        }
        match &*self.selected.lock().unwrap() {
            None => true,
            Some(ids) => {
                let id = stream_id(&base_id(element), spec.media_index, spec.kind());
                ids.contains(&id)
            }
        }
    }

    /// Offers `playable` (`defaults`: the media indexes set up unless a selection says otherwise):
    /// posts the collection and sends it down the src pad. Returns whether a selection stands, so
    /// that every stream it names is considered, not only those `streams` asks for.
    pub fn offer(
        &self,
        element: &gst::Element,
        playable: &[StreamSpec],
        defaults: &[usize],
    ) -> bool {
        let base = base_id(element);
        let mut builder = gst::StreamCollection::builder(Some(base.as_str()));
        for spec in playable {
            let flags = if defaults.contains(&spec.media_index) {
                gst::StreamFlags::SELECT
            } else {
                gst::StreamFlags::empty()
            };
            let (kind, caps) = match spec.kind() {
                Kind::Video => (gst::StreamType::VIDEO, Some(video_caps(spec.codec))),
                Kind::Audio => (gst::StreamType::AUDIO, Codec::side_caps(spec)),
                Kind::Metadata => (gst::StreamType::UNKNOWN, Codec::side_caps(spec)),
            };
            let id = stream_id(&base, spec.media_index, spec.kind());
            builder = builder.stream(gst::Stream::new(Some(&id), caps.as_ref(), kind, flags));
        }
        let collection = builder.build();
        gst::debug!(CAT, obj = element, "offering {:?}", collection);
        *self.offered.lock().unwrap() = Some(collection.clone());
        if let Some(pad) = element.static_pad("src") {
            let _ = pad.push_event(gst::event::StreamCollection::new(&collection));
        }
        let _ = element.post_message(
            gst::message::StreamCollection::builder(&collection)
                .src(element)
                .build(),
        );
        self.selected.lock().unwrap().is_some()
    }
}

/// The src pad's stream-start id (basesrc sends it before the first `create`).
pub fn base_id(element: &gst::Element) -> String {
    let pad = element.static_pad("src");
    pad.as_ref()
        .and_then(|p| p.sticky_event::<gst::event::StreamStart>(0))
        .map(|e| e.stream_id().to_string())
        .or_else(|| pad.map(|p| p.create_stream_id(element, None::<&str>).to_string()))
        .unwrap_or_default()
}

/// The id of media `media_index`'s stream.
pub fn stream_id(base: &str, media_index: usize, kind: Kind) -> String {
    match kind {
        Kind::Video => base.to_string(),
        _ => format!("{base}/media{media_index}"),
    }
}

/// The video's caps before its SPS is known.
fn video_caps(codec: Codec) -> gst::Caps {
    let media_type = match codec {
        Codec::H265 => "video/x-h265",
        _ => "video/x-h264",
    };
    gst::Caps::builder(media_type)
        .field("stream-format", "byte-stream")
        .field("alignment", "au")
        .build()
}

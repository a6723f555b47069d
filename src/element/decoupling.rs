//! Whether the streaming thread may push an audio or metadata pad's frames itself: only when what
//! follows the pad cannot hold a push until that same thread brings something else. A `queue` takes
//! the buffer and returns (its own thread goes on downstream); a sink waits on the clock at most, and
//! an `appsink` only when told to block once full. A muxer or splitmuxsink, fed straight from the pad,
//! may hold the audio until the video's next keyframe — which the thread waiting in that push would
//! bring: a deadlock. Bins and anything with several inputs or outputs are not looked into:
//! such a pad keeps its own thread.

use gst::prelude::*;

/// Elements walked through before giving up (parsers, converters, capsfilters).
const MAX_DEPTH: usize = 8;

/// Whether pushing on `pad` (a source pad) from the element's streaming thread cannot wait on that
/// thread. An unlinked pad returns at once.
pub fn decoupled(pad: &gst::Pad) -> bool {
    let mut pad = pad.clone();
    for _ in 0..MAX_DEPTH {
        let Some(peer) = pad.peer() else {
            return true;
        };
        let Some(element) = peer.parent_element() else {
            // A bin's ghost pad: not looked into.
            return false;
        };
        match element.type_().name() {
            "GstQueue" | "GstQueue2" | "GstMultiQueue" => return true,
            "GstAppSink" => return !appsink_blocks(&element),
            _ => {}
        }
        if element.is::<gst_base::BaseSink>() {
            return true;
        }
        // A muxer's or aggregator's input: it may wait for its other inputs, now or once added.
        let requested = peer
            .pad_template()
            .is_some_and(|t| t.presence() == gst::PadPresence::Request);
        if requested || element.is::<gst_base::Aggregator>() {
            return false;
        }
        match single_src_pad(&element) {
            Some(next) if element.sink_pads().len() == 1 => pad = next,
            _ => return false,
        }
    }
    false
}

/// An appsink blocks its pusher once it holds `max-buffers` (or, where it has them, `max-bytes` or
/// `max-time`) and `drop` is off.
fn appsink_blocks(sink: &gst::Element) -> bool {
    let limited = |name: &str| {
        if sink.find_property(name).is_none() {
            return false;
        }
        let v = sink.property_value(name);
        v.get::<u32>()
            .map(|n| n > 0)
            .or_else(|_| v.get::<u64>().map(|n| n > 0))
            .unwrap_or(false)
    };
    (limited("max-buffers") || limited("max-bytes") || limited("max-time"))
        && !sink.property::<bool>("drop")
}

/// The element's one source pad, if it has exactly one.
fn single_src_pad(element: &gst::Element) -> Option<gst::Pad> {
    let pads = element.src_pads();
    match pads.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src_pad_into(launch: &str) -> (gst::Element, gst::Pad) {
        gst::init().unwrap();
        let pipeline = gst::parse::launch(launch).unwrap();
        let src = pipeline
            .downcast_ref::<gst::Bin>()
            .unwrap()
            .by_name("s")
            .unwrap();
        let pad = src.static_pad("src").unwrap();
        (pipeline, pad)
    }

    #[test]
    fn what_lets_the_thread_go_on() {
        for (launch, expected) in [
            ("fakesrc name=s ! fakesink sync=false", true),
            ("fakesrc name=s ! fakesink sync=true", true),
            ("fakesrc name=s ! queue ! splitmuxsink", true),
            (
                "fakesrc name=s ! identity ! capsfilter ! queue ! fakesink",
                true,
            ),
            ("fakesrc name=s ! appsink", true),
            ("fakesrc name=s ! appsink max-buffers=1 drop=true", true),
            ("fakesrc name=s ! appsink max-buffers=1", false),
            ("fakesrc name=s ! identity ! appsink max-buffers=2", false),
            ("fakesrc name=s ! splitmuxsink", false),
            ("fakesrc name=s ! tee ! fakesink", true),
            (
                "fakesrc name=s ! tee name=t ! fakesink t. ! fakesink",
                false,
            ),
            ("fakesrc name=s ! decodebin", false),
            (
                "fakesrc name=s ! identity ! identity ! identity ! identity ! identity ! identity \
                 ! identity ! identity ! identity ! fakesink",
                false,
            ),
        ] {
            let (_pipeline, pad) = src_pad_into(launch);
            assert_eq!(decoupled(&pad), expected, "{launch}");
        }
        let unlinked = gst::ElementFactory::make("fakesrc").build().unwrap();
        assert!(decoupled(&unlinked.static_pad("src").unwrap()));
        // A muxer's request pad behind a parser-like element (linked by hand: its caps are ANY).
        let make = |f: &str| gst::ElementFactory::make(f).build().unwrap();
        let (src, identity, mux) = (make("fakesrc"), make("identity"), make("matroskamux"));
        let input = mux.request_pad_simple("audio_%u").unwrap();
        src.link(&identity).unwrap();
        identity
            .static_pad("src")
            .unwrap()
            .link_full(&input, gst::PadLinkCheck::empty())
            .unwrap();
        assert!(!decoupled(&src.static_pad("src").unwrap()));
    }
}

//! What a floor receiver does with each picture it counted. Alone (`Pictures::counting`), it only adds
//! to the count the program prints. With `--gst` (`Pictures::pushing`), it also pushes one GStreamer
//! buffer per picture from the receiving thread, through a bare pad into `fakesink sync=false`: the
//! least GStreamer itself costs a receiver that hands pictures to a pipeline (no data, no meta, no
//! basesrc loop), so that the floor plus that is the least possible *GStreamer* receiver. `PushPad` is
//! also bench-push-floor's pad.

// bench-push-floor uses `PushPad` alone.
#![allow(dead_code)]

use gst::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

pub struct Pictures {
    count: Arc<AtomicU64>,
    push: Option<PushPad>,
}

impl Pictures {
    pub fn counting(count: Arc<AtomicU64>) -> Pictures {
        Pictures { count, push: None }
    }

    /// Counts, and pushes each picture into a fakesink pipeline of this stream's own.
    pub fn pushing(count: Arc<AtomicU64>) -> Pictures {
        Pictures {
            count,
            push: Some(PushPad::new(
                &gst::Caps::builder("video/x-h264")
                    .field("stream-format", "byte-stream")
                    .field("alignment", "au")
                    .build(),
            )),
        }
    }

    /// `n` more pictures ended.
    pub fn add(&self, n: u64) {
        if n == 0 {
            return;
        }
        self.count.fetch_add(n, Ordering::Relaxed);
        if let Some(p) = &self.push {
            for _ in 0..n {
                p.picture();
            }
        }
    }
}

/// A source pad of no element, linked to a playing `fakesink sync=false`, its stream started with
/// `caps` and a TIME segment.
pub struct PushPad {
    pipeline: gst::Pipeline,
    pad: gst::Pad,
    start: Instant,
}

impl PushPad {
    pub fn new(caps: &gst::Caps) -> PushPad {
        let sink = gst::ElementFactory::make("fakesink")
            .property("sync", false)
            .build()
            .expect("fakesink (GStreamer's core elements)");
        let pipeline = gst::Pipeline::new();
        pipeline.add(&sink).expect("a new pipeline takes its sink");
        let pad = gst::Pad::builder(gst::PadDirection::Src)
            .name("src")
            .build();
        pad.set_active(true).expect("a bare pad activates");
        pad.link(&sink.static_pad("sink").expect("fakesink has a sink pad"))
            .expect("fakesink takes any caps");
        pipeline
            .set_state(gst::State::Playing)
            .expect("fakesink plays");
        pad.push_event(gst::event::StreamStart::new("floor"));
        pad.push_event(gst::event::Caps::new(caps));
        pad.push_event(gst::event::Segment::new(&gst::FormattedSegment::<
            gst::ClockTime,
        >::new()));
        PushPad {
            pipeline,
            pad,
            start: Instant::now(),
        }
    }

    pub fn pad(&self) -> &gst::Pad {
        &self.pad
    }

    fn picture(&self) {
        let mut buffer = gst::Buffer::new();
        let pts = self.start.elapsed().as_nanos() as u64;
        buffer
            .get_mut()
            .expect("a new buffer is writable")
            .set_pts(gst::ClockTime::from_nseconds(pts));
        // fakesink returns OK for every buffer while playing; anything else ends the bench run.
        if let Err(e) = self.pad.push(buffer) {
            eprintln!("floor: fakesink refused a buffer: {e:?}");
            std::process::exit(1);
        }
    }
}

impl Drop for PushPad {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

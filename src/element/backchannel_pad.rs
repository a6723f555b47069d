//! The back channel's element side (`backchannel=onvif`): the `backchannel` request sink pad, which
//! takes G.711 or raw AAC audio (`audiotestsrc is-live=true ! mulawenc ! rustrtspsrc.backchannel` in gst-launch)
//! and passes each buffer on when the pipeline clock reaches its running time, as a sink would; and
//! rtspsrc's `push-backchannel-sample` action signal, whose samples are RTP packets the application
//! made. Both queue for the session client, which sends (`net/session_client/backchannel.rs`).
//!
//! The pad's events and queries stop here: a source element's sink pad would otherwise forward them to
//! the src pads (an EOS on the back channel would end the video).

use crate::net::session_client::{BackchannelFormat, BackchannelQueue, Outgoing};
use crate::stream::Codec;
use crate::CAT;
use gst::prelude::*;
use gst::subclass::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The caps the pad takes: what the camera's back channel may be (G.711 at 8 kHz mono, raw AAC,
/// G.726).
pub fn template_caps() -> gst::Caps {
    let mut caps = gst::Caps::new_empty();
    for name in ["audio/x-mulaw", "audio/x-alaw"] {
        caps.merge(g711(name));
    }
    caps.merge(
        gst::Caps::builder("audio/mpeg")
            .field("mpegversion", 4i32)
            .field("stream-format", "raw")
            .build(),
    );
    caps.merge(
        gst::Caps::builder("audio/x-adpcm")
            .field("layout", "g726")
            .field("rate", 8000i32)
            .field("channels", 1i32)
            .build(),
    );
    caps
}

fn g711(name: &str) -> gst::Caps {
    gst::Caps::builder(name)
        .field("rate", 8000i32)
        .field("channels", 1i32)
        .build()
}

/// The caps of the camera's back channel: G.711 of its law, AAC of its rate and channels, G.726 of
/// its bit rate.
fn caps_of(format: &BackchannelFormat) -> gst::Caps {
    match format.codec {
        Codec::Pcma => g711("audio/x-alaw"),
        Codec::Aac => gst::Caps::builder("audio/mpeg")
            .field("mpegversion", 4i32)
            .field("stream-format", "raw")
            .field("rate", format.rate as i32)
            .field("channels", format.channels as i32)
            .build(),
        // As avenc_g726 gives it (bitrate= its property), whatever the media's packing.
        Codec::G726 { bits, .. } => crate::stream::codec::g726_caps(bits),
        _ => g711("audio/x-mulaw"),
    }
}

#[derive(Default)]
pub struct Backchannel {
    queue: OnceLock<Arc<BackchannelQueue>>,
    /// The clock wait of the buffer going out, to cut short on a flush or stop.
    waiting: Mutex<Option<gst::SingleShotClockId>>,
    flushing: AtomicBool,
    warned_full: AtomicBool,
    warned_caps: AtomicBool,
}

impl Backchannel {
    /// The queue the session client sends from (made at the first start with `backchannel=onvif`).
    pub fn queue(&self) -> Option<Arc<BackchannelQueue>> {
        if let Some(q) = self.queue.get() {
            return Some(q.clone());
        }
        let q = BackchannelQueue::new().ok()?;
        Some(self.queue.get_or_init(|| q).clone())
    }

    /// Stops (`true`) or allows the pad's waits: a flush, or the element leaving PAUSED.
    pub fn set_flushing(&self, flushing: bool) {
        self.flushing.store(flushing, Ordering::SeqCst);
        if flushing {
            if let Some(id) = self.waiting.lock().unwrap().take() {
                id.unschedule();
            }
        }
    }

    /// The request pad `backchannel` (its functions find this through the element).
    pub fn new_pad(&self, templ: &gst::PadTemplate) -> gst::Pad {
        // A pad released before was stopped; this one starts open.
        self.flushing.store(false, Ordering::SeqCst);
        gst::Pad::builder_from_template(templ)
            .name("backchannel")
            .chain_function(|pad, parent, buffer| {
                let element = parent.and_then(|p| p.downcast_ref::<super::RustRtspSrc>());
                let Some(element) = element else {
                    return Err(gst::FlowError::Flushing);
                };
                element.imp().backchannel().chain(pad, element, buffer)
            })
            .event_function(|_pad, parent, event| {
                let element = parent.and_then(|p| p.downcast_ref::<super::RustRtspSrc>());
                let Some(element) = element else {
                    return false;
                };
                element.imp().backchannel().event(event)
            })
            .query_function(|pad, parent, query| {
                let element = parent.and_then(|p| p.downcast_ref::<super::RustRtspSrc>());
                let Some(element) = element else {
                    return false;
                };
                element.imp().backchannel().query(pad, query)
            })
            .build()
    }

    /// The camera's caps once a session set the back channel up, else every codec it may take.
    fn caps(&self) -> gst::Caps {
        match self.queue.get().and_then(|q| q.format()) {
            Some(f) => caps_of(&f),
            None => template_caps(),
        }
    }

    fn query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        match query.view_mut() {
            gst::QueryViewMut::Caps(q) => {
                let caps = match q.filter() {
                    Some(filter) => {
                        filter.intersect_with_mode(&self.caps(), gst::CapsIntersectMode::First)
                    }
                    None => self.caps(),
                };
                q.set_result(&caps);
                true
            }
            gst::QueryViewMut::AcceptCaps(q) => {
                let ok = q.caps().can_intersect(&self.caps());
                q.set_result(ok);
                true
            }
            _ => {
                gst::log!(
                    CAT,
                    obj = pad,
                    "back channel query {:?} not answered",
                    query.type_()
                );
                false
            }
        }
    }

    fn event(&self, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::FlushStart(_) => self.set_flushing(true),
            gst::EventView::FlushStop(_) => self.set_flushing(false),
            _ => {}
        }
        true
    }

    fn chain(
        &self,
        pad: &gst::Pad,
        element: &super::RustRtspSrc,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let Some(queue) = self.queue.get() else {
            gst::element_error!(
                element,
                gst::CoreError::Negotiation,
                ["audio came on the backchannel pad, but backchannel is not onvif: set backchannel=onvif"]
            );
            return Err(gst::FlowError::NotNegotiated);
        };
        // Another codec than the camera's (the other G.711 law, AAC of another rate): not sent (it
        // would play as noise), one warning; the video goes on.
        if let (Some(format), Some(caps)) = (queue.format(), pad.current_caps()) {
            if !caps.can_intersect(&caps_of(&format)) {
                if !self.warned_caps.swap(true, Ordering::Relaxed) {
                    gst::element_warning!(
                        element,
                        gst::CoreError::Negotiation,
                        [
                            "the camera's back channel takes {}; the backchannel pad has {}: its audio is not sent",
                            format.codec.name(),
                            caps
                        ]
                    );
                }
                return Ok(gst::FlowSuccess::Ok);
            }
        }
        let running_time = running_time(pad, &buffer);
        self.wait_for(element, running_time)?;
        let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
        let item = Outgoing::Audio {
            data: map.to_vec(),
            running_time: running_time.map(gst::ClockTime::nseconds),
        };
        if !queue.push(item) && !self.warned_full.swap(true, Ordering::Relaxed) {
            gst::warning!(
                CAT,
                obj = pad,
                "back channel audio dropped: the session is not sending (reconnecting?)"
            );
        }
        Ok(gst::FlowSuccess::Ok)
    }

    /// Waits until the pipeline clock reaches `running_time` (at once without a clock or a time).
    fn wait_for(
        &self,
        element: &super::RustRtspSrc,
        running_time: Option<gst::ClockTime>,
    ) -> Result<(), gst::FlowError> {
        let (Some(rt), Some(clock), Some(base)) =
            (running_time, element.clock(), element.base_time())
        else {
            return Ok(());
        };
        let id = clock.new_single_shot_id(base + rt);
        *self.waiting.lock().unwrap() = Some(id.clone());
        if self.flushing.load(Ordering::SeqCst) {
            self.waiting.lock().unwrap().take();
            return Err(gst::FlowError::Flushing);
        }
        let (result, _) = id.wait();
        self.waiting.lock().unwrap().take();
        match result {
            Err(gst::ClockError::Unscheduled) => Err(gst::FlowError::Flushing),
            _ => Ok(()),
        }
    }

    /// `push-backchannel-sample`: an RTP packet the application made, sent as it is.
    pub fn push_sample(&self, sample: &gst::Sample) -> gst::FlowReturn {
        let (Some(queue), Some(buffer)) = (self.queue.get(), sample.buffer()) else {
            return gst::FlowReturn::Error;
        };
        let Ok(map) = buffer.map_readable() else {
            return gst::FlowReturn::Error;
        };
        // Not RTP (version 2, a full header): refused rather than sent.
        if map.len() < 12 || map[0] >> 6 != 2 {
            return gst::FlowReturn::Error;
        }
        queue.push(Outgoing::Rtp(map.to_vec()));
        gst::FlowReturn::Ok
    }
}

/// `buffer`'s running time by the pad's segment.
fn running_time(pad: &gst::Pad, buffer: &gst::Buffer) -> Option<gst::ClockTime> {
    let segment = pad.sticky_event::<gst::event::Segment>(0)?;
    let segment = segment.segment().downcast_ref::<gst::ClockTime>()?.clone();
    segment.to_running_time(buffer.pts()?)
}

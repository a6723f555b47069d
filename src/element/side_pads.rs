//! The element's pads beside the video: `audio_%u` and `metadata_%u` sometimes pads, added once the
//! first session plays (after SETUP, as rtspsrc does), then `no-more-pads`. Each gets its own
//! stream-start in the video's group, its caps and a TIME segment like the src pad's.
//!
//! Each of them pushes from its own pad task, fed by a bounded queue the streaming thread fills:
//! sinks added in `pad-added` preroll one pad at a time, and a single thread pushing the video and
//! the audio would block on the video sink's preroll while the pipeline waits for the audio sink's
//! (rtspsrc pushes each stream from its own thread for the same reason). The video keeps its direct
//! push. A pad nobody linked does not stop the others: its NOT_LINKED counts only when no pad of
//! the element is linked.

use super::side_output::SidePad;
use gst::prelude::*;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Items queued per pad: 5 s of 20 ms packets. A pad whose downstream stays blocked longer loses
/// buffers (the next one carries DISCONT) instead of holding up the video.
const QUEUE: usize = 256;

/// How long a pad task waits for an item before it returns. Stopping it sends a wake-up item, so this
/// bounds only a stop that found the queue full (the task is then pushing, and returns soon anyway).
const POLL: Duration = Duration::from_millis(500);

enum Item {
    /// A buffer, after new caps when they changed.
    Buffer(gst::Buffer, Option<gst::Caps>),
    /// Nothing before this time: lets a sink preroll before the stream's first frame.
    Gap,
    Eos,
    /// The pad is being deactivated: return, so that its task can stop.
    Wake,
}

/// One side pad, its queue and the last flow its task got from downstream.
#[derive(Debug)]
struct QueuedPad {
    pad: gst::Pad,
    queue: SyncSender<Item>,
    flow: Arc<Mutex<Result<gst::FlowSuccess, gst::FlowError>>>,
    /// A buffer was dropped for a full queue: the next one pushed carries DISCONT, and the caps it
    /// had wait for the next one.
    dropped: bool,
    pending_caps: Option<gst::Caps>,
}

#[derive(Debug, Default)]
pub struct SidePads {
    pads: Mutex<Vec<QueuedPad>>,
}

impl SidePads {
    /// Adds `pads` to `element` from the template their names follow, then says there are no more.
    /// `query` answers the pads' queries (latency as the src pad's). Each starts its stream with the
    /// id `collection` (sent after it) gives its media.
    pub fn add(
        &self,
        element: &gst::Element,
        side: &[SidePad],
        collection: Option<&gst::StreamCollection>,
        query: impl Fn(&gst::Pad, &mut gst::QueryRef) -> bool + Send + Sync + Clone + 'static,
    ) {
        let base = super::collection::base_id(element);
        let video = element.static_pad("src");
        let group = video
            .as_ref()
            .and_then(|p| p.sticky_event::<gst::event::StreamStart>(0))
            .and_then(|e| e.group_id())
            .unwrap_or_else(gst::GroupId::next);
        let mut pads = self.pads.lock().unwrap();
        for SidePad {
            name,
            caps,
            media_index,
            kind,
        } in side
        {
            let template = match name.split_once('_') {
                Some(("metadata", _)) => element.pad_template("metadata_%u"),
                _ => element.pad_template("audio_%u"),
            };
            let Some(template) = template else {
                continue;
            };
            let query = query.clone();
            let (queue, items) = sync_channel(QUEUE);
            let wake = queue.clone();
            let pad = gst::Pad::builder_from_template(&template)
                .name(name.as_str())
                .query_function(move |pad, _parent, q| query(pad, q))
                // The task holds the stream lock between its turns: deactivation (flushing already
                // set, so a push blocked downstream returns) must stop it before waiting on that lock,
                // and wakes it if it waits for an item.
                .activatemode_function(move |pad, _parent, _mode, active| {
                    if !active {
                        let _ = wake.try_send(Item::Wake);
                        pad.stop_task()
                            .map_err(|e| gst::loggable_error!(crate::CAT, "stopping task: {e}"))?;
                    }
                    Ok(())
                })
                .build();
            pad.use_fixed_caps();
            if pad.set_active(true).is_err() {
                continue;
            }
            let stream_id = super::collection::stream_id(&base, *media_index, *kind);
            // Sticky: kept on the pad and sent to whatever links it later.
            let _ = pad.push_event(
                gst::event::StreamStart::builder(stream_id.as_str())
                    .group_id(group)
                    .build(),
            );
            if let Some(collection) = collection {
                let _ = pad.push_event(gst::event::StreamCollection::new(collection));
            }
            let _ = pad.push_event(gst::event::Caps::new(caps));
            let segment = gst::FormattedSegment::<gst::ClockTime>::new();
            let _ = pad.push_event(gst::event::Segment::new(&segment));
            if element.add_pad(&pad).is_err() {
                continue;
            }
            let flow = Arc::new(Mutex::new(Ok(gst::FlowSuccess::Ok)));
            // A gap first, so that a sink on this pad prerolls at once: the video's first buffer may
            // be waiting for that preroll in the video sink (a pipeline's PLAYING waits for every
            // sink's), holding the one thread that reads this stream's frames.
            let _ = queue.try_send(Item::Gap);
            if start_task(&pad, items, flow.clone()).is_ok() {
                pads.push(QueuedPad {
                    pad,
                    queue,
                    flow,
                    dropped: false,
                    pending_caps: None,
                });
            }
        }
        drop(pads);
        element.no_more_pads();
    }

    /// Queues `buffer` (after new `caps`, if any) for pad `index`, and returns the flow its task last
    /// got: NOT_LINKED only when no pad of the element is linked, FLUSHING and EOS not at all (the
    /// video decides those).
    pub fn push(
        &self,
        element: &gst::Element,
        index: usize,
        mut buffer: gst::Buffer,
        caps: Option<gst::Caps>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut pads = self.pads.lock().unwrap();
        let Some(p) = pads.get_mut(index) else {
            return Ok(gst::FlowSuccess::Ok);
        };
        if p.dropped {
            buffer.make_mut().set_flags(gst::BufferFlags::DISCONT);
        }
        let caps = caps.or_else(|| p.pending_caps.take());
        match p.queue.try_send(Item::Buffer(buffer, caps)) {
            Ok(()) => p.dropped = false,
            Err(TrySendError::Full(Item::Buffer(_, caps))) => {
                p.dropped = true;
                p.pending_caps = caps;
                gst::debug!(
                    crate::CAT,
                    obj = p.pad,
                    "downstream blocked: queue full, buffer dropped"
                );
            }
            Err(_) => {}
        }
        let flow = *p.flow.lock().unwrap();
        drop(pads);
        match flow {
            Err(gst::FlowError::NotLinked) if self.any_linked(element) => Ok(gst::FlowSuccess::Ok),
            Err(gst::FlowError::Flushing | gst::FlowError::Eos) => Ok(gst::FlowSuccess::Ok),
            other => other,
        }
    }

    /// Whether any of the element's pads, the src pad included, is linked.
    pub fn any_linked(&self, element: &gst::Element) -> bool {
        element.static_pad("src").is_some_and(|p| p.is_linked()) || self.side_linked()
    }

    /// Whether a pad beside the video is linked.
    pub fn side_linked(&self) -> bool {
        self.pads.lock().unwrap().iter().any(|p| p.pad.is_linked())
    }

    /// EOS on every side pad (the src pad gets its own from basesrc).
    pub fn eos(&self) {
        for p in self.pads.lock().unwrap().iter() {
            // After the buffers already queued; pushed directly when the queue is full.
            if p.queue.try_send(Item::Eos).is_err() {
                let _ = p.pad.push_event(gst::event::Eos::new());
            }
        }
    }

    /// Removes the pads (the element stopped).
    pub fn remove_all(&self, element: &gst::Element) {
        let pads: Vec<QueuedPad> = self.pads.lock().unwrap().drain(..).collect();
        for p in pads {
            // Deactivating flushes a push blocked downstream and stops the task.
            drop(p.queue);
            let _ = p.pad.set_active(false);
            let _ = element.remove_pad(&p.pad);
        }
    }
}

/// Starts `pad`'s task: it pushes what the streaming thread queued and keeps the last flow.
fn start_task(
    pad: &gst::Pad,
    items: Receiver<Item>,
    flow: Arc<Mutex<Result<gst::FlowSuccess, gst::FlowError>>>,
) -> Result<(), glib::BoolError> {
    let target = pad.clone();
    pad.start_task(move || {
        let result = match items.recv_timeout(POLL) {
            Ok(Item::Buffer(buffer, caps)) => {
                if let Some(caps) = caps {
                    let _ = target.push_event(gst::event::Caps::new(&caps));
                }
                target.push(buffer)
            }
            Ok(Item::Gap) => {
                let _ = target.push_event(gst::event::Gap::builder(gst::ClockTime::ZERO).build());
                return;
            }
            Ok(Item::Eos) => {
                let _ = target.push_event(gst::event::Eos::new());
                return;
            }
            Ok(Item::Wake) | Err(RecvTimeoutError::Timeout) => return,
            Err(RecvTimeoutError::Disconnected) => {
                let _ = target.pause_task();
                return;
            }
        };
        *flow.lock().unwrap() = result;
    })
}

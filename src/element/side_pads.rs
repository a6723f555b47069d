//! The element's pads beside the video: `audio_%u` and `metadata_%u` sometimes pads, added once the
//! first session plays (after SETUP, as rtspsrc does), then `no-more-pads`. Each gets its own
//! stream-start in the video's group, its caps and a TIME segment like the src pad's.
//!
//! Each of them starts pushing from its own pad task, fed by a bounded queue the streaming thread
//! fills: sinks added in `pad-added` preroll one pad at a time, and a single thread pushing the video
//! and the audio would block on the video sink's preroll while the pipeline waits for the audio
//! sink's (rtspsrc pushes each stream from its own thread for the same reason). Once the pad's first
//! buffer went through with the element PLAYING (its sink prerolled), its frames go out from the
//! streaming thread itself, just before the video picture they came with (`stash`, pushed from a
//! probe on the src pad, outside basesrc's live lock): a thread wake-up per audio frame costs more
//! than the video's whole reading. A frame goes to the task instead while the queue still holds some
//! (order), when the video is not linked or not flowing, when it would wait longer than the route's
//! wait for the next picture, and whenever the pad's downstream might hold the push until the video
//! comes (`decoupling.rs`: a muxer or splitmuxsink fed without a queue). A pad nobody linked does not stop the others: its NOT_LINKED
//! counts only when no pad of the element is linked.

use super::side_output::SidePad;
use gst::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Items queued per pad: 5 s of 20 ms packets. A pad whose downstream stays blocked longer loses
/// buffers (the next one carries DISCONT) instead of holding up the video.
const QUEUE: usize = 256;

/// How often a pad's downstream is looked at again (`decoupling.rs`): a branch relinked to a muxer
/// without a queue goes back to the pad's task within this long.
const RECHECK: Duration = Duration::from_millis(500);

/// How long a pad task waits for an item before it returns, only a safety net: stopping marks the
/// task stopping and sends it a wake-up item (or, the queue full, it sees the mark after its current
/// item). Each return wakes the task's thread (it was 500 ms: 2 wake-ups a second per idle pad).
const POLL: Duration = Duration::from_secs(10);

enum Item {
    /// A buffer, after new caps when they changed, queued in flush epoch `u32` (`Seek`).
    Buffer(gst::Buffer, Option<gst::Caps>, u32),
    /// Nothing before this time: lets a sink preroll before the stream's first frame.
    Gap,
    Eos,
    /// The pad is being deactivated: return, so that its task can stop.
    Wake,
}

type Flow = Arc<Mutex<Result<gst::FlowSuccess, gst::FlowError>>>;

/// A seek (ONVIF replay) the pad's task carries out before its next item, in order with the buffers:
/// buffers queued before a flushing one are the old position's and are dropped.
#[derive(Debug, Default)]
struct Seek {
    /// The segment to send, and whether to send FLUSH_STOP first.
    pending: Mutex<Option<(gst::Segment, bool)>>,
    /// `pending` holds one: the task looks without locking at every turn.
    armed: AtomicBool,
    /// Flushing seeks so far: a buffer queued in an earlier epoch is stale.
    epoch: AtomicU32,
}

/// One side pad, its queue and the last flow its buffers got from downstream.
#[derive(Debug)]
struct QueuedPad {
    pad: gst::Pad,
    queue: SyncSender<Item>,
    flow: Flow,
    /// Items queued that the task has not finished with: while any are, frames keep to the queue.
    in_flight: Arc<AtomicUsize>,
    /// A buffer went through while the element was PLAYING: the sink prerolled, and the streaming
    /// thread may push the next ones itself.
    settled: Arc<AtomicBool>,
    /// Whether its downstream lets the streaming thread push (`decoupling.rs`), and when that was
    /// last looked at.
    decoupled: Option<(bool, Instant)>,
    /// A buffer was dropped for a full queue: the next one pushed carries DISCONT, and the caps it
    /// had wait for the next one.
    dropped: bool,
    pending_caps: Option<gst::Caps>,
    seek: Arc<Seek>,
}

/// A frame that waits for the next video picture, to be pushed just before it.
#[derive(Debug)]
struct Stashed {
    pad: usize,
    buffer: gst::Buffer,
    caps: Option<gst::Caps>,
    at: Instant,
}

#[derive(Debug, Default)]
pub struct SidePads {
    pads: Mutex<Vec<QueuedPad>>,
    stash: Mutex<Vec<Stashed>>,
    /// The stash holds something (the probe looks without locking).
    stashed: AtomicBool,
    /// The src pad's probe that pushes the stash, while there are side pads.
    probe: Mutex<Option<(gst::Pad, gst::PadProbeId)>>,
}

/// How a side frame goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Through its pad's task (before its sink prerolled, or when the video is not flowing).
    Task,
    /// With the next video picture, if it comes within this long and the pad has settled.
    WithVideo(Duration),
}

impl SidePads {
    /// Adds `pads` to `element` from the template their names follow, then says there are no more.
    /// `query` answers the pads' queries (latency as the src pad's). Each starts its stream with the
    /// id `collection` (sent after it) gives its media.
    pub fn add(
        self: &Arc<Self>,
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
            let stopping = Arc::new(AtomicBool::new(false));
            let stop = stopping.clone();
            let pad = gst::Pad::builder_from_template(&template)
                .name(name.as_str())
                .query_function(move |pad, _parent, q| query(pad, q))
                // The task holds the stream lock between its turns: deactivation (flushing already
                // set, so a push blocked downstream returns) must stop it before waiting on that lock,
                // and wakes it if it waits for an item.
                .activatemode_function(move |pad, _parent, _mode, active| {
                    if !active {
                        // Marked first: the task may return for the wake-up before the stop below
                        // takes effect, and must not wait for another item then.
                        stop.store(true, Ordering::Release);
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
            let in_flight = Arc::new(AtomicUsize::new(1));
            let settled = Arc::new(AtomicBool::new(false));
            let seek = Arc::new(Seek::default());
            // A gap first, so that a sink on this pad prerolls at once: the video's first buffer may
            // be waiting for that preroll in the video sink (a pipeline's PLAYING waits for every
            // sink's), holding the one thread that reads this stream's frames.
            let _ = queue.try_send(Item::Gap);
            let task = Task {
                items,
                stopping,
                flow: flow.clone(),
                in_flight: in_flight.clone(),
                settled: settled.clone(),
                seek: seek.clone(),
            };
            if task.start(&pad).is_ok() {
                pads.push(QueuedPad {
                    pad,
                    queue,
                    flow,
                    in_flight,
                    settled,
                    decoupled: None,
                    dropped: false,
                    pending_caps: None,
                    seek,
                });
            }
        }
        let any = !pads.is_empty();
        drop(pads);
        if any {
            self.watch_pictures(element);
        }
        element.no_more_pads();
    }

    /// Frames stashed for a picture go out just before it, from the thread that pushes it, outside
    /// basesrc's live lock: a probe on the src pad, there only while side pads are.
    fn watch_pictures(self: &Arc<Self>, element: &gst::Element) {
        let mut probe = self.probe.lock().unwrap();
        let Some(src) = element.static_pad("src").filter(|_| probe.is_none()) else {
            return;
        };
        let weak = Arc::downgrade(self);
        let id = src.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            if let Some(side) = weak.upgrade() {
                side.push_stashed();
            }
            gst::PadProbeReturn::Ok
        });
        *probe = id.map(|id| (src, id));
    }

    /// Sends `buffer` (after new `caps`, if any) out on pad `index` as `route` allows, and returns
    /// the flow that pad last got: NOT_LINKED only when no pad of the element is linked, FLUSHING and
    /// EOS not at all (the video decides those).
    pub fn push(
        &self,
        element: &gst::Element,
        index: usize,
        buffer: gst::Buffer,
        caps: Option<gst::Caps>,
        route: Route,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let now = Instant::now();
        let mut pads = self.pads.lock().unwrap();
        let mut stash = self.stash.lock().unwrap();
        // Frames that would have waited too long for a picture (the video stopped) go to their tasks.
        while let Some(late) = stash.iter().position(|s| s.at <= now) {
            let pad = stash[late].pad;
            if let Some(p) = pads.get_mut(pad) {
                p.queue_stashed(pad, &mut stash);
            } else {
                stash.retain(|s| s.pad != pad);
            }
        }
        let Some(p) = pads.get_mut(index) else {
            return Ok(gst::FlowSuccess::Ok);
        };
        match route {
            Route::WithVideo(wait)
                if !wait.is_zero()
                    && p.settled.load(Ordering::Acquire)
                    && p.in_flight.load(Ordering::Acquire) == 0
                    && p.decoupled(now) =>
            {
                stash.push(Stashed {
                    pad: index,
                    buffer,
                    caps,
                    at: now + wait,
                });
                self.stashed.store(true, Ordering::Release);
            }
            _ => {
                p.queue_stashed(index, &mut stash);
                p.enqueue(buffer, caps);
            }
        }
        drop(stash);
        let flow = *p.flow.lock().unwrap();
        drop(pads);
        match flow {
            Err(gst::FlowError::NotLinked) if self.any_linked(element) => Ok(gst::FlowSuccess::Ok),
            Err(gst::FlowError::Flushing | gst::FlowError::Eos) => Ok(gst::FlowSuccess::Ok),
            other => other,
        }
    }

    /// Pushes the frames stashed for the picture the src pad is about to push, from its streaming
    /// thread (a probe on the src pad: basesrc has released its live lock, so a push that waits for
    /// PLAYING in a sink's preroll lets the state change through).
    pub fn push_stashed(&self) {
        if !self.stashed.load(Ordering::Acquire) {
            return;
        }
        loop {
            // One at a time, no lock held while pushing: a push may block downstream, and stopping
            // the element takes these locks.
            let (item, target) = {
                let pads = self.pads.lock().unwrap();
                let mut stash = self.stash.lock().unwrap();
                if stash.is_empty() {
                    self.stashed.store(false, Ordering::Release);
                    return;
                }
                let item = stash.remove(0);
                let target = pads.get(item.pad).map(|p| (p.pad.clone(), p.flow.clone()));
                (item, target)
            };
            let Some((pad, flow)) = target else {
                continue;
            };
            if let Some(caps) = item.caps {
                let _ = pad.push_event(gst::event::Caps::new(&caps));
            }
            let result = pad.push(item.buffer);
            *flow.lock().unwrap() = result;
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

    /// A seek on the element (ONVIF replay) with `segment`, the src pad's: each side pad gets the same
    /// segment, after a flush when `flush` (what basesrc does for the src pad). Called while the
    /// streaming thread is stopped; frames stashed or queued before a flushing seek are dropped, and
    /// the next ones go through the pads' tasks until their sinks prerolled again.
    pub fn seek(&self, segment: &gst::Segment, flush: bool) {
        let mut pads = self.pads.lock().unwrap();
        let mut stash = self.stash.lock().unwrap();
        if flush {
            stash.clear();
            self.stashed.store(false, Ordering::Release);
        }
        for (i, p) in pads.iter_mut().enumerate() {
            if flush {
                // Unblocks a push of the task's waiting downstream (a sink's preroll).
                let _ = p.pad.push_event(gst::event::FlushStart::new());
                p.seek.epoch.fetch_add(1, Ordering::AcqRel);
                p.dropped = false;
            } else {
                p.queue_stashed(i, &mut stash);
            }
            // Through the task from now on, after the segment; after a flush, until the sink
            // prerolled again.
            p.settled.store(false, Ordering::Release);
            *p.seek.pending.lock().unwrap() = Some((segment.clone(), flush));
            p.seek.armed.store(true, Ordering::Release);
            // A task waiting for an item carries the seek out now.
            let _ = p.queue.try_send(Item::Wake);
        }
    }

    /// EOS on every side pad (the src pad gets its own from basesrc), after their frames.
    pub fn eos(&self) {
        let mut pads = self.pads.lock().unwrap();
        let mut stash = self.stash.lock().unwrap();
        for (i, p) in pads.iter_mut().enumerate() {
            p.queue_stashed(i, &mut stash);
            // After the buffers already queued; pushed directly when the queue is full.
            if p.queue.try_send(Item::Eos).is_ok() {
                p.in_flight.fetch_add(1, Ordering::AcqRel);
            } else {
                let _ = p.pad.push_event(gst::event::Eos::new());
            }
        }
        stash.clear();
    }

    /// Removes the pads (the element stopped).
    pub fn remove_all(&self, element: &gst::Element) {
        if let Some((src, id)) = self.probe.lock().unwrap().take() {
            src.remove_probe(id);
        }
        self.stash.lock().unwrap().clear();
        let pads: Vec<QueuedPad> = self.pads.lock().unwrap().drain(..).collect();
        for p in pads {
            // Deactivating flushes a push blocked downstream and stops the task.
            drop(p.queue);
            let _ = p.pad.set_active(false);
            let _ = element.remove_pad(&p.pad);
        }
    }
}

impl QueuedPad {
    /// Whether the streaming thread may push on this pad, looked at again every `RECHECK`.
    fn decoupled(&mut self, now: Instant) -> bool {
        match self.decoupled {
            Some((d, at)) if now.duration_since(at) < RECHECK => d,
            _ => {
                let d = super::decoupling::decoupled(&self.pad);
                if self.decoupled.is_none_or(|(was, _)| was != d) {
                    gst::debug!(
                        crate::CAT,
                        obj = self.pad,
                        "{}",
                        if d {
                            "downstream takes buffers without waiting on the video: pushed with it"
                        } else {
                            "downstream may wait for the video (a muxer, a blocking appsink, a bin): \
                             pushed from the pad's own task"
                        }
                    );
                }
                self.decoupled = Some((d, now));
                d
            }
        }
    }

    /// Queues `buffer` for the task; a full queue drops it, and the next one carries DISCONT.
    fn enqueue(&mut self, mut buffer: gst::Buffer, caps: Option<gst::Caps>) {
        if self.dropped {
            buffer.make_mut().set_flags(gst::BufferFlags::DISCONT);
        }
        let caps = caps.or_else(|| self.pending_caps.take());
        let epoch = self.seek.epoch.load(Ordering::Acquire);
        match self.queue.try_send(Item::Buffer(buffer, caps, epoch)) {
            Ok(()) => {
                self.dropped = false;
                self.in_flight.fetch_add(1, Ordering::AcqRel);
            }
            Err(TrySendError::Full(Item::Buffer(_, caps, _))) => {
                self.dropped = true;
                self.pending_caps = caps;
                gst::debug!(
                    crate::CAT,
                    obj = self.pad,
                    "downstream blocked: queue full, buffer dropped"
                );
            }
            Err(_) => {}
        }
    }

    /// Moves this pad's stashed frames to its queue, in order: a frame that goes to the task must
    /// not overtake them.
    fn queue_stashed(&mut self, index: usize, stash: &mut Vec<Stashed>) {
        let mut i = 0;
        while i < stash.len() {
            if stash[i].pad == index {
                let s = stash.remove(i);
                self.enqueue(s.buffer, s.caps);
            } else {
                i += 1;
            }
        }
    }
}

/// A pad's task: it pushes what the streaming thread queued and keeps the last flow.
struct Task {
    items: Receiver<Item>,
    /// The pad is being deactivated: pause instead of waiting for items.
    stopping: Arc<AtomicBool>,
    flow: Flow,
    in_flight: Arc<AtomicUsize>,
    settled: Arc<AtomicBool>,
    seek: Arc<Seek>,
}

impl Task {
    fn start(self, pad: &gst::Pad) -> Result<(), glib::BoolError> {
        let target = pad.clone();
        pad.start_task(move || self.turn(&target))
    }

    /// Takes one item, or returns after `POLL` without one.
    fn turn(&self, target: &gst::Pad) {
        if self.stopping.load(Ordering::Acquire) {
            let _ = target.pause_task();
            return;
        }
        let seek = match self.seek.armed.swap(false, Ordering::AcqRel) {
            true => self.seek.pending.lock().unwrap().take(),
            false => None,
        };
        if let Some((segment, flush)) = seek {
            if flush {
                let _ = target.push_event(gst::event::FlushStop::new(true));
            }
            let _ = target.push_event(gst::event::Segment::new(&segment));
            // As at the start: the sink prerolls at once, not held until this stream's next frame.
            let _ = target.push_event(gst::event::Gap::builder(gst::ClockTime::ZERO).build());
        }
        let item = match self.items.recv_timeout(POLL) {
            Ok(Item::Wake) | Err(RecvTimeoutError::Timeout) => return,
            Err(RecvTimeoutError::Disconnected) => {
                let _ = target.pause_task();
                return;
            }
            Ok(item) => item,
        };
        match item {
            Item::Buffer(buffer, caps, epoch) => {
                if let Some(caps) = caps {
                    let _ = target.push_event(gst::event::Caps::new(&caps));
                }
                if epoch != self.seek.epoch.load(Ordering::Acquire) {
                    // The old position's, flushed.
                    self.in_flight.fetch_sub(1, Ordering::AcqRel);
                    return;
                }
                let result = target.push(buffer);
                if result.is_ok()
                    && !self.settled.load(Ordering::Acquire)
                    && target
                        .parent_element()
                        .is_some_and(|e| e.current_state() == gst::State::Playing)
                {
                    gst::debug!(
                        crate::CAT,
                        obj = target,
                        "prerolled: pushed with the video now"
                    );
                    self.settled.store(true, Ordering::Release);
                }
                *self.flow.lock().unwrap() = result;
            }
            Item::Gap => {
                let _ = target.push_event(gst::event::Gap::builder(gst::ClockTime::ZERO).build());
            }
            Item::Eos => {
                let _ = target.push_event(gst::event::Eos::new());
            }
            Item::Wake => {}
        }
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

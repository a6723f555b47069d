//! `onvif-mode` seeks: a seek in TIME on the element, read as absolute time since the NTP epoch
//! (rtspsrc's convention, the reference timestamp meta's clock), becomes what the next PLAY asks of
//! the recording (`rtsp::replay::Replay`). The streaming thread takes it on its next turn (basesrc
//! stops it for a flushing seek and starts it again after `do_seek`).

use super::supervisor::ReverseStart;
use crate::rtsp::replay::{Frames, Replay};
use gst::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The replay the last seek asked for, and whether that seek flushed (the pipeline's running time
/// starts over), until the streaming thread takes it. Two seeks before it does: the last one's
/// replay, flushing if either was.
#[derive(Debug, Default)]
pub struct PendingReplay(Mutex<Option<(Replay, bool)>>);

impl PendingReplay {
    pub fn set(&self, replay: Replay, flush: bool) {
        let mut pending = self.0.lock().unwrap();
        let flushed = pending.is_some_and(|(_, f)| f);
        *pending = Some((replay, flush || flushed));
    }

    pub fn take(&self) -> Option<(Replay, bool)> {
        self.0.lock().unwrap().take()
    }
}

/// What seek `segment` asks of the recording: its start and stop (ns since 1900; 0 and none: where
/// the server is, to the end), its rate as Scale, its trick-mode flags as `Frames` (key units with
/// the seek's trick-mode `interval`, in whole ms), with `rate_control` (`onvif-rate-control`).
pub fn replay_of(
    segment: &gst::FormattedSegment<gst::ClockTime>,
    rate_control: bool,
    interval: Option<gst::ClockTime>,
) -> Replay {
    let flags = segment.flags();
    let frames = if flags.contains(gst::SegmentFlags::TRICKMODE_KEY_UNITS) {
        let ms = interval
            .map(|i| u32::try_from(i.mseconds()).unwrap_or(u32::MAX))
            .filter(|&ms| ms > 0);
        Some(Frames::Intra(ms))
    } else if flags.contains(gst::SegmentFlags::TRICKMODE_FORWARD_PREDICTED) {
        Some(Frames::Predicted)
    } else {
        None
    };
    // Reverse plays from the stop down when one is given (GStreamer's reverse segments run from
    // stop to start), else from the start; open-ended, down to the recording's start: ONVIF's closed
    // reverse range (`clock=<later>-<earlier>`) gets no answer at all from gst-rtsp-server 1.22.
    let (from, to) = match segment.rate() < 0.0 {
        true => (segment.stop().or(segment.start()), None),
        false => (segment.start(), segment.stop()),
    };
    Replay {
        start: from.map(|t| t.nseconds()).filter(|&ns| ns > 0),
        end: to.map(|t| t.nseconds()),
        scale: segment.rate(),
        rate_control,
        frames,
    }
}

/// basesrc's segment after the seek. Forwards, it goes downstream as it is: running from 0 like the
/// element's timestamps, its stream time the recording's time of the position asked (`time`), the
/// speed already applied by the server (`applied-rate` = Scale, rate 1), so that muxers and sinks
/// neither clip nor play it faster again. Backwards, `DownstreamSegment` sends the negative rate in
/// its place: basesrc itself stays at rate 1, as it marks every buffer DISCONT under a negative
/// rate, which would cut each GOP into one-picture fragments for the decoder.
pub fn output_segment(segment: &mut gst::FormattedSegment<gst::ClockTime>, replay: &Replay) {
    let applied = if replay.scale > 0.0 {
        replay.scale
    } else {
        1.0
    };
    let time = replay
        .start
        .filter(|_| replay.scale > 0.0)
        .map(gst::ClockTime::from_nseconds);
    let mut out = gst::FormattedSegment::<gst::ClockTime>::new();
    out.set_flags(segment.flags());
    out.set_applied_rate(applied);
    out.set_start(gst::ClockTime::ZERO);
    out.set_position(gst::ClockTime::ZERO);
    out.set_time(time.unwrap_or(gst::ClockTime::ZERO));
    *segment = out;
}

/// The segment sent downstream in place of basesrc's while playing backwards: rate = Scale,
/// applied rate 1 (parsers and decoders reverse each GOP), PTS the recording times (from 0, stream
/// time = PTS), stopping at the position asked, from the running time the first picture came at
/// (`reverse_gops.rs`).
#[derive(Debug, Default)]
pub struct DownstreamSegment {
    inner: Mutex<Inner>,
    /// The probe is on the src pad: from the first replay seek on.
    watching: AtomicBool,
}

#[derive(Debug, Default)]
struct Inner {
    reverse: Option<gst::FormattedSegment<gst::ClockTime>>,
    /// basesrc has a segment from a seek still to send.
    awaiting: bool,
}

impl DownstreamSegment {
    /// A seek: basesrc's segment goes out as it is until a replay backwards starts.
    pub fn seek(&self) {
        *self.inner.lock().unwrap() = Inner {
            reverse: None,
            awaiting: true,
        };
    }

    /// A replay backwards starts (`flags`: the seek's). True when basesrc has no segment left to
    /// send: the caller asks it for one (`new_segment`), which goes out rewritten.
    pub fn reverse(&self, start: ReverseStart, flags: gst::SegmentFlags) -> bool {
        let mut seg = gst::FormattedSegment::<gst::ClockTime>::new();
        seg.set_flags(flags);
        seg.set_rate(start.scale);
        seg.set_applied_rate(1.0);
        seg.set_start(gst::ClockTime::ZERO);
        let stop = gst::ClockTime::from_nseconds(start.segment.stop);
        seg.set_stop(stop);
        seg.set_position(stop);
        seg.set_time(gst::ClockTime::ZERO);
        seg.set_base(gst::ClockTime::from_nseconds(start.segment.base));
        let mut inner = self.inner.lock().unwrap();
        inner.reverse = Some(seg);
        !inner.awaiting
    }

    /// What goes downstream for basesrc's `segment` event.
    fn rewrite(&self, event: &gst::Event) -> Option<gst::Event> {
        let mut inner = self.inner.lock().unwrap();
        inner.awaiting = false;
        let seg = inner.reverse.as_ref()?;
        Some(
            gst::event::Segment::builder(seg)
                .seqnum(event.seqnum())
                .build(),
        )
    }

    /// Rewrites the segments basesrc pushes on `pad`, from now on (again: nothing). Only after a
    /// replay seek: a probe on the src pad is looked at by every push, so a live camera's pictures do
    /// not pay for it.
    pub fn watch(self: &Arc<Self>, pad: &gst::Pad) {
        if self.watching.swap(true, Ordering::SeqCst) {
            return;
        }
        let this = self.clone();
        pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
            let rewritten = match info.event() {
                Some(e) if e.type_() == gst::EventType::Segment => this.rewrite(e),
                _ => None,
            };
            if let Some(event) = rewritten {
                info.data = Some(gst::PadProbeData::Event(event));
            }
            gst::PadProbeReturn::Ok
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: u64 = 3_974_000_000_000_000_000;

    fn seek(rate: f64, flags: gst::SeekFlags, start: u64, stop: Option<u64>) -> Replay {
        gst::init().unwrap();
        let mut seg = gst::FormattedSegment::<gst::ClockTime>::new();
        seg.do_seek(
            rate,
            flags,
            gst::SeekType::Set,
            gst::ClockTime::from_nseconds(start),
            gst::SeekType::Set,
            stop.map(gst::ClockTime::from_nseconds),
        );
        replay_of(&seg, true, None)
    }

    #[test]
    fn a_seek_becomes_range_scale_and_frames() {
        let r = seek(1.0, gst::SeekFlags::FLUSH, NS, None);
        assert_eq!(
            (r.start, r.end, r.scale, r.frames),
            (Some(NS), None, 1.0, None)
        );
        let r = seek(
            2.0,
            gst::SeekFlags::FLUSH | gst::SeekFlags::TRICKMODE_KEY_UNITS,
            NS,
            Some(NS + 5),
        );
        assert_eq!(
            (r.end, r.scale, r.frames),
            (Some(NS + 5), 2.0, Some(Frames::Intra(None)))
        );
        let mut seg = gst::FormattedSegment::<gst::ClockTime>::new();
        let key_units = gst::SeekFlags::FLUSH | gst::SeekFlags::TRICKMODE_KEY_UNITS;
        seg.do_seek(
            1.0,
            key_units,
            gst::SeekType::Set,
            gst::ClockTime::from_nseconds(NS),
            gst::SeekType::None,
            gst::ClockTime::NONE,
        );
        let every = |i| replay_of(&seg, true, Some(i)).frames;
        assert_eq!(
            every(gst::ClockTime::from_seconds(2)),
            Some(Frames::Intra(Some(2000)))
        );
        // Under a millisecond says nothing the header can carry.
        assert_eq!(
            every(gst::ClockTime::from_useconds(300)),
            Some(Frames::Intra(None))
        );
        let r = seek(1.0, gst::SeekFlags::TRICKMODE_FORWARD_PREDICTED, NS, None);
        assert_eq!(r.frames, Some(Frames::Predicted));
    }

    #[test]
    fn two_seeks_before_the_thread_takes_them_keep_the_flush() {
        let pending = PendingReplay::default();
        let r = seek(1.0, gst::SeekFlags::FLUSH, NS, None);
        pending.set(r, true);
        pending.set(Replay { scale: 2.0, ..r }, false);
        let (taken, flush) = pending.take().unwrap();
        assert_eq!((taken.scale, flush), (2.0, true));
        assert!(pending.take().is_none());
    }

    #[test]
    fn reverse_starts_at_the_stop_given() {
        let r = seek(-1.0, gst::SeekFlags::FLUSH, NS, Some(NS + 9));
        assert_eq!((r.start, r.end, r.scale), (Some(NS + 9), None, -1.0));
        let r = seek(-1.0, gst::SeekFlags::FLUSH, NS, None);
        assert_eq!(r.start, Some(NS));
    }

    #[test]
    fn the_output_segment_runs_from_zero_at_the_speed_applied() {
        gst::init().unwrap();
        let mut seg = gst::FormattedSegment::<gst::ClockTime>::new();
        let r = seek(2.0, gst::SeekFlags::FLUSH, NS, None);
        output_segment(&mut seg, &r);
        assert_eq!(seg.rate(), 1.0);
        assert_eq!(seg.applied_rate(), 2.0);
        assert_eq!(seg.start(), Some(gst::ClockTime::ZERO));
        assert_eq!(seg.time(), Some(gst::ClockTime::from_nseconds(NS)));
    }

    #[test]
    fn backwards_the_segment_downstream_has_the_negative_rate() {
        gst::init().unwrap();
        let mut seg = gst::FormattedSegment::<gst::ClockTime>::new();
        let r = seek(-2.0, gst::SeekFlags::FLUSH, NS, None);
        output_segment(&mut seg, &r);
        // basesrc's own stays forwards.
        assert_eq!((seg.rate(), seg.applied_rate()), (1.0, 1.0));
        let down = DownstreamSegment::default();
        let basesrc_segment = gst::event::Segment::new(&seg);
        down.seek();
        let start = ReverseStart {
            segment: crate::element::reverse_gops::ReverseSegment { stop: NS, base: 7 },
            scale: -2.0,
        };
        assert!(
            !down.reverse(start, gst::SegmentFlags::empty()),
            "basesrc sends one"
        );
        let sent = down.rewrite(&basesrc_segment).expect("rewritten");
        assert_eq!(sent.seqnum(), basesrc_segment.seqnum());
        let gst::EventView::Segment(s) = sent.view() else {
            panic!("{sent:?}")
        };
        let s = s.segment().downcast_ref::<gst::ClockTime>().unwrap();
        assert_eq!((s.rate(), s.applied_rate()), (-2.0, 1.0));
        assert_eq!(s.stop(), Some(gst::ClockTime::from_nseconds(NS)));
        assert_eq!(s.base(), Some(gst::ClockTime::from_nseconds(7)));
        // A picture a second before the position runs half a second after the first.
        let pts = gst::ClockTime::from_nseconds(NS - 1_000_000_000);
        assert_eq!(
            s.to_running_time(pts),
            Some(gst::ClockTime::from_nseconds(500_000_007))
        );
        assert_eq!(s.to_stream_time(pts), Some(pts));
        // A reverse replay starting with no segment from basesrc to send asks for one.
        assert!(down.reverse(start, gst::SegmentFlags::empty()));
        // A seek forwards sends basesrc's as it is.
        down.seek();
        assert!(down.rewrite(&basesrc_segment).is_none());
    }
}

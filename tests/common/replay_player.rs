#![allow(dead_code)] // Each user of this module needs a different part of it.

//! A pipeline playing a recording with the element in `onvif-mode`: what reaches its video sink
//! (pictures with their reference time, PTS and the running time they came at; segments, GAPs, EOS,
//! errors) and, once the element adds an audio pad, what reaches a second sink on it (frames,
//! segments, flushes). Shared by the replay tests.

use gst::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A buffer as a sink got it.
#[derive(Debug, Clone)]
pub struct Picture {
    /// Its `timestamp/x-ntp` reference meta (0: none).
    pub ntp: u64,
    pub pts: u64,
    pub dts: Option<u64>,
    /// Its running time under its segment.
    pub segment_running: Option<u64>,
    /// The pipeline's running time when the sink got it, and when that was.
    pub running: u64,
    pub at: Instant,
    pub keyframe: bool,
    pub discont: bool,
}

/// What one sink saw.
#[derive(Debug, Default, Clone)]
pub struct Track {
    pub buffers: Vec<Picture>,
    /// GAP events: (start, duration).
    pub gaps: Vec<(u64, u64)>,
    pub segments: Vec<gst::FormattedSegment<gst::ClockTime>>,
    /// FLUSH_STOP events, and how many buffers had come before each.
    pub flushes: Vec<usize>,
}

#[derive(Default)]
pub struct Seen {
    pub video: Track,
    /// The audio pad's, once linked.
    pub audio: Track,
    pub eos: bool,
    pub errors: Vec<String>,
}

/// A playing element in onvif-mode, its pictures (and audio) and segments collected.
pub struct Player {
    pub pipeline: gst::Pipeline,
    pub src: gst::Element,
    pub seen: Arc<Mutex<Seen>>,
}

/// The collection, also after a failed assertion elsewhere panicked while holding it.
pub fn lock(seen: &Mutex<Seen>) -> std::sync::MutexGuard<'_, Seen> {
    seen.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Which of `Seen`'s tracks a sink feeds.
#[derive(Clone, Copy)]
enum Feed {
    Video,
    Audio,
}

fn track(seen: &mut Seen, feed: Feed) -> &mut Track {
    match feed {
        Feed::Video => &mut seen.video,
        Feed::Audio => &mut seen.audio,
    }
}

/// Collects what reaches `sink` into `seen`.
fn watch(sink: &gst_app::AppSink, seen: &Arc<Mutex<Seen>>, feed: Feed) {
    let s = seen.clone();
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let buf = sample.buffer().ok_or(gst::FlowError::Error)?;
                let ntp = super::ntp_meta(buf);
                if matches!(feed, Feed::Video) {
                    assert!(ntp.is_some(), "every replayed picture has its time");
                }
                let running = sample
                    .segment()
                    .and_then(|s| s.downcast_ref::<gst::ClockTime>())
                    .and_then(|s| s.to_running_time(buf.pts()?))
                    .map(|t| t.nseconds());
                let picture = Picture {
                    segment_running: running,
                    ntp: ntp.unwrap_or(0),
                    pts: buf.pts().map_or(0, |p| p.nseconds()),
                    dts: buf.dts().map(|d| d.nseconds()),
                    running: sink.current_running_time().map_or(0, |t| t.nseconds()),
                    at: Instant::now(),
                    keyframe: !buf.flags().contains(gst::BufferFlags::DELTA_UNIT),
                    discont: buf.flags().contains(gst::BufferFlags::DISCONT),
                };
                track(&mut lock(&s), feed).buffers.push(picture);
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    let s = seen.clone();
    sink.static_pad("sink").unwrap().add_probe(
        gst::PadProbeType::EVENT_DOWNSTREAM | gst::PadProbeType::EVENT_FLUSH,
        move |_, info| {
            let mut seen = lock(&s);
            match info.event().map(|e| e.view()) {
                Some(gst::EventView::Gap(e)) => {
                    let (start, duration) = e.get();
                    let duration = duration.map_or(0, |d| d.nseconds());
                    track(&mut seen, feed)
                        .gaps
                        .push((start.nseconds(), duration));
                }
                Some(gst::EventView::Segment(e)) => {
                    if let Ok(seg) = e.segment().clone().downcast::<gst::ClockTime>() {
                        track(&mut seen, feed).segments.push(seg);
                    }
                }
                Some(gst::EventView::FlushStop(_)) => {
                    let t = track(&mut seen, feed);
                    t.flushes.push(t.buffers.len());
                }
                _ => {}
            }
            gst::PadProbeReturn::Ok
        },
    );
}

impl Track {
    /// Whether a segment had this applied rate (the server's speed, forwards).
    pub fn applied(&self, rate: f64) -> bool {
        self.segments.iter().any(|s| s.applied_rate() == rate)
    }
}

impl Player {
    /// The element in onvif-mode on `url`, reached with `reach` (protocols, pin), with `props`
    /// besides: set up in READY, `before` runs then (a seek before PLAY), and the pipeline goes to
    /// PLAYING. An audio pad is linked to a sink of its own. The sinks do not sync.
    pub fn start_at(
        url: &str,
        reach: &[(&'static str, String)],
        props: &[(&str, &dyn ToValue)],
        before: impl FnOnce(&gst::Element),
    ) -> Player {
        Self::start_with(url, reach, props, false, before)
    }

    /// The same, with sinks that sync to the clock when `sync` (as a player's do).
    pub fn start_with(
        url: &str,
        reach: &[(&'static str, String)],
        props: &[(&str, &dyn ToValue)],
        sync: bool,
        before: impl FnOnce(&gst::Element),
    ) -> Player {
        Self::start_full(url, reach, props, sync, false, before)
    }

    /// The video decoded (`h264parse ! avdec_h264`) before its sink, as a player has it.
    pub fn start_decoding(
        url: &str,
        reach: &[(&'static str, String)],
        props: &[(&str, &dyn ToValue)],
        before: impl FnOnce(&gst::Element),
    ) -> Player {
        Self::start_full(url, reach, props, false, true, before)
    }

    fn start_full(
        url: &str,
        reach: &[(&'static str, String)],
        props: &[(&str, &dyn ToValue)],
        sync: bool,
        decode: bool,
        before: impl FnOnce(&gst::Element),
    ) -> Player {
        let mut all: Vec<(&str, &dyn ToValue)> = vec![("onvif-mode", &true)];
        for (k, v) in reach {
            all.push((k, v));
        }
        all.extend_from_slice(props);
        let (pipeline, src, sink) = super::video_pipeline(url, &all);
        if decode {
            let chain = ["queue", "h264parse", "avdec_h264"].map(|f| {
                gst::ElementFactory::make(f).build().unwrap_or_else(|_| {
                    panic!("{f} (gstreamer1.0-plugins-bad, gstreamer1.0-libav)")
                })
            });
            src.unlink(&sink);
            pipeline.add_many(&chain).unwrap();
            // Unbounded, as a player's: the decoder holds each GOP and decodes it at once, and
            // gst-rtsp-server drops what it cannot send at once (Rate-Control: no sends as fast
            // as it can).
            for p in ["max-size-buffers", "max-size-bytes"] {
                chain[0].set_property(p, 0u32);
            }
            chain[0].set_property("max-size-time", 0u64);
            gst::Element::link_many([&src, &chain[0], &chain[1], &chain[2], sink.upcast_ref()])
                .unwrap();
        }
        sink.set_sync(sync);
        let seen = Arc::new(Mutex::new(Seen::default()));
        watch(&sink, &seen, Feed::Video);
        let (bin, s) = (pipeline.downgrade(), seen.clone());
        src.connect_pad_added(move |_, pad| {
            let Some(bin) = bin.upgrade().filter(|_| pad.name().starts_with("audio_")) else {
                return;
            };
            let audio = gst_app::AppSink::builder().sync(sync).build();
            bin.add(&audio).unwrap();
            watch(&audio, &s, Feed::Audio);
            audio.sync_state_with_parent().unwrap();
            pad.link(&audio.static_pad("sink").unwrap())
                .expect("the audio sink takes the audio pad");
        });
        pipeline.set_state(gst::State::Ready).unwrap();
        before(&src);
        pipeline.set_state(gst::State::Playing).unwrap();
        Player {
            pipeline,
            src,
            seen,
        }
    }

    /// Runs until `done` says the pictures show what was wanted; fails after 20 s (`context`) or on an
    /// error.
    pub fn until(&self, context: &str, done: impl Fn(&Seen) -> bool) {
        let bus = self.pipeline.bus().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            // Judged with the lock released: a failure must not poison it for the sinks' threads.
            let failure = {
                let seen = lock(&self.seen);
                if done(&seen) {
                    return;
                }
                if !seen.errors.is_empty() {
                    Some(format!("{context}: {:?}", seen.errors))
                } else if Instant::now() >= deadline {
                    Some(format!(
                        "{context}: not within 20 s; {} pictures, last {:?}, {} audio frames, eos {}",
                        seen.video.buffers.len(),
                        seen.video.buffers.last(),
                        seen.audio.buffers.len(),
                        seen.eos
                    ))
                } else {
                    None
                }
            };
            if let Some(failure) = failure {
                panic!("{failure}");
            }
            if let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(20)) {
                let mut seen = lock(&self.seen);
                match msg.view() {
                    gst::MessageView::Error(e) => {
                        seen.errors.push(format!("{} {:?}", e.error(), e.debug()))
                    }
                    gst::MessageView::Eos(_) => seen.eos = true,
                    _ => {}
                }
            }
        }
    }

    pub fn pictures(&self) -> Vec<Picture> {
        lock(&self.seen).video.buffers.clone()
    }

    pub fn audio(&self) -> Track {
        lock(&self.seen).audio.clone()
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// How the element reaches a gst-rtsp-server over `transport`: "udp" and "tcp" say `protocols`,
/// "tls" is RTSPS (the server started with a certificate; validation off) with interleaved RTP.
pub fn server_reach(transport: &str) -> Vec<(&'static str, String)> {
    match transport {
        "tls" => vec![
            ("protocols", "tcp".to_string()),
            ("tls-validation-flags", "0".to_string()),
        ],
        t => vec![("protocols", t.to_string())],
    }
}

/// The same time, within the NTP format's rounding (a fraction of 2^-32 s, truncated twice).
pub fn near(a: u64, b: u64) -> bool {
    a.abs_diff(b) < 1_000
}

/// A seek to `at` (ns since 1900) at `rate`, as an application gives it.
pub fn seek_event(rate: f64, flags: gst::SeekFlags, at: u64, stop: Option<u64>) -> gst::Event {
    gst::event::Seek::new(
        rate,
        flags,
        gst::SeekType::Set,
        gst::ClockTime::from_nseconds(at),
        if stop.is_some() {
            gst::SeekType::Set
        } else {
            gst::SeekType::None
        },
        stop.map(gst::ClockTime::from_nseconds),
    )
}

pub fn seek(src: &gst::Element, rate: f64, flags: gst::SeekFlags, at: u64, stop: Option<u64>) {
    assert!(
        src.send_event(seek_event(rate, flags, at, stop)),
        "seek refused"
    );
}

/// After a flushing seek the pipeline's running time starts over: each picture from the `from`th on
/// must come with a PTS near the running time it came at (a sink that syncs plays it at once), not
/// ahead of it by what was played before the seek.
pub fn assert_on_the_new_running_time(pictures: &[Picture], from: usize, context: &str) {
    for p in &pictures[from..] {
        assert!(
            p.pts <= p.running + 300_000_000,
            "{context}: PTS {} ms ahead of the running time {} ms it came at",
            (p.pts as i64 - p.running as i64) / 1_000_000,
            p.running / 1_000_000
        );
    }
}

/// What a replay backwards at `rate` from `stop` (ns since 1900) must give downstream: a segment at
/// that rate, nothing applied yet (decoders reverse each GOP), stopping at the position, stream time
/// = PTS; each picture's PTS its recording time, no DTS; DISCONT on the first picture of each GOP
/// (a keyframe, or a picture from before its GOP's start when the server dropped a keyframe) and on
/// no other.
pub fn assert_played_backwards(video: &Track, rate: f64, stop: u64, context: &str) {
    let seg = video
        .segments
        .iter()
        .find(|s| s.rate() == rate)
        .unwrap_or_else(|| panic!("{context}: no segment at rate {rate}: {:?}", video.segments));
    assert_eq!(seg.applied_rate(), 1.0, "{context}: {seg:?}");
    assert_eq!(
        seg.stop().map(|s| s.nseconds()),
        Some(stop),
        "{context}: {seg:?}"
    );
    assert_eq!(seg.time(), Some(gst::ClockTime::ZERO), "{context}: {seg:?}");
    let pics = &video.buffers;
    let mut gop_start = u64::MAX;
    for (i, p) in pics.iter().enumerate() {
        assert_eq!(
            p.pts, p.ntp,
            "{context}: picture {i}'s PTS is its recording time: {p:?}"
        );
        assert!(p.dts.is_none(), "{context}: picture {i}: {p:?}");
        let starts = i == 0 || p.keyframe || p.ntp < gop_start;
        if starts {
            gop_start = p.ntp;
        }
        assert_eq!(
            p.discont, starts,
            "{context}: DISCONT on GOP starts alone, picture {i}: {p:?}"
        );
    }
}

#![allow(dead_code)] // Each user of this module needs a different part of it.

//! Recording the video and the audio pads together, and decoding the audio afterwards with GStreamer's
//! own decoders (avdec_aac, alawdec, mulawdec, avdec_g722, avdec_g726, opusdec).

use gst::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One buffer from an audio or metadata pad.
#[derive(Debug, Clone)]
pub struct AudioFrame {
    pub pts: Option<gst::ClockTime>,
    pub duration: Option<gst::ClockTime>,
    pub flags: gst::BufferFlags,
    pub data: Vec<u8>,
    /// The camera's capture time (reference timestamp meta, ns since 1900).
    pub ntp: Option<u64>,
    /// When the sink got it.
    pub at: Instant,
}

#[derive(Debug, Default)]
pub struct AvRecording {
    /// PTS of the video buffers, and their capture time (reference timestamp meta) when they had one.
    pub video_pts: Vec<u64>,
    pub video_ntp: Vec<Option<u64>>,
    /// The video buffers' bytes, one after the other (Annex-B).
    pub video: Vec<u8>,
    /// When the first video buffer reached its sink.
    pub video_first_at: Option<Instant>,
    /// The audio and metadata pads' names in the order they were added, their caps and buffers.
    pub side_pads: Vec<String>,
    pub side_caps: Vec<gst::Caps>,
    pub side: Vec<Vec<AudioFrame>>,
    pub no_more_pads: bool,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

impl AvRecording {
    /// The video's PTS span in seconds.
    pub fn video_span(&self) -> f64 {
        match (self.video_pts.first(), self.video_pts.last()) {
            (Some(a), Some(b)) => (b - a) as f64 / 1e9,
            _ => 0.0,
        }
    }
}

/// Records `location` (with `props`, nicks for enums and flags) until `video_frames` video buffers
/// came, or fails the test after `deadline`.
pub fn record_av(
    location: &str,
    props: &[(&str, &str)],
    video_frames: usize,
    deadline: Duration,
) -> AvRecording {
    record_av_with(location, props, video_frames, deadline, |_| {})
}

/// As `record_av`, with `setup` given the element before the pipeline starts (to connect signals).
pub fn record_av_with(
    location: &str,
    props: &[(&str, &str)],
    video_frames: usize,
    deadline: Duration,
    setup: impl FnOnce(&gst::Element),
) -> AvRecording {
    let props: Vec<(&str, &dyn ToValue)> =
        props.iter().map(|(n, v)| (*n, v as &dyn ToValue)).collect();
    let (pipeline, src, video) = super::video_pipeline(location, &props);
    setup(&src);
    let out = Arc::new(Mutex::new(AvRecording::default()));
    let o = out.clone();
    video.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let buf = sample.buffer().ok_or(gst::FlowError::Error)?;
                let mut rec = o.lock().unwrap();
                rec.video_first_at.get_or_insert_with(Instant::now);
                if let Ok(map) = buf.map_readable() {
                    rec.video.extend_from_slice(&map);
                }
                if let Some(pts) = buf.pts() {
                    rec.video_pts.push(pts.nseconds());
                    rec.video_ntp.push(capture_time(buf));
                }
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    let o = out.clone();
    let weak = pipeline.downgrade();
    src.connect_pad_added(move |_, pad| {
        let name = pad.name().to_string();
        if !name.starts_with("audio_") && !name.starts_with("metadata_") {
            return;
        }
        let Some(pipeline) = weak.upgrade() else {
            return;
        };
        let index = {
            let mut rec = o.lock().unwrap();
            rec.side_pads.push(name);
            rec.side_caps.extend(pad.current_caps());
            rec.side.push(Vec::new());
            rec.side.len() - 1
        };
        // A sink added to a live pipeline that is already playing must not preroll (async=false), or
        // the pipeline goes back to PAUSED to wait for it.
        let sink = gst_app::AppSink::builder()
            .sync(false)
            .async_(false)
            .build();
        let frames = o.clone();
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let buf = sample.buffer().ok_or(gst::FlowError::Error)?;
                    let map = buf.map_readable().map_err(|_| gst::FlowError::Error)?;
                    frames.lock().unwrap().side[index].push(AudioFrame {
                        pts: buf.pts(),
                        duration: buf.duration(),
                        flags: buf.flags(),
                        data: map.to_vec(),
                        ntp: capture_time(buf),
                        at: Instant::now(),
                    });
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        pipeline.add(&sink).unwrap();
        sink.sync_state_with_parent().unwrap();
        pad.link(&sink.static_pad("sink").unwrap()).unwrap();
    });
    let o = out.clone();
    src.connect_no_more_pads(move |_| o.lock().unwrap().no_more_pads = true);

    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).expect("to PLAYING");
    let start = Instant::now();
    loop {
        let frames = out.lock().unwrap().video_pts.len();
        if frames >= video_frames {
            break;
        }
        if start.elapsed() > deadline {
            // Not while holding the lock: the streaming threads' callbacks would find it poisoned.
            let why = {
                let rec = out.lock().unwrap();
                format!("errors {:?}, warnings {:?}", rec.errors, rec.warnings)
            };
            pipeline.set_state(gst::State::Null).expect("to NULL");
            panic!("{frames} of {video_frames} video frames after {deadline:?}; {why}");
        }
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(20)) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Error(e) => {
                let text = format!("{} {:?}", e.error(), e.debug());
                out.lock().unwrap().errors.push(text);
                break;
            }
            gst::MessageView::Warning(w) => {
                // With the element's own text (its debug field), not only the error domain's.
                let text = format!("{} {:?}", w.error(), w.debug());
                out.lock().unwrap().warnings.push(text)
            }
            _ => {}
        }
    }
    pipeline.set_state(gst::State::Null).expect("to NULL");
    let rec = std::mem::take(&mut *out.lock().unwrap());
    rec
}

/// How much later than the video side pad `pad`'s buffers go out, against what the camera's capture
/// times say (ns, median over the recording's last `last` ns): 0 when audio and video keep the
/// camera's A/V offset. Each buffer's PTS minus its capture time (reference timestamp meta) is its
/// delay; the video's and the pad's are compared.
pub fn av_offset(rec: &AvRecording, pad: usize, last: u64) -> i128 {
    let end = *rec.video_pts.last().expect("video buffers");
    let from = end.saturating_sub(last);
    let median = |mut v: Vec<i128>, what: &str| {
        assert!(
            v.len() >= 10,
            "{} {what} buffers with a capture time",
            v.len()
        );
        v.sort();
        v[v.len() / 2]
    };
    let video: Vec<i128> = rec
        .video_pts
        .iter()
        .zip(&rec.video_ntp)
        .filter(|(&pts, _)| pts >= from)
        .filter_map(|(&pts, ntp)| Some(i128::from(pts) - i128::from((*ntp)?)))
        .collect();
    let side: Vec<i128> = rec.side[pad]
        .iter()
        .filter_map(|f| {
            let pts = f.pts?.nseconds();
            (pts >= from && pts <= end).then_some(i128::from(pts) - i128::from(f.ntp?))
        })
        .collect();
    median(side, "side") - median(video, "video")
}

/// The audio pad's buffers follow each other without a hole, PTS by duration, except where a
/// buffer carries DISCONT; returns the DISCONT buffers after the first and the holes, in durations.
pub fn holes(frames: &[AudioFrame]) -> (usize, Vec<u64>) {
    let mut disconts = 0;
    let mut holes = Vec::new();
    for w in frames.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let duration = a.duration.expect("a duration").nseconds();
        let gap = b.pts.unwrap().nseconds() - a.pts.unwrap().nseconds();
        let discont = b.flags.contains(gst::BufferFlags::DISCONT);
        disconts += usize::from(discont);
        // The element's timeline may slew PTS by up to 1/25 of the time passed toward the earliest
        // arrivals (element/timing.rs): AUs packed together arrive together.
        if gap.abs_diff(duration) > duration / 25 + 1_000_000 {
            assert!(
                discont,
                "a hole of {gap} ns after a {duration} ns buffer without DISCONT"
            );
            holes.push((gap + duration / 2) / duration - 1);
        }
    }
    (disconts, holes)
}

/// The capture time a buffer's reference timestamp meta carries (ns since 1900).
pub fn capture_time(buf: &gst::BufferRef) -> Option<u64> {
    buf.iter_meta::<gst::ReferenceTimestampMeta>()
        .next()
        .map(|m| m.timestamp().nseconds())
}

/// Decodes `frames` of `caps` with GStreamer's decoder for them; returns the samples per channel
/// decoded, the sample rate, and any error the decoder posted.
pub fn decode_audio(caps: &gst::Caps, frames: &[AudioFrame]) -> (u64, u32, Vec<String>) {
    let d = decode(caps, frames);
    (d.first_channel.len() as u64, d.rate, d.errors)
}

/// The decoded audio: the first channel's samples, the rate, the decoder's errors.
pub struct Decoded {
    pub first_channel: Vec<i16>,
    pub rate: u32,
    pub errors: Vec<String>,
}

impl Decoded {
    /// The frequency of the tone decoded, in Hz, by its zero crossings: 440 for the test sources'
    /// sine; noise (audio unpacked in the wrong bit order) crosses zero far more often.
    pub fn tone_hz(&self) -> f64 {
        // With hysteresis: quiet samples near zero (an encoder's priming) do not count.
        let (mut crossings, mut positive) = (0usize, None);
        for &x in &self.first_channel {
            let now = match x {
                i16::MIN..=-2000 => false,
                2000.. => true,
                _ => continue,
            };
            crossings += usize::from(positive.is_some_and(|p| p != now));
            positive = Some(now);
        }
        crossings as f64 / 2.0 / (self.first_channel.len().max(1) as f64 / f64::from(self.rate))
    }

    /// Fails the test unless the tone decoded is the test sources' 440 Hz sine (a wrong byte or bit
    /// order decodes without an error, as noise).
    pub fn assert_source_tone(&self, context: &str) {
        let tone = self.tone_hz();
        assert!(
            (430.0..450.0).contains(&tone),
            "{context}: a tone of {tone:.0} Hz"
        );
    }
}

/// Decodes `frames` of `caps` to 16-bit samples.
pub fn decode(caps: &gst::Caps, frames: &[AudioFrame]) -> Decoded {
    let decoder = match caps.structure(0).map(|s| s.name().as_str()) {
        Some("audio/mpeg") => "avdec_aac",
        Some("audio/x-alaw") => "alawdec",
        Some("audio/x-mulaw") => "mulawdec",
        Some("audio/G722") => "avdec_g722",
        Some("audio/x-opus") => "opusdec",
        Some("audio/x-raw") => "identity",
        Some("audio/x-adpcm") => "avdec_g726",
        other => panic!("no decoder for {other:?}"),
    };
    assert!(
        gst::ElementFactory::find(decoder).is_some(),
        "{decoder} is missing: install gstreamer1.0-libav and gstreamer1.0-plugins-good/-base"
    );
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src format=time ! {decoder} ! audioconvert ! audio/x-raw,format=S16LE ! appsink name=sink sync=false"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let src = pipeline
        .by_name("src")
        .unwrap()
        .downcast::<gst_app::AppSrc>()
        .unwrap();
    let sink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    src.set_caps(Some(caps));
    pipeline.set_state(gst::State::Playing).unwrap();
    for f in frames {
        let mut b = gst::Buffer::from_mut_slice(f.data.clone());
        let m = b.get_mut().unwrap();
        m.set_pts(f.pts);
        m.set_duration(f.duration);
        m.set_flags(f.flags);
        let _ = src.push_buffer(b);
    }
    let _ = src.end_of_stream();
    let (mut first_channel, mut rate, mut errors) = (Vec::new(), 0u32, Vec::new());
    while let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(5)) {
        let (r, channels) = gst_audio_info(sample.caps().unwrap());
        rate = r;
        let Some(map) = sample.buffer().and_then(|b| b.map_readable().ok()) else {
            continue;
        };
        first_channel.extend(
            map.chunks_exact(2 * channels as usize)
                .map(|s| i16::from_le_bytes([s[0], s[1]])),
        );
    }
    let bus = pipeline.bus().unwrap();
    while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
        if let gst::MessageView::Error(e) = msg.view() {
            errors.push(e.error().to_string());
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    Decoded {
        first_channel,
        rate,
        errors,
    }
}

/// (rate, channels) of raw audio caps.
fn gst_audio_info(caps: &gst::CapsRef) -> (u32, u32) {
    let s = caps.structure(0).unwrap();
    (
        s.get::<i32>("rate").unwrap() as u32,
        s.get::<i32>("channels").unwrap() as u32,
    )
}

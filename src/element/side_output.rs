//! The supervisor's side of the streams beside the video (audio and ONVIF metadata): each one's caps
//! (from the SDP) and timeline, and its frames as buffers with PTS and duration. Each session stream
//! after the video that was set up gets a side pad, named by kind and its number within the kind
//! (`audio_0`, `audio_1`, `metadata_0`); the pads are made once, from the first session's streams, and a later session whose
//! streams differ sends new caps on them.

use super::timing::Timeline;
use crate::net::session_client::SessionClient;
use crate::stream::codec::{Codec, Kind};

/// A pad to make: its name and caps.
#[derive(Debug, Clone)]
pub struct SidePad {
    pub name: String,
    pub caps: gst::Caps,
    /// Its SDP media section and kind: its stream id in the collection.
    pub media_index: usize,
    pub kind: Kind,
}

/// One side pad's stream.
#[derive(Debug)]
struct SideStream {
    /// The session's stream index it carries.
    stream: usize,
    caps: gst::Caps,
    /// Caps to send with the next buffer (a new session's stream differs from the pad's).
    caps_pending: bool,
    timeline: Timeline,
    timeline_epoch: u32,
    discont: bool,
}

/// The side streams, by pad.
#[derive(Debug, Default)]
pub struct SideOutputs {
    streams: Vec<SideStream>,
    /// Whether the pads were announced (`Notice::SideStreams`).
    announced: bool,
    /// A recording is played (ONVIF replay): the timelines follow the RTP clock, as the video's.
    recording: bool,
}

/// A buffer and the caps to set before it, for side pad `pad` (in the order they were announced).
pub struct SideBuffer {
    pub pad: usize,
    pub buffer: gst::Buffer,
    pub caps: Option<gst::Caps>,
}

impl SideOutputs {
    /// The caps of each stream beside the video `client` set up, the first time a session plays: the
    /// pads to make. `None` once they are made; a later session's caps replace theirs.
    pub fn on_session(&mut self, client: &SessionClient) -> Option<Vec<SidePad>> {
        // By the session's stream index: a stream the camera refused to set up has no spec, and
        // must not shift the others' pads.
        let caps: Vec<(usize, Kind, gst::Caps, usize)> = (1..client.stream_count())
            .filter_map(|i| {
                let spec = client.spec(i)?;
                Some((i, spec.kind(), Codec::side_caps(spec)?, spec.media_index))
            })
            .collect();
        if self.announced {
            for stream in &mut self.streams {
                let new = caps.iter().find(|(i, ..)| *i == stream.stream);
                if let Some((_, _, caps, _)) = new.filter(|(_, _, c, _)| *c != stream.caps) {
                    stream.caps = caps.clone();
                    stream.caps_pending = true;
                }
            }
            return None;
        }
        self.announced = true;
        self.streams = caps
            .iter()
            .map(|(stream, _, c, _)| SideStream {
                stream: *stream,
                caps: c.clone(),
                caps_pending: false,
                timeline: self.timeline(),
                timeline_epoch: 0,
                discont: false,
            })
            .collect();
        let mut counts = [0usize; 2];
        let pads = caps
            .into_iter()
            .map(|(_, kind, caps, media_index)| {
                let (prefix, n) = match kind {
                    Kind::Metadata => ("metadata", &mut counts[1]),
                    _ => ("audio", &mut counts[0]),
                };
                let name = format!("{prefix}_{n}");
                *n += 1;
                SidePad {
                    name,
                    caps,
                    media_index,
                    kind,
                }
            })
            .collect();
        Some(pads)
    }

    fn timeline(&self) -> Timeline {
        let mut t = Timeline::default();
        t.set_recording(self.recording);
        t
    }

    /// Plays a recording (ONVIF replay), or a live stream: how the timelines run.
    pub fn set_recording(&mut self, recording: bool) {
        self.recording = recording;
        for s in &mut self.streams {
            s.timeline.set_recording(recording);
        }
    }

    /// The pipeline's running time starts over (a flushing seek): so do the timelines.
    pub fn reset(&mut self) {
        for s in &mut self.streams {
            s.timeline.reset();
        }
        self.restart();
    }

    /// A new session follows: every stream's timeline starts over, its next buffer with DISCONT.
    pub fn restart(&mut self) {
        for s in &mut self.streams {
            s.timeline.restart();
            s.timeline_epoch = 0;
            s.discont = true;
        }
    }

    /// Session stream `stream`'s frame `au` as a buffer; `basis`: the running time its PTS follows
    /// (its arrival, or with `ntp-sync` its capture). `None` for a stream without a pad or a frame
    /// seconds away from its stream.
    pub fn buffer(
        &mut self,
        client: &SessionClient,
        stream: usize,
        au: crate::au::AccessUnit,
        basis: u64,
        ntp: Option<u64>,
    ) -> Option<SideBuffer> {
        let pad = self.streams.iter().position(|s| s.stream == stream)?;
        let s = &mut self.streams[pad];
        let rate = client.clock_rate(stream);
        let epoch = client.timeline_epoch(stream);
        if epoch != s.timeline_epoch {
            s.timeline_epoch = epoch;
            s.timeline.restart();
        }
        let stamp = s.timeline.pts(au.rtp_ts, rate, basis);
        if stamp.outlier {
            s.discont = true;
            return None;
        }
        let duration = au
            .duration
            .map(|d| d.saturating_mul(1_000_000_000) / u64::from(rate.max(1)));
        // Taken whatever the others say: left set, it would mark the next frame too.
        let pending = std::mem::take(&mut s.discont);
        let discont = au.discont || stamp.resynced || pending;
        let mut buffer = gst::Buffer::from_mut_slice(au.data);
        let b = buffer.get_mut().expect("a new buffer is writable");
        b.set_pts(gst::ClockTime::from_nseconds(stamp.pts));
        b.set_duration(duration.map(gst::ClockTime::from_nseconds));
        if discont {
            b.set_flags(gst::BufferFlags::DISCONT);
        }
        if let Some(ntp) = ntp {
            super::supervisor::add_reference_timestamp(b, ntp);
        }
        let caps = std::mem::take(&mut s.caps_pending).then(|| s.caps.clone());
        Some(SideBuffer { pad, buffer, caps })
    }
}

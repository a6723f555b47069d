//! The audio streams' side of the supervisor: each audio stream's caps (from the SDP) and timeline, and
//! its frames as buffers with PTS and duration. Audio stream k of a session (the session's stream k+1)
//! goes to pad `audio_k`; the pads are made once, from the first session's streams, and a later session
//! whose audio differs sends new caps on them.

use super::timing::Timeline;
use crate::net::session_client::SessionClient;
use crate::stream::codec::{Codec, Kind};

/// One audio pad's stream.
#[derive(Debug)]
struct AudioStream {
    caps: gst::Caps,
    /// Caps to send with the next buffer (a new session's stream differs from the pad's).
    caps_pending: bool,
    timeline: Timeline,
    timeline_epoch: u32,
    discont: bool,
}

/// The audio streams, by pad.
#[derive(Debug, Default)]
pub struct AudioOutputs {
    streams: Vec<AudioStream>,
    /// Whether the pads were announced (`Notice::AudioStreams`).
    announced: bool,
}

/// An audio buffer and the caps to set before it, for pad `audio_{pad}`.
pub struct AudioBuffer {
    pub pad: usize,
    pub buffer: gst::Buffer,
    pub caps: Option<gst::Caps>,
}

impl AudioOutputs {
    /// The caps of each audio stream `client` set up, the first time a session plays: the pads to
    /// make. `None` once they are made; a later session's caps replace theirs.
    pub fn on_session(&mut self, client: &SessionClient) -> Option<Vec<gst::Caps>> {
        let caps: Vec<gst::Caps> = (0..client.stream_count())
            .filter_map(|i| client.spec(i))
            .filter(|s| s.kind() == Kind::Audio)
            .filter_map(Codec::audio_caps)
            .collect();
        if self.announced {
            for (stream, caps) in self.streams.iter_mut().zip(caps) {
                if stream.caps != caps {
                    stream.caps = caps;
                    stream.caps_pending = true;
                }
            }
            return None;
        }
        self.announced = true;
        self.streams = caps
            .iter()
            .map(|c| AudioStream {
                caps: c.clone(),
                caps_pending: false,
                timeline: Timeline::default(),
                timeline_epoch: 0,
                discont: false,
            })
            .collect();
        Some(caps)
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
    ) -> Option<AudioBuffer> {
        let pad = stream.checked_sub(1)?;
        let s = self.streams.get_mut(pad)?;
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
        let discont = au.discont || stamp.resynced || std::mem::take(&mut s.discont);
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
        Some(AudioBuffer { pad, buffer, caps })
    }
}

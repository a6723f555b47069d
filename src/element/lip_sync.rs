//! Lip-sync: audio and metadata placed against the video as the camera captured them. Each stream's
//! sender reports tie its RTP time to the camera's NTP clock; the latest video picture gives the PTS
//! of an NTP instant, so a side frame captured `d` after that picture goes out `d` after its PTS. That
//! running time is the basis the side stream's timeline follows (it slews toward it: no jumps in the
//! audio). Before both streams have reports, or with `ntp-sync` (which puts every stream on the host's
//! clock already), side streams follow their arrival.
//!
//! A side stream's timeline starts at its first frame, and audio usually comes before the first
//! picture (which waits for a keyframe). So side frames are held until the session's first picture
//! (`Held`, bounded), and take their place from it at once rather than slewing into it for seconds.

use crate::au::AccessUnit;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Sender reports that put a side frame further than this from its arrival are not believed (a camera
/// whose audio reports come from another clock): the stream follows its arrival, and a warning says so.
pub const MAX_OFFSET_NS: i128 = 1_000_000_000;

/// Where a side frame goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SideBasis {
    /// At this running time, against the video.
    Synced(u64),
    /// No video picture with a capture time yet: at its arrival.
    Unknown,
    /// The reports put it this far (ns, positive: later) from its arrival: at its arrival.
    TooFar(i128),
    /// Captured before the pipeline's running time 0 (audio buffered longer than the session has
    /// been playing): it has no place, and is dropped.
    BeforeStart,
}

#[derive(Debug, Default)]
pub struct LipSync {
    /// The latest video picture's capture time (ns since 1900, the camera's clock) and PTS.
    anchor: Option<(u64, u64)>,
    /// A picture went out since the session started.
    started: bool,
}

impl LipSync {
    /// A video picture captured at `ntp` (when the camera's reports say) went out with `pts`.
    pub fn video(&mut self, ntp: Option<u64>, pts: u64) {
        self.started = true;
        if let Some(ntp) = ntp {
            self.anchor = Some((ntp, pts));
        }
    }

    /// Whether a picture went out in this session: side frames no longer wait.
    pub fn started(&self) -> bool {
        self.started
    }

    /// A new session (or a new video timeline) follows: its pictures give the reference.
    pub fn restart(&mut self) {
        self.anchor = None;
        self.started = false;
    }

    /// The running time for a side frame captured at `ntp` that arrived at running time `arrival`.
    pub fn side(&self, ntp: u64, arrival: u64) -> SideBasis {
        let Some((video_ntp, video_pts)) = self.anchor else {
            return SideBasis::Unknown;
        };
        let at = i128::from(video_pts) + i128::from(ntp) - i128::from(video_ntp);
        let off = at - i128::from(arrival);
        if off.abs() > MAX_OFFSET_NS {
            return SideBasis::TooFar(off);
        }
        match u64::try_from(at) {
            Ok(at) => SideBasis::Synced(at),
            Err(_) => SideBasis::BeforeStart,
        }
    }
}

/// At most this many side frames, and bytes, wait for the first picture: 10 s of 20 ms audio packets,
/// a few ONVIF documents; and none longer than `MAX_HOLD` (a camera whose video is slow to start, or
/// never does). Beyond that the oldest goes out, at its arrival.
const MAX_HELD: usize = 512;
const MAX_HELD_BYTES: usize = 4 << 20;
const MAX_HOLD: Duration = Duration::from_secs(2);

/// A side frame waiting for the first picture: its session stream, the frame, when it completed.
pub type HeldFrame = (usize, AccessUnit, Instant);

/// Side frames that came before the session's first picture.
#[derive(Default)]
pub struct Held {
    frames: VecDeque<HeldFrame>,
    bytes: usize,
}

impl Held {
    /// Holds `frame`; returns the oldest when the bound is passed (it goes out now, by arrival).
    pub fn push(&mut self, frame: HeldFrame) -> Option<HeldFrame> {
        self.bytes += frame.1.data.len();
        self.frames.push_back(frame);
        if self.frames.len() > MAX_HELD || self.bytes > MAX_HELD_BYTES {
            return self.pop();
        }
        None
    }

    /// The oldest frame, if it has waited `MAX_HOLD` by `now`.
    pub fn pop_expired(&mut self, now: Instant) -> Option<HeldFrame> {
        let (_, _, completed) = self.frames.front()?;
        if now.saturating_duration_since(*completed) < MAX_HOLD {
            return None;
        }
        self.pop()
    }

    /// The oldest frame held.
    pub fn pop(&mut self) -> Option<HeldFrame> {
        let frame = self.frames.pop_front()?;
        self.bytes -= frame.1.data.len();
        Some(frame)
    }

    /// A new session: what the old one held is stale.
    pub fn clear(&mut self) {
        self.frames.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    /// Some NTP time (ns since 1900).
    const NTP: u64 = 3_990_000_000 * 1_000 * MS;

    #[test]
    fn side_frames_follow_the_video_by_capture_time() {
        let mut s = LipSync::default();
        assert_eq!(s.side(NTP, 5 * MS), SideBasis::Unknown);
        // A picture without a capture time: started, no reference.
        s.video(None, 900 * MS);
        assert!(s.started());
        assert_eq!(s.side(NTP, 5 * MS), SideBasis::Unknown);
        s.video(Some(NTP), 1000 * MS);
        // Captured 20 ms after the picture, arriving 300 ms after it (the camera buffers its audio):
        // 20 ms after the picture's PTS, not at its arrival.
        assert_eq!(
            s.side(NTP + 20 * MS, 1300 * MS),
            SideBasis::Synced(1020 * MS)
        );
        // Captured before the picture.
        assert_eq!(s.side(NTP - 40 * MS, 990 * MS), SideBasis::Synced(960 * MS));
        s.video(Some(NTP + 33 * MS), 1033 * MS);
        assert_eq!(
            s.side(NTP + 20 * MS, 1300 * MS),
            SideBasis::Synced(1020 * MS)
        );
        s.restart();
        assert_eq!(s.side(NTP, 5 * MS), SideBasis::Unknown);
        assert!(!s.started());
    }

    fn frame(stream: usize, len: usize) -> HeldFrame {
        use crate::au::au_bytes::{AuBytes, SpareMappings};
        let mut data = AuBytes::new(0, &SpareMappings::default());
        data.extend_from_slice(&vec![0u8; len]);
        let au = AccessUnit {
            data,
            rtp_ts: 0,
            keyframe: false,
            discont: false,
            sps: None,
            duration: None,
        };
        (stream, au, Instant::now())
    }

    #[test]
    fn held_frames_are_bounded_oldest_out_first() {
        let mut h = Held::default();
        for i in 0..MAX_HELD {
            assert!(h.push(frame(i, 10)).is_none());
        }
        assert_eq!(h.push(frame(9999, 10)).map(|f| f.0), Some(0));
        // 1 MiB documents: four fit.
        h.clear();
        assert!(h.pop().is_none());
        for i in 0..4 {
            assert!(h.push(frame(i, 1 << 20)).is_none());
        }
        assert_eq!(h.push(frame(4, 1)).map(|f| f.0), Some(0));
        assert_eq!(h.pop().map(|f| f.0), Some(1));
        // None waits longer than MAX_HOLD.
        let now = Instant::now();
        assert!(h.pop_expired(now).is_none());
        assert_eq!(h.pop_expired(now + MAX_HOLD).map(|f| f.0), Some(2));
    }

    #[test]
    fn reports_from_another_clock_are_not_followed() {
        let mut s = LipSync::default();
        s.video(Some(NTP), 1000 * MS);
        assert_eq!(
            s.side(NTP + 3600 * 1000 * MS, 1000 * MS),
            SideBasis::TooFar(3600 * 1000 * MS as i128)
        );
        assert_eq!(
            s.side(NTP - 2000 * MS, 1000 * MS),
            SideBasis::TooFar(-2000 * MS as i128)
        );
        // Captured before the pipeline's start.
        s.video(Some(NTP), 0);
        assert_eq!(s.side(NTP - 10 * MS, 0), SideBasis::BeforeStart);
        assert_eq!(s.side(NTP, 0), SideBasis::Synced(0));
        s.video(Some(u64::MAX), u64::MAX);
        s.side(0, 0);
        s.side(u64::MAX, u64::MAX);
    }
}

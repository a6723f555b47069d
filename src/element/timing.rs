//! Buffer timestamps: the RTP clock mapped onto the pipeline's running time at the first packet, and a
//! correction that follows the network's base delay, so that over hours the PTS neither drift away from
//! arrival times (a camera clock 2000 ppm slow builds 7 s of latency an hour) nor run ahead of them,
//! and a step in network delay is absorbed within seconds rather than minutes.
//!
//! The base delay is the smallest arrival delay seen in each half-second window (jitter only ever adds
//! delay); the correction slews toward it at 4 % of stream time at most, so PTS spacing changes by 4 %
//! at most and PTS of frames in order never go back. The correction is a function of the RTP time: it
//! advances with pictures that move the stream forward, and a B-frame (earlier than one already seen)
//! gets the correction of its own place on that line, so B-frames keep even spacing while it slews.
//! All arithmetic is in i128 and saturates: no input can overflow it.

/// Window over which the smallest delay is taken.
const WINDOW_NS: u64 = 500_000_000;
/// The correction moves at most 1 ns per this many ns of stream: 40 ms a second.
const SLEW_DIVISOR: i128 = 25;
/// Farther than this from the expected time means the sender's clock jumped: start a new mapping.
const RESYNC_NS: i128 = 3_000_000_000;

#[derive(Debug, Default)]
pub struct Timeline {
    /// (RTP timestamp, running time) of the first packet of the mapping.
    base: Option<(u64, u64)>,
    /// The correction applied now, and the one it slews toward (ns).
    skew: i128,
    target: i128,
    window_min: Option<i128>,
    window_start: u64,
    /// The latest nominal time yet, and the last step of the correction (change, over stream time).
    max_nominal: Option<i128>,
    last_step: (i128, i128),
    last_pts: Option<u64>,
    /// A picture far from the mapping: (RTP timestamp, arrival). The next one confirms a jump if it
    /// agrees with it, else it was an outlier.
    jump: Option<(u64, u64)>,
    /// A recording played back (ONVIF replay): PTS follow the RTP clock alone, whatever the pace of
    /// arrival (`Rate-Control: no` sends as fast as we read). A live camera's follow arrival.
    recording: bool,
    /// Played backwards: the GOPs so far.
    reverse: super::reverse_gops::ReverseGops,
}

/// A timestamp, and whether the mapping started over for it (the buffer carries DISCONT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub pts: u64,
    pub resynced: bool,
    /// Seconds away from the stream with nothing after it to confirm a jump (Intelbras DVRs send the
    /// odd frame hours off, then go on as before): drop the picture, keep the mapping.
    pub outlier: bool,
}

fn saturate(v: i128) -> u64 {
    v.clamp(0, i128::from(u64::MAX)) as u64
}

impl Timeline {
    /// A new RTP timeline follows (reconnect, new SSRC): map its first packet afresh.
    pub fn restart(&mut self) {
        self.base = None;
        self.skew = 0;
        self.target = 0;
        self.window_min = None;
        self.max_nominal = None;
        self.last_step = (0, 1);
    }

    /// The pipeline's running time starts over (a flushing seek): the next access unit is mapped
    /// afresh at its arrival, not after the last PTS, which belongs to the old running time.
    pub fn reset(&mut self) {
        *self = Timeline {
            recording: self.recording,
            ..Timeline::default()
        };
    }

    /// Plays a recording (ONVIF replay), or a live stream.
    pub fn set_recording(&mut self, recording: bool) {
        self.recording = recording;
    }

    /// PTS in nanoseconds of running time for an access unit at `rtp_ts` (extended) that completed at
    /// running time `arrival`.
    pub fn pts(&mut self, rtp_ts: u64, clock_rate: u32, arrival: u64) -> Stamp {
        if self.recording {
            return self.replay_pts(rtp_ts, clock_rate, arrival);
        }
        let rate = i128::from(clock_rate.max(1));
        // After a restart, time goes on from the last PTS, never back.
        let start = self
            .last_pts
            .map_or(arrival, |p| arrival.max(p.saturating_add(1)));
        let (rtp0, run0) = *self.base.get_or_insert_with(|| {
            self.window_start = arrival;
            (rtp_ts, start)
        });
        let mut nominal =
            i128::from(run0) + (i128::from(rtp_ts) - i128::from(rtp0)) * 1_000_000_000 / rate;
        let mut delay = i128::from(arrival) - nominal;
        let mut resynced = false;
        if (delay - self.skew).abs() > RESYNC_NS {
            let confirmed = self.jump.take().is_some_and(|(ts, at)| {
                let expected =
                    i128::from(at) + (i128::from(rtp_ts) - i128::from(ts)) * 1_000_000_000 / rate;
                (i128::from(arrival) - expected).abs() <= RESYNC_NS
            });
            if let Some(last) = self.last_pts.filter(|_| !confirmed) {
                self.jump = Some((rtp_ts, arrival));
                return Stamp {
                    pts: last,
                    resynced: false,
                    outlier: true,
                };
            }
            // Keep time moving forward from the last PTS rather than jumping back.
            let start = self.last_pts.map_or(arrival, |p| p.max(arrival));
            self.base = Some((rtp_ts, start));
            self.restart_estimate(arrival);
            nominal = i128::from(start);
            delay = i128::from(arrival) - nominal;
            resynced = self.last_pts.is_some();
        }
        self.jump = None;
        self.window_min = Some(self.window_min.map_or(delay, |m| m.min(delay)));
        if arrival.saturating_sub(self.window_start) >= WINDOW_NS {
            self.target = self.window_min.take().unwrap_or(self.target);
            self.window_start = arrival;
        }
        let skew = match self.max_nominal {
            // Behind the latest picture (a B-frame): the correction of its place on the line.
            Some(max) if nominal < max => {
                let (change, over) = self.last_step;
                self.skew - change * (max - nominal).min(over) / over.max(1)
            }
            last => {
                let progress = last.map_or(0, |m| nominal - m);
                let change = (self.target - self.skew)
                    .clamp(-progress / SLEW_DIVISOR, progress / SLEW_DIVISOR);
                self.skew += change;
                self.last_step = (change, progress.max(1));
                self.max_nominal = Some(nominal);
                self.skew
            }
        };
        let pts = saturate(nominal + skew);
        self.last_pts = Some(pts);
        Stamp {
            pts,
            resynced,
            outlier: false,
        }
    }

    /// A recording played backwards (negative Scale): the picture recorded at `ntp` under the
    /// reverse segment (`reverse_gops.rs`) that starts at `position` (the one asked, if any) and the
    /// first picture's arrival, or just past the last PTS.
    pub fn reverse_picture(
        &mut self,
        ntp: u64,
        keyframe: bool,
        scale: f64,
        position: Option<u64>,
        arrival: u64,
    ) -> super::reverse_gops::ReversePicture {
        let start = self
            .last_pts
            .map_or(arrival, |p| arrival.max(p.saturating_add(1)));
        let picture = self
            .reverse
            .picture(ntp, keyframe, scale.abs(), position, start);
        // The running time reached: where a later forward replay goes on from.
        self.last_pts = Some(
            self.last_pts
                .map_or(picture.running, |p| p.max(picture.running)),
        );
        picture
    }

    /// How long a reverse replay holds each GOP before it can be shown (0 forwards).
    pub fn reverse_latency(&self, scale: f64) -> u64 {
        self.reverse.latency(scale.abs())
    }

    /// A new replay: a reverse one starts its own segment.
    pub fn new_replay(&mut self) {
        self.reverse = Default::default();
    }

    /// A recording's PTS: from the first picture's arrival (or just past the last PTS), the RTP
    /// clock's progress. That is playback time: at Scale 2 a server's RTP clock runs at the pace it
    /// sends (gst-rtsp-server stamps RTP from its pipeline's running time), the segment's
    /// applied-rate says how much recording that covers. No outliers, no correction: arrival says
    /// nothing of a recording's time.
    fn replay_pts(&mut self, rtp_ts: u64, clock_rate: u32, arrival: u64) -> Stamp {
        let start = self
            .last_pts
            .map_or(arrival, |p| arrival.max(p.saturating_add(1)));
        let (rtp0, run0) = *self.base.get_or_insert((rtp_ts, start));
        let ticks = i128::from(rtp_ts) - i128::from(rtp0);
        let ns = ticks * 1_000_000_000 / i128::from(clock_rate.max(1));
        let pts = saturate(i128::from(run0) + ns);
        self.last_pts = Some(pts);
        Stamp {
            pts,
            resynced: false,
            outlier: false,
        }
    }

    fn restart_estimate(&mut self, arrival: u64) {
        self.skew = 0;
        self.target = 0;
        self.window_min = None;
        self.window_start = arrival;
        self.max_nominal = None;
        self.last_step = (0, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;
    /// The element's default reorder window.
    const WINDOW: i128 = 50 * MS as i128;

    /// Simulates `secs` of a 30 fps camera whose clock runs `ppm` off, arriving after `delay(t)` ns plus
    /// up to 8 ms of jitter; returns (arrival, PTS) per frame.
    fn simulate(secs: u64, ppm: i64, delay: impl Fn(u64) -> u64) -> Vec<(u64, u64)> {
        let mut t = Timeline::default();
        let mut out = Vec::new();
        let mut noise = 0x2545_f491_4f6c_dd1du64;
        for frame in 0..secs * 30 {
            // Camera time of the frame, and its RTP timestamp by the camera's clock.
            let captured = frame * S / 30;
            let rtp = (i128::from(captured) * (1_000_000 + i128::from(ppm)) / 1_000_000) * 90_000
                / i128::from(S);
            noise ^= noise << 13;
            noise ^= noise >> 7;
            noise ^= noise << 17;
            let arrival = captured + delay(captured) + noise % (8 * MS);
            out.push((arrival, t.pts(rtp as u64, 90_000, arrival).pts));
        }
        out
    }

    fn worst_lag(frames: &[(u64, u64)]) -> i128 {
        frames
            .iter()
            .map(|&(a, p)| (i128::from(a) - i128::from(p)).abs())
            .max()
            .unwrap()
    }

    #[test]
    fn follows_rtp_clock_from_first_arrival() {
        let mut t = Timeline::default();
        assert_eq!(t.pts(90_000, 90_000, 500 * MS).pts, 500 * MS);
        // 33 ms later in RTP time, arriving with 5 ms jitter: PTS keeps the RTP spacing.
        assert_eq!(
            t.pts(90_000 + 3000, 90_000, 538 * MS).pts,
            500 * MS + 33_333_333
        );
    }

    #[test]
    fn camera_clock_off_by_2000_ppm_for_an_hour() {
        for ppm in [-2000, 0, 500, 2000] {
            let frames = simulate(3600, ppm, |_| 20 * MS);
            // Past the first second, every PTS within the reorder window of its arrival.
            let lag = worst_lag(&frames[30..]);
            assert!(lag <= WINDOW, "{ppm} ppm: {} ms", lag as f64 / 1e6);
            assert!(
                frames.windows(2).all(|w| w[1].1 > w[0].1),
                "{ppm} ppm: PTS went back"
            );
        }
    }

    #[test]
    fn a_step_in_network_delay_is_absorbed_within_5s() {
        // 200 ms more delay from minute one on (a route change, a congested uplink).
        let frames = simulate(120, 0, |t| if t < 60 * S { 20 * MS } else { 220 * MS });
        let settled = frames
            .iter()
            .position(|&(a, _)| a >= 60 * S + 220 * MS + 5 * S)
            .unwrap();
        let lag = worst_lag(&frames[settled..]);
        assert!(lag <= WINDOW, "{} ms after 5 s", lag as f64 / 1e6);
        // And back when the delay drops again.
        let frames = simulate(120, 0, |t| if t < 60 * S { 220 * MS } else { 20 * MS });
        let settled = frames
            .iter()
            .position(|&(a, _)| a >= 65 * S + 20 * MS)
            .unwrap();
        assert!(worst_lag(&frames[settled..]) <= WINDOW);
        assert!(frames.windows(2).all(|w| w[1].1 > w[0].1), "PTS went back");
    }

    #[test]
    fn b_frames_keep_even_spacing_while_the_correction_slews() {
        // I0 P3 B1 B2 P6 B4 B5 …, arriving in that order a frame apart: the correction slews for the
        // first seconds, and the PTS in display order stay evenly spaced (within the 4 % slew).
        let mut t = Timeline::default();
        let frame = S / 30;
        let mut shown = Vec::new();
        for i in 0..300u64 {
            let p = match i.checked_sub(1).map(|j| (j / 3, j % 3)) {
                None => 0,
                Some((m, 0)) => 3 * m + 3,
                Some((m, r)) => 3 * m + r,
            };
            let stamp = t.pts(p * 3000, 90_000, i * frame);
            shown.push(stamp.pts);
        }
        shown.sort();
        // (The last mini-GOP's B-frames never came.)
        for w in shown[..shown.len() - 3].windows(2) {
            let d = (w[1] - w[0]) as f64 / frame as f64;
            assert!((0.95..=1.05).contains(&d), "spacing {d} frames");
        }
    }

    #[test]
    fn restart_keeps_time_moving_forward() {
        let mut t = Timeline::default();
        t.pts(0, 90_000, 0);
        let a = t.pts(900_000, 90_000, 10_000 * MS).pts;
        t.restart();
        // The new stream's first packet arrives before the old one's last PTS (it ran ahead).
        let b = t.pts(5, 90_000, 9_000 * MS).pts;
        assert!(b > a);
        assert_eq!(t.pts(3005, 90_000, 9_040 * MS).pts, b + 33_333_333);
    }

    #[test]
    fn clock_jump_resyncs_forward_and_says_so() {
        let mut t = Timeline::default();
        assert!(!t.pts(0, 90_000, 0).resynced);
        let a = t.pts(3000, 90_000, 33 * MS);
        // A jump is believed once the next picture agrees with it; that one is the first of the new
        // mapping, marked DISCONT.
        assert!(t.pts(900_000_000, 90_000, 66 * MS).outlier);
        let b = t.pts(900_003_000, 90_000, 100 * MS);
        assert!(b.pts > a.pts && b.resynced && !b.outlier);
        let c = t.pts(900_006_000, 90_000, 133 * MS);
        assert!(c.pts > b.pts && !c.resynced);
    }

    #[test]
    fn one_picture_hours_off_is_dropped_not_followed() {
        // Intelbras DVR: one frame whose RTP timestamp is hours away, then back.
        let mut t = Timeline::default();
        let mut last = 0;
        for i in 0..100u64 {
            let ts = if i == 50 {
                i * 3000 + 10 * 3600 * 90_000
            } else {
                i * 3000
            };
            let s = t.pts(ts, 90_000, i * 33 * MS);
            assert_eq!(s.outlier, i == 50, "{i}");
            assert!(!s.resynced, "{i}");
            if !s.outlier {
                assert!(s.pts > last || i == 0);
                last = s.pts;
            }
        }
    }

    #[test]
    fn a_replay_follows_the_rtp_clock_not_arrival() {
        let mut t = Timeline::default();
        t.set_recording(true);
        // Rate-Control: no: a second of recording arrives within a millisecond.
        assert_eq!(t.pts(1000, 90_000, 5 * MS).pts, 5 * MS);
        let later = t.pts(1000 + 90_000, 90_000, 6 * MS);
        assert_eq!(later.pts, 5 * MS + S, "a second of RTP clock");
        assert!(!later.resynced && !later.outlier);
        // A new position (restart) goes on from the last PTS.
        t.restart();
        assert_eq!(t.pts(7_000_000, 90_000, 7 * MS).pts, 5 * MS + S + 1);
        // After a flushing seek the running time starts over: from the arrival, still a recording.
        t.reset();
        assert_eq!(t.pts(9_000_000, 90_000, 3 * MS).pts, 3 * MS);
        assert_eq!(t.pts(9_000_000 + 9_000, 90_000, 3 * MS).pts, 103 * MS);
        t.restart();
        // Back to live.
        t.set_recording(false);
        t.restart();
        assert!(t.pts(8_000_000, 90_000, 2_000 * MS).pts >= 2_000 * MS);
    }

    #[test]
    fn a_replay_forwards_after_an_extreme_one_backwards_stays_a_time() {
        // Scale -0.000001 from 4e18 ns back to 0: a running time far past any clock.
        let mut t = Timeline::default();
        t.set_recording(true);
        let p = t.reverse_picture(0, true, -1e-6, Some(4_000_000_000_000_000_000), 0);
        assert!(p.running < u64::MAX, "{p:?}");
        t.new_replay();
        let next = t.pts(0, 90_000, 0);
        assert!(next.pts < u64::MAX, "a buffer time, not none: {next:?}");
    }

    #[test]
    fn extreme_inputs_do_not_overflow() {
        // Arithmetic overflow panics in tests: reaching the asserts means none happened. Past that,
        // what extreme inputs must still give: the first packet maps to its arrival, a picture kept
        // (not an outlier) never goes back in time, and a restart goes on from the last PTS.
        let mut t = Timeline::default();
        let first = t.pts(u64::MAX, 1, u64::MAX);
        assert_eq!(first.pts, u64::MAX, "the first packet maps to its arrival");
        let mut last = first.pts;
        for (rtp, rate, arrival) in [
            (0, u32::MAX, 0),
            (u64::MAX, 90_000, 0),
            (0, 0, u64::MAX),
            (1 << 63, 90_000, 1 << 63),
        ] {
            let s = t.pts(rtp, rate, arrival);
            if !s.outlier {
                assert!(s.pts >= last, "{rtp} {rate} {arrival}: {} < {last}", s.pts);
                last = s.pts;
            }
        }
        t.restart();
        let after = t.pts(0, 90_000, 0);
        assert_eq!(
            after.pts,
            last.saturating_add(1),
            "time goes on after a restart"
        );
        let next = t.pts(u64::MAX, 90_000, u64::MAX);
        assert!(next.outlier || next.pts >= after.pts);
    }
}

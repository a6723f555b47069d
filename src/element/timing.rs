//! Buffer timestamps: the RTP clock mapped onto the pipeline's running time at the first packet, with a
//! slow skew correction so that over hours the PTS neither drift away from arrival times (latency growing
//! when the camera clock is slow) nor run ahead of them.

/// How often the correction may step, and how far each time (1 ms per 2 s: 500 ppm of clock drift).
const WINDOW_NS: u64 = 2_000_000_000;
const MAX_STEP_NS: i64 = 1_000_000;
/// Farther than this from the expected time means the sender's clock jumped: start a new mapping.
const RESYNC_NS: i64 = 3_000_000_000;

#[derive(Debug, Default)]
pub struct Timeline {
    /// (RTP timestamp, running time) of the first packet.
    base: Option<(u64, u64)>,
    skew: i64,
    window_min: Option<i64>,
    window_start: u64,
    last_pts: Option<u64>,
}

impl Timeline {
    /// A new RTP timeline follows (reconnect, new SSRC): map its first packet afresh.
    pub fn restart(&mut self) {
        self.base = None;
        self.skew = 0;
        self.window_min = None;
    }

    /// PTS in nanoseconds of running time for an access unit at `rtp_ts` (extended) that completed at
    /// running time `arrival`.
    pub fn pts(&mut self, rtp_ts: u64, clock_rate: u32, arrival: u64) -> u64 {
        let clock_rate = u128::from(clock_rate.max(1));
        // After a restart, time goes on from the last PTS, never back.
        let start = self.last_pts.map_or(arrival, |p| arrival.max(p + 1));
        let (rtp0, run0) = *self.base.get_or_insert((rtp_ts, start));
        let elapsed = |ts: u64| -> i64 {
            let d = i128::from(ts) - i128::from(rtp0);
            (d * 1_000_000_000 / clock_rate as i128).clamp(i64::MIN as i128, i64::MAX as i128)
                as i64
        };
        let mut nominal = run0 as i64 + elapsed(rtp_ts);
        let mut delay = arrival as i64 - nominal;
        if (delay - self.skew).abs() > RESYNC_NS {
            // Keep time moving forward from the last PTS rather than jumping back.
            let start = self.last_pts.map_or(arrival, |p| p.max(arrival));
            self.base = Some((rtp_ts, start));
            self.skew = 0;
            self.window_min = None;
            self.window_start = arrival;
            nominal = start as i64;
            delay = arrival as i64 - nominal;
        }
        self.window_min = Some(self.window_min.map_or(delay, |m| m.min(delay)));
        if arrival.saturating_sub(self.window_start) >= WINDOW_NS {
            if let Some(m) = self.window_min.take() {
                self.skew += (m - self.skew).clamp(-MAX_STEP_NS, MAX_STEP_NS);
            }
            self.window_start = arrival;
        }
        let pts = (nominal + self.skew).max(0) as u64;
        self.last_pts = Some(pts);
        pts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn follows_rtp_clock_from_first_arrival() {
        let mut t = Timeline::default();
        assert_eq!(t.pts(90_000, 90_000, 500 * MS), 500 * MS);
        // 33 ms later in RTP time, arriving with 5 ms jitter: PTS keeps the RTP spacing.
        assert_eq!(
            t.pts(90_000 + 3000, 90_000, 538 * MS),
            500 * MS + 33_333_333
        );
    }

    #[test]
    fn slow_camera_clock_does_not_build_latency() {
        // The camera clock runs 0.01 % slow: after an hour arrivals are 360 ms behind nominal.
        let mut t = Timeline::default();
        let mut last_gap = 0;
        for frame in 0..(3600 * 30u64) {
            let rtp = frame * 3000;
            let nominal = frame * 1_000_000_000 / 30;
            let arrival = nominal + nominal / 10_000;
            let pts = t.pts(rtp, 90_000, arrival);
            last_gap = arrival as i64 - pts as i64;
        }
        assert!(last_gap.abs() < 10 * MS as i64, "gap {last_gap}");
    }

    #[test]
    fn restart_keeps_time_moving_forward() {
        let mut t = Timeline::default();
        t.pts(0, 90_000, 0);
        let a = t.pts(900_000, 90_000, 10_000 * MS);
        t.restart();
        // The new stream's first packet arrives before the old one's last PTS (it ran ahead).
        let b = t.pts(5, 90_000, 9_000 * MS);
        assert!(b > a);
        assert_eq!(t.pts(3005, 90_000, 9_040 * MS), b + 33_333_333);
    }

    #[test]
    fn clock_jump_resyncs_forward() {
        let mut t = Timeline::default();
        t.pts(0, 90_000, 0);
        let a = t.pts(3000, 90_000, 33 * MS);
        let b = t.pts(900_000_000, 90_000, 66 * MS);
        assert!(b >= a);
        let c = t.pts(900_003_000, 90_000, 100 * MS);
        assert!(c > b);
    }
}

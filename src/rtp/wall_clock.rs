//! The camera's wall clock for each frame, sans-IO: RTP time → NTP time from its RTCP sender reports
//! (RFC 3550 §6.4.1) or from the ONVIF replay header extension, which carries the NTP time of each
//! access unit.
//!
//! Between sender reports a frame's time is extrapolated from the latest report at the camera's real RTP
//! clock rate, measured over the reports of the last minute or so: at the nominal 90 kHz a camera whose
//! clock runs 500 ppm fast would be 2.5 ms off five seconds after a report. A report that contradicts the
//! mapping by more than a second (the camera resynchronised its clock, or restarted its RTP clock) starts
//! a new mapping.

/// Seconds from 1900 (NTP's epoch) to 1970 (Unix's).
pub const NTP_UNIX_OFFSET_S: u64 = 2_208_988_800;
const NS: i128 = 1_000_000_000;
/// Sender reports kept to measure the clock rate: a minute at the usual 5 s interval.
const REPORTS: usize = 12;
/// ONVIF per-frame times kept: enough for the frames between one being read and being output. A
/// replay sent faster than real time (reverse GOPs from gst-rtsp-server, `Rate-Control: no`) comes in
/// bursts of a whole GOP of small pictures, read before the first of them is output.
const EXACT: usize = 128;
/// A report this far from where the mapping puts it starts a new mapping.
const JUMP_NS: i128 = NS;
/// Measured rates further than this from the nominal one are not believed (a broken report).
const MAX_DEVIATION_PPM: i128 = 10_000;
/// The shortest span of reports a rate is measured over. Not a full second: a camera reporting every
/// second stamps the reports when its sending loop gets to them, at times a little under a second apart.
const MIN_SPAN_NS: i128 = NS * 9 / 10;

/// NTP timestamp (32.32 fixed point seconds since 1900) to nanoseconds since 1900.
pub fn ntp_to_ns(ntp: u64) -> u64 {
    let secs = ntp >> 32;
    let frac = ntp & 0xffff_ffff;
    secs * 1_000_000_000 + ((frac * 1_000_000_000) >> 32)
}

/// Nanoseconds since 1900 to an NTP timestamp (32.32 fixed point seconds since 1900).
pub fn ns_to_ntp(ns: u64) -> u64 {
    let (secs, rest) = (ns / 1_000_000_000, ns % 1_000_000_000);
    (secs << 32) | ((rest << 32) / 1_000_000_000)
}

#[derive(Debug, Clone, Copy)]
struct Report {
    /// RTP time, extended across wraps from the first report of the mapping.
    rtp: i64,
    rtp32: u32,
    ntp_ns: u64,
}

#[derive(Debug, Default, Clone)]
pub struct WallClockStats {
    pub sender_reports: u64,
    /// Reports that contradicted the mapping by more than a second.
    pub jumps: u64,
    /// The latest report's RTP time and NTP time (ns since 1900).
    pub last: Option<(u32, u64)>,
    /// How fast the camera's RTP clock runs against its own NTP clock.
    pub deviation_ppm: Option<f64>,
}

#[derive(Debug)]
pub struct WallClock {
    clock_rate: u32,
    reports: [Option<Report>; REPORTS],
    /// Index of the latest report; the oldest follows it in the ring.
    latest: usize,
    exact: [Option<(u32, u64)>; EXACT],
    next_exact: usize,
    pub stats: WallClockStats,
}

impl WallClock {
    pub fn new(clock_rate: u32) -> Self {
        WallClock {
            clock_rate: clock_rate.max(1),
            reports: [None; REPORTS],
            latest: 0,
            exact: [None; EXACT],
            next_exact: 0,
            stats: WallClockStats::default(),
        }
    }

    pub fn set_clock_rate(&mut self, clock_rate: u32) {
        self.clock_rate = clock_rate.max(1);
    }

    /// A new RTP timeline (another SSRC): what was known no longer applies. Counters stay.
    pub fn reset(&mut self) {
        self.reports = [None; REPORTS];
        self.exact = [None; EXACT];
    }

    /// Takes a sender report of our source. Returns true when it contradicted the mapping by more than
    /// a second and a new mapping starts from it.
    pub fn on_sender_report(&mut self, rtp32: u32, ntp: u64) -> bool {
        let ntp_ns = ntp_to_ns(ntp);
        self.stats.sender_reports += 1;
        self.stats.last = Some((rtp32, ntp_ns));
        let mut jumped = false;
        if let Some(latest) = self.reports[self.latest] {
            let predicted = self.extrapolate(&latest, rtp32);
            if (predicted - i128::from(ntp_ns)).abs() > JUMP_NS {
                self.reports = [None; REPORTS];
                self.stats.jumps += 1;
                jumped = true;
            } else if ntp_ns <= latest.ntp_ns {
                // A late or repeated report (reordered UDP): nothing new.
                return false;
            }
        }
        let rtp = match self.reports[self.latest] {
            Some(l) => l.rtp + i64::from(rtp32.wrapping_sub(l.rtp32) as i32),
            None => 0,
        };
        if self.reports[self.latest].is_some() {
            self.latest = (self.latest + 1) % REPORTS;
        }
        self.reports[self.latest] = Some(Report { rtp, rtp32, ntp_ns });
        self.stats.deviation_ppm = self.measured_rate().map(|(ticks, ns)| {
            (ticks as f64 * 1e9 / ns as f64 / f64::from(self.clock_rate) - 1.0) * 1e6
        });
        jumped
    }

    /// The exact NTP time of the access unit at `rtp32` (ONVIF replay extension).
    pub fn on_exact(&mut self, rtp32: u32, ntp: u64) {
        // An extension left unfilled carries no time.
        if ntp == 0 {
            return;
        }
        let ntp_ns = ntp_to_ns(ntp);
        let newest = (self.next_exact + EXACT - 1) % EXACT;
        if self.exact[newest].is_some_and(|(r, _)| r == rtp32) {
            return; // Every packet of the access unit may carry it.
        }
        self.exact[self.next_exact] = Some((rtp32, ntp_ns));
        self.next_exact = (self.next_exact + 1) % EXACT;
    }

    /// The camera's NTP time (ns since 1900) of the frame at RTP time `rtp32`, once known.
    pub fn ntp_of(&self, rtp32: u32) -> Option<u64> {
        // Newest first: a server that repeats an RTP time means its latest frame.
        let newest_first = (1..=EXACT).map(|back| (self.next_exact + EXACT - back) % EXACT);
        let exact = newest_first.map_while(|i| self.exact[i]);
        if let Some((_, ns)) = exact.into_iter().find(|(r, _)| *r == rtp32) {
            return Some(ns);
        }
        let at = match self.reports[self.latest] {
            Some(latest) => self.extrapolate(&latest, rtp32),
            None => {
                // Only ONVIF times: from the newest one at the nominal rate.
                let newest = (self.next_exact + EXACT - 1) % EXACT;
                let (r, ns) = self.exact[newest]?;
                let ticks = i128::from(rtp32.wrapping_sub(r) as i32);
                i128::from(ns) + ticks * NS / i128::from(self.clock_rate)
            }
        };
        Some(at.clamp(0, i128::from(u64::MAX)) as u64)
    }

    /// NTP time at `rtp32` from report `from`, at the measured rate.
    fn extrapolate(&self, from: &Report, rtp32: u32) -> i128 {
        let ticks = i128::from(rtp32.wrapping_sub(from.rtp32) as i32);
        let (per_ticks, ns) = self
            .measured_rate()
            .unwrap_or((i128::from(self.clock_rate), NS));
        i128::from(from.ntp_ns) + ticks * ns / per_ticks
    }

    /// (RTP ticks, ns) between the oldest and the latest report, when at least `MIN_SPAN_NS` apart and
    /// believable.
    fn measured_rate(&self) -> Option<(i128, i128)> {
        let latest = self.reports[self.latest]?;
        let oldest = (1..=REPORTS)
            .map(|i| (self.latest + i) % REPORTS)
            .find_map(|i| self.reports[i])?;
        let ticks = i128::from(latest.rtp - oldest.rtp);
        let ns = i128::from(latest.ntp_ns) - i128::from(oldest.ntp_ns);
        if ns < MIN_SPAN_NS || ticks <= 0 {
            return None;
        }
        let nominal = i128::from(self.clock_rate) * ns / NS;
        ((ticks - nominal).abs() * 1_000_000 <= nominal * MAX_DEVIATION_PPM).then_some((ticks, ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ns_and_ntp_convert_both_ways() {
        let ns = 3_990_000_000 * S + 250_000_000;
        assert_eq!(ns_to_ntp(ns), (3_990_000_000u64 << 32) | (1 << 30));
        assert!(ntp_to_ns(ns_to_ntp(ns)).abs_diff(ns) <= 1);
    }

    const S: u64 = 1_000_000_000;

    /// NTP 32.32 of `ns` since 1900.
    fn ntp(ns: u64) -> u64 {
        ((ns / S) << 32) | (((ns % S) << 32) / S)
    }

    /// A camera whose NTP clock starts at `ntp0` ns and whose 90 kHz RTP clock runs `ppm` off: the RTP
    /// time of camera time `t` (ns since start).
    fn rtp_at(t: u64, ppm: i64, rtp0: u32) -> u32 {
        let ticks = i128::from(t) * 90_000 * (1_000_000 + i128::from(ppm)) / 1_000_000 / NS;
        rtp0.wrapping_add(ticks as u32)
    }

    /// Sends reports every 5 s for `secs` seconds and checks every 30 fps frame's time in between.
    fn worst_error_ns(secs: u64, ppm: i64) -> i128 {
        let ntp0 = 3_900_000_000 * S;
        let rtp0 = 4_000_000_000; // wraps within the first minute
        let mut w = WallClock::new(90_000);
        let mut worst = 0;
        for frame in 0..secs * 30 {
            let t = frame * S / 30;
            if t % (5 * S) < S / 30 {
                assert!(!w.on_sender_report(rtp_at(t, ppm, rtp0), ntp(ntp0 + t)));
            }
            let got = w.ntp_of(rtp_at(t, ppm, rtp0)).unwrap();
            // RTP ticks are 11 µs: the truth is the tick's own time.
            let err = (i128::from(got) - i128::from(ntp0 + t)).abs();
            if t > 10 * S {
                worst = worst.max(err);
            }
        }
        worst
    }

    #[test]
    fn frames_between_reports_follow_the_measured_clock() {
        for (ppm, bound_us) in [(0, 100), (500, 100), (-2000, 500)] {
            let worst = worst_error_ns(3600, ppm);
            assert!(
                worst <= bound_us * 1000,
                "{ppm} ppm: {} µs",
                worst as f64 / 1e3
            );
        }
    }

    #[test]
    fn measures_the_camera_clock_deviation() {
        let mut w = WallClock::new(90_000);
        for i in 0..13u64 {
            w.on_sender_report(rtp_at(i * 5 * S, 500, 7), ntp(i * 5 * S + S));
        }
        let ppm = w.stats.deviation_ppm.unwrap();
        assert!((ppm - 500.0).abs() < 1.0, "{ppm}");
        assert_eq!(w.stats.sender_reports, 13);
    }

    #[test]
    fn reports_a_little_under_a_second_apart_measure_the_clock() {
        // A camera reporting "every second" whose second report went out 2 ms early.
        let mut w = WallClock::new(90_000);
        w.on_sender_report(rtp_at(2 * S / 1000, 500, 7), ntp(S + 2 * S / 1000));
        w.on_sender_report(rtp_at(S, 500, 7), ntp(2 * S));
        let ppm = w.stats.deviation_ppm.expect("measured");
        assert!((ppm - 500.0).abs() < 15.0, "{ppm}");
        // 200 ms after the report, at the measured rate rather than the nominal one (100 µs off).
        let at = w.ntp_of(rtp_at(S + S / 5, 500, 7)).unwrap();
        assert!(at.abs_diff(2 * S + S / 5) < 10_000, "{at}");
    }

    #[test]
    fn nothing_before_the_first_report() {
        let w = WallClock::new(90_000);
        assert_eq!(w.ntp_of(1234), None);
    }

    #[test]
    fn a_jump_starts_a_new_mapping() {
        let mut w = WallClock::new(90_000);
        assert!(!w.on_sender_report(0, ntp(100 * S)));
        assert!(!w.on_sender_report(450_000, ntp(105 * S)));
        // The camera's NTP client steps its clock an hour forward.
        assert!(w.on_sender_report(900_000, ntp(3710 * S)));
        assert_eq!(w.ntp_of(903_000), Some(3710 * S + 33_333_333));
        assert_eq!(w.stats.jumps, 1);
        // Half a second off is jitter, not a jump.
        assert!(!w.on_sender_report(1_350_000, ntp(3715 * S + S / 2)));
    }

    #[test]
    fn a_late_report_changes_nothing() {
        let mut w = WallClock::new(90_000);
        w.on_sender_report(450_000, ntp(105 * S));
        w.on_sender_report(900_000, ntp(110 * S));
        let before = w.ntp_of(930_000);
        assert!(!w.on_sender_report(0, ntp(100 * S)));
        assert_eq!(w.ntp_of(930_000), before);
    }

    #[test]
    fn onvif_times_are_exact() {
        let mut w = WallClock::new(90_000);
        w.on_exact(3000, ntp(50 * S + 7));
        w.on_exact(3000, ntp(60 * S));
        assert_eq!(w.ntp_of(3000), Some(50 * S + 6)); // 32.32 rounds down a nanosecond
                                                      // A frame without one: from the newest at the nominal rate.
        assert_eq!(w.ntp_of(6000), Some(50 * S + 6 + 33_333_333));
        // With reports too, a frame with its own time keeps it.
        w.on_sender_report(0, ntp(40 * S));
        assert_eq!(w.ntp_of(3000), Some(50 * S + 6));
        assert_eq!(w.ntp_of(9000), Some(40 * S + 100_000_000));
    }

    #[test]
    fn a_burst_of_a_gop_keeps_every_frame_s_time() {
        // gst-rtsp-server playing backwards: a GOP's 30 pictures read at once, RTP running backwards.
        let mut w = WallClock::new(90_000);
        for i in 0..30u32 {
            w.on_exact(900_000 - i * 3000, ntp(9 * S + u64::from(i) * S / 30));
        }
        for i in 0..30u32 {
            let want = 9 * S + u64::from(i) * S / 30;
            let got = w.ntp_of(900_000 - i * 3000).unwrap();
            assert!(got.abs_diff(want) <= 1, "{i}: {got}");
        }
        // A repeated RTP time is the latest frame's.
        w.on_exact(900_000, ntp(20 * S));
        assert!(w.ntp_of(900_000).unwrap().abs_diff(20 * S) <= 1);
    }

    #[test]
    fn extreme_inputs_do_not_overflow() {
        let mut w = WallClock::new(0);
        for (r, n) in [(0, 0), (u32::MAX, u64::MAX), (1, 0), (0, u64::MAX), (7, 1)] {
            w.on_sender_report(r, n);
            w.on_exact(r, n);
            w.ntp_of(r.wrapping_add(1 << 31));
        }
        assert_eq!(ntp_to_ns(u64::MAX) / S, u64::from(u32::MAX));
    }
}

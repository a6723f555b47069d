//! What a PLAY asks of a camera's or NVR's recordings (ONVIF Streaming Specification §6, "Replay"): the
//! headers that follow `Require: onvif-replay`. `Range: clock=` with absolute UTC times (ISO 8601 basic
//! form, RFC 2326 §3.7), `Scale` for fast and reverse playback, `Rate-Control: no` for data as fast as
//! the client reads, and `Frames:` for trick modes. Pure: the session sends them.

use std::fmt::Write;

/// The option tag of ONVIF replay.
pub const REPLAY_TAG: &str = "onvif-replay";

/// Which frames a trick-mode replay sends (`Frames:`, ONVIF Streaming §6.5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frames {
    /// Key frames only (`Frames: intra`), at most one per this many ms of recording when given
    /// (`Frames: intra/2000`: the seek's trick-mode interval, as rtspsrc sends it).
    Intra(Option<u32>),
    /// Key frames and forward-predicted ones, no B-frames (`Frames: predicted`).
    Predicted,
}

/// A replay position and how to play from it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Replay {
    /// Where to start, ns since 1900-01-01 UTC (rtspsrc's onvif-mode seek positions); `None`: where
    /// the camera is.
    pub start: Option<u64>,
    /// Where to stop, likewise; `None`: the end of the recording.
    pub end: Option<u64>,
    /// Playback speed; negative for reverse; 1.0 sends no `Scale`.
    pub scale: f64,
    /// `false`: `Rate-Control: no`, the camera sends as fast as we read.
    pub rate_control: bool,
    pub frames: Option<Frames>,
}

impl Replay {
    /// The PLAY headers, in the order the specification's examples give them.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = Vec::new();
        if self.start.is_some() || self.end.is_some() {
            let start = self.start.map(clock_time).unwrap_or_default();
            let end = self.end.map(clock_time).unwrap_or_default();
            headers.push(("Range", format!("clock={start}-{end}")));
        }
        if self.scale != 1.0 && self.scale.is_finite() && self.scale != 0.0 {
            headers.push(("Scale", format_scale(self.scale)));
        }
        if !self.rate_control {
            headers.push(("Rate-Control", "no".to_string()));
        }
        match self.frames {
            Some(Frames::Intra(None)) => headers.push(("Frames", "intra".to_string())),
            Some(Frames::Intra(Some(ms))) => headers.push(("Frames", format!("intra/{ms}"))),
            Some(Frames::Predicted) => headers.push(("Frames", "predicted".to_string())),
            None => {}
        }
        headers
    }
}

/// `1.0`, `2.0`, `-1.0`, `0.5`: the shortest decimal that says it, with at least one fraction digit.
fn format_scale(scale: f64) -> String {
    let s = format!("{scale}");
    match s.contains('.') {
        true => s,
        false => format!("{s}.0"),
    }
}

/// Seconds from 1900-01-01 to 1970-01-01.
const NTP_UNIX_S: u64 = crate::rtp::wall_clock::NTP_UNIX_OFFSET_S;

/// `ns` since 1900 as RFC 2326's UTC clock time, `YYYYMMDDThhmmss.ffZ` (to the hundredth, as ONVIF's
/// examples). Times before 1970 are written as 1970-01-01.
pub fn clock_time(ns: u64) -> String {
    // From 1900 itself: recordings served with times from 0 (gst-rtsp-server's ONVIF media on a
    // file: its example client asks for `19000101T000000Z-`) are before the Unix epoch.
    let s = ns / 1_000_000_000;
    let hundredths = (ns % 1_000_000_000) / 10_000_000;
    let (days, secs) = (s / 86_400, s % 86_400);
    let (y, m, d) = civil_from_ntp_days(days);
    let mut out = String::with_capacity(20);
    let _ = write!(
        out,
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}.{hundredths:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    );
    out
}

/// The proleptic Gregorian date (year, month, day) `days` after 1970-01-01.
pub fn civil_from_days(days: u64) -> (u64, u64, u64) {
    civil(days + 719_468)
}

/// The date `days` after 1900-01-01, the NTP epoch, 25 567 days before the Unix one.
fn civil_from_ntp_days(days: u64) -> (u64, u64, u64) {
    civil(days + 719_468 - NTP_UNIX_S / 86_400)
}

/// The date `z` days after 0000-03-01 (H. Hinnant's `civil_from_days`, shifted to count from there).
fn civil(z: u64) -> (u64, u64, u64) {
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    /// ns since 1900 of a UTC time given as Unix seconds.
    fn ntp(unix_s: u64) -> u64 {
        (unix_s + NTP_UNIX_S) * S
    }

    #[test]
    fn clock_times_in_rfc_2326_form() {
        // 2026-12-06T10:15:00Z (the example) is Unix 1796552100.
        assert_eq!(clock_time(ntp(1_796_552_100)), "20261206T101500.00Z");
        assert_eq!(
            clock_time(ntp(1_796_552_100) + 250_000_000),
            "20261206T101500.25Z"
        );
        // Leap day, end of a century year, the Unix epoch.
        assert_eq!(clock_time(ntp(1_709_164_800)), "20240229T000000.00Z");
        assert_eq!(clock_time(ntp(978_307_199)), "20001231T235959.00Z");
        assert_eq!(clock_time(NTP_UNIX_S * S), "19700101T000000.00Z");
        // Before it: the NTP epoch itself, a recording's times from 0.
        assert_eq!(clock_time(0), "19000101T000000.00Z");
        assert_eq!(clock_time(8 * S + S / 2), "19000101T000008.50Z");
        assert_eq!(clock_time(59 * 86_400 * S), "19000301T000000.00Z"); // 1900 is no leap year
    }

    #[test]
    fn headers_of_a_replay() {
        let from = ntp(1_796_552_100);
        let r = Replay {
            start: Some(from),
            end: None,
            scale: 1.0,
            rate_control: true,
            frames: None,
        };
        assert_eq!(
            r.headers(),
            [("Range", "clock=20261206T101500.00Z-".to_string())]
        );
        let r = Replay {
            end: Some(from + 60 * S),
            scale: -2.0,
            rate_control: false,
            frames: Some(Frames::Intra(None)),
            ..r
        };
        assert_eq!(
            r.headers(),
            [
                (
                    "Range",
                    "clock=20261206T101500.00Z-20261206T101600.00Z".to_string()
                ),
                ("Scale", "-2.0".to_string()),
                ("Rate-Control", "no".to_string()),
                ("Frames", "intra".to_string()),
            ]
        );
        // A keyframe every 2 s of recording.
        let every = Replay {
            frames: Some(Frames::Intra(Some(2000))),
            ..r
        };
        assert_eq!(every.headers()[3], ("Frames", "intra/2000".to_string()));
        // Where the camera is, at half speed, every predicted frame.
        let r = Replay {
            start: None,
            end: None,
            scale: 0.5,
            rate_control: true,
            frames: Some(Frames::Predicted),
        };
        assert_eq!(
            r.headers(),
            [
                ("Scale", "0.5".to_string()),
                ("Frames", "predicted".to_string())
            ]
        );
        // A scale of 0 or not a number says nothing.
        let r = Replay {
            scale: f64::NAN,
            frames: None,
            ..r
        };
        assert!(r.headers().is_empty());
    }
}

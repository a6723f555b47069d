//! `ntp-sync`: a frame's PTS from the camera's NTP capture time. The camera's NTP time goes to this
//! host's real-time clock (both count from fixed epochs, so a camera synchronised to the same NTP servers
//! agrees with it to a few ms), then to the pipeline's running time through one instant read on both
//! clocks. Two elements in one pipeline do the same arithmetic, so frames captured at the same instant
//! by two cameras get the same PTS, whatever their RTP clocks.

use crate::rtp::wall_clock::NTP_UNIX_OFFSET_S;

/// A camera clock this far from ours is not synchronised: its NTP times are not used for PTS.
pub const MAX_CLOCK_OFFSET_NS: i128 = 3_000_000_000;

/// The running time at which a frame captured at `ntp_ns` (ns since 1900, the camera's clock) was
/// captured, given that `unix_now_ns` (this host's real-time clock) and `now_rt` (running time) are the
/// same instant. `Err(age)`: by our clock the frame is `age` ns old, further from now than a
/// synchronised camera can be.
pub fn capture_running_time(ntp_ns: u64, unix_now_ns: u64, now_rt: u64) -> Result<u64, i128> {
    let captured_unix = i128::from(ntp_ns) - i128::from(NTP_UNIX_OFFSET_S) * 1_000_000_000;
    let age = i128::from(unix_now_ns) - captured_unix;
    if age.abs() > MAX_CLOCK_OFFSET_NS {
        return Err(age);
    }
    Ok((i128::from(now_rt) - age).clamp(0, i128::from(u64::MAX)) as u64)
}

/// The latency `ntp-sync` adds: how far PTS are behind arrival, rounded up to 5 ms steps so that jitter
/// does not post a latency message per frame. Only grows.
#[derive(Debug, Default)]
pub struct SyncDelay {
    ns: u64,
}

const STEP_NS: u64 = 5_000_000;

impl SyncDelay {
    /// Takes a frame that arrived at `arrival` with PTS basis `captured` (running time); returns true
    /// when the latency grew.
    pub fn observe(&mut self, captured: u64, arrival: u64) -> bool {
        let behind = arrival.saturating_sub(captured);
        let rounded = behind.div_ceil(STEP_NS).saturating_mul(STEP_NS);
        if rounded > self.ns {
            self.ns = rounded;
            return true;
        }
        false
    }

    pub fn ns(&self) -> u64 {
        self.ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;
    const MS: u64 = 1_000_000;

    #[test]
    fn maps_capture_time_through_the_real_time_clock() {
        let unix_now = 1_790_000_000 * S;
        let ntp_now = unix_now + NTP_UNIX_OFFSET_S * S;
        // Captured 40 ms ago by a synchronised camera.
        assert_eq!(
            capture_running_time(ntp_now - 40 * MS, unix_now, 10 * S),
            Ok(10 * S - 40 * MS)
        );
        // Two cameras, the same capture instant, read at different moments: the same running time.
        let a = capture_running_time(ntp_now, unix_now + 3 * MS, 10 * S + 3 * MS);
        let b = capture_running_time(ntp_now, unix_now + 9 * MS, 10 * S + 9 * MS);
        assert_eq!(a, b);
        // A camera an hour off is not synchronised.
        assert!(capture_running_time(ntp_now - 3600 * S, unix_now, 10 * S).is_err());
        assert!(capture_running_time(0, u64::MAX, 0).is_err());
        assert_eq!(capture_running_time(ntp_now, unix_now, 0), Ok(0));
    }

    #[test]
    fn latency_grows_in_steps() {
        let mut d = SyncDelay::default();
        assert!(d.observe(100 * MS, 101 * MS));
        assert_eq!(d.ns(), 5 * MS);
        assert!(!d.observe(200 * MS, 203 * MS));
        assert!(d.observe(300 * MS, 312 * MS));
        assert_eq!(d.ns(), 15 * MS);
        assert!(
            !d.observe(400 * MS, 390 * MS),
            "ahead of arrival adds nothing"
        );
    }
}

//! The supervisor's wall-clock steps: the running time each frame's PTS follows (its arrival, or
//! with `ntp-sync` its capture by the camera's clock), where lip-sync puts a side frame against the
//! video, and the warnings when the camera's clock jumps or is too far from ours.

use super::{Notice, Supervisor};
use crate::element::lip_sync::SideBasis;
use crate::element::ntp_sync::capture_running_time;
use std::time::{Instant, SystemTime};

impl Supervisor {
    /// The running time a frame's PTS follows: when it completed, or with ntp-sync its capture time
    /// (`ntp`), so that the same monotonic (for video B-frame-aware) PTS line up across cameras.
    pub(super) fn basis(
        &mut self,
        ntp: Option<u64>,
        completed: Instant,
        running_time: &impl Fn() -> Option<u64>,
        notify: &impl Fn(Notice),
    ) -> u64 {
        let now_rt = running_time().unwrap_or(0);
        let waited = Instant::now().duration_since(completed).as_nanos() as u64;
        let arrival = now_rt.saturating_sub(waited);
        match ntp.filter(|_| self.wall_time.ntp_sync) {
            Some(ntp) => self.capture_time(ntp, now_rt, arrival, notify),
            None => arrival,
        }
    }

    /// Where a side frame captured at `ntp` that arrived at `arrival` goes against the video (`None`:
    /// nowhere, captured before the start); a frame that goes out later than it came makes the
    /// element's latency grow.
    pub(super) fn lip_synced(
        &mut self,
        ntp: u64,
        arrival: u64,
        notify: &impl Fn(Notice),
    ) -> Option<u64> {
        Some(match self.lip_sync.side(ntp, arrival) {
            SideBasis::Synced(at) => {
                self.sync_delay.observe(at, arrival);
                at
            }
            SideBasis::BeforeStart => {
                crate::log!(
                    self.cfg.log,
                    Debug,
                    "dropping a side frame captured before the pipeline started"
                );
                return None;
            }
            SideBasis::Unknown => arrival,
            SideBasis::TooFar(off) => {
                if !std::mem::replace(&mut self.warned_lip_sync, true) {
                    notify(Notice::Warning(format!(
                        "the camera's sender reports put its audio {:.1} s away from its video: \
                         audio and metadata follow their arrival instead",
                        off as f64 / 1e9
                    )));
                }
                arrival
            }
        })
    }

    /// Said once per element: the camera's sender reports jumped.
    pub(super) fn warn_clock_jump(&mut self, notify: &impl Fn(Notice)) {
        let client = self.client.as_ref().expect("a client produced this");
        if client.wall_clock_stats().jumps > 0
            && !std::mem::replace(&mut self.warned_ntp_jump, true)
        {
            notify(Notice::Warning(
                "the camera's clock jumped (its RTCP sender reports moved by more than a second): \
                 wall-clock times follow its new time"
                    .into(),
            ));
        }
    }

    /// `ntp-sync`: the running time of a frame's capture by the camera's clock, or its arrival when
    /// that clock is not synchronised with ours (warned once).
    fn capture_time(
        &mut self,
        ntp: u64,
        now_rt: u64,
        arrival: u64,
        notify: &impl Fn(Notice),
    ) -> u64 {
        let unix_now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        match capture_running_time(ntp, unix_now, now_rt) {
            Ok(captured) => {
                self.sync_delay.observe(captured, arrival);
                captured
            }
            Err(age) => {
                if !std::mem::replace(&mut self.warned_clock_off, true) {
                    notify(Notice::Warning(format!(
                        "ntp-sync: the camera's clock is {:.1} s away from this host's; \
                         timestamps follow arrival instead (synchronise both clocks with NTP)",
                        age as f64 / 1e9
                    )));
                }
                arrival
            }
        }
    }
}

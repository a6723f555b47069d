//! What a receiver adds to each frame's latency: from when the fake camera sent the frame's last packet
//! (`Script::log_frames`) to when the frame's buffer left the receiver. Buffers are paired with frames by
//! the camera's own time of each frame (`Script::onvif_ntp`, which rustrtspsrc puts on the buffer as a
//! reference timestamp meta), so frames the receiver dropped or merged cannot shift the pairing.

use std::collections::BTreeMap;
use std::time::Instant;

/// Latencies in ms of the `pushed` buffers (when each left, its `timestamp/x-ntp` meta) that pair with a
/// frame in `sent` (the camera's `Shared::frames`); `ntp0` is the camera's time of its first frame.
pub fn by_camera_time(
    sent: &[(u32, Instant, bool)],
    pushed: impl IntoIterator<Item = (Instant, Option<u64>)>,
    ntp0: u64,
) -> Vec<f64> {
    let by_ts: BTreeMap<u32, Instant> = sent.iter().map(|&(ts, t, _)| (ts, t)).collect();
    pushed
        .into_iter()
        .filter_map(|(t, ntp)| {
            let ts = (ntp?.checked_sub(ntp0)? as u128 * 90_000 / 1_000_000_000) as u32;
            let (_, sent_at) = by_ts
                .range(ts.saturating_sub(1500)..ts.saturating_add(1500))
                .next()?;
            Some(t.saturating_duration_since(*sent_at).as_secs_f64() * 1000.0)
        })
        .collect()
}

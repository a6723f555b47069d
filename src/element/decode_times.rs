//! Decode timestamps for streams with B-frames. Pictures arrive in decode order; their PTS (from the RTP
//! clock) go back where a B-frame is displayed before the reference that came first. Muxers need a DTS
//! that never goes back and is never later than the PTS, so for such streams the PTS move later by the
//! reorder depth (from the SPS when the encoder wrote it, else as far back as PTS have been seen to go).
//! A reference picture (one whose PTS is the latest yet) is decoded the reorder depth before its own
//! PTS (and at least a quarter frame after the picture before it); the B-frames after it a frame apart. That is the ideal grid for any B-frame pattern, anchored
//! anew at every reference, so the slow PTS correction of `timing` cannot make it drift past a PTS.
//! Streams without B-frames keep their PTS and carry no DTS, as before.

#[derive(Debug, Default)]
pub struct DecodeTimes {
    /// Duration of one frame (ns): from the SPS timing, else the smallest forward step seen.
    frame: Option<u64>,
    frame_from_sps: bool,
    /// How much later PTS go out (ns): the reorder depth. 0: no B-frames seen or announced.
    reorder: u64,
    last_pts: Option<u64>,
    max_pts: Option<u64>,
    last_dts: Option<u64>,
}

impl DecodeTimes {
    /// How much later PTS go out (ns).
    pub fn reorder(&self) -> u64 {
        self.reorder
    }

    /// A new session: timestamps start over, what is known of the stream stays.
    pub fn restart(&mut self) {
        self.last_pts = None;
        self.max_pts = None;
    }

    /// What the SPS says: frames that may be reordered, and the frame duration (ns).
    pub fn configure(&mut self, reorder_frames: Option<u32>, frame: Option<u64>) {
        if let Some(f) = frame.filter(|&f| f > 0) {
            self.frame = Some(f);
            self.frame_from_sps = true;
        }
        if let (Some(k), Some(f)) = (reorder_frames, self.frame) {
            self.reorder = self.reorder.max(u64::from(k).saturating_mul(f));
        }
    }

    /// (PTS, DTS) for the next picture in decode order, whose PTS from the RTP clock is `pts`.
    pub fn stamp(&mut self, pts: u64) -> (u64, Option<u64>) {
        let reference = self.max_pts.is_none_or(|m| pts >= m);
        if let Some(last) = self.last_pts.filter(|&l| pts > l && !self.frame_from_sps) {
            let step = pts - last;
            self.frame = Some(self.frame.map_or(step, |f| f.min(step)));
        }
        if let Some(max) = self.max_pts.filter(|&m| pts < m) {
            self.reorder = self.reorder.max(max - pts);
        }
        self.max_pts = Some(self.max_pts.map_or(pts, |m| m.max(pts)));
        self.last_pts = Some(pts);
        if self.reorder == 0 {
            return (pts, None);
        }
        let out = pts.saturating_add(self.reorder);
        let frame = self.frame.unwrap_or(self.reorder);
        let target = match self.last_dts {
            Some(last) if !reference => last.saturating_add(frame),
            // A quarter frame at least after the last: a short run of B-frames before a reference
            // (x264 ends a GOP with P B I) must not give two pictures one DTS once a muxer rounds it.
            Some(last) => pts
                .saturating_sub(self.reorder)
                .max(last.saturating_add(frame / 4)),
            None => pts.saturating_sub(self.reorder),
        };
        let dts = target
            .min(out)
            .max(self.last_dts.map_or(0, |d| d.saturating_add(1)));
        self.last_dts = Some(dts);
        (out, Some(dts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: u64 = 33_333_333;

    #[test]
    fn b_frames_get_a_dts_grid_and_later_pts() {
        let mut t = DecodeTimes::default();
        t.configure(Some(2), Some(F));
        // Decode order I0 P3 B1 B2 P6 B4 B5 (presentation frame numbers).
        let out: Vec<(u64, u64)> = [0u64, 3, 1, 2, 6, 4, 5]
            .iter()
            .map(|&p| {
                let (pts, dts) = t.stamp(p * F);
                (pts, dts.unwrap())
            })
            .collect();
        for (i, &(pts, dts)) in out.iter().enumerate() {
            assert_eq!(dts, i as u64 * F, "DTS on the grid");
            assert!(dts <= pts, "DTS after PTS at {i}");
        }
        let mut shown: Vec<u64> = out.iter().map(|o| o.0).collect();
        shown.sort();
        assert!(shown.windows(2).all(|w| w[1] > w[0]), "every PTS distinct");
    }

    #[test]
    fn b_pyramid_and_slewed_pts_keep_dts_before_pts() {
        // I0 P4 B2 b1 b3 (pyramid), PTS running 4 % slow as the timing correction may make them.
        let mut t = DecodeTimes::default();
        t.configure(Some(3), Some(F));
        let mut last = 0;
        for gop in 0..20u64 {
            for p in [0u64, 4, 2, 1, 3] {
                let pts = (gop * 4 + p) * F * 104 / 100;
                let (out, dts) = t.stamp(pts);
                let dts = dts.unwrap();
                assert!(dts <= out && (dts > last || last == 0), "{gop} {p}");
                last = dts;
            }
        }
    }

    #[test]
    fn a_short_run_of_b_frames_before_a_keyframe() {
        // x264 with key-int 30: … P27 B25 B26 P29 B28 I30 P33 B31 B32.
        let mut t = DecodeTimes::default();
        t.configure(Some(2), Some(F));
        let mut last = None;
        for p in [0u64, 3, 1, 2, 27, 25, 26, 29, 28, 30, 33, 31, 32] {
            let (out, dts) = t.stamp(p * F);
            let dts = dts.unwrap();
            assert!(dts <= out, "{p}");
            assert!(
                last.is_none_or(|l: u64| dts >= l + F / 4),
                "{p}: {dts} after {last:?}"
            );
            last = Some(dts);
        }
    }

    #[test]
    fn without_b_frames_nothing_changes() {
        let mut t = DecodeTimes::default();
        for i in 0..100u64 {
            assert_eq!(t.stamp(i * F), (i * F, None));
        }
    }

    #[test]
    fn reordering_is_learned_when_the_sps_does_not_say() {
        let mut t = DecodeTimes::default();
        t.stamp(0);
        t.stamp(3 * F);
        let (pts, dts) = t.stamp(F);
        assert_eq!(pts, 3 * F);
        assert!(dts.unwrap() <= pts);
    }
}

//! PTS for a recording played backwards (ONVIF replay, negative Scale). The server sends the GOPs
//! last to first, each in decoding order from its keyframe, and may stamp RTP from its pipeline's
//! running time, which runs backwards within each GOP (gst-rtsp-server): the RTP clock says nothing
//! usable, the pictures' recording times (the 0xABAC extension) do. Each GOP goes out just after the
//! one before it, its pictures as far apart as they were recorded, over the speed: B-frames keep their
//! place, and a player shows each GOP forwards, GOP after GOP back through the recording.

/// The GOPs so far of one reverse replay.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReverseGops {
    /// The GOP being output: its keyframe's recording time (ns) and PTS.
    gop: Option<(u64, u64)>,
    /// The highest PTS given, and the last picture's recording time.
    max_pts: u64,
    last_ntp: u64,
    /// The shortest recording time between two successive pictures of a GOP, over the speed: how far
    /// after the previous GOP the next one starts. Unknown with keyframes only.
    step: Option<u64>,
}

impl ReverseGops {
    /// The PTS of a picture recorded at `ntp` (ns), a `keyframe` or not, played at `speed` (the
    /// Scale's magnitude); the first picture gets `start`.
    pub fn pts(&mut self, ntp: u64, keyframe: bool, speed: f64, start: u64) -> u64 {
        let speed = speed.max(1e-3);
        let scaled = |ns: u64| (ns as f64 / speed) as u64;
        let pts = match self.gop {
            None => {
                self.gop = Some((ntp, start));
                start
            }
            // A picture from before its GOP's keyframe belongs to an earlier GOP whose keyframe did
            // not come (a server dropping late pictures): it starts that GOP here.
            Some((gop_ntp, gop_pts)) if !keyframe && ntp >= gop_ntp => {
                if let Some(d) = ntp.checked_sub(self.last_ntp).filter(|&d| d > 0) {
                    self.step = Some(self.step.map_or(scaled(d), |s| s.min(scaled(d))));
                }
                gop_pts.saturating_add(scaled(ntp.saturating_sub(gop_ntp)))
            }
            Some((gop_ntp, _)) => {
                // A new GOP: with keyframes only, each stands for the recording up to the one before.
                let step = self.step.unwrap_or_else(|| scaled(gop_ntp.abs_diff(ntp)));
                let pts = self.max_pts.saturating_add(step.max(1));
                self.gop = Some((ntp, pts));
                pts
            }
        };
        self.last_ntp = ntp;
        self.max_pts = self.max_pts.max(pts);
        pts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;
    const FRAME: u64 = S / 30;

    /// PTS of pictures `(recording time, keyframe)` from `start`, at `speed`.
    fn run(pictures: &[(u64, bool)], speed: f64, start: u64) -> Vec<u64> {
        let mut r = ReverseGops::default();
        pictures
            .iter()
            .map(|&(ntp, key)| r.pts(ntp, key, speed, start))
            .collect()
    }

    #[test]
    fn gops_follow_each_other_a_frame_apart() {
        // The GOP at 9 s, then the one at 8 s, three pictures each.
        let gop = |at: u64| [(at, true), (at + FRAME, false), (at + 2 * FRAME, false)];
        let pictures: Vec<_> = gop(9 * S).into_iter().chain(gop(8 * S)).collect();
        let expected: Vec<u64> = (0..6).map(|i| 5 + i * FRAME).collect();
        assert_eq!(run(&pictures, 1.0, 5), expected);
        // At -2, half as far apart.
        let half = run(&pictures, 2.0, 5);
        for (i, pts) in half.iter().enumerate() {
            assert!(pts.abs_diff(5 + i as u64 * FRAME / 2) <= 2, "{half:?}");
        }
    }

    #[test]
    fn b_frames_keep_their_place() {
        // Decoding order I0 P3 B1 B2 of a GOP at 4 s, then the GOP at 3 s.
        let at = |f: u64| 4 * S + f * FRAME;
        let pictures = [
            (at(0), true),
            (at(3), false),
            (at(1), false),
            (at(2), false),
            (3 * S, true),
            (3 * S + FRAME, false),
        ];
        let pts = run(&pictures, 1.0, 0);
        assert_eq!(&pts[..4], &[0, 3 * FRAME, FRAME, 2 * FRAME]);
        // The next GOP a frame after the last picture shown.
        assert_eq!(&pts[4..], &[4 * FRAME, 5 * FRAME]);
    }

    #[test]
    fn a_gop_whose_keyframe_was_lost_starts_where_its_pictures_do() {
        let pictures = [
            (9 * S, true),
            (9 * S + FRAME, false),
            (8 * S + FRAME, false),
            (8 * S + 2 * FRAME, false),
        ];
        assert_eq!(run(&pictures, 1.0, 0), [0, FRAME, 2 * FRAME, 3 * FRAME]);
    }

    #[test]
    fn keyframes_only_stand_for_the_recording_between_them() {
        let pts = run(&[(5 * S, true), (4 * S, true), (3 * S, true)], 1.0, 7);
        assert_eq!(pts, [7, 7 + S, 7 + 2 * S]);
    }

    #[test]
    fn extreme_inputs_do_not_overflow() {
        let mut r = ReverseGops::default();
        for (ntp, key) in [
            (u64::MAX, true),
            (0, false),
            (u64::MAX, false),
            (0, true),
            (1, true),
        ] {
            r.pts(ntp, key, 0.0, u64::MAX);
        }
    }
}

//! A recording played backwards (ONVIF replay, negative Scale) as GStreamer plays backwards: the
//! server sends the GOPs last to first, each forwards from its keyframe in decoding order; the
//! element pushes them so under a segment with the negative rate, DISCONT on each GOP's first
//! picture (the "reverse fragment" parsers and decoders gather, decode, then show last picture
//! first). A picture's PTS is its recording time (the 0xABAC extension; gst-rtsp-server stamps RTP
//! from its running time, which runs backwards within each GOP: RTP says nothing usable), so its
//! stream time is its place in the recording and the segment gives its running time: base + (stop -
//! PTS) / speed, from the position asked (stop) and the running time the first picture came at
//! (base).

/// The latest running time a reverse replay reaches (292 years: GStreamer's signed time differences).
const MAX_RUNNING: u64 = i64::MAX as u64;

/// The segment of one reverse replay, fixed by its first picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReverseSegment {
    /// Where playback starts in the recording (ns since 1900): the position asked, else the first
    /// picture's time.
    pub stop: u64,
    /// The running time the first picture came at.
    pub base: u64,
}

/// One picture of a reverse replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReversePicture {
    pub pts: u64,
    /// It starts a GOP: DISCONT.
    pub new_gop: bool,
    /// The segment, with the first picture.
    pub segment: Option<ReverseSegment>,
    /// Its running time under the segment.
    pub running: u64,
}

/// The GOPs so far of one reverse replay.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReverseGops {
    segment: Option<ReverseSegment>,
    /// The GOP being output: its first picture's recording time, and its latest picture's.
    gop: Option<(u64, u64)>,
    /// The widest GOP that ended so far, first to latest picture (recording ns).
    widest: u64,
}

impl ReverseGops {
    /// Picture recorded at `ntp` (ns since 1900), a `keyframe` or not, played at `speed` (the
    /// Scale's magnitude) from `position` (the one asked, if any), arrived at running time
    /// `arrival`.
    pub fn picture(
        &mut self,
        ntp: u64,
        keyframe: bool,
        speed: f64,
        position: Option<u64>,
        arrival: u64,
    ) -> ReversePicture {
        let first = self.segment.is_none();
        let segment = *self.segment.get_or_insert(ReverseSegment {
            stop: position.unwrap_or(ntp),
            base: arrival,
        });
        // A picture from before its GOP's start belongs to an earlier GOP whose keyframe did not
        // come (a server dropping late pictures): it starts a fragment of its own too.
        let new_gop = match self.gop {
            None => true,
            Some((start, _)) => keyframe || ntp < start,
        };
        self.gop = Some(match self.gop {
            Some((start, latest)) if !new_gop => (start, latest.max(ntp)),
            // A GOP ends: its width counts now (once, not with each of its pictures: each change of
            // the latency is a message and a pipeline-wide query).
            Some((start, latest)) => {
                self.widest = self.widest.max(latest - start);
                (ntp, ntp)
            }
            None => (ntp, ntp),
        });
        let back = segment.stop.saturating_sub(ntp) as f64 / speed.max(1e-3);
        ReversePicture {
            pts: ntp,
            new_gop,
            segment: first.then_some(segment),
            // Within what a running time can be: a forward replay after this one goes on from it, and
            // a buffer time of u64::MAX is none (a tiny Scale far back would get there).
            running: segment.base.saturating_add(back as u64).min(MAX_RUNNING),
        }
    }

    /// How long a GOP is held before it can be shown, at `speed`: a decoder shows a GOP's latest
    /// picture first, once the next GOP starts; that much latency keeps a syncing sink from finding
    /// it late.
    pub fn latency(&self, speed: f64) -> u64 {
        (self.widest as f64 / speed.max(1e-3)) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;
    const FRAME: u64 = S / 30;

    fn run(gops: &mut ReverseGops, pictures: &[(u64, bool)], speed: f64) -> Vec<ReversePicture> {
        pictures
            .iter()
            .map(|&(ntp, key)| gops.picture(ntp, key, speed, Some(10 * S), 5 * S))
            .collect()
    }

    #[test]
    fn each_gop_a_fragment_on_the_recording_times() {
        // The GOP at 9 s, then the one at 8 s, three pictures each.
        let gop = |at: u64| [(at, true), (at + FRAME, false), (at + 2 * FRAME, false)];
        let pictures: Vec<_> = gop(9 * S).into_iter().chain(gop(8 * S)).collect();
        let mut gops = ReverseGops::default();
        let out = run(&mut gops, &pictures, 1.0);
        let pts: Vec<u64> = out.iter().map(|p| p.pts).collect();
        assert_eq!(pts, pictures.iter().map(|p| p.0).collect::<Vec<_>>());
        let starts: Vec<bool> = out.iter().map(|p| p.new_gop).collect();
        assert_eq!(starts, [true, false, false, true, false, false]);
        // The segment from the position asked and the first picture's arrival, with it alone.
        let segment = ReverseSegment {
            stop: 10 * S,
            base: 5 * S,
        };
        assert_eq!(out[0].segment, Some(segment));
        assert!(out[1..].iter().all(|p| p.segment.is_none()));
        // The running time: a second of recording back is a second later.
        assert_eq!(out[0].running, 6 * S);
        assert_eq!(out[3].running, 7 * S);
        // A GOP of three pictures is held two frames, counted once it ended.
        assert_eq!(gops.latency(1.0), 2 * FRAME);
        let mut first = ReverseGops::default();
        run(&mut first, &pictures[..3], 1.0);
        assert_eq!(first.latency(1.0), 0, "the GOP has not ended");
        assert_eq!(gops.latency(2.0), FRAME);
    }

    #[test]
    fn at_double_speed_half_the_running_time() {
        let mut gops = ReverseGops::default();
        let out = run(&mut gops, &[(9 * S, true), (8 * S, true)], 2.0);
        assert_eq!(out[0].running, 5 * S + S / 2);
        assert_eq!(out[1].running, 6 * S);
    }

    #[test]
    fn without_a_position_the_first_picture_is_where_it_starts() {
        let mut gops = ReverseGops::default();
        let p = gops.picture(7 * S, true, 1.0, None, 3);
        assert_eq!(
            p.segment,
            Some(ReverseSegment {
                stop: 7 * S,
                base: 3
            })
        );
        assert_eq!(p.running, 3);
    }

    #[test]
    fn b_frames_stay_in_their_gop() {
        // Decoding order I0 P3 B1 B2 of a GOP at 4 s, then the GOP at 3 s.
        let at = |f: u64| 4 * S + f * FRAME;
        let pictures = [
            (at(0), true),
            (at(3), false),
            (at(1), false),
            (at(2), false),
            (3 * S, true),
        ];
        let mut gops = ReverseGops::default();
        let out = run(&mut gops, &pictures, 1.0);
        let starts: Vec<bool> = out.iter().map(|p| p.new_gop).collect();
        assert_eq!(starts, [true, false, false, false, true]);
        assert_eq!(gops.latency(1.0), 3 * FRAME);
    }

    #[test]
    fn a_gop_whose_keyframe_was_lost_is_a_fragment_of_its_own() {
        let pictures = [
            (9 * S, true),
            (9 * S + FRAME, false),
            (8 * S + FRAME, false),
            (8 * S + 2 * FRAME, false),
        ];
        let mut gops = ReverseGops::default();
        let starts: Vec<bool> = run(&mut gops, &pictures, 1.0)
            .iter()
            .map(|p| p.new_gop)
            .collect();
        assert_eq!(starts, [true, false, true, false]);
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
            let p = r.picture(ntp, key, 0.0, Some(u64::MAX), u64::MAX);
            assert!(p.running <= MAX_RUNNING, "{p:?}");
        }
        r.latency(0.0);
    }
}

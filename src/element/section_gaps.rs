//! Holes in a replayed recording (ONVIF replay): where the recording stops and starts again later
//! (the extension's E, then D), the server's RTP clock jumps and so do the PTS. A muxer would stretch
//! the last picture before the hole across it; a GAP event covering the hole tells it that nothing
//! was recorded there. Pure: the supervisor asks, the element pushes the event.

/// Holes wider than this many picture intervals are announced.
const HOLE_INTERVALS: u64 = 2;

#[derive(Debug, Default)]
pub struct SectionGaps {
    /// The last picture's PTS, and the interval between pictures seen last.
    last: Option<u64>,
    interval: Option<u64>,
}

impl SectionGaps {
    /// A new position (a seek): its first picture follows no hole.
    pub fn restart(&mut self) {
        self.last = None;
    }

    /// Picture at `pts`, DISCONT (`new_section`) or not: the hole before it, as (start, duration),
    /// when it starts a new section after one.
    pub fn picture(&mut self, pts: u64, new_section: bool) -> Option<(u64, u64)> {
        let last = self.last.replace(pts)?;
        let step = pts.checked_sub(last)?;
        let interval = self.interval.unwrap_or(step);
        match new_section {
            false => {
                if step > 0 {
                    self.interval = Some(step);
                }
                None
            }
            true => {
                let end_of_last = last.saturating_add(interval);
                (interval > 0 && step > interval.saturating_mul(HOLE_INTERVALS))
                    .then(|| (end_of_last, pts - end_of_last))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn a_new_section_after_a_hole_gives_the_hole() {
        let mut g = SectionGaps::default();
        assert_eq!(
            g.picture(0, true),
            None,
            "the first picture follows nothing"
        );
        assert_eq!(g.picture(33 * MS, false), None);
        assert_eq!(g.picture(66 * MS, false), None);
        // A minute later, DISCONT: the hole from the end of the last picture.
        assert_eq!(g.picture(60_066 * MS, true), Some((99 * MS, 59_967 * MS)));
        // A DISCONT right after the last picture (a new section without a hole) gives none.
        assert_eq!(g.picture(60_099 * MS, true), None);
        // Nor a step back, nor the first picture after a seek.
        assert_eq!(g.picture(50 * MS, true), None);
        g.restart();
        assert_eq!(g.picture(90_000 * MS, true), None);
    }
}

//! What an SPS says that caps and timestamps need, whatever the codec.

#[derive(Debug, Clone, PartialEq)]
pub struct SpsInfo {
    /// `video/x-h264` or `video/x-h265`.
    pub media_type: &'static str,
    pub profile: &'static str,
    /// H.265's tier (`main` or `high`).
    pub tier: Option<&'static str>,
    pub level: String,
    /// After cropping (the conformance window).
    pub width: u32,
    pub height: u32,
    /// Frame rate from the VUI timing info, as a fraction.
    pub framerate: Option<(i32, i32)>,
    /// Frames that may come before one they are displayed after (B-frames), when the SPS says.
    pub reorder_frames: Option<u32>,
}

/// `a / b` reduced.
pub fn reduce(a: i32, b: i32) -> (i32, i32) {
    let (mut x, mut y) = (a, b);
    while y != 0 {
        (x, y) = (y, x % y);
    }
    if x == 0 {
        return (a, b);
    }
    (a / x, b / x)
}

//! RTP and RTCP, codec-neutral: packet parsing, receiver statistics and reports, the reorder window,
//! held packet bytes, keyframe requests and the camera's wall-clock time of each frame; and the sending
//! side (`sender`: the back channel's packets and sender reports).

pub mod held_bytes;
pub mod keyframe_request;
pub mod packet;
pub mod reorder;
pub mod rtcp;
pub mod sender;
pub mod wall_clock;

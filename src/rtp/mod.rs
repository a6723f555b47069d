//! RTP and RTCP: packet parsing, receiver statistics and reports, the reorder window,
//! and the camera's wall-clock time of each frame.

pub mod held_bytes;
pub mod inbound;
pub mod inbound_stats;
pub mod keyframe_request;
pub mod packet;
pub mod reorder;
pub mod rtcp;
pub mod wall_clock;

//! RTP and RTCP: packet parsing, receiver statistics and reports, and the reorder window.

pub mod inbound;
pub mod inbound_stats;
pub mod packet;
pub mod reorder;
pub mod rtcp;

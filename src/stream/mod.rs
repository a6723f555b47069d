//! One stream of a session, above the packets (`rtp/`) and the payloads (`au/`, `h264/`, `h265/`):
//! which codec an SDP media is and what it needs (`codec`, the one map from `rtpmap` to depacketizer),
//! what a chosen stream is (`spec`), which media to set up (`selection`), and the stream's inbound path
//! from packets to access units (`inbound`: strangers, reordering, SSRC changes, RTCP, the
//! depacketizer).

pub mod codec;
pub mod inbound;
pub mod inbound_stats;
pub mod selection;
pub mod spec;

pub use codec::Codec;
pub use spec::StreamSpec;

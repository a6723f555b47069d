//! H.264 over RTP (RFC 6184): what differs from H.265 — the depacketizer (single NAL, STAP-A, FU-A), NAL
//! types and ids (`nal`), `sprop-parameter-sets` and SPS → caps (`params`). Access-unit assembly is
//! codec-neutral, in `au/`.

pub mod depacketizer;
pub mod nal;
pub mod params;

//! H.265 over RTP (RFC 7798): what differs from H.264 — the depacketizer (single NAL units,
//! aggregation packets, fragmentation units, PACI, DONL/DOND), NAL types and ids (`nal`), `sprop-vps`,
//! `sprop-sps`, `sprop-pps` and SPS → caps (`params`). Access-unit assembly is codec-neutral, in `au/`.

pub mod depacketizer;
pub mod nal;
pub mod params;

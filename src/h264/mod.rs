//! H.264 over RTP (RFC 6184): depacketizer, access-unit assembly and parameter sets.

pub mod access_unit;
pub mod depacketizer;
pub mod params;

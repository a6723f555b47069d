//! What H.264 and H.265 share once packets are depacketized into NAL units: access-unit assembly
//! (`builder`), the parameter-set cache and the sets put in front of keyframes (`param_sets`), Annex-B
//! framing (`annexb`), the buffer an access unit's bytes are gathered in (`au_bytes`), the stream's ring of picture memory it
//! takes them from (`picture_ring`), the sizes it starts with (`size_class`) and the bit reader for the few header fields needed (`bits`). What differs per
//! codec — NAL header size, which types are slices, keyframes and parameter sets, where their ids are —
//! comes through `syntax::NalSyntax`, implemented in `h264/` and `h265/`.

pub mod annexb;
pub mod au_bytes;
pub mod bits;
pub mod builder;
pub mod depacketizer;
pub mod param_sets;
pub mod picture_ring;
pub mod size_class;
pub mod sps_info;
pub mod syntax;

pub use builder::{AccessUnit, AuBuilder, AuStats};
pub use depacketizer::{Depacketize, Depay, PayloadFormat};
pub use sps_info::SpsInfo;

/// At most 40 characters of `s`, for messages quoting what a camera sent.
pub fn cut(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

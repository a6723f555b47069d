//! What H.264 and H.265 share once packets are depacketized into NAL units: access-unit assembly
//! (`builder`), the parameter-set cache and the sets put in front of keyframes (`param_sets`), Annex-B
//! framing (`annexb`) and the bit reader for the few header fields needed (`bits`). What differs per
//! codec — NAL header size, which types are slices, keyframes and parameter sets, where their ids are —
//! comes through `syntax::NalSyntax`, implemented in `h264/` and `h265/`.

pub mod annexb;
pub mod bits;
pub mod builder;
pub mod depacketizer;
pub mod param_sets;
pub mod syntax;

pub use builder::{AccessUnit, AuBuilder, AuStats};
pub use depacketizer::{Depacketize, Depay, PayloadFormat};

//! The little a codec must tell the access-unit builder about its NAL units.

/// Kinds of parameter set, in the order they go in front of a keyframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ParamKind {
    Vps = 0,
    Sps = 1,
    Pps = 2,
}

/// What a NAL unit is, as far as access units are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nal {
    /// A slice (VCL NAL unit). `keyframe`: IDR (H.264) or IRAP (H.265). `first_in_picture`: the
    /// slice header says a new picture starts here, when the codec's header says so cheaply.
    Slice {
        keyframe: bool,
        first_in_picture: Option<bool>,
    },
    Param(ParamKind),
    /// Access unit delimiter: only ever first in an access unit.
    Aud,
    /// SEI; `recovery_point` when its first message is a recovery point (intra-refresh streams).
    Sei {
        recovery_point: bool,
    },
    Other,
}

pub trait NalSyntax: std::fmt::Debug {
    /// Bytes of the NAL unit header (1 for H.264, 2 for H.265).
    const HEADER_LEN: usize;
    /// Ids each kind may take (the spec's ranges), indexed by `ParamKind`; 0 for a kind the codec
    /// does not have.
    const MAX_IDS: [usize; 3];

    /// What `nal` (header included) is.
    fn classify(nal: &[u8]) -> Nal;
    /// A parameter set's id and the id of the set it refers to (PPS → SPS, SPS → VPS), from its first
    /// bits. `None` when they cannot be read.
    fn param_ids(kind: ParamKind, nal: &[u8]) -> Option<(u32, Option<u32>)>;
    /// The PPS id a slice refers to.
    fn slice_pps_id(nal: &[u8]) -> Option<u32>;
}

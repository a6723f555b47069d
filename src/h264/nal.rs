//! H.264 NAL units as the access-unit builder sees them (ITU-T H.264 §7.3): types, the parameter-set ids
//! a slice and a PPS refer to, and recovery-point SEI.

use crate::au::bits::Bits;
use crate::au::syntax::{Nal, NalSyntax, ParamKind};

pub const NAL_SLICE: u8 = 1;
pub const NAL_IDR: u8 = 5;
pub const NAL_SEI: u8 = 6;
pub const NAL_SPS: u8 = 7;
pub const NAL_PPS: u8 = 8;
pub const NAL_AUD: u8 = 9;
/// SEI payload type of a recovery point (intra-refresh streams' random access points).
const SEI_RECOVERY_POINT: u32 = 6;

#[derive(Debug)]
pub struct H264;

impl NalSyntax for H264 {
    const HEADER_LEN: usize = 1;
    /// No VPS; SPS ids 0–31, PPS ids 0–255.
    const MAX_IDS: [usize; 3] = [0, 32, 256];

    fn classify(nal: &[u8]) -> Nal {
        let Some(&header) = nal.first() else {
            return Nal::Other;
        };
        match header & 0x1f {
            t @ NAL_SLICE..=NAL_IDR => Nal::Slice {
                keyframe: t == NAL_IDR,
                first_in_picture: None,
            },
            NAL_SEI => Nal::Sei {
                recovery_point: sei_type(&nal[1..]) == Some(SEI_RECOVERY_POINT),
            },
            NAL_SPS => Nal::Param(ParamKind::Sps),
            NAL_PPS => Nal::Param(ParamKind::Pps),
            NAL_AUD => Nal::Aud,
            _ => Nal::Other,
        }
    }

    fn param_ids(kind: ParamKind, nal: &[u8]) -> Option<(u32, Option<u32>)> {
        let mut b = Bits::new(nal.get(1..)?);
        match kind {
            // profile_idc, constraint flags, level_idc, then seq_parameter_set_id.
            ParamKind::Sps => {
                b.skip(24)?;
                Some((b.ue()?, None))
            }
            ParamKind::Pps => {
                let pps = b.ue()?;
                Some((pps, Some(b.ue()?)))
            }
            ParamKind::Vps => None,
        }
    }

    fn slice_pps_id(nal: &[u8]) -> Option<u32> {
        // first_mb_in_slice, slice_type, pic_parameter_set_id.
        let mut b = Bits::new(nal.get(1..)?);
        b.ue()?;
        b.ue()?;
        b.ue()
    }
}

/// The payload type of the first message of an SEI payload (H.264 §7.3.2.3.1: 0xFF bytes add 255).
pub fn sei_type(payload: &[u8]) -> Option<u32> {
    let mut b = Bits::new(payload);
    let mut t = 0u32;
    loop {
        let byte = b.bits(8)?;
        t += byte;
        if byte != 0xff || t > 4096 {
            return Some(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_real_parameter_sets() {
        // x264's SPS (id 0) and PPS (id 0 → SPS 0); ids 1 and 3 written by hand:
        // PPS: ue(3)=00100, ue(1)=010 → 0010 0010 | 1...
        let sps = [0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00];
        assert_eq!(H264::param_ids(ParamKind::Sps, &sps), Some((0, None)));
        let pps = [0x68, 0xce, 0x3c, 0x80];
        assert_eq!(H264::param_ids(ParamKind::Pps, &pps), Some((0, Some(0))));
        assert_eq!(
            H264::param_ids(ParamKind::Pps, &[0x68, 0b0010_0010, 0x80]),
            Some((3, Some(1)))
        );
        // Slice: first_mb 0 (1), slice_type 7 (0001000), pps id 3 (00100).
        assert_eq!(
            H264::slice_pps_id(&[0x65, 0b1000_1000, 0b0010_0000]),
            Some(3)
        );
        assert_eq!(H264::slice_pps_id(&[0x65]), None);
    }

    #[test]
    fn kinds_and_recovery_points() {
        assert_eq!(
            H264::classify(&[0x65, 0x88]),
            Nal::Slice {
                keyframe: true,
                first_in_picture: None
            }
        );
        assert_eq!(H264::classify(&[0x09, 0x10]), Nal::Aud);
        // SEI: recovery_point (type 6), size 1.
        assert_eq!(
            H264::classify(&[0x06, 6, 1, 0x84, 0x80]),
            Nal::Sei {
                recovery_point: true
            }
        );
        // SEI: user data (type 5).
        assert_eq!(
            H264::classify(&[0x06, 5, 1, 0, 0x80]),
            Nal::Sei {
                recovery_point: false
            }
        );
        assert_eq!(sei_type(&[0xff, 0xff, 1]), Some(511));
        assert_eq!(H264::classify(&[]), Nal::Other);
    }
}

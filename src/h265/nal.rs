//! H.265 NAL units as the access-unit builder sees them (ITU-T H.265 §7.3): the two-byte header, which
//! types are slices, IRAP pictures and parameter sets, and the ids that chain a slice to its PPS, SPS
//! and VPS.

use crate::au::bits::Bits;
use crate::au::syntax::{Nal, NalSyntax, ParamKind};

pub const NAL_VPS: u8 = 32;
pub const NAL_SPS: u8 = 33;
pub const NAL_PPS: u8 = 34;
pub const NAL_AUD: u8 = 35;
pub const NAL_PREFIX_SEI: u8 = 39;
/// IRAP pictures: BLA, IDR, CRA and the reserved IRAP types (GStreamer's depayloader takes 16–21 only).
pub const IRAP: std::ops::RangeInclusive<u8> = 16..=23;
const SEI_RECOVERY_POINT: u32 = 6;

/// The NAL unit type of a two-byte header.
pub fn nal_type(header: &[u8]) -> Option<u8> {
    header.first().map(|b| (b >> 1) & 0x3f)
}

#[derive(Debug)]
pub struct H265;

impl NalSyntax for H265 {
    const HEADER_LEN: usize = 2;
    /// VPS ids 0–15, SPS ids 0–15, PPS ids 0–63.
    const MAX_IDS: [usize; 3] = [16, 16, 64];

    fn classify(nal: &[u8]) -> Nal {
        match nal_type(nal) {
            Some(t @ 0..=31) => Nal::Slice {
                keyframe: IRAP.contains(&t),
                // first_slice_segment_in_pic_flag: cameras that leave the marker off still say where
                // a picture starts.
                first_in_picture: nal.get(2).map(|b| b & 0x80 != 0),
            },
            Some(NAL_VPS) => Nal::Param(ParamKind::Vps),
            Some(NAL_SPS) => Nal::Param(ParamKind::Sps),
            Some(NAL_PPS) => Nal::Param(ParamKind::Pps),
            Some(NAL_AUD) => Nal::Aud,
            Some(NAL_PREFIX_SEI) => Nal::Sei {
                recovery_point: nal.get(2..).and_then(crate::h264::nal::sei_type)
                    == Some(SEI_RECOVERY_POINT),
            },
            _ => Nal::Other,
        }
    }

    fn param_ids(kind: ParamKind, nal: &[u8]) -> Option<(u32, Option<u32>)> {
        let mut b = Bits::new(nal.get(2..)?);
        match kind {
            ParamKind::Vps => Some((b.bits(4)?, None)),
            ParamKind::Sps => {
                let vps = b.bits(4)?;
                let sub_layers = b.bits(3)?;
                b.skip(1)?;
                skip_profile_tier_level(&mut b, sub_layers)?;
                Some((b.ue()?, Some(vps)))
            }
            ParamKind::Pps => {
                let pps = b.ue()?;
                Some((pps, Some(b.ue()?)))
            }
        }
    }

    fn slice_pps_id(nal: &[u8]) -> Option<u32> {
        let t = nal_type(nal)?;
        let mut b = Bits::new(nal.get(2..)?);
        b.skip(1)?; // first_slice_segment_in_pic_flag
        if IRAP.contains(&t) {
            b.skip(1)?; // no_output_of_prior_pics_flag
        }
        b.ue()
    }
}

/// profile_tier_level(1, max_sub_layers_minus1), H.265 §7.3.3: 96 bits of general profile and level,
/// then per sub-layer flags and what they announce. Returns (general_tier_flag, general_profile_idc,
/// general_level_idc).
pub fn skip_profile_tier_level(
    b: &mut Bits<'_>,
    max_sub_layers_minus1: u32,
) -> Option<(bool, u8, u8)> {
    b.skip(2)?;
    let tier = b.bit()?;
    let profile = b.bits(5)? as u8;
    b.skip(80)?;
    let level = b.bits(8)? as u8;
    let mut present = [(false, false); 8];
    for p in present.iter_mut().take(max_sub_layers_minus1 as usize) {
        *p = (b.bit()?, b.bit()?);
    }
    if max_sub_layers_minus1 > 0 {
        b.skip(2 * (8 - max_sub_layers_minus1))?;
    }
    for &(profile, level) in present.iter().take(max_sub_layers_minus1 as usize) {
        if profile {
            b.skip(88)?;
        }
        if level {
            b.skip(8)?;
        }
    }
    Some((tier, profile, level))
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// x265's VPS, SPS and PPS for 320x240 at 30 fps, 4:4:4 (videotestsrc without a format).
    pub const VPS: &[u8] = &[
        0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x04, 0x08, 0x00, 0x00, 0x03, 0x00, 0x98, 0x08, 0x00,
        0x00, 0x03, 0x00, 0x00, 0x3f, 0xba, 0x02, 0x40,
    ];
    pub const SPS: &[u8] = &[
        0x42, 0x01, 0x01, 0x04, 0x08, 0x00, 0x00, 0x03, 0x00, 0x98, 0x08, 0x00, 0x00, 0x03, 0x00,
        0x00, 0x3f, 0x90, 0x01, 0x41, 0x01, 0xe2, 0x29, 0x4b, 0x74, 0x94, 0x98, 0x5f, 0xfe, 0x00,
        0x02, 0x00, 0x02, 0xd4, 0x18, 0x18, 0x18, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00,
        0x03, 0x01, 0xe0, 0x80,
    ];
    pub const PPS: &[u8] = &[0x44, 0x01, 0xc0, 0x70, 0x30, 0x60, 0x31, 0x20];

    #[test]
    fn kinds() {
        assert_eq!(nal_type(&[0x26, 0x01]), Some(19));
        assert_eq!(
            H265::classify(&[0x26, 0x01, 0xaf]),
            Nal::Slice {
                keyframe: true,
                first_in_picture: Some(true)
            }
        );
        assert_eq!(
            H265::classify(&[0x02, 0x01, 0x50]),
            Nal::Slice {
                keyframe: false,
                first_in_picture: Some(false)
            }
        );
        // Reserved IRAP 22/23 are keyframes too.
        assert!(matches!(
            H265::classify(&[46, 1, 0x80]),
            Nal::Slice { keyframe: true, .. }
        ));
        assert_eq!(H265::classify(&[0x40, 0x01]), Nal::Param(ParamKind::Vps));
        assert_eq!(H265::classify(&[0x46, 0x01, 0x50]), Nal::Aud);
        assert_eq!(
            H265::classify(&[0x4e, 0x01, 6, 1, 0x80]),
            Nal::Sei {
                recovery_point: true
            }
        );
        assert_eq!(H265::classify(&[]), Nal::Other);
    }

    #[test]
    fn ids() {
        assert_eq!(H265::param_ids(ParamKind::Vps, VPS), Some((0, None)));
        assert_eq!(H265::param_ids(ParamKind::Sps, SPS), Some((0, Some(0))));
        assert_eq!(H265::param_ids(ParamKind::Pps, PPS), Some((0, Some(0))));
        // PPS: pps id 2 (011), sps id 1 (010).
        assert_eq!(
            H265::param_ids(ParamKind::Pps, &[0x44, 0x01, 0b0110_1000]),
            Some((2, Some(1)))
        );
        // IDR slice: first_slice 1, no_output 0, pps id 2 (011).
        assert_eq!(H265::slice_pps_id(&[0x26, 0x01, 0b1001_1000]), Some(2));
        // TRAIL_R: first_slice 1, pps id 0.
        assert_eq!(H265::slice_pps_id(&[0x02, 0x01, 0b1100_0000]), Some(0));
        assert_eq!(H265::param_ids(ParamKind::Sps, &[0x42, 0x01, 0x01]), None);
    }
}

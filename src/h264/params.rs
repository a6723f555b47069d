//! Parameter sets: `sprop-parameter-sets` from the SDP, and what an SPS says (profile, level, size, frame
//! rate) for the caps, via `h264-reader`.

use super::nal::H264;
use crate::au::SpsInfo;
use h264_reader::nal::sps::SeqParameterSet;
use h264_reader::rbsp::{decode_nal, BitReader};

/// Decodes `sprop-parameter-sets` into SPS/PPS NAL units; see `au::param_sets::decode_sprop`.
pub fn decode_sprop(value: &str) -> (Vec<Vec<u8>>, Vec<String>) {
    crate::au::param_sets::decode_sprop::<H264>(value)
}

/// Parses an SPS NAL unit (with its header byte).
pub fn sps_info(nal: &[u8]) -> Result<SpsInfo, String> {
    // h264-reader 0.9's decode_nal underflows on inputs shorter than two bytes.
    if nal.len() < 4 {
        return Err(format!("SPS of {} bytes is too short", nal.len()));
    }
    let rbsp = decode_nal(nal).map_err(|e| format!("bad SPS: {e}"))?;
    // Reolink doorbells append bytes after the SPS data, which fails the RBSP end check: retry with
    // the tail cut off a byte at a time.
    let mut first_err = None;
    let sps = (0..rbsp.len().min(16))
        .find_map(|cut| {
            match SeqParameterSet::from_bits(BitReader::new(&rbsp[..rbsp.len() - cut])) {
                Ok(sps) => Some(sps),
                Err(e) => {
                    first_err.get_or_insert(e);
                    None
                }
            }
        })
        .ok_or_else(|| format!("bad SPS: {:?}", first_err))?;
    let (width, height) = sps
        .pixel_dimensions()
        .map_err(|e| format!("bad SPS dimensions: {e:?}"))?;
    use h264_reader::nal::sps::Profile as P;
    let profile = match sps.profile() {
        P::Baseline => "baseline",
        P::ConstrainedBaseline => "constrained-baseline",
        P::Main => "main",
        P::Extended => "extended",
        P::High => "high",
        P::ProgressiveHigh => "progressive-high",
        P::ConstrainedHigh => "constrained-high",
        P::High10 => "high-10",
        P::High10Intra => "high-10-intra",
        P::High422 => "high-4:2:2",
        P::High422Intra => "high-4:2:2-intra",
        P::High444 => "high-4:4:4",
        P::High444Intra => "high-4:4:4-intra",
        P::CavlcIntra444 => "cavlc-4:4:4-intra",
        _ => "unknown",
    };
    let level_idc = sps.level_idc;
    let level = match level_idc {
        9 => "1b".to_string(),
        11 if sps.constraint_flags.flag3()
            && matches!(sps.profile().profile_idc(), 66 | 77 | 88) =>
        {
            "1b".to_string()
        }
        l if l % 10 == 0 => (l / 10).to_string(),
        l => format!("{}.{}", l / 10, l % 10),
    };
    let framerate = sps
        .vui_parameters
        .as_ref()
        .and_then(|v| v.timing_info.as_ref())
        .and_then(|t| {
            let num = i32::try_from(t.time_scale).ok()?;
            let den = i32::try_from(u64::from(t.num_units_in_tick) * 2).ok()?;
            (num > 0 && den > 0).then(|| crate::au::sps_info::reduce(num, den))
        });
    let reorder_frames = sps
        .vui_parameters
        .as_ref()
        .and_then(|v| v.bitstream_restrictions.as_ref())
        .map(|r| r.max_num_reorder_frames);
    Ok(SpsInfo {
        media_type: "video/x-h264",
        tier: None,
        profile,
        level,
        width,
        height,
        framerate,
        reorder_frames,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::au::annexb::split_annexb;
    use base64::Engine;

    // x264 (videotestsrc, Y444), 320x240, High 4:4:4 level 1.3, 30 fps timing info.
    const SPS_B64: &str = "Z/QADZDZZAUH7AWoMDAyAAADAAIAAAMAeR4oVJA=";

    #[test]
    fn sprop_plain() {
        let (nals, problems) = decode_sprop("Z0LAHtkA,aMuMsg==");
        assert!(problems.is_empty());
        assert_eq!(
            nals,
            vec![
                vec![0x67, 0x42, 0xc0, 0x1e, 0xd9],
                vec![0x68, 0xcb, 0x8c, 0xb2]
            ],
            "trailing zero stripped"
        );
    }

    #[test]
    fn sprop_quirks() {
        // VStarcam: no NAL header; GW Security: start codes inside entries.
        let (nals, problems) = decode_sprop("6QDwBE/LCAAAH0gAB1TgIAAAAAA=,AAAAAA==");
        assert!(nals.is_empty());
        assert!(!problems.is_empty());
        let (nals, _) = decode_sprop("AAAAAWdCwB7ZAAAAAAFozoyy");
        assert_eq!(nals.len(), 2);
        assert_eq!(nals[1][0], 0x68);
        let (nals, problems) = decode_sprop("!!!,");
        assert!(nals.is_empty() && problems.len() == 1);
    }

    #[test]
    fn split_start_codes() {
        let v: Vec<&[u8]> = split_annexb(&[0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 2, 0, 0]).collect();
        assert_eq!(v, vec![&[0x67, 1][..], &[0x68, 2]]);
        assert_eq!(split_annexb(&[0x41, 5]).count(), 1);
        assert_eq!(split_annexb(&[0, 0, 0, 0]).count(), 0);
    }

    #[test]
    fn sps_to_caps_info() {
        let sps = base64::engine::general_purpose::STANDARD
            .decode(SPS_B64)
            .unwrap();
        let info = sps_info(&sps).unwrap();
        assert_eq!(info.profile, "high-4:4:4");
        assert_eq!(info.level, "1.3");
        assert_eq!((info.width, info.height), (320, 240));
        assert_eq!(info.framerate, Some((30, 1)));
        // Reolink doorbell: extra bytes after the SPS data.
        let mut padded = sps.clone();
        padded.extend_from_slice(&[0x80, 0x00, 0x12, 0x34]);
        assert_eq!(sps_info(&padded).unwrap().width, 320);
        assert!(sps_info(&[0x67]).is_err());
        assert!(sps_info(&[]).is_err());
        assert!(sps_info(&[0x67, 0xff, 0xff]).is_err());
    }
}

//! H.265 parameter sets: `sprop-vps`, `sprop-sps`, `sprop-pps` from the SDP, and what an SPS says for
//! the caps (profile, tier, level, size after the conformance window, frame rate), through
//! `scuffle-h265`, which parses real SPS to the VUI: scaling lists (Reolink), inter-RPS prediction
//! (Xiaomi YI, Tenda; moonfire-nvr#333), several sub-layers.

use super::nal::H265;
use crate::au::SpsInfo;

/// Decodes the `sprop-vps`, `sprop-sps` and `sprop-pps` values; see `au::param_sets::decode_sprop`.
pub fn decode_sprop(values: &[&str]) -> (Vec<Vec<u8>>, Vec<String>) {
    let mut nals = Vec::new();
    let mut problems = Vec::new();
    for v in values {
        let (n, p) = crate::au::param_sets::decode_sprop::<H265>(v);
        nals.extend(n);
        problems.extend(p);
    }
    (nals, problems)
}

fn profile_name(idc: u8) -> &'static str {
    match idc {
        1 => "main",
        2 => "main-10",
        3 => "main-still-picture",
        4 => "main-444",
        _ => "unknown",
    }
}

fn level_name(idc: u8) -> String {
    match idc % 30 {
        0 => (idc / 30).to_string(),
        r => format!("{}.{}", idc / 30, r / 3),
    }
}

/// Parses an SPS NAL unit (with its two-byte header). Where the full parser refuses a camera's SPS
/// (Vitek: VUI colour values the spec forbids for 4:2:0), the fields before the VUI still give the
/// profile, level and size; the frame rate is then unknown.
pub fn sps_info(nal: &[u8]) -> Result<SpsInfo, String> {
    // The parser is fuzzed through here; should it ever panic on a camera's bytes, that is a bad SPS,
    // not a crashed pipeline.
    let parsed =
        std::panic::catch_unwind(|| scuffle_h265::SpsNALUnit::parse(std::io::Cursor::new(nal)))
            .map_err(|_| "unreadable SPS".to_string())
            .and_then(|r| r.map_err(|e| format!("bad SPS: {e}")));
    let parsed = match parsed {
        Ok(p) => p,
        Err(e) => return size_only(nal).ok_or(e),
    };
    let sps = &parsed.rbsp;
    let general = &sps.profile_tier_level.general_profile;
    let profile = profile_name(general.profile_idc);
    let tier = Some(if general.tier_flag { "high" } else { "main" });
    let level = general
        .level_idc
        .map_or_else(|| "unknown".to_string(), level_name);
    let framerate = sps
        .vui_parameters
        .as_ref()
        .and_then(|v| v.vui_timing_info.as_ref())
        .and_then(|t| {
            let num = i32::try_from(t.time_scale.get()).ok()?;
            let den = i32::try_from(t.num_units_in_tick.get()).ok()?;
            Some(crate::au::sps_info::reduce(num, den))
        });
    let reorder_frames = sps
        .sub_layer_ordering_info
        .sps_max_num_reorder_pics
        .last()
        .and_then(|&n| u32::try_from(n).ok());
    Ok(SpsInfo {
        media_type: "video/x-h265",
        profile,
        tier,
        level,
        width: u32::try_from(sps.cropped_width()).unwrap_or(u32::MAX),
        height: u32::try_from(sps.cropped_height()).unwrap_or(u32::MAX),
        framerate,
        reorder_frames,
    })
}

/// Profile, tier, level and size (after the conformance window) from the SPS fields before the VUI.
fn size_only(nal: &[u8]) -> Option<SpsInfo> {
    use crate::au::bits::Bits;
    if super::nal::nal_type(nal)? != super::nal::NAL_SPS {
        return None;
    }
    let mut b = Bits::new(nal.get(2..)?);
    b.skip(4)?;
    let sub_layers = b.bits(3)?;
    b.skip(1)?;
    let (tier, profile, level) = super::nal::skip_profile_tier_level(&mut b, sub_layers)?;
    b.ue()?;
    let chroma = b.ue()?;
    if chroma == 3 {
        b.skip(1)?;
    }
    let (mut width, mut height) = (b.ue()?, b.ue()?);
    if b.bit()? {
        let (sub_w, sub_h) = match chroma {
            1 => (2, 2),
            2 => (2, 1),
            _ => (1, 1),
        };
        let (l, r, t, bo) = (b.ue()?, b.ue()?, b.ue()?, b.ue()?);
        width = width.checked_sub(l.checked_add(r)?.checked_mul(sub_w)?)?;
        height = height.checked_sub(t.checked_add(bo)?.checked_mul(sub_h)?)?;
    }
    Some(SpsInfo {
        media_type: "video/x-h265",
        profile: profile_name(profile),
        tier: Some(if tier { "high" } else { "main" }),
        level: level_name(level),
        width,
        height,
        framerate: None,
        reorder_frames: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h265::nal::tests::{PPS, SPS, VPS};
    use base64::Engine;

    #[test]
    fn x265_sps_to_caps_info() {
        let info = sps_info(SPS).unwrap();
        assert_eq!(info.media_type, "video/x-h265");
        assert_eq!((info.width, info.height), (320, 240));
        assert_eq!(
            info.profile, "main-444",
            "format range extensions: videotestsrc gave Y444"
        );
        assert_eq!(info.tier, Some("main"));
        assert_eq!(info.framerate, Some((30, 1)));
        assert!(sps_info(&SPS[..10]).is_err());
        assert!(sps_info(&[]).is_err());
        assert!(sps_info(VPS).is_err());
    }

    #[test]
    fn real_cameras_sps() {
        // From the DESCRIBE replies in tests/fixtures/retina.
        for (camera, sprop, size) in [
            (
                "Dahua",
                "QgEBAWAAAAMAsAAAAwAAAwBaoAWCAeFja5JFL83BQYFBAAADAAEAAAMADKE=",
                (704, 480),
            ),
            (
                "TP-Link",
                "QgEBAWAAAAMAAAMAAAMAAAMAlqABQCAFof4qtO6JLuaAgA27oADN/mAE",
                (2560, 1440),
            ),
            // Its SDP says `x-dimensions: 1280, 720`; the SPS codes 704 lines and no cropping.
            (
                "Anjvision",
                "QgEBAUAAAAMAAAMAAAMAAAMAmaACgIAsH+Wu5Gwa5VE1BQYFAIA=",
                (1280, 704),
            ),
            (
                "Vitek",
                "QgEBAWAAAAMAAAMAAAMAAAMAlqALCA8f4qtO6JLuQgAAAwAIAG3dAAzf5gBA",
                (352, 240),
            ),
        ] {
            let (nals, problems) = decode_sprop(&[sprop]);
            assert!(problems.is_empty(), "{camera}: {problems:?}");
            let info = sps_info(&nals[0]).unwrap_or_else(|e| panic!("{camera}: {e}"));
            assert_eq!((info.width, info.height), size, "{camera}");
            assert_eq!(info.profile, "main", "{camera}");
            // The full parser reads all but Vitek's (inter-RPS prediction included).
            let full = scuffle_h265::SpsNALUnit::parse(std::io::Cursor::new(&nals[0]));
            assert_eq!(full.is_ok(), camera != "Vitek", "{camera}: {full:?}");
            // The fields before the VUI agree with the full parse.
            let short = size_only(&nals[0]).unwrap();
            assert_eq!(
                (short.width, short.height, short.level),
                (info.width, info.height, info.level)
            );
        }
    }

    #[test]
    fn sprop_attributes() {
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let (nals, problems) =
            decode_sprop(&[&b64(VPS), &b64(SPS), &format!("{},{}", b64(PPS), "!!")]);
        assert_eq!(nals, vec![VPS.to_vec(), SPS.to_vec(), PPS.to_vec()]);
        assert_eq!(problems.len(), 1);
        // An H.264 SPS is not an H.265 parameter set.
        let (nals, problems) = decode_sprop(&["Z0LAHtkA"]);
        assert!(nals.is_empty() && problems.len() == 1);
    }
}

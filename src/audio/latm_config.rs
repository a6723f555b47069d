//! What an `MP4A-LATM` (RFC 6416) stream's SDP says: `cpresent` (whether each AudioMuxElement carries
//! its StreamMuxConfig) and `config`, the StreamMuxConfig (ISO 14496-3 §1.7.3) in hex. The
//! StreamMuxConfig holds the AudioSpecificConfig, bit-aligned, which becomes the caps' `codec_data`.
//! Read: one program, one layer (what cameras and encoders send), frame length type 0 (AAC frames
//! whose length the element's PayloadLengthInfo gives), audioMuxVersion 0 and 1.

use super::aac_config::{decode_hex, read_audio_specific_config, AudioSpecificConfig};
use crate::au::bits::Bits;
use crate::rtsp::sdp::Media;

/// How the AudioMuxElements of a stream are laid out (from its StreamMuxConfig).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamMux {
    /// The AudioSpecificConfig's bytes (its bits from the StreamMuxConfig, padded with zeros).
    pub config: Vec<u8>,
    pub asc: AudioSpecificConfig,
    /// Payloads per AudioMuxElement, less one.
    pub sub_frames: u32,
    /// Bits of other data after the payloads (`None`: none). For audioMuxVersion 1 they are given
    /// per element, which is not read.
    pub other_data_bits: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatmParams {
    /// Each AudioMuxElement starts with its StreamMuxConfig (or a bit saying it is the same).
    pub cpresent: bool,
    pub mux: StreamMux,
}

impl LatmParams {
    /// From the `fmtp` of payload type `pt` in `media`. The StreamMuxConfig must be in the SDP
    /// (`config=`) even with `cpresent=1`: the pad's caps are made before the first packet.
    pub fn from_media(media: &Media, pt: u8) -> Result<LatmParams, String> {
        let cpresent = media.fmtp(pt, "cpresent").is_none_or(|v| v.trim() != "0");
        let hex = media
            .fmtp(pt, "config")
            .ok_or("no config= in the fmtp (the StreamMuxConfig)")?;
        let bytes = decode_hex(hex)?;
        let mux = read_stream_mux_config(&mut Bits::raw(&bytes))?;
        Ok(LatmParams { cpresent, mux })
    }
}

/// LATM's `LatmGetValue()`: 1 to 4 bytes, their count first.
fn latm_value(b: &mut Bits) -> Option<u32> {
    let bytes = b.bits(2)?;
    let mut v = 0u32;
    for _ in 0..=bytes {
        v = (v << 8) | b.bits(8)?;
    }
    Some(v)
}

/// Reads a StreamMuxConfig (ISO 14496-3 Table 1.42); `Err` says what it holds that is not read.
pub fn read_stream_mux_config(b: &mut Bits) -> Result<StreamMux, String> {
    let short = || "the StreamMuxConfig is cut short".to_string();
    let version = b.bit().ok_or_else(short)?;
    if version {
        if b.bit().ok_or_else(short)? {
            return Err("a StreamMuxConfig of audioMuxVersionA 1".into());
        }
        latm_value(b).ok_or_else(short)?; // taraBufferFullness
    }
    b.bit().ok_or_else(short)?; // allStreamsSameTimeFraming
    let sub_frames = b.bits(6).ok_or_else(short)?;
    let programs = b.bits(4).ok_or_else(short)?;
    let layers = b.bits(3).ok_or_else(short)?;
    if programs != 0 || layers != 0 {
        return Err(format!(
            "a StreamMuxConfig of {} programs and {} layers (one of each is read)",
            programs + 1,
            layers + 1
        ));
    }
    // The AudioSpecificConfig: version 1 gives its length in bits first.
    let declared = if version {
        Some(latm_value(b).ok_or_else(short)? as usize)
    } else {
        None
    };
    let start = b.position();
    let mut asc_bits = b.clone();
    let asc = read_audio_specific_config(b, true)?;
    let mut len = b.position() - start;
    if let Some(declared) = declared {
        let rest = declared
            .checked_sub(len)
            .ok_or("an AudioSpecificConfig longer than its StreamMuxConfig says")?;
        b.skip(rest as u32).ok_or_else(short)?;
        len = declared;
    }
    let mut config = vec![0u8; len.div_ceil(8)];
    for i in 0..len {
        if asc_bits.bit().ok_or_else(short)? {
            config[i / 8] |= 0x80 >> (i % 8);
        }
    }
    // GStreamer's rtpmp4apay stops its `config=` a few bits after the AudioSpecificConfig (its
    // buffer fullness cut, the flags after it missing); as FFmpeg does, a tail that is not there
    // reads as zeros: frame length type 0, no other data, no CRC.
    let frame_length_type = b.bits(3).unwrap_or(0);
    if frame_length_type != 0 {
        return Err(format!(
            "a StreamMuxConfig of frameLengthType {frame_length_type} (0 is read)"
        ));
    }
    b.bits(8); // latmBufferFullness
    let other_data_bits = if b.bit().unwrap_or(false) {
        if version {
            return Err("other data in an audioMuxVersion 1 StreamMuxConfig".into());
        }
        let mut bits = 0u32;
        loop {
            let more = b.bit().ok_or_else(short)?;
            bits = bits.saturating_mul(256) | b.bits(8).ok_or_else(short)?;
            if !more {
                break;
            }
        }
        Some(bits)
    } else {
        None
    };
    if b.bit().unwrap_or(false) {
        b.bits(8).ok_or_else(short)?; // crcCheckSum
    }
    Ok(StreamMux {
        config,
        asc,
        sub_frames,
        other_data_bits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtsp::sdp::parse;

    fn params(fmtp: &str) -> Result<LatmParams, String> {
        let sdp =
            format!("m=audio 0 RTP/AVP 96\na=rtpmap:96 MP4A-LATM/44100/2\na=fmtp:96 {fmtp}\n");
        let d = parse(sdp.as_bytes(), "rtsp://h/").unwrap();
        LatmParams::from_media(&d.media[0], 96)
    }

    #[test]
    fn rfc_6416_examples_and_encoders() {
        // rtpmp4apay for avenc_aac at 44.1 kHz stereo: AudioSpecificConfig 0x1210 from bit 15 on.
        let p = params("cpresent=0;config=400024203fc0").unwrap();
        assert!(!p.cpresent);
        assert_eq!(p.mux.config, [0x12, 0x10]);
        assert_eq!(
            (p.mux.asc.sample_rate, p.mux.asc.channels, p.mux.sub_frames),
            (Some(44100), 2, 0)
        );
        assert_eq!(p.mux.other_data_bits, None);
        // What rtpmp4apay says for FFmpeg's (avenc_aac's) 44.1 kHz stereo: its AudioSpecificConfig
        // `1210 56e500` signals SBR off after the core's config (33 bits), and the config stops
        // 8 bits later, in the buffer fullness.
        let p = params("cpresent=0;config=40002420adca00").unwrap();
        assert_eq!(p.mux.config, [0x12, 0x10, 0x56, 0xe5, 0x00]);
        assert_eq!(p.mux.asc.sample_rate, Some(44100));
        // RFC 6416 §7.4.1: `profile-level-id=15;object=2;cpresent=0;config=400026203FC0`: AAC LC,
        // 24 kHz, stereo.
        let p = params("profile-level-id=15;object=2;cpresent=0;config=400026203FC0").unwrap();
        assert_eq!(p.mux.config, [0x13, 0x10]);
        assert_eq!(p.mux.asc.sample_rate, Some(24000));
        // cpresent left out means 1.
        assert!(params("config=400026203FC0").unwrap().cpresent);
    }

    #[test]
    fn refused_with_a_reason() {
        for (fmtp, why) in [
            ("cpresent=0", "no config"),
            ("cpresent=0;config=40", "cut short"),
            ("cpresent=0;config=zz", "hexadecimal"),
            // Two programs.
            ("cpresent=0;config=40102620", "programs"),
            // frameLengthType 1 after the AudioSpecificConfig.
            ("cpresent=0;config=400026207fc0", "frameLengthType"),
            // Object type 8 (CELP).
            ("cpresent=0;config=400084203fc0", "object type 8"),
        ] {
            let e = params(fmtp).unwrap_err();
            assert!(e.contains(why), "{fmtp}: {e}");
        }
    }
}

//! What an MPEG4-GENERIC (RFC 3640) AAC stream's SDP says: the AU-header field sizes of its `fmtp`,
//! and its AudioSpecificConfig (`config`, ISO 14496-3 §1.6.2.1), which becomes the caps' `codec_data`
//! and gives the frame length, sample rate and channels.

use crate::au::bits::Bits;
use crate::rtsp::sdp::Media;

/// The sample rates a 4-bit sampling frequency index names (ISO 14496-3 Table 1.18).
const SAMPLE_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];
/// An AudioSpecificConfig longer than this is not one a camera sends.
const MAX_CONFIG: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AacParams {
    /// The AudioSpecificConfig bytes.
    pub config: Vec<u8>,
    pub size_length: u32,
    pub index_length: u32,
    pub index_delta_length: u32,
    pub cts_delta_length: u32,
    pub dts_delta_length: u32,
    pub random_access_indication: bool,
    pub stream_state_indication: u32,
    pub auxiliary_data_size_length: u32,
    /// `constantsize`: every AU's size, when the AU headers give none.
    pub constant_size: Option<u32>,
    /// Samples per AU (1024, or 960 with the frame length flag; `constantduration` wins).
    pub frame_length: u32,
    pub sample_rate: u32,
    pub channels: u32,
}

impl AacParams {
    /// From the `fmtp` of payload type `pt` in `media`, and the rtpmap's clock rate (the sample rate
    /// when the config's is not one the element reads).
    pub fn from_media(media: &Media, pt: u8, clock_rate: u32) -> Result<AacParams, String> {
        let get = |k: &str| media.fmtp(pt, k);
        let num = |k: &str| -> Result<Option<u32>, String> {
            get(k)
                .map(|v| {
                    v.parse::<u32>()
                        .map_err(|_| format!("fmtp {k}={} is not a number", crate::au::cut(v)))
                })
                .transpose()
        };
        let hex = get("config").ok_or("no config= in the fmtp (the AudioSpecificConfig)")?;
        let config = decode_hex(hex)?;
        let asc = read_config(&config)?;
        // RFC 3640 §3.3.6: AAC-hbr is 13/3/3 and AAC-lbr 6/2/2; the fmtp must say so, and some
        // cameras leave out what the mode implies.
        let mode = get("mode").unwrap_or("");
        let (size, index, delta) = if mode.eq_ignore_ascii_case("AAC-lbr") {
            (6, 2, 2)
        } else if mode.eq_ignore_ascii_case("AAC-hbr") {
            (13, 3, 3)
        } else {
            (0, 0, 0)
        };
        let params = AacParams {
            size_length: num("sizelength")?.unwrap_or(size),
            index_length: num("indexlength")?.unwrap_or(index),
            index_delta_length: num("indexdeltalength")?.unwrap_or(delta),
            cts_delta_length: num("ctsdeltalength")?.unwrap_or(0),
            dts_delta_length: num("dtsdeltalength")?.unwrap_or(0),
            random_access_indication: num("randomaccessindication")?.unwrap_or(0) != 0,
            stream_state_indication: num("streamstateindication")?.unwrap_or(0),
            auxiliary_data_size_length: num("auxiliarydatasizelength")?.unwrap_or(0),
            constant_size: num("constantsize")?,
            frame_length: num("constantduration")?
                .filter(|&d| d > 0)
                .unwrap_or(asc.frame_length),
            sample_rate: asc.sample_rate.unwrap_or(clock_rate),
            channels: asc.channels,
            config,
        };
        let fields = [
            params.size_length,
            params.index_length,
            params.index_delta_length,
            params.cts_delta_length,
            params.dts_delta_length,
            params.stream_state_indication,
            params.auxiliary_data_size_length,
        ];
        if fields.iter().any(|&f| f > 32) {
            return Err("an AU-header field longer than 32 bits".into());
        }
        if params.size_length == 0 && params.constant_size.is_none_or(|c| c == 0) {
            return Err("neither sizelength nor constantsize: AU boundaries unknown".into());
        }
        Ok(params)
    }

    /// Bits of the first AU header (`first`) or of a later one.
    pub fn header_bits(&self, first: bool) -> u32 {
        let index = if first {
            self.index_length
        } else {
            self.index_delta_length
        };
        let optional = |len: u32| if len > 0 { 1 + len } else { 0 };
        self.size_length
            + index
            + optional(self.cts_delta_length)
            + optional(self.dts_delta_length)
            + u32::from(self.random_access_indication)
            + self.stream_state_indication
    }
}

/// What the AudioSpecificConfig says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioSpecificConfig {
    /// The core sample rate (`None`: an index the table lacks).
    pub sample_rate: Option<u32>,
    pub channels: u32,
    /// Samples per frame at the core rate: 1024, or 960 with the frame length flag.
    pub frame_length: u32,
}

fn read_config(config: &[u8]) -> Result<AudioSpecificConfig, String> {
    read_audio_specific_config(&mut Bits::raw(config), false)
}

/// Reads an AudioSpecificConfig (ISO 14496-3 §1.6.2.1) from `b`. With `whole`, reads it to its end
/// (inside LATM's StreamMuxConfig nothing else says where it ends), and refuses what it cannot read
/// through; without, stops after the fields the caps need.
pub fn read_audio_specific_config(
    b: &mut Bits,
    whole: bool,
) -> Result<AudioSpecificConfig, String> {
    let short = || "the AudioSpecificConfig is cut short".to_string();
    let object_type = |b: &mut Bits| -> Option<u32> {
        match b.bits(5)? {
            31 => Some(32 + b.bits(6)?),
            t => Some(t),
        }
    };
    let rate = |b: &mut Bits| -> Option<Option<u32>> {
        Some(match b.bits(4)? {
            15 => Some(b.bits(24)?),
            i => SAMPLE_RATES.get(i as usize).copied(),
        })
    };
    let mut aot = object_type(b).ok_or_else(short)?;
    let sample_rate = rate(b).ok_or_else(short)?;
    let channels = b.bits(4).ok_or_else(short)?;
    // HE-AAC (SBR, 5) and HE-AAC v2 (PS, 29), signalled explicitly: the extension's rate, then the
    // core's object type.
    if aot == 5 || aot == 29 {
        rate(b).ok_or_else(short)?;
        aot = object_type(b).ok_or_else(short)?;
        if aot == 22 {
            b.bits(4).ok_or_else(short)?;
        }
    }
    // GASpecificConfig, for the object types that have one (AAC main, LC, SSR, LTP, scalable, ER).
    let ga = matches!(aot, 1..=4 | 6 | 7 | 17 | 19..=23);
    let mut frame_length = 1024;
    if ga && b.bit().ok_or_else(short)? {
        frame_length = 960;
    }
    if !whole {
        return Ok(AudioSpecificConfig {
            sample_rate: sample_rate.filter(|&r| r > 0),
            channels,
            frame_length,
        });
    }
    if !ga {
        return Err(format!(
            "an AudioSpecificConfig of object type {aot} (only AAC's are read)"
        ));
    }
    if b.bit().ok_or_else(short)? {
        b.skip(14).ok_or_else(short)?; // coreCoderDelay
    }
    let extension = b.bit().ok_or_else(short)?;
    if channels == 0 {
        return Err(
            "an AudioSpecificConfig with a program config element (channel configuration 0)".into(),
        );
    }
    if aot == 6 || aot == 20 {
        b.skip(3).ok_or_else(short)?; // layerNr
    }
    if extension {
        if aot == 22 {
            b.skip(16).ok_or_else(short)?; // numOfSubFrame, layer_length
        }
        if matches!(aot, 17 | 19 | 20 | 23) {
            b.skip(3).ok_or_else(short)?; // the three resilience flags
        }
        b.skip(1).ok_or_else(short)?; // extensionFlag3
    }
    if matches!(aot, 17 | 19..=23) && b.bits(2).ok_or_else(short)? >= 2 {
        return Err("an AudioSpecificConfig with error protection (epConfig 2 or 3)".into());
    }
    // SBR and PS signalled backward-compatibly, after the core's config (FFmpeg's AAC encoder writes
    // 0x2b7 with SBR off: `1210 56e500`). Nothing else can follow with the sync word's bits: in LATM
    // what follows is frameLengthType 0 and the buffer fullness.
    let mut peek = b.clone();
    if peek.bits(11) == Some(0x2b7) {
        b.skip(11).ok_or_else(short)?;
        let ext = object_type(b).ok_or_else(short)?;
        if ext == 5 || ext == 22 {
            if b.bit().ok_or_else(short)? {
                rate(b).ok_or_else(short)?;
                if ext == 22 {
                    b.skip(4).ok_or_else(short)?;
                }
            }
            let mut peek = b.clone();
            if ext == 5 && peek.bits(11) == Some(0x548) {
                b.skip(12).ok_or_else(short)?; // the PS sync word and psPresentFlag
            }
        }
    }
    Ok(AudioSpecificConfig {
        sample_rate: sample_rate.filter(|&r| r > 0),
        channels,
        frame_length,
    })
}

pub fn decode_hex(hex: &str) -> Result<Vec<u8>, String> {
    let bad = || format!("config={} is not hexadecimal", crate::au::cut(hex));
    let hex = hex.trim();
    if hex.is_empty() || !hex.len().is_multiple_of(2) || hex.len() > 2 * MAX_CONFIG {
        return Err(bad());
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(bad)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtsp::sdp::parse;

    fn params(fmtp: &str, rate: u32) -> Result<AacParams, String> {
        let sdp =
            format!("m=audio 0 RTP/AVP 97\na=rtpmap:97 MPEG4-GENERIC/{rate}\na=fmtp:97 {fmtp}\n");
        let d = parse(sdp.as_bytes(), "rtsp://h/").unwrap();
        AacParams::from_media(&d.media[0], 97, rate)
    }

    #[test]
    fn real_cameras_fmtp() {
        // Reolink (retina's reolink_describe.txt): AAC LC 16 kHz mono.
        let p = params(
            "profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1408",
            16000,
        )
        .unwrap();
        assert_eq!(p.config, [0x14, 0x08]);
        assert_eq!(
            (p.sample_rate, p.channels, p.frame_length),
            (16000, 1, 1024)
        );
        assert_eq!((p.header_bits(true), p.header_bits(false)), (16, 16));
        // Dahua: 48 kHz stereo, the mode's lengths left out.
        let p = params(
            "streamtype=5;profile-level-id=1;mode=AAC-hbr;config=1190",
            48000,
        )
        .unwrap();
        assert_eq!((p.sample_rate, p.channels), (48000, 2));
        assert_eq!(p.size_length, 13);
        // AAC-lbr.
        let p = params("mode=AAC-lbr;config=1210", 44100).unwrap();
        assert_eq!((p.size_length, p.header_bits(true)), (6, 8));
        // 960-sample frames.
        assert_eq!(
            params("mode=AAC-hbr;config=1194", 48000)
                .unwrap()
                .frame_length,
            960
        );
    }

    #[test]
    fn refused_with_a_reason() {
        for (fmtp, why) in [
            ("mode=AAC-hbr", "no config"),
            ("mode=AAC-hbr;config=14G8", "hexadecimal"),
            ("mode=AAC-hbr;config=140", "hexadecimal"),
            ("mode=AAC-hbr;config=", "hexadecimal"),
            ("mode=AAC-hbr;config=14", "cut short"),
            ("mode=generic;config=1408", "AU boundaries"),
            ("mode=AAC-hbr;sizelength=99;config=1408", "32 bits"),
            ("mode=AAC-hbr;sizelength=x;config=1408", "not a number"),
        ] {
            let e = params(fmtp, 16000).unwrap_err();
            assert!(e.contains(why), "{fmtp}: {e}");
        }
        let long = format!("mode=AAC-hbr;config={}", "12".repeat(1000));
        assert!(params(&long, 16000).is_err());
    }
}

//! The one place that maps an SDP `rtpmap` encoding name (or a static payload type without one) to what
//! the element does with the stream: its depacketizer, its out-of-band parameter sets, what its SPS
//! says for caps (video) or its caps from the SDP (audio). Adding a codec adds a variant here and its
//! arms; nothing else matches on encoding names.

use super::spec::StreamSpec;
use crate::au::{Depacketize, SpsInfo};
use crate::audio::aac::Rfc3640;
use crate::audio::frames::AudioDepay;
use crate::audio::g726::G726Frames;
use crate::audio::latm::Latm;
use crate::audio::packet_frames::{Duration, PacketFrames};
use crate::onvif::metadata::MetadataDocuments;

/// The codecs the element depacketizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    H264,
    H265,
    /// AAC in MPEG4-GENERIC (RFC 3640).
    Aac,
    /// AAC in MP4A-LATM (RFC 6416).
    Latm,
    Pcmu,
    Pcma,
    /// 16-bit big-endian PCM (RFC 3551).
    L16,
    G722,
    /// G.726 with codewords of `bits` (2 to 5: 16 to 40 kbit/s), packed as RFC 3551 says or, with
    /// `aal2`, as ITU-T I.366.2 (`AAL2-G726-*`).
    G726 {
        bits: u8,
        aal2: bool,
    },
    Opus,
    /// ONVIF metadata (`vnd.onvif.metadata`): XML documents, or their gzip or EXI encodings.
    OnvifMetadata(MetadataEncoding),
}

/// How an ONVIF metadata stream encodes its XML (the rtpmap's name says it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataEncoding {
    Xml,
    Gzip,
    /// EXI with ONVIF's default options, or with the options in band.
    Exi,
    ExiInBand,
}

/// What a stream carries: its pad's name and caps family follow from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Video,
    Audio,
    Metadata,
}

/// RFC 3551's static audio payload types, for media that list one without an rtpmap (Foscam: PT 0):
/// (payload type, codec, clock rate, channels).
const STATIC_AUDIO: [(u8, Codec, u32, u32); 5] = [
    (0, Codec::Pcmu, 8000, 1),
    (8, Codec::Pcma, 8000, 1),
    (9, Codec::G722, 8000, 1),
    (10, Codec::L16, 44100, 2),
    (11, Codec::L16, 44100, 1),
];

impl Codec {
    /// Every codec, in the order a stream without a preference tries them.
    pub const ALL: [Codec; 21] = [
        Codec::H264,
        Codec::H265,
        Codec::Aac,
        Codec::Latm,
        Codec::Pcmu,
        Codec::Pcma,
        Codec::L16,
        Codec::G722,
        Codec::G726 {
            bits: 2,
            aal2: false,
        },
        Codec::G726 {
            bits: 3,
            aal2: false,
        },
        Codec::G726 {
            bits: 4,
            aal2: false,
        },
        Codec::G726 {
            bits: 5,
            aal2: false,
        },
        Codec::G726 {
            bits: 2,
            aal2: true,
        },
        Codec::G726 {
            bits: 3,
            aal2: true,
        },
        Codec::G726 {
            bits: 4,
            aal2: true,
        },
        Codec::G726 {
            bits: 5,
            aal2: true,
        },
        Codec::Opus,
        Codec::OnvifMetadata(MetadataEncoding::Xml),
        Codec::OnvifMetadata(MetadataEncoding::Gzip),
        Codec::OnvifMetadata(MetadataEncoding::Exi),
        Codec::OnvifMetadata(MetadataEncoding::ExiInBand),
    ];
    pub const VIDEO: [Codec; 2] = [Codec::H264, Codec::H265];

    /// The codec of an `a=rtpmap` encoding name (case does not matter: cameras write `h264`).
    pub fn from_encoding(name: &str) -> Option<Codec> {
        Codec::ALL
            .into_iter()
            .find(|c| name.eq_ignore_ascii_case(c.encoding()))
    }

    /// A static payload type's codec, clock rate and channels (RFC 3551), when the SDP has no rtpmap
    /// for it.
    pub fn from_static(pt: u8) -> Option<(Codec, u32, u32)> {
        STATIC_AUDIO
            .iter()
            .find(|s| s.0 == pt)
            .map(|&(_, c, rate, channels)| (c, rate, channels))
    }

    /// The encoding name in `a=rtpmap`.
    pub fn encoding(self) -> &'static str {
        match self {
            Codec::H264 => "H264",
            Codec::H265 => "H265",
            Codec::Aac => "MPEG4-GENERIC",
            Codec::Latm => "MP4A-LATM",
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::L16 => "L16",
            Codec::G722 => "G722",
            Codec::G726 { bits, aal2 } => {
                let names = match aal2 {
                    false => ["G726-16", "G726-24", "G726-32", "G726-40"],
                    true => [
                        "AAL2-G726-16",
                        "AAL2-G726-24",
                        "AAL2-G726-32",
                        "AAL2-G726-40",
                    ],
                };
                names[usize::from(bits.clamp(2, 5) - 2)]
            }
            Codec::Opus => "opus",
            Codec::OnvifMetadata(e) => match e {
                MetadataEncoding::Xml => "vnd.onvif.metadata",
                MetadataEncoding::Gzip => "vnd.onvif.metadata.gzip",
                MetadataEncoding::Exi => "vnd.onvif.metadata.exi.onvif",
                MetadataEncoding::ExiInBand => "vnd.onvif.metadata.exi.ext",
            },
        }
    }

    /// The name people know it by, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Codec::H264 => "H.264",
            Codec::H265 => "H.265",
            Codec::Aac => "AAC",
            Codec::Latm => "AAC (LATM)",
            Codec::Pcmu => "G.711 µ-law",
            Codec::Pcma => "G.711 A-law",
            Codec::L16 => "L16",
            Codec::G722 => "G.722",
            Codec::G726 { .. } => "G.726",
            Codec::Opus => "Opus",
            Codec::OnvifMetadata(_) => "ONVIF metadata",
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            Codec::H264 | Codec::H265 => Kind::Video,
            Codec::OnvifMetadata(_) => Kind::Metadata,
            _ => Kind::Audio,
        }
    }

    /// The `fmtp` keys that carry its parameter sets in base64 (video).
    pub fn sprop_keys(self) -> &'static [&'static str] {
        match self {
            Codec::H264 => &["sprop-parameter-sets"],
            Codec::H265 => &["sprop-vps", "sprop-sps", "sprop-pps"],
            _ => &[],
        }
    }

    /// The depacketizer for the stream `spec` describes.
    pub fn depacketizer(spec: &StreamSpec, wait_for_keyframe: bool) -> Box<dyn Depacketize> {
        let per_frame = |d| Box::new(AudioDepay::new(PacketFrames::new(d)));
        match (spec.codec, &spec.aac) {
            (Codec::Aac, Some(params)) => Box::new(AudioDepay::new(Rfc3640::new(
                params.clone(),
                spec.clock_rate,
            ))),
            (Codec::Latm, _) if spec.latm.is_some() => Box::new(AudioDepay::new(Latm::new(
                spec.latm.clone().expect("checked"),
                spec.clock_rate,
            ))),
            (Codec::Pcmu | Codec::Pcma, _) => per_frame(Duration::BytesPerTick(spec.channels)),
            (Codec::L16, _) => per_frame(Duration::BytesPerTick(2 * spec.channels)),
            // RFC 3551: G.722's RTP clock runs at 8000 for 16 kHz audio, a byte per tick.
            (Codec::G722, _) => per_frame(Duration::BytesPerTick(spec.channels)),
            (Codec::G726 { bits, aal2 }, _) => {
                Box::new(AudioDepay::new(G726Frames::new(u32::from(bits), !aal2)))
            }
            (Codec::Opus, _) => per_frame(Duration::OpusToc),
            (Codec::OnvifMetadata(_), _) => Box::new(AudioDepay::new(MetadataDocuments::default())),
            (codec, _) => codec.video_depacketizer(spec.don, wait_for_keyframe),
        }
    }

    /// The depacketizer of a video codec; `don`: H.265 packets carry decoding order numbers.
    pub fn video_depacketizer(self, don: bool, wait_for_keyframe: bool) -> Box<dyn Depacketize> {
        match self {
            Codec::H265 => Box::new(crate::h265::depacketizer::depacketizer(
                don,
                wait_for_keyframe,
            )),
            _ => Box::new(crate::h264::depacketizer::depacketizer(wait_for_keyframe)),
        }
    }

    /// The parameter sets the SDP gives (`sprop-*`), and what was wrong with those left out.
    pub fn decode_sprop(self, sprop: &[String]) -> (Vec<Vec<u8>>, Vec<String>) {
        match self {
            Codec::H264 => sprop
                .first()
                .map(|v| crate::h264::params::decode_sprop(v))
                .unwrap_or_default(),
            Codec::H265 => {
                let values: Vec<&str> = sprop.iter().map(String::as_str).collect();
                crate::h265::params::decode_sprop(&values)
            }
            _ => Default::default(),
        }
    }

    /// What an SPS of this codec says (size, profile, frame rate, reordering).
    pub fn sps_info(self, sps: &[u8]) -> Result<SpsInfo, String> {
        match self {
            Codec::H265 => crate::h265::params::sps_info(sps),
            Codec::H264 => crate::h264::params::sps_info(sps),
            _ => Err(format!("{} has no SPS", self.name())),
        }
    }

    /// An audio or metadata stream's caps, from its SDP alone, as GStreamer's parsers, decoders and
    /// muxers take them (those of rtpmp4gdepay, rtppcmudepay, rtpL16depay, rtpg722depay,
    /// rtpg726depay, rtpopusdepay, gst-plugins-rs' rtponvifmetadatadepay); `None` for video, whose caps come from its
    /// SPS.
    pub fn side_caps(spec: &StreamSpec) -> Option<gst::Caps> {
        let channels = i32::try_from(spec.channels).unwrap_or(1);
        let rate = i32::try_from(spec.clock_rate).unwrap_or(i32::MAX);
        let caps = match spec.codec {
            Codec::H264 | Codec::H265 => return None,
            // Both AAC packings give raw frames and the AudioSpecificConfig as codec_data.
            Codec::Aac | Codec::Latm => {
                let (config, sample_rate, asc_channels) = match (&spec.aac, &spec.latm) {
                    (Some(p), _) => (&p.config, p.sample_rate, p.channels),
                    (_, Some(p)) => (
                        &p.mux.config,
                        p.mux.asc.sample_rate.unwrap_or(spec.clock_rate),
                        p.mux.asc.channels,
                    ),
                    _ => return None,
                };
                gst::Caps::builder("audio/mpeg")
                    .field("mpegversion", 4i32)
                    .field("stream-format", "raw")
                    .field("codec_data", gst::Buffer::from_slice(config.clone()))
                    .field("rate", i32::try_from(sample_rate).unwrap_or(rate))
                    .field("channels", i32::try_from(asc_channels).unwrap_or(channels))
                    .build()
            }
            Codec::Pcmu | Codec::Pcma => gst::Caps::builder(match spec.codec {
                Codec::Pcmu => "audio/x-mulaw",
                _ => "audio/x-alaw",
            })
            .field("rate", rate)
            .field("channels", channels)
            .build(),
            Codec::L16 => gst::Caps::builder("audio/x-raw")
                .field("format", "S16BE")
                .field("layout", "interleaved")
                .field("rate", rate)
                .field("channels", channels)
                .build(),
            // 16 kHz audio, whatever the RTP clock says.
            Codec::G722 => gst::Caps::builder("audio/G722")
                .field("rate", 16000i32)
                .field("channels", channels)
                .build(),
            Codec::G726 { bits, .. } => g726_caps(bits),
            Codec::Opus => gst::Caps::builder("audio/x-opus")
                .field("channel-mapping-family", 0i32)
                .field("rate", 48000i32)
                .field("channels", channels)
                .build(),
            // `encoding=utf8` as rtponvifmetadatapay takes it; compressed documents are passed on as
            // they came, and say so.
            Codec::OnvifMetadata(e) => gst::Caps::builder("application/x-onvif-metadata")
                .field(
                    "encoding",
                    match e {
                        MetadataEncoding::Xml => "utf8",
                        MetadataEncoding::Gzip => "gzip",
                        MetadataEncoding::Exi => "exi",
                        MetadataEncoding::ExiInBand => "exi-in-band",
                    },
                )
                .build(),
        };
        Some(caps)
    }
}

/// G.726 of `bits` bits a codeword as rtpg726depay gives it, avdec_g726 takes it and avenc_g726 makes
/// it: codewords in the AAL2 order, 8 kHz mono.
pub fn g726_caps(bits: u8) -> gst::Caps {
    gst::Caps::builder("audio/x-adpcm")
        .field("layout", "g726")
        .field("bitrate", i32::from(bits) * 8000)
        .field("rate", 8000i32)
        .field("channels", 1i32)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_names_without_case() {
        assert_eq!(Codec::from_encoding("h264"), Some(Codec::H264));
        assert_eq!(Codec::from_encoding("H265"), Some(Codec::H265));
        assert_eq!(Codec::from_encoding("mpeg4-generic"), Some(Codec::Aac));
        assert_eq!(Codec::from_encoding("mp4a-latm"), Some(Codec::Latm));
        assert_eq!(Codec::from_encoding("OPUS"), Some(Codec::Opus));
        assert_eq!(Codec::from_encoding("VP8"), None);
        assert_eq!(
            Codec::from_encoding("G726-32"),
            Some(Codec::G726 {
                bits: 4,
                aal2: false
            })
        );
        assert_eq!(
            Codec::from_encoding("aal2-g726-16"),
            Some(Codec::G726 {
                bits: 2,
                aal2: true
            })
        );
        assert_eq!(Codec::from_encoding("G726-48"), None);
        assert_eq!(
            Codec::from_encoding("VND.ONVIF.METADATA"),
            Some(Codec::OnvifMetadata(MetadataEncoding::Xml))
        );
        assert_eq!(
            Codec::from_encoding("vnd.onvif.metadata.exi.ext"),
            Some(Codec::OnvifMetadata(MetadataEncoding::ExiInBand))
        );
        assert_eq!(Codec::from_encoding(""), None);
    }

    #[test]
    fn static_payload_types() {
        assert_eq!(Codec::from_static(0), Some((Codec::Pcmu, 8000, 1)));
        assert_eq!(Codec::from_static(8), Some((Codec::Pcma, 8000, 1)));
        assert_eq!(Codec::from_static(96), None);
    }
}

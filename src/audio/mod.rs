//! Audio over RTP, beside the video codecs: the formats whose packets each carry one frame of samples
//! (G.711 PCMU/PCMA, L16, G.722, Opus: `packet_frames`), AAC in MPEG4-GENERIC (RFC 3640: `aac`, its
//! `fmtp` and AudioSpecificConfig in `aac_config`), G.726 in either packing (`g726`), and what they share (`frames`: the queue of frames
//! out, timestamps, loss). Each implements `au::Depacketize`, so a stream's inbound path is the same for
//! audio and video.

pub mod aac;
pub mod aac_config;
pub mod frames;
pub mod g726;
pub mod latm;
pub mod latm_config;
pub mod packet_frames;

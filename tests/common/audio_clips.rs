#![allow(dead_code)] // Each user of this module needs a different part of it.

//! Audio as the fake camera sends it, made once per test binary by GStreamer's encoders and payloaders:
//! a 440 Hz sine as G.711, G.726 and AAC (RFC 3640 packed and fragmented) RTP packets, and the
//! `FakeAudio` tracks that carry them.

use super::fake_camera::audio::aac_hbr_packets;
use super::fake_camera::FakeAudio;
use std::sync::OnceLock;

/// Five seconds of a 440 Hz sine as 20 ms packets of `encoder` (mulawenc, alawenc, avenc_g726) and its
/// payloader, given payload type `pt`.
pub fn g711(encoder: &str, payloader: &str, pt: u8) -> Vec<Vec<u8>> {
    super::pull_all(&format!(
        "audiotestsrc num-buffers=250 samplesperbuffer=160 freq=440 ! audio/x-raw,rate=8000,channels=1 \
         ! {encoder} ! {payloader} pt={pt} ! appsink name=sink sync=false"
    ))
}

/// Their clock rate and how long they last in its ticks: 250 × 160 samples.
pub const G711_LAP: (u32, u64) = (8000, 250 * 160);

/// 79 AAC access units of 1024 samples.
pub const AAC_LAP: u64 = 79 * 1024;

pub fn pcmu_pt0() -> &'static [Vec<u8>] {
    static P: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    P.get_or_init(|| g711("mulawenc", "rtppcmupay", 0))
}

pub fn pcmu_pt8() -> &'static [Vec<u8>] {
    static P: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    P.get_or_init(|| g711("mulawenc", "rtppcmupay", 8))
}

/// Five seconds of 16 kHz mono AAC-LC access units from avenc_aac (AudioSpecificConfig 0x1408).
pub fn aac_units() -> &'static [Vec<u8>] {
    static P: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    P.get_or_init(|| {
        super::pull_all(
            "audiotestsrc num-buffers=79 samplesperbuffer=1024 freq=440 ! audio/x-raw,rate=16000,channels=1 \
             ! avenc_aac ! audio/mpeg,stream-format=raw ! appsink name=sink sync=false",
        )
    })
}

/// The AAC units packed three to a packet, every seventh alone and split over two packets.
pub fn aac_packed(pt: u8) -> &'static [Vec<u8>] {
    static P96: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    static P0: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    let cell = if pt == 0 { &P0 } else { &P96 };
    cell.get_or_init(|| aac_hbr_packets(aac_units(), pt, 3, 7))
}

pub const AAC_FMTP: &str =
    "streamtype=5;profile-level-id=15;mode=AAC-hbr;config=1408;sizelength=13;\
                        indexlength=3;indexdeltalength=3";

pub fn aac(pt: u8) -> FakeAudio {
    let attributes: &'static str = if pt == 0 {
        // A camera putting AAC on payload type 0, named by its rtpmap (retina#98's camera).
        Box::leak(format!("a=rtpmap:0 MPEG4-GENERIC/16000/1\r\na=fmtp:0 {AAC_FMTP}\r\n").into())
    } else {
        Box::leak(
            format!("a=rtpmap:{pt} MPEG4-GENERIC/16000/1\r\na=fmtp:{pt} {AAC_FMTP}\r\n").into(),
        )
    };
    FakeAudio::new(pt, attributes, (16000, AAC_LAP), aac_packed(pt))
}

/// Five seconds of the sine as G.726 at `kbits` in 20 ms packets, packed in the RFC 3551 order or, with
/// `aal2`, in the AAL2 order (rtpg726pay's `force-aal2`).
pub fn g726(kbits: u32, aal2: bool) -> &'static [Vec<u8>] {
    static RFC_16: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    static AAL2_32: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    let cell = if aal2 { &AAL2_32 } else { &RFC_16 };
    cell.get_or_init(|| {
        g711(
            &format!("avenc_g726 bitrate={}", kbits * 1000),
            &format!("rtpg726pay force-aal2={aal2} max-ptime=20000000"),
            97,
        )
    })
}

pub fn pcmu() -> FakeAudio {
    FakeAudio::new(0, "a=rtpmap:0 PCMU/8000\r\n", G711_LAP, pcmu_pt0())
}

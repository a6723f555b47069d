use super::*;
use crate::au::Depacketize;
use crate::audio::frames::AudioDepay;
use crate::rtsp::sdp::parse;

/// rtpmp4apay's StreamMuxConfig for 44.1 kHz stereo AAC LC: 44 bits.
const CONFIG: &str = "400024203fc0";
const CONFIG_BITS: usize = 44;

fn depay(cpresent: bool) -> AudioDepay<Latm> {
    let sdp = format!(
        "m=audio 0 RTP/AVP 96\na=rtpmap:96 MP4A-LATM/44100/2\na=fmtp:96 cpresent={};config={CONFIG}\n",
        u8::from(cpresent)
    );
    let d = parse(sdp.as_bytes(), "rtsp://h/").unwrap();
    let params = LatmParams::from_media(&d.media[0], 96).unwrap();
    AudioDepay::new(Latm::new(params, 44100))
}

fn packet(seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, if marker { 0xe0 } else { 0x60 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 1]);
    p.extend_from_slice(payload);
    p
}

/// PayloadLengthInfo and the frame: `len` bytes of `fill`.
fn frame(len: usize, fill: u8) -> Vec<u8> {
    let mut out = vec![255; len / 255];
    out.push((len % 255) as u8);
    out.extend(std::iter::repeat_n(fill, len));
    out
}

fn push(d: &mut AudioDepay<Latm>, p: &[u8]) {
    d.push(&RtpPacket::parse(p).unwrap(), false);
}

/// (RTP time, as the packet's 32 bits; length; first byte; DISCONT) of each frame out.
fn drain(d: &mut AudioDepay<Latm>) -> Vec<(u64, usize, u8, bool)> {
    std::iter::from_fn(|| d.pop())
        .map(|au| {
            (
                au.rtp_ts & 0xffff_ffff,
                au.data.len(),
                au.data[0],
                au.discont,
            )
        })
        .collect()
}

#[test]
fn elements_whole_fragmented_and_several_per_packet() {
    let mut d = depay(false);
    push(&mut d, &packet(1, 1000, true, &frame(300, 1)));
    assert_eq!(drain(&mut d), [(1000, 300, 1, false)]);
    // One element over two packets of the same timestamp.
    let f = frame(700, 2);
    push(&mut d, &packet(2, 2024, false, &f[..400]));
    assert!(drain(&mut d).is_empty());
    push(&mut d, &packet(3, 2024, true, &f[400..]));
    assert_eq!(drain(&mut d), [(2024, 700, 2, false)]);
    // Two elements in one packet: the second a frame later.
    let mut two = frame(10, 3);
    two.extend(frame(20, 4));
    push(&mut d, &packet(4, 3048, true, &two));
    assert_eq!(drain(&mut d), [(3048, 10, 3, false), (4072, 20, 4, false)]);
    // A fragment whose last part never came: dropped, the next element comes with DISCONT.
    push(&mut d, &packet(5, 5096, false, &f[..400]));
    push(&mut d, &packet(7, 6120, true, &frame(5, 5)));
    assert_eq!(drain(&mut d), [(6120, 5, 5, true)]);
    // A length past the packet: dropped.
    push(&mut d, &packet(8, 7144, true, &[200, 1, 2]));
    assert!(drain(&mut d).is_empty());
    assert_eq!(d.frames.stats.malformed, 2);
}

/// Bits written most significant first.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    bits: usize,
}

impl BitWriter {
    fn put(&mut self, value: u64, n: usize) {
        for i in (0..n).rev() {
            if self.bits.is_multiple_of(8) {
                self.bytes.push(0);
            }
            if (value >> i) & 1 == 1 {
                *self.bytes.last_mut().unwrap() |= 0x80 >> (self.bits % 8);
            }
            self.bits += 1;
        }
    }

    fn config(&mut self, hex: &str) {
        let bytes = crate::audio::aac_config::decode_hex(hex).unwrap();
        for i in 0..CONFIG_BITS {
            self.put(u64::from(bytes[i / 8] >> (7 - i % 8) & 1), 1);
        }
    }
}

#[test]
fn in_band_config_then_frames_at_any_bit_offset() {
    let mut d = depay(true);
    // useSameStreamMux 0, the StreamMuxConfig, a 3-byte frame: at bit 45.
    let mut w = BitWriter::default();
    w.put(0, 1);
    w.config(CONFIG);
    w.put(3, 8);
    for b in [0xa1, 0xa2, 0xa3] {
        w.put(b, 8);
    }
    push(&mut d, &packet(1, 0, true, &w.bytes));
    let au = d.pop().unwrap();
    assert_eq!(au.data, vec![0xa1, 0xa2, 0xa3]);
    // useSameStreamMux 1: the frame one bit in.
    let mut w = BitWriter::default();
    w.put(1, 1);
    w.put(2, 8);
    w.put(0xb1b2, 16);
    push(&mut d, &packet(2, 1024, true, &w.bytes));
    assert_eq!(d.pop().unwrap().data, vec![0xb1, 0xb2]);
    // Another configuration in band (48 kHz): warned once, dropped.
    let mut w = BitWriter::default();
    w.put(0, 1);
    w.config("400023203fc0");
    w.put(1, 8);
    w.put(0xcc, 8);
    push(&mut d, &packet(3, 2048, true, &w.bytes));
    push(&mut d, &packet(4, 3072, true, &w.bytes));
    assert!(d.pop().is_none());
    assert_eq!(d.frames.warnings.len(), 1, "{:?}", d.frames.warnings);
}

#[test]
fn he_aac_frames_last_twice_the_core_frame_at_the_output_rate() {
    // HE-AAC signalled explicitly (object type 5): 24 kHz core, 48 kHz out, AAC LC under it; the RTP
    // clock at 48 kHz: 2048 ticks a frame.
    let mut w = BitWriter::default();
    // version 0, allStreamsSameTimeFraming 1, one sub-frame, program and layer.
    w.put(0x2000, 15);
    // ASC: aot 5, core rate index 6 (24 kHz), channels 2, extension rate index 3 (48 kHz), aot 2,
    // GASpecificConfig 000.
    w.put(5, 5);
    w.put(6, 4);
    w.put(2, 4);
    w.put(3, 4);
    w.put(2, 5);
    w.put(0, 3);
    w.put(0, 3); // frameLengthType
    w.put(0xff, 8);
    w.put(0, 2);
    let hex: String = w.bytes.iter().map(|b| format!("{b:02x}")).collect();
    let sdp = format!(
        "m=audio 0 RTP/AVP 96\na=rtpmap:96 MP4A-LATM/48000/2\na=fmtp:96 cpresent=0;config={hex}\n"
    );
    let desc = parse(sdp.as_bytes(), "rtsp://h/").unwrap();
    let params = LatmParams::from_media(&desc.media[0], 96).unwrap();
    assert_eq!(params.mux.asc.sample_rate, Some(24000));
    assert_eq!(params.mux.config.len(), 4, "28 bits of AudioSpecificConfig");
    let mut d = AudioDepay::new(Latm::new(params, 48000));
    push(&mut d, &packet(1, 0, true, &frame(4, 1)));
    assert_eq!(d.pop().unwrap().duration, Some(2048));
}

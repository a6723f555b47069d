//! RFC 3640 packets packed by hand: several AUs per packet, a fragmented AU, loss inside a fragment,
//! interleaving, and bad headers.

use super::*;
use crate::au::Depacketize;
use crate::audio::frames::AudioDepay;
use crate::rtsp::sdp::parse;

fn depay(fmtp: &str) -> AudioDepay<Rfc3640> {
    let sdp = format!("m=audio 0 RTP/AVP 97\na=rtpmap:97 MPEG4-GENERIC/16000\na=fmtp:97 {fmtp}\n");
    let d = parse(sdp.as_bytes(), "rtsp://h/").unwrap();
    let p = AacParams::from_media(&d.media[0], 97, 16000).unwrap();
    AudioDepay::new(Rfc3640::new(p, 16000))
}

const HBR: &str = "mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1408";

/// An RTP packet with AAC-hbr AU headers for `aus` (size, index) and their bytes.
fn hbr(seq: u16, ts: u32, marker: bool, headers: &[(usize, u32)], data: &[u8]) -> Vec<u8> {
    let mut p = vec![
        0x80,
        97 | if marker { 0x80 } else { 0 },
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        7,
    ];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&((headers.len() * 16) as u16).to_be_bytes());
    for &(size, index) in headers {
        p.extend_from_slice(&(((size as u16) << 3) | index as u16).to_be_bytes());
    }
    p.extend_from_slice(data);
    p
}

fn push(d: &mut AudioDepay<Rfc3640>, p: &[u8], lost: bool) {
    d.push(&RtpPacket::parse(p).unwrap(), lost);
}

fn all(d: &mut AudioDepay<Rfc3640>) -> Vec<crate::au::AccessUnit> {
    std::iter::from_fn(|| d.pop()).collect()
}

#[test]
fn several_aus_in_one_packet_get_their_own_times() {
    let mut d = depay(HBR);
    let data: Vec<u8> = [vec![1; 10], vec![2; 20], vec![3; 5]].concat();
    push(
        &mut d,
        &hbr(1, 5000, true, &[(10, 0), (20, 0), (5, 0)], &data),
        false,
    );
    let out = all(&mut d);
    assert_eq!(out.len(), 3);
    let base = 1u64 << 32;
    let times: Vec<u64> = out.iter().map(|f| f.rtp_ts - base).collect();
    assert_eq!(times, [5000, 6024, 7048]);
    assert_eq!(out[1].data, vec![2u8; 20]);
    assert!(out.iter().all(|f| f.duration == Some(1024) && f.keyframe));
}

#[test]
fn a_fragmented_au_is_gathered_and_a_lost_fragment_drops_it() {
    let mut d = depay(HBR);
    push(&mut d, &hbr(1, 0, false, &[(30, 0)], &[7; 12]), false);
    assert!(d.pop().is_none());
    push(&mut d, &hbr(2, 0, false, &[(30, 0)], &[7; 12]), false);
    push(&mut d, &hbr(3, 0, true, &[(30, 0)], &[7; 6]), false);
    let out = all(&mut d);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].data, vec![7u8; 30]);
    // The middle fragment lost: the AU is dropped, the next one carries DISCONT.
    push(&mut d, &hbr(4, 1024, false, &[(30, 0)], &[7; 12]), false);
    push(&mut d, &hbr(6, 1024, true, &[(30, 0)], &[7; 6]), true);
    push(&mut d, &hbr(7, 2048, true, &[(4, 0)], &[9; 4]), false);
    let out = all(&mut d);
    assert_eq!(out.len(), 1);
    assert!(out[0].discont);
    assert_eq!(out[0].data, vec![9u8; 4]);
}

#[test]
fn interleaving_is_refused_once_with_a_warning() {
    let mut d = depay(HBR);
    push(
        &mut d,
        &hbr(1, 0, true, &[(2, 0), (2, 1)], &[1, 1, 2, 2]),
        false,
    );
    push(
        &mut d,
        &hbr(2, 0, true, &[(2, 0), (2, 2)], &[1, 1, 2, 2]),
        false,
    );
    assert!(d.pop().is_none());
    let w = d.take_warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("interleaves"));
}

#[test]
fn broken_headers_are_counted_not_trusted() {
    let mut d = depay(HBR);
    // Headers claim 16 AUs' worth of bits with 2 bytes given; an AU larger than the packet with the
    // marker set; an empty payload.
    let mut short = hbr(1, 0, true, &[(2, 0)], &[1, 1]);
    short[12..14].copy_from_slice(&256u16.to_be_bytes());
    push(&mut d, &short, false);
    push(&mut d, &hbr(2, 0, true, &[(200, 0)], &[1; 10]), false);
    push(
        &mut d,
        &hbr(3, 0, true, &[(200, 0), (2, 0)], &[1; 10]),
        false,
    );
    let mut empty = hbr(4, 0, true, &[], &[]);
    empty.truncate(12);
    push(&mut d, &empty, false);
    assert!(d.pop().is_none());
    assert_eq!(d.stats().0.malformed, 4);
    // 70 AU headers: more than MAX_AUS.
    let many: Vec<(usize, u32)> = vec![(1, 0); 70];
    push(&mut d, &hbr(5, 0, true, &many, &[0; 70]), false);
    assert_eq!(d.stats().0.malformed, 5);
}

#[test]
fn lbr_headers() {
    let mut d = depay("mode=AAC-lbr;sizelength=6;indexlength=2;indexdeltalength=2;config=1408");
    // Two 8-bit headers: size 3 index 0, size 2 delta 0.
    let mut p = vec![0x80, 0x80 | 97, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7];
    p.extend_from_slice(&16u16.to_be_bytes());
    p.extend_from_slice(&[3 << 2, 2 << 2, 5, 5, 5, 6, 6]);
    push(&mut d, &p, false);
    let out = all(&mut d);
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].data, vec![6u8, 6]);
}

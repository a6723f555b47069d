//! Entry points for the fuzz targets in `fuzz/`, kept in the library so that the test suite can replay the
//! seed corpus through exactly the same code (`tests/fuzz_corpus.rs`) without a fuzzer.

use crate::h264::params;
use crate::rtp::packet::RtpPacket;
use crate::rtp::rtcp::find_sender_report;
use crate::rtsp::headers;
use crate::rtsp::message::{parse_message, Message, MessageReader};
use crate::rtsp::sdp;
use crate::stream::inbound::Inbound;
use crate::stream::Codec;
use std::time::{Duration, Instant};

/// RTSP reader fed in pieces: the first byte picks where the input is split, as reads from a socket do;
/// one incremental reader reads them, and must agree with a fresh parse of the same bytes.
pub fn rtsp_stream(data: &[u8]) {
    // The same bytes as an HTTP tunnel's GET reply.
    let _ = crate::net::http_tunnel::reply_head(data);
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let cut = usize::from(split) % (data.len() + 1);
    let mut buf = Vec::new();
    let mut reader = MessageReader::default();
    for piece in [&data[..cut], &data[cut..]] {
        buf.extend_from_slice(piece);
        let mut used = 0;
        loop {
            let incremental = reader.next(&buf[used..]);
            assert_eq!(incremental, parse_message(&buf[used..]));
            let Ok(Some((msg, len))) = incremental else {
                break;
            };
            assert!(len > 0 && used + len <= buf.len());
            if let Message::Data { payload, .. } = &msg {
                assert!(used + payload.end <= buf.len());
            }
            if let Message::Response(r) = &msg {
                for (name, value) in r.headers.iter() {
                    match name.to_ascii_lowercase().as_str() {
                        "session" => drop(headers::parse_session(value)),
                        "transport" => drop(headers::parse_transport(value)),
                        "rtp-info" => drop(headers::parse_rtp_info(value)),
                        _ => {}
                    }
                }
            }
            used += len;
        }
        buf.drain(..used);
    }
}

pub fn sdp(data: &[u8]) {
    if let Ok(desc) = sdp::parse(data, "rtsp://127.0.0.1/s") {
        use crate::stream::selection::{select, Choice, StreamChoice};
        let _ = select(&desc, &Choice::default());
        let _ = select(
            &desc,
            &Choice {
                video_codec: Some(Codec::H265),
                streams: StreamChoice::All,
            },
        );
    }
}

/// RTP and RTCP parsing; then the input as RTCP fed to a stream (sender reports move its wall clock,
/// XR replies its round-trip time), and as (RTP time, NTP time) records fed to a wall clock directly,
/// each followed by a frame-time query: no panic, no overflow, whatever the reports say.
pub fn rtp_rtcp(data: &[u8]) {
    use crate::rtp::wall_clock::WallClock;
    let _ = RtpPacket::parse(data);
    let _ = find_sender_report(data);
    let _ = crate::rtp::rtcp::has_bye_for(data, 0x1234_5678);
    let _ = crate::rtp::rtcp::find_dlrr_for(data, 0x1234_5678);
    let mut inbound = Inbound::new(Duration::from_millis(20), false);
    inbound.set_format(96, 90_000);
    inbound.set_ssrc(Some(0x1234_5678));
    let now = Instant::now();
    inbound.on_rtcp(data, 0x1234_5678, now);
    let _ = inbound.ntp_of(0);
    let mut clock = WallClock::new(90_000);
    for (i, record) in data.chunks_exact(12).enumerate() {
        let rtp = u32::from_be_bytes([record[0], record[1], record[2], record[3]]);
        let ntp = u64::from_be_bytes(record[4..12].try_into().expect("8 bytes"));
        if i % 3 == 2 {
            clock.on_exact(rtp, ntp);
        } else {
            clock.on_sender_report(rtp, ntp);
        }
        let _ = clock.ntp_of(rtp.wrapping_add(3000));
    }
}

/// A sequence of RTP packets, each as `[len: u16 BE][advance ms: u8][packet]`, through the reorder window
/// and the H.264 depacketizer.
pub fn depacketizer(data: &[u8]) {
    packets_through(data, None);
}

/// The same for the H.265 depacketizer; the first byte's second bit turns DONL/DOND on.
pub fn h265_depacketizer(data: &[u8]) {
    let don = data.first().is_some_and(|b| b & 2 != 0);
    packets_through(data, Some(don));
}

fn packets_through(data: &[u8], h265_don: Option<bool>) {
    let mut inbound = Inbound::new(
        Duration::from_millis(20),
        data.first().is_some_and(|b| b & 1 != 0),
    );
    if let Some(don) = h265_don {
        inbound.set_codec(Codec::H265, don);
    }
    inbound.set_format(96, 90_000);
    let mut now = Instant::now();
    let mut rest = data.get(1..).unwrap_or_default();
    while rest.len() >= 3 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        now += Duration::from_millis(u64::from(rest[2]));
        let end = (3 + len).min(rest.len());
        inbound.on_packet(&rest[3..end], now);
        while let Some(au) = inbound.pop() {
            assert!(au.data.starts_with(&[0, 0, 0, 1]));
        }
        rest = &rest[end..];
    }
    inbound.release(now + Duration::from_secs(1), true);
    while inbound.pop().is_some() {}
}

pub fn sps(data: &[u8]) {
    use crate::au::syntax::{NalSyntax, ParamKind};
    use crate::h264::nal::H264;
    let _ = params::sps_info(data);
    let _ = params::decode_sprop(&String::from_utf8_lossy(data));
    let _ = H264::classify(data);
    let _ = H264::param_ids(ParamKind::Sps, data);
    let _ = H264::param_ids(ParamKind::Pps, data);
    let _ = H264::slice_pps_id(data);
}

/// H.265 parameter sets: the SPS parser (scuffle-h265, through our guard), ids, sprop decoding.
pub fn h265_sps(data: &[u8]) {
    use crate::au::syntax::{NalSyntax, ParamKind};
    use crate::h265::nal::H265;
    let _ = crate::h265::params::sps_info(data);
    let _ = crate::h265::params::decode_sprop(&[&String::from_utf8_lossy(data)]);
    let _ = H265::classify(data);
    for kind in [ParamKind::Vps, ParamKind::Sps, ParamKind::Pps] {
        let _ = H265::param_ids(kind, data);
    }
    let _ = H265::slice_pps_id(data);
}

/// A fuzz entry point.
pub type Target = fn(&[u8]);

/// Every target with its name, for the corpus replay.
pub const TARGETS: &[(&str, Target)] = &[
    ("rtsp_stream", rtsp_stream),
    ("sdp", sdp),
    ("rtp_rtcp", rtp_rtcp),
    ("depacketizer", depacketizer),
    ("sps", sps),
    ("h265_depacketizer", h265_depacketizer),
    ("h265_sps", h265_sps),
];

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
                backchannel: true,
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
    feed(&mut inbound, data.get(1..).unwrap_or_default(), |au| {
        assert!(au.starts_with(&[0, 0, 0, 1]))
    });
}

/// Feeds `[len: u16 BE][advance ms: u8][packet]` records to `inbound`, checking every unit out.
fn feed(inbound: &mut Inbound, mut rest: &[u8], check: impl Fn(&[u8])) {
    let mut now = Instant::now();
    while rest.len() >= 3 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        now += Duration::from_millis(u64::from(rest[2]));
        let end = (3 + len).min(rest.len());
        inbound.on_packet(&rest[3..end], now);
        while let Some(au) = inbound.pop() {
            check(&au.data);
        }
        rest = &rest[end..];
    }
    inbound.release(now + Duration::from_secs(1), true);
    while inbound.pop().is_some() {}
}

/// The media beside the video the element depacketizes, on payload type 96: AAC-hbr, AAC-lbr, PCMU,
/// L16, Opus and ONVIF metadata.
const SIDE_MEDIA: [&str; 10] = [
    "m=audio 0 RTP/AVP 96\na=rtpmap:96 MPEG4-GENERIC/16000/1\na=fmtp:96 mode=AAC-hbr;config=1408;sizelength=13;indexlength=3;indexdeltalength=3\n",
    "m=audio 0 RTP/AVP 96\na=rtpmap:96 MPEG4-GENERIC/8000/1\na=fmtp:96 mode=AAC-lbr;config=1588;sizelength=6;indexlength=2;indexdeltalength=2\n",
    "m=audio 0 RTP/AVP 96\na=rtpmap:96 PCMU/8000\n",
    "m=audio 0 RTP/AVP 96\na=rtpmap:96 L16/44100/2\n",
    "m=audio 0 RTP/AVP 96\na=rtpmap:96 opus/48000/2\n",
    "m=application 0 RTP/AVP 96\na=rtpmap:96 vnd.onvif.metadata/90000\n",
    "m=audio 0 RTP/AVP 96\na=rtpmap:96 G726-24/8000\n",
    "m=audio 0 RTP/AVP 96\na=rtpmap:96 AAL2-G726-40/8000\n",
    "m=audio 0 RTP/AVP 96\na=rtpmap:96 MP4A-LATM/44100/2\na=fmtp:96 cpresent=0;config=400024203fc0\n",
    "m=audio 0 RTP/AVP 96\na=rtpmap:96 MP4A-LATM/44100/2\na=fmtp:96 cpresent=1;config=400024203fc0\n",
];

/// The spec of the stream beside a video that `media` describes, as the element would choose it.
fn side_spec(media: &str) -> Option<crate::stream::spec::StreamSpec> {
    use crate::stream::selection::{select, Choice, StreamChoice};
    let sdp = format!("v=0\nm=video 0 RTP/AVP 97\na=rtpmap:97 H264/90000\n{media}");
    let desc = sdp::parse(sdp.as_bytes(), "rtsp://127.0.0.1/s").ok()?;
    let choice = Choice {
        video_codec: None,
        streams: StreamChoice::All,
        backchannel: false,
    };
    select(&desc, &choice).ok()?.streams.into_iter().nth(1)
}

/// The first byte picks an audio or metadata format (`SIDE_MEDIA`); the rest are packets as for
/// `depacketizer`, through the reorder window and that format's depacketizer.
pub fn side_depacketizer(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let media = SIDE_MEDIA[usize::from(pick) % SIDE_MEDIA.len()];
    let spec = side_spec(media).expect("a format the element plays");
    let mut inbound = Inbound::new(Duration::from_millis(20), false);
    inbound.set_stream(&spec);
    feed(&mut inbound, rest, |frame| {
        assert!(frame.len() <= crate::onvif::metadata::MAX_DOCUMENT)
    });
}

/// AAC's fmtp from the input: its bytes as the AudioSpecificConfig (`config=` in hex), the first
/// three as AU-header sizes, and `mode` from the fourth: parsed as the element does when it chooses
/// the stream (the AudioSpecificConfig's rate and channels for the caps).
pub fn aac_config(data: &[u8]) {
    let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
    let size = |i: usize| data.get(i).map_or(0, |b| b % 40);
    let mode = if data.get(3).is_some_and(|b| b & 1 != 0) {
        "AAC-lbr"
    } else {
        "AAC-hbr"
    };
    let media = format!(
        "m=audio 0 RTP/AVP 96\na=rtpmap:96 MPEG4-GENERIC/48000/2\na=fmtp:96 mode={mode};config={hex};\
         sizelength={};indexlength={};indexdeltalength={}\n",
        size(0),
        size(1),
        size(2)
    );
    if let Some(spec) = side_spec(&media) {
        let params = spec.aac.expect("AAC parameters");
        assert!(params.channels > 0 && params.sample_rate > 0);
    }
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

/// An MP4A-LATM fmtp from the input: `cpresent` from the first byte, the rest as the StreamMuxConfig
/// (`config=` in hex), parsed as the element does when it chooses the stream; what it accepts
/// depacketizes a packet made of the same bytes.
pub fn latm_config(data: &[u8]) {
    let Some((&first, config)) = data.split_first() else {
        return;
    };
    let hex: String = config.iter().map(|b| format!("{b:02x}")).collect();
    let media = format!(
        "m=audio 0 RTP/AVP 96\na=rtpmap:96 MP4A-LATM/48000/2\na=fmtp:96 cpresent={};config={hex}\n",
        first & 1
    );
    if let Some(spec) = side_spec(&media) {
        let params = spec.latm.as_ref().expect("LATM parameters");
        assert!(!params.mux.config.is_empty());
        let mut inbound = Inbound::new(Duration::from_millis(20), false);
        inbound.set_stream(&spec);
        let mut packet = vec![0x80, 0xe0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        packet.extend_from_slice(config);
        let mut framed = (packet.len() as u16).to_be_bytes().to_vec();
        framed.push(0);
        framed.extend_from_slice(&packet);
        feed(&mut inbound, &framed, |_| {});
    }
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
    ("side_depacketizer", side_depacketizer),
    ("aac_config", aac_config),
    ("latm_config", latm_config),
];

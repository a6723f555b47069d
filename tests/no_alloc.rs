//! No heap allocation per packet, nor per access unit, in steady state: a counting allocator watches
//! this test's thread while packets go through the socket loop (against the fake camera) and the
//! depacketizers, video and audio. The access units' bytes come from each stream's ring
//! (`au/picture_ring.rs`), so glibc's heaps never see picture-sized blocks come and go.

mod common;

use common::fake_camera::{packets, FakeCamera, Script};
use gstrustrtsp::net::epoll::Waker;
use gstrustrtsp::net::session_client::{ClientConfig, SessionClient};
use gstrustrtsp::rtsp::url::RtspUrl;
use gstrustrtsp::stream::inbound::Inbound;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(|c| c.get())
}

/// Feeds `pkts` through `inbound` and checks the second half allocates neither per packet nor per
/// access unit.
fn allocates_per_access_unit(mut inbound: Inbound, pkts: &[Vec<u8>]) {
    inbound.set_format(96, 90_000);
    let t = Instant::now();
    // Warm up: buffers reach their working sizes.
    for p in &pkts[..pkts.len() / 2] {
        inbound.on_packet(p, t);
        while inbound.pop().is_some() {}
    }
    let before = allocs();
    let mut aus = 0u64;
    let rest = &pkts[pkts.len() / 2..];
    for p in rest {
        inbound.on_packet(p, t);
        while inbound.pop().is_some() {
            aus += 1;
        }
    }
    let n = allocs() - before;
    // The pictures' bytes come from the stream's ring (`au/picture_ring.rs`), none from the heap:
    // a handful of allocations at most, for the odd keyframe's mapping.
    assert!(
        n <= 5,
        "{n} allocations for {} packets, {aus} access units",
        rest.len()
    );
    assert!(
        (rest.len() as u64) > 2 * aus,
        "test needs several packets per access unit"
    );
}

#[test]
fn depacketizer_allocates_per_access_unit_not_per_packet() {
    allocates_per_access_unit(Inbound::new(Duration::from_millis(50), false), packets());
}

#[test]
fn h265_depacketizer_allocates_per_access_unit_not_per_packet() {
    use common::fake_camera::h265_packets::{encode, packetize, Packing};
    let (pkts, _) = packetize(
        &encode(120),
        Packing {
            mtu: 400,
            params_in_one_ap: true,
            ..Default::default()
        },
    );
    // SSRC and sequence numbers as the camera would send them.
    let pkts: Vec<Vec<u8>> = pkts
        .into_iter()
        .enumerate()
        .map(|(i, mut p)| {
            p[2..4].copy_from_slice(&(i as u16).to_be_bytes());
            p
        })
        .collect();
    let mut inbound = Inbound::new(Duration::from_millis(50), false);
    inbound.set_codec(gstrustrtsp::stream::Codec::H265, false);
    allocates_per_access_unit(inbound, &pkts);
}

/// The stream beside an H.264 video that SDP media section `media` describes, as the element sets it up.
fn audio_inbound(media: &str) -> Inbound {
    use gstrustrtsp::stream::selection::{select, Choice, StreamChoice};
    let sdp = format!("v=0\nm=video 0 RTP/AVP 97\na=rtpmap:97 H264/90000\n{media}");
    let desc = gstrustrtsp::rtsp::sdp::parse(sdp.as_bytes(), "rtsp://127.0.0.1/s").unwrap();
    let choice = Choice {
        video_codec: None,
        streams: StreamChoice::All,
        backchannel: false,
    };
    let spec = select(&desc, &choice).unwrap().streams.remove(1);
    let mut inbound = Inbound::new(Duration::from_millis(50), false);
    inbound.set_stream(&spec);
    inbound
}

/// Feeds `pkts` (numbered here) through `inbound`; past the first half, no allocation per frame: the
/// frames' bytes come from the stream's ring.
fn audio_allocates_per_frame(mut inbound: Inbound, mut pkts: Vec<Vec<u8>>, context: &str) {
    for (i, p) in pkts.iter_mut().enumerate() {
        p[2..4].copy_from_slice(&(i as u16).to_be_bytes());
        p[8..12].copy_from_slice(&0x0a0d_0001u32.to_be_bytes());
    }
    let t = Instant::now();
    let half = pkts.len() / 2;
    for p in &pkts[..half] {
        inbound.on_packet(p, t);
        while inbound.pop().is_some() {}
    }
    let before = allocs();
    let mut frames = 0u64;
    for p in &pkts[half..] {
        inbound.on_packet(p, t);
        while inbound.pop().is_some() {
            frames += 1;
        }
    }
    let n = allocs() - before;
    assert!(frames > 50, "{context}: {frames} frames");
    assert!(
        n <= 5,
        "{context}: {n} allocations for {} packets, {frames} frames",
        pkts.len() - half
    );
}

/// An RTP packet of payload type 96 at `ts` (numbered later).
fn rtp(ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 96 | if marker { 0x80 } else { 0 }, 0, 0];
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&[0; 4]);
    p.extend_from_slice(payload);
    p
}

#[test]
fn audio_depacketizers_allocate_per_frame_not_per_packet() {
    use common::fake_camera::audio::aac_hbr_packets;
    // AAC (RFC 3640): three frames a packet, every seventh split over two packets.
    let aus: Vec<Vec<u8>> = (0..600).map(|i| vec![i as u8; 200 + i % 50]).collect();
    audio_allocates_per_frame(
        audio_inbound(
            "m=audio 0 RTP/AVP 96\na=rtpmap:96 MPEG4-GENERIC/16000/1\n\
             a=fmtp:96 mode=AAC-hbr;config=1408;sizelength=13;indexlength=3;indexdeltalength=3\n",
        ),
        aac_hbr_packets(&aus, 96, 3, 7),
        "AAC",
    );
    // AAC in LATM: an element a packet, every fifth over two packets.
    let mut latm = Vec::new();
    for (i, au) in aus.iter().enumerate() {
        let mut element = vec![255; au.len() / 255];
        element.push((au.len() % 255) as u8);
        element.extend_from_slice(au);
        let ts = (i * 1024) as u32;
        if i % 5 == 0 {
            let (a, b) = element.split_at(element.len() / 2);
            latm.push(rtp(ts, false, a));
            latm.push(rtp(ts, true, b));
        } else {
            latm.push(rtp(ts, true, &element));
        }
    }
    audio_allocates_per_frame(
        audio_inbound(
            "m=audio 0 RTP/AVP 96\na=rtpmap:96 MP4A-LATM/16000/1\n\
             a=fmtp:96 cpresent=0;config=400028103fc0\n",
        ),
        latm,
        "LATM",
    );
    // G.711 and G.726 (repacked to the AAL2 order): a frame a packet.
    let frames = |len: usize, ticks: usize| -> Vec<Vec<u8>> {
        (0..400)
            .map(|i| rtp((i * ticks) as u32, true, &vec![i as u8; len]))
            .collect()
    };
    audio_allocates_per_frame(
        audio_inbound("m=audio 0 RTP/AVP 96\na=rtpmap:96 PCMA/8000\n"),
        frames(160, 160),
        "G.711",
    );
    audio_allocates_per_frame(
        audio_inbound("m=audio 0 RTP/AVP 96\na=rtpmap:96 G726-32/8000\n"),
        frames(80, 160),
        "G.726",
    );
}

#[test]
fn socket_loop_allocates_per_access_unit_not_per_packet() {
    socket_loop_allocates_nothing_per_access_unit(true);
}

#[test]
fn interleaved_socket_loop_allocates_per_access_unit_not_per_packet() {
    socket_loop_allocates_nothing_per_access_unit(false);
}

/// The session client's loop over UDP (`udp`) or interleaved in the RTSP connection.
fn socket_loop_allocates_nothing_per_access_unit(udp: bool) {
    common::init();
    // Sender reports and the ONVIF extension on every frame: the wall-clock path is on the data path.
    let cam = FakeCamera::start(Script {
        sender_reports: Some(Duration::from_millis(500)),
        onvif_ntp: true,
        ..Default::default()
    });
    let cfg = ClientConfig {
        url: RtspUrl::parse(&cam.url()).unwrap(),
        credentials: None,
        user_agent: "alloc-test".into(),
        latency: Duration::from_millis(50),
        stall_timeout: Some(Duration::from_secs(5)),
        udp_timeout: Some(Duration::from_secs(3)),
        udp_port_tries: 20,
        tcp_timeout: Some(Duration::from_secs(10)),
        port_range: None,
        udp,
        multicast: false,
        multicast_iface: None,
        tcp: true,
        do_rtcp: false,
        keep_alive: false,
        wait_for_keyframe: false,
        choice: Default::default(),
        keyframe_wanted: Default::default(),
        nat_dummy_packets: true,
        tls: None,
        backchannel: None,
        replay: None,
        hooks: Default::default(),
        log: Default::default(),
    };
    let mut r = SessionClient::connect(cfg, Waker::new().unwrap()).unwrap();
    for _ in 0..30 {
        r.next_access_unit().unwrap();
    }
    let (before, packets_before) = (allocs(), r.stats().packets);
    let aus = 60u64;
    for _ in 0..aus {
        r.next_access_unit().unwrap();
    }
    let n = allocs() - before;
    let packets = r.stats().packets - packets_before;
    assert!(
        packets > 2 * aus,
        "{packets} packets for {aus} access units"
    );
    assert!(
        n <= 5,
        "{n} allocations for {packets} packets, {aus} access units"
    );
    r.teardown();
}

//! No heap allocation per packet in steady state: a counting allocator watches this test's thread while
//! packets go through the socket loop (against the fake camera) and the depacketizer.

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

/// Feeds `pkts` through `inbound` and checks the second half allocates per access unit, not per packet.
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
    // One buffer per access unit handed downstream, plus the odd regrowth for a large keyframe.
    assert!(
        n <= aus + aus / 5 + 5,
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

#[test]
fn socket_loop_allocates_per_access_unit_not_per_packet() {
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
        timeout: Some(Duration::from_secs(5)),
        udp_timeout: Duration::from_secs(3),
        port_range: None,
        udp: true,
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
        n <= aus + aus / 5 + 5,
        "{n} allocations for {packets} packets, {aus} access units"
    );
    r.teardown();
}

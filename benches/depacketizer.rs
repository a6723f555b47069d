//! The per-packet path alone (RTP parse, SSRC/PT filter, reorder window, FU-A/STAP-A depacketizer,
//! access-unit assembly) on ten seconds of real H.264 packets: access units and bytes per second.
//!
//!     cargo bench --bench depacketizer

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gstrustrtsp::stream::inbound::Inbound;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn depacketize(c: &mut Criterion) {
    let packets = common::fake_camera::packets();
    let bytes: usize = packets.iter().map(Vec::len).sum();
    let mut g = c.benchmark_group("depacketizer");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function(
        format!("{} packets, 300 access units", packets.len()),
        |b| {
            let t = Instant::now();
            b.iter(|| {
                let mut inbound = Inbound::new(Duration::from_millis(50), false);
                inbound.set_format(96, 90_000);
                let mut aus = 0;
                for p in packets {
                    inbound.on_packet(black_box(p), t);
                    while let Some(au) = inbound.pop() {
                        aus += au.data.len();
                    }
                }
                aus
            })
        },
    );
    g.finish();
}

criterion_group!(benches, depacketize);
criterion_main!(benches);

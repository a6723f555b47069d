//! The benchmark's RTSP server: encodes a clip once (videotestsrc snow, so the encoder really spends the
//! bitrate; x264enc or x265enc at bench time, not in real time) and serves
//! its RTP packets, paced by their timestamps, to every client over UDP or TCP — cheap enough that the
//! receivers, not the sender, are what a benchmark measures. 127.0.0.1 only.
//!
//!     cargo run --release --example bench-server -- [--size 1920x1080] [--bitrate 8000] [--seconds 10]
//!         [--codec h264|h265] [--loss-permille 5] [--reorder-permille 10] [--pace-kbps 16000]
//!         [--ethernet-segments 1] [--nodelay 1] [--audio 1]
//!
//! By default a frame's packets go out as one burst, as most cameras send them; `--pace-kbps` spaces
//! them at that rate instead. The camera's TCP (and its TLS front's) uses Nagle's algorithm, as on many
//! cameras, in loopback's 64 KiB segments, or 1448-byte ones as over Ethernet with
//! `--ethernet-segments 1`; `--nodelay 1` turns Nagle's algorithm off (TCP only). On loopback the receiver's acknowledgements then clock the sender: the
//! camera's transmissions run inside the receiver's reads and count as the receiver's CPU time.
//!
//! `--audio 1` adds an AAC track (48 kHz stereo from avenc_aac, an access unit per packet, as cameras
//! send it) beside the video. It also serves the same stream over RTSPS (a TLS front with a self-signed certificate, as cameras
//! have), printed on a second line.

#[path = "../tests/common/mod.rs"]
mod common;

use common::fake_camera::h265_packets::{encode_sized, packetize, Packing};
use common::fake_camera::{encode, FakeCamera, Script};
use std::sync::atomic::{AtomicU64, Ordering};

fn main() {
    let (mut w, mut h, mut kbps, mut secs) = (1920u32, 1080u32, 8000u32, 10u32);
    let mut drop_every = 0usize;
    let (mut loss, mut reorder, mut pace) = (0u64, 0u64, 0u64);
    let mut codec = String::from("h264");
    let mut ethernet_segments = false;
    let mut tcp_nodelay = false;
    let mut audio = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_default();
        match a.as_str() {
            "--size" => {
                let (a, b) = v.split_once('x').expect("--size WxH");
                (w, h) = (a.parse().expect("width"), b.parse().expect("height"));
            }
            "--bitrate" => kbps = v.parse().expect("--bitrate kbit/s"),
            "--seconds" => secs = v.parse().expect("--seconds"),
            "--drop-every" => drop_every = v.parse().expect("--drop-every N"),
            "--loss-permille" => loss = v.parse().expect("--loss-permille N"),
            "--reorder-permille" => reorder = v.parse().expect("--reorder-permille N"),
            "--pace-kbps" => pace = v.parse().expect("--pace-kbps N"),
            "--codec" => codec = v,
            "--ethernet-segments" => ethernet_segments = v == "1",
            "--nodelay" => tcp_nodelay = v == "1",
            "--audio" => audio = v == "1",
            _ => {
                eprintln!("usage: bench-server [--size WxH] [--bitrate KBPS] [--seconds N] [--drop-every N] [--loss-permille N] [--reorder-permille N] [--pace-kbps N] [--codec h264|h265] [--ethernet-segments 0|1] [--nodelay 0|1] [--audio 0|1]");
                std::process::exit(2);
            }
        }
    }
    eprintln!("bench-server: encoding {secs} s of {w}x{h} {codec} at {kbps} kbit/s ...");
    let (packets, h265) = match codec.as_str() {
        "h265" => {
            let pictures = encode_sized(w, h, kbps, secs * 30, "snow");
            let (packets, fmtp) = packetize(
                &pictures,
                Packing {
                    mtu: 1400,
                    ..Default::default()
                },
            );
            (packets, Some(fmtp))
        }
        _ => (encode(w, h, kbps, secs * 30, 1400, "snow"), None),
    };
    let packets: &'static [Vec<u8>] = Box::leak(packets.into_boxed_slice());
    let bytes: usize = packets.iter().map(Vec::len).sum();
    eprintln!(
        "bench-server: {} packets, {:.1} Mbit/s",
        packets.len(),
        bytes as f64 * 8.0 / f64::from(secs) / 1e6
    );
    LOSS_PERMILLE.store(loss, Ordering::Relaxed);
    REORDER_PERMILLE.store(reorder, Ordering::Relaxed);
    let script = Script {
        drop: match (drop_every, loss) {
            (0, 0) => None,
            (0, _) => Some(seeded_loss),
            (n, _) => Some(drop_fn(n)),
        },
        swap: (reorder > 0).then_some(seeded_reorder as fn(usize) -> bool),
        pace_bps: (pace > 0).then_some(pace * 1000),
        encoding: h265.is_some().then_some("H265"),
        fmtp: h265,
        // Sender reports every 5 s, as cameras send them: every receiver maps them to wall-clock time.
        sender_reports: Some(std::time::Duration::from_secs(5)),
        ethernet_segments,
        tcp_nodelay,
        audio: audio.then(|| aac_track(secs)),
        ..Default::default()
    };
    let cam = FakeCamera::start_with(script, packets);
    let cert = common::certs::self_signed();
    let tls = common::tls_proxy::TlsProxy::start_with_segments(
        cam.port,
        &cert.cert_der,
        &cert.key_der,
        ethernet_segments.then_some(common::fake_camera::ETHERNET_MSS),
    );
    println!("serving {}", cam.url());
    println!("serving-tls {}", tls.url());
    loop {
        std::thread::park();
    }
}

/// `secs` of a 440 Hz sine as AAC-LC at 48 kHz stereo (AudioSpecificConfig 0x1190), an access unit per
/// RTP packet.
fn aac_track(secs: u32) -> common::fake_camera::FakeAudio {
    let units = common::pull_all(&format!(
        "audiotestsrc num-buffers={} samplesperbuffer=1024 freq=440 ! audio/x-raw,rate=48000,channels=2 \
         ! avenc_aac ! audio/mpeg,stream-format=raw ! appsink name=sink sync=false",
        secs * 48_000 / 1024
    ));
    let lap = units.len() as u64 * 1024;
    let packets = common::fake_camera::audio::aac_hbr_packets(&units, 97, 1, 0);
    common::fake_camera::FakeAudio::new(
        97,
        "a=rtpmap:97 MPEG4-GENERIC/48000/2\r\na=fmtp:97 streamtype=5;profile-level-id=1;mode=AAC-hbr;\
         config=1190;sizelength=13;indexlength=3;indexdeltalength=3\r\n",
        (48_000, lap),
        Box::leak(packets.into_boxed_slice()),
    )
}

static LOSS_PERMILLE: AtomicU64 = AtomicU64::new(0);
static REORDER_PERMILLE: AtomicU64 = AtomicU64::new(0);

/// Packet `i`'s place in [0, 1000), the same every run (a fixed-seed hash of the index): loss and
/// reordering hit the same packets for every receiver and every run.
fn permille(i: usize, salt: u64) -> u64 {
    let mut x = (i as u64) ^ salt;
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (x ^ (x >> 31)) % 1000
}

fn seeded_loss(i: usize) -> bool {
    permille(i, 0x5eed_0001) < LOSS_PERMILLE.load(Ordering::Relaxed)
}

/// Swaps packet `i` with the next one.
fn seeded_reorder(i: usize) -> bool {
    permille(i, 0x5eed_0002) < REORDER_PERMILLE.load(Ordering::Relaxed)
}

/// 1 % loss (every 100th packet) or 0.5 % (every 200th): the script takes plain function pointers.
fn drop_fn(every: usize) -> fn(usize) -> bool {
    match every {
        100 => |i| i % 100 == 50,
        200 => |i| i % 200 == 100,
        _ => |i| i % 1000 == 500,
    }
}

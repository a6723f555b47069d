//! ONVIF metadata (`vnd.onvif.metadata`) from the fake camera, over UDP and TCP: with `streams=all` a
//! `metadata_0` pad with one buffer per XML document, every document whole and in order; a document
//! missing a packet is left out whole and the next carries DISCONT; by default the metadata is not
//! even set up.

mod common;

use common::av::{record_av, AvRecording};
use common::fake_camera::{FakeAudio, FakeCamera, Script};
use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::Duration;

/// Documents per lap: five seconds at ten a second.
const DOCUMENTS: usize = 50;
/// 90 kHz ticks between documents.
const TICKS: u32 = 9000;

/// Document `n`: an ONVIF MetadataStream with a scene description, about 3 kB.
fn document(n: usize) -> String {
    let objects: String = (0..12)
        .map(|i| {
            format!(
                "<tt:Object ObjectId=\"{i}\"><tt:Appearance><tt:Shape><tt:BoundingBox left=\"{}.0\" \
                 top=\"20.0\" right=\"80.0\" bottom=\"90.0\"/></tt:Shape></tt:Appearance></tt:Object>",
                n % 40
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><tt:MetadataStream xmlns:tt=\"http://www.onvif.org/ver10/schema\">\
         <tt:VideoAnalytics><tt:Frame UtcTime=\"2026-12-06T10:00:00Z\" Document=\"{n}\">{objects}</tt:Frame>\
         </tt:VideoAnalytics></tt:MetadataStream>"
    )
}

/// The documents as RTP packets of at most 1200 bytes each, the marker on a document's last.
fn packets() -> &'static [Vec<u8>] {
    static P: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    P.get_or_init(|| {
        let mut out = Vec::new();
        for n in 0..DOCUMENTS {
            let doc = document(n);
            let chunks: Vec<&[u8]> = doc.as_bytes().chunks(1200).collect();
            for (i, chunk) in chunks.iter().enumerate() {
                let marker = if i + 1 == chunks.len() { 0x80 } else { 0 };
                let mut p = vec![0x80, 107 | marker, 0, 0];
                p.extend_from_slice(&(n as u32 * TICKS).to_be_bytes());
                p.extend_from_slice(&[0; 4]);
                p.extend_from_slice(chunk);
                out.push(p);
            }
        }
        out
    })
}

fn metadata() -> FakeAudio {
    FakeAudio::metadata(
        "a=rtpmap:107 vnd.onvif.metadata/90000\r\n",
        (DOCUMENTS as u64) * u64::from(TICKS),
        packets(),
    )
}

fn record(metadata: FakeAudio, protocols: &str, streams: &str) -> (FakeCamera, AvRecording) {
    common::init();
    let cam = FakeCamera::start(Script {
        metadata: Some(metadata),
        ..Default::default()
    });
    let rec = record_av(
        &cam.url(),
        &[("protocols", protocols), ("streams", streams)],
        90,
        Duration::from_secs(20),
    );
    assert!(rec.errors.is_empty(), "{protocols}: {:?}", rec.errors);
    assert!(rec.no_more_pads, "{protocols}");
    (cam, rec)
}

/// The document numbers of the pad's buffers, each checked to be one whole document.
fn numbers(rec: &AvRecording, protocols: &str) -> Vec<usize> {
    rec.side[0]
        .iter()
        .map(|b| {
            let text = std::str::from_utf8(&b.data).expect("UTF-8 XML");
            let n: usize = text
                .split("Document=\"")
                .nth(1)
                .and_then(|r| r.split('"').next()?.parse().ok())
                .unwrap_or_else(|| panic!("{protocols}: not a document: {text:.80}"));
            assert_eq!(
                text,
                document(n % DOCUMENTS),
                "{protocols}: document {n} whole"
            );
            n
        })
        .collect()
}

fn one_buffer_per_document(protocols: &str) {
    let (cam, rec) = record(metadata(), protocols, "all");
    assert_eq!(rec.side_pads, ["metadata_0"], "{protocols}");
    let caps = rec.side_caps[0].structure(0).unwrap();
    assert_eq!(caps.name(), "application/x-onvif-metadata", "{protocols}");
    assert_eq!(
        caps.get::<&str>("encoding").ok(),
        Some("utf8"),
        "{protocols}"
    );
    let numbers = numbers(&rec, protocols);
    // Ten a second for the three seconds of video.
    assert!(
        numbers.len() >= 25,
        "{protocols}: {} documents",
        numbers.len()
    );
    assert!(
        numbers.windows(2).all(|w| (w[0] + 1) % DOCUMENTS == w[1]),
        "{protocols}: {numbers:?}"
    );
    let pts: Vec<u64> = rec.side[0]
        .iter()
        .map(|b| b.pts.unwrap().nseconds())
        .collect();
    assert!(
        pts.windows(2).all(|w| w[0] < w[1]),
        "{protocols}: PTS increase"
    );
    assert_eq!(cam.shared.count("SETUP"), 2, "{protocols}");
}

fn a_document_missing_a_packet_is_left_out(protocols: &str) {
    // Packet 40 is the head of a document (two packets each): its tail must not come out alone.
    let (cam, rec) = record(
        FakeAudio {
            drop: Some(|i| i == 40),
            ..metadata()
        },
        protocols,
        "all",
    );
    assert_eq!(packets().len(), 2 * DOCUMENTS, "two packets per document");
    assert_eq!(cam.shared.audio_dropped.load(Ordering::SeqCst), 1);
    let numbers = numbers(&rec, protocols);
    let gaps: Vec<usize> = (1..numbers.len())
        .filter(|&i| numbers[i] != numbers[i - 1] + 1)
        .collect();
    assert_eq!(gaps.len(), 1, "{protocols}: {numbers:?}");
    let after = gaps[0];
    assert_eq!(
        (numbers[after - 1], numbers[after]),
        (19, 21),
        "{protocols}: document 20 lost its head"
    );
    assert!(
        rec.side[0][after].flags.contains(gst::BufferFlags::DISCONT),
        "{protocols}"
    );
}

fn not_set_up_by_default(protocols: &str) {
    let (cam, rec) = record(metadata(), protocols, "video-audio");
    assert!(rec.side_pads.is_empty(), "{protocols}");
    assert_eq!(cam.shared.count("SETUP"), 1, "{protocols}");
}

over_udp_and_tcp! {
    one_buffer_per_document => super::one_buffer_per_document;
    a_document_missing_a_packet_is_left_out => super::a_document_missing_a_packet_is_left_out;
    not_set_up_by_default => super::not_set_up_by_default;
}

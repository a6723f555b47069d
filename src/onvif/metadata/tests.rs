use super::*;
use crate::au::Depacketize;
use crate::audio::frames::AudioDepay;

fn packet(ts: u32, marker: bool, payload: &[u8]) -> RtpPacket<'_> {
    RtpPacket {
        marker,
        payload_type: 107,
        sequence: 0,
        timestamp: ts,
        ssrc: 1,
        extension: None,
        payload,
    }
}

fn documents(d: &mut AudioDepay<MetadataDocuments>) -> Vec<(u64, bool, Vec<u8>)> {
    std::iter::from_fn(|| d.pop())
        .map(|au| (au.rtp_ts, au.discont, au.data.to_vec()))
        .collect()
}

#[test]
fn one_buffer_per_document_at_the_marker() {
    let mut d = AudioDepay::new(MetadataDocuments::default());
    d.push(&packet(9000, false, b"<tt:MetadataStream>"), false);
    d.push(&packet(9000, false, b"<tt:Event/>"), false);
    assert!(documents(&mut d).is_empty(), "nothing before the marker");
    d.push(&packet(9000, true, b"</tt:MetadataStream>"), false);
    d.push(&packet(18000, true, b"<tt:MetadataStream/>"), false);
    let docs = documents(&mut d);
    assert_eq!(docs.len(), 2);
    assert_eq!(
        docs[0].2,
        b"<tt:MetadataStream><tt:Event/></tt:MetadataStream>".to_vec()
    );
    assert_eq!(docs[1].0 - docs[0].0, 9000);
    assert!(!docs[0].1 && !docs[1].1);
}

#[test]
fn a_document_missing_a_packet_is_dropped_and_the_next_is_discont() {
    let mut d = AudioDepay::new(MetadataDocuments::default());
    d.push(&packet(1000, false, b"<a>"), false);
    // Lost: the middle of the document; its tail comes.
    d.push(&packet(1000, true, b"</a>"), true);
    assert!(documents(&mut d).is_empty());
    d.push(&packet(2000, true, b"<b/>"), false);
    let docs = documents(&mut d);
    assert_eq!(docs.len(), 1);
    assert_eq!((docs[0].1, &docs[0].2[..]), (true, &b"<b/>"[..]));
}

#[test]
fn after_a_loss_everything_up_to_the_next_marker_is_dropped() {
    let mut d = AudioDepay::new(MetadataDocuments::default());
    d.push(&packet(1000, true, b"<a/>"), false);
    // Lost: a packet at 2000 or at 3000; RTP cannot say which, so the packets up to the next
    // marker may be a tail.
    d.push(&packet(3000, false, b"d>"), true);
    d.push(&packet(3000, true, b"</d>"), false);
    d.push(&packet(4000, false, b"<e>"), false);
    d.push(&packet(4000, true, b"</e>"), false);
    let docs = documents(&mut d);
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[1].2, b"<e></e>".to_vec());
    assert!(docs[1].1, "after a loss: DISCONT");
}

#[test]
fn a_document_without_its_marker_is_dropped_at_the_next_timestamp() {
    let mut d = AudioDepay::new(MetadataDocuments::default());
    d.push(&packet(1000, false, b"<a>"), false);
    d.push(&packet(2000, true, b"<b/>"), false);
    let docs = documents(&mut d);
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].2, b"<b/>".to_vec());
    assert!(docs[0].1);
    assert_eq!(d.stats().0.malformed, 1);
}

#[test]
fn an_endless_document_is_bounded() {
    let mut d = AudioDepay::new(MetadataDocuments::default());
    let chunk = vec![b'x'; 1400];
    for _ in 0..(MAX_DOCUMENT / chunk.len() + 10) {
        d.push(&packet(1000, false, &chunk), false);
    }
    assert!(documents(&mut d).is_empty());
    assert_eq!(d.take_warnings().len(), 1);
    // Its end is dropped with it; the next document is whole.
    d.push(&packet(1000, true, b"xx"), false);
    d.push(&packet(2000, true, b"<b/>"), false);
    let docs = documents(&mut d);
    assert_eq!(docs.len(), 1);
    assert!(docs[0].1);
}

#[test]
fn a_loss_told_apart_from_the_packet_drops_the_tail() {
    // The reorder window gives up on a packet and says so before the next one comes.
    let mut d = AudioDepay::new(MetadataDocuments::default());
    d.push(&packet(1000, false, b"<a>"), false);
    d.lose();
    d.push(&packet(1000, true, b"</a>"), false);
    d.push(&packet(2000, true, b"<b/>"), false);
    let docs = documents(&mut d);
    assert_eq!(docs.len(), 1);
    assert_eq!((docs[0].1, &docs[0].2[..]), (true, &b"<b/>"[..]));
}

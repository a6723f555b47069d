//! Access-unit assembly with H.264 NAL units: camera quirks, parameter sets, keyframes, bounds.

use super::*;
use crate::h264::nal::H264;

fn nal(b: &mut AuBuilder<H264>, ts: u64, bytes: &[u8]) {
    b.begin_nal(ts, &bytes[..1]);
    b.extend(&bytes[1..]);
    b.end_nal();
}

/// Annex-B with 4-byte start codes, as the builder writes it.
pub fn annexb(nals: &[&[u8]]) -> Vec<u8> {
    nals.iter()
        .flat_map(|n| [&START_CODE[..], n].concat())
        .collect()
}

const SPS: &[u8] = &[0x67, 0x42, 0xc0, 0x1e];
const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];

#[test]
fn the_ready_queue_and_capacity_are_bounded() {
    let mut b = AuBuilder::<H264>::new(false);
    nal(&mut b, 0, &[0x65, 1]);
    b.marker();
    // A flood of one-slice pictures that nobody takes: the oldest go, with DISCONT.
    for ts in 1..1000u64 {
        nal(&mut b, ts * 3000, &[0x41, 1]);
        b.marker();
    }
    assert_eq!(b.ready.len(), MAX_READY);
    assert!(b.pop().unwrap().discont);
    // One 8 MiB picture does not make every later buffer start at megabytes.
    let hint = b.capacity_hint;
    nal(&mut b, 4_000_000, &[0x41; MAX_NAL_BYTES]);
    b.marker();
    assert!(
        b.capacity_hint <= hint * 2,
        "{} → {}",
        hint,
        b.capacity_hint
    );
}

#[test]
fn access_unit_buffers_come_in_size_classes_and_keyframes_get_their_room_at_once_and_a_mapping() {
    let mut b = AuBuilder::<H264>::new(false);
    let key = [0x65u8; 150_000];
    let p = [0x41u8; 9_000];
    nal(&mut b, 0, &key);
    b.marker();
    for ts in 1..10u64 {
        nal(&mut b, ts * 3000, &p);
        b.marker();
    }
    let out: Vec<AccessUnit> = std::iter::from_fn(|| b.pop()).collect();
    // The keyframe lives in a mapping of its own, so freeing it leaves no hole in the heap.
    assert!(out[0].data.is_mapped());
    assert!(out[1..].iter().all(|au| !au.data.is_mapped()));
    assert_eq!(
        b.buf.capacity(),
        size_class(b.buf.capacity()),
        "a size class, not the running estimate itself"
    );
    // The next keyframe's first slice: room for the last keyframe and a quarter, in one allocation.
    b.begin_nal(30_000, &key[..1]);
    assert!(b.buf.capacity() >= 150_000 * 5 / 4, "{}", b.buf.capacity());
    let room = b.buf.capacity();
    b.extend(&key[1..]);
    b.end_nal();
    assert_eq!(b.buf.capacity(), room, "filled without growing");
}

#[test]
fn a_high_bitrate_stream_maps_its_keyframes_but_not_every_picture() {
    let mut b = AuBuilder::<H264>::new(false);
    let p = vec![0x41u8; 200_000];
    let key = vec![0x65u8; 1_000_000];
    nal(&mut b, 0, &key);
    b.marker();
    for ts in 1..40u64 {
        nal(&mut b, ts * 3000, &p);
        b.marker();
    }
    nal(&mut b, 40 * 3000, &key);
    b.marker();
    let out: Vec<AccessUnit> = std::iter::from_fn(|| b.pop()).collect();
    assert!(out[0].data.is_mapped() && out[40].data.is_mapped());
    // Once the running estimate knows the stream's pictures, they stay on the heap.
    assert!(out[20..40].iter().all(|au| !au.data.is_mapped()));
}

#[test]
fn waits_for_idr_then_inserts_parameter_sets() {
    let mut b = AuBuilder::<H264>::new(false);
    b.set_parameter_set(SPS);
    b.set_parameter_set(PPS);
    nal(&mut b, 0, &[0x41, 1]);
    b.marker();
    assert_eq!(b.pop(), None, "a P frame first is dropped");
    nal(&mut b, 3000, &[0x65, 2]);
    b.marker();
    let au = b.pop().unwrap();
    assert!(au.keyframe && au.discont);
    assert_eq!(au.data, annexb(&[SPS, PPS, &[0x65, 2]]));
    nal(&mut b, 6000, &[0x41, 3]);
    b.marker();
    let au = b.pop().unwrap();
    assert!(!au.keyframe && !au.discont);
    assert_eq!(au.rtp_ts, 6000);
}

#[test]
fn parameter_sets_with_marker_and_old_timestamp_join_the_idr() {
    // Reolink RLC-822A: SPS (M=1) and PPS at the previous timestamp, IDR at the next.
    let mut b = AuBuilder::<H264>::new(false);
    nal(&mut b, 0, SPS);
    b.marker();
    nal(&mut b, 0, PPS);
    b.marker();
    nal(&mut b, 0, &[0x06, 5, 0x80]);
    b.marker();
    assert_eq!(b.pop(), None);
    nal(&mut b, 3000, &[0x65, 9]);
    b.marker();
    let au = b.pop().unwrap();
    assert_eq!(au.rtp_ts, 3000);
    assert_eq!(
        au.data,
        annexb(&[SPS, PPS, &[0x06, 5, 0x80], &[0x65, 9]]),
        "no extra SPS/PPS when the AU has them"
    );
}

#[test]
fn multi_slice_and_timestamp_change_without_marker() {
    let mut b = AuBuilder::<H264>::new(false);
    nal(&mut b, 0, &[0x65, 1]);
    nal(&mut b, 0, &[0x65, 2]);
    nal(&mut b, 3000, &[0x41, 3]); // no marker on the IDR: the timestamp ends it
    let au = b.pop().unwrap();
    assert_eq!(au.data, annexb(&[&[0x65, 1], &[0x65, 2]]));
    assert!(!b.ended_by_marker());
    b.marker();
    assert_eq!(b.pop().unwrap().rtp_ts, 3000);
    assert!(b.ended_by_marker());
    nal(&mut b, 6000, &[0x41, 4]);
    nal(&mut b, 9000, &[0x41, 5]);
    assert!(
        !b.ended_by_marker(),
        "a camera that stops setting the marker is noticed"
    );
}

#[test]
fn aud_starts_a_new_au_and_parameter_sets_go_after_it() {
    let mut b = AuBuilder::<H264>::new(false);
    b.set_parameter_set(SPS);
    b.set_parameter_set(PPS);
    nal(&mut b, 0, &[0x09, 0x10]);
    nal(&mut b, 0, &[0x65, 1]);
    nal(&mut b, 0, &[0x09, 0x30]);
    let au = b.pop().unwrap();
    assert_eq!(au.data, annexb(&[&[0x09, 0x10], SPS, PPS, &[0x65, 1]]));
}

#[test]
fn trailing_zeros_stripped_and_loss_marks_discont() {
    let mut b = AuBuilder::<H264>::new(false);
    nal(&mut b, 0, &[0x65, 1, 0, 0, 0]);
    b.marker();
    assert_eq!(b.pop().unwrap().data, annexb(&[&[0x65, 1]]));
    b.begin_nal(3000, &[0x41]);
    b.extend(&[7, 7]);
    b.mark_loss();
    nal(&mut b, 3000, &[0x41, 8]);
    b.marker();
    let au = b.pop().unwrap();
    assert!(au.discont);
    assert_eq!(au.data, annexb(&[&[0x41, 8]]), "broken NAL dropped");
}

#[test]
fn wait_for_keyframe_after_loss() {
    let mut b = AuBuilder::<H264>::new(true);
    nal(&mut b, 0, &[0x65, 1]);
    b.marker();
    b.pop().unwrap();
    b.mark_loss();
    nal(&mut b, 3000, &[0x41, 2]);
    b.marker();
    assert_eq!(b.pop(), None);
    assert_eq!(b.stats.dropped_waiting, 1);
    nal(&mut b, 6000, &[0x65, 3]);
    b.marker();
    let au = b.pop().unwrap();
    assert!(au.keyframe && au.discont);
}

#[test]
fn oversize_nal_is_dropped() {
    let mut b = AuBuilder::<H264>::new(false);
    b.begin_nal(0, &[0x65]);
    let chunk = vec![1u8; 1 << 20];
    for _ in 0..5 {
        b.extend(&chunk);
    }
    assert!(!b.nal_open());
    assert_eq!(b.stats.dropped_oversize, 1);
    nal(&mut b, 0, &[0x65, 1]);
    b.marker();
    assert!(b.pop().unwrap().discont);
}

#[test]
fn repeated_parameter_sets_between_slices() {
    // rtph264pay config-interval=-1 with a two-slice IDR: SPS PPS IDR SPS PPS IDR, one timestamp.
    let mut b = AuBuilder::<H264>::new(false);
    for n in [SPS, PPS, &[0x65, 1], SPS, PPS, &[0x65, 2]] {
        nal(&mut b, 0, n);
    }
    b.marker();
    assert_eq!(
        b.pop().unwrap().data,
        annexb(&[SPS, PPS, &[0x65, 1], &[0x65, 2]])
    );
    // A different SPS after a slice opens the next access unit.
    nal(&mut b, 3000, &[0x41, 3]);
    nal(&mut b, 3000, &[0x67, 0x64, 0, 0x1f]);
    nal(&mut b, 3000, &[0x65, 4]);
    b.marker();
    assert_eq!(b.pop().unwrap().data, annexb(&[&[0x41, 3]]));
    assert_eq!(
        b.pop().unwrap().data,
        annexb(&[&[0x67, 0x64, 0, 0x1f], PPS, &[0x65, 4]])
    );
}

#[test]
fn annexb_inside_a_nal_is_split() {
    // V380 Pro: one NAL (FU type SPS) holding SPS‖00000001‖PPS‖000001‖IDR, then trailing junk start code.
    let mut b = AuBuilder::<H264>::new(false);
    b.begin_nal(0, &[0x67]);
    b.extend(&[0x42, 0xc0, 0x1e, 0, 0]);
    b.extend(&[0, 1, 0x68, 0xce, 0x3c, 0x80, 0, 0, 1]); // start code split across two "fragments"
    b.extend(&[0x65, 7, 7, 0, 0, 1]);
    b.end_nal();
    b.marker();
    let au = b.pop().unwrap();
    assert!(au.keyframe);
    assert_eq!(au.data, annexb(&[SPS, PPS, &[0x65, 7, 7]]));
    assert_eq!(au.sps.as_deref(), Some(SPS));
    // A slice is taken as it is (only parameter-set blobs are searched).
    b.begin_nal(3000, &[0x41]);
    b.extend(&[9, 0, 0, 1, 0x41, 8]);
    b.end_nal();
    b.marker();
    assert_eq!(
        b.pop().unwrap().data,
        annexb(&[&[0x41, 9, 0, 0, 1, 0x41, 8]])
    );
}

#[test]
fn an_access_unit_carries_its_sps_when_it_changes() {
    let mut b = AuBuilder::<H264>::new(false);
    b.set_parameter_set(SPS);
    b.set_parameter_set(PPS);
    nal(&mut b, 0, &[0x65, 1]);
    b.marker();
    assert_eq!(b.pop().unwrap().sps.as_deref(), Some(SPS));
    // The same SPS again: nothing new to say.
    for (ts, n) in [(3000, SPS), (3000, &[0x41, 2][..])] {
        nal(&mut b, ts, n);
    }
    b.marker();
    assert_eq!(b.pop().unwrap().sps, None);
    // A new SPS after a slice opens the next picture, which carries it; the picture before not.
    let bigger = [0x67, 0x64, 0, 0x1f];
    nal(&mut b, 6000, &[0x41, 3]);
    nal(&mut b, 6000, &bigger);
    nal(&mut b, 6000, &[0x65, 4]);
    b.marker();
    assert_eq!(b.pop().unwrap().sps, None);
    assert_eq!(b.pop().unwrap().sps.as_deref(), Some(&bigger[..]));
}

#[test]
fn a_keyframe_gets_the_pps_and_sps_its_slice_names() {
    // Two SPS (ids 0, 1) and two PPS (id 0 → SPS 0, id 1 → SPS 1): an IDR whose slice names PPS 1
    // gets PPS 1 and SPS 1 in front, not the sets stored last.
    let sps0 = [0x67, 0x42, 0xc0, 0x1e, 0b1000_0000];
    let sps1 = [0x67, 0x42, 0xc0, 0x1e, 0b0100_0000];
    let pps0 = [0x68, 0b1100_0000];
    let pps1 = [0x68, 0b0100_1000];
    let mut b = AuBuilder::<H264>::new(false);
    for set in [&sps1[..], &pps1, &sps0, &pps0] {
        b.set_parameter_set(set);
    }
    // first_mb 0, slice_type 7, pps 1: 1 0001000 010 → 1000 1000 0100 0000
    let idr = [0x65, 0b1000_1000, 0b0100_0000];
    nal(&mut b, 0, &idr);
    b.marker();
    let au = b.pop().unwrap();
    assert_eq!(au.data, annexb(&[&sps1, &pps1, &idr]));
    assert_eq!(au.sps.as_deref(), Some(&sps1[..]));
    // Its own PPS but not the SPS: the SPS goes in front of the PPS, which refers to it.
    nal(&mut b, 3000, &pps1);
    nal(&mut b, 3000, &idr);
    b.marker();
    assert_eq!(b.pop().unwrap().data, annexb(&[&sps1, &pps1, &idr]));
}

#[test]
fn intra_refresh_starts_at_a_recovery_point_with_a_warning() {
    let mut b = AuBuilder::<H264>::new(false);
    b.set_parameter_set(SPS);
    b.set_parameter_set(PPS);
    let recovery = [0x06, 6, 1, 0x84, 0x80];
    nal(&mut b, 0, &[0x41, 1]);
    b.marker();
    assert_eq!(b.pop(), None);
    nal(&mut b, 3000, &recovery);
    nal(&mut b, 3000, &[0x41, 2]);
    b.marker();
    let au = b.pop().unwrap();
    assert!(au.keyframe, "a recovery point is where decoding can start");
    assert_eq!(au.data, annexb(&[SPS, PPS, &recovery, &[0x41, 2]]));
    let w = b.take_warnings();
    assert_eq!(w.len(), 1);
    assert!(w[0].contains("recovery point"), "{w:?}");
}

#[test]
fn no_keyframe_at_all_starts_after_5s_with_a_warning() {
    let mut b = AuBuilder::<H264>::new(false);
    let mut out = 0;
    for i in 0..200u64 {
        nal(&mut b, i * 3000, &[0x41, 1]);
        b.marker();
        out += std::iter::from_fn(|| b.pop()).count();
    }
    // 150 pictures (5 s at 30 fps) dropped, the rest out.
    assert_eq!(b.stats.dropped_waiting, 150);
    assert_eq!(out, 50);
    assert!(b.take_warnings()[0].contains("without one"));
}

#[test]
fn h265_pictures_without_marker_split_at_first_slice_segment() {
    // A camera that leaves the marker off and puts two pictures on one timestamp: the slice header's
    // first_slice_segment_in_pic_flag says where the second starts. IRAP types 16-23 are keyframes.
    use crate::h265::nal::H265;
    let mut b = AuBuilder::<H265>::new(false);
    let h265 = |b: &mut AuBuilder<H265>, ts: u64, nal: &[u8]| {
        b.begin_nal(ts, &nal[..2]);
        b.extend(&nal[2..]);
        b.end_nal();
    };
    let cra = [21 << 1, 1, 0x80 | 0x2a, 1];
    h265(&mut b, 0, &cra);
    h265(&mut b, 0, &[21 << 1, 1, 0x2a, 2]); // a second slice segment of the same picture
    h265(&mut b, 0, &[1 << 1, 1, 0x80 | 0x2a, 3]); // TRAIL_R starting the next picture
    let au = b.pop().unwrap();
    assert!(au.keyframe);
    assert_eq!(au.data, annexb(&[&cra, &[21 << 1, 1, 0x2a, 2]]));
    b.marker();
    assert!(!b.pop().unwrap().keyframe);
}

#[test]
fn decoding_order_bookkeeping_is_bounded() {
    // A hostile interleaving sender: thousands of tiny NAL units in one picture, each with a DON
    // that puts it before the last. Past MAX_DONS the picture goes out as it came, in linear time.
    use crate::h265::nal::H265;
    let mut b = AuBuilder::<H265>::new(false);
    let idr = [19 << 1, 1, 0x80 | 0x2a, 1];
    b.set_don(u16::MAX);
    b.begin_nal(0, &idr[..2]);
    b.extend(&idr[2..]);
    b.end_nal();
    let other = [41 << 1, 1, 7];
    let count = MAX_DONS * 4;
    for i in 0..count {
        b.set_don(u16::MAX - 1 - i as u16);
        b.begin_nal(0, &other[..2]);
        b.extend(&other[2..]);
        b.end_nal();
        assert!(b.dons.len() <= MAX_DONS);
    }
    b.marker();
    let au = b.pop().unwrap();
    let mut arrival = vec![&idr[..]];
    arrival.extend(std::iter::repeat_n(&other[..], count));
    assert_eq!(au.data, annexb(&arrival));
    // Units dropped from an access unit take their DONs with them: a unit later written at the same
    // offset is ordered by its own. Here a PPS whose id (64) is out of range.
    b.set_don(0);
    b.begin_nal(3000, &[34 << 1, 1]);
    b.extend(&[0x02, 0x0c]);
    b.end_nal();
    b.set_don(2);
    b.begin_nal(3000, &idr[..2]);
    b.extend(&idr[2..]);
    b.end_nal();
    b.set_don(1);
    b.begin_nal(3000, &other[..2]);
    b.extend(&other[2..]);
    b.end_nal();
    b.marker();
    assert_eq!(b.pop().unwrap().data, annexb(&[&other, &idr]));
}

#[test]
fn a_truncated_picture_starts_the_wait_for_a_keyframe() {
    let mut b = AuBuilder::<H264>::new(true);
    nal(&mut b, 0, &[0x65, 1]);
    b.marker();
    assert!(b.pop().unwrap().keyframe);
    // A picture of two slices whose last packet never came: the next picture has begun.
    nal(&mut b, 3000, &[0x41, 2]);
    b.begin_nal(3000, &[0x41]);
    b.extend(&[3]);
    b.finish_early();
    assert_eq!(b.pop(), None, "not pushed truncated");
    nal(&mut b, 6000, &[0x41, 4]);
    b.marker();
    assert_eq!(b.pop(), None, "still waiting");
    nal(&mut b, 9000, &[0x65, 5]);
    b.marker();
    let au = b.pop().unwrap();
    assert!(au.keyframe && au.discont);
    assert_eq!(b.stats.dropped_waiting, 2);
}

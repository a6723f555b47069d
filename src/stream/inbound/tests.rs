use super::*;
use crate::rtp::packet::tests::build;

fn stream() -> Inbound {
    let mut s = Inbound::new(Duration::from_millis(50), false);
    s.set_format(96, 90_000);
    s
}

/// A stream that has pushed its first keyframe (seq 1, RTP time 0) at the returned time.
fn after_first_keyframe() -> (Inbound, Instant) {
    let mut s = stream();
    let t = Instant::now();
    s.on_packet(&build(1, 0, true, &[0x65, 1]), t);
    s.pop().unwrap();
    (s, t)
}

#[test]
fn reordered_fu_a_is_reassembled() {
    let mut s = stream();
    let t = Instant::now();
    s.on_packet(&build(1, 0, true, &[0x65, 1]), t);
    assert!(s.pop().is_some());
    let a = build(2, 3000, false, &[0x7c, 0x81, 1]);
    let b = build(3, 3000, false, &[0x7c, 0x01, 2]);
    let c = build(4, 3000, true, &[0x7c, 0x41, 3]);
    s.on_packet(&a, t);
    s.on_packet(&c, t);
    s.on_packet(&b, t);
    let au = s.pop().unwrap();
    assert_eq!(au.data, [0, 0, 0, 1, 0x61, 1, 2, 3]);
    assert!(!au.discont);
    assert_eq!(s.stats.reordered, 1);
    assert_eq!(s.stats.lost, 0);
}

#[test]
fn rtp_time_counts_clock_ticks() {
    let s = stream();
    assert_eq!(
        s.rtp_time(s.epoch + Duration::from_micros(1_500_000)),
        135_000
    );
    // Far from the epoch it wraps like the RTP timestamp does.
    let late = s.epoch + Duration::from_secs(50_000);
    assert_eq!(s.rtp_time(late), (50_000u64 * 90_000 % (1 << 32)) as u32);
}

#[test]
fn gaps_and_marker_use_are_reported() {
    let mut s = stream();
    let t = Instant::now();
    let steady = |s: &Inbound| !s.waiting_on_gap() && s.depay.ended_by_marker();
    assert!(!steady(&s), "nothing known about the camera yet");
    s.on_packet(&build(1, 0, true, &[0x65, 1]), t);
    assert!(steady(&s));
    s.on_packet(&build(3, 3000, true, &[0x41, 3]), t);
    assert!(!steady(&s), "waiting on the gap at 2");
    assert!(s.waiting_on_gap());
    s.on_packet(&build(2, 3000, false, &[0x41, 2]), t);
    assert!(steady(&s));
    // A picture ended by the next one's timestamp: this camera's markers cannot be relied on.
    s.on_packet(&build(4, 6000, false, &[0x41, 4]), t);
    s.on_packet(&build(5, 9000, false, &[0x41, 5]), t);
    assert!(!steady(&s));
}

#[test]
fn strangers_are_dropped_and_counted() {
    let mut s = stream();
    let t = Instant::now();
    s.on_packet(&build(1, 0, true, &[0x65, 1]), t);
    // Another session's numbers (one that continued ours would be a new SSRC of the same stream).
    let mut foreign = build(900, 3000, true, &[0x41, 1]);
    foreign[8] ^= 0xff;
    s.on_packet(&foreign, t);
    let mut pt50 = build(2, 3000, true, &[0x41, 1]);
    pt50[1] = 0x80 | 50;
    s.on_packet(&pt50, t);
    s.on_packet(&[1, 2, 3], t);
    assert_eq!(s.stats.foreign_ssrc, 1);
    assert_eq!(s.stats.foreign_payload_type, 1);
    assert_eq!(s.stats.malformed, 1);
    assert_eq!(s.stats.packets, 1);
    let mut rr = [0u8; RTCP_MAX];
    assert_eq!(
        s.receiver_report(7, t, &mut rr),
        Some(REPORT_LEN + RRTR_LEN)
    );
    // Tapo C320WS: a sender report for a foreign SSRC leaves LSR alone.
    let mut sr = vec![
        0x80, 200, 0, 6, 0, 0, 0, 9, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
    ];
    sr.extend_from_slice(&[0; 14]);
    s.on_rtcp(&sr, 7, t);
    s.receiver_report(7, t, &mut rr);
    assert_eq!(&rr[24..28], &[0, 0, 0, 0]);
    sr[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    s.on_rtcp(&sr, 7, t);
    s.receiver_report(7, t, &mut rr);
    assert_eq!(&rr[24..28], &[0x33, 0x44, 0x55, 0x66]);
}

#[test]
fn follows_a_restarted_encoder_but_not_a_stray_stream() {
    let (mut s, t) = after_first_keyframe();
    let other = |seq: u16| {
        let mut p = build(seq, 777_000 + u32::from(seq) * 3000, true, &[0x65, 9]);
        p[8..12].copy_from_slice(&0xabcdu32.to_be_bytes());
        p
    };
    // Interleaved with ours: a stranger, always dropped.
    for i in 0..40u16 {
        s.on_packet(&other(i), t);
        s.on_packet(
            &build(2 + i, 3000 * (u32::from(i) + 1), true, &[0x41, 1]),
            t,
        );
    }
    assert_eq!(s.stats.foreign_ssrc, 40);
    // The stranger's sender report gives our stream no wall-clock time.
    s.on_rtcp(&report(0xabcd, 2000, 777_000), 7, t);
    assert_eq!(s.ntp_of(3000), None);
    while s.pop().is_some() {}
    // Ours stops; the other runs steadily: followed, with DISCONT and a new timeline.
    let later = t + Duration::from_secs(1);
    let epoch = s.depay.timeline_epoch();
    for i in 100..140u16 {
        s.on_packet(&other(i), later);
    }
    assert_ne!(s.depay.timeline_epoch(), epoch);
    let au = s.pop().expect("frames of the new SSRC");
    assert!(au.discont && au.keyframe);
    assert_eq!(s.ssrc(), Some(0xabcd));
    // Now ours: the report it sent before the switch maps its times (100 frames after its RTP time).
    assert_eq!(
        s.ntp_of(777_000 + 100 * 3000),
        Some(2000 * 1_000_000_000 + 100 * 1_000_000_000 / 30)
    );
}

#[test]
fn lost_marker_packet_costs_the_window_only() {
    let (mut s, t) = after_first_keyframe();
    s.on_packet(&build(2, 3000, false, &[0x41, 2]), t);
    // Packet 3 (3000's second slice, with the marker) is lost; the next picture's packet comes.
    s.on_packet(
        &build(4, 6000, true, &[0x41, 4]),
        t + Duration::from_millis(33),
    );
    assert_eq!(s.pop(), None);
    // The window counts from the picture's last packet (t), not from the next picture's (t + 33 ms).
    assert_eq!(s.deadline(), Some(t + Duration::from_millis(50)));
    s.release(t + Duration::from_millis(50), false);
    let au = s
        .pop()
        .expect("the open picture goes out when its window ends");
    assert_eq!(au.data, [0, 0, 0, 1, 0x41, 2]);
    assert!(au.discont);
    // A straggler arriving within the next picture's window is dropped, not pushed out of order.
    s.on_packet(
        &build(3, 3000, true, &[0x41, 3]),
        t + Duration::from_millis(60),
    );
    let au = s.pop().unwrap();
    assert_eq!(au.data, [0, 0, 0, 1, 0x41, 4]);
    assert_eq!(s.pop(), None);
}

#[test]
fn swapped_marker_packet_is_not_taken_for_lost() {
    let (mut s, t) = after_first_keyframe();
    s.on_packet(&build(2, 3000, false, &[0x41, 2]), t);
    s.on_packet(
        &build(4, 6000, true, &[0x41, 4]),
        t + Duration::from_millis(1),
    );
    s.on_packet(
        &build(3, 3000, true, &[0x41, 3]),
        t + Duration::from_millis(2),
    );
    let au = s.pop().unwrap();
    assert_eq!(au.data, [0, 0, 0, 1, 0x41, 2, 0, 0, 0, 1, 0x41, 3]);
    assert!(!au.discont);
    assert_eq!(s.pop().unwrap().data, [0, 0, 0, 1, 0x41, 4]);
}

#[test]
fn restart_with_new_sequence_numbers() {
    let mut s = stream();
    let t = Instant::now();
    s.on_packet(&build(100, 0, true, &[0x65, 1]), t);
    s.pop().unwrap();
    // The sender restarts its sequence: confirmed by the packet after the jump, and nothing lost.
    s.on_packet(&build(40000, 3000, false, &[0x65, 2]), t);
    assert_eq!(s.pop(), None);
    s.on_packet(&build(40001, 3000, true, &[0x65, 3]), t);
    let au = s.pop().unwrap();
    assert!(au.discont);
    assert_eq!(au.data, [0, 0, 0, 1, 0x65, 2, 0, 0, 0, 1, 0x65, 3]);
    assert_eq!(s.stats.late, 0);
}

#[test]
fn a_stale_packet_far_behind_is_late_not_next() {
    let (mut s, t) = after_first_keyframe();
    for seq in 2..1000u16 {
        s.on_packet(&build(seq, u32::from(seq) * 3000, true, &[0x41, 1]), t);
    }
    while s.pop().is_some() {}
    // A straggler from 900 packets ago, then the stream goes on.
    s.on_packet(&build(100, 100 * 3000, true, &[0x41, 9]), t);
    s.on_packet(&build(1000, 1000 * 3000, true, &[0x41, 2]), t);
    let au = s.pop().unwrap();
    assert_eq!(au.data, [0, 0, 0, 1, 0x41, 2]);
    assert_eq!(au.rtp_ts, (1 << 32) + 1000 * 3000);
    assert!(!au.discont);
    assert_eq!(s.pop(), None);
    assert_eq!(s.stats.late, 1);
}

#[test]
fn an_announced_ssrc_that_never_streams_is_a_hint() {
    // H264DVR announces ssrc=0; another camera 4 hex digits (A046). Packets carry another one.
    for announced in [0, 0xa046] {
        let mut s = stream();
        s.set_ssrc(Some(announced));
        let t = Instant::now();
        let mut frames = 0;
        for i in 0..30u16 {
            let at = t + Duration::from_millis(33 * u64::from(i));
            s.on_packet(&build(i, u32::from(i) * 3000, true, &[0x65, 1]), at);
            frames += std::iter::from_fn(|| s.pop()).count();
        }
        assert_eq!(s.ssrc(), Some(0x1234_5678), "{announced:x}");
        assert!(frames >= 10, "{frames} frames");
        assert_eq!(s.snapshot().ssrc_switches, 1);
    }
}

#[test]
fn loss_asks_for_a_keyframe_with_wait_for_keyframe() {
    let mut s = Inbound::new(Duration::from_millis(50), true);
    s.set_format(96, 90_000);
    s.set_keyframe_feedback(Some(KeyframeFeedback::Pli));
    let t = Instant::now();
    s.on_packet(&build(1, 0, true, &[0x65, 1]), t);
    s.on_packet(&build(3, 6000, true, &[0x41, 1]), t);
    assert!(!s.keyframe_request_due(t));
    s.release(t + Duration::from_millis(60), false);
    assert!(s.keyframe_request_due(t + Duration::from_millis(60)));
}

#[test]
fn round_trip_from_the_cameras_dlrr() {
    let mut s = Inbound::new(Duration::from_millis(50), false);
    s.set_format(96, 90_000);
    let t = Instant::now() + Duration::from_secs(3);
    s.on_packet(&build(1, 0, true, &[0x65, 1]), t);
    let mut out = [0u8; RTCP_MAX];
    let n = s.receiver_report(7, t, &mut out).unwrap();
    let rrtr = &out[REPORT_LEN..n];
    assert_eq!(&rrtr[..2], &[0x80, 207]);
    let lrr = u32::from_be_bytes(rrtr[14..18].try_into().unwrap());
    // The camera held it 10 ms; its reply comes 60 ms after we sent it.
    let mut xr = vec![
        0x80, 207, 0, 5, 0x12, 0x34, 0x56, 0x78, 5, 0, 0, 3, 0, 0, 0, 7,
    ];
    xr.extend_from_slice(&lrr.to_be_bytes());
    xr.extend_from_slice(&(65536u32 / 100).to_be_bytes());
    assert_eq!(s.round_trip(), None);
    s.on_rtcp(&xr, 7, t + Duration::from_millis(60));
    let rtt = s.round_trip().unwrap().as_secs_f64() * 1000.0;
    assert!((rtt - 50.0).abs() < 0.1, "{rtt} ms");
    // A reply about another receiver is not ours.
    xr[12..16].copy_from_slice(&8u32.to_be_bytes());
    s.on_rtcp(&xr, 7, t + Duration::from_millis(500));
    assert!((s.round_trip().unwrap().as_secs_f64() * 1000.0 - 50.0).abs() < 0.1);
}

/// A sender report of `ssrc` saying RTP time `rtp` is NTP `secs` s since 1900.
fn report(ssrc: u32, secs: u32, rtp: u32) -> Vec<u8> {
    let mut sr = vec![0x80, 200, 0, 6];
    sr.extend_from_slice(&ssrc.to_be_bytes());
    sr.extend_from_slice(&secs.to_be_bytes());
    sr.extend_from_slice(&[0; 4]);
    sr.extend_from_slice(&rtp.to_be_bytes());
    sr.extend_from_slice(&[0; 8]);
    sr
}

#[test]
fn a_report_before_the_first_packet_counts_once_its_ssrc_comes() {
    // gst-rtsp-server and the fake camera send a report with the first packet; over UDP it may be
    // read first. Lip-sync needs it from the first audio frame on.
    let mut s = stream();
    let t = Instant::now();
    s.on_rtcp(&report(0x1234_5678, 1000, 0), 7, t);
    assert_eq!(s.ntp_of(0), None, "no packet yet");
    s.on_packet(&build(1, 9000, true, &[0x65, 1]), t);
    assert_eq!(s.ntp_of(9000), Some(1000 * 1_000_000_000 + 100_000_000));
    // Another SSRC's report before the first packet stays out.
    let mut s = stream();
    s.on_rtcp(&report(0x0bad_0bad, 1000, 0), 7, t);
    s.on_packet(&build(1, 9000, true, &[0x65, 1]), t);
    assert_eq!(s.ntp_of(9000), None);
}

/// A packet carrying ONVIF's replay extension: the NTP seconds `secs`, `flags`, PLAY's `cseq` byte.
fn replayed(seq: u16, ts: u32, secs: u32, flags: u8, cseq: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = build(seq, ts, true, b"");
    p[0] |= 0x10;
    p.extend_from_slice(&[0xab, 0xac, 0, 3]);
    p.extend_from_slice(&secs.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0, flags, cseq, 0, 0]);
    p.extend_from_slice(payload);
    p
}

#[test]
fn after_a_replays_play_the_previous_plays_packets_are_dropped() {
    let mut s = stream();
    let t = Instant::now();
    s.restart_replay(4);
    s.on_packet(&replayed(1, 0, 100, 0xa0, 4, &[0x65, 1]), t);
    assert!(s.pop().is_some());
    // A seek: PLAY with CSeq 6. What still names 4 is the old position's.
    s.restart_replay(6);
    s.on_packet(&replayed(2, 3000, 101, 0x80, 4, &[0x65, 2]), t);
    assert!(s.pop().is_none());
    assert_eq!(s.stats.replay_stale, 1);
    s.on_packet(&replayed(30, 6000, 500, 0xa0, 6, &[0x65, 3]), t);
    let au = s.pop().expect("the new position's keyframe");
    assert!(au.discont, "a new section");
    assert_eq!(s.ntp_of(6000), Some(500 * 1_000_000_000));
}

#[test]
fn a_server_that_writes_no_cseq_is_not_taken_for_a_stale_one() {
    // gst-rtsp-server's rtponviftimestamp writes 0 whatever the PLAY's CSeq.
    let mut s = stream();
    let t = Instant::now();
    s.restart_replay(4);
    s.restart_replay(6);
    s.on_packet(&replayed(1, 0, 100, 0xa0, 0, &[0x65, 1]), t);
    assert!(s.pop().is_some());
    assert_eq!(s.stats.replay_stale, 0);
}

#[test]
fn the_picture_after_a_sections_end_is_discont() {
    let (mut s, t) = after_first_keyframe();
    s.on_packet(&replayed(2, 3000, 100, 0x40, 0, &[0x41, 2]), t);
    assert!(!s.pop().unwrap().discont);
    s.on_packet(&replayed(3, 6000, 400, 0x80, 0, &[0x65, 3]), t);
    assert!(s.pop().unwrap().discont, "after E, without D");
}

//! The fake camera's RTP sender: one thread per session, pacing the encoded packets by their timestamps
//! and applying the script's loss, reordering, strangers, stalls and BYE.

use super::clock::{with_onvif, SessionClock};
use super::Script;
use super::Shared;
use std::collections::VecDeque;
use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Where a session's packets go.
#[derive(Clone, Copy)]
pub enum Dest {
    Udp(SocketAddr),
    Tcp,
}

pub struct Sender {
    pub dest: Dest,
    /// The interleaved RTP channel the video's SETUP asked for (RTCP on the next).
    pub channel: u8,
    pub writer: Arc<Mutex<TcpStream>>,
    pub playing: Arc<AtomicBool>,
    pub last_request: Arc<Mutex<Instant>>,
    pub expired: Arc<AtomicBool>,
    pub session_timeout: Option<u32>,
    pub close_after: Option<usize>,
    pub closing: Arc<AtomicBool>,
    pub stall_after: Option<usize>,
    pub bye_after: Option<usize>,
    pub junk_frames: bool,
    /// The SSRC its packets carry.
    pub ssrc: u32,
}

impl Sender {
    fn send(&self, sock: &UdpSocket, pkt: &[u8]) -> bool {
        match self.dest {
            Dest::Udp(addr) => sock.send_to(pkt, addr).is_ok(),
            Dest::Tcp => {
                let mut frame = Vec::with_capacity(pkt.len() + 24);
                if self.junk_frames {
                    // A stray CRLF and a frame on a channel never set up, before every packet.
                    frame.extend_from_slice(b"\r\n$\x05\x00\x04\x00bad");
                }
                frame.extend_from_slice(&[b'$', self.channel]);
                frame.extend_from_slice(&(pkt.len() as u16).to_be_bytes());
                frame.extend_from_slice(pkt);
                self.writer.lock().unwrap().write_all(&frame).is_ok()
            }
        }
    }

    /// RTCP: to the client's RTCP port over UDP, on channel 1 over TCP.
    fn send_rtcp(&self, sock: &UdpSocket, rtcp: &[u8]) {
        send_rtcp(self.dest, self.channel, &self.writer, sock, rtcp);
    }

    /// RTCP BYE for our SSRC.
    fn send_bye(&self, sock: &UdpSocket) {
        let mut bye = vec![0x81, 203, 0, 1];
        bye.extend_from_slice(&self.ssrc.to_be_bytes());
        self.send_rtcp(sock, &bye);
    }

    pub fn run(self, packets: &[Vec<u8>], script: &Script, stop: &AtomicBool, shared: &Shared) {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        // Before the session's clock starts: the first packet goes out at its time.
        let gop_start = gop_starts(packets);
        let start = Instant::now();
        let clock = SessionClock::new(script.clock, start);
        let mut next_sr = script.sender_reports.map(|_| start);
        // With pacing: when the link is free for the next packet.
        let mut link_free = start;
        let ts0 = u32::from_be_bytes(packets[0][4..8].try_into().unwrap());
        let mut held: Option<Vec<u8>> = None;
        let mut delayed: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
        let mut index = 0usize;
        let mut lap = 0u32;
        let last = packets
            .last()
            .map_or(0, |p| u32::from_be_bytes(p[4..8].try_into().unwrap()));
        let lap_ts = last.wrapping_sub(ts0).wrapping_add(3000);
        let mut keyframe = false;
        let (mut frame, mut last_ts) = (0usize, None);
        // The packet's place in its picture (0: the first).
        let mut in_frame = 0usize;
        // With `ssrc_per_gop`: GOPs begun since the first, added to the SSRC.
        let mut gops = 0u32;
        loop {
            for (k, p) in packets.iter().enumerate() {
                let live = self.playing.load(Ordering::SeqCst) && !stop.load(Ordering::SeqCst);
                if !live {
                    return;
                }
                if self.close_after.is_some_and(|n| index >= n) {
                    *shared.session_ended.lock().unwrap() = Some(Instant::now());
                    self.closing.store(true, Ordering::SeqCst);
                    return;
                }
                if self.stall_after.is_some_and(|n| index >= n) {
                    *shared.session_ended.lock().unwrap() = Some(Instant::now());
                    return;
                }
                if self.bye_after.is_some_and(|n| index >= n) {
                    *shared.session_ended.lock().unwrap() = Some(Instant::now());
                    self.send_bye(&sock);
                    return;
                }
                if let Some(t) = self.session_timeout {
                    let idle = self.last_request.lock().unwrap().elapsed();
                    if self.expired.load(Ordering::SeqCst) || idle > Duration::from_secs(t.into()) {
                        if !self.expired.swap(true, Ordering::SeqCst) {
                            shared.expiries.fetch_add(1, Ordering::SeqCst);
                        }
                        return;
                    }
                }
                if let (Some(at), Some(every)) = (next_sr, script.sender_reports) {
                    if Instant::now() >= at {
                        self.send_rtcp(&sock, &clock.sender_report(self.ssrc));
                        shared.sender_reports.fetch_add(1, Ordering::SeqCst);
                        next_sr = Some(at + every);
                    }
                }
                let mut pkt = p.clone();
                // Timestamps and sequence numbers go on across laps; our own SSRC.
                let nominal = u64::from(lap) * u64::from(lap_ts)
                    + u64::from(
                        u32::from_be_bytes(pkt[4..8].try_into().unwrap()).wrapping_sub(ts0),
                    );
                let ts = nominal as u32;
                let mut first_of_frame = false;
                if last_ts != Some(ts) {
                    frame += 1;
                    last_ts = Some(ts);
                    first_of_frame = true;
                    in_frame = 0;
                } else {
                    in_frame += 1;
                }
                if first_of_frame {
                    let ntp = clock.ntp_ns(SessionClock::at(nominal));
                    shared.frame_ntp.lock().unwrap().push(ntp);
                }
                pkt[2..4].copy_from_slice(&(index as u16).to_be_bytes());
                // Intelbras DVR: one picture's timestamp ten hours off.
                let stamped = match script.outlier_frame {
                    Some(n) if frame == n => clock.rtp(nominal).wrapping_add(10 * 3600 * 90_000),
                    _ => clock.rtp(nominal),
                };
                pkt[4..8].copy_from_slice(&stamped.to_be_bytes());
                if script.ssrc_per_gop && gop_start[k] && frame > 1 {
                    gops += 1;
                }
                pkt[8..12].copy_from_slice(&self.ssrc.wrapping_add(gops).to_be_bytes());
                let mut due = clock.send_time(nominal);
                if let Some(bps) = script.pace_bps {
                    due = due.max(link_free);
                    link_free =
                        due + Duration::from_nanos(pkt.len() as u64 * 8_000_000_000 / bps.max(1));
                }
                // Late packets go out at their time, between the others.
                while let Some((at, late)) = delayed.front() {
                    if *at > due {
                        break;
                    }
                    if let Some(wait) = at.checked_duration_since(Instant::now()) {
                        thread::sleep(wait);
                    }
                    self.send(&sock, late);
                    shared.sent.fetch_add(1, Ordering::SeqCst);
                    delayed.pop_front();
                }
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    thread::sleep(wait);
                }
                let i = index;
                index += 1;
                if script.foreign_ssrc.is_some_and(|f| f(i)) {
                    // Another session's: its own SSRC, sequence and timestamps.
                    let mut stranger = pkt.clone();
                    stranger[8..12].copy_from_slice(&0xdead_beefu32.to_be_bytes());
                    let seq = u16::from_be_bytes([pkt[2], pkt[3]]).wrapping_add(0x4000);
                    stranger[2..4].copy_from_slice(&seq.to_be_bytes());
                    let ts = u32::from_be_bytes(pkt[4..8].try_into().unwrap());
                    stranger[4..8].copy_from_slice(&ts.wrapping_add(0x1234_5678).to_be_bytes());
                    self.send(&sock, &stranger);
                    shared.strangers.fetch_add(1, Ordering::SeqCst);
                }
                if script.log_frames {
                    // When the frame's last packet leaves (or would, when the script drops it); taken
                    // before the send, as the receiver may be done before this thread runs again.
                    keyframe |= carries_idr(&pkt[12..]);
                    if pkt[1] & 0x80 != 0 {
                        shared
                            .frames
                            .lock()
                            .unwrap()
                            .push((ts, Instant::now(), keyframe));
                        keyframe = false;
                    }
                }
                if script.onvif_ntp && first_of_frame {
                    pkt = with_onvif(&pkt, clock.ntp_ns(SessionClock::at(nominal)));
                }
                let marker = pkt[1] & 0x80 != 0;
                if script.drop.is_some_and(|f| f(i))
                    || marker && script.drop_marker.is_some_and(|f| f(frame))
                {
                    shared.dropped.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                if script.no_marker {
                    pkt[1] &= 0x7f;
                }
                if let Some(h) = held.take() {
                    self.send(&sock, &pkt);
                    self.send(&sock, &h);
                    shared.sent.fetch_add(2, Ordering::SeqCst);
                    continue;
                }
                if script.swap.is_some_and(|f| f(i)) {
                    held = Some(pkt);
                    continue;
                }
                let before_marker =
                    pkt[1] & 0x80 == 0 && packets[(k + 1) % packets.len()][1] & 0x80 != 0;
                let late = [
                    script.late_tail.filter(|(f, _)| before_marker && f(frame)),
                    script.late_head.filter(|(f, _)| in_frame == 1 && f(frame)),
                ];
                // Late by `by` of the stream's schedule, not of the clock: a camera held back by a
                // slow reader (TCP) still sends it after the packets of the next `by`, no later.
                if let Some((_, by)) = late.into_iter().flatten().next() {
                    delayed.push_back((due + by, pkt));
                    continue;
                }
                if !self.send(&sock, &pkt) {
                    return;
                }
                shared.sent.fetch_add(1, Ordering::SeqCst);
            }
            lap += 1;
        }
    }
}

/// For each packet, whether it opens a picture holding IDR data (x264enc puts an AUD and the
/// parameter sets before the IDR slices).
fn gop_starts(packets: &[Vec<u8>]) -> Vec<bool> {
    let ts = |p: &Vec<u8>| {
        p.get(4..8)
            .map(|b| u32::from_be_bytes(b.try_into().unwrap()))
    };
    let mut starts = vec![false; packets.len()];
    let mut first = 0;
    for k in 0..packets.len() {
        if ts(&packets[k]) != ts(&packets[first]) {
            first = k;
        }
        if carries_idr(&packets[k][12..]) {
            starts[first] = true;
        }
    }
    starts
}

/// Whether an H.264 RTP payload (rtph264pay: single NAL, STAP-A or FU-A) carries IDR data.
fn carries_idr(payload: &[u8]) -> bool {
    match payload.first().map(|b| b & 0x1f) {
        Some(5) => true,
        Some(28) => payload.get(1).is_some_and(|h| h & 0x1f == 5),
        Some(24) => {
            let mut rest = &payload[1..];
            while rest.len() > 2 {
                let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                if rest.get(2).is_some_and(|h| h & 0x1f == 5) {
                    return true;
                }
                rest = rest.get(2 + len..).unwrap_or_default();
            }
            false
        }
        _ => false,
    }
}

/// RTCP of the track set up on `dest` (its RTP channel `channel` over TCP): to the client's RTCP port
/// over UDP, on the channel after RTP's over TCP. Best effort, as a camera sends it.
pub fn send_rtcp(
    dest: Dest,
    channel: u8,
    writer: &Mutex<TcpStream>,
    sock: &UdpSocket,
    rtcp: &[u8],
) {
    match dest {
        Dest::Udp(addr) => {
            let _ = sock.send_to(rtcp, SocketAddr::new(addr.ip(), addr.port() + 1));
        }
        Dest::Tcp => {
            let mut frame = vec![b'$', channel + 1, 0, rtcp.len() as u8];
            frame.extend_from_slice(rtcp);
            let _ = writer.lock().unwrap().write_all(&frame);
        }
    }
}

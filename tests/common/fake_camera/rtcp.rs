//! The RTCP the fake camera receives: it counts receiver reports and keyframe requests (PLI, FIR) as a
//! strict server takes them, and answers reference times (RFC 3611 RRTR) with a DLRR when scripted.

use super::{Script, Shared};
use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// A socket for the client's RTCP over UDP, counting and answering what comes; returns its port.
pub fn listen(script: &Script, ssrc: u32, stop: &Arc<AtomicBool>, shared: &Arc<Shared>) -> u16 {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let port = sock.local_addr().unwrap().port();
    let (stop, shared, answer) = (stop.clone(), shared.clone(), script.answer_rrtr);
    thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while !stop.load(Ordering::SeqCst) {
            if let Ok((n, from)) = sock.recv_from(&mut buf) {
                if let Some(((hold, claim), (client, lrr))) =
                    answer.zip(count_rtcp(&buf[..n], &shared))
                {
                    thread::sleep(hold);
                    let _ = sock.send_to(&dlrr_reply(ssrc, client, lrr, claim), from);
                }
            }
        }
    });
    port
}

/// Counts the datagrams on the camera's RTP port so far: the client sends its NAT dummy packets before
/// PLAY, and on loopback they are queued by the time the request is read.
pub fn count_nat_probes(sock: &UdpSocket, shared: &Shared) {
    sock.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 1500];
    while sock.recv(&mut buf).is_ok() {
        shared.nat_rtp_before_play.fetch_add(1, Ordering::SeqCst);
    }
}

/// RTCP interleaved on the RTSP connection: counted, and answered on channel 1 when scripted.
pub fn take_interleaved(
    rtcp: &[u8],
    script: &Script,
    ssrc: u32,
    shared: &Shared,
    writer: &Arc<Mutex<TcpStream>>,
) {
    if let Some(((hold, claim), (client, lrr))) = script.answer_rrtr.zip(count_rtcp(rtcp, shared)) {
        let reply = dlrr_reply(ssrc, client, lrr, claim);
        let w = writer.clone();
        thread::spawn(move || {
            thread::sleep(hold);
            let mut frame = vec![b'$', 1, 0, reply.len() as u8];
            frame.extend_from_slice(&reply);
            let _ = w.lock().unwrap().write_all(&frame);
        });
    }
}

/// The camera's XR reply (RFC 3611 DLRR) to a client's reference time `lrr` (middle 32 bits), claiming
/// it held it `held`.
pub fn dlrr_reply(camera_ssrc: u32, client_ssrc: u32, lrr: u32, held: Duration) -> Vec<u8> {
    let dlrr = (held.as_nanos() * 65536 / 1_000_000_000) as u32;
    let mut xr = vec![0x80, 207, 0, 5];
    xr.extend_from_slice(&camera_ssrc.to_be_bytes());
    xr.extend_from_slice(&[5, 0, 0, 3]);
    for w in [client_ssrc, lrr, dlrr] {
        xr.extend_from_slice(&w.to_be_bytes());
    }
    xr
}

/// Counts what the client's RTCP holds; returns its reference time (RFC 3611 RRTR), if any: (client
/// SSRC, middle 32 bits of the time). Receiver reports count as a strict server takes them (RFC 3550
/// §6.1): an RR first and an SDES with a CNAME in the same compound packet; keyframe requests (PLI,
/// RFC 4585 §6.3.1; FIR, RFC 5104 §4.3.1) only in such a compound packet too.
pub fn count_rtcp(rtcp: &[u8], shared: &Shared) -> Option<(u32, u32)> {
    let mut rest = rtcp;
    let (mut rr, mut cname, mut pli, mut fir) = (false, false, false, false);
    let mut jitter = None;
    let mut rrtr = None;
    while rest.len() >= 4 {
        let len = (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1) * 4;
        let packet = rest.get(..len)?;
        let word = |at: usize| u32::from_be_bytes(packet[at..at + 4].try_into().unwrap());
        match (packet[1], packet[0] & 0x1f) {
            (207, _) if len == 20 && packet[8] == 4 => {
                rrtr = Some((
                    word(4),
                    (u64::from(word(12)) << 16 | u64::from(word(16)) >> 16) as u32,
                ));
            }
            (201, count) => {
                rr = true;
                // The first report block's interarrival jitter (RFC 3550 §6.4.1), in RTP units.
                if count >= 1 && len >= 32 {
                    jitter = Some(word(20));
                }
            }
            (202, _) => cname |= packet.get(8) == Some(&1),
            (206, 1) => pli = len == 12,
            (206, 4) => fir = len == 20,
            _ => {}
        }
        rest = &rest[len..];
    }
    if rr && !cname {
        shared.nat_rtcp.fetch_add(1, Ordering::SeqCst);
    }
    if rr && cname {
        shared.receiver_reports.fetch_add(1, Ordering::SeqCst);
        if let Some(j) = jitter {
            shared.reported_jitter.lock().unwrap().push(j);
        }
        if pli {
            shared.plis.fetch_add(1, Ordering::SeqCst);
        }
        if fir {
            shared.firs.fetch_add(1, Ordering::SeqCst);
        }
    }
    rrtr
}

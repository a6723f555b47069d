//! An earlier session still streaming to the ports a new one binds: Reolink's old live555 keeps
//! sending after a reconnect (retina#17), and a restarted client reusing its port range gets the
//! previous session's packets. RTP of another SSRC, with its own sequence and timestamps (RFC 3550's
//! random bases) and random payloads, on the video's payload type: from before the PLAY reply
//! (`BEFORE_REPLY` packets) and for `FOR` after, one every 2 ms. Its RTCP, for its own SSRC: a sender
//! report from a clock an hour behind first and every 100 packets, a BYE at the end.

use super::sender::{send_rtcp, Dest};
use super::Shared;
use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub const STALE_SSRC: u32 = 0x5741_1e00;
/// Packets sent before the PLAY reply: more than the 30 in a row the element once took for a new
/// stream when its own had not come yet.
pub const BEFORE_REPLY: usize = 40;
const FOR: Duration = Duration::from_secs(2);

/// Starts the stale session towards `dest` (over TCP on `channel`); returns once `BEFORE_REPLY`
/// packets are out (or 2 s passed).
pub fn start(
    dest: Dest,
    channel: u8,
    writer: Arc<Mutex<TcpStream>>,
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
) {
    let counted = shared.clone();
    thread::spawn(move || {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (mut seq, mut ts, mut x) = (20_000u16, 5_000_000u32, 0x9e37_79b9u32);
        let end = Instant::now() + FOR;
        let mut i = 0u32;
        while Instant::now() < end && !stop.load(Ordering::SeqCst) {
            if i.is_multiple_of(100) {
                send_rtcp(dest, channel, &writer, &sock, &stale_report());
            }
            let mut pkt = vec![0x80, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            if i % 5 == 4 {
                pkt[1] |= 0x80;
            }
            pkt[2..4].copy_from_slice(&seq.to_be_bytes());
            pkt[4..8].copy_from_slice(&ts.to_be_bytes());
            pkt[8..12].copy_from_slice(&STALE_SSRC.to_be_bytes());
            for _ in 0..300 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                pkt.push(x as u8);
            }
            let sent = match dest {
                Dest::Udp(addr) => sock.send_to(&pkt, addr).is_ok(),
                Dest::Tcp => {
                    let mut frame = vec![b'$', channel];
                    frame.extend_from_slice(&(pkt.len() as u16).to_be_bytes());
                    frame.extend_from_slice(&pkt);
                    writer.lock().unwrap().write_all(&frame).is_ok()
                }
            };
            if !sent {
                return;
            }
            shared.strangers.fetch_add(1, Ordering::SeqCst);
            seq = seq.wrapping_add(1);
            if i % 5 == 4 {
                ts = ts.wrapping_add(3000);
            }
            i += 1;
            thread::sleep(Duration::from_millis(2));
        }
        let mut bye = vec![0x81, 203, 0, 1];
        bye.extend_from_slice(&STALE_SSRC.to_be_bytes());
        send_rtcp(dest, channel, &writer, &sock, &bye);
    });
    let until = Instant::now() + Duration::from_secs(2);
    while counted.strangers.load(Ordering::SeqCst) < BEFORE_REPLY && Instant::now() < until {
        thread::sleep(Duration::from_millis(1));
    }
}

/// A sender report saying the stale session's RTP time 5 000 000 was captured an hour ago.
fn stale_report() -> Vec<u8> {
    const NTP_UNIX_S: u64 = 2_208_988_800;
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut rtcp = vec![0x80, 200, 0, 6];
    rtcp.extend_from_slice(&STALE_SSRC.to_be_bytes());
    rtcp.extend_from_slice(&((unix + NTP_UNIX_S - 3600) << 32).to_be_bytes());
    rtcp.extend_from_slice(&5_000_000u32.to_be_bytes());
    rtcp.extend_from_slice(&[0; 8]);
    rtcp
}

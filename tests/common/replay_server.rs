//! A scripted ONVIF replay server (ONVIF Streaming Specification §6): an NVR serving one recording
//! of ten seconds of H.264 (`fake_camera::packets`, 30 fps, a keyframe a second) that began at
//! `RECORDING_START`, RTP interleaved on the RTSP connection as §6 requires. It honours what a PLAY
//! asks: `Range: clock=` (from the first keyframe at or after the start, to the end), `Scale` (paced
//! |scale| times faster, the RTP clock in playback time as gst-rtsp-server's; negative sends the GOPs
//! last to first, each forwards, with RTP times still increasing), `Rate-Control: no` (no pacing), `Frames: intra` (keyframes only; `intra/<ms>`: one per that many ms of recording at most). Every packet carries
//! the replay header extension 0xABAC: the frame's NTP time, C on keyframes, E on the last packet
//! before a jump and at the end, D on the first after one, and the low byte of the PLAY's CSeq. PAUSE
//! stops the sending; the end of the range or recording sends RTCP BYE. Requests and their headers are
//! kept for the test to judge. 127.0.0.1 only, one connection at a time.

use super::fake_camera::packets;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// 2026-12-06T10:15:00Z, ns since 1900.
pub const RECORDING_START: u64 = (1_796_552_100 + 2_208_988_800) * 1_000_000_000;
const SSRC: u32 = 0x0abc_0001;

/// A request as the server read it: method and headers (names lower-cased).
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
pub struct Shared {
    pub requests: Mutex<Vec<Seen>>,
    pub connections: Mutex<usize>,
    /// (NTP time, keyframe) of every frame sent, in sending order.
    pub frames_sent: Mutex<Vec<(u64, bool)>>,
    pub byes: Mutex<usize>,
    /// Set by the test: after a seek's PLAY reply, five more frames of the old position go out
    /// first, under the old PLAY's CSeq byte (a server whose sending thread still held them).
    pub stale_after_seek: AtomicBool,
    /// Set by the test: the recording stops after frame 149 and starts again a minute later (E on the
    /// last packet before, D on the first after; the RTP clock jumps the minute too).
    pub hole_after_5_s: AtomicBool,
}

impl Shared {
    pub fn requests(&self) -> Vec<Seen> {
        self.requests.lock().unwrap().clone()
    }

    pub fn plays(&self) -> Vec<Seen> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "PLAY")
            .collect()
    }

    pub fn count(&self, method: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method)
            .count()
    }
}

pub struct ReplayServer {
    pub port: u16,
    pub shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
}

impl Drop for ReplayServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// The recording's time of frame `i` (30 fps, exact: frame 90 is at 3 s).
pub fn frame_time(i: usize) -> u64 {
    RECORDING_START + i as u64 * 1_000_000_000 / 30
}

/// One frame of the recording: its packets (indices into `packets()`) and whether it is a keyframe.
struct Frame {
    packets: std::ops::Range<usize>,
    keyframe: bool,
}

fn frames() -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut first = 0;
    for (i, p) in packets().iter().enumerate() {
        if p.len() > 1 && p[1] & 0x80 != 0 {
            let keyframe = packets()[first..=i].iter().any(|p| {
                let nal = p.get(12).map_or(0, |b| b & 0x1f);
                let inner = p.get(13).map_or(0, |b| b & 0x1f);
                matches!(nal, 5 | 7) || (nal == 28 && inner == 5) || (nal == 24)
            });
            frames.push(Frame {
                packets: first..i + 1,
                keyframe,
            });
            first = i + 1;
        }
    }
    frames
}

/// What a PLAY asked.
#[derive(Debug, Clone, Copy)]
struct Ask {
    start: Option<u64>,
    end: Option<u64>,
    scale: f64,
    rate_control: bool,
    intra: bool,
    /// With `intra`: ms of recording between the keyframes sent at least (`Frames: intra/<ms>`).
    intra_every_ms: u64,
    cseq: u8,
}

/// `YYYYMMDDThhmmss[.ff]Z` → ns since 1900.
pub fn parse_clock(s: &str) -> Option<u64> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let num = |t: &str| t.parse::<u64>().ok();
    let (y, m, d) = (
        num(date.get(0..4)?)?,
        num(date.get(4..6)?)?,
        num(date.get(6..8)?)?,
    );
    let (secs, frac) = time.split_once('.').unwrap_or((time, ""));
    let (hh, mm, ss) = (
        num(secs.get(0..2)?)?,
        num(secs.get(2..4)?)?,
        num(secs.get(4..6)?)?,
    );
    // Days since 1970 (H. Hinnant's days_from_civil).
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let mut ns = ((days * 86_400 + hh * 3600 + mm * 60 + ss) + 2_208_988_800) * 1_000_000_000;
    if !frac.is_empty() {
        let digits = frac.len().min(9) as u32;
        ns += num(&frac[..digits as usize])? * 10u64.pow(9 - digits);
    }
    Some(ns)
}

fn ask(req: &Seen) -> Ask {
    let (mut start, mut end) = (None, None);
    if let Some(range) = req.header("Range").and_then(|r| r.strip_prefix("clock=")) {
        let (s, e) = range.split_once('-').unwrap_or((range, ""));
        start = parse_clock(s.trim());
        end = parse_clock(e.trim());
    }
    let cseq = req
        .header("CSeq")
        .and_then(|c| c.trim().parse::<u32>().ok())
        .unwrap_or(0);
    let frames = req.header("Frames").map(str::trim);
    Ask {
        start,
        end,
        scale: req
            .header("Scale")
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1.0),
        rate_control: req.header("Rate-Control").map(str::trim) != Some("no"),
        intra: frames.is_some_and(|f| f == "intra" || f.starts_with("intra/")),
        intra_every_ms: frames
            .and_then(|f| f.strip_prefix("intra/"))
            .and_then(|ms| ms.parse().ok())
            .unwrap_or(0),
        cseq: cseq as u8,
    }
}

impl ReplayServer {
    pub fn start() -> ReplayServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the NVR's RTSP port");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (shared.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::Acquire) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                *s.connections.lock().unwrap() += 1;
                let s = s.clone();
                thread::spawn(move || serve(conn, &s));
            }
        });
        ReplayServer { port, shared, stop }
    }

    pub fn url(&self) -> String {
        format!("rtsp://127.0.0.1:{}/recording", self.port)
    }
}

/// Reads one request (skipping interleaved frames from the client); `None` at the end.
fn read_request(r: &mut BufReader<TcpStream>) -> Option<Seen> {
    loop {
        let buf = r.fill_buf().ok()?;
        if buf.is_empty() {
            return None;
        }
        if buf[0] == b'$' {
            let mut head = [0u8; 4];
            r.read_exact(&mut head).ok()?;
            let mut body = vec![0u8; usize::from(u16::from_be_bytes([head[2], head[3]]))];
            r.read_exact(&mut body).ok()?;
            continue;
        }
        let mut line = String::new();
        r.read_line(&mut line).ok()?;
        let method = line.split_whitespace().next()?.to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            r.read_line(&mut h).ok()?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                headers.push((n.trim().to_string(), v.trim().to_string()));
            }
        }
        let seen = Seen { method, headers };
        let len: usize = seen
            .header("Content-Length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        r.read_exact(&mut body).ok()?;
        return Some(seen);
    }
}

type Out = Arc<Mutex<TcpStream>>;

fn reply(out: &Out, req: &Seen, status: &str, extra: &str, body: &str) {
    let cseq = req.header("CSeq").unwrap_or("0");
    let text = format!(
        "RTSP/1.0 {status}\r\nCSeq: {cseq}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = out.lock().unwrap().write_all(text.as_bytes());
}

/// The sending thread of one PLAY, and its stop flag.
struct Sending {
    stop: Arc<AtomicBool>,
    thread: thread::JoinHandle<()>,
}

fn serve(conn: TcpStream, shared: &Arc<Shared>) {
    let out: Out = Arc::new(Mutex::new(conn.try_clone().unwrap()));
    let mut reader = BufReader::new(conn);
    let mut sending: Option<Sending> = None;
    let mut previous_cseq: Option<u8> = None;
    // RTP times go on increasing across PLAYs, as one sender's clock.
    let rtp_clock = Arc::new(Mutex::new(0x1000_u32));
    let stop_sending = |sending: &mut Option<Sending>| {
        if let Some(s) = sending.take() {
            s.stop.store(true, Ordering::Release);
            let _ = s.thread.join();
        }
    };
    while let Some(req) = read_request(&mut reader) {
        shared.requests.lock().unwrap().push(req.clone());
        let replay = req.header("Require") == Some("onvif-replay");
        match req.method.as_str() {
            "OPTIONS" => reply(
                &out,
                &req,
                "200 OK",
                "Public: OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN\r\n",
                "",
            ),
            // A recording is only served to a client that asks for replay.
            "DESCRIBE" | "SETUP" | "PLAY" if !replay => reply(
                &out,
                &req,
                "551 Option not supported",
                "Unsupported: onvif-replay\r\n",
                "",
            ),
            "DESCRIBE" => {
                let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=Recording\r\nt=0 0\r\n\
                           m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
                           a=control:track1\r\na=recvonly\r\n";
                let base = "Content-Base: rtsp://127.0.0.1/recording/\r\nContent-Type: application/sdp\r\n";
                reply(&out, &req, "200 OK", base, sdp);
            }
            "SETUP" => reply(
                &out,
                &req,
                "200 OK",
                "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nSession: 4711;timeout=60\r\n",
                "",
            ),
            "PLAY" => {
                stop_sending(&mut sending);
                let a = ask(&req);
                let range = req
                    .header("Range")
                    .map(|r| format!("Range: {r}\r\n"))
                    .unwrap_or_default();
                reply(
                    &out,
                    &req,
                    "200 OK",
                    &format!("Session: 4711\r\n{range}"),
                    "",
                );
                let stop = Arc::new(AtomicBool::new(false));
                let (o, s, st, clock) =
                    (out.clone(), shared.clone(), stop.clone(), rtp_clock.clone());
                let stale = match (
                    previous_cseq.replace(a.cseq),
                    shared.stale_after_seek.load(Ordering::Acquire),
                ) {
                    (Some(cseq), true) => {
                        let last = shared.frames_sent.lock().unwrap().last().map(|f| f.0);
                        // From the old position's next keyframe: P-frames alone would be
                        // dropped as undecodable whatever their CSeq.
                        let keys = frames();
                        last.and_then(|ntp| {
                            let next =
                                (frame_index(ntp) + 1..keys.len()).find(|&i| keys[i].keyframe);
                            next.map(|i| (i, cseq))
                        })
                    }
                    _ => None,
                };
                let thread = thread::spawn(move || send(a, stale, &o, &s, &st, &clock));
                sending = Some(Sending { stop, thread });
            }
            "PAUSE" => {
                stop_sending(&mut sending);
                reply(&out, &req, "200 OK", "Session: 4711\r\n", "");
            }
            "TEARDOWN" => {
                stop_sending(&mut sending);
                reply(&out, &req, "200 OK", "", "");
                return;
            }
            _ => reply(&out, &req, "200 OK", "Session: 4711\r\n", ""),
        }
    }
    stop_sending(&mut sending);
}

/// The frames a PLAY sends, in order, by index into `frames`.
fn order(frames: &[Frame], a: &Ask) -> Vec<usize> {
    let time = frame_time;
    let first = frames
        .iter()
        .enumerate()
        .position(|(i, f)| f.keyframe && a.start.is_none_or(|s| time(i) >= s))
        .unwrap_or(frames.len());
    let last = a.end.map_or(frames.len(), |e| {
        (0..frames.len()).take_while(|&i| time(i) < e).count()
    });
    let wanted = |i: &usize| !a.intra || frames[*i].keyframe;
    if a.scale >= 0.0 {
        let mut last_sent: Option<u64> = None;
        return (first..last.max(first))
            .filter(wanted)
            .filter(|&i| {
                let due = last_sent.is_none_or(|t| time(i) - t >= a.intra_every_ms * 1_000_000);
                if due {
                    last_sent = Some(time(i));
                }
                due
            })
            .collect();
    }
    // Reverse: the GOPs from the one holding the start (or the last) back to the recording's first.
    let until = a.start.map_or(frames.len(), |s| {
        (0..frames.len()).take_while(|&i| time(i) <= s).count()
    });
    let starts: Vec<usize> = (0..until).filter(|&i| frames[i].keyframe).collect();
    let mut out = Vec::new();
    for (n, &k) in starts.iter().enumerate().rev() {
        let end = starts.get(n + 1).copied().unwrap_or(until);
        out.extend((k..end).filter(wanted));
    }
    out
}

/// The index of the frame at recording time `ntp`.
fn frame_index(ntp: u64) -> usize {
    ((ntp - RECORDING_START) * 30).div_ceil(1_000_000_000) as usize
}

/// Sends what `a` asks, after `stale` (the first of five frames of the old position, and the old
/// PLAY's CSeq byte), then BYE.
fn send(
    a: Ask,
    stale: Option<(usize, u8)>,
    out: &Out,
    shared: &Shared,
    stop: &AtomicBool,
    clock: &Mutex<u32>,
) {
    let frames = frames();
    let order = order(&frames, &a);
    let pace = match a.rate_control {
        true => Duration::from_secs_f64(1.0 / 30.0 / a.scale.abs().max(0.1)),
        false => Duration::from_micros(500),
    };
    let mut seq: u16 = 1;
    // The RTP clock runs in playback time, as gst-rtsp-server's: each frame advances it by the
    // recording it stands for (a frame, or a GOP when only keyframes go) over the speed.
    let every_s = (a.intra_every_ms / 1000).max(1) as u32;
    let step =
        (f64::from(if a.intra { 90_000 * every_s } else { 3000 }) / a.scale.abs().max(0.1)) as u32;
    // Frame `i` with its flags and CSeq byte; false once the connection is gone.
    let hole = shared.hole_after_5_s.load(Ordering::Acquire);
    // Frame `i`'s recording time, a minute later from frame 150 on when the recording has a hole.
    let time = move |i: usize| frame_time(i) + if hole && i >= 150 { 60_000_000_000 } else { 0 };
    let mut emit = |i: usize, discont: bool, ends: bool, cseq: u8| {
        let rtp_ts = {
            let mut c = clock.lock().unwrap();
            let jump = if hole && i == 150 { 60 * 90_000 } else { 0 };
            *c = c.wrapping_add(step).wrapping_add(jump);
            *c
        };
        let f = &frames[i];
        let count = f.packets.len();
        for (k, p) in packets()[f.packets.clone()].iter().enumerate() {
            let mut flags = 0u8;
            if f.keyframe {
                flags |= 0x80;
            }
            if ends && k == count - 1 {
                flags |= 0x40;
            }
            if discont && k == 0 {
                flags |= 0x20;
            }
            let pkt = with_extension(p, seq, rtp_ts, time(i), flags, cseq);
            seq = seq.wrapping_add(1);
            let mut frame = vec![b'$', 0];
            frame.extend_from_slice(&(pkt.len() as u16).to_be_bytes());
            frame.extend_from_slice(&pkt);
            if out.lock().unwrap().write_all(&frame).is_err() {
                return false;
            }
        }
        shared
            .frames_sent
            .lock()
            .unwrap()
            .push((time(i), f.keyframe));
        true
    };
    if let Some((from, cseq)) = stale {
        for i in (from..frames.len()).take(5) {
            if !emit(i, false, false, cseq) {
                return;
            }
        }
    }
    for (n, &i) in order.iter().enumerate() {
        if stop.load(Ordering::Acquire) {
            return;
        }
        // A jump in the recording's time between this frame and the one before or after.
        let jumps = |a: usize, b: usize| b != a + 1 || (hole && b == 150);
        let discont = n == 0 || jumps(order[n - 1], i);
        let ends = order.get(n + 1).is_none_or(|&next| jumps(i, next));
        if !emit(i, discont, ends, a.cseq) {
            return;
        }
        thread::sleep(pace);
    }
    // The end of what was asked: RTCP BYE on channel 1.
    let mut bye = vec![0x81, 203, 0, 1];
    bye.extend_from_slice(&SSRC.to_be_bytes());
    let mut frame = vec![b'$', 1, 0, bye.len() as u8];
    frame.extend_from_slice(&bye);
    if !stop.load(Ordering::Acquire) && out.lock().unwrap().write_all(&frame).is_ok() {
        *shared.byes.lock().unwrap() += 1;
    }
}

/// `p` (rtph264pay's, no extension) with our SSRC, `seq`, `rtp_ts` and the replay extension.
fn with_extension(p: &[u8], seq: u16, rtp_ts: u32, ntp_ns: u64, flags: u8, cseq: u8) -> Vec<u8> {
    let csrcs = usize::from(p[0] & 0x0f) * 4;
    let mut out = Vec::with_capacity(p.len() + 16);
    out.push(p[0] | 0x10);
    out.push(p[1]);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&rtp_ts.to_be_bytes());
    out.extend_from_slice(&SSRC.to_be_bytes());
    out.extend_from_slice(&p[12..12 + csrcs]);
    out.extend_from_slice(&0xabac_u16.to_be_bytes());
    out.extend_from_slice(&3u16.to_be_bytes());
    let secs = ntp_ns / 1_000_000_000;
    let frac = ((ntp_ns % 1_000_000_000) << 32) / 1_000_000_000;
    out.extend_from_slice(&((secs << 32) | frac).to_be_bytes());
    out.extend_from_slice(&[flags, cseq, 0, 0]);
    out.extend_from_slice(&p[12 + csrcs..]);
    out
}

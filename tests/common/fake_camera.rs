//! A small scriptable RTSP "camera" for behaviour a real server can't be made to show: packet loss,
//! reordering, strangers' packets. It serves real H.264 (encoded once per test process with x264enc and
//! packetized by rtph264pay) over RTP/UDP, on 127.0.0.1 only.

use gst::prelude::*;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// What the camera does to the packet stream. `index` counts packets sent since PLAY.
#[derive(Clone, Default)]
pub struct Script {
    /// Drop packet `index` when it returns true.
    pub drop: Option<fn(usize) -> bool>,
    /// Swap packet `index` with the next one when it returns true.
    pub swap: Option<fn(usize) -> bool>,
    /// Before packet `index`, also send a copy of it with another SSRC when it returns true.
    pub foreign_ssrc: Option<fn(usize) -> bool>,
    /// Extra SDP attribute lines for the video media.
    pub fmtp: Option<String>,
}

pub const SSRC: u32 = 0x2a2a_0001;

pub struct FakeCamera {
    pub port: u16,
    stop: Arc<AtomicBool>,
    pub sent: Arc<AtomicUsize>,
    pub dropped: Arc<AtomicUsize>,
    thread: Option<thread::JoinHandle<()>>,
}

/// RTP packets of about ten seconds of 320x240 30 fps H.264, encoded once.
pub fn packets() -> &'static [Vec<u8>] {
    static PACKETS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    PACKETS.get_or_init(|| {
        super::init();
        let pipeline = gst::parse::launch(
            "videotestsrc num-buffers=300 pattern=ball ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 \
             ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 bitrate=800 \
             ! rtph264pay pt=96 mtu=1000 config-interval=-1 ! appsink name=sink sync=false",
        )
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        let mut out = Vec::new();
        while let Ok(sample) = sink.pull_sample() {
            let buf = sample.buffer().unwrap();
            out.push(buf.map_readable().unwrap().to_vec());
        }
        pipeline.set_state(gst::State::Null).unwrap();
        out
    })
}

impl FakeCamera {
    pub fn start(script: Script) -> FakeCamera {
        let packets = packets();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        let (s, n, d) = (stop.clone(), sent.clone(), dropped.clone());
        let thread = thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (s, n, d, script) = (s.clone(), n.clone(), d.clone(), script.clone());
                        thread::spawn(move || serve(conn, packets, script, s, n, d));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FakeCamera {
            port,
            stop,
            sent,
            dropped,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("rtsp://127.0.0.1:{}/stream", self.port)
    }
}

impl Drop for FakeCamera {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    conn: TcpStream,
    packets: &'static [Vec<u8>],
    script: Script,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    dropped: Arc<AtomicUsize>,
) {
    conn.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut writer = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    let playing = Arc::new(AtomicBool::new(false));
    let mut client_rtp: Option<SocketAddr> = None;
    let url_base = "rtsp://127.0.0.1/stream";
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    while !stop.load(Ordering::SeqCst) {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => break,
        }
        if line.trim().is_empty() {
            if lines.is_empty() {
                continue;
            }
            let req = std::mem::take(&mut lines);
            let method = req[0].split_whitespace().next().unwrap_or("").to_string();
            let header = |name: &str| {
                req.iter().find_map(|l: &String| {
                    let (n, v) = l.split_once(':')?;
                    n.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.trim().to_string())
                })
            };
            let cseq = header("CSeq").unwrap_or_default();
            let mut extra = String::new();
            let mut body = String::new();
            match method.as_str() {
                "OPTIONS" => extra.push_str(
                    "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER\r\n",
                ),
                "DESCRIBE" => {
                    body = format!(
                        "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=fake\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\na=control:*\r\n\
                         m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1{}\r\n\
                         a=control:trackID=1\r\n",
                        script.fmtp.as_deref().map(|f| format!(";{f}")).unwrap_or_default()
                    );
                    extra.push_str(&format!(
                        "Content-Type: application/sdp\r\nContent-Base: {url_base}/\r\n"
                    ));
                }
                "SETUP" => {
                    let transport = header("Transport").unwrap_or_default();
                    let port: u16 = transport
                        .split(';')
                        .find_map(|p| p.trim().strip_prefix("client_port="))
                        .and_then(|p| p.split('-').next()?.parse().ok())
                        .unwrap_or(0);
                    client_rtp = Some(SocketAddr::from(([127, 0, 0, 1], port)));
                    extra.push_str(&format!(
                        "Session: 12345678;timeout=60\r\nTransport: RTP/AVP;unicast;client_port={}-{};server_port=6970-6971;ssrc={SSRC:08X}\r\n",
                        port,
                        port + 1
                    ));
                }
                "PLAY" => {
                    extra.push_str(&format!("Session: 12345678\r\nRTP-Info: url={url_base}/trackID=1;seq=0;rtptime=0\r\n"));
                    if let Some(dest) = client_rtp {
                        playing.store(true, Ordering::SeqCst);
                        let (p, s, n, d, script) = (
                            playing.clone(),
                            stop.clone(),
                            sent.clone(),
                            dropped.clone(),
                            script.clone(),
                        );
                        thread::spawn(move || send_rtp(dest, packets, script, p, s, n, d));
                    }
                }
                "TEARDOWN" => {
                    playing.store(false, Ordering::SeqCst);
                    extra.push_str("Session: 12345678\r\n");
                }
                _ => extra.push_str("Session: 12345678\r\n"),
            }
            let reply = format!(
                "RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
                body.len()
            );
            if writer.write_all(reply.as_bytes()).is_err() {
                break;
            }
        } else {
            lines.push(line.trim_end().to_string());
        }
    }
    playing.store(false, Ordering::SeqCst);
}

fn send_rtp(
    dest: SocketAddr,
    packets: &'static [Vec<u8>],
    script: Script,
    playing: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    dropped: Arc<AtomicUsize>,
) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let start = Instant::now();
    let ts0 = u32::from_be_bytes(packets[0][4..8].try_into().unwrap());
    let mut held: Option<Vec<u8>> = None;
    let mut index = 0usize;
    let mut lap = 0u32;
    let lap_ts = 300 * 3000u32;
    while playing.load(Ordering::SeqCst) && !stop.load(Ordering::SeqCst) {
        for p in packets {
            if !playing.load(Ordering::SeqCst) || stop.load(Ordering::SeqCst) {
                return;
            }
            let mut pkt = p.clone();
            // Continue timestamps and sequence numbers across laps; our own SSRC.
            let ts = u32::from_be_bytes(pkt[4..8].try_into().unwrap())
                .wrapping_sub(ts0)
                .wrapping_add(lap.wrapping_mul(lap_ts));
            pkt[2..4].copy_from_slice(&(index as u16).to_be_bytes());
            pkt[4..8].copy_from_slice(&ts.to_be_bytes());
            pkt[8..12].copy_from_slice(&SSRC.to_be_bytes());
            let due = start + Duration::from_micros(u64::from(ts) * 100 / 9);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                thread::sleep(wait);
            }
            let i = index;
            index += 1;
            if script.foreign_ssrc.is_some_and(|f| f(i)) {
                let mut stranger = pkt.clone();
                stranger[8..12].copy_from_slice(&0xdead_beefu32.to_be_bytes());
                let _ = sock.send_to(&stranger, dest);
            }
            if script.drop.is_some_and(|f| f(i)) {
                dropped.fetch_add(1, Ordering::SeqCst);
                continue;
            }
            if let Some(h) = held.take() {
                let _ = sock.send_to(&pkt, dest);
                let _ = sock.send_to(&h, dest);
                sent.fetch_add(2, Ordering::SeqCst);
                continue;
            }
            if script.swap.is_some_and(|f| f(i)) {
                held = Some(pkt);
                continue;
            }
            let _ = sock.send_to(&pkt, dest);
            sent.fetch_add(1, Ordering::SeqCst);
        }
        lap += 1;
    }
}

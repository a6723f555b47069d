//! A small scriptable RTSP "camera" for behaviour a real server can't be made to show: packet loss,
//! reordering, strangers' packets, refused or silent UDP, dropped connections, odd keep-alive replies,
//! expiring sessions, rotating Digest nonces. It serves real H.264 (encoded once per test process with
//! x264enc, packetized by rtph264pay) over RTP/UDP or interleaved on TCP, on 127.0.0.1 only.

pub mod audio;
pub mod captured;
mod clock;
mod describe;
mod digest;
pub mod h265_packets;
mod rtcp;
mod script;
mod sender;
mod sockets;
mod stale;

pub use audio::FakeAudio;
pub use captured::Captured;

pub use clock::CameraClock;
use digest::{digest_ok, digest_param};
pub use script::Script;
use sender::{Dest, Sender};
pub use sockets::{listen, no_data_yet, ETHERNET_MSS};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

pub const SSRC: u32 = 0x2a2a_0001;

pub struct FakeCamera {
    pub port: u16,
    stop: Arc<AtomicBool>,
    pub shared: Arc<Shared>,
    thread: Option<thread::JoinHandle<()>>,
}

/// What the camera saw and did, for assertions.
#[derive(Default)]
pub struct Shared {
    pub sent: AtomicUsize,
    pub dropped: AtomicUsize,
    /// Packets sent with a stranger's SSRC (`Script::foreign_ssrc`).
    pub strangers: AtomicUsize,
    pub connections: AtomicUsize,
    /// RTCP receiver reports from the client, over UDP or interleaved.
    pub receiver_reports: AtomicUsize,
    /// The interarrival jitter each of those reported (RTP units), in order.
    pub reported_jitter: Mutex<Vec<u32>>,
    /// The port of the last RTCP socket the camera announced.
    pub rtcp_port: AtomicUsize,
    /// Requests in arrival order: "METHOD transport-or-empty".
    pub requests: Mutex<Vec<String>>,
    /// Every Digest `response=` received (for the secrets test).
    pub digest_responses: Mutex<Vec<String>>,
    /// Sessions that expired for want of a keep-alive.
    pub expiries: AtomicUsize,
    /// When the last scripted end of a session came (close, stall or BYE scripts).
    pub session_ended: Mutex<Option<Instant>>,
    /// With `Script::log_frames`: (RTP timestamp, when its last packet left, keyframe) per frame sent.
    pub frames: Mutex<Vec<(u32, Instant, bool)>>,
    /// The camera's NTP time (ns since 1900) of every frame sent, by its own clock.
    pub frame_ntp: Mutex<Vec<u64>>,
    /// Sender reports sent.
    pub sender_reports: AtomicUsize,
    /// NAT dummy packets: on the RTP port before the PLAY request, and RTCP without a CNAME (our
    /// reports always have one).
    pub nat_rtp_before_play: AtomicUsize,
    pub nat_rtcp: AtomicUsize,
    /// Keyframe requests received in compound RTCP: PLI and FIR.
    pub plis: AtomicUsize,
    pub firs: AtomicUsize,
    /// Audio packets sent and dropped (`Script::audio`), over all audio tracks.
    pub audio_sent: AtomicUsize,
    pub audio_dropped: AtomicUsize,
    /// Audio packets sent out of order (`swap`) and under the changed SSRC (`ssrc_change_at`).
    pub audio_swapped: AtomicUsize,
    pub audio_new_ssrc: AtomicUsize,
}

impl Shared {
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    pub fn count(&self, method: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.starts_with(method))
            .count()
    }
}

/// RTP packets of ten seconds of 320x240 30 fps H.264, encoded once.
pub fn packets() -> &'static [Vec<u8>] {
    static PACKETS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    PACKETS.get_or_init(|| encode(320, 240, 800, 300, 1000, "ball"))
}

/// Encodes `frames` frames of a videotestsrc `pattern` at 30 fps with x264enc (one keyframe a second) and packetizes them with
/// rtph264pay, as fast as the encoder goes.
pub fn encode(
    width: u32,
    height: u32,
    kbps: u32,
    frames: u32,
    mtu: u32,
    pattern: &str,
) -> Vec<Vec<u8>> {
    encode_with(width, height, kbps, frames, mtu, pattern, 30, "")
}

/// Like `encode`, at `fps` (still one keyframe a second) and with more x264enc options
/// (`intra-refresh=true`, …).
#[allow(clippy::too_many_arguments)]
pub fn encode_with(
    width: u32,
    height: u32,
    kbps: u32,
    frames: u32,
    mtu: u32,
    pattern: &str,
    fps: u32,
    x264: &str,
) -> Vec<Vec<u8>> {
    super::pull_all(&format!(
        "videotestsrc num-buffers={frames} pattern={pattern} ! video/x-raw,format=I420,width={width},height={height},framerate={fps}/1 \
         ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} bitrate={kbps} {x264} \
         ! rtph264pay pt=96 mtu={mtu} config-interval=-1 ! appsink name=sink sync=false"
    ))
}

impl FakeCamera {
    pub fn start(script: Script) -> FakeCamera {
        Self::start_with(script, packets())
    }

    /// Serves `packets` (from `encode`) in a loop to every client.
    pub fn start_with(script: Script, packets: &'static [Vec<u8>]) -> FakeCamera {
        let segments = script.ethernet_segments.then_some(ETHERNET_MSS);
        let listener = listen(0, segments);
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared::default());
        let (s, sh) = (stop.clone(), shared.clone());
        let down_after_close = script.down_after_close;
        let thread = thread::spawn(move || {
            let mut listener = Some(listener);
            let mut downed_for = None;
            while !s.load(Ordering::SeqCst) {
                // A rebooting camera: the port refuses connections for a while after the close.
                let ended = *sh.session_ended.lock().unwrap();
                if let Some((down, end)) = down_after_close.zip(ended) {
                    let now = Instant::now();
                    if listener.is_some() && downed_for != Some(end) && now < end + down {
                        listener = None;
                        downed_for = Some(end);
                    } else if listener.is_none() && now >= end + down {
                        listener = Some(listen(port, segments));
                    }
                }
                let Some(l) = &listener else {
                    thread::sleep(Duration::from_millis(5));
                    continue;
                };
                match l.accept() {
                    Ok((conn, _)) => {
                        if script.tcp_nodelay {
                            conn.set_nodelay(true).unwrap();
                        }
                        let n = sh.connections.fetch_add(1, Ordering::SeqCst);
                        let conn_state = Connection {
                            script: script.clone(),
                            packets: if n == 0 {
                                packets
                            } else {
                                script.after_reconnect.unwrap_or(packets)
                            },
                            stop: s.clone(),
                            shared: sh.clone(),
                            first: n == 0,
                            number: n,
                            port,
                        };
                        thread::spawn(move || conn_state.serve(conn));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeCamera {
            port,
            stop,
            shared,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("rtsp://127.0.0.1:{}/stream", self.port)
    }

    /// The session outlived the camera's timeout through keep-alives: no reconnect or other element
    /// message, no expiry, GET_PARAMETER at least twice, and the recording plays. `context` names the
    /// case in failure messages.
    pub fn assert_kept_alive(&self, rec: &super::Recording, context: &str) {
        assert!(
            rec.element_messages.is_empty(),
            "{context}: {:?}",
            rec.element_messages
        );
        assert_eq!(self.shared.expiries.load(Ordering::SeqCst), 0, "{context}");
        assert!(
            self.shared.count("GET_PARAMETER") >= 2,
            "{context}: {:?}",
            self.shared.requests()
        );
        rec.assert_plays();
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

struct Connection {
    script: Script,
    packets: &'static [Vec<u8>],
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
    first: bool,
    /// 0 for the first connection.
    number: usize,
    /// The camera's RTSP port.
    port: u16,
}

const NONCES: [&str; 2] = ["0a4f113b", "7c9e2d51"];

impl Connection {
    fn serve(self, conn: TcpStream) {
        conn.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let writer = Arc::new(Mutex::new(conn.try_clone().unwrap()));
        let mut reader = BufReader::new(conn);
        let playing = Arc::new(AtomicBool::new(false));
        // Set by the sender when the script closes this connection.
        let closing = Arc::new(AtomicBool::new(false));
        let last_request = Arc::new(Mutex::new(Instant::now()));
        let expired = Arc::new(AtomicBool::new(false));
        let mut dest = None;
        // The video's interleaved RTP channel, and each audio track's destination and channel.
        let mut video_channel = 0u8;
        let mut audio_dests: Vec<(usize, Dest, u8)> = Vec::new();
        // The camera's RTP port, where NAT dummy packets land (it sends from another socket).
        let mut rtp_port_socket = None;
        let mut nonce = 0;
        let mut keepalives = 0;
        let mut prev_cseq = String::from("0");
        let base = "rtsp://127.0.0.1/stream";
        let mut lines: Vec<String> = Vec::new();
        let mut line = String::new();
        loop {
            if self.stop.load(Ordering::SeqCst) || closing.load(Ordering::SeqCst) {
                break;
            }
            line.clear();
            // Interleaved frames from the client (RTCP receiver reports over TCP).
            match reader.fill_buf() {
                Ok([b'$', ..]) => {
                    let mut head = [0u8; 4];
                    let mut frame = Vec::new();
                    if reader.read_exact(&mut head).is_err() {
                        break;
                    }
                    frame.resize(usize::from(u16::from_be_bytes([head[2], head[3]])), 0);
                    if reader.read_exact(&mut frame).is_err() {
                        break;
                    }
                    rtcp::take_interleaved(
                        &frame,
                        &self.script,
                        self.ssrc(),
                        &self.shared,
                        &writer,
                    );
                    continue;
                }
                Ok([]) => break,
                Ok(_) => {}
                // Nothing yet: look again, so that a frame arriving now is not read as a text line.
                Err(e) if no_data_yet(&e) => continue,
                Err(_) => break,
            }
            match reader.read_line(&mut line) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if no_data_yet(&e) => continue,
                Err(_) => break,
            }
            if !line.trim().is_empty() {
                lines.push(line.trim_end().to_string());
                continue;
            }
            if lines.is_empty() {
                continue;
            }
            let req = std::mem::take(&mut lines);
            let method = req[0].split_whitespace().next().unwrap_or("").to_string();
            let header = |name: &str| {
                req.iter().find_map(|l| {
                    let (n, v) = l.split_once(':')?;
                    n.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.trim().to_string())
                })
            };
            let cseq = header("CSeq").unwrap_or_default();
            let transport = header("Transport").unwrap_or_default();
            self.shared
                .requests
                .lock()
                .unwrap()
                .push(format!("{method} {transport}").trim().to_string());
            let is_keepalive = matches!(method.as_str(), "GET_PARAMETER" | "OPTIONS")
                && playing.load(Ordering::SeqCst);
            // A request coming after the session timeout finds the session gone, even if the sender
            // has not noticed yet.
            if let Some(t) = self
                .script
                .session_timeout
                .filter(|_| !self.script.keep_session)
            {
                let idle = last_request.lock().unwrap().elapsed();
                if playing.load(Ordering::SeqCst)
                    && idle > Duration::from_secs(t.into())
                    && !expired.swap(true, Ordering::SeqCst)
                {
                    self.shared.expiries.fetch_add(1, Ordering::SeqCst);
                }
            }
            // Tapo: a GET_PARAMETER it refuses does not keep the session alive.
            let refused = method == "GET_PARAMETER" && self.script.get_parameter_status.is_some();
            if !refused {
                *last_request.lock().unwrap() = Instant::now();
            }
            let reply_cseq = if is_keepalive && self.script.keepalive_wrong_cseq {
                prev_cseq.clone()
            } else {
                cseq.clone()
            };
            prev_cseq = cseq.clone();

            let mut status = "200 OK".to_string();
            let mut extra = String::new();
            let mut body = String::new();
            if let Some((user, password)) = &self.script.digest {
                if is_keepalive && keepalives == 0 && nonce == 0 {
                    // The nonce expires: answer the first keep-alive with a new, stale challenge.
                    nonce = 1;
                    keepalives += 1;
                    let r = format!(
                        "RTSP/1.0 401 Unauthorized\r\nCSeq: {reply_cseq}\r\nWWW-Authenticate: Digest realm=\"cam\", nonce=\"{}\"{}\r\n\r\n",
                        NONCES[nonce],
                        self.script.digest_stale.unwrap_or(", stale=true")
                    );
                    let _ = writer.lock().unwrap().write_all(r.as_bytes());
                    continue;
                }
                let auth = header("Authorization").unwrap_or_default();
                let ok = digest_ok(&auth, &method, user, password, NONCES[nonce]);
                if let Some(r) = digest_param(&auth, "response") {
                    self.shared.digest_responses.lock().unwrap().push(r);
                }
                if !ok {
                    let r = format!(
                        "RTSP/1.0 401 Unauthorized\r\nCSeq: {reply_cseq}\r\nWWW-Authenticate: Digest realm=\"cam\", nonce=\"{}\"\r\n\r\n",
                        NONCES[nonce]
                    );
                    let _ = writer.lock().unwrap().write_all(r.as_bytes());
                    continue;
                }
            }
            let timeout = self.script.session_timeout.unwrap_or(60);
            match method.as_str() {
                _ if is_keepalive && self.script.ignore_keepalives => continue,
                "OPTIONS" => extra.push_str(
                    "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER\r\n",
                ),
                "DESCRIBE" if self.booting_reply().is_some() => match self.booting_reply() {
                    Some(0) => {
                        body = "v=0\r\ns=booting\r\nt=0 0\r\nm=audio 0 RTP/AVP 8\r\na=control:trackID=2\r\n".into();
                        extra.push_str("Content-Type: application/sdp\r\n");
                    }
                    Some(401) => {
                        status = "401 Unauthorized".into();
                        extra.push_str("WWW-Authenticate: Basic realm=\"cam\"\r\n");
                    }
                    Some(code) => status = format!("{code} Booting"),
                    None => {}
                },
                "DESCRIBE" => {
                    body = describe::sdp(&self.script);
                    extra.push_str(&format!(
                        "Content-Type: application/sdp\r\nContent-Base: {base}/\r\n"
                    ));
                }
                "SETUP" if self.refused_setup(&req[0]).is_some() => {
                    status = format!("{} Refused", self.refused_setup(&req[0]).unwrap_or(0));
                }
                "SETUP" if transport.contains("/TCP") => {
                    let channel = audio::interleaved_channel(&transport);
                    match self.audio_track(&req[0]) {
                        Some(k) => audio_dests.push((k, Dest::Tcp, channel)),
                        None if dest.is_none() => {
                            dest = Some(Dest::Tcp);
                            video_channel = channel;
                        }
                        None => {}
                    }
                    extra.push_str(&format!(
                        "Session: 12345678;timeout={timeout}\r\nTransport: RTP/AVP/TCP;unicast;interleaved={channel}-{};ssrc={}\r\n",
                        channel + 1,
                        self.announced_ssrc(&req[0])
                    ));
                }
                "SETUP" if self.script.refuse_udp => status = "461 Unsupported Transport".into(),
                "SETUP" => {
                    let port = audio::client_port(&transport);
                    // The video goes to the first video SETUP's ports (a captured camera's audio
                    // track may not be recognisable as one: it must not take the video's ports).
                    match self.audio_track(&req[0]) {
                        Some(k) => audio_dests.push((k, audio::udp_dest(port), 0)),
                        None if dest.is_none() => dest = Some(audio::udp_dest(port)),
                        None => {}
                    }
                    let rtcp_port =
                        rtcp::listen(&self.script, self.ssrc(), &self.stop, &self.shared);
                    rtp_port_socket = UdpSocket::bind(("127.0.0.1", rtcp_port - 1)).ok();
                    extra.push_str(&format!(
                        "Session: 12345678;timeout={timeout}\r\nTransport: RTP/AVP;unicast;client_port={}-{};server_port={}-{rtcp_port};ssrc={}{}\r\n",
                        port,
                        port + 1,
                        rtcp_port - 1,
                        self.announced_ssrc(&req[0]),
                        self.script
                            .transport_source
                            .map(|a| format!(";source={a}"))
                            .unwrap_or_default()
                    ));
                    self.shared
                        .rtcp_port
                        .store(rtcp_port.into(), Ordering::SeqCst);
                }
                "PLAY" => {
                    if let Some(sock) = rtp_port_socket.take() {
                        rtcp::count_nat_probes(&sock, &self.shared);
                    }
                    if self.script.junk_frames && matches!(dest, Some(Dest::Tcp)) {
                        // Reolink, v4l2rtspserver: interleaved data before the PLAY reply.
                        let junk = b"\r\n$\x00\x00\x0c\x00junk-junk-j";
                        let _ = writer.lock().unwrap().write_all(junk);
                    }
                    extra.push_str(&format!(
                        "Session: 12345678\r\nRTP-Info: url={base}/trackID=1;seq=0;rtptime=0\r\n"
                    ));
                    let silent = matches!(dest, Some(Dest::Udp(_))) && self.script.silent_udp;
                    if let (Some(d), false) = (dest.take(), silent) {
                        playing.store(true, Ordering::SeqCst);
                        let audio = (&self.script, &writer, &playing, &self.stop, &self.shared);
                        audio::start(audio_dests.drain(..), audio);
                        let sender = Sender {
                            dest: d,
                            channel: video_channel,
                            writer: writer.clone(),
                            playing: playing.clone(),
                            last_request: last_request.clone(),
                            expired: expired.clone(),
                            session_timeout: self
                                .script
                                .session_timeout
                                .filter(|_| !self.script.keep_session),
                            close_after: self
                                .script
                                .close_after
                                .filter(|_| self.number < self.script.reboots.max(1)),
                            closing: closing.clone(),
                            stall_after: self.script.stall_after.filter(|_| self.first),
                            bye_after: self.script.bye_after.filter(|_| self.first),
                            junk_frames: self.script.junk_frames,
                            ssrc: self.ssrc(),
                        };
                        let (script, packets, stop, shared) = (
                            self.script.clone(),
                            self.packets,
                            self.stop.clone(),
                            self.shared.clone(),
                        );
                        // The stale session has been streaming before ours starts.
                        if self.script.stale_session {
                            let (w, stop) = (writer.clone(), self.stop.clone());
                            stale::start(d, video_channel, w, stop, self.shared.clone());
                        }
                        thread::spawn(move || sender.run(packets, &script, &stop, &shared));
                        let until = Instant::now() + Duration::from_secs(2);
                        while self.shared.sent.load(Ordering::SeqCst)
                            < self.script.packets_before_play_reply
                            && Instant::now() < until
                        {
                            thread::sleep(Duration::from_millis(1));
                        }
                    }
                }
                "TEARDOWN" if self.script.ignore_teardown => continue,
                "TEARDOWN" => {
                    playing.store(false, Ordering::SeqCst);
                    extra.push_str("Session: 12345678\r\n");
                }
                _ if expired.load(Ordering::SeqCst) => status = "454 Session Not Found".into(),
                "GET_PARAMETER" => {
                    if let Some(s) = self.script.get_parameter_status {
                        status = format!("{s} Refused");
                    }
                    extra.push_str("Session: 12345678\r\n");
                }
                _ => extra.push_str("Session: 12345678\r\n"),
            }
            let capture = self.script.captured.and_then(|c| c.reply(&method));
            let reply = match capture.filter(|_| status.starts_with("200")) {
                Some(capture) => {
                    let ours = extra
                        .split("\r\n")
                        .find_map(|l| l.strip_prefix("Transport: "));
                    captured::replay(capture, &reply_cseq, self.port, ours)
                }
                None => format!(
                    "RTSP/1.0 {status}\r\nCSeq: {reply_cseq}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
                    body.len()
                ),
            };
            if writer.lock().unwrap().write_all(reply.as_bytes()).is_err() {
                break;
            }
        }
        playing.store(false, Ordering::SeqCst);
        let _ = writer.lock().unwrap().shutdown(std::net::Shutdown::Both);
    }

    /// The scripted DESCRIBE answer of a camera still coming back from a reboot, if this connection has one.
    fn booting_reply(&self) -> Option<u16> {
        self.number
            .checked_sub(1)
            .and_then(|i| self.script.describe_after_reconnect.get(i))
            .copied()
    }

    /// The scripted audio track a SETUP's request line names (a captured camera's track IDs are its
    /// own: H264DVR's video is `trackID=3`).
    fn audio_track(&self, request_line: &str) -> Option<usize> {
        let k = audio::audio_track(request_line)?;
        let tracks = [&self.script.audio, &self.script.metadata];
        tracks.into_iter().flatten().any(|t| t.has(k)).then_some(k)
    }

    /// The status a scripted track's SETUP is refused with, if it is.
    fn refused_setup(&self, request_line: &str) -> Option<u16> {
        let k = self.audio_track(request_line)?;
        let tracks = [&self.script.audio, &self.script.metadata];
        tracks
            .into_iter()
            .flatten()
            .find(|t| t.has(k))?
            .refuse_setup
    }

    /// The SSRC a SETUP reply announces: the video's, or the audio track's it sets up.
    fn announced_ssrc(&self, request_line: &str) -> String {
        let ssrc = self
            .audio_track(request_line)
            .map_or(self.ssrc(), |k| audio::AUDIO_SSRC + k as u32);
        format!("{ssrc:08X}")
    }

    fn ssrc(&self) -> u32 {
        self.script.captured.and_then(|c| c.ssrc).unwrap_or(SSRC)
    }
}

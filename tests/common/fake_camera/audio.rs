//! Audio tracks beside the fake camera's video: their SDP sections, and a sender per track that paces
//! the track's RTP packets by their timestamps, to the ports or interleaved channel its own SETUP
//! named, with the track's scripted loss, reordering, SSRC change or silence.

use super::clock::{CameraClock, SessionClock};
use super::sender::{send_rtcp, Dest};
use super::{Script, Shared};
use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The SSRC of audio track `k`; after `FakeAudio::ssrc_change_at`, `AUDIO_SSRC + 0x100 + k`.
pub const AUDIO_SSRC: u32 = 0x0a0d_0001;

/// One or more audio tracks the camera describes (track IDs 2, 3, … beside the video's 1), or its
/// ONVIF metadata track (ID 10).
#[derive(Clone)]
pub struct FakeAudio {
    /// The media section's `m=audio 0 RTP/AVP {pt}` payload type and its attribute lines (rtpmap,
    /// fmtp; `\r\n` after each; empty for a static payload type without rtpmap).
    pub pt: u8,
    pub attributes: &'static str,
    /// The RTP clock rate of `packets`' timestamps.
    pub clock_rate: u32,
    /// Whole RTP packets (header and payload), sent in a loop, renumbered and restamped per lap.
    pub packets: &'static [Vec<u8>],
    /// How long one lap of `packets` lasts, in RTP clock ticks.
    pub lap_ticks: u64,
    /// How many such tracks the SDP lists (Ubiquiti: two audio media on one payload type).
    pub tracks: usize,
    /// The audio sections come before the video's in the SDP.
    pub before_video: bool,
    /// Drop audio packet `index` (counted per track since PLAY) when it returns true.
    pub drop: Option<fn(usize) -> bool>,
    /// Swap audio packet `index` with the next when it returns true.
    pub swap: Option<fn(usize) -> bool>,
    /// From this packet on, the track's SSRC is another (its sequence and timestamps go on).
    pub ssrc_change_at: Option<usize>,
    /// Set up, then never a packet (a camera whose audio encoder is off).
    pub silent: bool,
    /// Its SETUP is answered with this status (a camera listing audio it will not serve).
    pub refuse_setup: Option<u16>,
    /// The `m=` line's media: `audio`, or `application` for ONVIF metadata.
    pub media: &'static str,
    /// The track number of the first (its control is `trackID={first_track + 2}`).
    pub first_track: usize,
    /// Its packets leave the camera this long after their capture, and its sender reports (sent when
    /// the script has them) say so: a camera that buffers its audio.
    pub late: Duration,
}

/// The track number of the ONVIF metadata (`trackID=10`).
pub const METADATA_TRACK: usize = 8;

impl FakeAudio {
    /// `tracks` = 1, after the video, every packet sent.
    pub fn new(
        pt: u8,
        attributes: &'static str,
        (clock_rate, lap_ticks): (u32, u64),
        packets: &'static [Vec<u8>],
    ) -> Self {
        FakeAudio {
            pt,
            attributes,
            clock_rate,
            packets,
            lap_ticks,
            tracks: 1,
            before_video: false,
            drop: None,
            swap: None,
            ssrc_change_at: None,
            silent: false,
            refuse_setup: None,
            media: "audio",
            first_track: 0,
            late: Duration::ZERO,
        }
    }

    /// An ONVIF metadata track (`application`, `trackID=10`) of `packets` at 90 kHz.
    pub fn metadata(attributes: &'static str, lap_ticks: u64, packets: &'static [Vec<u8>]) -> Self {
        FakeAudio {
            media: "application",
            first_track: METADATA_TRACK,
            ..FakeAudio::new(107, attributes, (90_000, lap_ticks), packets)
        }
    }

    /// Whether track number `k` is one of these.
    pub fn has(&self, k: usize) -> bool {
        (self.first_track..self.first_track + self.tracks).contains(&k)
    }

    /// The SDP media sections of every audio track.
    pub fn sdp(&self) -> String {
        (0..self.tracks)
            .map(|k| {
                format!(
                    "m={} 0 RTP/AVP {}\r\n{}a=control:trackID={}\r\n",
                    self.media,
                    self.pt,
                    self.attributes,
                    self.first_track + k + 2
                )
            })
            .collect()
    }
}

/// Sends one audio track until the session stops playing.
pub struct AudioSender {
    pub audio: FakeAudio,
    /// Which track (0 for trackID=2).
    pub track: usize,
    pub dest: Dest,
    /// The interleaved RTP channel its SETUP asked for (over TCP).
    pub channel: u8,
    pub writer: Arc<Mutex<TcpStream>>,
    pub playing: Arc<AtomicBool>,
    pub stop: Arc<AtomicBool>,
    pub shared: Arc<Shared>,
    /// The camera's clock and how often it sends sender reports (none: never).
    pub clock: CameraClock,
    pub sender_reports: Option<Duration>,
}

impl AudioSender {
    fn send(&self, sock: &UdpSocket, pkt: &[u8]) -> bool {
        match self.dest {
            Dest::Udp(addr) => sock.send_to(pkt, addr).is_ok(),
            Dest::Tcp => {
                let mut frame = vec![b'$', self.channel];
                frame.extend_from_slice(&(pkt.len() as u16).to_be_bytes());
                frame.extend_from_slice(pkt);
                self.writer.lock().unwrap().write_all(&frame).is_ok()
            }
        }
    }

    /// A sender report for now: the NTP time, and the RTP time of the audio captured now, `late`
    /// ahead of the audio going out.
    fn sender_report(&self, clock: &SessionClock, ssrc: u32, base_ts: u32) -> Vec<u8> {
        let t = clock.elapsed();
        let ticks =
            (t + self.audio.late).as_nanos() * u128::from(self.audio.clock_rate) / 1_000_000_000;
        clock.report(ssrc, t, base_ts.wrapping_add(ticks as u32))
    }

    pub fn run(self) {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let packets = self.audio.packets;
        let ts = |p: &[u8]| u32::from_be_bytes(p[4..8].try_into().unwrap());
        let ts0 = ts(&packets[0]);
        let lap_ts = self.audio.lap_ticks;
        let start = Instant::now();
        let clock = SessionClock::new(self.clock, start);
        let mut next_sr = self.sender_reports.map(|_| start);
        let base_ts = 0x1234_5678u32.wrapping_add(self.track as u32 * 0x1111);
        let mut held: Option<Vec<u8>> = None;
        let mut index = 0usize;
        for lap in 0u64.. {
            for (k, p) in packets.iter().enumerate() {
                if !self.playing.load(Ordering::SeqCst) || self.stop.load(Ordering::SeqCst) {
                    return;
                }
                if let (Some(at), Some(every)) = (next_sr, self.sender_reports) {
                    if Instant::now() >= at {
                        let ssrc = AUDIO_SSRC + self.track as u32;
                        let sr = self.sender_report(&clock, ssrc, base_ts);
                        send_rtcp(self.dest, self.channel, &self.writer, &sock, &sr);
                        next_sr = Some(at + every);
                    }
                }
                let nominal = lap * lap_ts + u64::from(ts(p).wrapping_sub(ts0));
                // A packet leaves once the audio it carries is captured: when the next one's starts.
                let end = match packets.get(k + 1) {
                    Some(next) => lap * lap_ts + u64::from(ts(next).wrapping_sub(ts0)),
                    None => (lap + 1) * lap_ts,
                };
                let due = start
                    + Duration::from_nanos(end * 1_000_000_000 / u64::from(self.audio.clock_rate));
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    thread::sleep(wait);
                }
                let i = index;
                index += 1;
                let mut pkt = p.clone();
                pkt[1] = (pkt[1] & 0x80) | self.audio.pt;
                pkt[2..4].copy_from_slice(&(i as u16).to_be_bytes());
                pkt[4..8].copy_from_slice(&base_ts.wrapping_add(nominal as u32).to_be_bytes());
                let changed = self.audio.ssrc_change_at.is_some_and(|n| i >= n);
                let ssrc = AUDIO_SSRC + self.track as u32 + if changed { 0x100 } else { 0 };
                pkt[8..12].copy_from_slice(&ssrc.to_be_bytes());
                if changed {
                    self.shared.audio_new_ssrc.fetch_add(1, Ordering::SeqCst);
                }
                if self.audio.drop.is_some_and(|f| f(i)) {
                    self.shared.audio_dropped.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                if let Some(h) = held.take() {
                    self.send(&sock, &pkt);
                    self.send(&sock, &h);
                    self.shared.audio_sent.fetch_add(2, Ordering::SeqCst);
                    self.shared.audio_swapped.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                if self.audio.swap.is_some_and(|f| f(i)) {
                    held = Some(pkt);
                    continue;
                }
                if !self.send(&sock, &pkt) {
                    return;
                }
                self.shared.audio_sent.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

/// What an audio sender shares with its session: the script, the RTSP connection (for interleaved
/// packets), the session's playing flag, the camera's stop flag and its counters.
pub type Session<'a> = (
    &'a Script,
    &'a Arc<Mutex<TcpStream>>,
    &'a Arc<AtomicBool>,
    &'a Arc<AtomicBool>,
    &'a Arc<Shared>,
);

/// At PLAY: a sender for every audio track set up, (track, destination, interleaved channel), unless
/// the script keeps the audio silent.
pub fn start(dests: impl Iterator<Item = (usize, Dest, u8)>, session: Session) {
    let (script, writer, playing, stop, shared) = session;
    for (track, dest, channel) in dests {
        let tracks = [&script.audio, &script.metadata];
        let Some(audio) = tracks
            .into_iter()
            .flatten()
            .find(|a| a.has(track) && !a.silent)
        else {
            continue;
        };
        let sender = AudioSender {
            audio: audio.clone(),
            track,
            dest,
            channel,
            writer: writer.clone(),
            playing: playing.clone(),
            stop: stop.clone(),
            shared: shared.clone(),
            clock: script.clock,
            sender_reports: script.sender_reports,
        };
        thread::spawn(move || sender.run());
    }
}

/// The RTP port of a UDP SETUP's `client_port=a-b`.
pub fn client_port(transport: &str) -> u16 {
    transport
        .split(';')
        .find_map(|p| p.trim().strip_prefix("client_port="))
        .and_then(|p| p.split('-').next()?.parse().ok())
        .unwrap_or(0)
}

/// The RTP channel of a TCP SETUP's `interleaved=a-b` (0 when it names none).
pub fn interleaved_channel(transport: &str) -> u8 {
    transport
        .split(';')
        .find_map(|p| p.trim().strip_prefix("interleaved="))
        .and_then(|p| p.split('-').next()?.parse().ok())
        .unwrap_or(0)
}

/// Which audio track a SETUP's request line names (`…/trackID=2` → 0), `None` for the video.
pub fn audio_track(request_line: &str) -> Option<usize> {
    let url = request_line.split_whitespace().nth(1)?;
    let id: usize = url.rsplit_once("trackID=")?.1.parse().ok()?;
    id.checked_sub(2)
}

/// The loopback address of a UDP client port.
pub fn udp_dest(port: u16) -> Dest {
    Dest::Udp(SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Packs raw AAC access units (from `avenc_aac`, 1024 samples each) as RFC 3640 AAC-hbr RTP packets
/// (payload type `pt`, 13-bit sizes, 3-bit index): `per_packet` AUs in each packet, except every
/// `fragment_every`-th AU, which goes alone, split over two packets (the marker on the second).
pub fn aac_hbr_packets(
    aus: &[Vec<u8>],
    pt: u8,
    per_packet: usize,
    fragment_every: usize,
) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let packet = |aus: &[&[u8]], size: usize, marker: bool, ts: u32| {
        let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }, 0, 0];
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&0u32.to_be_bytes());
        p.extend_from_slice(&((16 * aus.len()) as u16).to_be_bytes());
        for au in aus {
            let len = if size > 0 { size } else { au.len() };
            p.extend_from_slice(&((len as u16) << 3).to_be_bytes());
        }
        for au in aus {
            p.extend_from_slice(au);
        }
        p
    };
    let mut i = 0;
    while i < aus.len() {
        let ts = (i * 1024) as u32;
        if fragment_every > 0 && i % fragment_every == fragment_every - 1 && aus[i].len() > 1 {
            let (a, b) = aus[i].split_at(aus[i].len() / 2);
            out.push(packet(&[a], aus[i].len(), false, ts));
            out.push(packet(&[b], aus[i].len(), true, ts));
            i += 1;
            continue;
        }
        let n = per_packet
            .min(aus.len() - i)
            .min(if fragment_every > 0 {
                fragment_every - 1 - i % fragment_every
            } else {
                usize::MAX
            })
            .max(1);
        let group: Vec<&[u8]> = aus[i..i + n].iter().map(|a| a.as_slice()).collect();
        out.push(packet(&group, 0, true, ts));
        i += n;
    }
    out
}

/// Bits written most significant first, for hand-packed LATM.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    bits: usize,
}

impl BitWriter {
    fn put(&mut self, value: u32, n: usize) {
        for i in (0..n).rev() {
            if self.bits.is_multiple_of(8) {
                self.bytes.push(0);
            }
            if (value >> i) & 1 == 1 {
                *self.bytes.last_mut().unwrap() |= 0x80 >> (self.bits % 8);
            }
            self.bits += 1;
        }
    }

    /// A StreamMuxConfig (ISO 14496-3 §1.7.3: version 0, one program, one layer, frame length type
    /// 0) around the 16-bit AudioSpecificConfig `asc`.
    fn stream_mux_config(&mut self, asc: u16) {
        // Version 0, allStreamsSameTimeFraming 1, one sub-frame, one program and layer.
        self.put(0x2000, 15);
        self.put(u32::from(asc), 16);
        self.put(0, 3);
        self.put(0xff, 8);
        self.put(0, 2);
    }
}

/// The `config=` (hex) of an MP4A-LATM fmtp for the 16-bit AudioSpecificConfig `asc`.
pub fn latm_config(asc: u16) -> String {
    let mut w = BitWriter::default();
    w.stream_mux_config(asc);
    w.bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Packs raw AAC access units (1024 samples each) as MP4A-LATM RTP packets with `cpresent=1` (RFC
/// 6416): one AudioMuxElement per packet, every `config_every`-th carrying the StreamMuxConfig of
/// `asc` in band (the frame then starts at an odd bit), the others saying it is the same.
pub fn latm_in_band_packets(
    aus: &[Vec<u8>],
    pt: u8,
    asc: u16,
    config_every: usize,
) -> Vec<Vec<u8>> {
    aus.iter()
        .enumerate()
        .map(|(i, au)| {
            let mut w = BitWriter::default();
            let in_band = i % config_every == 0;
            w.put(u32::from(!in_band), 1);
            if in_band {
                w.stream_mux_config(asc);
            }
            for _ in 0..au.len() / 255 {
                w.put(255, 8);
            }
            w.put((au.len() % 255) as u32, 8);
            for &b in au {
                w.put(u32::from(b), 8);
            }
            let mut p = vec![0x80, 0x80 | pt, 0, 0];
            p.extend_from_slice(&((i * 1024) as u32).to_be_bytes());
            p.extend_from_slice(&[0; 4]);
            p.extend_from_slice(&w.bytes);
            p
        })
        .collect()
}

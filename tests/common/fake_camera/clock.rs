//! The fake camera's clocks: an NTP clock offset from the host's (and stepped, when scripted), an RTP
//! clock running fast or slow by a known ppm, and what carries them to the client: sender reports and
//! the ONVIF replay header extension.

use std::time::{Duration, Instant, SystemTime};

/// Seconds from 1900 to 1970.
const NTP_UNIX_S: u64 = 2_208_988_800;

/// How the camera's clocks differ from the host's.
#[derive(Clone, Copy, Default, Debug)]
pub struct CameraClock {
    /// The camera's NTP time is the host's real-time clock plus this.
    pub ntp_offset_ms: i64,
    /// The RTP clock runs this many ppm fast (negative: slow) against the camera's NTP clock.
    pub ppm: i64,
    /// RTP time at the start of the session.
    pub rtp_offset: u32,
    /// After this long, the NTP clock steps by this many ms (a camera resynchronising its clock).
    pub jump: Option<(Duration, i64)>,
    /// A frame goes out this long after its capture (encoder and camera buffering).
    pub latency: Duration,
}

/// One session's clock: `start` is camera time 0 and nominal RTP time 0.
pub struct SessionClock {
    cfg: CameraClock,
    start: Instant,
    /// The camera's NTP time at `start`, ns since 1900.
    ntp0: i128,
}

impl SessionClock {
    pub fn new(cfg: CameraClock, start: Instant) -> Self {
        let unix = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i128;
        let ntp0 = unix
            + i128::from(NTP_UNIX_S) * 1_000_000_000
            + i128::from(cfg.ntp_offset_ms) * 1_000_000;
        SessionClock { cfg, start, ntp0 }
    }

    /// The camera's NTP time (ns since 1900) of camera time `t` since the start.
    pub fn ntp_ns(&self, t: Duration) -> u64 {
        let jump = match self.cfg.jump {
            Some((after, ms)) if t >= after => i128::from(ms) * 1_000_000,
            _ => 0,
        };
        (self.ntp0 + t.as_nanos() as i128 + jump) as u64
    }

    /// The RTP time the camera stamps on what it captured at `nominal` 90 kHz ticks since the start.
    pub fn rtp(&self, nominal: u64) -> u32 {
        let ticks = i128::from(nominal) * (1_000_000 + i128::from(self.cfg.ppm)) / 1_000_000;
        self.cfg.rtp_offset.wrapping_add(ticks as u32)
    }

    /// When the frame captured at `nominal` ticks goes out.
    pub fn send_time(&self, nominal: u64) -> Instant {
        self.start + Self::at(nominal) + self.cfg.latency
    }

    /// Camera time of `nominal` ticks.
    pub fn at(nominal: u64) -> Duration {
        Duration::from_nanos(nominal * 100_000 / 9)
    }

    /// A sender report (no report blocks) for now.
    pub fn sender_report(&self, ssrc: u32) -> Vec<u8> {
        let t = self.elapsed();
        let nominal = (t.as_nanos() * 9 / 100_000) as u64;
        self.report(ssrc, t, self.rtp(nominal))
    }

    /// Camera time since the start.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// A sender report saying that RTP time `rtp` was captured at camera time `t`.
    pub fn report(&self, ssrc: u32, t: Duration, rtp: u32) -> Vec<u8> {
        let mut sr = vec![0x80, 200, 0, 6];
        sr.extend_from_slice(&ssrc.to_be_bytes());
        sr.extend_from_slice(&to_ntp(self.ntp_ns(t)).to_be_bytes());
        sr.extend_from_slice(&rtp.to_be_bytes());
        sr.extend_from_slice(&[0; 8]); // packet and octet counts
        sr
    }
}

/// ns since 1900 to NTP 32.32.
fn to_ntp(ns: u64) -> u64 {
    let (s, frac) = (ns / 1_000_000_000, ns % 1_000_000_000);
    (s << 32) | ((frac << 32) / 1_000_000_000)
}

/// `pkt` with the ONVIF replay extension (profile 0xABAC: NTP time, C/E/D/T flags, CSeq) inserted.
pub fn with_onvif(pkt: &[u8], ntp_ns: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(pkt.len() + 16);
    out.extend_from_slice(&pkt[..12]);
    out[0] |= 0x10;
    out.extend_from_slice(&[0xab, 0xac, 0, 3]);
    out.extend_from_slice(&to_ntp(ntp_ns).to_be_bytes());
    out.extend_from_slice(&[0x80, 0, 0, 0]); // C: a clean point
    out.extend_from_slice(&pkt[12..]);
    out
}

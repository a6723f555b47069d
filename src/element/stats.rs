//! The `stats` property: counters kept per access unit by the supervisor, and their documentation.

use crate::net::session_client::SessionClient;
use crate::rtp::wall_clock::WallClockStats;
use crate::rtsp::session::Lower;
use crate::stream::inbound::InboundStats;
use std::time::{Duration, Instant};

/// Counters for the `stats` property, updated once per access unit.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub inbound: InboundStats,
    /// Inbound counters of earlier connections, so totals survive reconnects.
    pub earlier: InboundStats,
    pub access_units: u64,
    pub keyframes: u64,
    pub reconnects: u64,
    /// "udp", "udp-mcast" or "tcp".
    pub transport: &'static str,
    pub bitrate: u64,
    /// How much later PTS go out for B-frame reordering, or how long a replay backwards holds each GOP
    /// before a decoder can show it (ns): part of the element's latency.
    pub reorder_ns: u64,
    /// Pictures dropped for a timestamp seconds away from the stream's.
    pub timestamp_outliers: u64,
    /// The camera's wall clock as its sender reports give it.
    pub wall: WallClockStats,
    /// How far `ntp-sync` (or lip-synced audio) PTS are behind arrival (ns): part of the element's latency.
    pub ntp_sync_ns: u64,
    /// Round-trip time to the camera (ns), 0 until it answered a reference time.
    pub round_trip_ns: u64,
    /// How often the receive loop woke, this session and earlier ones.
    pub wakeups: u64,
    pub earlier_wakeups: u64,
    rate_window: Option<(Instant, u64)>,
}

impl Stats {
    /// The `stats` property's value.
    pub fn to_structure(&self) -> gst::Structure {
        let mut total = self.earlier.clone();
        total.add(&self.inbound);
        let mut s = gst::Structure::new_empty("application/x-rustrtspsrc-stats");
        total.for_each(|name, v| s.set(name, v));
        s.set("access-units-pushed", self.access_units);
        s.set("keyframes", self.keyframes);
        s.set("reconnects", self.reconnects);
        s.set("transport", self.transport);
        s.set("bitrate", self.bitrate);
        s.set("timestamp-outliers-dropped", self.timestamp_outliers);
        let (rtp, ntp) = self.wall.last.unwrap_or_default();
        s.set("ntp-time", ntp);
        s.set("ntp-rtp-time", rtp);
        s.set(
            "clock-deviation-ppm",
            self.wall.deviation_ppm.unwrap_or(0.0),
        );
        s.set("round-trip-time", self.round_trip_ns);
        s.set("loop-wakeups", self.wakeups);
        s
    }

    /// The `stats` property's documentation, from the counters' own.
    pub fn describe() -> String {
        let mut d = String::from("Statistics (uint64 unless said):");
        for (name, doc) in InboundStats::FIELDS {
            d.push_str(&format!(" {name}: {};", doc.trim().trim_end_matches('.')));
        }
        d.push_str(
            " access-units-pushed, keyframes: buffers pushed and how many were keyframes; \
             reconnects: reconnects since start; transport (string): udp, udp-mcast or tcp; \
             bitrate: bits per second over the last second or so; timestamp-outliers-dropped: \
             pictures whose RTP time was seconds away from the stream's, dropped; \
             ntp-time, ntp-rtp-time (uint): the latest sender report's NTP time (ns since 1900) and \
             RTP time, 0 before one came; clock-deviation-ppm (double): how fast the camera's RTP \
             clock runs against its NTP clock, measured over its sender reports (0 until known); \
             round-trip-time: to the camera in ns, from its RTCP XR replies to our reference times \
             (RFC 3611; 0 while it has not answered: many cameras never do); loop-wakeups: how \
             often the thread that reads every stream woke (a packet, a timer): about one per \
             picture while the camera sends steadily, audio included",
        );
        d
    }

    /// The `stats` property's counters, once per access unit pushed.
    pub fn count(&mut self, client: &SessionClient, keyframe: bool, completed: Instant) {
        self.inbound = client.stats();
        self.access_units += 1;
        self.keyframes += u64::from(keyframe);
        self.transport = match client.lower() {
            Lower::Udp => "udp",
            Lower::Multicast => "udp-mcast",
            Lower::Tcp => "tcp",
        };
        self.wall = client.wall_clock_stats();
        self.round_trip_ns = client.round_trip().map_or(0, |d| d.as_nanos() as u64);
        self.wakeups = self.earlier_wakeups + client.wakeups();
        let bytes = self.earlier.bytes + self.inbound.bytes;
        match self.rate_window {
            Some((t, b)) if completed.duration_since(t) >= Duration::from_secs(1) => {
                let secs = completed.duration_since(t).as_secs_f64();
                self.bitrate = ((bytes - b) as f64 * 8.0 / secs) as u64;
                self.rate_window = Some((completed, bytes));
            }
            Some(_) => {}
            None => self.rate_window = Some((completed, bytes)),
        }
    }
}

//! The reconnect supervisor, run on the element's streaming thread: it runs one session client at a
//! time, falls back from UDP to TCP, reconnects after failures with backoff, turns access units into
//! timestamped buffers with caps, and failures into bus errors a person can act on.

use super::caps::caps_for;
use super::decode_times::DecodeTimes;
use super::lip_sync::{Held, LipSync};
use super::ntp_sync::SyncDelay;
use super::recovery::{stream_error, Decision};
use super::side_output::{SideBuffer, SideOutputs, SidePad};
use super::stats::Stats;
use super::timing::{Stamp, Timeline};
use crate::net::epoll::{wait_one, Waited, Waker};
use crate::net::session_client::{ClientConfig, ClientError, SessionClient};
use crate::rtsp::backoff::{self, Backoff};
use crate::rtsp::replay::Replay;
use crate::rtsp::session::Lower;
use crate::stream::inbound::InboundStats;
use std::sync::LazyLock;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod wall_time;

/// The reference of the wall-clock meta, as rtpjitterbuffer writes it.
static NTP_CAPS: LazyLock<gst::Caps> =
    LazyLock::new(|| gst::Caps::new_empty_simple("timestamp/x-ntp"));

/// What the element does with the camera's wall-clock time.
#[derive(Debug, Clone, Copy)]
pub struct WallTimeConfig {
    /// `add-reference-timestamp-meta`
    pub meta: bool,
    /// `ntp-sync`
    pub ntp_sync: bool,
}

pub enum SupervisorError {
    Flushing,
    Error(gst::ErrorMessage),
    /// The recording played (ONVIF replay) ended.
    Eos,
}

/// Things the application should hear about, posted on the bus by the element.
pub enum Notice {
    Warning(String),
    Reconnecting {
        attempt: u32,
        reason: String,
        delay: Duration,
    },
    Reconnected {
        attempts: u32,
    },
    /// PTS moved later for B-frames, or behind arrival for `ntp-sync`: the element's latency grew.
    LatencyChanged,
    /// The first session plays: its audio and metadata streams, one pad each (`audio_0`, …,
    /// `metadata_0`).
    SideStreams(Vec<SidePad>),
}

pub enum Produced {
    /// A video access unit for the src pad, with new caps to set before pushing it, and a hole in a
    /// replayed recording before it (GAP: start, duration).
    Video {
        buffer: gst::Buffer,
        caps: Option<gst::Caps>,
        gap: Option<(u64, u64)>,
        /// The first picture of a replay backwards: the segment to push before it.
        reverse: Option<ReverseStart>,
    },
    /// An audio or metadata buffer for its pad.
    Side(SideBuffer),
}

/// Where a replay backwards starts (`reverse_gops.rs`), and its Scale: the segment's rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReverseStart {
    pub segment: super::reverse_gops::ReverseSegment,
    pub scale: f64,
}

pub struct Supervisor {
    cfg: ClientConfig,
    retry: u32,
    waker: Waker,
    client: Option<SessionClient>,
    /// The current client's audio and metadata streams were compared with the pads.
    side_checked: bool,
    side: SideOutputs,
    timeline: Timeline,
    decode_times: DecodeTimes,
    timeline_epoch: u32,
    /// Holes in a replayed recording.
    gaps: super::section_gaps::SectionGaps,
    backoff: Backoff,
    /// Set once media flowed; before that, failures are configuration errors and end the stream.
    played: bool,
    discont: bool,
    stats: Arc<Mutex<Stats>>,
    wall_time: WallTimeConfig,
    sync_delay: SyncDelay,
    lip_sync: LipSync,
    /// Side frames that came before the session's first picture.
    held: Held,
    /// Warnings posted once per element: the camera's clock jumped; it is too far off for `ntp-sync`;
    /// its audio's sender reports are too far from the video's for lip-sync.
    warned_ntp_jump: bool,
    warned_clock_off: bool,
    warned_lip_sync: bool,
}

impl Supervisor {
    pub fn new(
        cfg: ClientConfig,
        retry: u32,
        waker: Waker,
        stats: Arc<Mutex<Stats>>,
        wall_time: WallTimeConfig,
    ) -> Self {
        let mut timeline = Timeline::default();
        timeline.set_recording(cfg.replay.is_some());
        let mut side = SideOutputs::default();
        side.set_recording(cfg.replay.is_some());
        Supervisor {
            cfg,
            retry,
            waker,
            client: None,
            side_checked: false,
            side,
            timeline,
            decode_times: DecodeTimes::default(),
            timeline_epoch: 0,
            gaps: Default::default(),
            backoff: Backoff::default(),
            played: false,
            discont: false,
            stats,
            wall_time,
            sync_delay: SyncDelay::default(),
            lip_sync: LipSync::default(),
            held: Held::default(),
            warned_ntp_jump: false,
            warned_clock_off: false,
            warned_lip_sync: false,
        }
    }

    /// Blocks until the next access unit. `running_time` gives the pipeline's running time now (ns).
    pub fn next(
        &mut self,
        running_time: impl Fn() -> Option<u64>,
        notify: impl Fn(Notice),
    ) -> Result<Produced, SupervisorError> {
        loop {
            let release = match self.lip_sync.started() {
                true => self.held.pop(),
                false => self.held.pop_expired(Instant::now()),
            };
            if let Some((stream, au, completed)) = release {
                match self.produce_side(stream, au, completed, &running_time, &notify) {
                    Some(produced) => return Ok(produced),
                    None => continue,
                }
            }
            let client = match &mut self.client {
                Some(r) => r,
                None => match SessionClient::connect(self.cfg.clone(), self.waker.clone()) {
                    Ok(r) => {
                        self.side_checked = false;
                        self.client.insert(r)
                    }
                    Err(e) => {
                        self.recover(e, &notify)?;
                        continue;
                    }
                },
            };
            let result = client.next_access_unit();
            for w in client.take_warnings() {
                notify(Notice::Warning(w));
            }
            match result {
                Ok((stream, au, completed)) => {
                    if self.backoff.attempt() > 0 {
                        notify(Notice::Reconnected {
                            attempts: self.backoff.attempt(),
                        });
                        self.backoff.reset();
                    }
                    self.played = true;
                    if !std::mem::replace(&mut self.side_checked, true) {
                        if let Some(pads) = self.side.on_session(client) {
                            notify(Notice::SideStreams(pads));
                        }
                    }
                    let produced = match stream {
                        0 => self.produce(stream, au, completed, &running_time, &notify),
                        // Before the first picture, side frames wait for it to give them their
                        // place (lip-sync); the oldest goes out by arrival past the bound.
                        _ if !self.lip_sync.started() && !self.wall_time.ntp_sync => {
                            match self.held.push((stream, au, completed)) {
                                Some((stream, au, completed)) => {
                                    self.produce_side(stream, au, completed, &running_time, &notify)
                                }
                                None => None,
                            }
                        }
                        _ => self.produce_side(stream, au, completed, &running_time, &notify),
                    };
                    let Some(produced) = produced else {
                        continue;
                    };
                    let reorder = self.decode_times.reorder()
                        + self
                            .cfg
                            .replay
                            .filter(|r| r.scale < 0.0)
                            .map_or(0, |r| self.timeline.reverse_latency(r.scale));
                    let sync = self.sync_delay.ns();
                    let mut st = self.stats.lock().unwrap();
                    let changed = std::mem::replace(&mut st.reorder_ns, reorder) != reorder
                        || std::mem::replace(&mut st.ntp_sync_ns, sync) != sync;
                    drop(st);
                    if changed {
                        notify(Notice::LatencyChanged);
                    }
                    return Ok(produced);
                }
                Err(ClientError::Flushing) => return Err(SupervisorError::Flushing),
                // A recording's end: RTCP BYE, or the server closing after its last frame.
                Err(e @ (ClientError::Bye | ClientError::Closed)) if self.cfg.replay.is_some() => {
                    crate::log!(self.cfg.log, Info, "the recording ended: {}", e);
                    self.drop_client(true);
                    return Err(SupervisorError::Eos);
                }
                Err(e @ ClientError::UdpSilent(_)) => {
                    // Unicast silent: multicast next if allowed, then TCP; multicast silent: TCP.
                    let was_multicast = client.lower() == Lower::Multicast;
                    let next = if !was_multicast && self.cfg.multicast {
                        "multicast"
                    } else {
                        "RTP over TCP"
                    };
                    notify(Notice::Warning(format!("{e}; switching to {next}")));
                    self.drop_client(true);
                    if was_multicast {
                        self.cfg.multicast = false;
                    } else {
                        self.cfg.udp = false;
                    }
                }
                Err(e) => self.recover(e, &notify)?,
            }
        }
    }

    /// Stream `stream`'s access unit as a buffer: caps when its SPS changed, PTS and DTS on the
    /// element's timeline, flags, the wall-clock meta; `None` for a picture whose time is an outlier.
    fn produce(
        &mut self,
        stream: usize,
        au: crate::au::AccessUnit,
        completed: Instant,
        running_time: &impl Fn() -> Option<u64>,
        notify: &impl Fn(Notice),
    ) -> Option<Produced> {
        let caps = self.caps_from_sps(stream, &au);
        let client = self.client.as_ref().expect("a client produced this");
        let (epoch, clock_rate) = (client.timeline_epoch(stream), client.clock_rate(stream));
        let ntp = client.ntp_of(stream, au.rtp_ts);
        if epoch != self.timeline_epoch {
            self.timeline_epoch = epoch;
            self.timeline.restart();
            self.decode_times.restart();
            self.lip_sync.restart();
        }
        self.warn_clock_jump(notify);
        let basis = self.basis(ntp, completed, running_time, notify);
        let backwards = self.cfg.replay.filter(|r| r.scale < 0.0).zip(ntp);
        let reverse = backwards.map(|(r, ntp)| {
            self.timeline
                .reverse_picture(ntp, au.keyframe, r.scale, r.start, basis)
        });
        let stamp = match reverse {
            Some(p) => Stamp {
                pts: p.pts,
                resynced: false,
                outlier: false,
            },
            None => self.timeline.pts(au.rtp_ts, clock_rate, basis),
        };
        if stamp.outlier {
            crate::log!(
                self.cfg.log,
                Debug,
                "picture with RTP time {} seconds away from the stream dropped",
                au.rtp_ts
            );
            self.stats.lock().unwrap().timestamp_outliers += 1;
            self.discont = true;
            return None;
        }
        // Backwards, PTS are recording times and decoders reorder each GOP themselves: no DTS, and
        // no lip-sync or holes on a timeline that runs back.
        let (pts, dts) = match reverse {
            Some(_) => (stamp.pts, None),
            None => self.decode_times.stamp(stamp.pts),
        };
        if reverse.is_none() {
            self.lip_sync
                .video(ntp.filter(|_| !self.wall_time.ntp_sync), pts);
        }
        self.count(au.keyframe, completed);
        // Taken whatever the others say: left set, it would mark the next picture too.
        let pending = std::mem::take(&mut self.discont);
        let new_gop = reverse.is_some_and(|p| p.new_gop);
        let discont = au.discont || stamp.resynced || pending || new_gop;
        let meta = ntp.filter(|_| self.wall_time.meta);
        let buffer = into_buffer(au, pts, dts, discont, meta);
        let gap = match (self.cfg.replay, reverse) {
            (Some(_), None) => self.gaps.picture(pts, discont),
            _ => None,
        };
        let reverse = reverse
            .and_then(|p| p.segment)
            .zip(backwards)
            .map(|(s, (r, _))| {
                crate::log!(
                    self.cfg.log,
                    Debug,
                    "playing backwards from {} ns since 1900, from running time {} ns",
                    s.stop,
                    s.base
                );
                ReverseStart {
                    segment: s,
                    scale: r.scale,
                }
            });
        Some(Produced::Video {
            buffer,
            caps,
            gap,
            reverse,
        })
    }

    /// Audio or metadata stream `stream`'s frame as a buffer for its pad, on a timeline of its own
    /// that follows the video by the camera's sender reports (lip-sync), else its arrival (or its
    /// capture time with `ntp-sync`).
    fn produce_side(
        &mut self,
        stream: usize,
        au: crate::au::AccessUnit,
        completed: Instant,
        running_time: &impl Fn() -> Option<u64>,
        notify: &impl Fn(Notice),
    ) -> Option<Produced> {
        let ntp = self.client.as_ref()?.ntp_of(stream, au.rtp_ts);
        let mut basis = self.basis(ntp, completed, running_time, notify);
        if let Some(ntp) = ntp.filter(|_| !self.wall_time.ntp_sync) {
            basis = self.lip_synced(ntp, basis, notify)?;
        }
        let meta = ntp.filter(|_| self.wall_time.meta);
        let client = self.client.as_ref()?;
        self.side
            .buffer(client, stream, au, basis, meta)
            .map(Produced::Side)
    }

    /// The caps of the access unit whose SPS changed: caps change with that very picture. The SPS
    /// also says how far B-frames reorder.
    fn caps_from_sps(&mut self, stream: usize, au: &crate::au::AccessUnit) -> Option<gst::Caps> {
        let client = self.client.as_ref().expect("a client produced this");
        let sps = au.sps.as_deref()?;
        match client.codec(stream).sps_info(sps) {
            Ok(info) => {
                let frame = info
                    .framerate
                    .filter(|&(n, d)| n > 0 && d > 0)
                    .map(|(n, d)| 1_000_000_000 * d as u64 / n as u64);
                self.decode_times.configure(info.reorder_frames, frame);
                Some(caps_for(&info))
            }
            Err(e) => {
                crate::log!(self.cfg.log, Warning, "cannot read the SPS for caps: {}", e);
                None
            }
        }
    }

    /// The `stats` property's counters, once per access unit pushed.
    fn count(&mut self, keyframe: bool, completed: Instant) {
        let client = self.client.as_ref().expect("a client produced this");
        self.stats
            .lock()
            .unwrap()
            .count(client, keyframe, completed);
    }

    /// Closes the client (TEARDOWN first unless the connection is known gone) and keeps its counters.
    fn drop_client(&mut self, teardown: bool) {
        if let Some(mut r) = self.client.take() {
            if teardown {
                r.teardown();
            }
            let mut st = self.stats.lock().unwrap();
            st.earlier.add(&r.stats());
            st.inbound = InboundStats::default();
            st.earlier_wakeups += r.wakeups();
        }
    }

    /// A new session follows the next buffer: DISCONT, a new timeline, caps from its SPS.
    fn expect_new_session(&mut self) {
        self.discont = true;
        self.timeline.restart();
        self.decode_times.restart();
        self.timeline_epoch = 0;
        self.side.restart();
        self.lip_sync.restart();
        self.held.clear();
    }

    /// The pipeline paused: end the session now rather than let it expire or queue stale packets; the
    /// next buffer asked for starts a new one (a keyframe, DISCONT, time still moving forward).
    pub fn suspend(&mut self) {
        if self.client.is_some() {
            crate::log!(
                self.cfg.log,
                Info,
                "paused: closing the session until PLAYING"
            );
            self.drop_client(true);
            self.expect_new_session();
        }
    }

    /// After a failure: give up (configuration errors, or too many attempts) or wait and reconnect
    /// (`recovery.rs` decides which).
    fn recover(&mut self, e: ClientError, notify: &impl Fn(Notice)) -> Result<(), SupervisorError> {
        // Cameras that allow one or two sessions refuse a reconnect while the old one lingers.
        self.drop_client(!matches!(e, ClientError::Closed | ClientError::Io(..)));
        match super::recovery::decide(&e, self.played, self.backoff.attempt(), self.retry) {
            Decision::Fatal => return Err(stream_error(e)),
            Decision::GiveUp => {
                let msg = format!("giving up after {} reconnect attempts: {e}", self.retry);
                return Err(SupervisorError::Error(gst::error_msg!(
                    gst::ResourceError::Read,
                    ["{}", msg]
                )));
            }
            Decision::Reconnect => {}
        }
        let delay = self.backoff.next_delay(backoff::jitter());
        let attempt = self.backoff.attempt();
        crate::log!(
            self.cfg.log,
            Info,
            "reconnect attempt {} in {:?}: {}",
            attempt,
            delay,
            e
        );
        notify(Notice::Reconnecting {
            attempt,
            reason: e.to_string(),
            delay,
        });
        self.stats.lock().unwrap().reconnects += 1;
        self.expect_new_session();
        if matches!(
            wait_one(None, false, Some(&self.waker), Some(delay)),
            Ok(Waited::Woken)
        ) {
            return Err(SupervisorError::Flushing);
        }
        Ok(())
    }

    /// ONVIF replay: plays the recording from `replay`'s position, speed and frames: on the session
    /// (PAUSE, PLAY), or with the first PLAY if none is up; a reconnect starts from it too. The next
    /// picture starts a new timeline and carries DISCONT, and so does each side stream's next frame;
    /// side frames held for a picture are the old position's. After a flushing seek (`flush`) the
    /// pipeline's running time starts over, and the timelines from the next frames' arrival with it:
    /// going on from the last PTS would hold every sink that syncs for as long as was played.
    pub fn replay(&mut self, replay: Replay, flush: bool) {
        crate::log!(self.cfg.log, Debug, "replaying with {:?}", replay.headers());
        self.cfg.replay = Some(replay);
        self.timeline.set_recording(true);
        self.timeline.new_replay();
        self.side.set_recording(true);
        if flush {
            self.timeline.reset();
            self.decode_times.restart();
            self.side.reset();
        } else {
            self.side.restart();
        }
        self.lip_sync.restart();
        self.held.clear();
        self.gaps.restart();
        self.discont = true;
        let failed = self
            .client
            .as_mut()
            .map(|c| c.replay(replay))
            .transpose()
            .err();
        if let Some(e) = failed {
            // The next `next` connects again, asking for this position.
            crate::log!(self.cfg.log, Info, "replay request failed: {}", e);
            self.drop_client(false);
            self.expect_new_session();
        }
    }

    /// Sends TEARDOWN and closes the connection.
    pub fn shutdown(&mut self) {
        self.drop_client(true);
    }
}

/// An access unit's bytes as a buffer with its times, flags and (`ntp`) the camera's capture time.
fn into_buffer(
    au: crate::au::AccessUnit,
    pts: u64,
    dts: Option<u64>,
    discont: bool,
    ntp: Option<u64>,
) -> gst::Buffer {
    let keyframe = au.keyframe;
    let mut buffer = gst::Buffer::from_mut_slice(au.data);
    let b = buffer.get_mut().expect("a new buffer is writable");
    b.set_pts(gst::ClockTime::from_nseconds(pts));
    b.set_dts(dts.map(gst::ClockTime::from_nseconds));
    let mut flags = gst::BufferFlags::empty();
    if !keyframe {
        flags |= gst::BufferFlags::DELTA_UNIT;
    }
    if discont {
        flags |= gst::BufferFlags::DISCONT;
    }
    b.set_flags(flags);
    if let Some(ntp) = ntp {
        add_reference_timestamp(b, ntp);
    }
    buffer
}

/// The camera's capture time `ntp` (ns since 1900) as rtpjitterbuffer writes it.
pub(super) fn add_reference_timestamp(b: &mut gst::BufferRef, ntp: u64) {
    gst::ReferenceTimestampMeta::add(
        b,
        &NTP_CAPS,
        gst::ClockTime::from_nseconds(ntp),
        gst::ClockTime::NONE,
    );
}

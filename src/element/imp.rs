//! Properties, URI handling and state changes of `rustrtspsrc`; the work itself is in `supervisor`,
//! the audio and metadata pads in `side_pads`.

use super::backchannel_pad::Backchannel;
use super::collection::Collection;
use super::pipeline_clock::PipelineClock;
use super::replay_seek::{self, PendingReplay};
use super::settings::{parse_port_range, Settings};
use super::side_pads::{Route, SidePads};
use super::stats::Stats;
use super::supervisor::{Notice, Produced, Supervisor, SupervisorError, WallTimeConfig};

mod pause;
use crate::net::epoll::Waker;
use crate::net::session_client::ClientConfig;
use crate::rtsp::url::{redact, RtspUrl};
use crate::CAT;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::base_src::CreateSuccess;
use gst_base::subclass::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::LazyLock;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct RustRtspSrc {
    settings: Mutex<Settings>,
    supervisor: Mutex<Option<Supervisor>>,
    waker: Mutex<Option<Waker>>,
    stats: Arc<Mutex<Stats>>,
    /// PLAYING → PAUSED happened and PLAYING has not come back.
    paused: AtomicBool,
    /// A thread waits to end the session for a pause: pausing again starts no other.
    suspending: Arc<AtomicBool>,
    /// basesrc's `unlock` came and `unlock_stop` has not: `create` must return FLUSHING. A wake-up
    /// without it is a pause or a resume.
    unlocked: AtomicBool,
    /// Downstream asked for a keyframe; the session client sends the request.
    keyframe_wanted: Arc<AtomicBool>,
    /// Shared with the src pad's probe, which pushes the frames that wait for a picture.
    side_pads: Arc<SidePads>,
    /// When `create` last returned a picture: side frames wait for the next only while they flow.
    last_picture: Mutex<Option<std::time::Instant>>,
    /// The streams offered as a GstStreamCollection, and the selection that came back.
    collection: Collection,
    /// The reorder window the session started with (ms): what the latency reports, whatever
    /// `latency` says since.
    started_latency_ms: AtomicU32,
    /// ONVIF's audio back channel: its pad and queue.
    backchannel: Backchannel,
    /// `onvif-mode` as the element started: seeks are replays.
    onvif_mode: AtomicBool,
    /// The replay the last seek asked for, for the streaming thread.
    pending_replay: PendingReplay,
    /// The negative-rate segment sent in place of basesrc's while playing backwards.
    downstream_segment: Arc<replay_seek::DownstreamSegment>,
    /// The trick-mode interval of the seek being prepared (a seek event's, not its segment's).
    seek_interval: Mutex<Option<gst::ClockTime>>,
    /// The pipeline's clock, for the running time each picture arrived at.
    clock: PipelineClock,
}

#[glib::object_subclass]
impl ObjectSubclass for RustRtspSrc {
    const NAME: &'static str = "GstRustRtspSrc";
    type Type = super::RustRtspSrc;
    type ParentType = gst_base::PushSrc;
    type Interfaces = (gst::URIHandler,);
}

impl RustRtspSrc {
    /// A location the element cannot use is refused: it is not kept, and the next start fails with
    /// an error naming it (redacted) and why, rather than "no location".
    fn set_location(&self, location: Option<&str>) -> Result<(), glib::Error> {
        let mut s = self.settings.lock().unwrap();
        s.refused.retain(|r| !r.starts_with("location"));
        if let Some(loc) = location {
            if let Err(e) = RtspUrl::parse(loc) {
                let why = format!("location {} refused: {e}", redact(loc));
                gst::warning!(CAT, imp = self, "{}", why);
                s.location = None;
                s.refused.push(why.clone());
                return Err(glib::Error::new(gst::URIError::BadUri, &why));
            }
        }
        s.location = location.map(str::to_string);
        Ok(())
    }

    fn receiver_config(&self) -> Result<ClientConfig, gst::ErrorMessage> {
        let s = self.settings.lock().unwrap().clone();
        let obj = self.obj();
        let backchannel = match s.backchannel {
            super::settings::Backchannel::Onvif => self.backchannel.queue(),
            super::settings::Backchannel::None => None,
        };
        super::client_config::client_config(
            &s,
            backchannel,
            self.keyframe_wanted.clone(),
            super::signals::hooks(&obj),
            crate::log::Log::new(&*obj),
        )
    }
}

impl RustRtspSrc {
    pub(super) fn collection(&self) -> &Collection {
        &self.collection
    }

    pub(super) fn backchannel(&self) -> &Backchannel {
        &self.backchannel
    }

    /// A `select-streams` event (to the element or up its pads): which streams to set up.
    fn select_streams(&self, event: &gst::Event) -> bool {
        let gst::EventView::SelectStreams(e) = event.view() else {
            return false;
        };
        let ids: Vec<String> = e.streams().into_iter().map(|s| s.to_string()).collect();
        gst::debug!(CAT, imp = self, "select-streams {:?}", ids);
        self.collection.select(ids);
        true
    }

    fn post_notice(&self, notice: Notice) {
        let obj = self.obj();
        let s = match notice {
            Notice::Warning(msg) => {
                gst::element_imp_warning!(self, gst::ResourceError::Read, ["{}", msg]);
                return;
            }
            Notice::Reconnecting {
                attempt,
                reason,
                delay,
            } => gst::Structure::builder("rustrtspsrc-reconnecting")
                .field("attempt", attempt)
                .field("reason", reason)
                .field(
                    "delay-ms",
                    u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                )
                .build(),
            Notice::Reconnected { attempts } => gst::Structure::builder("rustrtspsrc-reconnected")
                .field("attempts", attempts)
                .build(),
            Notice::LatencyChanged => {
                let _ = obj.post_message(gst::message::Latency::builder().src(&*obj).build());
                return;
            }
            Notice::SideStreams(pads) => {
                gst::debug!(CAT, imp = self, "audio and metadata pads {:?}", pads);
                let weak = obj.downgrade();
                let collection = self.collection.offered();
                self.side_pads.add(
                    obj.upcast_ref(),
                    &pads,
                    collection.as_ref(),
                    move |pad, query| {
                        weak.upgrade()
                            .is_some_and(|o| o.imp().side_pad_query(pad, query))
                    },
                );
                return;
            }
        };
        gst::info!(CAT, imp = self, "{}", s);
        let _ = obj.post_message(gst::message::Element::builder(s).src(&*obj).build());
    }
}

impl ObjectImpl for RustRtspSrc {
    fn signals() -> &'static [glib::subclass::Signal] {
        static SIGNALS: LazyLock<Vec<glib::subclass::Signal>> =
            LazyLock::new(super::signals::signals);
        SIGNALS.as_ref()
    }

    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(super::properties::specs);
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        // Every setting is read when the element starts (READY → PAUSED) and kept for the session and
        // its reconnects: a change later applies from the next start, never half.
        let state = self.obj().current_state();
        if state > gst::State::Ready {
            gst::element_imp_warning!(
                self,
                gst::LibraryError::Settings,
                [
                    "{} set in {:?}: it applies from the next start (set the element to READY or NULL \
                     and back); the session goes on as it began",
                    pspec.name(),
                    state
                ]
            );
        }
        match pspec.name() {
            "location" => {
                let loc: Option<String> = value.get().expect("type checked upstream");
                // Refused: logged, and the error at start says it.
                let _ = self.set_location(loc.as_deref());
                return;
            }
            "port-range" => {
                let v: Option<String> = value.get().expect("type checked upstream");
                let mut s = self.settings.lock().unwrap();
                s.refused.retain(|r| !r.starts_with("port-range"));
                match v.as_deref().map(parse_port_range).transpose() {
                    Ok(range) => s.port_range = range,
                    Err(e) => {
                        let why = format!("port-range {:?} refused: {e}", v.unwrap_or_default());
                        gst::warning!(CAT, imp = self, "{}", why);
                        s.refused.push(why);
                    }
                }
                return;
            }
            _ => {}
        }
        super::properties::set(&mut self.settings.lock().unwrap(), pspec.name(), value);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "stats" => self.stats.lock().unwrap().to_structure().to_value(),
            name => super::properties::get(&self.settings.lock().unwrap(), name),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.set_live(true);
        obj.set_format(gst::Format::Time);
        obj.set_do_timestamp(false);
    }
}

impl GstObjectImpl for RustRtspSrc {}

impl ElementImpl for RustRtspSrc {
    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        self.on_state_change(transition);
        self.parent_change_state(transition)
    }

    fn set_clock(&self, clock: Option<&gst::Clock>) -> bool {
        self.clock.set(clock);
        self.parent_set_clock(clock)
    }

    /// EOS (gst-launch -e, an application ending a recording) reaches basesrc's src pad through the
    /// streaming thread; the audio pads get theirs here, so that a muxer finishes every track.
    fn send_event(&self, event: gst::Event) -> bool {
        if event.type_() == gst::EventType::Eos {
            self.side_pads.eos();
        }
        if self.select_streams(&event) {
            return true;
        }
        self.keep_seek_interval(&event);
        self.parent_send_event(event)
    }

    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "RTSP H.264/H.265 source",
                "Source/Network/Video",
                "Receives H.264 or H.265 video from an RTSP camera (RTP over UDP or TCP), reconnecting by itself, and outputs Annex-B access units",
                "rustrtspsrc developers",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(super::caps::templates);
        TEMPLATES.as_ref()
    }

    /// The `backchannel` sink pad (`backchannel=onvif`): one.
    fn request_new_pad(
        &self,
        templ: &gst::PadTemplate,
        _name: Option<&str>,
        _caps: Option<&gst::Caps>,
    ) -> Option<gst::Pad> {
        let pad = self.backchannel.new_pad(templ);
        self.obj().add_pad(&pad).ok()?;
        Some(pad)
    }

    fn release_pad(&self, pad: &gst::Pad) {
        self.backchannel.set_flushing(true);
        let _ = self.obj().remove_pad(pad);
    }
}

impl URIHandlerImpl for RustRtspSrc {
    const URI_TYPE: gst::URIType = gst::URIType::Src;

    fn protocols() -> &'static [&'static str] {
        &["rtsp", "rtspt", "rtsps", "rtsph", "rtsphs"]
    }

    fn uri(&self) -> Option<String> {
        self.settings
            .lock()
            .unwrap()
            .location
            .as_deref()
            .map(redact)
    }

    fn set_uri(&self, uri: &str) -> Result<(), glib::Error> {
        self.set_location(Some(uri))
    }
}

impl BaseSrcImpl for RustRtspSrc {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let cfg = self.receiver_config()?;
        gst::debug!(CAT, imp = self, "starting for {}", cfg.url);
        self.collection.reset();
        let waker = Waker::new().map_err(|e| {
            gst::error_msg!(
                gst::ResourceError::Failed,
                ["cannot create a wake-up socket: {}", e]
            )
        })?;
        *self.waker.lock().unwrap() = Some(waker.clone());
        let window_ms = u32::try_from(cfg.latency.as_millis()).unwrap_or(u32::MAX);
        self.started_latency_ms.store(window_ms, Ordering::Relaxed);
        let (retry, wall_time) = {
            let s = self.settings.lock().unwrap();
            let wall_time = WallTimeConfig {
                meta: s.reference_timestamp_meta,
                ntp_sync: s.ntp_sync,
            };
            (s.reconnect_attempts, wall_time)
        };
        self.onvif_mode
            .store(cfg.replay.is_some(), Ordering::SeqCst);
        *self.stats.lock().unwrap() = Stats::default();
        self.unlocked.store(false, Ordering::SeqCst);
        self.paused.store(false, Ordering::SeqCst);
        *self.last_picture.lock().unwrap() = None;
        *self.supervisor.lock().unwrap() = Some(Supervisor::new(
            cfg,
            retry,
            waker,
            self.stats.clone(),
            wall_time,
        ));
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        gst::debug!(CAT, imp = self, "stopping");
        if let Some(mut supervisor) = self.supervisor.lock().unwrap().take() {
            supervisor.shutdown();
        }
        self.side_pads.remove_all(self.obj().upcast_ref());
        *self.waker.lock().unwrap() = None;
        Ok(())
    }

    /// A recording (`onvif-mode`) is; a live camera is not.
    fn is_seekable(&self) -> bool {
        self.onvif_mode.load(Ordering::SeqCst)
    }

    /// `onvif-mode`: a TIME seek is a position in the recording (ns since 1900) for the next PLAY.
    fn do_seek(&self, segment: &mut gst::Segment) -> bool {
        if !self.onvif_mode.load(Ordering::SeqCst) {
            return self.parent_do_seek(segment);
        }
        let Some(seg) = segment.downcast_mut::<gst::ClockTime>() else {
            gst::warning!(CAT, imp = self, "only TIME seeks (since 1900) are replays");
            return false;
        };
        let rate_control = self.settings.lock().unwrap().onvif_rate_control;
        let interval = self.seek_interval.lock().unwrap().take();
        let replay = replay_seek::replay_of(seg, rate_control, interval);
        gst::debug!(CAT, imp = self, "seek: replay {:?}", replay.headers());
        replay_seek::output_segment(seg, &replay);
        self.downstream_segment.watch(self.obj().src_pad());
        self.downstream_segment.seek();
        // basesrc flushes the src pad and sends it the segment; the audio and metadata pads likewise.
        let flush = seg.flags().contains(gst::SegmentFlags::RESET);
        // Audio is not played backwards here: its segment says the server reversed it.
        let mut side = seg.clone();
        if replay.scale < 0.0 {
            side.set_applied_rate(replay.scale);
        }
        self.side_pads.seek(side.upcast_ref(), flush);
        self.pending_replay.set(replay, flush);
        true
    }

    /// The caps come from the stream's SPS with its first buffer (`create`); basesrc's default would
    /// fixate the pad template first and announce H.264 to an H.265 pipeline.
    fn negotiate(&self) -> Result<(), gst::LoggableError> {
        Ok(())
    }

    /// An upstream ForceKeyUnit (splitmuxsink starting a file, a new viewer) becomes an RTCP PLI or FIR
    /// when the camera offered one.
    fn event(&self, event: &gst::Event) -> bool {
        if let Ok(request) = gst_video::UpstreamForceKeyUnitEvent::parse(event) {
            gst::debug!(
                CAT,
                imp = self,
                "downstream asks for a keyframe (all headers: {})",
                request.all_headers
            );
            self.keyframe_wanted.store(true, Ordering::Relaxed);
            return true;
        }
        if self.select_streams(event) {
            return true;
        }
        self.keep_seek_interval(event);
        self.parent_event(event)
    }

    fn query(&self, query: &mut gst::QueryRef) -> bool {
        if let gst::QueryViewMut::Latency(q) = query.view_mut() {
            let latency = self.latency();
            q.set(true, latency, Some(latency));
            return true;
        }
        BaseSrcImplExt::parent_query(self, query)
    }

    fn unlock(&self) -> Result<(), gst::ErrorMessage> {
        self.unlocked.store(true, Ordering::SeqCst);
        self.wake();
        Ok(())
    }

    fn unlock_stop(&self) -> Result<(), gst::ErrorMessage> {
        self.unlocked.store(false, Ordering::SeqCst);
        if let Some(w) = &*self.waker.lock().unwrap() {
            w.reset();
        }
        Ok(())
    }
}

impl RustRtspSrc {
    /// A seek's trick-mode interval, for `do_seek` (basesrc gives it the segment alone, and
    /// gstreamer-rs does not expose `prepare_seek_segment`): both ways a seek comes in, the element's
    /// `send_event` and the src pad's `event`, keep it first.
    fn keep_seek_interval(&self, event: &gst::Event) {
        if let gst::EventView::Seek(s) = event.view() {
            *self.seek_interval.lock().unwrap() = s.trickmode_interval();
        }
    }

    /// The latency every pad reports: the reorder window, for streams with B-frames the reorder depth
    /// PTS are moved by, and with ntp-sync how far capture times are behind arrivals.
    fn latency(&self) -> gst::ClockTime {
        let added = {
            let st = self.stats.lock().unwrap();
            st.reorder_ns + st.ntp_sync_ns
        };
        gst::ClockTime::from_mseconds(self.started_latency_ms.load(Ordering::Relaxed).into())
            + gst::ClockTime::from_nseconds(added)
    }

    /// How a side frame goes out: with the next picture while pictures flow to a linked src pad.
    /// Pictures flow when the last came within two waits: a camera that sends its pictures in pairs
    /// (a frame interval apart, then none for two) still counts, and a frame stashed waits one wait
    /// at most.
    fn side_route(&self) -> Route {
        let window = std::time::Duration::from_millis(
            self.started_latency_ms.load(Ordering::Relaxed).into(),
        );
        let wait = crate::net::session_client::SIDE_WAIT.min(window);
        let flowing = self
            .last_picture
            .lock()
            .unwrap()
            .is_some_and(|t| t.elapsed() < 2 * wait);
        if flowing && self.obj().src_pad().is_linked() {
            Route::WithVideo(wait)
        } else {
            Route::Task
        }
    }

    /// An audio or metadata pad's queries: latency as the src pad's, the rest as any pad answers them.
    fn side_pad_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        if let gst::QueryViewMut::Latency(q) = query.view_mut() {
            let latency = self.latency();
            q.set(true, latency, Some(latency));
            return true;
        }
        gst::Pad::query_default(pad, Some(&*self.obj()), query)
    }
}

impl PushSrcImpl for RustRtspSrc {
    /// The next video access unit for basesrc to push; audio frames read meanwhile go out on their own
    /// pads from here, the streaming thread that reads every stream.
    fn create(
        &self,
        _buffer: Option<&mut gst::BufferRef>,
    ) -> Result<CreateSuccess, gst::FlowError> {
        let obj = self.obj();
        loop {
            let mut guard = self.supervisor.lock().unwrap();
            let supervisor = guard.as_mut().ok_or(gst::FlowError::Flushing)?;
            if let Some((replay, flush)) = self.pending_replay.take() {
                supervisor.replay(replay, flush);
            }
            let running_time = || self.clock.running_time(obj.upcast_ref());
            let produced = match supervisor.next(running_time, |n| self.post_notice(n)) {
                Ok(p) => p,
                Err(SupervisorError::Flushing) if !self.unlocked.load(Ordering::SeqCst) => {
                    drop(guard);
                    self.wait_while_paused()?;
                    continue;
                }
                Err(SupervisorError::Flushing) => return Err(gst::FlowError::Flushing),
                Err(SupervisorError::Eos) => {
                    self.side_pads.eos();
                    return Err(gst::FlowError::Eos);
                }
                Err(SupervisorError::Error(msg)) => {
                    gst::error!(CAT, imp = self, "{:?}", msg);
                    self.post_error_message(msg);
                    return Err(gst::FlowError::Error);
                }
            };
            drop(guard);
            match produced {
                // Nobody takes the video but another pad is linked: that stream goes on alone.
                Produced::Video { .. }
                    if !obj.src_pad().is_linked() && self.side_pads.side_linked() => {}
                Produced::Video {
                    buffer,
                    caps,
                    gap,
                    reverse,
                } => {
                    if let Some(start) = reverse {
                        let flags = obj.segment().flags();
                        if self.downstream_segment.reverse(start, flags) {
                            let _ = obj.new_segment(&obj.segment());
                        }
                    }
                    if let Some((start, duration)) = gap {
                        gst::debug!(CAT, imp = self, "a hole in the recording: GAP");
                        let gap = gst::event::Gap::builder(gst::ClockTime::from_nseconds(start))
                            .duration(gst::ClockTime::from_nseconds(duration))
                            .build();
                        let _ = obj.src_pad().push_event(gap);
                    }
                    if let Some(caps) = caps {
                        gst::debug!(CAT, imp = self, "caps {}", caps);
                        if obj.set_caps(&caps).is_err() {
                            return Err(gst::FlowError::NotNegotiated);
                        }
                    }
                    // The caps come from the stream alone and buffers from our own memory, so a
                    // RECONFIGURE from downstream changes nothing; left set, basesrc would renegotiate
                    // and send an ALLOCATION query, serialized: behind a queue that downstream holds
                    // (playbin holds the video until the audio is set up) it waits forever, and so
                    // would every stream this thread reads.
                    let _ = obj.src_pad().check_reconfigure();
                    *self.last_picture.lock().unwrap() = Some(std::time::Instant::now());
                    return Ok(CreateSuccess::NewBuffer(buffer));
                }
                Produced::Side(a) => {
                    if let Some(caps) = &a.caps {
                        gst::debug!(CAT, imp = self, "side pad {} caps {}", a.pad, caps);
                    }
                    let route = self.side_route();
                    self.side_pads
                        .push(obj.upcast_ref(), a.pad, a.buffer, a.caps, route)?;
                }
            }
        }
    }
}

use crate::element::{audio_template_caps, base_caps, metadata_template_caps};
use crate::CAT;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use std::sync::LazyLock;
use std::sync::Mutex;

#[derive(Default)]
struct Exposed {
    /// The video's pad was added (with the stream-start on the source's `src`).
    video: bool,
    /// The source said `no-more-pads`.
    source_done: bool,
    /// This bin said it.
    done: bool,
}

#[derive(Default)]
pub struct RustRtspBin {
    src: std::sync::OnceLock<gst::Element>,
    exposed: Mutex<Exposed>,
}

#[glib::object_subclass]
impl ObjectSubclass for RustRtspBin {
    const NAME: &'static str = "GstRustRtspBin";
    type Type = super::RustRtspBin;
    type ParentType = gst::Bin;
    type Interfaces = (gst::URIHandler,);
}

impl RustRtspBin {
    fn src(&self) -> &gst::Element {
        self.src.get().expect("made in constructed")
    }

    /// Shows `target` (a pad of the source) as this bin's pad `name`.
    fn expose(&self, target: &gst::Pad, name: &str) {
        let obj = self.obj();
        let template = name
            .split('_')
            .next()
            .and_then(|kind| obj.pad_template(&format!("{kind}_%u")));
        let Some(template) = template else {
            return;
        };
        let ghost = match gst::GhostPad::builder_from_template_with_target(&template, target) {
            Ok(g) => g.name(name).build(),
            Err(e) => {
                gst::warning!(CAT, imp = self, "cannot show {}: {}", name, e);
                return;
            }
        };
        let _ = ghost.set_active(true);
        if let Err(e) = obj.add_pad(&ghost) {
            gst::warning!(CAT, imp = self, "cannot add {}: {}", name, e);
        }
        gst::debug!(CAT, imp = self, "showing {}", name);
    }

    /// `no-more-pads` once the video's pad and the source's others are all shown.
    fn maybe_done(&self, update: impl FnOnce(&mut Exposed)) {
        let done = {
            let mut e = self.exposed.lock().unwrap();
            update(&mut e);
            e.video && e.source_done && !std::mem::replace(&mut e.done, true)
        };
        if done {
            self.obj().no_more_pads();
        }
    }
}

impl ObjectImpl for RustRtspBin {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("location")
                    .nick("Location")
                    .blurb(
                        "RTSP URL of the camera stream (the child rustrtspsrc's); its other \
                     properties are the child's: src::latency=… in gst-launch, \
                     gst_child_proxy_set in an application",
                    )
                    .mutable_ready()
                    .build(),
                // uridecodebin reads it: a live source gets no buffering (which would pause the
                // pipeline, and with it the camera's session, until a buffer filled).
                glib::ParamSpecBoolean::builder("is-live")
                    .nick("Is live")
                    .blurb("Always true: a camera is a live source")
                    .default_value(true)
                    .read_only()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        if pspec.name() == "location" {
            self.src().set_property_from_value("location", value);
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "location" => self.src().property_value("location"),
            "is-live" => true.to_value(),
            _ => unimplemented!(),
        }
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        let src = gst::ElementFactory::make("rustrtspsrc")
            .name("src")
            .build()
            .expect("rustrtspsrc is registered by the same plugin");
        obj.add(&src).expect("a new bin takes its child");
        // The video goes through a queue: the source pushes every stream from one thread, and
        // playbin holds the video back until the audio's decoder is set up, which needs audio the
        // source could then not push.
        let queue = gst::ElementFactory::make("queue")
            .name("video_queue")
            .build()
            .expect("queue is in GStreamer's core");
        obj.add(&queue).expect("a new bin takes its child");
        src.link(&queue)
            .expect("rustrtspsrc's video links to a queue");
        // Shown with its stream-start, the first event basesrc sends: linked before caps and buffers.
        let weak = obj.downgrade();
        let video = queue.static_pad("src").expect("queue has src");
        video.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |pad, info| {
            let starts = matches!(
                info.event().map(|e| e.type_()),
                Some(gst::EventType::StreamStart)
            );
            let Some(bin) = weak.upgrade().filter(|_| starts) else {
                return gst::PadProbeReturn::Ok;
            };
            let imp = bin.imp();
            let new = !std::mem::replace(&mut imp.exposed.lock().unwrap().video, true);
            if new {
                imp.expose(pad, "video_0");
                imp.maybe_done(|_| {});
            }
            gst::PadProbeReturn::Ok
        });
        let weak = obj.downgrade();
        src.connect_pad_added(move |_, pad| {
            if let Some(bin) = weak.upgrade() {
                let name = pad.name();
                bin.imp().expose(pad, &name);
            }
        });
        let weak = obj.downgrade();
        src.connect_no_more_pads(move |_| {
            if let Some(bin) = weak.upgrade() {
                bin.imp().maybe_done(|e| e.source_done = true);
            }
        });
        let weak = obj.downgrade();
        src.connect_pad_removed(move |_, pad| {
            if let Some(bin) = weak.upgrade() {
                if let Some(ghost) = bin.static_pad(&pad.name()) {
                    let _ = bin.remove_pad(&ghost);
                }
            }
        });
        self.src.set(src).expect("constructed once");
    }
}

impl GstObjectImpl for RustRtspBin {}

impl ElementImpl for RustRtspBin {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "RTSP camera source for playbin and uridecodebin",
                "Source/Network/Bin",
                "rustrtspsrc in a bin whose pads (video_0, audio_0, …, metadata_0) all come when \
                 their streams do, as playbin, playbin3 and uridecodebin expect",
                "rustrtspsrc developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let sometimes = |name: &str, caps: gst::Caps| {
                gst::PadTemplate::new(
                    name,
                    gst::PadDirection::Src,
                    gst::PadPresence::Sometimes,
                    &caps,
                )
                .expect("valid template")
            };
            vec![
                sometimes("video_%u", base_caps()),
                sometimes("audio_%u", audio_template_caps()),
                sometimes("metadata_%u", metadata_template_caps()),
            ]
        });
        TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        let ret = self.parent_change_state(transition)?;
        if transition == gst::StateChange::PausedToReady {
            // The source's pads go; the next start shows them anew.
            let obj = self.obj();
            for pad in obj.src_pads() {
                let _ = obj.remove_pad(&pad);
            }
            *self.exposed.lock().unwrap() = Exposed::default();
        }
        Ok(ret)
    }
}

impl BinImpl for RustRtspBin {}

impl URIHandlerImpl for RustRtspBin {
    const URI_TYPE: gst::URIType = gst::URIType::Src;

    fn protocols() -> &'static [&'static str] {
        &["rtsp", "rtspt", "rtsps", "rtsph", "rtsphs"]
    }

    fn uri(&self) -> Option<String> {
        self.src()
            .dynamic_cast_ref::<gst::URIHandler>()?
            .uri()
            .map(Into::into)
    }

    fn set_uri(&self, uri: &str) -> Result<(), glib::Error> {
        self.src()
            .dynamic_cast_ref::<gst::URIHandler>()
            .expect("rustrtspsrc handles URIs")
            .set_uri(uri)
    }
}

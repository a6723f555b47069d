//! gst-rtsp-server serving a recording, as its ONVIF example server does: an ONVIF media factory with
//! replay support whose stream is a non-live videotestsrc (seekable to any time, the clock times a
//! PLAY's `Range: clock=` becomes: ns since 1900) and whose payloader `pay0` is a bin of rtph264pay
//! and rtponviftimestamp, which writes each frame's time in the 0xABAC extension. A launch line cannot
//! give that bin its `src` pad (gst-rtsp-server looks the stream up by it), hence this factory.
//! With audio, a second stream (`pay1`): a non-live 440 Hz sine in PCMA, its times written the same way.

use gst::glib;
use gst::prelude::*;
use gst_rtsp_server::prelude::*;
use gst_rtsp_server::subclass::prelude::*;

mod imp {
    use super::*;

    #[derive(Default)]
    pub struct ReplayFactory {
        pub audio: std::sync::atomic::AtomicBool,
        /// An MP4 file to serve instead of the test pattern (qtdemux plays it backwards too).
        pub file: std::sync::Mutex<Option<String>>,
    }

    /// Payloader `name`, then rtponviftimestamp, as a bin with a sink and a src pad.
    fn onvif_payloader(name: &str, payloader: &str, pt: u32) -> Option<gst::Bin> {
        let pay = gst::Bin::with_name(name);
        let payloader = gst::ElementFactory::make(payloader)
            .property("pt", pt)
            .build()
            .ok()?;
        if payloader.has_property("config-interval") {
            payloader.set_property("config-interval", -1i32);
        }
        // ntp-offset 0: the buffers' times are the recording's own (the seek's clock times).
        let stamp = gst::ElementFactory::make("rtponviftimestamp")
            .property("ntp-offset", 0u64)
            .property("set-e-bit", true)
            .property("drop-out-of-segment", false)
            .build()
            .ok()?;
        pay.add_many([&payloader, &stamp]).ok()?;
        payloader.link(&stamp).ok()?;
        let sink = gst::GhostPad::with_target(&payloader.static_pad("sink")?).ok()?;
        let src = gst::GhostPad::with_target(&stamp.static_pad("src")?).ok()?;
        pay.add_pad(&sink).ok()?;
        pay.add_pad(&src).ok()?;
        Some(pay)
    }

    #[glib::object_subclass]
    impl ObjectSubclass for ReplayFactory {
        const NAME: &'static str = "RustRtspSrcTestReplayFactory";
        type Type = super::ReplayFactory;
        type ParentType = gst_rtsp_server::RTSPOnvifMediaFactory;
    }

    impl ObjectImpl for ReplayFactory {}

    impl RTSPMediaFactoryImpl for ReplayFactory {
        fn create_element(&self, _url: &gst_rtsp::RTSPUrl) -> Option<gst::Element> {
            let source = match self.file.lock().unwrap().as_deref() {
                Some(file) => format!("filesrc location={file} ! qtdemux ! h264parse name=parse"),
                None => "videotestsrc is-live=false pattern=ball \
                         ! video/x-raw,format=I420,width=320,height=240,framerate=30/1 \
                         ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 \
                           bitrate=800 ! h264parse name=parse"
                    .to_string(),
            };
            let top = gst::parse::bin_from_description(&source, false).ok()?;
            let pay = onvif_payloader("pay0", "rtph264pay", 96)?;
            top.add(&pay).ok()?;
            top.by_name("parse")?.link(&pay).ok()?;
            if self.audio.load(std::sync::atomic::Ordering::Relaxed) {
                let sine = gst::parse::bin_from_description(
                    "audiotestsrc is-live=false wave=sine freq=440 samplesperbuffer=160 \
                     ! audio/x-raw,rate=8000,channels=1 ! alawenc",
                    true,
                )
                .ok()?;
                let pay = onvif_payloader("pay1", "rtppcmapay", 8)?;
                top.add_many([sine.upcast_ref::<gst::Element>(), pay.upcast_ref()])
                    .ok()?;
                sine.link(&pay).ok()?;
            }
            Some(top.upcast())
        }
    }

    impl RTSPOnvifMediaFactoryImpl for ReplayFactory {}
}

glib::wrapper! {
    pub struct ReplayFactory(ObjectSubclass<imp::ReplayFactory>)
        @extends gst_rtsp_server::RTSPOnvifMediaFactory, gst_rtsp_server::RTSPMediaFactory;
}

/// A 10 s recording as gst-rtsp-server can play it backwards: 320×240 H.264 at 30 fps, a keyframe
/// each second, in an MP4 file (qtdemux seeks in reverse and by key units), made once per test
/// binary; with `b_frames`, two B-frames between references (decoding order differs from display).
#[allow(dead_code)] // The tests' alone: the test-server example includes this file too.
pub fn recording_file(b_frames: bool) -> String {
    static FILES: [std::sync::OnceLock<String>; 2] =
        [std::sync::OnceLock::new(), std::sync::OnceLock::new()];
    FILES[usize::from(b_frames)].get_or_init(|| {
        let path = std::env::temp_dir().join(format!(
            "rustrtspsrc-recording-{}-{b_frames}.mp4",
            std::process::id()
        ));
        let (encoder, profile) = match b_frames {
            true => ("bframes=2 b-adapt=false", "! video/x-h264,profile=main"),
            false => ("tune=zerolatency", ""),
        };
        let launch = format!(
            "videotestsrc num-buffers=300 pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 \
             ! x264enc {encoder} speed-preset=ultrafast key-int-max=30 {profile} ! h264parse ! mp4mux \
             ! filesink location={}",
            path.display()
        );
        let p = gst::parse::launch(&launch).expect("x264enc and mp4mux (gstreamer1.0-plugins-ugly, -good)");
        p.set_state(gst::State::Playing).unwrap();
        let done = p.bus().unwrap().timed_pop_filtered(
            gst::ClockTime::from_seconds(60),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        p.set_state(gst::State::Null).unwrap();
        assert!(
            matches!(done.as_ref().map(|m| m.view()), Some(gst::MessageView::Eos(_))),
            "encoding the recording: {done:?}"
        );
        path.display().to_string()
    })
    .clone()
}

impl ReplayFactory {
    /// With a PCMA stream beside the video when `audio`; the video from MP4 `file` when given.
    pub fn new(audio: bool, file: Option<String>) -> ReplayFactory {
        let f: ReplayFactory = glib::Object::new();
        *f.imp().file.lock().unwrap() = file;
        f.imp()
            .audio
            .store(audio, std::sync::atomic::Ordering::Relaxed);
        f.set_media_gtype(gst_rtsp_server::RTSPOnvifMedia::static_type());
        f.set_replay_support(true);
        f
    }
}

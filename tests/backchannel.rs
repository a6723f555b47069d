//! ONVIF's audio back channel (`backchannel=onvif`) against gst-rtsp-server's ONVIF server, which
//! decodes what it receives: a tone given to the `backchannel` pad, or RTP packets given to
//! `push-backchannel-sample`, reaches the server as that tone, over UDP, TCP and TLS (and through the
//! HTTP tunnel), while the video records. Against a server without a back channel (551 Option not
//! supported), or given the other G.711 law than the camera's, the video records with one warning.

mod common;

use common::server::{ServerOptions, TestServer};
use gst::prelude::*;
use gst_rtsp_server::prelude::*;
use std::time::{Duration, Instant};

/// The tone sent.
const TONE_HZ: f64 = 1000.0;
/// How long a pipeline may take to show what a test waits for.
const DEADLINE: Duration = Duration::from_secs(20);
/// Pictures recorded before a run may end: 1.5 s at 30 fps (the audio flowed that long).
const PICTURES: usize = 45;

struct Run {
    video_buffers: usize,
    warnings: Vec<String>,
    errors: Vec<String>,
    /// From PLAYING to the end of the run.
    took: Duration,
}

/// Runs `launch` (a rustrtspsrc named src whose video goes to the fakesink named video) until `done`
/// says the run shows what the test waits for (or an error comes, or `DEADLINE` passes: the test's
/// assertions then say what was missing), then stops it. `feed`, called every 20 ms while it runs,
/// may push samples.
fn run(launch: &str, feed: impl FnMut(&gst::Element), done: impl Fn(&Run) -> bool) -> Run {
    run_with(launch, |_| {}, feed, done)
}

/// As `run`, with `setup` given the source before PLAYING (to connect its signals).
fn run_with(
    launch: &str,
    setup: impl FnOnce(&gst::Element),
    mut feed: impl FnMut(&gst::Element),
    done: impl Fn(&Run) -> bool,
) -> Run {
    common::init();
    let pipeline = gst::parse::launch(launch).expect("pipeline");
    let bin = pipeline.downcast_ref::<gst::Bin>().unwrap();
    let src = bin.by_name("src").unwrap();
    setup(&src);
    let video = bin.by_name("video").unwrap();
    video.set_property("signal-handoffs", true);
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = count.clone();
    video.connect("handoff", false, move |_| {
        c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        None
    });
    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).expect("PLAYING");
    let start = Instant::now();
    let mut r = Run {
        video_buffers: 0,
        warnings: Vec::new(),
        errors: Vec::new(),
        took: Duration::ZERO,
    };
    while start.elapsed() < DEADLINE && r.errors.is_empty() && !done(&r) {
        feed(&src);
        while let Some(msg) = bus.pop() {
            match msg.view() {
                gst::MessageView::Warning(w) => {
                    let text = format!("{} {}", w.error(), w.debug().unwrap_or_default());
                    r.warnings.push(text)
                }
                gst::MessageView::Error(e) => {
                    r.errors.push(format!("{} ({:?})", e.error(), e.debug()))
                }
                _ => {}
            }
        }
        std::thread::sleep(Duration::from_millis(20));
        r.video_buffers = count.load(std::sync::atomic::Ordering::SeqCst);
    }
    r.took = start.elapsed();
    pipeline.set_state(gst::State::Null).unwrap();
    r
}

/// Seconds of back channel audio the server decoded.
fn received(srv: &TestServer) -> f64 {
    srv.backchannel.lock().unwrap().len() as f64 / 8000.0
}

/// The video recorded `PICTURES` and the server decoded 1.5 s of the back channel.
fn video_and_audio(srv: &TestServer) -> impl Fn(&Run) -> bool + '_ {
    move |r| r.video_buffers >= PICTURES && received(srv) >= 1.5
}

/// The sender reports the server's RTP session for the back channel took from us: the stats of the
/// sources it did not make itself that say `have-sr`, with their packet counts.
fn sender_reports(srv: &TestServer) -> Vec<gst::Structure> {
    let Some(media) = srv.media() else {
        return Vec::new();
    };
    let stream = (0..media.n_streams())
        .filter_map(|i| media.stream(i))
        .find(|s| s.is_receiver());
    let Some(session) = stream.and_then(|s| s.rtpsession()) else {
        return Vec::new();
    };
    let stats = session.property::<gst::Structure>("stats");
    let Ok(sources) = stats.get::<glib::ValueArray>("source-stats") else {
        return Vec::new();
    };
    sources
        .iter()
        .filter_map(|v| v.get::<gst::Structure>().ok())
        .filter(|s| s.get::<bool>("internal") == Ok(false) && s.get::<bool>("have-sr") == Ok(true))
        .collect()
}

/// The video recorded `PICTURES`, and a warning came.
fn video_and_a_warning(r: &Run) -> bool {
    r.video_buffers >= PICTURES && !r.warnings.is_empty()
}

/// The frequency of `samples` (8 kHz) by their zero crossings.
fn frequency(samples: &[i16]) -> f64 {
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    crossings as f64 / 2.0 / (samples.len() as f64 / 8000.0)
}

fn server(codec: &'static str, tls: bool) -> (TestServer, Option<common::certs::ServerCert>) {
    let cert = tls.then(common::certs::self_signed);
    let srv = TestServer::start(ServerOptions {
        backchannel: Some(codec),
        tls_pem: cert.as_ref().map(|c| c.pem.clone()),
        ..Default::default()
    })
    .expect("gst-rtsp-server's ONVIF server (gstreamer1.0-rtsp, libgstrtspserver-1.0)");
    (srv, cert)
}

/// The server decoded `TONE_HZ` from at least `min` of audio.
fn assert_tone_received(srv: &TestServer, min: Duration, what: &str) {
    let received = srv.backchannel.lock().unwrap().clone();
    let secs = received.len() as f64 / 8000.0;
    assert!(
        secs >= min.as_secs_f64(),
        "{what}: the server decoded {secs:.2} s of back channel audio"
    );
    let f = frequency(&received[800..]);
    assert!(
        (f - TONE_HZ).abs() < TONE_HZ * 0.05,
        "{what}: the server heard {f:.0} Hz, not {TONE_HZ} Hz"
    );
}

/// A pipeline: rustrtspsrc with the back channel asked for, its video into the fakesink named video, and
/// a live 1 kHz tone in 20 ms buffers encoded by `encoder` into its backchannel pad.
fn launch_with_tone(url: &str, protocols: &str, encoder: &str) -> String {
    format!(
        "rustrtspsrc name=src location={url} protocols={protocols} backchannel=onvif tls-validation-flags=0 \
         src.src ! fakesink name=video sync=false \
         audiotestsrc is-live=true freq={TONE_HZ} samplesperbuffer=160 ! audio/x-raw,rate=8000,channels=1 \
         ! {encoder} ! src.backchannel"
    )
}

/// The video recorded, no error, no warning.
fn assert_video_clean(r: &Run, transport: &str) {
    assert!(r.errors.is_empty(), "{transport}: {:?}", r.errors);
    assert!(r.warnings.is_empty(), "{transport}: {:?}", r.warnings);
    assert!(
        r.video_buffers >= PICTURES,
        "{transport}: {} pictures",
        r.video_buffers
    );
}

/// The video recorded, no error, and one warning that says `what`.
fn assert_video_with_one_warning(r: &Run, transport: &str, what: &[&str]) {
    assert!(r.errors.is_empty(), "{transport}: {:?}", r.errors);
    assert!(
        r.video_buffers >= PICTURES,
        "{transport}: {} pictures",
        r.video_buffers
    );
    assert_eq!(r.warnings.len(), 1, "{transport}: {:?}", r.warnings);
    assert!(
        what.iter().all(|w| r.warnings[0].contains(w)),
        "{transport}: {:?}",
        r.warnings
    );
}

/// A 1 kHz tone given to the backchannel pad (`audiotestsrc ! mulawenc ! src.backchannel`, as in
/// gst-launch) reaches the camera's back channel, paced by its timestamps, while the video records.
fn tone_on_the_pad_reaches_the_camera(transport: &str) {
    let tls = transport == "tls";
    let (srv, _cert) = server("pcmu", tls);
    let protocols = if tls { "tcp" } else { transport };
    // HTTP tunnelling: our packets go out base64 on the POST connection, the server's on the GET.
    let url = match transport {
        "http" => srv.url().replace("rtsp://", "rtsph://"),
        _ => srv.url(),
    };
    let protocols = if transport == "http" {
        "tcp"
    } else {
        protocols
    };
    let launch = launch_with_tone(&url, protocols, "mulawenc");
    let r = run(&launch, |_| {}, video_and_audio(&srv));
    assert_video_clean(&r, transport);
    // The session plays within the first second; the audio paced in real time after that.
    assert_tone_received(&srv, Duration::from_millis(1500), transport);
    // Paced, not sent as fast as it came: no more than the run's length.
    let secs = received(&srv);
    assert!(
        secs <= r.took.as_secs_f64() + 0.2,
        "{transport}: {secs:.2} s received in {:?}",
        r.took
    );
}

/// The back channel's sender reports reach the camera (RFC 3550: a sender reports what it sent, and
/// where its RTP clock is on the wall clock): gst-rtsp-server's RTP session for the back channel has
/// one from our source, counting the packets we sent; the first within 3 s of the audio (the initial
/// report at half RFC 3550's 5 s interval).
fn sender_reports_reach_the_camera(transport: &str) {
    let tls = transport == "tls";
    let (srv, _cert) = server("pcmu", tls);
    let protocols = if tls { "tcp" } else { transport };
    let launch = launch_with_tone(&srv.url(), protocols, "mulawenc");
    // Read while the session plays: its TEARDOWN takes the session with it.
    let reports = std::sync::Mutex::new(Vec::new());
    let r = run(
        &launch,
        |_| {},
        |r| {
            let mut got = reports.lock().unwrap();
            *got = sender_reports(&srv);
            video_and_audio(&srv)(r) && !got.is_empty()
        },
    );
    assert_video_clean(&r, transport);
    let reports = reports.into_inner().unwrap();
    let sr = reports
        .first()
        .unwrap_or_else(|| panic!("{transport}: no sender report reached the server's session"));
    // 20 ms packets: 50 a second.
    let packets = sr.get::<u32>("sr-packet-count").unwrap_or(0);
    assert!((1..=150).contains(&packets), "{transport}: {sr}");
}

/// AAC (AAC-hbr, 16 kHz mono) given to the pad (`avenc_aac ! src.backchannel`): packed behind its AU
/// headers, it reaches the camera and decodes to the tone there.
fn aac_on_the_pad_reaches_the_camera(transport: &str) {
    let (srv, _cert) = server("aac", false);
    let launch = format!(
        "rustrtspsrc name=src location={} protocols={transport} backchannel=onvif \
         src.src ! fakesink name=video sync=false \
         audiotestsrc is-live=true freq={TONE_HZ} samplesperbuffer=1024 ! audio/x-raw,rate=16000,channels=1 \
         ! avenc_aac ! src.backchannel",
        srv.url()
    );
    let r = run(&launch, |_| {}, video_and_audio(&srv));
    assert_video_clean(&r, transport);
    assert_tone_received(&srv, Duration::from_millis(1500), transport);
}

/// G.726 at 32 kbit/s given to the pad (`avenc_g726 ! src.backchannel`, codewords in the AAL2 order):
/// repacked into RFC 3551's order for the camera's `G726-32` media, it decodes to the tone there.
fn g726_on_the_pad_reaches_the_camera(transport: &str) {
    let (srv, _cert) = server("g726", false);
    let launch = launch_with_tone(&srv.url(), transport, "avenc_g726 bitrate=32000");
    let r = run(&launch, |_| {}, video_and_audio(&srv));
    assert_video_clean(&r, transport);
    assert_tone_received(&srv, Duration::from_millis(1500), transport);
}

/// rtspsrc's way: the application payloads the audio itself and gives RTP packets to
/// `push-backchannel-sample` (here an A-law tone payloaded by rtppcmapay into an appsink).
fn rtp_given_to_the_action_signal_reaches_the_camera(transport: &str) {
    let tls = transport == "tls";
    let (srv, _cert) = server("pcma", tls);
    let protocols = if tls { "tcp" } else { transport };
    let launch = format!(
        "rustrtspsrc name=src location={} protocols={protocols} backchannel=onvif tls-validation-flags=0 \
         src.src ! fakesink name=video sync=false \
         audiotestsrc is-live=true freq={TONE_HZ} samplesperbuffer=160 ! audio/x-raw,rate=8000,channels=1 \
         ! alawenc ! rtppcmapay ! appsink name=rtp sync=false",
        srv.url()
    );
    let mut appsink: Option<gst_app::AppSink> = None;
    let mut refused = 0;
    let wanted = video_and_audio(&srv);
    let r = run(
        &launch,
        |src| {
            let sink = appsink.get_or_insert_with(|| {
                let bin = src.parent().unwrap().downcast::<gst::Bin>().unwrap();
                bin.by_name("rtp").unwrap().downcast().unwrap()
            });
            while let Some(sample) = sink.try_pull_sample(gst::ClockTime::ZERO) {
                let ret = src
                    .emit_by_name::<gst::FlowReturn>("push-backchannel-sample", &[&2u32, &sample]);
                refused += usize::from(ret != gst::FlowReturn::Ok);
            }
        },
        wanted,
    );
    assert!(r.errors.is_empty(), "{transport}: {:?}", r.errors);
    assert_eq!(refused, 0, "{transport}");
    assert!(
        r.video_buffers >= PICTURES,
        "{transport}: {} pictures",
        r.video_buffers
    );
    assert_tone_received(&srv, Duration::from_millis(1500), transport);
}

/// A server without a back channel answers the Require with 551 Option not supported (gst-rtsp-server's
/// plain server, most cameras): the video records as without `backchannel`, with one warning that says
/// so, and the audio given to the pad goes nowhere without an error.
fn camera_without_a_back_channel_plays_video_with_a_warning(transport: &str) {
    common::init();
    let srv = TestServer::start(ServerOptions::default()).expect("RTSP test server");
    let launch = launch_with_tone(&srv.url(), transport, "mulawenc");
    let r = run(&launch, |_| {}, video_and_a_warning);
    assert_video_with_one_warning(&r, transport, &["www.onvif.org/ver20/backchannel", "551"]);
}

/// rtspsrc asks `select-stream` about the back channel too: refused, it is not set up and nothing goes
/// to the camera, without a warning (the application chose), while the video records.
fn select_stream_may_refuse_the_back_channel(transport: &str) {
    let (srv, _cert) = server("pcmu", false);
    let launch = launch_with_tone(&srv.url(), transport, "mulawenc");
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let a = asked.clone();
    let setup = move |src: &gst::Element| {
        src.connect("select-stream", false, move |args| {
            let caps = args[2].get::<gst::Caps>().unwrap();
            let media = caps.structure(0).unwrap().get::<String>("media").unwrap();
            a.lock().unwrap().push(media.clone());
            Some((media == "video").to_value())
        });
    };
    let r = run_with(&launch, setup, |_| {}, |r| r.video_buffers >= PICTURES);
    assert_video_clean(&r, transport);
    let asked = asked.lock().unwrap().clone();
    assert!(
        asked.iter().any(|m| m == "audio"),
        "{transport}: asked {asked:?}"
    );
    assert_eq!(
        received(&srv),
        0.0,
        "{transport}: sent to a back channel refused"
    );
}

/// The pad given the other G.711 law than the camera's back channel takes: nothing is sent (it would
/// play as noise), one warning names the camera's codec, and the video records.
fn the_other_g711_law_is_not_sent(transport: &str) {
    let (srv, _cert) = server("pcma", false);
    let launch = launch_with_tone(&srv.url(), transport, "mulawenc");
    let r = run(&launch, |_| {}, video_and_a_warning);
    assert_video_with_one_warning(&r, transport, &["G.711 A-law"]);
    assert_eq!(srv.backchannel.lock().unwrap().len(), 0, "{transport}");
}

mod tone_on_the_pad_reaches_the_camera {
    #[test]
    fn udp() {
        super::tone_on_the_pad_reaches_the_camera("udp")
    }
    #[test]
    fn tcp() {
        super::tone_on_the_pad_reaches_the_camera("tcp")
    }
    #[test]
    fn tls() {
        super::tone_on_the_pad_reaches_the_camera("tls")
    }
    #[test]
    fn http() {
        super::tone_on_the_pad_reaches_the_camera("http")
    }
}

mod rtp_given_to_the_action_signal_reaches_the_camera {
    #[test]
    fn udp() {
        super::rtp_given_to_the_action_signal_reaches_the_camera("udp")
    }
    #[test]
    fn tcp() {
        super::rtp_given_to_the_action_signal_reaches_the_camera("tcp")
    }
    #[test]
    fn tls() {
        super::rtp_given_to_the_action_signal_reaches_the_camera("tls")
    }
}

over_udp_and_tcp! {
    aac_on_the_pad_reaches_the_camera => super::aac_on_the_pad_reaches_the_camera;
    g726_on_the_pad_reaches_the_camera => super::g726_on_the_pad_reaches_the_camera;
    select_stream_may_refuse_the_back_channel => super::select_stream_may_refuse_the_back_channel;
    camera_without_a_back_channel_plays_video_with_a_warning => super::camera_without_a_back_channel_plays_video_with_a_warning;
    the_other_g711_law_is_not_sent => super::the_other_g711_law_is_not_sent;
}

over_udp_tcp_and_tls! {
    sender_reports_reach_the_camera => super::sender_reports_reach_the_camera;
}

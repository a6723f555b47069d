#![allow(dead_code)] // Each user of this module needs a different part of it.

//! An in-process RTSP server (gst-rtsp-server) on 127.0.0.1 serving a live H.264 test stream. Shared by
//! the integration tests and the `test-server` example.

use gst_rtsp_server::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Port to listen on; 0 picks a free one.
    pub port: u16,
    pub path: String,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// videotestsrc's pattern: "ball" (small pictures between keyframes, the default) or "snow"
    /// (noise: every picture as large as the bitrate allows, as a busy camera's).
    pub pattern: &'static str,
    /// Encoder bitrate in kbit/s.
    pub bitrate: u32,
    pub auth: Option<Auth>,
    /// RTSP session timeout announced and enforced by the server (its default is 60 s).
    pub session_timeout: Option<u32>,
    /// B-frames between references (0: none, the low-latency setting cameras use).
    pub bframes: u32,
    /// "h264" or "h265".
    pub codec: &'static str,
    /// An audio stream beside the video, in a second media (payloader pay1): "aac", "latm", "pcma", "pcmu",
    /// "l16", "g722", "g726" (32 kbit/s) or "opus"; a 440 Hz sine in 20 ms packets.
    pub audio: Option<&'static str>,
    /// The audio leaves the server this long after its capture, later than its timestamps say (a
    /// camera that buffers its audio without saying so): held by a clocksync before the encoder, which
    /// does not add it to the latency the server's sinks wait for.
    pub audio_held_ms: u32,
    /// RTSPS: the server's certificate chain and key, PEM (clients then speak TLS).
    pub tls_pem: Option<String>,
    /// Lower transports the server accepts (all by default); with UDP_MCAST, groups 224.3.0.1-10
    /// (ff15::3:1-10 when `address` is IPv6).
    pub protocols: Option<gst_rtsp::RTSPLowerTrans>,
    /// One media for all clients (what multicast to several receivers needs).
    pub shared: bool,
    /// The address to listen on (127.0.0.1 unless a test's own network namespace says otherwise).
    pub address: &'static str,
    /// An ONVIF server (GstRTSPOnvifServer) whose media has an audio back channel of this codec
    /// ("pcmu", "pcma", or "aac": 16 kHz mono AAC-hbr): what a client sends on it is decoded into
    /// `TestServer::backchannel`, at 8 kHz.
    pub backchannel: Option<&'static str>,
    /// An ONVIF server (GstRTSPOnvifServer) serving a recording (ONVIF replay,
    /// `replay_media::ReplayFactory`), with PCMA audio beside the video when `audio` is "pcma"; the
    /// other media options do not apply.
    pub replay: bool,
    /// With `replay`: the recording is this MP4 file's H.264 (times from 0), not a test pattern.
    pub replay_file: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Auth {
    pub user: String,
    pub password: String,
    pub digest: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            port: 0,
            path: "/test".into(),
            width: 320,
            height: 240,
            fps: 30,
            pattern: "ball",
            bitrate: 1000,
            auth: None,
            session_timeout: None,
            bframes: 0,
            codec: "h264",
            audio: None,
            audio_held_ms: 0,
            tls_pem: None,
            protocols: None,
            shared: false,
            address: "127.0.0.1",
            backchannel: None,
            replay: false,
            replay_file: None,
        }
    }
}

pub struct TestServer {
    pub port: u16,
    pub path: String,
    /// Clients speak TLS (RTSPS).
    pub tls: bool,
    pub address: &'static str,
    main_loop: glib::MainLoop,
    context: glib::MainContext,
    server: gst_rtsp_server::RTSPServer,
    source: Option<glib::SourceId>,
    thread: Option<std::thread::JoinHandle<()>>,
    teardowns: Arc<AtomicUsize>,
    keepalives: Arc<AtomicUsize>,
    clients: Arc<AtomicUsize>,
    /// The back channel's audio as the server decoded it: 8 kHz mono samples.
    pub backchannel: Arc<Mutex<Vec<i16>>>,
    /// The last media a client had made (its streams' RTP sessions say what the server got from us),
    /// while it lives: `TestServer::media()`.
    media: Arc<Mutex<Option<glib::WeakRef<gst_rtsp_server::RTSPMedia>>>>,
}

/// The launch line of an audio branch: a sine at 440 Hz, held back `held_ms`, encoded as `codec`,
/// payloaded as pay1.
pub fn audio_branch(codec: &str, held_ms: u32) -> String {
    let (rate, channels, encode) = match codec {
        "aac" => (16000, 1, "avenc_aac ! rtpmp4gpay pt=97"),
        // AAC in MP4A-LATM (RFC 6416, cpresent=0 with the StreamMuxConfig in the SDP).
        "latm" => (44100, 2, "avenc_aac ! rtpmp4apay pt=97"),
        "pcma" => (8000, 1, "alawenc ! rtppcmapay"),
        "pcmu" => (8000, 1, "mulawenc ! rtppcmupay"),
        "l16" => (
            44100,
            2,
            "audioconvert ! audio/x-raw,format=S16BE ! rtpL16pay",
        ),
        "g722" => (16000, 1, "avenc_g722 ! rtpg722pay"),
        // RFC 3551's packing under its own name (rtpg726pay's default packs AAL2 under it).
        "g726" => (
            8000,
            1,
            "avenc_g726 bitrate=32000 ! rtpg726pay force-aal2=false max-ptime=20000000",
        ),
        "opus" => (48000, 2, "opusenc ! rtpopuspay pt=98"),
        other => panic!("no audio codec {other:?} in the test server"),
    };
    let hold = match held_ms {
        0 => String::new(),
        ms => format!("! clocksync ts-offset={} ", u64::from(ms) * 1_000_000),
    };
    format!(
        "audiotestsrc is-live=true freq=440 samplesperbuffer={} ! audio/x-raw,rate={rate},channels={channels} \
         {hold}! {encode} name=pay1",
        rate / 50
    )
}

/// An ONVIF server and media factory whose back channel takes `codec` ("pcmu", "pcma", "aac", "g726") and
/// decodes it into `received` (8 kHz mono). gst-rtsp-server finds the back channel by the element named depay_backchannel.
fn onvif_with_backchannel(
    codec: &str,
    received: Arc<Mutex<Vec<i16>>>,
) -> (
    gst_rtsp_server::RTSPServer,
    gst_rtsp_server::RTSPMediaFactory,
) {
    // AAC: 16 kHz mono AAC-LC (AudioSpecificConfig 1408), AAC-hbr; decoded and resampled to 8 kHz.
    let caps = match codec {
        "pcma" => "payload=8,clock-rate=8000,encoding-name=PCMA".to_string(),
        "g726" => "payload=96,clock-rate=8000,encoding-name=G726-32".to_string(),
        "aac" => "payload=96,clock-rate=16000,encoding-name=MPEG4-GENERIC,encoding-params=(string)1,\
                  streamtype=(string)5,profile-level-id=(string)1,mode=(string)AAC-hbr,config=(string)1408,\
                  sizelength=(string)13,indexlength=(string)3,indexdeltalength=(string)3"
            .to_string(),
        _ => "payload=0,clock-rate=8000,encoding-name=PCMU".to_string(),
    };
    let decode = match codec {
        "pcma" => "rtppcmadepay ! alawdec",
        // RFC 3551's packing, as cameras take it (rtpg726depay assumes AAL2 unless told).
        "g726" => "rtpg726depay force-aal2=false ! avdec_g726",
        "aac" => "rtpmp4gdepay ! avdec_aac",
        _ => "rtppcmudepay ! mulawdec",
    };
    let factory = gst_rtsp_server::RTSPOnvifMediaFactory::new();
    // Its construct makes ONVIF media only.
    factory.set_media_gtype(gst_rtsp_server::RTSPOnvifMedia::static_type());
    factory.set_backchannel_launch(Some(&format!(
        "( capsfilter caps=\"application/x-rtp,media=audio,{caps}\" name=depay_backchannel ! {decode} \
         ! audioconvert ! audioresample ! audio/x-raw,format=S16LE,rate=8000,channels=1 \
         ! appsink name=backchannel_sink sync=false async=false )"
    )));
    factory.connect_media_configure(move |_, media| {
        let bin = media.element().downcast::<gst::Bin>().ok();
        let sink = bin.and_then(|b| b.by_name("backchannel_sink"));
        let Some(sink) = sink.and_then(|s| s.downcast::<gst_app::AppSink>().ok()) else {
            return;
        };
        let received = received.clone();
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    if let Some(map) = sample.buffer().and_then(|b| b.map_readable().ok()) {
                        let samples = map
                            .chunks_exact(2)
                            .map(|c| i16::from_le_bytes([c[0], c[1]]));
                        received.lock().unwrap().extend(samples);
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
    });
    (
        gst_rtsp_server::RTSPOnvifServer::new().upcast(),
        factory.upcast(),
    )
}

impl TestServer {
    pub fn start(opts: ServerOptions) -> Result<TestServer, glib::BoolError> {
        gst::init().map_err(|e| glib::bool_error!("gst::init: {}", e))?;
        let backchannel = Arc::new(Mutex::new(Vec::new()));
        let (server, factory) = match opts.backchannel {
            Some(codec) => onvif_with_backchannel(codec, backchannel.clone()),
            None if opts.replay => (
                gst_rtsp_server::RTSPOnvifServer::new().upcast(),
                super::replay_media::ReplayFactory::new(
                    opts.audio == Some("pcma"),
                    opts.replay_file.clone(),
                )
                .upcast(),
            ),
            None => (
                gst_rtsp_server::RTSPServer::new(),
                gst_rtsp_server::RTSPMediaFactory::new(),
            ),
        };
        let media = Arc::new(Mutex::new(None));
        let slot = media.clone();
        // Weak: a media kept alive past its session holds its ports and multicast groups, and the
        // next test's server could not have them.
        factory.connect_media_configure(move |_, m| *slot.lock().unwrap() = Some(m.downgrade()));
        server.set_address(opts.address);
        server.set_service(&opts.port.to_string());
        // zerolatency turns B-frames off; with them, a fixed pattern (I P B B P B B ...), and the main
        // profile, as rtph264pay would otherwise make x264enc pick constrained baseline (no B-frames).
        let (encoder, profile) = match opts.bframes {
            0 => ("tune=zerolatency".to_string(), ""),
            n => (
                format!("bframes={n} b-adapt=false"),
                "! video/x-h264,profile=main ",
            ),
        };
        let (encoder, payloader) = match opts.codec {
            "h265" => (
                format!(
                    "x265enc speed-preset=ultrafast tune=zerolatency key-int-max={} bitrate={}",
                    opts.fps, opts.bitrate
                ),
                "rtph265pay",
            ),
            _ => (
                format!(
                    "x264enc {encoder} speed-preset=ultrafast key-int-max={} bitrate={} {profile}",
                    opts.fps, opts.bitrate
                ),
                "rtph264pay",
            ),
        };
        factory.set_launch(&format!(
            "( videotestsrc is-live=true pattern={} ! video/x-raw,format=I420,width={},height={},framerate={}/1 \
             ! {encoder} ! {payloader} name=pay0 pt=96 config-interval=-1 {} )",
            opts.pattern,
            opts.width,
            opts.height,
            opts.fps,
            opts
                .audio
                .map(|a| audio_branch(a, opts.audio_held_ms))
                .unwrap_or_default()
        ));
        factory.set_shared(opts.shared);
        if let Some(protocols) = opts.protocols {
            factory.set_protocols(protocols);
            if protocols.contains(gst_rtsp::RTSPLowerTrans::UDP_MCAST) {
                let pool = gst_rtsp_server::RTSPAddressPool::new();
                let (first, last) = match opts.address.contains(':') {
                    true => ("ff15::3:1", "ff15::3:10"),
                    false => ("224.3.0.1", "224.3.0.10"),
                };
                pool.add_range(first, last, 5000, 5020, 16)
                    .map_err(|_| glib::bool_error!("multicast address pool"))?;
                factory.set_address_pool(Some(&pool));
            }
        }
        let rtsp_auth = gst_rtsp_server::RTSPAuth::new();
        if let Some(pem) = &opts.tls_pem {
            let cert = gio::TlsCertificate::from_pem(pem)
                .map_err(|e| glib::bool_error!("TLS certificate: {}", e))?;
            rtsp_auth.set_tls_certificate(Some(&cert));
            server.set_auth(Some(&rtsp_auth));
            if opts.auth.is_none() {
                // Anyone may watch: the default token's role may access and construct the media.
                let mut token = gst_rtsp_server::RTSPToken::builder()
                    .field(gst_rtsp_server::RTSP_TOKEN_MEDIA_FACTORY_ROLE, "anonymous")
                    .build();
                rtsp_auth.set_default_token(Some(&mut token));
                factory.add_role_from_structure(
                    &gst::Structure::builder("anonymous")
                        .field(gst_rtsp_server::RTSP_PERM_MEDIA_FACTORY_ACCESS, true)
                        .field(gst_rtsp_server::RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, true)
                        .build(),
                );
            }
        }
        if let Some(auth) = &opts.auth {
            let token = gst_rtsp_server::RTSPToken::builder()
                .field(gst_rtsp_server::RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
                .build();
            if auth.digest {
                rtsp_auth.add_digest(&auth.user, &auth.password, &token);
                rtsp_auth.set_supported_methods(gst_rtsp::RTSPAuthMethod::Digest);
            } else {
                let basic = gst_rtsp_server::RTSPAuth::make_basic(&auth.user, &auth.password);
                rtsp_auth.add_basic(&basic, &token);
            }
            server.set_auth(Some(&rtsp_auth));
            factory.add_role_from_structure(
                &gst::Structure::builder("user")
                    .field(gst_rtsp_server::RTSP_PERM_MEDIA_FACTORY_ACCESS, true)
                    .field(gst_rtsp_server::RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, true)
                    .build(),
            );
        }
        server
            .mount_points()
            .ok_or_else(|| glib::bool_error!("no mount points"))?
            .add_factory(&opts.path, factory);

        let teardowns = Arc::new(AtomicUsize::new(0));
        let keepalives = Arc::new(AtomicUsize::new(0));
        let clients = Arc::new(AtomicUsize::new(0));
        let (td, ka, cl) = (teardowns.clone(), keepalives.clone(), clients.clone());
        let session_timeout = opts.session_timeout;
        server.connect_client_connected(move |_, client| {
            cl.fetch_add(1, Ordering::SeqCst);
            let td = td.clone();
            client.connect_teardown_request(move |_, _| {
                td.fetch_add(1, Ordering::SeqCst);
            });
            let ka = ka.clone();
            client.connect_get_parameter_request(move |_, _| {
                ka.fetch_add(1, Ordering::SeqCst);
            });
            if let Some(t) = session_timeout {
                client.connect_new_session(move |_, session| session.set_timeout(t));
            }
        });

        let ctx = glib::MainContext::new();
        let source = server.attach(Some(&ctx))?;
        let port =
            u16::try_from(server.bound_port()).map_err(|_| glib::bool_error!("not bound"))?;
        let main_loop = glib::MainLoop::new(Some(&ctx), false);
        let ml = main_loop.clone();
        let thread = std::thread::spawn(move || ml.run());
        Ok(TestServer {
            port,
            tls: opts.tls_pem.is_some(),
            address: opts.address,
            path: opts.path,
            main_loop,
            context: ctx,
            server,
            source: Some(source),
            thread: Some(thread),
            teardowns,
            keepalives,
            clients,
            backchannel,
            media,
        })
    }

    /// The last media a client had made, while it lives.
    pub fn media(&self) -> Option<gst_rtsp_server::RTSPMedia> {
        self.media.lock().unwrap().as_ref()?.upgrade()
    }

    /// `rtsp://[user:pass@]127.0.0.1:PORT/path`
    pub fn url(&self) -> String {
        let scheme = if self.tls { "rtsps" } else { "rtsp" };
        let host = match self.address.contains(':') {
            true => format!("[{}]", self.address),
            false => self.address.to_string(),
        };
        format!("{scheme}://{host}:{}{}", self.port, self.path)
    }

    /// TEARDOWN requests the server has seen.
    pub fn teardowns(&self) -> usize {
        self.teardowns.load(Ordering::SeqCst)
    }

    /// RTSP connections the server has accepted.
    pub fn clients(&self) -> usize {
        self.clients.load(Ordering::SeqCst)
    }

    /// GET_PARAMETER requests (keep-alives) the server has seen.
    pub fn keepalives(&self) -> usize {
        self.keepalives.load(Ordering::SeqCst)
    }

    /// Blocks until the process is killed.
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Close every client with its media, as a server that goes away would.
        self.server
            .client_filter(Some(&mut |_, _| gst_rtsp_server::RTSPFilterResult::Remove));
        // The source lives in our own context, which SourceId::remove (default context) cannot see.
        if let Some(source) = self
            .source
            .take()
            .and_then(|id| self.context.find_source_by_id(&id))
        {
            source.destroy();
        }
        self.main_loop.quit();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

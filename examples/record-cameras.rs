//! Records several cameras into segment files named by time, the job NVR and vision users wrap rtspsrc
//! in again and again: one pipeline, one `rustrtspsrc ! h264parse|h265parse ! splitmuxsink` branch per
//! camera (the parser chosen from the caps of the first buffer), the camera's first audio beside the
//! video when the container takes its codec (MP4: AAC, Opus; Matroska: any),
//! segments cut at keyframes, a camera that cannot be reached retried without stopping the others, a
//! status line per camera redrawn every second, and Ctrl-C finishing every open segment so it plays.
//!
//!     cargo run --release --example record-cameras -- --segment 60 --out recordings \
//!         front=rtsp://admin:pw@192.0.2.2/stream1 back=rtsp://192.0.2.3/stream1
//!
//! Files: `recordings/front/2026-11-25T22-45-00Z.mp4` (`--format mkv` for Matroska), named by the
//! system clock when the segment starts.

use gst::prelude::*;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// Set by SIGINT/SIGTERM: finish the segments and stop.
static STOP: AtomicBool = AtomicBool::new(false);
/// How long a camera that failed before recording waits before the next try.
const RETRY_AFTER: Duration = Duration::from_secs(5);

struct Camera {
    name: String,
    url: String,
    bin: gst::Bin,
    src: gst::Element,
    /// "starting", "recording", "reconnecting: why", "retrying in 5 s: why".
    state: String,
    retry_at: Option<Instant>,
    last_frames: (u64, Instant),
    fps: f64,
    /// The audio's codec and whether it is recorded ("AAC", "G.711 A-law not in mp4"), once known.
    audio: std::sync::Arc<std::sync::Mutex<String>>,
}

fn usage(msg: &str) -> ! {
    eprintln!("record-cameras: {msg}");
    eprintln!("usage: record-cameras [--segment SECS] [--out DIR] [--format mp4|mkv] NAME=URL...");
    std::process::exit(2);
}

fn main() {
    let (mut segment, mut out, mut format) = (60u64, String::from("recordings"), "mp4");
    let mut cams = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--segment" => {
                segment = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&s| s > 0)
                    .unwrap_or_else(|| usage("--segment takes seconds"))
            }
            "--out" => {
                out = args
                    .next()
                    .unwrap_or_else(|| usage("--out takes a directory"))
            }
            "--format" => {
                format = match args.next().as_deref() {
                    Some("mp4") => "mp4",
                    Some("mkv") => "mkv",
                    _ => usage("--format is mp4 or mkv"),
                }
            }
            "-h" | "--help" => usage("records cameras into segment files"),
            _ => match a.split_once('=') {
                Some((name, url)) if !name.is_empty() && url.contains("://") => {
                    cams.push((name.to_string(), url.to_string()))
                }
                _ => usage(&format!("{a:?} is not NAME=URL")),
            },
        }
    }
    if cams.is_empty() {
        usage("no camera given");
    }
    gst::init().expect("GStreamer");
    gstrustrtsp::plugin_register_static().expect("the rustrtspsrc plugin");
    catch_signals();

    let pipeline = gst::Pipeline::new();
    let mut cameras: Vec<Camera> = cams
        .iter()
        .map(|(name, url)| branch(&pipeline, name, url, &out, format, segment))
        .collect();
    pipeline
        .set_state(gst::State::Playing)
        .expect("pipeline to PLAYING");

    let bus = pipeline.bus().unwrap();
    let terminal = std::io::stdout().is_terminal();
    let mut drawn = 0;
    let mut next_draw = Instant::now();
    let mut stopping: Option<Instant> = None;
    loop {
        if STOP.load(Ordering::SeqCst) && stopping.is_none() {
            // EOS through every branch: each splitmuxsink closes its file properly. Cameras waiting
            // to be retried have nothing open: they leave the pipeline first.
            stopping = Some(Instant::now());
            cameras.retain(|c| c.retry_at.is_none());
            pipeline.send_event(gst::event::Eos::new());
        }
        if stopping.is_some_and(|t| t.elapsed() > Duration::from_secs(10)) {
            eprintln!("record-cameras: no EOS after 10 s; stopping anyway");
            break;
        }
        if let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) {
            // The camera a message comes from, by index.
            let from = msg.src().and_then(|src| {
                cameras.iter().position(|c| {
                    src.has_as_ancestor(&c.bin) || src == c.bin.upcast_ref::<gst::Object>()
                })
            });
            match msg.view() {
                gst::MessageView::Eos(_) => break,
                gst::MessageView::Error(e) => match from {
                    // basesrc follows the element's error with its own ("Internal data stream
                    // error"): the first one says why.
                    Some(i) if cameras[i].retry_at.is_some() => {}
                    // Before recording began (unreachable, refused): retried later, the others go on.
                    Some(i) => {
                        let cam = &mut cameras[i];
                        cam.state =
                            format!("retrying in {} s: {}", RETRY_AFTER.as_secs(), reason(e));
                        cam.retry_at = Some(Instant::now() + RETRY_AFTER);
                        // Out of the pipeline until its next try, with a fresh branch then.
                        let _ = cam.bin.set_state(gst::State::Null);
                        let _ = pipeline.remove(&cam.bin);
                    }
                    None => {
                        eprintln!("record-cameras: {}", reason(e));
                        break;
                    }
                },
                gst::MessageView::Element(e) => {
                    if let (Some(i), Some(s)) = (from, e.structure()) {
                        let cam = &mut cameras[i];
                        match s.name().as_str() {
                            "rustrtspsrc-reconnecting" => {
                                cam.state = format!(
                                    "reconnecting: {}",
                                    s.get::<String>("reason").unwrap_or_default()
                                )
                            }
                            "rustrtspsrc-reconnected" => cam.state = "recording".into(),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if stopping.is_some() {
            continue;
        }
        for cam in &mut cameras {
            if cam.retry_at.is_some_and(|t| Instant::now() >= t) {
                let fresh = branch(&pipeline, &cam.name, &cam.url, &out, format, segment);
                let _ = fresh.bin.sync_state_with_parent();
                *cam = fresh;
            }
        }
        if Instant::now() >= next_draw {
            next_draw += Duration::from_secs(1);
            drawn = draw(&mut cameras, terminal, drawn);
        }
    }
    pipeline
        .set_state(gst::State::Null)
        .expect("pipeline to NULL");
    println!("record-cameras: segments finished in {out}/");
}

/// One camera's bin: rustrtspsrc ! queue ! (h264parse or h265parse, once the caps say) ! splitmuxsink,
/// and the audio pad to splitmuxsink when its muxer takes the codec.
fn branch(
    pipeline: &gst::Pipeline,
    name: &str,
    url: &str,
    out: &str,
    format: &str,
    segment: u64,
) -> Camera {
    let bin = gst::Bin::with_name(&format!("cam-{name}"));
    // A camera that never sends (unreachable) must not hold the whole pipeline out of PLAYING: its
    // muxer's sink would wait for a first buffer forever.
    bin.set_property("async-handling", true);
    let src = gst::ElementFactory::make("rustrtspsrc")
        .name(format!("src-{name}"))
        .property("location", url)
        .build()
        .expect("rustrtspsrc");
    let muxer = if format == "mkv" {
        "matroskamux"
    } else {
        "mp4mux"
    };
    let split = gst::ElementFactory::make("splitmuxsink")
        .property("max-size-time", segment * 1_000_000_000)
        .property("send-keyframe-requests", true)
        .property("muxer-factory", muxer)
        .property("async-finalize", true)
        .build()
        .expect("splitmuxsink");
    let dir = std::path::Path::new(out).join(name);
    std::fs::create_dir_all(&dir).expect("output directory");
    let ext = format.to_string();
    split.connect("format-location-full", false, move |_| {
        Some(
            dir.join(format!("{}.{ext}", utc_now()))
                .to_string_lossy()
                .to_value(),
        )
    });
    bin.add_many([&src, &split]).unwrap();
    // The video's pad first: splitmuxsink cuts at its keyframes, and takes no video once another
    // stream (the audio, which may come first) has started the files.
    let video_sink = split
        .request_pad_simple("video")
        .expect("splitmuxsink video pad");
    // A queue after the video: one thread reads every stream of the camera, and splitmuxsink holds
    // the video back until the audio catches up, which it could not while that thread waits.
    let queue = gst::ElementFactory::make("queue").build().expect("queue");
    bin.add(&queue).unwrap();
    src.link(&queue).expect("rustrtspsrc to a queue");
    // The parser for the codec goes in when the caps come, before they go on.
    let bin_weak = bin.downgrade();
    let src_pad = queue.static_pad("src").unwrap();
    src_pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |pad, info| {
        let Some(gst::EventView::Caps(c)) = info.event().map(|e| e.view()) else {
            return gst::PadProbeReturn::Ok;
        };
        let Some(bin) = bin_weak.upgrade() else {
            return gst::PadProbeReturn::Remove;
        };
        let h265 = c
            .caps()
            .structure(0)
            .is_some_and(|s| s.name() == "video/x-h265");
        let parse = gst::ElementFactory::make(if h265 { "h265parse" } else { "h264parse" })
            .build()
            .expect("h264parse/h265parse (gstreamer1.0-plugins-bad)");
        let _ = bin.add(&parse);
        let _ = parse.sync_state_with_parent();
        let _ = pad.link(&parse.static_pad("sink").unwrap());
        let _ = parse.static_pad("src").unwrap().link(&video_sink);
        gst::PadProbeReturn::Remove
    });
    // The first audio, into the same files when the muxer takes its codec.
    let audio = std::sync::Arc::new(std::sync::Mutex::new(String::from("-")));
    let (split_weak, shown, ext) = (split.downgrade(), audio.clone(), format.to_string());
    let bin_weak = bin.downgrade();
    let takes = muxer_audio_caps(muxer);
    src.connect_pad_added(move |_, pad| {
        let (Some(split), Some(bin)) = (split_weak.upgrade(), bin_weak.upgrade()) else {
            return;
        };
        if pad.name() != "audio_0" {
            return;
        }
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let codec = codec_name(&caps);
        if !caps.can_intersect(&takes) {
            *shown.lock().unwrap() = format!("{codec} not in {ext}");
            return;
        }
        // A queue here too: with it, the element pushes the audio from the thread that reads the
        // video (splitmuxsink, fed directly, may hold the audio until the video's next keyframe, so
        // the element would give the pad a thread of its own, a wake-up per audio frame).
        let queue = gst::ElementFactory::make("queue").build().expect("queue");
        let _ = bin.add(&queue);
        let _ = queue.sync_state_with_parent();
        let linked = split.request_pad_simple("audio_%u").is_some_and(|sink| {
            pad.link(&queue.static_pad("sink").unwrap()).is_ok()
                && queue.static_pad("src").unwrap().link(&sink).is_ok()
        });
        *shown.lock().unwrap() = if linked {
            codec
        } else {
            format!("{codec} not recorded")
        };
    });
    pipeline.add(&bin).unwrap();
    Camera {
        name: name.to_string(),
        url: url.to_string(),
        bin,
        src,
        state: "starting".into(),
        retry_at: None,
        last_frames: (0, Instant::now()),
        fps: 0.0,
        audio,
    }
}

/// What `muxer` takes on its audio pads.
fn muxer_audio_caps(muxer: &str) -> gst::Caps {
    gst::ElementFactory::find(muxer)
        .and_then(|f| {
            f.static_pad_templates()
                .into_iter()
                .find(|t| t.name_template().starts_with("audio"))
        })
        .map(|t| t.caps())
        .unwrap_or_else(gst::Caps::new_empty)
}

/// An audio codec's name for the status line.
fn codec_name(caps: &gst::CapsRef) -> String {
    let name = caps.structure(0).map_or("", |s| s.name().as_str());
    match name {
        "audio/mpeg" => "AAC",
        "audio/x-alaw" => "G.711 A-law",
        "audio/x-mulaw" => "G.711 µ-law",
        "audio/x-opus" => "Opus",
        "audio/G722" => "G.722",
        "audio/x-adpcm" => "G.726",
        "audio/x-raw" => "L16",
        other => other,
    }
    .to_string()
}

/// Redraws the status block (in place on a terminal); returns how many lines it drew.
fn draw(cameras: &mut [Camera], terminal: bool, drawn: usize) -> usize {
    let mut out = std::io::stdout().lock();
    if terminal && drawn > 0 {
        let _ = write!(out, "\x1b[{drawn}A");
    }
    for cam in cameras.iter_mut() {
        let stats = cam.src.property::<gst::Structure>("stats");
        let get = |f: &str| stats.get::<u64>(f).unwrap_or(0);
        let frames = get("access-units-pushed");
        let now = Instant::now();
        let secs = now.duration_since(cam.last_frames.1).as_secs_f64();
        if secs > 0.0 {
            cam.fps = frames.saturating_sub(cam.last_frames.0) as f64 / secs;
        }
        cam.last_frames = (frames, now);
        if frames > 0 && cam.state == "starting" {
            cam.state = "recording".into();
        }
        let size = cam
            .src
            .static_pad("src")
            .and_then(|p| p.current_caps())
            .and_then(|c| {
                let s = c.structure(0)?;
                Some(format!(
                    "{}x{}",
                    s.get::<i32>("width").ok()?,
                    s.get::<i32>("height").ok()?
                ))
            })
            .unwrap_or_else(|| "-".into());
        let line = format!(
            "{:<10} {:>9} {:>5.1} fps {:>6.2} Mbit/s  audio {:<12} lost {:>5}  reconnects {:>3}  {}",
            cam.name,
            size,
            cam.fps,
            get("bitrate") as f64 / 1e6,
            cam.audio.lock().unwrap(),
            get("packets-lost"),
            get("reconnects"),
            cam.state
        );
        if terminal {
            let _ = writeln!(out, "\x1b[2K{line}");
        } else {
            let _ = writeln!(out, "{line}");
        }
    }
    let _ = out.flush();
    cameras.len()
}

/// Now in UTC as `2026-11-25T22-45-00Z` (colons are awkward in file names).
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = gstrustrtsp::rtsp::replay::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}-{:02}-{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

fn catch_signals() {
    extern "C" fn on_signal(_: libc::c_int) {
        STOP.store(true, Ordering::SeqCst);
    }
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
    }
}

/// What an error says in the element's own words: the last line of its debug text (the first lines
/// name the source file and the element), else the generic message of its error domain.
fn reason(e: &gst::message::Error) -> String {
    e.debug()
        .and_then(|d| d.lines().last().map(str::to_string))
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| e.error().to_string())
}

//! A local RTSP test server serving a live H.264 stream (videotestsrc ! x264enc), for trying the element
//! without a camera.
//!
//!     cargo run --example test-server -- [--port 8554] [--path /test] [--user admin --password secret [--digest]]
//!        [--size 1280x720] [--fps 30] [--bitrate 2000] [--bframes 2] [--codec h265] [--audio aac]

#[path = "../tests/common/replay_media.rs"]
mod replay_media;
#[path = "../tests/common/server.rs"]
mod server;

use server::{Auth, ServerOptions, TestServer};

fn main() {
    let mut opts = ServerOptions {
        port: 8554,
        ..Default::default()
    };
    let (mut user, mut password, mut digest) = (None, None, false);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--port" => opts.port = val().parse().unwrap_or_else(|_| usage("bad --port")),
            "--path" => opts.path = val(),
            "--user" => user = Some(val()),
            "--password" => password = Some(val()),
            "--digest" => digest = true,
            "--fps" => opts.fps = val().parse().unwrap_or_else(|_| usage("bad --fps")),
            "--bitrate" => opts.bitrate = val().parse().unwrap_or_else(|_| usage("bad --bitrate")),
            "--bframes" => opts.bframes = val().parse().unwrap_or_else(|_| usage("bad --bframes")),
            "--audio" => {
                opts.audio = match val().as_str() {
                    "aac" => Some("aac"),
                    "pcma" => Some("pcma"),
                    "pcmu" => Some("pcmu"),
                    "l16" => Some("l16"),
                    "latm" => Some("latm"),
                    "g722" => Some("g722"),
                    "g726" => Some("g726"),
                    "opus" => Some("opus"),
                    _ => usage("--audio is aac, latm, pcma, pcmu, l16, g722, g726 or opus"),
                }
            }
            "--codec" => {
                opts.codec = match val().as_str() {
                    "h264" => "h264",
                    "h265" => "h265",
                    _ => usage("--codec is h264 or h265"),
                }
            }
            "--size" => {
                let v = val();
                let (w, h) = v.split_once('x').unwrap_or_else(|| usage("--size is WxH"));
                opts.width = w.parse().unwrap_or_else(|_| usage("bad --size"));
                opts.height = h.parse().unwrap_or_else(|_| usage("bad --size"));
            }
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if user.is_some() || password.is_some() {
        opts.auth = Some(Auth {
            user: user.unwrap_or_default(),
            password: password.unwrap_or_default(),
            digest,
        });
    }
    let has_auth = opts.auth.is_some();
    let server = match TestServer::start(opts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot start the RTSP server: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "serving {}{}",
        server.url(),
        if has_auth {
            " (authentication required)"
        } else {
            ""
        }
    );
    server.wait();
}

fn usage(err: &str) -> ! {
    if !err.is_empty() {
        eprintln!("error: {err}");
    }
    eprintln!(
        "usage: test-server [--port 8554] [--path /test] [--user U --password P [--digest]] [--size WxH] [--fps N] [--bitrate KBPS] [--bframes N] [--codec h264|h265] [--audio aac|latm|pcma|pcmu|l16|g722|g726|opus]"
    );
    std::process::exit(2)
}

//! The element's receive path without GStreamer: per stream, one thread running the element's own
//! session client (`SessionClient`: RTSP, sockets, marker steering or SO_RCVLOWAT, the reorder window,
//! the depacketizer and access-unit assembly, RTCP) and dropping each access unit it returns. Its CPU
//! beside the element's (`rustrtspsrc ! fakesink`) and the floors' (`bench-*-floor`) splits what the
//! element costs into the receive path and the GStreamer shell around it (timestamps, meta, basesrc,
//! the push). Prints, ten times a second, the pictures all its streams have received so far, as
//! bench-receiver does.
//!
//!     bench-client [--tcp] rtsp://127.0.0.1:8554/stream …   # one stream per URL; UDP by default

#[path = "floor/rtsp.rs"]
mod rtsp;

use gstrustrtsp::net::epoll::Waker;
use gstrustrtsp::net::session_client::{ClientConfig, SessionClient};
use gstrustrtsp::rtsp::url::RtspUrl;
use rtsp::{bad, Pictures};
use std::io;
use std::time::Duration;

fn main() {
    let ([tcp], urls) = rtsp::flags_and_urls(["--tcp"]);
    if urls.is_empty() {
        eprintln!("usage: bench-client [--tcp] rtsp://host:port/path …");
        std::process::exit(2);
    }
    rtsp::run("bench-client", urls, false, move |url, pictures| {
        receive(url, !tcp, pictures)
    });
}

/// The element's defaults (rtspsrc's where it has them), video only, no keep-alive: the runs are
/// shorter than the bench server's 60 s session timeout.
fn config(url: &str, udp: bool) -> io::Result<ClientConfig> {
    Ok(ClientConfig {
        url: RtspUrl::parse(url).map_err(|e| bad(format!("{url}: {e}")))?,
        credentials: None,
        user_agent: "bench-client".into(),
        latency: Duration::from_millis(50),
        stall_timeout: Some(Duration::from_secs(5)),
        udp_timeout: Some(Duration::from_secs(5)),
        udp_port_tries: 20,
        tcp_timeout: Some(Duration::from_secs(20)),
        port_range: None,
        udp,
        multicast: false,
        multicast_iface: None,
        tcp: !udp,
        do_rtcp: true,
        keep_alive: false,
        wait_for_keyframe: false,
        choice: Default::default(),
        keyframe_wanted: Default::default(),
        nat_dummy_packets: true,
        tls: None,
        backchannel: None,
        replay: None,
        hooks: Default::default(),
        log: Default::default(),
    })
}

fn receive(url: &str, udp: bool, pictures: &Pictures) -> io::Result<()> {
    let waker = Waker::new()?;
    let mut client = SessionClient::connect(config(url, udp)?, waker)
        .map_err(|e| bad(format!("connecting: {e}")))?;
    loop {
        let (stream, _au, _completed) = client
            .next_access_unit()
            .map_err(|e| bad(format!("receiving: {e}")))?;
        if stream == 0 {
            pictures.add(1);
        }
    }
}

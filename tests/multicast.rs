//! RTP multicast end to end against gst-rtsp-server, which sends to a group from its address pool.
//!
//! Multicast needs routes the host may not have, and tests must not change the host's network; and
//! gst-rtsp-server binds the group's ports exclusively (0.0.0.0:port, no SO_REUSEADDR), so a receiver
//! cannot share its network stack. `in_two_network_namespaces` therefore builds a small network of its
//! own: the server in one new namespace, the receivers in another, a veth pair between them
//! (10.99.0.1 ↔ 10.99.0.2, fd99::1 ↔ fd99::2) with 224.0.0.0/4 routed over it (IPv6 multicast takes
//! the link's own route). It runs this file's ignored tests there:
//! `serve` on the server side, the others on the receiving side. That needs root (CI has it) and
//! iproute2; without them the test fails and says why.

mod common;

use common::server::{ServerOptions, TestServer};
use common::{record_clean, Recording};
use gst_rtsp::RTSPLowerTrans;
use std::process::Command;
use std::time::Duration;

/// Set inside the receivers' namespace: the server's address.
const SERVER: &str = "RUSTRTSPSRC_MCAST_SERVER";
/// The receiving tests, each asserting on its own.
const RECEIVING_TESTS: usize = 5;
/// The servers `serve` starts: multicast only, the same but one media shared by all, TCP only, and
/// multicast only over IPv6.
const PORTS: [u16; 4] = [8601, 8602, 8603, 8604];

const NETWORK: &str = r#"
set -eu
exe=$0
ip link set lo up
ip link add rc type veth peer name rs
# The server's namespace: it waits for its end of the pair, configures it, then serves.
unshare --net sh -c '
  while ! ip link show rs >/dev/null 2>&1; do sleep 0.05; done
  ip link set lo up && ip addr add 10.99.0.1/24 dev rs && ip addr add fd99::1/64 dev rs nodad
  ip link set rs up && ip route add 224.0.0.0/4 dev rs
  exec "$0" --ignored --exact serve --nocapture' "$exe" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
here=$(readlink /proc/self/ns/net)
while [ "$(readlink /proc/$server/ns/net)" = "$here" ]; do sleep 0.05; done
ip link set rs netns $server
ip addr add 10.99.0.2/24 dev rc && ip addr add fd99::2/64 dev rc nodad && ip link set rc up
ip route add 224.0.0.0/4 dev rc
for i in $(seq 100); do
  if (exec 3<>/dev/tcp/10.99.0.1/8603) 2>/dev/null; then break; fi
  sleep 0.1
done
RUSTRTSPSRC_MCAST_SERVER=10.99.0.1 "$exe" --ignored --test-threads=1 --skip serve
"#;

#[test]
fn in_two_network_namespaces() {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args(["--net", "bash", "-c", NETWORK])
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| panic!("cannot run unshare: {e}"));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "the multicast tests need network namespaces of their own (unshare --net, as root) and \
         iproute2's ip; they said:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("test result: ok. {RECEIVING_TESTS} passed")),
        "{stdout}\n{stderr}"
    );
}

/// The server side: runs until killed.
#[test]
#[ignore = "run in its own network namespace by in_two_network_namespaces"]
fn serve() {
    let serve = |port, protocols, shared| {
        TestServer::start(ServerOptions {
            port,
            address: "10.99.0.1",
            protocols: Some(protocols),
            shared,
            ..Default::default()
        })
        .unwrap()
    };
    let _servers = [
        serve(PORTS[0], RTSPLowerTrans::UDP_MCAST, false),
        serve(PORTS[1], RTSPLowerTrans::UDP_MCAST, true),
        serve(PORTS[2], RTSPLowerTrans::TCP, false),
    ];
    let _v6 = TestServer::start(ServerOptions {
        port: PORTS[3],
        address: "fd99::1",
        protocols: Some(RTSPLowerTrans::UDP_MCAST),
        ..Default::default()
    })
    .unwrap();
    println!("serving");
    loop {
        std::thread::park();
    }
}

/// The URL of server `i`, when run by `in_two_network_namespaces`.
fn server_url(i: usize) -> Option<String> {
    let Ok(host) = std::env::var(SERVER) else {
        eprintln!("skipped: run by in_two_network_namespaces");
        return None;
    };
    Some(match i {
        3 => format!("rtsp://[fd99::1]:{}/test", PORTS[i]),
        _ => format!("rtsp://{host}:{}/test", PORTS[i]),
    })
}

fn record_on_rc(url: &str, protocols: &str) -> Recording {
    record_clean(
        url,
        Duration::from_secs(3),
        &[("protocols", &protocols), ("multicast-iface", &"rc")],
    )
}

#[test]
#[ignore = "run in its own network namespace by in_two_network_namespaces"]
fn records_a_group() {
    let Some(url) = server_url(0) else { return };
    let rec = record_on_rc(&url, "udp-mcast");
    rec.assert_plays();
    assert_eq!(rec.transport(), "udp-mcast");
}

#[test]
#[ignore = "run in its own network namespace by in_two_network_namespaces"]
fn unicast_refused_then_multicast() {
    let Some(url) = server_url(0) else { return };
    // The server takes multicast only: unicast SETUP is refused, and multicast comes before TCP.
    let rec = record_on_rc(&url, "udp+udp-mcast+tcp");
    rec.assert_plays();
    assert_eq!(rec.transport(), "udp-mcast");
}

#[test]
#[ignore = "run in its own network namespace by in_two_network_namespaces"]
fn two_receivers_share_a_group() {
    let Some(url) = server_url(1) else { return };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| record_on_rc(&url, "udp-mcast"));
        // The second joins once the first plays. gst-rtsp-server 1.22 aborts (an assertion in
        // gst_rtsp_media_get_rates) when a second PLAY of a shared media comes while its stream is
        // complete but has not passed a segment yet, which two clients starting together can hit.
        let b = s.spawn(|| {
            std::thread::sleep(Duration::from_secs(1));
            record_on_rc(&url, "udp-mcast")
        });
        (a.join().unwrap(), b.join().unwrap())
    });
    // The second PLAY disturbs the shared stream (seen with this server and media): the first receiver
    // may see one lost packet there and a keyframe carrying the previous picture's timestamp.
    b.assert_plays();
    for rec in [&a, &b] {
        assert_eq!(rec.transport(), "udp-mcast");
        assert!(rec.frames.len() > 40, "{} frames", rec.frames.len());
        let (decoded, problems) = common::decode(&rec.annexb());
        assert!(
            decoded + 2 >= rec.frames.len(),
            "decoded {decoded} of {}: {problems:?}",
            rec.frames.len()
        );
    }
}

#[test]
#[ignore = "run in its own network namespace by in_two_network_namespaces"]
fn records_an_ipv6_group() {
    let Some(url) = server_url(3) else { return };
    let rec = record_on_rc(&url, "udp-mcast");
    rec.assert_plays();
    assert_eq!(rec.transport(), "udp-mcast");
}

#[test]
#[ignore = "run in its own network namespace by in_two_network_namespaces"]
fn multicast_refused_then_tcp() {
    let Some(url) = server_url(2) else { return };
    let rec = record_on_rc(&url, "udp-mcast+tcp");
    rec.assert_plays();
    assert_eq!(rec.transport(), "tcp");
}

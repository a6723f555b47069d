#!/usr/bin/env bash
# RTSP over TCP as across a real network: the camera (examples/bench-server) runs in a network namespace
# this script creates, behind a veth pair with GRO on both ends and threaded NAPI, so segments are
# 1448 bytes, coalesced as a NIC would, and the camera's side of TCP runs in its own kernel threads rather
# than in the receiver's. Over loopback (compare.sh) 64 KiB segments and the sender's TCP work in the
# receiver's thread make the TCP rows unlike a camera on Ethernet. A forwarder in the namespace (socat,
# with Nagle's algorithm as on many cameras) carries the RTSP connection; UDP does not cross, so TCP only.
# rustrtspsrc and rtspsrc receive the same N streams side by side; CPU as in compare.sh. Beside them,
# examples/bench-tcp-floor receives them too, doing no more than reading and acknowledging each read at
# once: the lowest ratio to rtspsrc that a receiver which does not hold a Nagle camera back can reach.
#
#   sudo env PATH="$PATH" benches/veth_tcp.sh   # N=8 1080p30 8 Mbit/s, paced at 16 Mbit/s, then bursty
#   sudo env PATH="$PATH" N=4 MODES=paced PACE_KBPS=12000 benches/veth_tcp.sh
#   sudo env PATH="$PATH" FLOOR_ARGS=--no-quickack benches/veth_tcp.sh   # the floor leaves acks to the kernel
#
# Needs root (namespaces, links), iproute2, ethtool and socat (Debian: apt-get install ethtool socat);
# PATH passed through so that root finds the user's cargo.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "veth_tcp.sh: needs root to create a network namespace and a veth pair" >&2; exit 1; }
for tool in ip ethtool socat; do
  command -v "$tool" >/dev/null || { echo "veth_tcp.sh: $tool is missing (apt-get install iproute2 ethtool socat)" >&2; exit 1; }
done
. benches/builds.sh

n=${N:-8}
ns=rustrtspsrc-bench-$$
host=vrb$$a peer=vrb$$b
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
  sleep 0.5
  ip link del "$host" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT

ip netns add "$ns"
ip link add "$host" type veth peer name "$peer"
ip link set "$peer" netns "$ns"
ip addr add 10.213.0.1/24 dev "$host"
ip link set "$host" up
ip netns exec "$ns" ip addr add 10.213.0.2/24 dev "$peer"
ip netns exec "$ns" ip link set "$peer" up
ip netns exec "$ns" ip link set lo up
ethtool -K "$host" gro on >/dev/null
ip netns exec "$ns" ethtool -K "$peer" gro on >/dev/null
echo 1 >"/sys/class/net/$host/threaded"
ip netns exec "$ns" sh -c "echo 1 >/sys/class/net/$peer/threaded"

frames() { tail -n 1 "$1" 2>/dev/null || echo 0; }

printf '%-8s %26s %26s %7s %26s %7s\n' mode "rustrtspsrc %core/stream" "rtspsrc %core/stream" ratio \
  "floor %core/stream" ratio
for mode in ${MODES:-paced bursty}; do
  pace=0
  [ "$mode" = paced ] && pace=${PACE_KBPS:-16000}
  log=$(mktemp)
  ip netns exec "$ns" ./target/release/examples/bench-server --size "${SIZE:-1920x1080}" \
    --bitrate "${BITRATE:-8000}" --pace-kbps "$pace" --ethernet-segments 1 >"$log" 2>&1 &
  server=$!
  for _ in $(seq 600); do grep -q '^serving ' "$log" && break; sleep 0.5; done
  port=$(sed -n 's/^serving rtsp:\/\/127.0.0.1:\([0-9]*\)\/.*/\1/p' "$log")
  [ -n "$port" ] || { cat "$log" >&2; exit 1; }
  # Its complaints when the receivers hang up at the end are noise.
  ip netns exec "$ns" socat "TCP-LISTEN:8554,bind=10.213.0.2,fork,reuseaddr" "TCP:127.0.0.1:$port" 2>/dev/null &
  forwarder=$!
  sleep 0.5
  url=rtsp://10.213.0.2:8554/stream
  h264_receivers "$url" tcp "$n"
  out_a=$(mktemp) out_b=$(mktemp)
  ./target/release/examples/bench-receiver "${ours[@]}" >"$out_a" 2>/dev/null &
  a=$!
  ./target/release/examples/bench-receiver "${theirs[@]}" >"$out_b" 2>/dev/null &
  b=$!
  out_c=$(mktemp)
  ./target/release/examples/bench-tcp-floor ${FLOOR_ARGS:-} $(for _ in $(seq "$n"); do echo "$url"; done) >"$out_c" &
  c=$!
  pids=("$a" "$b" "$c" "$forwarder" "$server")
  sleep 5
  a0=$(cpu_ns "$a") b0=$(cpu_ns "$b") c0=$(cpu_ns "$c")
  fa0=$(frames "$out_a") fb0=$(frames "$out_b") fc0=$(frames "$out_c")
  sleep 20
  a1=$(cpu_ns "$a") b1=$(cpu_ns "$b") c1=$(cpu_ns "$c")
  fa1=$(frames "$out_a") fb1=$(frames "$out_b") fc1=$(frames "$out_c")
  awk -v m="$mode" -v a=$((a1 - a0)) -v b=$((b1 - b0)) -v c=$((c1 - c0)) -v n="$n" \
    -v fa=$((fa1 - fa0)) -v fb=$((fb1 - fb0)) -v fc=$((fc1 - fc0)) \
    'BEGIN { printf "%-8s %12.3f (%5.1f fps) %12.3f (%5.1f fps) %7.2f %12.3f (%5.1f fps) %7.2f\n",
             m, a / 20e9 * 100 / n, fa / 20 / n, b / 20e9 * 100 / n, fb / 20 / n, (b > 0 ? a / b : 0),
             c / 20e9 * 100 / n, fc / 20 / n, (b > 0 ? c / b : 0) }'
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
  rm -f "$log" "$out_a" "$out_b" "$out_c"
done

#!/usr/bin/env bash
# Memory over hours: N streams with loss and reordering for a long run, rustrtspsrc and rtspsrc side by
# side, RSS printed every STEP seconds. After the first minute a receiver's RSS should stay flat.
#
#   benches/soak.sh                     # 16 streams, 720p 3 Mbit/s, 0.5 % loss + 1 % reordering, 30 min
#   MINUTES=5 STREAMS=8 benches/soak.sh
#   BASELINE=HEAD~3 benches/soak.sh    # also an older commit's rustrtspsrc, in a third process
set -euo pipefail
cd "$(dirname "$0")/.."

streams=${STREAMS:-16}
minutes=${MINUTES:-30}
step=${STEP:-30}
. benches/builds.sh

log=$(mktemp)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -f "$log"; }
trap cleanup EXIT
./target/release/examples/bench-server --size "${SIZE:-1280x720}" --bitrate "${BITRATE:-3000}" \
  --loss-permille "${LOSS_PERMILLE:-5}" --reorder-permille "${REORDER_PERMILLE:-10}" >"$log" 2>&1 &
pids+=($!)
for _ in $(seq 600); do grep -q '^serving ' "$log" && break; sleep 0.5; done
url=$(sed -n 's/^serving \(rtsp:[^ ]*\)$/\1/p' "$log")
[ -n "$url" ] || { cat "$log" >&2; exit 1; }

ours=() theirs=()
for _ in $(seq "$streams"); do
  ours+=(rustrtspsrc "location=$url" protocols=udp ! fakesink sync=false)
  theirs+=(rtspsrc "location=$url" protocols=udp latency=50 ! rtph264depay ! video/x-h264,alignment=au ! fakesink sync=false)
done
./target/release/examples/bench-receiver "${ours[@]}" >/dev/null 2>&1 &
a=$!; pids+=($a)
./target/release/examples/bench-receiver "${theirs[@]}" >/dev/null 2>&1 &
b=$!; pids+=($b)
c=
if [ -n "${BASELINE:-}" ]; then
  "${with_baseline[@]}" ./target/release/examples/bench-receiver "${ours[@]}" >/dev/null 2>&1 &
  c=$!; pids+=($c)
fi

rss() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo "-"; }
printf '%8s %16s %16s %16s\n' "minutes" "rustrtspsrc MB" "rtspsrc MB" "${BASELINE:+$BASELINE MB}"
end=$(( $(date +%s) + minutes * 60 ))
start=$(date +%s)
while [ "$(date +%s)" -lt "$end" ]; do
  sleep "$step"
  printf '%8.1f %16s %16s %16s\n' "$(awk -v s="$(( $(date +%s) - start ))" 'BEGIN {print s / 60}')" \
    "$(rss $a)" "$(rss $b)" "${c:+$(rss $c)}"
done

#!/usr/bin/env bash
# Memory over hours: N streams with loss and reordering for a long run, rustrtspsrc and rtspsrc side by
# side, RSS sampled every second and printed as lowest-highest every STEP seconds. After the first minute
# a receiver's lowest RSS should stay flat.
#
#   benches/soak.sh                     # 16 streams, 720p 3 Mbit/s, 0.5 % loss + 1 % reordering, 30 min
#   MINUTES=5 STREAMS=8 benches/soak.sh
#   BASELINE=HEAD~3 benches/soak.sh    # also an older commit's rustrtspsrc, in a third process
#   BUSY=1 benches/soak.sh              # a busy host: every 5 minutes, 30 s with every core kept busy
#                                       # (receivers read late, in bursts, and hold more)
#   MALLOC_STATS=60 benches/soak.sh     # also glibc's per-heap totals (size, in use) every 60 s, in
#                                       # target/soak-malloc-<receiver>.txt
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

h264_receivers "$url" udp "$streams"
# Where a receiver's stderr goes: its heap totals with MALLOC_STATS, else nowhere.
stderr_of() { if [ -n "${MALLOC_STATS:-}" ]; then echo "target/soak-malloc-$1.txt"; else echo /dev/null; fi; }
./target/release/examples/bench-receiver "${ours[@]}" >/dev/null 2>"$(stderr_of rustrtspsrc)" &
a=$!; pids+=($a)
./target/release/examples/bench-receiver "${theirs[@]}" >/dev/null 2>"$(stderr_of rtspsrc)" &
b=$!; pids+=($b)
c=
if [ -n "${BASELINE:-}" ]; then
  "${with_baseline[@]}" ./target/release/examples/bench-receiver "${ours[@]}" >/dev/null 2>"$(stderr_of baseline)" &
  c=$!; pids+=($c)
fi

mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
# Each row gives the lowest and highest RSS of a receiver among samples taken every second of the step.
# Pictures alive at a sample lift it for that moment (16 streams' keyframes at once: megabytes, in
# mappings that go away with them); the lowest is what stays, and what must stay flat.
procs=("$a" "$b" ${c:+"$c"})
printf '%8s %20s %20s %20s\n' "minutes" "rustrtspsrc MB" "rtspsrc MB" "${BASELINE:+$BASELINE MB}"
end=$(( $(date +%s) + minutes * 60 ))
start=$(date +%s)
# BUSY=1: one spinning process per core, from 2.5 to 3 minutes into every 5.
busy() {
  for _ in $(seq "$(nproc)"); do timeout 30 sh -c 'while :; do :; done' & done
  wait
}
next_busy=$(( $(date +%s) + 150 ))
while [ "$(date +%s)" -lt "$end" ]; do
  if [ -n "${BUSY:-}" ] && [ "$(date +%s)" -ge "$next_busy" ]; then
    busy &
    next_busy=$(( next_busy + 300 ))
  fi
  lo=() hi=()
  for _ in $(seq "$step"); do
    sleep 1
    for i in "${!procs[@]}"; do
      k=$(rss_kb "${procs[$i]}")
      if [ -z "${lo[$i]:-}" ] || [ "$k" -lt "${lo[$i]}" ]; then lo[$i]=$k; fi
      if [ -z "${hi[$i]:-}" ] || [ "$k" -gt "${hi[$i]}" ]; then hi[$i]=$k; fi
    done
  done
  row=()
  for i in "${!procs[@]}"; do row+=("$(mb "${lo[$i]}")-$(mb "${hi[$i]}")"); done
  printf '%8.1f %20s %20s %20s\n' "$(awk -v s="$(( $(date +%s) - start ))" 'BEGIN {print s / 60}')" \
    "${row[0]}" "${row[1]}" "${row[2]:-}"
done

#!/usr/bin/env bash
# CPU and memory per stream: rustrtspsrc vs `rtspsrc ! rtph264depay` (rtph265depay) vs FFmpeg, side by side
# in one run. One RTSP server on 127.0.0.1 (examples/bench-server: a 1080p30 8 Mbit/s clip encoded with
# x264enc or x265enc at bench time, sent paced by RTP time) feeds three processes at once, each receiving
# N streams, for each codec, N and transport. Prints CPU % of one core per stream, RSS, the ratio to
# rtspsrc, and the frames each receiver delivered per second per stream (the sender sends 30): a receiver
# that falls behind cannot look cheap. The GStreamer receivers run in examples/bench-receiver (gst-launch
# with a frame count); FFmpeg's count is its first output's, times N.
#
#   benches/compare.sh                 # H.264 and H.265, N in 1 8 32 64, UDP, TCP and TLS (RTSPS,
#                                      # interleaved; the server's TLS front counts as the sender)
#   CODECS=h265 COUNTS="1 8" TRANSPORTS=udp SECONDS_MEASURED=10 benches/compare.sh
#   PACE_KBPS=16000 benches/compare.sh # the sender paces packets at 16 Mbit/s instead of sending each
#                                      # frame as one burst (cameras with traffic shaping)
#   ETHERNET_SEGMENTS=1 benches/compare.sh  # the camera's TCP in 1448-byte segments as over Ethernet
#                                      # (its acknowledgements clock the sender inside the receivers' reads)
#   NODELAY=1 benches/compare.sh       # the camera's TCP without Nagle's algorithm (TCP_NODELAY)
#   LOSS_PERMILLE=5 REORDER_PERMILLE=10 benches/compare.sh  # the sender drops 0.5 % and swaps 1 % of
#                                      # packets with the next (the same packets every run)
#   BASELINE=HEAD~2 benches/compare.sh # adds that commit's rustrtspsrc as "baseline": before and after
#                                      # in one run
#   WITHOUT_META=1 benches/compare.sh  # adds rustrtspsrc with add-reference-timestamp-meta=false: what the
#                                      # wall-clock meta costs (the sender sends reports every 5 s)
#   AUDIO=1 benches/compare.sh         # the server sends AAC beside the video (48 kHz stereo, an AU per
#                                      # packet); rustrtspsrc then sets up the video alone (streams=video),
#                                      # "rust+aac" and "rtspsrc+aac" also depacketize the audio: what the
#                                      # audio costs each (rtspsrc receives it in every row)
#   FLOOR=1 benches/compare.sh         # adds, over TCP, examples/bench-tcp-floor: it only reads and
#                                      # acknowledges each read at once, the least any receiver that does
#                                      # not hold a Nagle camera back can cost; over UDP,
#                                      # examples/bench-udp-floor: a blocking recvmmsg and a count of
#                                      # marker bits, nothing else; over TLS, examples/bench-tls-floor:
#                                      # the TCP floor's reads decrypted by rustls; with AUDIO=1 also
#                                      # "udp-floor+aac", which reads the audio socket without waking
#                                      # for it, as the element does: the least the audio can cost;
#                                      # and "<transport>-floor+gst", that floor pushing a GStreamer
#                                      # buffer per picture into fakesink: the least possible
#                                      # GStreamer receiver (rustrtspsrc's note gives both ratios)
#   ROUNDS=3 benches/compare.sh        # each row the median of 3 rounds, the peers started in a
#                                      # different order each round (the first started can cost
#                                      # ±10 % on a loaded machine)
#   CLIENT=1 benches/compare.sh        # adds "client" (UDP and TCP rows): examples/bench-client, the
#                                      # element's receive path without GStreamer, so that the element's
#                                      # cost splits into the receive path and the GStreamer shell
set -euo pipefail
cd "$(dirname "$0")/.."

codecs=${CODECS:-"h264 h265"}
counts=${COUNTS:-"1 8 32 64"}
transports=${TRANSPORTS:-"udp tcp tls"}
warmup=${WARMUP:-5}
measure=${SECONDS_MEASURED:-20}
size=${SIZE:-1920x1080}
bitrate=${BITRATE:-8000}

. benches/builds.sh
hz=$(getconf CLK_TCK)
rounds=${ROUNDS:-1}
# median FORMAT V...: the middle value (the mean of the two middle ones for an even count); nothing
# for none.
median() {
  local format=$1; shift
  [ $# -gt 0 ] || return 0
  printf '%s\n' "$@" | sort -n | awk -v f="$format" '{v[NR] = $1}
    END {printf f, NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "${frames_dir:-}"; }
trap cleanup EXIT
start_server() { # codec
  log=$(mktemp)
  ./target/release/examples/bench-server --size "$size" --bitrate "$bitrate" --codec "$1" \
    --loss-permille "${LOSS_PERMILLE:-0}" --reorder-permille "${REORDER_PERMILLE:-0}" \
    --pace-kbps "${PACE_KBPS:-0}" --ethernet-segments "${ETHERNET_SEGMENTS:-0}" \
    --nodelay "${NODELAY:-0}" --audio "${AUDIO:-0}" >"$log" 2>&1 &
  server=$!
  pids=("$server")
  for _ in $(seq 600); do grep -q '^serving' "$log" && break; sleep 0.5; done
  url=$(sed -n 's/^serving \(rtsp:[^ ]*\)$/\1/p' "$log")
  tls_url=$(sed -n 's/^serving-tls \(rtsps:[^ ]*\)$/\1/p' "$log")
  [ -n "$url" ] || { cat "$log" >&2; echo "bench server did not start" >&2; exit 1; }
  grep bench-server "$log" >&2
}

ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

have_ffmpeg=0
command -v ffmpeg >/dev/null && have_ffmpeg=1

# Each peer writes the frames it has delivered so far, ten times a second, to $frames_dir/<name>.
frames_dir=$(mktemp -d)
last_count() { # name n
  if [ -e "$frames_dir/$1.progress" ]; then
    awk -F= -v n="$2" '/^frame=/ {f = $2} END {print f * n}' "$frames_dir/$1.progress"
  else
    tail -n 1 "$frames_dir/$1" 2>/dev/null || echo 0
  fi
}

start_peer() { # name transport n
  local name=$1 t=$2 n=$3 args=() i url=$url tls=()
  local counts="$frames_dir/$name"
  # RTSPS: interleaved on the TLS connection; every peer accepts the self-signed certificate.
  if [ "$t" = tls ]; then url=$tls_url t=tcp tls=(tls-validation-flags=0); fi
  case $name in
    rustrtspsrc)
      for i in $(seq "$n"); do args+=(rustrtspsrc "location=$url" "protocols=$t" "${tls[@]}" streams=video ! fakesink sync=false); done
      ./target/release/examples/bench-receiver "${args[@]}" >"$counts" 2>/dev/null & ;;
    rust+aac)
      for i in $(seq "$n"); do
        args+=(rustrtspsrc "location=$url" "protocols=$t" "${tls[@]}" "name=s$i" "s$i.src" ! fakesink sync=false
          "s$i.audio_0" ! fakesink "name=audio$i" sync=false)
      done
      ./target/release/examples/bench-receiver "${args[@]}" >"$counts" 2>/dev/null & ;;
    rtspsrc+aac)
      for i in $(seq "$n"); do
        args+=(rtspsrc "location=$url" "protocols=$t" "${tls[@]}" latency=50 "name=r$i"
          "r$i." ! "rtp${codec}depay" ! "video/x-${codec},alignment=au" ! fakesink sync=false
          "r$i." ! rtpmp4gdepay ! fakesink "name=audio$i" sync=false)
      done
      ./target/release/examples/bench-receiver "${args[@]}" >"$counts" 2>/dev/null & ;;
    baseline)
      for i in $(seq "$n"); do args+=(rustrtspsrc "location=$url" "protocols=$t" "${tls[@]}" ! fakesink sync=false); done
      "${with_baseline[@]}" ./target/release/examples/bench-receiver "${args[@]}" >"$counts" 2>/dev/null & ;;
    no-meta)
      for i in $(seq "$n"); do
        args+=(rustrtspsrc "location=$url" "protocols=$t" "${tls[@]}" add-reference-timestamp-meta=false ! fakesink sync=false)
      done
      ./target/release/examples/bench-receiver "${args[@]}" >"$counts" 2>/dev/null & ;;
    rtspsrc)
      for i in $(seq "$n"); do
        args+=(rtspsrc "location=$url" "protocols=$t" "${tls[@]}" latency=50 ! "rtp${codec}depay" ! "video/x-${codec},alignment=au" ! fakesink sync=false)
      done
      ./target/release/examples/bench-receiver "${args[@]}" >"$counts" 2>/dev/null & ;;
    tcp-floor)
      ./target/release/examples/bench-tcp-floor $(for i in $(seq "$n"); do echo "$url"; done) >"$counts" 2>/dev/null & ;;
    udp-floor)
      ./target/release/examples/bench-udp-floor $(for i in $(seq "$n"); do echo "$url"; done) >"$counts" 2>/dev/null & ;;
    udp-floor+aac)
      ./target/release/examples/bench-udp-floor --audio $(for i in $(seq "$n"); do echo "$url"; done) >"$counts" 2>/dev/null & ;;
    tls-floor)
      ./target/release/examples/bench-tls-floor $(for i in $(seq "$n"); do echo "$tls_url"; done) >"$counts" 2>/dev/null & ;;
    client)
      # The element's receive path without GStreamer (examples/bench-client); UDP and TCP rows only.
      flag=(); [ "$t" = tcp ] && flag=(--tcp)
      ./target/release/examples/bench-client "${flag[@]}" $(for i in $(seq "$n"); do echo "$url"; done) >"$counts" 2>/dev/null & ;;
    udp-floor+gst|tcp-floor+gst)
      "./target/release/examples/bench-${name%+gst}" --gst $(for i in $(seq "$n"); do echo "$url"; done) >"$counts" 2>/dev/null & ;;
    tls-floor+gst)
      ./target/release/examples/bench-tls-floor --gst $(for i in $(seq "$n"); do echo "$tls_url"; done) >"$counts" 2>/dev/null & ;;
    ffmpeg)
      for i in $(seq "$n"); do args+=(-rtsp_transport "$t" -i "$url"); done
      for i in $(seq 0 $((n - 1))); do args+=(-map "$i:v" -c copy -f null -); done
      # -progress gives the first output's frame count (times N for all, in last_count).
      ffmpeg -nostdin -loglevel error -progress "$counts.progress" "${args[@]}" >/dev/null 2>&1 & ;;
  esac
  echo $!
}

printf '%-5s %-9s %4s  %-12s %10s %10s %12s %10s %9s %s\n' codec transport N receiver "cpu%/strm" "vs rtspsrc" "RSS MB" "MB/strm" "fps/strm" note
for codec in $codecs; do
start_server "$codec"
for t in $transports; do
  for n in $counts; do
    peers=(rustrtspsrc rtspsrc)
    [ "${AUDIO:-0}" = 1 ] && peers+=(rust+aac rtspsrc+aac)
    [ -n "${BASELINE:-}" ] && peers+=(baseline)
    [ "${WITHOUT_META:-0}" = 1 ] && peers+=(no-meta)
    [ "${FLOOR:-0}" = 1 ] && [ "$t" = tcp ] && peers+=(tcp-floor)
    [ "${FLOOR:-0}" = 1 ] && [ "$t" = udp ] && peers+=(udp-floor)
    [ "${FLOOR:-0}" = 1 ] && [ "${AUDIO:-0}" = 1 ] && [ "$t" = udp ] && peers+=(udp-floor+aac)
    [ "${FLOOR:-0}" = 1 ] && [ "$t" = tls ] && peers+=(tls-floor)
    [ "${FLOOR:-0}" = 1 ] && peers+=("$t-floor+gst")
    [ "${CLIENT:-0}" = 1 ] && [ "$t" != tls ] && peers+=(client)
    [ $have_ffmpeg = 1 ] && peers+=(ffmpeg)
    declare -A cpu=() rss=() fps=() runs=() fpss=()
    sender_ticks=0
    for round in $(seq 0 $((rounds - 1))); do
      # Each round starts the peers one later in the list: which process starts first moves its CPU
      # by up to ±10 % on a loaded machine (BENCHMARKS.md, 2026-12-08).
      k=$((round % ${#peers[@]}))
      order=("${peers[@]:k}" "${peers[@]:0:k}")
      declare -A pid=() t0=() f0=()
      for p in "${order[@]}"; do pid[$p]=$(start_peer "$p" "$t" "$n"); pids+=("${pid[$p]}"); done
      sleep "$warmup"
      s0=$(ticks "$server")
      for p in "${order[@]}"; do t0[$p]=$(cpu_ns "${pid[$p]}"); f0[$p]=$(last_count "$p" "$n"); done
      sleep "$measure"
      s1=$(ticks "$server")
      sender_ticks=$((sender_ticks + s1 - s0))
      for p in "${order[@]}"; do
        if kill -0 "${pid[$p]}" 2>/dev/null; then
          runs[$p]+=" $(awk -v a="${t0[$p]}" -v b="$(cpu_ns "${pid[$p]}")" -v s="$measure" -v n="$n" \
            'BEGIN {printf "%.3f", (b - a) / 1e9 / s * 100 / n}')"
          rss[$p]=$(rss_kb "${pid[$p]}")
          # Frames delivered per second per stream over the measured window (the sender sends 30).
          fpss[$p]+=" $(awk -v a="${f0[$p]}" -v b="$(last_count "$p" "$n")" -v s="$measure" -v n="$n" \
            'BEGIN {printf "%.1f", (b - a) / s / n}')"
        fi
        kill "${pid[$p]}" 2>/dev/null || true
      done
      for p in "${order[@]}"; do wait "${pid[$p]}" 2>/dev/null || true; done
      pids=("$server")
      unset pid t0 f0
      rm -f "$frames_dir"/*
    done
    # The median of the rounds (a peer that exited early in a round has no value for it).
    for p in "${peers[@]}"; do
      cpu[$p]=$(median %.3f ${runs[$p]:-}); fps[$p]=$(median %.1f ${fpss[$p]:-})
      [ -n "${cpu[$p]}" ] || rss[$p]=0
    done
    for p in "${peers[@]}"; do
      note=""
      [ -z "${cpu[$p]}" ] && note="(exited early)"
      # The audio's cost: each +aac row against its own video-only row (the target is 1.05 at most).
      [ -n "${cpu[$p]}" ] && case $p in
        rustrtspsrc) [ "${FLOOR:-0}" = 1 ] && note="$(awk -v a="${cpu[$p]:-0}" -v b="${cpu[$t-floor]:-0}" -v c="${cpu[$t-floor+gst]:-0}" \
          'BEGIN {if (b > 0 && c > 0) printf "%.2f x floor, %.2f x floor+gst", a / b, a / c}')" ;;
        rust+aac) note="$(awk -v a="${cpu[$p]:-0}" -v b="${cpu[rustrtspsrc]:-0}" 'BEGIN {if (b > 0) printf "%.2f x video alone", a / b}')" ;;
        rtspsrc+aac) note="$(awk -v a="${cpu[$p]:-0}" -v b="${cpu[rtspsrc]:-0}" 'BEGIN {if (b > 0) printf "%.2f x video alone", a / b}')" ;;
        udp-floor+aac) note="$(awk -v a="${cpu[$p]:-0}" -v b="${cpu[udp-floor]:-0}" 'BEGIN {if (b > 0) printf "%.2f x video alone", a / b}')" ;;
      esac
      # A median over fewer rounds than asked says so: a receiver that died cannot hide behind the others.
      got=$(wc -w <<<"${runs[$p]:-}")
      [ -n "${cpu[$p]}" ] && [ "$got" -lt "$rounds" ] && note="$note (exited early in $((rounds - got)) of $rounds rounds)"
      ratio=$(awk -v a="${cpu[$p]:-0}" -v b="${cpu[rtspsrc]:-0}" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}')
      printf '%-5s %-9s %4s  %-12s %10s %10s %12.1f %10.2f %9s %s\n' "$codec" "$t" "$n" "$p" "${cpu[$p]:--}" "$ratio" \
        "$(awk -v r="${rss[$p]}" 'BEGIN {print r / 1024}')" "$(awk -v r="${rss[$p]}" -v n="$n" 'BEGIN {print r / 1024 / n}')" \
        "${fps[$p]:--}" "$note"
    done
    printf '%-5s %-9s %4s  %-12s %10s\n' "$codec" "$t" "$n" "(sender)" \
      "$(awk -v t="$sender_ticks" -v hz="$hz" -v s="$measure" -v r="$rounds" 'BEGIN {printf "%.1f%% total", t / hz / s / r * 100}')"
    unset cpu rss fps runs fpss
  done
done
kill "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
done

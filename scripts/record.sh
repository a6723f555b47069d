#!/usr/bin/env bash
# Records ten seconds of H.264 or H.265 to a playable file with rustrtspsrc.
#   scripts/record.sh                                  # from an embedded local test RTSP server (H.264)
#   CODEC=h265 scripts/record.sh                       # the same server sending H.265
#   scripts/record.sh rtsp://user:pass@camera/stream   # from a camera (whatever it sends)
# Environment: OUT (output file, default recording.h264 or .h265), SECONDS_TO_RECORD (default 10),
# CODEC (h264 or h265: what the local test server sends).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

url="${1:-}"
codec="${CODEC:-h264}"
case "$codec" in h264|h265) ;; *) echo "record: CODEC is h264 or h265" >&2; exit 2 ;; esac
out="${OUT:-recording.$codec}"
secs="${SECONDS_TO_RECORD:-10}"

cargo build --release --lib --example test-server
export GST_PLUGIN_PATH="$PWD/target/release${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"

server_pid=""
cleanup() { if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi; }
trap cleanup EXIT
if [ -z "$url" ]; then
  log=$(mktemp)
  ./target/release/examples/test-server --port 0 --size 1280x720 --bitrate 2000 --codec "$codec" >"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 50); do
    url=$(sed -n 's/^serving \(rtsp:[^ ]*\).*/\1/p' "$log")
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { cat "$log"; echo "record: the test server did not start" >&2; exit 1; }
  echo "record: no camera URL given, using the local test server at $url"
fi

shown=$(printf '%s' "$url" | sed -E 's#(rtsp[a-z]*://)[^@/]*@#\1#')
echo "record: recording ${secs} s from $shown to $out"
# SIGINT makes gst-launch send EOS (-e), so the element tears the session down and the file is complete.
timeout -s INT -k 10 "$secs" gst-launch-1.0 -q -e rustrtspsrc location="$url" ! filesink location="$out" || {
  rc=$?
  # 124: stopped by timeout as planned.
  [ "$rc" -eq 124 ] || { echo "record: gst-launch-1.0 failed ($rc)" >&2; exit "$rc"; }
}

if command -v ffprobe >/dev/null 2>&1; then
  info=$(ffprobe -v error -count_frames -select_streams v:0 \
    -show_entries stream=codec_name,profile,width,height,nb_read_frames -of default=nw=1 "$out" | tr '\n' ' ')
  echo "record: wrote $out ($(stat -c %s "$out") bytes): $info"
else
  echo "record: wrote $out ($(stat -c %s "$out") bytes)"
fi

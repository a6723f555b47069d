#!/usr/bin/env bash
# Builds the live555 test server (tests/live555/test_server.cpp) and the clips it serves, into
# target/live555/ (cached: a second run does nothing). live555 is the RTSP stack most cameras embed; its
# 2024.06.26 sources come from PyPI's `liblivemedia` package (1.0.5, pinned by hash), built without
# OpenSSL. Needs python3 with pip, g++, and gst-launch-1.0 with x264enc, x265enc and avenc_aac
# (scripts/setup.sh installs them). The tests run this themselves (tests/common/live555.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${CARGO_TARGET_DIR:-$PWD/target}/live555"
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9

version=1.0.5
sha256=564f65501ea5e823e5c53b1847ce3f41bd7b71ee2e9f3ba154a7e955817dfb48
server="$out/live555-test-server"
lib="$out/liblive555.a"

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "live555.sh: $1 is missing: install $2 (scripts/setup.sh does)" >&2; exit 1; }
}

src="$out/src"
includes=()
for d in UsageEnvironment BasicUsageEnvironment groupsock liveMedia; do includes+=("-I$src/$d/include"); done
export LIVE555_FLAGS="-O1 -w -DSOCKLEN_T=socklen_t -DNO_OPENSSL=1 ${includes[*]}"

if [ ! -f "$lib" ] || [ "$(cat "$lib.built" 2>/dev/null)" != "$version $LIVE555_FLAGS" ]; then
  need g++ g++
  need python3 python3
  tarball="$out/liblivemedia-$version.tar.gz"
  if [ ! -f "$tarball" ]; then
    python3 -m pip --version >/dev/null 2>&1 || { echo "live555.sh: pip is missing: install python3-pip" >&2; exit 1; }
    python3 -m pip download --quiet --no-deps --no-binary :all: -d "$out" "liblivemedia==$version"
  fi
  echo "$sha256  $tarball" | sha256sum -c --quiet - \
    || { echo "live555.sh: $tarball is not the liblivemedia $version sdist it should be" >&2; rm -f "$tarball"; exit 1; }
  rm -rf "$src" "$out/obj"
  mkdir -p "$src" "$out/obj"
  tar -xzf "$tarball" -C "$src" --strip-components=1
  echo "live555.sh: building live555 $(grep -o '"20[0-9.]*"' "$src/liveMedia/include/liveMedia_version.hh")" >&2
  # One object per source file, as many at a time as there are cores.
  find "$src/UsageEnvironment" "$src/BasicUsageEnvironment" "$src/groupsock" "$src/liveMedia" \
      -maxdepth 1 \( -name '*.cpp' -o -name '*.c' \) -print0 \
    | xargs -0 -P "$(nproc)" -I{} sh -c \
        'f="{}"; o="'"$out"'/obj/$(echo "$f" | tr / _).o"; case "$f" in *.c) cc $LIVE555_FLAGS -c "$f" -o "$o";; *) c++ -std=c++20 $LIVE555_FLAGS -c "$f" -o "$o";; esac'
  rm -f "$lib"
  ar rcs "$lib" "$out"/obj/*.o
  echo "$version $LIVE555_FLAGS" > "$lib.built"
fi

if [ ! -x "$server" ] || [ tests/live555/test_server.cpp -nt "$server" ]; then
  # shellcheck disable=SC2086
  c++ -std=c++20 $LIVE555_FLAGS tests/live555/test_server.cpp "$lib" -o "$server.tmp"
  mv "$server.tmp" "$server"
fi

# Thirty seconds of each: longer than any test records from one session.
if [ ! -s "$out/clip.h264" ] || [ ! -s "$out/clip.h265" ] || [ ! -s "$out/clip.aac" ]; then
  need gst-launch-1.0 gstreamer1.0-tools
  quiet() { gst-launch-1.0 -q "$@" >/dev/null || { echo "live555.sh: gst-launch-1.0 $* failed" >&2; exit 1; }; }
  quiet videotestsrc num-buffers=750 pattern=ball ! video/x-raw,width=640,height=360,framerate=25/1 \
    ! x264enc speed-preset=ultrafast key-int-max=25 bitrate=1000 ! h264parse \
    ! video/x-h264,stream-format=byte-stream,alignment=au ! filesink location="$out/clip.h264.tmp"
  quiet videotestsrc num-buffers=750 pattern=ball ! video/x-raw,width=640,height=360,framerate=25/1 \
    ! x265enc speed-preset=ultrafast key-int-max=25 bitrate=1000 ! h265parse \
    ! video/x-h265,stream-format=byte-stream,alignment=au ! filesink location="$out/clip.h265.tmp"
  quiet audiotestsrc num-buffers=1500 freq=440 samplesperbuffer=960 ! audio/x-raw,rate=48000,channels=1 \
    ! avenc_aac ! aacparse ! audio/mpeg,stream-format=adts ! filesink location="$out/clip.aac.tmp"
  for c in h264 h265 aac; do mv "$out/clip.$c.tmp" "$out/clip.$c"; done
fi
echo "$server"

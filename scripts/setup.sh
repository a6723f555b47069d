#!/usr/bin/env bash
# Installs what building and testing rustrtspsrc needs on Debian 12: GStreamer 1.22 development files,
# the plugins the tests use (x264enc, x265enc, rtph264pay, rtph265pay, avdec_h264/h265), gst-rtsp-server,
# ffmpeg, PyGObject for the Python embedding example, glib-networking (gst-rtsp-server's TLS in the RTSPS
# tests), iproute2 and util-linux (the multicast tests' network namespace), pip (live555's sources for the
# live555 test server, scripts/live555.sh), valgrind (the unsafe code's unit tests run under memcheck),
# and Rust if absent.
set -euo pipefail

packages=(
  build-essential pkg-config curl ca-certificates
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
  gstreamer1.0-libav gstreamer1.0-tools ffmpeg
  python3 python3-gi python3-pip gir1.2-gstreamer-1.0 glib-networking iproute2 util-linux valgrind
)

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  # Debian 12's own cargo is too old for gstreamer-rs 0.25; rustup brings a current one.
  echo "setup: installing Rust with rustup"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
fi

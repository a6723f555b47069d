#!/usr/bin/env bash
# Builds rustrtspsrc in release mode and installs the plugin where GStreamer finds it without
# GST_PLUGIN_PATH: the system plugin directory when run as root, else the per-user one GStreamer scans
# ($XDG_DATA_HOME/gstreamer-1.0/plugins, i.e. ~/.local/share/gstreamer-1.0/plugins).
#
#   scripts/install.sh              # system-wide as root, else for this user
#   scripts/install.sh --user       # for this user, whoever runs it
#   scripts/install.sh --system     # system-wide (needs root)
#   scripts/install.sh --uninstall  # removes it from where it would be installed (with --user/--system)
#   scripts/install.sh --debug      # installs the debug build instead (faster to build; for tests)
set -euo pipefail
cd "$(dirname "$0")/.."

scope=""
action=install
profile=release
for arg in "$@"; do
  case "$arg" in
    --user) scope=user ;;
    --system) scope=system ;;
    --uninstall) action=uninstall ;;
    --debug) profile=debug ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "install: unknown option $arg (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$scope" ]; then
  if [ "$(id -u)" -eq 0 ]; then scope=system; else scope=user; fi
fi

case "$scope" in
  system)
    dir=$(pkg-config --variable=pluginsdir gstreamer-1.0 2>/dev/null || true)
    [ -n "$dir" ] || { echo "install: pkg-config knows no gstreamer-1.0 plugin directory (install libgstreamer1.0-dev)" >&2; exit 1; }
    ;;
  user)
    dir="${XDG_DATA_HOME:-$HOME/.local/share}/gstreamer-1.0/plugins"
    ;;
esac
lib=libgstrustrtsp.so

if [ "$action" = uninstall ]; then
  rm -f "$dir/$lib"
  echo "install: removed $dir/$lib"
  exit 0
fi

export PATH="$HOME/.cargo/bin:$PATH"
if [ "$profile" = release ]; then
  cargo build --release --lib
else
  cargo build --lib
fi
mkdir -p "$dir"
install -m 0644 "target/$profile/$lib" "$dir/$lib"
echo "install: installed $dir/$lib ($scope); try: gst-inspect-1.0 rustrtspsrc"

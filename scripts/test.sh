#!/usr/bin/env bash
# The whole test suite: unit tests of the protocol core and integration tests against a real RTSP server
# on 127.0.0.1. Installs what it needs first. Ends with one line summing up every test binary.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --all-targets 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$rc"

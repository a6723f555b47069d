#!/usr/bin/env bash
# The whole test suite: unit tests of the protocol core and integration tests against a real RTSP server
# on 127.0.0.1. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo test --all-targets

# Sourced by compare.sh, soak.sh and veth_tcp.sh from the project root: builds the plugin and the bench
# programs and puts this tree's plugin first on GST_PLUGIN_PATH, and defines the helpers they share. With BASELINE=<commit>, that commit's rustrtspsrc is
# built too, to run beside this tree's in the same run, so before and after are measured under the same
# load; it is built from a worktree into its own target directory, so neither build disturbs the other.

cargo build --release --lib --example bench-server --example bench-receiver --example bench-tcp-floor --example bench-udp-floor --example bench-tls-floor >&2
export GST_PLUGIN_PATH="$PWD/target/release${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
if [ -n "${BASELINE:-}" ]; then
  base_tree="$PWD/target/bench-baseline"
  [ -d "$base_tree" ] || git worktree add --detach "$base_tree" >&2
  git -C "$base_tree" checkout --detach --quiet "$(git rev-parse "$BASELINE")"
  (cd "$base_tree" && cargo build --release --lib >&2)
  # Put before a command: it runs with the baseline's plugin in place of this tree's (and a registry
  # of its own). `env` execs the command, so `$!` of a backgrounded one is the command's PID.
  with_baseline=(env GST_PLUGIN_PATH="$base_tree/target/release" GST_REGISTRY="$base_tree/target/registry.bin")
fi

# CPU time of all of a process's threads in ns (scheduler accounting): clock ticks are 10 ms, which at
# 0.5 % of a core is one tick in two seconds. Every peer keeps its threads for the whole run.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}'; }
# RSS in kB (0 once the process is gone).
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# h264_receivers URL PROTOCOLS N: fills `ours` and `theirs` with N bench-receiver branches each, one
# rustrtspsrc and one rtspsrc (at latency 50, depayloaded to access units) per stream.
h264_receivers() {
  ours=() theirs=()
  for _ in $(seq "$3"); do
    ours+=(rustrtspsrc "location=$1" "protocols=$2" ! fakesink sync=false)
    theirs+=(rtspsrc "location=$1" "protocols=$2" latency=50 ! rtph264depay ! video/x-h264,alignment=au ! fakesink sync=false)
  done
}

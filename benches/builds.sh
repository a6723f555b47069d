# Sourced by compare.sh and soak.sh from the project root: builds the plugin and the bench programs and
# puts this tree's plugin first on GST_PLUGIN_PATH. With BASELINE=<commit>, that commit's rustrtspsrc is
# built too, to run beside this tree's in the same run, so before and after are measured under the same
# load; it is built from a worktree into its own target directory, so neither build disturbs the other.

cargo build --release --lib --example bench-server --example bench-receiver >&2
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

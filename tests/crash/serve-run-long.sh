#!/usr/bin/env bash
# `nudge serve` killed with SIGKILL under load 1 000 times (the default run
# in `cargo test` does 50). Set NUDGE_SERVE_KILL_CYCLES and
# NUDGE_SERVE_KILL_SEED to change the count and the timing of the kills.
set -euo pipefail
cd "$(dirname "$0")/../.."
NUDGE_SERVE_KILL_CYCLES="${NUDGE_SERVE_KILL_CYCLES:-1000}" \
  cargo test --release -p nudge-cli --test serve_kill -- --nocapture

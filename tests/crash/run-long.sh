#!/usr/bin/env bash
# The durable store's crash test with 1 000 kill -9 cycles (the default run
# in `cargo test` does 70). Set NUDGE_CRASH_CYCLES and NUDGE_CRASH_SEED to
# change the count and the timing of the kills.
set -euo pipefail
cd "$(dirname "$0")/../.."
NUDGE_CRASH_CYCLES="${NUDGE_CRASH_CYCLES:-1000}" \
  cargo test --release -p nudge-store --test crash -- --nocapture

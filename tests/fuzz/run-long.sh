#!/usr/bin/env bash
# The long run of every fuzzer and differential test, in the release build.
# Each prints what it covered; any failure stops the script with the case.
# Usage: tests/fuzz/run-long.sh [SCALE]   (SCALE multiplies the case counts; default 1)
set -euo pipefail
cd "$(dirname "$0")/../.."
scale=${1:-1}
run() { # crate test cases-variable count
  echo "== $1 $2: $4 cases"
  env "$3=$(( $4 * scale ))" cargo test --release -q -p "$1" --test "$2" -- --nocapture 2>&1 \
    | grep -Ev '^(running|test result|$)|^\.$'
}
time {
  run nudge-fuzz check_fmt NUDGE_FUZZ_CASES 5000000
  run nudge-fuzz module NUDGE_FUZZ_CASES 500000
  run nudge-fuzz lsp NUDGE_FUZZ_CASES 10000
  run nudge-cli simulate NUDGE_FUZZ_CASES 5000
  run nudge-reference differential NUDGE_DIFF_CASES 20000
  run nudge-reference calendar NUDGE_CALENDAR_CASES 2000000
}

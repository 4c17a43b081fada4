#!/usr/bin/env bash
# Install what is missing, build, and run every test (cmocka, via ctest).
#
#   tools/test.sh [--sanitize]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--sanitize" ]; then
  tools/setup.sh --sanitize
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  ctest --test-dir build-asan --output-on-failure -j"$(nproc)"
else
  tools/setup.sh
  ctest --test-dir build --output-on-failure -j"$(nproc)"
fi

#!/usr/bin/env bash
# Configures and builds one flavour of the project into build/<flavour>/.
#   scripts/build.sh release|dev|asan|tsan|fuzz [cmake target...]
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-release}
shift || true
case "$flavour" in
  release) args=(-DCMAKE_BUILD_TYPE=Release -DSCRUB_BUILD_TESTS=OFF -DSCRUB_BUILD_BENCH=ON) ;;
  dev) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCRUB_BUILD_TESTS=ON -DSCRUB_BUILD_BENCH=ON) ;;
  asan) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCRUB_SANITIZE=address,undefined
              -DSCRUB_BUILD_TESTS=ON -DSCRUB_BUILD_BENCH=OFF) ;;
  tsan) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCRUB_SANITIZE=thread
              -DSCRUB_BUILD_TESTS=ON -DSCRUB_BUILD_BENCH=OFF) ;;
  # libFuzzer targets (tests/fuzz/) with ASan + UBSan; clang only. Build target: fuzz_targets.
  fuzz) args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14
              -DSCRUB_SANITIZE=address,undefined -DSCRUB_FUZZ=ON
              -DSCRUB_BUILD_TESTS=OFF -DSCRUB_BUILD_BENCH=OFF) ;;
  *) echo "usage: scripts/build.sh release|dev|asan|tsan|fuzz [target...]" >&2; exit 2 ;;
esac
cmake -S . -B "build/$flavour" "${args[@]}" >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "build/$flavour" -j"$(nproc)" "${targets[@]}"

#!/usr/bin/env bash
# Sets up, builds and runs the test suite in stages (each in its own build directory):
#   unit      Release build in build/, every CTest test (tools/build.sh)
#   sanitize  AddressSanitizer + UndefinedBehaviorSanitizer build in build-asan/ (XBAR_SANITIZE);
#             the unit tests of XBAR_ASAN_TESTS and the fuzz corpus replays run under it
#   fuzz      clang libFuzzer build in build-fuzz/ (XBAR_FUZZ); each target runs
#             XBAR_FUZZ_SECONDS (default 60) s from its checked-in corpus (tests/fuzz/corpus/)
# XBAR_TEST_STAGES picks stages (default "unit sanitize fuzz"), e.g. XBAR_TEST_STAGES=unit;
# XBAR_ASAN_BUILD / XBAR_FUZZ_BUILD move the two extra build directories.
set -euo pipefail
cd "$(dirname "$0")/.."
STAGES=${XBAR_TEST_STAGES:-unit sanitize fuzz}
FUZZ_SECONDS=${XBAR_FUZZ_SECONDS:-60}
# Test executables run under the sanitizers (CTest labels; see CMakeLists.txt). The default is the
# Torch-free ones; test_tools, test_torch, test_ml and test_apps need the whole LibTorch layer
# (and the xbar CLI) rebuilt with ASan, which is too slow for every CI run: opt in by naming them.
ASAN_TESTS=${XBAR_ASAN_TESTS:-test_common test_devices test_circuits test_engine}
FUZZ_TARGETS="config policy study csv device_file"
ASAN_BUILD=${XBAR_ASAN_BUILD:-build-asan}
FUZZ_BUILD=${XBAR_FUZZ_BUILD:-build-fuzz}
JOBS=$(nproc)
declare -a TIMES=()
# HDF5 1.10 leaks on corrupted files; why only its module can be suppressed: tests/fuzz/lsan.supp.
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0"

stage_unit() {
  bash tools/build.sh
  ctest --test-dir build -j"$JOBS" --output-on-failure
}

stage_sanitize() {
  bash tools/setup.sh
  cmake -S . -B "$ASAN_BUILD" -DCMAKE_BUILD_TYPE=Release -DXBAR_SANITIZE=ON
  local targets=() labels=""
  for t in $ASAN_TESTS; do targets+=("$t"); labels+="${labels:+|}$t"; done
  for f in $FUZZ_TARGETS; do targets+=("replay_$f"); done
  cmake --build "$ASAN_BUILD" -j"$JOBS" --target "${targets[@]}"
  # halt_on_error: the first report fails the test. detect_leaks stays on (the default).
  # OMP_WAIT_POLICY=PASSIVE: OpenMP workers sleep instead of spinning, so ASan's slower code does
  # not fight idle spinners for the 2 cores.
  ASAN_OPTIONS=halt_on_error=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    OMP_WAIT_POLICY=PASSIVE ctest --test-dir "$ASAN_BUILD" -j"$JOBS" --output-on-failure -L "^(${labels}|fuzz_replay)$"
}

stage_fuzz() {
  bash tools/setup.sh
  CC=clang CXX=clang++ cmake -S . -B "$FUZZ_BUILD" -DCMAKE_BUILD_TYPE=Release -DXBAR_FUZZ=ON
  local targets=()
  for f in $FUZZ_TARGETS; do targets+=("fuzz_$f"); done
  cmake --build "$FUZZ_BUILD" -j"$JOBS" --target "${targets[@]}"
  local src=$PWD out
  out=$(cd "$FUZZ_BUILD" && pwd)
  mkdir -p "$out/artifacts"
  for f in $FUZZ_TARGETS; do
    # New inputs go to a scratch corpus (the checked-in one stays as it is); crashes, leaks and
    # timeouts are written to $out/artifacts/ and fail the stage. Absolute paths: fuzz_study
    # changes its working directory.
    rm -rf "$out/corpus_$f" && mkdir -p "$out/corpus_$f"
    echo "fuzz: $f for ${FUZZ_SECONDS} s"
    local rc=0
    ASAN_OPTIONS=halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      "$out/fuzz_$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$out/artifacts/${f}-" \
      "$out/corpus_$f" "$src/tests/fuzz/corpus/$f" > "$out/fuzz_$f.log" 2>&1 || rc=$?
    grep -E "^stat::number_of_executed_units|^Done" "$out/fuzz_$f.log" || true
    if [ "$rc" -ne 0 ]; then
      tail -n 60 "$out/fuzz_$f.log"
      echo "fuzz: $f FAILED (log $out/fuzz_$f.log, input in $out/artifacts/)"
      return 1
    fi
  done
}

for s in $STAGES; do
  case "$s" in
    unit|sanitize|fuzz) ;;
    *) echo "test.sh: unknown stage '$s' in XBAR_TEST_STAGES (unit, sanitize, fuzz)" >&2; exit 2 ;;
  esac
  start=$SECONDS
  "stage_$s"
  TIMES+=("$s $((SECONDS - start)) s")
done
echo "test.sh: stages passed: ${TIMES[*]}"

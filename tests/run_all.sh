#!/usr/bin/env bash
# Runs the test stages and ends with one line "tests: N passed, M failed".
#   tests/run_all.sh            all stages: release, asan, tsan, fuzz
#   tests/run_all.sh STAGE...   only those
# Each stage is its own build directory; ctest runs every test case as its
# own process. A stage that fails to build counts as one failure.
set -u
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(release asan tsan fuzz)
passed=0
failed=0
summary=()

count_ctest() {  # $1: ctest log
  local line p t
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -n1)
  if [ -z "$line" ]; then
    failed=$((failed + 1)); summary+=("$2: ctest ran nothing"); return
  fi
  t=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
  f=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
  passed=$((passed + t - f)); failed=$((failed + f))
  summary+=("$2: $((t - f)) passed, $f failed")
}

configure_build() {  # dir, extra cmake args... ; $TARGETS: what to build (default all)
  local dir=$1; shift
  local targets=()
  for t in ${TARGETS:-}; do targets+=(--target "$t"); done
  if ! cmake -S . -B "$dir" -G Ninja -DLL_WERROR=ON "$@" >"$dir.configure.log" 2>&1; then
    tail -n 20 "$dir.configure.log"; return 1
  fi
  cmake --build "$dir" -j "$JOBS" "${targets[@]}" >"$dir.build.log" 2>&1
  local rc=$?
  [ $rc -ne 0 ] && grep -E -A5 'error|FAILED' "$dir.build.log" | head -n 60
  return $rc
}

run_ctest() {  # dir, name, ctest args...
  local dir=$1 name=$2; shift 2
  local log="$dir/ctest.log"
  (cd "$dir" && ctest -j "$JOBS" --output-on-failure "$@") 2>&1 | tee "$log" | grep -vE '^ +[0-9]+/[0-9]+ Test +#[0-9]+: .* Passed|^ +Start +[0-9]+: '
  count_ctest "$log" "$name"
}

for stage in "${stages[@]}"; do
  echo "=== stage: $stage ==="
  case $stage in
    release)
      mkdir -p build
      if configure_build build -DCMAKE_BUILD_TYPE=Release; then
        run_ctest build release
      else
        failed=$((failed + 1)); summary+=("release: build failed")
      fi ;;
    asan)
      mkdir -p build-asan
      if configure_build build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLL_SANITIZE=address -DLL_BENCH=OFF; then
        # The kill -9 loop runs 20 rounds in the release stage, 8 here.
        LL_CRASH_ROUNDS=8 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
          run_ctest build-asan asan
      else
        failed=$((failed + 1)); summary+=("asan: build failed")
      fi ;;
    tsan)
      # The cross-thread code: mailbox and shard tests, and the multi-shard
      # integration cases.
      mkdir -p build-tsan
      if TARGETS="unit_net unit_core unit_storage integration" configure_build build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLL_SANITIZE=thread -DLL_BENCH=OFF; then
        TSAN_OPTIONS="halt_on_error=1 suppressions=$PWD/tests/tsan.supp" \
          run_ctest build-tsan tsan -R "unit_net|unit_core|unit_storage|integration:(echo|lifecycle|limits|msg|durability: a restart)"
      else
        failed=$((failed + 1)); summary+=("tsan: build failed")
      fi ;;
    fuzz)
      mkdir -p build-fuzz
      if CC=clang CXX=clang++ configure_build build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
          -DLL_FUZZ=ON -DLL_SANITIZE=address -DLL_TESTS=OFF -DLL_BENCH=OFF -DLL_MIMALLOC=OFF; then
        for f in build-fuzz/tests/fuzz/fuzz_*; do
          [ -x "$f" ] || continue
          name=$(basename "$f" | sed 's/^fuzz_//')
          corpus=$(mktemp -d)
          [ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$corpus/"
          if "$f" -max_total_time="$FUZZ_SECONDS" -max_len=65536 -print_final_stats=0 "$corpus" \
              >"build-fuzz/$name.log" 2>&1; then
            passed=$((passed + 1)); summary+=("fuzz $name: ${FUZZ_SECONDS}s clean")
          else
            failed=$((failed + 1)); summary+=("fuzz $name: FAILED (build-fuzz/$name.log)")
            tail -n 30 "build-fuzz/$name.log"
          fi
          rm -rf "$corpus"
        done
      else
        failed=$((failed + 1)); summary+=("fuzz: build failed")
      fi ;;
    *) echo "unknown stage $stage"; failed=$((failed + 1)) ;;
  esac
done

echo "=== summary ==="
for s in "${summary[@]}"; do echo "  $s"; done
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

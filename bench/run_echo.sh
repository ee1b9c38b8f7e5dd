#!/usr/bin/env bash
# Echo throughput and latency: longlink --echo against bench/echo_reference.
#
#   bench/run_echo.sh [ROUNDS]        (default 5)
#
# Each round starts longlink (--echo --threads 1) pinned to CPU $SERVER_CPU,
# runs loadgen pinned to CPU $LOADGEN_CPU in ping-pong (depth 1) and
# pipelined (depth 16) mode, stops it, then does the same with echo_reference,
# so slow drift of a noisy machine hits both servers alike. Prints each run,
# the medians over the rounds, and longlink/reference ratios. The CPU columns
# are percent of one core over the measured window, for the generator (lg)
# and the server (srv): the side near 100% is the one that ran out of CPU.
#
# Environment: CONNS=100 SIZE=32 DEPTHS="1 16" DURATION=10 WARMUP=2
# BUILD_DIR=build SKIP_BUILD=0 OUT_DIR=<temp dir> SERVER_CPU=0 LOADGEN_CPU=1
set -euo pipefail
source "$(dirname "$0")/common.sh"

ROUNDS=${1:-${ROUNDS:-5}}
CONNS=${CONNS:-100}
SIZE=${SIZE:-32}
DEPTHS=${DEPTHS:-1 16}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}

build_release
RESULTS=$OUT_DIR/echo.tsv
: >"$RESULTS"
echo "# echo: $ROUNDS rounds, $CONNS conns, $SIZE B, depths $DEPTHS, ${DURATION}s (+${WARMUP}s warmup); logs in $OUT_DIR"
printf '%-5s %-9s %5s %10s %9s %9s %9s %6s %5s %5s\n' round server depth msgs/s p50_us p99_us \
  p999_us errors lg% srv%

run_server() {  # run_server ROUND NAME CMD...
  local round=$1 name=$2
  shift 2
  start_server "$name" "$@"
  local depth line
  for depth in $DEPTHS; do
    line=$(loadgen echo --port "$SERVER_PORT" --conns "$CONNS" --size "$SIZE" --depth "$depth" \
      --duration "$DURATION" --warmup "$WARMUP" --server-pid "$SERVER_PID" \
      2>>"$OUT_DIR/loadgen.err" | grep '^RESULT' || true)
    if [[ -z $line ]]; then
      problem "round $round $name depth $depth: loadgen printed no RESULT (see $OUT_DIR/loadgen.err)"
      continue
    fi
    local errors
    errors=$(field "$line" errors)
    if [[ $errors != 0 ]]; then problem "round $round $name depth $depth: $line"; fi
    printf '%-5s %-9s %5s %10s %9s %9s %9s %6s %5.0f %5.0f\n' "$round" "$name" "$depth" \
      "$(field "$line" msgs_per_s)" "$(field "$line" p50_us)" "$(field "$line" p99_us)" \
      "$(field "$line" p999_us)" "$errors" "$(field "$line" loadgen_cpu_pct)" \
      "$(field "$line" server_cpu_pct)"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$depth" \
      "$(field "$line" msgs_per_s)" "$(field "$line" p50_us)" "$(field "$line" p99_us)" \
      "$(field "$line" p999_us)" "$errors" "$(field "$line" loadgen_cpu_pct)" \
      "$(field "$line" server_cpu_pct)" >>"$RESULTS"
    kill -0 "$SERVER_PID" 2>/dev/null || break
  done
  stop_server "$name"
}

for round in $(seq "$ROUNDS"); do
  run_server "$round" longlink "$LONGLINK" --echo --threads 1 --listen 127.0.0.1:0 \
    --storage memory --auth none
  run_server "$round" reference "$REFERENCE" --listen 127.0.0.1:0
done

# med NAME DEPTH COLUMN: median of a column (4 msgs/s ... 10 srv%) over rounds.
med() {
  awk -F'\t' -v n="$1" -v d="$2" -v c="$3" '$2 == n && $3 == d {print $c}' "$RESULTS" | median
}

echo
echo "# medians of $ROUNDS rounds"
printf '%-9s %5s %10s %9s %9s %9s %5s %5s\n' server depth msgs/s p50_us p99_us p999_us lg% srv%
for depth in $DEPTHS; do
  for name in longlink reference; do
    printf '%-9s %5s %10s %9s %9s %9s %5.0f %5.0f\n' "$name" "$depth" "$(med $name "$depth" 4)" \
      "$(med $name "$depth" 5)" "$(med $name "$depth" 6)" "$(med $name "$depth" 7)" \
      "$(med $name "$depth" 9)" "$(med $name "$depth" 10)"
  done
done
echo
echo "# longlink / reference (medians; throughput higher is better, latency lower is better)"
for depth in $DEPTHS; do
  echo "depth $depth: msgs/s $(ratio "$(med longlink "$depth" 4)" "$(med reference "$depth" 4)")," \
    "p50 $(ratio "$(med longlink "$depth" 5)" "$(med reference "$depth" 5)")," \
    "p99 $(ratio "$(med longlink "$depth" 6)" "$(med reference "$depth" 6)")"
done
if [[ -s $OUT_DIR/problems.txt ]]; then
  echo
  echo "# problems"
  cat "$OUT_DIR/problems.txt"
  exit 1
fi

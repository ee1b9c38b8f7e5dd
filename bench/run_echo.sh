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
# are percent of one core over the measured window, for the generator (lg),
# the server (srv) and everything else on the machine (oth): the side near
# 100% is the one that ran out of CPU, and a run with a high `oth` measured
# the neighbours. `srv_us/msg` is the server's CPU time per echoed message
# (srv% x 10^4 / msgs/s), less sensitive to the neighbours than msgs/s (a
# starved server does fewer messages but also uses less CPU). Before each run the script waits for the machine to be
# quiet (common.sh wait_quiet), and it also prints the medians of only the
# runs whose `oth` stayed under NOISY_PCT.
#
# Environment: CONNS=100 SIZE=32 DEPTHS="1 16" DURATION=10 WARMUP=2
# NOISY_PCT=25 QUIET_PCT=20 QUIET_WAIT=60 BUILD_DIR=build SKIP_BUILD=0
# OUT_DIR=<temp dir> SERVER_CPU=0 LOADGEN_CPU=1
set -euo pipefail
source "$(dirname "$0")/common.sh"

ROUNDS=${1:-${ROUNDS:-5}}
CONNS=${CONNS:-100}
SIZE=${SIZE:-32}
DEPTHS=${DEPTHS:-1 16}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
NOISY_PCT=${NOISY_PCT:-25}

build_release
RESULTS=$OUT_DIR/echo.tsv
: >"$RESULTS"
echo "# echo: $ROUNDS rounds, $CONNS conns, $SIZE B, depths $DEPTHS, ${DURATION}s (+${WARMUP}s warmup); logs in $OUT_DIR"
printf '%-5s %-9s %5s %10s %9s %9s %9s %6s %5s %5s %5s %10s\n' round server depth msgs/s p50_us \
  p99_us p999_us errors lg% srv% oth% srv_us/msg

run_server() {  # run_server ROUND NAME CMD...
  local round=$1 name=$2
  shift 2
  start_server "$name" "$@"
  local depth line
  for depth in $DEPTHS; do
    wait_quiet
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
    local row
    row=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$round" "$name" "$depth" \
      "$(field "$line" msgs_per_s)" "$(field "$line" p50_us)" "$(field "$line" p99_us)" \
      "$(field "$line" p999_us)" "$errors" "$(field "$line" loadgen_cpu_pct)" \
      "$(field "$line" server_cpu_pct)" "$(field "$line" other_cpu_pct)" |
      awk -F'\t' -v OFS='\t' '{$12 = ($4 > 0 ? sprintf("%.3f", $10 * 10000 / $4) : "nan"); print}')
    echo "$row" >>"$RESULTS"
    awk -F'\t' '{printf "%-5s %-9s %5s %10s %9s %9s %9s %6s %5.0f %5.0f %5.0f %10s\n",
                  $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12}' <<<"$row"
    kill -0 "$SERVER_PID" 2>/dev/null || break
  done
  stop_server "$name"
}

for round in $(seq "$ROUNDS"); do
  run_server "$round" longlink "$LONGLINK" --echo --threads 1 --listen 127.0.0.1:0 \
    --storage memory --auth none
  run_server "$round" reference "$REFERENCE" --listen 127.0.0.1:0
done

# med NAME DEPTH COLUMN [MAX_OTHER]: median of a column (4 msgs/s, 5 p50,
# 6 p99, 7 p99.9, 9 lg%, 10 srv%, 11 oth%, 12 srv_us/msg) over the rounds, optionally only
# those whose oth% stayed under MAX_OTHER.
med() {
  awk -F'\t' -v n="$1" -v d="$2" -v c="$3" -v m="${4:-1e9}" \
    '$2 == n && $3 == d && $11 < m {print $c}' "$RESULTS" | median
}
count() {
  awk -F'\t' -v n="$1" -v d="$2" -v m="$3" '$2 == n && $3 == d && $11 < m' "$RESULTS" | wc -l
}

summary() {  # summary TITLE [MAX_OTHER]
  echo
  echo "# $1"
  printf '%-9s %5s %4s %10s %9s %9s %9s %5s %5s %5s %10s\n' server depth runs msgs/s p50_us \
    p99_us p999_us lg% srv% oth% srv_us/msg
  local depth name
  for depth in $DEPTHS; do
    for name in longlink reference; do
      printf '%-9s %5s %4s %10s %9s %9s %9s %5.0f %5.0f %5.0f %10s\n' "$name" "$depth" \
        "$(count $name "$depth" "${2:-1e9}")" "$(med $name "$depth" 4 "${2:-}")" \
        "$(med $name "$depth" 5 "${2:-}")" "$(med $name "$depth" 6 "${2:-}")" \
        "$(med $name "$depth" 7 "${2:-}")" "$(med $name "$depth" 9 "${2:-}")" \
        "$(med $name "$depth" 10 "${2:-}")" "$(med $name "$depth" 11 "${2:-}")" \
        "$(med $name "$depth" 12 "${2:-}")"
    done
  done
  echo "longlink / reference (throughput: higher is better; latency: lower is better)"
  for depth in $DEPTHS; do
    echo "  depth $depth: msgs/s" \
      "$(ratio "$(med longlink "$depth" 4 "${2:-}")" "$(med reference "$depth" 4 "${2:-}")")," \
      "p50 $(ratio "$(med longlink "$depth" 5 "${2:-}")" "$(med reference "$depth" 5 "${2:-}")")," \
      "p99 $(ratio "$(med longlink "$depth" 6 "${2:-}")" "$(med reference "$depth" 6 "${2:-}")")," \
      "server CPU/msg $(ratio "$(med longlink "$depth" 12 "${2:-}")" \
        "$(med reference "$depth" 12 "${2:-}")")"
  done
}

summary "medians of $ROUNDS rounds"
summary "medians of the quiet runs only (oth% < $NOISY_PCT)" "$NOISY_PCT"

# Paired ratios: longlink / reference within one round, for the rounds where
# both runs were quiet. Both servers ran minutes apart at most, so this is
# the figure least moved by the machine's drift.
# pairs DEPTH: "msgs/s-ratio cpu/msg-ratio" per such round.
pairs() {
  awk -F'\t' -v d="$1" -v m="$NOISY_PCT" '
    $3 == d && $11 < m {v[$1, $2] = $4; c[$1, $2] = $12; r[$1] = 1}
    END {
      for (k in r) if ((k, "longlink") in v && (k, "reference") in v && v[k, "reference"] > 0)
        printf "%.3f %.3f\n", v[k, "longlink"] / v[k, "reference"], c[k, "longlink"] / c[k, "reference"]
    }' "$RESULTS"
}
echo
echo "# paired longlink/reference ratios (rounds where both runs had oth% < $NOISY_PCT)"
for depth in $DEPTHS; do
  p=$(pairs "$depth")
  if [[ -z $p ]]; then
    echo "  depth $depth: no round with both runs quiet"
    continue
  fi
  echo "  depth $depth: msgs/s $(awk '{print $1}' <<<"$p" | median)," \
    "server CPU/msg $(awk '{print $2}' <<<"$p" | median)" \
    "(medians over $(wc -l <<<"$p") rounds; msgs/s ratios: $(awk '{print $1}' <<<"$p" | sort -g | tr '\n' ' '))"
done
if [[ -s $OUT_DIR/problems.txt ]]; then
  echo
  echo "# problems"
  cat "$OUT_DIR/problems.txt"
  exit 1
fi

#!/usr/bin/env bash
# Handshake rate: connect -> upgrade -> 101 -> close handshake loops.
#
#   bench/handshake.sh [RUNS]        (default 3)
#
# Each run starts longlink (--echo --threads 1) pinned to CPU $SERVER_CPU and
# runs `loadgen handshake` pinned to CPU $LOADGEN_CPU, then the same against
# echo_reference; medians and the longlink/reference ratio at the end. The
# client closes each socket with SO_LINGER 0 once the close handshake is done,
# so no TIME_WAIT entries pile up (see bench/README.md). The CPU columns are
# as in run_echo.sh (lg, srv, and oth for the rest of the machine); runs wait
# for a quiet machine first, and the medians are also given for the runs
# whose oth% stayed under NOISY_PCT. On loopback the client's connect() and
# close() also run much of the server's TCP work in the client's context, so
# the generator tends to run out of CPU first; `srv_us/hs` (the server's CPU
# time per handshake, srv% x 10^4 / handshakes/s) compares the servers even
# then.
#
# Environment: CONNS=50 DURATION=10 WARMUP=2 NOISY_PCT=25 QUIET_PCT=20
# QUIET_WAIT=60 BUILD_DIR=build SKIP_BUILD=0 OUT_DIR=<temp dir>
set -euo pipefail
source "$(dirname "$0")/common.sh"

RUNS=${1:-${RUNS:-3}}
CONNS=${CONNS:-50}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
NOISY_PCT=${NOISY_PCT:-25}

build_release
RESULTS=$OUT_DIR/handshake.tsv
: >"$RESULTS"
echo "# handshake: $RUNS runs, $CONNS loops, ${DURATION}s (+${WARMUP}s warmup); logs in $OUT_DIR"
printf '%-4s %-9s %12s %9s %9s %6s %5s %5s %5s %9s\n' run server handshakes/s p50_us p99_us \
  errors lg% srv% oth% srv_us/hs

measure() {  # measure RUN NAME CMD...
  local run=$1 name=$2
  shift 2
  start_server "$name" "$@"
  wait_quiet
  local line
  line=$(loadgen handshake --port "$SERVER_PORT" --conns "$CONNS" --duration "$DURATION" \
    --warmup "$WARMUP" --server-pid "$SERVER_PID" 2>>"$OUT_DIR/loadgen.err" |
    grep '^RESULT' || true)
  stop_server "$name"
  if [[ -z $line ]]; then
    problem "run $run $name: loadgen printed no RESULT (see $OUT_DIR/loadgen.err)"
    return 0
  fi
  if [[ $(field "$line" errors) != 0 ]]; then problem "run $run $name: $line"; fi
  local row
  row=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$run" "$name" \
    "$(field "$line" handshakes_per_s)" "$(field "$line" p50_us)" "$(field "$line" p99_us)" \
    "$(field "$line" errors)" "$(field "$line" loadgen_cpu_pct)" \
    "$(field "$line" server_cpu_pct)" "$(field "$line" other_cpu_pct)" |
    awk -F'\t' -v OFS='\t' '{$10 = ($3 > 0 ? sprintf("%.2f", $8 * 10000 / $3) : "nan"); print}')
  echo "$row" >>"$RESULTS"
  awk -F'\t' '{printf "%-4s %-9s %12s %9s %9s %6s %5.0f %5.0f %5.0f %9s\n",
                $1, $2, $3, $4, $5, $6, $7, $8, $9, $10}' <<<"$row"
}

for run in $(seq "$RUNS"); do
  measure "$run" longlink "$LONGLINK" --echo --threads 1 --listen 127.0.0.1:0 --storage memory \
    --auth none
  measure "$run" reference "$REFERENCE" --listen 127.0.0.1:0
done

# med NAME COLUMN [MAX_OTHER]: median of a column (3 handshakes/s, 4 p50,
# 5 p99, 7 lg%, 8 srv%, 9 oth%, 10 srv_us/hs), optionally of the runs with oth% < MAX_OTHER.
med() {
  awk -F'\t' -v n="$1" -v c="$2" -v m="${3:-1e9}" '$2 == n && $9 < m {print $c}' "$RESULTS" |
    median
}
summary() {  # summary TITLE [MAX_OTHER]
  echo
  echo "# $1"
  printf '%-9s %4s %12s %9s %9s %5s %5s %5s %9s\n' server runs handshakes/s p50_us p99_us lg% \
    srv% oth% srv_us/hs
  local name
  for name in longlink reference; do
    printf '%-9s %4s %12s %9s %9s %5.0f %5.0f %5.0f %9s\n' "$name" \
      "$(awk -F'\t' -v n="$name" -v m="${2:-1e9}" '$2 == n && $9 < m' "$RESULTS" | wc -l)" \
      "$(med $name 3 "${2:-}")" "$(med $name 4 "${2:-}")" "$(med $name 5 "${2:-}")" \
      "$(med $name 7 "${2:-}")" "$(med $name 8 "${2:-}")" "$(med $name 9 "${2:-}")" \
      "$(med $name 10 "${2:-}")"
  done
  echo "longlink / reference handshakes/s:" \
    "$(ratio "$(med longlink 3 "${2:-}")" "$(med reference 3 "${2:-}")")," \
    "server CPU per handshake: $(ratio "$(med longlink 10 "${2:-}")" "$(med reference 10 "${2:-}")")"
}
summary "medians of $RUNS runs"
summary "medians of the quiet runs only (oth% < $NOISY_PCT)" "$NOISY_PCT"

# Paired ratios: longlink / reference within one run number, where both were
# quiet (see run_echo.sh): "handshakes/s-ratio cpu/handshake-ratio" per run.
p=$(awk -F'\t' -v m="$NOISY_PCT" '
  $9 < m {v[$1, $2] = $3; c[$1, $2] = $10; r[$1] = 1}
  END {
    for (k in r) if ((k, "longlink") in v && (k, "reference") in v && v[k, "reference"] > 0)
      printf "%.3f %.3f\n", v[k, "longlink"] / v[k, "reference"], c[k, "longlink"] / c[k, "reference"]
  }' "$RESULTS")
echo
echo "# paired longlink/reference ratios (runs where both had oth% < $NOISY_PCT)"
if [[ -z $p ]]; then
  echo "  no run with both quiet"
else
  echo "  handshakes/s $(awk '{print $1}' <<<"$p" | median)," \
    "server CPU/handshake $(awk '{print $2}' <<<"$p" | median)" \
    "(medians over $(wc -l <<<"$p") runs; handshakes/s ratios: $(awk '{print $1}' <<<"$p" | sort -g | tr '\n' ' '))"
fi
if [[ -s $OUT_DIR/problems.txt ]]; then
  echo
  echo "# problems"
  cat "$OUT_DIR/problems.txt"
  exit 1
fi

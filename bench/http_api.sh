#!/usr/bin/env bash
# HTTP API throughput and latency with wrk: POST /api/publish to a user and to
# a group, GET /api/history, and GET /healthz as the bare-HTTP baseline.
#
#   bench/http_api.sh [RUNS=5]   # env: CONNS=64 DURATION=10 WARMUP=2 MEMBERS=10
#                                #      LIMIT=50 SCENARIOS="healthz user group history"
#                                #      STORAGE=memory THREADS=1 BUILD_DIR=build
#
# Each run starts a fresh server (--threads 1 --storage memory --auth none
# with an --api-key-file) pinned to SERVER_CPU, prepares it (the group with
# MEMBERS offline members; for history, a conversation filled by one second
# of publishes), runs wrk for WARMUP seconds, then measures DURATION seconds
# with wrk pinned to LOADGEN_CPU: one wrk thread, CONNS keep-alive
# connections, each with one request in flight. Scenarios are interleaved
# within a round so that drift of the machine's speed hits them alike.
#
# Per run it records wrk's RESULT line (bench/wrk/common.lua: req/s, latency
# percentiles from wrk's histogram, errors and statuses >= 400) and the CPU
# used over the measured window, in percent of one core: the server's
# (/proc/PID/stat), wrk's (the shell's child rusage) and the rest of the
# machine's (oth%). After a publish run it reads the conversation's last seq
# back and checks that it equals the number of publishes wrk completed (up to
# CONNS requests cut off in flight): nothing lost, nothing stored twice.
# Prints every run, the medians of all runs and those of the quiet runs
# (oth% < NOISY_PCT); exits 1 if any run had an error. Results: $OUT_DIR/http_api.tsv.
set -euo pipefail
source "$(dirname "$0")/common.sh"

RUNS=${1:-5}
CONNS=${CONNS:-64}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
MEMBERS=${MEMBERS:-10}
LIMIT=${LIMIT:-50}
SCENARIOS=${SCENARIOS:-"healthz user group history"}
STORAGE=${STORAGE:-memory}
THREADS=${THREADS:-1}
WRK=${WRK:-wrk}
WRK_DIR=$ROOT/bench/wrk

command -v "$WRK" >/dev/null || die "wrk is not installed (apt-get install wrk)"
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null || die "cmake failed"
  cmake --build "$BUILD_DIR" --target longlink >/dev/null || die "build failed"
fi

KEY_FILE=$OUT_DIR/api.key
KEY=bench-$RANDOM$RANDOM
echo "$KEY" >"$KEY_FILE"
RESULTS=$OUT_DIR/http_api.tsv
printf 'round\tscenario\treq_s\tp50_us\tp90_us\tp99_us\tmax_us\terrors\tsrv_pct\twrk_pct\toth_pct\tsrv_us_per_req\n' >"$RESULTS"
echo "http_api: runs=$RUNS conns=$CONNS duration=${DURATION}s warmup=${WARMUP}s storage=$STORAGE" \
  "threads=$THREADS members=$MEMBERS limit=$LIMIT; out: $OUT_DIR"

api() {  # METHOD PATH [BODY]: prints the response body; fails on a status >= 400
  local args=(-sS -f --max-time 10 -X "$1" -H "Authorization: Bearer $KEY")
  [[ -n ${3:-} ]] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
  curl "${args[@]}" "http://127.0.0.1:$SERVER_PORT$2"
}

# last_seq CONV: the highest seq stored in CONV (0 if none).
last_seq() {
  api GET "/api/history?conv=$1&before=9007199254740991&limit=1" |
    grep -oE '"seq":[0-9]+' | tail -n1 | sed 's/.*://' | grep . || echo 0
}

proc_ticks() {  # PID: utime + stime in clock ticks
  awk '{print $14 + $15}' "/proc/$1/stat"
}

# children_cpu_s FILE: CPU seconds (user + sys) of the shell's waited-for
# children (wrk runs inside them), from the output of `times` saved in FILE.
# `times` must run in the main shell: a $(...) subshell has its own, empty,
# children accounting.
children_cpu_s() {
  tail -n1 "$1" | awk '{
    s = 0
    for (i = 1; i <= 2; i++) { split($i, a, /m|s/); s += a[1] * 60 + a[2] }
    printf "%.3f\n", s }'
}

# run_wrk SCRIPT PATH DURATION [ENV...]: wrk pinned to LOADGEN_CPU; prints
# its RESULT line.
run_wrk() {
  local script=$1 path=$2 dur=$3
  shift 3
  env API_KEY_FILE="$KEY_FILE" "$@" taskset -c "$LOADGEN_CPU" "$WRK" -t1 -c "$CONNS" \
    -d "${dur}s" --timeout 10s -s "$WRK_DIR/$script" "http://127.0.0.1:$SERVER_PORT$path" |
    grep '^RESULT '
}

# one_run ROUND SCENARIO
one_run() {
  local round=$1 sc=$2 script path conv="" env=() warm line
  start_server "$sc-r$round" "$LONGLINK" --threads "$THREADS" --listen 127.0.0.1:0 \
    --storage "$STORAGE" --data-dir "$OUT_DIR/data-$sc-r$round" --auth none \
    --api-key-file "$KEY_FILE"
  case $sc in
    healthz) script=get.lua path=/healthz ;;
    user) script=publish.lua path=/ conv=d:bob:system env=(TO=u:bob) ;;
    group)
      local members
      members=$(seq -f '"m%g"' 1 "$MEMBERS" | paste -sd, -)
      api POST /api/groups "{\"group\":\"team\",\"members\":[$members]}" >/dev/null ||
        die "could not create the group"
      script=publish.lua path=/ conv=g:team env=(TO=g:team FROM=m1) ;;
    history)
      run_wrk publish.lua / 1 TO=u:carol RUN_ID=fill >/dev/null
      local last
      last=$(last_seq d:carol:system)
      ((last >= LIMIT)) || die "history: only $last messages to read"
      script=history.lua path=/ env=(CONV=d:carol:system "LAST=$last" "LIMIT=$LIMIT") ;;
    *) die "unknown scenario $sc" ;;
  esac
  warm=$(run_wrk "$script" "$path" "$WARMUP" "${env[@]}" RUN_ID="w$round")
  wait_quiet

  local t0 s0 c0 m0 t1 s1 c1 m1 hz
  hz=$(getconf CLK_TCK)
  times >"$OUT_DIR/times0"
  t0=$(date +%s%N); s0=$(proc_ticks "$SERVER_PID"); m0=$(machine_busy_ticks)
  line=$(run_wrk "$script" "$path" "$DURATION" "${env[@]}" RUN_ID="m$round")
  t1=$(date +%s%N); s1=$(proc_ticks "$SERVER_PID"); m1=$(machine_busy_ticks)
  times >"$OUT_DIR/times1"
  c0=$(children_cpu_s "$OUT_DIR/times0"); c1=$(children_cpu_s "$OUT_DIR/times1")

  local wall_s srv wrk_pct oth
  wall_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print (b - a) / 1e9}')
  srv=$(awk -v d=$((s1 - s0)) -v hz="$hz" -v w="$wall_s" 'BEGIN {printf "%.0f", 100 * d / hz / w}')
  wrk_pct=$(awk -v d="$(awk -v a="$c0" -v b="$c1" 'BEGIN {print b - a}')" -v w="$wall_s" \
    'BEGIN {printf "%.0f", 100 * d / w}')
  oth=$(awk -v m=$((m1 - m0)) -v hz="$hz" -v w="$wall_s" -v s="$srv" -v k="$wrk_pct" \
    'BEGIN {o = 100 * m / hz / w - s - k; if (o < 0) o = 0; printf "%.0f", o}')

  local req_s p50 p90 p99 max errors reqs
  req_s=$(field "$line" req_s); p50=$(field "$line" p50_us); p90=$(field "$line" p90_us)
  p99=$(field "$line" p99_us); max=$(field "$line" max_us); reqs=$(field "$line" requests)
  errors=$(($(field "$line" connect_err) + $(field "$line" read_err) + $(field "$line" write_err) +
    $(field "$line" timeouts) + $(field "$line" bad_status)))
  ((errors == 0)) || problem "$sc round $round: $errors errors ($line)"

  if [[ -n $conv ]]; then
    # Every completed publish stored exactly once: the conversation's last
    # seq counts the warm-up's and the run's publishes, plus at most CONNS
    # requests per wrk run that were answered after wrk stopped counting.
    local stored expect
    stored=$(last_seq "$conv")
    expect=$(($(field "$warm" requests) + reqs))
    if ((stored < expect || stored > expect + 2 * CONNS)); then
      problem "$sc round $round: $conv holds $stored messages, wrk completed $expect publishes"
    fi
  fi
  stop_server "$sc-r$round"

  local us_per_req
  us_per_req=$(awk -v s="$srv" -v r="$req_s" 'BEGIN {printf "%.1f", s * 1e4 / r}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$sc" "$req_s" "$p50" "$p90" \
    "$p99" "$max" "$errors" "$srv" "$wrk_pct" "$oth" "$us_per_req" >>"$RESULTS"
  printf '  round %d %-8s %8s req/s  p50 %6s us  p90 %6s us  p99 %6s us  errors %s  srv%% %3s  wrk%% %3s  oth%% %3s\n' \
    "$round" "$sc" "$req_s" "$p50" "$p90" "$p99" "$errors" "$srv" "$wrk_pct" "$oth"
}

for round in $(seq "$RUNS"); do
  for sc in $SCENARIOS; do
    one_run "$round" "$sc"
  done
done

# Medians per scenario (columns of the tsv), of all runs and of the quiet
# runs (oth% below NOISY_PCT, default 25: the rest of the machine stayed off
# both cores).
NOISY_PCT=${NOISY_PCT:-25}
col_median() {  # SCENARIO COLUMN MAX_OTH
  awk -F'\t' -v s="$1" -v c="$2" -v o="$3" 'NR > 1 && $2 == s && $11 < o {print $c}' "$RESULTS" |
    median | awk -v c="$2" '{if (c != 12 && $1 != "nan") printf "%.0f\n", $1; else print}'
}
print_medians() {  # MAX_OTH TITLE
  echo
  echo "$2 (conns=$CONNS, ${DURATION}s, --threads $THREADS, --storage $STORAGE):"
  printf '| scenario | runs | req/s | p50 µs | p90 µs | p99 µs | srv%% | wrk%% | oth%% | server µs/req |\n'
  printf '|---|---|---|---|---|---|---|---|---|---|\n'
  local sc n
  for sc in $SCENARIOS; do
    n=$(awk -F'\t' -v s="$sc" -v o="$1" 'NR > 1 && $2 == s && $11 < o' "$RESULTS" | wc -l)
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$sc" "$n" \
      "$(col_median "$sc" 3 "$1")" "$(col_median "$sc" 4 "$1")" "$(col_median "$sc" 5 "$1")" \
      "$(col_median "$sc" 6 "$1")" "$(col_median "$sc" 9 "$1")" "$(col_median "$sc" 10 "$1")" \
      "$(col_median "$sc" 11 "$1")" "$(col_median "$sc" 12 "$1")"
  done
}
print_medians 100000 "medians of all $RUNS runs"
print_medians "$NOISY_PCT" "medians of the quiet runs (oth% < $NOISY_PCT)"
if [[ -s $OUT_DIR/problems.txt ]]; then
  echo "problems:"
  cat "$OUT_DIR/problems.txt"
  exit 1
fi

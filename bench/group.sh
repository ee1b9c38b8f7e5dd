#!/usr/bin/env bash
# Group fan-out: imload group against longlink and against the bare epoll
# broadcast baseline (echo_reference --broadcast).
#
#   bench/group.sh [ROUNDS=3]   # env: MEMBERS=1000 HIGH_RATE=1000 LOW_RATES="100 10"
#                               #      SIZE=32 DURATION=10 WARMUP=2 DRAIN=2 PARTS="high low t2"
#
# A fresh server per run; longlink runs --threads 1 --storage memory --auth
# none --rate 1000000 with an API key file (the group is created through POST
# /api/groups). Four parts, each ROUNDS times, medians printed at the end:
#   high:  longlink, MEMBERS members, HIGH_RATE msg/s (MEMBERS * HIGH_RATE
#          deliveries/s offered), server pinned to SERVER_CPU, imload to
#          LOADGEN_CPU; deliveries/s, latency, missing, server CPU.
#   low:   each of LOW_RATES against longlink (members send recv), longlink
#          with --no-recv (members never acknowledge; --ack-timeout 3600 so
#          nothing is redelivered), and the reference (same members, same
#          frame length, no hello, no acks); server CPU per delivery.
#   t2:    HIGH_RATE with --threads 2 and with --threads 1, both unpinned
#          (server and imload free to use both cores).
# The server's CPU use is utime+stime from /proc/PID/stat over the measured
# window (imload --server-pid). Exits 1 if a server crashed or could not be
# stopped, or a run lost or duplicated a push.
set -euo pipefail
source "$(dirname "$0")/common.sh"

ROUNDS=${1:-3}
MEMBERS=${MEMBERS:-1000}
HIGH_RATE=${HIGH_RATE:-1000}
LOW_RATES=${LOW_RATES:-"100 10"}
SIZE=${SIZE:-32}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
DRAIN=${DRAIN:-2}
PARTS=${PARTS:-"high low t2"}
IMLOAD=${IMLOAD:-$BUILD_DIR/bench/imload}

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null || die "cmake failed"
  cmake --build "$BUILD_DIR" --target longlink imload echo_reference >/dev/null ||
    die "build failed"
fi

mkdir -p "$OUT_DIR"
RESULTS=$OUT_DIR/group.txt
: >"$RESULTS"
KEY_FILE=$OUT_DIR/api.key
KEY=bench-$RANDOM$RANDOM
echo "$KEY" >"$KEY_FILE"
echo "group: rounds=$ROUNDS members=$MEMBERS high=$HIGH_RATE low='$LOW_RATES' size=$SIZE" \
  "duration=${DURATION}s; out: $OUT_DIR"

# one_run LABEL SERVER_CPUS LOAD_CPUS SERVER_KIND THREADS RATE [IMLOAD ARGS...]
one_run() {
  local label=$1 scpu=$2 lcpu=$3 kind=$4 threads=$5 rate=$6
  shift 6
  local line rc=0 name="$label-r$round"
  if [[ $kind == reference ]]; then
    SERVER_CPU=$scpu start_server "$name" "$REFERENCE" --listen 127.0.0.1:0 --broadcast
  else
    SERVER_CPU=$scpu start_server "$name" "$LONGLINK" --threads "$threads" \
      --listen 127.0.0.1:0 --storage memory --auth none --rate 1000000 \
      --api-key-file "$KEY_FILE" "${EXTRA_SERVER_ARGS[@]}"
  fi
  wait_quiet
  line=$(taskset -c "$lcpu" "$IMLOAD" group --port "$SERVER_PORT" --members "$MEMBERS" \
    --rate "$rate" --size "$SIZE" --duration "$DURATION" --warmup "$WARMUP" --drain "$DRAIN" \
    --server-pid "$SERVER_PID" "$@" 2>>"$OUT_DIR/imload.err" | grep '^RESULT') || rc=$?
  [[ $rc == 0 ]] || echo "note: imload $label round $round exit $rc (see missing/errors)" >&2
  echo "label=$label threads=$threads round=$round $line" | tee -a "$RESULTS"
  local t0=$SECONDS
  stop_server "$name"
  echo "label=$label round=$round stop_s=$((SECONDS - t0))" >>"$OUT_DIR/stops.txt"
}

EXTRA_SERVER_ARGS=()
has_part() { [[ " $PARTS " == *" $1 "* ]]; }
has_part high && for round in $(seq "$ROUNDS"); do
  one_run "high" "$SERVER_CPU" "$LOADGEN_CPU" longlink 1 "$HIGH_RATE" --api-key "$KEY"
done
has_part low && for round in $(seq "$ROUNDS"); do
  for rate in $LOW_RATES; do
    EXTRA_SERVER_ARGS=()
    one_run "ll-$rate" "$SERVER_CPU" "$LOADGEN_CPU" longlink 1 "$rate" --api-key "$KEY"
    EXTRA_SERVER_ARGS=(--ack-timeout 3600)
    one_run "llnorecv-$rate" "$SERVER_CPU" "$LOADGEN_CPU" longlink 1 "$rate" --api-key "$KEY" \
      --no-recv
    EXTRA_SERVER_ARGS=()
    one_run "ref-$rate" "$SERVER_CPU" "$LOADGEN_CPU" reference 1 "$rate" --reference --path /
  done
done
has_part t2 && for round in $(seq "$ROUNDS"); do
  one_run "t2" 0,1 0,1 longlink 2 "$HIGH_RATE" --api-key "$KEY"
  one_run "t1free" 0,1 0,1 longlink 1 "$HIGH_RATE" --api-key "$KEY"
done

echo
printf '%-16s %12s %10s %11s %11s %9s %9s %8s %8s %9s %6s\n' run deliveries/s acks/s p50_us \
  p99_us missing holes srv_cpu imld_cpu us/deliv errors
declare -A DPS CPU
labels="high"
for rate in $LOW_RATES; do labels="$labels ll-$rate llnorecv-$rate ref-$rate"; done
labels="$labels t2 t1free"
for label in $labels; do
  sel=$(grep "^label=$label " "$RESULTS" || true)
  med() { while read -r l; do field "$l" "$1"; done <<<"$sel" | median; }
  sum() { while read -r l; do field "$l" "$1"; done <<<"$sel" | awk '{s+=$1} END {print s+0}'; }
  DPS[$label]=$(med deliveries_per_s)
  CPU[$label]=$(med server_cpu_us_per_delivery)
  printf '%-16s %12s %10s %11s %11s %9s %9s %8s %8s %9s %6s\n' "$label" "${DPS[$label]}" \
    "$(med acks_per_s)" "$(med p50_us)" "$(med p99_us)" "$(sum missing)" "$(sum holes)" \
    "$(med server_cpu_pct)" "$(med imload_cpu_pct)" "${CPU[$label]}" "$(sum errors)"
done
echo "(medians of $ROUNDS; missing/holes/errors summed over the rounds; cpu in % of one core;"
echo " us/deliv = server CPU microseconds per delivered push; offered at high rate:" \
  "$((MEMBERS * HIGH_RATE))/s)"
for rate in $LOW_RATES; do
  echo "rate $rate: server CPU per delivery longlink / reference = $(ratio "${CPU[ll-$rate]}" \
    "${CPU[ref-$rate]}"), longlink without recv / reference = $(ratio "${CPU[llnorecv-$rate]}" \
    "${CPU[ref-$rate]}")"
done
echo "rate $HIGH_RATE unpinned: deliveries/s threads 2 / threads 1 = $(ratio "${DPS[t2]}" "${DPS[t1free]}")"
echo "server stop times (s): $(awk '{print $3}' "$OUT_DIR/stops.txt" | sed 's/stop_s=//' | tr '\n' ' ')"

if [[ -s $OUT_DIR/problems.txt ]]; then
  echo "problems:" >&2
  cat "$OUT_DIR/problems.txt" >&2
  exit 1
fi

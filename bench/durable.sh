#!/usr/bin/env bash
# The durable log under load (issue #4), interleaved in one run so that the
# ratios compare like with like on this noisy machine:
#
#   bench/durable.sh [ROUNDS=3]   # env: PAIRS=100 DEPTH=16 SIZE=32 DURATION=8 WARMUP=2
#                                 #      MEMBERS=1000 GROUP_RATE=1000 PARTS="echo mem disk disk1 group"
#
# Each round, a fresh server (--threads 1, pinned to SERVER_CPU; the load on
# LOADGEN_CPU) for each of:
#   echo:   /echo pipelined (loadgen echo, PAIRS*2 conns, depth DEPTH);
#   mem:    imload chat, PAIRS pairs, depth DEPTH, --storage memory;
#   disk:   the same on the log with --fsync always (fresh --data-dir), with
#           fsyncs and records counted from /metrics;
#   disk1:  the same at depth 1 (send->ack latency without queueing);
#   group:  imload group, MEMBERS online members, GROUP_RATE msg/s, on the log
#           with --fsync always.
# Prints medians and the ratios disk/echo and disk/mem. Exits 1 on a crash,
# a missing or duplicated push, or an error frame.
set -euo pipefail
source "$(dirname "$0")/common.sh"

ROUNDS=${1:-3}
PAIRS=${PAIRS:-100}
DEPTH=${DEPTH:-16}
SIZE=${SIZE:-32}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-2}
MEMBERS=${MEMBERS:-1000}
GROUP_RATE=${GROUP_RATE:-1000}
PARTS=${PARTS:-"echo mem disk disk1 group"}
IMLOAD=$BUILD_DIR/bench/imload
LOADGEN=$BUILD_DIR/bench/loadgen

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null || die "cmake failed"
  cmake --build "$BUILD_DIR" --target longlink imload loadgen >/dev/null || die "build failed"
fi
mkdir -p "$OUT_DIR"
RESULTS=$OUT_DIR/durable.txt
: >"$RESULTS"
KEY_FILE=$OUT_DIR/api.key
KEY=bench-$RANDOM$RANDOM
echo "$KEY" >"$KEY_FILE"
echo "durable: rounds=$ROUNDS pairs=$PAIRS depth=$DEPTH size=$SIZE duration=${DURATION}s members=$MEMBERS rate=$GROUP_RATE; out: $OUT_DIR"

metric() {  # NAME: the sum over shards of a /metrics counter
  curl -s "http://127.0.0.1:$SERVER_PORT/metrics" |
    awk -v n="longlink_$1" '$1 ~ "^"n"[{]" || $1 == n {s += $2} END {print s+0}'
}

run_part() {
  local part=$1 round=$2 line rc=0 dir=$OUT_DIR/data-$part-$round
  local args=(--threads 1 --listen 127.0.0.1:0 --auth none --rate 1000000 --api-key-file "$KEY_FILE")
  case $part in
    echo) args+=(--echo --storage memory) ;;
    mem) args+=(--storage memory) ;;
    *) args+=(--storage disk --fsync always --data-dir "$dir") ;;
  esac
  start_server "$part-$round" "$LONGLINK" "${args[@]}"
  wait_quiet
  local f0 r0 t0 f1 r1 t1
  f0=$(metric fsyncs_total)
  r0=$(metric log_records_total)
  t0=$(date +%s.%N)
  case $part in
    echo)
      line=$(loadgen echo --port "$SERVER_PORT" --conns $((PAIRS * 2)) --size "$SIZE" \
        --depth "$DEPTH" --duration "$DURATION" --warmup "$WARMUP" 2>>"$OUT_DIR/load.err" |
        grep '^RESULT') || rc=$? ;;
    mem | disk | disk1)
      local depth=$DEPTH
      [[ $part == disk1 ]] && depth=1
      line=$(taskset -c "$LOADGEN_CPU" "$IMLOAD" chat --port "$SERVER_PORT" --pairs "$PAIRS" \
        --depth "$depth" --size "$SIZE" --duration "$DURATION" --warmup "$WARMUP" \
        --server-pid "$SERVER_PID" 2>>"$OUT_DIR/load.err" | grep '^RESULT') || rc=$? ;;
    group)
      line=$(taskset -c "$LOADGEN_CPU" "$IMLOAD" group --port "$SERVER_PORT" --members "$MEMBERS" \
        --rate "$GROUP_RATE" --size "$SIZE" --duration "$DURATION" --warmup "$WARMUP" \
        --server-pid "$SERVER_PID" --api-key "$KEY" 2>>"$OUT_DIR/load.err" | grep '^RESULT') || rc=$? ;;
  esac
  t1=$(date +%s.%N)
  f1=$(metric fsyncs_total)
  r1=$(metric log_records_total)
  [[ $rc == 0 ]] || problem "$part round $round: load exit $rc: $line"
  local secs fps
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
  fps=$(awk -v f=$((f1 - f0)) -v s="$secs" 'BEGIN {printf "%.0f", f / s}')
  echo "part=$part round=$round fsyncs=$((f1 - f0)) records=$((r1 - r0)) wall_s=$secs fsyncs_per_s=$fps $line" |
    tee -a "$RESULTS"
  stop_server "$part-$round"
  rm -rf "$dir"
}

for round in $(seq "$ROUNDS"); do
  for part in $PARTS; do run_part "$part" "$round"; done
done

echo
sel() { grep "^part=$1 " "$RESULTS" || true; }
med() { while read -r l; do [[ -n $l ]] && field "$l" "$2"; done <<<"$(sel "$1")" | median; }
declare -A RATE
for part in echo mem disk disk1; do
  [[ " $PARTS " == *" $part "* ]] || continue
  RATE[$part]=$(med "$part" msgs_per_s)
  if [[ $part == echo ]]; then
    printf '%-6s %10s msgs/s  p50 %s us  p99 %s us\n' "$part" "${RATE[$part]}" \
      "$(med "$part" p50_us)" "$(med "$part" p99_us)"
  else
    printf '%-6s %10s msgs/s  ack p50 %s us  p99 %s us  push p99 %s us  fsyncs/s %s  records/fsync %s  missing %s errors %s\n' \
      "$part" "${RATE[$part]}" "$(med "$part" ack_p50_us)" "$(med "$part" ack_p99_us)" \
      "$(med "$part" push_p99_us)" "$(med "$part" fsyncs_per_s)" \
      "$(while read -r l; do [[ -n $l ]] && awk -v r="$(field "$l" records)" -v f="$(field "$l" fsyncs)" 'BEGIN {if (f > 0) printf "%.0f\n", r / f}'; done <<<"$(sel "$part")" | median)" \
      "$(med "$part" missing)" "$(med "$part" errors)"
  fi
done
if [[ " $PARTS " == *" group "* ]]; then
  sel group | sed 's/ RESULT / /' | head -"$ROUNDS"
fi
[[ -n ${RATE[disk]:-} && -n ${RATE[echo]:-} ]] && echo "disk / echo (pipelined) = $(ratio "${RATE[disk]}" "${RATE[echo]}")"
[[ -n ${RATE[disk]:-} && -n ${RATE[mem]:-} ]] && echo "disk / memory chat      = $(ratio "${RATE[disk]}" "${RATE[mem]}")"
if [[ -s $OUT_DIR/problems.txt ]]; then
  echo "problems:" >&2
  cat "$OUT_DIR/problems.txt" >&2
  exit 1
fi

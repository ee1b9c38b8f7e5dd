#!/usr/bin/env bash
# One-to-one messaging throughput and latency: imload chat against longlink.
#
#   bench/chat.sh [ROUNDS=3]   # env: PAIRS=100 DEPTHS="1 16" SIZE=32 DURATION=10 WARMUP=2
#                              #      SETUPS="t1 t2"
#
# Two set-ups, each with a fresh server per round (--storage memory --auth
# none --rate 1000000, so the per-connection frame rate limit never drops a
# pipelined send):
#   t1: --threads 1 pinned to SERVER_CPU, imload pinned to LOADGEN_CPU;
#   t2: --threads 2 with server and imload both free to use both cores.
# Every round runs each depth once; the script prints every run, then the
# medians per set-up and depth. Exits 1 if a server crashed or imload saw a
# missing or duplicated push, an error frame or a dropped connection.
set -euo pipefail
source "$(dirname "$0")/common.sh"

ROUNDS=${1:-3}
PAIRS=${PAIRS:-100}
DEPTHS=${DEPTHS:-"1 16"}
SIZE=${SIZE:-32}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
SETUPS=${SETUPS:-"t1 t2"}
IMLOAD=$BUILD_DIR/bench/imload

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null || die "cmake failed"
  cmake --build "$BUILD_DIR" --target longlink imload >/dev/null || die "build failed"
fi

mkdir -p "$OUT_DIR"
RESULTS=$OUT_DIR/chat.txt
: >"$RESULTS"
echo "chat: rounds=$ROUNDS pairs=$PAIRS depths='$DEPTHS' size=$SIZE duration=${DURATION}s; out: $OUT_DIR"

run_setup() {
  local setup=$1 threads=$2 server_cpu=$3 load_cpu=$4
  local round depth line rc
  for round in $(seq "$ROUNDS"); do
    SERVER_CPU=$server_cpu start_server "longlink-$setup-$round" "$LONGLINK" --threads "$threads" \
      --listen 127.0.0.1:0 --storage memory --auth none --rate 1000000
    wait_quiet
    for depth in $DEPTHS; do
      rc=0
      line=$(taskset -c "$load_cpu" "$IMLOAD" chat --port "$SERVER_PORT" --pairs "$PAIRS" \
        --depth "$depth" --size "$SIZE" --duration "$DURATION" --warmup "$WARMUP" \
        --server-pid "$SERVER_PID" 2>>"$OUT_DIR/imload.err" | grep '^RESULT') || rc=$?
      [[ $rc == 0 ]] || problem "imload chat setup=$setup depth=$depth round=$round exit $rc: $line"
      echo "setup=$setup threads=$threads round=$round $line" | tee -a "$RESULTS"
    done
    stop_server "longlink-$setup-$round"
  done
}

[[ " $SETUPS " == *" t1 "* ]] && run_setup t1 1 "$SERVER_CPU" "$LOADGEN_CPU"
[[ " $SETUPS " == *" t2 "* ]] && run_setup t2 2 0,1 0,1

echo
printf '%-5s %5s %10s %9s %9s %10s %10s %10s %8s %8s %8s %6s\n' setup depth msgs/s \
  ack_p50 ack_p99 ack_p999 push_p50 push_p99 srv_cpu imld_cpu missing errors
declare -A RATE
for setup in $SETUPS; do
  for depth in $DEPTHS; do
    sel=$(grep "^setup=$setup " "$RESULTS" | grep " depth=$depth " || true)
    med() { while read -r l; do field "$l" "$1"; done <<<"$sel" | median; }
    sum() { while read -r l; do field "$l" "$1"; done <<<"$sel" | awk '{s+=$1} END {print s+0}'; }
    RATE[$setup.$depth]=$(med msgs_per_s)
    printf '%-5s %5s %10s %9s %9s %10s %10s %10s %8s %8s %8s %6s\n' "$setup" "$depth" \
      "${RATE[$setup.$depth]}" "$(med ack_p50_us)" "$(med ack_p99_us)" "$(med ack_p999_us)" \
      "$(med push_p50_us)" "$(med push_p99_us)" "$(med server_cpu_pct)" \
      "$(med imload_cpu_pct)" "$(($(sum missing) + $(sum duplicates)))" "$(sum errors)"
  done
done
echo "(medians of $ROUNDS rounds; latencies in us; cpu in % of one core; missing = missing + duplicate pushes, summed)"
[[ $SETUPS == "t1 t2" ]] && for depth in $DEPTHS; do
  echo "depth $depth: threads 2 / threads 1 throughput = $(ratio "${RATE[t2.$depth]}" "${RATE[t1.$depth]}")"
done

if [[ -s $OUT_DIR/problems.txt ]]; then
  echo "problems:" >&2
  cat "$OUT_DIR/problems.txt" >&2
  exit 1
fi

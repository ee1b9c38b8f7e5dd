#!/usr/bin/env bash
# Server memory per authenticated idle session: RssAnon of longlink before
# and after imload opens N /ws sessions (each with hello as its own user and
# a welcome back), divided by N.
#
#   bench/sessions_rss.sh [RUNS=3]   # env: CONNS=10000 SETTLE=1 HOLD=4
#
# A fresh longlink (--threads 1 --storage memory --auth none) per run, pinned
# to SERVER_CPU; imload pinned to LOADGEN_CPU. RssAnon (anonymous resident
# memory: heap and stacks, not the mapped binary) is read from
# /proc/PID/status when the server is idle, and again SETTLE seconds after
# imload printed "OPEN n". Kernel socket buffers are not in it; this is the
# server's own memory per session (connection, WebSocket state, session,
# presence entry, allocator overhead). Prints every run and the median.
set -euo pipefail
source "$(dirname "$0")/common.sh"

RUNS=${1:-3}
CONNS=${CONNS:-10000}
SETTLE=${SETTLE:-1}
HOLD=${HOLD:-4}
IMLOAD=$BUILD_DIR/bench/imload

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null || die "cmake failed"
  cmake --build "$BUILD_DIR" --target longlink imload >/dev/null || die "build failed"
fi
mkdir -p "$OUT_DIR"

rss_anon_kib() {
  awk '/^RssAnon:/ {print $2}' "/proc/$1/status"
}

echo "sessions_rss: runs=$RUNS conns=$CONNS; out: $OUT_DIR"
: >"$OUT_DIR/sessions.txt"
for run in $(seq "$RUNS"); do
  start_server "longlink-sessions-$run" "$LONGLINK" --threads 1 --listen 127.0.0.1:0 \
    --storage memory --auth none
  sleep 0.5
  before=$(rss_anon_kib "$SERVER_PID")
  out=$OUT_DIR/imload-sessions-$run.txt
  taskset -c "$LOADGEN_CPU" "$IMLOAD" sessions --port "$SERVER_PORT" --conns "$CONNS" \
    --hold "$HOLD" >"$out" 2>>"$OUT_DIR/imload.err" &
  load_pid=$!
  opened=
  for _ in $(seq 1200); do
    opened=$(sed -n 's/^OPEN \([0-9]*\)$/\1/p' "$out")
    [[ -n $opened ]] && break
    kill -0 "$load_pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n $opened ]] || die "imload sessions printed no OPEN line (see $out)"
  sleep "$SETTLE"
  after=$(rss_anon_kib "$SERVER_PID")
  rc=0
  wait "$load_pid" || rc=$?
  [[ $opened == "$CONNS" && $rc == 0 ]] ||
    problem "run $run: $opened of $CONNS sessions opened, imload exit $rc ($(grep RESULT "$out"))"
  per=$(awk -v a="$after" -v b="$before" -v n="$opened" 'BEGIN {printf "%.0f", (a - b) * 1024 / n}')
  echo "run=$run sessions=$opened rss_anon_before_kib=$before rss_anon_after_kib=$after" \
    "bytes_per_session=$per $(grep RESULT "$out" | sed 's/^RESULT //')" | tee -a "$OUT_DIR/sessions.txt"
  stop_server "longlink-sessions-$run"
done

med=$(sed -n 's/.* bytes_per_session=\([0-9]*\).*/\1/p' "$OUT_DIR/sessions.txt" | median)
echo "median RssAnon per authenticated idle session: $med bytes ($CONNS sessions, $RUNS runs)"
if [[ -s $OUT_DIR/problems.txt ]]; then
  echo "problems:" >&2
  cat "$OUT_DIR/problems.txt" >&2
  exit 1
fi

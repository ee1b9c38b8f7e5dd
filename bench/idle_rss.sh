#!/usr/bin/env bash
# Memory per idle WebSocket connection.
#
#   bench/idle_rss.sh [RUNS]        (default 3)
#
# Each run starts a fresh server pinned to CPU $SERVER_CPU, reads its VmRSS
# and RssAnon, opens $CONNS idle connections with `loadgen idle` (pinned to
# CPU $LOADGEN_CPU), waits for its "OPEN n" line and $SETTLE seconds more,
# reads both again, then lets loadgen close them (SIGINT) and stops the
# server. bytes/conn = (after - before) / n, for VmRSS (what the brief asks
# for; it also counts library code pages first touched meanwhile) and for
# RssAnon (anonymous memory only: heap and stacks, the better figure for
# per-connection state). longlink (--echo --threads 1) and echo_reference
# alternate; medians at the end.
#
# Environment: CONNS=10000 SETTLE=1 BUILD_DIR=build SKIP_BUILD=0 OUT_DIR=<temp dir>
set -euo pipefail
source "$(dirname "$0")/common.sh"

RUNS=${1:-${RUNS:-3}}
CONNS=${CONNS:-10000}
SETTLE=${SETTLE:-1}

build_release
RESULTS=$OUT_DIR/idle.tsv
: >"$RESULTS"
echo "# idle RSS: $RUNS runs, $CONNS connections; logs in $OUT_DIR"
printf '%-4s %-9s %8s %10s %10s %10s %10s\n' run server opened rss0_kib rss1_kib rss_B/conn \
  anon_B/conn

# anon_kib PID: RssAnon of PID in KiB.
anon_kib() {
  awk '/^RssAnon:/ {print $2}' "/proc/$1/status"
}

measure() {  # measure RUN NAME CMD...
  local run=$1 name=$2
  shift 2
  start_server "$name" "$@"
  sleep 0.3
  local rss0 anon0 out lg_pid opened=""
  rss0=$(rss_kib "$SERVER_PID")
  anon0=$(anon_kib "$SERVER_PID")
  out=$OUT_DIR/idle-$name-$run.out
  taskset -c "$LOADGEN_CPU" "$LOADGEN" idle --port "$SERVER_PORT" --conns "$CONNS" --hold 0 \
    >"$out" 2>>"$OUT_DIR/loadgen.err" &
  lg_pid=$!
  for _ in $(seq 1200); do
    opened=$(sed -n 's/^OPEN \([0-9]*\)$/\1/p' "$out")
    [[ -n $opened ]] && break
    kill -0 "$lg_pid" 2>/dev/null || break
    sleep 0.05
  done
  if [[ -z $opened ]]; then
    kill -KILL "$lg_pid" 2>/dev/null || true
    wait "$lg_pid" 2>/dev/null || true
    problem "run $run $name: loadgen idle did not print OPEN within 60 s"
    stop_server "$name"
    return 0
  fi
  sleep "$SETTLE"
  local rss1 anon1
  rss1=$(rss_kib "$SERVER_PID" || echo 0)
  anon1=$(anon_kib "$SERVER_PID" || echo 0)
  kill -INT "$lg_pid"
  wait "$lg_pid" 2>/dev/null || true
  local result
  result=$(grep '^RESULT' "$out" || true)
  if [[ $opened != "$CONNS" || $(field "$result" dropped) != 0 ]]; then
    problem "run $run $name: $result"
  fi
  stop_server "$name"
  local per_conn anon_per_conn
  per_conn=$(awk -v a="$rss0" -v b="$rss1" -v n="$opened" 'BEGIN {printf "%.0f", (b-a)*1024/n}')
  anon_per_conn=$(awk -v a="$anon0" -v b="$anon1" -v n="$opened" \
    'BEGIN {printf "%.0f", (b-a)*1024/n}')
  printf '%-4s %-9s %8s %10s %10s %10s %10s\n' "$run" "$name" "$opened" "$rss0" "$rss1" \
    "$per_conn" "$anon_per_conn"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$name" "$opened" "$rss0" "$rss1" "$per_conn" \
    "$anon_per_conn" >>"$RESULTS"
}

for run in $(seq "$RUNS"); do
  measure "$run" longlink "$LONGLINK" --echo --threads 1 --listen 127.0.0.1:0 --storage memory \
    --auth none
  measure "$run" reference "$REFERENCE" --listen 127.0.0.1:0
done

echo
echo "# medians of $RUNS runs (bytes of server memory per idle connection)"
printf '%-9s %10s %10s\n' server rss_B/conn anon_B/conn
for name in longlink reference; do
  printf '%-9s %10s %10s\n' "$name" \
    "$(awk -F'\t' -v n="$name" '$2 == n {print $6}' "$RESULTS" | median)" \
    "$(awk -F'\t' -v n="$name" '$2 == n {print $7}' "$RESULTS" | median)"
done
if [[ -s $OUT_DIR/problems.txt ]]; then
  echo
  echo "# problems"
  cat "$OUT_DIR/problems.txt"
  exit 1
fi

# shellcheck shell=bash disable=SC2034
# Shared helpers for the bench/*.sh scripts; sourced, not run.
#
# Servers run pinned to SERVER_CPU and the load generator to LOADGEN_CPU (one
# core each on a 2-core machine). Every server logs "listening on HOST:PORT"
# to stderr once bound to port 0; start_server parses the port from there.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/longlink-bench.XXXXXX)}
mkdir -p "$OUT_DIR"
LONGLINK=${LONGLINK:-$BUILD_DIR/longlink}  # LONGLINK=path compares another build
REFERENCE=$BUILD_DIR/bench/echo_reference
LOADGEN=$BUILD_DIR/bench/loadgen

die() {
  echo "error: $*" >&2
  exit 1
}

# Builds the three binaries in Release unless SKIP_BUILD=1.
build_release() {
  [[ ${SKIP_BUILD:-0} == 1 ]] && return 0
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null ||
    die "cmake configure failed"
  cmake --build "$BUILD_DIR" --target longlink loadgen echo_reference >/dev/null ||
    die "build failed (run: cmake --build $BUILD_DIR)"
}

# bench_lock / bench_unlock: one benchmark at a time on this machine. Every
# script that uses start_server/stop_server holds $BENCH_LOCK (flock) from
# start to stop, so two scripts started at once take turns instead of
# measuring each other. The lock goes with the script's process if it dies.
BENCH_LOCK=${BENCH_LOCK:-/tmp/longlink-bench.lock}
BENCH_LOCK_FD=
bench_lock() {
  [[ -n $BENCH_LOCK_FD ]] && return 0
  exec {BENCH_LOCK_FD}>>"$BENCH_LOCK"
  if ! flock -n "$BENCH_LOCK_FD"; then
    echo "note: another benchmark holds $BENCH_LOCK; waiting" >&2
    flock "$BENCH_LOCK_FD"
  fi
}
bench_unlock() {
  [[ -z $BENCH_LOCK_FD ]] && return 0
  flock -u "$BENCH_LOCK_FD"
  exec {BENCH_LOCK_FD}>&-
  BENCH_LOCK_FD=
}

# A server still running when the script exits (error, Ctrl-C, kill) is
# killed, so an interrupted run leaves nothing pinned to a core.
BENCH_LIVE_PID=
bench_cleanup() {
  if [[ -n $BENCH_LIVE_PID ]] && kill -0 "$BENCH_LIVE_PID" 2>/dev/null; then
    kill -KILL "$BENCH_LIVE_PID" 2>/dev/null || true
  fi
}
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_server NAME CMD...: takes the bench lock, starts CMD pinned to
# SERVER_CPU with stderr in $OUT_DIR/NAME.log; sets SERVER_PID and
# SERVER_PORT.
start_server() {
  local name=$1
  shift
  bench_lock
  SERVER_LOG=$OUT_DIR/$name.log
  taskset -c "$SERVER_CPU" "$@" 2>"$SERVER_LOG" >/dev/null {BENCH_LOCK_FD}>&- &
  SERVER_PID=$!
  BENCH_LIVE_PID=$SERVER_PID
  SERVER_PORT=

  for _ in $(seq 200); do
    SERVER_PORT=$(grep -m1 -oE 'listening on [^ ]+:[0-9]+' "$SERVER_LOG" | sed 's/.*://' || true)
    [[ -n $SERVER_PORT ]] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || {
      tail -5 "$SERVER_LOG" >&2
      die "$name exited during start-up"
    }
    sleep 0.05
  done
  kill -KILL "$SERVER_PID" 2>/dev/null
  die "$name printed no 'listening on' line within 10 s (log: $SERVER_LOG)"
}

# stop_server NAME: SIGTERM, then SIGKILL after 10 s, then releases the
# bench lock. Reports a crash (the server gone before we stopped it) or a
# non-zero exit on stderr and in $OUT_DIR/problems.txt.
stop_server() {
  local name=$1
  local status=0
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    wait "$SERVER_PID" 2>/dev/null || status=$?
    problem "$name (pid $SERVER_PID) died during the run, exit status $status; log: $SERVER_LOG"
    BENCH_LIVE_PID=
    bench_unlock
    return 0
  fi
  kill -TERM "$SERVER_PID"

  for _ in $(seq 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -KILL "$SERVER_PID"
    problem "$name did not exit within 10 s of SIGTERM (killed); log: $SERVER_LOG"
  fi
  wait "$SERVER_PID" 2>/dev/null || status=$?
  # 143 = 128 + SIGTERM: a server without a handler dies of it, which is fine
  # for the reference.
  if [[ $status != 0 && $status != 143 ]]; then
    problem "$name exited with status $status after SIGTERM; log: $SERVER_LOG"
  fi
  BENCH_LIVE_PID=
  bench_unlock
}

problem() {
  echo "PROBLEM: $*" >&2
  echo "$*" >>"$OUT_DIR/problems.txt"
}

# loadgen ARGS...: runs the generator pinned to LOADGEN_CPU; prints its output.
loadgen() {
  taskset -c "$LOADGEN_CPU" "$LOADGEN" "$@"
}

# field LINE KEY: the value of KEY=value in a RESULT line.
field() {
  sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"
}

# median: the median of the numbers on stdin (mean of the middle two if even;
# printed whole from 1000 up, else with 3 decimals).
median() {
  sort -g | awk '{v[NR]=$1} END {if (NR==0) {print "nan"; exit}
                 if (NR%2) {print v[(NR+1)/2]; exit}
                 m = (v[NR/2]+v[NR/2+1])/2
                 if (m >= 1000 || m <= -1000) printf "%.0f\n", m; else printf "%.3f\n", m}'
}

# ratio A B: A/B with 2 decimals.
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN {if (b+0 == 0) print "nan"; else printf "%.2f\n", a/b}'
}

# rss_kib PID: VmRSS of PID in KiB.
rss_kib() {
  awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

# machine_busy_ticks: busy clock ticks of all cores so far (/proc/stat:
# user + nice + system + irq + softirq).
machine_busy_ticks() {
  awk '/^cpu / {print $2 + $3 + $4 + $7 + $8; exit}' /proc/stat
}

# wait_quiet: waits (up to QUIET_WAIT seconds, default 60) until the rest of
# the machine uses less than QUIET_PCT percent of one core (default 20) over
# one second, so that a run does not start in the middle of someone else's
# build. QUIET_PCT=0 turns this off. Call it while the server is idle.
wait_quiet() {
  local limit=${QUIET_PCT:-20} max_wait=${QUIET_WAIT:-60}
  [[ $limit == 0 ]] && return 0
  local hz waited=0 a b t0 t1 pct
  hz=$(getconf CLK_TCK)
  while :; do
    t0=$(date +%s%N)
    a=$(machine_busy_ticks)
    sleep 1
    b=$(machine_busy_ticks)
    t1=$(date +%s%N)
    # ticks / hz seconds of CPU over (t1 - t0) ns of wall time, in percent.
    pct=$(((b - a) * 100000000000 / hz / (t1 - t0)))
    ((pct < limit)) && return 0
    if ((waited >= max_wait)); then
      echo "note: machine still busy (${pct}% of a core used by others); running anyway" >&2
      return 0
    fi
    ((waited == 0)) && echo "note: machine busy (${pct}% of a core used by others); waiting" >&2
    sleep 2
    waited=$((waited + 3))
  done
}

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
LONGLINK=$BUILD_DIR/longlink
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

# start_server NAME CMD...: starts CMD pinned to SERVER_CPU with stderr in
# $OUT_DIR/NAME.log; sets SERVER_PID and SERVER_PORT.
start_server() {
  local name=$1
  shift
  SERVER_LOG=$OUT_DIR/$name.log
  taskset -c "$SERVER_CPU" "$@" 2>"$SERVER_LOG" >/dev/null &
  SERVER_PID=$!
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

# stop_server NAME: SIGTERM, then SIGKILL after 10 s. Reports a crash (the
# server gone before we stopped it) or a non-zero exit on stderr and in
# $OUT_DIR/problems.txt.
stop_server() {
  local name=$1
  local status=0
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    wait "$SERVER_PID" 2>/dev/null || status=$?
    problem "$name (pid $SERVER_PID) died during the run, exit status $status; log: $SERVER_LOG"
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

# median: the median of the numbers on stdin (mean of the middle two if even).
median() {
  sort -g | awk '{v[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print v[(NR+1)/2];
                 else printf "%g\n", (v[NR/2]+v[NR/2+1])/2}'
}

# ratio A B: A/B with 2 decimals.
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN {if (b+0 == 0) print "nan"; else printf "%.2f\n", a/b}'
}

# rss_kib PID: VmRSS of PID in KiB.
rss_kib() {
  awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

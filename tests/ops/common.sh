# shellcheck shell=bash disable=SC2034
# Helpers for the tests/ops/*.sh checks (sourced, not run). Each check is one
# ctest case: `bash tests/ops/NAME.sh BINARY`; it exits 0 when every check
# passed, 1 with a FAIL line per problem, 77 (ctest SKIP_RETURN_CODE) when a
# tool it cannot do without is genuinely missing.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TMP=$(mktemp -d /tmp/longlink-ops.XXXXXX)
FAILURES=0
SERVER_PID=
SERVER_LOG=
SERVER_PORT=

cleanup() {
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  FAILURES=$((FAILURES + 1))
}

ok() {
  echo "ok: $*"
}

die() {
  echo "FAIL: $*"
  exit 1
}

skip() {
  echo "SKIP: $*"
  exit 77
}

# finish: the exit status of the script.
finish() {
  if ((FAILURES > 0)); then
    echo "$FAILURES check(s) failed"
    exit 1
  fi
  echo "all checks passed"
  exit 0
}

need_binary() {
  [[ -n ${1:-} && -x $1 ]] || die "usage: $0 PATH/TO/longlink (got '${1:-}')"
}

# wait_listening LOG PID: sets SERVER_PORT from the "listening on HOST:PORT"
# line the server logs once every shard listens (10 s at most).
wait_listening() {
  local log=$1 pid=$2
  SERVER_PORT=
  for _ in $(seq 200); do
    SERVER_PORT=$(grep -m1 -oE 'listening on [^ ]+:[0-9]+' "$log" | sed 's/.*://' || true)
    [[ -n $SERVER_PORT ]] && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log"; die "server exited during start-up"; }
    sleep 0.05
  done
  cat "$log"
  die "no 'listening on' line within 10 s"
}

# start_server CMD...: starts CMD in the background, stderr to $TMP/server.log;
# sets SERVER_PID and SERVER_PORT.
start_server() {
  SERVER_LOG=$TMP/server.log
  "$@" 2>"$SERVER_LOG" >/dev/null &
  SERVER_PID=$!
  wait_listening "$SERVER_LOG" "$SERVER_PID"
}

# stop_server [PID]: SIGTERM, then waits up to 30 s (the unit's
# TimeoutStopSec); fails unless the process exits 0 in time. PID defaults to
# SERVER_PID; the status waited for is always SERVER_PID's.
stop_server() {
  local pid=${1:-$SERVER_PID} status=0
  kill -TERM "$pid"
  for _ in $(seq 300); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -KILL "$SERVER_PID"
    fail "server did not exit within 30 s of SIGTERM"
  fi
  wait "$SERVER_PID" || status=$?
  SERVER_PID=
  if [[ $status == 0 ]]; then
    ok "SIGTERM: server exited 0"
  else
    fail "server exited with status $status after SIGTERM (log below)"
    cat "$SERVER_LOG"
  fi
}

# http METHOD PATH [BODY] [CURL ARGS...]: prints the body, then a line with
# the status code; uses SERVER_PORT.
http() {
  local method=$1 path=$2 body=${3:-}
  shift 3 || shift $#
  local args=(-sS -X "$method" --max-time 10 -w '\n%{http_code}\n' "$@")
  [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  curl "${args[@]}" "http://127.0.0.1:$SERVER_PORT$path"
}

# expect_status CODE DESCRIPTION METHOD PATH [BODY] [CURL ARGS...]
expect_status() {
  local want=$1 what=$2 out code
  shift 2
  out=$(http "$@") || { fail "$what: curl failed"; return; }
  code=$(tail -n1 <<<"$out")
  if [[ $code == "$want" ]]; then
    ok "$what: $code"
  else
    fail "$what: expected $want, got $code: $(head -n -1 <<<"$out")"
  fi
}

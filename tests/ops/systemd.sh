#!/usr/bin/env bash
# ops:systemd: the unit dist/longlink.service, as `make install` installs it,
#  1. passes `systemd-analyze verify` without a single message (it checks the
#     syntax of every directive, that ExecStart is executable and that the
#     Documentation= man page exists; systemd need not be PID 1);
#  2. has the directives operators rely on (DynamicUser, StateDirectory,
#     credentials, hardening, restart and stop policy) and an exposure score
#     of at most 2.0 from `systemd-analyze security --offline`;
#  3. starts the server with exactly its ExecStart command line (%d and
#     ${STATE_DIRECTORY} filled in as systemd would, LONGLINK_OPTS from an
#     environment file), serves HTTP with the loaded API key, and exits 0
#     on SIGTERM within TimeoutStopSec;
#  4. allows every system call the server made meanwhile (traced with strace:
#     SystemCallFilter= answers others with EPERM, which would break it
#     silently) and every socket family it opened (RestrictAddressFamilies=).
#     Skipped for sanitizer builds, whose runtimes make calls of their own.
#   bash tests/ops/systemd.sh PATH/TO/longlink [SANITIZER]
set -uo pipefail
source "$(dirname "$0")/common.sh"
BIN=${1:-}
SANITIZER=${2:-}
need_binary "$BIN"
command -v systemd-analyze >/dev/null ||
  skip "systemd-analyze is not installed (Debian package systemd; make deps installs it)"
command -v curl >/dev/null || die "curl is not installed"

# Install as `make install PREFIX=/usr` would, into a scratch DESTDIR.
DEST=$TMP/dest
make -s -C "$ROOT" --no-print-directory install-files BIN="$BIN" DESTDIR="$DEST" PREFIX=/usr \
  >"$TMP/make.log" 2>&1 || die "make install-files failed: $(cat "$TMP/make.log")"
UNIT=$DEST/usr/lib/systemd/system/longlink.service
[[ -f $UNIT ]] || die "make install-files did not install the unit"

# 1. verify. Outside DESTDIR the unit's /usr/bin/longlink does not exist, so
# the copy checked names the installed binary by its DESTDIR path; MANPATH
# lets the Documentation=man:longlink(1) check find the installed page.
mkdir -p "$TMP/verify"
sed "s|^ExecStart=/usr/bin/longlink |ExecStart=$DEST/usr/bin/longlink |" "$UNIT" \
  >"$TMP/verify/longlink.service"
if MANPATH=$DEST/usr/share/man systemd-analyze verify "$TMP/verify/longlink.service" \
    >"$TMP/verify.out" 2>&1 && [[ ! -s $TMP/verify.out ]]; then
  ok "systemd-analyze verify: clean"
else
  fail "systemd-analyze verify: $(cat "$TMP/verify.out")"
fi

# 2. Directives.
for d in 'Type=exec' 'DynamicUser=yes' 'StateDirectory=longlink' \
    'LoadCredential=jwt-secret:/etc/longlink/jwt-secret' \
    'LoadCredential=api-key:/etc/longlink/api-key' 'EnvironmentFile=-/etc/default/longlink' \
    'LimitNOFILE=1048576' 'ProtectSystem=strict' 'ProtectHome=yes' 'NoNewPrivileges=yes' \
    'PrivateTmp=yes' 'PrivateDevices=yes' 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
    'SystemCallFilter=@system-service' 'Restart=on-failure' 'KillSignal=SIGTERM' \
    'TimeoutStopSec=30' 'WantedBy=multi-user.target'; do
  grep -qxF "$d" "$UNIT" || fail "the unit lacks the line '$d'"
done
grep -qE '^ExecStart=/usr/bin/longlink --data-dir \$\{STATE_DIRECTORY\} --jwt-secret-file %d/jwt-secret --api-key-file %d/api-key( |$)' "$UNIT" ||
  fail "ExecStart does not pass the state directory and both credentials: $(grep ^ExecStart= "$UNIT")"
if systemd-analyze security --offline=yes --threshold=20 "$TMP/verify/longlink.service" \
    >"$TMP/security.out" 2>&1; then
  ok "systemd-analyze security: $(grep -o 'Overall exposure level.*' "$TMP/security.out")"
else
  fail "systemd-analyze security: exposure above 2.0 or error: $(tail -n 3 "$TMP/security.out")"
fi

# 3. Run ExecStart as systemd would.
CREDS=$TMP/credentials
STATE=$TMP/state
mkdir -p "$CREDS"
head -c 32 /dev/urandom | base64 >"$CREDS/jwt-secret"
KEY=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
echo "$KEY" >"$CREDS/api-key"
# What /etc/default/longlink would hold on this machine.
cat >"$TMP/default" <<'EOF'
LONGLINK_OPTS="--listen 127.0.0.1:0 --threads 2"
EOF
LONGLINK_OPTS=$(sed -n 's/^LONGLINK_OPTS="\(.*\)"$/\1/p' "$TMP/default")
exec_line=$(sed -n 's/^ExecStart=//p' "$UNIT")
argv=()
# Unquoted words only (the unit has no quoting): ${VAR} is one word, $VAR
# splits on spaces, %d is the credentials directory.
for w in $exec_line; do
  case $w in
    '${STATE_DIRECTORY}') argv+=("$STATE") ;;
    '$LONGLINK_OPTS') read -ra extra <<<"$LONGLINK_OPTS"; argv+=("${extra[@]}") ;;
    *) w=${w//%d/$CREDS}; argv+=("$w") ;;
  esac
done
[[ ${argv[0]} == /usr/bin/longlink ]] || fail "ExecStart runs ${argv[0]}"
argv[0]=$DEST/usr/bin/longlink

trace=0
if [[ -z $SANITIZER ]] && command -v strace >/dev/null; then
  if strace -f -qq -o /dev/null true 2>/dev/null; then
    trace=1
  else
    echo "note: strace cannot trace here (ptrace refused); system call check skipped"
  fi
elif [[ -n $SANITIZER ]]; then
  echo "note: $SANITIZER build; system call check skipped (sanitizer runtimes make calls of their own)"
else
  fail "strace is not installed (make deps installs it)"
fi

SERVER_LOG=$TMP/server.log
if ((trace)); then
  strace -f -qq -o "$TMP/trace" "${argv[@]}" 2>"$SERVER_LOG" >/dev/null &
  SERVER_PID=$!
else
  "${argv[@]}" 2>"$SERVER_LOG" >/dev/null &
  SERVER_PID=$!
fi
wait_listening "$SERVER_LOG" "$SERVER_PID"
ok "ExecStart started the server: $(grep -m1 -o 'listening on .*' "$SERVER_LOG")"
[[ -d $STATE ]] && ok "the state directory is the data directory" ||
  fail "the server did not create --data-dir \${STATE_DIRECTORY}"

expect_status 200 "GET /healthz" GET /healthz
expect_status 200 "GET /readyz" GET /readyz
expect_status 401 "API call without the key" GET "/api/groups/team"
expect_status 200 "POST /api/groups with the credential key" POST /api/groups \
  '{"group":"team","members":["alice","bob"]}' -H "Authorization: Bearer $KEY"
expect_status 200 "POST /api/publish with the credential key" POST /api/publish \
  '{"to":"g:team","from":"system","cmid":"ops-1","body":{"text":"hi"}}' \
  -H "Authorization: Bearer $KEY"
expect_status 200 "GET /api/history" GET "/api/history?conv=g:team" '' \
  -H "Authorization: Bearer $KEY"
# The jwt-secret credential is the server's secret: a token signed from the
# same file by `longlink token` is accepted by a WebSocket hello on /ws
# (handshake and one masked text frame written by hand; mask key 0).
TOKEN=$("$DEST/usr/bin/longlink" token --user alice --jwt-secret-file "$CREDS/jwt-secret")
hello='{"t":"hello","v":1,"token":"'$TOKEN'","device":"ops"}'
len=${#hello}
((len >= 126 && len < 65536)) || die "hello frame of $len bytes: expected 126..65535"
if exec 3<>"/dev/tcp/127.0.0.1/$SERVER_PORT"; then
  printf 'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n' >&3
  # FIN + text, mask bit + 16-bit length, zero mask key, payload.
  printf "\\x81\\xfe\\x$(printf %02x $((len >> 8)))\\x$(printf %02x $((len & 255)))\\x00\\x00\\x00\\x00%s" "$hello" >&3
  timeout 2 cat <&3 >"$TMP/ws.out" 2>/dev/null
  exec 3<&-
fi
if grep -aq '^HTTP/1.1 101' "$TMP/ws.out" && grep -aq '"t":"welcome"' "$TMP/ws.out" &&
    grep -aq '"user":"alice"' "$TMP/ws.out"; then
  ok "a token signed with the jwt-secret credential gets a welcome on /ws"
else
  fail "hello with a token from the jwt-secret credential: $(tr -c '[:print:]\n' '.' <"$TMP/ws.out" | head -c 400)"
fi

# SIGTERM goes to the server itself (under strace, strace's child).
target=$SERVER_PID
if ((trace)); then
  target=$(pgrep -P "$SERVER_PID" | head -n1)
  [[ -n $target ]] || die "cannot find the traced server process"
fi
stop_server "$target"

# 4. System calls and socket families against the unit's filters.
if ((trace)); then
  # expand GROUP|CALL: every system call of a systemd syscall group,
  # recursively; a plain name is itself.
  expand() {
    [[ $1 == @* ]] || { echo "$1"; return; }
    systemd-analyze syscall-filter --no-pager "$1" |
      awk 'NR > 1 && !/^ *#/ && NF {print $1}' | while read -r x; do
        if [[ $x == @* ]]; then expand "$x"; else echo "$x"; fi
      done
  }
  allow=$(sed -n 's/^SystemCallFilter=\([^~].*\)$/\1/p' "$UNIT")
  deny=$(sed -n 's/^SystemCallFilter=~\(.*\)$/\1/p' "$UNIT")
  for g in $allow; do expand "$g"; done | sort -u >"$TMP/allowed"
  for g in $deny; do expand "$g"; done | sort -u >"$TMP/denied"
  comm -23 "$TMP/allowed" "$TMP/denied" >"$TMP/permitted"
  [[ $(wc -l <"$TMP/permitted") -gt 100 ]] || fail "could not expand the unit's SystemCallFilter ($allow)"
  grep -oE '^[0-9]+ +[a-z0-9_]+\(' "$TMP/trace" | sed -E 's/^[0-9]+ +//; s/\($//' | sort -u |
    grep -vxE 'execve' >"$TMP/used"
  # execve is the exec that systemd does before applying the filter.
  bad=$(comm -23 "$TMP/used" "$TMP/permitted")
  if [[ -s $TMP/used && -z $bad ]]; then
    ok "all $(wc -l <"$TMP/used") system calls the server made are allowed by SystemCallFilter ($allow minus $deny)"
  else
    fail "system calls the unit's SystemCallFilter would refuse: $(echo $bad)"
  fi
  families=$(grep -oE 'socket\(AF_[A-Z0-9]+' "$TMP/trace" | sed 's/socket(//' | sort -u)
  allowed_fam=$(sed -n 's/^RestrictAddressFamilies=//p' "$UNIT")
  badfam=""
  for f in $families; do
    [[ " $allowed_fam " == *" $f "* ]] || badfam+=" $f"
  done
  if [[ -n $families && -z $badfam ]]; then
    ok "socket families used ($(echo $families)) are within RestrictAddressFamilies"
  else
    fail "socket families outside RestrictAddressFamilies:$badfam (used: $(echo $families))"
  fi
fi

finish

#!/usr/bin/env bash
# ops:promtool: GET /metrics of a real server that has seen traffic (health
# checks, API calls, a 404, a refused API call) passes
# `promtool check metrics` with exit 0 and no complaint, and its counters
# moved with that traffic.
#   bash tests/ops/promtool.sh PATH/TO/longlink
set -uo pipefail
source "$(dirname "$0")/common.sh"
BIN=${1:-}
need_binary "$BIN"
command -v promtool >/dev/null ||
  die "promtool is not installed (Debian package prometheus; make deps installs it)"
command -v curl >/dev/null || die "curl is not installed"

KEY=ops-$RANDOM$RANDOM
echo "$KEY" >"$TMP/api-key"
start_server "$BIN" --listen 127.0.0.1:0 --storage memory --auth none --threads 2 \
  --api-key-file "$TMP/api-key"
ok "server listening on port $SERVER_PORT"

auth=(-H "Authorization: Bearer $KEY")
expect_status 200 "GET /healthz" GET /healthz
expect_status 200 "GET /readyz" GET /readyz
expect_status 200 "POST /api/publish to u:bob" POST /api/publish \
  '{"to":"u:bob","from":"system","cmid":"ops-1","body":{"text":"hi"}}' "${auth[@]}"
expect_status 200 "POST /api/groups" POST /api/groups \
  '{"group":"team","members":["alice","bob"]}' "${auth[@]}"
expect_status 200 "POST /api/publish to g:team" POST /api/publish \
  '{"to":"g:team","from":"alice","cmid":"ops-2","body":{"text":"hello team"}}' "${auth[@]}"
expect_status 200 "GET /api/history" GET "/api/history?conv=g:team&limit=10" '' "${auth[@]}"
expect_status 401 "API call without the key" GET "/api/groups/team"
expect_status 404 "unknown path" GET /no-such-path

if ! curl -sS --max-time 10 -o "$TMP/metrics" -D "$TMP/headers" \
    "http://127.0.0.1:$SERVER_PORT/metrics"; then
  fail "GET /metrics failed"
fi
grep -qi '^content-type: text/plain' "$TMP/headers" ||
  fail "/metrics Content-Type is not text/plain: $(grep -i '^content-type' "$TMP/headers")"
echo "metrics: $(grep -c '^longlink_' "$TMP/metrics") samples, $(grep -c '^# TYPE' "$TMP/metrics") families"

if promtool check metrics <"$TMP/metrics" >"$TMP/promtool.out" 2>&1 && [[ ! -s $TMP/promtool.out ]]; then
  ok "promtool check metrics: exit 0, no problems"
else
  fail "promtool check metrics: $(cat "$TMP/promtool.out")"
fi

# sum NAME: the sum of a metric's samples over every label set.
sum() {
  awk -v n="$1" '$1 == n || index($1, n "{") == 1 {s += $2} END {printf "%d\n", s}' "$TMP/metrics"
}
grep -q '^# TYPE longlink_' "$TMP/metrics" || fail "no longlink_ metric families"
for m in longlink_http_requests_total longlink_http_errors_total longlink_connections_accepted_total; do
  grep -q "^# TYPE $m counter" "$TMP/metrics" || fail "$m is not declared a counter"
done
# 8 requests before the scrape, the scrape itself may or may not be counted.
reqs=$(sum longlink_http_requests_total)
errs=$(sum longlink_http_errors_total)
((reqs >= 8)) && ok "longlink_http_requests_total = $reqs (8 requests made)" ||
  fail "longlink_http_requests_total = $reqs, expected at least 8"
((errs >= 2)) && ok "longlink_http_errors_total = $errs (a 401 and a 404 made)" ||
  fail "longlink_http_errors_total = $errs, expected at least 2"

stop_server
finish

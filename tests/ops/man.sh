#!/usr/bin/env bash
# ops:man: man/longlink.1 renders without a warning (groff -ww, man -l, and
# mandoc -Tlint when installed) and documents, as an entry of OPTIONS, every
# option that `longlink --help` prints and every option of PROTOCOL.md
# section 10; the token subcommand's options are in COMMANDS.
#   bash tests/ops/man.sh PATH/TO/longlink
set -uo pipefail
source "$(dirname "$0")/common.sh"
BIN=${1:-}
need_binary "$BIN"
PAGE=$ROOT/man/longlink.1
[[ -f $PAGE ]] || die "$PAGE is missing"
command -v groff >/dev/null || die "groff is not installed (make deps installs groff-base)"
command -v man >/dev/null || die "man is not installed (make deps installs man-db)"

# 1. Rendering. Any diagnostic on stderr is a failure.
if groff -man -Tutf8 -ww -z "$PAGE" 2>"$TMP/groff.err" && [[ ! -s $TMP/groff.err ]]; then
  ok "groff -man -Tutf8 -ww: no warnings"
else
  fail "groff warnings: $(cat "$TMP/groff.err")"
fi
if MANWIDTH=80 man --warnings -l "$PAGE" >"$TMP/man.txt" 2>"$TMP/man.err" &&
    [[ ! -s $TMP/man.err ]] && [[ $(wc -l <"$TMP/man.txt") -gt 100 ]]; then
  ok "man -l renders $(wc -l <"$TMP/man.txt") lines, no warnings"
else
  fail "man -l: $(cat "$TMP/man.err") ($(wc -l <"$TMP/man.txt") lines)"
fi
if command -v mandoc >/dev/null; then
  # -W warning: style notes pass, warnings and errors fail.
  if mandoc -Tlint -W warning "$PAGE" >"$TMP/mandoc.txt" 2>&1; then
    ok "mandoc -Tlint: clean"
  else
    fail "mandoc -Tlint: $(cat "$TMP/mandoc.txt")"
  fi
else
  echo "note: mandoc not installed; lint skipped (make deps installs it)"
fi

# 2. Plain-text rendering, for the content checks: no overstrike, no SGR.
groff -man -Tascii -P-c -P-b -P-u "$PAGE" 2>/dev/null | col -bx >"$TMP/page.txt"

# section NAME: the lines of one top-level section of the rendered page.
section() {
  awk -v s="$1" '/^[A-Z][A-Z ]*$/ {on = ($0 == s); next} on' "$TMP/page.txt"
}
for s in NAME SYNOPSIS DESCRIPTION OPTIONS COMMANDS PROTOCOL SIGNALS FILES ENVIRONMENT \
    "EXIT STATUS" EXAMPLES; do
  [[ -n $(section "$s") ]] || fail "section $s is missing or empty"
done

# The options an entry documents: the tag lines of a section's .TP entries
# (7 spaces, then the option, "-h, --help" naming two), with the body either
# on the next line indented 14 or on the same line from column 15. An option
# merely starting a paragraph is not an entry.
tags() {
  section "$1" | awk '
    function tag(l, nxt) {
      if (l !~ /^       -/) return 0
      if (nxt ~ /^              [^ ]/) return 1
      return substr(l, 14, 1) == " " && substr(l, 15, 1) ~ /[^ ]/
    }
    NR > 1 && tag(prev, $0) {print prev}
    {prev = $0}
    END {if (tag(prev, "")) print prev}' |
    grep -oE -- '(^|[ ,])-(-[a-z][a-z0-9-]*|[a-z])\b' | sed -E 's/^[ ,]*//' | sort -u
}
tags OPTIONS >"$TMP/documented"
tags COMMANDS >"$TMP/documented_token"
[[ -s $TMP/documented ]] || fail "no option entries found in OPTIONS"

# help_options ARGS...: the options of `longlink ARGS --help`.
help_options() {
  "$BIN" "$@" --help | grep -E '^  +-' | grep -oE -- '(^|[ ,])-(-[a-z][a-z0-9-]*|[a-z])\b' |
    sed -E 's/^[ ,]*//' | sort -u
}
help_options >"$TMP/help" || fail "longlink --help failed"
help_options token >"$TMP/help_token" || fail "longlink token --help failed"
[[ $(wc -l <"$TMP/help") -ge 20 ]] || fail "longlink --help listed only $(wc -l <"$TMP/help") options"

missing=$(comm -23 "$TMP/help" "$TMP/documented")
if [[ -z $missing ]]; then
  ok "all $(wc -l <"$TMP/help") options of longlink --help have an OPTIONS entry"
else
  fail "options printed by --help without an OPTIONS entry: $(echo $missing)"
fi
# The token subcommand: its options named in the COMMANDS entry.
missing=""
for o in $(cat "$TMP/help_token"); do
  section COMMANDS | grep -qE -- "(^|[^a-z-])$o([^a-z-]|$)" || missing+=" $o"
done
if [[ -z $missing ]]; then
  ok "all $(wc -l <"$TMP/help_token") options of longlink token --help are in COMMANDS"
else
  fail "options of longlink token --help missing from COMMANDS:$missing"
fi

# PROTOCOL.md section 10 (the contract; kept in shared/ beside the repository).
PROTOCOL=${PROTOCOL_MD:-$ROOT/../shared/PROTOCOL.md}
if [[ -f $PROTOCOL ]]; then
  awk '/^## 10\./ {on = 1; next} /^## / {on = 0} on && /^\|/' "$PROTOCOL" |
    grep -oE -- '--[a-z][a-z0-9-]*' | sort -u >"$TMP/protocol"
  missing=$(comm -23 "$TMP/protocol" "$TMP/documented")
  if [[ -s $TMP/protocol && -z $missing ]]; then
    ok "all $(wc -l <"$TMP/protocol") options of PROTOCOL.md section 10 have an OPTIONS entry"
  else
    fail "PROTOCOL.md section 10 options without an OPTIONS entry: $(echo $missing)"
  fi
else
  echo "note: $PROTOCOL not found; section 10 cross-check skipped"
fi

# Environment, signals and exit statuses the binary relies on.
for w in LONGLINK_JWT_SECRET LONGLINK_API_KEY; do
  section ENVIRONMENT | grep -q "$w" || fail "ENVIRONMENT does not describe $w"
done
for w in SIGTERM SIGINT SIGHUP 1001; do
  section SIGNALS | grep -q "$w" || fail "SIGNALS does not mention $w"
done
for w in 0 1 2; do
  section "EXIT STATUS" | grep -qE "^       $w( |$)" || fail "EXIT STATUS has no entry for $w"
done
version=$("$BIN" --version | awk '{print $2}')
if head -n1 "$TMP/page.txt" | grep -q . && grep -q "longlink $version" "$TMP/page.txt"; then
  ok "the page footer names version $version"
else
  fail "the page does not name the binary's version $version (.TH line)"
fi

finish

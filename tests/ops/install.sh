#!/usr/bin/env bash
# ops:install: `make install-files` (what `make install` runs after building)
# with DESTDIR and PREFIX puts exactly the binary, the man page and the
# systemd unit under DESTDIR/PREFIX, the unit's ExecStart names the installed
# binary, and `make uninstall` removes all three. It installs the binary given
# (BIN=) and never builds, so it does not touch the build directory ctest
# runs in.
#   bash tests/ops/install.sh PATH/TO/longlink
set -uo pipefail
source "$(dirname "$0")/common.sh"
BIN=${1:-}
need_binary "$BIN"
command -v make >/dev/null || die "make is not installed"

# check_install PREFIX: installs into a fresh DESTDIR and checks the result.
check_install() {
  local prefix=$1 dest
  dest=$(mktemp -d "$TMP/dest.XXXXXX")
  if ! make -s -C "$ROOT" --no-print-directory install-files BIN="$BIN" DESTDIR="$dest" \
      PREFIX="$prefix" >"$TMP/make.log" 2>&1; then
    fail "make install-files PREFIX=$prefix failed: $(cat "$TMP/make.log")"
    return
  fi
  local bin=$dest$prefix/bin/longlink
  local page=$dest$prefix/share/man/man1/longlink.1
  local unit=$dest$prefix/lib/systemd/system/longlink.service

  # Exactly these three files, nothing outside DESTDIR/PREFIX.
  local want got
  want=$(printf '%s\n' "$bin" "$page" "$unit" | sort)
  got=$(find "$dest" -type f -o -type l | sort)
  if [[ $got == "$want" ]]; then
    ok "PREFIX=$prefix: installed exactly bin/longlink, share/man/man1/longlink.1, lib/systemd/system/longlink.service"
  else
    fail "PREFIX=$prefix: files installed: $(echo $got | sed "s|$dest||g"), expected $(echo $want | sed "s|$dest||g")"
  fi

  # The binary: the one given, executable, runs.
  if [[ -x $bin ]] && cmp -s "$bin" "$BIN" && "$bin" --version | grep -q '^longlink '; then
    ok "PREFIX=$prefix: binary installed 0755 and runs ($("$bin" --version))"
  else
    fail "PREFIX=$prefix: $bin missing, not executable, different from $BIN, or --version failed"
  fi
  [[ $(stat -c %a "$bin" 2>/dev/null) == 755 ]] || fail "PREFIX=$prefix: binary mode is not 0755"

  # The man page: byte-identical, mode 0644, found by man in that tree.
  if cmp -s "$page" "$ROOT/man/longlink.1" && [[ $(stat -c %a "$page") == 644 ]] &&
      [[ $(man -w -M "$dest$prefix/share/man" longlink 2>/dev/null) == "$page" ]]; then
    ok "PREFIX=$prefix: man page installed 0644, found by man -M"
  else
    fail "PREFIX=$prefix: man page missing, changed, wrong mode, or not found by man -w -M"
  fi

  # The unit: mode 0644; the source unit with only ExecStart's path changed.
  [[ $(stat -c %a "$unit" 2>/dev/null) == 644 ]] || fail "PREFIX=$prefix: unit mode is not 0644"
  local exec
  exec=$(grep '^ExecStart=' "$unit")
  if [[ $(grep -c '^ExecStart=' "$unit") == 1 && $exec == "ExecStart=$prefix/bin/longlink "* ]]; then
    ok "PREFIX=$prefix: ${exec%% *} points at the installed binary"
  else
    fail "PREFIX=$prefix: ExecStart does not point at $prefix/bin/longlink: $exec"
  fi
  if diff <(grep -v '^ExecStart=' "$ROOT/dist/longlink.service") <(grep -v '^ExecStart=' "$unit") \
      >"$TMP/unit.diff" && [[ ${exec#ExecStart="$prefix"/bin/longlink } == \
      "$(sed -n 's|^ExecStart=[^ ]* ||p' "$ROOT/dist/longlink.service")" ]]; then
    ok "PREFIX=$prefix: the unit is dist/longlink.service with only the binary path changed"
  else
    fail "PREFIX=$prefix: the installed unit differs from dist/longlink.service: $(cat "$TMP/unit.diff")"
  fi

  # Uninstall removes all three.
  if make -s -C "$ROOT" --no-print-directory uninstall DESTDIR="$dest" PREFIX="$prefix" \
      >"$TMP/make.log" 2>&1 && [[ -z $(find "$dest" -type f) ]]; then
    ok "PREFIX=$prefix: make uninstall removed every installed file"
  else
    fail "PREFIX=$prefix: make uninstall left: $(find "$dest" -type f) $(cat "$TMP/make.log")"
  fi
}

check_install /usr
check_install /usr/local
check_install /opt/longlink
finish

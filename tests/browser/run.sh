#!/usr/bin/env bash
# browser:chat (ctest): the web client in Debian's chromium, driven by
# playwright-core, against the longlink binary given as $1.
#   tests/browser/run.sh build/longlink [chat.test.mjs options]
# Installs what it needs: chromium with apt when missing (root, or sudo
# without a password), playwright-core with `npm ci` from the pinned
# package-lock.json (again only when the lock changed). Exits 77, which
# ctest reports as skipped, only when chromium cannot be installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
binary=${1:?usage: run.sh LONGLINK_BINARY [options]}
shift
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

if [ ! -x "$CHROMIUM" ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  echo "browser:chat: $CHROMIUM missing; installing Debian's chromium"
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
         $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=300 chromium >/dev/null; } ||
     [ ! -x "$CHROMIUM" ]; then
    echo "browser:chat: SKIPPED: chromium is not installable here"
    exit 77
  fi
fi
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "browser:chat: $tool not found (make deps installs it)"; exit 1; }
done

# npm ci only when node_modules does not match the lockfile.
stamp="$here/node_modules/.longlink-lock.sha256"
want=$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --prefix "$here" --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi

exec node "$here/chat.test.mjs" --binary "$binary" "$@"

#!/usr/bin/env bash
# Installs Debian's `chromium` package when it is missing, for the browser
# tests of e2e/ (playwright-core drives it; no browser download from the
# Playwright CDN). A no-op when the browser is already there, so `npm test`
# can call it on every run.
#
#   bash scripts/ensure-chromium.sh
#
# Configuration (environment):
#   CHROMIUM_PATH   the browser the tests launch (default /usr/bin/chromium);
#                   when set to another existing file nothing is installed
#   ARCADIA_HOME    state dir for the apt log (default <repo>/.arcadia)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
STATE_DIR="${ARCADIA_HOME:-$REPO_ROOT/.arcadia}"
[[ $STATE_DIR == /* ]] || STATE_DIR="$PWD/$STATE_DIR"
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"

export DEBIAN_FRONTEND=noninteractive

LOG_TAG=chromium
# shellcheck source=../lib/shell.sh
source "$SCRIPT_DIR/lib/shell.sh"

if [[ -x $CHROMIUM ]]; then exit 0; fi
[[ $CHROMIUM == /usr/bin/chromium ]] || die "CHROMIUM_PATH=$CHROMIUM is not an executable file"
command -v apt-get >/dev/null 2>&1 || die "chromium is missing and there is no apt-get to install it"

mkdir -p "$STATE_DIR/logs"
aptlog="$STATE_DIR/logs/apt-chromium.log"
log "installing Debian package chromium (log: $aptlog)"
install() { as_root apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 chromium; }
{
  # A fresh machine has no package lists (or stale ones naming versions the
  # mirror no longer has): update only when the install cannot go without it.
  if ! apt-cache show chromium >/dev/null 2>&1 || ! install; then
    as_root apt-get update -qq && install
  fi
} >"$aptlog" 2>&1 || {
  tail -n 40 "$aptlog" >&2 || true
  die "apt-get install chromium failed"
}
[[ -x $CHROMIUM ]] || die "chromium installed, but $CHROMIUM is still missing"
log "$("$CHROMIUM" --version 2>/dev/null || echo chromium) installed"

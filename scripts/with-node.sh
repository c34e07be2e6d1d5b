#!/usr/bin/env bash
# Runs a command with another major version of Node.js first on PATH:
#
#   bash scripts/with-node.sh 24 npm test
#   bash scripts/with-node.sh 24 node --version
#
# The binary comes from the npm registry's `node-linux-<arch>` package (the
# official build, published by the Node.js project; the registry is the one
# download source every machine of this project reaches) and is cached in
# $ARCADIA_CACHE/node-<major> (default ~/.cache/arcadia). A cached binary is
# used as it is for a week, then the newest release of that major is looked
# up again; if the registry does not answer, the cached one still runs.
# npm and npx stay the machine's; they run on whichever `node` is first on PATH.
set -euo pipefail

die() {
  printf '[with-node] ERROR: %s\n' "$*" >&2
  exit 1
}

(($# >= 2)) || die "usage: with-node.sh MAJOR COMMAND [ARGS...]"
major=$1
shift
[[ $major =~ ^[0-9]+$ ]] || die "MAJOR must be a number, got '$major'"

case $(uname -m) in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) die "no node-linux package for $(uname -m)" ;;
esac
pkg="node-linux-$arch"
cache="${ARCADIA_CACHE:-${HOME:-/root}/.cache/arcadia}"
dir="$cache/node-$major"
bin="$dir/node_modules/$pkg/bin"

fresh() { [[ -x $bin/node ]] && [[ -n $(find "$bin/node" -mtime -7 2>/dev/null) ]]; }

if ! fresh; then
  mkdir -p "$cache"
  # One download at a time (CI and a developer may start together).
  exec 9>"$cache/node-$major.lock"
  flock -w 600 9 || die "timed out waiting for $cache/node-$major.lock"
  if ! fresh; then
    tmp=$(mktemp -d "$cache/node-$major.XXXXXX")
    chmod 755 "$tmp"
    printf '[with-node] fetching %s@%s from the npm registry into %s\n' "$pkg" "$major" "$dir" >&2
    if (cd "$tmp" && npm install --prefix "$tmp" --no-audit --no-fund --no-package-lock \
      --loglevel=error "$pkg@$major" >&2) && "$tmp/node_modules/$pkg/bin/node" --version >/dev/null; then
      rm -rf "$dir.old"
      if [[ -d $dir ]]; then mv "$dir" "$dir.old"; fi
      mv "$tmp" "$dir"
      rm -rf "$dir.old"
      touch "$bin/node"
    else
      rm -rf "$tmp"
      [[ -x $bin/node ]] || die "could not fetch $pkg@$major"
      printf '[with-node] registry unreachable; using the cached %s\n' "$("$bin/node" --version)" >&2
    fi
  fi
  exec 9>&-
fi

version=$("$bin/node" --version)
[[ $version == "v$major."* ]] || die "$bin/node is $version, not Node.js $major"
export PATH="$bin:$PATH"
# npm reads its own `node` from PATH; nothing else to switch.
exec "$@"

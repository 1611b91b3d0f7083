#!/bin/sh
# The benchmark's non-Python tools from Debian packages, if missing: h2load (nghttp2-client) and
# redis-server (the peer).
set -eu
exec "$(dirname "$0")/../tools/ensure_debian_tools.sh" h2load:nghttp2-client redis-server:redis-server

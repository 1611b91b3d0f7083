"""The stderr relay behind the failed-handshake count: every byte reaches stderr, each marker counts once."""

from __future__ import annotations

import subprocess
import sys

RELAY = """
import os
from risklist_server.process.handshake_log import FAILED, HandshakeLog
relay = HandshakeLog().start()
os.write(2, b"I1202 ssl_transport_security.cc:2563] Handshake failed with error SSL_ERROR_SSL\\n")
os.write(2, b"other line\\nI1202 x] Hands")
os.write(2, b"hake failed: split across two writes\\n")
print("python's own stderr line", file=__import__("sys").stderr, flush=True)
relay.stop()
print(int(FAILED._value.get()))
"""


def test_the_relay_passes_everything_through_and_counts_each_failed_handshake_once() -> None:
    """Lines written to descriptor 2 arrive on the real stderr in order; two markers (one split) count as two."""
    done = subprocess.run([sys.executable, "-c", RELAY], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2"
    assert done.stderr == ("I1202 ssl_transport_security.cc:2563] Handshake failed with error SSL_ERROR_SSL\n"
                           "other line\nI1202 x] Handshake failed: split across two writes\n"
                           "python's own stderr line\n")

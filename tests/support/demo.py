"""The `make serve` demo for tests: the Makefile's own demo-store and demo-certs steps, then the server serve runs."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from risklist_server.process.launch import LaunchedServer, launch
from seeds.generate import TODAY
from tests.support.paths import REPO

PARTNERS = REPO / "docs" / "examples" / "partners.toml"
"""The demo network's members (the Makefile's PARTNERS)."""

SERVE_ADDRESS, SERVE_ADMIN_ADDRESS = "127.0.0.1:50051", "127.0.0.1:50052"
"""Where `make serve` listens (the Makefile's LISTEN and ADMIN); a test demo listens on free ports instead."""


@dataclass
class Demo:
    """A demo network as `make serve` leaves it, under `root` instead of the checkout.

    `root/.demo` holds what the Makefile builds (the store, the secret, the certificates, the anchored seeds)
    and `root/.venv` is the running interpreter's environment, so a command written for a checkout
    (`.venv/bin/risklist-check … --ca .demo/certs/ca.pem`) runs unchanged in `root`. Only the addresses differ.
    """

    root: Path
    anchor: date
    server: LaunchedServer

    @property
    def files(self) -> Path:
        return self.root / ".demo"

    @property
    def address(self) -> str:
        return self.server.address

    @property
    def admin_address(self) -> str:
        return self.server.admin_address

    @property
    def days_after_seeds(self) -> int:
        """How many days later the demo's dates are than the committed seeds' (anchored at seeds' TODAY)."""
        return (self.anchor - TODAY).days

    def stop(self) -> None:
        self.server.terminate()


def utc_today() -> date:
    """The date `make serve` anchors the seeds at (generate.py --anchor today)."""
    return datetime.now(UTC).date()


def start_demo(root: Path, anchor: date) -> Demo:
    """Build the demo as `make serve` does (its demo-store and demo-certs targets, seeds dated as of `anchor`)
    and start its server the way serve does: mutual TLS, the demo partners, default workers; free ports."""
    files, venv = root / ".demo", Path(sys.executable).parent.parent
    root.mkdir(parents=True, exist_ok=True)
    (root / ".venv").symlink_to(venv, target_is_directory=True)
    built = subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), "-o", "install", f"DEMO={files}",
         f"BIN={venv / 'bin'}", f"ANCHOR={anchor.isoformat()}", "demo-store", "demo-certs"],
        capture_output=True, text=True, timeout=300, check=False)
    if built.returncode != 0:
        raise AssertionError(f"make demo-store demo-certs failed ({built.returncode}):\n{built.stdout[-3000:]}\n"
                             f"{built.stderr[-3000:]}")
    certs = files / "certs"
    server = launch(files / "db", files / "network.secret", (
        "--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key"),
        "--client-ca", str(certs / "ca.pem"), "--partners", str(PARTNERS)))
    # No wait for the writer's expiry sweep: the seeds' rows that had expired by the anchor were never added (the
    # loader counts them as expired), and none of the others expires within days of it, so the sweep purges
    # nothing and the examples see the loads' own list version (6) from the start, as a person would.
    return Demo(root, anchor, server)

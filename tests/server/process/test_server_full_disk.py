"""risklist-server on a full disk: one clear line at shutdown, no temp file left, and a restart serves."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from risklist_kernel.secret import NetworkSecret
from tests.support.admin_ingest import PHONE, ingest_phone
from tests.support.running_server import BIN, start_server
from tests.support.small_disk import small_disk


def test_a_full_disk_at_shutdown_is_one_line_and_a_restart_serves(
    tmp_path: Path, secret_file: Path, secret: NetworkSecret
) -> None:
    """The writer cannot save its front on a full disk: it says so in one line, without a traceback,
    leaves no .tmp file, and once space is freed the server starts and still answers LISTED."""
    with small_disk(tmp_path / "disk", size="4m") as disk:
        db = disk.path / "db"
        server = start_server(db, secret_file)
        ingest_phone(server.admin_address, secret)
        disk.fill()
        server.terminate()
        output = server.output()
        assert "Traceback" not in output, output
        errors = [line for line in output.splitlines() if "error" in line and "No space left on device" in line]
        assert len(errors) == 1, output
        assert disk.leftovers(db) == []

        disk.free()
        restarted = start_server(db, secret_file)
        try:
            checked = subprocess.run(
                [str(BIN / "risklist-check"), "--insecure", "--server", restarted.address, "--type", "phone", PHONE,
                 "--json"], capture_output=True, text=True, timeout=60, check=False)
            assert json.loads(checked.stdout)["listed"] is True, checked.stderr
        finally:
            restarted.terminate()

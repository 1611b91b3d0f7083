"""Every answer that carries a list version also names the list it counts (the store's id), the same on both ports
of a server, and another store's differs: what lets a partner's SDK tell it reached another list."""

from __future__ import annotations

from pathlib import Path

from tests.support.list_ids import list_ids
from tests.support.running_server import start_server


def test_a_server_names_one_list_everywhere_and_another_store_another(tmp_path: Path, secret_file: Path) -> None:
    first = start_server(tmp_path / "first", secret_file, "--workers", "2")
    try:
        (first_id,) = list_ids(first.address, first.admin_address)
    finally:
        first.terminate()
    second = start_server(tmp_path / "second", secret_file)
    try:
        (second_id,) = list_ids(second.address, second.admin_address)
    finally:
        second.terminate()
    assert first_id and second_id and first_id != second_id

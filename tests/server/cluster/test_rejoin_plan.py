"""When a node restores the cluster's checkpoint at start, and when it refuses to start rather than miss entries."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from risklist_server.cluster.checkpoint_archive import pack_backup, unpack_backup
from risklist_server.cluster.checkpoint_bucket import CheckpointInfo
from risklist_server.cluster.rejoin import restore_checkpoint, restore_reason
from risklist_server.core.errors import StoreError
from risklist_server.store.risk_store import RiskStore, init_store
from risklist_server.store.stored_position import StoredPosition

NETWORK = "net-fingerprint"


def _checkpoint(log_position: int, network: str = NETWORK) -> CheckpointInfo:
    return CheckpointInfo(log_position=log_position, list_version=log_position, secret_fingerprint=network,
                          list_id="list", node_id="a", created_at=0)


def _store(log_position: int, version: int | None = None) -> StoredPosition:
    return StoredPosition(list_version=log_position if version is None else version, log_position=log_position,
                          list_id="list")


@given(first=st.integers(1, 10**6), covered=st.integers(0, 10**6))
def test_a_new_store_restores_any_checkpoint_there_is(first: int, covered: int) -> None:
    assert restore_reason(None, first, _checkpoint(covered), network=NETWORK) == "new store"
    assert restore_reason(_store(0), first, _checkpoint(covered), network=NETWORK) == "new store"


def test_a_new_store_without_a_checkpoint_applies_the_whole_log_while_it_holds_its_first_entry() -> None:
    assert restore_reason(None, 1, None, network=NETWORK) is None
    with pytest.raises(StoreError, match="no longer holds its first entries"):
        restore_reason(None, 2, None, network=NETWORK)


@given(position=st.integers(1, 10**6), first=st.integers(1, 10**6))
def test_a_store_whose_next_entry_the_log_holds_starts_as_it_is(position: int, first: int) -> None:
    if position + 1 >= first:
        assert restore_reason(_store(position), first, _checkpoint(0), network=NETWORK) is None


def test_a_store_behind_the_logs_retention_restores_a_checkpoint_that_reaches_the_log() -> None:
    assert restore_reason(_store(5), 10, _checkpoint(9), network=NETWORK) == "behind the log's retention"
    with pytest.raises(StoreError, match="no checkpoint reaching it"):
        restore_reason(_store(5), 10, _checkpoint(7), network=NETWORK)  # entries 8 and 9 would be missing
    with pytest.raises(StoreError, match="no checkpoint reaching it"):
        restore_reason(_store(5), 10, None, network=NETWORK)


def test_a_checkpoint_of_another_network_is_never_restored() -> None:
    with pytest.raises(StoreError, match="another network secret"):
        restore_reason(None, 1, _checkpoint(3, network="other"), network=NETWORK)


@given(info=st.builds(CheckpointInfo, st.integers(0, 2**63), st.integers(0, 2**63), st.text(), st.text(),
                      st.text(), st.integers(0, 2**40)))
def test_a_checkpoints_description_reads_back_as_written(info: CheckpointInfo) -> None:
    assert CheckpointInfo.from_description(info.to_description()) == info


@pytest.mark.parametrize("description", [None, "", "{}", '{"format": "risklist-checkpoint-9"}', "[1]"])
def test_a_description_this_node_cannot_read_is_one_clear_error(description: str | None) -> None:
    with pytest.raises(StoreError, match="not one this node can read"):
        CheckpointInfo.from_description(description)


def test_an_archive_unpacks_to_the_backup_it_packed(tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    (backup / "store").mkdir(parents=True)
    (backup / "store" / "000001.sst").write_bytes(b"x" * 1000)
    (backup / "COMPLETE").write_text("done\n")
    pack_backup(backup, tmp_path / "archive.tar")
    unpack_backup(tmp_path / "archive.tar", tmp_path / "out")
    assert (tmp_path / "out" / "store" / "000001.sst").read_bytes() == b"x" * 1000
    assert (tmp_path / "out" / "COMPLETE").read_text() == "done\n"


def test_an_archive_naming_a_path_outside_is_refused(tmp_path: Path) -> None:
    """Whoever could publish to the bucket, the archive cannot write outside the restore's directory."""
    with tarfile.open(tmp_path / "evil.tar", "w") as evil:
        member = tarfile.TarInfo("../escaped")
        member.size = 3
        evil.addfile(member, io.BytesIO(b"bad"))
    with pytest.raises(StoreError, match="cannot be unpacked"):
        unpack_backup(tmp_path / "evil.tar", tmp_path / "out")
    assert not (tmp_path / "escaped").exists()


class _Archive:
    """A checkpoint source handing out one archive file."""

    def __init__(self, archive: Path) -> None:
        self._archive = archive

    def download(self, into: Path) -> CheckpointInfo:
        into.write_bytes(self._archive.read_bytes())
        return _checkpoint(1)


def test_a_restore_that_fails_after_the_old_store_moved_aside_says_where_it_is(tmp_path: Path) -> None:
    """The checkpoint's files do not match its manifest: the node does not start, nothing is lost, and the message
    names where its former store went."""
    source = RiskStore(tmp_path / "source", secret_fingerprint=NETWORK, create=True)
    try:
        source.backup(tmp_path / "backup")
    finally:
        source.close()
    damaged = next(path for path in (tmp_path / "backup" / "store").iterdir() if path.suffix == ".sst")
    damaged.write_bytes(damaged.read_bytes() + b"x")
    pack_backup(tmp_path / "backup", tmp_path / "checkpoint.tar")
    init_store(tmp_path / "db", NETWORK)
    with pytest.raises(StoreError, match=r"this node's former store is at .*db\.replaced-") as failed:
        restore_checkpoint(_Archive(tmp_path / "checkpoint.tar"), tmp_path / "db", _store(5), network=NETWORK)
    aside = Path(str(failed.value).rsplit(" is at ", 1)[1])
    assert (aside / "CURRENT").exists() and not (tmp_path / "db").exists()

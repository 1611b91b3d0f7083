"""The connection cap keeps the store's descriptor reserve; message limits fit the largest legal request."""

from __future__ import annotations

import pytest
from risklist.v1 import risklist_pb2 as pb

from risklist_loader.cli import MAX_BATCH_SIZE
from risklist_server.core.errors import ConfigError
from risklist_server.process.fd_limit import budget
from risklist_server.rpc.message_limits import ADMIN_MAX_MUTATIONS, partner_max_receive_bytes


def test_the_connection_cap_keeps_the_reserve_free() -> None:
    """Connections never take the descriptors reserved for the store and the admin port."""
    assert budget(1024, reserve=512, max_connections=4096, admin_connections=64).max_connections == 448
    assert budget(1 << 20, reserve=1024, max_connections=4096, admin_connections=64).max_connections == 4096


def test_too_small_a_limit_is_refused_with_the_fix() -> None:
    """A limit that leaves almost nothing for connections stops the start with what to change."""
    with pytest.raises(ConfigError, match="--fd-reserve"):
        budget(1100, reserve=1024, max_connections=4096, admin_connections=64)


def test_the_partner_limit_admits_the_largest_legal_batch() -> None:
    """A BatchCheck of max_batch longest subjects fits the partner port's limit; one more batch's worth does not."""
    batch = pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_EMAIL, value="x" * 256)] * 1000)
    assert batch.ByteSize() <= partner_max_receive_bytes(1000) < 3 * batch.ByteSize()


def test_the_admin_limit_follows_the_loaders_largest_batch() -> None:
    """The admin port's limit is sized for risklist-load's largest --batch-size."""
    assert ADMIN_MAX_MUTATIONS == MAX_BATCH_SIZE

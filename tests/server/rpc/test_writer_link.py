"""The writer link: a private unix socket carrying write calls and the caller to the writer (server/rpc/writer_link)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.rpc import code_pb2, error_details_pb2
from risklist.v1 import risklist_pb2 as pb

from risklist_server.core.errors import ConfigError, InvalidSubjects
from risklist_server.core.partners import Role
from risklist_server.rpc.access.caller import Caller
from risklist_server.rpc.status import ForwardedStatus
from risklist_server.rpc.write_calls import WriteCall
from risklist_server.rpc.writer_link import ForwardedWrites, create_writer_link

SEEN: list[tuple[str, frozenset[Role], str]] = []


def _revoke(caller: Caller, request_id: str, request: pb.RevokeRequest) -> pb.RevokeResponse:
    SEEN.append((caller.partner, caller.roles, request_id))
    if request.category == pb.CATEGORY_OTHER:
        raise InvalidSubjects([("category", "not this one")])
    return pb.RevokeResponse(removed=len(request.subjects), request_id=request_id)


@pytest.fixture()
def run_dir() -> Iterator[Path]:
    # Short and private, like the supervisor's (a unix socket path has at most 107 bytes).
    path = Path(tempfile.mkdtemp(prefix="rl-link-"))
    yield path
    for child in path.iterdir():
        child.unlink()
    path.rmdir()


def test_a_forwarded_call_carries_the_caller_and_brings_back_the_version(run_dir: Path) -> None:
    """The writer's handler sees the forwarding worker's caller and request id; the worker learns the version."""
    server, _ = create_writer_link(run_dir, {"Revoke": WriteCall(pb.RevokeRequest, pb.RevokeResponse, _revoke)},
                                   lambda: 42)
    server.start()
    acknowledged: list[int] = []
    writes = ForwardedWrites(run_dir, on_acknowledged=acknowledged.append)
    try:
        caller = Caller("bank-a", frozenset({Role.CONTRIBUTE}))
        request = pb.RevokeRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_PHONE, value="1")])
        response = writes.submit("Revoke", caller, "r" * 24, request, pb.RevokeResponse, timeout=5)
        assert (response.removed, response.request_id) == (1, "r" * 24)
        assert SEEN[-1] == ("bank-a", frozenset({Role.CONTRIBUTE}), "r" * 24)
        assert acknowledged == [42]
        with pytest.raises(ForwardedStatus) as caught:
            writes.submit("Revoke", caller, "s" * 24, pb.RevokeRequest(category=pb.CATEGORY_OTHER),
                          pb.RevokeResponse, timeout=5)
        status = caught.value.status
        detail = error_details_pb2.BadRequest()
        assert status.code == code_pb2.INVALID_ARGUMENT and status.details[0].Unpack(detail)
        assert [v.field for v in detail.field_violations] == ["category"]
    finally:
        writes.close()
        server.stop(None).wait()


def test_a_writer_that_does_not_answer_is_a_retryable_unavailable(run_dir: Path) -> None:
    """With no writer behind the socket, a forwarded call ends UNAVAILABLE once its deadline passes."""
    writes = ForwardedWrites(run_dir)
    try:
        with pytest.raises(ForwardedStatus) as caught:
            writes.submit("Revoke", Caller("bank-a", frozenset()), "t" * 24, pb.RevokeRequest(), pb.RevokeResponse,
                          timeout=0.3)
    finally:
        writes.close()
    assert caught.value.status.code in (code_pb2.UNAVAILABLE, code_pb2.DEADLINE_EXCEEDED)
    assert "retry" in caught.value.status.message


def test_the_link_refuses_a_directory_others_can_enter(run_dir: Path) -> None:
    """A run directory readable by other users is refused: the socket's trust rests on it being private."""
    os.chmod(run_dir, 0o755)
    with pytest.raises(ConfigError, match="0700"):
        create_writer_link(run_dir, {}, lambda: 0)

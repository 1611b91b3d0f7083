"""All-digest BatchCheck requests read from the wire equal the protobuf path."""

from __future__ import annotations

import secrets

from hypothesis import given
from hypothesis import strategies as st
from risklist.v1 import risklist_pb2 as pb

from risklist_kernel.digest import Digester
from risklist_kernel.identifiers import Normaliser
from risklist_kernel.secret import NetworkSecret
from risklist_server.core.subject import SubjectResolver
from risklist_server.rpc.convert import subjects_from_proto
from risklist_server.rpc.wire_batch import RECORD_SIZE, digest_count, packed_digest_keys

RESOLVER = SubjectResolver(Normaliser(), Digester(NetworkSecret(bytes(range(32)))))


def _subject(entity_type: int, which: str, digest: bytes) -> pb.Subject:
    if which == "digest":
        return pb.Subject(type=entity_type, digest=digest)
    if which == "value":
        return pb.Subject(type=entity_type, value="192.0.2.1")
    return pb.Subject(type=entity_type)


any_subject = st.builds(_subject, st.integers(0, 300), st.sampled_from(["digest", "digest", "value", "none"]),
                        st.binary(min_size=0, max_size=18))
digest_subject = st.builds(pb.Subject, type=st.integers(1, 7), digest=st.binary(min_size=16, max_size=16))


@given(st.lists(any_subject, max_size=12))
def test_wire_keys_are_the_protobuf_keys_or_none(subjects: list[pb.Subject]) -> None:
    """For any request the fast read either declines or gives exactly the keys the general path resolves."""
    wire = pb.BatchCheckRequest(subjects=subjects).SerializeToString()
    keys = packed_digest_keys(wire)
    if keys is not None:
        resolved, errors = RESOLVER.storage_keys(subjects_from_proto(pb.BatchCheckRequest.FromString(wire).subjects))
        assert not errors and keys == b"".join(resolved)


@given(st.lists(digest_subject, min_size=1, max_size=50))
def test_all_digest_requests_take_the_fast_read(subjects: list[pb.Subject]) -> None:
    """A batch of valid client digests is always read from the wire, keys in request order."""
    wire = pb.BatchCheckRequest(subjects=subjects).SerializeToString()
    assert packed_digest_keys(wire) == b"".join(bytes((subject.type,)) + subject.digest for subject in subjects)


def test_a_raw_value_or_bad_digest_anywhere_declines() -> None:
    """One raw value, one 15-byte digest or one unknown type sends the whole batch the general way."""
    good = [pb.Subject(type=1, digest=secrets.token_bytes(16)) for _ in range(3)]
    for odd in (pb.Subject(type=1, value="x"), pb.Subject(type=1, digest=bytes(15)),
                pb.Subject(type=9, digest=bytes(16)), pb.Subject(type=0, digest=bytes(16))):
        assert packed_digest_keys(pb.BatchCheckRequest(subjects=[*good, odd]).SerializeToString()) is None
    assert packed_digest_keys(b"") is None


@given(st.lists(any_subject, max_size=12))
def test_the_digest_count_is_that_of_the_fast_read(subjects: list[pb.Subject]) -> None:
    """digest_count counts exactly the requests the fast read takes, and declines the rest."""
    wire = pb.BatchCheckRequest(subjects=subjects).SerializeToString()
    keys = packed_digest_keys(wire)
    assert digest_count(wire) == (None if keys is None else len(subjects))


def test_a_raw_batch_as_long_as_digest_records_is_not_counted_as_digests() -> None:
    """Raw values whose bytes happen to be a multiple of a digest record's size are not taken for digests."""
    wire = pb.BatchCheckRequest(subjects=[pb.Subject(type=pb.ENTITY_TYPE_EMAIL, value="user0001@example.cn")]
                                * 22).SerializeToString()
    assert len(wire) % RECORD_SIZE == 0 and digest_count(wire) is None

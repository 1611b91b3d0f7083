"""Protobuf to core conversions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from risklist.v1 import risklist_pb2 as pb

from risklist_server.rpc.convert import subject_from_proto, subjects_from_proto


def _message(entity_type: int, which: str, value: str, digest: bytes) -> pb.Subject:
    if which == "value":
        return pb.Subject(type=entity_type, value=value)
    if which == "digest":
        return pb.Subject(type=entity_type, digest=digest)
    return pb.Subject(type=entity_type)


messages = st.builds(_message, st.integers(0, 9), st.sampled_from(["value", "digest", "none"]),
                     st.text(max_size=5), st.binary(max_size=17))


@given(st.lists(messages, max_size=30))
def test_batch_conversion_matches_one_by_one(batch: list[pb.Subject]) -> None:
    """subjects_from_proto equals subject_from_proto per message, empty value/digest included."""
    request = pb.BatchCheckRequest.FromString(pb.BatchCheckRequest(subjects=batch).SerializeToString())
    converted = subjects_from_proto(request.subjects)
    assert converted == [subject_from_proto(message) for message in request.subjects]
    assert all(type(subject).__name__ == "Subject" for subject in converted)
    assert [subject.digest is not None for subject in converted] == [m.HasField("digest") for m in batch]

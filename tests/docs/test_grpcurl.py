"""grpcurl commands of the docs: only mutual-TLS calls the demo can answer are accepted, read as grpcurl would."""

from __future__ import annotations

import pytest
from risklist.v1 import risklist_pb2 as pb

from tests.docs.grpcurl import GrpcurlError, parse_grpcurl, request_of

TLS = "-cacert .demo/certs/ca.pem -cert .demo/certs/east-harbour-bank.pem -key .demo/certs/east-harbour-bank.key"


def test_a_documented_command_is_read_as_grpcurl_reads_it() -> None:
    """Continuation lines, quoted JSON and flags in any order give the files, the request, address and method."""
    call = parse_grpcurl(f"""grpcurl -d '{{"subjects": [
    {{"type": "ENTITY_TYPE_CARD", "value": "4111111111111111"}}]}}' \\
  {TLS} \\
  127.0.0.1:50051 risklist.v1.RiskList/BatchCheck
""")
    assert (call.cacert, call.cert, call.key) == (".demo/certs/ca.pem", ".demo/certs/east-harbour-bank.pem",
                                                  ".demo/certs/east-harbour-bank.key")
    assert (call.address, call.service, call.method) == ("127.0.0.1:50051", "risklist.v1.RiskList", "BatchCheck")
    request = request_of(call)
    assert isinstance(request, pb.BatchCheckRequest)
    assert request.subjects[0].type == pb.ENTITY_TYPE_CARD and request.subjects[0].value == "4111111111111111"


def test_snake_case_names_are_read_too() -> None:
    """grpcurl (and json_format) take the .proto's own field names as well as lowerCamelCase."""
    call = parse_grpcurl(f"grpcurl -d '{{\"since_version\": 7}}' {TLS} 127.0.0.1:50051 "
                         "risklist.v1.RiskList/GetFilterUpdates")
    assert request_of(call) == pb.GetFilterUpdatesRequest(since_version=7)


@pytest.mark.parametrize(("command", "why"), [
    ("grpcurl -plaintext -d '{}' 127.0.0.1:50051 risklist.v1.RiskList/GetNetworkInfo", "mutual TLS only"),
    ("grpcurl -cacert ca.pem -d '{}' 127.0.0.1:50051 risklist.v1.RiskList/GetNetworkInfo", "missing -cert -key"),
    (f"grpcurl {TLS} -d '{{}}' 127.0.0.1:50051 risklist.v1.RiskList/GetFilter | head -c 400", "alone"),
    (f"grpcurl {TLS} -max-time 3 127.0.0.1:50051 risklist.v1.RiskList/GetNetworkInfo", "-max-time"),
    (f"grpcurl {TLS} 127.0.0.1:50051", "ADDRESS SERVICE/METHOD"),
])
def test_commands_that_cannot_reach_the_demo_are_refused_saying_why(command: str, why: str) -> None:
    """-plaintext, missing certificate files, pipes and unknown flags fail with what to write instead."""
    with pytest.raises(GrpcurlError, match=why):
        parse_grpcurl(command)


def test_a_request_that_is_not_the_methods_message_is_refused() -> None:
    """-d JSON naming a field the request does not have fails, naming the message."""
    call = parse_grpcurl(f"grpcurl -d '{{\"subject\": {{}}}}' {TLS} 127.0.0.1:50051 risklist.v1.RiskList/BatchCheck")
    with pytest.raises(GrpcurlError, match="risklist.v1.BatchCheckRequest"):
        request_of(call)
    unknown = parse_grpcurl(f"grpcurl {TLS} 127.0.0.1:50051 risklist.v1.RiskList/Nothing")
    with pytest.raises(GrpcurlError, match="not a method"):
        request_of(unknown)

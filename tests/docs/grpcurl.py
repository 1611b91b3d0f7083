"""A grpcurl command of the docs, made as the same call with Python grpc (grpcurl is not packaged for Debian).

The command is parsed as grpcurl would take it, and only the flags a call to the mutual-TLS demo needs are
accepted: `-cacert FILE -cert FILE -key FILE` (all three), `-d JSON`, then `ADDRESS SERVICE/METHOD`.
`-plaintext`, a pipe or any other flag is refused, with what to write instead. The request JSON is read
by protobuf's json_format (both grpcurl's lowerCamelCase and the .proto's snake_case names, enums by
name), and each answer message is rendered as grpcurl prints it: json_format.MessageToDict with its
defaults, which are grpcurl's (lowerCamelCase names, enums as names, 64-bit integers as strings, bytes as
base64, fields at their default value left out).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from risklist.v1 import risklist_pb2

TLS_FLAGS = {"-cacert": "cacert", "-cert": "cert", "-key": "key"}


class GrpcurlError(AssertionError):
    """A documented grpcurl command that cannot work against the demo, and why."""


@dataclass(frozen=True)
class GrpcurlCall:
    """What a grpcurl command asks: the files for mutual TLS, the request JSON, the address and the method."""

    cacert: str
    cert: str
    key: str
    data: str
    address: str
    service: str
    method: str


def parse_grpcurl(command: str) -> GrpcurlCall:
    """The call `command` makes; GrpcurlError for anything but one mutual-TLS grpcurl call."""
    try:
        words = shlex.split(command.replace("\\\n", " "), comments=True)
    except ValueError as error:
        raise GrpcurlError(f"not a shell command ({error})") from None
    if not words or words[0] != "grpcurl":
        raise GrpcurlError("a grpcurl block holds one grpcurl command")
    files: dict[str, str] = {}
    data, positional = "{}", []
    rest = iter(words[1:])
    for word in rest:
        if word == "-plaintext":
            raise GrpcurlError("-plaintext cannot reach the demo, which speaks mutual TLS only: "
                               "use -cacert .demo/certs/ca.pem -cert .demo/certs/BANK.pem -key .demo/certs/BANK.key")
        if word in TLS_FLAGS or word == "-d":
            value = next(rest, None)
            if value is None:
                raise GrpcurlError(f"{word} needs a value")
            if word == "-d":
                data = value
            else:
                files[TLS_FLAGS[word]] = value
        elif word.startswith("-"):
            raise GrpcurlError(f"flag {word} is not one the tests know (-cacert -cert -key -d); "
                               "keep documented grpcurl commands to those")
        elif word in ("|", ">", "<", "&&", ";"):
            raise GrpcurlError(f"{word!r}: show the grpcurl command alone and its whole output below it")
        else:
            positional.append(word)
    missing = [flag for flag, name in TLS_FLAGS.items() if name not in files]
    if missing:
        raise GrpcurlError(f"missing {' '.join(missing)}: the demo needs a client certificate (mutual TLS)")
    if len(positional) != 2 or "/" not in positional[1]:
        raise GrpcurlError(f"expected ADDRESS SERVICE/METHOD after the flags, got {positional}")
    service, _, method = positional[1].rpartition("/")
    return GrpcurlCall(files["cacert"], files["cert"], files["key"], data, positional[0], service, method)


def _method(call: GrpcurlCall) -> MethodDescriptor:
    package, _, name = call.service.rpartition(".")
    service = risklist_pb2.DESCRIPTOR.services_by_name.get(name) if package == "risklist.v1" else None
    if service is None or call.method not in service.methods_by_name:
        raise GrpcurlError(f"{call.service}/{call.method} is not a method of risklist.v1")
    method: MethodDescriptor = service.methods_by_name[call.method]
    if method.client_streaming:
        raise GrpcurlError(f"{call.method} takes a stream of requests; the tests make unary and server-streaming "
                           "calls only")
    return method


def request_of(call: GrpcurlCall) -> Message:
    """The request message `-d` describes (json_format reads grpcurl's JSON)."""
    method = _method(call)
    try:
        return json_format.Parse(call.data, GetMessageClass(method.input_type)())
    except json_format.ParseError as error:
        raise GrpcurlError(f"-d is not a {method.input_type.full_name} in JSON: {error}") from None


def invoke(call: GrpcurlCall, channel: grpc.Channel, request: Message, timeout: float = 30) -> list[dict[str, Any]]:
    """Make the call on `channel`; every answer message as grpcurl prints it. GrpcurlError on an RPC error."""
    method = _method(call)
    reply = GetMessageClass(method.output_type)
    path = f"/{call.service}/{call.method}"
    try:
        if method.server_streaming:
            stream = channel.unary_stream(path, request_serializer=_serialize,
                                          response_deserializer=reply.FromString)(request, timeout=timeout)
            messages: list[Message] = list(_each(stream))
        else:
            messages = [channel.unary_unary(path, request_serializer=_serialize,
                                            response_deserializer=reply.FromString)(request, timeout=timeout)]
    except grpc.RpcError as error:
        raise GrpcurlError(f"the demo answered {error.code().name}: {error.details()}") from None  # type: ignore[attr-defined]
    return [json_format.MessageToDict(message) for message in messages]


def credentials(call: GrpcurlCall, folder: Path) -> grpc.ChannelCredentials:
    """The mutual-TLS credentials of the command's files, read relative to `folder` (where it runs)."""
    return grpc.ssl_channel_credentials(root_certificates=(folder / call.cacert).read_bytes(),
                                        private_key=(folder / call.key).read_bytes(),
                                        certificate_chain=(folder / call.cert).read_bytes())


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


def _each(stream: Any) -> Iterator[Message]:
    yield from stream

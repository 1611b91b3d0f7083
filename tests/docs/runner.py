"""Running a document's examples, block by block in order, against the demo (tests/support/demo.py)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.descriptor import FieldDescriptor
from risklist.v1 import risklist_pb2

from risklist_client import RiskListClient
from risklist_server.core.partners import load_partners
from risklist_server.core.policy_file import load_policy
from risklist_server.core.settings import Settings, load_settings
from tests.docs.blocks import KINDS, Block
from tests.docs.grpcurl import GrpcurlCall, credentials, invoke, parse_grpcurl, request_of
from tests.docs.matching import ELLIPSIS, Bindings, Mismatch, match_json, match_text
from tests.support.demo import SERVE_ADDRESS, SERVE_ADMIN_ADDRESS, Demo

PRODUCTION_FOLDERS = ("/etc/risklist/", "/var/lib/risklist/")
"""Folders the examples use as an operator's machine would; each is re-rooted in the demo's checkout."""

REQUEST_TOKENS = {"hit_request_id": "request id", "hitRequestId": "request id", "since_version": "version",
                  "sinceVersion": "version", "hit_token": "outcome token", "hitToken": "outcome token"}
"""Request members that quote what an earlier answer showed."""
RUN_EXITS = re.compile(r"^exits (\d+)$")
COMMAND_LINE = re.compile(r"^\s*(?:\.venv/bin/)?(?:risklist-[a-z]+|grpcurl|python3?|make|pip|curl)\b", re.MULTILINE)
SCALAR_TYPES = {"string": FieldDescriptor.TYPE_STRING, "bytes": FieldDescriptor.TYPE_BYTES,
                "bool": FieldDescriptor.TYPE_BOOL, "double": FieldDescriptor.TYPE_DOUBLE,
                "float": FieldDescriptor.TYPE_FLOAT, "int32": FieldDescriptor.TYPE_INT32,
                "int64": FieldDescriptor.TYPE_INT64, "uint32": FieldDescriptor.TYPE_UINT32,
                "uint64": FieldDescriptor.TYPE_UINT64}
PROTO_MESSAGE = re.compile(r"message\s+(\w+)\s*\{")
PROTO_FIELD = re.compile(r"(?:repeated\s+)?([\w.]+)\s+(\w+)\s*=\s*(\d+)\s*;")


class ExampleFailed(AssertionError):
    """A block did not do what its document says."""


@dataclass(frozen=True)
class Printed:
    """What a run block wrote to standard output."""

    text: str


@dataclass(frozen=True)
class Answered:
    """The messages a grpcurl block's call answered, as grpcurl prints them."""

    messages: list[dict[str, Any]]


class DocumentRun:
    """One document's examples against `demo`: its python blocks share one namespace, its shown tokens one
    set of bindings (tests/docs/matching.py), its grpcurl calls one connection per set of certificate files."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.bindings = Bindings()
        self.namespace: dict[str, Any] = {"__name__": "__doc_example__"}
        self.channels: dict[tuple[str, str, str, str], grpc.Channel] = {}
        self.last: Printed | Answered | None = None
        self.failures: list[str] = []
        self.env = {name: value for name, value in os.environ.items() if not name.startswith("RISKLIST_")}
        self.env["PATH"] = f"{demo.root / '.venv' / 'bin'}{os.pathsep}{self.env.get('PATH', '')}"  # as if activated
        self.rewrites = [(SERVE_ADDRESS, demo.address), (SERVE_ADMIN_ADDRESS, demo.admin_address),
                         *((folder, folder.lstrip("/")) for folder in PRODUCTION_FOLDERS)]
        """The only changes made to an example before it runs: the demo's free ports for `make serve`'s
        addresses, and the production folders re-rooted in the checkout (which holds etc/risklist/network.secret,
        the demo's secret, and an empty var/lib/risklist/)."""
        for folder in PRODUCTION_FOLDERS:
            (demo.root / folder.lstrip("/")).mkdir(parents=True, exist_ok=True)
        secret = demo.root / "etc" / "risklist" / "network.secret"
        if not secret.exists():
            shutil.copy(demo.files / "network.secret", secret)
            secret.chmod(0o600)

    def run(self, blocks: list[Block]) -> list[str]:
        """Run every block in order; return what failed (empty: the document's examples all hold)."""
        try:
            for block in blocks:
                handler = self._handlers().get(block.kind or "")
                try:
                    if handler is None:
                        raise ExampleFailed("no <!-- example: KIND --> marker before this block: say what it is "
                                            f"({', '.join(KINDS)}; tests/docs/blocks.py)")
                    handler(block)
                except AssertionError as error:
                    self.failures.append(f"{block.where} ({block.kind or 'unmarked'}): {error}")
                    if block.kind != "output":
                        self.last = None
        finally:
            self.close()
        return self.failures

    def close(self) -> None:
        for value in list(self.namespace.values()):
            if isinstance(value, RiskListClient | grpc.Channel):
                value.close()
        for channel in self.channels.values():
            channel.close()
        self.channels.clear()

    def _handlers(self) -> dict[str, Callable[[Block], None]]:
        return {"run": self._run, "output": self._output, "grpcurl": self._grpcurl, "file": self._file,
                "feed": self._feed, "policy": self._policy, "partners": self._partners, "settings": self._settings,
                "proto": self._proto, "usage": self._usage, "figure": self._figure, "not-run": self._not_run}

    # -- examples that run ------------------------------------------------------------------------------

    def rewrite(self, text: str) -> str:
        for written, used in self.rewrites:
            text = text.replace(written, used)
        return text

    def unrewrite(self, text: str) -> str:
        text = text.replace(f"{self.demo.root}/", "")
        for written, used in self.rewrites:
            text = text.replace(used, written)
        return text.replace("//etc/", "/etc/").replace("//var/", "/var/")

    def _run(self, block: Block) -> None:
        exits = RUN_EXITS.match(block.argument)
        if block.argument and exits is None:
            raise ExampleFailed(f"unknown run argument {block.argument!r}: `run` or `run exits N`")
        expected = int(exits.group(1)) if exits else 0
        self.last = None
        if block.language == "python":
            self._python(block, expected)
        elif block.language in ("sh", "bash", "shell"):
            self._shell(block, expected)
        else:
            raise ExampleFailed(f"a run block is ```sh or ```python, not {block.language!r}")

    def _shell(self, block: Block, expected: int) -> None:
        done = subprocess.run(["bash", "-eo", "pipefail", "-c", self.rewrite(block.text)], cwd=self.demo.root,
                              env=self.env, capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != expected:
            raise ExampleFailed(f"exited {done.returncode}, not {expected}:\n{done.stdout[-2000:]}"
                                f"\n{done.stderr[-3000:]}")
        printed = done.stdout if done.returncode == 0 else done.stdout + done.stderr  # a refusal says why on stderr
        self.last = Printed(self.unrewrite(printed))

    def _python(self, block: Block, expected: int) -> None:
        if expected:
            raise ExampleFailed("a python block has no exit code")
        printed = io.StringIO()
        with contextlib.chdir(self.demo.root), contextlib.redirect_stdout(printed):
            exec(compile(self.rewrite(block.text), block.where, "exec"), self.namespace)
        self.last = Printed(self.unrewrite(printed.getvalue()))

    def _grpcurl(self, block: Block) -> None:
        self.last = None
        call = parse_grpcurl(self.rewrite(block.text))
        try:
            data = json.dumps(self._bound(json.loads(call.data)))
        except json.JSONDecodeError as error:
            raise ExampleFailed(f"-d is not JSON: {error}") from None
        call = GrpcurlCall(call.cacert, call.cert, call.key, data, call.address, call.service, call.method)
        self.last = Answered(invoke(call, self._channel(call), request_of(call)))

    def _bound(self, value: Any, member: str = "") -> Any:
        """A request's JSON with every request id, outcome token and list version an earlier answer showed
        replaced by the real one it stands for (an outcome quotes the Check it follows; an update asks since a
        version)."""
        if isinstance(value, dict):
            return {name: self._bound(item, name) for name, item in value.items()}
        if isinstance(value, list):
            return [self._bound(item) for item in value]
        token_class = REQUEST_TOKENS.get(member)
        if token_class is not None:
            real = self.bindings.real(token_class, str(value))
            if real is not None:
                return type(value)(real)
        return value

    def _channel(self, call: GrpcurlCall) -> grpc.Channel:
        key = (call.address, call.cacert, call.cert, call.key)
        if key not in self.channels:
            self.channels[key] = grpc.secure_channel(call.address, credentials(call, self.demo.root))
        return self.channels[key]

    def _output(self, block: Block) -> None:
        last, self.last = self.last, None
        days = self.demo.days_after_seeds
        if last is None:
            raise ExampleFailed("not compared: no run or grpcurl block right before it, or that block failed")
        if isinstance(last, Printed):
            match_text(block.text, last.text, days=days, bindings=self.bindings, where=block.where)
            return
        shown = _json_values(block)
        if len(shown) != len(last.messages) and shown[-1:] != [ELLIPSIS]:
            raise Mismatch(f"{block.where}: shows {len(shown)} answer message(s), the demo answered "
                           f"{len(last.messages)}: {json.dumps(last.messages)[:2000]}")
        for index, value in enumerate(shown):
            if value != ELLIPSIS:
                match_json(value, last.messages[index], days=days, bindings=self.bindings,
                           where=f"{block.where} message {index + 1}")

    # -- examples that are files or declarations --------------------------------------------------------

    def _file(self, block: Block) -> Path:
        if not block.argument:
            raise ExampleFailed("`file NAME`: say where the example's file goes")
        path = self.demo.root / self.rewrite(block.argument).lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(block.text, encoding="utf-8")
        return path

    def _feed(self, block: Block) -> None:
        path = self._file(block)
        done = subprocess.run(["risklist-load", str(path), "--source", "doc-example", "--dry-run", "--quiet"],
                              cwd=self.demo.root, env=self.env, capture_output=True, text=True, timeout=120,
                              check=False)
        if done.returncode != 0:
            raise ExampleFailed(f"risklist-load --dry-run does not accept every row (exit {done.returncode}):\n"
                                f"{done.stdout}{done.stderr[-2000:]}")

    def _scratch(self, block: Block, suffix: str) -> Path:
        path = self.demo.root / "examples" / f"{block.path.stem}-{block.line}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(block.text, encoding="utf-8")
        return path

    def _policy(self, block: Block) -> None:
        load_policy(self._scratch(block, ".toml"))

    def _partners(self, block: Block) -> None:
        load_partners(self._scratch(block, ".toml"))

    def _settings(self, block: Block) -> None:
        settings = load_settings(self._scratch(block, ".toml"))
        if settings != Settings():
            raise ExampleFailed(f"the settings shown are not the defaults: {settings} != {Settings()}")

    def _proto(self, block: Block) -> None:
        declarations = list(PROTO_MESSAGE.finditer(block.text))
        if not declarations:
            raise ExampleFailed("no `message NAME {` in a proto block")
        for index, declaration in enumerate(declarations):
            end = declarations[index + 1].start() if index + 1 < len(declarations) else len(block.text)
            _check_message(declaration.group(1), PROTO_FIELD.findall(block.text[declaration.end() : end]))

    def _usage(self, block: Block) -> None:
        if not block.argument:
            raise ExampleFailed("`usage PROGRAM`: name the program whose --help lists the flags")
        done = subprocess.run([*block.argument.split(), "--help"], cwd=self.demo.root, env=self.env,
                              capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise ExampleFailed(f"{block.argument} --help exited {done.returncode}: {done.stderr[-1000:]}")
        flags = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", done.stdout))
        unknown = sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", block.text)) - flags)
        if unknown:
            raise ExampleFailed(f"{block.argument} has no {', '.join(unknown)} (its --help lists {sorted(flags)})")

    def _figure(self, block: Block) -> None:
        if block.language:
            raise ExampleFailed(f"a figure has no language tag; ```{block.language} is an example: mark what it is")
        command = COMMAND_LINE.search(block.text)
        if command:
            raise ExampleFailed(f"a figure holds no command, but this one runs {command.group().strip()!r}")

    def _not_run(self, block: Block) -> None:
        if len(block.argument) < 10:
            raise ExampleFailed("`not-run: REASON`: say why the tests cannot run it")


def _json_values(block: Block) -> list[Any]:
    """The JSON values of an output block, one per answer message (grpcurl prints each on its own)."""
    decoder, text, values, at = json.JSONDecoder(), block.text, [], 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return values
        try:
            value, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError as error:
            raise ExampleFailed(f"the shown answer is not JSON: {error}") from None
        values.append(value)


def _check_message(name: str, fields: list[tuple[str, str, str]]) -> None:
    message = risklist_pb2.DESCRIPTOR.message_types_by_name.get(name)
    if message is None:
        raise ExampleFailed(f"risklist.proto has no message {name}")
    shown = {field_name for _, field_name, _ in fields}
    left_out = sorted(set(message.fields_by_name) - shown)
    if left_out:
        raise ExampleFailed(f"{name} also has {left_out}: show every field")
    for type_name, field_name, number in fields:
        field = message.fields_by_name.get(field_name)
        if field is None:
            raise ExampleFailed(f"{name} has no field {field_name}")
        if field.number != int(number):
            raise ExampleFailed(f"{name}.{field_name} is field {field.number}, not {number}")
        if field.message_type is not None:
            actual = field.message_type.full_name if "." in type_name else field.message_type.name
        elif field.enum_type is not None:
            actual = field.enum_type.name
        else:
            actual = next((scalar for scalar, code in SCALAR_TYPES.items() if code == field.type), "?")
        if actual != type_name:
            raise ExampleFailed(f"{name}.{field_name} is a {actual}, not a {type_name}")

"""The layers hold: each package and each server room imports only what sits beneath it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.paths import REPO

ROOT = REPO
PACKAGES = {
    "risklist_kernel": ROOT / "kernel" / "risklist_kernel",
    "risklist_client": ROOT / "client" / "risklist_client",
    "risklist_server": ROOT / "server" / "risklist_server",
    "risklist_loader": ROOT / "loader" / "risklist_loader",
}
SERVER_ROOMS = {"core": 0, "store": 1, "audit": 1, "services": 2, "rpc": 3, "cluster": 4, "process": 4, "cli": 5}
"""The server's rooms, bottom up: a room may import its own rank and those beneath."""

FORBIDDEN = {
    "risklist_kernel": {"grpc", "numpy", "rocksdict", "risklist", "risklist_client", "risklist_server",
                        "risklist_loader"},
    "risklist_client": {"numpy", "rocksdict", "risklist_server", "risklist_loader"},
    "risklist_server": {"risklist_client", "risklist_loader"},
    "risklist_loader": {"risklist_client"},
}
"""Top-level packages each package never imports (the SDK is for partners; the kernel is pure)."""

ROOM_FORBIDDEN = {"core": {"grpc", "rocksdict"}, "store": {"grpc"}, "audit": {"grpc"}, "services": {"grpc"},
                  "cluster": {"grpc", "rocksdict"}}


def _modules(package: str) -> list[tuple[str, Path]]:
    base = PACKAGES[package]
    found = []
    for path in sorted(base.rglob("*.py")):
        parts = path.relative_to(base).with_suffix("").parts
        dotted = ".".join((package, *parts[:-1])) if parts[-1] == "__init__" else ".".join((package, *parts))
        found.append((dotted, path))
    return found


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) >= 2 and parts[0] == "risklist_server" else None


ALL_MODULES = [module for package in PACKAGES for module in _modules(package)]


def test_every_server_module_sits_in_a_room() -> None:
    """Nothing is loose at the top of risklist_server: every module belongs to one of the named rooms."""
    loose = [name for name, _ in _modules("risklist_server")
             if name != "risklist_server" and name.split(".")[1] not in SERVER_ROOMS]
    assert loose == []


@pytest.mark.parametrize(("module", "path"), ALL_MODULES, ids=[name for name, _ in ALL_MODULES])
def test_imports_respect_the_layers(module: str, path: Path) -> None:
    """The module imports no package its layer forbids, and no server room above its own."""
    package = module.split(".")[0]
    imported = _imports(path)
    tops = {name.split(".")[0] for name in imported}
    assert not tops & FORBIDDEN[package], f"{module} imports {sorted(tops & FORBIDDEN[package])}"
    if package == "risklist_loader":
        assert not any(name.startswith("risklist_server.rpc") for name in imported), f"{module} imports the rpc layer"
    room = _room(module)
    if room is None:
        return
    assert not tops & ROOM_FORBIDDEN.get(room, set()), f"{module} ({room}) imports {tops & ROOM_FORBIDDEN[room]}"
    above = sorted(name for name in imported
                   if (target := _room(name)) is not None and SERVER_ROOMS[target] > SERVER_ROOMS[room])
    assert above == [], f"{module} ({room}) imports from rooms above it: {above}"

"""risklist partner SDK: RiskListClient, and the identifier, digest and filter code it shares with the server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from risklist_client.enums import Action, Category, EntityType, RiskLevel
from risklist_client.errors import CheckFailed, InvalidIdentifier, RiskListError, SecretError
from risklist_client.secret import NetworkSecret, load_secret

if TYPE_CHECKING:
    from risklist_client.client import RiskListClient
    from risklist_client.metrics import ClientMetrics
    from risklist_client.result import CheckResult

__all__ = [
    "Action", "Category", "CheckFailed", "CheckResult", "ClientMetrics", "EntityType", "InvalidIdentifier",
    "NetworkSecret", "RiskLevel", "RiskListClient", "RiskListError", "SecretError", "load_secret",
]

# Imported on first use: the server's grpc-free supervisor imports the shared core modules
# (errors, secret) through this package and must not load grpc.
_LAZY = {"RiskListClient": "client", "ClientMetrics": "metrics", "CheckResult": "result"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'risklist_client' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"risklist_client.{module}"), name)
    globals()[name] = value
    return value

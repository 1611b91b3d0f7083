"""risklist partner SDK: RiskListClient, and the identifier, digest and filter code it shares with the server."""

from __future__ import annotations

from risklist_client.client import RiskListClient
from risklist_client.enums import Category, EntityType, RiskLevel
from risklist_client.errors import CheckFailed, InvalidIdentifier, RiskListError, SecretError
from risklist_client.metrics import ClientMetrics
from risklist_client.result import Action, CheckResult
from risklist_client.secret import NetworkSecret, load_secret

__all__ = [
    "Action", "Category", "CheckFailed", "CheckResult", "ClientMetrics", "EntityType", "InvalidIdentifier",
    "NetworkSecret", "RiskLevel", "RiskListClient", "RiskListError", "SecretError", "load_secret",
]
